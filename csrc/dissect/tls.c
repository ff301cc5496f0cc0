/* TLS records and hellos within one TCP segment.
 *   Record header: RFC 8446 section 5.1 (type 20..24, legacy version 3.x, length).
 *   Handshake header and ClientHello/ServerHello: RFC 8446 sections 4 and 4.1.2
 *   (same layout as RFC 5246 section 7.4.1.2 for TLS 1.0-1.2).
 *   server_name extension: RFC 6066 section 3 (first host_name entry only).
 * The handshake bytes of consecutive handshake records in the segment are read as
 * one stream, so a hello split over several records of one segment is handled.
 * A hello cut by the segment end still yields its SNI when the extension is in the
 * segment (tshark only shows it after TCP reassembly). The SNI slice must lie in
 * one record. A length is "malformed" only when it overruns a container whose
 * declared length is known; running off the segment end is just truncation. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

#define TLS_MAX_RECORD 18432 /* 2^14 + 2048 (TLSCiphertext limit) */
#define TLS_MAX_FRAGS 16

int fp_tls_plausible(const uint8_t *p, uint32_t len)
{
    if (len < 5 || p[0] < 20 || p[0] > 24 || p[1] != 3 || p[2] > 4)
        return 0;
    return fp_load_be16(p + 3) <= TLS_MAX_RECORD;
}

/* The handshake byte stream: fragments of record bodies, in record order. */
typedef struct {
    const uint8_t *data;
    uint32_t off[TLS_MAX_FRAGS], len[TLS_MAX_FRAGS];
    int n;
    uint32_t total;
} hs_stream;

enum { HS_OK = 0, HS_TRUNC = 1, HS_BAD = -1 };

/* Read `width` (1..4) bytes big-endian at logical position pos. */
static int hs_read(const hs_stream *h, uint32_t pos, int width, uint32_t *v)
{
    if (pos > h->total || (uint32_t)width > h->total - pos)
        return HS_TRUNC;
    uint32_t acc = 0;
    int f = 0;
    uint32_t at = pos;
    for (int k = 0; k < width; k++, at++) {
        while (at >= h->len[f]) { /* bounded: at < total guarantees a fragment */
            at -= h->len[f];
            f++;
        }
        acc = (acc << 8) | h->data[h->off[f] + at];
    }
    *v = acc;
    return HS_OK;
}

/* Record offset of [pos, pos+len) when it lies in a single fragment, else 0. */
static uint32_t hs_contiguous(const hs_stream *h, uint32_t pos, uint32_t len)
{
    for (int f = 0; f < h->n; f++) {
        if (pos < h->len[f])
            return len <= h->len[f] - pos ? h->off[f] + pos : 0;
        pos -= h->len[f];
    }
    return 0;
}

/* A length-prefixed vector at *pos (prefix of `width` bytes) inside [.., limit). */
static int hs_vector(const hs_stream *h, uint32_t *pos, int width, uint32_t limit,
                     uint32_t *body, uint32_t *body_len)
{
    uint32_t n;
    if ((uint32_t)width > limit - *pos)
        return HS_BAD;
    int r = hs_read(h, *pos, width, &n);
    if (r != HS_OK)
        return r;
    *body = *pos + (uint32_t)width;
    if (n > limit - *body)
        return HS_BAD;
    *body_len = n;
    *pos = *body + n;
    return HS_OK;
}

/* server_name_list of RFC 6066 section 3 in [pos, end): first host_name. */
static int parse_sni(const hs_stream *h, uint32_t pos, uint32_t end, fp_tls_info *t)
{
    uint32_t list, list_len;
    int r = hs_vector(h, &pos, 2, end, &list, &list_len);
    if (r != HS_OK)
        return r;
    uint32_t list_end = list + list_len;
    pos = list;
    while (pos < list_end) {
        uint32_t type, name, name_len;
        if ((r = hs_read(h, pos, 1, &type)) != HS_OK)
            return r;
        pos++;
        if ((r = hs_vector(h, &pos, 2, list_end, &name, &name_len)) != HS_OK)
            return r;
        if (type != 0 || name_len == 0)
            continue;
        if (name_len > h->total - name) /* name cut by the segment */
            return HS_TRUNC;
        uint32_t off = hs_contiguous(h, name, name_len);
        if (off != 0) {
            t->sni.off = off;
            t->sni.len = name_len;
        }
        return HS_OK;
    }
    return HS_OK;
}

/* ClientHello body in [4, msg_end) of the stream. */
static int parse_client_hello(const hs_stream *h, uint32_t msg_end, fp_tls_info *t)
{
    uint32_t pos = 4 + 2 + 32, body, len; /* legacy_version, random */
    int r;
    if (pos > msg_end)
        return HS_BAD;
    if ((r = hs_vector(h, &pos, 1, msg_end, &body, &len)) != HS_OK) /* session id */
        return r;
    if ((r = hs_vector(h, &pos, 2, msg_end, &body, &len)) != HS_OK) /* cipher suites */
        return r;
    if ((r = hs_vector(h, &pos, 1, msg_end, &body, &len)) != HS_OK) /* compression */
        return r;
    if (pos == msg_end) /* no extensions (TLS 1.0 style) */
        return HS_OK;
    uint32_t exts, exts_len;
    if ((r = hs_vector(h, &pos, 2, msg_end, &exts, &exts_len)) != HS_OK)
        return r;
    uint32_t exts_end = exts + exts_len;
    pos = exts;
    while (pos < exts_end) {
        uint32_t type, ext, ext_len;
        if (exts_end - pos < 4)
            return HS_BAD;
        if ((r = hs_read(h, pos, 2, &type)) != HS_OK)
            return r;
        pos += 2;
        if ((r = hs_vector(h, &pos, 2, exts_end, &ext, &ext_len)) != HS_OK)
            return r;
        if (type == 0 && t->sni.len == 0 && (r = parse_sni(h, ext, ext + ext_len, t)) != HS_OK)
            return r;
    }
    return HS_OK;
}

