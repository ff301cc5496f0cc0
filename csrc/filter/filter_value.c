/* Display-filter values computed per packet (wireshark-filter(4), tshark 4.0): arithmetic
 * `+ - * / % &` and unary minus over integer fields, max()/min()/abs()/string(), ${}
 * references. Each tree node yields a bounded list of values: a binary operator combines
 * every value of its left side with every value of its right, as Wireshark does.
 *
 * Integer rules follow Wireshark 4.0's ftypes: fields up to 32 bits compute in 32 bits,
 * wider ones in 64; unsigned results that overflow are dropped (no wrap), a subtraction
 * that would go below zero turns signed, unary minus makes an unsigned value signed, and a
 * signed right operand of an unsigned operation is read by its bits. A comparison orders
 * both sides as the left side's signedness (a negative value against an unsigned one does
 * not compare, so `!=` holds and the others fail), and division by zero drops the value. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "filter_impl.h"

#define VX_VALUES 32   /* values per node: a cross product beyond it is cut */
#define VX_ARENA 8192  /* bytes copied (DNS names, cased strings) or formatted by string() */

typedef struct {
    uint64_t u;       /* integers: the value; signed ones sign-extended */
    const uint8_t *p; /* bytes, strings, addresses */
    uint32_t len;
    uint8_t sgn;
} xval;

typedef struct {
    xval v[VX_VALUES];
    int n;
    int absent; /* a field it reads has no value, or a function gave none: the test fails */
} xlist;

typedef struct {
    const fp_filter *f;
    fp_field_ctx *x;
    uint8_t arena[VX_ARENA];
    uint32_t used;
    pcre2_match_data *md;
} vstate;

/* ---- leaves ------------------------------------------------------------------------ */

typedef struct {
    vstate *s;
    xlist *out;
    int kind; /* string(): the field's kind */
} collect_arg;

static const uint8_t *keep(vstate *s, const uint8_t *p, uint32_t len)
{
    const fp_field_ctx *x = s->x;
    if (p >= x->data && p + len <= x->data + x->caplen)
        return p; /* record bytes live through the evaluation */
    if (len > VX_ARENA - s->used)
        return NULL;
    memcpy(s->arena + s->used, p, len);
    s->used += len;
    return s->arena + s->used - len;
}

static int collect(void *arg, const fp_field_value *v)
{
    collect_arg *c = arg;
    if (c->out->n == VX_VALUES)
        return 1;
    xval x = {v->u, NULL, v->len, 0};
    if (v->p != NULL && (x.p = keep(c->s, v->p, v->len)) == NULL)
        return 1;
    c->out->v[c->out->n++] = x;
    return 0;
}

/* string(): integers in decimal, addresses as Wireshark prints them. */
static int stringify(void *arg, const fp_field_value *v)
{
    collect_arg *c = arg;
    char buf[64];
    int n = 0;
    switch (c->kind) {
    case FK_UINT:
        n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->u);
        break;
    case FK_IPV4:
        n = snprintf(buf, sizeof buf, "%u.%u.%u.%u", (unsigned)(v->u >> 24) & 255,
                     (unsigned)(v->u >> 16) & 255, (unsigned)(v->u >> 8) & 255, (unsigned)v->u & 255);
        break;
    case FK_IPV6:
        if (v->p == NULL || v->len != 16 || inet_ntop(AF_INET6, v->p, buf, sizeof buf) == NULL)
            return 0;
        n = (int)strlen(buf);
        break;
    case FK_MAC:
        if (v->p == NULL || v->len != 6)
            return 0;
        n = snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", v->p[0], v->p[1], v->p[2],
                     v->p[3], v->p[4], v->p[5]);
        break;
    default:
        return 0;
    }
    fp_field_value s = {0, (const uint8_t *)buf, (uint32_t)n};
    return collect(arg, &s);
}

/* ---- integer arithmetic, as Wireshark 4.0's ftypes do it ------------------------------- */

static int64_t as_signed(const xval *v, int wide)
{
    return wide ? (int64_t)v->u : (int64_t)(int32_t)(uint32_t)v->u;
}

static uint64_t as_unsigned(const xval *v, int wide)
{
    return wide ? v->u : (uint32_t)v->u;
}

static int set_signed(xval *r, int64_t v, int wide)
{
    if (!wide && (v > INT32_MAX || v < INT32_MIN))
        return 0;
    r->u = (uint64_t)v;
    r->sgn = 1;
    return 1;
}

