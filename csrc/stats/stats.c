/* tshark's -z statistics in one pass (stats.h). Every packet costs a walk of its layer
 * bits, one hash probe per conversation layer it has, one bucket update per io,stat column
 * (filters read the dissection the caller already made) and the DNS/HTTP heads only when
 * those layers are present. */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "../dissect/quic.h"

#define FP_PHS_NAME(name, str) str,
const char *const fp_phs_names[FP_PHS_COUNT] = {FP_PHS_PROTOCOLS(FP_PHS_NAME)};
#undef FP_PHS_NAME

const char *const fp_conv_layer_names[FP_CONV_LAYERS] = {"eth", "ip", "ipv6", "tcp", "udp"};

static void *stats_alloc(fp_stats *st, size_t n)
{
    void *p = calloc(1, n);
    if (p == NULL) {
        st->alloc_failures++;
        if (st->cfg.budget) st->cfg.budget->alloc_failures++;
        return NULL;
    }
    fp_budget_charge(st->cfg.budget, FP_MEM_ENGINE, fp_alloc_size(p));
    return p;
}

static void stats_free_block(fp_stats *st, void *p)
{
    fp_budget_credit(st->cfg.budget, FP_MEM_ENGINE, fp_alloc_size(p));
    free(p);
}

/* Growing by `blocks` allocations of n bytes in all would pass the budget's limit. Each is
 * charged at its chunk's size: up to 24 bytes more, a page more once malloc maps it. */
static int over_budget(const fp_stats *st, size_t n, size_t blocks)
{
    const fp_budget *b = st->cfg.budget;
    size_t slack = blocks * (n >= (128u << 10) ? 4096u + 16u : 24u);
    return b != NULL && b->limit != 0 && b->total + n + slack > b->limit;
}

fp_stats *fp_stats_new(const fp_stats_config *cfg)
{
    fp_stats *st = calloc(1, sizeof *st);
    if (st == NULL) return NULL;
    st->cfg = *cfg;
    fp_budget_charge(cfg->budget, FP_MEM_ENGINE, fp_alloc_size(st));
    st->phs_n = 1; /* the root: every frame */
    return st;
}

static void name_table_free(fp_stats *st, fp_name_table *t)
{
    if (t->slots) stats_free_block(st, t->slots);
    if (t->bytes) stats_free_block(st, t->bytes);
}

void fp_stats_free(fp_stats *st)
{
    if (st == NULL) return;
    name_table_free(st, &st->dns_names);
    name_table_free(st, &st->http_hosts);
    for (int l = 0; l < FP_CONV_LAYERS; l++) {
        if (st->conv[l].rows) stats_free_block(st, st->conv[l].rows);
        if (st->conv[l].slots) stats_free_block(st, st->conv[l].slots);
    }
    if (st->io_frames) stats_free_block(st, st->io_frames);
    if (st->io_bytes) stats_free_block(st, st->io_bytes);
    fp_budget_credit(st->cfg.budget, FP_MEM_ENGINE, fp_alloc_size(st));
    free(st);
}

/* ---- io,phs ------------------------------------------------------------------- */

static uint8_t link_proto(uint32_t linktype, const fp_dissection *d)
{
    if (FP_HAS(d, FP_L_ETH)) return FP_PHS_ETH;
    if (FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2)) return FP_PHS_SLL;
    if (FP_HAS(d, FP_L_LOOP)) return linktype == FP_LINKTYPE_LOOP ? FP_PHS_LOOP : FP_PHS_NULL_LINK;
    if (linktype == FP_LINKTYPE_PPP || linktype == FP_LINKTYPE_PPP_HDLC || linktype == FP_LINKTYPE_PPP_WITH_DIR)
        return FP_PHS_PPP;
    if (linktype == FP_LINKTYPE_RAW) return FP_PHS_RAW;
    return FP_PHS_COUNT; /* LINKTYPE_IPV4/IPV6: the network layer is the first */
}

static uint8_t dns_proto(const fp_dissection *d)
{
    if (d->sport == 53 || d->dport == 53) return FP_PHS_DNS;
    return d->sport == 5353 || d->dport == 5353 ? FP_PHS_MDNS : FP_PHS_LLMNR;
}

/* PPP's control protocols and compressed datagrams by their io,phs names; FP_PHS_COUNT for
 * the others. */
static uint8_t ppp_control(uint16_t proto)
{
    switch (proto) {
    case 0xc021: return FP_PHS_LCP;
    case 0x8021: return FP_PHS_IPCP;
    case 0x8057: return FP_PHS_IPV6CP;
    case 0xc023: return FP_PHS_PAP;
    case 0xc223: return FP_PHS_CHAP;
    case 0x80fd: return FP_PHS_CCP;
    case 0x00fd: case 0x00fb: return FP_PHS_COMP_DATA; /* compressed (MPPC/MPPE: PPTP's encryption) */
    default: return FP_PHS_COUNT;
    }
}

/* The protocol of the PPP frame at off..end (0 when cut short); *at: where its payload starts. */
static uint16_t ppp_protocol(const uint8_t *data, uint32_t off, uint32_t end, uint32_t *at)
{
    uint32_t width, p = fp_ppp_proto_at(data, off, end, &width);
    *at = p + width;
    return width == 0 ? 0 : width == 1 ? data[p] : fp_load_be16(data + p);
}

/* A frame's descent through the hierarchy: each protocol named steps from `node` into its
 * child, counting the frame there, so no path is stored and read back. A protocol past
 * FP_PHS_MAX_DEPTH, or a new path when the tree is full, stops the descent: the frame counts
 * down to there and once in phs_cut. */
typedef struct {
    fp_stats *st;
    int64_t ts; /* the frame's, for the conversations of packets phs_carried dissects */
    uint32_t wirelen;
    uint16_t node;
    uint8_t depth, stopped;
} phs_walk;

/* push's step into a child not made yet: made here, or the descent stops (depth or node cap). */
static __attribute__((noinline)) void push_new(phs_walk *b, uint8_t proto)
{
    fp_stats *st = b->st;
    if (b->depth == FP_PHS_MAX_DEPTH || st->phs_n == FP_PHS_MAX_NODES) {
        st->phs_cut++;
        b->stopped = 1;
        return;
    }
    uint16_t c = st->phs_n++, last = st->phs[b->node].first_child;
    while (last != 0 && st->phs[last].next_sibling != 0) last = st->phs[last].next_sibling;
    fp_phs_node *nn = &st->phs[c];
    memset(nn, 0, sizeof *nn);
    nn->parent = b->node;
    nn->proto = proto;
    nn->depth = (uint8_t)(b->depth + 1);
    if (last) st->phs[last].next_sibling = c; /* children in order of first sight */
    else st->phs[b->node].first_child = c;
    b->node = c;
    b->depth++;
    nn->frames = 1;
    nn->bytes = b->wirelen;
}

/* Nodes at FP_PHS_MAX_DEPTH have no children, so a step from there always takes push_new. */
static inline void push(phs_walk *b, uint8_t proto)
{
    if (b->stopped) return;
    fp_phs_node *phs = b->st->phs;
    uint16_t c = phs[b->node].first_child;
    while (c != 0 && phs[c].proto != proto) c = phs[c].next_sibling;
    if (c == 0) {
        push_new(b, proto);
        return;
    }
    b->node = c;
    b->depth++;
    phs[c].frames++;
    phs[c].bytes += b->wirelen;
}

/* What tshark 4.0 names after a PPP frame's protocol field (in GRE, PPTP and PPPoE alike) with
 * `avail` bytes after it: the control protocols with a whole code/identifier/length header (4
 * bytes; PAP and CHAP from 1 byte), compressed data and IPv6 from none, IPv4 from 1 byte,
 * `data` for any bytes of another protocol; FP_PHS_COUNT when fewer (tshark's tree has only its
 * malformed marker there). */
