/* PacketList: packets read in bulk. Records from mmap'd files or memory buffers are
 * referenced in place (the Reader's mapping stays alive while the list does);
 * records from streams are copied into one blob. Packet objects are made only on
 * indexing; columns() dissects every record in C, with the GIL released, into
 * typed column buffers for pandas/Arrow: no per-row Python objects. */
#include "pyfp.h"
#include "../source/live.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <strings.h>

#include "../dissect/cursor.h"
#include "../dissect/tls.h"
#include "../filter/filter.h"
#include "../flow/ip_defrag.h"
#include "arrow.h"
#include "columns.h"

typedef struct {
    int64_t ts_ns;
    const uint8_t *data;
    uint32_t caplen, wirelen, linktype, interface_id;
    uint8_t has_ts;
    uint8_t opts_big_endian;
    uint8_t fcs_len;     /* the record's: dissected with FP_DISSECT_FCS */
    uint32_t opts_len;   /* pcapng options after the data (padded to 4) */
} pl_entry;

/* defragment=: what the reassembler made of a fragment, as a Reader's Packet gets it: the
 * datagram it completed (the reassembled frame and the fragments' frame numbers) or only
 * the anomalies it flagged, and whether it held it (display filters read a held fragment
 * as tshark shows it: link and IP headers, then data). Kept apart, by entry index, so that lists without fragments
 * pay nothing. */
typedef struct {
    Py_ssize_t index;
    uint64_t anomalies;
    uint32_t len;            /* 0: the fragment stays as captured */
    uint32_t nframes;
    uint32_t held;           /* a piece of a datagram not complete there: filters see no transport */
    const uint8_t *data;     /* into the reassembly blob (offsets while building) */
    const uint64_t *frames;
} pl_reasm;

typedef struct {
    PyObject_HEAD
    pl_entry *entries;
    Py_ssize_t n;
    PyObject *owner;  /* Reader (stable mapping) or a capsule owning the copied blob */
    int owner_is_reader;
    uint32_t linktype, snaplen;
    int nanosecond, big_endian;
    int has_file_header;
    uint8_t file_header[24]; /* pcap sources: the header as read, for exact rewrites */
    fp_format format;
    PyObject *ng_prefix;     /* pcapng sources: bytes of the blocks before the first packet, or NULL */
    fp_interface *ifs;       /* pcapng sources: the interface table (global ids) */
    uint32_t n_ifs;
    int facade;              /* packets are fastpkt.scapy's (from a Reader with facade set) */
    int dissect_flags;       /* its Reader's (FP_DISSECT_NO_TUNNELS with decapsulate=False) */
    pl_reasm *reasm;         /* defragment=: by ascending index */
    Py_ssize_t n_reasm;
    PyObject *reasm_owner;   /* capsule owning the frames they point to, shared with slices */
    uint64_t keep_from, keep_to; /* the file bytes whose pages this list keeps mapped (keep_bound) */
} fp_packetlist;

#define PL(o) ((fp_packetlist *)(o))

static void blob_free(PyObject *capsule) { PyMem_RawFree(PyCapsule_GetPointer(capsule, "fastpkt.blob")); }

static fp_packetlist *packetlist_alloc(fp_state *st, PyObject *owner, int owner_is_reader)
{
    fp_packetlist *pl = PyObject_GC_New(fp_packetlist, st->PacketList_Type);
    if (pl == NULL) return NULL;
    pl->entries = NULL;
    pl->n = 0;
    pl->owner = Py_XNewRef(owner);
    pl->owner_is_reader = owner_is_reader;
    pl->linktype = FP_LINKTYPE_ETHERNET;
    pl->snaplen = 262144;
    pl->nanosecond = 0;
    pl->big_endian = 0;
    pl->has_file_header = 0;
    pl->format = FP_FORMAT_PCAP;
    pl->ng_prefix = NULL;
    pl->ifs = NULL;
    pl->n_ifs = 0;
    pl->facade = 0;
    pl->dissect_flags = 0;
    pl->keep_from = pl->keep_to = 0;
    pl->reasm = NULL;
    pl->n_reasm = 0;
    pl->reasm_owner = NULL;
    if (owner_is_reader) ((fp_reader_obj *)owner)->exports++;
    PyObject_GC_Track(pl);
    return pl;
}

typedef struct {
    pl_entry *entries;
    size_t n, cap;
    size_t mapped; /* entries whose pages were mapped ahead (BUILDER_MAP_AHEAD) */
    uint8_t *blob; /* streams only: copies of the record bytes; data holds offsets until done */
    size_t blob_len, blob_cap;
    pl_reasm *reasm; /* defragment=: data and frames hold offsets into rblob until done */
    size_t n_reasm, cap_reasm;
    uint8_t *rblob;
    size_t rblob_len, rblob_cap;
    int oom;
} pl_builder;

/* Append n bytes at an offset aligned to 8 (frame numbers are uint64); the offset or -1. */
static int64_t rblob_add(pl_builder *b, const void *p, size_t n)
{
    size_t at = (b->rblob_len + 7u) & ~(size_t)7u;
    if (at + n > b->rblob_cap) {
        size_t cap = b->rblob_cap ? b->rblob_cap : 1 << 16;
        while (cap < at + n) cap *= 2;
        uint8_t *nb = PyMem_RawRealloc(b->rblob, cap);
        if (nb == NULL) return -1;
        b->rblob = nb;
        b->rblob_cap = cap;
    }
    memcpy(b->rblob + at, p, n);
    b->rblob_len = at + n;
    return (int64_t)at;
}

/* defragment=: the record just added goes through the Reader's reassembler, dissected as
 * its Packet would be (reader.c's deliver), and what it says is kept. -1 out of memory. */
static int builder_defrag(pl_builder *b, fp_reader_obj *r, const fp_record *rec)
{
    int rc = fp_reader_reassemble(r, rec, NULL);
    if (rc < 0) return -1;
    const fp_defrag_result res = r->pulled_res;
    int complete = rc == FP_DEFRAG_COMPLETE;
    if (rc == FP_DEFRAG_PASS && !res.anomalies) return 0;
    if (b->n_reasm == b->cap_reasm) {
        size_t cap = b->cap_reasm ? b->cap_reasm * 2 : 64;
        pl_reasm *grown = PyMem_RawRealloc(b->reasm, cap * sizeof *grown);
        if (grown == NULL) return -1;
        b->reasm = grown;
        b->cap_reasm = cap;
    }
    pl_reasm ra = {(Py_ssize_t)b->n - 1, res.anomalies, 0, 0, rc == FP_DEFRAG_HELD, NULL, NULL};
    if (complete) {
        int64_t data = rblob_add(b, res.data, res.len);
        int64_t frames = data < 0 ? -1 : rblob_add(b, res.frames, res.nframes * sizeof *res.frames);
        if (frames < 0) return -1;
        ra.len = res.len;
        ra.nframes = res.nframes;
        ra.data = (const uint8_t *)(uintptr_t)data;
        ra.frames = (const uint64_t *)(uintptr_t)frames;
    }
    b->reasm[b->n_reasm++] = ra;
    return 0;
}

/* The builder's reassembled frames become the list's (NULL owner: none). -1 out of memory. */
static int take_reasm(fp_packetlist *pl, pl_builder *b)
{
    if (b->n_reasm == 0) {
        PyMem_RawFree(b->reasm);
        PyMem_RawFree(b->rblob);
        return 0;
    }
    PyObject *owner = PyCapsule_New(b->rblob ? (void *)b->rblob : PyMem_RawMalloc(1), "fastpkt.blob", blob_free);
    if (owner == NULL) {
        PyMem_RawFree(b->reasm);
        PyMem_RawFree(b->rblob);
        return -1;
    }
    for (size_t i = 0; i < b->n_reasm; i++) {
        pl_reasm *ra = &b->reasm[i];
        if (ra->len == 0) continue;
        ra->data = b->rblob + (uintptr_t)ra->data;
        ra->frames = (const uint64_t *)(void *)(b->rblob + (uintptr_t)ra->frames);
    }
    pl->reasm = b->reasm;
    pl->n_reasm = (Py_ssize_t)b->n_reasm;
    pl->reasm_owner = owner;
    return 0;
}

/* What the reassembler said about entry i, or NULL. */
static const pl_reasm *find_reasm(const pl_reasm *reasm, Py_ssize_t n, Py_ssize_t i)
{
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (reasm[mid].index < i) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && reasm[lo].index == i ? &reasm[lo] : NULL;
}

/* The index's pages are mapped this many entries (256 KiB) ahead of the walk, one call each time,
 * instead of a fault every 4 KiB: at most this much of the index is resident and never used. */
#define BUILDER_MAP_AHEAD ((size_t)(256u << 10) / sizeof(pl_entry))

static int builder_add(pl_builder *b, const fp_record *rec, int copy)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        pl_entry *e = PyMem_RawRealloc(b->entries, cap * sizeof *e);
        if (e == NULL) return -1;
        b->entries = e;
        b->cap = cap;
    }
    if (b->n >= b->mapped) {
        size_t to = b->cap - b->n < BUILDER_MAP_AHEAD ? b->cap : b->n + BUILDER_MAP_AHEAD;
        fp_populate_write(b->entries + b->n, (to - b->n) * sizeof *b->entries);
        b->mapped = to;
    }
    pl_entry *e = &b->entries[b->n];
    e->ts_ns = rec->ts_ns;
    e->caplen = rec->caplen;
    e->wirelen = rec->wirelen;
    e->linktype = rec->linktype;
    e->interface_id = rec->interface_id;
    e->fcs_len = rec->fcs_len;
    e->has_ts = (uint8_t)rec->has_ts;
    e->opts_len = rec->opts_len;
    e->opts_big_endian = (uint8_t)rec->opts_big_endian;
    e->data = rec->data;
    if (copy) {
        /* data, then padding and options as in the block */
        size_t len = rec->opts_len ? ((rec->caplen + 3u) & ~3u) + (size_t)rec->opts_len : rec->caplen;
        if (b->blob_len + len > b->blob_cap) {
            size_t cap = b->blob_cap ? b->blob_cap : 1 << 20;
            while (cap < b->blob_len + len) cap *= 2;
            uint8_t *nb = PyMem_RawRealloc(b->blob, cap);
            if (nb == NULL) return -1;
            b->blob = nb;
            b->blob_cap = cap;
        }
        memcpy(b->blob + b->blob_len, rec->data, len);
        e->data = (const uint8_t *)(uintptr_t)b->blob_len; /* rebased when the blob is final */
        b->blob_len += len;
    }
    b->n++;
    return 0;
}

/* A pcapng source's interfaces and leading blocks, for pcapng rewrites. */
static int copy_pcapng_tables(fp_packetlist *pl, const fp_source *src)
{
    pl->format = FP_FORMAT_PCAPNG;
    uint32_t n = fp_source_interface_count(src);
    if (n) {
        pl->ifs = PyMem_RawMalloc(n * sizeof *pl->ifs);
        if (pl->ifs == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) pl->ifs[i] = *fp_source_interface(src, i);
        pl->n_ifs = n;
    }
    size_t len;
    uint32_t prefix_ifs;
    const uint8_t *prefix = fp_source_pcapng_prefix(src, &len, &prefix_ifs);
    if (prefix && prefix_ifs <= n) {
        pl->ng_prefix = PyBytes_FromStringAndSize((const char *)prefix, (Py_ssize_t)len);
        if (pl->ng_prefix == NULL) return -1;
    }
    return 0;
}

