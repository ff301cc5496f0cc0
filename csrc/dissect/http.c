/* HTTP/1.x (RFC 9112): the message-head parser shared by the per-packet view and the
 * stream engine, and the per-packet view itself.
 *   section 2.2  a bare LF ends a line (flagged)
 *   sections 3-4 request line, status line (status 100-599 range per RFC 9110 section 15)
 *   section 5    field lines: name ":" OWS value OWS; whitespace before the colon is
 *                flagged and removed (5.1, as a proxy must); obs-fold (5.2) kept, flagged,
 *                unfolded on output
 * Per-packet detection is by the start of the payload only (known method + SP, or
 * "HTTP/1."), on any port; the view parses the head of that one segment. */
#include "http.h"

#include <string.h>

#include "cursor.h"
#include "dissect.h"
#include "fields.h"

static const struct {
    const char *name;
    uint32_t len;
} methods[] = {{"GET", 3},     {"POST", 4},  {"HEAD", 4},    {"PUT", 3},   {"DELETE", 6},
               {"OPTIONS", 7}, {"PATCH", 5}, {"CONNECT", 7}, {"TRACE", 5}};

size_t fp_http_known_method(const uint8_t *p, size_t n)
{
    if (n < 4 || p[0] < 'C' || p[0] > 'T') /* quick reject: C D G H O P T */
        return 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t k = methods[i].len;
        if (n > k && p[k] == ' ' && memcmp(p, methods[i].name, k) == 0)
            return k;
    }
    return 0;
}

int fp_http_plausible(const uint8_t *p, uint32_t len)
{
    /* every TCP payload that is not TLS comes here: its first byte rejects most without a call */
    if (len >= 7 && p[0] == 'H' && memcmp(p, "HTTP/1.", 7) == 0)
        return 1;
    return fp_http_known_method(p, len) != 0;
}

/* tchar of RFC 9110 section 5.6.2: ALPHA DIGIT and these */
#define TCHAR_PUNCT(X) X('!') X('#') X('$') X('%') X('&') X('\'') X('*') X('+') X('-') X('.') X('^') \
    X('_') X('`') X('|') X('~')
#define TCHAR_RANGE(lo, hi) [lo... hi] = 1
#define TCHAR_ONE(c) [c] = 1,
static const uint8_t tchar[256] = {TCHAR_RANGE('0', '9'), TCHAR_RANGE('A', 'Z'), TCHAR_RANGE('a', 'z'),
                                   TCHAR_PUNCT(TCHAR_ONE)};

static int is_tchar(uint8_t ch) { return tchar[ch]; }

static int is_digit(uint8_t ch) { return ch >= '0' && ch <= '9'; }
static int is_ows(uint8_t ch) { return ch == ' ' || ch == '\t'; }

/* ---- start lines ---------------------------------------------------------- */

/* "HTTP/" DIGIT "." DIGIT: the caller checked that 8 bytes are there. */
static int version_ok(const uint8_t *s)
{
    return memcmp(s, "HTTP/", 5) == 0 && is_digit(s[5]) && s[6] == '.' && is_digit(s[7]);
}

static int parse_request_line(const uint8_t *p, size_t at, size_t eol, fp_http_start_line *s)
{
    size_t i = at;
    while (i < eol && is_tchar(p[i]))
        i++;
    if (i == at || i >= eol || p[i] != ' ')
        return -1;
    s->method = (fp_http_span){at, i - at};
    size_t t = ++i;
    while (i < eol && p[i] > 0x20 && p[i] != 0x7f)
        i++;
    if (i == t || i >= eol || p[i] != ' ')
        return -1;
    s->target = (fp_http_span){t, i - t};
    i++;
    if (eol - i != 8 || !version_ok(p + i))
        return -1;
    s->version = (fp_http_span){i, 8};
    s->is_response = 0;
    return 0;
}

/* HTTP-version SP 3DIGIT [SP reason]: a missing SP before an empty reason is tolerated. */
static int parse_status_line(const uint8_t *p, size_t at, size_t eol, fp_http_start_line *s)
{
    const uint8_t *l = p + at;
    size_t n = eol - at;
    if (n < 12 || !version_ok(l) || l[8] != ' ' || !is_digit(l[9]) || !is_digit(l[10]) ||
        !is_digit(l[11]))
        return -1;
    if (n > 12 && l[12] != ' ')
        return -1;
    int status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (status < 100)
        return -1;
    s->is_response = 1;
    s->status = (uint16_t)status;
    s->version = (fp_http_span){at, 8};
    s->reason = n > 12 ? (fp_http_span){at + 13, n - 13} : (fp_http_span){eol, 0};
    return 0;
}

