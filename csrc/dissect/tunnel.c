/* Encapsulations, decoded down to the innermost packet:
 *   GRE (RFC 2784, key and sequence number RFC 2890), carrying IPv4, IPv6, Ethernet
 *     (transparent Ethernet bridging, 0x6558), MPLS, or ERSPAN type I/II (0x88BE; type I has
 *     no ERSPAN header and no GRE sequence number) and type III (0x22EB, with its optional
 *     8-byte platform subheader when the O bit is set); RFC 1701's routing present bit brings
 *     the checksum and offset words and a list of Source Route Entries after the sequence
 *     number, ended by one with address family 0 and length 0 (as Wireshark reads them); any
 *     of these payloads behind Cisco MetaData (0x8909: an 8-byte shim naming the payload's
 *     EtherType and carrying a TrustSec SGT, laid out as Wireshark's packet-cisco-metadata.c
 *     reads it in GRE); Frame Relay (0x6559) carrying IPv4/IPv6 and NSH (0x894F, RFC 8300)
 *     carrying IPv4, IPv6, Ethernet or MPLS, their headers counted in GRE's (fp_gre_carrier);
 *     WCCP's redirected IPv4 packets (0x883E, after WCCPv2's 4-byte redirect header);
 *   PPTP's enhanced GRE (RFC 2637 section 4.1: version 1, protocol 0x880B, the key field the
 *     payload length and the peer's call id, optional sequence and acknowledgement numbers)
 *     carrying PPP, its IPv4 or IPv6 packet decoded;
 *   VXLAN (RFC 7348 section 5, UDP 4789; the I flag must be set), Geneve (RFC 8926 section
 *     3.4, UDP 6081, version 0, options skipped), GTP-U (3GPP TS 29.281 section 5.1, UDP
 *     2152, G-PDU messages, extension headers walked), on either UDP port; their ports are a
 *     process-wide table (fp_tunnel_ports_set: Linux's VXLAN default 8472, say);
 *   MPLS label stacks (RFC 3032 section 2.1) and, after the bottom label, Wireshark's usual
 *     guess: a first nibble of 4 or 6 is IP, 0 a pseudowire control word (RFC 4385) and
 *     Ethernet (RFC 4448), anything else is left raw;
 *   IP in IP (RFC 2003), IPv6 in IPv4 (RFC 4213 section 3.5), IPv4/IPv6 in IPv6 (RFC 2473);
 *   PPPoE session stage (RFC 2516 section 4) carrying IPv4 or IPv6.
 * Unless FP_DISSECT_NO_TUNNELS (fp_dissect_ex). Each decoded encapsulation is one fp_tunnel; the layer spans then describe the inner
 * packet (the outermost IP header is kept in d->outer_ip). Cisco MetaData directly after an
 * Ethernet header (EtherType 0x8909, Wireshark's other registration) is a link-level shim,
 * no tunnel: fp_dissect_cmd. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

const char *const fp_tunnel_names[FP_TUN_COUNT] = {
    [FP_TUN_GRE] = "GRE",       [FP_TUN_ERSPAN] = "ERSPAN", [FP_TUN_VXLAN] = "VXLAN",
    [FP_TUN_GENEVE] = "Geneve", [FP_TUN_GTPU] = "GTP_U",    [FP_TUN_MPLS] = "MPLS",
    [FP_TUN_IPIP] = "IPIP",     [FP_TUN_PPPOE] = "PPPoE",  [FP_TUN_PPTP] = "PPTP",
};

#define LINK_BITS ((1u << FP_L_ETH) | (1u << FP_L_SLL) | (1u << FP_L_SLL2) | (1u << FP_L_LOOP) | (1u << FP_L_VLAN) | \
                   (1u << FP_L_RADIOTAP) | (1u << FP_L_WLAN))
#define MPLS_MAX_LABELS 16

/* Open a tunnel record and clear what the inner packet will describe again. NULL (flagged)
 * when tunnels are already nested FP_MAX_TUNNELS deep. */
static fp_tunnel *enter(fp_dctx *x, fp_tunnel_type type, uint32_t off, uint32_t hlen, int inner_link)
{
    fp_dissection *d = x->d;
    if (d->tunnel_count == FP_MAX_TUNNELS) {
        d->anomalies |= FP_ANOM_TUNNEL;
        return NULL;
    }
    fp_tunnel *t = &d->tunnel[d->tunnel_count++];
    t->type = (uint8_t)type;
    t->has_id = 0;
    t->id = 0;
    t->inner_link = (uint8_t)inner_link;
    t->off = off;
    t->hlen = hlen;
    t->outer_present = d->present;
    t->outer_ip = FP_HAS(d, FP_L_IP4) ? FP_L_IP4 : FP_HAS(d, FP_L_IP6) ? FP_L_IP6 : FP_L_COUNT;
    t->outer_proto = d->ip_proto;
    if (d->outer_ip_id == FP_L_COUNT && t->outer_ip != FP_L_COUNT) {
        d->outer_ip_id = t->outer_ip;
        d->outer_ip = d->layer[t->outer_ip];
    }
    d->present &= LINK_BITS;
    d->ip_version = 0;
    d->ip_proto = 0;
    d->sport = d->dport = 0;
    d->ip6_ext_count = 0;
    d->frag_offset = 0;
    d->more_fragments = 0;
    d->is_fragment = 0;
    return t;
}

static void with_id(fp_tunnel *t, uint32_t id)
{
    t->has_id = 1;
    t->id = id;
}

static void inner_ip(fp_dctx *x, uint32_t off, uint32_t end)
{
    uint8_t v = off < end ? x->data[off] >> 4 : 0;
    if (v == 4) {
        x->d->ethertype = 0x0800;
        fp_dissect_ip4(x, off, end);
    } else if (v == 6) {
        x->d->ethertype = 0x86dd;
        fp_dissect_ip6(x, off, end);
    } else {
        fp_set_payload(x->d, off, end);
    }
}

