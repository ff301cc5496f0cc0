/* TCP (RFC 9293 section 3.1): ports, data offset, options (section 3.2: EOL and
 * NOP are one byte, other kinds carry a length that counts kind and length),
 * and application detection on the segment's payload:
 *   DNS over TCP (RFC 1035 section 4.2.2, 2-byte length prefix) when a port is 53,
 *   TLS (RFC 8446 section 5.1 record header) and HTTP/1.x (RFC 9112 section 3/4
 *   start line) on any port. Only the segment is looked at: no reassembly here. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"
#include "tls.h"

/* Where the segment's upper layer starts: DNS when a port says so, else by content. */
static void detect_app(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    uint32_t len = end - off;
    if (d->sport == 53 || d->dport == 53) {
        if (len < 2 + 12) /* prefix plus a DNS header */
            return;
        uint32_t msg_len = fp_peek_be16(&c, 0);
        if (msg_len < 12)
            return;
        /* A message continuing in later segments cannot be validated here. */
        int complete = msg_len <= len - 2;
        fp_dissect_dns(x, off + 2, complete ? off + 2 + msg_len : end, complete);
        return;
    }
    if (len >= 5 && fp_tls_record_plausible(c.ptr, len, 0)) {
        fp_set_layer(d, FP_L_TLS, off, 0, end);
        fp_tls_info t; /* only handshakes are worth checking here */
        if (c.ptr[0] == 22 && fp_tls_parse_span(x->data, off, end, &t) == 0) {
            if (t.malformed)
                d->anomalies |= FP_ANOM_TLS_MALFORMED;
            if (t.capped)
                d->anomalies |= FP_ANOM_TLS_RECORDS_CAPPED;
        }
        return;
    }
    if (fp_http_plausible(c.ptr, len)) {
        fp_set_layer(d, FP_L_HTTP, off, 0, end);
        if (!fp_http_start_line_ok(c.ptr, len))
            d->anomalies |= FP_ANOM_HTTP_MALFORMED;
    }
}

/* Walk the options once so a malformed list is flagged at dissection time
 * (RFC 9293 3.2: kind, length >= 2, within the header; EOL ends the list). */
static int tcp_options_valid(fp_cursor c)
{
    const uint8_t *opt;
    uint8_t len;
    int r;
    while ((r = fp_option_next(&c, &opt, &len)) == 1)
        if (opt[0] == 0)
            return 1;
    return r == 0;
}

void fp_dissect_tcp(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c;
    if (fp_header_open(x, off, end, 20, FP_ANOM_TCP_TRUNC, &c) < 0)
        return;
    d->sport = fp_peek_be16(&c, 0);
    d->dport = fp_peek_be16(&c, 2);
    uint32_t hlen = (uint32_t)(fp_peek_u8(&c, 12) >> 4) * 4;
    if (hlen < 20) { /* fixed header still readable, the rest is not trusted */
        d->anomalies |= FP_ANOM_TCP_BAD_OFF;
        fp_set_layer(d, FP_L_TCP, off, 20, end);
        fp_set_payload(d, end, end);
        return;
    }
    if (!fp_cur_has(&c, hlen)) { /* cut by the snap length, or an offset past the segment */
        d->anomalies |= end < fp_wire_end(x, end) ? FP_ANOM_TCP_TRUNC : FP_ANOM_TCP_BAD_OFF;
        fp_set_layer(d, FP_L_TCP, off, end - off, end);
        fp_set_payload(d, end, end);
        return;
    }
    fp_set_layer(d, FP_L_TCP, off, hlen, end);
    if (hlen > 20) {
        fp_cursor opts = fp_cursor_make(x->data, off + hlen);
        opts.ptr += off + 20;
        if (!tcp_options_valid(opts))
            d->anomalies |= FP_ANOM_TCP_BAD_OPT;
    }
    fp_set_payload(d, off + hlen, end);
    if (end > off + hlen && !d->is_fragment && !x->no_app) /* a first fragment's data is incomplete */
        detect_app(x, off + hlen, end);
}

int fp_tcp_options(const uint8_t *data, const fp_dissection *d, fp_tcp_option *opts, int cap,
                   int *bad)
{
    *bad = 0;
    if (!FP_HAS(d, FP_L_TCP))
        return 0;
    const fp_span *s = &d->layer[FP_L_TCP];
    if (s->hlen <= 20)
        return 0;
    fp_cursor c = fp_cursor_make(data, s->off + s->hlen); /* options end with the header */
    c.ptr += s->off + 20;
    int n = 0, r;
    const uint8_t *opt;
    uint8_t len;
    while ((r = fp_option_next(&c, &opt, &len)) == 1) {
        if (n < cap) {
            opts[n].kind = opt[0];
            opts[n].len = len;
            opts[n].off = (uint32_t)(opt - data);
            n++;
        }
        if (opt[0] == 0) /* end of option list: the rest is padding */
            break;
    }
    *bad = r < 0;
    return n;
}

