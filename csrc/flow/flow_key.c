/* Flow keys from a dissection: addresses, protocol, ports (TCP/UDP), ICMP type/code
 * with echo-style request/reply pairs folded into one key by identifier (RFC 792,
 * RFC 4443 section 4), outer VLAN id. Bidirectional keys order the two endpoints so
 * both directions of a conversation hash alike. */
#include <string.h>

#include "../dissect/cursor.h"
#include "flow.h"

/* ICMP query types whose reply pairs with the request: reply -> request type, else -1. */
static int icmp_request_of(uint8_t version, uint8_t type)
{
    if (version == 4) {
        switch (type) {
        case 0: case 8: return 8;    /* echo reply / request */
        case 13: case 14: return 13; /* timestamp */
        case 15: case 16: return 15; /* information */
        case 17: case 18: return 17; /* address mask */
        }
        return -1;
    }
    return (type == 128 || type == 129) ? 128 : -1;
}

/* The IP header of a dissection with its fixed part present, or NULL: the innermost one
 * (fp_innermost_ip), as tables and tshark's conv,ip count a tunnel carrying no IP. */
static const uint8_t *ip_header(const uint8_t *data, const fp_dissection *d, int *version, uint8_t *proto)
{
    int id = fp_innermost_ip(d, proto);
    if (id == FP_L_IP4) {
        const fp_span *s = &d->layer[FP_L_IP4];
        if (s->end - s->off < 20) return NULL;
        *version = 4;
        return data + s->off;
    }
    if (id == FP_L_IP6) {
        const fp_span *s = &d->layer[FP_L_IP6];
        if (s->end - s->off < 40) return NULL;
        *version = 6;
        return data + s->off;
    }
    return NULL;
}

/* Offset just past the IP datagram as sent (from its length field), or 0 when the
 * field cannot be used (zero: TSO / jumbogram). */
static uint32_t ip_wire_end(const uint8_t *ip, int version, uint32_t ip_off)
{
    if (version == 4) {
        uint32_t total = fp_load_be16(ip + 2);
        return total >= 20 ? ip_off + total : 0;
    }
    uint32_t plen = fp_load_be16(ip + 4);
    return plen ? ip_off + 40 + plen : 0;
}

/* Payload after an L4 header, from the IP length when it is consistent, else from the span. */
static uint32_t l4_payload(const fp_dissection *d, fp_layer_id id, uint32_t ip_end)
{
    const fp_span *s = &d->layer[id];
    uint32_t start = s->off + s->hlen;
    if (ip_end >= start) return ip_end - start;
    return s->end - start;
}

