/* Packet: one record, its dissection and a private copy of its bytes in a single
 * var-sized object. Layer attributes return views (FpLayer) over those bytes. */
#include "build.h"
#include "hotcache.h"

#include <stddef.h>
#include <structmember.h>

#include "../dissect/cursor.h"
#include "../dissect/tls.h"

static FpPacket *packet_alloc(fp_state *st, PyTypeObject *tp, uint32_t inline_len)
{
    if (PyType_IS_GC(tp)) { /* a Python subclass (fastpkt.scapy's): GC header, zeroed */
        PyObject *op = tp->tp_alloc(tp, (Py_ssize_t)inline_len);
        return (FpPacket *)op; /* edit and the rest are zero */
    }
    /* PyObject_InitVar increfs heap types; no zero-fill of the payload area. */
    PyObject *op;
    if (inline_len == 0 && st->packet_free_n > 0) {
        op = (PyObject *)st->packet_free[--st->packet_free_n];
    } else {
        op = PyObject_Malloc(offsetof(FpPacket, inline_data) + (size_t)inline_len);
        if (op == NULL) return (FpPacket *)PyErr_NoMemory();
    }
    PyObject_InitVar((PyVarObject *)op, tp, (Py_ssize_t)inline_len);
    ((FpPacket *)op)->edit = NULL;
    ((FpPacket *)op)->wire = NULL;
    for (int i = 0; i < FP_PACKET_VIEWS; i++) Py_SET_REFCNT(&((FpPacket *)op)->views[i], 0); /* free */
    memset(((FpPacket *)op)->hot, 0, sizeof ((FpPacket *)op)->hot);
    for (int i = 0; i < FP_HOT_VIEWS; i++) Py_SET_REFCNT(&((FpPacket *)op)->hot_views[i], 0); /* absent */
    ((FpPacket *)op)->flat_owned = 0;
    return (FpPacket *)op;
}

/* A hot view's field slots from its protocol's getters (a header cut short reads None for
 * the fields past the end). Its class is the hot one (member slots) when they all answered,
 * else its protocol's (getters per access). */
static PyTypeObject *hot_view_getters(fp_state *st, int i, FpHotLayer *h)
{
    Py_SET_TYPE(h, st->Layer_Types[h->l.id]); /* what the getters see */
    int ok = 1;
    for (int k = 0; k < FP_HOT_FIELDS; k++) {
        const PyGetSetDef *d = st->hot_field_defs[i][k];
        h->field[k] = ok && d ? d->get((PyObject *)h, d->closure) : NULL;
        if (d && h->field[k] == NULL) ok = 0;
    }
    if (ok) return st->Hot_Types[i];
    PyErr_Clear(); /* the view's own getter raises it again when the field is read */
    for (int k = 0; k < FP_HOT_FIELDS; k++) Py_CLEAR(h->field[k]);
    return st->Layer_Types[h->l.id];
}

/* A hot view's field slots: from the shared table when its header is whole (a lookup and a
 * reference per field), else from the getters. Inlined per slot (i constant), so each view's
 * fill is straight-line code. A whole header's fields are also the flat form's (pkt.src, ...,
 * borrowed: packet_flat_release) when the dissection's values, which the flat getters read,
 * are the ones the view read (a cut TCP header leaves d.sport 0 while its view reads the
 * bytes there), and when this view is the one the flat getters take (IPv4 before IPv6, TCP
 * before UDP): bit 0 of *flat for the IP part, bit 1 for the ports. Done here, while the
 * header and the fields are at hand, rather than by a pass over the views afterwards. */
static inline __attribute__((always_inline)) PyTypeObject *hot_view_fields(fp_state *st, FpPacket *p, int i,
                                                                            FpHotLayer *h, uint8_t proto,
                                                                            unsigned *flat)
{
    const fp_dissection *d = &p->d;
    const fp_span *s = &d->layer[h->l.id];
    const uint8_t *hdr = p->data + s->off;
    uint32_t have = s->end > s->off ? s->end - s->off : 0;
    int r = i == FP_HOT_IP4   ? (have >= 20 ? fp_hot_ip4_fields(st, hdr, h->field) : 1)
            : i == FP_HOT_IP6 ? (have >= 40 ? fp_hot_ip6_fields(st, hdr, proto, h->field) : 1)
                              : (have >= 4 ? fp_hot_port_fields(st, hdr, h->field) : 1);
    if (__builtin_expect(r == 0, 1)) {
        PyObject **out = &p->hot[FP_HOT_FLAT];
        if (i >= FP_HOT_TCP) {
            h->field[2] = NULL; /* ports: two */
            if ((i == FP_HOT_TCP || !FP_HAS(d, FP_L_TCP)) && fp_load_be16(hdr) == d->sport &&
                fp_load_be16(hdr + 2) == d->dport) {
                out[FP_HOT_SPORT - FP_HOT_FLAT] = h->field[0];
                out[FP_HOT_DPORT - FP_HOT_FLAT] = h->field[1];
                *flat |= 2;
            }
        } else if ((i == FP_HOT_IP6 ? !FP_HAS(d, FP_L_IP4) : hdr[9] == d->ip_proto)) {
            /* IPv6's third field is d.ip_proto already */
            out[0] = h->field[0];
            out[1] = h->field[1];
            out[2] = h->field[2];
            *flat |= 1;
        }
        return st->Hot_Types[i];
    }
    return r < 0 ? NULL : hot_view_getters(st, i, h);
}

/* A hot view's slot lets it go: its fields, its class, and the view itself (refcount 0). */
static void hot_view_release(FpHotLayer *h)
{
    for (int k = 0; k < FP_HOT_FIELDS; k++) Py_CLEAR(h->field[k]);
    Py_SET_REFCNT(h, 0); /* only the slot held it: the view ends with the block */
    Py_DECREF(Py_TYPE(h));
}

static int packet_flat_fill(FpPacket *p);

/* Release the flat form's slots that own their objects (the others borrow a hot view's). */
static inline void packet_flat_release(FpPacket *p)
{
    if (p->flat_owned == 0) return;
    for (int k = 0; k < FP_HOT_COUNT - FP_HOT_FLAT; k++)
        if (p->flat_owned >> k & 1) Py_CLEAR(p->hot[FP_HOT_FLAT + k]);
    p->flat_owned = 0;
}

/* Hot view slot i (layer `id`, IPv6's upper protocol `proto`) of a dissected packet: its view
 * with its fields when `have` (the layer is present), else None. A view present in the block's
 * previous packet too (a parked block) keeps its class reference and swaps its fields, an
 * absent layer's None stays. Inlined per slot. 0, or -1 with an exception. */
static inline __attribute__((always_inline)) int packet_hot_slot(FpPacket *p, fp_state *st, int i, fp_layer_id id,
                                                                 int have, uint8_t proto, unsigned *flat)
{
    FpHotLayer *h = &p->hot_views[i];
    PyObject *old = p->hot[i];
    if (!have) {
        if (old == Py_None) return 0;
        if (old == (PyObject *)h) hot_view_release(h);
        p->hot[i] = Py_NewRef(Py_None);
        return 0;
    }
    PyTypeObject *prev = NULL; /* the class reference the view holds already */
    if (old == (PyObject *)h) { /* the block's view of the packet before: only its fields go */
        prev = Py_TYPE(h);
        for (int k = 0; k < FP_HOT_FIELDS; k++) Py_XDECREF(h->field[k]);
    } else {
        Py_XDECREF(old); /* None, or NULL in a new block */
        h->l.pkt = p;
        h->l.id = (uint8_t)id;
        h->l.index = 0;
        h->l.embedded = FP_VIEW_HOT;
        h->l.b = NULL;
    }
    p->hot[i] = NULL;
    PyTypeObject *tp = hot_view_fields(st, p, i, h, proto, flat);
    if (tp == NULL) {
        Py_XDECREF(prev);
        return -1;
    }
    /* PyObject_Init without its tracemalloc hook: the block is the packet's */
    Py_SET_TYPE(h, tp);
    if (tp != prev) {
        Py_INCREF(tp);
        Py_XDECREF(prev);
    }
    Py_SET_REFCNT(h, 1); /* the slot's reference */
    p->hot[i] = (PyObject *)h;
    return 0;
}

/* A frame whose tunnels carry no IP packet (VXLAN carrying ARP, PPTP's LCP, a GRE keepalive):
 * pkt.ip (or ip6) is the innermost IP header there is and pkt.udp the UDP header around its
 * tunnel, as the table row and the flow read them (fp_innermost_ip, fp_tunnel_udp_ports: their
 * spans stay in layer[]); the flat form's getters follow the same rule. 0, or -1 with an
 * exception. */
static int packet_hot_tunnel_no_ip(FpPacket *p, fp_state *st)
{
    uint8_t proto;
    unsigned flat = 0; /* the flat form is filled by the getters afterwards */
    int id = fp_innermost_ip(&p->d, &proto);
    if (id == FP_L_COUNT) return 0;
    int rc = id == FP_L_IP4 ? packet_hot_slot(p, st, FP_HOT_IP4, FP_L_IP4, 1, 0, &flat)
                            : packet_hot_slot(p, st, FP_HOT_IP6, FP_L_IP6, 1, proto, &flat);
    uint16_t sport, dport;
    if (rc == 0 && fp_tunnel_udp_ports(p->data, &p->d, &sport, &dport))
        rc = packet_hot_slot(p, st, FP_HOT_UDP, FP_L_UDP, 1, 0, &flat);
    return rc;
}

/* The fill's rest when the flat form was not borrowed whole (no IP view, or no port view): the
 * tunnel's headers of a frame carrying no IP packet, then the getters' values. Out of line, so
 * an untunnelled TCP or UDP packet pays nothing for the tunnel case. 0, or -1 with an exception. */
static __attribute__((noinline)) int packet_flat_rest(FpPacket *p, fp_state *st)
{
    if (p->hot[FP_HOT_IP4] == Py_None && p->hot[FP_HOT_IP6] == Py_None && p->d.tunnel_count &&
        packet_hot_tunnel_no_ip(p, st) < 0)
        return -1;
    return packet_flat_fill(p);
}

/* The member slots of the hot attributes (FpPacket.hot), once the packet is dissected. A
 * plain Packet's views are its hot_views[], owned by the slots: no allocation, and no
 * reference to the packet until one outlives it (packet_dealloc). A reused block (parked in
 * its Reader) still holds the previous packet's views (packet_hot_slot). 0, or -1 with an
 * exception (the caller drops the packet). */
