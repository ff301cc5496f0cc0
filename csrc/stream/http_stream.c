/* HTTP/1.x over the reassembled bytes of a TCP connection, RFC 9112:
 *   section 2.2  empty lines before a start line are skipped; a bare LF ends a line (flagged)
 *   sections 3-5 start lines and field lines: the head parser of dissect/http.c
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
_Static_assert((int)FP_HTTP_STREAM_BIT_HEAD_TOO_LARGE == (int)FP_HTTP_BIT_HEAD_TOO_LARGE,
               "a head parser's anomaly bits are the stream's");
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

/* ---- head ------------------------------------------------------------------ */

typedef enum { HEAD_OK, HEAD_NEED_DATA, HEAD_GAP, HEAD_TOO_LARGE, HEAD_BAD_START, HEAD_OOM } head_rc;

/* Room for one more section's fields at the end of r->headers; NULL when out of memory. */
static fp_http_header *field_room(ctx *c)
{
    fp_http_stream_result *r = c->r;
    if (reserve((void **)&r->headers, &r->cap_headers, r->n_headers + FP_HTTP_MAX_HEADERS,
                sizeof *r->headers)) {
        c->oom = 1;
        return NULL;
    }
    return r->headers + r->n_headers;
}

/* Start line and fields at d->pos (which precedes any hole). */
static head_rc parse_head(ctx *c, dir_state *d, int is_response, fp_http_stream_msg *m,
                          size_t *body_start)
{
    fp_http_fields f = {field_room(c), 0, 0, 0};
    if (f.fields == NULL) return HEAD_OOM;
    fp_http_start_line s;
    size_t lim = gap_limit(d);
    fp_http_head_rc rc = fp_http_parse_head(d->p, d->pos, lim,
                                            is_response ? FP_HTTP_START_RESPONSE : FP_HTTP_START_REQUEST,
                                            &s, &f, body_start);
    switch (rc) {
    case FP_HTTP_HEAD_BAD_START: return HEAD_BAD_START;
    case FP_HTTP_HEAD_TOO_LARGE: return HEAD_TOO_LARGE;
    case FP_HTTP_HEAD_SHORT: return lim < d->len ? HEAD_GAP : HEAD_NEED_DATA;
    case FP_HTTP_HEAD_OK: break;
    }
    m->status = s.status;
    m->method = s.method;
    m->target = s.target;
    m->version = s.version;
    m->reason = s.reason;
    m->anomalies |= f.anomalies;
    m->header_first = c->r->n_headers;
    m->header_count = f.count;
    c->r->n_headers += f.count;
    return HEAD_OK;
}

/* ---- resynchronisation ---------------------------------------------------- */

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
    fp_http_start_line m;
    if (eol - at >= FP_HTTP_MAX_HEAD) return 0;
    if (fp_http_parse_start_line(d->p, at, eol, is_response ? FP_HTTP_START_RESPONSE : FP_HTTP_START_REQUEST,
                                 &m))
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
    size_t first = eol - ls >= FP_HTTP_MAX_HEAD ? eol - FP_HTTP_MAX_HEAD + 1 : ls;
    for (size_t c = first; c < version; c++)
        if (fp_http_known_method(d->p + c, version - c) && strict_start(d, c, eol, 0)) return c;
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
        if (!fp_http_equal_ci(v->p + h->name.off, h->name.len, name)) continue;
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
    st->last_chunked = fp_http_equal_ci(s, n, "chunked");
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
    fp_http_fields f = {field_room(c), 0, 0, 0};
    if (f.fields == NULL) return BODY_OOM;
    size_t end;
    fp_http_head_rc rc = fp_http_parse_fields(d->p, *at, gap_limit(d), &f, &end);
    m->anomalies |= f.anomalies;
    if (rc == FP_HTTP_HEAD_TOO_LARGE) {
        m->anomalies |= A(BAD_CHUNK);
        return BODY_ERROR;
    }
    if (rc != FP_HTTP_HEAD_OK) return blocked(d);
    m->trailer_first = c->r->n_headers;
    m->trailer_count = f.count;
    c->r->n_headers += f.count;
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
        next = fp_http_next_line(p, *at, line_lim, &eol, &bare);
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
    long k = fp_http_find_field(data, r->headers + m->header_first, m->header_count, name);
    return k < 0 ? -1 : (long)m->header_first + k;
}