static int is_status_line(const uint8_t *p, size_t at, size_t eol, fp_http_start_kind kind)
{
    if (kind != FP_HTTP_START_ANY)
        return kind == FP_HTTP_START_RESPONSE;
    return eol - at >= 5 && memcmp(p + at, "HTTP/", 5) == 0;
}

int fp_http_parse_start_line(const uint8_t *p, size_t at, size_t eol, fp_http_start_kind kind,
                             fp_http_start_line *s)
{
    memset(s, 0, sizeof *s);
    return is_status_line(p, at, eol, kind) ? parse_status_line(p, at, eol, s)
                                            : parse_request_line(p, at, eol, s);
}

/* Cheap rejection of bytes that cannot begin a start line, before looking for a LF. */
static int start_prefix_ok(const uint8_t *s, size_t n, fp_http_start_kind kind)
{
    if (kind == FP_HTTP_START_RESPONSE)
        return memcmp(s, "HTTP/", n < 5 ? n : 5) == 0;
    return is_tchar(s[0]);
}

/* ---- field lines ------------------------------------------------------------ */

static fp_http_span trim_ows(const uint8_t *p, size_t v, size_t ve)
{
    while (v < ve && is_ows(p[v]))
        v++;
    while (ve > v && is_ows(p[ve - 1]))
        ve--;
    return (fp_http_span){v, ve - v};
}

/* A line starting with whitespace continues the previous kept field's value. */
static void add_fold(const uint8_t *p, size_t at, size_t eol, fp_http_fields *f)
{
    if (!f->prev_kept) {
        f->anomalies |= FP_HTTP_A(BAD_HEADER);
        return;
    }
    f->anomalies |= FP_HTTP_A(OBS_FOLD);
    fp_http_span v = trim_ows(p, at, eol);
    fp_http_header *h = &f->fields[f->count - 1];
    if (v.len == 0)
        return;
    if (h->value.len == 0) {
        h->value = v;
    } else {
        h->value.len = v.off + v.len - h->value.off;
        h->folded = 1;
    }
}

static void add_field(const uint8_t *p, size_t at, size_t eol, fp_http_fields *f)
{
    if (is_ows(p[at])) {
        add_fold(p, at, eol, f);
        return;
    }
    f->prev_kept = 0;
    size_t i = at;
    while (i < eol && is_tchar(p[i]))
        i++;
    size_t name_end = i;
    while (i < eol && is_ows(p[i]))
        i++;
    if (name_end == at || i >= eol || p[i] != ':') {
        f->anomalies |= FP_HTTP_A(BAD_HEADER);
        return;
    }
    if (i != name_end)
        f->anomalies |= FP_HTTP_A(BAD_HEADER); /* whitespace before the colon */
    if (f->count == FP_HTTP_MAX_HEADERS) {
        f->anomalies |= FP_HTTP_A(TOO_MANY_HEADERS);
        return;
    }
    fp_http_span v = trim_ows(p, i + 1, eol);
    if (v.len && (memchr(p + v.off, 0, v.len) || memchr(p + v.off, '\r', v.len)))
        f->anomalies |= FP_HTTP_A(BAD_HEADER); /* RFC 9110 section 5.5: NUL and bare CR */
    f->fields[f->count++] = (fp_http_header){{at, name_end - at}, v, 0};
    f->prev_kept = 1;
}

static size_t head_window(size_t at, size_t lim)
{
    return lim - at > FP_HTTP_MAX_HEAD ? at + FP_HTTP_MAX_HEAD : lim;
}

fp_http_head_rc fp_http_parse_fields(const uint8_t *p, size_t at, size_t lim, fp_http_fields *f,
                                     size_t *end)
{
    size_t eol, next, from = at, win = head_window(at, lim);
    int bare;
    *end = at;
    while ((next = fp_http_next_line(p, at, win, &eol, &bare)) != 0) {
        if (bare)
            f->anomalies |= FP_HTTP_A(BARE_LF);
        *end = next;
        if (eol == at)
            return FP_HTTP_HEAD_OK;
        add_field(p, at, eol, f);
        at = next;
    }
    return win - from >= FP_HTTP_MAX_HEAD ? FP_HTTP_HEAD_TOO_LARGE : FP_HTTP_HEAD_SHORT;
}