/* Records between two calls of read_all's progress callback (and checks for Ctrl+C). */
#define READ_PROGRESS_ROWS 65536

/* fp.read of a mapped pcap walks it on two threads when this much is left: the walk waits on
 * memory (each record's header is known only once the previous one is read) and its pages are
 * mapped by faults, a single thread's work that the export after it cannot overlap. */
#define SPLIT_READ_MIN (8u << 20)
/* The second half's pages go back to the kernel behind its walk this often (the source's own
 * 32 MiB). */
#define SPLIT_RELEASE_BYTES (32u << 20)

typedef struct {
    fp_source *fork;          /* the records from the cut on */
    const fp_source *mapping; /* the Reader's: the one that hands pages back */
    pl_builder b;
    uint64_t start, end;      /* the cut; where its last record ended (read for progress) */
    int stop, failed;         /* stop: asked to end early (Ctrl+C, an error in the first half) */
    pthread_t tid;
} split_walk;

static void *split_walk_run(void *arg)
{
    split_walk *w = arg;
    fp_record rec;
    const uint8_t *released = NULL, *last = NULL; /* the bytes walked since pages last went back */
    uint64_t end = w->start;
    while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED) && fp_source_next(w->fork, &rec, NULL) == 1) {
        if (builder_add(&w->b, &rec, 0) < 0) {
            w->failed = 1;
            break;
        }
        end = fp_source_position(w->fork);
        if (released == NULL) released = rec.data;
        last = rec.data + rec.caplen;
        if ((w->b.n & 1023) == 0) {
            __atomic_store_n(&w->end, end, __ATOMIC_RELAXED);
            /* the file shrank under the mapping: what follows reads as zeros, records of 16
             * bytes each (the Reader's source, read on from the cut, reports it) */
            if (fp_source_lost(w->mapping)) break;
        }
        if ((size_t)(last - released) >= SPLIT_RELEASE_BYTES) {
            fp_source_release_pages(w->mapping, released, last);
            released = last;
        }
    }
    if (released) fp_source_release_pages(w->mapping, released, last);
    __atomic_store_n(&w->end, end, __ATOMIC_RELAXED);
    return NULL;
}

/* The second thread of a read of everything left in r, or NULL (nothing to split, no thread). */
static split_walk *split_start(fp_reader_obj *r, uint64_t limit)
{
    if (limit != UINT64_MAX || !r->src || !fp_source_stable_data(r->src) || r->defrag_policy >= 0 || r->bpf ||
        r->dfilter || r->has_limit || r->deadline_ns || sysconf(_SC_NPROCESSORS_ONLN) < 2 ||
        fp_source_size(r->src) - fp_source_position(r->src) < SPLIT_READ_MIN)
        return NULL;
    split_walk *w = PyMem_RawCalloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->mapping = r->src;
    if ((w->fork = fp_source_fork(r->src, NULL)) == NULL) {
        PyMem_RawFree(w);
        return NULL;
    }
    w->start = w->end = fp_source_position(w->fork);
    if (pthread_create(&w->tid, NULL, split_walk_run, w) != 0) {
        fp_source_rejoin(r->src, 0, 0); /* r reads on alone */
        fp_source_close(w->fork);
        PyMem_RawFree(w);
        return NULL;
    }
    return w;
}

/* Bytes of the second half read so far (progress). */
static uint64_t split_done(const split_walk *w) { return __atomic_load_n(&w->end, __ATOMIC_RELAXED) - w->start; }

/* Wait for the second thread; when r's walk ended exactly at the cut (proving it), its records
 * follow b's and r reads on after them, else they are dropped and r reads on from where it is
 * (both: the sequential read's records and errors). The number of records added. */
static uint64_t split_finish(split_walk *w, fp_reader_obj *r, pl_builder *b)
{
    pthread_join(w->tid, NULL);
    uint64_t n = w->b.n;
    int keep = !w->failed && !fp_source_lost(r->src);
    if (keep && b->n + n > b->cap) {
        pl_entry *e = PyMem_RawRealloc(b->entries, (b->n + n) * sizeof *e);
        if (e == NULL) keep = 0;
        else {
            b->entries = e;
            b->cap = b->n + n;
        }
    }
    if (!keep) n = 0;
    if (fp_source_rejoin(r->src, n ? w->end : w->start, n) != 1) n = 0;
    if (n) {
        fp_populate_write(b->entries + b->n, n * sizeof *b->entries);
        memcpy(b->entries + b->n, w->b.entries, n * sizeof *b->entries);
        b->n += n;
        r->frames += n;
        r->delivered += n;
    }
    fp_source_close(w->fork);
    PyMem_RawFree(w->b.entries);
    PyMem_RawFree(w);
    return n;
}

/* Abandon the second thread (an error, Ctrl+C or the progress callback raising in the first
 * half): r reads on from where it stopped, to the end, when read again. */
static void split_cancel(split_walk *w, fp_reader_obj *r)
{
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
    pthread_join(w->tid, NULL);
    fp_source_rejoin(r->src, w->start, 0);
    fp_source_close(w->fork);
    PyMem_RawFree(w->b.entries);
    PyMem_RawFree(w);
}


/* A list read from a file mapping keeps the pages of its records mapped when they span at
 * most this much: the index pass would otherwise give them back behind itself and the export
 * (to_arrow, to_pandas, columns) map the file a second time, about as much CPU again as
 * dissecting it. Page cache, reclaimable, but counted in RSS: a quarter of physical memory,
 * at most 1 GiB; larger lists give pages back as they go (mapped_bytes 0).
 * FASTPKT_KEEP_MAPPED_MAX (bytes, read at each list's creation) lowers it, so tests reach
 * the path above it with small files. */
#define KEEP_MAPPED_MAX (1ull << 30)
static uint64_t keep_bound(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t quarter = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 4 : 0;
    uint64_t bound = quarter < KEEP_MAPPED_MAX ? quarter : KEEP_MAPPED_MAX;
    const char *env = getenv("FASTPKT_KEEP_MAPPED_MAX");
    char *end;
    if (env != NULL && *env >= '0' && *env <= '9') {
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == 0 && v < bound) bound = v;
    }
    return bound;
}

static PyObject *packetlist_from_claimed(PyObject *reader, uint64_t limit, PyObject *progress)
{
    fp_reader_obj *r = (fp_reader_obj *)reader;
    fp_state *st = fp_state_from_type(Py_TYPE(reader));
    if (st == NULL) return NULL;
    int stable = r->src && fp_source_stable_data(r->src);
    pl_builder b = {0};
    fp_record rec;
    fp_error err;
    char errbuf[512];
    int rc = FP_PULL_END, interrupted = 0;
    uint64_t got = 0;
    int has_progress = progress != NULL && progress != Py_None;
    uint64_t keep_from = stable ? fp_source_position(r->src) : 0, keep_to = 0;
    if (stable && fp_source_size(r->src) - keep_from <= keep_bound()) /* before the walk gives any back */
        keep_to = fp_source_keep(r->src, keep_from, fp_source_size(r->src)) ? fp_source_size(r->src) : 0;
    split_walk *split = split_start(r, limit);
    for (;;) { /* a quiet live capture comes back every read timeout, a progress callback every
                * READ_PROGRESS_ROWS records: signals and the callback, then on */
        uint64_t stop = has_progress && limit - got > READ_PROGRESS_ROWS ? got + READ_PROGRESS_ROWS : limit;
        Py_BEGIN_ALLOW_THREADS
        for (; got < stop; got++) {
            rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf);
            if (rc != FP_PULL_RECORD) break;
            if (builder_add(&b, &rec, !stable) < 0 || (r->defrag_policy >= 0 && builder_defrag(&b, r, &rec) < 0)) {
                b.oom = 1;
                break;
            }
        }
        if (split && rc == FP_PULL_END && !b.oom) { /* the first half read: the second's records, then on */
            got += split_finish(split, r, &b);
            split = NULL;
            rc = FP_PULL_RECORD;
        }
        Py_END_ALLOW_THREADS
        if (b.oom) break;
        if (has_progress && r->src) {
            uint64_t pos = fp_source_position(r->src) + (split ? split_done(split) : 0);
            PyObject *res = PyObject_CallFunction(progress, "KK", (unsigned long long)pos,
                                                  (unsigned long long)fp_source_size(r->src));
            Py_XDECREF(res);
            if (res == NULL) {
                interrupted = 1;
                break;
            }
        }
        if (rc != FP_PULL_IDLE && (rc != FP_PULL_RECORD || got == limit)) break;
        if (PyErr_CheckSignals() < 0) {
            interrupted = 1;
            break;
        }
    }
    if (split) split_cancel(split, r);
    if (keep_to) { /* what the list holds: up to where the walk stopped */
        keep_to = fp_source_position(r->src);
        if (fp_source_keep(r->src, keep_from, keep_to) == 0) keep_to = 0;
    }
    PyObject *owner = reader;
    if (!stable) {
        owner = PyCapsule_New(b.blob ? (void *)b.blob : PyMem_RawMalloc(1), "fastpkt.blob", blob_free);
        if (owner == NULL) {
            PyMem_RawFree(b.blob);
            PyMem_RawFree(b.entries);
            PyMem_RawFree(b.reasm);
            PyMem_RawFree(b.rblob);
            return NULL;
        }
        for (size_t i = 0; i < b.n; i++) b.entries[i].data = b.blob + (uintptr_t)b.entries[i].data;
    }
    fp_packetlist *pl = packetlist_alloc(st, owner, stable);
    if (!stable) Py_DECREF(owner);
    if (pl == NULL) {
        PyMem_RawFree(b.entries);
        PyMem_RawFree(b.reasm);
        PyMem_RawFree(b.rblob);
        return NULL;
    }
    pl->entries = b.entries;
    pl->n = (Py_ssize_t)b.n;
    if (take_reasm(pl, &b) < 0) {
        Py_DECREF(pl);
        return NULL;
    }
    pl->facade = r->facade;
    pl->dissect_flags = r->dissect_flags;
    if (keep_to) {
        pl->keep_from = keep_from;
        pl->keep_to = keep_to;
    }
    if (r->src) {
        pl->linktype = fp_source_linktype(r->src);
        pl->snaplen = fp_source_snaplen(r->src);
        pl->nanosecond = fp_source_nanosecond(r->src);
        /* "swapped" is relative to this host */
        pl->big_endian = fp_source_byte_swapped(r->src) ^ (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
        const uint8_t *hdr = fp_source_format(r->src) == FP_FORMAT_PCAP ? fp_source_pcap_header(r->src) : NULL;
        if (hdr) {
            memcpy(pl->file_header, hdr, sizeof pl->file_header);
            pl->has_file_header = 1;
        }
        if (fp_source_format(r->src) == FP_FORMAT_PCAPNG && copy_pcapng_tables(pl, r->src) < 0) {
            Py_DECREF(pl);
            return NULL;
        }
    }
    if (b.oom) {
        Py_DECREF(pl);
        return PyErr_NoMemory();
    }
    if (interrupted || (rc != FP_PULL_RECORD && fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0)) {
        /* Deliver what came before the fault: the partial list rides on the exception. */
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (v && PyObject_SetAttrString(v, "packets", (PyObject *)pl) < 0) PyErr_Clear();
        Py_DECREF(pl);
        PyErr_Restore(t, v, tb);
        return NULL;
    }
    return (PyObject *)pl;
}

