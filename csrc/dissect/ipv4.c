/* IPv4 (RFC 791 section 3.1): IHL and options, total length, flags DF/MF and
 * fragment offset (RFC 791 section 2.3; in 8-byte units on the wire, bytes here).
 * A total length of 0 is what TSO/LSO captures show (RFC 791 does not allow it):
 * flagged as ip4_bad_len, the captured bytes are used instead. Also the shared
 * upper-layer dispatch for IPv4 and IPv6 (IANA protocol numbers). */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

void fp_dissect_l4(fp_dctx *x, uint8_t proto, uint32_t off, uint32_t end)
{
    switch (proto) {
    case 6: fp_dissect_tcp(x, off, end); return;
    case 17: fp_dissect_udp(x, off, end); return;
    case 1: fp_dissect_icmp(x, FP_L_ICMP, off, end); return;
    case 58: fp_dissect_icmp(x, FP_L_ICMP6, off, end); return;
    case 47: /* a first fragment's piece of a tunnel stays raw */
        if (x->d->is_fragment || !fp_dissect_gre(x, off, end)) fp_set_payload(x->d, off, end);
        return;
    case 4: case 41:
        if (x->d->is_fragment || !fp_dissect_ip_in_ip(x, proto, off, end)) fp_set_payload(x->d, off, end);
        return;
    default: fp_set_payload(x->d, off, end); return; /* ESP, SCTP...: left raw */
    }
}

/* End of the datagram within the capture, from the total length field. */
static uint32_t ip4_end(fp_dctx *x, uint32_t off, uint32_t end, uint32_t hlen, uint32_t totlen)
{
    fp_dissection *d = x->d;
    if (totlen == 0) { /* TSO: trust the capture */
        d->anomalies |= FP_ANOM_IP4_BAD_LEN;
        return end;
    }
    if (totlen < hlen) {
        d->anomalies |= FP_ANOM_IP4_BAD_LEN;
        return off + hlen;
    }
    if (totlen > fp_wire_end(x, end) - off) /* longer than what was on the wire */
        d->anomalies |= FP_ANOM_IP4_BAD_LEN;
    return totlen < end - off ? off + totlen : end;
}

void fp_dissect_ip4(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    d->ip_version = 4;
    if (fp_header_open(x, off, end, 20, FP_ANOM_IP4_TRUNC, &c) < 0)
        return;
    uint32_t ihl = (uint32_t)(fp_peek_u8(&c, 0) & 0x0f) * 4;
    uint32_t totlen = fp_peek_be16(&c, 2);
    uint16_t fo = fp_peek_be16(&c, 6);
    d->ip_proto = fp_peek_u8(&c, 9);
    d->more_fragments = (fo & 0x2000) != 0;
    d->frag_offset = (uint16_t)((fo & 0x1fff) * 8);
    d->is_fragment = d->more_fragments || d->frag_offset != 0;
    if (ihl < 20) { /* the fixed 20 bytes stay readable; nothing after them is trusted */
        d->anomalies |= FP_ANOM_IP4_BAD_IHL;
        fp_set_layer(d, FP_L_IP4, off, 20, off + 20);
        fp_set_payload(d, off + 20, off + 20);
        return;
    }
    if (!fp_cur_has(&c, ihl)) { /* options cut off */
        d->anomalies |= FP_ANOM_IP4_TRUNC;
        fp_set_layer(d, FP_L_IP4, off, 20, end);
        fp_set_payload(d, end, end);
        return;
    }
    if (x->reassembled) { /* this fragment's header, then the whole datagram's payload */
        d->more_fragments = 0;
        d->frag_offset = 0;
        d->is_fragment = 0;
        fp_set_layer(d, FP_L_IP4, off, ihl, end);
        fp_dissect_l4(x, d->ip_proto, off + ihl, end);
        return;
    }
    uint32_t ip_end = ip4_end(x, off, end, ihl, totlen);
    fp_set_layer(d, FP_L_IP4, off, ihl, ip_end);
    if (totlen != 0 && totlen < ihl) { /* header claims to be longer than the datagram */
        fp_set_payload(d, ip_end, ip_end);
        return;
    }
    if (d->frag_offset != 0) { /* later fragment: its bytes continue an earlier L4 header */
        d->anomalies |= FP_ANOM_IP_FRAGMENT;
        fp_set_payload(d, off + ihl, ip_end);
        return;
    }
    fp_dissect_l4_direct(x, d->ip_proto, off + ihl, ip_end);
}

/* ---- Fields (Wireshark's ip) ------------------------------------------- */

/* ip.version: Wireshark also shows it for IPv6 headers (ip.version == 6). */
static int ip_version(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_field at = *f;
    if (fp_field_layer(x->d, FP_L_IP4) == NULL)
        at.layer = FP_L_IP6;
    return fp_field_fixed(&at, x, visit, arg);
}

/* ip.opt.type: each option's type byte (RFC 791 3.1) up to and including an EOL (the
 * rest is padding; Wireshark stops there too, unlike for TCP). */
static int ip_option_type(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    const fp_span *s = fp_field_layer(x->d, FP_L_IP4);
    if (s == NULL || s->hlen <= 20)
        return 0;
    fp_cursor c = fp_cursor_make(x->data, s->off + s->hlen);
    c.ptr += s->off + 20;
    int n = 0;
    const uint8_t *opt;
    uint8_t len;
    while (fp_option_next(&c, &opt, &len) == 1) {
        fp_field_value v = {opt[0], NULL, 0};
        n++;
        if (visit(arg, &v) || opt[0] == 0)
            break;
    }
    return n;
}

