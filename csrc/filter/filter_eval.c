/* Display filter evaluation over the field registry. Repeated fields follow Wireshark
 * 4.0: `==`, `<`, `contains`, `matches`, `in` hold when any occurrence satisfies them,
 * `!=` when all do (`!==`/`any_ne` and `===`/`all_eq` spell the other two), and any
 * comparison needs the field to be present. */
/* memmem: _GNU_SOURCE comes from the build (setup.py, Makefile) */
#include <stdlib.h>
#include <string.h>

#include "filter_impl.h"

/* Values of the right-hand field of a field-to-field comparison, copied (DNS names live
 * in the context's scratch, which the left side's walk overwrites). */
#define RHS_MAX_VALUES 64
#define RHS_ARENA 4096

typedef struct {
    const fp_filter *f;
    fp_field_ctx *x;
} ev;

typedef int (*value_fn)(void *arg, const fp_field_value *v);

/* ---- operands: field -> slice -> len()/count() -> mask ------------------------- */

typedef struct {
    const ev *e;
    const fp_operand *op;
    value_fn fn;
    void *arg;
} adapter;

static int transform_visit(void *arg, const fp_field_value *in)
{
    const adapter *ad = arg;
    const fp_operand *op = ad->op;
    fp_field_value v = *in;
    uint8_t masked[256];
    if (op->has_slice) {
        if (v.p == NULL)
            return 0;
        int64_t n = v.len, s = op->slice_start < 0 ? n + op->slice_start : op->slice_start;
        int64_t l = op->slice_to_end ? n - s : op->slice_len;
        if (s < 0 || s > n || l < 0 || s + l > n)
            return 0; /* a slice past the value: no value, as in Wireshark */
        v.p += s;
        v.len = (uint32_t)l;
    }
    uint8_t small[512], *cased = NULL;
    if (op->func == FN_UPPER || op->func == FN_LOWER) {
        /* Wireshark's upper()/lower() change ASCII letters only */
        cased = v.len <= sizeof small ? small : malloc(v.len);
        if (cased == NULL) return 0;
        for (uint32_t i = 0; i < v.len; i++) {
            uint8_t c = v.p[i];
            if (op->func == FN_UPPER ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) c ^= 0x20;
            cased[i] = c;
        }
        v.p = cased;
    }
    if (op->func == FN_LEN) {
        v.u = op->field->type == FP_FT_UINT && !op->has_slice ? op->field->bits / 8u : v.len;
        v.p = NULL;
        v.len = 0;
    }
    if (op->has_mask) {
        if (op->mask_len) {
            const uint8_t *m = ad->e->f->pool + op->mask_off;
            for (uint32_t i = 0; i < op->mask_len && i < v.len; i++)
                masked[i] = v.p[i] & m[i];
            v.p = masked;
        } else {
            v.u &= op->mask;
        }
    }
    int stop = ad->fn(ad->arg, &v);
    if (cased != small) free(cased); /* a value over 512 bytes: the evaluation's one other allocation */
    return stop;
}

static int count_visit(void *arg, const fp_field_value *v)
{
    (void)arg;
    (void)v;
    return 0;
}

typedef struct {
    const fp_operand *op;
    value_fn fn;
    void *arg;
    int k, passed;
} layer_adapter;

static int layer_visit(void *arg, const fp_field_value *v)
{
    layer_adapter *la = arg;
    la->k++;
    if (la->k < la->op->layer_lo)
        return 0;
    if (la->k > la->op->layer_hi)
        return 1;
    la->passed++;
    return la->fn(la->arg, v);
}

/* The field's values in the layers `#n` / `#[range]` asks for. fastpkt dissects one header
 * of each protocol, so every value is in layer 1, except VLAN tags: one layer per tag. */
static int field_each_layers(const fp_operand *op, fp_field_ctx *x, value_fn fn, void *arg)
{
    if (!op->has_layer)
        return fp_field_each(op->field, x, fn, arg);
    if (op->field->layer != FP_L_VLAN)
        return op->layer_lo <= 1 && op->layer_hi >= 1 ? fp_field_each(op->field, x, fn, arg) : 0;
    layer_adapter la = {op, fn, arg, 0, 0};
    fp_field_each(op->field, x, layer_visit, &la);
    return la.passed;
}

