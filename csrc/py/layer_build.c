/* The layer types as builders: constructors, attribute access, `/`, `in`, `[]`, len(),
 * copy(), show()/show2(), repr; the builder-only types (ICMPv6 echo, IPv6 extension
 * headers). Values and serialization are in build.c. */
#include "build.h"

#include <stdio.h>
#include <string.h>

static fp_state *lstate(PyObject *self)
{
    FpLayer *l = LAYER(self);
    return l->pkt ? l->pkt->st : fp_state_from_type(Py_TYPE(self));
}

static int build_id_of_type(const fp_state *st, PyTypeObject *tp)
{
    for (int id = 0; id < FP_B_COUNT; id++)
        if (st->Build_Types[id] == tp) return id;
    return -1;
}

static int apply_kwargs(fp_state *st, FpLayer *l, PyObject *kwds)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (kwds && PyDict_Next(kwds, &pos, &k, &v)) {
        int f = fp_build_field_index(st, l->b->p, k);
        if (f < 0) {
            PyErr_Format(PyExc_TypeError, "%s() has no field %R", l->b->p->name, k);
            return -1;
        }
        if (fp_build_set(st, l, f, v) < 0) return -1;
    }
    return 0;
}

/* IP(dst=..., ttl=5), IP(raw_bytes), IP(raw_bytes, ttl=5). */
PyObject *fp_layer_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    fp_state *st = fp_state_from_type(tp);
    if (st == NULL) return NULL;
    int id = build_id_of_type(st, tp);
    if (id < 0) {
        PyErr_Format(PyExc_TypeError, "cannot create '%s' instances: fastpkt builds Ether, Dot1Q, ARP, "
                     "IP, IPv6 and its extension headers, TCP, UDP, ICMP, ICMPv6 echo and DNS", tp->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *self;
    if (n > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes the bytes to parse and fields as keywords", tp->tp_name);
        return NULL;
    }
    if (n == 1) {
        PyObject *raw = PyTuple_GET_ITEM(args, 0);
        Py_buffer view;
        if (PyUnicode_Check(raw) || PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s(): the positional argument is the bytes to parse, not %.100s",
                         tp->tp_name, Py_TYPE(raw)->tp_name);
            return NULL;
        }
        self = fp_build_parse(st, id, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
    } else {
        self = fp_builder_alloc(st, id);
    }
    if (self != NULL && apply_kwargs(st, LAYER(self), kwds) < 0) Py_CLEAR(self);
    return self;
}

/* ---- attribute access ------------------------------------------------------ */

/* Attributes a builder does not hold come from the view of its built bytes: the
 * descriptors the protocol's view type defines (checksum_ok(), DF, mss, ...). */
static PyObject *via_view(fp_state *st, PyObject *self, PyObject *name)
{
    PyObject *pkt = NULL;
    PyObject *view = fp_build_view(st, LAYER(self), &pkt);
    if (view == NULL) return NULL;
    PyObject *r = PyObject_GetAttr(view, name);
    Py_DECREF(view);
    Py_XDECREF(pkt);
    return r;
}

static int is_view_descr(const fp_state *st, PyObject *descr)
{
    if (descr == NULL) return 0;
    if (!Py_IS_TYPE(descr, &PyGetSetDescr_Type) && !Py_IS_TYPE(descr, &PyMethodDescr_Type)) return 0;
    PyTypeObject *owner = PyDescr_TYPE(descr);
    return owner != st->LayerBase_Type && owner != &PyBaseObject_Type;
}

PyObject *fp_build_getattro(PyObject *self, PyObject *name)
{
    FpLayer *l = LAYER(self);
    fp_state *st = l->b->st;
    int f = fp_build_field_index(st, l->b->p, name);
    if (f >= 0) return fp_build_get(st, l, f);
    if (is_view_descr(st, _PyType_Lookup(Py_TYPE(self), name))) return via_view(st, self, name);
    return PyObject_GenericGetAttr(self, name);
}

/* Setting or deleting a field of a view edits its packet: the packet's bytes become a
 * builder stack (once) that its layers and bytes() show from then on. */
int fp_layer_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    FpLayer *l = LAYER(self);
    if (l->pkt != NULL) {
        FpLayer *node = fp_view_node(l, 1);
        return node ? fp_layer_setattro((PyObject *)node, name, value) : -1;
    }
    fp_state *st = l->b->st;
    int f = fp_build_field_index(st, l->b->p, name);
    if (f < 0) {
        PyErr_Format(PyExc_AttributeError, "%s has no field %R", l->b->p->name, name);
        return -1;
    }
    return fp_build_set(st, l, f, value);
}