PyObject *fp_packetlist_from_reader(PyObject *reader, uint64_t limit, PyObject *progress)
{
    if (fp_readers_claim(&reader, 1) < 0) return NULL;
    PyObject *pl = packetlist_from_claimed(reader, limit, progress);
    fp_readers_release(&reader, 1);
    return pl;
}

static int packetlist_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(PL(self)->owner);
    return 0;
}

static void release_owner(fp_packetlist *pl)
{
    Py_CLEAR(pl->ng_prefix);
    PyObject *owner = pl->owner;
    if (owner == NULL) return;
    fp_reader_obj *r = pl->owner_is_reader ? (fp_reader_obj *)owner : NULL;
    if (r && pl->keep_to && r->src) fp_source_unkeep(r->src, pl->keep_from, pl->keep_to);
    pl->keep_from = pl->keep_to = 0;
    if (r) fp_reader_unexport(r);
    pl->owner = NULL;
    Py_DECREF(owner);
}

static int packetlist_clear(PyObject *self)
{
    release_owner(PL(self));
    return 0;
}

static void packetlist_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    release_owner(PL(self));
    PyMem_RawFree(PL(self)->entries);
    PyMem_RawFree(PL(self)->ifs);
    PyMem_RawFree(PL(self)->reasm);
    Py_CLEAR(PL(self)->reasm_owner);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static Py_ssize_t packetlist_len(PyObject *self) { return PL(self)->n; }

Py_ssize_t fp_packetlist_size(PyObject *pl) { return PL(pl)->n; }

void fp_packetlist_record(PyObject *pl, Py_ssize_t i, fp_record *rec)
{
    const pl_entry *e = &PL(pl)->entries[i];
    *rec = (fp_record){.ts_ns = e->ts_ns, .caplen = e->caplen, .wirelen = e->wirelen,
                       .linktype = e->linktype, .interface_id = e->interface_id, .has_ts = e->has_ts,
                       .fcs_len = e->fcs_len,
                       .data = e->data, .opts_len = e->opts_len, .opts_big_endian = e->opts_big_endian};
}

static PyObject *entry_packet(fp_state *st, fp_packetlist *pl, const pl_entry *e)
{
    const pl_reasm *ra = pl->reasm ? find_reasm(pl->reasm, pl->n_reasm, e - pl->entries) : NULL;
    if (ra && ra->len) {
        fp_record rec;
        fp_packetlist_record((PyObject *)pl, e - pl->entries, &rec);
        return (PyObject *)fp_packet_reassembled(st, &rec, ra->data, ra->len, ra->anomalies, ra->frames,
                                                 ra->nframes, pl->facade, pl->dissect_flags);
    }
    FpPacket *p = fp_packet_view(st, pl->owner, pl->owner_is_reader, e->data, e->caplen, e->wirelen,
                                 e->linktype, e->ts_ns, pl->facade, pl->dissect_flags | FP_DISSECT_FCS(e->fcs_len));
    if (p == NULL) return NULL;
    p->interface_id = e->interface_id;
    p->has_ts = e->has_ts;
    p->opts_len = e->opts_len;
    p->opts_big_endian = e->opts_big_endian;
    if (ra) p->d.anomalies |= ra->anomalies;
    return (PyObject *)p;
}

static PyObject *packetlist_item(PyObject *self, Py_ssize_t i)
{
    fp_packetlist *pl = PL(self);
    if (i < 0 || i >= pl->n) {
        PyErr_SetString(PyExc_IndexError, "PacketList index out of range");
        return NULL;
    }
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    return st ? entry_packet(st, pl, &pl->entries[i]) : NULL;
}

/* A slice's share of the reassembled frames: the same blob, indices renumbered. */
static int slice_reasm(fp_packetlist *out, const fp_packetlist *pl, Py_ssize_t start, Py_ssize_t step, Py_ssize_t len)
{
    Py_ssize_t m = 0;
    for (Py_ssize_t k = 0; k < pl->n_reasm; k++) {
        Py_ssize_t d = pl->reasm[k].index - start;
        m += d % step == 0 && d / step >= 0 && d / step < len;
    }
    if (m == 0) return 0;
    out->reasm = PyMem_RawMalloc((size_t)m * sizeof *out->reasm);
    if (out->reasm == NULL) return -1;
    for (Py_ssize_t k = 0; k < pl->n_reasm; k++) {
        Py_ssize_t d = pl->reasm[k].index - start;
        if (d % step != 0 || d / step < 0 || d / step >= len) continue;
        out->reasm[out->n_reasm] = pl->reasm[k];
        out->reasm[out->n_reasm++].index = d / step;
    }
    if (step < 0) /* indices were met in descending order */
        for (Py_ssize_t a = 0, z = m - 1; a < z; a++, z--) {
            pl_reasm t = out->reasm[a];
            out->reasm[a] = out->reasm[z];
            out->reasm[z] = t;
        }
    out->reasm_owner = Py_NewRef(pl->reasm_owner);
    return 0;
}