static void inner_ethernet(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c;
    if (fp_header_open(x, off, end, 14, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    fp_set_layer(x->d, FP_L_ETH, off, 14, end);
    fp_dissect_ethertype(x, off + 14, end, fp_peek_be16(&c, 12));
}

/* Bytes too short for the header they claim to be: flagged, left raw by the caller. */
static int malformed(fp_dctx *x)
{
    x->d->anomalies |= FP_ANOM_TUNNEL;
    return 0;
}

/* ERSPAN over GRE: type I/II (0x88BE) or III (0x22EB); Ethernet follows. */
static int erspan(fp_dctx *x, uint16_t proto, int gre_seq, uint32_t off, uint32_t end)
{
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    uint32_t hlen = 0;
    if (proto == 0x22eb) {
        if (!fp_cur_has(&c, 12)) return malformed(x);
        hlen = (fp_peek_u8(&c, 11) & 0x01) ? 20 : 12; /* O: platform-specific subheader */
    } else if (gre_seq) { /* type II; type I (no sequence number) has no header */
        hlen = 8;
    }
    if (!fp_cur_has(&c, hlen)) return malformed(x);
    fp_tunnel *t = enter(x, FP_TUN_ERSPAN, off, hlen, 1);
    if (t == NULL) return 0;
    if (hlen) with_id(t, fp_peek_be16(&c, 2) & 0x3ff);
    inner_ethernet(x, off + hlen, end);
    return 1;
}

/* GRE flag bits (RFC 1701 section 2.1, RFC 2637 section 4.1: A is PPTP's). */
#define GRE_C 0x8000u
#define GRE_R 0x4000u
#define GRE_K 0x2000u
#define GRE_S 0x1000u
#define GRE_A 0x0080u
#define GRE_HAS_CO(flags) (((flags) & (GRE_C | GRE_R)) != 0) /* checksum and offset words */

/* Where version 0's routing field starts, from the flags. */
static uint32_t gre_routing_at(uint16_t flags)
{
    return 4 + 4u * ((uint32_t)GRE_HAS_CO(flags) + ((flags & GRE_K) != 0) + ((flags & GRE_S) != 0));
}

static void ppp_control_check(fp_dctx *x, uint16_t proto, uint32_t at, uint32_t end);

uint32_t fp_dissect_ppp(fp_dctx *x, uint32_t off, uint32_t end)
{
    uint32_t width, at = fp_ppp_proto_at(x->data, off, end, &width);
    if (width == 0) return 0;
    uint16_t proto = width == 1 ? x->data[at] : fp_load_be16(x->data + at);
    at += width;
    switch (proto) {
    case 0x0021: x->d->ethertype = 0x0800; fp_dissect_ip4(x, at, end); break;
    case 0x0057: x->d->ethertype = 0x86dd; fp_dissect_ip6(x, at, end); break;
    default: fp_set_payload(x->d, at, end); ppp_control_check(x, proto, at, end); break;
    }
    return at - off;
}

/* PPTP's GRE header length from its flags: sequence and acknowledgement numbers optional. */
static uint32_t pptp_hlen(uint16_t flags)
{
    return 8 + 4u * (uint32_t)(((flags & GRE_S) != 0) + ((flags & GRE_A) != 0));
}

static int pptp(fp_dctx *x, const fp_cursor *c, uint16_t flags, uint32_t off, uint32_t end)
{
    /* RFC 2637: C and R are 0, K is 1; headers that say otherwise are left undecoded */
    if (fp_peek_be16(c, 2) != 0x880b || (flags & (GRE_C | GRE_R | GRE_K)) != GRE_K) return 0;
    uint32_t hlen = pptp_hlen(flags);
    if (!fp_cur_has(c, hlen)) return malformed(x);
    fp_tunnel *t = enter(x, FP_TUN_PPTP, off, hlen, 0);
    if (t == NULL) return 0;
    with_id(t, fp_peek_be16(c, 6));
    uint32_t ppp = fp_dissect_ppp(x, off + hlen, end); /* 0: an acknowledgement alone, or cut */
    if (ppp == 0) fp_set_payload(x->d, off + hlen, end);
    t->hlen += ppp;
    return 1;
}

/* Frame Relay on GRE (0x6559): a Q.922 address of 2 to 4 bytes (the last has its EA bit),
 * then RFC 2427's UI byte (0x03), an optional pad and an NLPID (IPv4 0xCC, IPv6 0x8E, SNAP
 * 0x80 with an OUI of 0 and an EtherType), or without the UI byte Cisco's EtherType, as
 * Wireshark's fr dissector reads it. NSH (RFC 8300, 0x894F): its length field's words (at
 * least the 8-byte base and service path headers), then by next protocol IPv4 (1), IPv6 (2),
 * Ethernet (3), NSH again (4, at most FP_MAX_TUNNELS deep) or MPLS (5). */
int fp_gre_carrier(const uint8_t *p, uint32_t off, uint32_t end, uint16_t proto, uint16_t *type)
{
    static const uint16_t nsh_types[6] = {0, 0x0800, 0x86dd, 0x6558, 0, 0x8847};
    uint32_t at = off;
    if (at == end) return 0; /* GRE alone: tshark reads nothing more */
    if (proto == 0x894f) {
        for (int n = 0; n < FP_MAX_TUNNELS; n++) {
            if (end - at < 8) return -1;
            uint32_t hl = 4u * (p[at + 1] & 0x3fu);
            uint8_t next = p[at + 3];
            if (hl < 8) hl = 8;
            if (end - at <= hl) return end - at == hl ? 0 : -1; /* no packet: no more read */
            at += hl;
            if (next == 4) continue;
            if (next > 5 || nsh_types[next] == 0) return 0;
            *type = nsh_types[next];
            return (int)(at - off);
        }
        return 0;
    }
    while (at < end && at - off < 3 && (p[at] & 1) == 0) at++;
    if (++at >= end) return -1; /* past the address's last byte */
    uint16_t t;
    if (p[at] == 0x03) {
        if (++at < end && p[at] == 0) at++;
        if (at >= end) return -1;
        uint8_t nlpid = p[at++];
        if (nlpid == 0xcc) t = 0x0800;
        else if (nlpid == 0x8e) t = 0x86dd;
        else if (nlpid != 0x80) return 0;
        else if (end - at < 5) return -1;
        else if (p[at] != 0 || p[at + 1] != 0 || p[at + 2] != 0) return 0;
        else t = fp_load_be16(p + at + 3), at += 5;
    } else {
        if (end - at < 2) return 0; /* a byte of an EtherType: tshark's data */
        t = fp_load_be16(p + at);
        at += 2;
    }
    if (t != 0x0800 && t != 0x86dd) return 0;
    if (at >= end) return -1;
    *type = t;
    return (int)(at - off);
}

/* A GRE header not decapsulated: kept in d->gre_off for its gre.* fields when all the words
 * its flags announce (gre_word_at) are captured. Only one: nothing is decoded after it. */
static int undecoded(fp_dctx *x, uint16_t flags, uint32_t hlen, uint32_t off, uint32_t end)
{
    if ((flags & 0x0007) != 0) /* versions 1-7: version 0's words, and PPTP's acknowledgement */
        hlen = gre_routing_at(flags) + ((flags & 0x0007) == 1 && (flags & GRE_A) ? 4 : 0);
    if (hlen <= end - off && x->d->gre_off == 0) x->d->gre_off = off;
    return 0;
}

int fp_dissect_gre(fp_dctx *x, uint32_t off, uint32_t end)
{
    if (!x->tunnels) return 0;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 4)) return malformed(x);
    uint16_t flags = fp_peek_be16(&c, 0), proto = fp_peek_be16(&c, 2);
    if ((flags & 0x0007) == 1) return pptp(x, &c, flags, off, end) || undecoded(x, flags, 0, off, end);
    if (flags & 0x0007) return undecoded(x, flags, 0, off, end);
    uint32_t hlen = gre_routing_at(flags);
    if (!fp_cur_has(&c, hlen)) return malformed(x);
    if (flags & GRE_R) { /* each SRE: address family, offset, length, that many bytes */
        for (;;) {
            if (!fp_cur_has(&c, hlen + 4)) return malformed(x);
            uint16_t af = fp_peek_be16(&c, hlen);
            uint8_t len = fp_peek_u8(&c, hlen + 3);
            hlen += 4 + len;
            if (af == 0 && len == 0) break;
        }
        if (!fp_cur_has(&c, hlen)) return malformed(x);
    }
    uint32_t gre_hlen = hlen;
    if (proto == 0x8909) { /* Cisco MetaData (TrustSec SGT): the payload's protocol, version,
                              length, option, SGT, then the payload; counted in GRE's header */
        if (!fp_cur_has(&c, hlen + 8)) { /* the shim cut short: GRE's own words are whole */
            undecoded(x, flags, gre_hlen, off, end);
            return malformed(x);
        }
        proto = fp_peek_be16(&c, hlen);
        hlen += 8;
    } else if ((proto == 0x6559 || proto == 0x894f) && !(flags & GRE_R)) { /* Frame Relay, NSH: counted in
                                                                              GRE's header too */
        int carrier = fp_gre_carrier(x->data, off + hlen, end, proto, &proto);
        if (carrier <= 0) { /* cut before its packet: flagged, as Cisco MetaData cut short */
            undecoded(x, flags, gre_hlen, off, end);
            return carrier < 0 ? malformed(x) : 0;
        }
        hlen += (uint32_t)carrier;
    } else if (proto == 0x883e) { /* WCCP redirection: IPv4, after WCCPv2's 4-byte redirect header
                                     unless the first nibble says IPv4 already (Wireshark's test) */
        if (!fp_cur_has(&c, hlen + 1) || ((fp_peek_u8(&c, hlen) >> 4) != 4 && !fp_cur_has(&c, hlen + 4))) {
            undecoded(x, flags, gre_hlen, off, end);
            return malformed(x);
        }
        if ((fp_peek_u8(&c, hlen) >> 4) != 4) hlen += 4;
        proto = 0x0800;
    }
    if (proto != 0x0800 && proto != 0x86dd && proto != 0x6558 && proto != 0x8847 && proto != 0x88be &&
        proto != 0x22eb)
        return undecoded(x, flags, gre_hlen, off, end);
    fp_tunnel *t = enter(x, FP_TUN_GRE, off, hlen, proto == 0x6558);
    if (t == NULL) return 0;
    if (flags & GRE_K) with_id(t, fp_peek_be32(&c, GRE_HAS_CO(flags) ? 8 : 4));
    uint32_t in = off + hlen;
    switch (proto) {
    case 0x6558: inner_ethernet(x, in, end); break;
    case 0x8847:
        if (!fp_dissect_mpls(x, in, end)) fp_set_payload(x->d, in, end);
        break;
    case 0x88be: case 0x22eb:
        if (!erspan(x, proto, (flags & GRE_S) != 0, in, end)) fp_set_payload(x->d, in, end);
        break;
    default: inner_ip(x, in, end); break;
    }
    return 1;
}

/* Cisco MetaData on Ethernet: version, length, option, SGT, then the payload's EtherType
 * (Wireshark's layout for this registration, unlike GRE's). The first one is recorded in
 * d->cmd_off; a second is left raw, which bounds the recursion. */
void fp_dissect_cmd(fp_dctx *x, uint32_t off, uint32_t end)
{
    if (x->d->cmd_off != 0 || end - off < 8) {
        if (x->d->cmd_off == 0) x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, off, end);
        return;
    }
    x->d->cmd_off = off;
    fp_dissect_ethertype(x, off + 8, end, fp_load_be16(x->data + off + 6));
}

int fp_dissect_ip_in_ip(fp_dctx *x, uint8_t proto, uint32_t off, uint32_t end)
{
    if (!x->tunnels) return 0;
    if (off >= end || (x->data[off] >> 4) != (proto == 4 ? 4 : 6)) return 0;
    if (enter(x, FP_TUN_IPIP, off, 0, 0) == NULL) return 0;
    inner_ip(x, off, end);
    return 1;
}

static int vxlan(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 8) || !(fp_peek_u8(&c, 0) & 0x08)) return 0;
    fp_tunnel *t = enter(x, FP_TUN_VXLAN, off, 8, 1);
    if (t == NULL) return 0;
    with_id(t, fp_peek_be32(&c, 4) >> 8);
    inner_ethernet(x, off + 8, end);
    return 1;
}

