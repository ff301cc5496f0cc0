/* Link layers and the fp_dissect() entry point.
 *   Ethernet II / 802.3 length field: IEEE 802.3 clause 3.2.6 (type >= 0x0600 is an EtherType).
 *   802.1Q C-tag 0x8100, 802.1ad S-tag 0x88a8, legacy QinQ 0x9100: IEEE 802.1Q clause 9.
 *   Linux cooked capture v1/v2, BSD NULL/LOOP, RAW, IPV4, IPV6, PPP: tcpdump.org LINKTYPE_ registry. */
#include "cursor.h"
#include "dissect.h"

const char *const fp_anomaly_names[FP_ANOM_COUNT_BITS] = {
    "snaplen",       "link_trunc",    "vlan_depth",     "arp_trunc",      "ip4_trunc",
    "ip4_bad_ihl",   "ip4_bad_len",   "ip6_trunc",      "ip6_bad_len",    "ip6_ext",
    "tcp_trunc",     "tcp_bad_off",   "tcp_bad_opt",    "udp_trunc",      "udp_bad_len",
    "icmp_trunc",    "dns_malformed", "dns_name",       "http_malformed", "tls_malformed",
    "ip_fragment",   "dns_pointer_chain",
};

enum { ETHERTYPE_IP4 = 0x0800, ETHERTYPE_ARP = 0x0806, ETHERTYPE_RARP = 0x8035, ETHERTYPE_IP6 = 0x86dd };

static int is_vlan_tpid(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

/* VLAN tags start at `off` with the TPID already consumed by the caller (tag = TCI + type). */
void fp_dissect_ethertype(fp_dctx *x, uint32_t off, uint32_t end, uint16_t type)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    uint32_t tags_off = off;
    while (is_vlan_tpid(type)) {
        uint16_t tci, next;
        if (d->vlan_count == FP_MAX_VLAN) { /* keep what we have, leave the rest raw */
            d->anomalies |= FP_ANOM_VLAN_DEPTH;
            fp_set_payload(d, fp_cur_off(&c), end);
            return;
        }
        if (fp_get_be16(&c, &tci) || fp_get_be16(&c, &next)) {
            d->anomalies |= FP_ANOM_LINK_TRUNC;
            fp_set_payload(d, fp_cur_off(&c), end);
            return;
        }
        d->vlan[d->vlan_count].tpid = type;
        d->vlan[d->vlan_count].tci = tci;
        d->vlan_count++;
        fp_set_layer(d, FP_L_VLAN, tags_off, fp_cur_off(&c) - tags_off, end);
        type = next;
    }
    off = fp_cur_off(&c);
    if (type < 0x0600) { /* 802.3 length: LLC follows, no EtherType to dispatch on */
        uint32_t llc_end = (uint32_t)type <= end - off ? off + type : end;
        fp_set_payload(d, off, llc_end);
        return;
    }
    d->ethertype = type;
    switch (type) {
    case ETHERTYPE_IP4: fp_dissect_ip4(x, off, end); return;
    case ETHERTYPE_IP6: fp_dissect_ip6(x, off, end); return;
    case ETHERTYPE_ARP: case ETHERTYPE_RARP: fp_dissect_arp(x, off, end); return; /* RFC 903 */
    default: fp_set_payload(d, off, end); return;
    }
}

static void dissect_ethernet(fp_dctx *x)
{
    fp_cursor c = fp_cursor_make(x->data, x->caplen);
    uint16_t type;
    if (fp_skip(&c, 12) || fp_get_be16(&c, &type)) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    fp_set_layer(x->d, FP_L_ETH, 0, 14, x->caplen);
    fp_dissect_ethertype(x, 14, x->caplen, type);
}

/* Cooked headers: fixed size, protocol (an EtherType) at a fixed offset. */
static void dissect_cooked(fp_dctx *x, fp_layer_id id, uint32_t hlen, uint32_t proto_at)
{
    fp_cursor c = fp_cursor_make(x->data, x->caplen);
    if (!fp_cur_has(&c, hlen)) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    fp_set_layer(x->d, id, 0, hlen, x->caplen);
    uint16_t proto = fp_peek_be16(&c, proto_at);
    if (proto < 0x0600) { /* ARPHRD-specific codes (802.2 LLC, CAN...), not a length */
        fp_set_payload(x->d, hlen, x->caplen);
        return;
    }
    fp_dissect_ethertype(x, hlen, x->caplen, proto);
}