/* ---- Fields (Wireshark's tcp) ------------------------------------------ */

/* Where the IP datagram carrying the segment ends on the wire, from its length field. */
static int ip_wire_end(const fp_field_ctx *x, uint64_t *end)
{
    const fp_dissection *d = x->d;
    fp_field len = FP_FIELD_UINT("", FP_L_IP4, 2, 16, 0);
    fp_field_value v;
    if (d->reassembled) { /* the header is the last fragment's; the span is the datagram */
        *end = d->layer[FP_HAS(d, FP_L_IP4) ? FP_L_IP4 : FP_L_IP6].end;
        return 0;
    }
    if (FP_HAS(d, FP_L_IP4)) {
        if (!fp_field_read_fixed(&len, x, &v) || v.u < d->layer[FP_L_IP4].hlen)
            return -1;
        *end = d->layer[FP_L_IP4].off + v.u;
        return 0;
    }
    len.layer = FP_L_IP6;
    len.offset = 4;
    if (!FP_HAS(d, FP_L_IP6) || !fp_field_read_fixed(&len, x, &v) || v.u == 0)
        return -1;
    *end = d->layer[FP_L_IP6].off + 40 + v.u;
    return 0;
}

/* tcp.len: the IP payload after the TCP header (RFC 9293 3.1 data offset); unknown
 * in a fragment. */
static int tcp_len(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    const fp_dissection *d = x->d;
    uint64_t end;
    if (!FP_HAS(d, FP_L_TCP) || (d->anomalies & (FP_ANOM_TCP_TRUNC | FP_ANOM_TCP_BAD_OFF)) ||
        d->is_fragment || ip_wire_end(x, &end) != 0)
        return 0;
    uint64_t data = (uint64_t)d->layer[FP_L_TCP].off + d->layer[FP_L_TCP].hlen;
    fp_field_value v = {end > data ? end - data : 0, NULL, 0};
    visit(arg, &v);
    return 1;
}

/* The values of option field `f` in one option (kind opt[0], `len` bytes); 1 when visit
 * stopped. arg 0: the kind, 1: the length byte; else options of kind `arg` only: with
 * `mask` a length, the word at `offset` when the option has that length; with mask 0
 * (SACK, RFC 2018 3) the word at `offset` of each 8-byte block; as FP_FT_PROTOCOL (how
 * Wireshark registers some options) the option's bytes. */
static int tcp_option_values(const fp_field *f, const uint8_t *opt, uint8_t len,
                             fp_field_visit visit, void *arg, int *n)
{
    fp_field_value v = {opt[0], NULL, 0};
    fp_field word = *f;
    word.mask = 0;
    if (f->arg == 1) {
        if (opt[0] <= 1)
            return 0;
        v.u = len;
    } else if (f->arg > 1) {
        if (opt[0] != f->arg || (f->mask && len != f->mask))
            return 0;
        if (f->type == FP_FT_PROTOCOL) {
            v.p = opt;
            v.len = len;
        } else if (f->mask == 0) {
            for (uint32_t b = 2; b + 8 <= len; b += 8) {
                fp_field_decode(&word, opt + b + f->offset, &v);
                ++*n;
                if (visit(arg, &v))
                    return 1;
            }
            return 0;
        } else {
            fp_field_decode(&word, opt + f->offset, &v);
        }
    }
    ++*n;
    return visit(arg, &v);
}

/* Options (RFC 9293 3.2, RFC 7323, RFC 2018). Like Wireshark, the bytes after an EOL are
 * read as options too (padding: more EOLs). */
static int tcp_option_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    const fp_dissection *d = x->d;
    if (!FP_HAS(d, FP_L_TCP) || d->layer[FP_L_TCP].hlen <= 20)
        return 0;
    const fp_span *s = &d->layer[FP_L_TCP];
    fp_cursor c = fp_cursor_make(x->data, s->off + s->hlen);
    c.ptr += s->off + 20;
    int n = 0;
    const uint8_t *opt;
    uint8_t len;
    while (fp_option_next(&c, &opt, &len) == 1 && !tcp_option_values(f, opt, len, visit, arg, &n))
        ;
    return n;
}

#define TCP_FLAG(name, mask) FP_FIELD_BOOL(name, FP_L_TCP, 12, 16, mask)
#define TCP_OPT(name, bits, kind, len, off) \
    {name, FP_FT_UINT, bits, FP_L_TCP, kind, off, len, tcp_option_field}
