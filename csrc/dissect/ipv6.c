/* IPv6 (RFC 8200 sections 3 and 4): fixed header, payload length, extension
 * header chain (hop-by-hop 0, routing 43, fragment 44, destination options 60,
 * mobility 135 per RFC 6275 section 6.1.1; AH 51 per RFC 4302 section 2.2 whose
 * length counts 4-byte units minus 2). A payload length of 0 with a hop-by-hop
 * header is a jumbogram (RFC 2675): the frame gives the length. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

static int is_ext_header(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135;
}

static uint32_t ip6_end(fp_dctx *x, uint32_t off, uint32_t end, uint32_t plen, uint8_t nh)
{
    uint32_t avail = end - off - 40;
    if (plen == 0)
        return nh == 0 ? end : off + 40;
    if (plen > fp_wire_end(x, end) - off - 40)
        x->d->anomalies |= FP_ANOM_IP6_BAD_LEN;
    return plen < avail ? off + 40 + plen : end;
}

/* Headers beyond FP_MAX_IP6_EXT are skipped unrecorded (flagged ip6_ext) so the
 * upper layer is still found; the walk needs no cap of its own since every
 * header consumes at least 8 bytes. */

static int ext_fail(fp_dissection *d, uint8_t nh, uint32_t at, uint32_t end)
{
    d->anomalies |= FP_ANOM_IP6_EXT;
    d->ip_proto = nh;
    fp_set_payload(d, at, end);
    return -1;
}

/* Walk the extension headers from `off`; returns 0 to go on to the upper layer
 * at *off with protocol *nh, -1 to stop (payload already set). */
static int walk_ext(fp_dctx *x, uint32_t *off, uint32_t end, uint8_t *nh)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += *off;
    while (is_ext_header(*nh)) {
        if (!fp_cur_has(&c, 2))
            return ext_fail(d, *nh, fp_cur_off(&c), end);
        uint32_t units = fp_peek_u8(&c, 1);
        uint32_t len = *nh == 51 ? (units + 2) * 4 : *nh == 44 ? 8 : (units + 1) * 8;
        if (!fp_cur_has(&c, len))
            return ext_fail(d, *nh, fp_cur_off(&c), end);
        if (d->ip6_ext_count < FP_MAX_IP6_EXT) {
            fp_ip6_ext *e = &d->ip6_ext[d->ip6_ext_count++];
            e->type = *nh;
            e->off = fp_cur_off(&c);
            e->len = len;
        } else {
            d->anomalies |= FP_ANOM_IP6_EXT;
        }
        uint8_t next = fp_peek_u8(&c, 0);
        if (*nh == 44) {
            uint16_t fo = fp_peek_be16(&c, 2);
            d->frag_offset = fo & 0xfff8; /* 13-bit offset in 8-byte units, in place */
            d->more_fragments = fo & 1;
            d->is_fragment = d->more_fragments || d->frag_offset != 0; /* not atomic ones */
        }
        c.ptr += len;
        *nh = next;
        if (d->frag_offset != 0 && !x->reassembled) { /* later fragment: the rest is not a header */
            d->ip_proto = next;
            d->anomalies |= FP_ANOM_IP_FRAGMENT;
            fp_set_payload(d, fp_cur_off(&c), end);
            return -1;
        }
    }
    *off = fp_cur_off(&c);
    return 0;
}

void fp_dissect_ip6(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    d->ip_version = 6;
    if (fp_header_open(x, off, end, 40, FP_ANOM_IP6_TRUNC, &c) < 0)
        return;
    uint8_t nh = fp_peek_u8(&c, 6);
    uint32_t ip_end = x->reassembled ? end : ip6_end(x, off, end, fp_peek_be16(&c, 4), nh);
    fp_set_layer(d, FP_L_IP6, off, 40, ip_end);
    d->ip_proto = nh;
    uint32_t l4 = off + 40;
    if (walk_ext(x, &l4, ip_end, &nh) != 0)
        return;
    if (x->reassembled) { /* the fragment header's fields describe one piece, not this datagram */
        d->more_fragments = 0;
        d->frag_offset = 0;
        d->is_fragment = 0;
    }
    d->ip_proto = nh;
    fp_dissect_l4_direct(x, nh, l4, ip_end);
}

/* Mobile IPv6 (RFC 6275 6.3): a Home Address option in a destination options header
 * names the mobile node's home address, the packet's real source. Options were bounded
 * by the extension header span when the chain was walked. */
const uint8_t *fp_ip6_home_src(const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *src = data + d->layer[FP_L_IP6].off + 8;
    for (int i = 0; i < d->ip6_ext_count; i++) {
        const fp_ip6_ext *e = &d->ip6_ext[i];
        if (e->type != 60 || e->len < 2)
            continue;
        fp_cursor c = fp_cursor_make(data, e->off + e->len);
        c.ptr += e->off + 2;
        uint8_t type, len;
        while (fp_get_u8(&c, &type) == 0) {
            if (type == 0) /* Pad1 */
                continue;
            if (fp_get_u8(&c, &len) || !fp_cur_has(&c, len))
                break;
            if (type == 0xC9 && len == 16)
                return c.ptr;
            c.ptr += len;
        }
    }
    return src;
}

