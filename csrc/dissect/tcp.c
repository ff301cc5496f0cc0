/* TCP (RFC 9293 section 3.1): ports, data offset, options (section 3.2: EOL and
 * NOP are one byte, other kinds carry a length that counts kind and length),
 * and application detection on the segment's payload:
 *   DNS over TCP (RFC 1035 section 4.2.2, 2-byte length prefix) when a port is 53,
 *   TLS (RFC 8446 section 5.1 record header) and HTTP/1.x (RFC 9112 section 3/4
 *   start line) on any port. Only the segment is looked at: no reassembly here. */
#include "cursor.h"
#include "dissect.h"

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
    if (fp_tls_plausible(c.ptr, len)) {
        fp_set_layer(d, FP_L_TLS, off, 0, end);
        fp_tls_info t; /* only handshakes are worth checking here */
        if (c.ptr[0] == 22 && fp_tls_parse_span(x->data, off, end, &t) == 0 && t.malformed)
            d->anomalies |= FP_ANOM_TLS_MALFORMED;
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
    uint8_t kind, len;
    while (fp_get_u8(&c, &kind) == 0) {
        if (kind == 0)
            return 1;
        if (kind == 1)
            continue;
        if (fp_get_u8(&c, &len) || len < 2 || fp_skip(&c, (size_t)len - 2))
            return 0;
    }
    return 1;
}

void fp_dissect_tcp(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_dissection *d = x->d;
    fp_cursor c = fp_cursor_make(x->data, end);
    c.ptr += off;
    if (!fp_cur_has(&c, 20)) {
        d->anomalies |= FP_ANOM_TCP_TRUNC;
        fp_set_payload(d, off, end);
        return;
    }
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
    if (end > off + hlen && !d->is_fragment) /* a first fragment's data is incomplete */
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
    int n = 0;
    uint8_t kind, len;
    while (fp_get_u8(&c, &kind) == 0) {
        uint32_t at = fp_cur_off(&c) - 1;
        if (kind == 0 || kind == 1) {
            len = 1;
        } else if (fp_get_u8(&c, &len) || len < 2 || fp_skip(&c, (size_t)len - 2)) {
            *bad = 1;
            return n;
        }
        if (n < cap) {
            opts[n].kind = kind;
            opts[n].len = len;
            opts[n].off = at;
            n++;
        }
        if (kind == 0) /* end of option list: the rest is padding */
            break;
    }
    return n;
}