static inline __attribute__((always_inline)) int packet_hot_fill_inline(FpPacket *p)
{
    fp_state *st = p->st;
    PyObject *wirelen = fp_hot_uint(st, p->wire ? p->wire->wirelen : p->wirelen);
    if (wirelen == NULL) return -1;
    Py_XSETREF(p->hot[FP_HOT_WIRELEN], wirelen);
    packet_flat_release(p);
    if (Py_TYPE(p) != st->Packet_Type) return packet_flat_fill(p); /* fastpkt.scapy's: its getattro makes its views */
    unsigned flat = 0; /* bits 0 and 1: the flat form's IP and port slots borrowed (hot_view_fields) */
    const fp_dissection *d = &p->d;
    int rc = packet_hot_slot(p, st, FP_HOT_IP4, FP_L_IP4, FP_HAS(d, FP_L_IP4), 0, &flat);
    if (rc == 0) rc = packet_hot_slot(p, st, FP_HOT_IP6, FP_L_IP6, FP_HAS(d, FP_L_IP6), d->ip_proto, &flat);
    if (rc == 0) rc = packet_hot_slot(p, st, FP_HOT_TCP, FP_L_TCP, FP_HAS(d, FP_L_TCP), 0, &flat);
    if (rc == 0) rc = packet_hot_slot(p, st, FP_HOT_UDP, FP_L_UDP, FP_HAS(d, FP_L_UDP), 0, &flat);
    if (rc < 0) return -1;
    return flat == 3 ? 0 : packet_flat_rest(p, st); /* the getters' values, owned, for all five */
}

/* The fill of the other makers (copies, views made outside a Reader's iteration,
 * reassembled datagrams); a Reader's iteration has it inlined (packet_from_reader). */
static int packet_hot_fill(FpPacket *p) { return packet_hot_fill_inline(p); }

void fp_packet_hot_views_edited(FpPacket *p)
{
    for (int i = 0; i < FP_HOT_VIEWS; i++) {
        PyObject *v = (PyObject *)&p->hot_views[i];
        if (p->hot[i] != v || Py_TYPE(v) != p->st->Hot_Types[i]) continue;
        PyTypeObject *hot = Py_TYPE(v);
        Py_SET_TYPE(v, (PyTypeObject *)Py_NewRef(p->st->Layer_Types[p->hot_views[i].l.id]));
        Py_DECREF(hot);
    }
}

/* Dissects and fills the hot slots; -1 with an exception when that fails. */
static int packet_fill(FpPacket *p, uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                       int64_t ts_ns, int flags)
{
    p->dissect_flags = flags;
    p->ts_ns = ts_ns;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->linktype = linktype;
    p->interface_id = 0;
    p->has_ts = 1;
    p->opts_len = 0;
    p->opts_big_endian = 0;
    fp_dissect_ex(p->data, caplen, wirelen, linktype, flags, &p->d);
    return packet_hot_fill(p);
}

/* A packet owning a copy of `len` bytes: its data, then (pcapng) padding and options. */
static FpPacket *packet_copy(fp_state *st, PyTypeObject *tp, const uint8_t *data, uint32_t len,
                             uint32_t caplen, uint32_t wirelen, uint32_t linktype, int64_t ts_ns, int flags)
{
    FpPacket *p = packet_alloc(st, tp, len);
    if (p == NULL) return NULL;
    p->owner = NULL;
    p->owner_is_reader = 0;
    p->st = st;
    if (len) memcpy(p->inline_data, data, len);
    p->data = p->inline_data;
    if (packet_fill(p, caplen, wirelen, linktype, ts_ns, flags) < 0) Py_CLEAR(p);
    return p;
}

/* Built stacks and probe answers: their outermost headers are the ones asked for (Scapy's
 * pkt[IP] is the outer one), so tunnels are left as layers of their own. */
FpPacket *fp_packet_from_bytes(fp_state *st, const uint8_t *data, uint32_t caplen,
                               uint32_t wirelen, uint32_t linktype, int64_t ts_ns)
{
    return packet_copy(st, st->Packet_Type, data, caplen, caplen, wirelen, linktype, ts_ns,
                       FP_DISSECT_NO_TUNNELS);
}

static PyTypeObject *packet_type(const fp_state *st, int facade)
{
    return facade && st->Facade_Packet_Type ? st->Facade_Packet_Type : st->Packet_Type;
}

/* fastpkt.scapy's packets answer like Scapy's: pkt[IP] is the outermost IP header, a
 * declared FCS stays in the frame (Scapy's readers ignore if_fcslen), Scapy's bindings. */
static inline int facade_flags(int facade, int flags)
{
    return facade ? (flags | FP_DISSECT_NO_TUNNELS | FP_DISSECT_SCAPY) & ~FP_DISSECT_FCS_MASK : flags;
}

FpPacket *fp_packet_view(fp_state *st, PyObject *owner, int owner_is_reader, const uint8_t *data,
                         uint32_t caplen, uint32_t wirelen, uint32_t linktype, int64_t ts_ns,
                         int facade, int flags)
{
    FpPacket *p = packet_alloc(st, packet_type(st, facade), 0);
    if (p == NULL) return NULL;
    p->owner = Py_NewRef(owner);
    p->owner_is_reader = owner_is_reader;
    p->st = st;
    if (owner_is_reader) ((fp_reader_obj *)owner)->exports++;
    p->data = data;
    if (packet_fill(p, caplen, wirelen, linktype, ts_ns, facade_flags(facade, flags)) < 0) Py_CLEAR(p);
    return p;
}

/* A packet of a Reader's iteration viewing the record in place, in a block parked in the
 * Reader when there is one (its hot slots are refilled, not rebuilt). */
static FpPacket *packet_from_reader(fp_state *st, fp_reader_obj *r, const fp_record *rec, int flags)
{
    FpPacket *p;
    if (r->nparked > 0) {
        p = r->parked[--r->nparked];
        Py_SET_REFCNT(p, 1); /* PyObject_Init without its tracemalloc hook, as for the views */
    } else {
        p = packet_alloc(st, st->Packet_Type, 0);
        if (p == NULL) return NULL;
        p->st = st;
    }
    p->owner = Py_NewRef((PyObject *)r);
    p->owner_is_reader = FP_OWNER_READER_ITER;
    r->exports++;
    p->data = rec->data;
    p->dissect_flags = flags;
    p->ts_ns = rec->ts_ns;
    p->caplen = rec->caplen;
    p->wirelen = rec->wirelen;
    p->linktype = rec->linktype;
    p->interface_id = rec->interface_id;
    p->has_ts = rec->has_ts;
    p->opts_len = rec->opts_len;
    p->opts_big_endian = rec->opts_big_endian;
    fp_dissect_ex(p->data, rec->caplen, rec->wirelen, rec->linktype, flags, &p->d);
    if (packet_hot_fill_inline(p) < 0) Py_CLEAR(p);
    return p;
}

FpPacket *fp_packet_from_record(fp_state *st, const fp_record *rec, PyObject *reader, int facade, int flags)
{
    flags |= FP_DISSECT_FCS(rec->fcs_len);
    if (reader && !(facade && st->Facade_Packet_Type))
        return packet_from_reader(st, (fp_reader_obj *)reader, rec, flags);
    uint32_t len = rec->opts_len ? ((rec->caplen + 3u) & ~3u) + rec->opts_len : rec->caplen;
    FpPacket *p = reader ? fp_packet_view(st, reader, 1, rec->data, rec->caplen, rec->wirelen, rec->linktype,
                                          rec->ts_ns, facade, flags)
                         : packet_copy(st, packet_type(st, facade), rec->data, len, rec->caplen,
                                       rec->wirelen, rec->linktype, rec->ts_ns, facade_flags(facade, flags));
    if (p == NULL) return NULL;
    p->interface_id = rec->interface_id;
    p->has_ts = rec->has_ts;
    p->opts_len = rec->opts_len;
    p->opts_big_endian = rec->opts_big_endian;
    return p;
}

FpPacket *fp_packet_reassembled(fp_state *st, const fp_record *rec, const uint8_t *data, uint32_t len,
                                uint64_t anomalies, const uint64_t *frames, uint32_t nframes, int facade,
                                int flags)
{
    uint32_t wlen = rec->opts_len ? ((rec->caplen + 3u) & ~3u) + rec->opts_len : rec->caplen;
    fp_packet_wire *w = PyMem_Malloc(offsetof(fp_packet_wire, data) + wlen);
    if (w == NULL) return (FpPacket *)PyErr_NoMemory();
    memcpy(w->data, rec->data, wlen);
    w->caplen = rec->caplen;
    w->wirelen = rec->wirelen;
    w->fcs_len = rec->fcs_len;
    w->opts_len = rec->opts_len;
    w->opts_big_endian = rec->opts_big_endian;
    w->frames = PyTuple_New(nframes);
    for (uint32_t i = 0; w->frames && i < nframes; i++) {
        PyObject *n = PyLong_FromUnsignedLongLong(frames[i]);
        if (n == NULL) Py_CLEAR(w->frames);
        else PyTuple_SET_ITEM(w->frames, i, n);
    }
    FpPacket *p = w->frames ? packet_alloc(st, packet_type(st, facade), len) : NULL;
    if (p == NULL) {
        Py_XDECREF(w->frames);
        PyMem_Free(w);
        return NULL;
    }
    p->owner = NULL;
    p->owner_is_reader = 0;
    p->st = st;
    memcpy(p->inline_data, data, len);
    p->data = p->inline_data;
    p->ts_ns = rec->ts_ns;
    p->caplen = p->wirelen = len;
    p->linktype = rec->linktype;
    p->interface_id = rec->interface_id;
    p->has_ts = rec->has_ts;
    p->opts_len = 0;
    p->opts_big_endian = 0;
    p->wire = w;
    p->dissect_flags = facade_flags(facade, flags);
    fp_dissect_datagram(p->data, len, rec->linktype, p->dissect_flags, &p->d);
    p->d.anomalies |= anomalies;
    if (packet_hot_fill(p) < 0) Py_CLEAR(p);
    return p;
}

/* The hot slots' references: views, their fields and classes, None, wirelen, the flat values. */
static void packet_hot_release(FpPacket *p)
{
    packet_flat_release(p);
    for (int i = 0; i < FP_HOT_FLAT; i++) {
        FpHotLayer *h = i < FP_HOT_VIEWS ? &p->hot_views[i] : NULL;
        if (h != NULL && p->hot[i] == (PyObject *)h) hot_view_release(h);
        else Py_XDECREF(p->hot[i]); /* None, wirelen; NULL in a facade packet */
    }
}

/* The block of a packet nobody holds any more: the free list, or its allocator. */
static void packet_free_block(FpPacket *p, PyTypeObject *tp)
{
    fp_state *st = p->st;
    /* Packets viewing records in place are all one size: the next one reuses the block. */
    if (tp == st->Packet_Type && Py_SIZE(p) == 0 && st->packet_free_n < FP_PACKET_FREE)
        st->packet_free[st->packet_free_n++] = p;
    else
        tp->tp_free((PyObject *)p); /* PyObject_Free, or the GC's for a Python subclass */
    Py_DECREF(tp);
}

void fp_packet_parked_free(FpPacket *p)
{
    packet_hot_release(p);
    packet_free_block(p, Py_TYPE(p));
}

/* A packet of a Reader's iteration that nobody holds parks in that Reader (while it is open
 * and has room) with its hot slots as they are: the Reader's next packet takes the block and
 * swaps their contents, instead of this release and a new block's set-up. The block gives
 * up its reference to the Reader (no cycle: a Reader dropped mid-iteration is freed at once,
 * and frees the blocks parked in it). 1 when parked. */
