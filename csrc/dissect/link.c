/* Link layers and the fp_dissect() entry point.
 *   Ethernet II / 802.3 length field: IEEE 802.3 clause 3.2.6 (type >= 0x0600 is an EtherType).
 *   802.1Q C-tag 0x8100, 802.1ad S-tag 0x88a8, legacy QinQ 0x9100: IEEE 802.1Q clause 9.
 *   Linux cooked capture v1/v2, BSD NULL/LOOP, RAW, IPV4, IPV6, PPP, PPP_HDLC, PPP_ETHER,
 *   PPP_WITH_DIR: tcpdump.org LINKTYPE_ registry.
 *   802.11, radiotap and PPI in wlan.c; PFLOG, ENC, IPNET and NFLOG in loghdr.c. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

const char *const fp_anomaly_names[FP_ANOM_COUNT_BITS] = {
    "snaplen",       "link_trunc",    "vlan_depth",     "arp_trunc",      "ip4_trunc",
    "ip4_bad_ihl",   "ip4_bad_len",   "ip6_trunc",      "ip6_bad_len",    "ip6_ext",
    "tcp_trunc",     "tcp_bad_off",   "tcp_bad_opt",    "udp_trunc",      "udp_bad_len",
    "icmp_trunc",    "dns_malformed", "dns_name",       "http_malformed", "tls_malformed",
    "ip_fragment",   "dns_pointer_chain", "tls_records_capped",
    "fragment_overlap", "fragment_inconsistency", "fragment_size_inconsistency",
    "excessively_small_fragment", "excessively_large_fragment", "fragment_with_DF",
    "fragment_protocol_inconsistency", "fragment_dropped", "tunnel_malformed",
    "ppp_control_malformed",
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
    case 0x8847: case 0x8848: /* MPLS unicast, multicast */
        if (!fp_dissect_mpls(x, off, end)) fp_set_payload(d, off, end);
        return;
    case 0x8864: /* PPPoE session stage */
        if (!fp_dissect_pppoe(x, off, end)) fp_set_payload(d, off, end);
        return;
    case 0x8909: fp_dissect_cmd(x, off, end); return; /* Cisco MetaData (TrustSec SGT) */
    default: fp_set_payload(d, off, end); return;
    }
}

/* Inlined: dissect_record's Ethernet case is nearly every record read, and the call cost it a
 * frame and its saved registers. */