/* Calls fn for each value of the operand until fn returns nonzero. */
static void operand_each(const ev *e, const fp_operand *op, value_fn fn, void *arg)
{
    if (op->func == FN_COUNT) {
        int n = field_each_layers(op, e->x, count_visit, NULL);
        if (n > 0) {
            fp_field_value v = {(uint64_t)n, NULL, 0};
            if (op->has_mask)
                v.u &= op->mask;
            fn(arg, &v);
        }
        return;
    }
    if (!op->has_slice && !op->func && !op->has_mask) {
        field_each_layers(op, e->x, fn, arg);
        return;
    }
    adapter ad = {e, op, fn, arg};
    field_each_layers(op, e->x, transform_visit, &ad);
}

void fp_filter_operand_each(const fp_filter *f, fp_field_ctx *x, const fp_operand *op,
                            fp_field_visit fn, void *arg)
{
    ev e = {f, x};
    operand_each(&e, op, fn, arg);
}

/* ---- comparisons ------------------------------------------------------------------ */

static int numeric(int kind) { return kind == FK_UINT || kind == FK_BOOL || kind == FK_IPV4; }

int fp_filter_compare(int kind, const fp_field_value *a, const fp_field_value *b)
{
    if (numeric(kind))
        return a->u < b->u ? -1 : a->u > b->u;
    if (kind == FK_TIME)
        return (int64_t)a->u < (int64_t)b->u ? -1 : (int64_t)a->u > (int64_t)b->u;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

int fp_filter_holds(int rel, int c)
{
    switch (rel) {
    case REL_EQ: return c == 0;
    case REL_NE: return c != 0;
    case REL_GT: return c > 0;
    case REL_GE: return c >= 0;
    case REL_LT: return c < 0;
    default: return c <= 0;
    }
}

int fp_filter_in_prefix(int kind, const fp_field_value *v, const fp_literal *l, const uint8_t *pool)
{
    if (kind == FK_IPV4) {
        uint32_t mask = l->prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - l->prefix);
        return (((uint32_t)v->u ^ (uint32_t)l->u) & mask) == 0;
    }
    const uint8_t *a = v->p, *b = pool + l->off;
    int full = l->prefix / 8, rest = l->prefix % 8;
    if (v->len < 16 || memcmp(a, b, (size_t)full) != 0)
        return 0;
    return rest == 0 || ((a[full] ^ b[full]) & (0xFF00 >> rest) & 0xFF) == 0;
}

static fp_field_value lit_value(const ev *e, const fp_literal *l)
{
    /* a filter without string or bytes literals has no pool: no pointer arithmetic on NULL */
    fp_field_value v = {l->u, e->f->pool ? e->f->pool + l->off : NULL, l->len};
    return v;
}

/* Both sides of a comparison between two fields: bytes unless both are the same atom. */
static int pair_kind(const fp_node *n)
{
    return n->lhs.kind == n->rhs.kind ? n->lhs.kind : FK_BYTES;
}

typedef struct {
    const ev *e;
    const fp_node *n;
    int seen, result;
    fp_field_value rhs[RHS_MAX_VALUES];
    int n_rhs;
    uint8_t arena[RHS_ARENA];
    uint32_t arena_used;
    pcre2_match_data *md;
} test_state;

static int collect_rhs(void *arg, const fp_field_value *v)
{
    test_state *t = arg;
    if (t->n_rhs == RHS_MAX_VALUES || (v->p && v->len > RHS_ARENA - t->arena_used))
        return 1;
    fp_field_value c = *v;
    if (v->p) {
        memcpy(t->arena + t->arena_used, v->p, v->len);
        c.p = t->arena + t->arena_used;
        t->arena_used += v->len;
    }
    t->rhs[t->n_rhs++] = c;
    return 0;
}

static int contains(const fp_field_value *v, const fp_field_value *needle)
{
    if (v->p == NULL)
        return 0;
    return needle->len == 0 || memmem(v->p, v->len, needle->p, needle->len) != NULL;
}

