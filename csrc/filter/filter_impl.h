/* The compiled form of a display filter, shared by the parser and the evaluator. */
#ifndef FP_FILTER_IMPL_H
#define FP_FILTER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "filter.h"

/* Value kinds after any function, slice or mask: what comparisons see. */
enum {
    FK_UINT = 1,
    FK_BOOL,
    FK_IPV4,
    FK_IPV6,
    FK_MAC,
    FK_BYTES, /* bytes fields, protocols, slices */
    FK_STRING,
    FK_TIME,  /* signed nanoseconds */
};

enum { FN_NONE, FN_LEN, FN_COUNT, FN_UPPER, FN_LOWER };

/* A field as the filter reads it: field, then #layers, then [slice], then
 * len()/count()/upper()/lower(), then & mask. */
typedef struct {
    const fp_field *field;
    uint8_t kind;
    uint8_t func;
    uint8_t has_layer;
    int32_t layer_lo, layer_hi; /* `#n`, `#[range]`: 1-based, inclusive */
    uint8_t has_slice, slice_to_end;
    int32_t slice_start, slice_len;
    uint8_t has_mask;
    uint64_t mask;          /* integers */
    uint32_t mask_off, mask_len; /* byte masks of slices, in the pool */
} fp_operand;

/* A literal converted to the kind of the field it is compared with. */
typedef struct {
    uint64_t u;
    uint32_t off, len; /* bytes in the pool */
    int prefix;        /* CIDR bits for addresses, -1 for none */
} fp_literal;

/* Arithmetic and function values (4.0's `+ - * / %`, unary minus, `{}`, `&` inside them,
 * max/min/abs/string, ${} references): a tree evaluated per packet into bounded lists. */
enum {
    VX_FIELD, VX_LIT, VX_REF, VX_NEG, VX_ADD, VX_SUB, VX_MUL, VX_DIV, VX_MOD, VX_AND,
    VX_MAX, VX_MIN, VX_ABS, VX_STRING,
};

typedef struct {
    uint8_t op, kind; /* kind: FK_* of the values */
    uint8_t wide;     /* integers: 64-bit arithmetic (fields over 32 bits), else 32 */
    int a, b;         /* operands; max/min: kids[a .. a+b) */
    int lit;          /* VX_LIT */
    fp_operand field; /* VX_FIELD, VX_STRING, VX_REF */
    /* compile time: extent in the expression, the operator or function name, depth, and a
     * literal's token until the comparison says which kind it converts to */
    int col, len, opcol, oplen, depth;
    int tok_type;
    uint32_t tok_off, tok_slen;
    uint64_t tok_u;
} fp_vexpr;

enum { NT_AND, NT_OR, NT_NOT, NT_EXISTS, NT_NONZERO, NT_CMP, NT_CONTAINS, NT_MATCHES, NT_IN,
       NT_VCMP, NT_VCONTAINS, NT_VMATCHES, NT_VTRUE };
enum { REL_EQ, REL_NE, REL_GT, REL_GE, REL_LT, REL_LE };
enum { Q_ANY, Q_ALL };

typedef struct {
    uint8_t type, rel, quant, rhs_field;
    int a, b;            /* not: a; and/or: kids[a .. a+b) */
    fp_operand lhs, rhs; /* rhs when rhs_field */
    int lit, nlit;       /* literal index; for `in`: first of nlit (lo, hi) pairs */
    int vl, vr;          /* NT_V*: the value trees of the two sides (vr: -1 for NT_VTRUE) */
    pcre2_code *re;
} fp_node;

struct fp_filter {
    fp_node *nodes;
    int n_nodes, cap_nodes, root;
    fp_literal *lits;
    int *kids;
    int n_kids, cap_kids;
    int n_lits, cap_lits;
    uint8_t *pool;
    uint32_t pool_len, pool_cap;
    fp_vexpr *vx;
    int n_vx, cap_vx;
    int needs_app; /* some field lives in an application layer: full dissection */
    int needs_number; /* it reads frame.number (the record's place in the whole input) */
};

/* -1, 0, 1: integers, booleans and IPv4 as numbers, times signed, the rest as bytes. */
int fp_filter_compare(int kind, const fp_field_value *a, const fp_field_value *b);
/* 1 when the address v lies in the literal's CIDR block. */
/* Whether a three-way comparison result `c` satisfies relation `rel` (REL_*). */
int fp_filter_holds(int rel, int c);
int fp_filter_in_prefix(int kind, const fp_field_value *v, const fp_literal *l, const uint8_t *pool);
/* Evaluates node n (an NT_V* test): filter_value.c. */
int fp_filter_eval_value_test(const fp_filter *f, const fp_node *n, fp_field_ctx *x);
/* Calls fn for each value of the operand (layers, slice, function, mask) until fn stops. */
void fp_filter_operand_each(const fp_filter *f, fp_field_ctx *x, const fp_operand *op,
                            fp_field_visit fn, void *arg);

#endif