static int packet_park(FpPacket *p)
{
    if (p->owner_is_reader != FP_OWNER_READER_ITER || p->edit != NULL) return 0;
    fp_reader_obj *r = (fp_reader_obj *)p->owner;
    if (r->closed || r->nparked >= FP_READER_PARKED) return 0;
    r->parked[r->nparked++] = p;
    p->owner = NULL;
    r->exports--; /* open: never the last export that releases the source */
    Py_DECREF(r); /* may free the Reader, and this block with it */
    return 1;
}

/* A packet's references and block, once nothing holds it and it did not park. Out of line:
 * the loop's packets park, and packet_dealloc without this saves no registers. */
static __attribute__((noinline)) void packet_release(FpPacket *p, PyTypeObject *tp)
{
    packet_hot_release(p);
    if (p->owner) {
        if (p->owner_is_reader) fp_reader_unexport((fp_reader_obj *)p->owner);
        Py_DECREF(p->owner);
    }
    Py_XDECREF(p->edit);
    if (p->wire) {
        Py_DECREF(p->wire->frames);
        PyMem_Free(p->wire);
    }
    packet_free_block(p, tp);
}

static void packet_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    FpPacket *p = (FpPacket *)self;
    /* A hot view referenced from outside keeps the block (it reads the packet's bytes and
     * dissection): it takes a reference to the packet in place of the slot's to it, and
     * gives it back when the last outside reference goes (fp_layer_dealloc). */
    Py_ssize_t held = 0;
    /* An absent slot's view has refcount 0 (packet_alloc, hot_view_release), a present one 1
     * while only its slot holds it: one test per slot, no presence bits to read. */
#pragma GCC unroll 4 /* each slot's test at a fixed offset */
    for (int i = 0; i < FP_HOT_VIEWS; i++) {
        FpHotLayer *v = &p->hot_views[i];
        if (Py_REFCNT(v) <= 1) continue;
        Py_SET_REFCNT(v, Py_REFCNT(v) - 1);
        v->l.embedded = FP_VIEW_HOT_OUT;
        held++;
    }
    if (held) {
        Py_SET_REFCNT(self, held); /* alive again, referenced by those views alone */
        return;
    }
    if (packet_park(p)) return;
    packet_release(p, tp);
}

static PyObject *packet_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "linktype", "time", "wirelen", "decapsulate", NULL};
    Py_buffer buf;
    unsigned int linktype = FP_LINKTYPE_ETHERNET;
    PyObject *time = Py_None, *wirelen_obj = Py_None;
    int decapsulate = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|IOO$p:Packet", kwlist, &buf, &linktype, &time,
                                     &wirelen_obj, &decapsulate))
        return NULL;
    fp_state *st = fp_state_from_type(tp);
    PyObject *res = NULL;
    int64_t ts_ns = 0;
    unsigned long wirelen = (unsigned long)buf.len;
    if (st == NULL) goto done;
    if (buf.len > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "packet too large (over 2 GiB)");
        goto done;
    }
    if (time != Py_None) {
        double t = PyFloat_AsDouble(time);
        if (t == -1.0 && PyErr_Occurred()) goto done;
        if (t != t) {
            PyErr_SetString(PyExc_ValueError, "time is NaN");
            goto done;
        }
        ts_ns = fp_seconds_to_ns(t); /* before 1677 or after 2262: the nearest 64-bit time */
    }
    if (wirelen_obj != Py_None) {
        wirelen = PyLong_AsUnsignedLong(wirelen_obj);
        if (PyErr_Occurred()) goto done;
        if (wirelen < (unsigned long)buf.len || wirelen > 0xffffffffUL) {
            PyErr_Format(PyExc_ValueError, "wirelen %lu is smaller than the %zd bytes given",
                         wirelen, buf.len);
            goto done;
        }
    }
    /* tp: fastpkt.scapy's subclass too (its sr() answers), which leaves tunnels as Scapy does */
    res = (PyObject *)packet_copy(st, tp, buf.buf, (uint32_t)buf.len, (uint32_t)buf.len,
                                  (uint32_t)wirelen, linktype, ts_ns,
                                  tp == st->Facade_Packet_Type ? facade_flags(1, 0)
                                  : tp == st->Packet_Type && decapsulate ? 0 : FP_DISSECT_NO_TUNNELS);
done:
    PyBuffer_Release(&buf);
    return res;
}

#define PKT(o) ((FpPacket *)(o))

static PyObject *get_time(PyObject *self, void *c)
{
    (void)c;
    if (!PKT(self)->has_ts) Py_RETURN_NONE;
    return PyFloat_FromDouble((double)PKT(self)->ts_ns / 1e9);
}
static PyObject *get_time_ns(PyObject *self, void *c)
{
    (void)c;
    if (!PKT(self)->has_ts) Py_RETURN_NONE;
    return PyLong_FromLongLong(PKT(self)->ts_ns);
}
/* The first opt_comment among the packet's pcapng options (walked with bounds checks). */
static PyObject *get_comment(PyObject *self, void *c)
{
    (void)c;
    const FpPacket *p = PKT(self);
    const uint8_t *q = fp_packet_opts(p);
    uint32_t left = p->opts_len;
    int be = p->opts_big_endian;
    while (left >= 4) {
        uint16_t code = be ? (uint16_t)(q[0] << 8 | q[1]) : (uint16_t)(q[1] << 8 | q[0]);
        uint16_t len = be ? (uint16_t)(q[2] << 8 | q[3]) : (uint16_t)(q[3] << 8 | q[2]);
        uint32_t padded = ((uint32_t)len + 3u) & ~3u;
        if (code == 0 || padded > left - 4) break;
        if (code == 1) return PyUnicode_DecodeUTF8((const char *)q + 4, len, "replace");
        q += 4 + padded;
        left -= 4 + padded;
    }
    Py_RETURN_NONE;
}
/* The frame's lengths, as captured (tshark's frame.len and frame.cap_len), also for a
 * reassembled datagram's packet. */
static PyObject *get_wirelen(PyObject *self, void *c)
{
    (void)c;
    return fp_hot_uint(PKT(self)->st, PKT(self)->wire ? PKT(self)->wire->wirelen : PKT(self)->wirelen);
}
static PyObject *get_caplen(PyObject *self, void *c)
{
    (void)c;
    return fp_hot_uint(PKT(self)->st, PKT(self)->wire ? PKT(self)->wire->caplen : PKT(self)->caplen);
}
static PyObject *get_linktype(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(PKT(self)->linktype);
}
static PyObject *get_interface(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(PKT(self)->interface_id);
}
static PyObject *get_raw(PyObject *self, void *c)
{
    (void)c;
    return PyBytes_FromStringAndSize((const char *)PKT(self)->data, PKT(self)->caplen);
}

static PyObject *layer_or_none(PyObject *self, fp_layer_id id)
{
    FpPacket *p = PKT(self);
    if (!FP_HAS(&p->d, id)) Py_RETURN_NONE;
    return fp_layer_present(p->st, p, id);
}

/* One getter per layer; the closure carries the layer id. */
static PyObject *get_layer(PyObject *self, void *closure)
{
    return layer_or_none(self, (fp_layer_id)(intptr_t)closure);
}

static PyObject *get_sll(PyObject *self, void *c)
{
    (void)c;
    if (FP_HAS(&PKT(self)->d, FP_L_SLL2)) return layer_or_none(self, FP_L_SLL2);
    return layer_or_none(self, FP_L_SLL);
}

static PyObject *get_vlans(PyObject *self, void *c)
{
    (void)c;
    FpPacket *p = PKT(self);
    int n = FP_HAS(&p->d, FP_L_VLAN) ? p->d.vlan_count : 0;
    PyObject *list = PyList_New(n);
    if (list == NULL || n == 0) return list;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    for (int i = 0; i < n; i++) {
        PyObject *l = st ? fp_layer_new(st, p, FP_L_VLAN, i) : NULL;
        if (l == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, l);
    }
    return list;
}

/* pkt.src/dst/proto: the innermost IP header there is (fp_innermost_ip: the one around a
 * tunnel carrying no IP packet), as the table row has it. */
static PyObject *get_src_dst(PyObject *self, void *closure)
{
    FpPacket *p = PKT(self);
    int dst = closure != NULL;
    uint8_t proto;
    int id = fp_innermost_ip(&p->d, &proto);
    if (id == FP_L_IP4) return fp_hot_addr_str(p->st, p->data + p->d.layer[FP_L_IP4].off + 12 + 4 * dst, 4);
    if (id == FP_L_IP6) return fp_hot_addr_str(p->st, p->data + p->d.layer[FP_L_IP6].off + 8 + 16 * dst, 16);
    Py_RETURN_NONE;
}

/* pkt.sport/dport: TCP's or UDP's, else those of the UDP header around a tunnel carrying no
 * IP packet (fp_tunnel_udp_ports), as the table row has them. 1 with the pair, else 0. */
static int packet_ports(const FpPacket *p, uint16_t *sport, uint16_t *dport)
{
    if (FP_HAS(&p->d, FP_L_TCP) || FP_HAS(&p->d, FP_L_UDP)) {
        *sport = p->d.sport;
        *dport = p->d.dport;
        return 1;
    }
    return fp_tunnel_udp_ports(p->data, &p->d, sport, dport);
}

static PyObject *get_sport(PyObject *self, void *c)
{
    (void)c;
    uint16_t sport, dport;
    if (!packet_ports(PKT(self), &sport, &dport)) Py_RETURN_NONE;
    return fp_hot_uint(PKT(self)->st, sport);
}
static PyObject *get_dport(PyObject *self, void *c)
{
    (void)c;
    uint16_t sport, dport;
    if (!packet_ports(PKT(self), &sport, &dport)) Py_RETURN_NONE;
    return fp_hot_uint(PKT(self)->st, dport);
}
static PyObject *get_proto(PyObject *self, void *c)
{
    (void)c;
    const fp_dissection *d = &PKT(self)->d;
    if (d->ip_version != 0) return PyLong_FromLong(d->ip_proto);
    uint8_t proto;
    if (fp_innermost_ip(d, &proto) == FP_L_COUNT) Py_RETURN_NONE;
    return PyLong_FromLong(proto);
}
/* The flat form's slots (pkt.src, dst, proto, sport, dport) from the getters above, each
 * owning its value. 0, or -1 with an exception. */
static int packet_flat_fill(FpPacket *p)
{
    static const getter get[] = {get_src_dst, get_src_dst, get_proto, get_sport, get_dport};
    for (int k = 0; k < FP_HOT_COUNT - FP_HOT_FLAT; k++) {
        PyObject *v = get[k]((PyObject *)p, k == 1 ? (void *)1 : NULL);
        if (v == NULL) return -1;
        p->hot[FP_HOT_FLAT + k] = v;
        p->flat_owned |= 1u << k;
    }
    return 0;
}

