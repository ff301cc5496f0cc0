/* IPv4 (RFC 791, csrc/dissect/ipv4.c) and IPv6 with its extension headers (RFC 8200,
 * csrc/dissect/ipv6.c). */
#include "layer.h"

static PyObject *ip4_checksum_ok(PyObject *self, PyObject *unused)
{
    (void)unused;
    const FpLayer *l = LAYER(self);
    if (l->pkt == NULL) return fp_builder_method(self, "checksum_ok");
    if (!louter(l) && FP_HAS(&l->pkt->d, FP_L_IP4)) return tristate(fp_ip4_checksum_ok(ldata(l), &l->pkt->d));
    /* the outer header, or the one around a tunnel carrying no IP (pkt.ip there), in the IPv4 slot */
    fp_dissection outer = l->pkt->d;
    outer.layer[FP_L_IP4] = *lspan(l);
    outer.present |= 1u << FP_L_IP4;
    return tristate(fp_ip4_checksum_ok(ldata(l), &outer));
}

static PyMethodDef ip4_methods[] = {
    {"checksum_ok", ip4_checksum_ok, METH_NOARGS,
     "True if the header checksum is valid, False if not, None when it cannot be checked."},
    {NULL, NULL, 0, NULL},
};

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
    {"version", fp_layer_get_field, NULL, "IP version (4).", FLD(0, 1, 4, 4)},
    {"ihl", fp_layer_get_field, NULL, "Header length in 32-bit words.", FLD(0, 1, 0, 4)},
    {"tos", fp_layer_get_field, NULL, "Type of service / DSCP+ECN byte.", U8(1)},
    {"len", fp_layer_get_field, NULL, "Total length field.", U16(2)},
    {"id", fp_layer_get_field, NULL, "Identification.", U16(4)},
    {"flags", fp_layer_get_field, NULL, "Flags as an int: 1 MF, 2 DF, 4 reserved (evil) bit.", FLD(6, 1, 5, 3)},
    {"DF", fp_layer_get_field, NULL, "Don't Fragment flag.", FLDB(6, 1, 6)},
    {"MF", fp_layer_get_field, NULL, "More Fragments flag.", FLDB(6, 1, 5)},
    {"frag", fp_layer_get_field, NULL, "Fragment offset in 8-byte units, as in the header (like Scapy).",
     FLD(6, 2, 0, 13)},
    {"frag_bytes", ip4_get_frag_bytes, NULL, "Fragment offset in bytes (frag * 8).", NULL},
    {"ttl", fp_layer_get_field, NULL, "Time to live.", U8(8)},
    {"proto", fp_layer_get_field, NULL, "Protocol number (6 TCP, 17 UDP, 1 ICMP ...).", U8(9)},
    {"chksum", fp_layer_get_field, NULL, "Header checksum as on the wire (see checksum_ok()).", U16(10)},
    {"src", fp_layer_get_ip4, NULL, "Source address, dotted quad.", (void *)12},
    {"dst", fp_layer_get_ip4, NULL, "Destination address, dotted quad.", (void *)16},
    {"options", ip4_get_options, NULL, "Raw option bytes (header bytes past the first 20).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const fp_ip6_ext *ip6_frag_ext(const FpLayer *l)
{
    const fp_dissection *d = &l->pkt->d;
    if (louter(l)) return NULL; /* an outer header's extension headers are not recorded */
    for (int i = 0; i < d->ip6_ext_count && i < FP_MAX_IP6_EXT; i++)
        if (d->ip6_ext[i].type == 44 && d->ip6_ext[i].off + 4 <= lspan(l)->end) return &d->ip6_ext[i];
    return NULL;
}

static PyObject *ip6_get_ext_headers(PyObject *self, void *c)
{
    (void)c;
    const fp_dissection *d = &LAYER(self)->pkt->d;
    int n = louter(LAYER(self)) ? 0 : d->ip6_ext_count < FP_MAX_IP6_EXT ? d->ip6_ext_count : FP_MAX_IP6_EXT;
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
    const FpLayer *l = LAYER(self);
    if (louter(l)) return PyLong_FromLong(ldata(l)[lspan(l)->off + 6]); /* its next header */
    return PyLong_FromLong(l->pkt->d.ip_proto);
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
    {"version", fp_layer_get_field, NULL, "IP version (6).", FLD(0, 1, 4, 4)},
    {"tc", fp_layer_get_field, NULL, "Traffic class.", FLD(0, 2, 4, 8)},
    {"fl", fp_layer_get_field, NULL, "Flow label (20 bits).", FLD(0, 4, 0, 20)},
    {"plen", fp_layer_get_field, NULL, "Payload length field.", U16(4)},
    {"nh", fp_layer_get_field, NULL, "Next header of the fixed header (may be an extension header).", U8(6)},
    {"hlim", fp_layer_get_field, NULL, "Hop limit.", U8(7)},
    {"ttl", fp_layer_get_field, NULL, "Alias of hlim, so code written for IP works.", U8(7)},
    {"src", fp_layer_get_ip6, NULL, "Source address, RFC 5952 text.", (void *)8},
    {"dst", fp_layer_get_ip6, NULL, "Destination address, RFC 5952 text.", (void *)24},
    {"ext_headers", ip6_get_ext_headers, NULL,
     "Extension headers as (next-header value, offset in packet, length) tuples.", NULL},
    {"proto", ip6_get_proto, NULL, "Upper-layer protocol after the extension headers.", NULL},
    {"frag", ip6_get_frag, NULL,
     "Fragment offset in 8-byte units from the Fragment header, None without one.", NULL},
    {"MF", ip6_get_mf, NULL, "More Fragments flag of the Fragment header (False without one).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(ip4, "IP", "IPv4 header (RFC 791).", ip4_getset, ip4_methods);
LAYER_SPEC(ip6, "IPv6", "IPv6 header (RFC 8200) and its extension header chain.", ip6_getset,
           fp_layer_no_methods);

const fp_layer_def fp_layer_ip4 = {
    &ip4_spec, FP_L_IP4,
    FP_NAMES("version", "ihl", "tos", "len", "id", "flags", "frag", "ttl", "proto", "chksum", "src", "dst",
             "options"),
    FP_NAMES("src", "dst", "proto", "ttl"), NULL};
const fp_layer_def fp_layer_ip6 = {&ip6_spec, FP_L_IP6,
                                   FP_NAMES("version", "tc", "fl", "plen", "nh", "hlim", "src", "dst"),
                                   FP_NAMES("src", "dst", "nh", "hlim"), NULL};
