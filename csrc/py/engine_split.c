/* The split walk of a sharded run (fastpkt.parallel): the records of one mapped capture are
 * walked and keyed once, by whichever shard needs them first, instead of once per shard.
 * Python-free.
 *
 * The file is cut into record-aligned chunks (fp_source_split). A shard that needs a chunk
 * nobody has walked yet claims the next unclaimed chunk, walks it with its own source (all
 * the shards' sources read one shared mapping), writes every record's time to one array and
 * an entry (where its bytes are, lengths, link type, its place among the chunk's records and
 * the wire bytes before it) to the list of the shard the key pass gives it, or to the list
 * every shard reads when the key pass declines it. Every shard then reads its own list and
 * the declined one of every chunk in file order, dissecting those records; the records
 * between two of them are other shards' and move its table's clock and counters as one run
 * (their count, bytes and times), so each table sees the single table's packet numbers,
 * times and expiry decisions; of what another core wrote, a shard reads the entries of its
 * own records and the times (8 bytes a record), not an entry per record. A chunk's
 * entries are dropped once every shard has read them; at most `window` chunks are held, so
 * a slow shard stops the others from walking further ahead instead of letting entries grow.
 * The chunks' bounds are kept from the slowest shard's chunk on, so the walk's state does
 * not grow with the file either.
 *
 * A chunk boundary is a guess (fp_source_sync) until the chunk before it, itself proven,
 * ends exactly there: chunks are walked at once but made ready in file order. When the
 * chunk before a guess ends past it, its walker goes on from the true record through the
 * next chunk's bytes and that chunk's own walk is dropped (walk_chunk): a wrong guess costs
 * a walk, never a record. A chunk that declares an interface or section, or ends in an
 * error, abandons the walk: every shard then stops with an error, and the caller runs the
 * shards again reading the whole file each (or one engine, which reports a corrupt
 * capture's error after the records before it). A shard that leaves before the end
 * abandons it too, so no shard waits for one that is gone. */
#define _DEFAULT_SOURCE 1

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "../dissect/dissect.h"

enum { SLOT_FREE = 0, SLOT_WALKING, SLOT_READY };

/* Pages every shard is past go back to the kernel in steps of this many bytes: each
 * madvise(MADV_DONTNEED) flushes the TLB of every core the process runs on. */
#define RELEASE_STEP (8u << 20)

/* What one core writes per record sits in cache lines of its own: the shards' cursors and
 * the slot a walker fills shared lines with what the other shards read per record, and
 * every write took the line from their cores (issue 17: two workers' CPU 1.4-1.7x one
 * worker's for 1.18x its instructions). */
#define LINE 64

/* A shard reading entry k prefetches the first two lines of entry k + PREFETCH_ENTRIES's
 * record when it will dissect it: the walk touched them up to a window earlier. A shard
 * whose engine copies payloads (streams) prefetches the whole record, as one engine's Reader
 * does 4 KiB ahead: the walk's prefetches filled the walker's cache, and with two lines the
 * reassembly's copy of the rest missed in the owner's. */
#define PREFETCH_ENTRIES 8

/* A record one shard dissects (its own), or every shard (the key pass declined it). */
typedef struct {
    const uint8_t *data;
    uint64_t bytes;          /* the wire bytes of the chunk's records before it */
    uint32_t idx;            /* its place among the chunk's records: its time is times[idx] */
    uint32_t caplen, wirelen;
    uint16_t linktype;
    uint8_t fcs_len;
} split_entry;

typedef struct {
    split_entry *e;
    size_t n, cap;           /* cap kept across chunks */
} split_list;

typedef struct {
    uint64_t chunk;
    uint64_t end;            /* where its walk ended (past the guess when it absorbed chunks) */
    int state;
    uint32_t readers_left;   /* shards that have yet to read a ready chunk */
    split_list *lists;       /* lists[s]: shard s's records; lists[n]: the declined ones */
    int64_t *times;          /* every record's time, in file order */
    uint32_t *revs;          /* the records earlier than the one before them (time reversals) */
    size_t records, times_cap, nrevs, revs_cap; /* records and nrevs set once walked */
    uint64_t bytes;          /* the wire bytes of all its records */
} __attribute__((aligned(LINE))) split_slot;