static PyObject *packetlist_subscript(PyObject *self, PyObject *key)
{
    fp_packetlist *pl = PL(self);
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return NULL;
        if (i < 0) i += pl->n;
        return packetlist_item(self, i);
    }
    if (!PySlice_Check(key)) {
        PyErr_Format(PyExc_TypeError, "PacketList indices must be integers or slices, not %.100s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key, &start, &stop, &step) < 0) return NULL;
    Py_ssize_t len = PySlice_AdjustIndices(pl->n, &start, &stop, step);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    fp_packetlist *out = packetlist_alloc(st, pl->owner, pl->owner_is_reader);
    if (out == NULL) return NULL;
    out->linktype = pl->linktype;
    out->snaplen = pl->snaplen;
    out->nanosecond = pl->nanosecond;
    out->big_endian = pl->big_endian;
    out->has_file_header = pl->has_file_header;
    memcpy(out->file_header, pl->file_header, sizeof out->file_header);
    out->format = pl->format;
    out->facade = pl->facade;
    out->dissect_flags = pl->dissect_flags;
    out->ng_prefix = Py_XNewRef(pl->ng_prefix);
    if (pl->n_ifs) {
        out->ifs = PyMem_RawMalloc(pl->n_ifs * sizeof *out->ifs);
        if (out->ifs == NULL) {
            Py_DECREF(out);
            return PyErr_NoMemory();
        }
        memcpy(out->ifs, pl->ifs, pl->n_ifs * sizeof *out->ifs);
        out->n_ifs = pl->n_ifs;
    }
    if (len > 0) {
        out->entries = PyMem_RawMalloc((size_t)len * sizeof(pl_entry));
        if (out->entries == NULL) {
            Py_DECREF(out);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0, j = start; i < len; i++, j += step) out->entries[i] = pl->entries[j];
    }
    out->n = len;
    if (pl->reasm && len > 0 && slice_reasm(out, pl, start, step, len) < 0) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    return (PyObject *)out;
}

/* One byte per packet, 1 where the display filter passes it: dissected and tested in C with
 * the GIL released. frame.number is the packet's position in the list, from 1. */
static PyObject *packetlist_filter_mask(PyObject *self, PyObject *arg)
{
    fp_packetlist *pl = (fp_packetlist *)self;
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *df = fp_display_filter_from(st, arg);
    if (df == NULL) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, pl->n);
    if (out != NULL) {
        uint8_t *mask = (uint8_t *)PyBytes_AS_STRING(out);
        const struct fp_filter *f = ((FpDisplayFilter *)df)->filter;
        Py_BEGIN_ALLOW_THREADS
        fp_dissection d;
        for (Py_ssize_t i = 0; i < pl->n; i++) {
            const pl_entry *e = &pl->entries[i];
            const pl_reasm *ra = pl->reasm ? find_reasm(pl->reasm, pl->n_reasm, i) : NULL;
            if (ra && ra->len) { /* the reassembled datagram, as its Packet's field() reads it */
                fp_dissect_datagram(ra->data, ra->len, e->linktype, pl->dissect_flags, &d);
                d.anomalies |= ra->anomalies;
                fp_field_ctx x;
                fp_field_ctx_init(&x, ra->data, ra->len, e->wirelen, e->ts_ns, e->has_ts, &d);
                x.frame_caplen = e->caplen;
                x.number = (uint64_t)i + 1;
                mask[i] = (uint8_t)fp_filter_match(f, &x);
                continue;
            }
            if (ra && ra->held) { /* link and IP headers, then data, as tshark shows it */
                fp_dissect_ex(e->data, e->caplen, e->wirelen, e->linktype,
                              pl->dissect_flags | FP_DISSECT_FCS(e->fcs_len) | FP_DISSECT_HEADERS, &d);
                fp_defrag_hide_upper(&d);
                d.anomalies |= ra->anomalies;
                fp_field_ctx x;
                fp_field_ctx_init(&x, e->data, e->caplen, e->wirelen, e->ts_ns, e->has_ts, &d);
                x.number = (uint64_t)i + 1;
                mask[i] = (uint8_t)fp_filter_match(f, &x);
                continue;
            }
            mask[i] = (uint8_t)fp_filter_match_record(f, e->data, e->caplen, e->wirelen, e->linktype,
                                                      e->ts_ns, e->has_ts, (uint64_t)i + 1, 0,
                                                      pl->dissect_flags | FP_DISSECT_FCS(e->fcs_len), &d);
        }
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(df);
    return out;
}

static PyObject *packetlist_summary(PyObject *self, PyObject *unused)
{
    (void)unused;
    fp_packetlist *pl = PL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *lines = PyList_New(pl->n);
    if (lines == NULL) return NULL;
    for (Py_ssize_t i = 0; i < pl->n; i++) {
        PyObject *p = entry_packet(st, pl, &pl->entries[i]);
        PyObject *s = p ? PyObject_CallMethod(p, "summary", NULL) : NULL;
        Py_XDECREF(p);
        if (s == NULL) {
            Py_DECREF(lines);
            return NULL;
        }
        PyList_SET_ITEM(lines, i, s);
    }
    return fp_join_str(lines, "\n");
}

static PyObject *packetlist_repr(PyObject *self)
{
    fp_packetlist *pl = PL(self);
    Py_ssize_t tcp = 0, udp = 0, icmp = 0, other = 0;
    fp_dissection d;
    for (Py_ssize_t i = 0; i < pl->n; i++) {
        const pl_entry *e = &pl->entries[i];
        fp_dissect_ex(e->data, e->caplen, e->wirelen, e->linktype, pl->dissect_flags | FP_DISSECT_FCS(e->fcs_len), &d);
        if (FP_HAS(&d, FP_L_TCP)) tcp++;
        else if (FP_HAS(&d, FP_L_UDP)) udp++;
        else if (FP_HAS(&d, FP_L_ICMP) || FP_HAS(&d, FP_L_ICMP6)) icmp++;
        else other++;
    }
    return PyUnicode_FromFormat("<PacketList: %zd packets TCP:%zd UDP:%zd ICMP:%zd Other:%zd>", pl->n,
                                tcp, udp, icmp, other);
}

/* ---- columns(): typed column buffers built in C ------------------------- */


enum {
    C_TIME, C_CAPLEN, C_WIRELEN, C_LINKTYPE, C_INTERFACE, C_IPVER, C_PROTO, C_TTL, C_SPORT,
    C_DPORT, C_TCPFLAGS, C_SEQ, C_ACK, C_PAYLEN, C_VLAN, NUM_COLS
};
enum { K_SRC, K_DST, K_ETH_SRC, K_ETH_DST, K_QNAME, K_SNI, K_HOST, K_ANOM, NUM_CATS };

static const struct {
    const char *name, *dtype, *format; /* format: the Arrow type of the dtype */
    int width, masked;
} num_cols[NUM_COLS] = {
    [C_TIME] = {"time", "datetime64[ns]", "tsn:UTC", 8, 0}, [C_CAPLEN] = {"caplen", "<u4", "I", 4, 0},
    [C_WIRELEN] = {"wirelen", "<u4", "I", 4, 0},         [C_LINKTYPE] = {"linktype", "<u4", "I", 4, 0},
    [C_INTERFACE] = {"interface", "<u4", "I", 4, 0},     [C_IPVER] = {"ip_version", "<u1", "C", 1, 0},
    [C_PROTO] = {"proto", "masked<u1", "C", 1, 1},       [C_TTL] = {"ttl", "masked<u1", "C", 1, 1},
    [C_SPORT] = {"sport", "masked<u2", "S", 2, 1},       [C_DPORT] = {"dport", "masked<u2", "S", 2, 1},
    [C_TCPFLAGS] = {"tcp_flags", "masked<u2", "S", 2, 1}, [C_SEQ] = {"tcp_seq", "masked<u4", "I", 4, 1},
    [C_ACK] = {"tcp_ack", "masked<u4", "I", 4, 1},       [C_PAYLEN] = {"payload_len", "<u4", "I", 4, 0},
    [C_VLAN] = {"vlan", "masked<u2", "S", 2, 1},
};
static const struct {
    const char *name;
    fp_cat_kind kind;
} cat_cols[NUM_CATS] = {
    [K_SRC] = {"src", FP_CAT_IP},        [K_DST] = {"dst", FP_CAT_IP},       [K_ETH_SRC] = {"eth_src", FP_CAT_MAC},
    [K_ETH_DST] = {"eth_dst", FP_CAT_MAC}, [K_QNAME] = {"dns_qname", FP_CAT_TEXT}, [K_SNI] = {"tls_sni", FP_CAT_TEXT},
    [K_HOST] = {"http_host", FP_CAT_TEXT}, [K_ANOM] = {"anomalies", FP_CAT_ANOMALY},
};

typedef struct {
    uint8_t *val[NUM_COLS];
    uint8_t *mask[NUM_COLS]; /* pandas: one byte per row, 1 = missing */
    uint8_t *bits[NUM_COLS]; /* Arrow: a zeroed validity bitmap, 1 = present (instead of mask) */
    int32_t *codes[NUM_CATS];
    uint8_t *valid[NUM_CATS]; /* Arrow: the codes' zeroed validity bitmaps, set as codes are stored */
    fp_interner cats[NUM_CATS];
    int dissect_flags;       /* the packets' fp_dissect_ex flags */
    const pl_entry *entries; /* the list's (defragment=: entry indices for reasm), or NULL */
    const pl_reasm *reasm;
    Py_ssize_t n_reasm;
} col_set;

static inline void put_num(col_set *c, int col, Py_ssize_t i, uint64_t v, int present)
{
    int w = num_cols[col].width;
    uint8_t *dst = c->val[col] + (size_t)i * (size_t)w;
    if (w == 1) *dst = (uint8_t)v;
    else if (w == 2) { uint16_t x = (uint16_t)v; memcpy(dst, &x, 2); }
    else if (w == 4) { uint32_t x = (uint32_t)v; memcpy(dst, &x, 4); }
    else memcpy(dst, &v, 8);
    if (!num_cols[col].masked) return;
    if (c->bits[col]) c->bits[col][i >> 3] |= (uint8_t)(present << (i & 7));
    else c->mask[col][i] = (uint8_t)!present;
}

static inline void set_code(col_set *c, int k, Py_ssize_t i, int32_t code)
{
    c->codes[k][i] = code;
    if (c->valid[k]) c->valid[k][i >> 3] |= (uint8_t)((code >= 0) << (i & 7));
}

static inline void put_cat(col_set *c, int k, Py_ssize_t i, const void *key, size_t n)
{
    set_code(c, k, i, key ? fp_intern_bytes(&c->cats[k], key, n) : -1);
}

static inline uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The innermost IP header's columns (fp_innermost_ip: the outer one of a tunnel carrying no IP). */
static void fill_ip(col_set *c, Py_ssize_t i, const uint8_t *data, const fp_dissection *d)
{
    uint8_t proto;
    int ip = fp_innermost_ip(d, &proto);
    /* an IPv4 header cut before its 20 bytes has a version and no layer */
    put_num(c, C_IPVER, i, ip == FP_L_IP4 ? 4 : ip == FP_L_IP6 ? 6 : d->ip_version, 1);
    put_num(c, C_PROTO, i, proto, ip != FP_L_COUNT || d->ip_version != 0);
    if (ip == FP_L_IP4) {
        const uint8_t *h = data + d->layer[FP_L_IP4].off;
        set_code(c, K_SRC, i, fp_intern_fixed(&c->cats[K_SRC], load_u32(h + 12), 0, 4));
        set_code(c, K_DST, i, fp_intern_fixed(&c->cats[K_DST], load_u32(h + 16), 0, 4));
        put_num(c, C_TTL, i, h[8], 1);
    } else if (ip == FP_L_IP6) {
        const uint8_t *h = data + d->layer[FP_L_IP6].off;
        set_code(c, K_SRC, i, fp_intern_fixed(&c->cats[K_SRC], load_u64(h + 8), load_u64(h + 16), 16));
        set_code(c, K_DST, i, fp_intern_fixed(&c->cats[K_DST], load_u64(h + 24), load_u64(h + 32), 16));
        put_num(c, C_TTL, i, h[7], 1);
    } else {
        set_code(c, K_SRC, i, -1);
        set_code(c, K_DST, i, -1);
        put_num(c, C_TTL, i, 0, 0);
    }
}

/* The six bytes as memcpy into a zeroed word would lay them out, from two whole loads: a 6-byte
 * memcpy into the word is two narrow stores read back wide, which stalls store forwarding
 * (half of fill_row's time). */
static inline uint64_t load_mac(const uint8_t *p)
{
    uint16_t tail;
    memcpy(&tail, p + 4, 2);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint64_t)load_u32(p) | (uint64_t)tail << 32;
#else
    return (uint64_t)load_u32(p) << 32 | (uint64_t)tail << 16;
#endif
}

static void fill_app(col_set *c, Py_ssize_t i, const uint8_t *data, const fp_dissection *d)
{
    fp_app_keys k;
    fp_app_keys_get(&k, data, d);
    put_cat(c, K_QNAME, i, k.qname, k.qlen);
    put_cat(c, K_SNI, i, k.sni, k.slen);
    put_cat(c, K_HOST, i, k.host, k.hlen);
}

/* Row i: the record's columns, read from the reassembled frame (rlen bytes) when the record
 * completed a datagram; `anomalies` the reassembler's. */
static void fill_row_from(col_set *c, Py_ssize_t i, const pl_entry *e, const uint8_t *rdata, uint32_t rlen,
                          uint64_t anomalies)
{
    fp_dissection d;
    const uint8_t *data = e->data;
    if (rdata) {
        data = rdata;
        fp_dissect_datagram(data, rlen, e->linktype, c->dissect_flags, &d);
    } else {
        fp_dissect_ex(data, e->caplen, e->wirelen, e->linktype, c->dissect_flags | FP_DISSECT_FCS(e->fcs_len), &d);
    }
    d.anomalies |= anomalies;
    put_num(c, C_TIME, i, (uint64_t)e->ts_ns, 1);
    put_num(c, C_CAPLEN, i, e->caplen, 1);
    put_num(c, C_WIRELEN, i, e->wirelen, 1);
    put_num(c, C_LINKTYPE, i, e->linktype, 1);
    put_num(c, C_INTERFACE, i, e->interface_id, 1);
    fill_ip(c, i, data, &d);
    uint16_t sport = d.sport, dport = d.dport;
    int ports = FP_HAS(&d, FP_L_TCP) || FP_HAS(&d, FP_L_UDP) || fp_tunnel_udp_ports(data, &d, &sport, &dport);
    put_num(c, C_SPORT, i, sport, ports);
    put_num(c, C_DPORT, i, dport, ports);
    if (FP_HAS(&d, FP_L_TCP)) {
        const uint8_t *t = data + d.layer[FP_L_TCP].off;
        put_num(c, C_TCPFLAGS, i, (uint64_t)(((t[12] & 1) << 8) | t[13]), 1);
        put_num(c, C_SEQ, i, fp_load_be32(t + 4), 1);
        put_num(c, C_ACK, i, fp_load_be32(t + 8), 1);
    } else {
        put_num(c, C_TCPFLAGS, i, 0, 0);
        put_num(c, C_SEQ, i, 0, 0);
        put_num(c, C_ACK, i, 0, 0);
    }
    put_num(c, C_PAYLEN, i, d.payload_len, 1);
    int has_vlan = FP_HAS(&d, FP_L_VLAN) && d.vlan_count > 0;
    put_num(c, C_VLAN, i, has_vlan ? (d.vlan[0].tci & 0x0fff) : 0, has_vlan);
    if (FP_HAS(&d, FP_L_ETH)) {
        const uint8_t *h = data + d.layer[FP_L_ETH].off;
        set_code(c, K_ETH_SRC, i, fp_intern_fixed(&c->cats[K_ETH_SRC], load_mac(h + 6), 0, 6));
        set_code(c, K_ETH_DST, i, fp_intern_fixed(&c->cats[K_ETH_DST], load_mac(h), 0, 6));
    } else {
        set_code(c, K_ETH_SRC, i, -1);
        set_code(c, K_ETH_DST, i, -1);
    }
    fill_app(c, i, data, &d);
    set_code(c, K_ANOM, i, fp_intern_fixed(&c->cats[K_ANOM], d.anomalies, 0, 8));
}

static void fill_row(col_set *c, Py_ssize_t i, const pl_entry *e)
{
    const pl_reasm *ra = c->reasm ? find_reasm(c->reasm, c->n_reasm, e - c->entries) : NULL;
    if (ra == NULL) fill_row_from(c, i, e, NULL, 0, 0);
    else fill_row_from(c, i, e, ra->len ? ra->data : NULL, ra->len, ra->anomalies);
}

/* Rows are independent: split them over a few threads, each with its own interners,
 * then fold the extra interners into the first and renumber their rows' codes. */