fp_http_head_rc fp_http_parse_head(const uint8_t *p, size_t at, size_t lim, fp_http_start_kind kind,
                                   fp_http_start_line *s, fp_http_fields *f, size_t *end)
{
    size_t eol, next, win = head_window(at, lim);
    int bare;
    *end = at;
    if (at < lim && !start_prefix_ok(p + at, lim - at, kind))
        return FP_HTTP_HEAD_BAD_START;
    next = fp_http_next_line(p, at, win, &eol, &bare);
    if (next == 0)
        return win - at >= FP_HTTP_MAX_HEAD ? FP_HTTP_HEAD_TOO_LARGE : FP_HTTP_HEAD_SHORT;
    if (fp_http_parse_start_line(p, at, eol, kind, s) < 0)
        return FP_HTTP_HEAD_BAD_START;
    if (bare)
        f->anomalies |= FP_HTTP_A(BARE_LF);
    fp_http_head_rc rc = fp_http_parse_fields(p, next, win, f, end);
    if (rc == FP_HTTP_HEAD_SHORT && win - at >= FP_HTTP_MAX_HEAD)
        return FP_HTTP_HEAD_TOO_LARGE; /* the window counts from the start line */
    return rc;
}

static int ascii_lower(uint8_t ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

int fp_http_equal_ci(const uint8_t *p, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(p[i]) != ascii_lower((uint8_t)lit[i]))
            return 0;
    return 1;
}

long fp_http_find_field(const uint8_t *p, const fp_http_header *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (fp_http_equal_ci(p + fields[i].name.off, fields[i].name.len, name))
            return (long)i;
    return -1;
}

size_t fp_http_unfold(const uint8_t *src, size_t src_len, uint8_t *out)
{
    size_t n = 0, i = 0;
    while (i < src_len) {
        if (src[i] != '\r' && src[i] != '\n') {
            out[n++] = src[i++];
            continue;
        }
        while (n && is_ows(out[n - 1]))
            n--;
        while (i < src_len && (is_ows(src[i]) || src[i] == '\r' || src[i] == '\n'))
            i++;
        out[n++] = ' ';
    }
    return n;
}

const uint8_t *fp_http_value(const uint8_t *data, const fp_http_header *h, uint8_t *out,
                             size_t cap, size_t *len)
{
    if (!h->folded) {
        *len = h->value.len;
        return data + h->value.off;
    }
    *len = fp_http_unfold(data + h->value.off, h->value.len < cap ? h->value.len : cap, out);
    return out;
}

/* ---- the per-packet view -------------------------------------------------------- */

int fp_http_start_line_ok(const uint8_t *p, uint32_t len)
{
    size_t eol;
    int bare;
    fp_http_start_line s;
    if (fp_http_next_line(p, 0, head_window(0, len), &eol, &bare) == 0)
        return 1; /* the start line continues in a later segment */
    return fp_http_parse_start_line(p, 0, eol, FP_HTTP_START_ANY, &s) == 0;
}

int fp_http_parse(const uint8_t *data, const fp_dissection *d, fp_http_message *m)
{
    m->header_count = 0;
    m->anomalies = 0;
    m->headers_complete = 0;
    m->body_off = 0;
    if (!FP_HAS(d, FP_L_TCP))
        return -1;
    const fp_span *s = &d->layer[FP_L_TCP];
    uint32_t base = s->off + s->hlen;
    if (base >= s->end)
        return -1;
    fp_http_fields f = {m->headers, 0, 0, 0};
    size_t end;
    fp_http_head_rc rc = fp_http_parse_head(data, base, s->end, FP_HTTP_START_ANY, &m->start, &f, &end);
    if (rc == FP_HTTP_HEAD_BAD_START || end == base)
        return -1; /* not a start line, or it continues in a later segment */
    if (rc == FP_HTTP_HEAD_TOO_LARGE)
        f.anomalies |= FP_HTTP_A(HEAD_TOO_LARGE);
    m->header_count = f.count;
    m->anomalies = f.anomalies;
    m->headers_complete = rc == FP_HTTP_HEAD_OK;
    if (m->headers_complete)
        m->body_off = (uint32_t)end;
    return 0;
}

/* ---- Fields (Wireshark's http, one segment) ----------------------------- */

enum { H_REQUEST, H_RESPONSE, H_METHOD, H_URI, H_REQ_VERSION, H_RESP_VERSION, H_CODE,
       H_PHRASE, H_HEADER };

/* Header fields Wireshark names, by header (RFC 9110 field names, case-insensitive). */
static const char *const header_names[] = {
    "Host", "User-Agent", "Content-Type", "Content-Length", "Server", "Referer", "Cookie",
    "Location", "Connection", "Accept", "Accept-Encoding", "Accept-Language",
    "Transfer-Encoding", "Set-Cookie",
};