/* One left-hand value against the right side (a literal, or every collected value). */
static int test_one(test_state *t, const fp_field_value *v)
{
    const fp_node *n = t->n;
    const ev *e = t->e;
    switch (n->type) {
    case NT_EXISTS:
        return 1;
    case NT_NONZERO:
        if (n->lhs.mask_len) {
            for (uint32_t i = 0; i < v->len; i++)
                if (v->p[i]) return 1;
            return 0;
        }
        return v->u != 0;
    case NT_CMP:
        if (n->rhs_field) {
            int kind = pair_kind(n);
            for (int i = 0; i < t->n_rhs; i++) {
                int r = fp_filter_holds(n->rel, fp_filter_compare(kind, v, &t->rhs[i]));
                if (n->quant == Q_ANY ? r : !r)
                    return n->quant == Q_ANY;
            }
            return n->quant == Q_ALL;
        } else {
            const fp_literal *l = &e->f->lits[n->lit];
            if (l->prefix >= 0) {
                int inside = fp_filter_in_prefix(n->lhs.kind, v, l, e->f->pool);
                return n->rel == REL_EQ ? inside : !inside;
            }
            fp_field_value lv = lit_value(e, l);
            return fp_filter_holds(n->rel, fp_filter_compare(n->lhs.kind, v, &lv));
        }
    case NT_CONTAINS:
        if (n->rhs_field) {
            for (int i = 0; i < t->n_rhs; i++)
                if (contains(v, &t->rhs[i])) return 1;
            return 0;
        } else {
            fp_field_value lv = lit_value(e, &e->f->lits[n->lit]);
            return contains(v, &lv);
        }
    case NT_MATCHES:
        if (v->p == NULL)
            return 0;
        if (t->md == NULL && (t->md = pcre2_match_data_create(1, NULL)) == NULL)
            return 0;
        return pcre2_match(n->re, v->p, v->len, 0, 0, t->md, NULL) >= 0;
    case NT_IN:
        for (int i = 0; i < n->nlit; i++) {
            const fp_literal *lo = &e->f->lits[n->lit + 2 * i], *hi = lo + 1;
            if (lo->prefix >= 0) { /* a CIDR block: ranges of blocks are not a thing */
                if (fp_filter_in_prefix(n->lhs.kind, v, lo, e->f->pool)) return 1;
                continue;
            }
            fp_field_value a = lit_value(e, lo), b = lit_value(e, hi);
            if (fp_filter_compare(n->lhs.kind, v, &a) >= 0 && fp_filter_compare(n->lhs.kind, v, &b) <= 0) return 1;
        }
        return 0;
    }
    return 0;
}

static int test_visit(void *arg, const fp_field_value *v)
{
    test_state *t = arg;
    t->seen = 1;
    int r = test_one(t, v);
    int all = t->n->type == NT_CMP && t->n->quant == Q_ALL;
    if (all ? !r : r) {
        t->result = r;
        return 1;
    }
    return 0;
}

static int eval_test(const ev *e, const fp_node *n)
{
    test_state t;
    t.e = e;
    t.n = n;
    t.seen = 0;
    t.n_rhs = 0;
    t.arena_used = 0;
    t.md = NULL;
    int all = n->type == NT_CMP && n->quant == Q_ALL;
    t.result = all;
    if (n->rhs_field) {
        operand_each(e, &n->rhs, collect_rhs, &t);
        if (t.n_rhs == 0)
            return 0;
    }
    operand_each(e, &n->lhs, test_visit, &t);
    if (t.md)
        pcre2_match_data_free(t.md);
    return t.seen && t.result;
}

static int eval(const ev *e, int i)
{
    const fp_node *n = &e->f->nodes[i];
    switch (n->type) {
    case NT_AND:
        for (int k = 0; k < n->b; k++)
            if (!eval(e, e->f->kids[n->a + k])) return 0;
        return 1;
    case NT_OR:
        for (int k = 0; k < n->b; k++)
            if (eval(e, e->f->kids[n->a + k])) return 1;
        return 0;
    case NT_NOT:
        return !eval(e, n->a);
    case NT_VCMP: case NT_VCONTAINS: case NT_VMATCHES: case NT_VTRUE:
        return fp_filter_eval_value_test(e->f, n, e->x);
    default:
        return eval_test(e, n);
    }
}

int fp_filter_match(const fp_filter *f, fp_field_ctx *x)
{
    ev e = {f, x};
    return eval(&e, f->root);
}

int fp_filter_match_record(const fp_filter *f, const uint8_t *data, uint32_t caplen,
                           uint32_t wirelen, uint32_t linktype, int64_t ts_ns, int has_ts,
                           uint64_t number, int full, int flags, fp_dissection *d)
{
    if (!full && !f->needs_app) flags |= FP_DISSECT_HEADERS;
    fp_dissect_ex(data, caplen, wirelen, linktype, flags, d);
    fp_field_ctx x;
    fp_field_ctx_init(&x, data, caplen, wirelen, ts_ns, has_ts, d);
    x.number = number;
    return fp_filter_match(f, &x);
}
