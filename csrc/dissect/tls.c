/* TLS records of one TCP segment and the hello they start with (pkt.tls, the one-segment
 * SNI of flows).
 *   Record header: RFC 8446 section 5.1, checked by fp_tls_record_plausible (tls_hello.h).
 *   Handshake header: RFC 8446 section 4. The ClientHello itself is read by the hello
 *   parser of tls_hello.c (fp_tls_client_hello_parse), the one the hello engine uses.
 * The handshake bytes of consecutive handshake records in the segment are read as one
 * stream, so a hello split over several records is handled; a hello still unfinished after
 * TLS_MAX_FRAGS records is flagged `capped`. A hello inside one record is parsed in place;
 * one spread over records is first gathered on the heap (browsers send one record). A hello
 * cut by the segment end is parsed as far as it goes and still yields its SNI when the
 * extension is in the segment (tshark only shows it after TCP reassembly). The SNI slice
 * must lie in one record. */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "dissect.h"
#include "fields.h"
#include "tls_hello.h"

#define TLS_MAX_FRAGS 16

/* The handshake byte stream: fragments of record bodies, in record order. */
typedef struct {
    const uint8_t *data;
    uint32_t off[TLS_MAX_FRAGS], len[TLS_MAX_FRAGS];
    int n;
    uint32_t total;
} hs_stream;

/* Read `width` (1..4) bytes big-endian at logical position pos: 0, or -1 past the end. */
static int hs_read(const hs_stream *h, uint32_t pos, int width, uint32_t *v)
{
    if (pos > h->total || (uint32_t)width > h->total - pos)
        return -1;
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
    return 0;
}

/* Segment offset of [pos, pos+len) when it lies in a single fragment, else 0. */
static uint32_t hs_contiguous(const hs_stream *h, uint32_t pos, uint32_t len)
{
    for (int f = 0; f < h->n; f++) {
        if (pos < h->len[f])
            return len <= h->len[f] - pos ? h->off[f] + pos : 0;
        pos -= h->len[f];
    }
    return 0;
}

/* Copy stream bytes [pos, pos + len) to out (pos + len <= total). */
static void hs_copy(const hs_stream *h, uint32_t pos, uint32_t len, uint8_t *out)
{
    for (int f = 0; f < h->n && len > 0; f++) {
        if (pos >= h->len[f]) {
            pos -= h->len[f];
            continue;
        }
        uint32_t n = h->len[f] - pos < len ? h->len[f] - pos : len;
        memcpy(out, h->data + h->off[f] + pos, n);
        out += n;
        len -= n;
        pos = 0;
    }
}

/* Walk the records of the segment; collect consecutive handshake bodies. Returns 1 when a
 * handshake record was left out because TLS_MAX_FRAGS were collected. */
static int collect_records(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t,
                           hs_stream *h)
{
    fp_cursor c = fp_cursor_make(data, end);
    c.ptr += off;
    int collecting = 1, capped = 0;
    while (fp_cur_has(&c, 5) && fp_tls_record_plausible(c.ptr, fp_cur_left(&c), 0)) {
        uint8_t type = fp_peek_u8(&c, 0);
        uint32_t rlen = fp_peek_be16(&c, 3);
        if (t->record_count++ == 0) {
            t->content_type = type;
            t->record_version = fp_peek_be16(&c, 1);
            t->record_length = (uint16_t)rlen;
        }
        c.ptr += 5;
        uint32_t avail = (uint32_t)fp_cur_left(&c) < rlen ? (uint32_t)fp_cur_left(&c) : rlen;
        capped |= collecting && type == 22 && h->n == TLS_MAX_FRAGS;
        collecting = collecting && type == 22 && h->n < TLS_MAX_FRAGS;
        if (collecting && avail > 0) {
            h->off[h->n] = fp_cur_off(&c);
            h->len[h->n] = avail;
            h->n++;
            h->total += avail;
        }
        if (avail < rlen) /* the record continues in a later segment */
            break;
        c.ptr += rlen;
    }
    return capped;
}

/* A length overruns its container (tshark's "Malformed" group; odd list lengths, empty
 * names and trailing bytes are only its warnings). Judged on a whole message only: a hello
 * cut by the segment end is truncated (tshark judges no message it has not seen whole). */
static int hello_malformed(const fp_tls_hello *hello)
{
    return (hello->anomalies & (FP_TLS_HELLO_A(BAD_LENGTH) | FP_TLS_HELLO_A(TRUNCATED))) ||
           hello->ext_overrun;
}

/* The ClientHello body: stream bytes [4, 4 + len). In place when it lies in one record. */
static void parse_client_hello(const hs_stream *h, uint32_t len, fp_tls_info *t)
{
    fp_tls_hello hello;
    uint8_t *gathered = NULL;
    uint32_t at = len ? hs_contiguous(h, 4, len) : 0;
    const uint8_t *body = at ? h->data + at : h->data; /* len 0: any non-NULL pointer */
    if (len && !at) {
        if ((gathered = malloc(len)) == NULL)
            return;
        hs_copy(h, 4, len, gathered);
        body = gathered;
    }
    fp_tls_client_hello_parse(body, len, &hello);
    t->malformed = t->hello_complete && hello_malformed(&hello);
    for (uint32_t i = 0; i < hello.sni_count && i < FP_TLS_MAX_SNI; i++) {
        if (hello.sni[i].len == 0)
            continue;
        uint32_t off = hs_contiguous(h, 4 + hello.sni[i].off, hello.sni[i].len);
        if (off != 0) {
            t->sni.off = off;
            t->sni.len = hello.sni[i].len;
        }
        break;
    }
    free(gathered);
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
    t->capped = 0;
    if (end <= off || end - off < 5 || !fp_tls_record_plausible(data + off, end - off, 0))
        return -1;
    hs_stream h = {.data = data, .n = 0, .total = 0};
    int capped = collect_records(data, off, end, t, &h);
    uint32_t type, msg_len, version;
    if (hs_read(&h, 0, 1, &type) != 0)
        return 0;
    t->handshake_type = (int)type;
    if ((type != 1 && type != 2) || hs_read(&h, 1, 3, &msg_len) != 0)
        return 0;
    if (hs_read(&h, 4, 2, &version) == 0)
        t->hello_version = (uint16_t)version;
    if (type != 1)
        return 0;
    t->is_client_hello = 1;
    uint32_t have = h.total - 4 < msg_len ? h.total - 4 : msg_len;
    t->hello_complete = have == msg_len;
    t->capped = capped && !t->hello_complete;
    parse_client_hello(&h, have, t);
    return 0;
}

int fp_tls_parse(const uint8_t *data, const fp_dissection *d, fp_tls_info *t)
{
    if (!FP_HAS(d, FP_L_TLS))
        return -1;
    const fp_span *s = &d->layer[FP_L_TLS];
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
    while (fp_cur_has(&c, 5) && fp_tls_record_plausible(c.ptr, fp_cur_left(&c), 0)) {
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