typedef struct {
    uint64_t chunk;          /* the chunk being read (nchunks: done) */
    split_slot *slot;        /* its lists, once ready */
    const split_entry *own, *all; /* ... copied from it, so a record's read touches these lines */
    size_t n_own, k_own, n_all, k_all; /* their counts, the next entry of each */
    const int64_t *times;
    const uint32_t *revs;
    size_t nrevs, krev;      /* the reversals, the first not before the run being read */
    uint64_t g, records;     /* the chunk's first record not yet accounted, its records */
    uint64_t g_bytes, bytes; /* the wire bytes of the records before g, of all of them */
    int payloads;            /* its engine reads past the headers: prefetch whole records */
} __attribute__((aligned(LINE))) split_shard;

struct fp_split {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t n, window;
    int flags;               /* the Readers' dissection flags, for the key pass */
    uint64_t nchunks, next_walk; /* nchunks: UINT64_MAX until the last chunk's end is found */
    uint64_t *bounds;        /* chunk c is [bound(c), bound(c + 1)), found as chunks are taken; */
    uint64_t base, nbounds;  /* bounds[c - base] for c in [base, nbounds): none before the */
    uint64_t bounds_cap, chunk_bytes; /* chunk of the slowest shard (or the first not ready) */
    fp_source *sync;         /* a source over the mapping, never read, to find boundaries with */
    fp_source **src;         /* each shard's Reader source (one shared mapping; not walked) */
    fp_source **walk;        /* each shard's walker: a memory source over the mapping, made anew
                                after a walk from a wrong guess left it astray */
    const uint8_t *map;      /* the mapping */
    size_t map_len, page;
    uint64_t released;       /* the pages before it were given back */
    fp_on_error policy;
    split_slot *slots;       /* chunk c in slots[c % window] */
    split_shard *at;
    uint64_t ready_upto;     /* chunks ready, in file order (each proven by the one before) */
    /* Chunks walked by the chunk before them (their guess was wrong): [absorbed_from,
     * absorbed_to). Only the chunk becoming ready absorbs, the ones right after it, so those
     * not yet ready form one run. */
    uint64_t absorbed_from, absorbed_to;
    int abandoned;
    int walk_failed;         /* abandoned by a chunk (not by a shard leaving early) */
    uint32_t left;           /* shards that left */
    char why[sizeof ((fp_error *)0)->message]; /* an error message fits */
    size_t memory, memory_peak; /* entry buffers and bounds */
    int refs;                /* shards holding it (changed with the GIL held) */
};

static void abandon(fp_split *w, const char *why)
{
    if (!w->abandoned) {
        snprintf(w->why, sizeof w->why, "%s", why);
        w->walk_failed = 1;
    }
    w->abandoned = 1;
}

static void note_peak(fp_split *w)
{
    size_t m = __atomic_load_n(&w->memory, __ATOMIC_RELAXED);
    if (m > w->memory_peak) w->memory_peak = m;
}

/* Give back a slot's lists and times (unread: every shard read it, or left). */
static void free_entries(fp_split *w, split_slot *b)
{
    for (uint32_t j = 0; j <= w->n; j++) {
        free(b->lists[j].e);
        b->lists[j].e = NULL;
        b->lists[j].n = b->lists[j].cap = 0;
    }
    free(b->times);
    free(b->revs);
    b->times = NULL;
    b->revs = NULL;
    b->records = b->times_cap = b->nrevs = b->revs_cap = 0;
}

static int is_absorbed(const fp_split *w, uint64_t c)
{
    return c >= w->absorbed_from && c < w->absorbed_to;
}