static PyObject *get_payload(PyObject *self, void *c)
{
    (void)c;
    FpPacket *p = PKT(self);
    uint32_t off = p->d.payload_off, len = p->d.payload_len;
    if (off > p->caplen || len > p->caplen - off) return PyBytes_FromStringAndSize("", 0);
    return PyBytes_FromStringAndSize((const char *)p->data + off, len);
}

static PyObject *anomaly_tuple(fp_state *st, uint64_t bits)
{
    PyObject *t = PyTuple_New(__builtin_popcountll(bits));
    if (t == NULL) return NULL;
    for (int i = 0, k = 0; i < FP_ANOM_COUNT_BITS; i++)
        if ((bits >> i) & 1) PyTuple_SET_ITEM(t, k++, Py_NewRef(st->anomaly_names[i]));
    return t;
}

static PyObject *get_anomalies(PyObject *self, void *c)
{
    (void)c;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    return st ? anomaly_tuple(st, PKT(self)->d.anomalies) : NULL;
}

static int append_name(PyObject *list, const char *name)
{
    PyObject *s = PyUnicode_FromString(name);
    int rc = s == NULL ? -1 : PyList_Append(list, s);
    Py_XDECREF(s);
    return rc;
}

/* The names of the layers in `bits`; VLAN tags [*vlan, vlan_end) as one name each. */
static int append_layers(PyObject *list, uint32_t bits, int *vlan, int vlan_end)
{
    for (int i = 0; i < FP_L_COUNT; i++) {
        if (!((bits >> i) & 1u)) continue;
        if (i != FP_L_VLAN) {
            if (append_name(list, fp_layer_names[i]) < 0) return -1;
            continue;
        }
        for (; *vlan < vlan_end; (*vlan)++)
            if (append_name(list, fp_layer_names[i]) < 0) return -1;
    }
    return 0;
}

#define LINK_LAYER_BITS ((1u << FP_L_ETH) | (1u << FP_L_SLL) | (1u << FP_L_SLL2) | (1u << FP_L_LOOP) | (1u << FP_L_VLAN) | \
                         (1u << FP_L_RADIOTAP) | (1u << FP_L_WLAN))

/* The control or authentication protocol the PPP frame at off..end carries, NULL for another
 * (nothing follows those: tshark's frame.protocols ends ppp:lcp, ppp:chap...). */
static const char *ppp_control_at(const FpPacket *p, uint32_t off, uint32_t end)
{
    uint32_t width, at = fp_ppp_proto_at(p->data, off, end, &width);
    return width == 0 ? NULL : fp_ppp_control_name(width == 1 ? p->data[at] : fp_load_be16(p->data + at));
}

/* "PPP" for the PPP frame at off..end, then its control protocol. */
static int append_ppp(PyObject *list, const FpPacket *p, uint32_t off, uint32_t end)
{
    const char *cp = ppp_control_at(p, off, end);
    return append_name(list, "PPP") < 0 || (cp && append_name(list, cp) < 0) ? -1 : 0;
}

#define TUNNEL_NAMES_MAX (1 + FP_MAX_TUNNELS)

/* A tunnel record's names (at most TUNNEL_NAMES_MAX into names[]; their count): its own, then
 * the PPP frame of a PPPoE session and of PPTP's GRE when it carries one, Cisco MetaData,
 * Frame Relay or each NSH header in GRE (as tshark's frame.protocols). */
static int tunnel_names(const FpPacket *p, const fp_tunnel *t, const char *names[TUNNEL_NAMES_MAX])
{
    int n = 0;
    names[n++] = fp_tunnel_names[t->type];
    const uint8_t *h = p->data + t->off;
    if (t->type == FP_TUN_GRE && ((h[2] == 0x65 && h[3] == 0x59) || (h[2] == 0x89 && h[3] == 0x4f))) {
        /* fp_gre_carrier's headers, after the checksum, key and sequence words (no routing) */
        uint32_t at = 4u + 4u * (((h[0] & 0x80) != 0) + ((h[0] & 0x20) != 0) + ((h[0] & 0x10) != 0));
        if (h[2] == 0x65) {
            names[n++] = "FR";
            return n;
        }
        for (; at + 8 <= t->hlen && n < TUNNEL_NAMES_MAX; at += (h[at + 1] & 0x3fu) < 2 ? 8u : 4u * (h[at + 1] & 0x3fu))
            names[n++] = "NSH";
        return n;
    }
    if (t->type == FP_TUN_PPPOE) { /* its protocol word, never compressed (RFC 2516) */
        names[n++] = "PPP";
        names[n] = fp_ppp_control_name(fp_load_be16(h + 6));
    } else if (t->type == FP_TUN_PPTP) { /* its PPP frame follows the GRE header, when it carries one */
        uint32_t gre = 8u + ((h[0] & 0x10) ? 4u : 0u) + ((h[1] & 0x80) ? 4u : 0u);
        if (t->hlen <= gre) return n;
        names[n++] = "PPP";
        names[n] = ppp_control_at(p, t->off + gre, t->off + t->hlen);
    } else if (t->type == FP_TUN_GRE && h[2] == 0x89 && h[3] == 0x09) {
        names[n] = "CMD";
    } else {
        return n;
    }
    return names[n] ? n + 1 : n;
}

static int append_tunnel(PyObject *list, const FpPacket *p, const fp_tunnel *t)
{
    const char *names[TUNNEL_NAMES_MAX];
    int n = tunnel_names(p, t, names);
    for (int i = 0; i < n; i++)
        if (append_name(list, names[i]) < 0) return -1;
    return 0;
}

/* Outer to inner: each tunnel's outer packet, the tunnel, then the innermost packet. The
 * link layer is kept across an encapsulation that carries no frame of its own: listed once.
 * The record's own PPP frame (PPP link types) and Cisco MetaData after an Ethernet header
 * come after the link layers of their part; a GRE header left undecoded ends the list. */
