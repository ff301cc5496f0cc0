/* Internet checksum (RFC 1071; sums 64 bits at a time, folded once at the end,
 * relying on the byte-order independence of section 2(B)), IPv4 header checksum
 * (RFC 791 section 3.1), TCP/UDP/ICMP/ICMPv6 checksums with the IPv4 pseudo header
 * (RFC 9293 section 3.1, RFC 768) or the IPv6 one (RFC 8200 section 8.1).
 * With an IPv6 routing header that has segments left, the pseudo header takes the
 * final destination (RFC 8200 section 8.1): the last address of a type 0 or 2
 * header, the first entry of a segment routing header (type 4, RFC 8754 2). */
#include <string.h>

#include "cursor.h"
#include "dissect.h"

/* One's-complement sum of p[0..len) in network order, folded to 16 bits. */
static uint32_t sum_be(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    while (len >= 8) { /* native-order words: carries wrap the same way in both orders */
        uint64_t w;
        memcpy(&w, p, 8);
        acc += w;
        acc += acc < w; /* end-around carry */
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    acc += tail;
    acc += acc < tail;
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    uint32_t s = (uint32_t)acc;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s = ((s & 0xff) << 8) | (s >> 8); /* the sum of LE words is the byte-swapped sum */
#endif
    return s;
}

static uint16_t fold_complement(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

uint16_t fp_inet_checksum(const uint8_t *p, size_t len, uint32_t initial)
{
    return fold_complement((uint64_t)sum_be(p, len) + initial);
}

int fp_ip4_checksum_ok(const uint8_t *data, const fp_dissection *d)
{
    if (!FP_HAS(d, FP_L_IP4))
        return -1;
    const fp_span *ip = &d->layer[FP_L_IP4];
    uint32_t ihl = (uint32_t)(data[ip->off] & 0x0f) * 4;
    if (ihl < 20 || ihl > ip->hlen) /* bad IHL or options cut: cannot tell */
        return -1;
    return fp_inet_checksum(data + ip->off, ihl, 0) == 0;
}

/* Which L4 layer, and whether the pseudo header applies. */
static int l4_layer(const fp_dissection *d, fp_layer_id *id)
{
    static const fp_layer_id ids[] = {FP_L_TCP, FP_L_UDP, FP_L_ICMP, FP_L_ICMP6};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (FP_HAS(d, ids[i])) {
            *id = ids[i];
            return 0;
        }
    }
    return -1;
}

/* Length of the L4 data as the IP header declares it, -1 if not all captured. */
static int64_t l4_declared_len(const uint8_t *data, const fp_dissection *d, uint32_t l4_off)
{
    uint32_t ip_end, captured_end;
    if (d->reassembled) { /* the header is the last fragment's; the span is the datagram */
        ip_end = d->layer[FP_HAS(d, FP_L_IP4) ? FP_L_IP4 : FP_L_IP6].end;
        return ip_end < l4_off ? -1 : (int64_t)(ip_end - l4_off);
    }
    if (FP_HAS(d, FP_L_IP4)) {
        const fp_span *ip = &d->layer[FP_L_IP4];
        uint32_t totlen = fp_load_be16(data + ip->off + 2);
        if (totlen == 0 || totlen < ip->hlen) /* TSO or bogus: cannot tell */
            return -1;
        ip_end = ip->off + totlen;
        captured_end = ip->end;
    } else {
        const fp_span *ip = &d->layer[FP_L_IP6];
        uint32_t plen = fp_load_be16(data + ip->off + 4);
        if (plen == 0) /* jumbogram */
            return -1;
        ip_end = ip->off + 40 + plen;
        captured_end = ip->end;
    }
    if (ip_end > captured_end || ip_end < l4_off)
        return -1;
    return ip_end - l4_off;
}

/* Destination address for the IPv6 pseudo header (and the flow key). */
const uint8_t *fp_ip6_final_dst(const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *dst = data + d->layer[FP_L_IP6].off + 24;
    for (int i = 0; i < d->ip6_ext_count; i++) {
        const fp_ip6_ext *e = &d->ip6_ext[i];
        if (e->type != 43 || e->len < 24 || data[e->off + 3] == 0) /* no segments left */
            continue;
        uint8_t type = data[e->off + 2];
        if (type == 0 || type == 2)
            dst = data + e->off + e->len - 16;
        else if (type == 4)
            dst = data + e->off + 8;
    }
    return dst;
}

int fp_l4_checksum_ok(const uint8_t *data, const fp_dissection *d)
{
    fp_layer_id id;
    if (l4_layer(d, &id) != 0 || d->is_fragment)
        return -1;
    if (!FP_HAS(d, FP_L_IP4) && !FP_HAS(d, FP_L_IP6))
        return -1;
    const fp_span *l4 = &d->layer[id];
    int64_t len = l4_declared_len(data, d, l4->off);
    if (len < 0)
        return -1;
    if (id == FP_L_UDP) { /* the UDP length field is authoritative */
        uint32_t ulen = fp_load_be16(data + l4->off + 4);
        if (ulen < 8 || ulen > len)
            return -1;
        len = ulen;
        if (FP_HAS(d, FP_L_IP4) && fp_load_be16(data + l4->off + 6) == 0)
            return -1; /* checksum not computed by the sender */
    }
    uint64_t pseudo = 0;
    if (id != FP_L_ICMP) { /* ICMPv4 has no pseudo header */
        uint32_t proto = id == FP_L_TCP ? 6 : id == FP_L_UDP ? 17 : 58;
        if (FP_HAS(d, FP_L_IP4))
            pseudo = sum_be(data + d->layer[FP_L_IP4].off + 12, 8);
        else
            pseudo = (uint64_t)sum_be(data + d->layer[FP_L_IP6].off + 8, 16) +
                     sum_be(fp_ip6_final_dst(data, d), 16);
        pseudo += proto + (uint64_t)len;
    }
    return fold_complement(sum_be(data + l4->off, (size_t)len) + pseudo) == 0;
}
