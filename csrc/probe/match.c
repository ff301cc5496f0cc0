/* Which captured packet answers which probe: Scapy's answers() rules (Scapy 2.8,
 * scapy/layers/inet.py IP/TCP/UDP/ICMP and the *error classes, inet6.py IPv6/ICMPv6 echo,
 * l2.py ARP, dns.py DNS) with its defaults (checkIPaddr, checkIPsrc on; checkIPID,
 * check_TCPerror_seqack off). Link layers are found by the dissector; the IP headers and
 * the header an ICMP error quotes (RFC 792, RFC 4443 section 3) are read here, bounds
 * checked, since a quote is cut short on purpose. */
#include <stdlib.h>
#include <string.h>

#include "../dissect/dissect.h"
#include "match_rules.h"
#include "probe.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_ACK = 16 };

static int icmp4_error(uint8_t type) { return type == 3 || type == 4 || type == 5 || type == 11 || type == 12; }
/* Requests Scapy pairs with replies: echo, timestamp, information, address mask, and the
 * old mobile/IPv6 where-are-you/domain-name pairs (_icmp_answers). */
static int icmp4_request(uint8_t type)
{
    return type == 8 || type == 13 || type == 15 || type == 17 || type == 33 || type == 35 || type == 37;
}
static int icmp4_reply_of(uint8_t req) { return req == 8 ? 0 : req + 1; }

/* Transport fields from `n` bytes at `p` (a quote may hold only 8). */
static void parse_l4(const uint8_t *p, uint32_t n, fp_pview_ip *ip)
{
    switch (ip->proto) {
    case 6:
        if (n >= 4) ip->sport = be16(p), ip->dport = be16(p + 2);
        if (n >= 8) ip->seq = be32(p + 4), ip->has_tcp_seq = 1;
        if (n >= 20) {
            uint32_t doff = (uint32_t)(p[12] >> 4) * 4;
            ip->ack = be32(p + 8);
            ip->has_tcp_ack = 1;
            ip->tcp_flags = p[13];
            ip->l4_payload = doff >= 20 && doff <= n ? n - doff : 0;
        }
        break;
    case 17:
        if (n >= 4) ip->sport = be16(p), ip->dport = be16(p + 2);
        if (n >= 8) {
            ip->l4_payload = n - 8;
            if ((ip->sport == 53 || ip->dport == 53) && n >= 8 + 12) {
                ip->dns = 1;
                ip->dns_id = be16(p + 8);
                ip->dns_qr = p[10] >> 7;
            }
        }
        break;
    case 1:
    case 58:
        if (n >= 2) ip->icmp_type = p[0], ip->icmp_code = p[1];
        if (n >= 8) {
            ip->icmp_id = be16(p + 4);
            ip->icmp_seq = be16(p + 6);
            ip->echo_data = p + 8;
            ip->echo_len = n - 8;
        }
        break;
    default:
        break;
    }
}

/* An IPv4/IPv6 header and what follows it. A quote's lengths describe the original
 * packet, so only the bytes present bound it. Sets *l4 and *l4len to the transport bytes
 * (NULL for later fragments). 0 when there is no readable IP header. */
static int parse_ip(const uint8_t *p, uint32_t n, int quoted, fp_pview_ip *ip, const uint8_t **l4,
                    uint32_t *l4len)
{
    *l4 = NULL;
    *l4len = 0;
    if (n < 1) return 0;
    if (p[0] >> 4 == 4) {
        uint32_t ihl = (uint32_t)(p[0] & 15) * 4, end = n;
        if (n < 20 || ihl < 20 || ihl > n) return 0;
        if (!quoted && be16(p + 2) >= ihl && be16(p + 2) < n) end = be16(p + 2);
        ip->ver = 4;
        ip->proto = p[9];
        memcpy(ip->src, p + 12, 4);
        memcpy(ip->dst, p + 16, 4);
        if ((be16(p + 6) & 0x1fff) != 0) return 1;
        *l4 = p + ihl;
        *l4len = end - ihl;
    } else if (p[0] >> 4 == 6) {
        uint32_t off = 40, end = n;
        if (n < 40) return 0;
        if (!quoted && 40u + be16(p + 4) < n) end = 40u + be16(p + 4);
        ip->ver = 6;
        memcpy(ip->src, p + 8, 16);
        memcpy(ip->dst, p + 24, 16);
        uint8_t nh = p[6];
        for (int i = 0; i < FP_MAX_IP6_EXT; i++) { /* hop-by-hop, routing, fragment, AH, dest. opts */
            uint32_t hl;
            if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60) break;
            if (off + 8 > end) return 1;
            if (nh == 44) {
                if ((be16(p + off + 2) & 0xfff8) != 0) {
                    ip->proto = p[off];
                    return 1; /* a later fragment: no transport header */
                }
                hl = 8;
            } else {
                hl = nh == 51 ? ((uint32_t)p[off + 1] + 2) * 4 : ((uint32_t)p[off + 1] + 1) * 8;
            }
            nh = p[off];
            off += hl;
        }
        ip->proto = nh;
        if (off > end) return 1;
        *l4 = p + off;
        *l4len = end - off;
    } else {
        return 0;
    }
    parse_l4(*l4, *l4len, ip);
    return 1;
}