/* ---- stacks: in, [], len -------------------------------------------------------- */

static int is_raw_spec(PyObject *spec)
{
    PyObject *name = PyType_Check(spec) ? PyObject_GetAttrString(spec, "__name__") : Py_NewRef(spec);
    if (name == NULL) {
        PyErr_Clear();
        return 0;
    }
    int r = PyUnicode_Check(name) && (PyUnicode_CompareWithASCIIString(name, "Raw") == 0 ||
                                      PyUnicode_CompareWithASCIIString(name, "raw") == 0 ||
                                      PyUnicode_CompareWithASCIIString(name, "Padding") == 0);
    Py_DECREF(name);
    return r;
}

static int node_matches(FpLayer *n, PyObject *spec)
{
    if (PyType_Check(spec)) return PyObject_TypeCheck((PyObject *)n, (PyTypeObject *)spec);
    if (PyUnicode_Check(spec)) {
        const char *s = PyUnicode_AsUTF8(spec);
        return s != NULL && strcasecmp(s, n->b->p->name) == 0;
    }
    PyErr_Format(PyExc_TypeError, "layer must be a name like 'TCP' or a layer class, not %.100s",
                 Py_TYPE(spec)->tp_name);
    return -1;
}

/* The first layer of the stack from `l` matching spec (new reference), a Raw for the
 * raw bytes at the end, NULL without error when none. */
static PyObject *find_layer(FpLayer *l, PyObject *spec)
{
    int raw = is_raw_spec(spec);
    for (PyObject *o = (PyObject *)l; o != NULL;) {
        if (!fp_is_builder(o)) {
            if (!raw) return NULL;
            return PyObject_CallOneArg((PyObject *)l->b->st->Raw_Type, o);
        }
        if (!raw) {
            int m = node_matches(LAYER(o), spec);
            if (m < 0) return NULL;
            if (m) return Py_NewRef(o);
        }
        o = LAYER(o)->b->payload;
    }
    return NULL;
}

int fp_layer_contains(PyObject *self, PyObject *spec)
{
    FpLayer *l = LAYER(self);
    if (l->pkt) return PySequence_Contains((PyObject *)l->pkt, spec);
    PyObject *r = find_layer(l, spec);
    if (r == NULL) return PyErr_Occurred() ? -1 : 0;
    Py_DECREF(r);
    return 1;
}

PyObject *fp_layer_getitem(PyObject *self, PyObject *spec)
{
    FpLayer *l = LAYER(self);
    if (l->pkt) return PyObject_GetItem((PyObject *)l->pkt, spec);
    PyObject *r = find_layer(l, spec);
    if (r == NULL && !PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "layer %R not found in this packet", spec);
    return r;
}

/* iter(layer): the packets a builder stands for (itself when no field is a network or a
 * list); views are not iterable. */