static int slice_value(const fp_field_ctx *x, fp_http_span s, fp_field_value *v)
{
    v->u = 0;
    v->p = x->data + s.off;
    v->len = s.len;
    return 1;
}

static int http_start_value(const fp_field *f, const fp_field_ctx *x, const fp_http_message *m,
                            fp_field_value *v)
{
    const fp_http_start_line *s = &m->start;
    int req = !s->is_response;
    v->p = NULL;
    v->len = 0;
    switch (f->arg) {
    case H_REQUEST: v->u = 1; return req;
    case H_RESPONSE: v->u = 1; return !req;
    case H_METHOD: return req && slice_value(x, s->method, v);
    case H_URI: return req && slice_value(x, s->target, v);
    case H_REQ_VERSION: return req && slice_value(x, s->version, v);
    case H_RESP_VERSION: return !req && slice_value(x, s->version, v);
    case H_CODE: v->u = s->status; return !req;
    case H_PHRASE: return !req && slice_value(x, s->reason, v);
    default: return 0;
    }
}

/* Content-Length as a number (http.content_length): digits only, at most 2^64-1. */
static int decimal(const uint8_t *p, uint32_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0)
        return 0;
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || n > (UINT64_MAX - 9) / 10)
            return 0;
        n = n * 10 + (p[i] - '0');
    }
    *out = n;
    return 1;
}

static int http_field(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    fp_http_message m;
    if (!FP_HAS(x->d, FP_L_HTTP) || fp_http_parse(x->data, x->d, &m) != 0)
        return 0;
    fp_field_value v;
    if (f->arg < H_HEADER) {
        if (!http_start_value(f, x, &m, &v))
            return 0;
        visit(arg, &v);
        return 1;
    }
    int n = 0;
    const char *want = header_names[f->arg - H_HEADER];
    for (size_t i = 0; i < m.header_count; i++) {
        if (!fp_http_equal_ci(x->data + m.headers[i].name.off, m.headers[i].name.len, want))
            continue;
        size_t len;
        v.u = 0;
        v.p = fp_http_value(x->data, &m.headers[i], (uint8_t *)x->text, sizeof x->text, &len);
        v.len = (uint32_t)len;
        if (f->type == FP_FT_UINT && !decimal(v.p, v.len, &v.u))
            continue;
        n++;
        if (visit(arg, &v))
            break;
    }
    return n;
}

#define HTTP_FIELD(name, type, bits, which) {name, type, bits, FP_L_HTTP, which, 0, 0, http_field}
#define HTTP_HEADER(name, index) HTTP_FIELD(name, FP_FT_STRING, 0, H_HEADER + index)
static const fp_field http_fields[] = {
    FP_FIELD_PROTO("http", FP_L_HTTP),
    HTTP_FIELD("http.request", FP_FT_BOOL, 8, H_REQUEST),
    HTTP_FIELD("http.response", FP_FT_BOOL, 8, H_RESPONSE),
    HTTP_FIELD("http.request.method", FP_FT_STRING, 0, H_METHOD),
    HTTP_FIELD("http.request.uri", FP_FT_STRING, 0, H_URI),
    HTTP_FIELD("http.request.version", FP_FT_STRING, 0, H_REQ_VERSION),
    HTTP_FIELD("http.response.version", FP_FT_STRING, 0, H_RESP_VERSION),
    HTTP_FIELD("http.response.code", FP_FT_UINT, 16, H_CODE),
    HTTP_FIELD("http.response.phrase", FP_FT_STRING, 0, H_PHRASE),
    HTTP_HEADER("http.host", 0),
    HTTP_HEADER("http.user_agent", 1),
    HTTP_HEADER("http.content_type", 2),
    HTTP_HEADER("http.content_length_header", 3),
    HTTP_FIELD("http.content_length", FP_FT_UINT, 64, H_HEADER + 3),
    HTTP_HEADER("http.server", 4),
    HTTP_HEADER("http.referer", 5),
    HTTP_HEADER("http.cookie", 6),
    HTTP_HEADER("http.location", 7),
    HTTP_HEADER("http.connection", 8),
    HTTP_HEADER("http.accept", 9),
    HTTP_HEADER("http.accept_encoding", 10),
    HTTP_HEADER("http.accept_language", 11),
    HTTP_HEADER("http.transfer_encoding", 12),
    HTTP_HEADER("http.set_cookie", 13),
};
FP_FIELD_TABLE(fp_fields_http, "http", http_fields);