static int geneve(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 8) || (fp_peek_u8(&c, 0) >> 6) != 0) return 0;
    uint32_t hlen = 8 + (uint32_t)(fp_peek_u8(&c, 0) & 0x3f) * 4;
    uint16_t proto = fp_peek_be16(&c, 2);
    if (proto != 0x6558 && proto != 0x0800 && proto != 0x86dd) return 0;
    if (!fp_cur_has(&c, hlen)) return malformed(x);
    fp_tunnel *t = enter(x, FP_TUN_GENEVE, off, hlen, proto == 0x6558);
    if (t == NULL) return 0;
    with_id(t, fp_peek_be32(&c, 4) >> 8);
    if (proto == 0x6558) inner_ethernet(x, off + hlen, end);
    else inner_ip(x, off + hlen, end);
    return 1;
}

/* GTP-U G-PDU: version 1, protocol type GTP, message type 255; the optional fields come
 * together when any of E, S, PN is set; extension headers are counted in 4-byte units
 * and end with the next type (0: none). */
static int gtpu(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 8)) return 0;
    uint8_t flags = fp_peek_u8(&c, 0);
    if ((flags >> 5) != 1 || !(flags & 0x10) || fp_peek_u8(&c, 1) != 0xff) return 0;
    uint32_t hlen = 8;
    if (flags & 0x07) {
        if (!fp_cur_has(&c, 12)) return malformed(x);
        uint8_t next = fp_peek_u8(&c, 11);
        hlen = 12;
        while (next != 0) {
            if (!fp_cur_has(&c, hlen + 1)) return malformed(x);
            uint32_t len = (uint32_t)fp_peek_u8(&c, hlen) * 4;
            if (len == 0 || !fp_cur_has(&c, hlen + len)) return malformed(x);
            next = fp_peek_u8(&c, hlen + len - 1);
            hlen += len;
        }
    }
    fp_tunnel *t = enter(x, FP_TUN_GTPU, off, hlen, 0);
    if (t == NULL) return 0;
    with_id(t, fp_peek_be32(&c, 4));
    inner_ip(x, off + hlen, end);
    return 1;
}

/* The UDP ports of each encapsulation, as Wireshark's "Decode As" for the whole process:
 * entries (port | type << 16) up to a 0, in two tables of which `udp_ports_active` names the
 * one in use. A change fills the other table and then flips the index (release/acquire),
 * so dissectors on any thread never see one half-made. */
static uint32_t udp_ports[2][FP_TUNNEL_PORTS_MAX + 1] = {
    {4789 | FP_TUN_VXLAN << 16, 6081 | FP_TUN_GENEVE << 16, 2152 | FP_TUN_GTPU << 16},
};
/* Each table's ports as bits of one word (a multiplicative hash's top 6 bits of the port): a
 * UDP packet whose ports both miss it is no tunnel's, which nearly every one is, in a few
 * instructions instead of the table's walk for both ports. None of the usual ports (DNS,
 * NTP, QUIC, mDNS, IKE) collides with the defaults'. */
#define PORT_HINT(p) (1ull << ((((uint32_t)(p) * 40503u) & 0xffffu) >> 10))
static uint64_t udp_ports_hint[2] = {PORT_HINT(4789) | PORT_HINT(6081) | PORT_HINT(2152)};
static int udp_ports_active;

int fp_tunnel_ports_set(const uint16_t *ports, const uint8_t *types, int n)
{
    if (n < 0 || n > FP_TUNNEL_PORTS_MAX) return -1;
    for (int i = 0; i < n; i++)
        if (ports[i] == 0 || (types[i] != FP_TUN_VXLAN && types[i] != FP_TUN_GENEVE && types[i] != FP_TUN_GTPU))
            return -1;
    int next = !__atomic_load_n(&udp_ports_active, __ATOMIC_ACQUIRE);
    uint64_t hint = 0;
    for (int i = 0; i < n; i++) {
        udp_ports[next][i] = ports[i] | (uint32_t)types[i] << 16;
        hint |= PORT_HINT(ports[i]);
    }
    udp_ports[next][n] = 0;
    udp_ports_hint[next] = hint;
    __atomic_store_n(&udp_ports_active, next, __ATOMIC_RELEASE);
    return 0;
}

int fp_udp_tunnel_port(uint16_t sport, uint16_t dport)
{
    const uint32_t *table = udp_ports[__atomic_load_n(&udp_ports_active, __ATOMIC_ACQUIRE)];
    for (const uint32_t *e = table; *e; e++)
        if ((*e & 0xffff) == dport || (*e & 0xffff) == sport) return 1;
    return 0;
}

static int udp_tunnel(fp_dctx *x, int type, uint32_t off, uint32_t end)
{
    switch (type) {
    case FP_TUN_VXLAN: return vxlan(x, off, end);
    case FP_TUN_GENEVE: return geneve(x, off, end);
    default: return gtpu(x, off, end);
    }
}

/* On either port, the lower one first: tshark's UDP port table rule (packet-udp.c tries the
 * lower port, then the higher), so a reply from port 4789 is VXLAN as its request is, and a
 * datagram between two tunnel ports takes the same type both ways. Only the lower port's type
 * is tried when both are in the table, as tshark keeps a dissector that took the datagram. */
int fp_dissect_udp_tunnel(fp_dctx *x, uint16_t sport, uint16_t dport, uint32_t off, uint32_t end)
{
    if (!x->tunnels) return 0;
    int active = __atomic_load_n(&udp_ports_active, __ATOMIC_ACQUIRE);
    if (!(udp_ports_hint[active] & (PORT_HINT(dport) | PORT_HINT(sport)))) return 0;
    uint16_t lo = sport < dport ? sport : dport, hi = sport < dport ? dport : sport;
    const uint32_t *table = udp_ports[active];
    int type = 0;
    for (const uint32_t *e = table; *e; e++) {
        if ((*e & 0xffff) == lo) return udp_tunnel(x, (int)(*e >> 16), off, end);
        if ((*e & 0xffff) == hi) type = (int)(*e >> 16);
    }
    return type ? udp_tunnel(x, type, off, end) : 0;
}

int fp_dissect_mpls(fp_dctx *x, uint32_t off, uint32_t end)
{
    if (!x->tunnels) return 0;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    uint32_t n = 0, label = 0;
    for (;;) {
        if (n == MPLS_MAX_LABELS || !fp_cur_has(&c, 4 * (n + 1))) return malformed(x);
        uint32_t entry = fp_peek_be32(&c, 4 * n);
        n++;
        label = entry >> 12;
        if (entry & 0x100) /* bottom of stack */
            break;
    }
    fp_tunnel *t = enter(x, FP_TUN_MPLS, off, 4 * n, 0);
    if (t == NULL) return 0;
    with_id(t, label);
    uint32_t in = off + 4 * n;
    uint8_t nibble = in < end ? x->data[in] >> 4 : 0xff;
    if (nibble == 4 || nibble == 6) {
        inner_ip(x, in, end);
    } else if (nibble == 0 && end - in >= 4 + 14) { /* control word, then an Ethernet frame */
        t->inner_link = 1;
        t->hlen += 4;
        inner_ethernet(x, in + 4, end);
    } else {
        fp_set_payload(x->d, in, end);
    }
    return 1;
}

int fp_dissect_pppoe(fp_dctx *x, uint32_t off, uint32_t end)
{
    if (!x->tunnels) return 0;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 8)) return malformed(x);
    /* RFC 2516 section 5.4 has version 1, type 1, code 0; tshark (and so fastpkt) reads a
     * session on this EtherType whatever they say */
    uint16_t proto = fp_peek_be16(&c, 6);
    uint32_t len = fp_peek_be16(&c, 4); /* PPP protocol and payload */
    uint32_t in_end = len >= 2 && len <= end - off - 6 ? off + 6 + len : end;
    fp_tunnel *t = enter(x, FP_TUN_PPPOE, off, 8, 0);
    if (t == NULL) return 0;
    with_id(t, fp_peek_be16(&c, 2));
    if (proto == 0x0021 || proto == 0x0057) inner_ip(x, off + 8, in_end);
    else {
        fp_set_payload(x->d, off + 8, in_end);
        ppp_control_check(x, proto, off + 8, in_end);
    }
    return 1;
}

/* ---- Fields (Wireshark's gre, cmd, erspan, vxlan, geneve, gtp, mpls, pppoe, pppoes, ppp) ---- */

/* The id of each tunnel of type `arg`; for MPLS every label of the stack, top first. */
static int tunnel_ids(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    int n = 0;
    for (int i = 0; i < d->tunnel_count; i++) {
        const fp_tunnel *t = &d->tunnel[i];
        if (t->type != f->arg || !t->has_id) continue;
        if (t->type != FP_TUN_MPLS) {
            fp_field_value v = {t->id, NULL, 0};
            n++;
            if (visit(arg, &v)) return n;
            continue;
        }
        for (uint32_t at = t->off; at + 4 <= t->off + t->hlen; at += 4) {
            uint32_t entry = fp_load_be32(x->data + at);
            fp_field_value v = {entry >> 12, NULL, 0};
            n++;
            if (visit(arg, &v)) return n;
            if (entry & 0x100) break; /* bottom of stack: a control word may follow */
        }
    }
    return n;
}

