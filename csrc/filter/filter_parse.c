/* Display filter compiler: lexer and recursive-descent parser (wireshark-filter(4):
 * `not` binds tighter than `and`, `and` tighter than `or`), literals converted to the
 * kind of the field they meet, errors worded as tshark 4.0 words them, with the column. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_impl.h"

#define MAX_DEPTH 200 /* nesting of parentheses and `not`: the parser recurses */

enum {
    T_EOF, T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_LBRACKET, T_COMMA, T_DOTDOT, T_AMP,
    T_AND, T_OR, T_NOT, T_REL, T_CONTAINS, T_MATCHES, T_IN, T_ANY, T_ALL,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
    T_REF,    /* ${field}: the name at off, slen in the expression */
    T_STRING, /* quoted: decoded bytes in the pool */
    T_CHAR,   /* 'c': value in u */
    T_WORD,   /* fields, numbers, addresses, byte strings, keywords not listed above */
    T_OTHER,  /* a character no token starts with */
};

typedef struct {
    int type;
    int col, len;      /* in the expression */
    int rel, quant;    /* T_REL */
    uint32_t off, slen; /* T_STRING: pool bytes */
    uint64_t u;        /* T_CHAR */
} token;

typedef struct {
    const char *expr;
    int pos;
    token tok;
    fp_filter *f;
    fp_filter_error *err;
    int failed, depth;
} parser;

