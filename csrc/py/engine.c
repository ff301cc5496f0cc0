/* The engine bridge: the flow engine (csrc/flow) run over one or more Readers, in C with
 * the GIL released. Several readers are merged in time order (k-way merge on record times).
 * Flows, Streams (+ TCP reassembly, engine_streams.c), ClientHellos (+ the hello search,
 * engine_hellos.c) and DnsTransactions (+ DNS pairing, engine_dns.c) are this one object with
 * different extensions of the flow table.
 *
 * Two ways to consume, chosen by the first use:
 *   - iterate first: streaming. Flows are yielded in expiry order as they leave the
 *     table and are not kept (bounded memory); len() and stats are known at the end.
 *   - to_pandas()/columns()/len()/indexing first: the whole input is read once and
 *     every flow kept (in expiry order); iteration then walks the kept flows.
 * Flow records are PyStructSequences whose fields are the DataFrame's columns (engine_flows.c). */
#include "pyfp.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../flow/flow.h"
#include "engine.h"
#include "../stream/dns_tracker.h"
#include "../stream/hello_tracker.h"
#include "../flow/ip_defrag.h"

/* ---- the Flows object ---------------------------------------------------- */

enum { MODE_NEW = 0, MODE_STREAM, MODE_STORED };

/* Why a live shard stopped when its split walk was abandoned (a chunk it could not take, or
 * another shard that stopped first: the merge reports that one's reason). */
static const char SPLIT_WALK_STOP[] = "split_walk";

/* A live merge's reorder buffer, shared by the merged engine and its shards (below). */
typedef struct fp_live fp_live;
/* What a live merge hands out: objects its shards build (Streams, ClientHello records), or
 * records moved into the merged engine's output queue (Flows' flow records; DnsTransactions'
 * records, each with its transaction released from its shard: both exported as columns). */
enum { LIVE_NONE = 0, LIVE_STREAMS, LIVE_HELLOS, LIVE_FLOWS, LIVE_DNS };

typedef struct {
    PyObject_HEAD
    PyObject *readers;        /* tuple of Reader */
    Py_ssize_t nreaders;
    fp_record *pending;       /* k-way merge: one record per reader */
    fp_dissection *pending_d; /* its dissection, when its Reader's display filter made one */
    uint8_t *has_pending, *has_pending_d, *ended;
    uint8_t **held;           /* per reader: a pending stream record's copy between batches */
    uint32_t *held_cap;
    fp_flow_table *table;
    fp_flow *out;             /* emitted flows not yet consumed (all of them in MODE_STORED) */
    size_t out_n, out_cap, out_pos;
    uint64_t emitted;
    fp_budget *budget;        /* &budget_store: every allocation of this engine */
    fp_budget budget_store;
    int drop_on_memory_error; /* on_memory_error="drop": count and flag instead of raising */
    uint64_t failures_seen;   /* budget->alloc_failures already acted on */
    int memory_error;         /* raise MemoryError once the complete records are handed out */
    int mode, finished, busy;
    int discard;              /* Streams.run(): drop emitted streams as they come */
    PyObject *progress;       /* callable(position, size) or None */
    fp_stream_engine *eng;    /* Streams: TCP reassembly attached to the table, else NULL */
    PyObject *on_data;        /* Streams: callable(StreamChunk) or None */
    fp_hello_tracker *hellos; /* ClientHellos, or Flows with tls=True: the hello search */
    int hello_records;        /* ClientHellos: hand out hello records, not flows */
    fp_dns_tracker *dns;      /* DnsTransactions: DNS pairing; hands out transactions, not flows */
    int dns_ticking;          /* transactions closing because the clock passed their timeout */
    uint32_t shard, shards;   /* _shard=(i, n): this engine keeps shard i of n (shards 0: all) */
    int shard_stop;           /* _shard=(i, n, True): stop once the records held for the merge and
                                 the state pass max_memory (fastpkt.parallel then runs one engine) */
    uint64_t budget_stops;    /* 1 when it stopped so */
    PyObject *parts;          /* _merge(): the shard engines owning the records' state, or NULL */
    uint32_t *owner;          /* _merge(): index in parts of each out record's engine */
    fp_defrag *defrag;        /* IP reassembly before the table, made at the first fragment */
    uint64_t key_skips;       /* a shard: packets of other shards skipped undissected (key pass) */
    fp_split *split;          /* a shard of a split walk: its records come from there, keyed */
    int split_waited;         /* a live shard published before waiting in the split walk */
    uint64_t split_wait_publishes; /* ... how many times */
    uint64_t live_room_waits; /* a live shard: times it waited for the consumer to take its records */
    struct feed_src *feed;    /* _feed(): per Reader, its records' entries, or NULL */
    fp_live *live;            /* a live merge: the merged engine's, or the shard's */
    int live_kind;            /* the merged engine of a live merge: what it hands out (LIVE_*) */
    const char *live_stop;    /* a live shard: why it stopped before the end (the merge falls back) */
    struct engine_counts *live_counts; /* ... and its counters after its last batch, what stats
                                 shows while it runs (its thread changes them without the GIL) */
    PyObject *fallback;       /* merged: callable(k) -> one engine past its first k records */
    PyObject *single;         /* merged, after a fallback: the engine it hands out from */
    const char *fell_back;    /* ... and why */
    uint64_t fell_back_at;    /* ... after this many records */
    uint64_t skip;            /* ... of which single has yet to pass (an error stopped it) */
} fp_flows_obj;

#define FL(o) ((fp_flows_obj *)(o))

/* f->ext of a flow whose hello search is over (nothing to free, nothing to do). */
static char ext_done_marker;
#define EXT_DONE ((void *)&ext_done_marker)

/* Queue a copy of f for the consumer; the copy takes f's ext and hints. -1 when the queue
 * could not grow: the record is lost (counted in the budget's failures), f keeps its ext. */
static int queue_out(fp_flows_obj *fl, fp_flow *f)
{
    if (fl->out_n == fl->out_cap) {
        size_t cap = fl->out_cap ? fl->out_cap * 2 : 16;
        fp_flow *o = fp_budget_realloc(fl->budget, FP_MEM_OUTPUT, fl->out, cap * sizeof *o);
        if (o == NULL) {
            free(f->hints);
            f->hints = NULL;
            return -1;
        }
        fl->out = o;
        fl->out_cap = cap;
    }
    fl->out[fl->out_n] = *f;
    fl->out[fl->out_n++].order = fp_flow_table_order(fl->table);
    if (f->ext && f->ext != EXT_DONE) {
        if (fl->eng) fp_stream_engine_hold(fl->eng, f->ext);
        else if (fl->dns) fp_dns_txn_hold(fl->dns, f->ext);
        else fp_hello_conn_hold(fl->hellos, f->ext);
    }
    f->hints = NULL; /* now owned by the copy */
    f->ext = NULL;
    fl->emitted++;
    return 0;
}

/* Flows with tls=True: the reassembled ClientHello's SNI, ALPN, JA3 and JA4 go to hints. */
static void hints_from_hello(fp_flows_obj *fl, fp_flow *f, const fp_hello_conn *c)
{
    struct {
        fp_tls_hello ch;
        char ja3[33], ja4[FP_JA4_SIZE];
    } *v = malloc(sizeof *v);
    if (v == NULL || fp_hello_fingerprints(c, &v->ch, v->ja3, v->ja4) < 0) {
        free(v);
        return;
    }
    const fp_tls_hello *h = &v->ch;
    if (h->anomalies & (FP_TLS_HELLO_A(OVER_CAP) | FP_TLS_HELLO_A(TRUNCATED)))
        f->flow_anomalies |= FP_FLOW_ANOM_TLS_HELLO;
    const uint8_t *sni = h->sni_count ? h->body + h->sni[0].off : NULL;
    const uint8_t *alpn = h->alpn_count ? h->body + h->alpn[0].off : NULL;
    if (fp_flow_hints_set_tls(f, (const char *)sni, sni ? h->sni[0].len : 0, (const char *)alpn,
                              alpn ? h->alpn[0].len : 0, v->ja3, v->ja4) < 0)
        fl->hellos->stats.oom++;
    free(v);
}

/* A connection's hello facts are complete (mid-flow or at its end): report them once. */
static void hello_report(fp_flows_obj *fl, fp_flow *f)
{
    fp_hello_conn *c = f->ext;
    if (c->hello[0] == NULL) {
        fp_hello_conn_free(fl->hellos, c);
    } else if (fl->hello_records) {
        fp_flow snap = *f;
        snap.hints = NULL; /* the flow keeps its hints */
        if (queue_out(fl, &snap) < 0) fp_hello_conn_free(fl->hellos, c); /* lost with its record */
    } else {
        hints_from_hello(fl, f, c);
        fp_hello_conn_free(fl->hellos, c);
    }
    f->ext = EXT_DONE;
}

/* A closed DNS transaction goes to the output queue on a record of its own (its flow stays). */
static void dns_emit(void *ctx, fp_dns_txn *x)
{
    fp_flows_obj *fl = ctx;
    fp_flow snap;
    if (fl->dns_ticking) fp_flow_table_tick_position(fl->table, x->open_pkt);
    memset(&snap, 0, sizeof snap);
    snap.key = x->key;
    snap.flow_id = x->flow_id;
    snap.create_pkt = x->create_pkt;
    snap.ext = x;
    if (queue_out(fl, &snap) < 0) {
        fl->dns->stats.oom++;
        fp_dns_txn_free(fl->dns, x);
    }
}

/* The clock moved: transactions past their timeout close, in opening order (the same
 * order in every shard of a parallel run). */
static void dns_tick(void *ctx, int64_t now_ns)
{
    fp_flows_obj *fl = ctx;
    fl->dns_ticking = 1;
    fp_dns_tick(fl->dns, now_ns);
    fl->dns_ticking = 0;
}

static void emit_flow(void *ctx, fp_flow *f)
{
    fp_flows_obj *fl = ctx;
    if (fl->dns) { /* its open transactions close; the flow itself is not handed out */
        if (f->ext && f->ext != EXT_DONE && f->ext != FP_DNS_IDLE) fp_dns_conn_end(fl->dns, f->ext, f, f->expiration == FP_EXP_EVICTED);
        f->ext = NULL;
        return;
    }
    if (fl->eng && !fp_stream_engine_emit(fl->eng, f)) return; /* not TCP: no stream */
    if (fl->hellos && f->ext && f->ext != EXT_DONE) {
        fp_hello_finish(fl->hellos, f->ext);
        hello_report(fl, f);
    }
    if (f->ext == EXT_DONE) f->ext = NULL;
    if (fl->hello_records) return; /* only hellos are handed out */
    queue_out(fl, f);
}

static void engine_packet(void *ctx, fp_flow *f, const fp_flow_packet *p, int forward)
{
    fp_flows_obj *fl = ctx;
    if (fl->eng) {
        fp_stream_engine_packet(fl->eng, f, p, forward);
        return;
    }
    if (f->ext == EXT_DONE) return;
    if (fl->dns) {
        if (f->ext == NULL && !fp_dns_wants(p)) {
            f->ext = EXT_DONE; /* not DNS: never looked at again */
            return;
        }
        fl->dns->pkt = fp_flow_table_order(fl->table).pkt;
        if (fp_dns_packet(fl->dns, &f->ext, f, p, forward) < 0) f->flow_anomalies |= FP_FLOW_ANOM_ALLOC_FAILED;
        if (f->ext == NULL) f->ext = EXT_DONE;
        return;
    }
    fp_hello_conn *c = f->ext;
    int rc = fp_hello_packet(fl->hellos, &c, p, forward);
    f->ext = c ? (void *)c : rc < 0 ? EXT_DONE : NULL;
    if (rc == FP_HELLO_ALLOC_FAILED || (c && c->alloc_failed)) f->flow_anomalies |= FP_FLOW_ANOM_ALLOC_FAILED;
    if (rc == 1) hello_report(fl, f);
}

/* The engine whose stream or hello state an out record holds: a merged run's shard. */
static fp_flows_obj *record_owner(fp_flows_obj *fl, size_t i)
{
    return fl->owner ? FL(PyTuple_GET_ITEM(fl->parts, fl->owner[i])) : fl; /* a live merge's are its own */
}

static void ext_free(fp_flows_obj *fl, void *ext)
{
    if (ext == NULL || ext == EXT_DONE || ext == FP_DNS_IDLE) return;
    if (fl->live_kind == LIVE_DNS) fp_dns_txn_drop(ext); /* released by its shard: no tracker holds it */
    else if (fl->dns) { /* a connection still in the table, or a transaction queued for output */
        if (*(const uint8_t *)ext == FP_DNS_KIND_CONN) fp_dns_conn_free(fl->dns, ext);
        else fp_dns_txn_free(fl->dns, ext);
    } else if (fl->eng) fp_stream_engine_ext_free(fl->eng, ext);
    else fp_hello_conn_free(fl->hellos, ext);
}

static void engine_ext_free(void *ctx, void *ext) { ext_free(ctx, ext); }

static void free_out_range(fp_flows_obj *fl, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        free(fl->out[i].hints);
        fl->out[i].hints = NULL;
        ext_free(record_owner(fl, i), fl->out[i].ext);
        fl->out[i].ext = NULL;
    }
}

/* on_data: hand over queued chunks once this much is waiting (bounded memory). */
#define CHUNK_QUEUE_BYTES (4u << 20)
/* Records queued for a consumer that drops or yields them before the batch ends (end of
 * input, Streams.run()): the output queue stays this short. */
#define FLUSH_BATCH 64u

/* PUMP_WAIT: a live shard would wait in its split walk (for a shard that may wait for the
 * consumer): it publishes its records and bound before it waits. */
enum { PUMP_MORE = 0, PUMP_END = 1, PUMP_ERROR = -1, PUMP_IDLE = 2, PUMP_WAIT = 3 };

/* A shard run with stop: the records it holds for the merge are not evictable, so once they
 * and the state pass max_memory the merged run would outgrow the budget (one engine streams). */
static int shard_over_budget(fp_flows_obj *fl)
{
    if (fl->shard_stop && fl->budget->limit && fl->budget->total > fl->budget->limit) fl->budget_stops = 1;
    return fl->budget_stops != 0;
}

/* A fragment through the engine's reassembler (made at the first one, its memory capped
 * at an eighth of max_memory and charged to the budget). A reassembler that cannot be
 * made lets fragments through as they are (counted in allocation_failures). */
static int engine_defrag(fp_flows_obj *fl, int policy, const fp_record *rec, const fp_dissection *d,
                         fp_defrag_result *res)
{
    if (fl->defrag == NULL) {
        uint64_t cap = fl->budget->limit ? fl->budget->limit / 8 : FP_DEFRAG_MAX_BYTES;
        fp_defrag_config cfg = {(fp_defrag_policy)policy, FP_DEFRAG_TIMEOUT_NS,
                                cap < FP_DEFRAG_MAX_BYTES ? cap : FP_DEFRAG_MAX_BYTES};
        if ((fl->defrag = fp_defrag_new(&cfg, fl->budget)) == NULL) return FP_DEFRAG_PASS;
    }
    return fp_defrag_add(fl->defrag, rec->data, rec->caplen, d, rec->ts_ns, 0, res);
}

/* A live shard publishes its batch early once its finished records (their slots and the state
 * they hold) pass this fraction of its share: thousands of DNS transactions end in one batch,
 * and their 552-byte slots, doubled as the output array grows, filled a small share. */
#define LIVE_OUTPUT_SHARE 16u

/* After a packet: end the batch (output wanted, a queue to hand over, a failure to raise). */
static int pump_should_stop(fp_flows_obj *fl, size_t until_output)
{
    return shard_over_budget(fl) || (until_output && fl->out_n - fl->out_pos >= until_output) ||
           (fl->live && fl->budget->limit &&
            (fl->out_n - fl->out_pos) * sizeof *fl->out + fl->budget->held >= fl->budget->limit / LIVE_OUTPUT_SHARE) ||
           (fl->discard && fl->out_n - fl->out_pos >= FLUSH_BATCH) || /* keep the queue short */
           (!fl->drop_on_memory_error && fl->budget->alloc_failures != fl->failures_seen) || /* raise now */
           (fl->on_data && fp_stream_engine_pending(fl->eng) >= CHUNK_QUEUE_BYTES);
}

/* What pump_should_stop last said no to. Within a batch the rest of what it reads does not
 * change (on_data's queue aside), so while these stay the answer stays: most packets change
 * none of them, and the test costs ~12 instructions instead of ~26-44 (issue 17). */
typedef struct {
    size_t waiting;    /* out_n - out_pos */
    uint64_t total, held, failures;
} stop_seen;