#define COLUMNS_MAX_THREADS 4
#define COLUMNS_ROWS_PER_THREAD 8192
/* Rows built between two releases of their records' pages (a few MiB of a mapped file). */
#define COLUMNS_RELEASE_ROWS 8192
/* A listed record's bytes are asked for this many rows before they are dissected. */
#define FILL_PREFETCH_ROWS 8

typedef struct {
    col_set set;
    const pl_entry *entries;
    Py_ssize_t lo, hi;
    const fp_source *mapping; /* the file mapping the records live in, or NULL */
} col_job;

/* Rows lo..hi; every COLUMNS_RELEASE_ROWS rows the pages of the records done go back to the
 * kernel, so a table of a mapped file does not keep the file resident (they are re-read on
 * the next access; another thread reading a shared page just faults it in again). */
static void fill_range(col_set *c, const pl_entry *entries, Py_ssize_t lo, Py_ssize_t hi, const fp_source *mapping)
{
    Py_ssize_t done = lo;
    for (Py_ssize_t i = lo; i < hi; i++) {
        if (mapping && i == done) {
            const pl_entry *last = &entries[hi - done > COLUMNS_RELEASE_ROWS ? done + COLUMNS_RELEASE_ROWS - 1 : hi - 1];
            fp_source_map_pages(mapping, entries[done].data, last->data + last->caplen);
        }
        if (i + FILL_PREFETCH_ROWS < hi) { /* the headers dissect reads: their lines are cold */
            __builtin_prefetch(entries[i + FILL_PREFETCH_ROWS].data);
            __builtin_prefetch(entries[i + FILL_PREFETCH_ROWS].data + 64);
        }
        fill_row(c, i, &entries[i]);
        if (mapping && (i + 1 - done == COLUMNS_RELEASE_ROWS || i + 1 == hi)) {
            fp_source_release_pages(mapping, entries[done].data, entries[i].data + entries[i].caplen);
            done = i + 1;
        }
    }
}

static void *fill_job(void *arg)
{
    col_job *j = arg;
    fill_range(&j->set, j->entries, j->lo, j->hi, j->mapping);
    return NULL;
}

/* Category k's keys from another filler's interner into into's: old code -> new code (NULL when
 * out of memory). */
static int32_t *merge_interner(col_set *into, int k, const fp_interner *from)
{
    if (from->oom) return NULL;
    int32_t *remap = PyMem_RawMalloc(((size_t)from->count + 1) * sizeof *remap);
    if (remap == NULL) return NULL;
    for (uint32_t c = 0; c < from->count; c++)
        remap[c] = cat_cols[k].kind == FP_CAT_TEXT
                       ? fp_intern_bytes(&into->cats[k], fp_interner_key(from, c), from->keys[c].len)
                       : fp_intern_fixed(&into->cats[k], from->keys[c].k0, from->keys[c].k1, from->keys[c].len);
    return remap;
}

static void renumber(int32_t *codes, const int32_t *remap, Py_ssize_t lo, Py_ssize_t hi)
{
    for (Py_ssize_t i = lo; i < hi; i++)
        if (codes[i] >= 0) codes[i] = remap[codes[i]];
}

static int merge_job(col_set *into, col_job *j)
{
    for (int k = 0; k < NUM_CATS; k++) {
        int32_t *remap = merge_interner(into, k, &j->set.cats[k]);
        if (remap == NULL) return -1;
        renumber(into->codes[k], remap, j->lo, j->hi);
        PyMem_RawFree(remap);
        fp_interner_free(&j->set.cats[k]);
    }
    return 0;
}

static int fill_rows_parallel(col_set *c, const pl_entry *entries, Py_ssize_t n, const fp_source *mapping,
                              int max_threads)
{
    int nt = (int)(n / COLUMNS_ROWS_PER_THREAD);
    if (nt > COLUMNS_MAX_THREADS) nt = COLUMNS_MAX_THREADS;
    if (nt > max_threads) nt = max_threads;
    if (nt < 2) {
        fill_range(c, entries, 0, n, mapping);
        return 0;
    }
    col_job jobs[COLUMNS_MAX_THREADS];
    pthread_t tids[COLUMNS_MAX_THREADS];
    int started[COLUMNS_MAX_THREADS] = {0};
    for (int t = 0; t < nt; t++) {
        jobs[t].set = *c; /* shared column buffers; job 0 goes on with c's interners, the others start empty */
        if (t) memset(jobs[t].set.cats, 0, sizeof jobs[t].set.cats);
        jobs[t].mapping = mapping;
        jobs[t].entries = entries;
        /* split on whole bytes of the validity bitmaps (threads set bits with |=) */
        jobs[t].lo = t ? (n * t / nt) & ~(Py_ssize_t)63 : 0;
        jobs[t].hi = t + 1 < nt ? (n * (t + 1) / nt) & ~(Py_ssize_t)63 : n;
    }
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&tids[t], NULL, fill_job, &jobs[t]) == 0;
    fill_job(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t]) pthread_join(tids[t], NULL);
        else fill_job(&jobs[t]); /* no thread to be had: do its share here */
    }
    memcpy(c->cats, jobs[0].set.cats, sizeof c->cats);
    int rc = 0;
    for (int t = 1; t < nt; t++)
        if (rc == 0 && merge_job(c, &jobs[t]) < 0) rc = -1;
    for (int t = 1; t < nt && rc < 0; t++)
        for (int k = 0; k < NUM_CATS; k++) fp_interner_free(&jobs[t].set.cats[k]);
    return rc;
}

/* Categorical codes are kept in the width pandas keeps them in (int8 below 127 categories,
 * int16 below 32767: pandas' coerce_indexer_dtype), so Categorical.from_codes takes them without
 * a copy. The width grows with the interner as chunks of rows come in, and only one chunk's codes
 * are ever int32: to_pandas peaks near the DataFrame's own size. */
#define COLUMNS_CHUNK_ROWS 16384

static int code_width(uint32_t count) { return count < 127 ? 1 : count < 32767 ? 2 : 4; }

/* Codes of rows 0..rows stored w bytes wide, re-stored w2 wide in the same (grown) buffer. */
static int widen_codes(PyObject *codes, Py_ssize_t n, Py_ssize_t rows, int w, int w2)
{
    if (PyByteArray_Resize(codes, n * w2) < 0) return -1;
    char *b = PyByteArray_AS_STRING(codes);
    for (Py_ssize_t i = rows; i-- > 0;) { /* back to front: the wider copy never overtakes the narrow */
        int32_t v;
        if (w == 1) v = (int8_t)b[i];
        else {
            int16_t v16;
            memcpy(&v16, b + 2 * i, 2);
            v = v16;
        }
        if (w2 == 2) {
            int16_t v16 = (int16_t)v;
            memcpy(b + 2 * i, &v16, 2);
        } else {
            memcpy(b + 4 * i, &v, 4);
        }
    }
    return 0;
}

static void store_codes(char *to, int w, const int32_t *from, Py_ssize_t m)
{
    if (w == 4) {
        memcpy(to, from, (size_t)m * 4);
        return;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        if (w == 1) to[i] = (char)(int8_t)from[i];
        else {
            int16_t v = (int16_t)from[i];
            memcpy(to + 2 * i, &v, 2);
        }
    }
}

