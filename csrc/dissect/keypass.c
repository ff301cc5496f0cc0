/* The shard key pass of a parallel run (csrc/py/engine.c, fastpkt.parallel): the flow key
 * material of a plain TCP or UDP packet read from its first bytes, without a dissection, so a
 * worker tells another shard's packet from its own at a fraction of fp_dissect's cost.
 * It answers only where the full dissection certainly finds the same layers (link.c,
 * ipv4.c, ipv6.c, tcp.c, udp.c, tunnel.c decide them): Ethernet with up to FP_MAX_VLAN tags,
 * Linux cooked v1/v2, raw IP; IPv4 with any options or IPv6 without extension headers, not a
 * fragment; TCP with its fixed 20 bytes or UDP with its 8 inside the datagram, UDP on no
 * tunnel port. Anything else (FCS trailers, 802.3, MPLS, PPPoE, ICMP, GRE, IP in IP,
 * fragments, extension headers, lengths that cut the transport header) returns -1: the
 * caller dissects it. */
#include "cursor.h"
#include "dissect.h"

enum { ETHERTYPE_IP4 = 0x0800, ETHERTYPE_IP6 = 0x86dd };

/* Every record of a split walk goes through here once: the steps are inlined into the link
 * switch (called, they were a third of the pass's instructions: calls, spills of the key). */
#define KEY_STEP static inline __attribute__((always_inline))

static int is_vlan_tpid(uint16_t t) { return t == 0x8100 || t == 0x88a8 || t == 0x9100; }

/* TCP or UDP at off..end (the datagram's end within the capture). */
KEY_STEP int key_transport(const uint8_t *data, uint32_t off, uint32_t end, int tunnels, fp_key_fields *k)
{
    if (k->proto != 6 && k->proto != 17) return -1;
    if (end < off || end - off < (k->proto == 6 ? 20u : 8u)) return -1; /* a cut header: bad_transport */
    fp_cursor c = fp_cursor_make(data, end);
    c.ptr += off;
    k->sport = fp_peek_be16(&c, 0);
    k->dport = fp_peek_be16(&c, 2);
    if (k->proto == 17 && tunnels && fp_udp_tunnel_port(k->sport, k->dport)) return -1; /* maybe decapsulated */
    return 0;
}

/* RFC 791 3.1, as fp_dissect_ip4 reads it (end: the capture's end). */
KEY_STEP int key_ip4(const uint8_t *data, uint32_t off, uint32_t end, int tunnels, fp_key_fields *k)
{
    if (end < off || end - off < 20) return -1;
    const uint8_t *ip = data + off;
    uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
    uint32_t totlen = (uint32_t)ip[2] << 8 | ip[3];
    if (ihl < 20 || ihl > end - off || (totlen != 0 && totlen < ihl)) return -1;
    if (((uint32_t)ip[6] << 8 | ip[7]) & 0x3fff) return -1; /* MF or an offset: a fragment */
    uint32_t ip_end = totlen == 0 || totlen >= end - off ? end : off + totlen;
    k->version = 4;
    k->proto = ip[9];
    k->src = ip + 12;
    k->dst = ip + 16;
    return key_transport(data, off + ihl, ip_end, tunnels, k);
}

/* RFC 8200 section 3, without extension headers (they may name other endpoints). */
KEY_STEP int key_ip6(const uint8_t *data, uint32_t off, uint32_t end, int tunnels, fp_key_fields *k)
{
    if (end < off || end - off < 40) return -1;
    const uint8_t *ip = data + off;
    uint32_t plen = (uint32_t)ip[4] << 8 | ip[5];
    if (plen == 0) return -1; /* a jumbogram, or nothing */
    uint32_t ip_end = plen < end - off - 40 ? off + 40 + plen : end;
    k->version = 6;
    k->proto = ip[6];
    k->src = ip + 8;
    k->dst = ip + 24;
    return key_transport(data, off + 40, ip_end, tunnels, k);
}

/* After the link header: VLAN tags (the outer one's id is the key's), then IPv4 or IPv6. */
KEY_STEP int key_ethertype(const uint8_t *data, uint32_t off, uint32_t end, uint16_t type, int tunnels,
                         fp_key_fields *k)
{
    fp_cursor c = fp_cursor_make(data, end);
    c.ptr += off;
    for (int tags = 0; is_vlan_tpid(type); tags++) {
        uint16_t tci;
        if (tags == FP_MAX_VLAN || fp_get_be16(&c, &tci) || fp_get_be16(&c, &type)) return -1;
        if (tags == 0) k->vlan = tci & 0x0fff;
    }
    if (type == ETHERTYPE_IP4) return key_ip4(data, fp_cur_off(&c), end, tunnels, k);
    if (type == ETHERTYPE_IP6) return key_ip6(data, fp_cur_off(&c), end, tunnels, k);
    return -1;
}

int fp_dissect_key_fields(const uint8_t *data, uint32_t caplen, uint32_t linktype, int flags, fp_key_fields *k)
{
    if (flags & FP_DISSECT_FCS_MASK) return -1; /* the dissection shortens the frame first */
    int tunnels = (flags & FP_DISSECT_NO_TUNNELS) == 0;
    k->vlan = 0xFFFF;
    switch (linktype) {
    case FP_LINKTYPE_ETHERNET:
        if (caplen < 14) return -1;
        return key_ethertype(data, 14, caplen, (uint16_t)(data[12] << 8 | data[13]), tunnels, k);
    case FP_LINKTYPE_LINUX_SLL:
        if (caplen < 16) return -1;
        return key_ethertype(data, 16, caplen, (uint16_t)(data[14] << 8 | data[15]), tunnels, k);
    case FP_LINKTYPE_LINUX_SLL2:
        if (caplen < 20) return -1;
        return key_ethertype(data, 20, caplen, (uint16_t)(data[0] << 8 | data[1]), tunnels, k);
    case FP_LINKTYPE_RAW:
        if (caplen < 1) return -1;
        if (data[0] >> 4 == 4) return key_ip4(data, 0, caplen, tunnels, k);
        if (data[0] >> 4 == 6) return key_ip6(data, 0, caplen, tunnels, k);
        return -1;
    case FP_LINKTYPE_IPV4: return key_ip4(data, 0, caplen, tunnels, k);
    case FP_LINKTYPE_IPV6: return key_ip6(data, 0, caplen, tunnels, k);
    default: return -1;
    }
}