/* Walk the records of the segment; collect consecutive handshake bodies. */
static void collect_records(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t,
                            hs_stream *h)
{
    fp_cursor c = fp_cursor_make(data, end);
    c.ptr += off;
    int collecting = 1;
    while (fp_cur_has(&c, 5) && fp_tls_plausible(c.ptr, (uint32_t)fp_cur_left(&c))) {
        uint8_t type = fp_peek_u8(&c, 0);
        uint32_t rlen = fp_peek_be16(&c, 3);
        if (t->record_count++ == 0) {
            t->content_type = type;
            t->record_version = fp_peek_be16(&c, 1);
            t->record_length = (uint16_t)rlen;
        }
        c.ptr += 5;
        uint32_t avail = (uint32_t)fp_cur_left(&c) < rlen ? (uint32_t)fp_cur_left(&c) : rlen;
        collecting = collecting && type == 22 && h->n < TLS_MAX_FRAGS;
        if (collecting && avail > 0) {
            h->off[h->n] = fp_cur_off(&c);
            h->len[h->n] = avail;
            h->n++;
            h->total += avail;
        }
        if (avail < rlen) /* the record continues in a later segment */
            return;
        c.ptr += rlen;
    }
}

int fp_tls_parse_span(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t)
{
    t->content_type = 0;
    t->record_version = 0;
    t->record_length = 0;
    t->record_count = 0;
    t->handshake_type = -1;
    t->is_client_hello = 0;
    t->hello_version = 0;
    t->sni.off = t->sni.len = 0;
    t->hello_complete = 0;
    t->malformed = 0;
    if (end <= off || !fp_tls_plausible(data + off, end - off))
        return -1;
    hs_stream h = {.data = data, .n = 0, .total = 0};
    collect_records(data, off, end, t, &h);
    uint32_t type, msg_len, version;
    if (hs_read(&h, 0, 1, &type) != HS_OK)
        return 0;
    t->handshake_type = (int)type;
    if ((type != 1 && type != 2) || hs_read(&h, 1, 3, &msg_len) != HS_OK)
        return 0;
    if (hs_read(&h, 4, 2, &version) == HS_OK)
        t->hello_version = (uint16_t)version;
    if (type != 1)
        return 0;
    t->is_client_hello = 1;
    t->hello_complete = h.total >= 4 + msg_len;
    if (parse_client_hello(&h, 4 + msg_len, t) == HS_BAD)
        t->malformed = 1;
    return 0;
}

int fp_tls_parse(const uint8_t *data, const fp_dissection *d, fp_tls_info *t)
{
    if (!FP_HAS(d, FP_L_TCP))
        return -1;
    const fp_span *s = &d->layer[FP_L_TCP];
    return fp_tls_parse_span(data, s->off + s->hlen, s->end, t);
}

/* ---- Fields (Wireshark's tls, one segment) ------------------------------ */

/* Record header fields, one per record complete in the segment (RFC 8446 5.1). */
static int tls_record_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_TLS))
        return 0;
    const fp_span *s = &x->d->layer[FP_L_TLS];
    fp_cursor c = fp_cursor_make(x->data, s->end);
    c.ptr += s->off;
    int n = 0;
    while (fp_cur_has(&c, 5) && fp_tls_plausible(c.ptr, (uint32_t)fp_cur_left(&c))) {
        const uint8_t *record = c.ptr;
        if (fp_skip(&c, 5u + fp_peek_be16(&c, 3)) != 0)
            break;
        fp_field_value v;
        fp_field_decode(f, record + f->offset, &v);
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

/* The ClientHello's server name (also from a hello the segment cuts). */
static int tls_sni(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    fp_tls_info t;
    if (!FP_HAS(x->d, FP_L_TLS) || fp_tls_parse(x->data, x->d, &t) != 0 || t.sni.len == 0)
        return 0;
    fp_field_value v = {0, x->data + t.sni.off, t.sni.len};
    visit(arg, &v);
    return 1;
}

static const fp_field tls_fields[] = {
    FP_FIELD_PROTO("tls", FP_L_TLS),
    {"tls.record.content_type", FP_FT_UINT, 8, FP_L_TLS, 0, 0, 0, tls_record_field},
    {"tls.record.version", FP_FT_UINT, 16, FP_L_TLS, 0, 1, 0, tls_record_field},
    {"tls.record.length", FP_FT_UINT, 16, FP_L_TLS, 0, 3, 0, tls_record_field},
    {"tls.handshake.extensions_server_name", FP_FT_STRING, 0, FP_L_TLS, 0, 0, 0, tls_sni},
};
FP_FIELD_TABLE(fp_fields_tls, "tls", tls_fields);