static inline int pump_stop(fp_flows_obj *fl, size_t until_output, stop_seen *seen)
{
    const fp_budget *b = fl->budget;
    stop_seen now = {fl->out_n - fl->out_pos, b->total, b->held, b->alloc_failures};
    if (!fl->on_data && now.waiting == seen->waiting && now.total == seen->total && now.held == seen->held &&
        now.failures == seen->failures)
        return 0;
    if (pump_should_stop(fl, until_output)) return 1;
    *seen = now;
    return 0;
}

/* The next record of the time-ordered merge of the readers, with its dissection in *dp when
 * its Reader's display filter made one (else NULL: the caller dissects). Returns PUMP_MORE
 * with it, PUMP_END when every reader has ended, PUMP_IDLE, or PUMP_ERROR with the failing
 * reader in *which. */
static int next_merged(fp_flows_obj *fl, const fp_record **rec, fp_reader_obj **from,
                       const fp_dissection **dp, int *pull_rc, Py_ssize_t *which,
                       fp_error *err, char *errbuf, size_t errlen)
{
    Py_ssize_t best = -1;
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        if (!fl->has_pending[i] && !fl->ended[i]) {
            fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
            int rc = fp_reader_pull_reassembling(r, &fl->pending[i], err, errbuf, errlen);
            if (rc == FP_PULL_IDLE) return PUMP_IDLE; /* a quiet live capture */
            if (rc == FP_PULL_RECORD) {
                fl->has_pending[i] = 1;
                fl->has_pending_d[i] = r->dfilter != NULL; /* passed packets are not dissected twice */
                if (r->dfilter) fl->pending_d[i] = r->dissection;
            }
            else {
                fl->ended[i] = 1;
                if (rc != FP_PULL_END) {
                    *pull_rc = rc;
                    *which = i;
                    return PUMP_ERROR;
                }
            }
        }
        if (fl->has_pending[i] && (best < 0 || fl->pending[i].ts_ns < fl->pending[best].ts_ns)) best = i;
    }
    if (best < 0) return PUMP_END;
    *rec = &fl->pending[best];
    *from = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, best);
    *dp = fl->has_pending_d[best] ? &fl->pending_d[best] : NULL;
    fl->has_pending[best] = 0;
    return PUMP_MORE;
}

/* Pages a fed shard is past go back to the kernel in steps of this many bytes (each
 * madvise(MADV_DONTNEED) flushes the TLB of every core the process runs on). */
#define FEED_RELEASE_STEP (8u << 20)
#define TRUNCATED_WHILE_READ "the file was truncated while it was read"
/* A fed shard prefetches the record of the entry this many ahead when it will dissect it. */
#define FEED_PREFETCH_ENTRIES 8

/* A fed Reader's entries are pieces in file order: buffers in memory, or spill files stage 1
 * wrote, read through a window of this many entries (1 MiB) so that a shard holds a window of
 * each file's entries, not the capture's (a mapping of a spill file cut under it would SIGBUS). */
#define FEED_WINDOW 32768

typedef struct {
    Py_buffer view; /* a buffer's entries (view.obj NULL for a file) */
    char *path;     /* a spill file, or NULL */
} feed_piece;

struct feed_src {
    feed_piece *pieces;
    size_t npieces, piece;  /* the pieces and the next one to open */
    const fp_feed_entry *e; /* the entries at hand: a buffer's, or the window read from a file */
    size_t n, at;           /* how many, and the next one */
    int fd;                 /* the spill file being read, or -1 */
    const char *unaligned;  /* a buffer not aligned for entries (one a pickle or a network frame
                             * put at any offset), copied through the window, or NULL */
    uint64_t file_at, file_len; /* in the spill file or the unaligned buffer */
    fp_feed_entry *window;  /* FEED_WINDOW entries when a piece is a file or unaligned */
    uint64_t released;      /* the pages before this offset of the capture were given back */
};

static int feed_fail(fp_error *err, fp_errkind kind, const char *path, uint64_t at, const char *why)
{
    memset(err, 0, sizeof *err);
    err->kind = kind;
    err->sys_errno = kind == FP_ERR_IO ? errno : 0;
    if (path) /* at: in the spill file, not the capture */ snprintf(err->message, sizeof err->message, "fed shard: spill file %s at byte %llu: %s", path,
                       (unsigned long long)at, why);
    else snprintf(err->message, sizeof err->message, "fed shard: %s", why);
    return -1;
}

/* The next entry of a fed Reader (GIL released): 1 with *out, 0 at its end, -1 with *err (a
 * spill file missing, unreadable, cut or not of whole entries). */
static int feed_head(struct feed_src *f, const fp_feed_entry **out, fp_error *err)
{
    while (f->at >= f->n) {
        if (f->unaligned != NULL && f->file_at < f->file_len) {
            uint64_t want = f->file_len - f->file_at;
            if (want > FEED_WINDOW * sizeof *f->window) want = FEED_WINDOW * sizeof *f->window;
            memcpy(f->window, f->unaligned + f->file_at, (size_t)want);
            f->file_at += want;
            f->e = f->window;
            f->n = (size_t)want / sizeof *f->window;
            f->at = 0;
            continue;
        }
        f->unaligned = NULL;
        const char *path = f->piece ? f->pieces[f->piece - 1].path : NULL;
        if (f->fd >= 0 && f->file_at < f->file_len) {
            uint64_t want = f->file_len - f->file_at;
            if (want > FEED_WINDOW * sizeof *f->window) want = FEED_WINDOW * sizeof *f->window;
            size_t got = 0;
            while (got < want) {
                ssize_t k = pread(f->fd, (char *)f->window + got, (size_t)(want - got), (off_t)(f->file_at + got));
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0)
                    return feed_fail(err, k < 0 ? FP_ERR_IO : FP_ERR_TRUNCATED, path, f->file_at + got,
                                     k < 0 ? strerror(errno) : "cut while it was read");
                got += (size_t)k;
            }
            f->file_at += want;
            f->e = f->window;
            f->n = (size_t)want / sizeof *f->window;
            f->at = 0;
            continue;
        }
        if (f->fd >= 0) {
            close(f->fd);
            f->fd = -1;
        }
        if (f->piece == f->npieces) return 0;
        feed_piece *p = &f->pieces[f->piece++];
        f->n = f->at = 0;
        if (p->path == NULL) {
            if ((uintptr_t)p->view.buf % _Alignof(fp_feed_entry)) {
                f->unaligned = p->view.buf;
                f->file_at = 0;
                f->file_len = (uint64_t)p->view.len;
                continue;
            }
            f->e = p->view.buf;
            f->n = (size_t)p->view.len / sizeof *f->e;
            continue;
        }
        struct stat st;
        f->fd = open(p->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) return feed_fail(err, FP_ERR_IO, p->path, 0, strerror(errno));
        if (fstat(f->fd, &st) < 0) return feed_fail(err, FP_ERR_IO, p->path, 0, strerror(errno));
        if (st.st_size < 0 || (uint64_t)st.st_size % sizeof *f->e)
            return feed_fail(err, FP_ERR_FORMAT, p->path, 0, "not of whole 32-byte entries");
        f->file_at = 0;
        f->file_len = (uint64_t)st.st_size;
    }
    *out = &f->e[f->at];
    return 1;
}

/* The next record of a fed shard: the entries of its Readers merged by time as next_merged
 * merges the records (ties to the first Reader), its bytes in that Reader's mapping. 1 with
 * the record in fl->pending[*which] and the key pass's shard, 0 at the end, -1 with *err (an
 * entry outside its file, a file truncated, a spill file unreadable or a Reader closed under us). */
static int feed_next(fp_flows_obj *fl, Py_ssize_t *which, int *shard, fp_error *err)
{
    Py_ssize_t best = -1;
    const fp_feed_entry *e = NULL;
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        const fp_feed_entry *x = NULL;
        int h = feed_head(&fl->feed[i], &x, err);
        if (h < 0) {
            *which = i;
            return -1;
        }
        if (h && (best < 0 || x->ts_ns < e->ts_ns)) {
            best = i;
            e = x;
        }
    }
    const char *why = NULL;
    int truncated = 0;
    for (Py_ssize_t i = 0; i < fl->nreaders && why == NULL; i++) {
        fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
        if (r->closed || r->src == NULL) why = "a Reader was closed while its entries were fed";
        else if (best < 0 && (truncated = fp_source_lost(r->src))) why = TRUNCATED_WHILE_READ; /* fstat: not per record */
    }
    if (why == NULL && best < 0) return 0;
    fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, best < 0 ? 0 : best);
    size_t len = 0;
    const uint8_t *map = why ? NULL : fp_source_mapping(r->src, &len);
    if (why == NULL && (e->caplen > len || e->offset > len - e->caplen || e->shard < -1 ||
                        e->shard >= (int)fl->shards))
        why = "an entry outside its file or shards";
    if (why) {
        *which = best < 0 ? 0 : best;
        return feed_fail(err, truncated ? FP_ERR_TRUNCATED : FP_ERR_FORMAT, NULL, 0, why); /* as a Reader's */
    }
    struct feed_src *f = &fl->feed[best];
    size_t ahead = f->at++ + FEED_PREFETCH_ENTRIES;
    if (ahead < f->n) { /* as the split walk's shards: a record it will dissect */
        const fp_feed_entry *a = f->e + ahead;
        if ((a->shard < 0 || (uint32_t)a->shard == fl->shard) && a->offset < len) {
            __builtin_prefetch(map + a->offset);
            __builtin_prefetch(map + a->offset + (a->offset + 64 < len ? 64 : 0));
        }
    }
    fp_record *rec = &fl->pending[best];
    memset(rec, 0, sizeof *rec);
    rec->data = map + e->offset;
    rec->ts_ns = e->ts_ns;
    rec->has_ts = 1;
    rec->caplen = e->caplen;
    rec->wirelen = e->wirelen;
    rec->linktype = e->linktype;
    rec->fcs_len = e->fcs_len;
    *shard = e->shard;
    *which = best;
    uint64_t to = e->offset & ~(uint64_t)4095; /* the record's own page stays */
    if (to >= f->released + FEED_RELEASE_STEP) {
        fp_source_release_pages(r->src, map + f->released, map + to);
        f->released = to;
        if (fp_source_lost(r->src)) { /* the pages read since may have read as zeros */
            return feed_fail(err, FP_ERR_TRUNCATED, NULL, 0, TRUNCATED_WHILE_READ);
        }
    }
    return 1;
}

/* Feed up to `budget` records to the table (GIL released). Returns PUMP_END when every
 * reader has ended, PUMP_ERROR with the failing reader in *which. A shard keys each record
 * from its first bytes (fp_flow_key_pass) and dissects only its own packets and those the
 * key pass cannot key (tunnels, fragments, ICMP, non-IP...: every shard dissects those);
 * another shard's packet moves only its table's counters and clock. */
static int pump(fp_flows_obj *fl, size_t budget, size_t until_output, int *pull_rc, Py_ssize_t *which,
                fp_error *err, char *errbuf, size_t errlen)
{
    fp_dissection d;
    stop_seen seen = {SIZE_MAX, 0, 0, 0}; /* nothing seen: the first test is made in full */
    for (size_t n = 0; n < budget; n++) {
        const fp_record *rec = NULL;
        fp_reader_obj *from = NULL;
        const fp_dissection *dp = NULL;
        int shard = -2; /* not keyed yet */
        if (fl->split) { /* the walk keyed it already; its one Reader has no filter */
            fp_split_run run;
            int src = fp_split_next(fl->split, fl->shard, &fl->pending[0], &shard, &run, err,
                                    fl->live == NULL || fl->split_waited);
            fl->split_waited = 0;
            if (src == 2) {
                fl->split_waited = 1;
                fl->split_wait_publishes++;
                return PUMP_WAIT;
            }
            if (src <= 0) {
                *pull_rc = FP_PULL_SOURCE_ERROR;
                *which = 0;
                return src == 0 ? PUMP_END : PUMP_ERROR;
            }
            if (run.n) { /* the other shards' packets before it: clock and counters only */
                fp_flow_table_skip_run(fl->table, run.ts, run.n, run.bytes, run.in_order);
                fl->key_skips += run.n;
                n += run.n - (src == 3); /* a batch is `budget` packets, as for the other inputs */
            }
            if (src == 3) {
                if (pump_stop(fl, until_output, &seen)) break;
                continue;
            }
            rec = &fl->pending[0];
            from = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, 0);
        } else if (fl->feed) { /* keyed by the walk of its range; its Readers have no filter */
            Py_ssize_t i = 0;
            int src = feed_next(fl, &i, &shard, err);
            if (src <= 0) {
                *pull_rc = FP_PULL_SOURCE_ERROR;
                *which = i;
                return src == 0 ? PUMP_END : PUMP_ERROR;
            }
            rec = &fl->pending[i];
            from = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
        } else {
            int rc = next_merged(fl, &rec, &from, &dp, pull_rc, which, err, errbuf, errlen);
            if (rc != PUMP_MORE) return rc;
        }
        if (dp == NULL) {
            int flags = from->dissect_flags | FP_DISSECT_FCS(rec->fcs_len);
            if (shard == -2)
                shard = fl->shards > 1 ? fp_flow_key_pass(rec->data, rec->caplen, rec->linktype, flags, fl->shards) : -1;
            if (shard >= 0 && (uint32_t)shard != fl->shard) {
                fp_flow_table_skip(fl->table, rec->ts_ns, rec->wirelen);
                fl->key_skips++;
                if (pump_stop(fl, until_output, &seen)) break;
                continue;
            }
            fp_dissect_ex(rec->data, rec->caplen, rec->wirelen, rec->linktype, flags, &d);
            dp = &d;
        }
        const uint8_t *data = rec->data;
        uint32_t wirelen = rec->wirelen, len = rec->caplen;
        int policy = from->defrag_policy;
        if (dp->is_fragment && policy >= 0) {
            fp_defrag_result res;
            int drc = engine_defrag(fl, policy, rec, dp, &res);
            if (drc == FP_DEFRAG_HELD) { /* its bytes reach the table with the datagram */
                if (FP_READER_FILTERS_AFTER_DEFRAG(from)) { /* for the Reader's counters alone */
                    d = *dp;
                    fp_defrag_hide_upper(&d);
                    d.anomalies |= res.anomalies;
                    fp_reader_match_reassembled(from, rec, data, len, &d);
                }
                continue;
            }
            if (drc == FP_DEFRAG_COMPLETE) {
                data = res.data;
                wirelen = len = res.len;
                fp_dissect_datagram(data, res.len, rec->linktype, from->dissect_flags, &d);
                d.anomalies |= res.anomalies;
                dp = &d;
            }
        }
        /* as tshark -Y with its reassembly: the datagram decides, not its first fragment */
        if (FP_READER_FILTERS_AFTER_DEFRAG(from) && !fp_reader_match_reassembled(from, rec, data, len, dp)) continue;
        if (shard >= 0) /* the key pass's: this shard's (the others' were skipped above) */
            fp_flow_table_add_own(fl->table, data, dp, rec->ts_ns, wirelen);
        else
            fp_flow_table_add(fl->table, data, dp, rec->ts_ns, wirelen);
        if (pump_stop(fl, until_output, &seen)) break;
    }
    return PUMP_MORE;
}

/* Between batches another consumer may pull from the same Reader, which moves a stream
 * source's buffer: a record held over for the merge keeps its own copy (GIL released). */
static int hold_pending(fp_flows_obj *fl)
{
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
        fp_record *rec = &fl->pending[i];
        if (!fl->has_pending[i] || rec->data == fl->held[i] || !r->src || fp_source_stable_data(r->src))
            continue;
        if (rec->caplen > fl->held_cap[i]) {
            uint8_t *p = fp_budget_realloc(fl->budget, FP_MEM_ENGINE, fl->held[i], rec->caplen);
            if (p == NULL) return -1;
            fl->held[i] = p;
            fl->held_cap[i] = rec->caplen;
        }
        if (rec->caplen) memcpy(fl->held[i], rec->data, rec->caplen);
        rec->data = fl->held[i];
    }
    return 0;
}

/* close() ends a Reader's iteration at once and may unmap its file between batches: a
 * record held over from it is dropped, never read (it may point into the old mapping). */
static void drop_closed_pending(fp_flows_obj *fl)
{
    for (Py_ssize_t i = 0; i < fl->nreaders; i++)
        if (fl->has_pending[i] && ((fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i))->closed)
            fl->has_pending[i] = 0;
}

