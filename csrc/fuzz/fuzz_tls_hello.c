/* libFuzzer harness for the TLS module (csrc/dissect/tls.c, tls_fingerprint.c): fuzz bytes -> the
 * handshake assembler (record or QUIC mode, fed in fuzz-chosen pieces, optional gap) ->
 * every ClientHello/ServerHello parsed and fingerprinted; the input itself is also parsed
 * directly as both hello kinds. Bodies are copied into exact-size buffers so ASan sees any
 * overread; results are checked (spans inside the body, counts vs caps, fingerprint shapes,
 * a cut JA3 buffer giving the same length and hash).
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_tls_hello.c (every .c of csrc/dissect, as make fuzz) -lcrypto
 * Input: [flags][cut 1]..[cut 4] then the stream. flags bit 0 QUIC mode, bits 1-2 CCS
 * policy, bit 3 report a gap at the second cut, bits 4-7 n: max_message = 64 << n, and for
 * n >= 10 ClientHellos stream with hello_fields = 1024 << (n - 10), the end of input
 * delivering a cut one (fp_tls_asm_finish). The input is also streamed as a ClientHello
 * body, in the same pieces, with a cap it cannot reach: its fingerprints and anomalies
 * must equal those of the whole-body parse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/tls.h"

#define check_span(s, n) check_span_at(s, n, __LINE__)
static void check_span_at(fp_tls_span s, uint32_t len, int line)
{
    if (s.off <= len && s.len <= len - s.off) return;
    fprintf(stderr, "fuzz_tls_hello.c:%d: span %u+%u outside %u\n", line, s.off, s.len, len);
    abort();
}

static void check_hello(const fp_tls_hello *h)
{
    uint32_t n = h->body_len;
    check_span(h->random, n);
    check_span(h->session_id, n);
    check_span(h->cipher_span, n);
    check_span(h->compression_span, n);
    check_span(h->ext_span, n);
    check_span(h->versions_span, n);
    check_span(h->groups_span, n);
    check_span(h->sigalgs_span, n);
    check_span(h->point_formats_span, n);
    for (uint32_t i = 0; i < h->ext_count && i < FP_TLS_MAX_EXTENSIONS; i++) check_span(h->exts[i].data, n);
    for (uint32_t i = 0; i < h->sni_count; i++) check_span(h->sni[i], n);
    for (uint32_t i = 0; i < h->alpn_count; i++) check_span(h->alpn[i], n);
    if (h->sni_count > FP_TLS_MAX_SNI || h->alpn_count > FP_TLS_MAX_ALPN) abort();
    if ((h->cipher_count > FP_TLS_MAX_CIPHERS) != !!(h->capped & FP_TLS_CAP_CIPHERS)) abort();
    if ((h->ext_count > FP_TLS_MAX_EXTENSIONS) != !!(h->capped & FP_TLS_CAP_EXTENSIONS)) abort();
    if (h->ext_count > n / 4 || h->cipher_count > n / 2 + 1) abort();
    if ((h->error == FP_TLS_OK) && (h->anomalies & (FP_TLS_HELLO_A(TRUNCATED) | FP_TLS_HELLO_A(BAD_LENGTH))))
        abort();
    if (h->error != FP_TLS_OK && h->anomalies == 0) abort();
}

static void check_fingerprints(const fp_tls_hello *h)
{
    char ja3[4096], small[8], md5[33], md5b[33];
    int64_t len = fp_tls_ja3(h, ja3, sizeof ja3, md5);
    if (len < 0) abort();
    if ((size_t)len < sizeof ja3 && strlen(ja3) != (size_t)len) abort();
    if (strlen(md5) != 32) abort();
    if (fp_tls_ja3(h, small, sizeof small, md5b) != len || memcmp(md5, md5b, 33) != 0) abort();
    if (strlen(small) != ((size_t)len < sizeof small ? (size_t)len : sizeof small - 1)) abort();
    if (fp_tls_ja3(h, NULL, 0, md5b) != len || memcmp(md5, md5b, 33) != 0) abort();
    char ja4[FP_JA4_SIZE], ja4b[FP_JA4_SIZE], raw[4096];
    int64_t rlen = fp_tls_ja4(h, 't', ja4, raw, sizeof raw);
    if (h->is_server) {
        if (rlen != FP_TLS_ERR_ARGUMENT) abort();
        return;
    }
    if (rlen < 0) abort();
    if (strlen(ja4) != 36 || ja4[10] != '_' || ja4[23] != '_') abort();
    if ((size_t)rlen < sizeof raw && (strlen(raw) != (size_t)rlen || memcmp(raw, ja4, 10) != 0)) abort();
    if (fp_tls_ja4(h, 'q', ja4b, NULL, 0) != rlen || ja4b[0] != 'q' || memcmp(ja4 + 1, ja4b + 1, 36) != 0)
        abort();
}

static void parse_both(const uint8_t *body, uint32_t len, int which)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) return;
    memcpy(copy, body, len);
    fp_tls_hello *h = malloc(sizeof *h);
    if (h == NULL) {
        free(copy);
        return;
    }
    if (which & 1) {
        fp_tls_client_hello_parse(copy, len, h);
        check_hello(h);
        check_fingerprints(h);
    }
    if (which & 2) {
        fp_tls_server_hello_parse(copy, len, h);
        check_hello(h);
        check_fingerprints(h);
    }
    free(h);
    free(copy);
}

typedef struct {
    uint32_t count;
    uint32_t max_message;
    uint32_t hello_fields;
} msg_state;

/* JA3 and JA4_r strings plus anomaly bits of a ClientHello, for comparing two parses. */
static void summary(const fp_tls_hello *h, char *ja3, char *ja4r, size_t cap)
{
    char md5[33], ja4[FP_JA4_SIZE];
    if (fp_tls_ja3(h, ja3, cap, md5) < 0 || fp_tls_ja4(h, 't', ja4, ja4r, cap) < 0) abort();
}

