/* ARP (RFC 826; field layout as in RFC 5227 section 1.1 for Ethernet/IPv4).
 * Only validated here: the span covers the fixed part plus both address pairs,
 * whatever the hardware/protocol address sizes; the bridge reads Ethernet/IPv4
 * fields from it when hlen == 28. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

void fp_dissect_arp(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    if (fp_header_open(x, off, end, 8, FP_ANOM_ARP_TRUNC, &c) < 0)
        return;
    uint32_t hln = fp_peek_u8(&c, 4), pln = fp_peek_u8(&c, 5);
    uint32_t hlen = 8 + 2 * (hln + pln);
    if (fp_header_open(x, off, end, hlen, FP_ANOM_ARP_TRUNC, &c) < 0)
        return;
    /* The span ends with the ARP body: what follows is Ethernet padding. */
    fp_set_layer(d, FP_L_ARP, off, hlen, off + hlen);
    fp_set_payload(d, off + hlen, off + hlen);
}

/* ---- Fields (Wireshark's arp) ------------------------------------------ */

/* Addresses: arp.*.hw_mac for Ethernet/IEEE 802 hardware of 6 bytes, arp.*.proto_ipv4
 * for IPv4 (or AX.25's 0xcc) of 4 bytes, as Wireshark types them. arg 1: target. */
static int arp_addr(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_ARP))
        return 0;
    const fp_span *s = &x->d->layer[FP_L_ARP];
    const uint8_t *p = x->data + s->off;
    uint32_t hrd = fp_load_be16(p), pro = fp_load_be16(p + 2), hln = p[4], pln = p[5];
    if (hln != 6 || pln != 4 || (hrd != 1 && hrd != 6) || (pro != 0x0800 && pro != 0xcc))
        return 0;
    uint32_t at = 8 + f->arg * (hln + pln) + (f->type == FP_FT_IPV4 ? hln : 0);
    fp_field_value v;
    fp_field_decode(f, p + at, &v);
    visit(arg, &v);
    return 1;
}

static const fp_field arp_fields[] = {
    FP_FIELD_PROTO("arp", FP_L_ARP),
    FP_FIELD_UINT("arp.hw.type", FP_L_ARP, 0, 16, 0),
    FP_FIELD_UINT("arp.proto.type", FP_L_ARP, 2, 16, 0),
    FP_FIELD_UINT("arp.hw.size", FP_L_ARP, 4, 8, 0),
    FP_FIELD_UINT("arp.proto.size", FP_L_ARP, 5, 8, 0),
    FP_FIELD_UINT("arp.opcode", FP_L_ARP, 6, 16, 0),
    {"arp.src.hw_mac", FP_FT_MAC, 0, FP_L_ARP, 0, 0, 0, arp_addr},
    {"arp.src.proto_ipv4", FP_FT_IPV4, 32, FP_L_ARP, 0, 0, 0, arp_addr},
    {"arp.dst.hw_mac", FP_FT_MAC, 0, FP_L_ARP, 1, 0, 0, arp_addr},
    {"arp.dst.proto_ipv4", FP_FT_IPV4, 32, FP_L_ARP, 1, 0, 0, arp_addr},
};
FP_FIELD_TABLE(fp_fields_arp, "arp", arp_fields);

/* ---- Building (build.h): Scapy's ARP (Ethernet/IPv4) ------------------- */
#include "build.h"

static const fp_bfield arp_bfields[] = {
    FP_BU("hwtype", FP_BF_HEX, 0, 2, 0, 16, 1),
    FP_BU("ptype", FP_BF_HEX, 2, 2, 0, 16, 0x0800),
    FP_BU("hwlen", FP_BF_AUTO, 4, 1, 0, 8, 6),
    FP_BU("plen", FP_BF_AUTO, 5, 1, 0, 8, 4),
    FP_BU("op", 0, 6, 2, 0, 16, 1),
    FP_BA("hwsrc", FP_BK_MAC, 0, 8, 0, 0),
    FP_BA("psrc", FP_BK_IP4, FP_BF_ROUTE, 14, 0, 0),
    FP_BA("hwdst", FP_BK_MAC, 0, 18, 0, 0),
    FP_BA("pdst", FP_BK_IP4, 0, 24, 0, 0),
};
const fp_bproto fp_bproto_arp = {"ARP", FP_B_ARP, 28, 9, 0, 0, arp_bfields, NULL, NULL, NULL, NULL};