static int call_progress(fp_flows_obj *fl)
{
    if (fl->progress == NULL || fl->progress == Py_None) return 0;
    uint64_t pos = 0, size = 0;
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
        if (r->src) { /* a split walk's Readers are not walked: the shard's place in it is */
            pos += fl->split ? fp_split_position(fl->split, fl->shard) : fp_source_position(r->src);
            size += fp_source_size(r->src);
        }
    }
    PyObject *res = PyObject_CallFunction(fl->progress, "KK", (unsigned long long)pos, (unsigned long long)size);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* Live captures stamp packets with the wall clock: a quiet link advances flows by it. */
static int64_t wall_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int raise_memory_error(fp_flows_obj *fl)
{
    fl->memory_error = 0;
    PyErr_Format(PyExc_MemoryError,
                 "fastpkt engine: out of memory (%llu allocation(s) failed); the records completed before "
                 "were handed out. on_memory_error='drop' counts and flags such losses instead",
                 (unsigned long long)fl->budget->alloc_failures);
    return -1;
}

/* After a batch: a new allocation failure ends the run (raise mode) or is only counted
 * (drop mode: the flows affected carry 'allocation_failed'). */
static void check_allocations(fp_flows_obj *fl)
{
    if (fl->budget->alloc_failures == fl->failures_seen) return;
    fl->failures_seen = fl->budget->alloc_failures;
    if (fl->drop_on_memory_error) return;
    fl->memory_error = 1;
    fl->finished = 1;
}

static int live_publish(fp_flows_obj *fl, fp_state *st);
static int live_fill(fp_flows_obj *m, fp_state *st, size_t want);
static PyObject *flows_stats_now(fp_flows_obj *fl);
/* A shard's counters at one moment, what its stats are made from. A live shard's thread
 * changes them without the GIL: it copies them after each batch (a few hundred bytes) for
 * stats to read while it runs; the dict built there instead took ~82k instructions a batch
 * under the GIL, 2% of a worker's instructions on gen_pcap's flows. */
typedef struct engine_counts {
    fp_flow_stats flow;
    fp_budget budget;
    fp_defrag_stats defrag;
    uint64_t key_skips, split_wait_publishes, live_room_waits, budget_stops;
    size_t split_peak;
    int finished;
    union {
        fp_dns_stats dns;
        fp_hello_stats hello;
        fp_stream_engine_counts streams;
    } x;
} engine_counts;

static void counts_of(fp_flows_obj *fl, engine_counts *c);
static PyObject *counts_dict(const fp_flows_obj *fl, const engine_counts *c);
/* A live shard's batches: short, so its Streams reach the merge (and leave the reorder
 * buffer) soon after they end. */
#define LIVE_BATCH (1u << 13)

/* Run the engine: to the end (until_output 0), or until that many records wait in the output
 * queue (iteration asks for 1; an export for its batch, which it waits for anyway: a run per
 * record cost a GIL round trip, a claim of the readers and a progress call per flow). */
static int flows_run(fp_flows_obj *fl, fp_state *st, size_t until_output)
{
    if (fl->live_kind == LIVE_FLOWS || fl->live_kind == LIVE_DNS) return live_fill(fl, st, until_output);
    if (fl->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Flows is being read by another thread");
        return -1;
    }
    if (fl->memory_error) return raise_memory_error(fl);
    fl->busy = 1;
    int status = 0;
    while (!fl->finished) {
        fp_error err;
        char errbuf[512];
        int pull_rc = 0;
        Py_ssize_t which = 0;
        int rc;
        PyObject *const *readers = &PyTuple_GET_ITEM(fl->readers, 0);
        if (fp_readers_claim(readers, fl->nreaders) < 0) {
            status = -1;
            break;
        }
        drop_closed_pending(fl);
        int held_oom;
        Py_BEGIN_ALLOW_THREADS
        rc = pump(fl, fl->live ? LIVE_BATCH : 1u << 16, until_output, &pull_rc, &which, &err, errbuf, sizeof errbuf);
        if (rc == PUMP_END && fp_flow_table_flush_some(fl->table, FLUSH_BATCH) > 0) rc = PUMP_MORE;
        if (rc == PUMP_IDLE) fp_flow_table_advance(fl->table, wall_clock_ns()); /* live: idle expiry */
        held_oom = hold_pending(fl) < 0;
        Py_END_ALLOW_THREADS
        if (rc == PUMP_ERROR) /* raised while claimed: the error may name a file object's exception */
            fp_reader_pull_finish((fp_reader_obj *)readers[which], st, pull_rc, &fl->pending[which], &err, errbuf);
        fp_readers_release(readers, fl->nreaders);
        if (held_oom) {
            if (rc == PUMP_ERROR) PyErr_Clear();
            PyErr_NoMemory();
            status = -1;
            break;
        }
        check_allocations(fl);
        if (fl->live && rc != PUMP_ERROR) {
            int lp = live_publish(fl, st);
            if (lp != 0) {
                fl->finished = 1;
                status = lp < 0 ? -1 : 0;
                break;
            }
        }
        if (shard_over_budget(fl) && rc != PUMP_ERROR) {
            fl->finished = 1;
            break;
        }
        if (fl->memory_error && rc != PUMP_ERROR) {
            if (fl->on_data && fp_stream_engine_deliver(fl->eng, st, fl->on_data) < 0) {
                status = -1;
                break;
            }
            if (!(until_output && fl->out_n > fl->out_pos)) status = raise_memory_error(fl);
            break;
        }
        if (rc == PUMP_ERROR) {
            fl->finished = 1;
            status = -1;
            break;
        }
        if (rc == PUMP_END) {
            fl->finished = 1;
            for (Py_ssize_t i = 0; i < fl->nreaders; i++)
                fp_reader_remember_stop_error((fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i), st);
        }
        if (fl->on_data && fp_stream_engine_deliver(fl->eng, st, fl->on_data) < 0) {
            status = -1;
            break;
        }
        if (fl->discard) {
            free_out_range(fl, fl->out_pos, fl->out_n);
            fl->out_pos = fl->out_n = 0;
        }
        if (call_progress(fl) < 0 || PyErr_CheckSignals() < 0) {
            status = -1;
            break;
        }
        if (until_output && fl->out_n - fl->out_pos >= until_output) break;
    }
    fl->busy = 0;
    return status;
}

/* Read everything, keeping every flow (the to_pandas path). */
static int ensure_stored(fp_flows_obj *fl, fp_state *st)
{
    if (fl->mode == MODE_STREAM) {
        PyErr_SetString(PyExc_RuntimeError,
                        "these Flows were consumed by iteration (streamed, not kept); call "
                        "fp.flows(...) again, or use to_pandas()/len() before iterating");
        return -1;
    }
    fl->mode = MODE_STORED;
    return flows_run(fl, st, 0);
}

static PyObject *flows_columns(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL || ensure_stored(fl, st) < 0) return NULL;
    fl->busy = 1; /* the columns are built with the GIL released */
    PyObject *r = fp_flow_columns(st, fl->out, fl->out_n);
    fl->busy = 0;
    return r;
}

/* _columns_range(start, stop): column specs of kept flows [start, stop) (reads everything
 * first, like to_pandas()): the record batches of an export of kept Flows. An empty range
 * gives the 0-row specs (the schema) without reading. */
static PyObject *flows_columns_range(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    Py_ssize_t start, stop;
    if (st == NULL) return NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_columns_range(start, stop) takes 2 arguments");
        return NULL;
    }
    if ((start = PyLong_AsSsize_t(args[0])) == -1 && PyErr_Occurred()) return NULL;
    if ((stop = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred()) return NULL;
    if (stop <= start) return fp_flow_columns(st, fl->out, 0); /* the schema: reads nothing */
    if (ensure_stored(fl, st) < 0) return NULL;
    size_t lo = start < 0 ? 0 : (size_t)start, hi = stop < 0 ? 0 : (size_t)stop;
    if (hi > fl->out_n) hi = fl->out_n;
    if (lo > hi) lo = hi;
    fl->busy = 1;
    PyObject *r = fp_flow_columns(st, fl->out + lo, hi - lo);
    fl->busy = 0;
    return r;
}

/* _columns_next(n): stream the input and hand out the next n flows to leave the table as
 * column specs, dropping them (bounded memory); 0 rows once every flow was handed out. */
static PyObject *flows_columns_next(PyObject *self, PyObject *arg)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    Py_ssize_t want = PyLong_AsSsize_t(arg);
    if (st == NULL || (want == -1 && PyErr_Occurred())) return NULL;
    if (want < 1) {
        PyErr_SetString(PyExc_ValueError, "_columns_next: batch size must be at least 1");
        return NULL;
    }
    if (fl->mode == MODE_STORED) {
        PyErr_SetString(PyExc_RuntimeError, "these Flows were kept: export them with _columns_range()");
        return NULL;
    }
    fl->mode = MODE_STREAM;
    while (fl->out_n - fl->out_pos < (size_t)want && (!fl->finished || fl->memory_error))
        if (flows_run(fl, st, (size_t)want) < 0) return NULL;
    size_t k = fl->out_n - fl->out_pos;
    if (k > (size_t)want) k = (size_t)want;
    fl->busy = 1;
    PyObject *r = fp_flow_columns(st, fl->out + fl->out_pos, k);
    fl->busy = 0;
    if (r == NULL) return NULL;
    free_out_range(fl, fl->out_pos, fl->out_pos + k);
    fl->out_pos += k;
    /* move what is left to the front, so the queue never grows past one batch plus a pump */
    if (fl->out_n > fl->out_pos) /* out is NULL before the first flow: memmove(NULL, …, 0) is UB */
        memmove(fl->out, fl->out + fl->out_pos, (fl->out_n - fl->out_pos) * sizeof *fl->out);
    fl->out_n -= fl->out_pos;
    fl->out_pos = 0;
    return r;
}

static PyObject *flows_iter(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    if (fl->mode == MODE_STORED) return PySeqIter_New(self);
    fl->mode = MODE_STREAM;
    return Py_NewRef(self);
}

static PyObject *live_next(fp_flows_obj *m);

static PyObject *flows_iternext(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    if (fl->live_kind == LIVE_STREAMS || fl->live_kind == LIVE_HELLOS) return fl->finished ? NULL : live_next(fl);
    if (fl->mode == MODE_NEW) fl->mode = MODE_STREAM;
    if (fl->mode == MODE_STORED) {
        PyErr_SetString(PyExc_TypeError, "use iter(flows) to walk flows that were kept");
        return NULL;
    }
    if (fl->out_pos == fl->out_n) {
        fl->out_pos = fl->out_n = 0; /* everything yielded: reuse the buffer */
        if ((!fl->finished || fl->memory_error) && flows_run(fl, st, 1) < 0) return NULL;
        if (fl->out_pos == fl->out_n) return NULL;
    }
    fp_flow *f = &fl->out[fl->out_pos];
    fp_flows_obj *own = record_owner(fl, fl->out_pos);
    PyObject *rec = own->eng ? fp_stream_new(st, own->eng, f)
                    : own->hello_records ? fp_hello_record_new(st, f, f->ext)
                    : own->dns || own->live_kind == LIVE_DNS ? fp_dns_record_new(st, f->ext)
                                         : fp_flow_record_new(st, f);
    if (rec == NULL) return NULL;
    free_out_range(fl, fl->out_pos, fl->out_pos + 1);
    fl->out_pos++;
    return rec;
}

static Py_ssize_t flows_len(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (fl->mode == MODE_STREAM) {
        if (!fl->finished) {
            PyErr_SetString(PyExc_TypeError, "len() of streamed Flows is known once iteration has ended");
            return -1;
        }
        return (Py_ssize_t)fl->emitted;
    }
    if (ensure_stored(fl, st) < 0) return -1;
    return (Py_ssize_t)fl->out_n;
}

static PyObject *flows_item(PyObject *self, Py_ssize_t i)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL || ensure_stored(fl, st) < 0) return NULL;
    if (i < 0) i += (Py_ssize_t)fl->out_n;
    if (i < 0 || (size_t)i >= fl->out_n) {
        PyErr_SetString(PyExc_IndexError, "Flows index out of range");
        return NULL;
    }
    return fp_flow_record_new(st, &fl->out[i]);
}

/* ---- construction and the rest of the surface -------------------------------- */

static double opt_seconds(PyObject *o, const char *name, double dflt, int *bad)
{
    if (o == NULL || o == Py_None) return dflt;
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
        *bad = 1;
        return 0;
    }
    if (!(v > 0) || v > 1e9) {
        PyErr_Format(PyExc_ValueError, "%s must be a positive number of seconds, not %R", name, o);
        *bad = 1;
    }
    return v;
}

/* A positive integer option (None: dflt). */
static uint64_t opt_count(PyObject *o, const char *name, uint64_t dflt, long long min, int *bad)
{
    if (*bad || o == NULL || o == Py_None) return dflt;
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        *bad = 1;
        return 0;
    }
    if (v < min) {
        PyErr_Format(PyExc_ValueError, "%s must be >= %lld, not %R", name, min, o);
        *bad = 1;
        return 0;
    }
    return (uint64_t)v;
}

/* Every engine's memory options: max_memory (None: the default budget) and
 * on_memory_error ("raise" or "drop"). Returns the drop flag, or -1 with *bad set. */
#define DEFAULT_MAX_MEMORY (1ull << 30)
static int memory_options(fp_flow_config *cfg, PyObject *max_memory, const char *on_memory_error, int *bad)
{
    cfg->max_memory = opt_count(max_memory, "max_memory", DEFAULT_MAX_MEMORY, 1, bad);
    if (*bad) return -1;
    if (strcmp(on_memory_error, "raise") == 0) return 0;
    if (strcmp(on_memory_error, "drop") == 0) return 1;
    PyErr_Format(PyExc_ValueError, "on_memory_error must be 'raise' or 'drop', not '%s'", on_memory_error);
    *bad = 1;
    return -1;
}

/* max_hello_fields: bytes of a ClientHello's fields kept while it streams (tls.h). */
static uint64_t opt_hello_fields(PyObject *o, int *bad)
{
    uint64_t v = opt_count(o, "max_hello_fields", FP_TLS_HELLO_FIELDS, FP_TLS_HELLO_FIELDS_MIN, bad);
    if (!*bad && v > (16u << 20)) {
        PyErr_Format(PyExc_ValueError, "max_hello_fields must be <= %u, not %R", 16u << 20, o);
        *bad = 1;
    }
    return v;
}

/* _shard=(i, n[, stop]): keep the flows of shard i of n (fastpkt.parallel runs n such engines
 * with stop set, fastpkt.dask without: a partition's records are its result). */
static void shard_option(fp_flow_config *cfg, int *stop, PyObject *o, int *bad)
{
    unsigned int i, n;
    *stop = 0;
    if (*bad || o == NULL || o == Py_None) return;
    if (!PyArg_ParseTuple(o, "II|p:_shard", &i, &n, stop)) {
        *bad = 1;
        return;
    }
    if (n < 1 || i >= n || n > 4096) {
        PyErr_Format(PyExc_ValueError, "_shard must be (i, n) with 0 <= i < n <= 4096, not %R", o);
        *bad = 1;
        return;
    }
    cfg->shard = i;
    cfg->shards = n;
}

/* The engine object both Flows and Streams are: readers checked, table built. */
static fp_flows_obj *engine_new(PyTypeObject *type, PyObject *readers, const fp_flow_config *cfg,
                                PyObject *progress, int drop_on_memory_error, int shard_stop)
{
    fp_state *st = fp_state_from_type(type);
    if (st == NULL) return NULL;
    PyObject *tuple = PySequence_Tuple(readers);
    if (tuple == NULL) return NULL;
    Py_ssize_t k = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t i = 0; i < k; i++)
        if (!PyObject_TypeCheck(PyTuple_GET_ITEM(tuple, i), st->Reader_Type)) {
            PyErr_Format(PyExc_TypeError, "%s needs fastpkt.Reader objects, got %.100s", type->tp_name,
                         Py_TYPE(PyTuple_GET_ITEM(tuple, i))->tp_name);
            Py_DECREF(tuple);
            return NULL;
        }
    fp_flows_obj *fl = (fp_flows_obj *)type->tp_alloc(type, 0);
    if (fl == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    fl->readers = tuple;
    fl->nreaders = k;
    fl->progress = Py_NewRef(progress);
    fl->pending = calloc(k ? (size_t)k : 1, sizeof *fl->pending);
    fl->pending_d = calloc(k ? (size_t)k : 1, sizeof *fl->pending_d);
    fl->has_pending = calloc(k ? (size_t)k : 1, 1);
    fl->has_pending_d = calloc(k ? (size_t)k : 1, 1);
    for (Py_ssize_t i = 0; i < k; i++) /* the engine reads whole dissections */
        ((fp_reader_obj *)PyTuple_GET_ITEM(tuple, i))->keep_dissection = 1;
    fl->ended = calloc(k ? (size_t)k : 1, 1);
    fl->held = calloc(k ? (size_t)k : 1, sizeof *fl->held);
    fl->held_cap = calloc(k ? (size_t)k : 1, sizeof *fl->held_cap);
    fl->budget = &fl->budget_store;
    fl->drop_on_memory_error = drop_on_memory_error;
    fl->shard = cfg->shard;
    fl->shards = cfg->shards;
    fl->shard_stop = shard_stop;
    fp_flow_config tc = *cfg;
    tc.budget = fl->budget;
    fl->table = fp_flow_table_new(&tc, emit_flow, fl);
    if (!fl->pending || !fl->pending_d || !fl->has_pending || !fl->has_pending_d || !fl->ended || !fl->held || !fl->held_cap || !fl->table) {
        Py_DECREF(fl);
        PyErr_NoMemory();
        return NULL;
    }
    return fl;
}