static PyObject *get_layers(PyObject *self, void *c)
{
    (void)c;
    const FpPacket *p = PKT(self);
    const fp_dissection *d = &p->d;
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    int vlan = 0;
    uint32_t skip = 0;
    for (int k = 0; k <= d->tunnel_count; k++) {
        uint32_t bits = (k < d->tunnel_count ? d->tunnel[k].outer_present : d->present) & ~skip;
        int cmd = d->cmd_off != 0 && (k == 0 || d->cmd_off > d->tunnel[k - 1].off) &&
                  (k == d->tunnel_count || d->cmd_off < d->tunnel[k].off);
        if (append_layers(list, bits & LINK_LAYER_BITS, &vlan, d->vlan_count) < 0 ||
            (k == 0 && d->link_ppp && append_ppp(list, p, d->link_ppp - 1u, p->caplen) < 0) || (cmd && append_name(list, "CMD") < 0) ||
            append_layers(list, bits & ~LINK_LAYER_BITS, &vlan, d->vlan_count) < 0 ||
            (k < d->tunnel_count && append_tunnel(list, p, &d->tunnel[k]) < 0) ||
            (k == d->tunnel_count && d->gre_off && append_name(list, "GRE") < 0) ||
            (k == d->tunnel_count && fp_gre_cmd_off(p->data, p->caplen, d) && append_name(list, "CMD") < 0)) {
            Py_DECREF(list);
            return NULL;
        }
        /* an inner frame brings its own Ethernet and tags; the capture's other link headers stay */
        if (k < d->tunnel_count)
            skip = d->tunnel[k].inner_link ? LINK_LAYER_BITS & ~((1u << FP_L_ETH) | (1u << FP_L_VLAN)) : LINK_LAYER_BITS;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

/* ((name, id or None), ...) outer to inner. */
static PyObject *get_tunnels(PyObject *self, void *c)
{
    (void)c;
    const fp_dissection *d = &PKT(self)->d;
    PyObject *t = PyTuple_New(d->tunnel_count);
    for (int k = 0; t && k < d->tunnel_count; k++) {
        const fp_tunnel *tu = &d->tunnel[k];
        PyObject *item = tu->has_id ? Py_BuildValue("(sk)", fp_tunnel_names[tu->type], (unsigned long)tu->id)
                                    : Py_BuildValue("(sO)", fp_tunnel_names[tu->type], Py_None);
        if (item == NULL) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, k, item);
    }
    return t;
}

static PyObject *get_outer_ip(PyObject *self, void *c)
{
    (void)c;
    FpPacket *p = PKT(self);
    if (p->d.outer_ip_id == FP_L_COUNT) Py_RETURN_NONE;
    return fp_layer_new(p->st, p, (fp_layer_id)p->d.outer_ip_id, 0xff);
}

/* Names a user may pass to haslayer()/in/[]: Scapy's, dpkt's and ours. */
static const struct {
    const char *name;
    int id;
} layer_aliases[] = {
    {"ether", FP_L_ETH},      {"ethernet", FP_L_ETH},   {"eth", FP_L_ETH},
    {"sll", FP_L_SLL},        {"cookedlinux", FP_L_SLL}, {"sll2", FP_L_SLL2},
    {"cookedlinuxv2", FP_L_SLL2}, {"loopback", FP_L_LOOP}, {"null", FP_L_LOOP},
    {"radiotap", FP_L_RADIOTAP}, {"dot11", FP_L_WLAN},   {"wlan", FP_L_WLAN},
    {"dot1q", FP_L_VLAN},     {"dot1ad", FP_L_VLAN},    {"vlan", FP_L_VLAN},
    {"arp", FP_L_ARP},        {"ip", FP_L_IP4},         {"ipv4", FP_L_IP4},
    {"ipv6", FP_L_IP6},       {"ip6", FP_L_IP6},        {"tcp", FP_L_TCP},
    {"udp", FP_L_UDP},        {"icmp", FP_L_ICMP},      {"icmpv6", FP_L_ICMP6},
    {"icmp6", FP_L_ICMP6},    {"dns", FP_L_DNS},        {"dnsqr", FP_L_DNS},
    {"dnsrr", FP_L_DNS},      {"http", FP_L_HTTP},      {"httprequest", FP_L_HTTP},
    {"httpresponse", FP_L_HTTP}, {"tls", FP_L_TLS},     {"ssl", FP_L_TLS},
};
#define FP_LAYER_RAW (-2)
#define FP_LAYER_UNKNOWN (-3)

/* Resolve a layer given as a string or a class (by __name__). -1 with an error set. */
static int resolve_layer(PyObject *spec)
{
    PyObject *name = NULL;
    if (PyUnicode_Check(spec)) {
        name = Py_NewRef(spec);
    } else if (PyType_Check(spec)) {
        name = PyObject_GetAttrString(spec, "__name__");
        if (name == NULL) return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "layer must be a name like 'TCP' or a layer class, not %.100s",
                     Py_TYPE(spec)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    int id = -1;
    if (s != NULL && n < 32) {
        char low[32];
        for (Py_ssize_t i = 0; i <= n; i++) low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
        if (strcmp(low, "raw") == 0 || strcmp(low, "payload") == 0) id = FP_LAYER_RAW;
        else if (strncmp(low, "icmpv6", 6) == 0) id = FP_L_ICMP6; /* ICMPv6EchoRequest, ... */
        for (size_t i = 0; id == -1 && i < sizeof layer_aliases / sizeof layer_aliases[0]; i++)
            if (strcmp(low, layer_aliases[i].name) == 0) id = layer_aliases[i].id;
    }
    /* A layer fastpkt does not decode is simply absent, as in Scapy. */
    if (s != NULL && id == -1) id = FP_LAYER_UNKNOWN;
    Py_DECREF(name);
    return id;
}

/* The hot view of layer `id` that a frame whose tunnels carry no IP holds for a header around
 * its tunnel (packet_hot_tunnel_no_ip: pkt.ip, pkt.udp), borrowed; NULL for any other packet
 * or layer. So pkt[IP] and `IP in pkt` answer as pkt.ip does. */
static PyObject *packet_hot_outside(const FpPacket *p, int id)
{
    if (!p->d.tunnel_count) return NULL;
    for (int i = 0; i < FP_HOT_VIEWS; i++)
        if (p->hot[i] == (PyObject *)&p->hot_views[i] && p->hot_views[i].l.id == id) return p->hot[i];
    return NULL;
}

/* A layer spec for this packet: type(pkt.ip) is one class for IPv4 and IPv6 (type(pkt.tcp)
 * for TCP and UDP, layer.c), which names the family the packet has. */
static int packet_resolve_layer(const FpPacket *p, PyObject *spec)
{
    static const fp_layer_id ids[FP_HOT_VIEWS] = {FP_L_IP4, FP_L_IP6, FP_L_TCP, FP_L_UDP};
    for (int i = 0; i < FP_HOT_VIEWS; i += 2)
        if (spec == (PyObject *)p->st->Hot_Types[i])
            return !FP_HAS(&p->d, ids[i]) && (FP_HAS(&p->d, ids[i + 1]) || packet_hot_outside(p, ids[i + 1]))
                       ? ids[i + 1]
                       : ids[i];
    return resolve_layer(spec);
}

static int packet_has(FpPacket *p, int id)
{
    if (id == FP_LAYER_UNKNOWN) return 0;
    if (id == FP_LAYER_RAW) return p->d.payload_len > 0;
    if (id == FP_L_SLL) return FP_HAS(&p->d, FP_L_SLL) || FP_HAS(&p->d, FP_L_SLL2);
    return FP_HAS(&p->d, id) || packet_hot_outside(p, id) != NULL;
}

/* fastpkt.scapy's packets: the layers both decode alike (by Scapy's exact class names) are
 * answered here; the others (Raw, Padding, DNS records, classes we do not have) by the
 * class's _scapy_contains/_scapy_getitem, with Scapy's rules. */
static int facade_direct_id(PyObject *spec)
{
    const char *s = NULL;
    if (PyType_Check(spec)) {
        s = strrchr(((PyTypeObject *)spec)->tp_name, '.');
        s = s ? s + 1 : ((PyTypeObject *)spec)->tp_name;
    } else if (PyUnicode_Check(spec)) {
        s = PyUnicode_AsUTF8(spec);
        if (s == NULL) PyErr_Clear(); /* not UTF-8: no layer of ours, the hook answers */
    }
    if (s == NULL) return -1;
    /* by first letter, then one or two compares: course scripts ask several times a packet */
    switch (s[0]) {
    case 'A': return strcmp(s, "ARP") == 0 ? FP_L_ARP : -1;
    case 'D': return strcmp(s, "DNS") == 0 ? FP_L_DNS : strcmp(s, "Dot1Q") == 0 ? FP_L_VLAN : -1;
    case 'E': return strcmp(s, "Ether") == 0 ? FP_L_ETH : -1;
    case 'I':
        return strcmp(s, "IP") == 0     ? FP_L_IP4
               : strcmp(s, "IPv6") == 0 ? FP_L_IP6
               : strcmp(s, "ICMP") == 0 ? FP_L_ICMP
                                        : -1;
    case 'T': return strcmp(s, "TCP") == 0 ? FP_L_TCP : -1;
    case 'U': return strcmp(s, "UDP") == 0 ? FP_L_UDP : -1;
    default: return -1;
    }
}

static int facade_is_raw(PyObject *spec)
{
    if (PyType_Check(spec)) return strcmp(((PyTypeObject *)spec)->tp_name, "Raw") == 0;
    return PyUnicode_Check(spec) && PyUnicode_CompareWithASCIIString(spec, "Raw") == 0;
}

static PyObject *facade_hook(PyObject *self, const char *hook, PyObject *spec)
{
    PyObject *fn = PyObject_GetAttrString((PyObject *)Py_TYPE(self), hook);
    if (fn == NULL) return NULL;
    PyObject *r = PyObject_CallFunctionObjArgs(fn, self, spec, NULL);
    Py_DECREF(fn);
    return r;
}

/* UDP ports Scapy binds a tunnel to: VXLAN (and GPE), GRE in UDP (4754) */
static int facade_udp_tunnel(const fp_dissection *d)
{
    uint16_t sp = d->sport, dp = d->dport;
    return dp == 4789 || dp == 4790 || dp == 6633 || dp == 8472 || dp == 48879 || sp == 4789 ||
           sp == 4790 || sp == 6633 || sp == 8472 || dp == 4754;
}

/* UDP ports Scapy binds an application layer to that the facade reads: NTP, BOOTP/DHCP */
static int facade_udp_app(const fp_dissection *d)
{
    uint16_t sp = d->sport, dp = d->dport;
    return sp == 123 || dp == 123 || ((sp == 67 || sp == 68) && (dp == 67 || dp == 68));
}

/* The PPP link types: Scapy's chain starts with its PPP, HDLC, PPPoE or DIR_PPP, which the
 * facade's chain holds (fastpkt/_scapy_layers.py), so every lookup is the hook's. */
static int facade_ppp_link(const FpPacket *p)
{
    return p->linktype == FP_LINKTYPE_PPP || p->linktype == FP_LINKTYPE_PPP_HDLC ||
           p->linktype == FP_LINKTYPE_PPP_ETHER || p->linktype == FP_LINKTYPE_PPP_WITH_DIR;
}

/* Scapy decodes on where the facade's packets (read without tunnels) stop: IP in IP, GRE
 * (also on UDP port 4754), VXLAN on its UDP ports, BOOTP/DHCP and NTP, LLC after an 802.3
 * length, EAPOL, PPPoE (after Ethernet or SLL/SLL2). Its lookups then also find those
 * layers, which the facade's chain (fastpkt/_scapy_layers.py) holds: the hook answers.
 * These are the cases decided by the link layer; facade_scapy_goes_on adds the others. */
static int facade_link_goes_on(const fp_dissection *d)
{
    if (FP_HAS(d, FP_L_ETH) && d->ethertype == 0) return 1; /* 802.3 length: LLC, SNAP, STP */
    if (FP_HAS(d, FP_L_ETH) && d->ethertype == 0x888E) return 1; /* EAPOL, EAP */
    /* PPPoE session (PPP, IP) and discovery, after Ethernet or a Linux cooked header */
    if ((FP_HAS(d, FP_L_ETH) || FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2)) &&
        (d->ethertype == 0x8864 || d->ethertype == 0x8863))
        return 1;
    /* a cooked header's 802.1Q tag cut short: Raw in Scapy's chain, no payload in ours */
    return (FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2)) && d->vlan_count == 0 && d->ethertype == 0 &&
           (d->anomalies & FP_ANOM_LINK_TRUNC);
}

static int facade_scapy_goes_on(const fp_dissection *d)
{
    if (facade_link_goes_on(d)) return 1;
    if (FP_HAS(d, FP_L_UDP)) return facade_udp_tunnel(d) || facade_udp_app(d);
    return (FP_HAS(d, FP_L_IP4) || FP_HAS(d, FP_L_IP6)) &&
           (d->ip_proto == 4 || d->ip_proto == 41 || d->ip_proto == 47);
}

/* Whether what Scapy decodes past the facade's packet can hold one of facade_direct's layers
 * (a tunnel's inner IP, PPPoE's, SNAP's): BOOTP/DHCP and NTP hold none, so `TCP in pkt` on
 * them is answered here, not by building their chain (a per-packet cost in course scripts). */
static int facade_scapy_nests(const fp_dissection *d)
{
    return facade_scapy_goes_on(d) &&
           (facade_link_goes_on(d) || !FP_HAS(d, FP_L_UDP) || facade_udp_tunnel(d));
}

/* An ND Redirect (ICMPv6 type 137): Scapy reads its Redirected Header option's packet as
 * IPv6 and what follows (UDP, TCP...), which `UDP in pkt` finds: the hook searches it. */
static int facade_nd_redirect(const FpPacket *p)
{
    const fp_span *s = &p->d.layer[FP_L_ICMP6];
    return FP_HAS(&p->d, FP_L_ICMP6) && s->off < p->caplen && p->data[s->off] == 137;
}

/* An 802.3 frame (length, not EtherType): Scapy's Dot3 and LLC, not Ether (the hook's chain). */
static int facade_dot3(const FpPacket *p)
{
    const fp_dissection *d = &p->d;
    return FP_HAS(d, FP_L_ETH) && d->vlan_count == 0 && d->ethertype == 0 &&
           d->layer[FP_L_ETH].hlen == 14 &&
           ((uint32_t)p->data[d->layer[FP_L_ETH].off + 12] << 8 | p->data[d->layer[FP_L_ETH].off + 13]) <= 1500;
}

/* An OPT record's type field is the bytes 00 29: a message past its header without them
 * holds none, and most DNS answers are ruled out by a memchr instead of a walk. */
static int dns_may_hold_opt(const uint8_t *msg, uint32_t len)
{
    if (len < 14) return 0; /* the header and a type field */
    for (const uint8_t *q = msg + 13, *end = msg + len; (q = memchr(q, 0x29, (size_t)(end - q))) != NULL; q++)
        if (q[-1] == 0) return 1;
    return 0;
}

/* A DNS message with an OPT record that holds options, in any section past the questions
 * (Scapy reads type 41 as DNSRROPT wherever it is): Scapy reads them as packets, where
 * bytes no option reads are a Raw (the hook reads them); no Raw can be elsewhere in a
 * decoded message, so others are answered here (a hook call costs ~33k instructions). */
static int facade_dns_options(const FpPacket *p)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_message(p->data, &p->d, &msg, &len) != 0 || !dns_may_hold_opt(msg, len) ||
        fp_dns_iter_init(&it, msg, len) != 0)
        return 0;
    while (fp_dns_iter_next(&it, &rec) == 1)
        if (rec.section != FP_DNS_QD && rec.type == 41 && rec.rdlength > 0) return 1;
    return 0;
}

/* Whether a section count of the DNS message at `msg` passes Scapy's 100 list items: the
 * hook's chain knows whether as many records are there, which fails Scapy's DNS (Raw). */
static int dns_count_over_list(const uint8_t *msg)
{
    for (uint32_t i = 4; i < 12; i += 2)
        if (fp_load_be16(msg + i) > 100) return 1;
    return 0;
}

