/* Protocol layer objects: small views (packet + layer id) over FpPacket.data.
 *
 * A layer holds a strong reference to its packet and nothing else; every field is
 * read on attribute access from the span fp_dissect() recorded (no copies, no
 * per-layer parse at creation). Field names follow Scapy (ip.proto, tcp.flags,
 * dns.qd[0].qname, arp.psrc ...). DNS, HTTP and TLS are parsed when one of their
 * attributes is read. All types are heap types created per module (PEP 630). */
#include "pyfp.h"
#include "../dissect/cursor.h"
#include "streams.h"

#include <stdio.h>
#include <string.h>

/* ====================================================================== */
/* Address formatting                                                      */
/* ====================================================================== */

static const char hexdig[] = "0123456789abcdef";

/* An ASCII str from a C buffer: PyUnicode_New + memcpy, no decoding. */
static PyObject *ascii_str(const char *s, Py_ssize_t n)
{
    PyObject *u = PyUnicode_New(n, 127);
    if (u == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    return u;
}

static char *put_dec_u8(char *o, unsigned v)
{
    if (v >= 100) {
        *o++ = (char)('0' + v / 100);
        v %= 100;
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else if (v >= 10) {
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else {
        *o++ = (char)('0' + v);
    }
    return o;
}

static char *put_ip4(char *o, const uint8_t *p)
{
    o = put_dec_u8(o, p[0]);
    *o++ = '.';
    o = put_dec_u8(o, p[1]);
    *o++ = '.';
    o = put_dec_u8(o, p[2]);
    *o++ = '.';
    return put_dec_u8(o, p[3]);
}

PyObject *fp_ip4_str(const uint8_t *p)
{
    char buf[16];
    char *o = put_ip4(buf, p);
    return ascii_str(buf, o - buf);
}

static char *put_hex16(char *o, unsigned v)
{
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned nib = (v >> shift) & 0xf;
        if (nib || started || shift == 0) {
            *o++ = hexdig[nib];
            started = 1;
        }
    }
    return o;
}

/* RFC 5952 text, identical to glibc's inet_ntop (which Scapy uses): the longest run
 * of two or more zero groups (the first on a tie) becomes "::", hex in lower case,
 * and the IPv4-mapped / IPv4-compatible forms end in dotted quad. */
PyObject *fp_ip6_str(const uint8_t *p)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++) w[i] = ((unsigned)p[2 * i] << 8) | p[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0) j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best = -1;
    char buf[48];
    char *o = buf;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            if (best + best_len == 8) *o++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i != 0) *o++ = ':';
        if (i == 6 && best == 0 &&
            (best_len == 6 || (best_len == 7 && w[7] != 1) || (best_len == 5 && w[5] == 0xffff))) {
            o = put_ip4(o, p + 12);
            break;
        }
        o = put_hex16(o, w[i]);
    }
    return ascii_str(buf, o - buf);
}

/* "aa:bb:..." for n bytes (n <= 32). */
static PyObject *hex_colon_str(const uint8_t *p, unsigned n)
{
    char buf[96];
    if (n > 32) n = 32;
    if (n == 0) return ascii_str("", 0);
    char *o = buf;
    for (unsigned i = 0; i < n; i++) {
        if (i) *o++ = ':';
        *o++ = hexdig[p[i] >> 4];
        *o++ = hexdig[p[i] & 0xf];
    }
    return ascii_str(buf, o - buf);
}

PyObject *fp_mac_str(const uint8_t *p)
{
    char buf[17];
    char *o = buf;
    for (int i = 0; i < 6; i++) {
        if (i) *o++ = ':';
        *o++ = hexdig[p[i] >> 4];
        *o++ = hexdig[p[i] & 0xf];
    }
    return ascii_str(buf, 17);
}

/* ====================================================================== */
/* Per-layer tables                                                        */
/* ====================================================================== */

/* Layer names as Packet.layers spells them (Scapy class names; SLL/SLL2 for cooked). */
static const char *const layer_names[FP_L_COUNT] = {
    [FP_L_ETH] = "Ether", [FP_L_SLL] = "SLL",   [FP_L_SLL2] = "SLL2",   [FP_L_LOOP] = "Loopback",
    [FP_L_VLAN] = "Dot1Q", [FP_L_ARP] = "ARP",  [FP_L_IP4] = "IP",      [FP_L_IP6] = "IPv6",
    [FP_L_TCP] = "TCP",   [FP_L_UDP] = "UDP",   [FP_L_ICMP] = "ICMP",   [FP_L_ICMP6] = "ICMPv6",
    [FP_L_DNS] = "DNS",   [FP_L_HTTP] = "HTTP", [FP_L_TLS] = "TLS",
};

/* Fields shown in repr (a leading '#' prints the int in hex). */
static const char *const repr_fields[FP_L_COUNT][7] = {
    [FP_L_ETH] = {"src", "dst", "#type"},
    [FP_L_SLL] = {"pkttype", "addr", "#proto"},
    [FP_L_SLL2] = {"pkttype", "addr", "#proto", "ifindex"},
    [FP_L_LOOP] = {"type"},
    [FP_L_VLAN] = {"vlan", "prio", "#type"},
    [FP_L_ARP] = {"op", "hwsrc", "psrc", "hwdst", "pdst"},
    [FP_L_IP4] = {"src", "dst", "proto", "ttl"},
    [FP_L_IP6] = {"src", "dst", "nh", "hlim"},
    [FP_L_TCP] = {"sport", "dport", "flags", "seq", "ack"},
    [FP_L_UDP] = {"sport", "dport", "len"},
    [FP_L_ICMP] = {"type", "code", "id", "seq"},
    [FP_L_ICMP6] = {"type", "code", "id", "seq"},
    [FP_L_DNS] = {"id", "qr", "opcode", "rcode", "qdcount", "ancount", "qname"},
    [FP_L_HTTP] = {"method", "uri", "status", "reason", "host"},
    [FP_L_TLS] = {"type", "#version", "len", "handshake_type", "sni"},
};

/* ====================================================================== */
/* Layer base                                                              */
/* ====================================================================== */

#define LAYER(o) ((FpLayer *)(o))

static inline const fp_span *lspan(const FpLayer *l) { return &l->pkt->d.layer[l->id]; }
static inline const uint8_t *ldata(const FpLayer *l) { return l->pkt->data; }

/* First byte of this layer's header: VLAN tags are 4 bytes each after the first. */
static inline uint32_t lhdr_off(const FpLayer *l)
{
    uint32_t off = lspan(l)->off;
    if (l->id == FP_L_VLAN) off += 4u * l->index;
    return off;
}

static void layer_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(LAYER(self)->pkt);
    PyObject_Free(self); /* allocated with PyObject_Malloc in fp_layer_new */
    Py_DECREF(tp);
}

PyObject *fp_layer_new(fp_state *st, FpPacket *pkt, fp_layer_id id, int index)
{
    if ((unsigned)id >= FP_L_COUNT || st->Layer_Types[id] == NULL) {
        PyErr_Format(PyExc_SystemError, "fastpkt: no layer type for id %d", (int)id);
        return NULL;
    }
    if (!FP_HAS(&pkt->d, id) || index < 0 || (id == FP_L_VLAN && index >= pkt->d.vlan_count)) {
        PyErr_Format(PyExc_ValueError, "layer %s (index %d) is not in this packet",
                     layer_names[id], index);
        return NULL;
    }
    PyTypeObject *tp = st->Layer_Types[id];
    FpLayer *l = (FpLayer *)PyObject_Malloc((size_t)tp->tp_basicsize);
    if (l == NULL) return PyErr_NoMemory();
    PyObject_Init((PyObject *)l, tp); /* increfs the heap type */
    Py_INCREF(pkt);
    l->pkt = pkt;
    l->id = (uint8_t)id;
    l->index = (uint8_t)index;
    return (PyObject *)l;
}

/* The layer's extent [off, off+hlen) header, [off+hlen, end) payload. The application
 * layers have no fixed header: DNS and TLS own their whole message (no payload), an
 * HTTP message's header part ends where its body starts. */
static int http_parse(const FpLayer *l, fp_http_message *m);

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
        if (http_parse(l, &m) == 0 && m.headers_complete && m.body_off >= s->off &&
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
    return PyUnicode_FromString(layer_names[LAYER(self)->id]);
}

static PyObject *layer_get_offset(PyObject *self, void *c)
{
    (void)c;
    uint32_t off, hlen, end;
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyLong_FromUnsignedLong(off);
}

static PyObject *layer_get_header_len(PyObject *self, void *c)
{
    (void)c;
    uint32_t off, hlen, end;
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyLong_FromUnsignedLong(hlen);
}

static PyObject *layer_get_payload(PyObject *self, void *c)
{
    (void)c;
    uint32_t off, hlen, end;
    layer_extent(LAYER(self), &off, &hlen, &end);
    return PyBytes_FromStringAndSize((const char *)ldata(LAYER(self)) + off + hlen,
                                     (Py_ssize_t)(end - off - hlen));
}