static int negate(const xval *a, int wide, xval *r)
{
    if (!a->sgn) {
        uint64_t ua = as_unsigned(a, wide);
        if (ua > (wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX))
            return 0;
        return set_signed(r, -(int64_t)ua, wide);
    }
    /* Wireshark negates signed values without a check: the minimum stays itself */
    uint64_t bits = 0 - (uint64_t)as_signed(a, wide);
    return set_signed(r, wide ? (int64_t)bits : (int64_t)(int32_t)(uint32_t)bits, wide);
}

/* 1 with *r set, 0 when Wireshark drops the value (overflow, division by zero). */
static int arith(int op, int wide, const xval *a, const xval *b, xval *r)
{
    memset(r, 0, sizeof *r);
    if (!a->sgn) {
        uint64_t x = as_unsigned(a, wide), y = as_unsigned(b, wide), v;
        uint64_t max = wide ? UINT64_MAX : UINT32_MAX;
        switch (op) {
        case VX_ADD:
            if (__builtin_add_overflow(x, y, &v) || v > max) return 0;
            break;
        case VX_SUB:
            if (y > x) { /* below zero: signed arithmetic */
                uint64_t smax = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
                if (x > smax || y > smax) return 0;
                return set_signed(r, (int64_t)x - (int64_t)y, wide);
            }
            v = x - y;
            break;
        case VX_MUL:
            if (__builtin_mul_overflow(x, y, &v) || v > max) return 0;
            break;
        case VX_DIV:
            if (y == 0) return 0;
            v = x / y;
            break;
        case VX_MOD:
            if (y == 0) return 0;
            v = x % y;
            break;
        default: /* VX_AND */
            v = x & y;
            break;
        }
        r->u = v;
        return 1;
    }
    int64_t x = as_signed(a, wide), y = as_signed(b, wide), v;
    int64_t min = wide ? INT64_MIN : INT32_MIN;
    switch (op) {
    case VX_ADD:
        if (__builtin_add_overflow(x, y, &v)) return 0;
        break;
    case VX_SUB:
        if (__builtin_sub_overflow(x, y, &v)) return 0;
        break;
    case VX_MUL:
        if (__builtin_mul_overflow(x, y, &v)) return 0;
        break;
    case VX_DIV:
        if (y == 0 || (x == min && y == -1)) return 0;
        v = x / y;
        break;
    case VX_MOD:
        if (y == 0 || (x == min && y == -1)) return 0;
        v = x % y;
        break;
    default:
        v = x & y;
        break;
    }
    return set_signed(r, v, wide);
}

/* Orders a against b as a's signedness; 0 when b's value has no place in it. */
static int int_order(const xval *a, const xval *b, int *c)
{
    if (!a->sgn) {
        if (b->sgn && (int64_t)b->u < 0)
            return 0;
        *c = a->u < b->u ? -1 : a->u > b->u;
        return 1;
    }
    if (!b->sgn && b->u > (uint64_t)INT64_MAX)
        return 0;
    int64_t x = (int64_t)a->u, y = (int64_t)b->u;
    *c = x < y ? -1 : x > y;
    return 1;
}

static int order(int kind, const xval *a, const xval *b, int *c)
{
    if (kind == FK_UINT)
        return int_order(a, b, c);
    fp_field_value x = {a->u, a->p, a->len}, y = {b->u, b->p, b->len};
    *c = fp_filter_compare(kind, &x, &y);
    return 1;
}

/* ---- tree evaluation ---------------------------------------------------------------- */