/* Room for one more bound (w->mu held): the bounds before the slowest shard's chunk are
 * dropped when that frees a quarter of them (each bound is moved O(1) times), else the
 * array doubles (a walk absorbing chunks far ahead). 0, -1 out of memory. */
static int bound_room(fp_split *w)
{
    if (w->nbounds - w->base < w->bounds_cap) return 0;
    uint64_t low = w->ready_upto; /* chunks from it on are walked from their bounds */
    for (uint32_t i = 0; i < w->n; i++)
        if (w->at[i].chunk < low) low = w->at[i].chunk; /* its position (UINT64_MAX: left) */
    if (low > w->nbounds - 1) low = w->nbounds - 1;     /* the next sync starts at the last */
    if (low - w->base >= w->bounds_cap / 4) {
        memmove(w->bounds, w->bounds + (low - w->base), (w->nbounds - low) * sizeof *w->bounds);
        w->base = low;
        return 0;
    }
    uint64_t *b = realloc(w->bounds, 2 * w->bounds_cap * sizeof *b);
    if (b == NULL) return -1;
    __atomic_add_fetch(&w->memory, w->bounds_cap * sizeof *b, __ATOMIC_RELAXED);
    w->bounds = b;
    w->bounds_cap *= 2;
    note_peak(w);
    return 0;
}

/* bound(c) (w->mu held, or before the threads start; c >= base), found by syncing on record
 * headers about chunk_bytes after the one before; the input's size once that found none
 * (then nchunks is c). Out of memory for it abandons the walk and gives the last bound
 * found, so that no chunk is walked far. */
static uint64_t find_bound(fp_split *w, uint64_t c)
{
    while (w->nbounds <= c && w->nchunks == UINT64_MAX) {
        uint64_t last = w->bounds[w->nbounds - 1 - w->base], size = fp_source_size(w->sync);
        if (bound_room(w) < 0) {
            abandon(w, "out of memory for the chunks' bounds");
            return last;
        }
        uint64_t b = last < size ? fp_source_sync(w->sync, last + w->chunk_bytes) : size;
        if (b >= size) {
            b = size;
            w->nchunks = w->nbounds;
        }
        w->bounds[w->nbounds++ - w->base] = b;
    }
    return w->bounds[(c < w->nbounds ? c : w->nbounds - 1) - w->base];
}

fp_split *fp_split_new(fp_source *const *src, uint32_t n, uint64_t chunk_bytes, uint32_t window, int flags,
                       fp_on_error policy)
{
    uint64_t size = fp_source_size(src[0]);
    size_t map_len;
    const uint8_t *map = fp_source_mapping(src[0], &map_len);
    if (n < 2 || window < 2 || chunk_bytes == 0 || size == 0 || map == NULL || map_len != size) return NULL;
    for (uint32_t i = 1; i < n; i++) /* records of one shard's walk are read by every shard */
        if (fp_source_share_mapping(src[i], src[0]) != 1) return NULL;
    fp_split *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    w->bounds_cap = 2 * (uint64_t)window + 2; /* the held chunks' and those being walked */
    w->bounds = malloc(w->bounds_cap * sizeof *w->bounds);
    w->src = malloc(n * sizeof *w->src);
    w->slots = aligned_alloc(LINE, window * sizeof *w->slots);
    w->at = aligned_alloc(LINE, n * sizeof *w->at);
    int lists = w->slots != NULL;
    if (w->slots) memset(w->slots, 0, window * sizeof *w->slots);
    for (uint32_t i = 0; lists && i < window; i++)
        lists = (w->slots[i].lists = calloc(n + 1, sizeof *w->slots[i].lists)) != NULL;
    if (w->at) memset(w->at, 0, n * sizeof *w->at);
    w->walk = calloc(n, sizeof *w->walk);
    if (!w->bounds || !w->src || !lists || !w->at || !w->walk || pthread_mutex_init(&w->mu, NULL) != 0) {
        for (uint32_t i = 0; w->slots && i < window; i++) free(w->slots[i].lists);
        free(w->walk);
        free(w->bounds);
        free(w->src);
        free(w->slots);
        free(w->at);
        free(w);
        return NULL;
    }
    pthread_cond_init(&w->cv, NULL);
    /* Boundaries are found as chunks are taken (find_bound): found all at once, each probe
     * faulted in the pages around it, the whole file for small chunks. */
    uint64_t first[2];
    fp_error err;
    fp_source_split(src[0], 1, first);
    w->sync = fp_source_open_memory(map, map_len, policy, &err);
    w->bounds[0] = first[0];
    w->nbounds = 1;
    w->memory = w->bounds_cap * sizeof *w->bounds;
    w->chunk_bytes = chunk_bytes;
    w->nchunks = UINT64_MAX;
    w->n = n;
    w->window = window;
    w->flags = flags;
    w->refs = (int)n;
    memcpy(w->src, src, n * sizeof *src);
    if (w->sync == NULL || find_bound(w, 1) >= size) { /* one chunk: nothing to split */
        w->refs = 1;
        fp_split_unref(w);
        return NULL;
    }
    w->map = map;
    w->map_len = map_len;
    w->policy = policy;
    long page = sysconf(_SC_PAGESIZE);
    w->page = page > 0 ? (size_t)page : 4096;
    return w;
}

