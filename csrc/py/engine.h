/* The stream engine (TCP reassembly over the flow table) as the bridge uses it. */
#ifndef FP_PY_ENGINE_H
#define FP_PY_ENGINE_H

#include "pyfp.h"
#include "../flow/flow.h"
#include "../stream/tcp_reassembly.h"

typedef struct fp_stream_engine fp_stream_engine;

/* chunks: queue in-order data for an on_data callback. */
fp_stream_engine *fp_stream_engine_new(const fp_reasm_config *cfg, int chunks, fp_budget *budget);
void fp_stream_engine_free(fp_stream_engine *e);
/* Flow-table hooks (no GIL needed). emit returns 1 when the flow is a stream to hand out. */
void fp_stream_engine_packet(fp_stream_engine *e, fp_flow *f, const fp_flow_packet *p, int forward);
int fp_stream_engine_emit(fp_stream_engine *e, fp_flow *f);
void fp_stream_engine_ext_free(fp_stream_engine *e, void *ext);
/* A finished stream's state now waits in the output queue (not evictable). */
void fp_stream_engine_hold(fp_stream_engine *e, void *ext);
/* Bytes of queued chunks; hand them to on_data (GIL held) and empty the queue. */
size_t fp_stream_engine_pending(const fp_stream_engine *e);
int fp_stream_engine_deliver(fp_stream_engine *e, fp_state *st, PyObject *on_data);
/* Its counters, copied (no GIL needed), and stats['reassembly'] made from such a copy. */
typedef struct {
    fp_reasm_stats reasm;
    uint64_t streams, active, oom;
} fp_stream_engine_counts;
void fp_stream_engine_counts_of(const fp_stream_engine *e, fp_stream_engine_counts *c);
PyObject *fp_stream_engine_stats(const fp_stream_engine_counts *c);
/* A Stream object from an emitted flow; takes its ext and hints. */
PyObject *fp_stream_new(fp_state *st, fp_stream_engine *e, fp_flow *f);
/* fp_stream_new in two steps, so a live merge's shard copies the bytes without the GIL:
 * the object with its hints and data of the right sizes (GIL held; the ext stays with f,
 * whose bytes it has not read yet), then its bytes copied and the ext freed (GIL not needed:
 * nobody else sees the object yet). */
PyObject *fp_stream_new_unfilled(fp_state *st, fp_flow *f);
void fp_stream_fill(PyObject *stream, fp_stream_engine *e, fp_flow *f);
/* A live merge's renumbering and reorder-buffer accounting of a Stream object. */
void fp_stream_set_id(PyObject *stream, uint64_t id);
size_t fp_stream_size(PyObject *stream);
/* Bits of one flag set and their names (names[b] for bit b < count), shown after prefix. */
typedef struct {
    uint32_t bits;
    const char *const *names;
    int count;
    const char *prefix;
} fp_flag_group;
/* The names of the set bits of each group, in order, as a tuple of str. */
PyObject *fp_flag_names(const fp_flag_group *groups, size_t n);
/* engine_hellos.c: a ClientHello record from a connection's hello search result. */
PyObject *fp_hello_record_new(fp_state *st, const fp_flow *f, void *conn);
/* The records of n finished connections (f[i].ext each), made with the GIL released once per
 * group of them (a live shard's batch), not once each: 0 with out[0..n) set, or -1 (none). */
int fp_hello_records_new(fp_state *st, const fp_flow *f, size_t n, PyObject **out);
int fp_hello_record_set_id(PyObject *rec, uint64_t id);
/* The ClientHello a packet's first TLS record starts (whole in the segment), else None. */
PyObject *fp_hello_record_packet(fp_state *st, const FpPacket *pkt);
/* engine_dns.c: a DnsTransaction record from a closed transaction (an fp_dns_txn). */
PyObject *fp_dns_record_new(fp_state *st, const void *txn);
/* Many transactions as column specs (fastpkt.frames): rows are added without the GIL (the
 * out records' ext are fp_dns_txn), the specs made with it. finish() frees the builder. */