static PyObject *layer_get_raw(PyObject *self, void *c)
{
    (void)c;
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
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    const char *const *names = repr_fields[l->id];
    for (int i = 0; i < 7 && names[i] != NULL; i++) {
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
        if (item == NULL || PyList_Append(parts, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    PyObject *sep = PyUnicode_FromString(" ");
    PyObject *body = sep ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(parts);
    if (body == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<%s  %U |>", layer_names[l->id], body);
    Py_DECREF(body);
    return r;
fail:
    Py_DECREF(parts);
    return NULL;
}

static PyGetSetDef layer_getset[] = {
    {"name", layer_get_name, NULL, "Layer name (Scapy's class name: 'Ether', 'IP', 'TCP', ...).", NULL},
    {"offset", layer_get_offset, NULL, "Offset of the header within the packet bytes.", NULL},
    {"header_len", layer_get_header_len, NULL,
     "Header length in bytes (DNS/TLS: the whole message; HTTP: start line and headers).", NULL},
    {"payload", layer_get_payload, NULL,
     "Bytes after this layer's header, up to the end of this layer (IP total length, UDP length...).",
     NULL},
    {"raw", layer_get_raw, NULL, "Header and payload bytes of this layer.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef layer_methods[] = {
    {"__bytes__", layer_bytes, METH_NOARGS, "Header and payload bytes of this layer."},
    {"fields_dict", layer_fields_dict, METH_NOARGS, "A dict of this layer's `fields` and their values."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(layer_doc,
             "Base class of the protocol layers: a view into a Packet's bytes.\n\n"
             "Layers are created on access (pkt.ip, pkt.tcp ...) and read their fields lazily;\n"
             "they keep their packet alive.");

/* ====================================================================== */
/* Generic fixed-position fields                                           */
/* ====================================================================== */

/* closure = offset | width << 8 | shift << 12 | bits << 18 | bool << 24 */
#define FLD(off, width, shift, bits) \
    ((void *)(uintptr_t)((off) | ((width) << 8) | ((shift) << 12) | ((uintptr_t)(bits) << 18)))
#define FLDB(off, width, shift) \
    ((void *)(uintptr_t)((off) | ((width) << 8) | ((shift) << 12) | (1u << 18) | (1u << 24)))
#define U8(off) FLD(off, 1, 0, 8)
#define U16(off) FLD(off, 2, 0, 16)
#define U32(off) FLD(off, 4, 0, 32)

static inline int field_load(const uint8_t *base, uint32_t avail, uintptr_t c, uint32_t *out)
{
    unsigned off = c & 0xff, width = (c >> 8) & 0xf, shift = (c >> 12) & 0x3f,
             bits = (c >> 18) & 0x3f;
    if (off + width > avail) return -1;
    const uint8_t *p = base + off;
    uint32_t v = width == 1 ? p[0] : width == 2 ? fp_load_be16(p) : fp_load_be32(p);
    v >>= shift;
    if (bits < 32) v &= (1u << bits) - 1;
    *out = v;
    return 0;
}

static inline PyObject *field_obj(uintptr_t c, uint32_t v)
{
    if (c & (1u << 24)) return PyBool_FromLong(v);
    return PyLong_FromUnsignedLong(v);
}

/* A header field at a fixed offset from the layer start; None if it lies past the
 * captured bytes (the dissector guarantees it does not for a decoded layer). */
static PyObject *get_field(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t off = lhdr_off(l), end = lspan(l)->end, v;
    if (off > end || field_load(ldata(l) + off, end - off, (uintptr_t)closure, &v) < 0)
        Py_RETURN_NONE;
    return field_obj((uintptr_t)closure, v);
}

/* closure = offset of a 6-byte MAC / 4-byte IPv4 / 16-byte IPv6 address. */
static PyObject *get_mac(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lhdr_off(l) + (uint32_t)(uintptr_t)closure;
    if (at + 6 > lspan(l)->end) Py_RETURN_NONE;
    return fp_mac_str(ldata(l) + at);
}

static PyObject *get_ip4(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lspan(l)->off + (uint32_t)(uintptr_t)closure;
    if (at + 4 > lspan(l)->end) Py_RETURN_NONE;
    return fp_ip4_str(ldata(l) + at);
}

static PyObject *get_ip6(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t at = lspan(l)->off + (uint32_t)(uintptr_t)closure;
    if (at + 16 > lspan(l)->end) Py_RETURN_NONE;
    return fp_ip6_str(ldata(l) + at);
}

static PyObject *tristate(int r)
{
    if (r < 0) Py_RETURN_NONE;
    return PyBool_FromLong(r);
}

static PyObject *ip4_checksum_ok(PyObject *self, PyObject *unused)
{
    (void)unused;
    return tristate(fp_ip4_checksum_ok(ldata(LAYER(self)), &LAYER(self)->pkt->d));
}

static PyObject *l4_checksum_ok(PyObject *self, PyObject *unused)
{
    (void)unused;
    return tristate(fp_l4_checksum_ok(ldata(LAYER(self)), &LAYER(self)->pkt->d));
}

static PyMethodDef ip4_methods[] = {
    {"checksum_ok", ip4_checksum_ok, METH_NOARGS,
     "True if the header checksum is valid, False if not, None when it cannot be checked."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef l4_methods[] = {
    {"checksum_ok", l4_checksum_ok, METH_NOARGS,
     "True if the checksum (over the pseudo-header) is valid, False if not, None when it cannot\n"
     "be checked (truncated, fragmented, UDP checksum 0)."},
    {NULL, NULL, 0, NULL},
};

/* ====================================================================== */
/* Ether, SLL, Loopback, Dot1Q, ARP                                         */
/* ====================================================================== */

static PyGetSetDef ether_getset[] = {
    {"dst", get_mac, NULL, "Destination MAC address, 'aa:bb:cc:dd:ee:ff'.", (void *)0},
    {"src", get_mac, NULL, "Source MAC address, 'aa:bb:cc:dd:ee:ff'.", (void *)6},
    {"type", get_field, NULL, "EtherType (0x0800 IPv4, 0x86dd IPv6, 0x8100 VLAN ...).", U16(12)},
    {NULL, NULL, NULL, NULL, NULL},
};

/* SLL v1 (16 bytes): pkttype hatype halen addr[8] proto.
 * SLL2 (20 bytes): proto reserved ifindex hatype pkttype halen addr[8]. */
enum { SLL_PKTTYPE, SLL_HATYPE, SLL_HALEN, SLL_PROTO, SLL_IFINDEX };

static PyObject *sll_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const uint8_t *p = ldata(l) + lspan(l)->off;
    int v2 = l->id == FP_L_SLL2;
    switch ((int)(intptr_t)closure) {
    case SLL_PKTTYPE: return PyLong_FromLong(v2 ? p[10] : fp_load_be16(p));
    case SLL_HATYPE: return PyLong_FromLong(fp_load_be16(p + (v2 ? 8 : 2)));
    case SLL_HALEN: return PyLong_FromLong(v2 ? p[11] : fp_load_be16(p + 4));
    case SLL_PROTO: return PyLong_FromLong(fp_load_be16(p + (v2 ? 0 : 14)));
    case SLL_IFINDEX:
        if (!v2) Py_RETURN_NONE;
        return PyLong_FromUnsignedLong(fp_load_be32(p + 4));
    default: Py_RETURN_NONE;
    }
}

static PyObject *sll_get_addr(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const uint8_t *p = ldata(l) + lspan(l)->off;
    int v2 = l->id == FP_L_SLL2;
    unsigned halen = v2 ? p[11] : fp_load_be16(p + 4);
    if (halen > 8) halen = 8;
    const uint8_t *a = p + (v2 ? 12 : 6);
    return halen == 6 ? fp_mac_str(a) : hex_colon_str(a, halen);
}

static PyGetSetDef sll_getset[] = {
    {"pkttype", sll_get, NULL, "Packet type: 0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing.",
     (void *)SLL_PKTTYPE},
    {"hatype", sll_get, NULL, "ARPHRD_ link-layer address type (1 Ethernet, 772 loopback ...).",
     (void *)SLL_HATYPE},
    {"halen", sll_get, NULL, "Link-layer address length.", (void *)SLL_HALEN},
    {"addr", sll_get_addr, NULL, "Link-layer source address ('aa:bb:...', halen bytes, at most 8).", NULL},
    {"proto", sll_get, NULL, "Protocol (an EtherType).", (void *)SLL_PROTO},
    {"ifindex", sll_get, NULL, "Interface index (SLL2 only, None for SLL v1).", (void *)SLL_IFINDEX},
    {NULL, NULL, NULL, NULL, NULL},
};

/* BSD address family: network order for LOOP, host order of the capturing machine
 * for NULL (read big-endian, swapped when that gives a value above 0xffff). */
static PyObject *loop_get_type(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const uint8_t *p = ldata(l) + lspan(l)->off;
    uint32_t af = fp_load_be32(p);
    if (l->pkt->linktype != FP_LINKTYPE_LOOP && af > 0xffff) af = fp_load_le32(p);
    return PyLong_FromUnsignedLong(af);
}

static PyGetSetDef loop_getset[] = {
    {"type", loop_get_type, NULL, "Address family (2 IPv4; 24, 28 or 30 IPv6 depending on the OS).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Dot1Q: tag `index` of d.vlan[]; its 4 bytes are TCI and the next EtherType. */
enum { VLAN_PRIO, VLAN_ID, VLAN_VID, VLAN_TPID };

static PyObject *vlan_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_vlan_tag *t = &l->pkt->d.vlan[l->index < FP_MAX_VLAN ? l->index : 0];
    switch ((int)(intptr_t)closure) {
    case VLAN_PRIO: return PyLong_FromLong(t->tci >> 13);
    case VLAN_ID: return PyLong_FromLong((t->tci >> 12) & 1);
    case VLAN_VID: return PyLong_FromLong(t->tci & 0xfff);
    case VLAN_TPID: return PyLong_FromLong(t->tpid);
    default: Py_RETURN_NONE;
    }
}

static PyGetSetDef vlan_getset[] = {
    {"prio", vlan_get, NULL, "Priority code point (3 bits).", (void *)VLAN_PRIO},
    {"id", vlan_get, NULL, "Drop eligible indicator bit (DEI/CFI; Scapy < 2.5 called it id).",
     (void *)VLAN_ID},
    {"dei", vlan_get, NULL, "Drop eligible indicator bit (alias of id, Scapy >= 2.5's name).",
     (void *)VLAN_ID},
    {"vlan", vlan_get, NULL, "VLAN identifier (12 bits).", (void *)VLAN_VID},
    {"type", get_field, NULL, "EtherType that follows this tag.", U16(2)},
    {"tpid", vlan_get, NULL, "Tag protocol identifier: 0x8100, 0x88a8 or 0x9100.", (void *)VLAN_TPID},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ARP addresses: closure 0 hwsrc, 1 psrc, 2 hwdst, 3 pdst. */
static PyObject *arp_get_addr(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    const uint8_t *p = ldata(l) + s->off;
    unsigned hln = p[4], pln = p[5], which = (unsigned)(uintptr_t)closure;
    unsigned at = 8 + (which >= 2 ? hln + pln : 0) + (which & 1 ? hln : 0);
    unsigned n = which & 1 ? pln : hln;
    if (s->off + at + n > s->end) Py_RETURN_NONE;
    const uint8_t *a = p + at;
    if (which & 1) {
        if (n == 4) return fp_ip4_str(a);
        if (n == 16) return fp_ip6_str(a);
        return hex_colon_str(a, n);
    }
    return n == 6 ? fp_mac_str(a) : hex_colon_str(a, n);
}

static PyGetSetDef arp_getset[] = {
    {"hwtype", get_field, NULL, "Hardware type (1 Ethernet).", U16(0)},
    {"ptype", get_field, NULL, "Protocol type (0x0800 IPv4).", U16(2)},
    {"hwlen", get_field, NULL, "Hardware address length.", U8(4)},
    {"plen", get_field, NULL, "Protocol address length.", U8(5)},
    {"op", get_field, NULL, "Operation: 1 who-has (request), 2 is-at (reply).", U16(6)},
    {"hwsrc", arp_get_addr, NULL, "Sender hardware address.", (void *)0},
    {"psrc", arp_get_addr, NULL, "Sender protocol address (dotted quad for IPv4).", (void *)1},
    {"hwdst", arp_get_addr, NULL, "Target hardware address.", (void *)2},
    {"pdst", arp_get_addr, NULL, "Target protocol address.", (void *)3},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ====================================================================== */
/* IP, IPv6                                                                */
/* ====================================================================== */

static PyObject *ip4_get_frag_bytes(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const uint8_t *p = ldata(l) + lspan(l)->off;
    return PyLong_FromUnsignedLong((uint32_t)(fp_load_be16(p + 6) & 0x1fff) * 8u);
}

static PyObject *ip4_get_options(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    uint32_t n = s->hlen > 20 ? s->hlen - 20 : 0;
    return PyBytes_FromStringAndSize((const char *)ldata(l) + s->off + 20, (Py_ssize_t)n);
}

static PyGetSetDef ip4_getset[] = {
    {"version", get_field, NULL, "IP version (4).", FLD(0, 1, 4, 4)},
    {"ihl", get_field, NULL, "Header length in 32-bit words.", FLD(0, 1, 0, 4)},
    {"tos", get_field, NULL, "Type of service / DSCP+ECN byte.", U8(1)},
    {"len", get_field, NULL, "Total length field.", U16(2)},
    {"id", get_field, NULL, "Identification.", U16(4)},
    {"flags", get_field, NULL, "Flags as an int: 1 MF, 2 DF, 4 reserved (evil) bit.", FLD(6, 1, 5, 3)},
    {"DF", get_field, NULL, "Don't Fragment flag.", FLDB(6, 1, 6)},
    {"MF", get_field, NULL, "More Fragments flag.", FLDB(6, 1, 5)},
    {"frag", get_field, NULL, "Fragment offset in 8-byte units, as in the header (like Scapy).",
     FLD(6, 2, 0, 13)},
    {"frag_bytes", ip4_get_frag_bytes, NULL, "Fragment offset in bytes (frag * 8).", NULL},
    {"ttl", get_field, NULL, "Time to live.", U8(8)},
    {"proto", get_field, NULL, "Protocol number (6 TCP, 17 UDP, 1 ICMP ...).", U8(9)},
    {"chksum", get_field, NULL, "Header checksum as on the wire (see checksum_ok()).", U16(10)},
    {"src", get_ip4, NULL, "Source address, dotted quad.", (void *)12},
    {"dst", get_ip4, NULL, "Destination address, dotted quad.", (void *)16},
    {"options", ip4_get_options, NULL, "Raw option bytes (header bytes past the first 20).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const fp_ip6_ext *ip6_frag_ext(const FpLayer *l)
{
    const fp_dissection *d = &l->pkt->d;
    for (int i = 0; i < d->ip6_ext_count && i < FP_MAX_IP6_EXT; i++)
        if (d->ip6_ext[i].type == 44 && d->ip6_ext[i].off + 4 <= lspan(l)->end) return &d->ip6_ext[i];
    return NULL;
}

static PyObject *ip6_get_ext_headers(PyObject *self, void *c)
{
    (void)c;
    const fp_dissection *d = &LAYER(self)->pkt->d;
    int n = d->ip6_ext_count < FP_MAX_IP6_EXT ? d->ip6_ext_count : FP_MAX_IP6_EXT;
    PyObject *list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(iII)", d->ip6_ext[i].type, d->ip6_ext[i].off, d->ip6_ext[i].len);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *ip6_get_proto(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(LAYER(self)->pkt->d.ip_proto);
}

static PyObject *ip6_get_frag(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const fp_ip6_ext *e = ip6_frag_ext(l);
    if (e == NULL) Py_RETURN_NONE;
    return PyLong_FromLong(fp_load_be16(ldata(l) + e->off + 2) >> 3);
}

static PyObject *ip6_get_mf(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const fp_ip6_ext *e = ip6_frag_ext(l);
    return PyBool_FromLong(e != NULL && (fp_load_be16(ldata(l) + e->off + 2) & 1));
}

static PyGetSetDef ip6_getset[] = {
    {"version", get_field, NULL, "IP version (6).", FLD(0, 1, 4, 4)},
    {"tc", get_field, NULL, "Traffic class.", FLD(0, 2, 4, 8)},
    {"fl", get_field, NULL, "Flow label (20 bits).", FLD(0, 4, 0, 20)},
    {"plen", get_field, NULL, "Payload length field.", U16(4)},
    {"nh", get_field, NULL, "Next header of the fixed header (may be an extension header).", U8(6)},
    {"hlim", get_field, NULL, "Hop limit.", U8(7)},
    {"ttl", get_field, NULL, "Alias of hlim, so code written for IP works.", U8(7)},
    {"src", get_ip6, NULL, "Source address, RFC 5952 text.", (void *)8},
    {"dst", get_ip6, NULL, "Destination address, RFC 5952 text.", (void *)24},
    {"ext_headers", ip6_get_ext_headers, NULL,
     "Extension headers as (next-header value, offset in packet, length) tuples.", NULL},
    {"proto", ip6_get_proto, NULL, "Upper-layer protocol after the extension headers.", NULL},
    {"frag", ip6_get_frag, NULL,
     "Fragment offset in 8-byte units from the Fragment header, None without one.", NULL},
    {"MF", ip6_get_mf, NULL, "More Fragments flag of the Fragment header (False without one).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ====================================================================== */
/* TCPFlags                                                                */
/* ====================================================================== */

typedef struct {
    PyObject_HEAD
    unsigned value;
} FpTCPFlags;

#define TF(o) ((FpTCPFlags *)(o))
static const char tcp_flag_letters[] = "FSRPAUECN"; /* bit 0 .. bit 8, Scapy's order */

static void tf_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static inline int is_tcpflags(PyObject *o) { return Py_TYPE(o)->tp_dealloc == tf_dealloc; }

PyObject *fp_tcpflags_new(fp_state *st, unsigned flags)
{
    PyTypeObject *tp = st->TCPFlags_Type;
    FpTCPFlags *f = (FpTCPFlags *)PyObject_Malloc((size_t)tp->tp_basicsize);
    if (f == NULL) return PyErr_NoMemory();
    PyObject_Init((PyObject *)f, tp);
    f->value = flags & 0x1ff;
    return (PyObject *)f;
}

/* Letters to a mask: 0 ok, -1 on a letter that is not a flag. */
static int tf_parse(PyObject *s, unsigned *mask)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) return -2;
    unsigned m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *hit = p[i] ? strchr(tcp_flag_letters, p[i]) : NULL;
        if (hit == NULL) return -1;
        m |= 1u << (hit - tcp_flag_letters);
    }
    *mask = m;
    return 0;
}

static PyObject *tf_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *v = NULL;
    unsigned mask = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:TCPFlags", kwlist, &v)) return NULL;
    if (v == NULL) {
        mask = 0;
    } else if (is_tcpflags(v)) {
        mask = TF(v)->value;
    } else if (PyUnicode_Check(v)) {
        int r = tf_parse(v, &mask);
        if (r == -2) return NULL;
        if (r < 0) {
            PyErr_Format(PyExc_ValueError, "invalid TCP flag letters %R (use FSRPAUECN)", v);
            return NULL;
        }
    } else {
        long x = PyLong_AsLong(v);
        if (x == -1 && PyErr_Occurred()) return NULL;
        if (x < 0 || x > 0x1ff) {
            PyErr_Format(PyExc_ValueError, "TCP flags must be in 0..0x1ff, not %ld", x);
            return NULL;
        }
        mask = (unsigned)x;
    }
    PyObject *o = tp->tp_alloc(tp, 0);
    if (o != NULL) TF(o)->value = mask;
    return o;
}

static PyObject *tf_str(PyObject *self)
{
    char buf[10];
    Py_ssize_t n = 0;
    for (int i = 0; i < 9; i++)
        if (TF(self)->value & (1u << i)) buf[n++] = tcp_flag_letters[i];
    return ascii_str(buf, n);
}

static PyObject *tf_repr(PyObject *self)
{
    PyObject *s = tf_str(self);
    if (s == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<TCPFlags %U>", s);
    Py_DECREF(s);
    return r;
}

static Py_hash_t tf_hash(PyObject *self) { return (Py_hash_t)TF(self)->value; } /* == hash(int) */

static PyObject *tf_int(PyObject *self) { return PyLong_FromUnsignedLong(TF(self)->value); }

static int tf_bool(PyObject *self) { return TF(self)->value != 0; }

/* Operand as a new int reference, or NULL without an error when not int-like. */
static PyObject *tf_operand(PyObject *o)
{
    if (is_tcpflags(o)) return PyLong_FromUnsignedLong(TF(o)->value);
    if (PyLong_Check(o)) return Py_NewRef(o);
    return NULL;
}

static PyObject *tf_binop(PyObject *a, PyObject *b, binaryfunc op)
{
    PyObject *x = tf_operand(a);
    if (x == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *y = tf_operand(b);
    if (y == NULL) {
        Py_DECREF(x);
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *r = op(x, y);
    Py_DECREF(x);
    Py_DECREF(y);
    return r;
}

static PyObject *tf_and(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_And); }
static PyObject *tf_or(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_Or); }
static PyObject *tf_xor(PyObject *a, PyObject *b) { return tf_binop(a, b, PyNumber_Xor); }

static PyObject *tf_richcompare(PyObject *self, PyObject *other, int op)
{
    if (PyUnicode_Check(other)) {
        if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
        unsigned mask;
        int r = tf_parse(other, &mask);
        if (r == -2) return NULL;
        int eq = r == 0 && mask == TF(self)->value;
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    PyObject *y = tf_operand(other);
    if (y == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *x = PyLong_FromUnsignedLong(TF(self)->value);
    PyObject *r = x ? PyObject_RichCompare(x, y, op) : NULL;
    Py_XDECREF(x);
    Py_DECREF(y);
    return r;
}

/* 'S' in flags, 'SA' in flags: every letter set. */
static int tf_contains(PyObject *self, PyObject *letters)
{
    if (is_tcpflags(letters)) return (TF(self)->value & TF(letters)->value) == TF(letters)->value;
    if (!PyUnicode_Check(letters)) {
        PyErr_Format(PyExc_TypeError, "'in <TCPFlags>' needs flag letters as a str, not %.100s",
                     Py_TYPE(letters)->tp_name);
        return -1;
    }
    unsigned mask;
    int r = tf_parse(letters, &mask);
    if (r == -2) return -1;
    if (r < 0) return 0;
    return (TF(self)->value & mask) == mask;
}

static PyObject *tf_get_bit(PyObject *self, void *closure)
{
    return PyBool_FromLong((TF(self)->value >> (int)(intptr_t)closure) & 1);
}

static PyObject *tf_get_value(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(TF(self)->value);
}

static PyGetSetDef tf_getset[] = {
    {"F", tf_get_bit, NULL, "FIN (0x001).", (void *)0},
    {"S", tf_get_bit, NULL, "SYN (0x002).", (void *)1},
    {"R", tf_get_bit, NULL, "RST (0x004).", (void *)2},
    {"P", tf_get_bit, NULL, "PSH (0x008).", (void *)3},
    {"A", tf_get_bit, NULL, "ACK (0x010).", (void *)4},
    {"U", tf_get_bit, NULL, "URG (0x020).", (void *)5},
    {"E", tf_get_bit, NULL, "ECE (0x040).", (void *)6},
    {"C", tf_get_bit, NULL, "CWR (0x080).", (void *)7},
    {"N", tf_get_bit, NULL, "NS, ECN nonce (0x100).", (void *)8},
    {"value", tf_get_value, NULL, "The flags as an int.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(tf_doc,
             "TCPFlags(value=0)\n--\n\n"
             "TCP flags (9 bits, Scapy's FSRPAUECN order). Int-like: int(f), f & 0x02, f | x,\n"
             "f == 0x12; str(f) gives letters ('SA' for SYN+ACK, 'PA' for PSH+ACK) and\n"
             "f == 'SA' compares by the set of letters; 'S' in f; attributes F S R P A U E C N.");

static PyType_Slot tf_slots[] = {
    {Py_tp_dealloc, tf_dealloc},
    {Py_tp_new, tf_new},
    {Py_tp_repr, tf_repr},
    {Py_tp_str, tf_str},
    {Py_tp_hash, tf_hash},
    {Py_tp_richcompare, tf_richcompare},
    {Py_tp_getset, tf_getset},
    {Py_tp_doc, (void *)tf_doc},
    {Py_nb_int, tf_int},
    {Py_nb_index, tf_int},
    {Py_nb_bool, tf_bool},
    {Py_nb_and, tf_and},
    {Py_nb_or, tf_or},
    {Py_nb_xor, tf_xor},
    {Py_sq_contains, tf_contains},
    {0, NULL},
};

static PyType_Spec tf_spec = {
    .name = "fastpkt.TCPFlags",
    .basicsize = sizeof(FpTCPFlags),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tf_slots,
};

/* ====================================================================== */
/* TCP, UDP, ICMP                                                          */
/* ====================================================================== */

static PyObject *tcp_get_flags(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    const uint8_t *p = ldata(l) + lspan(l)->off;
    return fp_tcpflags_new(l->pkt->st, ((unsigned)(p[12] & 1) << 8) | p[13]);
}

#define TCP_MAX_OPTS 40

typedef struct {
    fp_tcp_option o[TCP_MAX_OPTS];
    int n;
} tcp_opts;

static void tcp_read_options(const FpLayer *l, tcp_opts *t)
{
    int bad;
    t->n = fp_tcp_options(ldata(l), &l->pkt->d, t->o, TCP_MAX_OPTS, &bad);
    if (t->n < 0) t->n = 0;
}

/* Option value bytes (after kind and length), bounded by the TCP header. */
static const uint8_t *tcp_opt_value(const FpLayer *l, const fp_tcp_option *o, uint32_t *n)
{
    const fp_span *s = lspan(l);
    uint32_t hend = s->off + s->hlen;
    uint32_t start = o->off + 2, stop = o->off + o->len;
    if (o->len < 2 || start > hend) start = stop = o->off;
    if (stop > hend) stop = hend;
    *n = stop - start;
    return ldata(l) + start;
}

static PyObject *tuple_be32(const uint8_t *p, uint32_t count)
{
    PyObject *t = PyTuple_New(count);
    for (uint32_t i = 0; t != NULL && i < count; i++) {
        PyObject *v = PyLong_FromUnsignedLong(fp_load_be32(p + 4 * i));
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* One option the way Scapy's TCPOptionsField.m2i gives it: a known name with a
 * decoded value when the length matches the format, else the raw bytes; unknown
 * kinds as (kind, bytes). */
static PyObject *tcp_option_tuple(const FpLayer *l, const fp_tcp_option *o)
{
    uint32_t n;
    const uint8_t *v = tcp_opt_value(l, o, &n);
    switch (o->kind) {
    case 0: return Py_BuildValue("(sO)", "EOL", Py_None);
    case 1: return Py_BuildValue("(sO)", "NOP", Py_None);
    case 2:
        if (n == 2) return Py_BuildValue("(si)", "MSS", fp_load_be16(v));
        return Py_BuildValue("(sy#)", "MSS", v, (Py_ssize_t)n);
    case 3:
        if (n == 1) return Py_BuildValue("(si)", "WScale", v[0]);
        return Py_BuildValue("(sy#)", "WScale", v, (Py_ssize_t)n);
    case 4: return Py_BuildValue("(sy#)", "SAckOK", v, (Py_ssize_t)n);
    case 5:
        if (n % 4 == 0) {
            PyObject *t = tuple_be32(v, n / 4);
            if (t == NULL) return NULL;
            if (n == 4) { /* Scapy unwraps one-element tuples */
                PyObject *one = Py_NewRef(PyTuple_GET_ITEM(t, 0));
                Py_DECREF(t);
                return Py_BuildValue("(sN)", "SAck", one);
            }
            return Py_BuildValue("(sN)", "SAck", t);
        }
        return Py_BuildValue("(sy#)", "SAck", v, (Py_ssize_t)n);
    case 8:
        if (n == 8) return Py_BuildValue("(s(kk))", "Timestamp", (unsigned long)fp_load_be32(v),
                                         (unsigned long)fp_load_be32(v + 4));
        return Py_BuildValue("(sy#)", "Timestamp", v, (Py_ssize_t)n);
    case 14:
        if (n == 3) return Py_BuildValue("(s(ii))", "AltChkSum", v[0], fp_load_be16(v + 1));
        return Py_BuildValue("(sy#)", "AltChkSum", v, (Py_ssize_t)n);
    case 15: return Py_BuildValue("(sy#)", "AltChkSumOpt", v, (Py_ssize_t)n);
    case 19: return Py_BuildValue("(sy#)", "MD5", v, (Py_ssize_t)n);
    case 25: return Py_BuildValue("(sy#)", "Mood", v, (Py_ssize_t)n);
    case 28:
        if (n == 2) return Py_BuildValue("(si)", "UTO", fp_load_be16(v));
        return Py_BuildValue("(sy#)", "UTO", v, (Py_ssize_t)n);
    case 29: return Py_BuildValue("(sy#)", "AO", v, (Py_ssize_t)n);
    case 34:
        if (n == 8) return Py_BuildValue("(s(kk))", "TFO", (unsigned long)fp_load_be32(v),
                                         (unsigned long)fp_load_be32(v + 4));
        return Py_BuildValue("(sy#)", "TFO", v, (Py_ssize_t)n);
    default: return Py_BuildValue("(iy#)", o->kind, v, (Py_ssize_t)n);
    }
}

static PyObject *tcp_get_options(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    tcp_opts t;
    tcp_read_options(l, &t);
    PyObject *list = PyList_New(t.n);
    for (int i = 0; list != NULL && i < t.n; i++) {
        PyObject *o = tcp_option_tuple(l, &t.o[i]);
        if (o == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, o);
    }
    return list;
}

/* The first option of `kind` with exactly `want` value bytes (want < 0: any). */
static const uint8_t *tcp_find_option(const FpLayer *l, uint8_t kind, int want, uint32_t *n)
{
    tcp_opts t;
    tcp_read_options(l, &t);
    for (int i = 0; i < t.n; i++) {
        if (t.o[i].kind != kind) continue;
        const uint8_t *v = tcp_opt_value(l, &t.o[i], n);
        if (want < 0 || *n == (uint32_t)want) return v;
    }
    return NULL;
}

enum { OPT_MSS, OPT_WSCALE, OPT_SACKOK, OPT_SACK, OPT_TS };

static PyObject *tcp_get_opt(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    uint32_t n = 0;
    const uint8_t *v;
    switch ((int)(intptr_t)closure) {
    case OPT_MSS:
        v = tcp_find_option(l, 2, 2, &n);
        if (v == NULL) Py_RETURN_NONE;
        return PyLong_FromLong(fp_load_be16(v));
    case OPT_WSCALE:
        v = tcp_find_option(l, 3, 1, &n);
        if (v == NULL) Py_RETURN_NONE;
        return PyLong_FromLong(v[0]);
    case OPT_SACKOK: return PyBool_FromLong(tcp_find_option(l, 4, -1, &n) != NULL);
    case OPT_TS:
        v = tcp_find_option(l, 8, 8, &n);
        if (v == NULL) Py_RETURN_NONE;
        return Py_BuildValue("(kk)", (unsigned long)fp_load_be32(v), (unsigned long)fp_load_be32(v + 4));
    case OPT_SACK: {
        v = tcp_find_option(l, 5, -1, &n);
        uint32_t blocks = v ? n / 8 : 0;
        PyObject *list = PyList_New(blocks);
        for (uint32_t i = 0; list != NULL && i < blocks; i++) {
            PyObject *t = Py_BuildValue("(kk)", (unsigned long)fp_load_be32(v + 8 * i),
                                        (unsigned long)fp_load_be32(v + 8 * i + 4));
            if (t == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, i, t);
        }
        return list;
    }
    default: Py_RETURN_NONE;
    }
}

static PyGetSetDef tcp_getset[] = {
    {"sport", get_field, NULL, "Source port.", U16(0)},
    {"dport", get_field, NULL, "Destination port.", U16(2)},
    {"seq", get_field, NULL, "Sequence number (raw, not relative).", U32(4)},
    {"ack", get_field, NULL, "Acknowledgment number (raw).", U32(8)},
    {"dataofs", get_field, NULL, "Data offset (header length in 32-bit words).", FLD(12, 1, 4, 4)},
    {"reserved", get_field, NULL, "Reserved bits (3).", FLD(12, 1, 1, 3)},
    {"flags", tcp_get_flags, NULL,
     "Flags as a TCPFlags: int-like (flags & 0x02), str() like 'SA', flags.S ...", NULL},
    {"window", get_field, NULL, "Window size (unscaled).", U16(14)},
    {"chksum", get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(16)},
    {"urgptr", get_field, NULL, "Urgent pointer.", U16(18)},
    {"options", tcp_get_options, NULL,
     "Options, Scapy-style: [('MSS', 1460), ('NOP', None), ('WScale', 7), ('SAckOK', b''),\n"
     "('SAck', (l, r, ...)), ('Timestamp', (tsval, tsecr)), ('EOL', None)]; unknown kinds as\n"
     "(kind, bytes). Stops at a malformed option.",
     NULL},
    {"mss", tcp_get_opt, NULL, "MSS option value, None if absent.", (void *)OPT_MSS},
    {"wscale", tcp_get_opt, NULL, "Window scale shift count, None if absent.", (void *)OPT_WSCALE},
    {"sack_permitted", tcp_get_opt, NULL, "True if the SACK-permitted option is present.",
     (void *)OPT_SACKOK},
    {"sack", tcp_get_opt, NULL, "SACK blocks as [(left, right), ...] (empty if none).", (void *)OPT_SACK},
    {"timestamp", tcp_get_opt, NULL, "(tsval, tsecr) of the Timestamps option, None if absent.",
     (void *)OPT_TS},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef udp_getset[] = {
    {"sport", get_field, NULL, "Source port.", U16(0)},
    {"dport", get_field, NULL, "Destination port.", U16(2)},
    {"len", get_field, NULL, "Length field (header + data).", U16(4)},
    {"chksum", get_field, NULL, "Checksum as on the wire, 0 = none (see checksum_ok()).", U16(6)},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Identifier/sequence: ICMP echo 0/8 and, as in Scapy, timestamp 13/14, information
 * 15/16 and address mask 17/18 (RFC 792, RFC 950); ICMPv6 echo 128/129. None otherwise. */
static PyObject *icmp_get_echo(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    const uint8_t *p = ldata(l) + s->off;
    if (s->hlen < 8 || s->off + 8 > s->end) Py_RETURN_NONE;
    int echo = l->id == FP_L_ICMP ? (p[0] == 0 || p[0] == 8 || (p[0] >= 13 && p[0] <= 18))
                                  : (p[0] == 128 || p[0] == 129);
    if (!echo) Py_RETURN_NONE;
    return PyLong_FromLong(fp_load_be16(p + ((intptr_t)closure ? 6 : 4)));
}

static PyGetSetDef icmp_getset[] = {
    {"type", get_field, NULL, "Message type (8 echo request, 0 echo reply, 3 unreachable ...).", U8(0)},
    {"code", get_field, NULL, "Message code.", U8(1)},
    {"chksum", get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(2)},
    {"id", icmp_get_echo, NULL,
     "Identifier for echo, timestamp, information and address-mask messages (types 0, 8, 13-18),\n"
     "else None (as in Scapy).",
     (void *)0},
    {"seq", icmp_get_echo, NULL, "Sequence number, for the same types as id; else None.", (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef icmp6_getset[] = {
    {"type", get_field, NULL, "Message type (128 echo request, 129 echo reply, 135 NS, 136 NA ...).",
     U8(0)},
    {"code", get_field, NULL, "Message code.", U8(1)},
    {"chksum", get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(2)},
    {"id", icmp_get_echo, NULL, "Echo identifier (echo request/reply only, else None).", (void *)0},
    {"seq", icmp_get_echo, NULL, "Echo sequence number (echo request/reply only, else None).", (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ====================================================================== */
/* DNS                                                                     */
/* ====================================================================== */

static int dns_msg(const FpLayer *l, const uint8_t **msg, uint32_t *len)
{
    return fp_dns_message(ldata(l), &l->pkt->d, msg, len);
}

/* Header fields (same closure encoding as get_field, relative to the DNS header). */
static PyObject *dns_get_field(PyObject *self, void *closure)
{
    const uint8_t *msg;
    uint32_t len, v;
    if (dns_msg(LAYER(self), &msg, &len) < 0 || field_load(msg, len, (uintptr_t)closure, &v) < 0)
        Py_RETURN_NONE;
    return field_obj((uintptr_t)closure, v);
}

/* A decoded name as str, without the trailing dot of the root (like tshark). */
static PyObject *dns_name_str(const char *name)
{
    size_t n = strnlen(name, FP_DNS_NAME_MAX);
    if (n > 1 && name[n - 1] == '.' && name[n - 2] != '\\') n--;
    return PyUnicode_DecodeLatin1(name, (Py_ssize_t)n, NULL);
}

static PyTypeObject *dns_record_type(PyObject *self, const char *which)
{
    PyObject *t = PyObject_GetAttrString((PyObject *)Py_TYPE(self), which);
    if (t != NULL && !PyType_Check(t)) {
        Py_DECREF(t);
        PyErr_Format(PyExc_TypeError, "DNS.%s is not a type", which);
        return NULL;
    }
    return (PyTypeObject *)t;
}

static PyObject *dns_question(PyTypeObject *tp, const fp_dns_record *rec)
{
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) return NULL;
    PyObject *name = dns_name_str(rec->name);
    PyObject *qt = PyLong_FromLong(rec->type);
    PyObject *qc = PyLong_FromLong(rec->rclass);
    if (name == NULL || qt == NULL || qc == NULL) {
        Py_XDECREF(name);
        Py_XDECREF(qt);
        Py_XDECREF(qc);
        Py_DECREF(o);
        return NULL;
    }
    PyStructSequence_SET_ITEM(o, 0, name);
    PyStructSequence_SET_ITEM(o, 1, qt);
    PyStructSequence_SET_ITEM(o, 2, qc);
    return o;
}

static PyObject *dns_rdata(const uint8_t *msg, uint32_t len, const fp_dns_record *rec, PyObject *raw)
{
    char stackbuf[4096];
    size_t cap = (size_t)rec->rdlength * 4 + 2 * FP_DNS_NAME_MAX + 128;
    char *buf = cap <= sizeof stackbuf ? stackbuf : PyMem_Malloc(cap);
    if (buf == NULL) return PyErr_NoMemory();
    int n = fp_dns_rdata_text(msg, len, rec, buf, cap);
    PyObject *r;
    if (n < 0) /* -2 unknown type, -1 malformed: the bytes as they are */
        r = Py_NewRef(raw);
    else
        r = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)((size_t)n < cap ? (size_t)n : cap - 1), "replace");
    if (buf != stackbuf) PyMem_Free(buf);
    return r;
}

static PyObject *dns_resource(PyTypeObject *tp, const uint8_t *msg, uint32_t len,
                              const fp_dns_record *rec)
{
    uint32_t ro = rec->rdata_off, rn = rec->rdlength;
    if (ro > len) ro = len;
    if (rn > len - ro) rn = len - ro;
    PyObject *o = PyStructSequence_New(tp);
    if (o == NULL) return NULL;
    PyObject *raw = PyBytes_FromStringAndSize((const char *)msg + ro, (Py_ssize_t)rn);
    PyObject *items[7] = {
        dns_name_str(rec->name),
        PyLong_FromLong(rec->type),
        PyLong_FromLong(rec->rclass),
        PyLong_FromUnsignedLong(rec->ttl),
        PyLong_FromLong(rec->rdlength),
        raw ? dns_rdata(msg, len, rec, raw) : NULL,
        raw,
    };
    int ok = 1;
    for (int i = 0; i < 7; i++) ok &= items[i] != NULL;
    if (!ok) {
        for (int i = 0; i < 7; i++) Py_XDECREF(items[i]);
        Py_DECREF(o);
        return NULL;
    }
    for (int i = 0; i < 7; i++) PyStructSequence_SET_ITEM(o, i, items[i]);
    return o;
}

/* Walk the message. want: a section to collect into *out (a new list), or -1 to only
 * walk (for `malformed`); -2 to stop at the first question (*out its name or None).
 * *malformed is set when the header is missing or a record could not be decoded.
 * Returns 0, or -1 with a Python error. */
static int dns_walk(PyObject *self, int want, PyObject **out, int *malformed)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    *malformed = 0;
    if (want >= 0) {
        *out = PyList_New(0);
        if (*out == NULL) return -1;
    } else if (want == -2) {
        *out = Py_NewRef(Py_None);
    }
    if (dns_msg(LAYER(self), &msg, &len) < 0 || fp_dns_iter_init(&it, msg, len) != 0) {
        *malformed = 1;
        return 0;
    }
    PyTypeObject *tp = NULL;
    if (want >= 0) {
        tp = dns_record_type(self, want == FP_DNS_QD ? "DNSQR" : "DNSRR");
        if (tp == NULL) goto fail;
    }
    fp_dns_record *rec = PyMem_Malloc(sizeof *rec); /* ~1 KB name buffer: keep it off the stack */
    if (rec == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    int r;
    while ((r = fp_dns_iter_next(&it, rec)) == 1) {
        if (want == -2) {
            if (rec->section == FP_DNS_QD) {
                Py_SETREF(*out, dns_name_str(rec->name));
                if (*out == NULL) goto fail_rec;
            }
            break;
        }
        if (want < 0 || (int)rec->section < want) continue;
        if ((int)rec->section > want) break;
        PyObject *o = want == FP_DNS_QD ? dns_question(tp, rec) : dns_resource(tp, msg, len, rec);
        if (o == NULL || PyList_Append(*out, o) < 0) {
            Py_XDECREF(o);
            goto fail_rec;
        }
        Py_DECREF(o);
    }
    if (r < 0 || it.error) *malformed = 1;
    PyMem_Free(rec);
    Py_XDECREF(tp);
    return 0;
fail_rec:
    PyMem_Free(rec);
fail:
    Py_XDECREF(tp);
    if (out != NULL) Py_CLEAR(*out);
    return -1;
}

static PyObject *dns_get_section(PyObject *self, void *closure)
{
    PyObject *list = NULL;
    int malformed;
    if (dns_walk(self, (int)(intptr_t)closure, &list, &malformed) < 0) return NULL;
    return list;
}

static PyObject *dns_get_qname(PyObject *self, void *c)
{
    (void)c;
    PyObject *name = NULL;
    int malformed;
    if (dns_walk(self, -2, &name, &malformed) < 0) return NULL;
    return name;
}

static PyObject *dns_get_malformed(PyObject *self, void *c)
{
    (void)c;
    int malformed;
    if (dns_walk(self, -1, NULL, &malformed) < 0) return NULL;
    return PyBool_FromLong(malformed);
}

static PyGetSetDef dns_getset[] = {
    {"id", dns_get_field, NULL, "Transaction id.", U16(0)},
    {"qr", dns_get_field, NULL, "0 query, 1 response.", FLD(2, 2, 15, 1)},
    {"opcode", dns_get_field, NULL, "Opcode (0 QUERY, 4 NOTIFY, 5 UPDATE ...).", FLD(2, 2, 11, 4)},
    {"aa", dns_get_field, NULL, "Authoritative answer bit.", FLD(2, 2, 10, 1)},
    {"tc", dns_get_field, NULL, "Truncated bit.", FLD(2, 2, 9, 1)},
    {"rd", dns_get_field, NULL, "Recursion desired bit.", FLD(2, 2, 8, 1)},
    {"ra", dns_get_field, NULL, "Recursion available bit.", FLD(2, 2, 7, 1)},
    {"z", dns_get_field, NULL, "Reserved bit.", FLD(2, 2, 6, 1)},
    {"ad", dns_get_field, NULL, "Authentic data bit (DNSSEC).", FLD(2, 2, 5, 1)},
    {"cd", dns_get_field, NULL, "Checking disabled bit (DNSSEC).", FLD(2, 2, 4, 1)},
    {"rcode", dns_get_field, NULL, "Response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN ...).",
     FLD(2, 2, 0, 4)},
    {"qdcount", dns_get_field, NULL, "Question count from the header.", U16(4)},
    {"ancount", dns_get_field, NULL, "Answer count from the header.", U16(6)},
    {"nscount", dns_get_field, NULL, "Authority count from the header.", U16(8)},
    {"arcount", dns_get_field, NULL, "Additional count from the header.", U16(10)},
    {"qd", dns_get_section, NULL,
     "Questions as DNSQR(qname, qtype, qclass); names have no trailing dot (Scapy keeps one).",
     (void *)FP_DNS_QD},
    {"an", dns_get_section, NULL,
     "Answers as DNSRR(rrname, type, rclass, ttl, rdlen, rdata, rdata_raw).", (void *)FP_DNS_AN},
    {"ns", dns_get_section, NULL, "Authority records (DNSRR).", (void *)FP_DNS_NS},
    {"ar", dns_get_section, NULL, "Additional records (DNSRR).", (void *)FP_DNS_AR},
    {"qname", dns_get_qname, NULL,
     "Name of the first question without the trailing dot ('example.com'), None if none.", NULL},
    {"malformed", dns_get_malformed, NULL,
     "True if the records could not all be decoded (the lists hold what came before).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyStructSequence_Field dnsqr_fields[] = {
    {"qname", "Queried name, without the trailing dot (Scapy keeps it: b'example.com.')."},
    {"qtype", "Query type (1 A, 28 AAAA, 5 CNAME, 15 MX, 16 TXT, 255 ANY ...)."},
    {"qclass", "Query class (1 IN)."},
    {NULL, NULL},
};

static PyStructSequence_Desc dnsqr_desc = {
    "fastpkt.DNSQR",
    "A DNS question: (qname, qtype, qclass). qname has no trailing dot.",
    dnsqr_fields,
    3,
};

static PyStructSequence_Field dnsrr_fields[] = {
    {"rrname", "Owner name, without the trailing dot."},
    {"type", "Record type (1 A, 28 AAAA, 5 CNAME ...)."},
    {"rclass", "Record class (1 IN; EDNS OPT records carry the UDP size here)."},
    {"ttl", "Time to live in seconds."},
    {"rdlen", "RDATA length."},
    {"rdata", "RDATA as text for A/AAAA/CNAME/NS/PTR/MX/TXT/SOA/SRV, raw bytes otherwise."},
    {"rdata_raw", "RDATA bytes as on the wire."},
    {NULL, NULL},
};

static PyStructSequence_Desc dnsrr_desc = {
    "fastpkt.DNSRR",
    "A DNS resource record: (rrname, type, rclass, ttl, rdlen, rdata, rdata_raw).",
    dnsrr_fields,
    7,
};

/* ====================================================================== */
/* HTTP                                                                    */
/* ====================================================================== */

static int http_parse(const FpLayer *l, fp_http_message *m)
{
    memset(m, 0, sizeof *m);
    return fp_http_parse(ldata(l), &l->pkt->d, m);
}

/* A slice of the record as str (latin-1: never fails, one char per byte). */
static PyObject *slice_str(const FpLayer *l, fp_slice s)
{
    uint32_t caplen = l->pkt->caplen;
    if (s.off > caplen) s.off = caplen;
    if (s.len > caplen - s.off) s.len = caplen - s.off;
    return PyUnicode_DecodeLatin1((const char *)ldata(l) + s.off, (Py_ssize_t)s.len, NULL);
}

static PyObject *slice_str_trim(const FpLayer *l, fp_slice s)
{
    const uint8_t *p = ldata(l);
    uint32_t caplen = l->pkt->caplen;
    if (s.off > caplen) s.off = caplen;
    if (s.len > caplen - s.off) s.len = caplen - s.off;
    while (s.len && (p[s.off] == ' ' || p[s.off] == '\t')) s.off++, s.len--;
    while (s.len && (p[s.off + s.len - 1] == ' ' || p[s.off + s.len - 1] == '\t')) s.len--;
    return slice_str(l, s);
}

static int slice_ieq(const FpLayer *l, fp_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n || (uint64_t)s.off + s.len > l->pkt->caplen) return 0;
    const uint8_t *p = ldata(l) + s.off;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
        if (c != (uint8_t)lit[i]) return 0;
    }
    return 1;
}

enum { HTTP_METHOD, HTTP_URI, HTTP_PATH, HTTP_VERSION, HTTP_STATUS, HTTP_REASON, HTTP_HOST,
       HTTP_IS_REQUEST, HTTP_COMPLETE, HTTP_BODY };

static PyObject *http_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    fp_http_message m;
    int which = (int)(intptr_t)closure;
    int ok = http_parse(l, &m) == 0;
    switch (which) {
    case HTTP_IS_REQUEST: return PyBool_FromLong(ok && m.is_request);
    case HTTP_COMPLETE: return PyBool_FromLong(ok && m.headers_complete);
    case HTTP_VERSION:
        if (!ok) return PyUnicode_FromString("");
        return slice_str(l, m.version);
    default: break;
    }
    if (!ok) {
        if (which == HTTP_BODY) return PyBytes_FromStringAndSize(NULL, 0);
        Py_RETURN_NONE;
    }
    switch (which) {
    case HTTP_METHOD:
        if (!m.is_request) Py_RETURN_NONE;
        return slice_str(l, m.method);
    case HTTP_URI:
        if (!m.is_request) Py_RETURN_NONE;
        return slice_str(l, m.uri);
    case HTTP_PATH: {
        if (!m.is_request) Py_RETURN_NONE;
        fp_slice s = m.uri;
        if ((uint64_t)s.off + s.len > l->pkt->caplen) return slice_str(l, s);
        const uint8_t *p = ldata(l) + s.off;
        for (uint32_t i = 0; i < s.len; i++)
            if (p[i] == '?' || p[i] == '#') {
                s.len = i;
                break;
            }
        return slice_str(l, s);
    }
    case HTTP_STATUS:
        if (m.is_request) Py_RETURN_NONE;
        return PyLong_FromLong(m.status);
    case HTTP_REASON:
        if (m.is_request) Py_RETURN_NONE;
        return slice_str(l, m.reason);
    case HTTP_HOST:
        for (int i = 0; i < m.header_count && i < FP_HTTP_MAX_HEADERS; i++)
            if (slice_ieq(l, m.header_name[i], "host")) return slice_str_trim(l, m.header_value[i]);
        Py_RETURN_NONE;
    case HTTP_BODY: {
        uint32_t end = lspan(l)->end;
        if (!m.headers_complete || m.body_off > end) return PyBytes_FromStringAndSize(NULL, 0);
        return PyBytes_FromStringAndSize((const char *)ldata(l) + m.body_off,
                                         (Py_ssize_t)(end - m.body_off));
    }
    default: Py_RETURN_NONE;
    }
}

static PyObject *http_get_headers(PyObject *self, void *c)
{
    (void)c;
    const FpLayer *l = LAYER(self);
    fp_http_message m;
    PyObject *d = PyDict_New();
    if (d == NULL || http_parse(l, &m) != 0) return d;
    for (int i = 0; i < m.header_count && i < FP_HTTP_MAX_HEADERS; i++) {
        PyObject *raw = slice_str(l, m.header_name[i]);
        PyObject *k = raw ? PyObject_CallMethod(raw, "lower", NULL) : NULL;
        Py_XDECREF(raw);
        PyObject *v = k ? slice_str_trim(l, m.header_value[i]) : NULL;
        if (v == NULL) goto fail_kv;
        PyObject *old = PyDict_GetItemWithError(d, k);
        if (old == NULL && PyErr_Occurred()) goto fail_kv;
        if (old != NULL) {
            PyObject *joined = PyUnicode_FromFormat("%U, %U", old, v);
            Py_SETREF(v, joined);
            if (v == NULL) goto fail_kv;
        }
        if (PyDict_SetItem(d, k, v) < 0) goto fail_kv;
        Py_DECREF(k);
        Py_DECREF(v);
        continue;
    fail_kv:
        Py_XDECREF(k);
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyGetSetDef http_getset[] = {
    {"is_request", http_get, NULL, "True for a request, False for a response.", (void *)HTTP_IS_REQUEST},
    {"method", http_get, NULL, "Request method ('GET', 'POST' ...), None for responses.",
     (void *)HTTP_METHOD},
    {"uri", http_get, NULL, "Request target as sent, None for responses.", (void *)HTTP_URI},
    {"path", http_get, NULL, "Request target without the query string, None for responses.",
     (void *)HTTP_PATH},
    {"version", http_get, NULL, "Protocol version, e.g. 'HTTP/1.1'.", (void *)HTTP_VERSION},
    {"status", http_get, NULL, "Response status code, None for requests.", (void *)HTTP_STATUS},
    {"reason", http_get, NULL, "Response reason phrase, None for requests.", (void *)HTTP_REASON},
    {"headers", http_get_headers, NULL,
     "Headers in this segment: lower-case names, repeated headers joined by ', '.", NULL},
    {"host", http_get, NULL, "Value of the Host header, None if absent.", (void *)HTTP_HOST},
    {"headers_complete", http_get, NULL, "True if the blank line ending the headers is in this segment.",
     (void *)HTTP_COMPLETE},
    {"body", http_get, NULL, "Bytes after the headers within this segment (b'' if none).",
     (void *)HTTP_BODY},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ====================================================================== */
/* TLS                                                                     */
/* ====================================================================== */

enum { TLS_TYPE, TLS_VERSION, TLS_LEN, TLS_HS_TYPE, TLS_IS_CH, TLS_HELLO_VERSION, TLS_SNI,
       TLS_HELLO_COMPLETE };

static PyObject *tls_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    fp_tls_info t;
    memset(&t, 0, sizeof t);
    int ok = fp_tls_parse(ldata(l), &l->pkt->d, &t) == 0;
    int which = (int)(intptr_t)closure;
    if (which == TLS_IS_CH) return PyBool_FromLong(ok && t.is_client_hello);
    if (which == TLS_HELLO_COMPLETE) return PyBool_FromLong(ok && t.hello_complete);
    if (!ok) Py_RETURN_NONE;
    switch (which) {
    case TLS_TYPE: return PyLong_FromLong(t.content_type);
    case TLS_VERSION: return PyLong_FromLong(t.record_version);
    case TLS_LEN: return PyLong_FromLong(t.record_length);
    case TLS_HS_TYPE:
        if (t.handshake_type < 0) Py_RETURN_NONE;
        return PyLong_FromLong(t.handshake_type);
    case TLS_HELLO_VERSION:
        if (t.handshake_type != 1 && t.handshake_type != 2) Py_RETURN_NONE;
        return PyLong_FromLong(t.hello_version);
    case TLS_SNI: {
        fp_slice s = t.sni;
        if (s.len == 0 || (uint64_t)s.off + s.len > l->pkt->caplen) Py_RETURN_NONE;
        return PyUnicode_DecodeASCII((const char *)ldata(l) + s.off, (Py_ssize_t)s.len, "replace");
    }
    default: Py_RETURN_NONE;
    }
}

static PyObject *tls_hello_get(PyObject *self, void *closure)
{
    (void)closure;
    fp_state *st = LAYER(self)->pkt->st;
    return fp_hello_record_packet(st, LAYER(self)->pkt);
}

static PyGetSetDef tls_getset[] = {
    {"type", tls_get, NULL, "Content type of the first record (22 handshake, 23 application data ...).",
     (void *)TLS_TYPE},
    {"version", tls_get, NULL, "Record-layer version (0x0301 ... 0x0303).", (void *)TLS_VERSION},
    {"len", tls_get, NULL, "Length of the first record.", (void *)TLS_LEN},
    {"handshake_type", tls_get, NULL, "First handshake message type (1 ClientHello ...), None if none.",
     (void *)TLS_HS_TYPE},
    {"is_client_hello", tls_get, NULL, "True if the first handshake message is a ClientHello.",
     (void *)TLS_IS_CH},
    {"hello_version", tls_get, NULL, "legacy_version of a Client/ServerHello, None otherwise.",
     (void *)TLS_HELLO_VERSION},
    {"sni", tls_get, NULL,
     "server_name of a ClientHello found in this segment (ASCII, errors replaced), None if absent.",
     (void *)TLS_SNI},
    {"hello_complete", tls_get, NULL, "True if the whole ClientHello is inside this segment.",
     (void *)TLS_HELLO_COMPLETE},
    {"hello", tls_hello_get, NULL,
     "The ClientHello parsed in full (a fastpkt.ClientHello: ciphers, extensions, ALPN, JA3, JA4 ...)\n"
     "when this segment holds all of it, else None. fastpkt.client_hellos() also finds hellos\n"
     "spread over segments and QUIC.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ====================================================================== */
/* Type specs and registration                                             */
/* ====================================================================== */

#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define Py_TPFLAGS_DISALLOW_INSTANTIATION 0
#endif

#define LAYER_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION)

/* Hot fields answered by pointer comparison of the interned name: Python 3.11 does not
 * specialise getset access, and the generic lookup dominates a per-packet loop. */
static PyObject *layer_getattro(PyObject *self, PyObject *name)
{
    const fp_state *st = LAYER(self)->pkt->st;
    unsigned id = LAYER(self)->id;
    for (int i = 0; i < st->layer_fast_n[id]; i++)
        if (st->layer_fast[id][i].name == name)
            return st->layer_fast[id][i].def->get(self, st->layer_fast[id][i].def->closure);
    return PyObject_GenericGetAttr(self, name);
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
            st->layer_fast[id][st->layer_fast_n[id]].def = d;
            st->layer_fast_n[id]++;
            break;
        }
    }
    return 0;
}

static PyType_Slot layer_base_slots[] = {
    {Py_tp_dealloc, layer_dealloc},
    {Py_tp_repr, layer_repr},
    {Py_tp_getset, layer_getset},
    {Py_tp_methods, layer_methods},
    {Py_tp_doc, (void *)layer_doc},
    {0, NULL},
};

static PyType_Spec layer_base_spec = {
    .name = "fastpkt.Layer",
    .basicsize = sizeof(FpLayer),
    .flags = LAYER_FLAGS | Py_TPFLAGS_BASETYPE,
    .slots = layer_base_slots,
};

#define LAYER_SPEC(cname, pyname, doc, getset, methods)                                   \
    static PyType_Slot cname##_slots[] = {                                                \
        {Py_tp_doc, (void *)(doc)},                                                       \
        {Py_tp_dealloc, layer_dealloc}, /* not subtype_dealloc: layers are made per access */ \
        {Py_tp_getattro, layer_getattro},                                                 \
        {Py_tp_getset, getset},                                                           \
        {Py_tp_methods, methods},                                                         \
        {0, NULL},                                                                        \
    };                                                                                    \
    static PyType_Spec cname##_spec = {                                                   \
        .name = "fastpkt." pyname,                                                        \
        .basicsize = sizeof(FpLayer),                                                     \
        .flags = LAYER_FLAGS,                                                             \
        .slots = cname##_slots,                                                           \
    }

static PyMethodDef no_methods[] = {{NULL, NULL, 0, NULL}};
#define NO_METHODS no_methods

LAYER_SPEC(ether, "Ether", "Ethernet II header: dst, src, type.", ether_getset, NO_METHODS);
LAYER_SPEC(sll, "SLL",
           "Linux cooked capture header, v1 (LINKTYPE_LINUX_SLL) or v2 (LINKTYPE_LINUX_SLL2);\n"
           "name is 'SLL' or 'SLL2'.",
           sll_getset, NO_METHODS);
LAYER_SPEC(loop, "Loopback", "BSD NULL/LOOP header: the address family.", loop_getset, NO_METHODS);
LAYER_SPEC(vlan, "Dot1Q", "One 802.1Q/802.1ad tag (pkt.vlans lists them outer to inner).", vlan_getset,
           NO_METHODS);
LAYER_SPEC(arp, "ARP", "ARP message (RFC 826).", arp_getset, NO_METHODS);
LAYER_SPEC(ip4, "IP", "IPv4 header (RFC 791).", ip4_getset, ip4_methods);
LAYER_SPEC(ip6, "IPv6", "IPv6 header (RFC 8200) and its extension header chain.", ip6_getset,
           NO_METHODS);
LAYER_SPEC(tcp, "TCP", "TCP header (RFC 9293) and options.", tcp_getset, l4_methods);
LAYER_SPEC(udp, "UDP", "UDP header (RFC 768).", udp_getset, l4_methods);
LAYER_SPEC(icmp, "ICMP", "ICMP header (RFC 792).", icmp_getset, l4_methods);
LAYER_SPEC(icmp6, "ICMPv6", "ICMPv6 header (RFC 4443).", icmp6_getset, l4_methods);
LAYER_SPEC(dns, "DNS",
           "DNS message (RFC 1035), over UDP or TCP. Records are decoded when qd/an/ns/ar are\n"
           "read; names come without the trailing dot (Scapy keeps it).",
           dns_getset, NO_METHODS);
LAYER_SPEC(http, "HTTP", "HTTP/1.x start line and headers found in one TCP segment.", http_getset,
           NO_METHODS);
LAYER_SPEC(tls, "TLS", "First TLS record in a TCP segment, with ClientHello details (SNI).",
           tls_getset, NO_METHODS);

static const struct {
    PyType_Spec *spec;
    int id;
    const char *const *fields;
} layer_specs[] = {
#define F(...) ((const char *const[]){__VA_ARGS__, NULL})
    {&ether_spec, FP_L_ETH, F("dst", "src", "type")},
    {&sll_spec, FP_L_SLL, F("pkttype", "hatype", "halen", "addr", "proto", "ifindex")},
    {&loop_spec, FP_L_LOOP, F("type")},
    {&vlan_spec, FP_L_VLAN, F("prio", "id", "vlan", "type")},
    {&arp_spec, FP_L_ARP, F("hwtype", "ptype", "hwlen", "plen", "op", "hwsrc", "psrc", "hwdst", "pdst")},
    {&ip4_spec, FP_L_IP4,
     F("version", "ihl", "tos", "len", "id", "flags", "frag", "ttl", "proto", "chksum", "src", "dst",
       "options")},
    {&ip6_spec, FP_L_IP6, F("version", "tc", "fl", "plen", "nh", "hlim", "src", "dst")},
    {&tcp_spec, FP_L_TCP,
     F("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window", "chksum", "urgptr",
       "options")},
    {&udp_spec, FP_L_UDP, F("sport", "dport", "len", "chksum")},
    {&icmp_spec, FP_L_ICMP, F("type", "code", "chksum", "id", "seq")},
    {&icmp6_spec, FP_L_ICMP6, F("type", "code", "chksum", "id", "seq")},
    {&dns_spec, FP_L_DNS,
     F("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd", "rcode", "qdcount", "ancount",
       "nscount", "arcount", "qd", "an", "ns", "ar")},
    {&http_spec, FP_L_HTTP,
     F("method", "uri", "version", "status", "reason", "headers", "body")},
    {&tls_spec, FP_L_TLS,
     F("type", "version", "len", "handshake_type", "hello_version", "sni")},
#undef F
};

static int set_class_attr(PyTypeObject *tp, const char *name, PyObject *value)
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
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t != NULL && i < n; i++) {
        PyObject *s = PyUnicode_InternFromString(names[i]);
        if (s == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

int fp_layers_register(PyObject *m, fp_state *st)
{
    PyTypeObject *base = (PyTypeObject *)PyType_FromModuleAndSpec(m, &layer_base_spec, NULL);
    if (base == NULL) return -1;
    PyObject *empty = PyTuple_New(0);
    int r = set_class_attr(base, "fields", empty);
    Py_XDECREF(empty);
    if (r < 0 || PyModule_AddType(m, base) < 0) {
        Py_DECREF(base);
        return -1;
    }

    for (size_t i = 0; i < sizeof layer_specs / sizeof layer_specs[0]; i++) {
        PyTypeObject *tp =
            (PyTypeObject *)PyType_FromModuleAndSpec(m, layer_specs[i].spec, (PyObject *)base);
        if (tp == NULL) goto fail;
        PyObject *fields = fields_tuple(layer_specs[i].fields);
        r = set_class_attr(tp, "fields", fields);
        Py_XDECREF(fields);
        if (r < 0 || PyModule_AddType(m, tp) < 0) {
            Py_DECREF(tp);
            goto fail;
        }
        int id = layer_specs[i].id;
        Py_XSETREF(st->Layer_Types[id], tp); /* the state owns this reference */
        if (layer_fast_init(st, id, tp->tp_getset) < 0) goto fail;
        if (id == FP_L_SLL && layer_fast_init(st, FP_L_SLL2, tp->tp_getset) < 0) goto fail;
        if (id == FP_L_SLL) Py_XSETREF(st->Layer_Types[FP_L_SLL2], (PyTypeObject *)Py_NewRef(tp));
        if (id == FP_L_DNS) {
            PyTypeObject *qr = PyStructSequence_NewType(&dnsqr_desc);
            PyTypeObject *rr = qr ? PyStructSequence_NewType(&dnsrr_desc) : NULL;
            int bad = rr == NULL || set_class_attr(tp, "DNSQR", (PyObject *)qr) < 0 ||
                      set_class_attr(tp, "DNSRR", (PyObject *)rr) < 0 ||
                      PyModule_AddType(m, qr) < 0 || PyModule_AddType(m, rr) < 0;
            Py_XDECREF(qr);
            Py_XDECREF(rr);
            if (bad) goto fail;
        }
    }

    st->TCPFlags_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &tf_spec, NULL);
    if (st->TCPFlags_Type == NULL || PyModule_AddType(m, st->TCPFlags_Type) < 0) goto fail;
    Py_DECREF(base);
    return 0;
fail:
    Py_DECREF(base);
    return -1;
}