/* The GRE headers of a packet, outer to inner: each GRE and PPTP tunnel record's, then one
 * read but not decapsulated (d->gre_off: keepalives, CDP...). Their first bytes in `at`. */
static int gre_headers(const fp_dissection *d, uint32_t at[FP_MAX_TUNNELS + 1])
{
    int n = 0;
    for (int i = 0; i < d->tunnel_count; i++)
        if (d->tunnel[i].type == FP_TUN_GRE || d->tunnel[i].type == FP_TUN_PPTP) at[n++] = d->tunnel[i].off;
    if (d->gre_off != 0) at[n++] = d->gre_off;
    return n;
}

/* A GRE header's length from its flags, version 0's routing entries walked (fp_dissect_gre
 * checked them inside the record before keeping the header); PPTP's acknowledgement number. */
static uint32_t gre_header_len(const uint8_t *h)
{
    uint16_t flags = fp_load_be16(h);
    uint32_t len = gre_routing_at(flags);
    if ((flags & 0x0007) == 1) return len + ((flags & GRE_A) ? 4 : 0);
    if ((flags & 0x0007) != 0 || !(flags & GRE_R)) return len;
    for (;;) {
        uint32_t sre = 4u + h[len + 3];
        int last = fp_load_be16(h + len) == 0 && h[len + 3] == 0;
        len += sre;
        if (last) return len;
    }
}

/* The GRE header words (Wireshark's gre.*) of every GRE header, outer to inner, where the
 * header's flags place them (RFC 1701 section 2.1, RFC 2637 section 4.1); `arg` says which
 * word; "gre" itself is the header's bytes. */
enum { GW_FLAGS, GW_ACK_BIT, GW_RESERVED, GW_PROTO, GW_CSUM, GW_OFFSET, GW_KEY, GW_PLEN, GW_CALL, GW_SEQ, GW_ACK };

static int gre_word_at(uint16_t flags, int which, uint32_t *at)
{
    int pptp = (flags & 0x0007) == 1, key = (flags & GRE_K) != 0, seq = (flags & GRE_S) != 0;
    uint32_t key_at = GRE_HAS_CO(flags) ? 8 : 4, seq_at = key_at + (key ? 4 : 0);
    switch (which) {
    case GW_FLAGS: case GW_RESERVED: *at = 0; return 1;
    case GW_ACK_BIT: *at = 0; return pptp; /* version 0's bit 8 is reserved */
    case GW_PROTO: *at = 2; return 1;
    case GW_CSUM: *at = 4; return GRE_HAS_CO(flags);
    case GW_OFFSET: *at = 6; return GRE_HAS_CO(flags);
    case GW_KEY: *at = key_at; return key && !pptp;
    case GW_PLEN: *at = key_at; return key && pptp;
    case GW_CALL: *at = key_at + 2; return key && pptp;
    case GW_SEQ: *at = seq_at; return seq;
    default: *at = seq_at + (seq ? 4 : 0); return pptp && (flags & GRE_A);
    }
}

static int gre_words(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    uint32_t heads[FP_MAX_TUNNELS + 1];
    int count = gre_headers(x->d, heads), n = 0;
    for (int i = 0; i < count; i++) {
        const uint8_t *h = x->data + heads[i];
        uint16_t flags = fp_load_be16(h);
        uint32_t at;
        fp_field_value v;
        if (f->type == FP_FT_PROTOCOL) {
            v = (fp_field_value){0, h, gre_header_len(h)};
        } else {
            if (!gre_word_at(flags, f->arg, &at)) continue;
            fp_field_decode(f, h + at, &v);
            if (f->arg == GW_RESERVED) /* PPTP's A bit is not among them */
                v.u = (v.u & ((flags & 0x0007) == 1 ? 0x78u : 0xf8u)) >> 3;
        }
        n++;
        if (visit(arg, &v)) return n;
    }
    return n;
}

/* The Source Route Entries of version 0 headers with the routing bit, terminator included
 * (tshark lists it): `offset` is the byte in the entry, FP_FT_BYTES the routing information. */
static int gre_sres(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    uint32_t heads[FP_MAX_TUNNELS + 1];
    int count = gre_headers(x->d, heads), n = 0;
    for (int i = 0; i < count; i++) {
        uint16_t flags = fp_load_be16(x->data + heads[i]);
        if ((flags & 0x0007) != 0 || !(flags & GRE_R)) continue;
        /* the walk in fp_dissect_gre found the terminator inside the record */
        for (uint32_t at = heads[i] + gre_routing_at(flags);;) {
            const uint8_t *sre = x->data + at;
            fp_field_value v;
            if (f->type == FP_FT_BYTES) {
                v = (fp_field_value){0, sre + 4, sre[3]};
            } else {
                fp_field_decode(f, sre + f->offset, &v);
            }
            if (f->type != FP_FT_BYTES || sre[3] != 0) { /* tshark lists no empty information */
                n++;
                if (visit(arg, &v)) return n;
            }
            if (fp_load_be16(sre) == 0 && sre[3] == 0) break;
            at += 4u + sre[3];
        }
    }
    return n;
}

uint32_t fp_gre_cmd_off(const uint8_t *data, uint32_t caplen, const fp_dissection *d)
{
    if (d->gre_off == 0 || fp_load_be16(data + d->gre_off + 2) != 0x8909) return 0;
    uint16_t flags = fp_load_be16(data + d->gre_off);
    uint32_t at = d->gre_off + gre_routing_at(flags);
    /* version 0 without routing entries, as tshark's cmd reads it behind GRE */
    return (flags & (GRE_R | 0x0007)) == 0 && at < caplen ? at : 0;
}

/* Cisco MetaData: after an Ethernet header (d->cmd_off), then in each GRE header of protocol
 * 0x8909 (its last 8 bytes), then in the GRE header left undecoded (fp_gre_cmd_off). `offset` is the field's place in GRE's layout (type, version,
 * length, options, SGT); Ethernet's puts the type last, so the others move up 2 bytes. "cmd"
 * itself is the shim's 8 bytes. */
static int cmd_words(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    int n = 0;
    fp_field_value v;
    if (d->cmd_off != 0) {
        if (f->type == FP_FT_PROTOCOL) v = (fp_field_value){0, x->data + d->cmd_off, 8};
        else fp_field_decode(f, x->data + d->cmd_off + (f->offset + 6u) % 8u, &v);
        n++;
        if (visit(arg, &v)) return n;
    }
    for (int i = 0; i < d->tunnel_count; i++) {
        const fp_tunnel *t = &d->tunnel[i];
        if (t->type != FP_TUN_GRE || fp_load_be16(x->data + t->off + 2) != 0x8909) continue;
        const uint8_t *shim = x->data + t->off + t->hlen - 8;
        if (f->type == FP_FT_PROTOCOL) v = (fp_field_value){0, shim, 8};
        else fp_field_decode(f, shim + f->offset, &v);
        n++;
        if (visit(arg, &v)) return n;
    }
    uint32_t at = fp_gre_cmd_off(x->data, x->caplen, d);
    /* a payload GRE does not decapsulate (CDP, keepalives...) behind the shim, or the shim cut
     * short: each word that is captured, as tshark shows them */
    uint32_t have = at != 0 ? x->caplen - at : 0;
    if (at != 0 && f->type == FP_FT_PROTOCOL) {
        v = (fp_field_value){0, x->data + at, have < 8 ? have : 8};
        n++;
        visit(arg, &v);
    } else if (at != 0 && f->offset + f->bits / 8u <= have) {
        fp_field_decode(f, x->data + at + f->offset, &v);
        n++;
        visit(arg, &v);
    }
    return n;
}

/* The PPP frames of a packet, outer to inner: the record's own (PPP link types), then each
 * PPPoE session's (its protocol word) and each PPTP tunnel's that carries one. */
typedef struct {
    uint32_t off, proto_at, width;
    uint32_t end; /* a PPPoE session's within its length field (as fp_dissect_pppoe bounds
                   * it), the others' at the record's end */
} ppp_frame;

static int ppp_frames(const fp_dissection *d, const uint8_t *data, uint32_t caplen, ppp_frame out[FP_MAX_TUNNELS + 1])
{
    int n = 0;
    if (d->link_ppp) {
        uint32_t off = d->link_ppp - 1u, w;
        uint32_t at = fp_ppp_proto_at(data, off, caplen, &w);
        out[n++] = (ppp_frame){off, at, w, caplen};
    }
    for (int i = 0; i < d->tunnel_count; i++) {
        const fp_tunnel *t = &d->tunnel[i];
        if (t->type == FP_TUN_PPPOE) {
            uint32_t len = fp_load_be16(data + t->off + 4), end = caplen;
            end = len >= 2 && len <= end - t->off - 6 ? t->off + 6 + len : end;
            out[n++] = (ppp_frame){t->off + 6, t->off + 6, 2, end};
        } else if (t->type == FP_TUN_PPTP) {
            uint32_t off = t->off + pptp_hlen(fp_load_be16(data + t->off)), end = t->off + t->hlen, w;
            if (end == off) continue; /* an acknowledgement alone */
            uint32_t at = fp_ppp_proto_at(data, off, end, &w);
            out[n++] = (ppp_frame){off, at, w, caplen};
        }
    }
    return n;
}