static int fail_at(parser *p, int col, int len, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    p->err->column = col;
    p->err->length = len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_tok(parser *p, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    char msg[sizeof p->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail_at(p, p->tok.col, p->tok.len, "%s", msg);
}

static int unexpected(parser *p)
{
    if (p->tok.type == T_EOF)
        return fail_at(p, p->tok.col, 0, "Unexpected end of filter expression.");
    return fail_tok(p, "\"%.*s\" was unexpected in this context.", p->tok.len, p->expr + p->tok.col);
}

/* ---- pool, literals, nodes ------------------------------------------------ */

static int grow(void **buf, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    int n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *b = realloc(*buf, (size_t)n * size);
    if (b == NULL)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

static int pool_add(parser *p, const void *data, uint32_t len, uint32_t *off)
{
    fp_filter *f = p->f;
    if (f->pool_len + len > f->pool_cap) {
        uint32_t cap = f->pool_cap ? f->pool_cap : 64;
        while (cap < f->pool_len + len)
            cap *= 2;
        uint8_t *b = realloc(f->pool, cap);
        if (b == NULL)
            return fail_at(p, 0, 0, "out of memory");
        f->pool = b;
        f->pool_cap = cap;
    }
    if (len)
        memcpy(f->pool + f->pool_len, data, len);
    *off = f->pool_len;
    f->pool_len += len;
    return 0;
}

static int lit_new(parser *p)
{
    fp_filter *f = p->f;
    if (grow((void **)&f->lits, &f->cap_lits, f->n_lits + 1, sizeof *f->lits) < 0)
        return fail_at(p, 0, 0, "out of memory");
    fp_literal *l = &f->lits[f->n_lits];
    memset(l, 0, sizeof *l);
    l->prefix = -1;
    return f->n_lits++;
}

static int node_new(parser *p, int type)
{
    fp_filter *f = p->f;
    if (grow((void **)&f->nodes, &f->cap_nodes, f->n_nodes + 1, sizeof *f->nodes) < 0)
        return fail_at(p, 0, 0, "out of memory");
    fp_node *n = &f->nodes[f->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = (uint8_t)type;
    n->lit = -1;
    return f->n_nodes++;
}

/* ---- lexer -------------------------------------------------------------------- */

static int word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-' || c == '/';
}

/* 1 when s[0..n) is a registry name. */
static int name_ends_at(const char *s, int n)
{
    char buf[128];
    if (n <= 0 || n >= (int)sizeof buf)
        return 0;
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    return fp_field_lookup(buf) != NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int put_utf8(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { out[0] = (uint8_t)(0xC0 | cp >> 6); out[1] = (uint8_t)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        out[2] = (uint8_t)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
    out[3] = (uint8_t)(0x80 | (cp & 63));
    return 4;
}

/* One escape after a backslash at s[*i] (pointing past the backslash); -1 if invalid. */
static int unescape(const char *s, int *i, uint8_t *out)
{
    if (s[*i] == '\0')
        return -1; /* never step past the terminator */
    char c = s[(*i)++];
    switch (c) {
    case '\'': case '"': case '\\': out[0] = (uint8_t)c; return 1;
    case 'a': out[0] = '\a'; return 1;
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'v': out[0] = '\v'; return 1;
    case 'x': {
        int h = hexval(s[*i]), l = h < 0 ? -1 : hexval(s[*i + 1]);
        if (h < 0) return -1;
        if (l < 0) { (*i)++; out[0] = (uint8_t)h; return 1; }
        *i += 2;
        out[0] = (uint8_t)(h * 16 + l);
        return 1;
    }
    case 'u': case 'U': {
        int n = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < n; k++) {
            int h = hexval(s[*i + k]);
            if (h < 0) return -1;
            cp = cp * 16 + (uint32_t)h;
        }
        if (cp > 0x10FFFF) return -1;
        *i += n;
        return put_utf8(out, cp);
    }
    default:
        if (c >= '0' && c <= '7') {
            unsigned v = (unsigned)(c - '0');
            for (int k = 0; k < 2 && s[*i] >= '0' && s[*i] <= '7'; k++)
                v = v * 8 + (unsigned)(s[(*i)++] - '0');
            if (v > 255) return -1;
            out[0] = (uint8_t)v;
            return 1;
        }
        return -1;
    }
}

static int lex_string(parser *p, int start, int raw)
{
    const char *s = p->expr;
    int i = start + (raw ? 2 : 1);
    uint8_t buf[8];
    uint32_t first = p->f->pool_len, dummy;
    for (;;) {
        char c = s[i];
        if (c == '\0')
            return fail_at(p, i, 0, "The final quote was missing from a quoted string.");
        if (c == '"') {
            i++;
            break;
        }
        if (c == '\\') {
            if (raw) { /* a raw string keeps the backslash; \" does not end it */
                int n = s[i + 1] == '"' || s[i + 1] == '\\' ? 2 : 1;
                if (s[i + 1] == '\0') n = 1;
                if (pool_add(p, s + i, (uint32_t)n, &dummy) < 0) return -1;
                i += n;
                continue;
            }
            int at = i;
            i++;
            if (s[i] == '\0')
                return fail_at(p, i, 0, "The final quote was missing from a quoted string.");
            int n = unescape(s, &i, buf);
            if (n < 0)
                return fail_at(p, at, i - at, "Invalid escape sequence in a string.");
            if (pool_add(p, buf, (uint32_t)n, &dummy) < 0) return -1;
            continue;
        }
        if (pool_add(p, &c, 1, &dummy) < 0) return -1;
        i++;
    }
    p->tok.type = T_STRING;
    p->tok.off = first;
    p->tok.slen = p->f->pool_len - first;
    p->tok.len = i - start;
    p->pos = i;
    return 0;
}

static int lex_char(parser *p, int start)
{
    const char *s = p->expr;
    int i = start + 1;
    uint8_t buf[8];
    int n = 1;
    if (s[i] == '\\') {
        i++;
        n = unescape(s, &i, buf);
    } else if (s[i] != '\0' && s[i] != '\'') {
        buf[0] = (uint8_t)s[i++];
    } else {
        n = -1;
    }
    if (n != 1 || s[i] != '\'')
        return fail_at(p, start, i - start, "Invalid character constant.");
    p->tok.type = T_CHAR;
    p->tok.u = buf[0];
    p->tok.len = i + 1 - start;
    p->pos = i + 1;
    return 0;
}

static const struct {
    const char *word;
    int type, rel, quant;
} keywords[] = {
    {"and", T_AND, 0, 0},        {"or", T_OR, 0, 0},           {"not", T_NOT, 0, 0},
    {"eq", T_REL, REL_EQ, Q_ANY}, {"any_eq", T_REL, REL_EQ, Q_ANY}, {"ne", T_REL, REL_NE, Q_ALL},
    {"all_ne", T_REL, REL_NE, Q_ALL}, {"all_eq", T_REL, REL_EQ, Q_ALL},
    {"any_ne", T_REL, REL_NE, Q_ANY}, {"gt", T_REL, REL_GT, Q_ANY}, {"ge", T_REL, REL_GE, Q_ANY},
    {"lt", T_REL, REL_LT, Q_ANY},  {"le", T_REL, REL_LE, Q_ANY},  {"contains", T_CONTAINS, 0, 0},
    {"matches", T_MATCHES, 0, 0}, {"in", T_IN, 0, 0},           {"any", T_ANY, 0, 0},
    {"all", T_ALL, 0, 0},         {"bitwise_and", T_AMP, 0, 0},
};

static int next(parser *p)
{
    const char *s = p->expr;
    int i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    token *t = &p->tok;
    memset(t, 0, sizeof *t);
    t->col = i;
    t->len = 1;
    char c = s[i], d = c ? s[i + 1] : '\0';
    int two = 0;
    if (c == '\0') { t->type = T_EOF; t->len = 0; }
    else if (c == '(') t->type = T_LPAREN;
    else if (c == ')') t->type = T_RPAREN;
    else if (c == '{') t->type = T_LBRACE;
    else if (c == '}') t->type = T_RBRACE;
    else if (c == '[') t->type = T_LBRACKET;
    else if (c == ',') t->type = T_COMMA;
    else if (c == '.' && d == '.') { t->type = T_DOTDOT; two = 1; }
    else if (c == '&' && d == '&') { t->type = T_AND; two = 1; }
    else if (c == '&') t->type = T_AMP;
    else if (c == '|' && d == '|') { t->type = T_OR; two = 1; }
    else if (c == '+') t->type = T_PLUS;
    else if (c == '-') t->type = T_MINUS; /* Wireshark: a minus starts a token, `a-b` is a name */
    else if (c == '*') t->type = T_STAR;
    else if (c == '/') t->type = T_SLASH;
    else if (c == '%') t->type = T_PERCENT;
    else if (c == '$' && d == '{') {
        int j = i + 2;
        while (word_char(s[j]))
            j++;
        if (s[j] != '}')
            t->type = T_OTHER;
        else {
            t->type = T_REF;
            t->off = (uint32_t)(i + 2);
            t->slen = (uint32_t)(j - i - 2);
            t->len = j + 1 - i;
        }
    }
    else if (c == '=' && d == '=') {
        t->type = T_REL; t->rel = REL_EQ;
        if (s[i + 2] == '=') { t->quant = Q_ALL; t->len = 3; } else { t->quant = Q_ANY; two = 1; }
    } else if (c == '!' && d == '=') {
        t->type = T_REL; t->rel = REL_NE;
        if (s[i + 2] == '=') { t->quant = Q_ANY; t->len = 3; } else { t->quant = Q_ALL; two = 1; }
    } else if (c == '~' && d == '=') { t->type = T_REL; t->rel = REL_NE; t->quant = Q_ANY; two = 1; }
    else if (c == '!') t->type = T_NOT;
    else if (c == '~') t->type = T_MATCHES;
    else if (c == '<' || c == '>') {
        t->type = T_REL;
        t->quant = Q_ANY;
        if (d == '=') { t->rel = c == '<' ? REL_LE : REL_GE; two = 1; }
        else t->rel = c == '<' ? REL_LT : REL_GT;
    } else if (c == '"') {
        p->pos = i;
        return lex_string(p, i, 0);
    } else if (c == 'r' && d == '"') {
        p->pos = i;
        return lex_string(p, i, 1);
    } else if (c == '\'') {
        return lex_char(p, i);
    } else if (word_char(c)) {
        int j = i;
        while (word_char(s[j]) && !(s[j] == '.' && s[j + 1] == '.')) {
            if (s[j] == '/' && name_ends_at(s + i, j - i))
                break; /* `frame.len/2`: a field, then a division (CIDR literals keep theirs) */
            j++;
        }
        t->type = T_WORD;
        t->len = j - i;
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
            if ((int)strlen(keywords[k].word) == t->len &&
                memcmp(keywords[k].word, s + i, (size_t)t->len) == 0) {
                t->type = keywords[k].type;
                t->rel = keywords[k].rel;
                t->quant = keywords[k].quant;
            }
    } else {
        t->type = T_OTHER;
    }
    if (two) t->len = 2;
    p->pos = i + t->len;
    return 0;
}

/* The current word as a NUL-terminated string (words are short; longer ones are cut). */
static void word_text(const parser *p, char *out, size_t cap)
{
    size_t n = (size_t)p->tok.len < cap - 1 ? (size_t)p->tok.len : cap - 1;
    memcpy(out, p->expr + p->tok.col, n);
    out[n] = '\0';
}

/* ---- type names and literal conversion ---------------------------------------- */

static const char *type_name(const fp_field *f, char *buf, size_t cap)
{
    switch ((fp_field_type)f->type) {
    case FP_FT_UINT:
        snprintf(buf, cap, "Unsigned integer (%d byte%s)", f->bits / 8, f->bits == 8 ? "" : "s");
        return buf;
    case FP_FT_BOOL: return "Boolean";
    case FP_FT_IPV4: return "IPv4 address";
    case FP_FT_IPV6: return "IPv6 address";
    case FP_FT_MAC: return "Ethernet or other MAC address";
    case FP_FT_BYTES: return "Byte sequence";
    case FP_FT_STRING: return "Character string";
    case FP_FT_TIME: return "Date and time";
    case FP_FT_PROTOCOL: return "Protocol";
    }
    return "?";
}

static int kind_of(const fp_field *f)
{
    switch ((fp_field_type)f->type) {
    case FP_FT_UINT: return FK_UINT;
    case FP_FT_BOOL: return FK_BOOL;
    case FP_FT_IPV4: return FK_IPV4;
    case FP_FT_IPV6: return FK_IPV6;
    case FP_FT_MAC: return FK_MAC;
    case FP_FT_STRING: return FK_STRING;
    case FP_FT_TIME: return FK_TIME;
    case FP_FT_BYTES: case FP_FT_PROTOCOL: return FK_BYTES;
    }
    return FK_BYTES;
}

/* An integer in C notation (0x, 0b, leading 0 octal); 0 on success, -1 if not one, -2 overflow. */
static int parse_uint(const char *s, uint64_t *out)
{
    int base = 10;
    const char *d = s;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; d = s + 2; }
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) { base = 2; d = s + 2; }
    else if (s[0] == '0' && s[1] != '\0') { base = 8; d = s + 1; }
    if (*d == '\0')
        return -1;
    uint64_t v = 0;
    for (; *d; d++) {
        int h = hexval(*d);
        if (h < 0 || h >= base)
            return -1;
        if (v > (UINT64_MAX - (uint64_t)h) / (uint64_t)base)
            return -2;
        v = v * (uint64_t)base + (uint64_t)h;
    }
    *out = v;
    return 0;
}

/* Byte strings: hex pairs separated by ':', '.' or '-' (one kind throughout), or one byte. */
static int parse_bytes(const char *s, uint8_t *out, int cap)
{
    int n = 0;
    char sep = 0;
    const char *q = s;
    if (*q == '\0')
        return -1;
    for (;;) {
        int h = hexval(q[0]), l = h >= 0 ? hexval(q[1]) : -1;
        if (h < 0)
            return -1;
        if (n == cap)
            return -2;
        if (l >= 0) { out[n++] = (uint8_t)(h * 16 + l); q += 2; }
        else { out[n++] = (uint8_t)h; q += 1; }
        if (*q == '\0')
            return n;
        if (*q != ':' && *q != '.' && *q != '-')
            return -1;
        if (sep && *q != sep)
            return -1;
        sep = *q++;
    }
}

static int parse_prefix(parser *p, const char *slash, int max, const char *what, int *prefix)
{
    uint64_t v;
    if (parse_uint(slash + 1, &v) != 0)
        return fail_tok(p, "\"%s\" is not a valid prefix length.", slash + 1);
    if (v > (uint64_t)max)
        return fail_tok(p, "%s should be <= %d, not %llu", what, max, (unsigned long long)v);
    *prefix = (int)v;
    return 0;
}

/* Convert the current token into a literal of `kind` for `f` (NULL after functions). */
static int literal(parser *p, int kind, const fp_field *f, const fp_operand *op)
{
    int li = lit_new(p);
    if (li < 0) return -1;
    fp_literal *l = &p->f->lits[li];
    token *t = &p->tok;
    char w[512], tn[64];
    const char *fname = f ? f->name : "function";
    if (t->type == T_WORD) word_text(p, w, sizeof w);
    else if (t->type != T_STRING && t->type != T_CHAR) return unexpected(p);
    switch (kind) {
    case FK_UINT: case FK_TIME: {
        if (t->type == T_CHAR) { l->u = t->u; break; }
        if (t->type == T_STRING) {
            if (kind == FK_TIME)
                return fail_tok(p, "Absolute times as strings are not supported; compare %s with "
                                   "seconds since the epoch.", fname);
            return fail_tok(p, "%s cannot be converted from a string (\"%.*s\").",
                            f ? type_name(f, tn, sizeof tn) : "Unsigned integer", (int)t->slen,
                            p->f->pool + t->off);
        }
        if (kind == FK_TIME) {
            char *end;
            errno = 0;
            double secs = strtod(w, &end);
            if (*end != '\0' || end == w || errno != 0 || secs > 9.2e9 || secs < -9.2e9)
                return fail_tok(p, "\"%s\" is not a valid absolute time.", w);
            l->u = (uint64_t)(int64_t)(secs * 1e9 + (secs < 0 ? -0.5 : 0.5));
            break;
        }
        /* Wireshark types some multi-bit flags (tcp.flags.res) Boolean: accept its words */
        if (!strcmp(w, "True") || !strcmp(w, "TRUE") || !strcmp(w, "true")) { l->u = 1; break; }
        if (!strcmp(w, "False") || !strcmp(w, "FALSE") || !strcmp(w, "false")) { l->u = 0; break; }
        int rc = parse_uint(w, &l->u);
        int bits = f && op->func == FN_NONE && !op->has_slice ? f->bits : 64;
        uint64_t max = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
        if (rc == -1)
            return fail_tok(p, "\"%s\" is not a valid number.", w);
        if (rc == -2 || l->u > max)
            return fail_tok(p, "\"%s\" too big for this field, maximum %llu.", w, (unsigned long long)max);
        break;
    }
    case FK_BOOL:
        if (t->type == T_WORD && (!strcmp(w, "True") || !strcmp(w, "TRUE") || !strcmp(w, "true")))
            l->u = 1;
        else if (t->type == T_WORD && (!strcmp(w, "False") || !strcmp(w, "FALSE") || !strcmp(w, "false")))
            l->u = 0;
        else if (t->type == T_WORD && parse_uint(w, &l->u) == 0)
            l->u = l->u != 0;
        else if (t->type == T_CHAR)
            l->u = t->u != 0;
        else
            return fail_tok(p, "\"%.*s\" cannot be found among the possible values for %s.", t->len,
                            p->expr + t->col, fname);
        break;
    case FK_IPV4: {
        if (t->type != T_WORD)
            return fail_tok(p, "\"%.*s\" is not a valid hostname or IPv4 address.", t->len, p->expr + t->col);
        char *slash = strchr(w, '/');
        if (slash) *slash = '\0';
        uint8_t a[4];
        if (inet_pton(AF_INET, w, a) != 1) {
            if (slash) *slash = '/';
            return fail_tok(p, "\"%s\" is not a valid hostname or IPv4 address.", w);
        }
        l->u = (uint64_t)a[0] << 24 | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
        if (slash) {
            *slash = '/';
            if (parse_prefix(p, slash, 32, "Netmask bits in a CIDR IPv4 address", &l->prefix) < 0)
                return -1;
        }
        break;
    }
    case FK_IPV6: {
        if (t->type != T_WORD)
            return fail_tok(p, "\"%.*s\" is not a valid hostname or IPv6 address.", t->len, p->expr + t->col);
        char *slash = strchr(w, '/');
        if (slash) *slash = '\0';
        uint8_t a[16];
        if (inet_pton(AF_INET6, w, a) != 1) {
            if (slash) *slash = '/';
            return fail_tok(p, "\"%s\" is not a valid hostname or IPv6 address.", w);
        }
        if (pool_add(p, a, 16, &l->off) < 0) return -1;
        l = &p->f->lits[li];
        l->len = 16;
        if (slash) {
            *slash = '/';
            if (parse_prefix(p, slash, 128, "Prefix in a IPv6 address", &l->prefix) < 0)
                return -1;
        }
        break;
    }
    case FK_MAC: {
        uint8_t b[16];
        int n = t->type == T_WORD ? parse_bytes(w, b, 16) : -1;
        if (n == -1)
            return fail_tok(p, "\"%.*s\" is not a valid Ethernet address.", t->len, p->expr + t->col);
        if (n == -2 || n > 6)
            return fail_tok(p, "\"%s\" contains too many bytes to be a valid Ethernet address.", w);
        if (n < 6)
            return fail_tok(p, "\"%s\" contains too few bytes to be a valid Ethernet address.", w);
        if (pool_add(p, b, 6, &l->off) < 0) return -1;
        p->f->lits[li].len = 6;
        break;
    }
    case FK_BYTES: case FK_STRING: {
        if (t->type == T_STRING) {
            l->off = t->off;
            l->len = t->slen;
        } else if (t->type == T_CHAR) {
            uint8_t c = (uint8_t)t->u;
            if (pool_add(p, &c, 1, &l->off) < 0) return -1;
            p->f->lits[li].len = 1;
        } else if (kind == FK_STRING) {
            /* unquoted text against a string field: deprecated in Wireshark but accepted */
            if (pool_add(p, w, (uint32_t)strlen(w), &l->off) < 0) return -1;
            p->f->lits[li].len = (uint32_t)strlen(w);
        } else {
            uint8_t b[256];
            int n = parse_bytes(w, b, (int)sizeof b);
            uint64_t v;
            if (n < 0 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') && parse_uint(w, &v) == 0 && v <= 0xff) {
                b[0] = (uint8_t)v; /* a hex integer up to 0xff is one byte */
                n = 1;
            }
            if (n < 0)
                return fail_tok(p, "\"%s\" is not a valid byte string.", w);
            if (pool_add(p, b, (uint32_t)n, &l->off) < 0) return -1;
            p->f->lits[li].len = (uint32_t)n;
        }
        break;
    }
    }
    return li;
}

/* ---- operands ------------------------------------------------------------------- */

static int slice_int(const char *s, int len, int32_t *out)
{
    char buf[24];
    if (len <= 0 || len >= (int)sizeof buf) return -1;
    memcpy(buf, s, (size_t)len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || errno != 0 || v > 1000000000L || v < -1000000000L) return -1;
    *out = (int32_t)v;
    return 0;
}

/* `[i:j]` (start, length), `[i-j]` (start, end inclusive), `[i]`, `[:j]`, `[i:]`. */
static int parse_slice(parser *p, fp_operand *op)
{
    const char *s = p->expr;
    int open = p->tok.col, i = open + 1, close = i;
    while (s[close] != ']' && s[close] != '\0')
        close++;
    if (s[close] == '\0')
        return fail_at(p, (int)strlen(s), 0, "Unexpected end of filter expression.");
    const char *body = s + i;
    int n = close - i;
    const char *colon = memchr(body, ':', (size_t)n);
    const char *comma = memchr(body, ',', (size_t)n);
    const char *dash = n > 1 ? memchr(body + 1, '-', (size_t)n - 1) : NULL; /* not a sign */
    int bad = 0;
    op->has_slice = 1;
    if (comma) {
        return fail_at(p, open, close + 1 - open, "Concatenated slices (\"%.*s\") are not supported.",
                       n, body);
    } else if (colon) {
        int a = (int)(colon - body);
        op->slice_start = 0;
        if (a > 0) bad |= slice_int(body, a, &op->slice_start);
        if (n - a - 1 == 0) op->slice_to_end = 1;
        else bad |= slice_int(colon + 1, n - a - 1, &op->slice_len) || op->slice_len < 0;
    } else if (dash) {
        int32_t end;
        int a = (int)(dash - body);
        bad |= slice_int(body, a, &op->slice_start) | slice_int(dash + 1, n - a - 1, &end);
        if (!bad && (end < op->slice_start || (op->slice_start < 0) != (end < 0))) bad = 1;
        op->slice_len = end - op->slice_start + 1;
    } else {
        bad |= slice_int(body, n, &op->slice_start);
        op->slice_len = 1;
    }
    if (bad)
        return fail_at(p, open, close + 1 - open, "\"%.*s\" is not a valid slice.", n + 2, s + open);
    p->pos = close + 1;
    return 0;
}

/* `#n` or `#[range]` after a field name (a range as in slices: `[i-j]`, `[i:n]`, `[i]`,
 * `[i:]`): the layers, counted from 1, whose values the field takes. */
static int parse_layer(parser *p, fp_operand *op)
{
    const char *s = p->expr;
    int at = p->pos + 1;
    op->has_layer = 1;
    if (s[at] >= '0' && s[at] <= '9') {
        int end = at;
        while (s[end] >= '0' && s[end] <= '9')
            end++;
        if (slice_int(s + at, end - at, &op->layer_lo) < 0)
            return fail_at(p, at, end - at, "\"%.*s\" causes an integer overflow.", end - at, s + at);
        op->layer_hi = op->layer_lo;
        p->pos = end;
        return 0;
    }
    if (s[at] == '\0')
        return fail_at(p, at, 0, "Unexpected end of filter expression.");
    if (s[at] != '[')
        return fail_at(p, at, 1, "Expected digit or \"[\", not \"%c\"", s[at]);
    int body = at + 1, close = body;
    while (s[close] != ']' && s[close] != '\0')
        close++;
    if (s[close] == '\0')
        return fail_at(p, close, 0, "The right bracket was missing from a slice.");
    int n = close - body;
    const char *b = s + body, *colon = memchr(b, ':', (size_t)n), *dash = memchr(b, '-', (size_t)n);
    const char *sep = colon ? colon : dash;
    int a = sep ? (int)(sep - b) : n;
    int32_t lo = 1, second = 0;
    for (int i = 0; i < n; i++)
        if (!(b[i] >= '0' && b[i] <= '9') && b + i != sep)
            return fail_at(p, body, n, "\"%.*s\" is not a valid number.", n, b);
    if ((a > 0 && slice_int(b, a, &lo) < 0) || (sep && a == 0 && dash) ||
        (sep && n - a - 1 > 0 && slice_int(sep + 1, n - a - 1, &second) < 0) ||
        (dash && n - a - 1 == 0) || n == 0)
        return fail_at(p, body, n, "\"%.*s\" is not a valid range.", n, b);
    op->layer_lo = lo;
    if (!sep)
        op->layer_hi = lo;
    else if (dash)
        op->layer_hi = second;
    else
        op->layer_hi = n - a - 1 == 0 ? INT32_MAX : lo + second - 1;
    p->pos = close + 1;
    return 0;
}

static int sliceable(const fp_field *f)
{
    return f->type == FP_FT_BYTES || f->type == FP_FT_STRING || f->type == FP_FT_PROTOCOL ||
           f->type == FP_FT_MAC || f->type == FP_FT_IPV4 || f->type == FP_FT_IPV6;
}

static int field_operand(parser *p, fp_operand *op, int lhs)
{
    char w[256];
    word_text(p, w, sizeof w);
    const fp_field *f = p->tok.type == T_WORD ? fp_field_lookup(w) : NULL;
    if (f == NULL) {
        int col = p->tok.col, len = p->tok.len;
        /* tshark names the comparison when an unknown name stands on its left */
        parser peek = *p;
        peek.failed = 0;
        next(&peek);
        const char *near = p->tok.type == T_WORD ? fp_field_suggest(w) : NULL;
        char hint[128] = "";
        if (near)
            snprintf(hint, sizeof hint, " Did you mean \"%s\"?", near);
        if (!lhs)
            return unexpected(p);
        if (p->tok.type == T_STRING || p->tok.type == T_CHAR)
            return fail_at(p, col, len, "%.*s is neither a field nor a protocol name.", len,
                           p->expr + col);
        if (p->tok.type != T_WORD)
            return unexpected(p);
        if (peek.tok.type == T_REL || peek.tok.type == T_CONTAINS || peek.tok.type == T_MATCHES ||
            peek.tok.type == T_IN) {
            char opname[32];
            snprintf(opname, sizeof opname, "%.*s", peek.tok.len, p->expr + peek.tok.col);
            return fail_at(p, col, len,
                           "Left side of \"%s\" expression must be a field or function, not %s.%s",
                           opname, w, hint);
        }
        return fail_at(p, col, len, "%s is neither a field nor a protocol name.%s", w, hint);
    }
    op->field = f;
    op->kind = (uint8_t)kind_of(f);
    int hash = p->pos;
    while (p->expr[hash] == ' ' || p->expr[hash] == '\t')
        hash++;
    if (p->expr[hash] == '#') { /* tshark reads `ip.src #1` as a layer too */
        p->pos = hash;
        if (parse_layer(p, op) < 0)
            return -1;
    }
    if (p->expr[p->pos] == '[') {
        char tn[64];
        next(p);
        if (!sliceable(f))
            return fail_at(p, p->tok.col - (int)strlen(w), (int)strlen(w),
                           "\"%s\" is a %s and cannot be sliced into a sequence of bytes.", w,
                           type_name(f, tn, sizeof tn));
        if (parse_slice(p, op) < 0) return -1;
        op->kind = FK_BYTES;
    }
    return next(p);
}

static int function_id(const char *s, int len)
{
    static const struct { const char *name; int id; } fns[] = {
        {"len", FN_LEN}, {"count", FN_COUNT}, {"upper", FN_UPPER}, {"lower", FN_LOWER}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if ((int)strlen(fns[i].name) == len && memcmp(s, fns[i].name, (size_t)len) == 0) return fns[i].id;
    return FN_NONE;
}

/* A field, a slice of one, or len()/count()/upper()/lower() of one. */
static int parse_operand(parser *p, fp_operand *op, int lhs)
{
    memset(op, 0, sizeof *op);
    if (p->tok.type == T_WORD && p->expr[p->pos] == '(') {
        int col = p->tok.col, len = p->tok.len;
        int func = function_id(p->expr + col, len);
        if (func == FN_NONE)
            return fail_at(p, col, len, "Function '%.*s' does not exist.", len, p->expr + col);
        next(p);
        next(p);
        if (p->tok.type != T_WORD) return unexpected(p);
        int arg_col = p->tok.col;
        if (p->expr[p->pos] == '(') /* a function's value: len(), upper()... read fields only */
            return fail_tok(p, "Only %sfields can be used as parameter for %.*s()",
                            func == FN_UPPER || func == FN_LOWER ? "string type " : "", len, p->expr + col);
        if (field_operand(p, op, 1) < 0) return -1;
        if (p->tok.type != T_RPAREN) return unexpected(p);
        if ((func == FN_UPPER || func == FN_LOWER) && op->kind != FK_STRING)
            return fail_at(p, arg_col, p->tok.col - arg_col,
                           "Only string type fields can be used as parameter for %.*s()", len, p->expr + col);
        if (func == FN_UPPER || func == FN_LOWER) { /* a string still: compared as one */
            op->func = (uint8_t)func;
            return next(p);
        }
        if (func == FN_LEN && (op->kind == FK_BOOL || op->kind == FK_TIME))
            return fail_at(p, col, len, "Invalid argument to len(): %s.", op->field->name);
        op->func = (uint8_t)func;
        op->kind = FK_UINT;
        return next(p);
    }
    if (p->tok.type != T_WORD && !(lhs && (p->tok.type == T_STRING || p->tok.type == T_CHAR)))
        return unexpected(p);
    return field_operand(p, op, lhs);
}

/* `& mask` on a field (operand `op`): integers, or bytes as long as the slice. The mask is
 * the literal token of value node `lit`; `col` is the column of the `&`. */
static int mask_operand(parser *p, fp_operand *op, int lit, int col)
{
    fp_vexpr *m = &p->f->vx[lit];
    token save = p->tok;
    memset(&p->tok, 0, sizeof p->tok);
    p->tok.type = m->tok_type;
    p->tok.col = m->col;
    p->tok.len = m->len;
    p->tok.off = m->tok_off;
    p->tok.slen = m->tok_slen;
    p->tok.u = m->tok_u;
    int rc = 0;
    if (op->kind == FK_UINT || op->kind == FK_BOOL) {
        int li = literal(p, FK_UINT, op->func ? NULL : op->field, op);
        if (li < 0) rc = -1;
        else op->mask = p->f->lits[li].u;
    } else if (op->kind == FK_BYTES && op->has_slice && !op->slice_to_end) {
        int li = literal(p, FK_BYTES, op->field, op);
        if (li < 0) {
            rc = -1;
        } else {
            const fp_literal *l = &p->f->lits[li];
            if ((int32_t)l->len != op->slice_len)
                rc = fail_tok(p, "The bit mask must have as many bytes as the slice (%d).", op->slice_len);
            op->mask_off = l->off;
            op->mask_len = l->len;
        }
    } else {
        char tn[64];
        rc = fail_at(p, col, 1, "%s (type=%s) cannot participate in bitwise and.", op->field->name,
                     type_name(op->field, tn, sizeof tn));
    }
    op->has_mask = 1;
    p->tok = save;
    return rc;
}

/* ---- value expressions: arithmetic, functions, references ---------------------------- */

#define VX_MAX_DEPTH 32 /* evaluation recurses along the tree: keep its stack small */

static int vx_new(parser *p, int op, int col)
{
    fp_filter *f = p->f;
    if (grow((void **)&f->vx, &f->cap_vx, f->n_vx + 1, sizeof *f->vx) < 0)
        return fail_at(p, 0, 0, "out of memory");
    fp_vexpr *v = &f->vx[f->n_vx];
    memset(v, 0, sizeof *v);
    v->op = (uint8_t)op;
    v->a = v->b = v->lit = -1;
    v->col = v->opcol = col;
    v->depth = 1;
    return f->n_vx++;
}

/* Where the current token starts, less the spaces before it: the end of what came before. */
static int end_before_token(const parser *p, int start)
{
    int end = p->tok.col;
    while (end > start && (p->expr[end - 1] == ' ' || p->expr[end - 1] == '\t' ||
                           p->expr[end - 1] == '\n' || p->expr[end - 1] == '\r'))
        end--;
    return end;
}

static int vx_parent(parser *p, int op, int opcol, int a, int b)
{
    int i = vx_new(p, op, opcol);
    if (i < 0) return -1;
    fp_vexpr *v = &p->f->vx[i];
    const fp_vexpr *x = &p->f->vx[a];
    v->a = a;
    v->b = b;
    v->col = x->col;
    int end = b >= 0 ? p->f->vx[b].col + p->f->vx[b].len : x->col + x->len;
    v->len = end - v->col;
    v->depth = 1 + (b >= 0 && p->f->vx[b].depth > x->depth ? p->f->vx[b].depth : x->depth);
    if (v->depth > VX_MAX_DEPTH)
        return fail_at(p, opcol, 1, "Arithmetic expression nested too deeply (over %d levels).", VX_MAX_DEPTH);
    return i;
}

static int parse_vexpr(parser *p);

static const struct { const char *name; int op; } value_functions[] = {
    {"max", VX_MAX}, {"min", VX_MIN}, {"abs", VX_ABS}, {"string", VX_STRING}};

static int value_function_id(const char *s, int len)
{
    for (size_t i = 0; i < sizeof value_functions / sizeof value_functions[0]; i++)
        if ((int)strlen(value_functions[i].name) == len && memcmp(s, value_functions[i].name, (size_t)len) == 0)
            return value_functions[i].op;
    return -1;
}

/* max(), min(), abs(), string(): the name is the current token, '(' follows. */
static int parse_value_function(parser *p, int op)
{
    int col = p->tok.col, nlen = p->tok.len;
    int args[64], n = 0;
    next(p);
    next(p);
    if (p->tok.type != T_RPAREN) {
        for (;;) {
            if (n == (int)(sizeof args / sizeof args[0]))
                return fail_tok(p, "Too many arguments to %.*s().", nlen, p->expr + col);
            int a = parse_vexpr(p);
            if (a < 0) return -1;
            args[n++] = a;
            if (p->tok.type != T_COMMA) break;
            next(p);
        }
    }
    if (p->tok.type != T_RPAREN) return unexpected(p);
    int end = p->tok.col + 1;
    next(p);
    const char *name = p->expr + col;
    if (n == 0)
        return fail_at(p, col, nlen, "Function %.*s needs at least 1 arguments.", nlen, name);
    if ((op == VX_ABS || op == VX_STRING) && n > 1)
        return fail_at(p, col, nlen, "Function %.*s can only accept 1 arguments.", nlen, name);
    fp_filter *f = p->f;
    int i;
    if (op == VX_STRING) {
        const fp_vexpr *a = &f->vx[args[0]];
        if (a->op != VX_FIELD || a->field.func || a->field.has_slice)
            return fail_at(p, a->col, a->len, "Only fields can be used as parameter for string()");
        int t = a->field.field->type;
        if (t != FP_FT_UINT && t != FP_FT_IPV4 && t != FP_FT_IPV6 && t != FP_FT_MAC)
            return fail_at(p, a->col, a->len, "String conversion for field \"%s\" is not supported",
                           a->field.field->name);
        fp_operand field = a->field;
        if ((i = vx_new(p, VX_STRING, col)) < 0) return -1;
        f->vx[i].field = field;
        f->vx[i].kind = FK_STRING;
    } else if (op == VX_ABS) {
        if ((i = vx_parent(p, VX_ABS, col, args[0], -1)) < 0) return -1;
    } else {
        if ((i = vx_new(p, op, col)) < 0) return -1;
        if (grow((void **)&f->kids, &f->cap_kids, f->n_kids + n, sizeof *f->kids) < 0)
            return fail_at(p, 0, 0, "out of memory");
        memcpy(f->kids + f->n_kids, args, (size_t)n * sizeof *args);
        int depth = 0;
        for (int k = 0; k < n; k++)
            if (f->vx[args[k]].depth > depth) depth = f->vx[args[k]].depth;
        f->vx[i].a = f->n_kids;
        f->vx[i].b = n;
        f->vx[i].depth = depth + 1;
        f->n_kids += n;
        if (depth + 1 > VX_MAX_DEPTH)
            return fail_at(p, col, nlen, "Arithmetic expression nested too deeply (over %d levels).", VX_MAX_DEPTH);
    }
    fp_vexpr *v = &f->vx[i];
    v->col = v->opcol = col;
    v->oplen = nlen;
    v->len = end - col;
    return i;
}

/* A field (with layers, slice, len()/count()/upper()/lower()), a value function, a
 * ${reference}, `{ expression }`, or a literal kept as its token. */
static int parse_vprimary(parser *p)
{
    int col = p->tok.col, i;
    if (p->tok.type == T_LBRACE) {
        next(p);
        i = parse_vexpr(p);
        if (i < 0) return -1;
        if (p->tok.type != T_RBRACE) return unexpected(p);
        next(p);
        return i;
    }
    if (p->tok.type == T_REF) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)p->tok.slen, p->expr + p->tok.off);
        const fp_field *f = fp_field_lookup(name);
        if (f == NULL)
            return fail_tok(p, "macro '%s' does not exist", name);
        if ((i = vx_new(p, VX_REF, col)) < 0) return -1;
        fp_vexpr *v = &p->f->vx[i];
        v->field.field = f;
        v->field.kind = (uint8_t)kind_of(f);
        v->kind = v->field.kind;
        v->len = p->tok.len;
        next(p);
        return i;
    }
    if (p->tok.type == T_WORD && p->expr[p->pos] == '(') {
        int op = value_function_id(p->expr + col, p->tok.len);
        if (op >= 0)
            return parse_value_function(p, op);
        fp_operand field;
        if (parse_operand(p, &field, 1) < 0) return -1;
        if ((i = vx_new(p, VX_FIELD, col)) < 0) return -1;
        p->f->vx[i].field = field;
        p->f->vx[i].len = end_before_token(p, col) - col;
        return i;
    }
    if (p->tok.type == T_WORD) {
        char w[256];
        word_text(p, w, sizeof w);
        if (fp_field_lookup(w) != NULL) {
            fp_operand field;
            memset(&field, 0, sizeof field);
            if (field_operand(p, &field, 1) < 0) return -1;
            if ((i = vx_new(p, VX_FIELD, col)) < 0) return -1;
            p->f->vx[i].field = field;
            p->f->vx[i].len = end_before_token(p, col) - col;
            return i;
        }
    }
    if (p->tok.type != T_WORD && p->tok.type != T_STRING && p->tok.type != T_CHAR)
        return unexpected(p);
    if ((i = vx_new(p, VX_LIT, col)) < 0) return -1;
    fp_vexpr *v = &p->f->vx[i];
    v->len = p->tok.len;
    v->tok_type = p->tok.type;
    v->tok_off = p->tok.off;
    v->tok_slen = p->tok.slen;
    v->tok_u = p->tok.u;
    next(p);
    return i;
}

