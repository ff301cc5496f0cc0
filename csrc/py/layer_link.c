/* Link layers (csrc/dissect/link.c): Ethernet II, Linux cooked capture v1/v2, BSD
 * NULL/LOOP and 802.1Q/802.1ad tags. */
#include "layer.h"

static PyGetSetDef ether_getset[] = {
    {"dst", fp_layer_get_mac, NULL, "Destination MAC address, 'aa:bb:cc:dd:ee:ff'.", (void *)0},
    {"src", fp_layer_get_mac, NULL, "Source MAC address, 'aa:bb:cc:dd:ee:ff'.", (void *)6},
    {"type", fp_layer_get_field, NULL, "EtherType (0x0800 IPv4, 0x86dd IPv6, 0x8100 VLAN ...).", U16(12)},
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
    return halen == 6 ? fp_mac_str(a) : fp_hex_colon_str(a, halen);
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
    {"type", fp_layer_get_field, NULL, "EtherType that follows this tag.", U16(2)},
    {"tpid", vlan_get, NULL, "Tag protocol identifier: 0x8100, 0x88a8 or 0x9100.", (void *)VLAN_TPID},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(ether, "Ether", "Ethernet II header: dst, src, type.", ether_getset, fp_layer_no_methods);
LAYER_SPEC(sll, "SLL",
           "Linux cooked capture header, v1 (LINKTYPE_LINUX_SLL) or v2 (LINKTYPE_LINUX_SLL2);\n"
           "name is 'SLL' or 'SLL2'.",
           sll_getset, fp_layer_no_methods);
LAYER_SPEC(loop, "Loopback", "BSD NULL/LOOP header: the address family.", loop_getset, fp_layer_no_methods);
LAYER_SPEC(vlan, "Dot1Q", "One 802.1Q/802.1ad tag (pkt.vlans lists them outer to inner).", vlan_getset,
           fp_layer_no_methods);

const fp_layer_def fp_layer_ether = {&ether_spec, FP_L_ETH, FP_NAMES("dst", "src", "type"),
                                     FP_NAMES("src", "dst", "#type"), NULL};
/* Serves SLL2 as well; ifindex is None (so not shown) for v1. */
const fp_layer_def fp_layer_sll = {&sll_spec, FP_L_SLL,
                                   FP_NAMES("pkttype", "hatype", "halen", "addr", "proto", "ifindex"),
                                   FP_NAMES("pkttype", "addr", "#proto", "ifindex"), NULL};
const fp_layer_def fp_layer_loop = {&loop_spec, FP_L_LOOP, FP_NAMES("type"), FP_NAMES("type"), NULL};
const fp_layer_def fp_layer_vlan = {&vlan_spec, FP_L_VLAN, FP_NAMES("prio", "id", "vlan", "type"),
                                    FP_NAMES("vlan", "prio", "#type"), NULL};
