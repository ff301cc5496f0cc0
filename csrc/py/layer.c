/* Protocol layer objects: small views (packet + layer id) over FpPacket.data.
 *
 * A layer holds a strong reference to its packet and nothing else; every field is
 * read on attribute access from the span fp_dissect() recorded (no copies, no
 * per-layer parse at creation). Field names follow Scapy (ip.proto, tcp.flags,
 * dns.qd[0].qname, arp.psrc ...). DNS, HTTP and TLS are parsed when one of their
 * attributes is read. All types are heap types created per module (PEP 630).
 * This file holds the base type, the generic field getters and the registration;
 * each protocol's fields are in its layer_*.c. */
#include "build.h"
#include "hotcache.h"

#include <stdio.h>
#include <string.h>
#include <structmember.h>

static const fp_layer_def *const layer_defs[] = {
    &fp_layer_ether, &fp_layer_sll, &fp_layer_loop, &fp_layer_vlan, &fp_layer_arp,
    &fp_layer_ip4,   &fp_layer_ip6, &fp_layer_tcp,  &fp_layer_udp,  &fp_layer_icmp,
    &fp_layer_icmp6, &fp_layer_dns, &fp_layer_http, &fp_layer_tls, &fp_layer_radiotap, &fp_layer_dot11,
};

#define N_LAYER_DEFS (sizeof layer_defs / sizeof layer_defs[0])

/* The definition serving layer `id` (SLL2 is the SLL type). */
static const fp_layer_def *layer_def(unsigned id)
{
    if (id == FP_L_SLL2) id = FP_L_SLL;
    for (size_t i = 0; i < N_LAYER_DEFS; i++)
        if (layer_defs[i]->id == id) return layer_defs[i];
    return NULL;
}

const char *const fp_layer_names[FP_L_COUNT] = {
    [FP_L_ETH] = "Ether", [FP_L_SLL] = "SLL",   [FP_L_SLL2] = "SLL2",   [FP_L_LOOP] = "Loopback",
    [FP_L_RADIOTAP] = "RadioTap", [FP_L_WLAN] = "Dot11",
    [FP_L_VLAN] = "Dot1Q", [FP_L_ARP] = "ARP",  [FP_L_IP4] = "IP",      [FP_L_IP6] = "IPv6",
    [FP_L_TCP] = "TCP",   [FP_L_UDP] = "UDP",   [FP_L_ICMP] = "ICMP",   [FP_L_ICMP6] = "ICMPv6",
    [FP_L_DNS] = "DNS",   [FP_L_HTTP] = "HTTP", [FP_L_TLS] = "TLS",
};

/* A view of its own block (fp_layer_new, a builder): its references, its node, its block.
 * Out of line, as the loop's views are embedded: fp_layer_dealloc saves no registers then. */
static __attribute__((noinline)) void layer_free(PyObject *self, PyTypeObject *tp)
{
    Py_XDECREF(LAYER(self)->pkt);
    if (LAYER(self)->b) fp_bnode_free(LAYER(self));
    tp->tp_free(self); /* PyObject_Free (fp_layer_new's PyObject_Malloc), or the GC's */
    Py_DECREF(tp);
}

void fp_layer_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (LAYER(self)->embedded == FP_VIEW_HOT_OUT) {
        /* the last outside reference went: the packet's slot owns the view again, and the
         * view's reference to the packet goes (packet_dealloc when it was the last) */
        Py_SET_REFCNT(self, 1);
        LAYER(self)->embedded = FP_VIEW_HOT;
        Py_DECREF(LAYER(self)->pkt);
        return;
    }
    if (LAYER(self)->embedded) { /* the slot is free again (refcount 0); the block is the packet's */
        Py_DECREF(tp);
        Py_DECREF(LAYER(self)->pkt);
        return;
    }
    layer_free(self, tp);
}

/* A view from the packet's own views[]: the one already out for this layer, or a free
 * one; NULL when both are out for other layers. Saves the allocation and its free per
 * pkt.ip / pkt.tcp (and `pkt.ip is pkt.ip` while the first is held). */
static PyObject *embedded_view(FpPacket *pkt, PyTypeObject *tp, fp_layer_id id, int index)
{
    FpLayer *free_slot = NULL;
    for (int i = 0; i < FP_PACKET_VIEWS; i++) {
        FpLayer *v = &pkt->views[i];
        if (Py_REFCNT(v) == 0) {
            if (free_slot == NULL) free_slot = v;
        } else if (v->id == id && v->index == index) {
            return Py_NewRef(v);
        }
    }
    if (free_slot == NULL) return NULL;
    PyObject_Init((PyObject *)free_slot, tp); /* refcount 1, increfs the heap type */
    free_slot->pkt = (FpPacket *)Py_NewRef(pkt);
    free_slot->id = (uint8_t)id;
    free_slot->index = (uint8_t)index;
    free_slot->embedded = FP_VIEW_EMBEDDED;
    free_slot->b = NULL;
    return (PyObject *)free_slot;
}

/* The packet's hot view of layer `id` (pkt[IP] is pkt.ip), or NULL. */
static inline PyObject *hot_view(FpPacket *pkt, fp_layer_id id)
{
    for (int i = 0; i < FP_HOT_VIEWS; i++)
        if (pkt->hot[i] == (PyObject *)&pkt->hot_views[i] && pkt->hot_views[i].l.id == id)
            return Py_NewRef(pkt->hot[i]);
    return NULL;
}

PyObject *fp_layer_present(fp_state *st, FpPacket *pkt, fp_layer_id id)
{
    PyTypeObject *tp = st->Layer_Types[id];
    if (Py_TYPE(pkt) == st->Packet_Type && tp != NULL) {
        PyObject *v = hot_view(pkt, id);
        if (v == NULL) v = embedded_view(pkt, tp, id, 0);
        if (v != NULL) return v;
    }
    return fp_layer_new(st, pkt, id, 0);
}