/* ---- Fields (Wireshark's ipv6) ----------------------------------------- */

/* A field of each extension header of type `arg` (offset within that header). */
static int ip6_ext_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    if (!FP_HAS(d, FP_L_IP6))
        return 0;
    int n = 0;
    for (int i = 0; i < d->ip6_ext_count; i++) {
        const fp_ip6_ext *e = &d->ip6_ext[i];
        if (e->type != f->arg || f->offset + f->bits / 8u > e->len)
            continue;
        fp_field_value v;
        fp_field_decode(f, x->data + e->off + f->offset, &v);
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

#define IP6_EXT(name, type, off, bits, mask, ext) \
    {name, type, bits, FP_L_IP6, ext, off, mask, ip6_ext_field}
static const fp_field ipv6_fields[] = {
    FP_FIELD_PROTO("ipv6", FP_L_IP6),
    FP_FIELD_UINT("ipv6.version", FP_L_IP6, 0, 8, 0xf0),
    FP_FIELD_UINT("ipv6.tclass", FP_L_IP6, 0, 32, 0x0ff00000),
    FP_FIELD_UINT("ipv6.tclass.dscp", FP_L_IP6, 0, 32, 0x0fc00000),
    FP_FIELD_UINT("ipv6.tclass.ecn", FP_L_IP6, 0, 32, 0x00300000),
    FP_FIELD_UINT("ipv6.flow", FP_L_IP6, 0, 32, 0x000fffff),
    FP_FIELD_UINT("ipv6.plen", FP_L_IP6, 4, 16, 0),
    FP_FIELD_UINT("ipv6.nxt", FP_L_IP6, 6, 8, 0),
    FP_FIELD_UINT("ipv6.hlim", FP_L_IP6, 7, 8, 0),
    FP_FIELD_ADDR("ipv6.src", FP_FT_IPV6, FP_L_IP6, 8),
    FP_FIELD_ADDR("ipv6.dst", FP_FT_IPV6, FP_L_IP6, 24),
    {"ipv6.addr", FP_FT_IPV6, 0, FP_L_IP6, 16, 8, 0, fp_field_pair},
    IP6_EXT("ipv6.hopopts.nxt", FP_FT_UINT, 0, 8, 0, 0),
    IP6_EXT("ipv6.routing.nxt", FP_FT_UINT, 0, 8, 0, 43),
    IP6_EXT("ipv6.routing.type", FP_FT_UINT, 2, 8, 0, 43),
    IP6_EXT("ipv6.routing.segleft", FP_FT_UINT, 3, 8, 0, 43),
    IP6_EXT("ipv6.dstopts.nxt", FP_FT_UINT, 0, 8, 0, 60),
    IP6_EXT("ipv6.fraghdr.nxt", FP_FT_UINT, 0, 8, 0, 44),
    IP6_EXT("ipv6.fraghdr.offset", FP_FT_UINT, 2, 16, 0xfff8, 44), /* 8-byte units */
    IP6_EXT("ipv6.fraghdr.more", FP_FT_BOOL, 2, 16, 0x0001, 44),
    IP6_EXT("ipv6.fraghdr.ident", FP_FT_UINT, 4, 32, 0, 44),
};
FP_FIELD_TABLE(fp_fields_ipv6, "ipv6", ipv6_fields);

static char *put_hex16(char *o, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned nib = (v >> shift) & 0xf;
        if (nib || started || shift == 0) {
            *o++ = hex[nib];
            started = 1;
        }
    }
    return o;
}

/* RFC 5952 section 4: lower-case hex without leading zeros, the longest run of two or
 * more zero groups (the first on a tie) as "::". IPv4-mapped (::ffff:a.b.c.d) and
 * IPv4-compatible (::a.b.c.d, six zero groups first) addresses end in a dotted quad, as
 * glibc's inet_ntop (Scapy's text), tshark and Zeek print them. */
size_t fp_ip6_text(const uint8_t *a, char *out)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = fp_load_be16(a + 2 * i);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1;
    char *o = out;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            if (best + best_len == 8)
                *o++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i != 0)
            *o++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            o += fp_ip4_text(a + 12, o);
            break;
        }
        o = put_hex16(o, w[i]);
    }
    return (size_t)(o - out);
}

/* ---- Building (build.h): Scapy's IPv6 and its extension headers -------- */
#include "build.h"