static void timeouts(fp_flow_config *cfg, PyObject *idle, PyObject *active, int *bad)
{
    cfg->idle_timeout_ns = fp_seconds_to_ns(opt_seconds(idle, "idle_timeout", 120.0, bad));
    cfg->active_timeout_ns = active ? fp_seconds_to_ns(opt_seconds(active, "active_timeout", 1800.0, bad)) : 0;
    cfg->close_grace_ns = 5000000000LL; /* Zeek's tcp_close_delay and tcp_reset_delay: late ACKs stay in the flow */
    if (cfg->close_grace_ns > cfg->idle_timeout_ns) cfg->close_grace_ns = cfg->idle_timeout_ns;
}

/* The hello search on every connection of the engine (records: hand out hellos, not flows). */
static PyObject *attach_hellos(fp_flows_obj *fl, int records, uint64_t hello_fields)
{
    if (fl == NULL) return NULL;
    fl->hellos = fp_budget_malloc(fl->budget, FP_MEM_ENGINE, sizeof *fl->hellos);
    if (fl->hellos == NULL || fp_hello_tracker_init(fl->hellos, fl->budget) < 0) {
        Py_DECREF(fl);
        return PyErr_NoMemory();
    }
    fl->hellos->hello_fields = (uint32_t)hello_fields;
    fl->hello_records = records;
    fp_flow_table_set_extension(fl->table, engine_packet, engine_ext_free);
    return (PyObject *)fl;
}

static PyObject *flows_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "bidirectional", "idle_timeout", "active_timeout",
                             "max_flows", "max_memory", "progress", "tls", "max_hello_fields",
                             "on_memory_error", "_shard", NULL};
    PyObject *readers, *idle = Py_None, *active = Py_None, *max_flows = Py_None, *max_memory = Py_None,
                       *progress = Py_None, *fields = Py_None, *shard = Py_None;
    int bidirectional = 1, tls = 1;
    const char *on_mem = "raise";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$pOOOOOpOsO:Flows", kwlist, &readers, &bidirectional, &idle,
                                     &active, &max_flows, &max_memory, &progress, &tls, &fields, &on_mem,
                                     &shard))
        return NULL;
    fp_flow_config cfg = {0};
    int bad = 0, stop;
    shard_option(&cfg, &stop, shard, &bad);
    cfg.bidirectional = bidirectional;
    timeouts(&cfg, idle, active, &bad);
    cfg.max_flows = opt_count(max_flows, "max_flows", 1000000, 1, &bad);
    int drop = memory_options(&cfg, max_memory, on_mem, &bad);
    uint64_t hello_fields = opt_hello_fields(fields, &bad);
    if (bad) return NULL;
    fp_flows_obj *fl = engine_new(type, readers, &cfg, progress, drop, stop);
    return tls && bidirectional ? attach_hellos(fl, 0, hello_fields) : (PyObject *)fl;
}

/* ClientHellos: the engine with the hello search, handing out one record per hello. */
static PyObject *hellos_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "idle_timeout", "max_flows", "progress", "max_hello_fields", "max_memory",
                             "on_memory_error", "_shard", NULL};
    PyObject *readers, *idle = Py_None, *max_flows = Py_None, *progress = Py_None, *fields = Py_None,
             *max_memory = Py_None, *shard = Py_None;
    const char *on_mem = "raise";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOOsO:ClientHellos", kwlist, &readers, &idle, &max_flows,
                                     &progress, &fields, &max_memory, &on_mem, &shard))
        return NULL;
    fp_flow_config cfg = {0};
    int bad = 0, stop;
    shard_option(&cfg, &stop, shard, &bad);
    cfg.bidirectional = 1;
    timeouts(&cfg, idle, NULL, &bad);
    cfg.max_flows = opt_count(max_flows, "max_flows", 1000000, 1, &bad);
    int drop = memory_options(&cfg, max_memory, on_mem, &bad);
    uint64_t hello_fields = opt_hello_fields(fields, &bad);
    return bad ? NULL : attach_hellos(engine_new(type, readers, &cfg, progress, drop, stop), 1, hello_fields);
}

/* DnsTransactions: the engine keyed as fastpkt.flows keys by default (same flow ids), with
 * DNS pairing on every UDP connection carrying DNS and every TCP connection on port 53. */
static PyObject *dns_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "timeout", "idle_timeout", "max_flows", "progress", "max_memory",
                             "on_memory_error", "_shard", NULL};
    PyObject *readers, *timeout = Py_None, *idle = Py_None, *max_flows = Py_None, *progress = Py_None,
             *max_memory = Py_None, *shard = Py_None;
    const char *on_mem = "raise";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOOsO:DnsTransactions", kwlist, &readers, &timeout, &idle,
                                     &max_flows, &progress, &max_memory, &on_mem, &shard))
        return NULL;
    fp_flow_config cfg = {0};
    int bad = 0, stop;
    shard_option(&cfg, &stop, shard, &bad);
    cfg.bidirectional = 1;
    cfg.no_hints = 1; /* no flow is handed out: a hint would be a dead kilobyte per connection */
    timeouts(&cfg, idle, Py_None, &bad);
    int64_t txn_timeout = fp_seconds_to_ns(opt_seconds(timeout, "timeout", 10.0, &bad));
    cfg.max_flows = opt_count(max_flows, "max_flows", 1000000, 1, &bad);
    int drop = memory_options(&cfg, max_memory, on_mem, &bad);
    if (bad) return NULL;
    fp_flows_obj *fl = engine_new(type, readers, &cfg, progress, drop, stop);
    if (fl == NULL) return NULL;
    fl->dns = fp_budget_malloc(fl->budget, FP_MEM_ENGINE, sizeof *fl->dns);
    if (fl->dns == NULL) {
        Py_DECREF(fl);
        return PyErr_NoMemory();
    }
    fp_dns_tracker_init(fl->dns, fl->budget, txn_timeout, dns_emit, fl);
    fp_flow_table_set_extension(fl->table, engine_packet, engine_ext_free);
    fp_flow_table_set_tick(fl->table, dns_tick);
    return (PyObject *)fl;
}

/* Streams: the same engine, bidirectional, no active timeout (a connection is one stream),
 * with a reassembler per TCP connection. */
static PyObject *streams_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"readers", "idle_timeout", "max_flows", "depth", "max_buffered",
                             "max_buffered_total", "store", "on_data", "progress", "max_memory",
                             "on_memory_error", "_shard", NULL};
    PyObject *readers, *idle = Py_None, *max_flows = Py_None, *depth = Py_None, *max_buf = Py_None,
                       *max_total = Py_None, *on_data = Py_None, *progress = Py_None, *max_memory = Py_None,
                       *shard = Py_None;
    int store = 1;
    const char *on_mem = "raise";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOOpOOOsO:Streams", kwlist, &readers, &idle, &max_flows,
                                     &depth, &max_buf, &max_total, &store, &on_data, &progress, &max_memory,
                                     &on_mem, &shard))
        return NULL;
    if (on_data != Py_None && !PyCallable_Check(on_data)) {
        PyErr_SetString(PyExc_TypeError, "on_data must be a callable taking a StreamChunk, or None");
        return NULL;
    }
    fp_flow_config cfg = {0};
    fp_reasm_config rc = {0};
    int bad = 0, stop;
    shard_option(&cfg, &stop, shard, &bad);
    cfg.bidirectional = 1;
    timeouts(&cfg, idle, NULL, &bad);
    cfg.max_flows = opt_count(max_flows, "max_flows", 1000000, 1, &bad);
    rc.depth = opt_count(depth, "depth", 0, 1, &bad);
    rc.max_buffered = opt_count(max_buf, "max_buffered", 4u << 20, 0, &bad);
    rc.max_buffered_total = opt_count(max_total, "max_buffered_total", 256u << 20, 0, &bad);
    rc.store = store;
    int drop = memory_options(&cfg, max_memory, on_mem, &bad);
    if (bad) return NULL;
    fp_flows_obj *fl = engine_new(type, readers, &cfg, progress, drop, stop);
    if (fl == NULL) return NULL;
    fl->eng = fp_stream_engine_new(&rc, on_data != Py_None, fl->budget);
    if (fl->eng == NULL) {
        Py_DECREF(fl);
        return PyErr_NoMemory();
    }
    if (on_data != Py_None) fl->on_data = Py_NewRef(on_data);
    fp_flow_table_set_extension(fl->table, engine_packet, engine_ext_free);
    return (PyObject *)fl;
}

/* ---- merging a sharded run (fastpkt.parallel) ---------------------------------- */

/* Shard engines ready to merge: this type, finished, kept whole, shards 0..n-1 of n. */
static int check_parts(PyTypeObject *type, PyObject *parts)
{
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(parts, i);
        if (Py_TYPE(o) != type) {
            PyErr_Format(PyExc_TypeError, "_merge takes %s engines, got %.100s", type->tp_name, Py_TYPE(o)->tp_name);
            return -1;
        }
        fp_flows_obj *p = FL(o);
        if (p->shards != (uint32_t)n || p->shard != (uint32_t)i || !p->finished || p->busy || p->out_pos ||
            p->memory_error || p->parts || p->on_data) {
            PyErr_SetString(PyExc_ValueError, "_merge takes shards 0..n-1 of n, each read to the end and not consumed");
            return -1;
        }
    }
    return 0;
}

/* Flow ids as one table numbers them: a flow's rank among every shard's creations. */
static void renumber(fp_flows_obj *m, PyObject *parts)
{
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    for (size_t r = 0; r < m->out_n; r++) {
        uint64_t id = 0, at = m->out[r].create_pkt;
        for (Py_ssize_t s = 0; s < n; s++) {
            uint64_t cnt, lo = 0, hi;
            const uint64_t *c = fp_flow_table_creations(FL(PyTuple_GET_ITEM(parts, s))->table, &cnt);
            for (hi = cnt; lo < hi;) { /* creations before `at` */
                uint64_t mid = lo + (hi - lo) / 2;
                if (c[mid] < at) lo = mid + 1;
                else hi = mid;
            }
            id += lo;
        }
        m->out[r].flow_id = id;
    }
}

static int order_less(const fp_flow_order *a, const fp_flow_order *b)
{
    return a->pkt < b->pkt || (a->pkt == b->pkt && a->rank < b->rank);
}

/* k-way merge of the shards' outputs (each in its own emission order) by order key. */
static void merge_outputs(fp_flows_obj *m, PyObject *parts, size_t *pos)
{
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    for (size_t r = 0; r < m->out_n; r++) {
        Py_ssize_t best = -1;
        for (Py_ssize_t s = 0; s < n; s++) {
            fp_flows_obj *p = FL(PyTuple_GET_ITEM(parts, s));
            if (pos[s] < p->out_n &&
                (best < 0 ||
                 order_less(&p->out[pos[s]].order, &FL(PyTuple_GET_ITEM(parts, best))->out[pos[best]].order)))
                best = s;
        }
        fp_flows_obj *b = FL(PyTuple_GET_ITEM(parts, best));
        m->out[r] = b->out[pos[best]++];
        m->owner[r] = (uint32_t)best;
    }
}

/* _merge(shards): one engine of this type holding the records of a sharded run in
 * the single engine's order and with its flow ids; takes the shards' records (their
 * engines stay alive, owning the stream and hello state those records hold). */
static PyObject *engine_merge(PyObject *cls, PyObject *args)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *parts;
    if (!PyArg_ParseTuple(args, "O!:_merge", &PyTuple_Type, &parts)) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    if (n < 1 || check_parts(type, parts) < 0) {
        if (n < 1) PyErr_SetString(PyExc_ValueError, "_merge needs at least one shard");
        return NULL;
    }
    PyObject *none = PyTuple_New(0);
    if (none == NULL) return NULL;
    fp_flow_config cfg = {0};
    cfg.bidirectional = 1;
    cfg.max_flows = 1;
    fp_flows_obj *m = engine_new(type, none, &cfg, Py_None, 0, 0);
    Py_DECREF(none);
    if (m == NULL) return NULL;
    size_t total = 0;
    for (Py_ssize_t s = 0; s < n; s++) total += FL(PyTuple_GET_ITEM(parts, s))->out_n;
    size_t *pos = calloc((size_t)n, sizeof *pos);
    m->out = fp_budget_malloc(m->budget, FP_MEM_OUTPUT, (total ? total : 1) * sizeof *m->out);
    m->owner = malloc((total ? total : 1) * sizeof *m->owner);
    if (pos == NULL || m->out == NULL || m->owner == NULL) {
        free(pos);
        Py_DECREF(m);
        return PyErr_NoMemory();
    }
    m->parts = Py_NewRef(parts);
    m->out_n = m->out_cap = total;
    merge_outputs(m, parts, pos);
    free(pos);
    for (Py_ssize_t s = 0; s < n; s++) { /* the records moved: the shards no longer free them */
        fp_flows_obj *p = FL(PyTuple_GET_ITEM(parts, s));
        fp_budget_free(p->budget, FP_MEM_OUTPUT, p->out);
        p->out = NULL;
        p->out_n = p->out_cap = 0;
    }
    renumber(m, parts);
    if (FL(PyTuple_GET_ITEM(parts, 0))->dns) /* a transaction's row gives its own copy of the id */
        for (size_t r = 0; r < m->out_n; r++) ((fp_dns_txn *)m->out[r].ext)->flow_id = m->out[r].flow_id;
    m->emitted = total;
    m->finished = 1;
    /* Flows are kept (len, indexing, exports by range); Streams and ClientHellos are read
     * once by iteration, as their engines always are */
    m->mode = type == fp_state_from_type(type)->Flows_Type ? MODE_STORED : MODE_STREAM;
    return (PyObject *)m;
}

/* _shard_ids(): for a shard read to the end, (this shard's creation positions, the local
 * flow id and creation position of each record not yet handed out), as native uint64 bytes:
 * what a merge elsewhere (fastpkt.dask) needs to give records their single-engine flow ids. */
static PyObject *engine_shard_ids(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_flows_obj *fl = FL(self);
    if (fl->shards < 2 || !fl->finished || fl->parts) {
        PyErr_SetString(PyExc_ValueError, "_shard_ids() needs a shard (_shard=(i, n), n >= 2) read to the end");
        return NULL;
    }
    uint64_t nc;
    const uint64_t *c = fp_flow_table_creations(fl->table, &nc);
    size_t n = fl->out_n - fl->out_pos;
    PyObject *cr = PyBytes_FromStringAndSize((const char *)c, (Py_ssize_t)(nc * sizeof *c));
    PyObject *ids = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(uint64_t)));
    PyObject *at = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(uint64_t)));
    if (cr == NULL || ids == NULL || at == NULL) {
        Py_XDECREF(cr);
        Py_XDECREF(ids);
        Py_XDECREF(at);
        return NULL;
    }
    uint64_t *pi = (uint64_t *)PyBytes_AS_STRING(ids), *pa = (uint64_t *)PyBytes_AS_STRING(at);
    for (size_t i = 0; i < n; i++) {
        pi[i] = fl->out[fl->out_pos + i].flow_id;
        pa[i] = fl->out[fl->out_pos + i].create_pkt;
    }
    return Py_BuildValue("NNN", cr, ids, at);
}