int fp_pview_parse(const uint8_t *data, uint32_t len, uint32_t linktype, fp_pview *v)
{
    fp_dissection d;
    memset(v, 0, sizeof *v);
    fp_dissect_ex(data, len, len, linktype, FP_DISSECT_NO_TUNNELS, &d); /* Scapy matches outer headers */
    if (FP_HAS(&d, FP_L_ARP)) {
        const uint8_t *a = data + d.layer[FP_L_ARP].off;
        uint32_t n = len - d.layer[FP_L_ARP].off;
        /* Ethernet/IPv4 ARP only: hardware 6 bytes, protocol 0x0800 with 4 */
        if (n < 28 || be16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) return 0;
        v->arp = 1;
        v->arp_op = be16(a + 6);
        memcpy(v->arp_psrc, a + 14, 4);
        memcpy(v->arp_pdst, a + 24, 4);
        v->net_off = d.layer[FP_L_ARP].off;
        return 1;
    }
    fp_layer_id net = FP_HAS(&d, FP_L_IP4) ? FP_L_IP4 : FP_HAS(&d, FP_L_IP6) ? FP_L_IP6 : FP_L_COUNT;
    if (net == FP_L_COUNT) return 0;
    const uint8_t *l4;
    uint32_t l4len, off = d.layer[net].off;
    v->net_off = off;
    if (!parse_ip(data + off, len - off, 0, &v->ip, &l4, &l4len)) return 0;
    int err = l4 && l4len >= 8 &&
              ((v->ip.proto == 1 && v->ip.ver == 4 && icmp4_error(v->ip.icmp_type)) ||
               (v->ip.proto == 58 && v->ip.ver == 6 && v->ip.icmp_type < 128));
    if (err) {
        const uint8_t *q4;
        uint32_t q4len;
        v->icmp_error = parse_ip(l4 + 8, l4len - 8, 1, &v->quoted, &q4, &q4len);
    }
    return 1;
}

static void key_ip(const fp_pview_ip *ip, int reversed, fp_probe_key *k)
{
    k->kind = 2;
    k->ver = ip->ver;
    k->proto = ip->proto;
    memcpy(k->addr, reversed ? ip->dst : ip->src, ip->ver == 4 ? 4 : 16);
    if (ip->ver == 4) memcpy(k->peer, reversed ? ip->src : ip->dst, 4);
    if (ip->proto == 6 || ip->proto == 17) {
        k->a = reversed ? ip->dport : ip->sport;
        k->b = reversed ? ip->sport : ip->dport;
    } else if (ip->proto == 1 && ip->ver == 4) {
        int echo = reversed ? (ip->icmp_type == 0 || (ip->icmp_type >= 14 && ip->icmp_type <= 38 &&
                                                      icmp4_request((uint8_t)(ip->icmp_type - 1))))
                            : icmp4_request(ip->icmp_type);
        if (echo) k->a = ip->icmp_id, k->b = ip->icmp_seq;
    } else if (ip->proto == 58 && ip->ver == 6) {
        if (ip->icmp_type == (reversed ? 129 : 128)) k->a = ip->icmp_id, k->b = ip->icmp_seq;
    }
}

int fp_pview_key(const fp_pview *v, int as_answer, fp_probe_key *k)
{
    memset(k, 0, sizeof *k);
    if (v->arp) {
        k->kind = 1;
        memcpy(k->addr, as_answer ? v->arp_psrc : v->arp_pdst, 4);
        return 1;
    }
    if (!v->ip.ver) return 0;
    if (as_answer && v->icmp_error) key_ip(&v->quoted, 0, k);
    else key_ip(&v->ip, as_answer, k);
    return 1;
}

