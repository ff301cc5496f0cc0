/* HTTP/1.x messages in one TCP segment (RFC 9112): request line (section 3),
 * status line (section 4), field lines (section 5: name ":" OWS value OWS, no
 * whitespace before the colon, obs-fold rejected). Lines end in CRLF; a bare LF
 * is accepted as section 2.2 allows. Detection is by the start of the payload
 * only (known method + SP, or "HTTP/1."), on any port. */
#include <string.h>

#include "cursor.h"
#include "dissect.h"
#include "fields.h"

static const struct {
    const char *name;
    uint32_t len;
} methods[] = {{"GET", 3},     {"POST", 4},  {"HEAD", 4},    {"PUT", 3},   {"DELETE", 6},
               {"OPTIONS", 7}, {"PATCH", 5}, {"CONNECT", 7}, {"TRACE", 5}};

int fp_http_plausible(const uint8_t *p, uint32_t len)
{
    if (len >= 7 && memcmp(p, "HTTP/1.", 7) == 0)
        return 1;
    if (len < 4 || p[0] < 'C' || p[0] > 'T') /* quick reject: C D G H O P T */
        return 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        uint32_t n = methods[i].len;
        if (len > n && p[n] == ' ' && memcmp(p, methods[i].name, n) == 0)
            return 1;
    }
    return 0;
}