enum { PPP_PROTOCOL_BYTES, PPP_ADDRESS, PPP_CONTROL, PPP_PROTO };

static int ppp_words(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    ppp_frame frames[FP_MAX_TUNNELS + 1];
    int count = ppp_frames(x->d, x->data, x->caplen, frames), n = 0;
    for (int i = 0; i < count; i++) {
        const ppp_frame *fr = &frames[i];
        const uint8_t *p = x->data + fr->off;
        fp_field_value v = {0, NULL, 0};
        switch (f->arg) {
        case PPP_PROTOCOL_BYTES: v.p = p; v.len = fr->proto_at + fr->width - fr->off; break;
        case PPP_ADDRESS: case PPP_CONTROL: /* HDLC's bytes, when the frame keeps them */
            if (fr->proto_at == fr->off) continue;
            v.u = p[f->arg == PPP_CONTROL];
            break;
        default: v.u = fr->width == 1 ? x->data[fr->proto_at] : fp_load_be16(x->data + fr->proto_at); break;
        }
        n++;
        if (visit(arg, &v)) return n;
    }
    return n;
}

/* ---- PPP's control protocols (RFC 1661 section 5, RFC 1332, RFC 5072, RFC 1877) ----------
 * Read on request from each PPP frame (ppp_frames) whose protocol is LCP, IPCP or IPV6CP: the
 * code, identifier and length (tshark's ppp.code, ppp.identifier, ppp.length, shared by the
 * control protocols), then for Configure-Request/Ack/Nak/Reject (codes 1-4) the options as
 * type, length, value; LCP's magic number of codes 9-13 (Echo, Discard, Identification, Time-Remaining)
 * and the protocol of a Protocol-Reject (8). The packet spans what its length field says,
 * within the frame: one whose length passes the frame or is under 4 (tshark's malformed
 * packet) has its header alone, an option whose length is under 2 or passes the packet ends the options, and
 * a value is read only when its option has the length the RFC gives it (tshark's "invalid
 * length" otherwise), so a lying length never reads past the record. */
enum { CP_ANY, CP_LCP = FP_PPP_LCP, CP_IPCP = FP_PPP_IPCP, CP_IPV6CP = FP_PPP_IPV6CP, CP_CCP = FP_PPP_CCP };
enum { CPW_PROTOCOL, CPW_CODE, CPW_IDENTIFIER, CPW_LENGTH, CPW_OPT_TYPE, CPW_OPT_LENGTH, CPW_OPT_VALUE,
       CPW_MAGIC, CPW_REJECTED };
#define CP_WHICH(arg) ((arg) >> 4)
#define CP_WORD(arg) ((arg) & 15)

static int cp_of(uint16_t proto)
{
    switch (proto) {
    case 0xc021: return CP_LCP;
    case 0x8021: return CP_IPCP;
    case 0x8057: return CP_IPV6CP;
    case 0x80fd: return CP_CCP; /* its header alone (ppp.code...): no options read */
    default: return CP_ANY;
    }
}

static int cp_visit(const fp_field *f, const uint8_t *p, uint32_t len, fp_field_visit visit, void *arg, int *n)
{
    fp_field_value v = {0, p, len};
    if (f->type != FP_FT_PROTOCOL && f->type != FP_FT_BYTES && f->type != FP_FT_STRING) fp_field_decode(f, p, &v);
    (*n)++;
    return visit(arg, &v);
}

/* Whether option `type` of a control protocol has a length RFC 1661/1332/1877/5072 (and
 * 1990's MRRU and short sequence header) allow: 1 when it does, 0 when not (tshark shows such
 * an option as a warning alone, no type or length field, and goes on after it), -1 for a type
 * without a rule here. Fixed for MRU, ACCM, magic number, addresses; at least the protocol
 * word for the authentication, quality and compression protocols, whose data follows it
 * (CHAP's algorithm, LQR's period, Van Jacobson's slots). */
static int cp_option_fits(int cp, uint8_t type, uint8_t len)
{
    if (cp == CP_LCP) {
        switch (type) {
        case 1: case 17: return len == 4;
        case 2: case 5: return len == 6;
        case 3: case 4: return len >= 4;
        case 7: case 8: case 18: return len == 2;
        default: return -1;
        }
    }
    if (cp == CP_IPCP) return type == 2 ? len >= 4 : type == 3 || (type >= 129 && type <= 132) ? len == 6 : -1;
    if (cp == CP_IPV6CP) return type == 1 ? len == 10 : type == 2 ? len >= 4 : -1;
    return -1;
}

static int cp_words(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    ppp_frame frames[FP_MAX_TUNNELS + 1];
    int count = ppp_frames(x->d, x->data, x->caplen, frames), n = 0, which = CP_WHICH(f->arg), word = CP_WORD(f->arg);
    for (int i = 0; i < count; i++) {
        const ppp_frame *fr = &frames[i];
        if (fr->width == 0 || fr->proto_at + fr->width > fr->end) continue;
        uint16_t proto = fr->width == 1 ? x->data[fr->proto_at] : fp_load_be16(x->data + fr->proto_at);
        int cp = cp_of(proto);
        if (cp == CP_ANY || (which != CP_ANY && which != cp)) continue;
        uint32_t at = fr->proto_at + fr->width, end = fr->end;
        const uint8_t *p = x->data + at;
        if (end - at < 4) continue; /* a header cut short: tshark shows no lcp/ipcp tree either */
        uint32_t len = fp_load_be16(p + 2), whole = len >= 4 && len <= end - at, stop = whole ? at + len : end;
        uint8_t code = p[0];
        switch (word) {
        case CPW_PROTOCOL: if (cp_visit(f, p, stop - at, visit, arg, &n)) return n; continue;
        case CPW_CODE: if (cp_visit(f, p, 1, visit, arg, &n)) return n; continue;
        case CPW_IDENTIFIER: if (cp_visit(f, p + 1, 1, visit, arg, &n)) return n; continue;
        case CPW_LENGTH: if (cp_visit(f, p + 2, 2, visit, arg, &n)) return n; continue;
        default: break;
        }
        if (!whole) continue; /* tshark's malformed packet: the header alone */
        switch (word) {
        case CPW_MAGIC:
            if (code >= 9 && code <= 13 && stop - at >= 8 && cp_visit(f, p + 4, 4, visit, arg, &n)) return n;
            continue;
        case CPW_REJECTED:
            if (code == 8 && stop - at >= 6 && cp_visit(f, p + 4, 2, visit, arg, &n)) return n;
            continue;
        default: break;
        }
        if (code < 1 || code > 4) continue;
        for (uint32_t o = at + 4; stop - o >= 2;) {
            const uint8_t *opt = x->data + o;
            if (opt[1] < 2 || opt[1] > stop - o) break;
            int stopped = 0, fits = cp_option_fits(cp, opt[0], opt[1]);
            if (fits != 0 && word == CPW_OPT_TYPE) stopped = cp_visit(f, opt, 1, visit, arg, &n);
            else if (fits != 0 && word == CPW_OPT_LENGTH) stopped = cp_visit(f, opt + 1, 1, visit, arg, &n);
            else if (fits == 1 && opt[0] == f->offset) stopped = cp_visit(f, opt + 2, opt[1] - 2u, visit, arg, &n);
            if (stopped) return n;
            o += opt[1];
        }
    }
    return n;
}

/* ---- PPP's authentication protocols (CHAP, RFC 1994 section 4; PAP, RFC 1334 section 2.2) ----
 * Read as tshark 4.0 reads them: code, identifier and length as captured; CHAP's data bounded
 * by its length field (none under 4), PAP's not bounded by it at all. Each field is shown only
 * when all its bytes lie within the PPP frame: a read past it ends the packet, as tshark's
 * exception does (a lying length or size is then a malformed packet). A CHAP value size over
 * what the length leaves is shown and ends the walk (tshark's "invalid, must be <= N"). */
enum { AU_PROTOCOL, AU_CODE, AU_IDENTIFIER, AU_LENGTH, AU_VALUE_SIZE, AU_VALUE, AU_NAME, AU_MESSAGE,
       AU_STUFF, AU_PEER_ID_LENGTH, AU_PEER_ID, AU_PASSWORD_LENGTH, AU_PASSWORD, AU_MESSAGE_LENGTH };
enum { AUTH_CHAP = 1, AUTH_PAP = 2 };

/* One walk over an authentication packet: the word asked for, the visitor, how many values it
 * was given and whether it asked to stop. */
typedef struct {
    const fp_field *f;
    fp_field_visit visit;
    void *arg;
    int want, n, stop;
    uint64_t past; /* where the word that passed the frame ends, 0 when none did */
} auth_walk;

/* Offers word `word` at off..off+len; 0 when its bytes pass the frame (tshark's exception). */
static int auth_at(auth_walk *w, int word, const uint8_t *p, uint32_t avail, uint32_t off, uint32_t len)
{
    if (off > avail || len > avail - off) {
        w->past = (uint64_t)off + len;
        return 0;
    }
    if (word == w->want && !w->stop) w->stop = cp_visit(w->f, p + off, len, w->visit, w->arg, &w->n);
    return 1;
}