static int ip6_nh_of(int child, uint64_t *v)
{
    switch (child) {
    case FP_B_TCP: *v = 6; return 1;
    case FP_B_UDP: *v = 17; return 1;
    case FP_B_ICMP6_ECHO_REQ:
    case FP_B_ICMP6_ECHO_REP: *v = 58; return 1;
    case FP_B_IP6_HOP: *v = 0; return 1;
    case FP_B_IP6_RT: *v = 43; return 1;
    case FP_B_IP6_FRAG: *v = 44; return 1;
    case FP_B_IP6_DEST: *v = 60; return 1;
    case FP_B_IP4: *v = 4; return 1;
    case FP_B_IP6: *v = 41; return 1;
    default: return 0;
    }
}

static int ip6_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    if (!fp_bset(l, 3)) {
        uint32_t n = l->end - l->off - 40;
        if (n > 0xffff) return fp_build_err(c, "IPv6.plen: %u bytes do not fit in 16 bits", n);
        h[4] = (uint8_t)(n >> 8);
        h[5] = (uint8_t)n;
    }
    return 0;
}

static const fp_bfield ip6_bfields[] = {
    FP_BU("version", 0, 0, 4, 28, 4, 6),
    FP_BU("tc", 0, 0, 4, 20, 8, 0),
    FP_BU("fl", 0, 0, 4, 0, 20, 0),
    FP_BU("plen", FP_BF_AUTO, 4, 2, 0, 16, 0),
    FP_BU("nh", FP_BF_NEXT, 6, 1, 0, 8, 59),
    FP_BU("hlim", 0, 7, 1, 0, 8, 64),
    FP_BA("src", FP_BK_IP6, FP_BF_ROUTE, 8, 0, 0),
    FP_BA("dst", FP_BK_IP6, 0, 24, 1, 0),
};
const fp_bproto fp_bproto_ip6 = {"IPv6", FP_B_IP6, 40, 8, 0, 0, ip6_bfields, NULL, NULL,
                                 ip6_nh_of, ip6_finish};

/* Hop-by-hop and destination options: length in 8-byte units minus one; padded with
 * Pad1 or PadN (RFC 8200 4.2) to a multiple of 8, as Scapy's autopad does. */
static int ip6_opts_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    uint32_t pad = l->hlen - 2 - l->var_len;
    if (pad >= 2) {
        h[2 + l->var_len] = 1;
        h[3 + l->var_len] = (uint8_t)(pad - 2);
    }
    if (!fp_bset(l, 1)) h[1] = (uint8_t)(l->hlen / 8 - 1);
    return 0;
}

static const fp_bfield ip6_opts_bfields[] = {
    FP_BU("nh", FP_BF_NEXT, 0, 1, 0, 8, 59),
    FP_BU("len", FP_BF_AUTO, 1, 1, 0, 8, 0),
    FP_BV("options"),
};
const fp_bproto fp_bproto_ip6_hop = {"IPv6ExtHdrHopByHop", FP_B_IP6_HOP, 2, 3, 8, 2046,
                                     ip6_opts_bfields, NULL, NULL, ip6_nh_of, ip6_opts_finish};
const fp_bproto fp_bproto_ip6_dest = {"IPv6ExtHdrDestOpt", FP_B_IP6_DEST, 2, 3, 8, 2046,
                                      ip6_opts_bfields, NULL, NULL, ip6_nh_of, ip6_opts_finish};

/* Routing header: addresses fill it; length 2 per address, segments left = their count. */
static int ip6_rt_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    if (!fp_bset(l, 1)) h[1] = (uint8_t)(l->var_len / 8);
    if (!fp_bset(l, 3)) h[3] = (uint8_t)(l->var_len / 16);
    return 0;
}

static const fp_bfield ip6_rt_bfields[] = {
    FP_BU("nh", FP_BF_NEXT, 0, 1, 0, 8, 59),
    FP_BU("len", FP_BF_AUTO, 1, 1, 0, 8, 0),
    FP_BU("type", 0, 2, 1, 0, 8, 0),
    FP_BU("segleft", FP_BF_AUTO, 3, 1, 0, 8, 0),
    FP_BU("reserved", 0, 4, 4, 0, 32, 0),
    FP_BV("addresses"),
};
const fp_bproto fp_bproto_ip6_rt = {"IPv6ExtHdrRouting", FP_B_IP6_RT, 8, 6, 8, 2040, ip6_rt_bfields,
                                    NULL, NULL, ip6_nh_of, ip6_rt_finish};

static const fp_bfield ip6_frag_bfields[] = {
    FP_BU("nh", FP_BF_NEXT, 0, 1, 0, 8, 59),
    FP_BU("res1", 0, 1, 1, 0, 8, 0),
    FP_BU("offset", 0, 2, 2, 3, 13, 0),
    FP_BU("res2", 0, 2, 2, 1, 2, 0),
    FP_BU("m", 0, 2, 2, 0, 1, 0),
    FP_BU("id", 0, 4, 4, 0, 32, 0),
};
const fp_bproto fp_bproto_ip6_frag = {"IPv6ExtHdrFragment", FP_B_IP6_FRAG, 8, 6, 0, 0,
                                      ip6_frag_bfields, NULL, NULL, ip6_nh_of, NULL};
