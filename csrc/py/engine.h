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
PyObject *fp_stream_engine_stats(const fp_stream_engine *e);
/* A Stream object from an emitted flow; takes its ext and hints. */
PyObject *fp_stream_new(fp_state *st, fp_stream_engine *e, fp_flow *f);
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
/* The ClientHello a packet's first TLS record starts (whole in the segment), else None. */
PyObject *fp_hello_record_packet(fp_state *st, const FpPacket *pkt);
/* engine_dns.c: a DnsTransaction record from a closed transaction (an fp_dns_txn). */
PyObject *fp_dns_record_new(fp_state *st, const void *txn);
/* engine_flows.c: one flow as a Flow record; the type and FLOW_COLUMNS; the typed column
 * buffers of `count` flows (built with the GIL released). */
PyObject *fp_flow_record_new(fp_state *st, const fp_flow *f);
int fp_flow_record_register(PyObject *m, fp_state *st);
PyObject *fp_flow_columns(fp_state *st, const fp_flow *flows, size_t count);

/* engine_feed.c: the shared dissection feed of a parallel run (fastpkt.parallel's _Feed). */
typedef struct fp_feed fp_feed;
enum { FP_FEED_OK = 0, FP_FEED_INEXACT = 1, FP_FEED_NO_MEMORY = 2, FP_FEED_CANCELLED = 3 };
/* How the flow tables take a record: fp_flow_classify's kind and key hash (FP_FLOW_KEYED). */
typedef struct {
    uint64_t hash;
    uint8_t kind;
    fp_flow_packet p; /* FP_FLOW_KEYED: the packet as the table takes it (p.d is stale) */
} fp_feed_class;
/* What every table reads of every record, 16 bytes side by side: a table skips another
 * shard's packet (counters, clock, expiry) without touching its record, dissection or class,
 * which the producer's core wrote. */
typedef struct {
    int64_t ts_ns;
    uint32_t wirelen;
    uint16_t shard;    /* FP_FLOW_KEYED: the shard that keeps it */
    uint8_t kind;      /* fp_flow_classify's, or FP_FLOW_FRAGMENT */
    uint8_t anomalous; /* the dissection found anomalies */
} fp_feed_pass;
/* A worker's place in the feed: the window it reads (its arrays, once ready) and the next
 * record in it. */
typedef struct {
    uint64_t win;
    uint32_t pos, n;
    void *cur; /* the window's slot once ready, else NULL */
    const fp_feed_pass *pass;
    const fp_record *recs;
    const fp_dissection *ds;
    const fp_feed_class *cls;
} fp_feed_cursor;
/* Moves c to its next window once it has read the current one: 1 when it holds a record
 * at c->pos, 0 at the end, -1 when the feed failed (a window not proven, or a worker
 * stopped). GIL released. */
int fp_feed_advance(fp_feed *f, uint32_t me, fp_feed_cursor *c);
/* Worker `me`'s next record in input order, as fp_feed_advance returns: what every table
 * reads of it, the record, its dissection and class. Inline: one index check per record. */
static inline int fp_feed_next(fp_feed *f, uint32_t me, fp_feed_cursor *c, const fp_feed_pass **pass,
                               const fp_record **rec, const fp_dissection **d, const fp_feed_class **cls)
{
    if (!(c->cur && c->pos < c->n)) {
        int rc = fp_feed_advance(f, me, c);
        if (rc <= 0) return rc;
    }
    uint32_t i = c->pos++;
    *pass = &c->pass[i];
    *rec = &c->recs[i];
    *d = &c->ds[i];
    *cls = &c->cls[i];
    return 1;
}
/* Worker `worker`'s engine budget: the windows that worker fills are charged to it
 * (component "engine"), so they count inside max_memory. Detach before the budget goes. */
void fp_feed_attach(fp_feed *f, uint32_t worker, fp_budget *b);
void fp_feed_detach(fp_feed *f, const fp_budget *b);
/* Make every worker's fp_feed_next return -1 (a worker leaving early: no one waits for it). */
void fp_feed_cancel(fp_feed *f);
/* 0 when `feed` is a _Feed of `workers` whose Reader `worker` is the only one in `readers`,
 * keying flows as `bidirectional` says (else -1 with ValueError). */
int fp_feed_check(PyObject *feed, fp_state *st, uint32_t worker, uint32_t workers, PyObject *readers,
                  int bidirectional);

#endif