/* A sign applies to one primary: `-{a}` and `--a` are not Wireshark's. */
static int parse_vunary(parser *p)
{
    if (p->tok.type != T_MINUS && p->tok.type != T_PLUS)
        return parse_vprimary(p);
    int minus = p->tok.type == T_MINUS, col = p->tok.col;
    next(p);
    if (p->tok.type == T_MINUS || p->tok.type == T_PLUS || p->tok.type == T_LBRACE)
        return unexpected(p);
    int a = parse_vprimary(p);
    if (a < 0 || !minus) return a;
    int i = vx_parent(p, VX_NEG, col, a, -1);
    if (i >= 0) {
        p->f->vx[i].len += p->f->vx[i].col - col;
        p->f->vx[i].col = col;
    }
    return i;
}

/* Wireshark 4.0's precedence, tightest first: unary signs, `* / %`, `+ -`, `&`. */
static int parse_vlevel(parser *p, int level)
{
    int a = level == 0 ? parse_vunary(p) : parse_vlevel(p, level - 1);
    for (;;) {
        if (a < 0) return -1;
        int t = p->tok.type, op;
        if (level == 0 && t == T_STAR) op = VX_MUL;
        else if (level == 0 && t == T_SLASH) op = VX_DIV;
        else if (level == 0 && t == T_PERCENT) op = VX_MOD;
        else if (level == 1 && t == T_PLUS) op = VX_ADD;
        else if (level == 1 && t == T_MINUS) op = VX_SUB;
        else if (level == 2 && t == T_AMP) op = VX_AND;
        else return a;
        int opcol = p->tok.col;
        next(p);
        int b = level == 0 ? parse_vunary(p) : parse_vlevel(p, level - 1);
        if (b < 0) return -1;
        a = vx_parent(p, op, opcol, a, b);
    }
}

