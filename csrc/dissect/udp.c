/* UDP (RFC 768): ports, length field (header + data), and DNS detection on the
 * well-known ports: 53 (RFC 1035 section 4.2.1), 5353 mDNS (RFC 6762 section 18),
 * 5355 LLMNR (RFC 4795 section 2.1), either direction. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

static int is_dns_port(uint16_t p) { return p == 53 || p == 5353 || p == 5355; }

void fp_dissect_udp(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    if (fp_header_open(x, off, end, 8, FP_ANOM_UDP_TRUNC, &c) < 0)
        return;
    d->sport = fp_peek_be16(&c, 0);
    d->dport = fp_peek_be16(&c, 2);
    uint32_t ulen = fp_peek_be16(&c, 4);
    uint32_t udp_end = end;
    /* A first fragment holds only part of the datagram: its length cannot be checked. */
    if (ulen < 8 || (!d->is_fragment && ulen > fp_wire_end(x, end) - off))
        d->anomalies |= FP_ANOM_UDP_BAD_LEN;
    else if (ulen < end - off)
        udp_end = off + ulen;
    fp_set_layer(d, FP_L_UDP, off, 8, udp_end);
    fp_set_payload(d, off + 8, udp_end);
    if (d->is_fragment || udp_end - off < 8 + 12)
        return;
    if (is_dns_port(d->sport) || is_dns_port(d->dport)) {
        if (!x->no_app) fp_dissect_dns(x, off + 8, udp_end, 1);
    } else { /* a tunnel's inner headers are headers: FP_DISSECT_HEADERS decodes them too */
        fp_dissect_udp_tunnel(x, d->sport, d->dport, off + 8, udp_end);
    }
}

/* ---- Fields (Wireshark's udp) ------------------------------------------ */

static const fp_field udp_fields[] = {
    FP_FIELD_PROTO("udp", FP_L_UDP),
    FP_FIELD_UINT("udp.srcport", FP_L_UDP, 0, 16, 0),
    FP_FIELD_UINT("udp.dstport", FP_L_UDP, 2, 16, 0),
    {"udp.port", FP_FT_UINT, 16, FP_L_UDP, 2, 0, 0, fp_field_pair},
    FP_FIELD_UINT("udp.length", FP_L_UDP, 4, 16, 0),
    FP_FIELD_UINT("udp.checksum", FP_L_UDP, 6, 16, 0),
};
FP_FIELD_TABLE(fp_fields_udp, "udp", udp_fields);

/* ---- Building (build.h): Scapy's UDP ----------------------------------- */
#include "build.h"

/* A computed checksum of zero is sent as 0xffff (RFC 768); none without IP below. */
static int udp_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    if (!fp_bset(l, 2)) {
        uint32_t n = l->end - l->off;
        if (n > 0xffff) return fp_build_err(c, "UDP.len: %u bytes do not fit in 16 bits", n);
        h[4] = (uint8_t)(n >> 8);
        h[5] = (uint8_t)n;
    }
    fp_build_l4_checksum(c, i, 17, 3, 6, 1);
    return 0;
}

static const fp_bfield udp_bfields[] = {
    FP_BU("sport", 0, 0, 2, 0, 16, 53),
    FP_BU("dport", 0, 2, 2, 0, 16, 53),
    FP_BU("len", FP_BF_AUTO, 4, 2, 0, 16, 0),
    FP_BU("chksum", FP_BF_AUTO | FP_BF_HEX, 6, 2, 0, 16, 0),
};
const fp_bproto fp_bproto_udp = {"UDP", FP_B_UDP, 8, 4, 0, 0, udp_bfields, NULL, NULL, NULL,
                                 udp_finish};