/* ---- live merge: a sharded run handed out while the workers run ------------------------
 *
 * Every shard runs on its own thread (fastpkt.parallel starts them on _live()); after each
 * batch it builds its finished Streams or ClientHello records (on its own thread: their
 * state belongs to its engine and budget), or moves out its finished flow records (they own
 * nothing of the shard's: their hints were credited when queued) or DNS transactions (each
 * released from the shard's budget and tracker as it is queued), queues them with their
 * order keys, hands over the packet positions
 * of its new flow creations and publishes its bound: no later record of it is below
 * fp_flow_table_bound. The consumer (the caller's thread) hands out the least queued
 * record once it is below every other shard's bound, numbered by the creations before it
 * over all shards: the single engine's order and ids. Each shard reads the input itself,
 * so the buffer holds what one shard ended while another has not reached it; its bytes
 * count in the shard's share of max_memory (full: the shard waits for the consumer). A shard
 * that cannot go on as the single engine would (eviction, allocation failure, time reversal
 * risk, its state alone past its share, an error) stops, and the consumer stops the others
 * and goes on with one engine past the records already handed out. */

typedef struct {
    PyObject *stream;      /* a Stream or ClientHello record; NULL for a flow record */
    fp_flow_order key;
    uint64_t create_pkt;
    size_t bytes;
} live_item;

typedef struct {
    live_item *items;      /* queued records, oldest first from `head` */
    fp_flow *flows;        /* Flows: the flow record of each item (same indices), else NULL */
    size_t head, n, cap;
    uint64_t *creations;   /* packet positions of the shard's flow creations handed over so far */
    size_t ncreations, creations_cap;
    fp_flow_order bound;
    size_t bytes;          /* of its queued records, beyond the queue's slots */
    size_t peak;           /* the most live_queued_bytes ever held (stats: live_queue_peak_bytes) */
    int done;              /* 1: read to the end, 2: stopped */
    const char *why;       /* done 2: why */
    int full;              /* waiting for the consumer to take some of its records */
} live_shard;

struct fp_live {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;              /* the merged engine and each shard; changed with the GIL held */
    int cancelled;         /* the consumer stopped the workers (fallback, Ctrl+C, dropped) */
    size_t queue_cap;      /* a test hook: a shard also waits once its queue holds more (0: none) */
    int dns;               /* the records are DnsTransactions': each owns its released transaction */
    uint32_t n;
    live_shard s[];
};

/* Drop a shard's queued records (what a fallback reads again, or a merge gone). */
static void live_drop_queued(live_shard *q, int dns)
{
    for (size_t k = q->head; k < q->n; k++) {
        Py_XDECREF(q->items[k].stream);
        if (q->flows) free(q->flows[k].hints);
        if (dns) fp_dns_txn_drop(q->flows[k].ext);
    }
    q->head = q->n = 0;
    q->bytes = 0;
}

static void live_unref(fp_live *L)
{
    if (L == NULL || --L->refs > 0) return;
    for (uint32_t i = 0; i < L->n; i++) {
        live_shard *q = &L->s[i];
        live_drop_queued(q, L->dns);
        free(q->items);
        free(q->flows);
        free(q->creations);
    }
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    free(L);
}

/* The reason a live shard cannot go on as part of the single engine's run, or NULL. */
static const char *live_spoiled(fp_flows_obj *fl)
{
    const fp_flow_stats *s = fp_flow_table_stats(fl->table);
    if (fl->budget_stops) return "budget_stops";
    if (s->expired[FP_EXP_EVICTED]) return "evicted";
    if (fl->budget->alloc_failures || fl->memory_error) return "allocation_failures";
    if (s->reversal_risks) return "reversal_risks";
    return NULL;
}

/* What a shard's queue holds: its records and its slots (allocated, used or not). */
static size_t live_queued_bytes(const live_shard *q)
{
    return q->bytes + q->cap * (sizeof *q->items + (q->flows ? sizeof *q->flows : 0));
}

/* Wake at most every 50 ms (Ctrl+C); *ts: now + 50 ms. */
static void live_deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += 50000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Whether a shard's queue is full: with its state, past its share of max_memory. */
static int live_full(const fp_flows_obj *fl, const live_shard *q, const fp_live *L)
{
    size_t queued = live_queued_bytes(q);
    return (fl->budget->limit && fl->budget->total + queued > fl->budget->limit) ||
           (L->queue_cap && queued > L->queue_cap);
}

/* Under L->mu, without the GIL: a shard whose queued records fill its share of max_memory
 * waits until the consumer takes some (a consumer slower than the shards holds them back
 * instead of making them stop; a shard that ended first holds the records it flushed until
 * the others reach the end). The consumer can always take one: every shard that waits, here
 * or in its split walk (PUMP_WAIT), published its records and bound first, so the least
 * queued record is below the bound of every shard that waits here (its own records are below
 * its bound), and of every shard waiting in the split walk (ahead of the slowest, which waits
 * here or runs). */
static void live_wait_room(fp_flows_obj *fl, live_shard *q, fp_live *L)
{
    while (!L->cancelled && q->head < q->n && live_full(fl, q, L)) {
        q->full = 1;
        pthread_cond_wait(&L->cv, &L->mu);
    }
    q->full = 0;
}

/* After a batch (GIL held): queue this shard's finished records, hand over its creations and
 * bound (waiting while its queue is full, see live_wait_room).
 * 0: go on; 1: stop (live_stop says why, or the merge was cancelled); -1: error. */
static int live_publish(fp_flows_obj *fl, fp_state *st)
{
    fp_live *L = fl->live;
    live_shard *q = &L->s[fl->shard];
    if ((fl->live_stop = live_spoiled(fl)) != NULL) return 1;
    size_t k = fl->out_n - fl->out_pos, bytes = 0;
    int records = fl->eng == NULL && !fl->hello_records; /* Flows, DNS: the records themselves move */
    live_item *made = k ? malloc(k * sizeof *made) : NULL;
    if (k && made == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        fp_flow *f = &fl->out[fl->out_pos + i];
        made[i] = (live_item){NULL, f->order, f->create_pkt, 0};
        if (records) { /* the record: in the queue's slots; a transaction's blocks are held */
            bytes += made[i].bytes = fp_alloc_size(f->hints) + (fl->dns ? ((fp_dns_txn *)f->ext)->held : 0);
            continue;
        }
        if (!fl->eng) { /* a ClientHello record holds about what its connection held queued (its hellos) */
            bytes += made[i].bytes = sizeof(fp_hello_conn) + ((fp_hello_conn *)f->ext)->held;
            continue;
        }
        made[i].stream = fp_stream_new_unfilled(st, f);
        if (made[i].stream == NULL) {
            while (i--) Py_DECREF(made[i].stream);
            free(made);
            return -1;
        }
        bytes += made[i].bytes = fp_stream_size(made[i].stream);
    }
    if (!records && !fl->eng && k) { /* parsed and fingerprinted a group at a time without the GIL */
        PyObject **recs = malloc(k * sizeof *recs);
        if (recs == NULL || fp_hello_records_new(st, fl->out + fl->out_pos, k, recs) < 0) {
            if (recs == NULL) PyErr_NoMemory();
            free(recs);
            free(made);
            return -1;
        }
        for (size_t i = 0; i < k; i++) made[i].stream = recs[i];
        free(recs);
    }
    if (fl->eng && k) { /* the streams' bytes: copied on every shard at once, not one at a time */
        fp_flow *out = fl->out + fl->out_pos;
        Py_BEGIN_ALLOW_THREADS
        for (size_t i = 0; i < k; i++) fp_stream_fill(made[i].stream, fl->eng, &out[i]);
        Py_END_ALLOW_THREADS
    }
    if (!records) {
        free_out_range(fl, fl->out_pos, fl->out_n);
        fl->out_pos = fl->out_n = 0;
    }
    uint64_t nc;
    const uint64_t *c = fp_flow_table_creations(fl->table, &nc);
    int rc = 0, full = 0;
    pthread_mutex_lock(&L->mu);
    /* taken items at the front: reuse their room once they are at least what is left to move
     * (a queue that stays long while the consumer takes from it would move it every batch) */
    if (q->head && q->n + k > q->cap && q->head >= q->n - q->head) {
        memmove(q->items, q->items + q->head, (q->n - q->head) * sizeof *q->items);
        if (records) memmove(q->flows, q->flows + q->head, (q->n - q->head) * sizeof *q->flows);
        q->n -= q->head;
        q->head = 0;
    }
    if (q->n + k > q->cap) {
        size_t cap = q->cap ? q->cap : 64;
        while (cap < q->n + k) cap *= 2;
        live_item *it = realloc(q->items, cap * sizeof *it);
        fp_flow *fs = records && it ? realloc(q->flows, cap * sizeof *fs) : NULL;
        if (it != NULL) q->items = it;
        if (fs != NULL) q->flows = fs;
        if (it == NULL || (records && fs == NULL)) rc = -1;
        else q->cap = cap;
    }
    if (rc == 0 && q->ncreations + nc > q->creations_cap) {
        size_t cap = q->creations_cap ? q->creations_cap : 1024;
        while (cap < q->ncreations + nc) cap *= 2;
        uint64_t *cr = realloc(q->creations, cap * sizeof *cr);
        if (cr == NULL) rc = -1;
        else {
            q->creations = cr;
            q->creations_cap = cap;
        }
    }
    if (rc == 0) {
        if (k) memcpy(q->items + q->n, made, k * sizeof *made);
        if (k && records) { /* the records and their hints now belong to the queue */
            memcpy(q->flows + q->n, fl->out + fl->out_pos, k * sizeof *q->flows);
            for (size_t i = fl->out_pos; i < fl->out_n; i++) {
                fl->out[i].hints = NULL;
                /* a transaction leaves this shard's budget and tracker for the queue's bytes (before
                 * the unlock: once taken, the consumer frees it without them) */
                if (fl->dns) fp_dns_txn_release(fl->dns, fl->out[i].ext);
                fl->out[i].ext = NULL;
            }
        }
        q->n += k;
        q->bytes += bytes;
        /* the table forgets them: held for the whole run, 8 bytes a flow grew past a small share */
        if (nc) memcpy(q->creations + q->ncreations, c, nc * sizeof *c);
        q->ncreations += nc;
        fp_flow_table_creations_taken(fl->table);
        q->bound = fp_flow_table_bound(fl->table);
        size_t queued = live_queued_bytes(q);
        if (queued > q->peak) q->peak = queued;
        full = live_full(fl, q, L);
        if (L->cancelled) rc = 1;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    if (rc < 0) {
        for (size_t i = 0; i < k; i++) Py_XDECREF(made[i].stream);
        PyErr_NoMemory();
    }
    if (records) { /* what did not move (an allocation failed) is dropped here */
        free_out_range(fl, fl->out_pos, fl->out_n);
        fl->out_pos = fl->out_n = 0;
    }
    free(made);
    if (full && rc == 0) fl->live_room_waits++;
    if (rc >= 0) counts_of(fl, fl->live_counts); /* before the wait, which changes nothing they show */
    if (full && rc == 0) {
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&L->mu);
        live_wait_room(fl, q, L);
        if (L->cancelled) rc = 1;
        pthread_mutex_unlock(&L->mu);
        Py_END_ALLOW_THREADS
    }
    return rc;
}

/* _live(): a shard of a live merge, run to the end or until it must stop (on a worker's
 * thread); what happened is told to the merge, never raised. */
static PyObject *engine_live(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    fp_flows_obj *fl = FL(self);
    if (st == NULL) return NULL;
    if (fl->live == NULL || fl->live_kind || fl->mode != MODE_NEW) {
        PyErr_SetString(PyExc_ValueError, "_live() runs a shard of _merge_live once");
        return NULL;
    }
    fl->mode = MODE_STREAM;
    const char *why = NULL;
    if ((fl->live_counts = malloc(sizeof *fl->live_counts)) == NULL) PyErr_NoMemory();
    else counts_of(fl, fl->live_counts);
    if (fl->live_counts == NULL || flows_run(fl, st, 0) < 0) {
        PyErr_Clear(); /* the single engine the merge falls back to raises it where it belongs */
        why = fl->split && fp_split_is_abandoned(fl->split) ? SPLIT_WALK_STOP : "error";
    } else if (fl->live_stop) {
        why = fl->live_stop;
    } else if (!fl->finished) {
        why = "error";
    }
    fp_live *L = fl->live;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&L->mu);
    L->s[fl->shard].done = why ? 2 : 1;
    L->s[fl->shard].why = why;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* The number of entries of a[0..n) below v. */
static size_t count_below(const uint64_t *a, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

enum { LIVE_WAIT = 0, LIVE_ITEM, LIVE_END, LIVE_FALL_BACK };

/* Under L->mu: the next record in the single engine's order if it is known, with its id
 * (a flow record is copied to *flow, its hints with it). */
static int live_take(fp_live *L, PyObject **stream, fp_flow *flow, uint64_t *id)
{
    int all_done = 1;
    uint32_t best = UINT32_MAX;
    if (L->cancelled) return LIVE_FALL_BACK;
    for (uint32_t i = 0; i < L->n; i++) {
        live_shard *q = &L->s[i];
        if (q->done == 2) return LIVE_FALL_BACK;
        all_done &= q->done == 1;
        if (q->head < q->n && (best == UINT32_MAX || order_less(&q->items[q->head].key, &L->s[best].items[L->s[best].head].key)))
            best = i;
    }
    if (best == UINT32_MAX) return all_done ? LIVE_END : LIVE_WAIT;
    live_item *it = &L->s[best].items[L->s[best].head];
    for (uint32_t i = 0; i < L->n; i++) /* a shard with nothing queued may still make one below it */
        if (i != best && L->s[i].done != 1 && !order_less(&it->key, &L->s[i].bound)) return LIVE_WAIT;
    *id = 0;
    for (uint32_t i = 0; i < L->n; i++) *id += count_below(L->s[i].creations, L->s[i].ncreations, it->create_pkt);
    *stream = it->stream;
    if (L->s[best].flows) *flow = L->s[best].flows[L->s[best].head];
    L->s[best].bytes -= it->bytes;
    if (L->s[best].full) { /* it waits for room */
        L->s[best].full = 0;
        pthread_cond_broadcast(&L->cv);
    }
    if (++L->s[best].head == L->s[best].n) L->s[best].head = L->s[best].n = 0;
    return LIVE_ITEM;
}

/* Under L->mu, without the GIL: live_take, waiting for the shards while it says LIVE_WAIT,
 * at most 50 ms (LIVE_WAIT then: the caller looks at signals, Ctrl+C). */
static int live_wait_take(fp_live *L, PyObject **stream, fp_flow *flow, uint64_t *id)
{
    int state;
    while ((state = live_take(L, stream, flow, id)) == LIVE_WAIT) {
        struct timespec ts;
        live_deadline(&ts);
        if (pthread_cond_timedwait(&L->cv, &L->mu, &ts) == ETIMEDOUT) {
            state = live_take(L, stream, flow, id);
            break;
        }
    }
    return state;
}

/* Stop every worker of a live merge: they return within a batch. */
static void live_cancel(fp_flows_obj *m)
{
    fp_live *L = m->live;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&L->mu);
    L->cancelled = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    Py_END_ALLOW_THREADS
}

/* The merge cannot go on: stop the workers, wait until they returned, then go on with
 * fallback(k) (which lets their threads end: their memory goes before one engine takes its
 * own) past its first k records, those handed out. */
static int live_fall_back(fp_flows_obj *m)
{
    fp_live *L = m->live;
    if (m->fell_back == NULL) { /* the stop that started it */
        pthread_mutex_lock(&L->mu);
        for (int pass = 0; pass < 2; pass++) /* a walk abandoned because a shard stopped: that stop */
            for (uint32_t i = 0; i < L->n; i++)
                if (L->s[i].done == 2 && m->fell_back == NULL && (pass || L->s[i].why != SPLIT_WALK_STOP))
                    m->fell_back = L->s[i].why;
        pthread_mutex_unlock(&L->mu);
    }
    live_cancel(m);
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&L->mu);
    for (;;) {
        int all = 1;
        for (uint32_t i = 0; i < L->n; i++) all &= L->s[i].done != 0;
        if (all) break;
        pthread_cond_wait(&L->cv, &L->mu);
    }
    pthread_mutex_unlock(&L->mu);
    Py_END_ALLOW_THREADS
    for (uint32_t i = 0; i < L->n; i++) live_drop_queued(&L->s[i], L->dns); /* the single engine reads them again */
    if (m->fell_back == NULL) m->fell_back = "cancelled";
    m->fell_back_at = m->skip = m->emitted;
    Py_CLEAR(m->parts);
    /* kept until it gave an iterator: one that raised (Ctrl+C while it joins) is called again */
    PyObject *single = PyObject_CallFunction(m->fallback, "K", (unsigned long long)m->emitted);
    if (single == NULL) return -1;
    if (!PyIter_Check(single)) {
        PyErr_Format(PyExc_TypeError, "a live merge's fallback gave %.100s, not an iterator", Py_TYPE(single)->tp_name);
        Py_DECREF(single);
        return -1;
    }
    m->single = single;
    Py_CLEAR(m->fallback);