/* tchar of RFC 9110 section 5.6.2 */
static int is_tchar(uint8_t ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int is_digit(uint8_t ch) { return ch >= '0' && ch <= '9'; }

/* "HTTP/" DIGIT "." DIGIT at p[at..]; returns 8 (its length) or -1. */
static int http_version(const uint8_t *p, uint32_t len, uint32_t at)
{
    if (len - at < 8 || memcmp(p + at, "HTTP/", 5) != 0 || !is_digit(p[at + 5]) ||
        p[at + 6] != '.' || !is_digit(p[at + 7]))
        return -1;
    return 8;
}

static fp_slice slice(uint32_t base, uint32_t from, uint32_t to)
{
    fp_slice s = {base + from, to - from};
    return s;
}

/* Start line within p[0..eol) (CR already stripped). base: record offset of p. */
static int parse_request_line(const uint8_t *p, uint32_t eol, uint32_t base, fp_http_message *m)
{
    uint32_t i = 0;
    while (i < eol && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= eol || p[i] != ' ')
        return -1;
    m->method = slice(base, 0, i);
    uint32_t u = ++i;
    while (i < eol && p[i] > 0x20 && p[i] != 0x7f)
        i++;
    if (i == u || i >= eol || p[i] != ' ')
        return -1;
    m->uri = slice(base, u, i);
    i++;
    if (http_version(p, eol, i) < 0 || i + 8 != eol)
        return -1;
    m->version = slice(base, i, eol);
    m->is_request = 1;
    return 0;
}

static int parse_status_line(const uint8_t *p, uint32_t eol, uint32_t base, fp_http_message *m)
{
    if (http_version(p, eol, 0) < 0 || eol < 12 || p[8] != ' ' || !is_digit(p[9]) ||
        !is_digit(p[10]) || !is_digit(p[11]))
        return -1;
    if (eol > 12 && p[12] != ' ') /* reason phrase may be empty, SP is still expected */
        return -1;
    m->version = slice(base, 0, 8);
    m->status_code = slice(base, 9, 12);
    m->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    m->reason = slice(base, eol > 12 ? 13 : 12, eol);
    return 0;
}

/* Next line in p[pos..len): sets *eol (before CR LF / LF) and returns the offset
 * after the LF, or 0 when no LF is in the segment. */
static uint32_t next_line(const uint8_t *p, uint32_t len, uint32_t pos, uint32_t *eol)
{
    const uint8_t *lf = memchr(p + pos, '\n', len - pos);
    if (lf == NULL)
        return 0;
    uint32_t e = (uint32_t)(lf - p);
    *eol = (e > pos && p[e - 1] == '\r') ? e - 1 : e;
    return e + 1;
}

static int parse_start(const uint8_t *p, uint32_t len, uint32_t base, fp_http_message *m,
                       uint32_t *after)
{
    uint32_t eol;
    *after = next_line(p, len, 0, &eol);
    if (*after == 0)
        return 1; /* start line continues in a later segment */
    if (eol >= 5 && memcmp(p, "HTTP/", 5) == 0)
        return parse_status_line(p, eol, base, m);
    return parse_request_line(p, eol, base, m);
}

int fp_http_start_line_ok(const uint8_t *p, uint32_t len)
{
    fp_http_message m;
    uint32_t after;
    return parse_start(p, len, 0, &m, &after) >= 0;
}

static int is_ows(uint8_t ch) { return ch == ' ' || ch == '\t'; }

/* One field line p[pos..eol): stores name/value or flags the message malformed. */
static void parse_field(const uint8_t *p, uint32_t pos, uint32_t eol, uint32_t base,
                        fp_http_message *m)
{
    uint32_t i = pos;
    while (i < eol && is_tchar(p[i]))
        i++;
    if (i == pos || i >= eol || p[i] != ':') { /* obs-fold, space before ':', no colon */
        m->malformed = 1;
        return;
    }
    uint32_t v = i + 1, ve = eol;
    while (v < ve && is_ows(p[v]))
        v++;
    while (ve > v && is_ows(p[ve - 1]))
        ve--;
    if (m->header_count == FP_HTTP_MAX_HEADERS)
        return;
    m->header_name[m->header_count] = slice(base, pos, i);
    m->header_value[m->header_count] = slice(base, v, ve);
    m->header_count++;
}

int fp_http_parse(const uint8_t *data, const fp_dissection *d, fp_http_message *m)
{
    if (!FP_HAS(d, FP_L_TCP))
        return -1;
    const fp_span *s = &d->layer[FP_L_TCP];
    uint32_t base = s->off + s->hlen;
    if (base >= s->end)
        return -1;
    fp_cursor c = fp_cursor_make(data, s->end);
    c.ptr += base;
    const uint8_t *p = c.ptr;
    uint32_t len = (uint32_t)fp_cur_left(&c);
    memset(m, 0, offsetof(fp_http_message, header_name));
    m->headers_complete = 0;
    m->body_off = 0;
    m->malformed = 0;
    uint32_t pos;
    if (parse_start(p, len, base, m, &pos) != 0)
        return -1;
    uint32_t eol, next;
    while ((next = next_line(p, len, pos, &eol)) != 0) {
        if (eol == pos) { /* empty line: end of the field section */
            m->headers_complete = 1;
            m->body_off = base + next;
            break;
        }
        parse_field(p, pos, eol, base, m);
        pos = next;
    }
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

static int slice_value(const fp_field_ctx *x, fp_slice s, fp_field_value *v)
{
    v->u = 0;
    v->p = x->data + s.off;
    v->len = s.len;
    return 1;
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int header_is(const fp_field_ctx *x, fp_slice name, const char *want)
{
    size_t n = strlen(want);
    if (name.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(x->data[name.off + i]) != lower((uint8_t)want[i]))
            return 0;
    return 1;
}

static int http_start_value(const fp_field *f, const fp_field_ctx *x, const fp_http_message *m,
                            fp_field_value *v)
{
    int req = m->is_request;
    v->p = NULL;
    v->len = 0;
    switch (f->arg) {
    case H_REQUEST: v->u = 1; return req;
    case H_RESPONSE: v->u = 1; return !req;
    case H_METHOD: return req && slice_value(x, m->method, v);
    case H_URI: return req && slice_value(x, m->uri, v);
    case H_REQ_VERSION: return req && slice_value(x, m->version, v);
    case H_RESP_VERSION: return !req && slice_value(x, m->version, v);
    case H_CODE: v->u = (uint64_t)m->status; return !req;
    case H_PHRASE: return !req && slice_value(x, m->reason, v);
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
    for (int i = 0; i < m.header_count; i++) {
        if (!header_is(x, m.header_name[i], want))
            continue;
        slice_value(x, m.header_value[i], &v);
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