/* DNS as Scapy reads it, where fastpkt decodes a message: 1 where Scapy reads Raw over TCP
 * (RFC 1035 4.2.2's length prefix under 14, or past the segment's data: its DNS.pre_dissect
 * refuses both; fastpkt decodes from 12, and a message continuing in later segments), 2
 * where a section count passes Scapy's 100 list items (TCP or UDP), or where UDP's ports are
 * neither 53 nor 5353 (so one is LLMNR's 5355: Scapy reads its LLMNRQuery/LLMNRResponse
 * there, or a layer its bindings try before) or the destination is GRE's 4754 (bound first),
 * else 0. */
static int facade_dns_read(const FpPacket *p)
{
    const fp_dissection *d = &p->d;
    if (!FP_HAS(d, FP_L_DNS)) return 0;
    if (!FP_HAS(d, FP_L_TCP) && ((d->sport != 53 && d->dport != 53 && d->sport != 5353 && d->dport != 5353) ||
                                 d->dport == 4754))
        return 2;
    if (!FP_HAS(d, FP_L_TCP)) return dns_count_over_list(p->data + d->layer[FP_L_DNS].off) ? 2 : 0;
    const fp_span *s = &d->layer[FP_L_TCP];
    uint32_t at = s->off + s->hlen; /* fastpkt decodes DNS over TCP from 14 bytes on */
    uint32_t msg_len = fp_load_be16(p->data + at);
    if (msg_len < 14 || msg_len > s->end - at) return 1;
    return dns_count_over_list(p->data + at + 2) ? 2 : 0;
}

/* A DNS message over UDP whose records do not end the datagram as fastpkt reads them (bytes
 * after them: Scapy's Raw; or a record fastpkt cannot read) or that passes 100 records in a
 * section: the hook reads it as Scapy does. */
static int facade_dns_udp_tail(const FpPacket *p)
{
    const uint8_t *msg;
    uint32_t len;
    if (FP_HAS(&p->d, FP_L_TCP) || fp_dns_message(p->data, &p->d, &msg, &len) != 0) return 0;
    return dns_count_over_list(msg) || fp_dns_records_end(msg, len) != len;
}

static int packet_contains(PyObject *self, PyObject *spec)
{
    if (Py_TYPE(self) == PKT(self)->st->Facade_Packet_Type) {
        const fp_dissection *d = &PKT(self)->d;
        int fid = facade_ppp_link(PKT(self)) ? -2 : facade_direct_id(spec);
        if (fid == FP_L_ETH && facade_dot3(PKT(self))) fid = -2; /* the hook answers */
        if (fid == FP_L_DNS) {
            int dns_read = facade_dns_read(PKT(self));
            if (dns_read == 1) return 0;
            if (dns_read == 2) fid = -2;
        }
        if (fid >= 0 && (FP_HAS(d, fid) || !(facade_scapy_nests(d) || facade_nd_redirect(PKT(self)))))
            return FP_HAS(d, fid);
        /* Raw: bytes no layer decodes; Scapy decodes DNS and leaves HTTP and TLS to Raw
         * (ICMP's timestamp and mask fields and error quotes, ICMPv6 echo data, IPv6
         * extension headers, tunnels, what follows a DNS message's records, a DNS message
         * Scapy reads otherwise: the hook) */
        if (fid == -1 && facade_is_raw(spec) && !FP_HAS(d, FP_L_ICMP) && !FP_HAS(d, FP_L_ICMP6) &&
            !(FP_HAS(d, FP_L_DNS) && (FP_HAS(d, FP_L_TCP) || facade_dns_read(PKT(self)) != 0)) &&
            d->ip6_ext_count == 0 && !(d->anomalies & FP_ANOM_IP6_EXT) && !facade_scapy_goes_on(d) &&
            !facade_dns_options(PKT(self)) && !facade_dns_udp_tail(PKT(self)))
            return FP_HAS(d, FP_L_DNS) ? 0 : FP_HAS(d, FP_L_HTTP) || FP_HAS(d, FP_L_TLS) || d->payload_len > 0;
        PyObject *r = facade_hook(self, "_scapy_contains", spec);
        int has = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        return has;
    }
    int id = packet_resolve_layer(PKT(self), spec);
    if (id == -1) return -1;
    return packet_has(PKT(self), id);
}