#ifdef __GLIBC__
    /* The workers' heaps (glibc gives each thread its own arena) keep the pages their shards
     * freed: give them back before one engine fills its own, or the run holds both. */
    malloc_trim(0);
#endif
    return 0;
}

/* live_next's work, once it is the only caller. */
static PyObject *live_step(fp_flows_obj *m)
{
    fp_live *L = m->live;
    if (m->single) {
        for (;;) {
            PyObject *r = PyIter_Next(m->single);
            if (r == NULL) {
                if (!PyErr_Occurred()) m->finished = 1;
                return NULL;
            }
            if (m->skip == 0) {
                m->emitted++;
                return r;
            }
            Py_DECREF(r); /* handed out already (counted down one by one: Ctrl+C may stop it) */
            m->skip--;
        }
    }
    for (;;) {
        PyObject *stream = NULL;
        uint64_t id = 0;
        int state;
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&L->mu);
        state = live_wait_take(L, &stream, NULL, &id);
        pthread_mutex_unlock(&L->mu);
        Py_END_ALLOW_THREADS
        if (state == LIVE_ITEM) {
            if (m->live_kind == LIVE_STREAMS) fp_stream_set_id(stream, id);
            else if (fp_hello_record_set_id(stream, id) < 0) {
                Py_DECREF(stream);
                return NULL;
            }
            m->emitted++;
            return stream;
        }
        if (state == LIVE_END) {
            m->finished = 1;
            return NULL;
        }
        if (state == LIVE_FALL_BACK) return live_fall_back(m) < 0 ? NULL : live_step(m);
        if (PyErr_CheckSignals() < 0) { /* the next call goes on with one engine */
            m->fell_back = "interrupted";
            live_cancel(m);
            return NULL;
        }
    }
}

/* The next Stream of a live merge (NULL at the end without an error, or with one). The lock
 * is released while it waits and the fallback runs Python: a second thread must not come in. */
static PyObject *live_next(fp_flows_obj *m)
{
    if (m->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Streams is being read by another thread");
        return NULL;
    }
    m->busy = 1;
    PyObject *r = live_step(m);
    m->busy = 0;
    return r;
}

/* Room for `extra` more records in the output queue. */
static int out_reserve(fp_flows_obj *fl, size_t extra)
{
    if (fl->out_n + extra <= fl->out_cap) return 0;
    size_t cap = fl->out_cap ? fl->out_cap : 64;
    while (cap < fl->out_n + extra) cap *= 2;
    fp_flow *o = fp_budget_realloc(fl->budget, FP_MEM_OUTPUT, fl->out, cap * sizeof *o);
    if (o == NULL) return -1;
    fl->out = o;
    fl->out_cap = cap;
    return 0;
}

/* Flows after a fallback: the single engine's records past its first `skip` (those handed
 * out already) move to the merged engine's output queue, until it holds `want` (0: all). */
static int live_fill_single(fp_flows_obj *m, fp_state *st, size_t want)
{
    if (Py_TYPE(m->single) != Py_TYPE(m)) {
        PyErr_Format(PyExc_TypeError, "a live merge of %s fell back to %.100s", Py_TYPE(m)->tp_name,
                     Py_TYPE(m->single)->tp_name);
        return -1;
    }
    fp_flows_obj *s = FL(m->single);
    s->mode = MODE_STREAM;
    for (;;) {
        size_t have = s->out_n - s->out_pos, drop = have < m->skip ? have : (size_t)m->skip;
        free_out_range(s, s->out_pos, s->out_pos + drop);
        s->out_pos += drop;
        m->skip -= drop;
        have -= drop;
        if (have) {
            if (out_reserve(m, have) < 0) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(m->out + m->out_n, s->out + s->out_pos, have * sizeof *m->out);
            for (size_t i = 0; i < have; i++) { /* moved; a transaction leaves s's tracker and budget */
                s->out[s->out_pos + i].hints = NULL;
                if (s->dns) fp_dns_txn_release(s->dns, s->out[s->out_pos + i].ext);
                s->out[s->out_pos + i].ext = NULL;
            }
            m->out_n += have;
            m->emitted += have;
            s->out_pos += have;
        }
        s->out_pos = s->out_n = 0;
        if (want && m->out_n - m->out_pos >= want) return 0;
        if (s->finished && !s->memory_error) {
            m->finished = 1;
            return 0;
        }
        if (flows_run(s, st, want ? want + (size_t)m->skip : 0) < 0) return -1;
    }
}

/* A live merge of Flows (flows_run's work for it): move the next records in the single
 * engine's order, with its ids, to the output queue until it holds `want` (0: all of them),
 * so iteration, exports by batch and to_pandas() read them as one engine's. */
#define LIVE_FILL_BATCH 4096u
static int live_fill(fp_flows_obj *m, fp_state *st, size_t want)
{
    if (m->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Flows is being read by another thread");
        return -1;
    }
    fp_live *L = m->live;
    int status = 0;
    m->busy = 1;
    while (status == 0 && !m->finished && (want == 0 || m->out_n - m->out_pos < want)) {
        if (m->single) {
            status = live_fill_single(m, st, want);
            break;
        }
        if (out_reserve(m, LIVE_FILL_BATCH) < 0) {
            PyErr_NoMemory();
            status = -1;
            break;
        }
        size_t got = 0, need = want ? want - (m->out_n - m->out_pos) : LIVE_FILL_BATCH;
        if (need > LIVE_FILL_BATCH) need = LIVE_FILL_BATCH;
        int state;
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&L->mu);
        do { /* waits only for the first: what is known now goes out now */
            PyObject *none = NULL;
            uint64_t id = 0;
            fp_flow *f = &m->out[m->out_n + got];
            state = got ? live_take(L, &none, f, &id) : live_wait_take(L, &none, f, &id);
            if (state == LIVE_ITEM) {
                f->flow_id = id;
                if (m->live_kind == LIVE_DNS) ((fp_dns_txn *)f->ext)->flow_id = id; /* its row reads its own */
                got++;
            }
        } while (state == LIVE_ITEM && got < need);
        pthread_mutex_unlock(&L->mu);
        Py_END_ALLOW_THREADS
        m->out_n += got;
        m->emitted += got;
        if (got) continue;
        if (state == LIVE_END) m->finished = 1;
        else if (state == LIVE_FALL_BACK) status = live_fall_back(m);
        else if (PyErr_CheckSignals() < 0) { /* the next call goes on with one engine */
            m->fell_back = "interrupted";
            live_cancel(m);
            status = -1;
        }
    }
    m->busy = 0;
    return status;
}

/* _merge_live(shards, fallback[, queue_bytes]): one engine handing out the Streams, ClientHellos, flows or
 * DNS transactions of shards 0..n-1 of n (not started yet; each then run by _live() on its own thread) in the
 * single engine's order and with its ids, while they run. fallback(k) gives one engine past
 * its first k records, for when the shards cannot finish as the single engine would.
 * queue_bytes (a test hook, fastpkt.parallel.LIVE_QUEUE_BYTES): a shard also waits for the
 * consumer once its queue holds more. */
static PyObject *engine_merge_live(PyObject *cls, PyObject *args)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *parts, *fallback;
    Py_ssize_t queue_cap = 0;
    if (!PyArg_ParseTuple(args, "O!O|n:_merge_live", &PyTuple_Type, &parts, &fallback, &queue_cap)) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    if (n < 1 || n > 4096 || !PyCallable_Check(fallback) || queue_cap < 0) {
        PyErr_SetString(PyExc_ValueError, "_merge_live takes 1 to 4096 shards, a callable and queue bytes >= 0");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(parts, i);
        fp_flows_obj *p = (fp_flows_obj *)o;
        if (Py_TYPE(o) != type || p->shards != (uint32_t)n || p->shard != (uint32_t)i ||
            p->mode != MODE_NEW || p->busy || p->live || p->parts || p->on_data) {
            PyErr_SetString(PyExc_ValueError, "_merge_live takes Streams, ClientHellos, Flows or DnsTransactions "
                                              "shards 0..n-1 of n, not read yet");
            return NULL;
        }
    }
    fp_live *L = calloc(1, sizeof *L + (size_t)n * sizeof(live_shard));
    if (L == NULL) return PyErr_NoMemory();
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->n = (uint32_t)n;
    L->queue_cap = (size_t)queue_cap;
    PyObject *none = PyTuple_New(0);
    fp_flow_config cfg = {0};
    cfg.bidirectional = 1;
    cfg.max_flows = 1;
    fp_flows_obj *m = none ? engine_new(type, none, &cfg, Py_None, 0, 0) : NULL;
    Py_XDECREF(none);
    if (m == NULL) {
        L->refs = 1;
        live_unref(L);
        return NULL;
    }
    m->live = L;
    L->refs = 1 + (int)n;
    for (Py_ssize_t i = 0; i < n; i++) FL(PyTuple_GET_ITEM(parts, i))->live = L;
    m->parts = Py_NewRef(parts);
    m->fallback = Py_NewRef(fallback);
    fp_flows_obj *p0 = FL(PyTuple_GET_ITEM(parts, 0));
    m->live_kind = p0->eng ? LIVE_STREAMS : p0->hello_records ? LIVE_HELLOS : p0->dns ? LIVE_DNS : LIVE_FLOWS;
    L->dns = m->live_kind == LIVE_DNS;
    /* Streams and ClientHellos are read once by iteration; Flows may be kept (to_pandas);
     * DnsTransactions are iterated or exported by batch (_columns_next), as one engine's */
    m->mode = m->live_kind == LIVE_FLOWS || m->live_kind == LIVE_DNS ? MODE_NEW : MODE_STREAM;
    return (PyObject *)m;
}

/* _split_walk(shards, chunk_bytes, window): have shards 0..n-1 of n, not read yet, each over
 * one Reader of the same mapped file without filters, count or on_error="skip", take their
 * records from one split walk (engine_split.c). False when they cannot: they read the file
 * whole each, as before. */
static PyObject *engine_split_walk(PyObject *cls, PyObject *args)
{
    PyObject *parts;
    unsigned long long chunk;
    unsigned int window;
    if (!PyArg_ParseTuple(args, "O!KI:_split_walk", &PyTuple_Type, &parts, &chunk, &window)) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    if (n < 2 || n > 4096) Py_RETURN_FALSE;
    fp_source **src = PyMem_Calloc((size_t)n, sizeof *src);
    if (src == NULL) return PyErr_NoMemory();
    int flags = 0;
    fp_on_error policy = FP_ON_ERROR_RAISE;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(parts, i);
        fp_flows_obj *p = FL(o);
        if (Py_TYPE(o) != (PyTypeObject *)cls || p->shards != (uint32_t)n || p->shard != (uint32_t)i ||
            p->mode != MODE_NEW || p->busy || p->split || p->nreaders != 1) {
            PyMem_Free(src);
            PyErr_SetString(PyExc_ValueError, "_split_walk takes shards 0..n-1 of n, not read yet, one Reader each");
            return NULL;
        }
        fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(p->readers, 0);
        if (r->src == NULL || r->closed || r->is_stream || r->bpf || r->dfilter || r->has_limit || r->deadline_ns ||
            r->policy == FP_ON_ERROR_SKIP || r->claim_owner || (i && r->dissect_flags != flags)) {
            PyMem_Free(src);
            Py_RETURN_FALSE;
        }
        flags = r->dissect_flags;
        policy = r->policy;
        src[i] = r->src;
    }
    fp_split *w = fp_split_new(src, (uint32_t)n, chunk, window, flags, policy);
    PyMem_Free(src);
    if (w == NULL) Py_RETURN_FALSE; /* too small to cut, no boundary found, or not one mapping */
    for (Py_ssize_t i = 0; i < n; i++) {
        fp_flows_obj *p = FL(PyTuple_GET_ITEM(parts, i));
        p->split = w;
        if (p->eng) fp_split_read_payloads(w, (uint32_t)i);
    }
    Py_RETURN_TRUE;
}

/* _split_leave(): this shard reads no more (fastpkt.parallel calls it as the shard's run
 * returns, so that the others never wait for it); _split_state(): None without a split walk,
 * else (why it was abandoned or None, the peak bytes of its entries). */
