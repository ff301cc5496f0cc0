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

/* A field as the filter reads it: field, then [slice], then len()/count()/upper()/lower(),
 * then & mask. */
typedef struct {
    const fp_field *field;
    uint8_t kind;
    uint8_t func;
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

enum { NT_AND, NT_OR, NT_NOT, NT_EXISTS, NT_NONZERO, NT_CMP, NT_CONTAINS, NT_MATCHES, NT_IN };
enum { REL_EQ, REL_NE, REL_GT, REL_GE, REL_LT, REL_LE };
enum { Q_ANY, Q_ALL };

typedef struct {
    uint8_t type, rel, quant, rhs_field;
    int a, b;            /* not: a; and/or: kids[a .. a+b) */
    fp_operand lhs, rhs; /* rhs when rhs_field */
    int lit, nlit;       /* literal index; for `in`: first of nlit (lo, hi) pairs */
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
    int needs_app; /* some field lives in an application layer: full dissection */
};

#endif