uint64_t fp_flow_key_hash(const fp_flow_key *k)
{
    uint64_t w[sizeof *k / 8];
    memcpy(w, k, sizeof w);
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        h ^= w[i] * 0xff51afd7ed558ccdull;
        h = (h << 31 | h >> 33) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int fp_flow_fragment_id(const uint8_t *data, const fp_dissection *d, uint32_t *id)
{
    int version;
    uint8_t proto;
    const uint8_t *ip = ip_header(data, d, &version, &proto);
    if (ip == NULL || !d->is_fragment) return -1;
    if (version == 4) {
        *id = fp_load_be16(ip + 4);
        return 0;
    }
    for (int i = 0; i < d->ip6_ext_count; i++)
        if (d->ip6_ext[i].type == 44 && d->ip6_ext[i].len >= 8) { /* RFC 8200 section 4.5 */
            *id = fp_load_be32(data + d->ip6_ext[i].off + 4);
            return 0;
        }
    return -1;
}

static void tcp_fields(fp_flow_packet *p, const uint8_t *data, const fp_dissection *d, uint32_t ip_end)
{
    const uint8_t *t = data + d->layer[FP_L_TCP].off; /* a TCP span holds >= 20 bytes */
    p->is_tcp = 1;
    p->seq = fp_load_be32(t + 4);
    p->ack = fp_load_be32(t + 8);
    p->tcp_flags = t[13];
    p->window = fp_load_be16(t + 14);
    p->l4_payload = l4_payload(d, FP_L_TCP, ip_end);
}

static void icmp_fields(fp_flow_packet *p, const uint8_t *data, const fp_dissection *d, fp_layer_id id)
{
    const fp_span *s = &d->layer[id];
    const uint8_t *h = data + s->off;
    p->is_icmp = 1;
    p->icmp_type = h[0];
    p->icmp_code = h[1];
    p->key.icmp_type = h[0];
    p->key.icmp_code = h[1];
    int req = icmp_request_of(p->key.ip_version, h[0]);
    if (req >= 0 && s->hlen >= 8) {
        uint16_t ident = fp_load_be16(h + 4);
        p->key.icmp_type = (uint8_t)req;
        p->key.icmp_code = 0;
        p->key.pa = p->key.pb = ident;
    }
    p->l4_payload = s->end - s->off - s->hlen;
}

int fp_flow_packet_from(fp_flow_packet *p, const uint8_t *data, const fp_dissection *d,
                        int64_t ts_ns, uint32_t wirelen, int bidirectional)
{
    int version;
    uint8_t proto;
    const uint8_t *ip = ip_header(data, d, &version, &proto);
    if (ip == NULL) return -1;
    memset(p, 0, sizeof *p);
    p->ts_ns = ts_ns;
    p->wirelen = wirelen;
    p->anomalies = d->anomalies;
    p->data = data;
    p->d = d;
    fp_flow_key *k = &p->key;
    k->ip_version = (uint8_t)version;
    k->proto = proto;
    k->vlan = (FP_HAS(d, FP_L_VLAN) && d->vlan_count) ? (uint16_t)(d->vlan[0].tci & 0x0fff) : FP_FLOW_NO_VLAN;
    if (d->tunnel_count) { /* GTP-U TEIDs, MPLS labels and PPTP call ids differ by direction:
                              not keyed on */
        const fp_tunnel *t = &d->tunnel[d->tunnel_count - 1];
        int keyed = t->has_id && t->type != FP_TUN_GTPU && t->type != FP_TUN_MPLS && t->type != FP_TUN_PPTP;
        k->tunnel_type = (uint8_t)(t->type | (keyed ? FP_FLOW_TUNNEL_HAS_ID : 0));
        k->tunnel_id = keyed ? t->id : 0;
    }
    uint8_t src[16] = {0}, dst[16] = {0};
    uint32_t ip_off = version == 4 ? d->layer[FP_L_IP4].off : d->layer[FP_L_IP6].off;
    /* a reassembled datagram's header is its last fragment's: the span has its length */
    uint32_t ip_end = d->reassembled ? d->layer[version == 4 ? FP_L_IP4 : FP_L_IP6].end
                                     : ip_wire_end(ip, version, ip_off);
    if (version == 4) {
        memcpy(src, ip + 12, 4);
        memcpy(dst, ip + 16, 4);
    } else { /* the endpoints, not the current hop: as tshark and Zeek key them */
        memcpy(src, fp_ip6_home_src(data, d), 16);
        memcpy(dst, fp_ip6_final_dst(data, d), 16);
    }
    uint16_t sport = 0, dport = 0;
    if (FP_HAS(d, FP_L_TCP) || FP_HAS(d, FP_L_UDP)) {
        sport = d->sport;
        dport = d->dport;
        k->has_ports = 1;
        if (FP_HAS(d, FP_L_TCP)) tcp_fields(p, data, d, ip_end);
        else {
            p->is_udp = 1;
            p->l4_payload = l4_payload(d, FP_L_UDP, ip_end);
        }
    } else if (FP_HAS(d, FP_L_ICMP) || FP_HAS(d, FP_L_ICMP6)) {
        icmp_fields(p, data, d, FP_HAS(d, FP_L_ICMP) ? FP_L_ICMP : FP_L_ICMP6);
    } else if (fp_tunnel_udp_ports(data, d, &sport, &dport)) {
        /* a tunnel carrying no IP: its UDP ports, as tshark's conv,udp counts the frame; the
         * tunnel's payload is the datagram's */
        k->has_ports = 1;
        p->is_udp = 1;
        p->l4_payload = l4_payload(d, FP_L_UDP, ip_end);
    } else {
        p->l4_payload = d->payload_len; /* other protocols and later fragments: IP payload */
    }
    int c = memcmp(src, dst, 16);
    p->swapped = bidirectional && (c > 0 || (c == 0 && sport > dport));
    memcpy(k->a, p->swapped ? dst : src, 16);
    memcpy(k->b, p->swapped ? src : dst, 16);
    if (!p->is_icmp) {
        k->pa = p->swapped ? dport : sport;
        k->pb = p->swapped ? sport : dport;
    }
    return 0;
}

/* An address as the shard's two words: IPv4's 4 bytes as one, IPv6's 16 as two (loaded
 * whole: no byte copy into a wider buffer, which stalls the load behind the stores). */
static void address_words(const uint8_t *a, int version, uint64_t w[2])
{
    if (version == 4) {
        uint32_t v;
        memcpy(&v, a, 4);
        w[0] = v;
        w[1] = 0;
    } else {
        memcpy(&w[0], a, 8);
        memcpy(&w[1], a + 8, 8);
    }
}

uint32_t fp_flow_shard(const fp_flow_key *k, uint32_t shards)
{
    uint64_t a[2], b[2];
    address_words(k->a, k->ip_version, a);
    address_words(k->b, k->ip_version, b);
    return fp_flow_endpoints_shard(a[0], a[1], b[0], b[1], (uint32_t)k->pa + k->pb, shards);
}

int fp_flow_key_pass(const uint8_t *data, uint32_t caplen, uint32_t linktype, int flags, uint32_t shards)
{
    fp_key_fields f;
    if (fp_dissect_key_fields(data, caplen, linktype, flags, &f) < 0) return -1;
    uint64_t a[2], b[2]; /* the key's endpoints, in whichever order fp_flow_packet_from puts them */
    address_words(f.src, f.version, a);
    address_words(f.dst, f.version, b);
    return (int)fp_flow_endpoints_shard(a[0], a[1], b[0], b[1], (uint32_t)f.sport + f.dport, shards);
}