static void chap_walk(auth_walk *w, const uint8_t *p, uint32_t avail)
{
    if (!auth_at(w, AU_CODE, p, avail, 0, 1) || !auth_at(w, AU_IDENTIFIER, p, avail, 1, 1) ||
        !auth_at(w, AU_LENGTH, p, avail, 2, 2))
        return;
    uint32_t len = fp_load_be16(p + 2);
    if (len < 4) return; /* tshark's "invalid, must be >= 4": the length field alone */
    uint32_t data = len - 4;
    if (data == 0) return;
    switch (p[0]) {
    case 1: case 2: { /* Challenge, Response: value size, value, name */
        if (!auth_at(w, AU_VALUE_SIZE, p, avail, 4, 1)) return;
        uint32_t size = p[4], rest = data - 1;
        if (size > rest || rest == 0) return;
        if (!auth_at(w, AU_VALUE, p, avail, 5, size) || rest == size) return;
        auth_at(w, AU_NAME, p, avail, 5 + size, rest - size);
        return;
    }
    case 3: case 4: auth_at(w, AU_MESSAGE, p, avail, 4, data); return; /* Success, Failure */
    default: auth_at(w, AU_STUFF, p, avail, 4, data); return;
    }
}

static void pap_walk(auth_walk *w, const uint8_t *p, uint32_t avail)
{
    if (!auth_at(w, AU_CODE, p, avail, 0, 1) || !auth_at(w, AU_IDENTIFIER, p, avail, 1, 1) ||
        !auth_at(w, AU_LENGTH, p, avail, 2, 2))
        return;
    switch (p[0]) {
    case 1: { /* Authenticate-Request: peer id and password, each behind its length byte */
        if (!auth_at(w, AU_PEER_ID_LENGTH, p, avail, 4, 1)) return;
        uint32_t id = p[4];
        if (!auth_at(w, AU_PEER_ID, p, avail, 5, id) || !auth_at(w, AU_PASSWORD_LENGTH, p, avail, 5 + id, 1))
            return;
        auth_at(w, AU_PASSWORD, p, avail, 6 + id, p[5 + id]);
        return;
    }
    case 2: case 3: /* Authenticate-Ack, -Nak */
        if (auth_at(w, AU_MESSAGE_LENGTH, p, avail, 4, 1)) auth_at(w, AU_MESSAGE, p, avail, 5, p[4]);
        return;
    default: /* the rest of the frame, when there is any (tshark adds no empty item) */
        if (avail > 4) auth_at(w, AU_STUFF, p, avail, 4, avail - 4);
        return;
    }
}

static int auth_words(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    ppp_frame frames[FP_MAX_TUNNELS + 1];
    int count = ppp_frames(x->d, x->data, x->caplen, frames), which = CP_WHICH(f->arg);
    auth_walk w = {f, visit, arg, CP_WORD(f->arg), 0, 0, 0};
    for (int i = 0; i < count && !w.stop; i++) {
        const ppp_frame *fr = &frames[i];
        if (fr->width == 0 || fr->proto_at + fr->width > fr->end) continue;
        uint16_t proto = fr->width == 1 ? x->data[fr->proto_at] : fp_load_be16(x->data + fr->proto_at);
        if (proto != (which == AUTH_CHAP ? 0xc223 : 0xc023)) continue;
        uint32_t at = fr->proto_at + fr->width, avail = fr->end - at;
        const uint8_t *p = x->data + at;
        if (avail == 0) continue; /* no code byte: tshark adds no chap/pap item */
        if (w.want == AU_PROTOCOL) {
            uint32_t len = avail >= 4 ? fp_load_be16(p + 2) : 0;
            w.stop = cp_visit(f, p, len >= 4 && len <= avail ? len : avail, visit, arg, &w.n);
        } else if (which == AUTH_CHAP) {
            chap_walk(&w, p, avail);
        } else {
            pap_walk(&w, p, avail);
        }
    }
    return w.n;
}

/* The lengths tshark 4.0 accepts for each option type of a control protocol: {type, min, max}
 * (max 0: no upper bound), types not listed are not checked. Found by sweeping every type and
 * length (and the first data bytes) through tshark; they follow RFC 1661/1570/1990/2125/2153/
 * 2484/2686/2823/3255/5072 (LCP), 1332/1877/2509/3241/5072 (IPCP, IPV6CP) and 1962 with the
 * algorithm RFCs (CCP: OUI, Stac LZS, MPPC/MPPE, Gandalf FZA, V.42bis, BSD, LZS-DCP,
 * Magnalink, DCE, Deflate, V.44). LCP's Quality-Protocol is exactly 4: tshark 4.0 reads an
 * LQR's reporting period past the option. */
typedef struct {
    uint8_t type, min, max;
} cp_len_rule;

static const cp_len_rule lcp_len_rules[] = {
    {0, 6, 0},  {1, 4, 4},  {2, 6, 6},  {3, 4, 0},  {4, 4, 4},  {5, 6, 6},  {6, 6, 6},  {7, 2, 2},
    {8, 2, 2},  {9, 3, 3},  {10, 3, 3}, {11, 3, 0}, {13, 3, 0}, {15, 2, 2}, {16, 2, 2}, {17, 4, 4},
    {18, 2, 2}, {19, 3, 0}, {21, 3, 3}, {22, 4, 4}, {23, 4, 4}, {24, 3, 0}, {25, 3, 3}, {27, 4, 4},
    {28, 7, 0}, {29, 2, 2},
};
static const cp_len_rule ipcp_len_rules[] = {
    {1, 10, 10}, {2, 4, 0}, {3, 6, 6}, {4, 6, 6}, {129, 6, 6}, {130, 6, 6}, {131, 6, 6}, {132, 6, 6},
};
static const cp_len_rule ipv6cp_len_rules[] = {{1, 10, 10}, {2, 4, 0}};
static const cp_len_rule ccp_len_rules[] = {
    {0, 6, 0},  {17, 5, 0}, {18, 6, 6}, {19, 3, 0}, {21, 3, 3},
    {23, 6, 6}, {24, 4, 4}, {25, 3, 3}, {26, 4, 4}, {27, 4, 0},
};

/* The suboptions after IPHC's or ROHC's parameters (p..p+len) as tshark 4.0 reads them: each
 * a type and a length of at least 2 within what is left, IPHC's RTP compression (1, RFC
 * 2508) and enhanced RTP compression (2, RFC 3545) 2 bytes, its header compression
 * negotiation (3, RFC 3545) 3; ROHC's and IPHC's other types any length. */
static int cp_suboptions_lie(const uint8_t *p, uint32_t len, int iphc)
{
    for (uint32_t o = 0; o < len;) {
        uint8_t slen = len - o >= 2 ? p[o + 1] : 0;
        if (slen < 2 || slen > len - o) return 1;
        if (iphc && (p[o] == 1 || p[o] == 2 ? slen != 2 : p[o] == 3 && slen != 3)) return 1;
        o += slen;
    }
    return 0;
}

/* An IP compression protocol's option (IPCP, IPV6CP type 2) by its protocol: Van Jacobson's
 * slot fields (RFC 1332), IPHC's parameters (RFC 2509) and ROHC's (RFC 3241), then their
 * suboptions. */
static int cp_compression_lies(const uint8_t *opt, uint8_t olen)
{
    switch (fp_load_be16(opt + 2)) {
    case 0x002d: return olen < 6;
    case 0x0061: return olen < 14 || cp_suboptions_lie(opt + 14, olen - 14u, 1);
    case 0x0003: return olen < 10 || cp_suboptions_lie(opt + 10, olen - 10u, 0);
    default: return 0;
    }
}

/* LCP's Prefix Elision (RFC 2686 section 4.2) as tshark 4.0 reads it: when the first class's
 * prefix fits what follows it, the prefix is read as a count byte and that many bytes from
 * the option's fifth byte (not the class's own bytes), so a count or a fifth byte past the
 * option throws. Its loop never moves on, so the first class decides. */
static int prefix_elision_lies(const uint8_t *opt, uint8_t olen)
{
    if (olen < 4 || opt[3] + 4u > olen) return 0;
    return olen < 5 || opt[4] + 5u > olen;
}

/* Whether an option captured whole, of olen bytes (at least 2, within its packet), is one
 * tshark 4.0 warns about or throws on: a length its type's rule does not allow, V.44's odd
 * lengths 5 and 7, an LCP Authentication option whose identifier length passes it, a Prefix
 * Elision tshark reads past, a compression protocol's parameters cut short. */
static int cp_option_lies(int cp, const uint8_t *opt, uint8_t olen)
{
    static const struct {
        const cp_len_rule *rules;
        size_t n;
    } tables[] = {
        [CP_LCP] = {lcp_len_rules, sizeof lcp_len_rules / sizeof lcp_len_rules[0]},
        [CP_IPCP] = {ipcp_len_rules, sizeof ipcp_len_rules / sizeof ipcp_len_rules[0]},
        [CP_IPV6CP] = {ipv6cp_len_rules, sizeof ipv6cp_len_rules / sizeof ipv6cp_len_rules[0]},
        [CP_CCP] = {ccp_len_rules, sizeof ccp_len_rules / sizeof ccp_len_rules[0]},
    };
    uint8_t type = opt[0];
    if (cp == CP_LCP && type == 26) return prefix_elision_lies(opt, olen);
    for (size_t i = 0; i < tables[cp].n; i++) {
        const cp_len_rule *r = &tables[cp].rules[i];
        if (r->type != type) continue;
        if (olen < r->min || (r->max && olen > r->max)) return 1;
        if (cp == CP_LCP && type == 24) return opt[2] > olen - 3;
        if (cp == CP_CCP && type == 27) return olen == 5 || olen == 7;
        if ((cp == CP_IPCP || cp == CP_IPV6CP) && type == 2) return cp_compression_lies(opt, olen);
        return 0;
    }
    return 0;
}