static uint8_t ppp_payload_name(uint16_t proto, uint32_t avail)
{
    uint8_t cp = proto == 0x0021 ? FP_PHS_IP : proto == 0x0057 ? FP_PHS_IPV6 : ppp_control(proto);
    uint32_t need = cp == FP_PHS_COUNT || cp == FP_PHS_PAP || cp == FP_PHS_CHAP || cp == FP_PHS_IP ? 1
                    : cp == FP_PHS_COMP_DATA || cp == FP_PHS_IPV6 ? 0 : 4;
    if (avail < need) return FP_PHS_COUNT;
    return cp != FP_PHS_COUNT ? cp : FP_PHS_DATA;
}

/* A PPPoE session frame fastpkt's reading left as payload at off..end (stats read tunnels
 * outer, and tshark's hierarchy goes on inside): pppoes from its 6 bytes on, ppp once its
 * protocol is there, then what ppp_payload_name names, an IPv4/IPv6 header whole dissected from
 * its first byte into *inner (its offsets from *inner_at). tshark reads any header on this
 * EtherType so, whatever its version, type and code (RFC 2516 section 5.4 has 1, 1 and 0). */
static void phs_pppoe(const uint8_t *data, uint32_t off, uint32_t end, uint32_t wirelen, phs_walk *b,
                      fp_dissection *inner, uint32_t *inner_at)
{
    if (end - off < 6) return; /* a header cut short: tshark's malformed marker alone */
    push(b, FP_PHS_PPPOES);
    if (end - off < 8) return;
    push(b, FP_PHS_PPP);
    uint32_t len = fp_load_be16(data + off + 4), at = off + 8;
    if (len >= 2 && len <= end - off - 6) end = off + 6 + len;
    uint16_t proto = fp_load_be16(data + off + 6);
    if (proto == 0x0021 || proto == 0x0057) {
        fp_dissect_ex(data + at, end - at, wirelen > at ? wirelen - at : 0,
                      proto == 0x0021 ? FP_LINKTYPE_IPV4 : FP_LINKTYPE_IPV6, FP_DISSECT_NO_TUNNELS, inner);
        *inner_at = at;
        if (FP_HAS(inner, FP_L_IP4) || FP_HAS(inner, FP_L_IP6)) return; /* named by phs_upper */
        inner->present = 0;
    }
    uint8_t name = ppp_payload_name(proto, end - at);
    if (name != FP_PHS_COUNT) push(b, name);
}

/* What tshark 4.0's GRE names under a version 0 header carrying `proto` that fastpkt does not
 * decapsulate: CDP (0x2000) and ARP, the protocols of its table with no further protocol to
 * name; FP_PHS_COUNT for the others (phs_gre_payload's; its GRE adds no data node under a
 * protocol it does not carry). */
static uint8_t gre_carried(uint16_t proto)
{
    return proto == 0x2000 ? FP_PHS_CDP : proto == 0x0806 ? FP_PHS_ARP : FP_PHS_COUNT;
}

/* PPP on a version 0 GRE header (protocol 0x880B) at p..p+len, its PPP frame at off, as
 * tshark 4.0 names it: `ppp` when a byte follows the GRE header, then what ppp_payload_name
 * names. fastpkt does not decapsulate this carrier, so no level under ip/ipv6 is named. */
static void phs_gre_ppp(const uint8_t *p, uint32_t off, uint32_t len, phs_walk *b)
{
    if (len <= off) return;
    push(b, FP_PHS_PPP);
    uint32_t at;
    uint16_t proto = ppp_protocol(p, off, len, &at);
    if (proto == 0) return; /* cut before its protocol */
    uint8_t name = ppp_payload_name(proto, len - at);
    if (name != FP_PHS_COUNT) push(b, name);
}

static void phs_gre_payload(uint16_t proto, const uint8_t *p, uint32_t len, phs_walk *b);

/* An IP payload fastpkt left undecoded (tunnels off, a header it refused, tunnels nested past
 * FP_MAX_TUNNELS) whose protocol tshark names all the same; 1 when it named it. GRE: `gre`
 * from its 4 bytes on, `cmd` for the Cisco MetaData shim, then what phs_gre_payload names when
 * bytes follow the words its flags announce (checksum, key, sequence number; not routing).
 * IP in IP whose version nibble lies: tshark's IPv4 dissector hands a 6 to IPv6, its IPv6
 * dissector shows the bytes as data. */
static int phs_ip_payload(const uint8_t *data, const fp_dissection *d, phs_walk *b)
{
    const uint8_t *p = data + d->payload_off;
    uint32_t len = d->payload_len;
    switch (d->ip_proto) {
    case 47:
        if (len >= 4) {
            push(b, FP_PHS_GRE);
            uint16_t flags = fp_load_be16(p), proto = fp_load_be16(p + 2);
            uint32_t off = 4u + 4u * (((flags & 0x8000) != 0) + ((flags & 0x2000) != 0) + ((flags & 0x1000) != 0));
            if ((flags & 7) != 0) return 1;
            if (proto == 0x8909) push(b, FP_PHS_CMD);
            else if ((flags & 0x4000) != 0) return 1; /* routing: tshark's malformed after gre */
            else if (proto == 0x880b) phs_gre_ppp(p, off, len, b);
            else if (len > off) phs_gre_payload(proto, p + off, len - off, b);
        }
        return 1;
    case 4:
        push(b, (p[0] >> 4) == 6 ? FP_PHS_IPV6 : FP_PHS_IP);
        return 1;
    case 41:
        push(b, FP_PHS_IPV6);
        push(b, FP_PHS_DATA);
        return 1;
    default: return 0;
    }
}

/* tshark 4.0's protocol on a UDP tunnel's registered port, for a datagram fastpkt did not
 * decapsulate there (a header cut short or cut by a lying UDP length); FP_PHS_COUNT else. */
static uint8_t udp_tunnel_name(const fp_dissection *d)
{
    if (d->dport == 4789 || d->sport == 4789) return FP_PHS_VXLAN;
    if (d->dport == 6081 || d->sport == 6081) return FP_PHS_GENEVE;
    if (d->dport == 2152 || d->sport == 2152) return FP_PHS_GTP;
    return FP_PHS_COUNT;
}

/* The network layer and above of one dissection, as io,phs nests them; `link`: a link
 * protocol came before them. */
static inline __attribute__((always_inline)) void phs_upper(const uint8_t *data, const fp_dissection *d, int link,
                                                            phs_walk *b)
{
    int net = FP_HAS(d, FP_L_IP4) || FP_HAS(d, FP_L_IP6);
    if (FP_HAS(d, FP_L_IP4)) push(b, FP_PHS_IP);
    if (FP_HAS(d, FP_L_IP6)) push(b, FP_PHS_IPV6);
    if (FP_HAS(d, FP_L_ICMP) || FP_HAS(d, FP_L_ICMP6)) {
        push(b, FP_HAS(d, FP_L_ICMP) ? FP_PHS_ICMP : FP_PHS_ICMPV6);
        return;
    }
    int tcp = FP_HAS(d, FP_L_TCP), udp = FP_HAS(d, FP_L_UDP);
    if (tcp) push(b, FP_PHS_TCP);
    if (udp) push(b, FP_PHS_UDP);
    if (FP_HAS(d, FP_L_DNS)) push(b, dns_proto(d));
    else if (FP_HAS(d, FP_L_HTTP)) push(b, FP_PHS_HTTP);
    else if (FP_HAS(d, FP_L_TLS)) push(b, FP_PHS_TLS);
    else if (udp && !d->is_fragment &&
             fp_quic_heuristic(data + d->layer[FP_L_UDP].off + d->layer[FP_L_UDP].hlen,
                               d->layer[FP_L_UDP].end - d->layer[FP_L_UDP].off - d->layer[FP_L_UDP].hlen))
        push(b, FP_PHS_QUIC);
    else if (net && !tcp && !udp && d->payload_len > 0 && (!d->is_fragment || d->reassembled) &&
             phs_ip_payload(data, d, b))
        return;
    else if (udp && d->payload_len > 0 && udp_tunnel_name(d) != FP_PHS_COUNT)
        push(b, udp_tunnel_name(d));
    else if (!net && link && d->payload_len > 0 && (d->ethertype == 0x0800 || d->ethertype == 0x86dd))
        push(b, d->ethertype == 0x0800 ? FP_PHS_IP : FP_PHS_IPV6); /* a header cut short: tshark's malformed */
    else if (d->payload_len > 0 && (tcp || udp || net || link))
        push(b, FP_PHS_DATA);
}