PyObject *fp_layer_new(fp_state *st, FpPacket *pkt, fp_layer_id id, int index)
{
    if ((unsigned)id >= FP_L_COUNT || st->Layer_Types[id] == NULL) {
        PyErr_Format(PyExc_SystemError, "fastpkt: no layer type for id %d", (int)id);
        return NULL;
    }
    int outer = index == FP_LAYER_OUTER && id != FP_L_VLAN;
    if (outer ? pkt->d.outer_ip_id != id
              : (!FP_HAS(&pkt->d, id) || index < 0 || (id == FP_L_VLAN && index >= pkt->d.vlan_count))) {
        PyErr_Format(PyExc_ValueError, "layer %s (index %d) is not in this packet",
                     fp_layer_names[id], index);
        return NULL;
    }
    PyTypeObject *tp = st->Layer_Types[id];
    FpLayer *l;
    if (Py_TYPE(pkt) == st->Packet_Type) {
        PyObject *v = index == 0 ? hot_view(pkt, id) : NULL;
        if (v == NULL) v = embedded_view(pkt, tp, id, index);
        if (v != NULL) return v;
    }
    if (Py_TYPE(pkt) != st->Packet_Type && st->Facade_Layer_Types[id]) {
        tp = st->Facade_Layer_Types[id]; /* a Python subclass: allocated (and freed) with the GC's */
        l = (FpLayer *)tp->tp_alloc(tp, 0);
        if (l == NULL) return NULL;
    } else {
        l = (FpLayer *)PyObject_Malloc((size_t)tp->tp_basicsize);
        if (l == NULL) return PyErr_NoMemory();
        PyObject_Init((PyObject *)l, tp); /* increfs the heap type */
        l->embedded = FP_VIEW_ALLOCATED;
    }
    Py_INCREF(pkt);
    l->pkt = pkt;
    l->id = (uint8_t)id;
    l->index = (uint8_t)index;
    l->b = NULL;
    return (PyObject *)l;
}

/* The layer's extent [off, off+hlen) header, [off+hlen, end) payload. The application
 * layers have no fixed header: DNS and TLS own their whole message (no payload), an
 * HTTP message's header part ends where its body starts. */
static void layer_extent(const FpLayer *l, uint32_t *off, uint32_t *hlen, uint32_t *end)
{
    const fp_span *s = lspan(l);
    *off = s->off;
    *hlen = s->hlen;
    *end = s->end;
    switch (l->id) {
    case FP_L_VLAN:
        *off = lhdr_off(l);
        *hlen = 4;
        break;
    case FP_L_DNS:
    case FP_L_TLS:
        *hlen = s->end - s->off;
        break;
    case FP_L_HTTP: {
        fp_http_message m;
        if (fp_layer_http_parse(l, &m) == 0 && m.headers_complete && m.body_off >= s->off &&
            m.body_off <= s->end)
            *hlen = m.body_off - s->off;
        else
            *hlen = s->end - s->off;
        break;
    }
    default: break;
    }
    if (*off > *end) *off = *end;
    if (*hlen > *end - *off) *hlen = *end - *off;
}

static PyObject *layer_get_name(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    return PyUnicode_FromString(l->pkt ? fp_layer_names[l->id] : l->b->p->name);
}

/* Builders: where the header lies in the built bytes of their stack. */
static PyObject *layer_get_offset(PyObject *self, void *c)
{
    uint32_t off, hlen, end;
    if (LAYER(self)->pkt == NULL) {
        if (fp_build_extent(LAYER(self)->b->st, LAYER(self), &off, &hlen) < 0) return NULL;
        return PyLong_FromUnsignedLong(c ? hlen : off);
    }
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyLong_FromUnsignedLong(c ? hlen : off);
}

/* Builders: the next layer (a builder, or Raw for raw bytes), b'' at the end. */
static PyObject *layer_get_payload(PyObject *self, void *c)
{
    (void)c;
    if (LAYER(self)->pkt == NULL) {
        PyObject *pl = LAYER(self)->b->payload;
        if (pl == NULL) return PyBytes_FromStringAndSize(NULL, 0);
        if (fp_is_builder(pl)) return Py_NewRef(pl);
        return PyObject_CallOneArg((PyObject *)LAYER(self)->b->st->Raw_Type, pl);
    }
    uint32_t off, hlen, end;
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyBytes_FromStringAndSize((const char *)ldata(LAYER(self)) + off + hlen,
                                     (Py_ssize_t)(end - off - hlen));
}

static PyObject *layer_get_raw(PyObject *self, void *c)
{
    (void)c;
    if (LAYER(self)->pkt == NULL) return fp_build_bytes(LAYER(self)->b->st, LAYER(self));
    if (LAYER(self)->pkt->edit) {
        FpLayer *node = fp_view_node(LAYER(self), 0);
        if (node) return fp_build_bytes(node->b->st, node);
        PyErr_Clear();
    }
    uint32_t off, hlen, end;
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyBytes_FromStringAndSize((const char *)ldata(LAYER(self)) + off,
                                     (Py_ssize_t)(end - off));
}

static PyObject *layer_bytes(PyObject *self, PyObject *unused)
{
    (void)unused;
    return layer_get_raw(self, NULL);
}