void fp_split_unref(fp_split *w)
{
    if (w == NULL || --w->refs > 0) return;
    for (uint32_t i = 0; i < w->window; i++) {
        free_entries(w, &w->slots[i]);
        free(w->slots[i].lists);
    }
    for (uint32_t i = 0; i < w->n; i++)
        if (w->walk[i]) fp_source_close(w->walk[i]);
    free(w->walk);
    if (w->sync) fp_source_close(w->sync);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->bounds);
    free(w->src);
    free(w->slots);
    free(w->at);
    free(w);
}

/* *p with room for one more item of `size` bytes than *cap (counted in w->memory), at most
 * `most` unless it holds that many already; NULL out of memory (*p unchanged). */
static void *grow(fp_split *w, void *p, size_t *cap, size_t size, size_t most)
{
    size_t c = *cap ? *cap * 2 : 64;
    if (c > most) c = most > *cap ? most : *cap + 1;
    void *q = realloc(p, c * size);
    if (q == NULL) return NULL;
    __atomic_add_fetch(&w->memory, (c - *cap) * size, __ATOMIC_RELAXED);
    *cap = c;
    return q;
}

/* Room for one more entry in list j of b. A record is in one list, and a full list doubles,
 * so the lists' capacities stay within twice the chunk's records (2 x `most`) but for those
 * kept from earlier chunks, whose shards' shares differ: passing that bound first trims the
 * other lists to what they hold. 0, -1 out of memory. */
static int list_room(fp_split *w, split_slot *b, uint32_t j, size_t most)
{
    split_list *l = &b->lists[j];
    size_t others = 0, limit = 2 * most;
    for (uint32_t k = 0; k <= w->n; k++) others += k == j ? 0 : b->lists[k].cap;
    if (others + (l->cap ? 2 * l->cap : 64) > limit) {
        others = 0;
        for (uint32_t k = 0; k <= w->n; k++) {
            split_list *o = &b->lists[k];
            if (k == j || o->cap == o->n) {
                others += k == j ? 0 : o->cap;
                continue;
            }
            split_entry *e = o->n ? realloc(o->e, o->n * sizeof *e) : (free(o->e), NULL);
            if (o->n && e == NULL) return -1;
            __atomic_sub_fetch(&w->memory, (o->cap - o->n) * sizeof *e, __ATOMIC_RELAXED);
            o->e = e;
            o->cap = o->n;
            others += o->n;
        }
    }
    split_entry *e = grow(w, l->e, &l->cap, sizeof *e, limit > others + l->n ? limit - others : l->n + 1);
    if (e == NULL) return -1;
    l->e = e;
    return 0;
}