uint64_t fp_probe_key_hash(const fp_probe_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int64_t dist(uint32_t a, uint32_t b) { return a > b ? (int64_t)a - b : (int64_t)b - a; }

/* TCP.answers(self=r, other=p) */
static int tcp_answers(const fp_pview_ip *r, const fp_pview_ip *p)
{
    if (!r->has_tcp_ack || !p->has_tcp_ack) return 0;
    if (p->tcp_flags & TH_RST) return 0; /* RST packets don't get answers */
    if (r->tcp_flags & TH_SYN) {
        if (!(r->tcp_flags & TH_ACK) || !(p->tcp_flags & TH_SYN)) return 0;
    }
    if (r->sport != p->dport || r->dport != p->sport) return 0;
    int p_pure_syn = (p->tcp_flags & TH_SYN) && !(p->tcp_flags & TH_ACK);
    if (!p_pure_syn && dist(p->ack, r->seq) > 2) return 0;
    if ((r->tcp_flags & TH_RST) && !(r->tcp_flags & TH_ACK)) return 1;
    return dist(p->seq, r->ack) <= 2 + (int64_t)p->l4_payload;
}

/* The quoted header (IPerror/TCPerror/UDPerror/ICMPerror.answers) against the probe. */
static int quote_answers(const fp_pview_ip *q, const fp_pview_ip *p)
{
    size_t alen = p->ver == 4 ? 4 : 16;
    if (q->ver != p->ver || q->proto != p->proto || memcmp(q->src, p->src, alen) || memcmp(q->dst, p->dst, alen))
        return 0;
    if (p->proto == 6 || p->proto == 17) return q->sport == p->sport && q->dport == p->dport;
    if (p->proto == 1 && p->ver == 4) {
        if (q->icmp_type != p->icmp_type || q->icmp_code != p->icmp_code) return 0;
        return !icmp4_request(p->icmp_type) || (q->icmp_id == p->icmp_id && q->icmp_seq == p->icmp_seq);
    }
    return 1;
}

int fp_pview_answers(const fp_pview *p, const fp_pview *r)
{
    if (r->arp || p->arp) {
        return r->arp && p->arp && r->arp_op == p->arp_op + 1 && !memcmp(r->arp_psrc, p->arp_pdst, 4);
    }
    const fp_pview_ip *ri = &r->ip, *pi = &p->ip;
    size_t alen = pi->ver == 4 ? 4 : 16;
    if (!ri->ver || ri->ver != pi->ver || memcmp(ri->dst, pi->src, alen)) return 0;
    if (r->icmp_error) return quote_answers(&r->quoted, pi);
    if (pi->ver == 4 && memcmp(ri->src, pi->dst, 4)) return 0; /* IPv6: Scapy leaves the source */
    if (ri->proto != pi->proto) return 0;
    switch (pi->proto) {
    case 6:
        return tcp_answers(ri, pi);
    case 17:
        if (ri->dport != pi->sport || ri->sport != pi->dport) return 0;
        if (ri->dns) return pi->dns && ri->dns_id == pi->dns_id && ri->dns_qr == 1 && pi->dns_qr == 0;
        /* Raw answers anything; an empty reply only an empty probe */
        return ri->l4_payload > 0 || pi->l4_payload == 0;
    case 1:
        if (pi->ver != 4) return 1;
        return icmp4_request(pi->icmp_type) && ri->icmp_type == icmp4_reply_of(pi->icmp_type) &&
               ri->icmp_id == pi->icmp_id && ri->icmp_seq == pi->icmp_seq;
    case 58:
        if (pi->ver != 6) return 1;
        return pi->icmp_type == 128 && ri->icmp_type == 129 && ri->icmp_id == pi->icmp_id &&
               ri->icmp_seq == pi->icmp_seq && ri->echo_len == pi->echo_len &&
               (ri->echo_len == 0 || !memcmp(ri->echo_data, pi->echo_data, ri->echo_len));
    default:
        return 1; /* Raw.answers */
    }
}

int fp_probe_answers(const uint8_t *probe, uint32_t probe_len, uint32_t probe_lt, const uint8_t *ans,
                     uint32_t ans_len, uint32_t ans_lt)
{
    fp_pview p, r;
    fp_probe_key kp, kr;
    if (!fp_pview_parse(probe, probe_len, probe_lt, &p) || !fp_pview_parse(ans, ans_len, ans_lt, &r)) return 0;
    if (!fp_pview_key(&p, 0, &kp) || !fp_pview_key(&r, 1, &kr) || memcmp(&kp, &kr, sizeof kp)) return 0;
    return fp_pview_answers(&p, &r);
}