/* Ethernet's configuration testing protocol (EtherType 0x9000) of len bytes: 1 when tshark's
 * `loop` shows data after it. A little-endian skip count, then functions (little-endian):
 * reply (1) ends with a 2-byte receipt number, forward (2) takes a 6-byte address and another
 * function follows, any other ends the list; what remains is data. A list cut short ends
 * tshark's dissection there (malformed): no data. */
static int loop_has_data(const uint8_t *p, uint32_t len)
{
    uint32_t at = 2;
    for (;;) {
        if (len < at + 2) return 0;
        uint16_t function = (uint16_t)(p[at] | p[at + 1] << 8);
        at += 2;
        if (function == 1) at += 2;
        else if (function == 2) at += 6;
        if (at > len) return 0;
        if (function != 2) return len > at;
    }
}

/* A link header with no IP header after it (fp.stats' records are dissected without tunnels):
 * a PPPoE session (its IP packet dissected into *inner at *inner_at, as phs_path says),
 * discovery, Ethernet's configuration testing protocol, a label stack cut short, a PPP control protocol. 1 when it named what follows the
 * link; 0 leaves that to phs_upper. Out of line, so the IP frames' path stays inlined. */
static __attribute__((noinline)) int phs_link_only(const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                                                   uint32_t linktype, const fp_dissection *d, phs_walk *b,
                                                   fp_dissection *inner, uint32_t *inner_at)
{
    int l2 = FP_HAS(d, FP_L_ETH) || FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2);
    if (d->tunnel_count == 0 && d->payload_len > 0 &&
        ((linktype == FP_LINKTYPE_PPP_ETHER && d->present == 0) || (l2 && d->ethertype == 0x8864))) {
        phs_pppoe(data, d->payload_off, d->payload_off + d->payload_len, wirelen, b, inner, inner_at);
        if (inner->present != 0) phs_upper(data + *inner_at, inner, 0, b);
        return 1;
    }
    if (l2 && d->ethertype == 0x8863 && d->payload_len > 0) {
        push(b, FP_PHS_PPPOED);
        return 1;
    }
    if (l2 && d->ethertype == 0x9000) {
        push(b, FP_PHS_LOOP);
        if (loop_has_data(data + d->payload_off, d->payload_len)) push(b, FP_PHS_DATA);
        return 1;
    }
    if (l2 && (d->ethertype == 0x8847 || d->ethertype == 0x8848) && d->payload_len > 0) {
        /* a label stack fastpkt did not decode (cut before its bottom): tshark names each
         * whole label, then its malformed marker */
        for (uint32_t at = d->payload_off; caplen - at >= 4 && at < d->payload_off + d->payload_len; at += 4) {
            push(b, FP_PHS_MPLS);
            if (data[at + 2] & 1) break;
        }
        return 1;
    }
    if (d->link_ppp) {
        uint32_t at;
        uint8_t cp = ppp_control(ppp_protocol(data, d->link_ppp - 1u, caplen, &at));
        if (cp != FP_PHS_COUNT) {
            push(b, cp);
            return 1;
        }
    }
    return 0;
}

/* The protocols of one packet, outer to inner, as io,phs nests them. A PPPoE session's IP
 * packet is dissected into *inner (inner->present stays 0 otherwise), at *inner_at. */
static inline __attribute__((always_inline)) void phs_path(const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                                                           uint32_t linktype, const fp_dissection *d, phs_walk *b,
                                                           fp_dissection *inner, uint32_t *inner_at)
{
    uint8_t link = link_proto(linktype, d);
    if (link != FP_PHS_COUNT) push(b, link);
    for (int i = 0; i < d->vlan_count; i++) push(b, d->vlan[i].tpid == 0x88a8 ? FP_PHS_QINQ : FP_PHS_VLAN);
    if (FP_HAS(d, FP_L_ARP)) {
        push(b, FP_PHS_ARP);
        return;
    }
    if (!FP_HAS(d, FP_L_IP4) && !FP_HAS(d, FP_L_IP6) &&
        phs_link_only(data, caplen, wirelen, linktype, d, b, inner, inner_at))
        return;
    phs_upper(data, d, link != FP_PHS_COUNT, b);
}

static void count_upper(fp_stats *st, const uint8_t *data, const fp_dissection *d, int64_t ts, uint32_t wirelen,
                        int conv);

/* A packet GRE carries under a protocol fastpkt does not decapsulate (Frame Relay's or NSH's
 * IP or Ethernet), p..p+len: dissected on its own and named from its first byte. An IP header
 * cut short is still `ip`/`ipv6` (callers check tshark's threshold); an Ethernet header is
 * named whole. Its conversations, DNS and HTTP are counted too, as tshark's taps see every
 * header. Out of line: its walk may meet GRE again (phs_ip_payload), each turn naming at
 * least three more levels, so FP_PHS_MAX_DEPTH bounds the recursion. */
static __attribute__((noinline)) void phs_carried(const uint8_t *p, uint32_t len, uint32_t linktype, phs_walk *b)
{
    if (b->stopped) return;
    if (linktype == FP_LINKTYPE_ETHERNET && len < 14) return;
    fp_dissection in, session;
    uint32_t session_at = 0;
    fp_dissect_ex(p, len, len, linktype, FP_DISSECT_NO_TUNNELS, &in);
    if (linktype != FP_LINKTYPE_ETHERNET && !FP_HAS(&in, FP_L_IP4) && !FP_HAS(&in, FP_L_IP6)) {
        push(b, linktype == FP_LINKTYPE_IPV4 ? FP_PHS_IP : FP_PHS_IPV6);
        return;
    }
    session.present = 0;
    phs_path(p, len, len, linktype, &in, b, &session, &session_at);
    count_upper(b->st, p, &in, b->ts, b->wirelen, 1);
    if (session.present != 0) count_upper(b->st, p + session_at, &session, b->ts, b->wirelen, 1);
}

/* Frame Relay on GRE (0x6559) as tshark 4.0's fr names it from its first byte: a Q.922 address
 * (2 to 4 bytes, the last with its EA bit), then RFC 2427's UI control byte (0x03), an optional
 * pad and an NLPID: IPv4 (0xCC) from its first byte, IPv6 (0x8E) from none, SNAP (0x80, 5
 * bytes) with an EtherType, Q.933 (0x08, data from none); another NLPID's bytes are data.
 * Without the UI byte an EtherType follows the address (Cisco's encapsulation): one byte of it
 * is data, IPv4 and IPv6 from their first byte, another protocol's bytes data. */