typedef struct fp_dns_cols fp_dns_cols;
fp_dns_cols *fp_dns_cols_new(void);
int fp_dns_cols_add(fp_dns_cols *b, const fp_flow *out, size_t n); /* -1: out of memory */
PyObject *fp_dns_cols_finish(fp_state *st, fp_dns_cols *b);
void fp_dns_cols_free(fp_dns_cols *b);
/* engine_flows.c: one flow as a Flow record; the type and FLOW_COLUMNS; the typed column
 * buffers of `count` flows (built with the GIL released). */
PyObject *fp_flow_record_new(fp_state *st, const fp_flow *f);
int fp_flow_record_register(PyObject *m, fp_state *st);
PyObject *fp_flow_columns(fp_state *st, const fp_flow *flows, size_t count);
/* engine_split.c: the split walk of a sharded run over one mapped capture (fastpkt.parallel).
 * fp_split_new: n shards' unread sources of one file (shared into one mapping here), cut into
 * chunks of about chunk_bytes, at most `window` chunks' entries held; NULL when the file
 * cannot be split so (the shards then read it whole each). fp_split_next (shard i's thread,
 * GIL released): 1 with the next record shard i dissects (*shard: i, or -1 when the key pass
 * declined it) and in *run the other shards' records between it and the one before, 3 with
 * only such a run (a chunk's last records), 0 at the end, -1 with *err when the walk was
 * abandoned; with `wait` 0, 2 when it would first wait for another shard (call again to
 * wait). fp_split_leave (any
 * thread): shard i reads no more; before the end that abandons the walk. fp_split_abandoned:
 * why a chunk abandoned it (not a shard leaving early), or NULL; the peak bytes of its entries and
 * chunk bounds in *memory_peak. fp_split_unref: once per shard. */
typedef struct fp_split fp_split;
/* Records of other shards in a row (for fp_flow_table_skip_run): n of them, their times,
 * `bytes` on the wire, `in_order` when none is earlier than the one before. */
typedef struct {
    const int64_t *ts;
    uint64_t bytes;
    uint32_t n;
    int in_order;
} fp_split_run;
fp_split *fp_split_new(fp_source *const *src, uint32_t n, uint64_t chunk_bytes, uint32_t window, int flags,
                       fp_on_error policy);
int fp_split_next(fp_split *w, uint32_t i, fp_record *rec, int *shard, fp_split_run *run, fp_error *err, int wait);
/* Shard i's engine reads its records' payloads (streams): it prefetches whole records. */
void fp_split_read_payloads(fp_split *w, uint32_t i);
void fp_split_leave(fp_split *w, uint32_t i);
const char *fp_split_abandoned(fp_split *w, size_t *memory_peak);
int fp_split_is_abandoned(fp_split *w); /* for any reason */
/* Where shard i reads (the start of its chunk; the file's size once done): its progress.
 * Shard i's thread. */
uint64_t fp_split_position(fp_split *w, uint32_t i);
void fp_split_unref(fp_split *w);
/* The split walk in two stages (fastpkt.dask): a task walks one record-aligned range of a
 * mapped capture into entries, another feeds a shard's engine from every range's entries
 * (engine.c, _feed). An entry is a record's place in the file, what the table needs of its
 * header and the key pass's shard (-1: declined); 32 bytes, numpy's FEED_DTYPE. */
typedef struct {
    uint64_t offset;         /* of the record's data in the file */
    int64_t ts_ns;
    uint32_t caplen, wirelen, linktype;
    uint8_t fcs_len, pad;
    int16_t shard;
} fp_feed_entry;
/* The records s delivers (a range set on it) as entries in *out (malloc'd, *n of them), keyed
 * for `shards` with the Readers' dissection flags; no lock, no GIL. 0; -1 with *err (the
 * source's error: the range is not walked); -2 out of memory. */
int fp_split_entries(fp_source *s, uint32_t shards, int flags, fp_feed_entry **out, size_t *n, fp_error *err);

#endif