static PyObject *layer_fields_dict(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *fields = PyObject_GetAttrString(self, "fields");
    if (fields == NULL) return NULL;
    if (!PyTuple_Check(fields)) {
        Py_DECREF(fields);
        PyErr_SetString(PyExc_TypeError, "fields must be a tuple");
        return NULL;
    }
    PyObject *d = PyDict_New();
    for (Py_ssize_t i = 0; d != NULL && i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *k = PyTuple_GET_ITEM(fields, i);
        PyObject *v = PyObject_GetAttr(self, k);
        if (v == NULL || PyDict_SetItem(d, k, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    Py_DECREF(fields);
    return d;
}

/* Scapy-like: <IP  src=1.2.3.4 dst=5.6.7.8 proto=6 ttl=64 |> (None values left out). */
static PyObject *layer_repr(PyObject *self)
{
    const FpLayer *l = LAYER(self);
    if (l->pkt == NULL) return fp_build_repr(self);
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    const char *const *names = layer_def(l->id)->repr;
    for (int i = 0; names[i] != NULL; i++) {
        const char *name = names[i];
        int hex = name[0] == '#';
        if (hex) name++;
        PyObject *v = PyObject_GetAttrString(self, name);
        if (v == NULL) goto fail;
        PyObject *item = NULL;
        if (v == Py_None) {
            Py_DECREF(v);
            continue;
        }
        if (hex && PyLong_CheckExact(v)) {
            char buf[24];
            snprintf(buf, sizeof buf, "0x%04lx", PyLong_AsUnsignedLong(v));
            item = PyUnicode_FromFormat("%s=%s", name, buf);
        }
        else if (PyUnicode_Check(v))
            item = PyUnicode_FromFormat("%s=%U", name, v);
        else if (PyBytes_Check(v))
            item = PyUnicode_FromFormat("%s=%R", name, v);
        else
            item = PyUnicode_FromFormat("%s=%S", name, v);
        Py_DECREF(v);
        if (fp_list_append_new(parts, item) < 0) goto fail;
    }
    PyObject *body = fp_join_str(parts, " ");
    if (body == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<%s  %U |>", fp_layer_names[l->id], body);
    Py_DECREF(body);
    return r;
fail:
    Py_DECREF(parts);
    return NULL;
}

static PyObject *layer_get_packet(PyObject *self, void *c)
{
    (void)c;
    PyObject *pkt = (PyObject *)LAYER(self)->pkt;
    return Py_NewRef(pkt ? pkt : Py_None);
}

static PyGetSetDef layer_getset[] = {
    {"_packet", layer_get_packet, NULL, "The Packet this view reads (None for a builder).", NULL},
    {"name", layer_get_name, NULL, "Layer name (Scapy's class name: 'Ether', 'IP', 'TCP', ...).", NULL},
    {"offset", layer_get_offset, NULL, "Offset of the header within the packet bytes.", NULL},
    {"header_len", layer_get_offset, NULL,
     "Header length in bytes (DNS/TLS: the whole message; HTTP: start line and headers).", (void *)1},
    {"payload", layer_get_payload, NULL,
     "Bytes after this layer's header, up to the end of this layer (IP total length, UDP length...).",
     NULL},
    {"raw", layer_get_raw, NULL, "Header and payload bytes of this layer.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef layer_methods[] = {
    {"__bytes__", layer_bytes, METH_NOARGS, "Header and payload bytes of this layer."},
    {"fields_dict", layer_fields_dict, METH_NOARGS, "A dict of this layer's `fields` and their values."},
    FP_VIEW_METHOD,
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(layer_doc,
             "Base class of the protocol layers: a view into a Packet's bytes.\n\n"
             "Layers are created on access (pkt.ip, pkt.tcp ...) and read their fields lazily;\n"
             "they keep their packet alive.");

/* A header field at a fixed offset from the layer start; None if it lies past the
 * captured bytes (the dissector guarantees it does not for a decoded layer). */
PyObject *fp_layer_get_field(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t off = lhdr_off(l), end = lspan(l)->end, v;
    if (off > end || field_load(ldata(l) + off, end - off, (uintptr_t)closure, &v) < 0)
        Py_RETURN_NONE;
    if ((uintptr_t)closure & (1u << 24)) return PyBool_FromLong(v);
    return fp_hot_uint(l->pkt->st, v);
}

/* closure = offset of a 6-byte MAC / 4-byte IPv4 / 16-byte IPv6 address. */
PyObject *fp_layer_get_mac(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lhdr_off(l) + (uint32_t)(uintptr_t)closure;
    if (at + 6 > lspan(l)->end) Py_RETURN_NONE;
    return fp_mac_str(ldata(l) + at);
}

PyObject *fp_layer_get_ip4(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lspan(l)->off + (uint32_t)(uintptr_t)closure;
    if (at + 4 > lspan(l)->end) Py_RETURN_NONE;
    return fp_hot_addr_str(l->pkt->st, ldata(l) + at, 4);
}

PyObject *fp_layer_get_ip6(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lspan(l)->off + (uint32_t)(uintptr_t)closure;
    if (at + 16 > lspan(l)->end) Py_RETURN_NONE;
    return fp_hot_addr_str(l->pkt->st, ldata(l) + at, 16);
}

static PyObject *l4_checksum_ok(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (LAYER(self)->pkt == NULL) return fp_builder_method(self, "checksum_ok");
    return tristate(fp_l4_checksum_ok(ldata(LAYER(self)), &LAYER(self)->pkt->d));
}

PyMethodDef fp_layer_l4_methods[] = {
    {"checksum_ok", l4_checksum_ok, METH_NOARGS,
     "True if the checksum (over the pseudo-header) is valid, False if not, None when it cannot\n"
     "be checked (truncated, fragmented, UDP checksum 0)."},
    {NULL, NULL, 0, NULL},
};

PyObject *fp_facade_slots_new(PyTypeObject *tp, const Py_ssize_t *off, PyObject *const *values, int n)
{
    PyObject *f = tp->tp_alloc(tp, 0);
    for (int i = 0; i < n; i++) {
        if (f) *(PyObject **)((char *)f + off[i]) = values[i];
        else Py_DECREF(values[i]);
    }
    return f;
}

/* A FlagValue of fastpkt.scapy (value stolen), its slots filled as its Python maker did. */
static PyObject *facade_flag_new(const fp_state *st, PyObject *value, PyObject *names, PyObject *multi)
{
    if (value == NULL) return NULL;
    PyObject *v[3] = {value, Py_NewRef(names), Py_NewRef(multi)};
    return fp_facade_slots_new(st->Facade_Flag_Type, st->facade_flag_off, v, 3);
}

/* The facade's TCP and IP `flags` (course scripts read them per packet): made here, 0.1 us
 * against 0.9 through its Python property. NULL without an error: let the property answer. */
static __attribute__((noinline)) PyObject *facade_flags(PyObject *self, const fp_state *st, unsigned id)
{
    const FpLayer *l = LAYER(self);
    if (id == FP_L_TCP)
        return facade_flag_new(st, PyLong_FromUnsignedLong(fp_tcp_view_flags(l)), st->facade_flag_names[0], Py_False);
    for (int i = 0; i < st->layer_fast_n[id]; i++) {
        if (st->layer_fast[id][i].name != st->facade_flags_attr) continue;
        PyObject *v = st->layer_fast[id][i].def->get(self, st->layer_fast[id][i].def->closure);
        if (v != Py_None) return facade_flag_new(st, v, st->facade_flag_names[1], Py_True);
        Py_DECREF(v); /* a header cut short: the property's answer */
    }
    return NULL;
}

/* Hot fields answered by pointer comparison of the interned name: Python 3.11 does not
 * specialise getset access, and the generic lookup dominates a per-packet loop. */
static inline PyObject *view_getattro(PyObject *self, PyObject *name, const fp_state *st)
{
    unsigned id = LAYER(self)->id;
    int n = st->layer_fast_n[id];
    if (Py_TYPE(self) == st->Layer_Types[id]) {
        for (int i = 0; i < n; i++)
            if (st->layer_fast[id][i].name == name)
                return st->layer_fast[id][i].def->get(self, st->layer_fast[id][i].def->closure);
        return PyObject_GenericGetAttr(self, name);
    }
    /* fastpkt.scapy's subclasses redefine some fields (flags, payload...): the others stay fast */
    uint32_t fast = Py_TYPE(self) == st->Facade_Layer_Types[id] ? st->facade_layer_fast[id] : 0;
    for (int i = 0; i < n; i++)
        if (st->layer_fast[id][i].name == name && (fast >> i & 1))
            return st->layer_fast[id][i].def->get(self, st->layer_fast[id][i].def->closure);
    if (name == st->facade_flags_attr && (id == FP_L_TCP || id == FP_L_IP4) &&
        Py_TYPE(self) == st->Facade_Layer_Types[id]) {
        PyObject *f = facade_flags(self, st, id);
        if (f != NULL || PyErr_Occurred()) return f;
    }
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r == NULL) return fp_facade_getattr_missing(self, name);
    return r;
}

PyObject *fp_facade_getattr_missing(PyObject *self, PyObject *name)
{
    if (!PyErr_ExceptionMatches(PyExc_AttributeError) || PyUnicode_READ_CHAR(name, 0) == '_') return NULL;
    PyObject *hook = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_scapy_getattr");
    if (hook == NULL) { /* not a facade class: the first AttributeError stands */
        PyErr_Clear();
        PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%U'", Py_TYPE(self)->tp_name, name);
        return NULL;
    }
    PyErr_Clear();
    PyObject *r = PyObject_CallFunctionObjArgs(hook, self, name, NULL);
    Py_DECREF(hook);
    return r;
}

/* Builders, and views of an edited packet (which show the edit); out of line, so the view
 * path stays two tail calls as before building existed. */
static __attribute__((noinline)) PyObject *layer_getattro_other(PyObject *self, PyObject *name)
{
    if (LAYER(self)->pkt == NULL) return fp_build_getattro(self, name);
    FpLayer *node = fp_view_node(LAYER(self), 0);
    if (node) return PyObject_GetAttr((PyObject *)node, name);
    PyErr_Clear(); /* a layer the builder does not hold (HTTP, TLS) reads its bytes */
    return view_getattro(self, name, LAYER(self)->pkt->st);
}

PyObject *fp_layer_getattro(PyObject *self, PyObject *name)
{
    const FpPacket *pkt = LAYER(self)->pkt;
    if (__builtin_expect(pkt == NULL || pkt->edit != NULL, 0)) return layer_getattro_other(self, name);
    return view_getattro(self, name, pkt->st);
}

/* The protocols' getters and methods read a view's packet. Their descriptors accept any
 * instance of the class, and a builder has no packet (`fp.IP.src.__get__(fp.IP())` by hand;
 * `b.src` never gets here, fp_build_getattro answers it): the builder's own attribute lookup
 * answers instead, as `b.src` would. Each getset entry of a protocol class goes through
 * view_only_get, holding the entry as it was; the fast paths keep the original
 * (fp_view_getter). */
static PyObject *view_only_get(PyObject *self, void *c)
{
    const PyGetSetDef *d = c;
    if (LAYER(self)->pkt == NULL) return PyObject_GetAttrString(self, d->name);
    return d->get(self, d->closure);
}

const PyGetSetDef *fp_view_getter(const PyGetSetDef *d)
{
    return d->get == view_only_get ? (const PyGetSetDef *)d->closure : d;
}

PyObject *fp_builder_method(PyObject *self, const char *name)
{
    return PyObject_CallMethod(self, name, NULL);
}

static int guard_getters(const PyType_Spec *spec)
{
    for (const PyType_Slot *s = spec->slots; s->slot; s++) {
        if (s->slot != Py_tp_getset || s->pfunc == NULL) continue;
        PyGetSetDef *g = s->pfunc;
        size_t n = 0;
        while (g[n].name) n++;
        if (n == 0 || g[0].get == view_only_get) return 0; /* done by an earlier import */
        /* the static entries' originals, for the life of the process (as the entries) */
        PyGetSetDef *orig = PyMem_RawMalloc(n * sizeof *orig);
        if (orig == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(orig, g, n * sizeof *orig);
        for (size_t i = 0; i < n; i++) {
            g[i].get = view_only_get;
            g[i].closure = &orig[i];
        }
    }
    return 0;
}

static int layer_fast_init(fp_state *st, int id, const PyGetSetDef *defs)
{
    static const char *const hot[] = {"src", "dst", "sport", "dport", "proto", "ttl", "flags",
                                      "seq", "ack", "len", "type", "op", "psrc", "hwsrc", "qd",
                                      "an", "sni", "host", "method", "uri", NULL};
    for (int h = 0; hot[h] && st->layer_fast_n[id] < FP_LAYER_FAST_MAX; h++) {
        for (const PyGetSetDef *d = defs; d && d->name; d++) {
            if (strcmp(d->name, hot[h]) != 0) continue;
            PyObject *name = PyUnicode_InternFromString(d->name);
            if (name == NULL) return -1;
            st->layer_fast[id][st->layer_fast_n[id]].name = name;
            st->layer_fast[id][st->layer_fast_n[id]].def = fp_view_getter(d);
            st->layer_fast_n[id]++;
            break;
        }
    }
    return 0;
}

static Py_ssize_t layer_len(PyObject *self)
{
    const FpLayer *l = LAYER(self);
    if (l->pkt == NULL) return fp_layer_len(self);
    uint32_t off, hlen, end;
    layer_extent(l, &off, &hlen, &end);
    return (Py_ssize_t)(end - off);
}

/* A layer is true, as Scapy's are (len() would build a builder, or walk a view's extent). */
static int layer_bool(PyObject *self)
{
    (void)self;
    return 1;
}

static PyType_Slot layer_base_slots[] = {
    {Py_tp_dealloc, fp_layer_dealloc},
    {Py_nb_bool, layer_bool},
    {Py_tp_repr, layer_repr},
    {Py_tp_getattro, fp_layer_getattro},
    {Py_tp_setattro, fp_layer_setattro},
    {Py_nb_true_divide, fp_build_div},
    {Py_sq_contains, fp_layer_contains},
    {Py_sq_length, layer_len},
    {Py_mp_subscript, fp_layer_getitem},
    {Py_tp_iter, fp_layer_iter},
    {Py_mp_length, layer_len},
    {Py_tp_getset, layer_getset},
    {Py_tp_methods, layer_methods},
    {Py_tp_doc, (void *)layer_doc},
    {0, NULL},
};

static PyType_Spec layer_base_spec = {
    .name = "fastpkt.Layer",
    .basicsize = sizeof(FpLayer),
    .flags = LAYER_FLAGS | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = layer_base_slots,
};

PyMethodDef fp_layer_no_methods[] = {{NULL, NULL, 0, NULL}};

int fp_layer_set_class_attr(PyTypeObject *tp, const char *name, PyObject *value)
{
    /* Immutable types refuse setattr from Python; write the dict before first use. */
    int r = value ? PyDict_SetItemString(tp->tp_dict, name, value) : -1;
    PyType_Modified(tp);
    return r;
}

static PyObject *fields_tuple(const char *const *names)
{
    Py_ssize_t n = 0;
    while (names[n]) n++;
    return fp_intern_tuple(names, n, sizeof *names);
}

/* _set_facade_types(packet_type, {layer type or name: subclass}): the classes fastpkt.scapy's
 * Readers and PacketLists make. Subclasses must add no instance fields (__slots__ = ()):
 * they are allocated and freed as their base. */
static PyObject *set_facade_types(PyObject *m, PyObject *args)
{
    PyTypeObject *ptype;
    PyObject *map;
    if (!PyArg_ParseTuple(args, "O!O!:_set_facade_types", &PyType_Type, &ptype, &PyDict_Type, &map))
        return NULL;
    fp_state *st = fp_state_from_module(m);
    if (!PyType_IsSubtype(ptype, st->Packet_Type) || ptype->tp_basicsize != st->Packet_Type->tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "packet_type must subclass fastpkt.Packet with __slots__ = ()");
        return NULL;
    }
    PyTypeObject *found[FP_L_COUNT] = {0};
    for (int id = 0; id < FP_L_COUNT; id++) {
        if (st->Layer_Types[id] == NULL) continue;
        /* by layer name first ('SLL2' shares the SLL type), then by view type */
        PyObject *sub = PyDict_GetItemString(map, fp_layer_names[id]);
        if (sub == NULL) sub = PyDict_GetItemWithError(map, (PyObject *)st->Layer_Types[id]);
        if (sub == NULL) {
            if (PyErr_Occurred()) return NULL;
            continue;
        }
        if (!PyType_Check(sub) || !PyType_IsSubtype((PyTypeObject *)sub, st->Layer_Types[id]) ||
            ((PyTypeObject *)sub)->tp_basicsize != st->Layer_Types[id]->tp_basicsize) {
            PyErr_Format(PyExc_TypeError, "%R must subclass %R with __slots__ = ()", sub,
                         (PyObject *)st->Layer_Types[id]);
            return NULL;
        }
        found[id] = (PyTypeObject *)sub;
    }
    /* Packet has the generic tp_getattro (so LOAD_ATTR specialises its member slots), which
     * the class inherited: the facade's adds the hot names and its _scapy_getattr fall-through. */
    ptype->tp_getattro = fp_packet_facade_getattro;
    PyType_Modified(ptype);
    Py_XSETREF(st->Facade_Packet_Type, (PyTypeObject *)Py_NewRef(ptype));
    st->facade_packet_fast = fp_packet_fast_kept(st, ptype);
    for (int id = 0; id < FP_L_COUNT; id++) {
        Py_XSETREF(st->Facade_Layer_Types[id], (PyTypeObject *)Py_XNewRef(found[id]));
        st->facade_layer_fast[id] = 0;
        for (int i = 0; found[id] && i < st->layer_fast_n[id]; i++) {
            PyObject *a = PyObject_GetAttr((PyObject *)found[id], st->layer_fast[id][i].name);
            PyObject *b = PyObject_GetAttr((PyObject *)st->Layer_Types[id], st->layer_fast[id][i].name);
            if (a != NULL && a == b) st->facade_layer_fast[id] |= 1u << i;
            Py_XDECREF(a);
            Py_XDECREF(b);
            PyErr_Clear();
        }
    }
    Py_RETURN_NONE;
}

/* The offsets of a class's slots (member descriptors its __slots__ made), -1 if one is not. */
static int slot_offsets(PyTypeObject *cls, const char *const *names, int n, Py_ssize_t *off)
{
    for (int i = 0; i < n; i++) {
        PyObject *d = PyObject_GetAttrString((PyObject *)cls, names[i]);
        int ok = d && Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
        if (ok) off[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        Py_XDECREF(d);
        if (!ok) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%R must declare the slot %s", (PyObject *)cls, names[i]);
            return -1;
        }
    }
    return 0;
}

/* _set_facade_slots(flag_cls, tcp_names, ip_names, raw_cls): fastpkt.scapy's FlagValue, whose
 * `value`, `names` and `multi` slots the facade's TCP and IP `flags` fill (TCP: tcp_names,
 * multi False; IP: ip_names, multi True), and its Raw, which `pkt[Raw]` fills (`load`, and
 * `_chain` None, `_i` 0, `_owner` the packet); _facade_flag(value, names, multi) makes a
 * FlagValue. */
static PyObject *set_facade_slots(PyObject *m, PyObject *args)
{
    static const char *const flag_slots[3] = {"value", "names", "multi"};
    static const char *const raw_slots[4] = {"load", "_chain", "_i", "_owner"};
    PyTypeObject *flag_cls, *raw_cls;
    PyObject *tcp_names, *ip_names;
    if (!PyArg_ParseTuple(args, "O!OOO!:_set_facade_slots", &PyType_Type, &flag_cls, &tcp_names, &ip_names,
                          &PyType_Type, &raw_cls))
        return NULL;
    fp_state *st = fp_state_from_module(m);
    Py_ssize_t flag_off[3], raw_off[4];
    if (slot_offsets(flag_cls, flag_slots, 3, flag_off) < 0 || slot_offsets(raw_cls, raw_slots, 4, raw_off) < 0)
        return NULL;
    PyObject *attr = PyUnicode_InternFromString("flags");
    if (attr == NULL) return NULL;
    memcpy(st->facade_flag_off, flag_off, sizeof flag_off);
    memcpy(st->facade_raw_off, raw_off, sizeof raw_off);
    Py_XSETREF(st->Facade_Flag_Type, (PyTypeObject *)Py_NewRef(flag_cls));
    Py_XSETREF(st->Facade_Raw_Type, (PyTypeObject *)Py_NewRef(raw_cls));
    Py_XSETREF(st->facade_flag_names[0], Py_NewRef(tcp_names));
    Py_XSETREF(st->facade_flag_names[1], Py_NewRef(ip_names));
    Py_XSETREF(st->facade_flags_attr, attr);
    Py_RETURN_NONE;
}

static PyObject *facade_flag(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    const fp_state *st = fp_state_from_module(m);
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_facade_flag(value, names, multi) takes 3 arguments");
        return NULL;
    }
    if (st->Facade_Flag_Type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_set_facade_slots was not called");
        return NULL;
    }
    return facade_flag_new(st, Py_NewRef(args[0]), args[1], args[2]);
}

/* The hot views' classes. CPython 3.11 keys LOAD_ATTR's specialisation on the type, so a
 * loop's `ip.src` that meets IPv4 and IPv6 views (`l4.sport`: TCP and UDP) would miss and back
 * off if each family had its class: one class serves both families of a pair. Its hot fields
 * are T_OBJECT_EX members (filled when the packet is made, packet.c) read through the generic
 * tp_getattro, which specialises (LOAD_ATTR_SLOT); every other name of either family's class
 * is a FamilyAttr answering by the view's layer id (AttributeError where that family lacks the
 * name), and `__class__` is the family's protocol class, so isinstance() (which falls back to
 * `__class__`) tells IP from IPv6 as for any view. */
typedef struct {
    PyObject_HEAD
    PyTypeObject *owner; /* the pair class whose dict holds it: the only views it reads */
    PyObject *name;
    PyObject *attr[2];   /* the pair's class attribute (getset, method or value), or NULL */
    uint8_t second;      /* the layer id attr[1] serves */
} FpFamilyAttr;

static PyObject *family_attr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    const FpFamilyAttr *a = (const FpFamilyAttr *)self;
    if (obj == NULL || obj == Py_None) return Py_NewRef(self);
    if (!Py_IS_TYPE(obj, a->owner)) { /* called by hand on something else */
        PyErr_Format(PyExc_TypeError, "descriptor '%U' for '%s' objects doesn't apply to a '%s' object", a->name,
                     a->owner->tp_name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    unsigned id = LAYER(obj)->id;
    PyObject *v = a->attr[id == a->second];
    if (v == NULL) {
        PyErr_Format(PyExc_AttributeError, "'%s' object has no attribute '%U'", fp_layer_names[id], a->name);
        return NULL;
    }
    /* the family's descriptors would refuse this class (not a subclass of theirs): their C
     * functions take any view */
    if (Py_IS_TYPE(v, &PyGetSetDescr_Type)) {
        const PyGetSetDef *d = fp_view_getter(((PyGetSetDescrObject *)v)->d_getset);
        return d->get(obj, d->closure);
    }
    if (Py_IS_TYPE(v, &PyMethodDescr_Type)) {
        PyMethodDescrObject *m = (PyMethodDescrObject *)v;
        PyTypeObject *cls = m->d_method->ml_flags & METH_METHOD ? m->d_common.d_type : NULL;
        return PyCMethod_New(m->d_method, obj, NULL, cls);
    }
    return Py_NewRef(v);
}

static int family_attr_traverse(PyObject *self, visitproc visit, void *arg)
{
    const FpFamilyAttr *a = (const FpFamilyAttr *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(a->owner);
    Py_VISIT(a->attr[0]);
    Py_VISIT(a->attr[1]);
    return 0;
}

static int family_attr_clear(PyObject *self)
{
    FpFamilyAttr *a = (FpFamilyAttr *)self;
    Py_CLEAR(a->owner);
    Py_CLEAR(a->name);
    Py_CLEAR(a->attr[0]);
    Py_CLEAR(a->attr[1]);
    return 0;
}

static void family_attr_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    family_attr_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot family_attr_slots[] = {
    {Py_tp_descr_get, family_attr_get},
    {Py_tp_traverse, family_attr_traverse},
    {Py_tp_clear, family_attr_clear},
    {Py_tp_dealloc, family_attr_dealloc},
    {0, NULL},
};
static PyType_Spec family_attr_spec = {
    .name = "fastpkt._FamilyAttr",
    .basicsize = sizeof(FpFamilyAttr),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = family_attr_slots,
};

static PyObject *hot_view_class(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    return Py_NewRef((PyObject *)l->pkt->st->Layer_Types[l->id]);
}

static PyGetSetDef hot_getset[] = {
    {"__class__", hot_view_class, NULL, "The protocol's class (IP or IPv6, TCP or UDP).", NULL},
    {NULL},
};

#define HOT_FIELD(name, k) {name, T_OBJECT_EX, (Py_ssize_t)offsetof(FpHotLayer, field[k]), READONLY, NULL}
static PyMemberDef hot_ip_members[] = {HOT_FIELD("src", 0), HOT_FIELD("dst", 1), HOT_FIELD("proto", 2), {NULL}};
static PyMemberDef hot_l4_members[] = {HOT_FIELD("sport", 0), HOT_FIELD("dport", 1), {NULL}};

/* The pair's class attributes other than the type machinery and the member slots. */
static int family_attrs_add(PyTypeObject *hot, PyTypeObject *attr_tp, PyTypeObject *const fam[2], uint8_t second,
                            const PyMemberDef *members)
{
    static const char *const skip[] = {"__new__", "__getattribute__", "__setattr__", "__delattr__",
                                       "__module__", "__doc__", "__class__", NULL};
    for (int f = 0; f < 2; f++) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(fam[f]->tp_dict, &pos, &key, &value)) {
            const char *k = PyUnicode_AsUTF8(key);
            if (k == NULL) return -1;
            int skipped = 0;
            for (int i = 0; skip[i] && !skipped; i++) skipped = strcmp(k, skip[i]) == 0;
            for (int i = 0; members[i].name && !skipped; i++) skipped = strcmp(k, members[i].name) == 0;
            if (skipped || PyDict_GetItemWithError(hot->tp_dict, key) != NULL) continue;
            if (PyErr_Occurred()) return -1;
            FpFamilyAttr *a = PyObject_GC_New(FpFamilyAttr, attr_tp);
            if (a == NULL) return -1;
            a->owner = (PyTypeObject *)Py_NewRef(hot);
            a->name = Py_NewRef(key);
            a->attr[0] = Py_XNewRef(PyDict_GetItemWithError(fam[0]->tp_dict, key));
            a->attr[1] = Py_XNewRef(PyDict_GetItemWithError(fam[1]->tp_dict, key));
            a->second = second;
            PyObject_GC_Track(a);
            int r = PyErr_Occurred() ? -1 : PyDict_SetItem(hot->tp_dict, key, (PyObject *)a);
            Py_DECREF(a);
            if (r < 0) return -1;
        }
    }
    PyType_Modified(hot);
    return 0;
}

static int hot_types_register(PyObject *m, fp_state *st)
{
    static const fp_layer_id ids[FP_HOT_VIEWS] = {FP_L_IP4, FP_L_IP6, FP_L_TCP, FP_L_UDP};
    static const char *const names[2] = {"fastpkt.IP_or_IPv6", "fastpkt.TCP_or_UDP"};
    Py_BUILD_ASSERT(FP_HOT_VIEWS == sizeof st->Hot_Types / sizeof st->Hot_Types[0]);
    Py_BUILD_ASSERT(FP_HOT_FIELDS == sizeof st->hot_field_defs[0] / sizeof st->hot_field_defs[0][0]);
    for (int i = 0; i < FP_HOT_VIEWS; i++) {
        PyTypeObject *base = st->Layer_Types[ids[i]];
        PyMemberDef *members = i < FP_HOT_TCP ? hot_ip_members : hot_l4_members;
        for (int k = 0; members[k].name; k++) {
            const PyGetSetDef *d = base->tp_getset;
            while (d->name && strcmp(d->name, members[k].name) != 0) d++;
            if (d->name == NULL) {
                PyErr_Format(PyExc_SystemError, "fastpkt: %s has no getter for %s", base->tp_name, members[k].name);
                return -1;
            }
            st->hot_field_defs[i][k] = fp_view_getter(d);
        }
    }
    PyTypeObject *attr_tp = (PyTypeObject *)PyType_FromSpec(&family_attr_spec);
    if (attr_tp == NULL) return -1;
    int r = 0;
    for (int pair = 0; pair < 2 && r == 0; pair++) {
        PyTypeObject *fam[2] = {st->Layer_Types[ids[2 * pair]], st->Layer_Types[ids[2 * pair + 1]]};
        PyMemberDef *members = pair == 0 ? hot_ip_members : hot_l4_members;
        PyType_Slot slots[] = {
            {Py_tp_dealloc, fp_layer_dealloc}, /* not subtype_dealloc, as their protocol's */
            {Py_tp_getattro, PyObject_GenericGetAttr},
            {Py_tp_members, members},
            {Py_tp_getset, hot_getset},
            {Py_tp_doc, pair == 0 ? "An IPv4 or IPv6 header of a packet as read (isinstance of IP or IPv6)."
                                  : "A TCP or UDP header of a packet as read (isinstance of TCP or UDP)."},
            {0, NULL},
        };
        PyType_Spec spec = {
            .name = names[pair],
            .basicsize = sizeof(FpHotLayer),
            .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
            .slots = slots,
        };
        PyObject *tp = PyType_FromModuleAndSpec(m, &spec, (PyObject *)st->LayerBase_Type);
        if (tp == NULL) {
            r = -1;
            break;
        }
        r = family_attrs_add((PyTypeObject *)tp, attr_tp, fam, (uint8_t)ids[2 * pair + 1], members);
        Py_XSETREF(st->Hot_Types[2 * pair], (PyTypeObject *)Py_NewRef(tp));
        Py_XSETREF(st->Hot_Types[2 * pair + 1], (PyTypeObject *)tp);
    }
    Py_DECREF(attr_tp);
    return r;
}

static PyMethodDef layer_functions[] = {
    {"_set_facade_types", set_facade_types, METH_VARARGS,
     "_set_facade_types(packet_type, {view type or layer name: subclass}) -> None\n--\n\n"
     "The Packet and layer subclasses that Readers and PacketLists with _facade set make."},
    {"_set_facade_slots", set_facade_slots, METH_VARARGS,
     "_set_facade_slots(flag_cls, tcp_names, ip_names, raw_cls) -> None\n--\n\n"
     "fastpkt.scapy's FlagValue and Raw classes, made in C for the facade's flags and pkt[Raw]."},
    {"_facade_flag", (PyCFunction)(void (*)(void))facade_flag, METH_FASTCALL,
     "_facade_flag(value, names, multi) -> FlagValue\n--\n\n"
     "A FlagValue with these slots, past its __init__ (the facade's per-packet maker)."},
    {NULL, NULL, 0, NULL},
};

int fp_layers_register(PyObject *m, fp_state *st)
{
    if (PyModule_AddFunctions(m, layer_functions) < 0) return -1;
    PyTypeObject *base = (PyTypeObject *)PyType_FromModuleAndSpec(m, &layer_base_spec, NULL);
    if (base == NULL) return -1;
    PyObject *empty = PyTuple_New(0);
    int r = fp_layer_set_class_attr(base, "fields", empty);
    Py_XDECREF(empty);
    for (PyMethodDef *d = fp_layer_build_methods; r == 0 && d->ml_name; d++) {
        PyObject *descr = PyDescr_NewMethod(base, d);
        r = fp_layer_set_class_attr(base, d->ml_name, descr);
        Py_XDECREF(descr);
    }
    if (r < 0 || PyModule_AddType(m, base) < 0) {
        Py_DECREF(base);
        return -1;
    }
    Py_XSETREF(st->LayerBase_Type, (PyTypeObject *)Py_NewRef(base));

    for (size_t i = 0; i < N_LAYER_DEFS; i++) {
        const fp_layer_def *def = layer_defs[i];
        if (guard_getters(def->spec) < 0) goto fail;
        PyTypeObject *tp = (PyTypeObject *)PyType_FromModuleAndSpec(m, def->spec, (PyObject *)base);
        if (tp == NULL) goto fail;
        PyObject *fields = fields_tuple(def->fields);
        r = fp_layer_set_class_attr(tp, "fields", fields);
        Py_XDECREF(fields);
        if (r < 0 || PyModule_AddType(m, tp) < 0) {
            Py_DECREF(tp);
            goto fail;
        }
        int id = def->id;
        Py_XSETREF(st->Layer_Types[id], tp); /* the state owns this reference */
        if (layer_fast_init(st, id, tp->tp_getset) < 0) goto fail;
        if (id == FP_L_SLL && layer_fast_init(st, FP_L_SLL2, tp->tp_getset) < 0) goto fail;
        if (id == FP_L_SLL) Py_XSETREF(st->Layer_Types[FP_L_SLL2], (PyTypeObject *)Py_NewRef(tp));
        if (def->setup && def->setup(m, tp) < 0) goto fail;
    }
    Py_DECREF(base);
    /* the hot classes copy the protocols' class attributes, fields_desc (build) included */
    if (fp_build_register(m, st) < 0) return -1;
    return hot_types_register(m, st);
fail:
    Py_DECREF(base);
    return -1;
}