static PyObject *packetlist_columns(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"progress", "_threads", NULL};
    PyObject *progress = Py_None;
    int threads = 0; /* 0: the online CPUs; fastpkt.read_frames' range workers ask for 1 */
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$i:columns", kwlist, &progress, &threads)) return NULL;
    if (threads < 1) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    fp_packetlist *pl = PL(self);
    fp_state *st = fp_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    Py_ssize_t n = pl->n;
    PyObject *vals[NUM_COLS] = {0}, *masks[NUM_COLS] = {0}, *codes[NUM_CATS] = {0};
    int width[NUM_CATS];
    PyObject *result = NULL;
    col_set c;
    memset(&c, 0, sizeof c);
    c.dissect_flags = pl->dissect_flags;
    c.entries = pl->entries;
    c.reasm = pl->reasm;
    c.n_reasm = pl->n_reasm;
    Py_ssize_t chunk = n < COLUMNS_CHUNK_ROWS ? n : COLUMNS_CHUNK_ROWS;
    int32_t *scratch = PyMem_RawMalloc(((size_t)chunk * NUM_CATS + 1) * sizeof *scratch);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int k = 0; k < NUM_COLS; k++) {
        vals[k] = PyByteArray_FromStringAndSize(NULL, n * num_cols[k].width);
        if (vals[k] == NULL) goto done;
        if (num_cols[k].masked && (masks[k] = PyByteArray_FromStringAndSize(NULL, n)) == NULL) goto done;
    }
    for (int k = 0; k < NUM_CATS; k++) {
        width[k] = 1;
        if ((codes[k] = PyByteArray_FromStringAndSize(NULL, n)) == NULL) goto done;
    }
    /* every row writes every column: their pages are mapped up front, one call each, without
     * the GIL (read_frames' range workers convert at once; the kernel zeroes the pages) */
    Py_BEGIN_ALLOW_THREADS
    for (int k = 0; k < NUM_COLS; k++) {
        fp_populate_write(PyByteArray_AS_STRING(vals[k]), (size_t)(n * num_cols[k].width));
        if (masks[k]) fp_populate_write(PyByteArray_AS_STRING(masks[k]), (size_t)n);
    }
    for (int k = 0; k < NUM_CATS; k++) fp_populate_write(PyByteArray_AS_STRING(codes[k]), (size_t)n);
    Py_END_ALLOW_THREADS
    const fp_source *mapping = pl->owner_is_reader ? ((fp_reader_obj *)pl->owner)->src : NULL;
    for (Py_ssize_t start = 0; start < n; start += chunk) {
        Py_ssize_t m = n - start < chunk ? n - start : chunk;
        col_set part = c; /* this chunk's rows: column pointers moved to it, codes int32 in scratch */
        for (int k = 0; k < NUM_COLS; k++) {
            part.val[k] = (uint8_t *)PyByteArray_AS_STRING(vals[k]) + start * num_cols[k].width;
            if (masks[k]) part.mask[k] = (uint8_t *)PyByteArray_AS_STRING(masks[k]) + start;
        }
        for (int k = 0; k < NUM_CATS; k++) part.codes[k] = scratch + (size_t)k * (size_t)chunk;
        int failed;
        Py_BEGIN_ALLOW_THREADS
        failed = fill_rows_parallel(&part, pl->entries + start, m, mapping, threads) < 0;
        Py_END_ALLOW_THREADS
        memcpy(c.cats, part.cats, sizeof c.cats);
        for (int k = 0; k < NUM_CATS; k++)
            if (c.cats[k].oom) failed = 1;
        if (failed) {
            PyErr_NoMemory();
            goto done;
        }
        for (int k = 0; k < NUM_CATS; k++) {
            int w = code_width(c.cats[k].count);
            if (w > width[k] && widen_codes(codes[k], n, start, width[k], w) < 0) goto done;
            width[k] = w > width[k] ? w : width[k];
        }
        Py_BEGIN_ALLOW_THREADS
        for (int k = 0; k < NUM_CATS; k++)
            store_codes(PyByteArray_AS_STRING(codes[k]) + start * width[k], width[k], part.codes[k], m);
        Py_END_ALLOW_THREADS
        if (progress != Py_None) {
            PyObject *res = PyObject_CallFunction(progress, "nn", start + m, n);
            if (res == NULL) goto done;
            Py_DECREF(res);
        }
        if (PyErr_CheckSignals() < 0) goto done;
    }
    if (pl->owner_is_reader && ((fp_reader_obj *)pl->owner)->src &&
        fp_source_lost(((fp_reader_obj *)pl->owner)->src)) {
        PyErr_SetString(st->TruncatedError,
                        "the capture file was truncated by another process while this PacketList "
                        "pointed into it: packets in the lost part read as zeros; read the file "
                        "again, or copy it before analysing a capture that is still being rotated");
        goto done;
    }
    result = PyList_New(0);
    if (result == NULL) goto done;
    for (int k = 0; k < NUM_COLS; k++) {
        PyObject *t = num_cols[k].masked ? Py_BuildValue("(ssOO)", num_cols[k].name, num_cols[k].dtype, vals[k], masks[k])
                                         : Py_BuildValue("(ssO)", num_cols[k].name, num_cols[k].dtype, vals[k]);
        if (t == NULL || PyList_Append(result, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(t);
    }
    for (int k = 0; k < NUM_CATS; k++) {
        PyObject *cats = fp_interner_categories(st, &c.cats[k], cat_cols[k].kind);
        const char *kind = width[k] == 1 ? "category<i1" : width[k] == 2 ? "category<i2" : "category";
        PyObject *tup = cats ? Py_BuildValue("(ssON)", cat_cols[k].name, kind, codes[k], cats) : NULL;
        if (tup == NULL || PyList_Append(result, tup) < 0) {
            Py_XDECREF(tup);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(tup);
    }
done:
    PyMem_RawFree(scratch);
    for (int k = 0; k < NUM_COLS; k++) {
        Py_XDECREF(vals[k]);
        Py_XDECREF(masks[k]);
    }
    for (int k = 0; k < NUM_CATS; k++) {
        Py_XDECREF(codes[k]);
        fp_interner_free(&c.cats[k]);
    }
    return result;
}

/* ---- packets as an Arrow stream, built in C ------------------------------------------
 * The record batches of a Reader or a PacketList go straight into the buffers of Arrow
 * arrays: a Reader's records are pulled and dissected in one pass (each record's bytes are
 * read once, while in cache), with the GIL released and no PacketList or Packet made; the
 * address and name columns are dictionaries whose interners live for one batch, so they hold
 * at most batch_rows keys whatever the capture's size. */

typedef struct {
    PyObject *owner; /* the Reader or PacketList read (a strong reference) */
    int is_reader;
    Py_ssize_t pos;  /* PacketList: the next row */
    int64_t batch_rows;
    pl_entry *entries; /* a Reader's records of one batch, when they are filled on a second thread */
    struct list_job *ahead; /* PacketList: the next batch, being filled on another thread */
    fp_arrow_pool *pool;    /* batches' memory the consumer gave back, or NULL */
    int ended;
    char error[1024];
    char pending[1024]; /* an error met after rows of a batch: reported on the next call */
} pkt_stream;

static int packet_schema(struct ArrowSchema *s)
{
    if (fp_arrow_schema_init(s, "+s", "", 0, NUM_COLS + NUM_CATS) < 0) return -1;
    for (int k = 0; k < NUM_COLS; k++)
        if (fp_arrow_schema_init(s->children[k], num_cols[k].format, num_cols[k].name, ARROW_FLAG_NULLABLE, 0) < 0)
            goto fail;
    for (int k = 0; k < NUM_CATS; k++) {
        struct ArrowSchema *c = s->children[NUM_COLS + k];
        if (fp_arrow_schema_init(c, "i", cat_cols[k].name, ARROW_FLAG_NULLABLE, 0) < 0) goto fail;
        c->dictionary = malloc(sizeof *c->dictionary);
        if (c->dictionary == NULL || fp_arrow_schema_init(c->dictionary, "u", "", ARROW_FLAG_NULLABLE, 0) < 0)
            goto fail;
    }
    return 0;
fail:
    s->release(s);
    return -1;
}

/* An empty batch of room for cap rows, and the column pointers fill_row writes through. Its
 * buffers share one arena (~5 MB), from the stream's pool. */
static int batch_alloc(struct ArrowArray *a, col_set *c, int64_t cap, fp_arrow_pool *pool)
{
    memset(c, 0, sizeof *c);
    size_t bits = (size_t)(cap + 7) / 8, size = 0;
    for (int k = 0; k < NUM_COLS; k++)
        size += fp_arrow_arena_size((size_t)cap * (size_t)num_cols[k].width) + (num_cols[k].masked ? fp_arrow_arena_size(bits) : 0);
    size += NUM_CATS * (fp_arrow_arena_size((size_t)cap * 4) + fp_arrow_arena_size(bits));
    int rc = fp_arrow_array_init(a, 0, 1, NUM_COLS + NUM_CATS);
    fp_arrow_arena *ar = rc == 0 ? fp_arrow_arena_new(size, pool) : NULL;
    if (ar == NULL) rc = -1;
    for (int k = 0; k < NUM_COLS && rc == 0; k++) {
        struct ArrowArray *col = a->children[k];
        if (fp_arrow_array_init(col, 0, 2, 0) < 0 ||
            (c->val[k] = fp_arrow_arena_buffer(col, 1, ar, (size_t)cap * (size_t)num_cols[k].width, 0)) == NULL ||
            (num_cols[k].masked && (c->bits[k] = fp_arrow_arena_buffer(col, 0, ar, bits, 1)) == NULL))
            rc = -1;
    }
    for (int k = 0; k < NUM_CATS && rc == 0; k++) {
        struct ArrowArray *col = a->children[NUM_COLS + k];
        if (fp_arrow_array_init(col, 0, 2, 0) < 0 || (c->codes[k] = fp_arrow_arena_buffer(col, 1, ar, (size_t)cap * 4, 0)) == NULL ||
            (c->valid[k] = fp_arrow_arena_buffer(col, 0, ar, bits, 1)) == NULL)
            rc = -1;
    }
    fp_arrow_arena_release(ar); /* the columns hold it */
    return rc;
}

static int64_t unset_bits(const uint8_t *bits, int64_t n)
{
    int64_t set = 0, i = 0;
    for (; i + 64 <= n; i += 64) { /* buffers are zero past n and 64-byte padded */
        uint64_t w;
        memcpy(&w, bits + i / 8, 8);
        set += __builtin_popcountll(w);
    }
    for (; i < n; i++) set += (bits[i >> 3] >> (i & 7)) & 1;
    return n - set;
}

/* Category k's dictionary from the interner (no GIL). */
static int category_finish(struct ArrowArray *col, const fp_interner *t, fp_cat_kind kind)
{
    struct ArrowArray *d = calloc(1, sizeof *d);
    if (d == NULL) return -1;
    col->dictionary = d;
    if (fp_arrow_array_init(d, t->count, 3, 0) < 0) return -1;
    size_t bound = 0;
    for (uint32_t j = 0; j < t->count; j++) bound += fp_interner_text_max(t, kind, j);
    int32_t *offsets = fp_arrow_buffer(d, 1, ((size_t)t->count + 1) * 4);
    uint8_t *text = fp_arrow_buffer(d, 2, bound);
    if (offsets == NULL || text == NULL || bound > INT32_MAX) return -1;
    size_t pos = 0;
    for (uint32_t j = 0; j < t->count; j++) {
        offsets[j] = (int32_t)pos;
        pos += fp_interner_text(t, kind, j, text + pos);
    }
    offsets[t->count] = (int32_t)pos;
    return 0;
}

/* Lengths, null counts and dictionaries of a batch of n rows of room for cap, the rows never
 * filled zeroed (no GIL); frees the interners. */
static int batch_finish(struct ArrowArray *a, col_set *c, int64_t n, int64_t cap)
{
    int rc = 0;
    a->length = n;
    for (int k = 0; k < NUM_COLS; k++) {
        struct ArrowArray *col = a->children[k];
        col->length = n;
        memset(c->val[k] + n * num_cols[k].width, 0, (size_t)(cap - n) * num_cols[k].width); /* rows never filled */
        if (c->bits[k]) col->null_count = unset_bits(c->bits[k], n);
    }
    for (int k = 0; k < NUM_CATS; k++) {
        struct ArrowArray *col = a->children[NUM_COLS + k];
        col->length = n;
        memset(c->codes[k] + n, 0, (size_t)(cap - n) * sizeof *c->codes[k]);
        col->null_count = unset_bits(c->valid[k], n);
        if (rc == 0 && (c->cats[k].oom || category_finish(col, &c->cats[k], cat_cols[k].kind) < 0)) rc = -1;
        fp_interner_free(&c->cats[k]);
        memset(&c->cats[k], 0, sizeof c->cats[k]);
    }
    return rc;
}

/* Rows from..cap pulled from a claimed Reader into c (GIL released); the row after the last.
 * *rc: the last pull's result. */
static int64_t fill_from_reader(fp_reader_obj *r, col_set *c, int64_t from, int64_t cap, int *rc, fp_record *rec,
                                fp_error *err, char *errbuf, size_t errlen)
{
    int64_t n = from;
    for (; n < cap; n++) {
        *rc = fp_reader_pull(r, rec, err, errbuf, errlen);
        if (*rc != FP_PULL_RECORD) break;
        pl_entry e = {.ts_ns = rec->ts_ns, .data = rec->data, .caplen = rec->caplen, .wirelen = rec->wirelen,
                      .linktype = rec->linktype, .interface_id = rec->interface_id, .fcs_len = rec->fcs_len};
        if (r->defrag_policy < 0) {
            fill_row_from(c, n, &e, NULL, 0, 0);
            continue;
        }
        int drc = fp_reader_reassemble(r, rec, NULL); /* the row read_all's list would give */
        if (drc < 0) {
            *rc = FP_PULL_NO_MEMORY;
            break;
        }
        const fp_defrag_result *res = &r->pulled_res;
        fill_row_from(c, n, &e, drc == FP_DEFRAG_COMPLETE ? res->data : NULL, res->len, res->anomalies);
    }
    return n;
}

/* Records whose bytes stay put (a mapped file, a memory buffer) are pulled on this thread while a
 * second one dissects them right behind it, in chunks small enough to still be in cache. Pulling
 * costs less than filling, so the puller fills too: whenever two chunks wait it takes the oldest
 * (with interners of its own; the worker's keys are merged and its rows renumbered at the end).
 * The puller stays at most PIPE_LAG rows ahead of the rows filled, and hands their pages back
 * behind them (the source itself releases only every 32 MiB). */
#define PIPE_CHUNK 1024
#define PIPE_LAG 8192

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    col_set *c;               /* the puller's interners */
    col_set wc;               /* the same columns, the worker's interners */
    const pl_entry *entries;
    int64_t ready;            /* rows pulled (whole chunks until the last) */
    int64_t claimed;          /* rows taken by a filler, from the start */
    int64_t filled;           /* rows filled, from the start */
    uint8_t *chunk_state;     /* per chunk: CHUNK_DONE, CHUNK_WORKER (its codes are the worker's) */
    int pulled_all;
} fill_pipe;

enum { CHUNK_DONE = 1, CHUNK_WORKER = 2 };

/* Under mu: take the next pulled chunk, or 0. */
static int pipe_claim(fill_pipe *fp, int64_t *from, int64_t *to, int worker)
{
    if (fp->claimed == fp->ready) return 0;
    *from = fp->claimed;
    *to = fp->ready - *from < PIPE_CHUNK ? fp->ready : *from + PIPE_CHUNK;
    fp->claimed = *to;
    if (worker) fp->chunk_state[*from / PIPE_CHUNK] |= CHUNK_WORKER;
    return 1;
}

/* Fill a claimed chunk (mu held on entry and exit, released meanwhile). */
static void pipe_fill(fill_pipe *fp, col_set *c, int64_t from, int64_t to)
{
    pthread_mutex_unlock(&fp->mu);
    for (int64_t i = from; i < to; i++) fill_row(c, i, &fp->entries[i]);
    pthread_mutex_lock(&fp->mu);
    fp->chunk_state[from / PIPE_CHUNK] |= CHUNK_DONE;
    while (fp->filled < fp->claimed && (fp->chunk_state[fp->filled / PIPE_CHUNK] & CHUNK_DONE))
        fp->filled = fp->filled + PIPE_CHUNK < fp->claimed ? fp->filled + PIPE_CHUNK : fp->claimed;
    pthread_cond_broadcast(&fp->cv);
}

static void *pipe_worker(void *arg)
{
    fill_pipe *fp = arg;
    int64_t from, to;
    pthread_mutex_lock(&fp->mu);
    for (;;) {
        while (fp->claimed == fp->ready && !fp->pulled_all) pthread_cond_wait(&fp->cv, &fp->mu);
        if (!pipe_claim(fp, &from, &to, 1)) break; /* everything pulled is taken */
        pipe_fill(fp, &fp->wc, from, to);
    }
    pthread_mutex_unlock(&fp->mu);
    return NULL;
}

/* The worker's categories into the puller's, its rows renumbered. */
static void pipe_merge(fill_pipe *fp, int64_t n)
{
    for (int k = 0; k < NUM_CATS; k++) {
        int32_t *remap = merge_interner(fp->c, k, &fp->wc.cats[k]);
        if (remap == NULL) fp->c->cats[k].oom = 1; /* batch_finish reports it */
        else
            for (int64_t from = 0; from < n; from += PIPE_CHUNK)
                if (fp->chunk_state[from / PIPE_CHUNK] & CHUNK_WORKER)
                    renumber(fp->c->codes[k], remap, from, from + PIPE_CHUNK < n ? from + PIPE_CHUNK : n);
        PyMem_RawFree(remap);
        fp_interner_free(&fp->wc.cats[k]);
    }
}

/* fill_from_reader on two threads (entries: room for cap rows); -1 when no thread is to be had
 * (nothing pulled then). */
static int64_t fill_from_reader_pipelined(fp_reader_obj *r, col_set *c, pl_entry *entries, int64_t cap, int *rc,
                                          fp_record *rec, fp_error *err, char *errbuf, size_t errlen)
{
    fill_pipe fp = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .c = c, .wc = *c,
                    .entries = entries};
    memset(fp.wc.cats, 0, sizeof fp.wc.cats);
    pthread_t worker;
    fp.chunk_state = PyMem_RawCalloc((size_t)(cap / PIPE_CHUNK + 1), 1);
    if (fp.chunk_state == NULL || pthread_create(&worker, NULL, pipe_worker, &fp) != 0) {
        PyMem_RawFree(fp.chunk_state);
        return -1;
    }
    int64_t n = 0, released = 0, from, to;
    for (; n < cap; n++) {
        *rc = fp_reader_pull(r, rec, err, errbuf, errlen);
        if (*rc != FP_PULL_RECORD) break;
        entries[n] = (pl_entry){.ts_ns = rec->ts_ns, .data = rec->data, .caplen = rec->caplen,
                                .wirelen = rec->wirelen, .linktype = rec->linktype,
                                .interface_id = rec->interface_id, .fcs_len = rec->fcs_len};
        if ((n + 1) % PIPE_CHUNK) continue;
        pthread_mutex_lock(&fp.mu);
        fp.ready = n + 1;
        pthread_cond_broadcast(&fp.cv);
        if (fp.ready - fp.claimed >= 2 * PIPE_CHUNK && pipe_claim(&fp, &from, &to, 0)) pipe_fill(&fp, c, from, to);
        while (fp.ready - fp.filled > PIPE_LAG) {
            if (pipe_claim(&fp, &from, &to, 0)) pipe_fill(&fp, c, from, to);
            else pthread_cond_wait(&fp.cv, &fp.mu);
        }
        int64_t filled = fp.filled;
        pthread_mutex_unlock(&fp.mu);
        if (filled - released >= COLUMNS_RELEASE_ROWS) {
            const pl_entry *last = &entries[filled - 1];
            fp_source_release_pages(r->src, entries[released].data, last->data + last->caplen);
            released = filled;
        }
    }
    pthread_mutex_lock(&fp.mu);
    fp.ready = n;
    fp.pulled_all = 1;
    pthread_cond_broadcast(&fp.cv);
    while (pipe_claim(&fp, &from, &to, 0)) pipe_fill(&fp, c, from, to);
    pthread_mutex_unlock(&fp.mu);
    pthread_join(worker, NULL);
    pthread_mutex_destroy(&fp.mu);
    pthread_cond_destroy(&fp.cv);
    if (n > released) {
        const pl_entry *last = &entries[n - 1];
        fp_source_release_pages(r->src, entries[released].data, last->data + last->caplen);
    }
    pipe_merge(&fp, n);
    PyMem_RawFree(fp.chunk_state);
    return n;
}