/* `{}` and function arguments nest through here: bounded like parentheses. */
static int parse_vexpr(parser *p)
{
    if (++p->depth > MAX_DEPTH)
        return fail_tok(p, "Filter expression nested too deeply (over %d levels).", MAX_DEPTH);
    int r = parse_vlevel(p, 2);
    p->depth--;
    return r;
}

/* ---- typing value trees ------------------------------------------------------------ */

static const char *ft_name(const fp_operand *op, char *buf, size_t cap)
{
    if (op->has_slice) return "FT_BYTES";
    if (op->func == FN_LEN || op->func == FN_COUNT) return "FT_UINT32";
    if (op->func) return "FT_STRING";
    const fp_field *f = op->field;
    switch ((fp_field_type)f->type) {
    case FP_FT_UINT:
        if (!strcmp(f->name, "frame.number")) return "FT_FRAMENUM";
        snprintf(buf, cap, "FT_UINT%d", (f->bits + 7) / 8 * 8);
        return buf;
    case FP_FT_BOOL: return "FT_BOOLEAN";
    case FP_FT_IPV4: return "FT_IPv4";
    case FP_FT_IPV6: return "FT_IPv6";
    case FP_FT_MAC: return "FT_ETHER";
    case FP_FT_BYTES: return "FT_BYTES";
    case FP_FT_STRING: return "FT_STRING";
    case FP_FT_TIME: return "FT_ABSOLUTE_TIME";
    case FP_FT_PROTOCOL: return "FT_PROTOCOL";
    }
    return "FT_NONE";
}