PyObject *fp_layer_iter(PyObject *self)
{
    FpLayer *l = LAYER(self);
    if (l->pkt) {
        PyErr_Format(PyExc_TypeError, "'%.100s' view is not iterable", Py_TYPE(self)->tp_name);
        return NULL;
    }
    PyObject *list = fp_build_expand(l->b->st, l);
    if (list == NULL) return NULL;
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

Py_ssize_t fp_layer_len(PyObject *self)
{
    PyObject *b = PyObject_Bytes(self);
    if (b == NULL) return -1;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    Py_DECREF(b);
    return n;
}

/* ---- methods ----------------------------------------------------------------- */

static PyObject *layer_copy(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpLayer *l = LAYER(self);
    fp_state *st = lstate(self);
    if (st == NULL) return NULL;
    return l->pkt ? fp_build_from_view(st, l) : fp_build_copy(st, l);
}

static int show_value(PyObject *parts, const char *name, PyObject *v, PyTypeObject *flags_type)
{
    size_t klen = strlen(name);
    const char *pad = "          " + (klen < 10 ? klen : 10);
    int plain = PyUnicode_Check(v) || PyLong_Check(v) || Py_IS_TYPE(v, flags_type); /* addresses, flags, hex unquoted */
    PyObject *line = PyUnicode_FromFormat(plain ? "  %s%s= %S" : "  %s%s= %R", name, pad, v);
    int r = line ? PyList_Append(parts, line) : -1;
    Py_XDECREF(line);
    return r;
}

/* Scapy's show() layout, as Packet.show() prints views. */
static PyObject *show_text(FpLayer *top)
{
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    for (PyObject *o = (PyObject *)top; o != NULL;) {
        if (!fp_is_builder(o)) {
            PyObject *hdr = PyUnicode_FromString("###[ Raw ]###");
            if (hdr == NULL || PyList_Append(parts, hdr) < 0 || show_value(parts, "load", o, NULL) < 0) {
                Py_XDECREF(hdr);
                goto fail;
            }
            Py_DECREF(hdr);
            break;
        }
        FpLayer *l = LAYER(o);
        const fp_bproto *p = l->b->p;
        PyObject *hdr = PyUnicode_FromFormat("###[ %s ]###", p->name);
        if (fp_list_append_new(parts, hdr) < 0) goto fail;
        fp_blayer row = {.p = p};
        memcpy(row.v, l->b->v, sizeof row.v);
        for (int f = 0; f < p->nfields; f++) {
            if (!fp_bfield_present(&row, f)) continue;
            PyObject *v = fp_build_get(l->b->st, l, f);
            if (v == NULL) goto fail;
            if (p->fields[f].flags & FP_BF_HEX && PyLong_CheckExact(v)) {
                char hex[24];
                snprintf(hex, sizeof hex, "0x%04llx", PyLong_AsUnsignedLongLong(v));
                Py_SETREF(v, PyUnicode_FromString(hex));
                if (v == NULL) goto fail;
            }
            int r = show_value(parts, p->fields[f].name, v, l->b->st->TCPFlags_Type);
            Py_DECREF(v);
            if (r < 0) goto fail;
        }
        o = l->b->payload;
    }
    return fp_join_str(parts, "\n");
fail:
    Py_DECREF(parts);
    return NULL;
}

/* The stack as Scapy would see it after building: rebuilt bytes read back. */
static PyObject *rebuilt(FpLayer *l)
{
    fp_state *st = l->b->st;
    PyObject *raw = fp_build_bytes(st, l);
    if (raw == NULL) return NULL;
    PyObject *r = fp_build_parse(st, l->id, (const uint8_t *)PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return r;
}

static PyObject *layer_show_impl(PyObject *self, PyObject *args, PyObject *kwds, int after_build)
{
    static char *kwlist[] = {"dump", NULL};
    int dump = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, after_build ? "|p:show2" : "|p:show", kwlist, &dump)) return NULL;
    FpLayer *l = LAYER(self);
    PyObject *stack;
    if (l->pkt) {
        fp_state *st = lstate(self);
        stack = st ? fp_build_from_view(st, l) : NULL;
    } else {
        stack = after_build ? rebuilt(l) : Py_NewRef(self);
    }
    if (stack == NULL) return NULL;
    PyObject *text = show_text(LAYER(stack));
    Py_DECREF(stack);
    return fp_print_or_return(text, dump);
}

static PyObject *layer_show(PyObject *self, PyObject *args, PyObject *kwds)
{
    return layer_show_impl(self, args, kwds, 0);
}

static PyObject *layer_show2(PyObject *self, PyObject *args, PyObject *kwds)
{
    return layer_show_impl(self, args, kwds, 1);
}

/* One line: the dissected summary of the built bytes ("Ether / IP / TCP 1.2.3.4:20 > ...")
 * when the stack starts with Ether, IP or IPv6, else the layer names. */