/* The next batch of a Reader: 0 with out released at the end, EIO with p->error set. */
static int reader_batch(pkt_stream *p, struct ArrowArray *out)
{
    fp_reader_obj *r = (fp_reader_obj *)p->owner;
    fp_state *st = fp_state_from_type(Py_TYPE(p->owner));
    if (st == NULL || fp_readers_claim(&p->owner, 1) < 0) return fp_arrow_error_text(p->error, sizeof p->error);
    col_set c;
    int failed = batch_alloc(out, &c, p->batch_rows, p->pool) < 0;
    c.dissect_flags = r->dissect_flags;
    fp_record rec;
    fp_error err;
    char errbuf[512];
    int rc = FP_PULL_END;
    int64_t n = 0;
    /* Reassembly goes in record order: a defragmenting Reader is filled on one thread. */
    int pipelined = !failed && r->src && fp_source_stable_data(r->src) && r->defrag_policy < 0 &&
                    sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
                    (p->entries || (p->entries = PyMem_RawMalloc((size_t)p->batch_rows * sizeof *p->entries)));
    while (!failed) { /* a quiet live capture comes back every read timeout */
        Py_BEGIN_ALLOW_THREADS
        int64_t got = pipelined ? fill_from_reader_pipelined(r, &c, p->entries, p->batch_rows, &rc, &rec, &err,
                                                             errbuf, sizeof errbuf)
                                : -1;
        n = got >= 0 ? got : fill_from_reader(r, &c, n, p->batch_rows, &rc, &rec, &err, errbuf, sizeof errbuf);
        if (rc != FP_PULL_IDLE || n > 0) failed = batch_finish(out, &c, n, p->batch_rows) < 0;
        Py_END_ALLOW_THREADS
        if (rc != FP_PULL_IDLE || n > 0 || PyErr_CheckSignals() < 0) break;
    }
    int result = 0;
    if (failed) {
        for (int k = 0; k < NUM_CATS; k++) fp_interner_free(&c.cats[k]);
        if (!PyErr_Occurred()) PyErr_NoMemory();
    } else if (PyErr_Occurred()) {
        /* interrupted while waiting */
    } else if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE) {
        p->ended = 1;
        if (fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0 && n > 0) {
            fp_arrow_error_text(p->pending, sizeof p->pending); /* the rows before it first */
        }
    }
    fp_readers_release(&p->owner, 1);
    if (PyErr_Occurred()) result = fp_arrow_error_text(p->error, sizeof p->error);
    if ((result || n == 0) && out->release) out->release(out);
    return result;
}

/* A PacketList batch filled whole by one job. Batches are independent (each has its own
 * interners): while the caller waits for one, a second thread fills the next, with no interners
 * to merge nor codes to renumber, and the two never wait for each other within a batch. */
typedef struct list_job {
    struct ArrowArray out;
    const pl_entry *entries;
    int64_t n;
    const fp_source *mapping;
    fp_arrow_pool *pool;
    const pl_entry *list_entries; /* the list's, for its reassembled frames (reasm) */
    const pl_reasm *reasm;
    Py_ssize_t n_reasm;
    int dissect_flags, threads;
    int failed;
    int started; /* on its own thread, tid */
    pthread_t tid;
} list_job;

static void list_job_run(list_job *j)
{
    col_set c;
    if (batch_alloc(&j->out, &c, j->n, j->pool) < 0) {
        j->failed = 1;
        return;
    }
    c.dissect_flags = j->dissect_flags;
    c.entries = j->list_entries;
    c.reasm = j->reasm;
    c.n_reasm = j->n_reasm;
    int rc = fill_rows_parallel(&c, j->entries, j->n, j->mapping, j->threads);
    j->failed = batch_finish(&j->out, &c, j->n, j->n) < 0 || rc < 0;
}

static void *list_job_thread(void *arg)
{
    list_job_run(arg);
    return NULL;
}

/* The job of the batch at row pos, or NULL when none is left. */
static list_job *list_job_new(const pkt_stream *p, Py_ssize_t pos, int threads)
{
    fp_packetlist *pl = PL(p->owner);
    int64_t n = pl->n - pos < p->batch_rows ? pl->n - pos : p->batch_rows;
    list_job *j = n > 0 ? PyMem_RawCalloc(1, sizeof *j) : NULL;
    if (j == NULL) return NULL;
    j->entries = pl->entries + pos;
    j->n = n;
    j->mapping = pl->owner_is_reader ? ((fp_reader_obj *)pl->owner)->src : NULL;
    j->pool = p->pool;
    j->dissect_flags = pl->dissect_flags;
    j->list_entries = pl->entries;
    j->reasm = pl->reasm;
    j->n_reasm = pl->n_reasm;
    j->threads = threads;
    return j;
}

static void list_job_free(list_job *j)
{
    if (j && j->out.release) j->out.release(&j->out);
    PyMem_RawFree(j);
}