static void phs_fr(const uint8_t *p, uint32_t len, phs_walk *b)
{
    push(b, FP_PHS_FR);
    uint32_t at = 0;
    while (at < len && at < 3 && (p[at] & 1) == 0) at++;
    if (++at >= len) return;
    uint16_t type;
    if (p[at] == 0x03) {
        if (++at < len && p[at] == 0) at++;
        if (at >= len) return;
        uint8_t nlpid = p[at++];
        if (nlpid == 0x8e) {
            phs_carried(p + at, len - at, FP_LINKTYPE_IPV6, b);
            return;
        }
        if (nlpid == 0x08) {
            push(b, FP_PHS_DATA);
            return;
        }
        if (nlpid == 0xcc) type = 0x0800;
        else if (nlpid != 0x80) type = 0;
        else if (len - at < 5) return;
        else type = p[at] == 0 && p[at + 1] == 0 && p[at + 2] == 0 ? fp_load_be16(p + at + 3) : 0, at += 5;
    } else if (len - at < 2) {
        push(b, FP_PHS_DATA);
        return;
    } else {
        type = fp_load_be16(p + at);
        at += 2;
    }
    if (at >= len) return;
    if (type == 0x0800 || type == 0x86dd)
        phs_carried(p + at, len - at, type == 0x0800 ? FP_LINKTYPE_IPV4 : FP_LINKTYPE_IPV6, b);
    else
        push(b, FP_PHS_DATA);
}

/* The MPLS label stack NSH carries, p..p+len (len > 0), as tshark's mpls names it: a node per
 * whole label, then IPv4 or IPv6 by the first nibble after the bottom one, else data. */
static void phs_nsh_mpls(const uint8_t *p, uint32_t len, phs_walk *b)
{
    for (;;) {
        if (len < 4) return; /* a label cut short: tshark's malformed, no node */
        push(b, FP_PHS_MPLS);
        int bottom = p[2] & 1;
        p += 4;
        len -= 4;
        if (len == 0) return;
        if (bottom) break;
    }
    uint8_t v = p[0] >> 4;
    if (v == 4 || v == 6) phs_carried(p, len, v == 4 ? FP_LINKTYPE_IPV4 : FP_LINKTYPE_IPV6, b);
    else push(b, FP_PHS_DATA);
}

/* NSH (RFC 8300) on GRE (0x894F), named from its first byte: its packet follows the length
 * field's words (at least the 8-byte base and service path headers), by the next protocol:
 * IPv4 and IPv6 from their first byte, Ethernet from its whole header, NSH again, MPLS
 * (phs_nsh_mpls), another protocol's bytes as data. */
static void phs_nsh(const uint8_t *p, uint32_t len, phs_walk *b)
{
    for (;;) {
        push(b, FP_PHS_NSH);
        if (len <= 8) return;
        uint32_t hl = 4u * (fp_load_be16(p) & 0x3fu);
        if (hl < 8) hl = 8;
        if (len <= hl) return;
        uint8_t next = p[3];
        p += hl;
        len -= hl;
        if (next == 4 && !b->stopped) continue;
        if (next == 1 || next == 2) phs_carried(p, len, next == 1 ? FP_LINKTYPE_IPV4 : FP_LINKTYPE_IPV6, b);
        else if (next == 3) phs_carried(p, len, FP_LINKTYPE_ETHERNET, b);
        else if (next == 5) phs_nsh_mpls(p, len, b);
        else if (next != 4) push(b, FP_PHS_DATA);
        return;
    }
}

/* An 802.11 frame on GRE (Aruba's 0x8200-0x8370): `wlan` from its frame control field (a QoS
 * data frame's whole header), then its body (LLC, a management frame's fields) as data: a
 * management frame's from its 24-byte header on, a data frame's from a byte past its header
 * (4 addresses: 30 bytes, QoS: 2 more); control frames and null data carry none. */
static void phs_aruba_wlan(const uint8_t *p, uint32_t len, phs_walk *b)
{
    if (len < 2) return;
    unsigned type = (p[0] >> 2) & 3u, subtype = p[0] >> 4;
    uint32_t hl = 24;
    if (type == 2) hl += ((p[1] & 3u) == 3u ? 6u : 0u) + ((subtype & 8u) ? 2u : 0u);
    if (type == 2 && (subtype & 8u) && len < hl) return;
    push(b, FP_PHS_WLAN);
    if ((type == 0 && len >= 24) || (type == 2 && (subtype & 4u) == 0 && len > hl)) push(b, FP_PHS_DATA);
}

/* IPX on GRE (0x8137): `ipx` once its 30-byte header is there and its length field covers it,
 * its payload within that length as data. */
static void phs_ipx(const uint8_t *p, uint32_t len, phs_walk *b)
{
    if (len < 30 || fp_load_be16(p + 2) < 30) return;
    push(b, FP_PHS_IPX);
    if (fp_load_be16(p + 2) > 30 && len > 30) push(b, FP_PHS_DATA);
}

/* What a version 0 GRE header carrying `proto` has after its words, p..p+len (len > 0), when
 * fastpkt does not decapsulate it: tshark's names for the protocols of its table above. */
static void phs_gre_payload(uint16_t proto, const uint8_t *p, uint32_t len, phs_walk *b)
{
    if (gre_carried(proto) != FP_PHS_COUNT) push(b, gre_carried(proto));
    else if (proto == 0x6559) phs_fr(p, len, b);
    else if (proto == 0x894f) phs_nsh(p, len, b);
    else if (proto >= 0x8200 && proto <= 0x8370 && (proto & 0xf) == 0) phs_aruba_wlan(p, len, b);
    else if (proto == 0x8137) phs_ipx(p, len, b);
}

/* ---- inside tunnels ------------------------------------------------------------------------
 * fp.stats' records are dissected with tunnels off (their conversations, filters and io,stat
 * are the outer packet's), but tshark's hierarchy and taps go on inside every encapsulation.
 * A frame that may carry one (IP protocol 47, 4, 41; a UDP tunnel port; MPLS; a PPPoE session
 * carrying one) is dissected on from its record's dissection with tunnels on, for where each
 * tunnel header sits, and each packet between two of them ("level") once more with tunnels off
 * from its first byte: its link, VLAN, IP and UDP headers are named and its conversations
 * counted, as tshark taps every header of a frame; the last level, read from the tunnels-on
 * dissection, is named and counted in full (DNS and HTTP too). Only such frames pay. */

/* The frame is a PPPoE session's (after Ethernet or a cooked header, or LINKTYPE_PPP_ETHER),
 * which its record's dissection left as payload. */
static inline int pppoe_session(uint32_t linktype, const fp_dissection *d)
{
    int l2 = FP_HAS(d, FP_L_ETH) || FP_HAS(d, FP_L_SLL) || FP_HAS(d, FP_L_SLL2);
    return l2 ? d->ethertype == 0x8864 : linktype == FP_LINKTYPE_PPP_ETHER && d->present == 0;
}

/* The frame's own PPPoE session (after Ethernet or a cooked header, or LINKTYPE_PPP_ETHER) carries
 * an IP packet that may carry a tunnel: its protocol 47, 4 or 41, a UDP tunnel port; after IPv6
 * extension headers, anything but TCP and ICMPv6 (tunnel_levels tells). Out of line: only
 * frames with no IP header get here. */