static PyObject *packet_haslayer(PyObject *self, PyObject *spec)
{
    int r = packet_contains(self, spec);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

/* The facade's `pkt[Raw]` (course scripts read `pkt[Raw].load` per packet) on a TCP or UDP
 * packet whose chain Scapy ends as fastpkt's views do (the conditions of `Raw in pkt` above,
 * no DNS): its Raw made here over the bytes after the transport header, as _scapy_getitem
 * makes it. NULL without an error where that hook answers (other packets, no payload). */
static PyObject *facade_raw(PyObject *self, const FpPacket *p)
{
    const fp_dissection *d = &p->d;
    const fp_state *st = p->st;
    int id = FP_HAS(d, FP_L_TCP) ? FP_L_TCP : FP_HAS(d, FP_L_UDP) ? FP_L_UDP : -1;
    if (id < 0 || st->Facade_Raw_Type == NULL || FP_HAS(d, FP_L_DNS) || FP_HAS(d, FP_L_ICMP) ||
        FP_HAS(d, FP_L_ICMP6) || d->ip6_ext_count != 0 || (d->anomalies & FP_ANOM_IP6_EXT) ||
        facade_scapy_goes_on(d))
        return NULL;
    const fp_span *s = &d->layer[id];
    uint32_t at = s->off + s->hlen;
    if (at >= s->end || s->end > p->caplen) return NULL;
    PyObject *load = PyBytes_FromStringAndSize((const char *)p->data + at, s->end - at);
    if (load == NULL) return NULL;
    PyObject *v[4] = {load, Py_NewRef(Py_None), PyLong_FromLong(0), Py_NewRef(self)};
    return fp_facade_slots_new(st->Facade_Raw_Type, st->facade_raw_off, v, 4);
}

static PyObject *packet_getitem(PyObject *self, PyObject *spec)
{
    FpPacket *p = PKT(self);
    if (Py_TYPE(self) == p->st->Facade_Packet_Type) {
        int fid = facade_ppp_link(p) ? -2 : facade_direct_id(spec);
        if (fid >= 0 && FP_HAS(&p->d, fid) && !(fid == FP_L_ETH && facade_dot3(p)) &&
            !(fid == FP_L_DNS && facade_dns_read(p)))
            return fp_layer_new(p->st, p, (fp_layer_id)fid, 0);
        if (fid == -1 && facade_is_raw(spec)) {
            PyObject *raw = facade_raw(self, p);
            if (raw != NULL || PyErr_Occurred()) return raw;
        }
        return facade_hook(self, "_scapy_getitem", spec); /* IndexError when absent, as Scapy */
    }
    int id = packet_resolve_layer(p, spec);
    if (id == -1) return NULL;
    if (!packet_has(p, id)) {
        PyErr_Format(PyExc_KeyError, "layer %R not found in this packet", spec);
        return NULL;
    }
    if (id == FP_LAYER_RAW) {
        /* Scapy's Raw layer: the payload as a bytes subclass with .load. */
        PyObject *payload = get_payload(self, NULL);
        if (payload == NULL) return NULL;
        PyObject *raw = PyObject_CallOneArg((PyObject *)p->st->Raw_Type, payload);
        Py_DECREF(payload);
        return raw;
    }
    if (id == FP_L_SLL) return get_sll(self, NULL);
    if (!FP_HAS(&p->d, id)) return Py_NewRef(packet_hot_outside(p, id)); /* packet_has found it */
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    return st ? fp_layer_new(st, p, (fp_layer_id)id, 0) : NULL;
}

/* The captured bytes, or once a layer was edited (del pkt[IP].chksum), the rebuilt ones. */
static PyObject *packet_bytes(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpPacket *p = PKT(self);
    if (p->edit) return fp_build_bytes(p->st, LAYER(p->edit));
    return get_raw(self, NULL);
}

static PyObject *packet_edit_copy(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpPacket *p = PKT(self);
    if (p->edit) return fp_build_copy(p->st, LAYER(p->edit));
    return fp_build_packet_stack(p->st, p);
}

static Py_ssize_t packet_len(PyObject *self) { return PKT(self)->wirelen; }

/* Scapy-like one-line summary: "Ether / IP / TCP 10.0.0.1:443 > 10.0.0.2:51515 SA". */
static PyObject *packet_summary(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpPacket *p = PKT(self);
    const fp_dissection *d = &p->d;
    char buf[768];
    size_t n = 0;
#define APPEND(...)                                                                   \
    do {                                                                              \
        int w_ = snprintf(buf + n, sizeof buf - n, __VA_ARGS__);                      \
        if (w_ > 0) n = (size_t)w_ < sizeof buf - n ? n + (size_t)w_ : sizeof buf - 1; \
    } while (0)
    int first = 1;
    /* A tunnel that carries no packet (PPTP or a PPPoE session with a PPP control protocol, an
     * acknowledgement alone, MPLS over data): the packet around it, the tunnel and what it
     * carries, as pkt.layers ends, and the outermost packet's addresses when it is the only one. */
    const fp_tunnel *tun = d->tunnel_count && !d->tunnel[d->tunnel_count - 1].inner_link && !FP_HAS(d, FP_L_IP4) &&
                                   !FP_HAS(d, FP_L_IP6) && !FP_HAS(d, FP_L_ARP)
                               ? &d->tunnel[d->tunnel_count - 1]
                               : NULL;
    uint32_t bits = tun ? tun->outer_present : d->present;
    for (int i = 0; i < FP_L_COUNT; i++) {
        if (!((bits >> i) & 1u) || i == FP_L_DNS || i == FP_L_HTTP || i == FP_L_TLS) continue;
        APPEND("%s%s", first ? "" : " / ", fp_layer_names[i]);
        first = 0;
    }
    int named = 0; /* the tunnel's last name is the protocol its payload holds */
    if (tun) {
        const char *names[TUNNEL_NAMES_MAX];
        int k = tunnel_names(p, tun, names);
        for (int i = 0; i < k; i++) APPEND("%s%s", first && i == 0 ? "" : " / ", names[i]);
        first = 0;
        /* Frame Relay and NSH name their headers, not the payload (an IPv4 one whose version lies) */
        named = k > 1 && strcmp(names[k - 1], "PPP") != 0 && strcmp(names[k - 1], "FR") != 0 &&
                strcmp(names[k - 1], "NSH") != 0;
        if (d->tunnel_count == 1 && d->outer_ip_id != FP_L_COUNT) {
            const uint8_t *ip = p->data + d->outer_ip.off;
            char a[FP_IP6_TEXT_MAX + 1], z[FP_IP6_TEXT_MAX + 1];
            int v6 = d->outer_ip_id == FP_L_IP6;
            a[v6 ? fp_ip6_text(ip + 8, a) : fp_ip4_text(ip + 12, a)] = 0;
            z[v6 ? fp_ip6_text(ip + 24, z) : fp_ip4_text(ip + 16, z)] = 0;
            APPEND(" %s > %s", a, z);
        }
    }
    PyObject *src = get_src_dst(self, NULL), *dst = get_src_dst(self, (void *)1);
    if (src == NULL || dst == NULL) {
        Py_XDECREF(src);
        Py_XDECREF(dst);
        return NULL;
    }
    const char *s = src == Py_None ? "?" : PyUnicode_AsUTF8(src);
    const char *t = dst == Py_None ? "?" : PyUnicode_AsUTF8(dst);
    if (FP_HAS(d, FP_L_TCP)) {
        static const char letters[] = "FSRPAUECN";
        const uint8_t *h = p->data + d->layer[FP_L_TCP].off;
        unsigned fl = (unsigned)(((h[12] & 1) << 8) | h[13]);
        char f[10];
        int k = 0;
        for (int b = 0; b < 9; b++)
            if (fl & (1u << b)) f[k++] = letters[b];
        f[k] = 0;
        APPEND(" %s:%u > %s:%u %s", s, d->sport, t, d->dport, f);
    } else if (FP_HAS(d, FP_L_UDP)) {
        APPEND(" %s:%u > %s:%u", s, d->sport, t, d->dport);
    } else if (FP_HAS(d, FP_L_ICMP) || FP_HAS(d, FP_L_ICMP6)) {
        const uint8_t *h = p->data + d->layer[FP_HAS(d, FP_L_ICMP) ? FP_L_ICMP : FP_L_ICMP6].off;
        APPEND(" %s > %s type=%u code=%u", s, t, h[0], h[1]);
    } else if (FP_HAS(d, FP_L_ARP) && d->layer[FP_L_ARP].end - d->layer[FP_L_ARP].off >= 28) {
        const uint8_t *a = p->data + d->layer[FP_L_ARP].off;
        unsigned op = fp_load_be16(a + 6);
        if (op == 1)
            APPEND(" who has %u.%u.%u.%u says %u.%u.%u.%u", a[24], a[25], a[26], a[27], a[14], a[15],
                   a[16], a[17]);
        else
            APPEND(" %u.%u.%u.%u is at %02x:%02x:%02x:%02x:%02x:%02x", a[14], a[15], a[16], a[17],
                   a[8], a[9], a[10], a[11], a[12], a[13]);
    } else if (d->ip_version) {
        APPEND(" %s > %s proto=%u", s, t, d->ip_proto);
    }
    Py_DECREF(src);
    Py_DECREF(dst);
    if (FP_HAS(d, FP_L_DNS)) {
        const uint8_t *msg;
        uint32_t len;
        fp_dns_iter it;
        fp_dns_record rec;
        if (fp_dns_message(p->data, d, &msg, &len) == 0 && fp_dns_iter_init(&it, msg, len) == 0) {
            int qr = it.hdr.flags >> 15;
            if (fp_dns_iter_next(&it, &rec) == 1 && rec.section == FP_DNS_QD)
                APPEND(" / DNS %s \"%s\"", qr ? "Ans" : "Qry", rec.name);
            else
                APPEND(" / DNS %s", qr ? "Ans" : "Qry");
        }
    }
    if (FP_HAS(d, FP_L_HTTP)) {
        fp_http_message m;
        if (fp_http_parse(p->data, d, &m) == 0) {
            const fp_http_start_line *sl = &m.start;
            if (!sl->is_response)
                APPEND(" / HTTP %.*s %.*s", (int)sl->method.len, (const char *)p->data + sl->method.off,
                       (int)(sl->target.len > 200 ? 200 : sl->target.len), (const char *)p->data + sl->target.off);
            else
                APPEND(" / HTTP %d", sl->status);
        }
    }
    if (FP_HAS(d, FP_L_TLS)) {
        fp_tls_info ti;
        if (fp_tls_parse(p->data, d, &ti) == 0 && ti.sni.len)
            APPEND(" / TLS ClientHello sni=%.*s", (int)ti.sni.len, (const char *)p->data + ti.sni.off);
        else
            APPEND(" / TLS");
    } else if (p->d.payload_len && !FP_HAS(d, FP_L_DNS) && !FP_HAS(d, FP_L_HTTP) && !named) {
        APPEND(" / Raw");
    }
    if (first && n == 0) APPEND("Raw linktype=%u len=%u", p->linktype, p->caplen);
#undef APPEND
    return PyUnicode_DecodeLatin1(buf, (Py_ssize_t)n, "replace");
}

static PyObject *packet_repr(PyObject *self)
{
    PyObject *s = packet_summary(self, NULL);
    if (s == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<Packet %U len=%u>", s, PKT(self)->wirelen);
    Py_DECREF(s);
    return r;
}

/* show(): every layer's fields, Scapy's "###[ IP ]###" layout. */
static PyObject *packet_show(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"dump", NULL};
    int dump = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:show", kwlist, &dump)) return NULL;
    FpPacket *p = PKT(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    for (int i = 0; i < FP_L_COUNT; i++) {
        if (!FP_HAS(&p->d, i) || st->Layer_Types[i] == NULL) continue;
        int reps = i == FP_L_VLAN ? p->d.vlan_count : 1;
        for (int r = 0; r < reps; r++) {
            PyObject *layer = fp_layer_new(st, p, (fp_layer_id)i, r);
            PyObject *fd = layer ? PyObject_CallMethod(layer, "fields_dict", NULL) : NULL;
            Py_XDECREF(layer);
            if (fd == NULL) goto fail;
            PyObject *hdr = PyUnicode_FromFormat("###[ %s ]###", fp_layer_names[i]);
            if (fp_list_append_new(parts, hdr) < 0) {
                Py_DECREF(fd);
                goto fail;
            }
            PyObject *k, *v;
            Py_ssize_t pos = 0;
            while (PyDict_Next(fd, &pos, &k, &v)) {
                Py_ssize_t klen = PyUnicode_GetLength(k);
                const char *pad = "          " + (klen < 10 ? klen : 10);
                PyObject *line = PyUnicode_FromFormat("  %U%s= %R", k, pad, v);
                if (fp_list_append_new(parts, line) < 0) {
                    Py_DECREF(fd);
                    goto fail;
                }
            }
            Py_DECREF(fd);
        }
    }
    if (p->d.payload_len) {
        PyObject *pl = get_payload(self, NULL);
        PyObject *line = pl ? PyUnicode_FromFormat("###[ Raw ]###\n  load      = %R", pl) : NULL;
        Py_XDECREF(pl);
        if (fp_list_append_new(parts, line) < 0) goto fail;
    }
    if (p->d.anomalies) {
        PyObject *an = anomaly_tuple(st, p->d.anomalies);
        PyObject *line = an ? PyUnicode_FromFormat("###[ anomalies ]###\n  %R", an) : NULL;
        Py_XDECREF(an);
        if (fp_list_append_new(parts, line) < 0) goto fail;
    }
    return fp_print_or_return(fp_join_str(parts, "\n"), dump);
fail:
    Py_DECREF(parts);
    return NULL;
}

static PyObject *packet_verify_checksums(PyObject *self, PyObject *unused)
{
    (void)unused;
    FpPacket *p = PKT(self);
    const fp_dissection *d = &p->d;
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    static const struct {
        int id;
        const char *key;
    } l4[] = {{FP_L_TCP, "tcp"}, {FP_L_UDP, "udp"}, {FP_L_ICMP, "icmp"}, {FP_L_ICMP6, "icmp6"}};
    if (FP_HAS(d, FP_L_IP4)) {
        PyObject *v = tristate(fp_ip4_checksum_ok(p->data, d));
        if (v == NULL || PyDict_SetItemString(out, "ip", v) < 0) goto fail_v;
        Py_DECREF(v);
    }
    for (size_t i = 0; i < sizeof l4 / sizeof l4[0]; i++) {
        if (!FP_HAS(d, l4[i].id)) continue;
        PyObject *v = tristate(fp_l4_checksum_ok(p->data, d));
        if (v == NULL || PyDict_SetItemString(out, l4[i].key, v) < 0) goto fail_v;
        Py_DECREF(v);
    }
    return out;
fail_v:
    Py_DECREF(out);
    return NULL;
}

static PyObject *get_fragments(PyObject *self, void *c)
{
    (void)c;
    if (PKT(self)->wire == NULL) Py_RETURN_NONE;
    return Py_NewRef(PKT(self)->wire->frames);
}

static PyObject *get_fcslen(PyObject *self, void *c)
{
    (void)c;
    const FpPacket *p = PKT(self);
    uint32_t n = p->wire ? p->wire->fcs_len : (uint32_t)(p->dissect_flags & FP_DISSECT_FCS_MASK) >> FP_DISSECT_FCS_SHIFT;
    return PyLong_FromUnsignedLong(n);
}

static PyObject *get_wire(PyObject *self, void *c)
{
    (void)c;
    const FpPacket *p = PKT(self);
    if (p->wire) return PyBytes_FromStringAndSize((const char *)p->wire->data, p->wire->caplen);
    return PyBytes_FromStringAndSize((const char *)p->data, p->caplen);
}

static PyObject *get_ppp_control(PyObject *self, void *closure)
{
    return fp_ppp_control_view(PKT(self), (int)(intptr_t)closure);
}

static PyGetSetDef packet_getset[] = {
    {"time", get_time, NULL, "Capture time as float seconds since the epoch (None for pcapng SPB).", NULL},
    {"time_ns", get_time_ns, NULL, "Capture time in integer nanoseconds since the epoch.", NULL},
    {"caplen", get_caplen, NULL, "Number of bytes captured (<= wirelen when a snaplen cut it).", NULL},
    {"linktype", get_linktype, NULL, "Link-layer type (LINKTYPE_ value).", NULL},
    {"interface", get_interface, NULL, "pcapng interface index (0 for pcap).", NULL},
    {"comment", get_comment, NULL, "pcapng packet comment (the first opt_comment), or None.", NULL},
    {"raw", get_raw, NULL, "The captured bytes.", NULL},
    {"eth", get_layer, NULL, "Ethernet header, or None.", (void *)(intptr_t)FP_L_ETH},
    {"sll", get_sll, NULL, "Linux cooked (SLL/SLL2) header, or None.", NULL},
    {"loopback", get_layer, NULL, "BSD loopback (NULL/LOOP) header, or None.", (void *)(intptr_t)FP_L_LOOP},
    {"radiotap", get_layer, NULL, "Radiotap header, or None.", (void *)(intptr_t)FP_L_RADIOTAP},
    {"wlan", get_layer, NULL, "802.11 MAC header (Dot11), or None.", (void *)(intptr_t)FP_L_WLAN},
    {"vlan", get_layer, NULL, "Outermost 802.1Q/802.1ad tag, or None.", (void *)(intptr_t)FP_L_VLAN},
    {"vlans", get_vlans, NULL, "All VLAN tags, outer to inner.", NULL},
    {"arp", get_layer, NULL, "ARP, or None.", (void *)(intptr_t)FP_L_ARP},
    {"icmp", get_layer, NULL, "ICMP (v4), or None.", (void *)(intptr_t)FP_L_ICMP},
    {"icmp6", get_layer, NULL, "ICMPv6, or None.", (void *)(intptr_t)FP_L_ICMP6},
    {"dns", get_layer, NULL, "DNS message (UDP or TCP), or None.", (void *)(intptr_t)FP_L_DNS},
    {"http", get_layer, NULL, "HTTP/1.x start line and headers in this segment, or None.", (void *)(intptr_t)FP_L_HTTP},
    {"tls", get_layer, NULL, "TLS record (ClientHello SNI when in this segment), or None.", (void *)(intptr_t)FP_L_TLS},
    {"lcp", get_ppp_control, NULL, "PPP LCP packet (the first PPP frame carrying one), or None.", (void *)FP_PPP_LCP},
    {"ipcp", get_ppp_control, NULL, "PPP IPCP packet, or None.", (void *)FP_PPP_IPCP},
    {"ipv6cp", get_ppp_control, NULL, "PPP IPV6CP packet, or None.", (void *)FP_PPP_IPV6CP},
    {"ccp", get_ppp_control, NULL, "PPP CCP packet, or None.", (void *)FP_PPP_CCP},
    {"payload", get_payload, NULL, "Payload after the innermost decoded header.", NULL},
    {"anomalies", get_anomalies, NULL, "Names of what was malformed in this packet.", NULL},
    {"layers", get_layers, NULL, "Layer names, outer to inner.", NULL},
    {"fragments", get_fragments, NULL,
     "Frame numbers of the IP fragments this packet's datagram was reassembled from (by offset; "
     "this packet's fragment completed it), or None.", NULL},
    {"wire", get_wire, NULL, "The bytes as captured (differs from raw for a reassembled datagram).", NULL},
    {"fcslen", get_fcslen, NULL,
     "FCS bytes its interface declares at the end of the frame on the wire (pcapng if_fcslen, pcap's "
     "FCS bits; Ethernet views and eth.fcs leave them out); 0 for none. Writers declare it.", NULL},
    {"tunnels", get_tunnels, NULL,
     "Encapsulations decoded, outer to inner: (name, id) with the VNI, GRE key, TEID, bottom MPLS "
     "label, ERSPAN or PPPoE session id, or None. Layer views are the innermost packet's.", NULL},
    {"outer_ip", get_outer_ip, NULL, "The outermost IP (or IPv6) header of a tunnelled packet, or None.", NULL},
    {NULL},
};

#define HOT_MEMBER(name, i, doc) \
    {name, T_OBJECT_EX, (Py_ssize_t)(offsetof(FpPacket, hot) + (i) * sizeof(PyObject *)), READONLY, doc}
static PyMemberDef packet_members[] = {
    HOT_MEMBER("wirelen", FP_HOT_WIRELEN, "Length of the packet on the wire."),
    HOT_MEMBER("ip", FP_HOT_IP4,
               "Innermost IPv4 header (around a tunnel carrying no IP packet: that tunnel's), or None."),
    HOT_MEMBER("ip6", FP_HOT_IP6, "Innermost IPv6 header, as ip, or None."),
    HOT_MEMBER("tcp", FP_HOT_TCP, "TCP header, or None."),
    HOT_MEMBER("udp", FP_HOT_UDP, "UDP header (a UDP tunnel's when it carries no IP packet), or None."),
    HOT_MEMBER("src", FP_HOT_SRC, "Network-layer source address (IPv4 or IPv6) of ip/ip6, or None."),
    HOT_MEMBER("dst", FP_HOT_DST, "Network-layer destination address, or None."),
    HOT_MEMBER("proto", FP_HOT_PROTO, "IP protocol number (after IPv6 extension headers), or None."),
    HOT_MEMBER("sport", FP_HOT_SPORT, "TCP/UDP source port (of udp above), or None."),
    HOT_MEMBER("dport", FP_HOT_DPORT, "TCP/UDP destination port, or None."),
    {NULL},
};

static PyObject *packet_repr_html(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *mod = PyImport_ImportModule("fastpkt.frames");
    if (mod == NULL) return NULL;
    PyObject *r = PyObject_CallMethod(mod, "packet_html", "O", self);
    Py_DECREF(mod);
    return r;
}

static PyMethodDef packet_methods[] = {
    {"_repr_html_", packet_repr_html, METH_NOARGS, "Notebook view: summary and every layer's fields."},
    {"haslayer", packet_haslayer, METH_O, "True if the packet has this layer (name or class)."},
    {"summary", packet_summary, METH_NOARGS, "One-line summary in Scapy's style."},
    {"show", (PyCFunction)(void (*)(void))packet_show, METH_VARARGS | METH_KEYWORDS,
     "Print every layer's fields (return the text with dump=True)."},
    {"verify_checksums", packet_verify_checksums, METH_NOARGS,
     "Check IPv4/TCP/UDP/ICMP checksums: {layer: True/False/None (cannot tell)}."},
    {"__bytes__", packet_bytes, METH_NOARGS, "The captured bytes (rebuilt once a layer was edited)."},
    {"copy", packet_edit_copy, METH_NOARGS,
     "An editable copy: the packet's bytes read back into builder layers (Ether or IP first)."},
    {"field", (PyCFunction)(void (*)(void))fp_packet_field, METH_VARARGS | METH_KEYWORDS,
     "A field by its Wireshark name ('tcp.srcport'): the first value or None; all=True: "
     "every occurrence, as a list."},
    {NULL},
};

/* Hot attributes of fastpkt.scapy's packets, answered by pointer comparison of the interned
 * name before the generic descriptor lookup (Python 3.11 does not specialise its getattro). */
static const struct {
    const char *name;
    getter get;
    void *closure;
} packet_fast[] = {
    /* in the order loops read them: a hit costs one comparison per entry before it */
    {"ip", get_layer, (void *)(intptr_t)FP_L_IP4},   {"tcp", get_layer, (void *)(intptr_t)FP_L_TCP},
    {"udp", get_layer, (void *)(intptr_t)FP_L_UDP},  {"ip6", get_layer, (void *)(intptr_t)FP_L_IP6},
    {"wirelen", get_wirelen, NULL},                  {"src", get_src_dst, NULL},
    {"dst", get_src_dst, (void *)1},                 {"sport", get_sport, NULL},
    {"dport", get_dport, NULL},                      {"proto", get_proto, NULL},
    {"time", get_time, NULL},                        {"payload", get_payload, NULL},
    {"dns", get_layer, (void *)(intptr_t)FP_L_DNS},  {"icmp", get_layer, (void *)(intptr_t)FP_L_ICMP},
    {"eth", get_layer, (void *)(intptr_t)FP_L_ETH},  {"arp", get_layer, (void *)(intptr_t)FP_L_ARP},
};

PyObject *fp_packet_facade_getattro(PyObject *self, PyObject *name)
{
    const fp_state *st = PKT(self)->st;
    /* the class redefines some of these names (src, payload...): the others stay fast */
    uint32_t fast = Py_TYPE(self) == st->Facade_Packet_Type ? st->facade_packet_fast : 0;
    for (size_t i = 0; i < sizeof packet_fast / sizeof packet_fast[0]; i++)
        if (name == st->packet_fast_names[i] && (fast >> i & 1))
            return packet_fast[i].get(self, packet_fast[i].closure);
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r == NULL) return fp_facade_getattr_missing(self, name);
    return r;
}

PyDoc_STRVAR(packet_doc,
             "Packet(data, linktype=1, time=None, wirelen=None, *, decapsulate=True)\n--\n\n"
             "A captured packet: metadata, dissected layers (views over its bytes) and anomalies.\n"
             "Layer attributes (eth, ip, tcp, dns, ...) are None when absent.\n"
             "decapsulate: views are a tunnelled packet's innermost (True) or outer headers.");

static PyType_Slot packet_slots[] = {
    {Py_tp_doc, (void *)packet_doc},
    {Py_tp_new, packet_new},
    {Py_tp_dealloc, packet_dealloc},
    {Py_tp_repr, packet_repr},
    {Py_tp_getset, packet_getset},
    {Py_tp_members, packet_members},
    {Py_tp_methods, packet_methods},
    {Py_sq_contains, packet_contains},
    {Py_sq_length, packet_len},
    {Py_mp_subscript, packet_getitem},
    {Py_mp_length, packet_len},
    {0, NULL},
};

static PyType_Spec packet_spec = {
    .name = "fastpkt.Packet",
    .basicsize = (int)offsetof(FpPacket, inline_data),
    .itemsize = 1,
    /* BASETYPE for fastpkt.scapy's packet class (no new instance fields: __slots__ = ()) */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_BASETYPE,
    .slots = packet_slots,
};

static PyObject *raw_get_load(PyObject *self, void *c)
{
    (void)c;
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(self), PyBytes_GET_SIZE(self));
}

