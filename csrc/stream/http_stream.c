/* HTTP/1.x over the reassembled bytes of a TCP connection, RFC 9112:
 *   section 2.2  empty lines before a start line are skipped; a bare LF ends a line (flagged)
 *   sections 3-4 request line, status line
 *   section 5    field lines; obs-fold (5.2) kept and flagged, unfolded on output
 *   section 6.3  body length: HEAD/1xx/204/304/CONNECT 2xx have none; Transfer-Encoding
 *                ending in chunked; Content-Length (lists of one repeated value allowed);
 *                else a request has none and a response runs to the close
 *   section 7.1  chunked: hex size, extensions, trailer section
 *   section 9.3.2 responses answer requests in order; a 1xx (but 101) is interim.
 * Requests and responses are parsed strictly alternately (request, its responses, next
 * request) since a response's framing depends on its request (HEAD, CONNECT).
 * Every read is bounded by the data length and by the next capture gap. */
#include "http_stream.h"

#include <stdlib.h>
#include <string.h>

#define ANOM_NAME(name, str) str,
const char *const fp_http_stream_anomaly_names[FP_HTTP_STREAM_ANOM_COUNT] = {
    FP_HTTP_STREAM_ANOMALIES(ANOM_NAME)};
#undef ANOM_NAME
const char *const fp_http_body_framing_names[FP_HTTP_BODY_COUNT] = {"none", "length", "chunked",
                                                                    "close"};
const char *const fp_http_stop_names[FP_HTTP_STOP_COUNT] = {"end",    "incomplete", "error",
                                                            "tunnel", "desync",     "limit"};

#define A(name) FP_HTTP_STREAM_A(name)
/* Content-Length and chunk sizes above this are treated as invalid / overflow. */
#define MAX_LENGTH (UINT64_C(1) << 62)

typedef struct {
    const uint8_t *p;
    size_t len;
    int closed;
    fp_http_gap *gaps; /* sorted, merged, non-empty */
    size_t n_gaps;
    size_t gi;         /* first gap not yet passed: gaps[gi].off >= pos */
    size_t pos;
    int stopped;
    int resynced;      /* the next message was found by scanning */
    uint32_t count;
    fp_http_stream_dir *out;
} dir_state;

typedef struct {
    fp_http_stream_result *r;
    int oom;
} ctx;

/* ---- small helpers ------------------------------------------------------ */

static int reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return -1;
        n *= 2;
    }
    void *p = realloc(*buf, n * elem);
    if (p == NULL) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static int is_tchar(uint8_t ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}
static int is_digit(uint8_t ch) { return ch >= '0' && ch <= '9'; }
static int is_ows(uint8_t ch) { return ch == ' ' || ch == '\t'; }
/* Whitespace inside list values, including the line breaks of an obs-fold. */
static int is_list_ws(uint8_t ch) { return is_ows(ch) || ch == '\r' || ch == '\n'; }
static int lower(uint8_t ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int hex_value(uint8_t ch)
{
    if (is_digit(ch)) return ch - '0';
    ch = (uint8_t)lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int span_is(const uint8_t *p, fp_http_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(p + s.off, lit, n) == 0;
}

static int equal_ci(const uint8_t *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n != k) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != lower((uint8_t)lit[i])) return 0;
    return 1;
}

