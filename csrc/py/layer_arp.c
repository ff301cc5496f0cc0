/* ARP (RFC 826, csrc/dissect/arp.c). */
#include "layer.h"

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
        return fp_hex_colon_str(a, n);
    }
    return n == 6 ? fp_mac_str(a) : fp_hex_colon_str(a, n);
}

static PyGetSetDef arp_getset[] = {
    {"hwtype", fp_layer_get_field, NULL, "Hardware type (1 Ethernet).", U16(0)},
    {"ptype", fp_layer_get_field, NULL, "Protocol type (0x0800 IPv4).", U16(2)},
    {"hwlen", fp_layer_get_field, NULL, "Hardware address length.", U8(4)},
    {"plen", fp_layer_get_field, NULL, "Protocol address length.", U8(5)},
    {"op", fp_layer_get_field, NULL, "Operation: 1 who-has (request), 2 is-at (reply).", U16(6)},
    {"hwsrc", arp_get_addr, NULL, "Sender hardware address.", (void *)0},
    {"psrc", arp_get_addr, NULL, "Sender protocol address (dotted quad for IPv4).", (void *)1},
    {"hwdst", arp_get_addr, NULL, "Target hardware address.", (void *)2},
    {"pdst", arp_get_addr, NULL, "Target protocol address.", (void *)3},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(arp, "ARP", "ARP message (RFC 826).", arp_getset, fp_layer_no_methods);

const fp_layer_def fp_layer_arp = {
    &arp_spec, FP_L_ARP, FP_NAMES("hwtype", "ptype", "hwlen", "plen", "op", "hwsrc", "psrc", "hwdst", "pdst"),
    FP_NAMES("op", "hwsrc", "psrc", "hwdst", "pdst"), NULL};