/* The input as a ClientHello body, streamed in the fuzzer's pieces, against the whole parse. */
static void stream_vs_whole(const uint8_t *body, size_t n, const size_t cut[4])
{
    fp_tls_ch_stream s;
    fp_tls_ch_stream_init(&s, (uint32_t)n, 1u << 20);
    size_t prev = 0;
    for (int i = 0; i <= 4; i++) {
        size_t end = i < 4 ? cut[i] : n;
        if (fp_tls_ch_stream_feed(&s, body + prev, end - prev) < 0) abort();
        prev = end;
    }
    if (!s.done || (s.anomalies & FP_TLS_HELLO_A(OVER_CAP))) abort();
    fp_tls_hello *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    char *sa = malloc(4 * 8192), *sb = sa + 8192, *ra = sa + 16384, *rb = sa + 24576;
    if (a && b && sa) {
        fp_tls_client_hello_parse(body, (uint32_t)n, a);
        fp_tls_client_hello_parse_compact(s.out ? s.out : (const uint8_t *)"", s.out_len, s.anomalies, b);
        check_hello(b);
        summary(a, sa, ra, 8192);
        summary(b, sb, rb, 8192);
        uint32_t mask = ~(uint32_t)(FP_TLS_HELLO_A(IMPLAUSIBLE_LENGTH) | FP_TLS_HELLO_A(CAPPED));
        if (strcmp(sa, sb) != 0 || strcmp(ra, rb) != 0 || ((a->anomalies ^ b->anomalies) & mask) ||
            a->sni_count != b->sni_count || a->ech_type != b->ech_type) {
            fprintf(stderr, "stream/whole differ:\n %s\n %s\n %s\n %s\n anomalies %x %x\n", sa, sb, ra, rb,
                    a->anomalies, b->anomalies);
            abort();
        }
    }
    free(a);
    free(b);
    free(sa);
    fp_tls_ch_stream_free(&s);
}

static int on_message(void *ctx, const fp_tls_hs_msg *m)
{
    msg_state *st = ctx;
    if (m->index != st->count++ || (m->len > st->max_message && !m->compact)) abort();
    if (m->compact && (m->type != 1 || m->len > st->hello_fields + 600)) abort();
    if (m->type == 1) parse_both(m->body, m->len, 1);
    else if (m->type == 2) parse_both(m->body, m->len, 2);
    else if (m->len > 0 && ((volatile const uint8_t *)m->body)[m->len - 1] == 0xfe) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    uint8_t flags = data[0];
    size_t cut[4];
    const uint8_t *stream = data + 5;
    size_t n = size - 5;
    for (int i = 0; i < 4; i++) cut[i] = n ? (size_t)data[1 + i] * n / 255 : 0;
    for (int i = 1; i < 4; i++)
        if (cut[i] < cut[i - 1]) cut[i] = cut[i - 1];

    parse_both(stream, (uint32_t)n, 3);
    if (n <= 0xffffff) stream_vs_whole(stream, n, cut);

    fp_tls_asm a;
    fp_tls_asm_init(&a, flags & 1);
    a.ccs_policy = (uint8_t)((flags >> 1) & 3);
    unsigned shift = (flags >> 4) & 15;
    a.max_message = 64u << shift;
    if (a.max_message > FP_TLS_MAX_MESSAGE) a.max_message = FP_TLS_MAX_MESSAGE;
    if (shift >= 10) a.hello_fields = 1024u << (shift - 10);
    msg_state st = {0, a.max_message, a.hello_fields};
    size_t prev = 0;
    for (int i = 0; i <= 4; i++) {
        size_t end = i < 4 ? cut[i] : n;
        uint8_t *piece = malloc(end - prev ? end - prev : 1);
        if (piece == NULL) break;
        memcpy(piece, stream + prev, end - prev);
        int done = fp_tls_asm_feed(&a, piece, end - prev, on_message, &st);
        free(piece);
        if (done != !!(a.flags & FP_TLS_ASM(DONE))) abort();
        if (i == 1 && (flags & 8)) fp_tls_asm_gap(&a);
        prev = end;
    }
    fp_tls_asm_finish(&a, on_message, &st);
    if (a.ch && fp_tls_asm_memory(&a) > a.buf_cap + fp_tls_ch_stream_memory(a.ch)) abort();
    if (a.ch && a.ch->out_cap > 2 * (a.ch->cap + 600)) abort();
    if (a.consumed > n || a.messages != st.count) abort();
    if (fp_tls_asm_pending(&a) > a.max_message + 4) abort();
    if (a.buf_cap > a.max_message) abort();
    fp_tls_asm_free(&a);
    return 0;
}