static PyObject *engine_split_leave(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (FL(self)->split) {
        Py_BEGIN_ALLOW_THREADS
        fp_split_leave(FL(self)->split, FL(self)->shard);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

static PyObject *engine_split_state(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (FL(self)->split == NULL) Py_RETURN_NONE;
    size_t peak;
    const char *why = fp_split_abandoned(FL(self)->split, &peak);
    if (why == NULL) return Py_BuildValue("(On)", Py_None, (Py_ssize_t)peak);
    return Py_BuildValue("(sn)", why, (Py_ssize_t)peak);
}

/* _walk_entries(reader, shards): the first stage of fastpkt.dask's split walk. The records
 * of a Reader's range (_set_range), not read yet, of a mapped file, as fp_feed_entry bytes
 * keyed for `shards`, and whether they are the sequential read's: True when the range ended
 * exactly on its cut (the next range starts on a true record) or at the end of the file, in
 * both cases without error; (b"", False) when it cannot tell (an error, a record past the
 * file's end, not mapped): the shards then read the whole file each. */
static PyObject *engine_walk_entries(PyObject *cls, PyObject *args)
{
    PyObject *ro;
    unsigned int shards;
    fp_state *st = fp_state_from_type((PyTypeObject *)cls);
    if (!PyArg_ParseTuple(args, "O!I:_walk_entries", st->Reader_Type, &ro, &shards)) return NULL;
    fp_reader_obj *r = (fp_reader_obj *)ro;
    if (shards < 1 || shards > 4096) {
        PyErr_SetString(PyExc_ValueError, "_walk_entries: shards must be 1..4096");
        return NULL;
    }
    if (r->src == NULL || r->closed || r->is_stream || r->bpf || r->dfilter || r->has_limit || r->deadline_ns ||
        r->policy == FP_ON_ERROR_SKIP || r->claim_owner || r->frames)
        return Py_BuildValue("(y#O)", "", (Py_ssize_t)0, Py_False);
    PyObject *const *rs = &ro;
    if (fp_readers_claim(rs, 1) < 0) return NULL;
    fp_feed_entry *e;
    size_t n;
    fp_error err;
    int rc, ok;
    Py_BEGIN_ALLOW_THREADS
    rc = fp_split_entries(r->src, shards, r->dissect_flags, &e, &n, &err);
    ok = rc == 0 && !fp_source_lost(r->src) &&
         (fp_source_range_exact(r->src) ||
          (fp_source_position(r->src) >= fp_source_size(r->src) && fp_source_range_clean(r->src)));
    Py_END_ALLOW_THREADS
    fp_readers_release(rs, 1);
    if (rc == -2) return PyErr_NoMemory();
    PyObject *res = Py_BuildValue("(y#O)", ok && e ? (const char *)e : "", (Py_ssize_t)(ok ? n * sizeof *e : 0),
                                  ok ? Py_True : Py_False); /* e is NULL for a range without records */
    free(e);
    return res;
}

static void feed_free(fp_flows_obj *fl)
{
    for (Py_ssize_t i = 0; fl->feed && i < fl->nreaders; i++) {
        struct feed_src *f = &fl->feed[i];
        for (size_t k = 0; k < f->npieces; k++) {
            PyBuffer_Release(&f->pieces[k].view);
            PyMem_Free(f->pieces[k].path);
        }
        if (f->fd >= 0) close(f->fd);
        PyMem_Free(f->pieces);
        PyMem_Free(f->window);
    }
    PyMem_Free(fl->feed);
    fl->feed = NULL;
}

/* One piece of a fed Reader's entries: a bytes-like of entries, or a spill file's path. */
static int feed_piece_set(struct feed_src *f, PyObject *o)
{
    feed_piece *p = &f->pieces[f->npieces];
    if (PyUnicode_Check(o)) {
        PyObject *b = NULL;
        if (!PyUnicode_FSConverter(o, &b)) return -1;
        p->path = PyMem_Malloc((size_t)PyBytes_GET_SIZE(b) + 1);
        if (p->path) memcpy(p->path, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b) + 1);
        Py_DECREF(b);
        if (p->path == NULL) return PyErr_NoMemory(), -1;
        f->npieces++;
        if (f->window == NULL && (f->window = PyMem_Malloc(FEED_WINDOW * sizeof *f->window)) == NULL)
            return PyErr_NoMemory(), -1;
        return 0;
    }
    if (PyObject_GetBuffer(o, &p->view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    f->npieces++; /* released by feed_free from here */
    if (p->view.len % (Py_ssize_t)sizeof(fp_feed_entry)) {
        PyErr_SetString(PyExc_ValueError, "_feed: entries of 32 bytes each");
        return -1;
    }
    if ((uintptr_t)p->view.buf % _Alignof(fp_feed_entry) && f->window == NULL &&
        (f->window = PyMem_Malloc(FEED_WINDOW * sizeof *f->window)) == NULL)
        return PyErr_NoMemory(), -1;
    return 0;
}

/* _feed(entries): the second stage. A shard not read yet takes its records from the entries
 * of each of its Readers' files (fp_feed_entry, every record of the file in file order, as
 * _walk_entries gives them range by range: per Reader a bytes-like, or a tuple of pieces,
 * each a bytes-like or the path of a spill file read as the feed reaches it), merged by time
 * as its Readers would be, instead of reading the files: the records it keeps and those the
 * key pass declined are read from the Readers' mappings, the others only move its clock and
 * counters. */
static PyObject *engine_feed(PyObject *self, PyObject *arg)
{
    fp_flows_obj *fl = FL(self);
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != fl->nreaders) {
        PyErr_SetString(PyExc_TypeError, "_feed takes a tuple of entries per Reader");
        return NULL;
    }
    if (fl->mode != MODE_NEW || fl->busy || fl->split || fl->feed || fl->live) {
        PyErr_SetString(PyExc_ValueError, "_feed needs an engine not read yet");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        fp_reader_obj *r = (fp_reader_obj *)PyTuple_GET_ITEM(fl->readers, i);
        size_t len;
        if (r->src == NULL || r->closed || r->bpf || r->dfilter || r->has_limit || r->deadline_ns || r->frames ||
            fp_source_mapping(r->src, &len) == NULL) {
            PyErr_SetString(PyExc_ValueError, "_feed needs unread Readers of mapped files without filters or count");
            return NULL;
        }
    }
    fl->feed = PyMem_Calloc((size_t)fl->nreaders, sizeof *fl->feed);
    if (fl->feed == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) fl->feed[i].fd = -1;
    for (Py_ssize_t i = 0; i < fl->nreaders; i++) {
        struct feed_src *f = &fl->feed[i];
        PyObject *o = PyTuple_GET_ITEM(arg, i);
        Py_ssize_t k = PyTuple_Check(o) ? PyTuple_GET_SIZE(o) : 1;
        if ((f->pieces = PyMem_Calloc((size_t)k ? (size_t)k : 1, sizeof *f->pieces)) == NULL) {
            feed_free(fl);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            if (feed_piece_set(f, PyTuple_Check(o) ? PyTuple_GET_ITEM(o, j) : o) < 0) {
                feed_free(fl);
                return NULL;
            }
        }
    }
    Py_RETURN_NONE;
}

/* A live merge (Streams, ClientHellos, Flows, DnsTransactions): its shards and the merged engine. */
#define LIVE_METHODS                                                                                   \
    {"_live", engine_live, METH_NOARGS, "Run a shard of _merge_live to the end (on its own thread)."}, \
    {"_merge_live", engine_merge_live, METH_VARARGS | METH_CLASS,                                      \
     "_merge_live(shards, fallback[, queue_bytes]): the shards' records in one engine's order while they run."}

#define ENGINE_MERGE_METHOD                                                                        \
    {"_walk_entries", engine_walk_entries, METH_VARARGS | METH_CLASS,                              \
     "_walk_entries(reader, shards): (entries of the Reader's range, whether they are exact)."},   \
    {"_feed", engine_feed, METH_O, "_feed(entries): take the records from each file's entries."},  \
    {"_split_walk", engine_split_walk, METH_VARARGS | METH_CLASS,                                  \
     "_split_walk(shards, chunk_bytes, window): the shards take their records from one split walk."}, \
    {"_split_leave", engine_split_leave, METH_NOARGS, "_split_leave(): this shard reads no more."}, \
    {"_split_state", engine_split_state, METH_NOARGS,                                              \
     "_split_state(): None, or (why the split walk was abandoned or None, its entries' peak bytes)."}, \
    {"_merge", engine_merge, METH_VARARGS | METH_CLASS,                                            \
     "_merge(shards): the records of engines run with _shard=(i, n), in one engine's order."},     \
    {"_shard_ids", engine_shard_ids, METH_NOARGS,                                                  \
     "_shard_ids(): (creation positions, local ids, creation positions of the records) of a shard."}

static int flows_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(FL(self)->readers);
    Py_VISIT(FL(self)->progress);
    Py_VISIT(FL(self)->on_data);
    Py_VISIT(FL(self)->parts);
    Py_VISIT(FL(self)->fallback);
    Py_VISIT(FL(self)->single);
    return 0;
}

static int flows_clear(PyObject *self)
{
    Py_CLEAR(FL(self)->readers);
    Py_CLEAR(FL(self)->progress);
    Py_CLEAR(FL(self)->on_data);
    Py_CLEAR(FL(self)->fallback);
    Py_CLEAR(FL(self)->single);
    return 0;
}

static void flows_dealloc(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (fl->live_kind && !fl->finished) live_cancel(fl); /* its consumer left */
    flows_clear(self);
    free(fl->live_counts);
    fp_flow_table_free(fl->table);
    fp_defrag_free(fl->defrag);
    if (fl->out) free_out_range(fl, fl->out_pos, fl->out_n);
    free(fl->owner);
    Py_CLEAR(fl->parts); /* after the records whose state they own */
    live_unref(fl->live);
    if (fl->split) {
        fp_split_leave(fl->split, fl->shard);
        fp_split_unref(fl->split);
    }
    feed_free(fl);
    fp_stream_engine_free(fl->eng);
    if (fl->hellos) fp_hello_tracker_free(fl->hellos);
    free(fl->hellos);
    if (fl->dns) fp_budget_free(fl->budget, FP_MEM_ENGINE, fl->dns);
    free(fl->out);
    free(fl->pending);
    free(fl->pending_d);
    free(fl->has_pending_d);
    free(fl->has_pending);
    free(fl->ended);
    for (Py_ssize_t i = 0; fl->held && i < fl->nreaders; i++) free(fl->held[i]);
    free(fl->held);
    free(fl->held_cap);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* A merged run's counters, live (streams still held count as active): fastpkt.parallel
 * combines the shards' (per-packet ones from any shard, per-flow ones summed). */
static PyObject *merged_stats(PyObject *parts)
{
    PyObject *mod = PyImport_ImportModule("fastpkt.parallel");
    if (mod == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list && i < n; i++) {
        PyObject *st = PyObject_GetAttrString(PyTuple_GET_ITEM(parts, i), "stats");
        if (st == NULL) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, st);
    }
    PyObject *r = list ? PyObject_CallMethod(mod, "merge_stats", "O", list) : NULL;
    Py_XDECREF(list);
    Py_DECREF(mod);
    return r;
}

/* stats['defrag']: the reassembler's counters (zeros before the first fragment). */
static PyObject *defrag_dict(const fp_defrag_stats *s)
{
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "fragments", s->fragments, "reassembled",
                         s->reassembled, "timed_out", s->timed_out, "dropped", s->dropped, "overlaps",
                         s->overlaps, "unusable", s->unusable, "pending", s->pending);
}

PyObject *fp_defrag_stats_dict(const fp_defrag *df)
{
    static const fp_defrag_stats none;
    return defrag_dict(df ? fp_defrag_stats_of(df) : &none);
}

static PyObject *flows_get_stats(PyObject *self, void *c)
{
    (void)c;
    fp_flows_obj *fl = FL(self);
    if (fl->live && !fl->live_kind && fl->busy && fl->live_counts) /* a live shard running on its thread */
        return counts_dict(fl, fl->live_counts);
    return flows_stats_now(fl);
}

/* A live merge's counters: the shards' merged, and the records queued for the consumer now and
 * at most (each shard's queue at its own peak, against its own share of max_memory): its slots,
 * and the records' bytes. */
static PyObject *live_merged_stats(fp_flows_obj *fl)
{
    PyObject *d = merged_stats(fl->parts);
    if (d == NULL) return NULL;
    fp_live *L = fl->live;
    size_t now = 0, peak = 0;
    pthread_mutex_lock(&L->mu);
    for (uint32_t i = 0; i < L->n; i++) {
        now += live_queued_bytes(&L->s[i]);
        peak += L->s[i].peak;
    }
    pthread_mutex_unlock(&L->mu);
    PyObject *v = PyLong_FromSize_t(now), *p = PyLong_FromSize_t(peak);
    if (v == NULL || p == NULL || PyDict_SetItemString(d, "live_queue_bytes", v) < 0 ||
        PyDict_SetItemString(d, "live_queue_peak_bytes", p) < 0)
        Py_CLEAR(d);
    Py_XDECREF(v);
    Py_XDECREF(p);
    return d;
}

static PyObject *flows_stats_now(fp_flows_obj *fl)
{
    if (fl->single) { /* a live merge gone on with one engine: its counters, and why */
        PyObject *d = PyObject_GetAttrString(fl->single, "stats");
        PyObject *why = d ? Py_BuildValue("{s:s,s:K}", "reason", fl->fell_back, "after", fl->fell_back_at) : NULL;
        if (why == NULL || PyDict_SetItemString(d, "fallback", why) < 0) Py_CLEAR(d);
        Py_XDECREF(why);
        return d;
    }
    if (fl->parts) return fl->live ? live_merged_stats(fl) : merged_stats(fl->parts);
    engine_counts c;
    counts_of(fl, &c);
    return counts_dict(fl, &c);
}

static void counts_of(fp_flows_obj *fl, engine_counts *c)
{
    static const fp_defrag_stats none;
    c->flow = *fp_flow_table_stats(fl->table);
    c->budget = *fl->budget;
    c->defrag = fl->defrag ? *fp_defrag_stats_of(fl->defrag) : none;
    c->key_skips = fl->key_skips;
    c->split_wait_publishes = fl->split_wait_publishes;
    c->live_room_waits = fl->live_room_waits;
    c->budget_stops = fl->budget_stops;
    c->split_peak = 0;
    if (fl->split) fp_split_abandoned(fl->split, &c->split_peak);
    c->finished = fl->finished;
    if (fl->dns) c->x.dns = fl->dns->stats;
    else if (fl->eng) fp_stream_engine_counts_of(fl->eng, &c->x.streams);
    else if (fl->hellos) c->x.hello = fl->hellos->stats;
}

