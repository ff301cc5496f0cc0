/* BPF filters on file records, compiled by libpcap (pcap_compile on a dead
 * handle) and run with pcap_offline_filter. Python-free. */
#ifndef FP_BPF_H
#define FP_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

typedef struct fp_bpf fp_bpf;
typedef struct fp_bpf_set fp_bpf_set;

/* Compile `expr` for one link type (a LINKTYPE_ value as found in files).
 * Returns NULL with libpcap's message in errbuf on failure. byte_swapped: the
 * file's byte order differs from this host's (fp_source_byte_swapped); it
 * matters for DLT_NULL, whose header is a 32-bit address family in the
 * capturing host's order. */
fp_bpf *fp_bpf_compile_ex(const char *expr, uint32_t linktype, uint32_t snaplen,
                          int byte_swapped, char *errbuf, size_t errlen);
/* 1 if the record passes the filter, 0 if not. */
int fp_bpf_match(fp_bpf *f, const fp_record *rec);
void fp_bpf_free(fp_bpf *f);

/* One expression over records of several link types (pcapng files whose
 * interfaces differ): compiled lazily, once per link type seen. */
fp_bpf_set *fp_bpf_set_new_ex(const char *expr, uint32_t snaplen, int byte_swapped);
/* 1 match, 0 no match, -1 the expression does not compile for this record's
 * link type (libpcap's message in errbuf; the same error is returned again
 * for later records of that link type). */
int fp_bpf_set_match(fp_bpf_set *set, const fp_record *rec, char *errbuf, size_t errlen);
void fp_bpf_set_free(fp_bpf_set *set);

#endif