/* Raw IP: the version nibble says which. */
static void dissect_ip_by_version(fp_dctx *x, uint32_t off)
{
    fp_cursor c = fp_cursor_make(x->data, x->caplen);
    c.ptr += off;
    if (!fp_cur_has(&c, 1)) {
        fp_set_payload(x->d, off, x->caplen);
        return;
    }
    switch (fp_peek_u8(&c, 0) >> 4) {
    case 4: x->d->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(x, off, x->caplen); return;
    case 6: x->d->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(x, off, x->caplen); return;
    default: fp_set_payload(x->d, off, x->caplen); return;
    }
}

/* NULL (host byte order of the capturing machine) and LOOP (network order) carry
 * a 4-byte BSD address family. AF_INET6 differs by OS: 24 NetBSD/OpenBSD,
 * 28 FreeBSD, 30 macOS. Either byte order is accepted for NULL (a family fits in
 * 16 bits, so a value above 0xffff was written the other way round). */
static void dissect_loop(fp_dctx *x, int network_order)
{
    fp_cursor c = fp_cursor_make(x->data, x->caplen);
    if (!fp_cur_has(&c, 4)) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    uint32_t af = fp_load_be32(c.ptr);
    if (!network_order && af > 0xffff) /* written little-endian: swap */
        af = fp_load_le32(c.ptr);
    fp_set_layer(x->d, FP_L_LOOP, 0, 4, x->caplen);
    switch (af) {
    case 2: x->d->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(x, 4, x->caplen); return;
    case 24: case 28: case 30:
        x->d->ethertype = ETHERTYPE_IP6;
        fp_dissect_ip6(x, 4, x->caplen);
        return;
    default: break;
    }
    /* Some old captures put an EtherType in the low half (as Wireshark accepts). */
    uint16_t type = fp_load_be16(c.ptr + 2);
    if (type == ETHERTYPE_IP4 || type == ETHERTYPE_IP6) {
        fp_dissect_ethertype(x, 4, x->caplen, type);
        return;
    }
    fp_set_payload(x->d, 4, x->caplen);
}

/* PPP (RFC 1661), in HDLC-like framing when it starts with address 0xff and control 0x03
 * (RFC 1662); the protocol field may be compressed to one byte (odd first byte). */
static void dissect_ppp(fp_dctx *x)
{
    uint32_t off = x->caplen >= 2 && x->data[0] == 0xff && x->data[1] == 0x03 ? 2 : 0;
    uint16_t proto;
    if (off < x->caplen && (x->data[off] & 1)) {
        proto = x->data[off];
        off += 1;
    } else if (off + 2 <= x->caplen) {
        proto = fp_load_be16(x->data + off);
        off += 2;
    } else {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    switch (proto) {
    case 0x0021: x->d->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(x, off, x->caplen); return;
    case 0x0057: x->d->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(x, off, x->caplen); return;
    default: fp_set_payload(x->d, off, x->caplen); return;
    }
}

void fp_dissect(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                fp_dissection *out)
{
    /* Only the scalars: spans of absent layers are never read. */
    out->present = 0;
    out->anomalies = caplen < wirelen ? FP_ANOM_SNAPLEN : 0;
    out->vlan_count = 0;
    out->ip6_ext_count = 0;
    out->ethertype = 0;
    out->ip_version = 0;
    out->ip_proto = 0;
    out->sport = out->dport = 0;
    out->frag_offset = 0;
    out->more_fragments = 0;
    out->is_fragment = 0;
    out->payload_off = 0;
    out->payload_len = caplen;

    fp_dctx x = {data, caplen, wirelen, out};
    switch (linktype) {
    case FP_LINKTYPE_ETHERNET: dissect_ethernet(&x); return;
    case FP_LINKTYPE_LINUX_SLL: dissect_cooked(&x, FP_L_SLL, 16, 14); return;
    case FP_LINKTYPE_LINUX_SLL2: dissect_cooked(&x, FP_L_SLL2, 20, 0); return;
    case FP_LINKTYPE_RAW: dissect_ip_by_version(&x, 0); return;
    case FP_LINKTYPE_PPP: dissect_ppp(&x); return;
    case FP_LINKTYPE_IPV4: out->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(&x, 0, caplen); return;
    case FP_LINKTYPE_IPV6: out->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(&x, 0, caplen); return;
    case FP_LINKTYPE_NULL: dissect_loop(&x, 0); return;
    case FP_LINKTYPE_LOOP: dissect_loop(&x, 1); return;
    default: return;
    }
}
