/* Wireshark display filters (wireshark-filter(4), tshark 4.0's language) compiled once
 * into a small tree of tests over the field registry (csrc/dissect/fields.h) and
 * evaluated per packet without allocating (a `matches` test allocates PCRE2's match
 * data). Python-free: the bridge, engines and the CLI share it. */
#ifndef FP_FILTER_H
#define FP_FILTER_H

#include <stdint.h>

#include "../dissect/fields.h"

typedef struct fp_filter fp_filter;

/* Where and why an expression was refused: Wireshark's wording where it has one. */
typedef struct {
    int column;        /* byte offset of the offending token in the expression */
    int length;        /* its length (0: the end of the expression) */
    char message[320];
} fp_filter_error;

/* NULL with *err filled when `expr` is not a valid filter (or on allocation failure). */
fp_filter *fp_filter_compile(const char *expr, fp_filter_error *err);
void fp_filter_free(fp_filter *f);

/* 1 when the packet whose fields `x` reads matches, else 0. Thread-safe: the program is
 * read-only after compilation. */
int fp_filter_match(const fp_filter *f, fp_field_ctx *x);

/* 1 when a field of the program lives in an application layer (DNS, HTTP, TLS, QUIC):
 * its packets need fp_dissect; others are decided on FP_DISSECT_HEADERS. */
int fp_filter_needs_app(const fp_filter *f);

/* 1 when the program reads frame.number: a record's match then depends on how many came
 * before it in the whole input, not on the record alone. */
int fp_filter_needs_number(const fp_filter *f);

/* Dissects the record and matches it; `number` is frame.number (1-based, 0 unknown).
 * `d` receives the dissection: whole when `full` (a consumer reads it next), else only
 * as deep as the program needs; `flags` as fp_dissect_ex's (FP_DISSECT_NO_TUNNELS). */
int fp_filter_match_record(const fp_filter *f, const uint8_t *data, uint32_t caplen,
                           uint32_t wirelen, uint32_t linktype, int64_t ts_ns, int has_ts,
                           uint64_t number, int full, int flags, fp_dissection *d);

#endif