/* Whether a control protocol's packet at p lies as tshark 4.0 reports it (avail bytes captured
 * to its frame's end, wavail on the wire): a header or length past the wire (a read past the
 * capture alone is tshark's "packet size limited", not this), a length short of what its code
 * reads (a Protocol-Reject's protocol, the magic number of codes 9-13, which tshark reads for
 * every control protocol), or an option tshark warns or throws about (a length under 2, past
 * the options, a type byte alone, or what cp_option_lies rejects). A Protocol-Reject's
 * rejected packet is read only as far as captured, and a length under 4 is display text
 * alone. */
static int cp_lies(int cp, const uint8_t *p, uint32_t avail, uint32_t wavail)
{
    if (avail < 4) return avail == 0 ? wavail == 0 : wavail < 4; /* tshark reads code, then length */
    uint32_t len = fp_load_be16(p + 2), seen = len < avail ? len : avail;
    uint8_t code = p[0];
    if (len < 4) return 0;
    if (len > wavail) return code == 8 ? wavail < 6 : 1;
    uint32_t need = code == 8 ? 6 : code >= 9 && code <= 12 ? 8 : code == 13 ? 12 : 4;
    /* the first read that fails: past the length is malformed, past the capture alone is not */
    if (len < need) return (code == 13 && seen >= 8 ? 12 : need == 12 ? 8 : need) > len;
    /* options cut by the capture: tshark stops at their tree item before reading any */
    if (code < 1 || code > 4 || len > avail) return 0;
    for (uint32_t o = 4; o < len;) {
        uint8_t olen = len - o >= 2 ? p[o + 1] : 0;
        if (olen < 2 || olen > len - o || cp_option_lies(cp, p + o, olen)) return 1;
        o += olen;
    }
    return 0;
}

int fp_ppp_option_fits(int cp, uint8_t type, uint8_t len)
{
    return cp_option_fits(cp, type, len);
}

int fp_ppp_option_lies(int cp, const uint8_t *opt, uint8_t len)
{
    return cp_option_lies(cp, opt, len);
}

int fp_ppp_control_find(const fp_dissection *d, const uint8_t *data, uint32_t caplen, int cp, uint32_t *at,
                        uint32_t *end)
{
    ppp_frame frames[FP_MAX_TUNNELS + 1];
    int count = ppp_frames(d, data, caplen, frames);
    for (int i = 0; i < count; i++) {
        const ppp_frame *fr = &frames[i];
        if (fr->width == 0 || fr->proto_at + fr->width > fr->end) continue;
        uint16_t proto = fr->width == 1 ? data[fr->proto_at] : fp_load_be16(data + fr->proto_at);
        uint32_t start = fr->proto_at + fr->width;
        if (cp_of(proto) != cp || fr->end - start < 4) continue; /* no header: no lcp tree either */
        *at = start;
        *end = fr->end;
        return 1;
    }
    return 0;
}

/* Flags FP_ANOM_PPP_CONTROL on a PPP frame's control or authentication packet at..end that
 * tshark calls malformed or warns about. Only the record's end can have bytes on the wire
 * past the capture. Called only for protocols other than IP: costs nothing on the IP path. */
static void ppp_control_check(fp_dctx *x, uint16_t proto, uint32_t at, uint32_t end)
{
    int cp = cp_of(proto), lies;
    uint64_t cut = end == x->caplen && x->wirelen > x->caplen ? x->wirelen - x->caplen : 0;
    uint32_t avail = end - at, wavail = avail + cut > UINT32_MAX ? UINT32_MAX : (uint32_t)(avail + cut);
    if (cp != CP_ANY) {
        lies = cp_lies(cp, x->data + at, avail, wavail);
    } else if (proto == 0xc223 || proto == 0xc023) {
        auth_walk w = {NULL, NULL, NULL, -1, 0, 0, 0};
        if (avail == 0) w.past = 1; /* no code byte */
        else if (proto == 0xc223) chap_walk(&w, x->data + at, avail);
        else pap_walk(&w, x->data + at, avail);
        /* tshark reads past a PAP header of a code RFC 1334 does not define when nothing follows */
        if (proto == 0xc023 && avail == 4 && (x->data[at] < 1 || x->data[at] > 3)) w.past = 5;
        lies = w.past > wavail;
    } else {
        return;
    }
    if (lies) x->d->anomalies |= FP_ANOM_PPP_CONTROL;
}

/* Wireshark's pppoes: the session header of each PPPoE tunnel record. */
static int pppoe_sessions(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    const fp_dissection *d = x->d;
    int n = 0;
    for (int i = 0; i < d->tunnel_count; i++) {
        if (d->tunnel[i].type != FP_TUN_PPPOE) continue;
        fp_field_value v = {0, x->data + d->tunnel[i].off, 6};
        n++;
        if (visit(arg, &v)) return n;
    }
    /* a session header not decapsulated (6 or 7 bytes, tunnels off or nested too deep): tshark's
     * pppoes matches from its 6 bytes on */
    if (n == 0 && d->ethertype == 0x8864 && d->payload_len >= 6) {
        fp_field_value v = {0, x->data + d->payload_off, 6};
        n++;
        visit(arg, &v);
    }
    return n;
}

#define TUNNEL_ID(name, bits, mask, type) {name, FP_FT_UINT, bits, FP_L_COUNT, type, 0, mask, tunnel_ids}
#define GRE_WORD(name, type, bits, which, mask) {name, type, bits, FP_L_COUNT, which, 0, mask, gre_words}
#define GRE_FLAG(name, mask) GRE_WORD(name, FP_FT_BOOL, 16, GW_FLAGS, mask)
#define GRE_SRE(name, type, bits, off) {name, type, bits, FP_L_COUNT, 0, off, 0, gre_sres}
#define CMD_WORD(name, bits, off) {name, FP_FT_UINT, bits, FP_L_COUNT, 0, off, 0, cmd_words}
static const fp_field gre_fields[] = {
    GRE_WORD("gre", FP_FT_PROTOCOL, 0, GW_FLAGS, 0),
    GRE_WORD("gre.flags_and_version", FP_FT_UINT, 16, GW_FLAGS, 0),
    GRE_FLAG("gre.flags.checksum", GRE_C),
    GRE_FLAG("gre.flags.routing", GRE_R),
    GRE_FLAG("gre.flags.key", GRE_K),
    GRE_FLAG("gre.flags.sequence_number", GRE_S),
    GRE_FLAG("gre.flags.strict_source_route", 0x0800),
    GRE_WORD("gre.flags.recursion_control", FP_FT_UINT, 16, GW_FLAGS, 0x0700),
    GRE_WORD("gre.flags.ack", FP_FT_BOOL, 16, GW_ACK_BIT, GRE_A),
    GRE_WORD("gre.flags.reserved", FP_FT_UINT, 16, GW_RESERVED, 0),
    GRE_WORD("gre.flags.version", FP_FT_UINT, 16, GW_FLAGS, 0x0007),
    GRE_WORD("gre.proto", FP_FT_UINT, 16, GW_PROTO, 0),
    GRE_WORD("gre.checksum", FP_FT_UINT, 16, GW_CSUM, 0),
    GRE_WORD("gre.offset", FP_FT_UINT, 16, GW_OFFSET, 0),
    GRE_WORD("gre.key", FP_FT_UINT, 32, GW_KEY, 0),
    GRE_WORD("gre.key.payload_length", FP_FT_UINT, 16, GW_PLEN, 0),
    GRE_WORD("gre.key.call_id", FP_FT_UINT, 16, GW_CALL, 0),
    GRE_WORD("gre.sequence_number", FP_FT_UINT, 32, GW_SEQ, 0),
    GRE_WORD("gre.ack_number", FP_FT_UINT, 32, GW_ACK, 0),
    GRE_SRE("gre.routing.address_family", FP_FT_UINT, 16, 0),
    GRE_SRE("gre.routing.sre_offset", FP_FT_UINT, 8, 2),
    GRE_SRE("gre.routing.src_length", FP_FT_UINT, 8, 3),
    GRE_SRE("gre.routing.information", FP_FT_BYTES, 0, 4),
};
static const fp_field erspan_fields[] = {TUNNEL_ID("erspan.spanid", 16, 0x3ff, FP_TUN_ERSPAN)};
static const fp_field vxlan_fields[] = {TUNNEL_ID("vxlan.vni", 24, 0, FP_TUN_VXLAN)};
static const fp_field geneve_fields[] = {TUNNEL_ID("geneve.vni", 24, 0, FP_TUN_GENEVE)};
static const fp_field gtp_fields[] = {TUNNEL_ID("gtp.teid", 32, 0, FP_TUN_GTPU)};
static const fp_field mpls_fields[] = {TUNNEL_ID("mpls.label", 32, 0xfffff000, FP_TUN_MPLS)};
static const fp_field pppoe_fields[] = {TUNNEL_ID("pppoe.session_id", 16, 0, FP_TUN_PPPOE)};
static const fp_field cmd_fields[] = {
    {"cmd", FP_FT_PROTOCOL, 0, FP_L_COUNT, 0, 0, 0, cmd_words},
    CMD_WORD("cmd.type", 16, 0),   CMD_WORD("cmd.version", 8, 2), CMD_WORD("cmd.length", 8, 3),
    CMD_WORD("cmd.options", 16, 4), CMD_WORD("cmd.sgt", 16, 6),
};
#define PPP_WORD(name, type, bits, which) {name, type, bits, FP_L_COUNT, which, 0, 0, ppp_words}
#define CP_FIELD(name, type, bits, cp, word, opt) {name, type, bits, FP_L_COUNT, (cp) << 4 | (word), opt, 0, cp_words}
static const fp_field ppp_fields[] = {
    PPP_WORD("ppp", FP_FT_PROTOCOL, 0, PPP_PROTOCOL_BYTES), PPP_WORD("ppp.address", FP_FT_UINT, 8, PPP_ADDRESS),
    PPP_WORD("ppp.control", FP_FT_UINT, 8, PPP_CONTROL),    PPP_WORD("ppp.protocol", FP_FT_UINT, 16, PPP_PROTO),
    /* the control protocols' header, named by ppp as tshark names it */
    CP_FIELD("ppp.code", FP_FT_UINT, 8, CP_ANY, CPW_CODE, 0),
    CP_FIELD("ppp.identifier", FP_FT_UINT, 8, CP_ANY, CPW_IDENTIFIER, 0),
    CP_FIELD("ppp.length", FP_FT_UINT, 16, CP_ANY, CPW_LENGTH, 0),
};
static const fp_field pppoes_fields[] = {{"pppoes", FP_FT_PROTOCOL, 0, FP_L_COUNT, 0, 0, 0, pppoe_sessions}};
#define CP_HEAD(cp, name) CP_FIELD(name, FP_FT_PROTOCOL, 0, cp, CPW_PROTOCOL, 0),                             \
    CP_FIELD(name ".opt.type", FP_FT_UINT, 8, cp, CPW_OPT_TYPE, 0),                                          \
    CP_FIELD(name ".opt.length", FP_FT_UINT, 8, cp, CPW_OPT_LENGTH, 0)