static inline __attribute__((always_inline)) void dissect_ethernet(fp_dctx *x, uint32_t off)
{
    fp_cursor c;
    if (fp_header_open(x, off, x->caplen, 14, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    fp_set_layer(x->d, FP_L_ETH, off, 14, x->caplen);
    uint16_t type = fp_peek_be16(&c, 12);
    /* Untagged IP, nearly every frame: what fp_dissect_ethertype does for it, without its
     * tag loop and dispatch (a call, a frame and ~30 instructions a packet). */
    if (type == ETHERTYPE_IP4 || type == ETHERTYPE_IP6) {
        x->d->ethertype = type;
        if (type == ETHERTYPE_IP4) fp_dissect_ip4(x, off + 14, x->caplen);
        else fp_dissect_ip6(x, off + 14, x->caplen);
        return;
    }
    fp_dissect_ethertype(x, off + 14, x->caplen, type);
}

/* Cooked headers: fixed size, protocol (an EtherType) at a fixed offset. */
static void dissect_cooked(fp_dctx *x, fp_layer_id id, uint32_t hlen, uint32_t proto_at)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, hlen, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    fp_set_layer(x->d, id, 0, hlen, x->caplen);
    uint16_t proto = fp_peek_be16(&c, proto_at);
    if (proto < 0x0600 || (proto == 0x88a8 && x->scapy)) {
        /* ARPHRD-specific codes (802.2 LLC, CAN...), not a length; an S-tag Scapy leaves Raw */
        fp_set_payload(x->d, hlen, x->caplen);
        return;
    }
    fp_dissect_ethertype(x, hlen, x->caplen, proto);
}

/* Raw IP: the version nibble says which. */
static void dissect_ip_by_version(fp_dctx *x, uint32_t off)
{
    fp_cursor c;
    if (fp_header_open(x, off, x->caplen, 1, 0, &c) < 0)
        return;
    switch (fp_peek_u8(&c, 0) >> 4) {
    case 4: x->d->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(x, off, x->caplen); return;
    case 6: x->d->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(x, off, x->caplen); return;
    default: fp_set_payload(x->d, off, x->caplen); return;
    }
}

/* ---- Link types registered at run time (DLT_USER0-15 and the like) ----------- */

/* Process-wide, as tshark's user_dlts table: a rule is one 64-bit word (link type in bits
 * 0-31, what follows in 32-34, header length in 35-48, EtherType offset in 49-62) stored
 * and loaded atomically, so dissectors on any thread read it without a lock while the
 * registering thread (holding the GIL) adds or replaces one. Slots fill in order and are
 * never freed: a lookup stops at the first empty one. */
static uint64_t link_rules[FP_LINK_RULES_MAX];

static uint64_t rule_word(uint32_t linktype, int next, uint32_t header_len, uint32_t ethertype_off)
{
    return (uint64_t)linktype | (uint64_t)next << 32 | (uint64_t)header_len << 35 |
           (uint64_t)ethertype_off << 49;
}

int fp_link_rule_set(uint32_t linktype, int next, uint32_t header_len, uint32_t ethertype_off)
{
    uint64_t word = rule_word(linktype, next, header_len, ethertype_off);
    for (int i = 0; i < FP_LINK_RULES_MAX; i++) {
        uint64_t w = __atomic_load_n(&link_rules[i], __ATOMIC_ACQUIRE);
        if (w == 0 || (uint32_t)w == linktype) {
            __atomic_store_n(&link_rules[i], word, __ATOMIC_RELEASE);
            return 0;
        }
    }
    return -1;
}

static void dissect_registered(fp_dctx *x, uint32_t linktype)
{
    uint64_t w = 0;
    for (int i = 0; i < FP_LINK_RULES_MAX; i++) {
        w = __atomic_load_n(&link_rules[i], __ATOMIC_ACQUIRE);
        if (w == 0 || (uint32_t)w == linktype) break;
    }
    if (w == 0 || (uint32_t)w != linktype) return; /* unknown: the record is the payload */
    int next = (int)(w >> 32) & 7;
    uint32_t hlen = (uint32_t)(w >> 35) & FP_LINK_RULE_HEADER_MAX;
    uint32_t type_at = (uint32_t)(w >> 49) & FP_LINK_RULE_HEADER_MAX;
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, hlen, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    switch (next) {
    case FP_LINK_NEXT_IP4: x->d->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(x, hlen, x->caplen); return;
    case FP_LINK_NEXT_IP6: x->d->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(x, hlen, x->caplen); return;
    case FP_LINK_NEXT_IP: dissect_ip_by_version(x, hlen); return;
    case FP_LINK_NEXT_ETHER: dissect_ethernet(x, hlen); return;
    case FP_LINK_NEXT_ETHERTYPE: fp_dissect_ethertype(x, hlen, x->caplen, fp_peek_be16(&c, type_at)); return;
    default: fp_set_payload(x->d, hlen, x->caplen); return;
    }
}

/* NULL (host byte order of the capturing machine) and LOOP (network order) carry
 * a 4-byte BSD address family. AF_INET6 differs by OS: 24 NetBSD/OpenBSD,
 * 28 FreeBSD, 30 macOS. Either byte order is accepted for NULL (a family fits in
 * 16 bits, so a value above 0xffff was written the other way round). */
static void dissect_loop(fp_dctx *x, int network_order)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, 4, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
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

/* A PPP frame from `off` to the record's end (link types 9 and 50, Wireshark reads both
 * alike: HDLC's address and control when present; 204 after its direction byte). */
static void dissect_ppp(fp_dctx *x, uint32_t off)
{
    uint32_t hlen = off < x->caplen ? fp_dissect_ppp(x, off, x->caplen) : 0;
    if (hlen == 0) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    x->d->link_ppp = (uint8_t)(off + 1);
}

static inline __attribute__((always_inline)) void dissect_record(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                                  int reassembled, int flags, fp_dissection *out)
{
    out->fcs_len = 0;
    if ((flags & FP_DISSECT_FCS_MASK) && linktype == FP_LINKTYPE_ETHERNET && !reassembled) {
        /* tshark's reading: the FCS ends the frame on the wire; bytes of it the snap length
         * kept are trailing bytes of the record, read only as eth.fcs and only when whole. */
        uint32_t fcs = (uint32_t)(flags & FP_DISSECT_FCS_MASK) >> FP_DISSECT_FCS_SHIFT;
        wirelen = wirelen > fcs ? wirelen - fcs : 0;
        if (caplen > wirelen) {
            if (caplen - wirelen >= fcs) out->fcs_len = (uint8_t)fcs;
            caplen = wirelen;
        }
        out->fcs_off = caplen;
    }
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
    out->reassembled = (uint8_t)reassembled;
    out->tunnel_count = 0;
    out->outer_ip_id = FP_L_COUNT;
    out->cmd_off = 0;
    out->gre_off = 0;
    out->link_ppp = 0;
    out->payload_off = 0;
    out->payload_len = caplen;

    fp_dctx x = {data, caplen, wirelen, out, (flags & FP_DISSECT_HEADERS) != 0, reassembled,
                 (flags & FP_DISSECT_NO_TUNNELS) == 0, (flags & FP_DISSECT_SCAPY) != 0};
    if (linktype == FP_LINKTYPE_ETHERNET) { /* most captures: before the jump table's range check */
        dissect_ethernet(&x, 0);
        return;
    }
    switch (linktype) {
    case FP_LINKTYPE_LINUX_SLL: dissect_cooked(&x, FP_L_SLL, 16, 14); return;
    case FP_LINKTYPE_LINUX_SLL2: dissect_cooked(&x, FP_L_SLL2, 20, 0); return;
    case FP_LINKTYPE_RAW: dissect_ip_by_version(&x, 0); return;
    case FP_LINKTYPE_PPP: case FP_LINKTYPE_PPP_HDLC: dissect_ppp(&x, 0); return;
    case FP_LINKTYPE_PPP_WITH_DIR: dissect_ppp(&x, 1); return;
    case FP_LINKTYPE_PPP_ETHER: /* a PPPoE session header first: decapsulated as after Ethernet */
        if (!fp_dissect_pppoe(&x, 0, caplen)) fp_set_payload(out, 0, caplen);
        return;
    case FP_LINKTYPE_IPV4: out->ethertype = ETHERTYPE_IP4; fp_dissect_ip4(&x, 0, caplen); return;
    case FP_LINKTYPE_IPV6: out->ethertype = ETHERTYPE_IP6; fp_dissect_ip6(&x, 0, caplen); return;
    case FP_LINKTYPE_NULL: dissect_loop(&x, 0); return;
    case FP_LINKTYPE_LOOP: dissect_loop(&x, 1); return;
    case FP_LINKTYPE_IEEE802_11: fp_dissect_wlan(&x, 0, caplen); return;
    case FP_LINKTYPE_IEEE802_11_RADIOTAP: fp_dissect_radiotap(&x); return;
    case FP_LINKTYPE_PPI: fp_dissect_ppi(&x); return;
    case FP_LINKTYPE_PFLOG: fp_dissect_pflog(&x); return;
    case FP_LINKTYPE_ENC: fp_dissect_enc(&x); return;
    case FP_LINKTYPE_IPNET: fp_dissect_ipnet(&x); return;
    case FP_LINKTYPE_NFLOG: fp_dissect_nflog(&x); return;
    default: dissect_registered(&x, linktype); return;
    }
}

int fp_linktype_builtin(uint32_t linktype)
{
    switch (linktype) {
    case FP_LINKTYPE_ETHERNET: case FP_LINKTYPE_LINUX_SLL: case FP_LINKTYPE_LINUX_SLL2:
    case FP_LINKTYPE_RAW: case FP_LINKTYPE_PPP: case FP_LINKTYPE_PPP_HDLC: case FP_LINKTYPE_PPP_ETHER:
    case FP_LINKTYPE_PPP_WITH_DIR: case FP_LINKTYPE_IPV4: case FP_LINKTYPE_IPV6:
    case FP_LINKTYPE_NULL: case FP_LINKTYPE_LOOP: case FP_LINKTYPE_IEEE802_11:
    case FP_LINKTYPE_IEEE802_11_RADIOTAP: case FP_LINKTYPE_PPI: case FP_LINKTYPE_PFLOG:
    case FP_LINKTYPE_ENC: case FP_LINKTYPE_IPNET: case FP_LINKTYPE_NFLOG:
        return 1;
    default: return 0;
    }
}

void fp_dissect(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                fp_dissection *out)
{
    dissect_record(data, caplen, wirelen, linktype, 0, 0, out);
}

void fp_dissect_ex(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype, int flags,
                   fp_dissection *out)
{
    dissect_record(data, caplen, wirelen, linktype, 0, flags, out);
}

void fp_dissect_datagram(const uint8_t *data, uint32_t len, uint32_t linktype, int flags, fp_dissection *out)
{
    dissect_record(data, len, len, linktype, 1, flags, out);
}

static int is_dns_port(uint16_t p) { return p == 53 || p == 5353 || p == 5355; }

int fp_dissect_tunnels(const uint8_t *data, uint32_t caplen, uint32_t wirelen, uint32_t linktype, int flags,
                       const fp_dissection *outer, fp_dissection *out)
{
    const fp_dissection *d = outer;
    if ((flags & (FP_DISSECT_FCS_MASK | FP_DISSECT_NO_TUNNELS)) || d->reassembled || d->is_fragment ||
        d->tunnel_count)
        return -1;
    /* the call fp_dissect_udp, fp_dissect_l4, fp_dissect_ethertype and dissect_record make at
     * the encapsulation, with the bounds they give it (where they left the payload) */
    uint32_t off = d->payload_off, end = d->payload_off + d->payload_len;
    int l2 = FP_HAS(d, FP_L_ETH) || FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2);
    int kind;
    if (FP_HAS(d, FP_L_IP4) || FP_HAS(d, FP_L_IP6)) {
        const fp_span *u = &d->layer[FP_L_UDP];
        if (FP_HAS(d, FP_L_UDP)) kind = u->end - u->off >= 8 + 12 && !is_dns_port(d->sport) &&
                                          !is_dns_port(d->dport) ? 17 : -1;
        else if (FP_HAS(d, FP_L_TCP) || d->payload_len == 0) kind = -1;
        else kind = d->ip_proto == 47 || d->ip_proto == 4 || d->ip_proto == 41 ? d->ip_proto : -1;
        if (kind == 17) off = u->off + 8, end = u->end;
    } else if (l2 && (d->ethertype == 0x8847 || d->ethertype == 0x8848)) {
        kind = 0x8847;
    } else if ((l2 && d->ethertype == 0x8864) || (linktype == FP_LINKTYPE_PPP_ETHER && d->present == 0)) {
        kind = 0x8864;
    } else {
        kind = -1;
    }
    if (kind < 0) return -1;
    *out = *d;
    fp_dctx x = {data, caplen, wirelen, out, (flags & FP_DISSECT_HEADERS) != 0, 0, 1, (flags & FP_DISSECT_SCAPY) != 0};
    switch (kind) {
    case 17: fp_dissect_udp_tunnel(&x, d->sport, d->dport, off, end); break;
    case 47: fp_dissect_gre(&x, off, end); break;
    case 4: case 41: fp_dissect_ip_in_ip(&x, (uint8_t)kind, off, end); break;
    case 0x8847: fp_dissect_mpls(&x, off, end); break;
    default: fp_dissect_pppoe(&x, off, end); break;
    }
    return 0;
}

