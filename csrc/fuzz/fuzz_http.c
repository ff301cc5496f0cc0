/* libFuzzer harness for csrc/stream/http_stream.c (and the head parser of dissect/http.c): fuzz bytes -> one connection (flags,
 * capture gaps, client bytes, server bytes) -> the HTTP/1.x parser. Each direction is
 * copied into an exact-size buffer so ASan sees any overread; the result's invariants
 * are checked afterwards (spans inside their buffers, pairing, stream order).
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_http.c csrc/stream/http_stream.c (every .c of csrc/dissect) -lcrypto
 * Input: [flags][split hi][split lo] then 3 bytes per gap ([off hi][off lo][len]),
 * flags bit 0/1 = client/server closed, bits 2-4 / 5-7 = client/server gap count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/http_stream.h"

static void check_span(fp_http_span s, size_t len)
{
    if (s.off > len || s.len > len - s.off) abort();
}

static void check_fields(const fp_http_stream_result *r, size_t first, size_t count, size_t len)
{
    if (count > FP_HTTP_MAX_HEADERS || first > r->n_headers || count > r->n_headers - first) abort();
    for (size_t k = first; k < first + count; k++) {
        check_span(r->headers[k].name, len);
        check_span(r->headers[k].value, len);
        if (r->headers[k].name.len == 0) abort();
    }
}

static void check_result(const fp_http_stream_result *r, const fp_http_stream_input in[2])
{
    size_t last_end[2] = {0, 0};
    uint32_t next_index[2] = {0, 0};
    if (r->n_decoded > in[0].len + in[1].len) abort();
    for (size_t i = 0; i < r->n_msgs; i++) {
        const fp_http_stream_msg *m = &r->msgs[i];
        int dir = m->is_response;
        size_t len = in[dir].len;
        if (m->start < last_end[dir] || m->start > m->end || m->end > len) abort();
        if (m->index != next_index[dir]++) abort();
        last_end[dir] = m->end;
        check_span(m->method, len);
        check_span(m->target, len);
        check_span(m->version, len);
        check_span(m->reason, len);
        check_span(m->body, m->body_decoded ? r->n_decoded : len);
        check_fields(r, m->header_first, m->header_count, len);
        check_fields(r, m->trailer_first, m->trailer_count, len);
        if (m->framing >= FP_HTTP_BODY_COUNT || m->anomalies >> FP_HTTP_STREAM_ANOM_COUNT) abort();
        if (m->body_complete && m->body_missing) abort();
        if (m->peer >= 0) {
            if ((size_t)m->peer >= r->n_msgs || r->msgs[m->peer].is_response == m->is_response) abort();
            if (m->is_response ? (size_t)m->peer > i : (size_t)m->peer < i) abort();
        }
        if (m->is_response && m->status < 100) abort();
        for (size_t k = 0; k < m->header_count; k++) {
            const fp_http_header *h = &r->headers[m->header_first + k];
            uint8_t *buf = malloc(h->value.len ? h->value.len : 1);
            if (buf == NULL) continue;
            if (fp_http_unfold(in[dir].data + h->value.off, h->value.len, buf) > h->value.len) abort();
            free(buf);
        }
        long h = fp_http_stream_find_header(r, m, in[dir].data, "content-length");
        if (h >= 0 && ((size_t)h < m->header_first || (size_t)h >= m->header_first + m->header_count)) abort();
    }
    for (int d = 0; d < 2; d++)
        if (r->dir[d].stop >= FP_HTTP_STOP_COUNT || r->dir[d].parsed > in[d].len ||
            r->dir[d].skipped > in[d].len)
            abort();
}

static uint8_t *copy(const uint8_t *p, size_t n)
{
    uint8_t *out = malloc(n ? n : 1);
    if (out && n) memcpy(out, p, n);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t n_gaps[2] = {(size_t)(data[0] >> 2) & 7, (size_t)data[0] >> 5};
    size_t pos = 3 + 3 * (n_gaps[0] + n_gaps[1]);
    if (pos > size) return 0;
    size_t rest = size - pos, split = ((size_t)data[1] << 8 | data[2]) % (rest + 1);
    fp_http_gap gaps[2][8];
    fp_http_stream_input in[2];
    uint8_t *buf[2] = {copy(data + pos, split), copy(data + pos + split, rest - split)};
    if (buf[0] == NULL || buf[1] == NULL) goto out;
    const uint8_t *g = data + 3;
    for (int d = 0; d < 2; d++) {
        size_t len = d ? rest - split : split;
        for (size_t k = 0; k < n_gaps[d]; k++, g += 3)
            gaps[d][k] = (fp_http_gap){((size_t)g[0] << 8 | g[1]) % (len + 1), g[2]};
        in[d] = (fp_http_stream_input){buf[d], len, gaps[d], n_gaps[d], (data[0] >> d) & 1};
    }
    fp_http_stream_result r;
    if (fp_http_stream_parse(&in[0], &in[1], &r) == 0) check_result(&r, in);
    fp_http_stream_result_free(&r);
out:
    free(buf[0]);
    free(buf[1]);
    return 0;
}