/* Append the records of [start, end) read by source s to b (no lock held): 0; 1 when the
 * last one ended past `end` (the chunk after it started on a wrong guess); -1 with why in
 * *why (an error, a cut record, an interface or section declared: one engine, or the
 * workers reading the whole file each, take it from there). `first`: where b's chunk began,
 * for the bound on its entries. */
static int walk_range(fp_split *w, fp_source *s, split_slot *b, uint64_t first, uint64_t start, uint64_t end,
                      const char **why, char *msg, size_t len)
{
    if (fp_source_set_range(s, start, end, FP_KEEP_INDEX) < 0) {
        *why = "a chunk could not be set";
        return -1;
    }
    /* kept here until the walk ends: no shard reads b until it is ready */
    size_t n = b->records, most = (size_t)((end - first) / 16 + 1); /* a record takes 16 bytes at least */
    uint64_t bytes = b->bytes;
    const int flags = w->flags; /* w's lines change with its lock and condition at every chunk */
    const uint32_t shards = w->n;
    int rc = 0;
    for (;;) {
        fp_record rec;
        fp_error err;
        /* an ordinary pcap record takes the Reader's short path (~70 instructions fewer) */
        int got = fp_source_next_quick(s, &rec) ? 1 : fp_source_next(s, &rec, &err);
        if (got == 0) break;
        if (got != 1) {
            snprintf(msg, len, "%s", err.message);
            *why = msg;
            rc = -1;
            break;
        }
        if (rec.linktype > UINT16_MAX || n >= UINT32_MAX) {
            *why = "a link type past 16 bits or a chunk of 4G records";
            rc = -1;
            break;
        }
        if (n == b->times_cap) {
            int64_t *t = grow(w, b->times, &b->times_cap, sizeof *t, most);
            if (t == NULL) {
                *why = "out of memory for the chunk's entries";
                rc = -1;
                break;
            }
            b->times = t;
        }
        int shard = fp_flow_key_pass(rec.data, rec.caplen, rec.linktype, flags | FP_DISSECT_FCS(rec.fcs_len), shards);
        uint32_t j = shard < 0 ? shards : (uint32_t)shard;
        split_list *l = &b->lists[j];
        if (l->n == l->cap && list_room(w, b, j, most) < 0) {
            *why = "out of memory for the chunk's entries";
            rc = -1;
            break;
        }
        if (n && rec.ts_ns < b->times[n - 1]) { /* runs across it are walked packet by packet */
            if (b->nrevs == b->revs_cap) {
                uint32_t *r = grow(w, b->revs, &b->revs_cap, sizeof *r, most);
                if (r == NULL) {
                    *why = "out of memory for the chunk's entries";
                    rc = -1;
                    break;
                }
                b->revs = r;
            }
            b->revs[b->nrevs++] = (uint32_t)n;
        }
        b->times[n] = rec.ts_ns;
        split_entry *e = &l->e[l->n++];
        e->data = rec.data;
        e->bytes = bytes;
        e->idx = (uint32_t)n;
        e->caplen = rec.caplen;
        e->wirelen = rec.wirelen;
        e->linktype = (uint16_t)rec.linktype;
        e->fcs_len = rec.fcs_len;
        bytes += rec.wirelen;
        n++;
    }
    b->records = n;
    b->bytes = bytes;
    if (rc < 0) return -1;
    if (!fp_source_range_clean(s)) {
        *why = "a chunk declared an interface or section, or ended in an error";
        return -1;
    }
    return fp_source_position(s) != end && end < fp_source_size(s);
}

/* Empty b's lists for a walk (their room is kept). */
static void reset_slot(fp_split *w, split_slot *b)
{
    for (uint32_t j = 0; j <= w->n; j++) b->lists[j].n = 0;
    b->records = b->nrevs = 0;
    b->bytes = 0;
}