/* ---- Fields (Wireshark's eth, vlan, ieee8021ad, sll) -------------------- */

/* eth.type for an EtherType, eth.len (arg 1) for an 802.3 length (IEEE 802.3 3.2.6). */
static int eth_type_or_len(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field_value v;
    if (!fp_field_read_fixed(f, x, &v) || (f->arg ? v.u > 1500 : v.u < 0x0600))
        return 0;
    visit(arg, &v);
    return 1;
}

/* The frame check sequence a record's fcs_len declares, read in network order as tshark does. */
static int eth_fcs(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    const fp_dissection *d = x->d;
    if (d->fcs_len != 4 || !FP_HAS(d, FP_L_ETH))
        return 0;
    const uint8_t *p = x->data + d->fcs_off;
    fp_field_value v = {fp_load_be32(p), p, 4};
    visit(arg, &v);
    return 1;
}

static const fp_field eth_fields[] = {
    FP_FIELD_PROTO("eth", FP_L_ETH),
    FP_FIELD_ADDR("eth.dst", FP_FT_MAC, FP_L_ETH, 0),
    FP_FIELD_ADDR("eth.src", FP_FT_MAC, FP_L_ETH, 6),
    {"eth.addr", FP_FT_MAC, 0, FP_L_ETH, 6, 0, 0, fp_field_pair},
    FP_FIELD_BOOL("eth.dst.lg", FP_L_ETH, 0, 8, 0x02),
    FP_FIELD_BOOL("eth.dst.ig", FP_L_ETH, 0, 8, 0x01),
    FP_FIELD_BOOL("eth.src.lg", FP_L_ETH, 6, 8, 0x02),
    FP_FIELD_BOOL("eth.src.ig", FP_L_ETH, 6, 8, 0x01),
    {"eth.lg", FP_FT_BOOL, 8, FP_L_ETH, 6, 0, 0x02, fp_field_pair},
    {"eth.ig", FP_FT_BOOL, 8, FP_L_ETH, 6, 0, 0x01, fp_field_pair},
    {"eth.type", FP_FT_UINT, 16, FP_L_ETH, 0, 12, 0, eth_type_or_len},
    {"eth.len", FP_FT_UINT, 16, FP_L_ETH, 1, 12, 0, eth_type_or_len},
    {"eth.fcs", FP_FT_UINT, 32, FP_L_ETH, 0, 0, 0, eth_fcs},
};
FP_FIELD_TABLE(fp_fields_eth, "eth", eth_fields);