static __attribute__((noinline)) int pppoe_may_tunnel(const uint8_t *data, uint32_t linktype,
                                                      const fp_dissection *d)
{
    if (!pppoe_session(linktype, d)) return 0;
    const uint8_t *p = data + d->payload_off;
    uint32_t len = d->payload_len;
    if (len < 8) return 0;
    uint16_t proto = fp_load_be16(p + 6);
    if (len < 8u + (proto == 0x0021 ? 20u : 40u)) return 0;
    const uint8_t *ip = p + 8;
    uint32_t hl = proto == 0x0021 ? (ip[0] & 15u) * 4u : 40;
    uint8_t next = proto == 0x0021 ? ip[9] : proto == 0x0057 ? ip[6] : 0;
    if (proto == 0x0021 && (fp_load_be16(ip + 6) & 0x3fff) != 0) return 0; /* a fragment */
    if (next == 17) return 8 + hl + 4 <= len && fp_udp_tunnel_port(fp_load_be16(ip + hl), fp_load_be16(ip + hl + 2));
    if (next == 47 || next == 4 || next == 41) return 1;
    return proto == 0x0057 && next != 6 && next != 58;
}

static inline int may_tunnel(const uint8_t *data, uint32_t linktype, const fp_dissection *d)
{
    if (FP_HAS(d, FP_L_IP4) || FP_HAS(d, FP_L_IP6)) {
        if (d->is_fragment && !d->reassembled) return 0;
        if (FP_HAS(d, FP_L_UDP)) return fp_udp_tunnel_port(d->sport, d->dport);
        return !FP_HAS(d, FP_L_TCP) && (d->ip_proto == 47 || d->ip_proto == 4 || d->ip_proto == 41);
    }
    return d->ethertype == 0x8847 || d->ethertype == 0x8848 || pppoe_may_tunnel(data, linktype, d);
}

/* The bytes after tunnel t that td left as payload (its last tunnel's: a PPP frame that
 * carries no packet), bounded by the lengths around it; 0 when its payload starts elsewhere. */
static uint32_t tunnel_payload(const fp_tunnel *t, const fp_dissection *td)
{
    return td->payload_off == t->off + t->hlen ? td->payload_len : 0;
}

/* Where the IP packet of dissection d ends (its total or payload length), `end` without one:
 * what the IP dissector left as GRE's bytes, which the stats read without the link's padding. */
static uint32_t ip_end(const fp_dissection *d, uint32_t end)
{
    if (FP_HAS(d, FP_L_IP4)) return d->layer[FP_L_IP4].end;
    if (FP_HAS(d, FP_L_IP6)) return d->layer[FP_L_IP6].end;
    return end;
}

/* The names of tunnel header t of the tunnels-on dissection td as tshark's tree nests them. 1
 * when the PPP frame inside a PPTP tunnel or a PPPoE session is a control protocol or data, or
 * cut (named here: no level follows; td's payload is what its protocol field leaves), and for
 * GRE carrying Frame Relay or NSH: phs_gre_payload names all they carry, to `end`, which
 * tshark's taps do not count as conversations (they are not tunnels in fp.stats' levels). */
static int phs_tunnel(const uint8_t *data, const fp_tunnel *t, const fp_dissection *td, uint32_t end, phs_walk *b)
{
    switch (t->type) {
    case FP_TUN_GRE: {
        push(b, FP_PHS_GRE);
        const uint8_t *h = data + t->off;
        uint16_t proto = fp_load_be16(h + 2);
        if (proto == 0x8909) push(b, FP_PHS_CMD);
        if (proto != 0x6559 && proto != 0x894f) return 0;
        uint32_t at = t->off + 4u + 4u * (((h[0] & 0x80) != 0) + ((h[0] & 0x20) != 0) + ((h[0] & 0x10) != 0));
        phs_gre_payload(proto, data + at, end - at, b);
        return 1;
    }
    case FP_TUN_ERSPAN: push(b, FP_PHS_ERSPAN); return 0;
    case FP_TUN_VXLAN: push(b, FP_PHS_VXLAN); return 0;
    case FP_TUN_GENEVE: push(b, FP_PHS_GENEVE); return 0;
    case FP_TUN_GTPU: push(b, FP_PHS_GTP); return 0;
    case FP_TUN_MPLS: /* a node per label, as tshark's MPLS dissector calls itself per label */
        for (uint32_t at = t->off; at + 4 <= t->off + t->hlen; at += 4) {
            push(b, FP_PHS_MPLS);
            if (data[at + 2] & 1) break; /* bottom of stack */
        }
        if (t->inner_link) { /* RFC 4448's control word: tshark's nodes for it, then the frame's */
            push(b, FP_PHS_PWETH_CW);
            push(b, FP_PHS_PWETHCW);
        }
        return 0;
    case FP_TUN_PPPOE: { /* inside a tunnel, or the frame's own when a tunnel follows (else phs_pppoe's) */
        push(b, FP_PHS_PPPOES);
        push(b, FP_PHS_PPP);
        uint16_t proto = fp_load_be16(data + t->off + 6);
        if (proto == 0x0021 || proto == 0x0057) return 0;
        uint8_t name = ppp_payload_name(proto, tunnel_payload(t, td));
        if (name != FP_PHS_COUNT) push(b, name);
        return 1;
    }
    case FP_TUN_PPTP: {
        push(b, FP_PHS_GRE);
        uint16_t flags = fp_load_be16(data + t->off);
        uint32_t off = t->off + 8 + 4u * (((flags & 0x1000) != 0) + ((flags & 0x0080) != 0)), at;
        if (off == t->off + t->hlen) { /* an acknowledgement alone, or PPP cut before its protocol */
            if (tunnel_payload(t, td) > 0) push(b, FP_PHS_PPP);
            return 1;
        }
        push(b, FP_PHS_PPP);
        uint16_t proto = ppp_protocol(data, off, t->off + t->hlen, &at);
        if (proto == 0x0021 || proto == 0x0057) return 0;
        uint8_t name = ppp_payload_name(proto, tunnel_payload(t, td));
        if (name != FP_PHS_COUNT) push(b, name);
        return 1;
    }
    default: return 0; /* IP in IP: the next level's IP header names it */
    }
}

/* How the level starting at `at` after tunnel t is read: FP_LINKTYPE_ETHERNET, IPV4, IPV6,
 * or 0 (no packet fastpkt decoded there). */
static uint32_t level_linktype(const uint8_t *data, uint32_t caplen, const fp_tunnel *t, uint32_t at)
{
    if (t->inner_link) return FP_LINKTYPE_ETHERNET;
    uint8_t v = at < caplen ? data[at] >> 4 : 0;
    return v == 4 ? FP_LINKTYPE_IPV4 : v == 6 ? FP_LINKTYPE_IPV6 : 0;
}

/* Where the level after tunnel t ends, the level around it ending at `end`: a PPPoE session's
 * within its length field (as fp_dissect_pppoe bounds it), the others where the outer one does. */
static uint32_t level_end(const uint8_t *data, uint32_t end, const fp_tunnel *t)
{
    if (t->type != FP_TUN_PPPOE || t->off + 6 > end) return end;
    uint32_t len = fp_load_be16(data + t->off + 4);
    return len >= 2 && len <= end - t->off - 6 ? t->off + 6 + len : end;
}

/* A level's headers up to its tunnel: link (FP_PHS_COUNT: none), VLANs, IP, UDP. */
static void phs_level(phs_walk *b, uint8_t link, const fp_dissection *d)
{
    if (link != FP_PHS_COUNT) push(b, link);
    for (int i = 0; i < d->vlan_count; i++) push(b, d->vlan[i].tpid == 0x88a8 ? FP_PHS_QINQ : FP_PHS_VLAN);
    if (FP_HAS(d, FP_L_IP4)) push(b, FP_PHS_IP);
    if (FP_HAS(d, FP_L_IP6)) push(b, FP_PHS_IPV6);
    if (FP_HAS(d, FP_L_UDP)) push(b, FP_PHS_UDP);
}