static int has_field(const parser *p, int i)
{
    const fp_vexpr *v = &p->f->vx[i];
    switch (v->op) {
    case VX_LIT: return 0;
    case VX_FIELD: case VX_STRING: case VX_REF: return 1;
    case VX_MAX: case VX_MIN:
        for (int k = 0; k < v->b; k++)
            if (has_field(p, p->f->kids[v->a + k])) return 1;
        return 0;
    default:
        return has_field(p, v->a) || (v->b >= 0 && has_field(p, v->b));
    }
}

/* The first field a tree reads (its literals are checked against that field's range). */
static const fp_operand *first_field(const parser *p, int i)
{
    const fp_vexpr *v = &p->f->vx[i];
    const fp_operand *r = NULL;
    switch (v->op) {
    case VX_LIT: return NULL;
    case VX_FIELD: case VX_STRING: case VX_REF: return &v->field;
    case VX_MAX: case VX_MIN:
        for (int k = 0; k < v->b && r == NULL; k++)
            r = first_field(p, p->f->kids[v->a + k]);
        return r;
    default:
        r = first_field(p, v->a);
        return r != NULL || v->b < 0 ? r : first_field(p, v->b);
    }
}

static const char *op_symbol(int op)
{
    switch (op) {
    case VX_ADD: return "+";
    case VX_SUB: case VX_NEG: return "-";
    case VX_MUL: return "*";
    case VX_DIV: return "/";
    case VX_MOD: return "%";
    default: return "&";
    }
}