static void eval_node(vstate *s, int i, xlist *out)
{
    const fp_filter *f = s->f;
    const fp_vexpr *vx = &f->vx[i];
    out->n = 0;
    out->absent = 0;
    switch (vx->op) {
    case VX_FIELD: case VX_STRING: {
        collect_arg c = {s, out, vx->field.kind};
        fp_filter_operand_each(f, s->x, &vx->field, vx->op == VX_STRING ? stringify : collect, &c);
        out->absent = out->n == 0;
        return;
    }
    case VX_LIT: {
        const fp_literal *l = &f->lits[vx->lit];
        xval v = {l->u, f->pool + l->off, l->len, 0};
        out->v[out->n++] = v;
        return;
    }
    case VX_REF: /* a reference to the selected frame: tshark has none */
        out->absent = 1;
        return;
    case VX_NEG: case VX_ABS: {
        xlist a;
        eval_node(s, vx->a, &a);
        out->absent = a.absent;
        for (int k = 0; k < a.n; k++) {
            const xval *v = &a.v[k];
            if (vx->op == VX_ABS && !(v->sgn && as_signed(v, vx->wide) < 0))
                out->v[out->n++] = *v;
            else if (negate(v, vx->wide, &out->v[out->n]))
                out->n++;
        }
        if (vx->op == VX_ABS && out->n == 0)
            out->absent = 1;
        return;
    }
    case VX_MAX: case VX_MIN: {
        /* every value of every argument; arguments without one are left out */
        xval best;
        int have = 0;
        for (int k = 0; k < vx->b; k++) {
            xlist a;
            eval_node(s, f->kids[vx->a + k], &a);
            for (int j = 0; j < a.n; j++) {
                int c;
                if (!have) { best = a.v[j]; have = 1; continue; }
                if (order(vx->kind, &a.v[j], &best, &c) && (vx->op == VX_MAX ? c > 0 : c < 0))
                    best = a.v[j];
            }
        }
        if (have)
            out->v[out->n++] = best;
        out->absent = !have;
        return;
    }
    default: {
        /* a value the operator drops (overflow, division by zero) leaves the list shorter:
         * then `!=` and `===` hold over what is left, as in Wireshark */
        xlist a, b;
        eval_node(s, vx->a, &a);
        if (a.absent) {
            out->absent = 1;
            return;
        }
        eval_node(s, vx->b, &b);
        if (b.absent) {
            out->absent = 1;
            return;
        }
        for (int j = 0; j < a.n; j++)
            for (int k = 0; k < b.n && out->n < VX_VALUES; k++)
                if (arith(vx->op, vx->wide, &a.v[j], &b.v[k], &out->v[out->n]))
                    out->n++;
        return;
    }
    }
}

/* One left value against the right side: any right value for `==`-like tests, all of them
 * for `===` and `!=` (Wireshark's `!=` is "not any equal": a pair that cannot be ordered is
 * not equal). */
static int pair_test(vstate *s, const fp_node *n, const xval *v, const xlist *rhs)
{
    const fp_filter *f = s->f;
    int kind = f->vx[n->vl].kind;
    for (int k = 0; k < rhs->n; k++) {
        const xval *w = &rhs->v[k];
        int r;
        if (n->type == NT_VCONTAINS) {
            r = v->p != NULL && (w->len == 0 || memmem(v->p, v->len, w->p, w->len) != NULL);
        } else {
            const fp_vexpr *rv = &f->vx[n->vr];
            int c;
            if (rv->op == VX_LIT && f->lits[rv->lit].prefix >= 0) {
                fp_field_value x = {v->u, v->p, v->len};
                int inside = fp_filter_in_prefix(kind, &x, &f->lits[rv->lit], f->pool);
                r = n->rel == REL_EQ ? inside : !inside;
            } else if (order(kind, v, w, &c)) {
                r = fp_filter_holds(n->rel, c);
            } else {
                r = n->rel == REL_NE && n->quant == Q_ALL;
            }
        }
        if (n->quant == Q_ALL ? !r : r)
            return n->quant != Q_ALL;
    }
    return n->quant == Q_ALL;
}

int fp_filter_eval_value_test(const fp_filter *f, const fp_node *n, fp_field_ctx *x)
{
    vstate s;
    s.f = f;
    s.x = x;
    s.used = 0;
    s.md = NULL;
    xlist lhs, rhs;
    eval_node(&s, n->vl, &lhs);
    if (lhs.absent)
        return 0;
    if (n->type == NT_VTRUE) {
        for (int k = 0; k < lhs.n; k++)
            if (lhs.v[k].u != 0) return 1;
        return 0;
    }
    int result = 0;
    if (n->type == NT_VMATCHES) {
        if ((s.md = pcre2_match_data_create(1, NULL)) == NULL)
            return 0;
        for (int k = 0; k < lhs.n && !result; k++)
            result = lhs.v[k].p != NULL &&
                     pcre2_match(n->re, lhs.v[k].p, lhs.v[k].len, 0, 0, s.md, NULL) >= 0;
        pcre2_match_data_free(s.md);
        return result;
    }
    eval_node(&s, n->vr, &rhs);
    if (rhs.absent)
        return 0;
    int all = n->type == NT_VCMP && n->quant == Q_ALL;
    for (int k = 0; k < lhs.n; k++) {
        int r = pair_test(&s, n, &lhs.v[k], &rhs);
        if (all ? !r : r)
            return r;
    }
    return all;
}