/* Walk chunk c into b with shard i's source, then (w->mu held again) make it ready in file
 * order. A chunk is walked from a guessed boundary, proven only when the chunk before it,
 * itself proven, ends exactly there. When it does not (its last record runs past the
 * guess), its walker goes on through the next chunk's bytes from where that record ends,
 * the true next record, and that chunk is absorbed: its own walk (from the wrong place) is
 * dropped, and its walker's source, left wherever the wrong chain took it, walks no more. */
static void walk_chunk(fp_split *w, uint32_t i, uint64_t c, split_slot *b)
{
    char msg[sizeof w->why];
    const char *why = NULL;
    int absorbed = is_absorbed(w, c), rc = 0;
    uint64_t start = find_bound(w, c), end = find_bound(w, c + 1);
    pthread_mutex_unlock(&w->mu);
    reset_slot(w, b);
    fp_source *s = w->walk[i];
    if (s == NULL) { /* the first walk, or the one after a wrong guess */
        fp_error err;
        s = w->walk[i] = fp_source_open_memory(w->map, w->map_len, w->policy, &err);
        if (s == NULL) {
            snprintf(msg, sizeof msg, "%s", err.message);
            why = msg;
            rc = -1;
        }
    }
    if (!absorbed && rc == 0)
        rc = walk_range(w, s, b, start, start, end, &why, msg, sizeof msg);
    if (rc >= 0 && fp_source_lost(w->src[i])) { /* the file shrank under us: its pages read as zeros */
        why = "the file was truncated while it was read";
        rc = -1;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->abandoned && w->ready_upto != c) pthread_cond_wait(&w->cv, &w->mu);
    if (is_absorbed(w, c)) { /* the chunk before it walked these bytes from a true record */
        reset_slot(w, b);
        rc = 0;
        if (!absorbed && s) { /* its walk from the wrong guess left the walker anywhere */
            fp_source_close(s);
            w->walk[i] = NULL;
        }
    } else if (rc < 0) {
        abandon(w, why);
    }
    if (rc == 1) /* the run of chunks absorbed before c is behind ready_upto: done with */
        w->absorbed_from = w->absorbed_to = c + 1;
    for (uint64_t k = c + 1; rc == 1 && !w->abandoned; k++) {
        uint64_t pos = fp_source_position(s), next = find_bound(w, k + 1);
        w->absorbed_to = k + 1;
        if (k + 1 < w->nchunks && pos >= next) { /* one record spans chunk k */
            rc = pos > next;
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        rc = walk_range(w, s, b, start, pos, next, &why, msg, sizeof msg);
        pthread_mutex_lock(&w->mu);
        if (rc < 0) abandon(w, why);
    }
    b->end = s && !is_absorbed(w, c) ? fp_source_position(s) : start;
    note_peak(w);
    if (!w->abandoned) {
        b->state = SLOT_READY;
        b->readers_left = w->n;
        w->ready_upto = c + 1;
    }
    pthread_cond_broadcast(&w->cv);
}

/* With w->mu held: make shard i's current chunk ready, walking chunks while it is not.
 * 0 (p->slot set), -1 abandoned, 1 when it would wait for another shard and `wait` is 0.
 * Returns with w->mu held. */
static int acquire(fp_split *w, uint32_t i, split_shard *p, int wait)
{
    for (;;) {
        if (w->abandoned) return -1;
        split_slot *sl = &w->slots[p->chunk % w->window];
        if (sl->state == SLOT_READY && sl->chunk == p->chunk) {
            p->slot = sl;
            p->own = sl->lists[i].e;
            p->n_own = sl->lists[i].n;
            p->all = sl->lists[w->n].e;
            p->n_all = sl->lists[w->n].n;
            p->k_own = p->k_all = 0;
            p->times = sl->times;
            p->revs = sl->revs;
            p->nrevs = sl->nrevs;
            p->krev = 0;
            p->g = p->g_bytes = 0;
            p->records = sl->records;
            p->bytes = sl->bytes;
            return 0;
        }
        split_slot *b = &w->slots[w->next_walk % w->window];
        if (w->next_walk < w->nchunks && b->state == SLOT_FREE) {
            uint64_t c = w->next_walk++;
            b->chunk = c;
            b->state = SLOT_WALKING;
            walk_chunk(w, i, c, b);
            continue;
        }
        if (!wait) return 1;
        pthread_cond_wait(&w->cv, &w->mu);
    }
}

/* Whether the records [p->g, end) are in time order: no reversal after the first. */
static int run_in_order(split_shard *p, uint64_t end)
{
    while (p->krev < p->nrevs && p->revs[p->krev] <= p->g) p->krev++;
    return p->krev == p->nrevs || p->revs[p->krev] >= end;
}

int fp_split_next(fp_split *w, uint32_t i, fp_record *rec, int *shard, fp_split_run *run, fp_error *err, int wait)
{
    split_shard *p = &w->at[i];
    for (;;) {
        if (p->g < p->records) { /* its next record (own or declined, the earlier), or the chunk's end */
            const split_entry *x = p->k_own < p->n_own ? &p->own[p->k_own] : NULL;
            int declined = p->k_all < p->n_all && (x == NULL || p->all[p->k_all].idx < x->idx);
            if (declined) x = &p->all[p->k_all];
            uint64_t at = x ? x->idx : p->records, bytes = x ? x->bytes : p->bytes;
            run->ts = p->times + p->g;
            run->n = (uint32_t)(at - p->g);
            run->bytes = bytes - p->g_bytes;
            run->in_order = run->n < 2 || run_in_order(p, at);
            if (x == NULL) {
                p->g = at;
                p->g_bytes = bytes;
                return 3;
            }
            if (declined) {
                p->k_all++;
            } else if (++p->k_own + PREFETCH_ENTRIES < p->n_own) { /* walked up to a window earlier */
                const split_entry *y = &p->own[p->k_own + PREFETCH_ENTRIES];
                if (p->payloads) {
                    uintptr_t a = (uintptr_t)y->data & ~(uintptr_t)(LINE - 1), end = (uintptr_t)y->data + y->caplen;
                    for (; a < end; a += LINE) __builtin_prefetch((const void *)a);
                } else {
                    __builtin_prefetch(y->data);
                    __builtin_prefetch(y->data + 64);
                }
            }
            memset(rec, 0, sizeof *rec);
            rec->data = x->data;
            rec->ts_ns = p->times[at];
            rec->has_ts = 1;
            rec->caplen = x->caplen;
            rec->wirelen = x->wirelen;
            rec->linktype = x->linktype;
            rec->fcs_len = x->fcs_len;
            *shard = declined ? -1 : (int)i;
            p->g = at + 1;
            p->g_bytes = bytes + x->wirelen;
            return 1;
        }
        pthread_mutex_lock(&w->mu);
        if (p->slot != NULL) { /* read: the last shard to read it frees the slot and its pages */
            uint64_t from = w->released, to = 0;
            if (--p->slot->readers_left == 0) {
                /* chunks are freed in file order: the pages before the end of this one are read */
                to = p->slot->end & ~(uint64_t)(w->page - 1); /* the next chunk's first page stays */
                if (to >= w->released + RELEASE_STEP)
                    w->released = to;
                else
                    to = 0;
                p->slot->state = SLOT_FREE;
                pthread_cond_broadcast(&w->cv);
            }
            p->slot = NULL;
            p->g = p->records = 0;
            p->chunk++;
            if (to) { /* unlocked: zapping 8 MiB of page tables and flushing the TLBs takes a while */
                pthread_mutex_unlock(&w->mu);
                fp_source_release_pages(w->src[i], w->map + from, w->map + to);
                pthread_mutex_lock(&w->mu);
            }
        }
        if (p->chunk >= w->nchunks) {
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
        int rc = acquire(w, i, p, wait);
        if (rc > 0) {
            pthread_mutex_unlock(&w->mu);
            return 2;
        }
        if (rc < 0) {
            memset(err, 0, sizeof *err);
            err->kind = FP_ERR_FORMAT;
            snprintf(err->message, sizeof err->message, "split walk abandoned: %.200s", w->why);
            pthread_mutex_unlock(&w->mu);
            return -1;
        }
        pthread_mutex_unlock(&w->mu);
    }
}

void fp_split_read_payloads(fp_split *w, uint32_t i) { w->at[i].payloads = 1; }

void fp_split_leave(fp_split *w, uint32_t i)
{
    pthread_mutex_lock(&w->mu);
    split_shard *p = &w->at[i];
    if (p->chunk < w->nchunks && !w->abandoned) { /* the others would wait for it */
        w->abandoned = 1;
        snprintf(w->why, sizeof w->why, "shard %u stopped before the end", i);
    }
    if (p->chunk != UINT64_MAX && ++w->left == w->n) { /* the entries go before the merged records do */
        for (uint32_t k = 0; k < w->window; k++) free_entries(w, &w->slots[k]);
        w->memory = w->bounds_cap * sizeof *w->bounds;
    }
    p->chunk = UINT64_MAX; /* left: a second leave changes nothing */
    p->slot = NULL;
    p->g = p->records = 0;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

const char *fp_split_abandoned(fp_split *w, size_t *memory_peak)
{
    pthread_mutex_lock(&w->mu);
    const char *why = w->walk_failed ? w->why : NULL;
    *memory_peak = w->memory_peak;
    pthread_mutex_unlock(&w->mu);
    return why;
}

int fp_split_is_abandoned(fp_split *w)
{
    pthread_mutex_lock(&w->mu);
    int r = w->abandoned;
    pthread_mutex_unlock(&w->mu);
    return r;
}

uint64_t fp_split_position(fp_split *w, uint32_t i)
{
    pthread_mutex_lock(&w->mu);
    uint64_t c = w->at[i].chunk, pos = c < w->nbounds ? w->bounds[c - w->base] : fp_source_size(w->sync);
    pthread_mutex_unlock(&w->mu);
    return pos;
}

int fp_split_entries(fp_source *s, uint32_t shards, int flags, fp_feed_entry **out, size_t *n, fp_error *err)
{
    size_t map_len, cap = 0;
    const uint8_t *map = fp_source_mapping(s, &map_len);
    fp_feed_entry *e = NULL;
    *out = NULL;
    *n = 0;
    if (map == NULL) {
        memset(err, 0, sizeof *err);
        err->kind = FP_ERR_FORMAT;
        snprintf(err->message, sizeof err->message, "not a mapped file");
        return -1;
    }
    for (;;) {
        fp_record rec;
        int rc = fp_source_next(s, &rec, err);
        if (rc == 0) break;
        if (rc != 1) {
            free(e);
            *n = 0;
            return -1;
        }
        if (*n == cap) {
            size_t c = cap ? cap * 2 : 4096;
            fp_feed_entry *g = realloc(e, c * sizeof *g);
            if (g == NULL) {
                free(e);
                *n = 0;
                return -2;
            }
            e = g;
            cap = c;
        }
        if (rec.data < map || rec.caplen > map_len || (size_t)(rec.data - map) > map_len - rec.caplen) {
            free(e); /* a record copied out of the mapping: no offset gives it back */
            *n = 0;
            memset(err, 0, sizeof *err);
            err->kind = FP_ERR_FORMAT;
            snprintf(err->message, sizeof err->message, "a record outside the file's mapping");
            return -1;
        }
        fp_feed_entry *x = &e[(*n)++];
        x->offset = (uint64_t)(rec.data - map);
        x->ts_ns = rec.ts_ns;
        x->caplen = rec.caplen;
        x->wirelen = rec.wirelen;
        x->linktype = rec.linktype;
        x->fcs_len = rec.fcs_len;
        x->pad = 0;
        x->shard = (int16_t)fp_flow_key_pass(rec.data, rec.caplen, rec.linktype, flags | FP_DISSECT_FCS(rec.fcs_len),
                                            shards);
    }
    *out = e;
    return 0;
}