static const fp_field lcp_fields[] = {
    CP_HEAD(CP_LCP, "lcp"),
    CP_FIELD("lcp.opt.mru", FP_FT_UINT, 16, CP_LCP, CPW_OPT_VALUE, 1),
    CP_FIELD("lcp.opt.asyncmap", FP_FT_UINT, 32, CP_LCP, CPW_OPT_VALUE, 2),
    CP_FIELD("lcp.opt.auth_protocol", FP_FT_UINT, 16, CP_LCP, CPW_OPT_VALUE, 3),
    CP_FIELD("lcp.opt.quality_protocol", FP_FT_UINT, 16, CP_LCP, CPW_OPT_VALUE, 4),
    CP_FIELD("lcp.opt.magic_number", FP_FT_UINT, 32, CP_LCP, CPW_OPT_VALUE, 5),
    CP_FIELD("lcp.magic_number", FP_FT_UINT, 32, CP_LCP, CPW_MAGIC, 0),
    CP_FIELD("lcp.rej_proto", FP_FT_UINT, 16, CP_LCP, CPW_REJECTED, 0),
};
static const fp_field ipcp_fields[] = {
    CP_HEAD(CP_IPCP, "ipcp"),
    CP_FIELD("ipcp.opt.compress_proto", FP_FT_UINT, 16, CP_IPCP, CPW_OPT_VALUE, 2),
    CP_FIELD("ipcp.opt.ip_address", FP_FT_IPV4, 32, CP_IPCP, CPW_OPT_VALUE, 3),
    CP_FIELD("ipcp.opt.pri_dns_address", FP_FT_IPV4, 32, CP_IPCP, CPW_OPT_VALUE, 129),
    CP_FIELD("ipcp.opt.pri_nbns_address", FP_FT_IPV4, 32, CP_IPCP, CPW_OPT_VALUE, 130),
    CP_FIELD("ipcp.opt.sec_dns_address", FP_FT_IPV4, 32, CP_IPCP, CPW_OPT_VALUE, 131),
    CP_FIELD("ipcp.opt.sec_nbns_address", FP_FT_IPV4, 32, CP_IPCP, CPW_OPT_VALUE, 132),
};
static const fp_field ipv6cp_fields[] = {
    CP_HEAD(CP_IPV6CP, "ipv6cp"),
    CP_FIELD("ipv6cp.interface_identifier", FP_FT_BYTES, 0, CP_IPV6CP, CPW_OPT_VALUE, 1),
};
#define AUTH_FIELD(name, type, bits, which, word) {name, type, bits, FP_L_COUNT, (which) << 4 | (word), 0, 0, auth_words}
static const fp_field chap_fields[] = {
    AUTH_FIELD("chap", FP_FT_PROTOCOL, 0, AUTH_CHAP, AU_PROTOCOL),
    AUTH_FIELD("chap.code", FP_FT_UINT, 8, AUTH_CHAP, AU_CODE),
    AUTH_FIELD("chap.identifier", FP_FT_UINT, 8, AUTH_CHAP, AU_IDENTIFIER),
    AUTH_FIELD("chap.length", FP_FT_UINT, 16, AUTH_CHAP, AU_LENGTH),
    AUTH_FIELD("chap.value_size", FP_FT_UINT, 8, AUTH_CHAP, AU_VALUE_SIZE),
    AUTH_FIELD("chap.value", FP_FT_BYTES, 0, AUTH_CHAP, AU_VALUE),
    AUTH_FIELD("chap.name", FP_FT_STRING, 0, AUTH_CHAP, AU_NAME),
    AUTH_FIELD("chap.message", FP_FT_STRING, 0, AUTH_CHAP, AU_MESSAGE),
    AUTH_FIELD("chap.stuff", FP_FT_BYTES, 0, AUTH_CHAP, AU_STUFF),
};
static const fp_field pap_fields[] = {
    AUTH_FIELD("pap", FP_FT_PROTOCOL, 0, AUTH_PAP, AU_PROTOCOL),
    AUTH_FIELD("pap.code", FP_FT_UINT, 8, AUTH_PAP, AU_CODE),
    AUTH_FIELD("pap.identifier", FP_FT_UINT, 8, AUTH_PAP, AU_IDENTIFIER),
    AUTH_FIELD("pap.length", FP_FT_UINT, 16, AUTH_PAP, AU_LENGTH),
    AUTH_FIELD("pap.peer_id.length", FP_FT_UINT, 8, AUTH_PAP, AU_PEER_ID_LENGTH),
    AUTH_FIELD("pap.peer_id", FP_FT_STRING, 0, AUTH_PAP, AU_PEER_ID),
    AUTH_FIELD("pap.password.length", FP_FT_UINT, 8, AUTH_PAP, AU_PASSWORD_LENGTH),
    AUTH_FIELD("pap.password", FP_FT_STRING, 0, AUTH_PAP, AU_PASSWORD),
    AUTH_FIELD("pap.message.length", FP_FT_UINT, 8, AUTH_PAP, AU_MESSAGE_LENGTH),
    AUTH_FIELD("pap.message", FP_FT_STRING, 0, AUTH_PAP, AU_MESSAGE),
    AUTH_FIELD("pap.stuff", FP_FT_BYTES, 0, AUTH_PAP, AU_STUFF),
};
FP_FIELD_TABLE(fp_fields_gre, "gre", gre_fields);
FP_FIELD_TABLE(fp_fields_cmd, "cmd", cmd_fields);
FP_FIELD_TABLE(fp_fields_erspan, "erspan", erspan_fields);
FP_FIELD_TABLE(fp_fields_vxlan, "vxlan", vxlan_fields);
FP_FIELD_TABLE(fp_fields_geneve, "geneve", geneve_fields);
FP_FIELD_TABLE(fp_fields_gtp, "gtp", gtp_fields);
FP_FIELD_TABLE(fp_fields_mpls, "mpls", mpls_fields);
FP_FIELD_TABLE(fp_fields_pppoe, "pppoe", pppoe_fields);
FP_FIELD_TABLE(fp_fields_pppoes, "pppoes", pppoes_fields);
FP_FIELD_TABLE(fp_fields_ppp, "ppp", ppp_fields);
FP_FIELD_TABLE(fp_fields_lcp, "lcp", lcp_fields);
FP_FIELD_TABLE(fp_fields_ipcp, "ipcp", ipcp_fields);
FP_FIELD_TABLE(fp_fields_ipv6cp, "ipv6cp", ipv6cp_fields);
FP_FIELD_TABLE(fp_fields_chap, "chap", chap_fields);
FP_FIELD_TABLE(fp_fields_pap, "pap", pap_fields);