static PyObject *layer_summary(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpLayer *l = LAYER(self);
    if (l->pkt) return PyObject_CallMethod((PyObject *)l->pkt, "summary", NULL);
    PyObject *pkt = fp_build_packet(l->b->st, l);
    if (pkt != NULL) {
        PyObject *r = PyObject_CallMethod(pkt, "summary", NULL);
        Py_DECREF(pkt);
        return r;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
    PyErr_Clear();
    PyObject *names = PyList_New(0);
    for (PyObject *o = self; names != NULL && o != NULL; o = fp_is_builder(o) ? LAYER(o)->b->payload : NULL) {
        PyObject *s = PyUnicode_FromString(fp_is_builder(o) ? LAYER(o)->b->p->name : "Raw");
        if (s == NULL || PyList_Append(names, s) < 0) Py_CLEAR(names);
        Py_XDECREF(s);
    }
    if (names == NULL) return NULL;
    return fp_join_str(names, " / ");
}

/* Scapy's repr: the fields given, nested: <IP  ttl=5 dst=1.2.3.4 |<TCP  flags=S |>> */
PyObject *fp_build_repr(PyObject *self)
{
    FpLayer *l = LAYER(self);
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    for (int f = 0; f < l->b->p->nfields; f++) {
        if (!((l->b->set >> f) & 1u)) continue;
        PyObject *v = fp_build_get(l->b->st, l, f);
        PyObject *item = v ? PyUnicode_FromFormat(PyUnicode_Check(v) || Py_TYPE(v) == l->b->st->TCPFlags_Type
                                                      ? "%s=%S" : "%s=%R", l->b->p->fields[f].name, v) : NULL;
        Py_XDECREF(v);
        if (fp_list_append_new(parts, item) < 0) {
            Py_DECREF(parts);
            return NULL;
        }
    }
    PyObject *body = fp_join_str(parts, " ");
    if (body == NULL) return NULL;
    PyObject *inner;
    PyObject *pl = l->b->payload;
    if (pl == NULL) inner = PyUnicode_FromString("");
    else if (fp_is_builder(pl)) inner = PyObject_Repr(pl);
    else inner = PyUnicode_FromFormat("<Raw  load=%R |>", pl);
    PyObject *r = inner ? PyUnicode_FromFormat("<%s  %U |%U>", l->b->p->name, body, inner) : NULL;
    Py_XDECREF(inner);
    Py_DECREF(body);
    return r;
}

/* Packet.verify_checksums() of the built bytes (of the packet, for a view). */
static PyObject *layer_verify_checksums(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpLayer *l = LAYER(self);
    PyObject *pkt = l->pkt ? Py_NewRef((PyObject *)l->pkt) : fp_build_packet(l->b->st, l);
    if (pkt == NULL) return NULL;
    PyObject *r = PyObject_CallMethod(pkt, "verify_checksums", NULL);
    Py_DECREF(pkt);
    return r;
}

PyMethodDef fp_layer_build_methods[] = {
    {"verify_checksums", layer_verify_checksums, METH_NOARGS,
     "Packet.verify_checksums() of this packet (built first when it is being built)."},
    {"copy", layer_copy, METH_NOARGS,
     "An editable copy (a builder): of a built layer and its payload, or of a view's bytes\n"
     "(this layer and what follows it) read back into layers."},
    {"show", (PyCFunction)(void (*)(void))layer_show, METH_VARARGS | METH_KEYWORDS,
     "show(dump=False): every layer's fields, Scapy's layout (unset auto fields are None)."},
    {"show2", (PyCFunction)(void (*)(void))layer_show2, METH_VARARGS | METH_KEYWORDS,
     "show2(dump=False): show() of the packet as built (lengths, checksums filled in)."},
    {"summary", layer_summary, METH_NOARGS, "One-line summary in Scapy's style."},
    {NULL, NULL, 0, NULL},
};

/* ---- builder-only types ------------------------------------------------------- */

#define BUILD_ONLY_SPEC(cname, pyname, doc)                                            \
    static PyType_Slot cname##_slots[] = {                                             \
        {Py_tp_doc, (void *)(doc)},                                                    \
        {Py_tp_new, fp_layer_tp_new},                                                  \
        {Py_tp_dealloc, fp_layer_dealloc},                                             \
        {Py_tp_getattro, fp_layer_getattro},                                           \
        {Py_tp_setattro, fp_layer_setattro},                                           \
        {0, NULL},                                                                     \
    };                                                                                 \
    static PyType_Spec cname##_spec = {                                                \
        .name = "fastpkt." pyname,                                                     \
        .basicsize = sizeof(FpLayer),                                                  \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,                        \
        .slots = cname##_slots,                                                        \
    }

BUILD_ONLY_SPEC(echo_req, "ICMPv6EchoRequest", "ICMPv6 Echo Request (RFC 4443 4.1), for building.");
BUILD_ONLY_SPEC(echo_rep, "ICMPv6EchoReply", "ICMPv6 Echo Reply (RFC 4443 4.2), for building.");
BUILD_ONLY_SPEC(hop, "IPv6ExtHdrHopByHop", "IPv6 Hop-by-Hop Options header (RFC 8200 4.3), for building.");
BUILD_ONLY_SPEC(rt, "IPv6ExtHdrRouting", "IPv6 Routing header (RFC 8200 4.4), for building.");
BUILD_ONLY_SPEC(frag, "IPv6ExtHdrFragment", "IPv6 Fragment header (RFC 8200 4.5), for building.");
BUILD_ONLY_SPEC(dest, "IPv6ExtHdrDestOpt", "IPv6 Destination Options header (RFC 8200 4.6), for building.");