static PyObject *raw_repr(PyObject *self)
{
    PyObject *load = raw_get_load(self, NULL);
    if (load == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<Raw  load=%R |>", load);
    Py_DECREF(load);
    return r;
}

static PyGetSetDef raw_getset[] = {
    {"load", raw_get_load, NULL, "The payload bytes (Scapy's Raw.load).", NULL},
    {NULL},
};

static PyType_Slot raw_slots[] = {
    {Py_tp_doc, (void *)"pkt['Raw']: the innermost payload, a bytes subclass with Scapy's .load."},
    {Py_tp_getset, raw_getset},
    {Py_tp_repr, raw_repr},
    {0, NULL},
};

static PyType_Spec raw_spec = {
    .name = "fastpkt.Raw",
    .basicsize = 0,
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = raw_slots,
};

/* Which hot names a facade packet class leaves as fastpkt's (the same class attribute). */
uint32_t fp_packet_fast_kept(fp_state *st, PyTypeObject *sub)
{
    uint32_t kept = 0;
    for (size_t i = 0; i < sizeof packet_fast / sizeof packet_fast[0]; i++) {
        PyObject *a = PyObject_GetAttr((PyObject *)sub, st->packet_fast_names[i]);
        PyObject *b = PyObject_GetAttr((PyObject *)st->Packet_Type, st->packet_fast_names[i]);
        if (a != NULL && a == b) kept |= 1u << i;
        Py_XDECREF(a);
        Py_XDECREF(b);
        PyErr_Clear();
    }
    return kept;
}

int fp_packet_register(PyObject *m, fp_state *st)
{
    st->Raw_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &raw_spec, (PyObject *)&PyBytes_Type);
    if (st->Raw_Type == NULL || PyModule_AddType(m, st->Raw_Type) < 0) return -1;
    Py_BUILD_ASSERT(sizeof packet_fast / sizeof packet_fast[0] <= sizeof st->packet_fast_names / sizeof(PyObject *));
    for (size_t i = 0; i < sizeof packet_fast / sizeof packet_fast[0]; i++) {
        st->packet_fast_names[i] = PyUnicode_InternFromString(packet_fast[i].name);
        if (st->packet_fast_names[i] == NULL) return -1;
    }
    st->Packet_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &packet_spec, NULL);
    if (st->Packet_Type == NULL) return -1;
    return PyModule_AddType(m, st->Packet_Type);
}