/* An operand of arithmetic must be an integer (a literal becomes one). */
static int arith_operand(parser *p, int op, int i)
{
    fp_vexpr *v = &p->f->vx[i];
    char buf[32];
    if (v->op == VX_LIT) {
        if (v->tok_type == T_STRING)
            return fail_at(p, v->col, v->len, "\"%.*s\" is not a valid arithmetic operand.",
                           (int)v->tok_slen, (const char *)p->f->pool + v->tok_off);
        return 0;
    }
    if (v->kind == FK_UINT)
        return 0;
    const char *name = v->op == VX_FIELD || v->op == VX_REF ? ft_name(&v->field, buf, sizeof buf)
                       : v->op == VX_STRING ? "FT_STRING" : "FT_NONE";
    if (op == VX_ABS)
        return fail_at(p, v->col, v->len, "'%.*s' is not a valid argument to 'abs'()", v->len, p->expr + v->col);
    return fail_at(p, v->col, v->len, "%s cannot %s.", name, op_symbol(op));
}

/* Kinds bottom-up; arithmetic over integers only (Wireshark's time arithmetic is not here). */
static int vx_type(parser *p, int i)
{
    fp_vexpr *v = &p->f->vx[i];
    switch (v->op) {
    case VX_LIT: case VX_STRING:
        return 0;
    case VX_FIELD: case VX_REF:
        v->kind = v->field.kind;
        v->wide = v->field.kind == FK_UINT && !v->field.func && !v->field.has_slice &&
                  v->field.field->bits > 32;
        return 0;
    case VX_MAX: case VX_MIN: {
        const char *fname = v->op == VX_MAX ? "max" : "min";
        char want[32], got[32];
        const char *expect = NULL;
        for (int k = 0; k < v->b; k++) {
            int a = p->f->kids[v->a + k];
            if (vx_type(p, a) < 0) return -1;
            fp_vexpr *x = &p->f->vx[a];
            if (k == 0 && x->op == VX_LIT)
                return fail_at(p, x->col, x->len, "Argument '%.*s' is not valid for %s()", x->len,
                               p->expr + x->col, fname);
            if (k == 0) {
                v->kind = x->kind;
                v->wide = x->wide;
            }
            if (x->op == VX_FIELD) {
                const char *t = ft_name(&x->field, got, sizeof got);
                if (expect == NULL) {
                    snprintf(want, sizeof want, "%s", t);
                    expect = want;
                } else if (strcmp(t, expect) != 0) {
                    return fail_at(p, x->col, x->len,
                                   "Arguments to '%s' must have the same type (expected %s, got %s)",
                                   fname, expect, t);
                }
            }
            if (x->wide) v->wide = 1;
        }
        return 0;
    }
    default: {
        p->f->vx[i].kind = FK_UINT;
        if (vx_type(p, v->a) < 0 || arith_operand(p, v->op, v->a) < 0) return -1;
        if (v->b >= 0 && (vx_type(p, v->b) < 0 || arith_operand(p, v->op, v->b) < 0)) return -1;
        v = &p->f->vx[i];
        v->wide = p->f->vx[v->a].wide || (v->b >= 0 && p->f->vx[v->b].wide);
        return 0;
    }
    }
}

/* Converts the tree's literals: `kind` where a literal stands for a side or an argument of
 * max()/min(), integers inside arithmetic, each checked against the comparison's first
 * field `ctx` as tshark checks them. */
static int vx_convert(parser *p, int i, int kind, const fp_operand *ctx)
{
    fp_vexpr *v = &p->f->vx[i];
    switch (v->op) {
    case VX_FIELD: case VX_STRING: case VX_REF:
        return 0;
    case VX_LIT: {
        token save = p->tok;
        memset(&p->tok, 0, sizeof p->tok);
        p->tok.type = v->tok_type;
        p->tok.col = v->col;
        p->tok.len = v->len;
        p->tok.off = v->tok_off;
        p->tok.slen = v->tok_slen;
        p->tok.u = v->tok_u;
        fp_operand none;
        memset(&none, 0, sizeof none);
        const fp_operand *op = ctx ? ctx : &none;
        int li = literal(p, kind ? kind : FK_UINT, ctx && !ctx->func ? ctx->field : NULL, op);
        p->tok = save;
        if (li < 0) return -1;
        v = &p->f->vx[i];
        v->lit = li;
        v->kind = (uint8_t)(kind ? kind : FK_UINT);
        return 0;
    }
    case VX_MAX: case VX_MIN: {
        int k_kind = v->kind;
        for (int k = 0; k < v->b; k++)
            if (vx_convert(p, p->f->kids[p->f->vx[i].a + k], k_kind, ctx) < 0) return -1;
        return 0;
    }
    default:
        if (vx_convert(p, v->a, FK_UINT, ctx) < 0) return -1;
        v = &p->f->vx[i];
        return v->b >= 0 ? vx_convert(p, v->b, FK_UINT, ctx) : 0;
    }
}

/* ---- tests ------------------------------------------------------------------------- */

static int parse_or(parser *p);

static int compatible(const fp_operand *a, const fp_operand *b)
{
    return a->kind == b->kind || (a->kind == FK_BYTES && (b->kind == FK_MAC || b->kind == FK_IPV6)) ||
           (b->kind == FK_BYTES && (a->kind == FK_MAC || a->kind == FK_IPV6));
}