static PyObject *counts_dict(const fp_flows_obj *fl, const engine_counts *c)
{
    const fp_flow_stats *s = &c->flow;
    PyObject *exp = PyDict_New();
    if (exp == NULL) return NULL;
    for (int i = 0; i < FP_EXP_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(s->expired[i]);
        if (v == NULL || PyDict_SetItemString(exp, fp_expiration_names[i], v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(exp);
            return NULL;
        }
        Py_DECREF(v);
    }
    const fp_budget *b = &c->budget;
    PyObject *mem = PyDict_New(), *mem_peak = PyDict_New();
    for (int i = 0; mem && mem_peak && i < FP_MEM_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(b->bytes[i]), *p = PyLong_FromUnsignedLongLong(b->peak_bytes[i]);
        if (v == NULL || p == NULL || PyDict_SetItemString(mem, fp_mem_component_names[i], v) < 0 ||
            PyDict_SetItemString(mem_peak, fp_mem_component_names[i], p) < 0)
            Py_CLEAR(mem);
        Py_XDECREF(v);
        Py_XDECREF(p);
    }
    if (mem == NULL || mem_peak == NULL) {
        Py_XDECREF(mem);
        Py_XDECREF(mem_peak);
        Py_DECREF(exp);
        return NULL;
    }
    PyObject *d = Py_BuildValue("{s:K,s:K,s:K,s:K,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O}",
                         "packets", s->packets, "bytes", s->bytes, "non_ip_packets", s->non_ip_packets,
                         "flows_created", s->flows_created, "flows_expired", exp,
                         "evicted", s->expired[FP_EXP_EVICTED], "anomalies", s->anomalies,
                         "fragments", s->fragments, "fragment_misses", s->fragment_misses,
                         "max_flows_seen", s->max_flows_seen, "memory_bytes", b->total,
                         "memory_peak_bytes", b->peak, "memory", mem, "memory_peak", mem_peak,
                         "max_memory", b->limit, "allocation_failures", b->alloc_failures,
                         "dropped", s->oom, "bad_transport", s->bad_transport, "time_reversals", s->time_reversals,
                         "reversal_risks", s->reversal_risks, "budget_stops", c->budget_stops,
                         "finished", c->finished ? Py_True : Py_False);
    PyObject *df = defrag_dict(&c->defrag);
    if (df == NULL || d == NULL || PyDict_SetItemString(d, "defrag", df) < 0) Py_CLEAR(d);
    Py_XDECREF(df);
    /* a shard: the packets of other shards it skipped without dissecting them */
    if (d && fl->shards > 1) {
        PyObject *v = PyLong_FromUnsignedLongLong(c->key_skips);
        if (v == NULL || PyDict_SetItemString(d, "key_pass_skips", v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    /* a shard of a split walk: the peak of the walk's entries (one walk for every shard) */
    if (d && fl->split) {
        PyObject *v = PyLong_FromSize_t(c->split_peak);
        if (v == NULL || PyDict_SetItemString(d, "split_walk_memory_peak_bytes", v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    /* a live shard: the times it waited for the consumer (its queue full), and published
     * before it waited for another shard in the split walk */
    if (d && fl->live && !fl->live_kind) {
        PyObject *v = Py_BuildValue("K", c->live_room_waits), *w = Py_BuildValue("K", c->split_wait_publishes);
        if (v == NULL || w == NULL || PyDict_SetItemString(d, "live_room_waits", v) < 0 ||
            PyDict_SetItemString(d, "split_wait_publishes", w) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
        Py_XDECREF(w);
    }
    if (d == NULL || (fl->eng == NULL && fl->hellos == NULL && fl->dns == NULL)) return d;
    PyObject *r;
    if (fl->dns) {
        const fp_dns_stats *x = &c->x.dns;
        r = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "messages",
                          x->messages, "queries", x->queries, "responses", x->responses, "tcp_messages",
                          x->tcp_messages, "transactions", x->transactions, "answered", x->answered,
                          "unanswered", x->unanswered, "response_only", x->response_only,
                          "retransmitted_queries", x->retransmitted_queries, "duplicate_responses",
                          x->duplicate_responses, "responses_differ", x->responses_differ, "short_messages",
                          x->short_messages, "tcp_gaps", x->tcp_gaps, "closed_at_cap", x->closed_at_cap,
                          "evicted", x->evicted, "dropped", x->oom, "tcp_resyncs", x->tcp_resyncs,
                          "tcp_skipped_bytes", x->tcp_skipped_bytes, "state_peak_bytes", x->state_peak_bytes);
        if (r == NULL || PyDict_SetItemString(d, "dns", r) < 0) Py_CLEAR(d);
        Py_XDECREF(r);
        return d;
    }
    if (fl->eng) {
        r = fp_stream_engine_stats(&c->x.streams);
    } else {
        const fp_hello_stats *h = &c->x.hello;
        r = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "client_hellos", h->client_hellos,
                          "server_hellos", h->server_hellos, "tcp_searches", h->tcp_searches, "quic_searches",
                          h->quic_searches, "quic_auth_failures", h->quic_auth_failures, "quic_gave_up", h->gave_up,
                          "quic_not_initial", h->quic_not_initial, "dropped", h->oom, "hello_over_cap",
                          h->hello_over_cap, "hello_implausible_length", h->hello_implausible_length,
                          "hello_partial", h->hello_partial);
    }
    if (r == NULL || PyDict_SetItemString(d, fl->eng ? "reassembly" : "tls", r) < 0) Py_CLEAR(d);
    Py_XDECREF(r);
    return d;
}

static PyObject *flows_repr(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    if (fl->single) return PyObject_Repr(fl->single);
    if (fl->parts) /* a merged run: its counters are the shards' */
        return PyUnicode_FromFormat("<fastpkt.%s %llu records from %llu packets, merged from %zd workers>",
                                    Py_TYPE(self)->tp_name + 8, (unsigned long long)fl->emitted,
                                    (unsigned long long)fp_flow_table_stats(FL(PyTuple_GET_ITEM(fl->parts, 0))->table)->packets,
                                    PyTuple_GET_SIZE(fl->parts));
    const fp_flow_stats *s = fp_flow_table_stats(fl->table);
    if (fl->eng)
        return PyUnicode_FromFormat("<fastpkt.Streams %s, %llu packets read, %llu streams handed out>",
                                    fl->finished ? "finished" : fl->mode == MODE_NEW ? "not read yet" : "in progress",
                                    (unsigned long long)s->packets, (unsigned long long)fl->emitted);
    if (fl->dns)
        return PyUnicode_FromFormat("<fastpkt.DnsTransactions %s, %llu packets read, %llu transactions handed out>",
                                    fl->finished ? "finished" : fl->mode == MODE_NEW ? "not read yet" : "in progress",
                                    (unsigned long long)s->packets, (unsigned long long)fl->emitted);
    if (fl->hello_records)
        return PyUnicode_FromFormat("<fastpkt.ClientHellos %s, %llu packets read, %llu hellos handed out>",
                                    fl->finished ? "finished" : fl->mode == MODE_NEW ? "not read yet" : "in progress",
                                    (unsigned long long)s->packets, (unsigned long long)fl->emitted);
    if (!fl->finished)
        return PyUnicode_FromFormat("<fastpkt.Flows %s, %llu packets read so far>",
                                    fl->mode == MODE_NEW ? "not read yet" : "in progress",
                                    (unsigned long long)s->packets);
    return PyUnicode_FromFormat("<fastpkt.Flows %llu flows from %llu packets (idle %llu, active %llu, fin %llu, "
                                "rst %llu, end %llu, evicted %llu)%s>",
                                (unsigned long long)fl->emitted, (unsigned long long)s->packets,
                                (unsigned long long)s->expired[FP_EXP_IDLE], (unsigned long long)s->expired[FP_EXP_ACTIVE],
                                (unsigned long long)s->expired[FP_EXP_FIN], (unsigned long long)s->expired[FP_EXP_RST],
                                (unsigned long long)s->expired[FP_EXP_END], (unsigned long long)s->expired[FP_EXP_EVICTED],
                                fl->mode == MODE_STREAM ? " streamed" : "");
}

static PyObject *flows_flush(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    fp_flows_obj *fl = FL(self);
    if (st == NULL) return NULL;
    if (fl->mode == MODE_NEW) fl->mode = MODE_STORED;
    if (flows_run(fl, st, 0) < 0) return NULL;
    Py_RETURN_NONE;
}

/* _finish(): read to the end keeping every record, to be iterated once afterwards (a shard
 * of a parallel run: Streams and ClientHellos are only ever iterated). */
static PyObject *engine_finish(PyObject *self, PyObject *unused)
{
    if (flows_flush(self, unused) == NULL) return NULL;
    Py_DECREF(Py_None);
    FL(self)->mode = MODE_STREAM;
    Py_RETURN_NONE;
}

static PyObject *flows_get_finished(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(FL(self)->finished);
}

static PyObject *flows_get_kept(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(FL(self)->mode == MODE_STORED);
}

static PyGetSetDef flows_getset[] = {
    {"stats", flows_get_stats, NULL,
     "Counters: packets, bytes, non_ip_packets, flows_created, flows_expired by reason, evicted\n"
     "(to stay within max_flows/max_memory), anomalies (packets with any), fragments,\n"
     "fragment_misses, max_flows_seen, memory_bytes / memory_peak_bytes (everything the engine\n"
     "holds, now and at most), memory / memory_peak (the same per component), max_memory,\n"
     "allocation_failures, dropped (packets lost to allocation failure), bad_transport (TCP/UDP\n"
     "packets whose header was unreadable, kept out of flows), time_reversals (packets older than\n"
     "one read before them), reversal_risks (workers > 1: expiry decisions such packets may have\n"
     "changed; the run is then repeated on one worker), finished.", NULL},
    {"finished", flows_get_finished, NULL, "True once the input was read to the end.", NULL},
    {"_kept", flows_get_kept, NULL, "True when every flow is kept (to_pandas()/len() came first).", NULL},
    {NULL},
};

static PyMethodDef flows_methods[] = {
    {"columns", flows_columns, METH_NOARGS, "Typed column buffers built in C (the fastpkt.frames protocol)."},
    {"_columns_range", (PyCFunction)(void (*)(void))flows_columns_range, METH_FASTCALL,
     "_columns_range(start, stop): column specs of kept flows start..stop (reads everything first)."},
    {"_columns_next", flows_columns_next, METH_O,
     "_columns_next(n): column specs of the next n flows to leave the table, not kept (streams)."},
    FP_TABLE_METHODS,
    {"flush", flows_flush, METH_NOARGS, "Read the rest of the input and expire every flow (expiration 'end')."},
    ENGINE_MERGE_METHOD,
    LIVE_METHODS,
    FP_VIEW_METHOD,
    {NULL},
};

PyDoc_STRVAR(flows_doc,
             "Flows built in C from one or more Readers; create them with fastpkt.flows().\n\n"
             "Iterate to stream Flow records in expiry order (bounded memory, flows not kept), or call\n"
             "to_pandas()/to_arrow()/len() first to read everything and keep all flows.");

/* The slots every engine type (Flows, Streams) shares. */
#define ENGINE_SLOTS(doc, new_fn, getset, methods)                                                \
    {Py_tp_doc, (void *)(doc)}, {Py_tp_new, (new_fn)}, {Py_tp_dealloc, flows_dealloc},            \
        {Py_tp_traverse, flows_traverse}, {Py_tp_clear, flows_clear}, {Py_tp_repr, flows_repr},   \
        {Py_tp_iter, flows_iter}, {Py_tp_iternext, flows_iternext}, {Py_tp_getset, (getset)},     \
        {Py_tp_methods, (methods)}

static PyType_Slot flows_slots[] = {
    ENGINE_SLOTS(flows_doc, flows_new, flows_getset, flows_methods),
    {Py_sq_length, flows_len},
    {Py_sq_item, flows_item},
    {0, NULL},
};

static PyType_Spec flows_spec = {
    .name = "fastpkt.Flows",
    .basicsize = sizeof(fp_flows_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = flows_slots,
};

/* Streams.run(): read to the end for the on_data callback, without keeping streams. */
static PyObject *streams_run(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    fp_flows_obj *fl = FL(self);
    if (st == NULL) return NULL;
    if (fl->live_kind) { /* a live merge: drop what it hands out */
        PyObject *s;
        while (!fl->finished && (s = live_next(fl)) != NULL) Py_DECREF(s);
        return PyErr_Occurred() ? NULL : PyLong_FromUnsignedLongLong(fl->emitted);
    }
    fl->mode = MODE_STREAM;
    fl->discard = 1;
    free_out_range(fl, fl->out_pos, fl->out_n);
    fl->out_pos = fl->out_n = 0;
    int rc = flows_run(fl, st, 0);
    fl->discard = 0;
    if (rc < 0) return NULL;
    return PyLong_FromUnsignedLongLong(fl->emitted);
}

static PyMethodDef streams_methods[] = {
    {"run", streams_run, METH_NOARGS,
     "Read the input to the end, handing data to on_data, without keeping Stream objects;\n"
     "returns the number of streams."},
    {"_finish", engine_finish, METH_NOARGS, "Read the input to the end, keeping every Stream (a shard of a parallel run)."},
    LIVE_METHODS,
    ENGINE_MERGE_METHOD,
    FP_TABLE_METHODS,
    FP_VIEW_METHOD,
    {NULL},
};

static PyGetSetDef streams_getset[] = {
    {"stats", flows_get_stats, NULL,
     "The flow engine's counters plus 'reassembly': streams, delivered_bytes, gaps, gap_bytes,\n"
     "forced_gaps (holes skipped at a buffer cap), retransmitted_bytes, inconsistent_bytes,\n"
     "depth_cut_bytes, after_fin_bytes, out_of_window_bytes, buffered_bytes, buffered_peak_bytes,\n"
     "dropped (allocation failures). workers > 1: a run that went on with one engine adds\n"
     "'fallback': {'reason', 'after': Streams handed out before}.", NULL},
    {"finished", flows_get_finished, NULL, "True once the input was read to the end.", NULL},
    {NULL},
};

PyDoc_STRVAR(streams_doc, "Reassembled TCP connections from one or more Readers; create them with\n"
                          "fastpkt.streams(). Iterate to receive Stream objects as connections end.");

static PyType_Slot streams_slots[] = {
    ENGINE_SLOTS(streams_doc, streams_new, streams_getset, streams_methods),
    {0, NULL},
};

static PyType_Spec streams_spec = {
    .name = "fastpkt.Streams",
    .basicsize = sizeof(fp_flows_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = streams_slots,
};

static PyMethodDef hellos_methods[] = {
    {"_finish", engine_finish, METH_NOARGS, "Read the input to the end, keeping every record (a shard of a parallel run)."},
    LIVE_METHODS,
    ENGINE_MERGE_METHOD,
    FP_TABLE_METHODS,
    FP_VIEW_METHOD,
    {NULL},
};

static PyGetSetDef hellos_getset[] = {
    {"stats", flows_get_stats, NULL,
     "The flow engine's counters plus 'tls': client_hellos, server_hellos, tcp_searches,\n"
     "quic_searches, quic_auth_failures, quic_gave_up, quic_not_initial (first datagrams that\n"
     "looked like an Initial but did not decrypt: no state kept), dropped, hello_over_cap\n"
     "(ClientHellos with fields past max_hello_fields), hello_implausible_length (a header claiming\n"
     "more than a ClientHello can hold), hello_partial (cut by a gap or the connection's end).", NULL},
    {"finished", flows_get_finished, NULL, "True once the input was read to the end.", NULL},
    {NULL},
};

PyDoc_STRVAR(hellos_doc, "TLS ClientHellos (with the server's answer) found over TCP and QUIC; create them\n"
                         "with fastpkt.client_hellos(). Iterate for ClientHello records as they complete.");

static PyType_Slot hellos_slots[] = {
    ENGINE_SLOTS(hellos_doc, hellos_new, hellos_getset, hellos_methods),
    {0, NULL},
};

static PyType_Spec hellos_spec = {
    .name = "fastpkt.ClientHellos",
    .basicsize = sizeof(fp_flows_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = hellos_slots,
};

/* Transactions are read once, by iteration (or an export): their count is known at the end. */
static Py_ssize_t dns_len(PyObject *self)
{
    fp_flows_obj *fl = FL(self);
    if (!fl->finished) {
        PyErr_SetString(PyExc_TypeError, "len() of DnsTransactions is known once they were read to the end "
                                         "(iterate, or to_pandas()/to_arrow())");
        return -1;
    }
    return (Py_ssize_t)fl->emitted;
}

/* Rows per pass of _columns_next: the output queue holds at most this many transactions
 * (plus a pump's) while their rows are built. */
#define DNS_COLUMN_CHUNK 65536u

/* _columns_next(n): the next n transactions (fewer at the end; 0: the schema, reading
 * nothing) as column specs built in C, each dropped once its row is built: an export of
 * any size holds its columns and one chunk of transactions. */
static PyObject *dns_columns_next(PyObject *self, PyObject *arg)
{
    fp_flows_obj *fl = FL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    Py_ssize_t want = PyLong_AsSsize_t(arg);
    if (st == NULL || (want == -1 && PyErr_Occurred())) return NULL;
    if (want < 0) {
        PyErr_SetString(PyExc_ValueError, "_columns_next: batch size must be at least 0");
        return NULL;
    }
    if (fl->busy) {
        PyErr_SetString(PyExc_RuntimeError, "DnsTransactions is being read by another thread");
        return NULL;
    }
    fp_dns_cols *b = fp_dns_cols_new();
    if (b == NULL) return PyErr_NoMemory();
    if (want > 0 && fl->mode == MODE_NEW) fl->mode = MODE_STREAM;
    for (size_t rows = 0; rows < (size_t)want;) {
        size_t chunk = (size_t)want - rows < DNS_COLUMN_CHUNK ? (size_t)want - rows : DNS_COLUMN_CHUNK;
        while (fl->out_n - fl->out_pos < chunk && (!fl->finished || fl->memory_error))
            if (flows_run(fl, st, chunk) < 0) {
                fp_dns_cols_free(b);
                return NULL;
            }
        size_t k = fl->out_n - fl->out_pos;
        if (k > chunk) k = chunk;
        if (k == 0) break;
        int rc;
        fl->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = fp_dns_cols_add(b, fl->out + fl->out_pos, k);
        Py_END_ALLOW_THREADS
        fl->busy = 0;
        if (rc < 0) {
            fp_dns_cols_free(b);
            return PyErr_NoMemory();
        }
        free_out_range(fl, fl->out_pos, fl->out_pos + k);
        fl->out_pos += k;
        rows += k;
        if (fl->owner) continue; /* merged at the end: every record is there already, each with its owner */
        if (fl->out_n > fl->out_pos) /* what is left moves to the front (the queue stays short) */
            memmove(fl->out, fl->out + fl->out_pos, (fl->out_n - fl->out_pos) * sizeof *fl->out);
        fl->out_n -= fl->out_pos;
        fl->out_pos = 0;
    }
    return fp_dns_cols_finish(st, b);
}

static PyMethodDef dns_methods[] = {
    {"_columns_next", dns_columns_next, METH_O,
     "_columns_next(n): column specs of the next n transactions, built in C (0: the schema)."},
    {"_finish", engine_finish, METH_NOARGS, "Read the input to the end, keeping every record (a shard of a parallel run)."},
    ENGINE_MERGE_METHOD,
    LIVE_METHODS,
    FP_TABLE_METHODS,
    FP_VIEW_METHOD,
    {NULL},
};

static PyGetSetDef dns_getset[] = {
    {"stats", flows_get_stats, NULL,
     "The flow engine's counters plus 'dns': messages, queries, responses, tcp_messages (framed\n"
     "from reassembled TCP), transactions (rows handed out), answered, unanswered, response_only\n"
     "(responses whose query was not seen), retransmitted_queries, duplicate_responses,\n"
     "responses_differ, short_messages (under a 12-byte header: no row), tcp_gaps (gaps that cut a TCP\n"
     "direction's framing), tcp_resyncs (framing found again by search after a gap or skipped bytes),\n"
     "tcp_skipped_bytes (TCP bytes in no framed message: a mid-stream start, after a gap), closed_at_cap (closed early: over FP_DNS_CONN_OPEN_MAX open on one\n"
     "connection), evicted (closed because max_memory/max_flows evicted their connection),\n"
     "dropped (allocation failures).", NULL},
    {"finished", flows_get_finished, NULL, "True once the input was read to the end.", NULL},
    {NULL},
};

PyDoc_STRVAR(dns_doc, "DNS transactions (queries paired with responses, over UDP and TCP) of one or more\n"
                      "Readers; create them with fastpkt.dns(). Iterate for DnsTransaction records as they close.");

static PyType_Slot dns_slots[] = {
    ENGINE_SLOTS(dns_doc, dns_new, dns_getset, dns_methods),
    {Py_sq_length, dns_len},
    {0, NULL},
};

static PyType_Spec dns_spec = {
    .name = "fastpkt.DnsTransactions",
    .basicsize = sizeof(fp_flows_obj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = dns_slots,
};

PyObject *fp_flag_names(const fp_flag_group *groups, size_t n)
{
    PyObject *l = PyList_New(0);
    for (size_t g = 0; l && g < n; g++)
        for (int b = 0; l && b < groups[g].count; b++) {
            if (!(groups[g].bits & (1u << b))) continue;
            PyObject *name = PyUnicode_FromFormat("%s%s", groups[g].prefix, groups[g].names[b]);
            if (name == NULL || PyList_Append(l, name) < 0) Py_CLEAR(l);
            Py_XDECREF(name);
        }
    PyObject *t = l ? PyList_AsTuple(l) : NULL;
    Py_XDECREF(l);
    return t;
}

int fp_flows_register(PyObject *m, fp_state *st)
{
    PyObject *dflt = PyLong_FromUnsignedLongLong(DEFAULT_MAX_MEMORY);
    if (dflt == NULL || PyModule_AddObject(m, "DEFAULT_MAX_MEMORY", dflt) < 0) {
        Py_XDECREF(dflt);
        return -1;
    }
    if (fp_flow_record_register(m, st) < 0) return -1;
    st->Flows_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &flows_spec, NULL);
    if (st->Flows_Type == NULL) return -1;
    if (PyModule_AddType(m, st->Flows_Type) < 0) return -1;
    st->Streams_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &streams_spec, NULL);
    if (st->Streams_Type == NULL || PyModule_AddType(m, st->Streams_Type) < 0) return -1;
    st->ClientHellos_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &hellos_spec, NULL);
    if (st->ClientHellos_Type == NULL || PyModule_AddType(m, st->ClientHellos_Type) < 0) return -1;
    st->DnsTransactions_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &dns_spec, NULL);
    if (st->DnsTransactions_Type == NULL) return -1;
    return PyModule_AddType(m, st->DnsTransactions_Type);
}