/* ---- conv / endpoints ------------------------------------------------------------ */

typedef struct {
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    uint8_t alen, ip_version;
} conv_key;

/* One end (address of 4, 6 or 16 bytes, port), a word at a time: every frame hashes one to
 * three pairs per level, so a byte-wise hash was a tenth of a tunnelled frame's cost. */
static uint64_t end_hash(const uint8_t *a, uint8_t alen, uint16_t port)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ port;
    uint32_t i = 0, w;
    for (; i + 4 <= alen; i += 4) {
        memcpy(&w, a + i, 4);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
    }
    if (i < alen) { /* a MAC's last 2 bytes */
        uint16_t v;
        memcpy(&v, a + i, 2);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
    }
    return h ^ (h >> 31);
}

/* Symmetric: both directions of a pair hash alike (a sum of the ends). */
static uint32_t conv_hash(const conv_key *k)
{
    uint64_t h = end_hash(k->src, k->alen, k->sport) + end_hash(k->dst, k->alen, k->dport);
    h *= 0xc4ceb9fe1a85ec53ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* 1: k runs A->B of the row, 2: B->A, 0: another pair. */
static int conv_match(const fp_conv *r, const conv_key *k)
{
    if (r->alen != k->alen || r->ip_version != k->ip_version) return 0;
    if (r->port_a == k->sport && r->port_b == k->dport && memcmp(r->a, k->src, k->alen) == 0 &&
        memcmp(r->b, k->dst, k->alen) == 0)
        return 1;
    if (r->port_a == k->dport && r->port_b == k->sport && memcmp(r->a, k->dst, k->alen) == 0 &&
        memcmp(r->b, k->src, k->alen) == 0)
        return 2;
    return 0;
}

static int conv_grow(fp_stats *st, fp_conv_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64, nslots = cap * 2;
    size_t need = cap * sizeof(fp_conv) + nslots * sizeof(uint32_t);
    if (over_budget(st, need, 2)) return -1;
    fp_conv *rows = stats_alloc(st, cap * sizeof(fp_conv));
    uint32_t *slots = rows ? stats_alloc(st, nslots * sizeof(uint32_t)) : NULL;
    if (slots == NULL) {
        if (rows) stats_free_block(st, rows);
        return -1;
    }
    if (t->n) memcpy(rows, t->rows, t->n * sizeof(fp_conv));
    for (size_t i = 0; i < t->n; i++) {
        conv_key k = {rows[i].a, rows[i].b, rows[i].port_a, rows[i].port_b, rows[i].alen, rows[i].ip_version};
        size_t s = conv_hash(&k) & (nslots - 1);
        while (slots[s]) s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    if (t->rows) stats_free_block(st, t->rows);
    if (t->slots) stats_free_block(st, t->slots);
    t->rows = rows;
    t->slots = slots;
    t->cap = cap;
    t->nslots = nslots;
    return 0;
}

static void conv_add(fp_stats *st, int layer, const conv_key *k, int64_t ts, uint32_t wirelen)
{
    fp_conv_table *t = &st->conv[layer];
    size_t s = 0;
    if (t->nslots) {
        s = conv_hash(k) & (t->nslots - 1);
        for (uint32_t i; (i = t->slots[s]) != 0; s = (s + 1) & (t->nslots - 1)) {
            fp_conv *r = &t->rows[i - 1];
            int dir = conv_match(r, k);
            if (dir == 0) continue;
            if (dir == 1) {
                r->frames_ab++;
                r->bytes_ab += wirelen;
            } else {
                r->frames_ba++;
                r->bytes_ba += wirelen;
            }
            if (ts < r->first_ns) r->first_ns = ts;
            if (ts > r->last_ns) r->last_ns = ts;
            return;
        }
    }
    if (t->n == t->cap) {
        if (conv_grow(st, t) < 0) {
            t->cut_frames++;
            return;
        }
        s = conv_hash(k) & (t->nslots - 1);
        while (t->slots[s]) s = (s + 1) & (t->nslots - 1);
    }
    fp_conv *r = &t->rows[t->n];
    memset(r, 0, sizeof *r);
    memcpy(r->a, k->src, k->alen);
    memcpy(r->b, k->dst, k->alen);
    r->port_a = k->sport;
    r->port_b = k->dport;
    r->alen = k->alen;
    r->ip_version = k->ip_version;
    r->frames_ab = 1;
    r->bytes_ab = wirelen;
    r->first_ns = r->last_ns = ts;
    t->slots[s] = (uint32_t)(++t->n);
}

static void conv_packet(fp_stats *st, const uint8_t *data, const fp_dissection *d, int64_t ts, uint32_t wirelen)
{
    if (FP_HAS(d, FP_L_ETH) && d->layer[FP_L_ETH].hlen >= 14) {
        const uint8_t *e = data + d->layer[FP_L_ETH].off;
        conv_key k = {e + 6, e, 0, 0, 6, 0};
        conv_add(st, FP_CONV_ETH, &k, ts, wirelen);
    }
    const uint8_t *src = NULL, *dst = NULL;
    uint8_t alen = 0;
    if (FP_HAS(d, FP_L_IP4)) {
        const uint8_t *ip = data + d->layer[FP_L_IP4].off;
        src = ip + 12, dst = ip + 16, alen = 4;
        conv_key k = {src, dst, 0, 0, 4, 4};
        conv_add(st, FP_CONV_IP, &k, ts, wirelen);
    } else if (FP_HAS(d, FP_L_IP6)) {
        const uint8_t *ip = data + d->layer[FP_L_IP6].off;
        src = ip + 8, dst = ip + 24, alen = 16;
        conv_key k = {src, dst, 0, 0, 16, 6};
        conv_add(st, FP_CONV_IPV6, &k, ts, wirelen);
    }
    if (src == NULL) return;
    int layer = FP_HAS(d, FP_L_TCP) ? FP_CONV_TCP : FP_HAS(d, FP_L_UDP) ? FP_CONV_UDP : -1;
    if (layer < 0) return;
    conv_key k = {src, dst, d->sport, d->dport, alen, (uint8_t)(alen == 4 ? 4 : 6)};
    conv_add(st, layer, &k, ts, wirelen);
}

/* ---- io,stat ---------------------------------------------------------------------- */

/* Make bucket `b` addressable (buckets before the first packet's extend the front: time
 * may go backwards in a capture). -1 when the budget or max_intervals refuses. */
static int io_reserve(fp_stats *st, int64_t b, size_t ncols)
{
    if (st->io_n == 0) {
        st->io_base = b;
    }
    int64_t lo = st->io_n ? (b < st->io_base ? b : st->io_base) : b;
    int64_t hi = st->io_n ? (b >= st->io_base + (int64_t)st->io_n ? b + 1 : st->io_base + (int64_t)st->io_n) : b + 1;
    uint64_t span = (uint64_t)(hi - lo);
    if (span > st->cfg.max_intervals) return -1;
    if (span <= st->io_cap && lo == st->io_base) {
        st->io_n = (size_t)span;
        return 0;
    }
    size_t cap = st->io_cap ? st->io_cap : 64;
    while (cap < span) cap *= 2;
    if (cap > st->cfg.max_intervals) cap = (size_t)st->cfg.max_intervals;
    size_t bytes = cap * ncols * sizeof(uint64_t);
    if (cap > st->io_cap && over_budget(st, 2 * bytes, 2)) return -1;
    uint64_t *f = stats_alloc(st, bytes), *by = f ? stats_alloc(st, bytes) : NULL;
    if (by == NULL) {
        if (f) stats_free_block(st, f);
        return -1;
    }
    size_t shift = (size_t)(st->io_base - lo);
    if (st->io_n) {
        memcpy(f + shift * ncols, st->io_frames, st->io_n * ncols * sizeof(uint64_t));
        memcpy(by + shift * ncols, st->io_bytes, st->io_n * ncols * sizeof(uint64_t));
        stats_free_block(st, st->io_frames);
        stats_free_block(st, st->io_bytes);
    }
    st->io_frames = f;
    st->io_bytes = by;
    st->io_cap = cap;
    st->io_base = lo;
    st->io_n = (size_t)span;
    return 0;
}

static void io_packet(fp_stats *st, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                      int64_t ts, int has_ts, uint64_t number, const fp_dissection *d)
{
    size_t ncols = 1 + st->cfg.nfilters;
    /* tshark's interval index truncates toward zero: a packet stamped up to one interval
     * before the first one falls in the first interval */
    int64_t b = (ts - st->first_ns) / st->cfg.interval_ns;
    if (io_reserve(st, b, ncols) < 0) {
        st->io_cut++;
        return;
    }
    size_t row = (size_t)(b - st->io_base) * ncols;
    st->io_frames[row]++;
    st->io_bytes[row] += wirelen;
    if (st->cfg.nfilters == 0) return;
    fp_field_ctx x;
    fp_field_ctx_init(&x, data, caplen, wirelen, ts, has_ts, d);
    x.number = number;
    for (size_t i = 0; i < st->cfg.nfilters; i++)
        if (fp_filter_match(st->cfg.filters[i], &x)) {
            st->io_frames[row + 1 + i]++;
            st->io_bytes[row + 1 + i] += wirelen;
        }
}

/* ---- dns,tree / http,tree ------------------------------------------------------------ */

static void counter_add(fp_stats_counter *c, uint16_t key)
{
    for (uint16_t i = 0; i < c->n; i++)
        if (c->keys[i] == key) {
            c->counts[i]++;
            return;
        }
    if (c->n == FP_STATS_MAX_KEYS) {
        c->cut++;
        return;
    }
    c->keys[c->n] = key;
    c->counts[c->n++] = 1;
}

/* ---- names: DNS questions, HTTP hosts ------------------------------------------------ */

static uint64_t name_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Doubles the slot array (rehashing); 0 when the budget or the allocator refuses. */
static int name_grow(fp_stats *st, fp_name_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    if (over_budget(st, cap * sizeof(fp_name_slot), 1)) return 0;
    fp_name_slot *slots = stats_alloc(st, cap * sizeof *slots);
    if (slots == NULL) return 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].count == 0) continue;
        size_t j = t->slots[i].hash & (cap - 1);
        while (slots[j].count) j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    if (t->slots) stats_free_block(st, t->slots);
    t->slots = slots;
    t->cap = cap;
    return 1;
}