/* A field, or a field `& literal`: the operand the direct (fast) tests read. */
static int simple_operand(parser *p, int i, fp_operand *op)
{
    const fp_vexpr *v = &p->f->vx[i];
    if (v->op == VX_FIELD) {
        *op = v->field;
        return 1;
    }
    if (v->op == VX_AND && p->f->vx[v->a].op == VX_FIELD && p->f->vx[v->b].op == VX_LIT) {
        *op = p->f->vx[v->a].field;
        return mask_operand(p, op, v->b, v->opcol) < 0 ? -1 : 1;
    }
    return 0;
}

/* The right side of a direct test: a literal of the left side's kind (or `kind_override`),
 * or a field of a compatible kind. 0 when it needs the value path. */
static int direct_rhs(parser *p, int ni, int r, int kind_override)
{
    fp_vexpr *v = &p->f->vx[r];
    fp_node *n = &p->f->nodes[ni];
    if (v->op == VX_LIT) {
        fp_operand lhs = n->lhs;
        if (vx_convert(p, r, kind_override ? kind_override : lhs.kind, &lhs) < 0) return -1;
        p->f->nodes[ni].lit = p->f->vx[r].lit;
        return 1;
    }
    fp_operand rhs;
    int col = v->col, len = v->len;
    int s = simple_operand(p, r, &rhs);
    if (s <= 0) return s;
    n = &p->f->nodes[ni];
    if (!compatible(&n->lhs, &rhs))
        return fail_at(p, col, len, "%s and %s are not of compatible types.", n->lhs.field->name,
                       rhs.field->name);
    n->rhs = rhs;
    n->rhs_field = 1;
    return 1;
}

static int parse_set(parser *p, int ni)
{
    if (p->tok.type != T_LBRACE) return unexpected(p);
    next(p);
    int first = -1, count = 0;
    for (;;) {
        fp_node *n = &p->f->nodes[ni];
        /* a negative number is an element no unsigned field equals, as in Wireshark */
        int negative = 0;
        if (p->tok.type == T_MINUS || p->tok.type == T_PLUS) {
            negative = p->tok.type == T_MINUS;
            next(p);
            if (n->lhs.kind != FK_UINT) return unexpected(p);
        }
        int lo = literal(p, n->lhs.kind, n->lhs.func ? NULL : n->lhs.field, &n->lhs);
        if (lo < 0) return -1;
        next(p);
        int hi;
        if (p->tok.type == T_DOTDOT) {
            next(p);
            n = &p->f->nodes[ni];
            hi = literal(p, n->lhs.kind, n->lhs.func ? NULL : n->lhs.field, &n->lhs);
            if (hi < 0) return -1;
            next(p);
        } else {
            hi = lit_new(p);
            if (hi < 0) return -1;
            p->f->lits[hi] = p->f->lits[lo];
        }
        if (negative && p->f->lits[lo].u != 0) { /* an empty range */
            p->f->lits[lo].u = 1;
            p->f->lits[hi].u = 0;
        }
        if (first < 0) first = lo;
        count++;
        if (p->tok.type == T_RBRACE) break;
        if (p->tok.type != T_COMMA) return unexpected(p);
        next(p);
    }
    p->f->nodes[ni].lit = first;
    p->f->nodes[ni].nlit = count;
    return next(p);
}