/* Gap lengths come from the caller: sums of them saturate. */
static uint64_t add_sat(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

/* Where the bytes readable from pos without crossing a hole end. */
static size_t gap_limit(const dir_state *d)
{
    return d->gi < d->n_gaps ? (size_t)d->gaps[d->gi].off : d->len;
}

static void stop(dir_state *d, fp_http_stop why)
{
    if (d->stopped) return;
    d->stopped = 1;
    d->out->stop = (uint8_t)why;
    d->out->parsed = d->pos;
}

/* The line at `at` with its LF before `lim`: *eol is where CR LF (or LF) begins; returns
 * the offset after the LF, or 0 when there is no LF before lim. */
static size_t next_line(const uint8_t *p, size_t at, size_t lim, size_t *eol, int *bare_lf)
{
    if (at >= lim) return 0;
    const uint8_t *lf = memchr(p + at, '\n', lim - at);
    if (lf == NULL) return 0;
    size_t e = (size_t)(lf - p);
    *bare_lf = !(e > at && p[e - 1] == '\r');
    *eol = *bare_lf ? e : e - 1;
    return e + 1;
}

/* Consume `need` stream bytes from *pos, stepping over holes (whose bytes count in
 * *missing). A hole fully inside the span is passed (gi advances). */
typedef enum { WALK_DONE, WALK_SHORT, WALK_INSIDE_GAP } walk_rc;
static walk_rc walk(dir_state *d, size_t *pos, uint64_t need, uint64_t *missing)
{
    for (;;) {
        size_t lim = gap_limit(d), avail = lim - *pos;
        if (need <= avail) {
            *pos += (size_t)need;
            return WALK_DONE;
        }
        need -= avail;
        *pos = lim;
        if (d->gi == d->n_gaps) return WALK_SHORT;
        uint64_t hole = d->gaps[d->gi].len;
        if (hole > need) { /* the span ends inside the hole; what follows it is lost */
            *missing = add_sat(*missing, need);
            return WALK_INSIDE_GAP;
        }
        *missing = add_sat(*missing, hole);
        need -= hole;
        d->gi++;
    }
}

/* ---- start lines and fields --------------------------------------------- */

/* "HTTP/" DIGIT "." DIGIT: the caller checked that 8 bytes are there. */
static int version_ok(const uint8_t *s)
{
    return memcmp(s, "HTTP/", 5) == 0 && is_digit(s[5]) && s[6] == '.' && is_digit(s[7]);
}

static int parse_request_line(const uint8_t *p, size_t at, size_t eol, fp_http_stream_msg *m)
{
    size_t i = at;
    while (i < eol && is_tchar(p[i])) i++;
    if (i == at || i >= eol || p[i] != ' ') return -1;
    m->method = (fp_http_span){at, i - at};
    size_t t = ++i;
    while (i < eol && p[i] > 0x20 && p[i] != 0x7f) i++;
    if (i == t || i >= eol || p[i] != ' ') return -1;
    m->target = (fp_http_span){t, i - t};
    i++;
    if (eol - i != 8 || !version_ok(p + i)) return -1;
    m->version = (fp_http_span){i, 8};
    return 0;
}

/* HTTP-version SP 3DIGIT [SP reason]: a missing SP before an empty reason is tolerated. */
static int parse_status_line(const uint8_t *p, size_t at, size_t eol, fp_http_stream_msg *m)
{
    const uint8_t *s = p + at;
    size_t n = eol - at;
    if (n < 12 || !version_ok(s) || s[8] != ' ' || !is_digit(s[9]) || !is_digit(s[10]) ||
        !is_digit(s[11]))
        return -1;
    if (n > 12 && s[12] != ' ') return -1;
    int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (status < 100) return -1;
    m->status = (uint16_t)status;
    m->version = (fp_http_span){at, 8};
    m->reason = n > 12 ? (fp_http_span){at + 13, n - 13} : (fp_http_span){eol, 0};
    return 0;
}

/* Cheap rejection of bytes that cannot begin a start line, before looking for a LF. */
static int start_prefix_ok(const uint8_t *s, size_t n, int is_response)
{
    if (is_response) return memcmp(s, "HTTP/", n < 5 ? n : 5) == 0;
    return is_tchar(s[0]);
}

/* Field lines of one head or trailer section. */
typedef struct {
    size_t first, count;
    int prev_kept;      /* an obs-fold continues the previous line only if it was kept */
    uint32_t *anomalies;
} field_list;

static int add_field(ctx *c, const uint8_t *p, size_t at, size_t eol, field_list *f)
{
    fp_http_stream_result *r = c->r;
    if (is_ows(p[at])) { /* obs-fold */
        if (!f->prev_kept) {
            *f->anomalies |= A(BAD_HEADER);
            return 0;
        }
        *f->anomalies |= A(OBS_FOLD);
        size_t v = at, ve = eol;
        while (v < ve && is_ows(p[v])) v++;
        while (ve > v && is_ows(p[ve - 1])) ve--;
        fp_http_header *h = &r->headers[f->first + f->count - 1];
        if (v == ve) return 0;
        if (h->value.len == 0) {
            h->value = (fp_http_span){v, ve - v};
        } else {
            h->value.len = ve - h->value.off;
            h->folded = 1;
        }
        return 0;
    }
    f->prev_kept = 0;
    size_t i = at;
    while (i < eol && is_tchar(p[i])) i++;
    size_t name_end = i;
    while (i < eol && is_ows(p[i])) i++;
    if (name_end == at || i >= eol || p[i] != ':') {
        *f->anomalies |= A(BAD_HEADER);
        return 0;
    }
    if (i != name_end) *f->anomalies |= A(BAD_HEADER); /* whitespace before the colon */
    if (f->count == FP_HTTP_STREAM_MAX_HEADERS) {
        *f->anomalies |= A(TOO_MANY_HEADERS);
        return 0;
    }
    size_t v = i + 1, ve = eol;
    while (v < ve && is_ows(p[v])) v++;
    while (ve > v && is_ows(p[ve - 1])) ve--;
    if (v < ve && (memchr(p + v, 0, ve - v) || memchr(p + v, '\r', ve - v)))
        *f->anomalies |= A(BAD_HEADER); /* RFC 9110 section 5.5: NUL and bare CR are invalid */
    if (reserve((void **)&r->headers, &r->cap_headers, r->n_headers + 1, sizeof *r->headers)) {
        c->oom = 1;
        return -1;
    }
    r->headers[r->n_headers++] =
        (fp_http_header){.name = {at, name_end - at}, .value = {v, ve - v}, .folded = 0};
    f->count++;
    f->prev_kept = 1;
    return 0;
}

/* Lines from `at` up to and including the blank line, within lim. Returns the offset after
 * the blank line, 0 when no blank line before lim, (size_t)-1 when out of memory. */
static size_t read_fields(ctx *c, const uint8_t *p, size_t at, size_t lim, field_list *f)
{
    size_t eol, next;
    int bare;
    while ((next = next_line(p, at, lim, &eol, &bare)) != 0) {
        if (bare) *f->anomalies |= A(BARE_LF);
        if (eol == at) return next;
        if (add_field(c, p, at, eol, f) < 0) return (size_t)-1;
        at = next;
    }
    c->r->n_headers = f->first; /* no end of section: drop what was added */
    f->count = 0;
    return 0;
}

/* ---- head ------------------------------------------------------------------ */

typedef enum { HEAD_OK, HEAD_NEED_DATA, HEAD_GAP, HEAD_TOO_LARGE, HEAD_BAD_START, HEAD_OOM } head_rc;

/* Why no line end was found before lim (a hole, the head limit, or the data end). */
static head_rc head_short(const dir_state *d, size_t from, size_t lim)
{
    if (lim - from >= FP_HTTP_STREAM_MAX_HEAD) return HEAD_TOO_LARGE;
    return lim < d->len ? HEAD_GAP : HEAD_NEED_DATA;
}

static size_t head_limit(const dir_state *d, size_t from)
{
    size_t lim = gap_limit(d);
    return lim - from > FP_HTTP_STREAM_MAX_HEAD ? from + FP_HTTP_STREAM_MAX_HEAD : lim;
}

/* Start line and fields at d->pos (which precedes any hole). */
static head_rc parse_head(ctx *c, dir_state *d, int is_response, fp_http_stream_msg *m,
                          size_t *body_start)
{
    const uint8_t *p = d->p;
    size_t at = d->pos, lim = head_limit(d, at), eol, next;
    int bare;
    if (!start_prefix_ok(p + at, lim - at, is_response)) return HEAD_BAD_START;
    next = next_line(p, at, lim, &eol, &bare);
    if (next == 0) return head_short(d, at, lim);
    if (is_response ? parse_status_line(p, at, eol, m) : parse_request_line(p, at, eol, m))
        return HEAD_BAD_START;
    if (bare) m->anomalies |= A(BARE_LF);
    field_list f = {c->r->n_headers, 0, 0, &m->anomalies};
    size_t end = read_fields(c, p, next, lim, &f);
    if (end == (size_t)-1) return HEAD_OOM;
    if (end == 0) return head_short(d, at, lim);
    m->header_first = f.first;
    m->header_count = f.count;
    *body_start = end;
    return HEAD_OK;
}

/* ---- resynchronisation ---------------------------------------------------- */

static const char *const known_methods[] = {"GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                            "OPTIONS", "PATCH", "CONNECT", "TRACE"};

static const uint8_t *find_bytes(const uint8_t *p, size_t n, const char *needle, size_t k)
{
    while (n >= k) {
        const uint8_t *c = memchr(p, needle[0], n - k + 1);
        if (c == NULL) return NULL;
        if (memcmp(c, needle, k) == 0) return c;
        n -= (size_t)(c - p) + 1;
        p = c + 1;
    }
    return NULL;
}

/* Stricter than parsing, since scanning meets arbitrary bytes: HTTP/1.0 or 1.1 only and a
 * method of capital letters. */
static int strict_start(const dir_state *d, size_t at, size_t eol, int is_response)
{
    fp_http_stream_msg m;
    memset(&m, 0, sizeof m);
    if (eol - at >= FP_HTTP_STREAM_MAX_HEAD) return 0;
    if (is_response ? parse_status_line(d->p, at, eol, &m) : parse_request_line(d->p, at, eol, &m))
        return 0;
    const uint8_t *v = d->p + m.version.off;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return 0;
    for (size_t i = 0; i < m.method.len; i++)
        if (d->p[m.method.off + i] < 'A' || d->p[m.method.off + i] > 'Z') return 0;
    return 1;
}

/* Where the request line whose version starts at `version` begins: the tail of a lost
 * message may precede it on the same line, so a known method is looked for first, then
 * the line start. SIZE_MAX when neither parses. Only the last head-limit bytes can start
 * a line strict_start accepts, and each candidate's parse stops at its second SP. */
static size_t request_start(const dir_state *d, size_t region, size_t version, size_t eol)
{
    size_t ls = version;
    while (ls > region && d->p[ls - 1] != '\n') ls--;
    size_t first = eol - ls >= FP_HTTP_STREAM_MAX_HEAD ? eol - FP_HTTP_STREAM_MAX_HEAD + 1 : ls;
    for (size_t c = first; c < version; c++)
        for (size_t k = 0; k < sizeof known_methods / sizeof *known_methods; k++) {
            size_t n = strlen(known_methods[k]);
            if (version - c > n && memcmp(d->p + c, known_methods[k], n) == 0 && d->p[c + n] == ' ' &&
                strict_start(d, c, eol, 0))
                return c;
        }
    return strict_start(d, ls, eol, 0) ? ls : SIZE_MAX;
}

/* The first start line in the hole-free region [at, lim), found by its "HTTP/1." (message
 * boundaries need not be line boundaries: a body is not followed by CRLF), or SIZE_MAX. */
static size_t scan_region(const dir_state *d, size_t at, size_t lim, int is_response)
{
    const uint8_t *p = d->p, *hit;
    size_t region = at, lf_at = 0;
    while ((hit = find_bytes(p + at, lim - at, "HTTP/1.", 7)) != NULL) {
        size_t v = (size_t)(hit - p);
        if (lf_at <= v) { /* one LF search per line, however many hits it has */
            const uint8_t *lf = memchr(hit, '\n', lim - v);
            if (lf == NULL) return SIZE_MAX;
            lf_at = (size_t)(lf - p);
        }
        size_t eol = p[lf_at - 1] == '\r' ? lf_at - 1 : lf_at;
        if (is_response) {
            if (strict_start(d, v, eol, 1)) return v;
            at = v + 1;
            continue;
        }
        if (eol == v + 8 && v > region && p[v - 1] == ' ') {
            size_t c = request_start(d, region, v, eol);
            if (c != SIZE_MAX) return c;
        }
        at = lf_at + 1;
    }
    return SIZE_MAX;
}

/* d->pos sits at a hole: find the next start line, region by region between holes. What
 * is passed over is counted, never parsed. */
static void resync(dir_state *d, int is_response)
{
    size_t from = d->pos, at = d->pos;
    d->out->anomalies |= A(GAP);
    while (at < d->len) {
        while (d->gi < d->n_gaps && d->gaps[d->gi].off <= at) d->gi++;
        size_t lim = gap_limit(d), found = scan_region(d, at, lim, is_response);
        if (found != SIZE_MAX) {
            d->out->skipped += found - from;
            d->pos = found;
            d->resynced = 1;
            return;
        }
        at = lim;
    }
    d->out->skipped += d->len - from;
    d->pos = d->len;
    stop(d, FP_HTTP_STOP_DESYNC);
}

/* ---- framing ---------------------------------------------------------------- */

typedef struct {
    fp_http_stream_result *r;
    const fp_http_stream_msg *m;
    const uint8_t *p;
} head_view;

/* Calls fn(element, length, arg) for each comma-separated element (trimmed) of every field
 * named `name`; stops at the first nonzero return and returns it. */
typedef int (*element_fn)(const uint8_t *s, size_t n, void *arg);
static int each_element(const head_view *v, const char *name, element_fn fn, void *arg)
{
    for (size_t k = 0; k < v->m->header_count; k++) {
        const fp_http_header *h = &v->r->headers[v->m->header_first + k];
        if (!equal_ci(v->p + h->name.off, h->name.len, name)) continue;
        const uint8_t *s = v->p + h->value.off, *end = s + h->value.len;
        for (;;) {
            const uint8_t *comma = s < end ? memchr(s, ',', (size_t)(end - s)) : NULL;
            const uint8_t *e = comma ? comma : end, *b = s;
            while (b < e && is_list_ws(*b)) b++;
            while (e > b && is_list_ws(e[-1])) e--;
            int rc = fn(b, (size_t)(e - b), arg);
            if (rc) return rc;
            if (comma == NULL) break;
            s = comma + 1;
        }
    }
    return 0;
}

typedef struct {
    int seen;
    uint64_t value;
} cl_state;

/* -1 invalid, -2 a different value than before */
static int cl_element(const uint8_t *s, size_t n, void *arg)
{
    cl_state *st = arg;
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (MAX_LENGTH - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    if (st->seen && v != st->value) return -2;
    st->seen = 1;
    st->value = v;
    return 0;
}

typedef struct {
    int seen, chunked, last_chunked;
} te_state;

static int te_element(const uint8_t *s, size_t n, void *arg)
{
    te_state *st = arg;
    const uint8_t *semi = n ? memchr(s, ';', n) : NULL;
    if (semi) { /* transfer-parameters */
        n = (size_t)(semi - s);
        while (n && is_ows(s[n - 1])) n--;
    }
    if (n == 0) return 0;
    st->seen = 1;
    st->last_chunked = equal_ci(s, n, "chunked");
    st->chunked += st->last_chunked;
    return 0;
}

typedef enum { TE_NONE, TE_CHUNKED, TE_OTHER, TE_BAD } te_kind;
static te_kind transfer_coding(const head_view *v)
{
    te_state st = {0, 0, 0};
    each_element(v, "transfer-encoding", te_element, &st);
    if (!st.seen) return TE_NONE;
    if (st.last_chunked && st.chunked == 1) return TE_CHUNKED;
    return st.chunked ? TE_BAD : TE_OTHER;
}

/* Body framing of m; *fatal when the framing cannot be known (the direction stops). */
static fp_http_body_framing decide_framing(const head_view *v, fp_http_stream_msg *m,
                                           int request_head, int request_connect,
                                           uint64_t *length, int *fatal)
{
    int resp = m->is_response;
    if (resp && (request_head || m->status < 200 || m->status == 204 || m->status == 304 ||
                 (request_connect && m->status < 300)))
        return FP_HTTP_BODY_NONE;
    te_kind te = transfer_coding(v);
    cl_state cl = {0, 0};
    int clrc = each_element(v, "content-length", cl_element, &cl);
    if (te != TE_NONE) {
        if (cl.seen || clrc) m->anomalies |= A(TE_AND_CL);
        if (te == TE_CHUNKED) return FP_HTTP_BODY_CHUNKED;
        /* A response without final chunked runs to the close (legal unless chunked is
         * misplaced); a request's length is then unknowable. */
        if (te == TE_BAD || !resp) m->anomalies |= A(BAD_TRANSFER_ENCODING);
        if (resp) return FP_HTTP_BODY_CLOSE;
        *fatal = 1;
        return FP_HTTP_BODY_NONE;
    }
    if (clrc) {
        m->anomalies |= clrc == -2 ? A(CONFLICTING_CONTENT_LENGTH) : A(BAD_CONTENT_LENGTH);
        *fatal = 1;
        return FP_HTTP_BODY_NONE;
    }
    if (cl.seen) {
        *length = cl.value;
        return FP_HTTP_BODY_LENGTH;
    }
    return resp ? FP_HTTP_BODY_CLOSE : FP_HTTP_BODY_NONE;
}

/* ---- bodies ------------------------------------------------------------------ */

typedef enum { BODY_DONE, BODY_SHORT, BODY_GAP, BODY_ERROR, BODY_OOM } body_rc;

static body_rc walk_rc_body(walk_rc w)
{
    return w == WALK_DONE ? BODY_DONE : w == WALK_SHORT ? BODY_SHORT : BODY_GAP;
}

/* Nothing more readable at `at`: a hole or the end of the data. */
static body_rc blocked(const dir_state *d) { return d->gi < d->n_gaps ? BODY_GAP : BODY_SHORT; }

/* chunk-size [BWS chunk-ext]: 0, -1 malformed, -2 too large. */
static int chunk_size(const uint8_t *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    int h;
    while (i < n && (h = hex_value(s[i])) >= 0) {
        if (v > MAX_LENGTH >> 4) return -2;
        v = v << 4 | (uint64_t)h;
        if (v > MAX_LENGTH) return -2;
        i++;
    }
    if (i == 0) return -1;
    while (i < n && is_ows(s[i])) i++;
    if (i < n && s[i] != ';') return -1;
    *out = v;
    return 0;
}

static body_rc read_trailers(ctx *c, dir_state *d, fp_http_stream_msg *m, size_t *at)
{
    size_t lim = head_limit(d, *at);
    field_list f = {c->r->n_headers, 0, 0, &m->anomalies};
    size_t end = read_fields(c, d->p, *at, lim, &f);
    if (end == (size_t)-1) return BODY_OOM;
    if (end == 0) {
        if (lim - *at >= FP_HTTP_STREAM_MAX_HEAD) {
            m->anomalies |= A(BAD_CHUNK);
            return BODY_ERROR;
        }
        return blocked(d);
    }
    m->trailer_first = f.first;
    m->trailer_count = f.count;
    *at = end;
    return BODY_DONE;
}

/* Decodes chunks from *at into r->decoded; *at ends where parsing stopped. */
static body_rc read_chunked(ctx *c, dir_state *d, fp_http_stream_msg *m, size_t *at)
{
    fp_http_stream_result *r = c->r;
    const uint8_t *p = d->p;
    for (;;) {
        size_t lim = gap_limit(d), eol, next;
        int bare;
        size_t line_lim = lim - *at > FP_HTTP_STREAM_MAX_CHUNK_LINE ? *at + FP_HTTP_STREAM_MAX_CHUNK_LINE : lim;
        next = next_line(p, *at, line_lim, &eol, &bare);
        if (next == 0) {
            if (line_lim < lim) {
                m->anomalies |= A(BAD_CHUNK);
                return BODY_ERROR;
            }
            return blocked(d);
        }
        if (bare) m->anomalies |= A(BARE_LF);
        uint64_t size;
        int rc = chunk_size(p + *at, eol - *at, &size);
        if (rc < 0) {
            m->anomalies |= rc == -2 ? A(CHUNK_SIZE_OVERFLOW) : A(BAD_CHUNK);
            return BODY_ERROR;
        }
        *at = next;
        if (size == 0) return read_trailers(c, d, m, at);
        size_t from = *at;
        walk_rc w = walk(d, at, size, &m->body_missing);
        size_t n = *at - from; /* present bytes are contiguous in the data */
        if (n) {
            if (reserve((void **)&r->decoded, &r->cap_decoded, r->n_decoded + n, 1)) return BODY_OOM;
            memcpy(r->decoded + r->n_decoded, p + from, n);
            r->n_decoded += n;
        }
        if (w != WALK_DONE) return walk_rc_body(w);
        lim = gap_limit(d);
        if (lim == *at) return blocked(d);
        if (p[*at] == '\n') {
            m->anomalies |= A(BARE_LF);
            *at += 1;
            continue;
        }
        if (p[*at] != '\r') {
            m->anomalies |= A(BAD_CHUNK);
            return BODY_ERROR;
        }
        if (lim - *at < 2) return blocked(d);
        if (p[*at + 1] != '\n') {
            m->anomalies |= A(BAD_CHUNK);
            return BODY_ERROR;
        }
        *at += 2;
    }
}

/* Reads m's body from `at`, sets the body fields and moves d past it (or stops d). */
static int read_body(ctx *c, dir_state *d, fp_http_stream_msg *m, size_t at, uint64_t length)
{
    body_rc rc = BODY_DONE;
    m->body = (fp_http_span){at, 0};
    switch ((fp_http_body_framing)m->framing) {
    case FP_HTTP_BODY_LENGTH:
        rc = walk_rc_body(walk(d, &at, length, &m->body_missing));
        m->body.len = at - m->body.off;
        break;
    case FP_HTTP_BODY_CLOSE:
        for (; d->gi < d->n_gaps; d->gi++) m->body_missing = add_sat(m->body_missing, d->gaps[d->gi].len);
        at = d->len;
        m->body.len = at - m->body.off;
        rc = d->closed ? BODY_DONE : BODY_SHORT;
        break;
    case FP_HTTP_BODY_CHUNKED:
        m->body = (fp_http_span){c->r->n_decoded, 0};
        m->body_decoded = 1;
        rc = read_chunked(c, d, m, &at);
        if (rc == BODY_OOM) return -1;
        m->body.len = c->r->n_decoded - m->body.off;
        break;
    default:
        break;
    }
    if (m->body_missing) m->anomalies |= A(GAP);
    m->body_complete = rc == BODY_DONE && m->body_missing == 0;
    d->pos = at;
    m->end = at;
    switch (rc) {
    case BODY_SHORT:
        if (d->closed) m->anomalies |= A(TRUNCATED);
        stop(d, FP_HTTP_STOP_INCOMPLETE);
        break;
    case BODY_GAP: /* framing lost in a hole: continue from it by scanning */
        m->anomalies |= A(GAP);
        d->out->skipped += gap_limit(d) - at;
        d->pos = gap_limit(d);
        break;
    case BODY_ERROR:
        stop(d, FP_HTTP_STOP_ERROR);
        break;
    default:
        if (m->framing == FP_HTTP_BODY_CLOSE) stop(d, FP_HTTP_STOP_END);
        break;
    }
    return 0;
}

/* ---- messages ----------------------------------------------------------------- */

/* Finds and parses the next head of d into a new message slot. Returns 1 with *body_start
 * set, or 0 when the direction stopped (or memory ran out: c->oom). */
static int next_head(ctx *c, dir_state *d, int is_response, size_t *body_start)
{
    fp_http_stream_result *r = c->r;
    for (;;) {
        if (d->stopped) return 0;
        size_t lim = gap_limit(d);
        while (d->pos < lim && (d->p[d->pos] == '\r' || d->p[d->pos] == '\n')) d->pos++;
        if (d->pos == d->len) {
            if (d->gi < d->n_gaps) d->out->anomalies |= A(GAP);
            stop(d, FP_HTTP_STOP_END);
            return 0;
        }
        if (d->pos == lim) {
            resync(d, is_response);
            continue;
        }
        if (d->count >= FP_HTTP_STREAM_MAX_MESSAGES) {
            d->out->anomalies |= A(TOO_MANY_MESSAGES);
            stop(d, FP_HTTP_STOP_LIMIT);
            return 0;
        }
        if (reserve((void **)&r->msgs, &r->cap_msgs, r->n_msgs + 1, sizeof *r->msgs)) {
            c->oom = 1;
            return 0;
        }
        fp_http_stream_msg *m = &r->msgs[r->n_msgs];
        memset(m, 0, sizeof *m);
        m->is_response = (uint8_t)is_response;
        m->peer = -1;
        m->start = d->pos;
        m->header_first = m->trailer_first = r->n_headers;
        switch (parse_head(c, d, is_response, m, body_start)) {
        case HEAD_OK:
            return 1;
        case HEAD_OOM:
            c->oom = 1;
            return 0;
        case HEAD_NEED_DATA:
            if (d->closed) d->out->anomalies |= A(TRUNCATED);
            if (d->gi < d->n_gaps) d->out->anomalies |= A(GAP);
            stop(d, FP_HTTP_STOP_INCOMPLETE);
            return 0;
        case HEAD_GAP: /* the head is cut by a hole: drop it, scan from the hole */
            r->n_headers = m->header_first;
            d->out->skipped += lim - d->pos;
            d->pos = lim;
            resync(d, is_response);
            continue;
        case HEAD_TOO_LARGE:
            d->out->anomalies |= A(HEAD_TOO_LARGE);
            stop(d, FP_HTTP_STOP_ERROR);
            return 0;
        case HEAD_BAD_START:
            d->out->anomalies |= A(BAD_START_LINE);
            stop(d, FP_HTTP_STOP_ERROR);
            return 0;
        }
    }
}

/* Parses d's next message; `req` is the request a response answers (-1 none).
 * Returns its index in r->msgs, or -1 when the direction stopped (or c->oom). */
static long next_message(ctx *c, dir_state *d, int is_response, long req, const uint8_t *req_data)
{
    fp_http_stream_result *r = c->r;
    int req_head = 0, req_connect = 0;
    if (req >= 0) {
        req_head = span_is(req_data, r->msgs[req].method, "HEAD");
        req_connect = span_is(req_data, r->msgs[req].method, "CONNECT");
    }
    size_t body_start;
    if (!next_head(c, d, is_response, &body_start)) return -1;
    fp_http_stream_msg *m = &r->msgs[r->n_msgs];
    int fatal = (m->anomalies & A(TOO_MANY_HEADERS)) != 0;
    uint64_t length = 0;
    head_view v = {r, m, d->p};
    m->framing = FP_HTTP_BODY_NONE;
    if (!fatal) m->framing = (uint8_t)decide_framing(&v, m, req_head, req_connect, &length, &fatal);
    m->interim = is_response && m->status < 200 && m->status != 101;
    m->index = d->count++;
    if (d->resynced) m->anomalies |= A(RESYNC);
    d->resynced = 0;
    if (read_body(c, d, m, body_start, length) < 0) {
        c->oom = 1;
        return -1;
    }
    if (fatal) {
        m->body_complete = 0;
        stop(d, FP_HTTP_STOP_ERROR);
    }
    return (long)r->n_msgs++;
}

/* ---- driver -------------------------------------------------------------------- */

static int gap_cmp(const void *a, const void *b)
{
    uint64_t x = ((const fp_http_gap *)a)->off, y = ((const fp_http_gap *)b)->off;
    return (x > y) - (x < y);
}

static const uint8_t empty_data[1];

static int dir_init(dir_state *d, const fp_http_stream_input *in, fp_http_stream_dir *out)
{
    memset(d, 0, sizeof *d);
    d->p = in->data ? in->data : empty_data;
    d->len = in->data ? in->len : 0;
    d->closed = in->closed;
    d->out = out;
    if (in->n_gaps == 0) return 0;
    if (in->n_gaps > SIZE_MAX / sizeof *d->gaps) return -1;
    d->gaps = malloc(in->n_gaps * sizeof *d->gaps);
    if (d->gaps == NULL) return -1;
    for (size_t i = 0; i < in->n_gaps; i++) {
        if (in->gaps[i].len == 0) continue;
        fp_http_gap g = in->gaps[i];
        if (g.off > d->len) g.off = d->len;
        d->gaps[d->n_gaps++] = g;
    }
    qsort(d->gaps, d->n_gaps, sizeof *d->gaps, gap_cmp);
    size_t n = 0; /* holes at one offset are one hole */
    for (size_t i = 0; i < d->n_gaps; i++) {
        if (n && d->gaps[n - 1].off == d->gaps[i].off) {
            d->gaps[n - 1].len = add_sat(d->gaps[n - 1].len, d->gaps[i].len);
        } else {
            d->gaps[n++] = d->gaps[i];
        }
    }
    d->n_gaps = n;
    return 0;
}

static int is_tunnel(const fp_http_stream_msg *rsp, const fp_http_stream_msg *req, const uint8_t *req_data)
{
    return rsp->status == 101 ||
           (rsp->status >= 200 && rsp->status < 300 && span_is(req_data, req->method, "CONNECT"));
}

int fp_http_stream_parse(const fp_http_stream_input *client, const fp_http_stream_input *server,
                         fp_http_stream_result *out)
{
    memset(out, 0, sizeof *out);
    ctx c = {out, 0};
    dir_state cl, sv;
    int rc = -1;
    cl.gaps = sv.gaps = NULL;
    if (dir_init(&cl, client, &out->dir[0]) || dir_init(&sv, server, &out->dir[1])) goto done;
    long pending = -1; /* the request awaiting its final response */
    for (;;) {
        if (pending < 0 && !cl.stopped) pending = next_message(&c, &cl, 0, -1, NULL);
        if (c.oom) goto done;
        if (sv.stopped) {
            if (cl.stopped) break;
            pending = -1; /* no more responses: keep reading requests */
            continue;
        }
        long s = next_message(&c, &sv, 1, pending, cl.p);
        if (c.oom) goto done;
        if (s < 0) continue;
        fp_http_stream_msg *rsp = &out->msgs[s];
        if (pending < 0) {
            rsp->anomalies |= A(UNSOLICITED);
            continue;
        }
        rsp->peer = pending;
        if (rsp->interim) continue;
        out->msgs[pending].peer = s;
        if (is_tunnel(rsp, &out->msgs[pending], cl.p)) {
            stop(&cl, FP_HTTP_STOP_TUNNEL);
            stop(&sv, FP_HTTP_STOP_TUNNEL);
        }
        pending = -1;
    }
    rc = 0;
done:
    free(cl.gaps);
    free(sv.gaps);
    if (rc < 0) fp_http_stream_result_free(out);
    return rc;
}

void fp_http_stream_result_free(fp_http_stream_result *r)
{
    free(r->msgs);
    free(r->headers);
    free(r->decoded);
    memset(r, 0, sizeof *r);
}

long fp_http_stream_find_header(const fp_http_stream_result *r, const fp_http_stream_msg *m,
                                const uint8_t *data, const char *name)
{
    for (size_t k = 0; k < m->header_count; k++) {
        const fp_http_header *h = &r->headers[m->header_first + k];
        if (equal_ci(data + h->name.off, h->name.len, name)) return (long)(m->header_first + k);
    }
    return -1;
}

size_t fp_http_stream_unfold(const uint8_t *src, size_t src_len, uint8_t *out)
{
    size_t n = 0, i = 0;
    while (i < src_len) {
        if (src[i] != '\r' && src[i] != '\n') {
            out[n++] = src[i++];
            continue;
        }
        while (n && is_ows(out[n - 1])) n--;
        while (i < src_len && is_list_ws(src[i])) i++;
        out[n++] = ' ';
    }
    return n;
}