static void name_add(fp_stats *st, fp_name_table *t, const uint8_t *p, size_t n)
{
    uint64_t h = name_hash(p, n);
    if (t->cap) {
        for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
            fp_name_slot *s = &t->slots[i];
            if (s->count == 0) break;
            if (s->hash == h && s->len == n && memcmp(t->bytes + s->off, p, n) == 0) {
                s->count++;
                return;
            }
        }
    }
    if ((t->n + 1) * 2 > t->cap && !name_grow(st, t)) {
        t->cut++;
        return;
    }
    if (t->used + n > t->bytes_cap || t->bytes == NULL) { /* the root name is empty: a block all the same */
        size_t cap = t->bytes_cap ? t->bytes_cap : 4096;
        while (cap < t->used + n) cap *= 2;
        uint8_t *b = over_budget(st, cap, 1) ? NULL : stats_alloc(st, cap);
        if (b == NULL) {
            t->cut++;
            return;
        }
        if (t->used) memcpy(b, t->bytes, t->used);
        if (t->bytes) stats_free_block(st, t->bytes);
        t->bytes = b;
        t->bytes_cap = cap;
    }
    size_t i = h & (t->cap - 1);
    while (t->slots[i].count) i = (i + 1) & (t->cap - 1);
    memcpy(t->bytes + t->used, p, n);
    t->slots[i] = (fp_name_slot){h, 1, (uint32_t)t->used, (uint32_t)n};
    t->used += n;
    t->n++;
}

static void dns_packet(fp_stats *st, const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    if (fp_dns_message(data, d, &msg, &len) != 0 || fp_dns_iter_init(&it, msg, len) != 0) return;
    fp_dns_tree *t = &st->dns;
    t->packets++;
    uint16_t flags = it.hdr.flags;
    if (flags & 0x8000) t->responses++;
    else t->queries++;
    t->opcode[(flags >> 11) & 15]++;
    t->rcode[flags & 15]++;
    fp_dns_record rec;
    if (it.hdr.qdcount && fp_dns_iter_next(&it, &rec) == 1 && rec.section == FP_DNS_QD) {
        counter_add(&t->qtype, rec.type);
        counter_add(&t->qclass, rec.rclass & 0x7fff); /* mDNS's unicast-response bit is not the class */
        name_add(st, &st->dns_names, (const uint8_t *)rec.name, strlen(rec.name));
    }
}

static void http_method(fp_http_tree *t, const uint8_t *p, size_t n)
{
    if (n > FP_STATS_METHOD_MAX) n = FP_STATS_METHOD_MAX;
    for (uint16_t i = 0; i < t->nmethods; i++)
        if (strlen(t->methods[i]) == n && memcmp(t->methods[i], p, n) == 0) {
            t->method_counts[i]++;
            return;
        }
    if (t->nmethods == FP_STATS_MAX_KEYS) {
        t->methods_cut++;
        return;
    }
    memcpy(t->methods[t->nmethods], p, n);
    t->methods[t->nmethods][n] = 0;
    t->method_counts[t->nmethods++] = 1;
}

static void http_packet(fp_stats *st, const uint8_t *data, const fp_dissection *d)
{
    fp_http_tree *t = &st->http;
    fp_http_message m;
    t->packets++;
    if (fp_http_parse(data, d, &m) != 0) {
        t->other++;
        return;
    }
    long h = fp_http_find_field(data, m.headers, m.header_count, "host");
    if (h >= 0) {
        uint8_t unfolded[FP_DNS_NAME_MAX]; /* a folded Host value, unfolded */
        size_t n = 0;
        const void *v = fp_http_value(data, &m.headers[h], unfolded, sizeof unfolded, &n);
        if (v != NULL && n > 0)
            name_add(st, &st->http_hosts, v, n);
    }
    if (m.start.is_response) {
        t->responses++;
        t->status[m.start.status < 1000 ? m.start.status : 0]++;
    } else {
        t->requests++;
        http_method(t, data + m.start.method.off, m.start.method.len);
    }
}

/* ---- per packet ------------------------------------------------------------------------- */

/* DNS, HTTP and, when `conv`, the conversations of one dissection of the frame's bytes at data. */
static void count_upper(fp_stats *st, const uint8_t *data, const fp_dissection *d, int64_t ts, uint32_t wirelen,
                        int conv)
{
    if (conv) conv_packet(st, data, d, ts, wirelen);
    if (FP_HAS(d, FP_L_DNS)) dns_packet(st, data, d);
    if (FP_HAS(d, FP_L_HTTP)) http_packet(st, data, d);
}

/* The last packet of a frame named in full (the frame itself, or what its last tunnel
 * carries: data..caplen, wirelen of it on the wire, frame_len the frame's). */