static const fp_field ip_fields[] = {
    FP_FIELD_PROTO("ip", FP_L_IP4),
    {"ip.version", FP_FT_UINT, 8, FP_L_IP4, 0, 0, 0xf0, ip_version},
    {"ip.hdr_len", FP_FT_UINT, 8, FP_L_IP4, 0, 0, 0x0f, fp_field_length4},
    FP_FIELD_UINT("ip.dsfield", FP_L_IP4, 1, 8, 0),
    FP_FIELD_UINT("ip.dsfield.dscp", FP_L_IP4, 1, 8, 0xfc),
    FP_FIELD_UINT("ip.dsfield.ecn", FP_L_IP4, 1, 8, 0x03),
    FP_FIELD_UINT("ip.len", FP_L_IP4, 2, 16, 0),
    FP_FIELD_UINT("ip.id", FP_L_IP4, 4, 16, 0),
    FP_FIELD_UINT("ip.flags", FP_L_IP4, 6, 8, 0xe0),
    FP_FIELD_BOOL("ip.flags.rb", FP_L_IP4, 6, 8, 0x80),
    FP_FIELD_BOOL("ip.flags.df", FP_L_IP4, 6, 8, 0x40),
    FP_FIELD_BOOL("ip.flags.mf", FP_L_IP4, 6, 8, 0x20),
    FP_FIELD_UINT("ip.frag_offset", FP_L_IP4, 6, 16, 0x1fff), /* 8-byte units, as on the wire */
    FP_FIELD_UINT("ip.ttl", FP_L_IP4, 8, 8, 0),
    FP_FIELD_UINT("ip.proto", FP_L_IP4, 9, 8, 0),
    FP_FIELD_UINT("ip.checksum", FP_L_IP4, 10, 16, 0),
    FP_FIELD_ADDR("ip.src", FP_FT_IPV4, FP_L_IP4, 12),
    FP_FIELD_ADDR("ip.dst", FP_FT_IPV4, FP_L_IP4, 16),
    {"ip.addr", FP_FT_IPV4, 32, FP_L_IP4, 4, 12, 0, fp_field_pair},
    {"ip.opt.type", FP_FT_UINT, 8, FP_L_IP4, 0, 0, 0, ip_option_type},
};
FP_FIELD_TABLE(fp_fields_ip, "ip", ip_fields);

static char *put_dec_u8(char *o, unsigned v)
{
    if (v >= 100) {
        *o++ = (char)('0' + v / 100);
        v %= 100;
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else if (v >= 10) {
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else {
        *o++ = (char)('0' + v);
    }
    return o;
}

size_t fp_ip4_text(const uint8_t *a, char *out)
{
    char *o = put_dec_u8(out, a[0]);
    *o++ = '.';
    o = put_dec_u8(o, a[1]);
    *o++ = '.';
    o = put_dec_u8(o, a[2]);
    *o++ = '.';
    o = put_dec_u8(o, a[3]);
    return (size_t)(o - out);
}

/* ---- Building (build.h): Scapy's IP ------------------------------------ */
#include "build.h"

enum { IP_IHL = 1, IP_LEN = 3, IP_CHKSUM = 9 };

static int ip_proto_of(int child, uint64_t *v)
{
    switch (child) {
    case FP_B_TCP: *v = 6; return 1;
    case FP_B_UDP: *v = 17; return 1;
    case FP_B_ICMP: *v = 1; return 1;
    case FP_B_IP4: *v = 4; return 1;
    case FP_B_IP6: *v = 41; return 1;
    default: return 0;
    }
}

static int ip4_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    if (!fp_bset(l, IP_IHL)) h[0] = (uint8_t)((h[0] & 0xf0) | (l->hlen / 4));
    if (!fp_bset(l, IP_LEN)) {
        uint32_t n = l->end - l->off;
        if (n > 0xffff) return fp_build_err(c, "IP.len: %u bytes do not fit in 16 bits", n);
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
    }
    if (!fp_bset(l, IP_CHKSUM)) {
        h[10] = h[11] = 0;
        uint16_t ck = fp_inet_checksum(h, l->hlen, 0);
        h[10] = (uint8_t)(ck >> 8);
        h[11] = (uint8_t)ck;
    }
    return 0;
}

static const fp_bfield ip4_bfields[] = {
    FP_BU("version", 0, 0, 1, 4, 4, 4),
    FP_BU("ihl", FP_BF_AUTO, 0, 1, 0, 4, 0),
    FP_BU("tos", FP_BF_HEX, 1, 1, 0, 8, 0),
    FP_BU("len", FP_BF_AUTO, 2, 2, 0, 16, 0),
    FP_BU("id", 0, 4, 2, 0, 16, 1),
    FP_BU("flags", FP_BF_IPFLAGS, 6, 2, 13, 3, 0),
    FP_BU("frag", 0, 6, 2, 0, 13, 0),
    FP_BU("ttl", 0, 8, 1, 0, 8, 64),
    FP_BU("proto", FP_BF_NEXT, 9, 1, 0, 8, 0),
    FP_BU("chksum", FP_BF_AUTO | FP_BF_HEX, 10, 2, 0, 16, 0),
    FP_BA("src", FP_BK_IP4, FP_BF_ROUTE, 12, 0, 0),
    FP_BA("dst", FP_BK_IP4, 0, 16, 0, 0x7f000001),
    FP_BV("options"),
};
const fp_bproto fp_bproto_ip4 = {"IP", FP_B_IP4, 20, 13, 4, 40, ip4_bfields, NULL, NULL,
                                 ip_proto_of, ip4_finish};