static int compile_regex(parser *p, int ni)
{
    if (p->tok.type != T_STRING) {
        if (p->tok.type == T_EOF) return unexpected(p);
        return fail_tok(p, "Matches requires a double quoted string on the right side.");
    }
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile(p->f->pool + p->tok.off, p->tok.slen, PCRE2_CASELESS, &errcode,
                                   &erroff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return fail_tok(p, "Regex compilation error: %s.", (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter otherwise */
    p->f->nodes[ni].re = re;
    return next(p);
}

static int is_function(int op) { return op == VX_MAX || op == VX_MIN || op == VX_ABS || op == VX_STRING; }

/* A test whose left side is more than a field: arithmetic, a function, a reference. */
static int value_test(parser *p, int ni, int l, token op, int quant)
{
    fp_filter *f = p->f;
    const fp_vexpr *lv = &f->vx[l];
    int lop = lv->op, lcol = lv->opcol, llen = lop == VX_REF ? lv->len : lv->oplen;
    f->nodes[ni].vl = l;
    f->nodes[ni].vr = -1;
    if (!has_field(p, l))
        return fail_at(p, f->vx[l].col, 1, "Constant arithmetic expression on the LHS is invalid.");
    if (op.type == T_REL) {
        next(p);
        int r = parse_vexpr(p);
        if (r < 0 || vx_type(p, r) < 0) return -1;
        const fp_operand *ctx = first_field(p, l);
        if (ctx == NULL) ctx = first_field(p, r);
        int kind = p->f->vx[l].kind ? p->f->vx[l].kind : p->f->vx[r].kind;
        if (vx_convert(p, l, kind, ctx) < 0 || vx_convert(p, r, kind, ctx) < 0) return -1;
        fp_node *n = &p->f->nodes[ni];
        n->type = NT_VCMP;
        n->rel = (uint8_t)op.rel;
        n->quant = (uint8_t)(quant >= 0 ? quant : op.quant);
        n->vr = r;
        if (p->f->vx[r].op == VX_LIT && p->f->lits[p->f->vx[r].lit].prefix >= 0 &&
            op.rel != REL_EQ && op.rel != REL_NE)
            return fail_at(p, op.col, op.len, "CIDR prefixes can only be compared with == or !=.");
        return ni;
    }
    if (vx_convert(p, l, f->vx[l].kind, first_field(p, l)) < 0)
        return -1;
    int func = is_function(lop);
    if ((op.type == T_CONTAINS || op.type == T_MATCHES) && func) {
        int kind = f->vx[l].kind;
        if (kind != FK_STRING && kind != FK_BYTES)
            return unexpected(p);
        next(p);
        if (op.type == T_MATCHES) {
            p->f->nodes[ni].type = NT_VMATCHES;
            return compile_regex(p, ni) < 0 ? -1 : ni;
        }
        int r = parse_vexpr(p);
        if (r < 0 || vx_type(p, r) < 0) return -1;
        if (vx_convert(p, r, kind, first_field(p, l)) < 0) return -1;
        p->f->nodes[ni].type = NT_VCONTAINS;
        p->f->nodes[ni].vr = r;
        return ni;
    }
    if (op.type == T_IN && func)
        return fail_at(p, lcol, llen, "Only a field may be tested for membership in a set.");
    if (op.type == T_CONTAINS || op.type == T_MATCHES || op.type == T_IN)
        return unexpected(p);
    if (quant >= 0)
        return unexpected(p);
    if (func)
        return fail_at(p, lcol, llen, "You cannot test whether a function is present.");
    if (lop == VX_REF) {
        char buf[32];
        return fail_at(p, f->vx[l].col + 2, f->vx[l].len - 3, "%s <%s> is neither a field nor a protocol name.",
                       f->vx[l].field.field->name, ft_name(&f->vx[l].field, buf, sizeof buf));
    }
    p->f->nodes[ni].type = NT_VTRUE;
    return ni;
}

static int parse_test(parser *p)
{
    int quant = -1;
    if (p->tok.type == T_ANY || p->tok.type == T_ALL) {
        quant = p->tok.type == T_ALL ? Q_ALL : Q_ANY;
        next(p);
    }
    int lhs_col = p->tok.col;
    int l = parse_vexpr(p);
    if (l < 0) return -1;
    if (p->f->vx[l].op == VX_LIT) {
        /* a lone literal on the left: say what tshark says of it */
        p->pos = lhs_col;
        next(p);
        fp_operand dummy;
        memset(&dummy, 0, sizeof dummy);
        if (p->tok.type != T_WORD && p->tok.type != T_STRING && p->tok.type != T_CHAR)
            return unexpected(p);
        field_operand(p, &dummy, 1);
        return p->failed ? -1 : fail_at(p, lhs_col, 1, "Invalid filter.");
    }
    fp_operand lhs;
    int simple = simple_operand(p, l, &lhs);
    if (simple < 0) return -1;
    int lhs_len = end_before_token(p, lhs_col) - lhs_col;
    int ni = node_new(p, NT_EXISTS);
    if (ni < 0) return -1;
    token op = p->tok;
    if (!simple)
        return vx_type(p, l) < 0 ? -1 : value_test(p, ni, l, op, quant);
    p->f->nodes[ni].lhs = lhs;
    char tn[64];
    const char *fname = lhs.field->name;
    switch (op.type) {
    case T_REL: {
        p->f->nodes[ni].type = NT_CMP;
        p->f->nodes[ni].rel = (uint8_t)op.rel;
        p->f->nodes[ni].quant = (uint8_t)(quant >= 0 ? quant : op.quant);
        next(p);
        int r = parse_vexpr(p);
        if (r < 0 || vx_type(p, r) < 0) return -1;
        int d = direct_rhs(p, ni, r, 0);
        if (d < 0) return -1;
        if (d == 0) { /* arithmetic on the right: both sides as values */
            int kind = lhs.kind;
            const fp_vexpr *rv = &p->f->vx[r];
            if (kind != FK_UINT && rv->op >= VX_NEG && rv->op <= VX_AND) {
                /* tshark types the right side's literals as the field: name the first */
                const fp_vexpr *leaf = rv;
                while (leaf->op >= VX_NEG && leaf->op <= VX_AND)
                    leaf = &p->f->vx[leaf->a];
                char buf[32];
                return fail_at(p, leaf->col, leaf->len, "%s cannot %s.", ft_name(&lhs, buf, sizeof buf),
                               op_symbol(rv->op));
            }
            if (vx_type(p, l) < 0 || vx_convert(p, l, kind, &lhs) < 0 ||
                vx_convert(p, r, kind, &lhs) < 0)
                return -1;
            fp_node *n = &p->f->nodes[ni];
            n->type = NT_VCMP;
            n->vl = l;
            n->vr = r;
            return ni;
        }
        if (p->f->nodes[ni].lit >= 0 && p->f->lits[p->f->nodes[ni].lit].prefix >= 0 &&
            op.rel != REL_EQ && op.rel != REL_NE)
            return fail_at(p, op.col, op.len, "CIDR prefixes can only be compared with == or !=.");
        return ni;
    }
    case T_CONTAINS: {
        if (lhs.kind != FK_BYTES && lhs.kind != FK_STRING && lhs.kind != FK_MAC && lhs.kind != FK_IPV6)
            return fail_at(p, lhs_col, lhs_len, "%s (type=%s) cannot participate in contains comparison.",
                           fname, lhs.func ? "Unsigned integer" : type_name(lhs.field, tn, sizeof tn));
        p->f->nodes[ni].type = NT_CONTAINS;
        next(p);
        int r = parse_vexpr(p);
        if (r < 0 || vx_type(p, r) < 0) return -1;
        int d = direct_rhs(p, ni, r, lhs.kind == FK_STRING ? FK_STRING : FK_BYTES);
        if (d == 0) {
            const fp_vexpr *v = &p->f->vx[r];
            return fail_at(p, v->col, v->len, "\"%.*s\" was unexpected in this context.", v->len, p->expr + v->col);
        }
        return d < 0 ? -1 : ni;
    }
    case T_MATCHES:
        if (lhs.kind != FK_BYTES && lhs.kind != FK_STRING)
            return fail_at(p, lhs_col, lhs_len, "%s (type=%s) cannot participate in matches comparison.",
                           fname, lhs.func ? "Unsigned integer" : type_name(lhs.field, tn, sizeof tn));
        next(p);
        p->f->nodes[ni].type = NT_MATCHES;
        return compile_regex(p, ni) < 0 ? -1 : ni;
    case T_IN:
        p->f->nodes[ni].type = NT_IN;
        next(p);
        return parse_set(p, ni) < 0 ? -1 : ni;
    case T_NOT: {
        parser peek = *p;
        next(&peek);
        if (peek.tok.type != T_IN)
            break;
        *p = peek;
        p->f->nodes[ni].type = NT_IN;
        next(p);
        if (parse_set(p, ni) < 0) return -1;
        int nn = node_new(p, NT_NOT);
        if (nn < 0) return -1;
        p->f->nodes[nn].a = ni;
        return nn;
    }
    default:
        break;
    }
    if (quant >= 0)
        return unexpected(p);
    p->f->nodes[ni].type = lhs.has_mask ? NT_NONZERO : NT_EXISTS;
    return ni;
}

static int parse_unary(parser *p)
{
    if (++p->depth > MAX_DEPTH)
        return fail_tok(p, "Filter expression nested too deeply (over %d levels).", MAX_DEPTH);
    int r;
    if (p->tok.type == T_NOT) {
        next(p);
        int a = parse_unary(p);
        if (a < 0) return -1;
        r = node_new(p, NT_NOT);
        if (r >= 0) p->f->nodes[r].a = a;
    } else if (p->tok.type == T_LPAREN) {
        next(p);
        r = parse_or(p);
        if (r < 0) return -1;
        if (p->tok.type != T_RPAREN) return unexpected(p);
        next(p);
    } else {
        r = parse_test(p);
    }
    p->depth--;
    return r;
}

/* `a and b and c` is one node over its operands (kids[a..a+b)): evaluation loops instead
 * of recursing down a chain as long as the expression. */
static int parse_binary(parser *p, int type)
{
    int first = type == NT_OR ? parse_binary(p, NT_AND) : parse_unary(p);
    int tok = type == NT_OR ? T_OR : T_AND;
    if (first < 0 || p->tok.type != tok)
        return first;
    int *terms = NULL, n = 0, cap = 0;
    if (grow((void **)&terms, &cap, 1, sizeof *terms) < 0)
        return fail_at(p, 0, 0, "out of memory");
    terms[n++] = first;
    while (p->tok.type == tok) {
        next(p);
        int right = type == NT_OR ? parse_binary(p, NT_AND) : parse_unary(p);
        if (right < 0 || grow((void **)&terms, &cap, n + 1, sizeof *terms) < 0) {
            free(terms);
            return right < 0 ? -1 : fail_at(p, 0, 0, "out of memory");
        }
        terms[n++] = right;
    }
    fp_filter *f = p->f;
    int node = node_new(p, type);
    if (node < 0 || grow((void **)&f->kids, &f->cap_kids, f->n_kids + n, sizeof *f->kids) < 0) {
        free(terms);
        return node < 0 ? -1 : fail_at(p, 0, 0, "out of memory");
    }
    memcpy(f->kids + f->n_kids, terms, (size_t)n * sizeof *terms);
    f->nodes[node].a = f->n_kids;
    f->nodes[node].b = n;
    f->n_kids += n;
    free(terms);
    return node;
}

static int parse_or(parser *p) { return parse_binary(p, NT_OR); }

void fp_filter_free(fp_filter *f)
{
    if (f == NULL) return;
    for (int i = 0; i < f->n_nodes; i++)
        if (f->nodes[i].re) pcre2_code_free(f->nodes[i].re);
    free(f->nodes);
    free(f->vx);
    free(f->lits);
    free(f->kids);
    free(f->pool);
    free(f);
}

/* A field read from an application layer (DNS, HTTP, TLS), or QUIC's, whose heuristic
 * yields to a DNS layer: its packets need fp_dissect's application detection. */
static int field_needs_app(const fp_field *f)
{
    return f != NULL && (f->layer >= FP_L_DNS || strncmp(f->name, "quic", 4) == 0);
}

static int field_is_number(const fp_field *f)
{
    return f != NULL && strcmp(f->name, "frame.number") == 0;
}

fp_filter *fp_filter_compile(const char *expr, fp_filter_error *err)
{
    memset(err, 0, sizeof *err);
    fp_filter *f = calloc(1, sizeof *f);
    /* the pool always exists: literals' offsets into it are never offsets from NULL */
    if (f == NULL || (f->pool = malloc(64)) == NULL) {
        free(f);
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    f->pool_cap = 64;
    parser p = {expr, 0, {0}, f, err, 0, 0};
    next(&p);
    if (!p.failed && p.tok.type == T_EOF)
        fail_at(&p, 0, 0, "Unexpected end of filter expression.");
    int root = p.failed ? -1 : parse_or(&p);
    if (root >= 0 && p.tok.type != T_EOF)
        unexpected(&p);
    if (p.failed || root < 0) {
        if (!p.failed) fail_at(&p, 0, 0, "Invalid filter.");
        fp_filter_free(f);
        return NULL;
    }
    f->root = root;
    for (int i = 0; i < f->n_nodes; i++) {
        const fp_node *n = &f->nodes[i];
        if (n->type >= NT_EXISTS && (field_needs_app(n->lhs.field) || (n->rhs_field && field_needs_app(n->rhs.field))))
            f->needs_app = 1;
        if (n->type >= NT_EXISTS && (field_is_number(n->lhs.field) || (n->rhs_field && field_is_number(n->rhs.field))))
            f->needs_number = 1;
    }
    for (int i = 0; i < f->n_vx; i++) {
        if ((f->vx[i].op == VX_FIELD || f->vx[i].op == VX_STRING) && field_needs_app(f->vx[i].field.field))
            f->needs_app = 1;
        if ((f->vx[i].op == VX_FIELD || f->vx[i].op == VX_STRING || f->vx[i].op == VX_REF) &&
            field_is_number(f->vx[i].field.field))
            f->needs_number = 1;
    }
    return f;
}

int fp_filter_needs_app(const fp_filter *f) { return f->needs_app; }
int fp_filter_needs_number(const fp_filter *f) { return f->needs_number; }