static const fp_field tcp_fields[] = {
    FP_FIELD_PROTO("tcp", FP_L_TCP),
    FP_FIELD_UINT("tcp.srcport", FP_L_TCP, 0, 16, 0),
    FP_FIELD_UINT("tcp.dstport", FP_L_TCP, 2, 16, 0),
    {"tcp.port", FP_FT_UINT, 16, FP_L_TCP, 2, 0, 0, fp_field_pair},
    FP_FIELD_UINT("tcp.seq_raw", FP_L_TCP, 4, 32, 0),
    FP_FIELD_UINT("tcp.ack_raw", FP_L_TCP, 8, 32, 0),
    {"tcp.hdr_len", FP_FT_UINT, 8, FP_L_TCP, 0, 12, 0xf0, fp_field_length4},
    FP_FIELD_UINT("tcp.flags", FP_L_TCP, 12, 16, 0x0fff),
    FP_FIELD_UINT("tcp.flags.res", FP_L_TCP, 12, 16, 0x0e00),
    TCP_FLAG("tcp.flags.ae", 0x0100),
    TCP_FLAG("tcp.flags.cwr", 0x0080),
    TCP_FLAG("tcp.flags.ece", 0x0040),
    TCP_FLAG("tcp.flags.urg", 0x0020),
    TCP_FLAG("tcp.flags.ack", 0x0010),
    TCP_FLAG("tcp.flags.push", 0x0008),
    TCP_FLAG("tcp.flags.reset", 0x0004),
    TCP_FLAG("tcp.flags.syn", 0x0002),
    TCP_FLAG("tcp.flags.fin", 0x0001),
    FP_FIELD_UINT("tcp.window_size_value", FP_L_TCP, 14, 16, 0),
    FP_FIELD_UINT("tcp.checksum", FP_L_TCP, 16, 16, 0),
    FP_FIELD_UINT("tcp.urgent_pointer", FP_L_TCP, 18, 16, 0),
    {"tcp.len", FP_FT_UINT, 32, FP_L_TCP, 0, 0, 0, tcp_len},
    TCP_OPT("tcp.option_kind", 8, 0, 0, 0),
    TCP_OPT("tcp.option_len", 8, 1, 0, 1),
    TCP_OPT("tcp.options.mss_val", 16, 2, 4, 2),
    TCP_OPT("tcp.options.wscale.shift", 8, 3, 3, 2),
    TCP_OPT("tcp.options.timestamp.tsval", 32, 8, 10, 2),
    TCP_OPT("tcp.options.timestamp.tsecr", 32, 8, 10, 6),
    {"tcp.options.sack_perm", FP_FT_PROTOCOL, 0, FP_L_TCP, 4, 0, 2, tcp_option_field},
    TCP_OPT("tcp.options.sack_le", 32, 5, 0, 0),
    TCP_OPT("tcp.options.sack_re", 32, 5, 0, 4),
};
FP_FIELD_TABLE(fp_fields_tcp, "tcp", tcp_fields);

/* ---- Building (build.h): Scapy's TCP ----------------------------------- */
#include "build.h"

int fp_tcp_option_put(uint8_t *out, size_t cap, uint8_t kind, const uint8_t *val, size_t len)
{
    if (kind <= 1) { /* EOL, NOP: the kind byte alone */
        if (cap < 1) return -1;
        out[0] = kind;
        return 1;
    }
    if (len > 253 || cap < len + 2) return -1;
    out[0] = kind;
    out[1] = (uint8_t)(len + 2);
    if (len) memcpy(out + 2, val, len);
    return (int)len + 2;
}

/* Unset checksum with no IP below: Scapy leaves it zero. */
static int tcp_finish(fp_bctx *c, int i)
{
    fp_blayer *l = &c->L[i];
    uint8_t *h = c->out + l->off;
    if (!fp_bset(l, 4)) h[12] = (uint8_t)((h[12] & 0x0f) | (l->hlen / 4) << 4);
    fp_build_l4_checksum(c, i, 6, 8, 16, 0);
    return 0;
}

static const fp_bfield tcp_bfields[] = {
    FP_BU("sport", 0, 0, 2, 0, 16, 20),
    FP_BU("dport", 0, 2, 2, 0, 16, 80),
    FP_BU("seq", 0, 4, 4, 0, 32, 0),
    FP_BU("ack", 0, 8, 4, 0, 32, 0),
    FP_BU("dataofs", FP_BF_AUTO, 12, 1, 4, 4, 0),
    FP_BU("reserved", 0, 12, 1, 1, 3, 0),
    FP_BU("flags", FP_BF_TCPFLAGS, 12, 2, 0, 9, 2),
    FP_BU("window", 0, 14, 2, 0, 16, 8192),
    FP_BU("chksum", FP_BF_AUTO | FP_BF_HEX, 16, 2, 0, 16, 0),
    FP_BU("urgptr", 0, 18, 2, 0, 16, 0),
    FP_BV("options"),
};
const fp_bproto fp_bproto_tcp = {"TCP", FP_B_TCP, 20, 11, 4, 40, tcp_bfields, NULL, NULL, NULL,
                                 tcp_finish};