/* The next batch of a PacketList's rows; the one after it is started on another thread. */
static int list_batch(pkt_stream *p, struct ArrowArray *out)
{
    fp_packetlist *pl = PL(p->owner);
    fp_state *st = fp_state_from_type(Py_TYPE(p->owner));
    if (st == NULL) return fp_arrow_error_text(p->error, sizeof p->error);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int half = cpus > 3 ? (int)(cpus / 2) : 1;
    list_job *cur = p->ahead;
    p->ahead = NULL;
    if (cur == NULL && (cur = list_job_new(p, p->pos, cpus > 1 ? (int)cpus : 1)) == NULL) {
        if (pl->n <= p->pos) return 0; /* the end */
        PyErr_NoMemory();
        return fp_arrow_error_text(p->error, sizeof p->error);
    }
    Py_ssize_t next = p->pos + (Py_ssize_t)cur->n;
    if (cpus > 1 && (p->ahead = list_job_new(p, next, half)) != NULL) {
        if (pthread_create(&p->ahead->tid, NULL, list_job_thread, p->ahead) != 0) {
            list_job_free(p->ahead); /* no thread to be had: the next call fills it */
            p->ahead = NULL;
        } else {
            p->ahead->started = 1;
            if (!cur->started)
                cur->threads = half; /* the two jobs share the cores */
        }
    }
    Py_BEGIN_ALLOW_THREADS
    if (cur->started) pthread_join(cur->tid, NULL);
    else list_job_run(cur);
    Py_END_ALLOW_THREADS
    p->pos = next;
    if (cur->failed) PyErr_NoMemory();
    else if (cur->mapping && fp_source_lost(cur->mapping))
        PyErr_SetString(st->TruncatedError, "the capture file was truncated by another process while this "
                                            "PacketList pointed into it: packets in the lost part read as zeros");
    if (!PyErr_Occurred()) {
        *out = cur->out; /* moved */
        cur->out.release = NULL;
    }
    list_job_free(cur);
    return PyErr_Occurred() ? fp_arrow_error_text(p->error, sizeof p->error) : 0;
}

static int pkt_stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out)
{
    pkt_stream *p = s->private_data;
    memset(out, 0, sizeof *out);
    if (p->pending[0]) {
        memcpy(p->error, p->pending, sizeof p->error);
        p->pending[0] = 0;
        return EIO;
    }
    if (p->ended) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = p->is_reader ? reader_batch(p, out) : list_batch(p, out);
    PyGILState_Release(g);
    if (out->release == NULL) p->ended = 1;
    return rc;
}

static int pkt_stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out)
{
    (void)s;
    return packet_schema(out) < 0 ? ENOMEM : 0;
}

static const char *pkt_stream_last_error(struct ArrowArrayStream *s)
{
    pkt_stream *p = s->private_data;
    return p->error[0] ? p->error : NULL;
}

static void pkt_stream_release(struct ArrowArrayStream *s)
{
    pkt_stream *p = s->private_data;
    if (p->ahead) { /* a batch nobody asked for */
        pthread_join(p->ahead->tid, NULL);
        list_job_free(p->ahead);
    }
    fp_arrow_pool_close(p->pool);
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(p->owner);
    PyGILState_Release(g);
    PyMem_RawFree(p->entries);
    free(p);
    s->release = NULL;
}

static PyObject *packet_arrow_stream(PyObject *mod, PyObject *args)
{
    PyObject *table;
    long long rows = 65536;
    if (!PyArg_ParseTuple(args, "O|L:_packet_arrow_stream", &table, &rows)) return NULL;
    fp_state *st = fp_state_from_module(mod);
    if (st == NULL) return NULL;
    int is_reader = PyObject_TypeCheck(table, st->Reader_Type);
    if (!is_reader && !PyObject_TypeCheck(table, st->PacketList_Type)) {
        PyErr_Format(PyExc_TypeError, "a Reader or PacketList expected, not %s", Py_TYPE(table)->tp_name);
        return NULL;
    }
    if (rows < 1 || rows > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "batch_size must be 1 to %d, not %lld", INT32_MAX, rows);
        return NULL;
    }
    struct ArrowArrayStream *s = calloc(1, sizeof *s);
    pkt_stream *p = calloc(1, sizeof *p);
    if (s == NULL || p == NULL) {
        free(s);
        free(p);
        return PyErr_NoMemory();
    }
    p->owner = Py_NewRef(table);
    p->pool = fp_arrow_pool_new(); /* none: every batch maps its own */
    p->is_reader = is_reader;
    p->batch_rows = rows;
    s->private_data = p;
    s->get_schema = pkt_stream_get_schema;
    s->get_next = pkt_stream_get_next;
    s->get_last_error = pkt_stream_last_error;
    s->release = pkt_stream_release;
    return fp_arrow_stream_capsule(s);
}

static PyObject *packet_arrow_schema(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    struct ArrowSchema *s = malloc(sizeof *s);
    if (s == NULL || packet_schema(s) < 0) {
        free(s);
        return PyErr_NoMemory();
    }
    return fp_arrow_schema_capsule(s);
}

static PyMethodDef packet_arrow_functions[] = {
    {"_packet_arrow_stream", packet_arrow_stream, METH_VARARGS,
     "_packet_arrow_stream(reader_or_packetlist, batch_size=65536): an 'arrow_array_stream' PyCapsule\n"
     "of the packets' columns, built in C (a Reader's records are pulled as the batches are read)."},
    {"_packet_arrow_schema", packet_arrow_schema, METH_NOARGS,
     "_packet_arrow_schema(): an 'arrow_schema' PyCapsule of the packet columns."},
    {NULL},
};

#define PL_GETTER(fname, expr)                          \
    static PyObject *fname(PyObject *self, void *c)     \
    {                                                   \
        (void)c;                                        \
        return expr;                                    \
    }
PL_GETTER(get_linktype, PyLong_FromUnsignedLong(PL(self)->linktype))
PL_GETTER(get_snaplen, PyLong_FromUnsignedLong(PL(self)->snaplen))
PL_GETTER(get_nanosecond, PyBool_FromLong(PL(self)->nanosecond))
PL_GETTER(get_big_endian, PyBool_FromLong(PL(self)->big_endian))

static PyObject *get_file_header(PyObject *self, void *c)
{
    (void)c;
    fp_packetlist *pl = PL(self);
    if (pl->ng_prefix) return Py_NewRef(pl->ng_prefix);
    if (!pl->has_file_header) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)pl->file_header, sizeof pl->file_header);
}

static PyObject *get_format(PyObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(PL(self)->format == FP_FORMAT_PCAPNG ? "pcapng" : "pcap");
}

/* One dict per interface, with the keys Writer(interfaces=...) takes. */
static PyObject *get_interfaces(PyObject *self, void *c)
{
    (void)c;
    fp_packetlist *pl = PL(self);
    PyObject *list = PyList_New(pl->n_ifs);
    if (list == NULL) return NULL;
    for (uint32_t i = 0; i < pl->n_ifs; i++) {
        const fp_interface *f = &pl->ifs[i];
        PyObject *name = f->name[0] ? PyUnicode_DecodeUTF8(f->name, (Py_ssize_t)strlen(f->name), "replace")
                                    : Py_NewRef(Py_None);
        PyObject *d = name ? Py_BuildValue("{sIsIsKsLsNsI}", "linktype", f->linktype, "snaplen", f->snaplen,
                                           "tsresol", (unsigned long long)f->tsresol_num, "tsoffset",
                                           (long long)f->tsoffset_s, "name", name, "fcslen", (unsigned)f->fcs_len)
                           : NULL;
        if (d == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *get_facade(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(PL(self)->facade);
}

static int set_facade(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    int on = v ? PyObject_IsTrue(v) : 0;
    if (on < 0) return -1;
    PL(self)->facade = on;
    return 0;
}

static PyObject *get_mapped_bytes(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(PL(self)->keep_to - PL(self)->keep_from);
}

static PyGetSetDef packetlist_getset[] = {
    {"_facade", get_facade, set_facade, "Make fastpkt.scapy's packets (set by that module).", NULL},
    {"linktype", get_linktype, NULL, "Link type of the source capture.", NULL},
    {"snaplen", get_snaplen, NULL, "Snapshot length of the source capture.", NULL},
    {"nanosecond", get_nanosecond, NULL, "True when the source had nanosecond timestamps.", NULL},
    {"big_endian", get_big_endian, NULL, "True when the source pcap was big-endian.", NULL},
    {"file_header", get_file_header, NULL,
     "The file's leading bytes as read, for exact rewrites (Writer(header=...) copies them): the\n"
     "24-byte pcap header, or pcapng's blocks before the first packet (section header,\n"
     "interfaces, ...; None when over 1 MiB).", NULL},
    {"format", get_format, NULL, "'pcap' or 'pcapng': the source's format.", NULL},
    {"mapped_bytes", get_mapped_bytes, NULL,
     "Bytes of its file this list keeps mapped between read and export, so to_arrow()/to_pandas()\n"
     "do not map the file again: the records' span when it is at most a quarter of physical\n"
     "memory and 1 GiB (page cache, counted in RSS), else 0 (pages go back as they are read).\n"
     "Given back when the list goes.", NULL},
    {"interfaces", get_interfaces, NULL,
     "pcapng sources: one dict per interface (linktype, snaplen, tsresol in units per second,\n"
     "tsoffset in seconds, name), indexed by Packet.interface; [] for pcap.", NULL},
    {NULL},
};

static PyMethodDef packetlist_methods[] = {
    {"summary", packetlist_summary, METH_NOARGS, "One summary line per packet."},
    {"columns", (PyCFunction)(void (*)(void))packetlist_columns, METH_VARARGS | METH_KEYWORDS,
     "columns($self, /, progress=None, *, _threads=0)\n--\n\nTyped column buffers built in C (see fastpkt.frames for the layout);\n"
     "progress(rows_done, rows) is called between chunks of rows. _threads: at most that many threads\n"
     "fill them (0: the online CPUs; threads that each convert a batch ask for 1)."},
    {"filter_mask", packetlist_filter_mask, METH_O,
     "filter_mask(display_filter) -> bytes\n--\n\nOne byte per packet: 1 where the Wireshark "
     "display filter (text or DisplayFilter) passes it, computed in C (frame.number = position "
     "+ 1)."},
    FP_TABLE_METHODS,
    FP_VIEW_METHOD,
    {NULL},
};

PyDoc_STRVAR(packetlist_doc,
             "Packets read in bulk: len(), indexing, slicing, iteration, summary(), to_pandas().\n"
             "Packets are materialised on access; records stay in the mapped file.");

/* An explicit __iter__ (the sequence protocol's iterator) so the type says it is iterable. */
static PyObject *packetlist_iter(PyObject *self) { return PySeqIter_New(self); }

static PyType_Slot packetlist_slots[] = {
    {Py_tp_doc, (void *)packetlist_doc},
    {Py_tp_iter, packetlist_iter},
    {Py_tp_dealloc, packetlist_dealloc},
    {Py_tp_traverse, packetlist_traverse},
    {Py_tp_clear, packetlist_clear},
    {Py_tp_repr, packetlist_repr},
    {Py_tp_getset, packetlist_getset},
    {Py_tp_methods, packetlist_methods},
    {Py_sq_length, packetlist_len},
    {Py_sq_item, packetlist_item},
    {Py_mp_length, packetlist_len},
    {Py_mp_subscript, packetlist_subscript},
    {0, NULL},
};

static PyType_Spec packetlist_spec = {
    .name = "fastpkt.PacketList",
    .basicsize = sizeof(fp_packetlist),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = packetlist_slots,
};

int fp_packetlist_register(PyObject *m, fp_state *st)
{
    st->PacketList_Type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &packetlist_spec, NULL);
    if (st->PacketList_Type == NULL || PyModule_AddFunctions(m, packet_arrow_functions) < 0) return -1;
    return PyModule_AddType(m, st->PacketList_Type);
}