static PyObject *fields_desc(const fp_bproto *p)
{
    PyObject *t = PyTuple_New(p->nfields);
    for (int f = 0; t != NULL && f < p->nfields; f++) {
        const fp_bfield *fd = &p->fields[f];
        static const char *const kinds[] = {"int", "IPv4", "MAC", "IPv6", "bytes"};
        PyObject *dflt;
        if (fd->flags & (FP_BF_AUTO | FP_BF_ROUTE)) dflt = Py_NewRef(Py_None);
        else if (fd->kind == FP_BK_VAR) dflt = Py_NewRef(Py_None);
        else if (fd->kind == FP_BK_UINT) dflt = PyLong_FromUnsignedLongLong(fd->dflt);
        else if (fd->kind == FP_BK_IP6) dflt = PyUnicode_FromString(p->id == FP_B_IP6 ? "::1" : "::");
        else {
            uint8_t a[6];
            int n = fd->kind == FP_BK_MAC ? 6 : 4;
            for (int i = 0; i < n; i++) a[i] = (uint8_t)(fd->dflt >> (8 * (n - 1 - i)));
            dflt = n == 6 ? fp_mac_str(a) : fp_ip4_str(a);
        }
        const char *kind = (fd->flags & FP_BF_TCPFLAGS) ? "TCP flags" : (fd->flags & FP_BF_IPFLAGS) ? "IP flags"
                                                                                                : kinds[fd->kind];
        PyObject *row = dflt ? Py_BuildValue("(ssNiN)", fd->name, kind, dflt,
                                             fd->kind == FP_BK_UINT ? fd->bits : 0,
                                             PyBool_FromLong((fd->flags & (FP_BF_AUTO | FP_BF_NEXT | FP_BF_ROUTE)) != 0))
                             : NULL;
        if (row == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, f, row);
    }
    return t;
}

/* The builder of each kind: the view types where there is one, the new types otherwise;
 * every type gets fields_desc (name, kind, default, bits, auto) for ls(). */
int fp_build_register(PyObject *m, fp_state *st)
{
    static const struct {
        int id;
        PyType_Spec *spec; /* NULL: the view type of the same id */
        int base_view;     /* subclass of this view type (-1: Layer) */
    } kinds[] = {
        {FP_B_ETH, NULL, 0},   {FP_B_VLAN, NULL, 0},  {FP_B_ARP, NULL, 0},  {FP_B_IP4, NULL, 0},
        {FP_B_IP6, NULL, 0},   {FP_B_TCP, NULL, 0},   {FP_B_UDP, NULL, 0},  {FP_B_ICMP, NULL, 0},
        {FP_B_DNS, NULL, 0},
        {FP_B_ICMP6_ECHO_REQ, &echo_req_spec, FP_L_ICMP6},
        {FP_B_ICMP6_ECHO_REP, &echo_rep_spec, FP_L_ICMP6},
        {FP_B_IP6_HOP, &hop_spec, -1}, {FP_B_IP6_RT, &rt_spec, -1},
        {FP_B_IP6_FRAG, &frag_spec, -1}, {FP_B_IP6_DEST, &dest_spec, -1},
    };
    Py_BUILD_ASSERT(FP_B_COUNT <= FP_B_COUNT_MAX);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const fp_bproto *p = fp_bproto_of(kinds[k].id);
        PyTypeObject *tp;
        if (kinds[k].spec == NULL) {
            tp = (PyTypeObject *)Py_NewRef(st->Layer_Types[kinds[k].id]);
        } else {
            PyObject *base = kinds[k].base_view >= 0 ? (PyObject *)st->Layer_Types[kinds[k].base_view]
                                                     : (PyObject *)st->LayerBase_Type;
            tp = (PyTypeObject *)PyType_FromModuleAndSpec(m, kinds[k].spec, base);
            if (tp == NULL) return -1;
            PyObject *names = fp_intern_tuple(&p->fields[0].name, p->nfields, sizeof p->fields[0]);
            int r = fp_layer_set_class_attr(tp, "fields", names);
            Py_XDECREF(names);
            if (r < 0 || PyModule_AddType(m, tp) < 0) {
                Py_DECREF(tp);
                return -1;
            }
        }
        Py_XSETREF(st->Build_Types[kinds[k].id], tp);
        PyObject *fd = fields_desc(p);
        if (fp_layer_set_class_attr(tp, "fields_desc", fd) < 0) {
            Py_XDECREF(fd);
            return -1;
        }
        Py_DECREF(fd);
        for (int f = 0; f < p->nfields; f++) {
            st->bnames[p->id][f] = PyUnicode_InternFromString(p->fields[f].name);
            if (st->bnames[p->id][f] == NULL) return -1;
        }
    }
    return 0;
}