/* One value per tag: arg 0 the 802.1Q tags (TPID 0x8100, 0x9100), arg 1 the 802.1ad
 * S-tags (0x88a8), as Wireshark splits them. Offset 0 is the TCI, 2 the next type. */
static int vlan_tags(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    if (!FP_HAS(d, FP_L_VLAN))
        return 0;
    int n = 0;
    for (int i = 0; i < d->vlan_count; i++) {
        if ((d->vlan[i].tpid == 0x88a8) != (f->arg == 1))
            continue;
        const uint8_t *tag = x->data + d->layer[FP_L_VLAN].off + 4 * i;
        fp_field_value v = {0, tag, 4};
        if (f->type != FP_FT_PROTOCOL) {
            fp_field_decode(f, tag + f->offset, &v);
            if (f->offset == 2 && v.u < 0x0600) /* an 802.3 length, not vlan.etype */
                continue;
        }
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

#define VLAN_FIELD(name, type, off, mask, which) \
    {name, type, 16, FP_L_VLAN, which, off, mask, vlan_tags}
static const fp_field vlan_fields[] = {
    VLAN_FIELD("vlan", FP_FT_PROTOCOL, 0, 0, 0),
    VLAN_FIELD("vlan.priority", FP_FT_UINT, 0, 0xe000, 0),
    VLAN_FIELD("vlan.dei", FP_FT_BOOL, 0, 0x1000, 0),
    VLAN_FIELD("vlan.id", FP_FT_UINT, 0, 0x0fff, 0),
    VLAN_FIELD("vlan.etype", FP_FT_UINT, 2, 0, 0),
};
FP_FIELD_TABLE(fp_fields_vlan, "vlan", vlan_fields);

static const fp_field ieee8021ad_fields[] = {
    VLAN_FIELD("ieee8021ad", FP_FT_PROTOCOL, 0, 0, 1),
    VLAN_FIELD("ieee8021ad.priority", FP_FT_UINT, 0, 0xe000, 1),
    VLAN_FIELD("ieee8021ad.dei", FP_FT_UINT, 0, 0x1000, 1),
    VLAN_FIELD("ieee8021ad.id", FP_FT_UINT, 0, 0x0fff, 1),
};
FP_FIELD_TABLE(fp_fields_ieee8021ad, "ieee8021ad", ieee8021ad_fields);

/* Linux cooked v1 and v2 hold the same fields at different places (bits 0: absent). */
enum { SLL_PKTTYPE, SLL_HATYPE, SLL_HALEN, SLL_SRC, SLL_ETYPE, SLL_LTYPE, SLL_IFINDEX };
static const struct {
    uint8_t off1, bits1, off2, bits2;
} sll_layout[] = {
    [SLL_PKTTYPE] = {0, 16, 10, 8}, [SLL_HATYPE] = {2, 16, 8, 16}, [SLL_HALEN] = {4, 16, 11, 8},
    [SLL_SRC] = {6, 48, 12, 48},    [SLL_ETYPE] = {14, 16, 0, 16}, [SLL_LTYPE] = {14, 16, 0, 16},
    [SLL_IFINDEX] = {0, 0, 4, 32},
};

static int sll_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    int v2 = FP_HAS(d, FP_L_SLL2);
    if (!v2 && !FP_HAS(d, FP_L_SLL))
        return 0;
    fp_field at = *f;
    at.layer = v2 ? FP_L_SLL2 : FP_L_SLL;
    at.offset = v2 ? sll_layout[f->arg].off2 : sll_layout[f->arg].off1;
    at.bits = v2 ? sll_layout[f->arg].bits2 : sll_layout[f->arg].bits1;
    fp_field_value v;
    if (at.bits == 0 || !fp_field_read_fixed(&at, x, &v))
        return 0;
    if (f->arg == SLL_SRC || f->arg == SLL_ETYPE || f->arg == SLL_LTYPE) {
        fp_field_value t; /* the address is a MAC for Ethernet-like hardware of 6 bytes */
        at.arg = f->arg == SLL_SRC ? SLL_HALEN : SLL_ETYPE;
        at.offset = v2 ? sll_layout[at.arg].off2 : sll_layout[at.arg].off1;
        at.bits = v2 ? sll_layout[at.arg].bits2 : sll_layout[at.arg].bits1;
        at.type = FP_FT_UINT;
        at.mask = 0;
        if (!fp_field_read_fixed(&at, x, &t))
            return 0;
        if (f->arg == SLL_SRC ? t.u != 6 : (f->arg == SLL_ETYPE) != (t.u >= 0x0600))
            return 0;
    }
    visit(arg, &v);
    return 1;
}

static int sll_protocol(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field at = *f;
    at.layer = FP_HAS(x->d, FP_L_SLL2) ? FP_L_SLL2 : FP_L_SLL;
    return fp_field_protocol(&at, x, visit, arg);
}

/* `bits`: the declared width (Wireshark's); the layout gives what each version holds. */
#define SLL_FIELD(name, type, bits, which) {name, type, bits, FP_L_SLL, which, 0, 0, sll_field}
static const fp_field sll_fields[] = {
    {"sll", FP_FT_PROTOCOL, 0, FP_L_SLL, 0, 0, 0, sll_protocol},
    SLL_FIELD("sll.pkttype", FP_FT_UINT, 16, SLL_PKTTYPE),
    SLL_FIELD("sll.hatype", FP_FT_UINT, 16, SLL_HATYPE),
    SLL_FIELD("sll.halen", FP_FT_UINT, 16, SLL_HALEN),
    SLL_FIELD("sll.src.eth", FP_FT_MAC, 0, SLL_SRC),
    SLL_FIELD("sll.etype", FP_FT_UINT, 16, SLL_ETYPE),
    SLL_FIELD("sll.ltype", FP_FT_UINT, 16, SLL_LTYPE),
    SLL_FIELD("sll.ifindex", FP_FT_UINT, 32, SLL_IFINDEX),
};
FP_FIELD_TABLE(fp_fields_sll, "sll", sll_fields);

/* ---- Building (build.h): Scapy's Ether and Dot1Q ---------------------- */
#include "build.h"

static int ethertype_of(int child, uint64_t *v)
{
    switch (child) {
    case FP_B_IP4: *v = 0x0800; return 1;
    case FP_B_IP6: *v = 0x86dd; return 1;
    case FP_B_ARP: *v = 0x0806; return 1;
    case FP_B_VLAN: *v = 0x8100; return 1;
    default: return 0;
    }
}

/* Scapy resolves unset MACs by route and ARP; offline, its fallbacks: broadcast, zero. */
static const fp_bfield ether_bfields[] = {
    FP_BA("dst", FP_BK_MAC, 0, 0, 0, 0xffffffffffffull),
    FP_BA("src", FP_BK_MAC, 0, 6, 0, 0),
    FP_BU("type", FP_BF_NEXT | FP_BF_HEX, 12, 2, 0, 16, 0x9000),
};
const fp_bproto fp_bproto_ether = {"Ether", FP_B_ETH, 14, 3, 0, 0, ether_bfields, NULL, NULL,
                                   ethertype_of, NULL};

static const fp_bfield vlan_bfields[] = {
    FP_BU("prio", 0, 0, 2, 13, 3, 0),
    FP_BU("dei", 0, 0, 2, 12, 1, 0),
    FP_BU("vlan", 0, 0, 2, 0, 12, 1),
    FP_BU("type", FP_BF_NEXT | FP_BF_HEX, 2, 2, 0, 16, 0),
};
const fp_bproto fp_bproto_vlan = {"Dot1Q", FP_B_VLAN, 4, 4, 0, 0, vlan_bfields, NULL, NULL,
                                  ethertype_of, NULL};
