/* HTTP/1.x message heads (RFC 9112): the one parser of start lines and field lines, used
 * by the per-packet view (dissect/http.c, one segment) and the stream engine
 * (stream/http_stream.c, reassembled bytes). Python-free; offsets are into the caller's
 * buffer, so spans of a packet are record offsets. */
#ifndef FP_HTTP_H
#define FP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FP_HTTP_MAX_HEADERS 128        /* field lines kept per head (and per trailer) */
#define FP_HTTP_MAX_HEAD (64u * 1024u) /* start line + fields + blank line */

/* What was wrong with a head; the stream engine's anomaly list (and its names table) starts
 * with these bits. */
#define FP_HTTP_HEAD_ANOMALIES(X)                                                             \
    X(BAD_START_LINE, "bad_start_line")     /* request/status line malformed */              \
    X(BAD_HEADER, "bad_header")             /* field line without colon, bad name, NUL, CR */ \
    X(OBS_FOLD, "obs_fold")                 /* folded field value (unfolded to SP) */        \
    X(BARE_LF, "bare_lf")                   /* line ended by LF alone */                     \
    X(TOO_MANY_HEADERS, "too_many_headers") /* fields past FP_HTTP_MAX_HEADERS dropped */    \
    X(HEAD_TOO_LARGE, "head_too_large")     /* no blank line within FP_HTTP_MAX_HEAD */

#define FP_HTTP_ANOM_ENUM(name, str) FP_HTTP_BIT_##name,
enum { FP_HTTP_HEAD_ANOMALIES(FP_HTTP_ANOM_ENUM) FP_HTTP_HEAD_ANOM_COUNT };
#undef FP_HTTP_ANOM_ENUM
#define FP_HTTP_A(name) (1u << FP_HTTP_BIT_##name)

typedef struct {
    size_t off, len;
} fp_http_span;

typedef struct {
    fp_http_span name, value; /* value without surrounding whitespace */
    uint8_t folded;           /* value spans obs-folds: unfold with fp_http_unfold */
} fp_http_header;

/* Where a head's field lines go: caller storage for up to FP_HTTP_MAX_HEADERS. */
typedef struct {
    fp_http_header *fields;
    size_t count;
    int prev_kept;       /* an obs-fold continues the previous line only if it was kept */
    uint32_t anomalies;  /* FP_HTTP_A bits */
} fp_http_fields;

typedef enum {
    FP_HTTP_START_REQUEST,  /* method SP request-target SP HTTP-version */
    FP_HTTP_START_RESPONSE, /* HTTP-version SP 3DIGIT [SP reason] */
    FP_HTTP_START_ANY       /* a response when it starts with "HTTP/" */
} fp_http_start_kind;

typedef struct {
    uint8_t is_response;
    uint16_t status;
    fp_http_span method, target, version, reason;
} fp_http_start_line;

typedef enum {
    FP_HTTP_HEAD_OK,         /* start line and fields up to the blank line */
    FP_HTTP_HEAD_SHORT,      /* no blank line before the limit: more data may complete it */
    FP_HTTP_HEAD_TOO_LARGE,  /* no blank line within FP_HTTP_MAX_HEAD (flagged) */
    FP_HTTP_HEAD_BAD_START,  /* not a start line (flagged) */
} fp_http_head_rc;

/* Start line and field lines at p[at..lim), the head window capped at FP_HTTP_MAX_HEAD.
 * Fields of complete lines are kept even when the head is SHORT or TOO_LARGE (a segment's
 * view shows them; the stream engine waits for the rest). *end: offset after the blank
 * line when OK, after the last complete line otherwise (at when the start line has none). */
fp_http_head_rc fp_http_parse_head(const uint8_t *p, size_t at, size_t lim, fp_http_start_kind kind,
                                   fp_http_start_line *s, fp_http_fields *f, size_t *end);
/* Field lines from `at` (a trailer section) up to the blank line; same returns but BAD_START. */
fp_http_head_rc fp_http_parse_fields(const uint8_t *p, size_t at, size_t lim, fp_http_fields *f,
                                     size_t *end);
/* Start line p[at..eol) (line end excluded); 0 or -1. */
int fp_http_parse_start_line(const uint8_t *p, size_t at, size_t eol, fp_http_start_kind kind,
                             fp_http_start_line *s);

/* The line at `at` with its LF before lim: *eol is where CR LF (or LF) begins; returns the
 * offset after the LF, or 0 when there is none before lim. */
static inline size_t fp_http_next_line(const uint8_t *p, size_t at, size_t lim, size_t *eol, int *bare_lf)
{
    if (at >= lim)
        return 0;
    const uint8_t *lf = memchr(p + at, '\n', lim - at);
    if (lf == NULL)
        return 0;
    size_t e = (size_t)(lf - p);
    *bare_lf = !(e > at && p[e - 1] == '\r');
    *eol = *bare_lf ? e : e - 1;
    return e + 1;
}

/* Length of the known method (GET, POST, ...) followed by SP that p[0..n) starts with, or 0. */
size_t fp_http_known_method(const uint8_t *p, size_t n);

/* p[0..n) equals `lit` ignoring ASCII case (field names, tokens: RFC 9110 5.1, 5.6.2). */
int fp_http_equal_ci(const uint8_t *p, size_t n, const char *lit);
/* Index of the first of fields[0..n) named `name` (ASCII case-insensitive), or -1. */
long fp_http_find_field(const uint8_t *p, const fp_http_header *fields, size_t n, const char *name);

/* Copy a folded value replacing each line break and the whitespace around it with one
 * SP (RFC 9112 section 5.2). `out` needs src_len bytes; returns the length written. */
size_t fp_http_unfold(const uint8_t *src, size_t src_len, uint8_t *out);
/* The value of field `h` (offsets into data) as a recipient reads it: in place, or with its
 * obs-folds unfolded into out[cap] (RFC 9112 5.2; a longer folded value is cut at cap).
 * Sets *len. */
const uint8_t *fp_http_value(const uint8_t *data, const fp_http_header *h, uint8_t *out,
                             size_t cap, size_t *len);

#endif