static inline __attribute__((always_inline)) void last_level(fp_stats *st, const uint8_t *data, uint32_t caplen,
                                                             uint32_t wirelen, uint32_t linktype,
                                                             const fp_dissection *d, int64_t ts, uint32_t frame_len,
                                                             phs_walk *b)
{
    fp_dissection inner;
    uint32_t inner_at = 0;
    inner.present = 0;
    phs_path(data, caplen, wirelen, linktype, d, b, &inner, &inner_at);
    if (inner.present != 0) /* a PPPoE session's IP packet: counted as the frame's innermost */
        count_upper(st, data + inner_at, &inner, ts, frame_len, 1);
}

#define LINK_BITS ((1u << FP_L_ETH) | (1u << FP_L_SLL) | (1u << FP_L_SLL2) | (1u << FP_L_LOOP) | (1u << FP_L_VLAN) | \
                   (1u << FP_L_RADIOTAP) | (1u << FP_L_WLAN))

/* The last level (after tunnel t, from `at`) as the tunnel dissection td read it, into *v, so
 * that it is not dissected a third time: td's layers are that packet's (offsets from the
 * frame's first byte) under the link layers and the `vl` tags of the levels before, which the
 * view leaves out; an Ethernet frame inside keeps its header and its own tags. 0 when td cannot
 * stand for the level: tags at FP_MAX_VLAN (the level's may be left undecoded there). */
static int last_view(const fp_dissection *td, const fp_tunnel *t, uint32_t at, int vl, fp_dissection *v)
{
    if (td->vlan_count >= FP_MAX_VLAN || vl > td->vlan_count) return 0;
    *v = *td;
    v->present &= ~LINK_BITS;
    v->link_ppp = 0;
    v->vlan_count = 0;
    if (t->inner_link && FP_HAS(td, FP_L_ETH) && td->layer[FP_L_ETH].off >= at) { /* else cut: no header */
        v->present |= 1u << FP_L_ETH;
        v->vlan_count = (uint8_t)(td->vlan_count - vl);
        memmove(v->vlan, td->vlan + vl, v->vlan_count * sizeof *v->vlan);
        if (v->vlan_count) v->present |= 1u << FP_L_VLAN;
    }
    return 1;
}

/* A frame may_tunnel picked, dissected with tunnels on into *td: its hierarchy through every
 * tunnel fastpkt decodes, the conversations of each level below the first and the DNS/HTTP
 * messages of the last. Out of line, so the other frames' path stays inlined. */
static __attribute__((noinline)) void tunnel_levels(fp_stats *st, const uint8_t *data, uint32_t caplen,
                                                    uint32_t wirelen, uint32_t linktype, const fp_dissection *d,
                                                    fp_dissection *td, int64_t ts, phs_walk *b)
{
    fp_dissection lv;
    int flags = FP_DISSECT_FCS(d->fcs_len);
    if (d->reassembled) fp_dissect_datagram(data, caplen, linktype, flags, td);
    else if (fp_dissect_tunnels(data, caplen, wirelen, linktype, flags, d, td) != 0) /* else from d's end */
        fp_dissect_ex(data, caplen, wirelen, linktype, flags, td);
    int n = td->tunnel_count;
    if (n == 0 || (n == 1 && td->tunnel[0].type == FP_TUN_PPPOE)) { /* the frame's own session alone */
        last_level(st, data, caplen, wirelen, linktype, d, ts, wirelen, b);
        return;
    }
    phs_level(b, link_proto(linktype, d), d); /* the first level: the record's own dissection */
    if (phs_tunnel(data, &td->tunnel[0], td, ip_end(d, caplen), b)) return;
    uint32_t end = caplen; /* a PPPoE session's length bounds every level inside it */
    int vl = d->vlan_count; /* tags of the levels before the last */
    for (int k = 1; k <= n; k++) {
        const fp_tunnel *prev = &td->tunnel[k - 1];
        uint32_t at = prev->off + prev->hlen;
        end = level_end(data, end, prev);
        if (at > end) return;
        uint32_t lt = level_linktype(data, end, prev, at);
        uint32_t lw = end < caplen ? end - at : wirelen > at ? wirelen - at : 0;
        if (k == n) {
            if (lt == 0) {
                if (at < end) push(b, FP_PHS_DATA); /* MPLS, GTP-U: not IP after all */
                return;
            }
            /* the level's bytes from `base` (its offsets are from there) */
            const uint8_t *base = data;
            uint32_t blen = end, bwire = end < caplen ? end : wirelen;
            if (!last_view(td, prev, at, vl, &lv)) {
                fp_dissect_ex(data + at, end - at, lw, lt, FP_DISSECT_NO_TUNNELS, &lv);
                base = data + at, blen = end - at, bwire = lw;
            }
            if (lt != FP_LINKTYPE_ETHERNET && !FP_HAS(&lv, FP_L_IP4) && !FP_HAS(&lv, FP_L_IP6)) {
                if (at < end) push(b, lt == FP_LINKTYPE_IPV4 ? FP_PHS_IP : FP_PHS_IPV6); /* cut: malformed */
                return;
            }
            last_level(st, base, blen, bwire, lt, &lv, ts, wirelen, b);
            count_upper(st, base, &lv, ts, wirelen, 1);
            return;
        }
        const fp_tunnel *t = &td->tunnel[k];
        uint32_t t_end = end;
        if (t->off != at && lt != 0) { /* a packet before the next tunnel (not MPLS or ERSPAN right after GRE) */
            fp_dissect_ex(data + at, end - at, lw, lt, FP_DISSECT_NO_TUNNELS, &lv);
            if (lt == FP_LINKTYPE_ETHERNET) vl += lv.vlan_count;
            phs_level(b, lt == FP_LINKTYPE_ETHERNET ? FP_PHS_ETH : FP_PHS_COUNT, &lv);
            conv_packet(st, data + at, &lv, ts, wirelen);
            t_end = at + ip_end(&lv, end - at);
        }
        if (phs_tunnel(data, t, td, t_end, b)) return;
    }
}

void fp_stats_add(fp_stats *st, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                  uint32_t linktype, int64_t ts_ns, int has_ts, uint64_t number,
                  const fp_dissection *d)
{
    if (!st->seen) {
        st->seen = 1;
        st->first_ns = st->last_ns = ts_ns;
    }
    if (ts_ns > st->last_ns) st->last_ns = ts_ns;
    /* wiretap reads PPP_WITH_DIR's direction byte as a pseudo-header: tshark's frame length,
     * which every byte count of its statistics adds, leaves it out */
    if (linktype == FP_LINKTYPE_PPP_WITH_DIR && wirelen > 0) wirelen--;
    st->frames++;
    st->bytes += wirelen;
    st->phs[0].frames++;
    st->phs[0].bytes += wirelen;
    phs_walk b = {st, ts_ns, wirelen, 0, 0, 0};
    fp_dissection td;
    const fp_dissection *fd = d; /* what io,stat's filters read: tshark's match inside tunnels */
    if (may_tunnel(data, linktype, d)) {
        tunnel_levels(st, data, caplen, wirelen, linktype, d, &td, ts_ns, &b);
        fd = &td;
    } else {
        last_level(st, data, caplen, wirelen, linktype, d, ts_ns, wirelen, &b);
        if (st->cfg.nfilters != 0 && st->cfg.interval_ns > 0 && !FP_HAS(d, FP_L_IP4) && !FP_HAS(d, FP_L_IP6) &&
            pppoe_session(linktype, d)) { /* tshark's filters match the session's packet too */
            fp_dissect_ex(data, caplen, wirelen, linktype, FP_DISSECT_FCS(d->fcs_len), &td);
            fd = &td;
        }
    }
    conv_packet(st, data, d, ts_ns, wirelen);
    if (st->cfg.interval_ns > 0) io_packet(st, data, caplen, wirelen, ts_ns, has_ts, number, fd);
    count_upper(st, data, d, ts_ns, wirelen, 0);
}
