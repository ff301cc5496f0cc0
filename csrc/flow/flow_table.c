/* The flow table: open addressing (linear probing, backward-shift deletion) over
 * indices into a pool of flow records, keyed by a 64-bit hash of the canonical key. The
 * pool grows by blocks of POOL_BLOCK records (never moved: no realloc copy doubling the
 * memory at a growth, and the budget can stop growth one block at a time). Its records are
 * whole (sizeof(fp_flow)) or, for an engine that hands out no flows (cfg.no_hints), cores
 * of FP_FLOW_CORE_SIZE bytes: fp.dns keeps a third of a flow's bytes per connection.
 *
 * Expiry without scanning the table: flows sit on an LRU list (moved to the tail on
 * each packet), so idle flows are found at its head; closed TCP flows also sit on a
 * closing list in close order and leave after `close_grace_ns` (so the final ACK of
 * a FIN exchange, or packets racing a RST, are still counted). The active timeout is
 * checked when a flow's packet arrives: the flow is emitted and a new one continues
 * in place with the same orientation. "Now" is the largest packet time seen.
 * Memory: every allocation of the engine (this table and the extension's state) is
 * charged to one budget (budget.h). At max_flows, when a new flow would take the budget
 * past max_memory, and after any packet that left it past max_memory, the least recently
 * seen flows are evicted (emitted with expiration 'evicted' and the 'evicted' anomaly,
 * counted) until it fits; a flow whose own state exceeds the budget is evicted last.
 * Sharded (cfg.shards >= 2, one table per worker): each table reads every packet, so its
 * clock, expiry decisions and fragment table are the single table's, and keeps the flows
 * whose key hashes to its shard. Every emission is tagged with its place in the single
 * table's output (fp_flow_order: the packet, the phase within it, the LRU or closing-list
 * position), so merging the shards' outputs by tag gives the single table's order. */
#include <stdlib.h>
#include <string.h>

#include "flow.h"

#define POOL_SHIFT 8
#define POOL_BLOCK (1u << POOL_SHIFT)
#define POOL_MASK (POOL_BLOCK - 1)
_Static_assert(FP_FLOW_CORE_SIZE % _Alignof(fp_flow) == 0, "core records in a block stay aligned");
#define FLOW(t, i) \
    (*(fp_flow *)(void *)((t)->blocks[(i) >> POOL_SHIFT] + (size_t)((i) & POOL_MASK) * (t)->rec_size))

/* A TCP flow's sequence state (fp_flow.tcp), or a link in the TCP pool's free list. */
typedef union tcp_slot {
    fp_flow_tcp tcp;
    union tcp_slot *next;
} tcp_slot;

typedef struct {
    uint32_t idx1; /* pool index + 1; 0 = empty */
    uint32_t tag;  /* high hash bits: most mismatches skip the record */
} slot;

/* Packets that came older than the clock, as intervals [ts, until) (until = the clock then),
 * kept while they can matter: a window-minimum deque (ts ascending from the front). */
typedef struct {
    int64_t ts, until;
} reversal;
typedef struct {
    reversal *v;
    uint32_t head, n, cap; /* ring buffer */
} reversal_queue;

struct fp_flow_table {
    fp_flow_config cfg;
    fp_flow_emit_fn emit;
    fp_flow_packet_fn on_packet;
    fp_flow_ext_free_fn ext_free;
    fp_flow_tick_fn tick;
    void *ctx;
    slot *slots;
    uint64_t slot_cap; /* power of two */
    unsigned char **blocks;   /* pool: record i at blocks[i >> POOL_SHIFT] + (i & POOL_MASK) * rec_size */
    size_t rec_size;          /* sizeof(fp_flow), or FP_FLOW_CORE_SIZE with cfg.no_hints */
    uint32_t nblocks, blocks_cap;
    uint32_t pool_cap, pool_used, free_head;
    tcp_slot **tcp_blocks;    /* the TCP pool: blocks of POOL_BLOCK, never moved, never shrunk */
    uint32_t tcp_nblocks, tcp_blocks_cap, tcp_used; /* tcp_used: taken in the last block */
    tcp_slot *tcp_free;
    uint64_t count;
    uint32_t lru_head, lru_tail, close_head, close_tail;
    int64_t now;
    int has_now;
    int64_t due_ns;           /* no expiry walk can expire a flow before it (expire_due) */
    uint64_t next_id;
    uint64_t pkt;             /* input position of the packet being added */
    fp_flow_order order;      /* of the emission in progress */
    uint64_t *creations;      /* sharded: input positions of this shard's flow creations */
    uint64_t ncreations, creations_cap;
    reversal_queue rev_idle, rev_close; /* sharded: against the idle and the close-grace cut */
    fp_frag_table frags;
    fp_flow_stats stats;
    fp_budget *b;         /* cfg.budget, or own_budget */
    fp_budget own_budget;
};

#define MEM_NAME(name, str) str,
const char *const fp_mem_component_names[FP_MEM_COUNT] = {FP_MEM_COMPONENTS(MEM_NAME)};
#undef MEM_NAME

/* ---- accounting ------------------------------------------------------- */

static void update_memory(fp_flow_table *t)
{
    t->stats.memory_bytes = t->b->total;
    if (t->count > t->stats.max_flows_seen) t->stats.max_flows_seen = t->count;
}

/* Hints are allocated by flow_hints.c; the table charges them when they appear. */
static void hints_charge(fp_flow_table *t, fp_flow *f) { fp_budget_charge(t->b, FP_MEM_FLOWS, fp_alloc_size(f->hints)); }
static void hints_credit(fp_flow_table *t, fp_flow *f) { fp_budget_credit(t->b, FP_MEM_FLOWS, fp_alloc_size(f->hints)); }

/* ---- intrusive lists ---------------------------------------------------- */

#define LIST_UNLINK(t, f, idx, prev, next, head, tail)                  \
    do {                                                                \
        if ((f)->prev != FP_FLOW_NONE) FLOW((t), (f)->prev).next = (f)->next; \
        else (t)->head = (f)->next;                                     \
        if ((f)->next != FP_FLOW_NONE) FLOW((t), (f)->next).prev = (f)->prev; \
        else (t)->tail = (f)->prev;                                     \
        (f)->prev = (f)->next = FP_FLOW_NONE;                           \
    } while (0)

#define LIST_APPEND(t, f, idx, prev, next, head, tail)                  \
    do {                                                                \
        (f)->prev = (t)->tail;                                          \
        (f)->next = FP_FLOW_NONE;                                       \
        if ((t)->tail != FP_FLOW_NONE) FLOW((t), (t)->tail).next = (idx); \
        else (t)->head = (idx);                                         \
        (t)->tail = (idx);                                              \
    } while (0)

/* ---- time reversals (sharded tables) -------------------------------------------------
 * One table stops an expiry walk at the first flow (in LRU or closing order) that is not due.
 * A shard sees only its own flows, so it stops at the same place only when no flow before a
 * due one in that order is itself not due, which needs a packet older than the clock: a flow
 * G whose last packet came after a newer one, F's, with G's time <= cut < F's. Such a packet
 * is an interval [its time, the clock then); while the cut lies inside a live one, the order
 * of expiry may differ from the single table's, and the expiry is counted in
 * reversal_risks (every shard counts the same), so the caller can run one table instead. */
static int reversal_push(fp_flow_table *t, reversal_queue *q, int64_t ts, int64_t until)
{
    while (q->n && q->v[(q->head + q->n - 1) % q->cap].ts >= ts) q->n--; /* dominated */
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 64;
        reversal *v = fp_budget_malloc(t->b, FP_MEM_FLOWS, cap * sizeof *v);
        if (v == NULL) return -1;
        for (uint32_t i = 0; i < q->n; i++) v[i] = q->v[(q->head + i) % q->cap];
        fp_budget_free(t->b, FP_MEM_FLOWS, q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->n++) % q->cap] = (reversal){ts, until};
    return 0;
}

/* 1 when some live reversal interval holds the cut (intervals ending by it are dropped). */
static int reversal_at(reversal_queue *q, int64_t cut)
{
    while (q->n && q->v[q->head].until <= cut) {
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    return q->n && q->v[q->head].ts <= cut;
}

static void note_reversal(fp_flow_table *t, int64_t ts_ns)
{
    t->stats.time_reversals++;
    t->due_ns = INT64_MIN; /* the lists are out of time order from now on: walk on every tick */
    if (t->cfg.shards < 2) return;
    if ((t->cfg.idle_timeout_ns > 0 && reversal_push(t, &t->rev_idle, ts_ns, t->now) < 0) ||
        reversal_push(t, &t->rev_close, ts_ns, t->now) < 0)
        t->stats.reversal_risks++; /* cannot track it: assume it matters */
}

/* Before an expiry walk of a sharded table: may it stop elsewhere than the single table's? */
static void check_reversals(fp_flow_table *t)
{
    if (t->cfg.shards < 2) return;
    int risk = reversal_at(&t->rev_close, t->now - t->cfg.close_grace_ns);
    if (t->cfg.idle_timeout_ns > 0) risk |= reversal_at(&t->rev_idle, t->now - t->cfg.idle_timeout_ns);
    t->stats.reversal_risks += (uint64_t)risk;
}

/* Phases of one packet's emissions, in the order fp_flow_table_add runs them. */
enum { ORD_IDLE = 0, ORD_CLOSE, ORD_TICK, ORD_OWN, ORD_CREATE_EVICT, ORD_PACKET, ORD_BUDGET_EVICT };
static void set_order(fp_flow_table *t, unsigned phase, uint64_t position)
{
    t->order.rank = (uint64_t)phase << 60 | position;
}

static void lru_touch(fp_flow_table *t, fp_flow *f, uint32_t idx)
{
    if (t->lru_tail == idx) return;
    LIST_UNLINK(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
    LIST_APPEND(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
}

/* ---- hash table ----------------------------------------------------------- */

static int slots_resize(fp_flow_table *t, uint64_t cap)
{
    slot *s = fp_budget_calloc(t->b, FP_MEM_FLOWS, cap, sizeof *s);
    if (s == NULL) return -1;
    for (uint64_t i = 0; i < t->slot_cap; i++) {
        if (!t->slots[i].idx1) continue;
        uint64_t j = FLOW(t, t->slots[i].idx1 - 1).hash & (cap - 1);
        while (s[j].idx1) j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    fp_budget_free(t->b, FP_MEM_FLOWS, t->slots);
    t->slots = s;
    t->slot_cap = cap;
    return 0;
}

static uint32_t table_find(const fp_flow_table *t, const fp_flow_key *k, uint64_t h)
{
    uint64_t mask = t->slot_cap - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
        const slot *s = &t->slots[i];
        if (!s->idx1) return FP_FLOW_NONE;
        if (s->tag == tag && memcmp(&FLOW(t, s->idx1 - 1).key, k, sizeof *k) == 0) return s->idx1 - 1;
    }
}

static void table_put(fp_flow_table *t, uint32_t idx)
{
    uint64_t mask = t->slot_cap - 1, h = FLOW(t, idx).hash;
    uint64_t i = h & mask;
    while (t->slots[i].idx1) i = (i + 1) & mask;
    t->slots[i].idx1 = idx + 1;
    t->slots[i].tag = (uint32_t)(h >> 32);
}

/* Linear-probing deletion by backward shift: no tombstones, probe chains stay short. */
static void table_remove(fp_flow_table *t, uint32_t idx)
{
    uint64_t mask = t->slot_cap - 1;
    uint64_t i = FLOW(t, idx).hash & mask;
    while (t->slots[i].idx1 != idx + 1) i = (i + 1) & mask;
    for (uint64_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        if (!t->slots[j].idx1) break;
        uint64_t home = FLOW(t, t->slots[j].idx1 - 1).hash & mask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].idx1 = 0;
}

/* ---- records ------------------------------------------------------------ */

/* The pool may take one more block: within max_flows and, with a budget, within
 * FLOWS_SHARE of it (the pool never shrinks: the rest stays for per-connection state). */
#define FLOWS_SHARE(limit) ((limit) / 4 * 3)
static int pool_can_grow(const fp_flow_table *t)
{
    if (t->pool_cap >= t->cfg.max_flows || t->pool_cap >= 0xFFFFFFFFu - POOL_BLOCK) return 0;
    const fp_budget *b = t->b;
    if (!b->limit || t->nblocks == 0) return 1; /* one block whatever the budget */
    return b->bytes[FP_MEM_FLOWS] + POOL_BLOCK * t->rec_size <= FLOWS_SHARE(b->limit);
}

static uint32_t pool_take(fp_flow_table *t)
{
    if (t->free_head != FP_FLOW_NONE) {
        uint32_t idx = t->free_head;
        t->free_head = FLOW(t, idx).lru_next;
        return idx;
    }
    if (t->pool_used == t->pool_cap) {
        if (!pool_can_grow(t)) return FP_FLOW_NONE;
        if (t->nblocks == t->blocks_cap) {
            uint32_t cap = t->blocks_cap ? t->blocks_cap * 2 : 16;
            unsigned char **bl = fp_budget_realloc(t->b, FP_MEM_FLOWS, t->blocks, cap * sizeof *bl);
            if (bl == NULL) return FP_FLOW_NONE;
            t->blocks = bl;
            t->blocks_cap = cap;
        }
        unsigned char *block = fp_budget_malloc(t->b, FP_MEM_FLOWS, POOL_BLOCK * t->rec_size);
        if (block == NULL) return FP_FLOW_NONE;
        t->blocks[t->nblocks++] = block;
        t->pool_cap += POOL_BLOCK;
    }
    return t->pool_used++;
}

/* The TCP pool may take one more block (as pool_can_grow: records and TCP state share FLOWS_SHARE). */
static int tcp_pool_can_grow(const fp_flow_table *t)
{
    const fp_budget *b = t->b;
    if (!b->limit || t->tcp_nblocks == 0) return 1;
    return b->bytes[FP_MEM_FLOWS] + POOL_BLOCK * sizeof(tcp_slot) <= FLOWS_SHARE(b->limit);
}

static int tcp_pool_full(const fp_flow_table *t)
{
    return t->tcp_free == NULL && (t->tcp_nblocks == 0 || t->tcp_used == POOL_BLOCK) && !tcp_pool_can_grow(t);
}

/* Give a TCP flow its sequence state (zeroed); without it (allocation failure) the flow
 * keeps its counters, flags and states but not its sequence view, and says so. */
static void tcp_attach(fp_flow_table *t, fp_flow *f)
{
    tcp_slot *s = t->tcp_free;
    if (s != NULL) {
        t->tcp_free = s->next;
    } else {
        if (t->tcp_nblocks == 0 || t->tcp_used == POOL_BLOCK) {
            if (t->tcp_nblocks == t->tcp_blocks_cap) {
                uint32_t cap = t->tcp_blocks_cap ? t->tcp_blocks_cap * 2 : 16;
                tcp_slot **bl = fp_budget_realloc(t->b, FP_MEM_FLOWS, t->tcp_blocks, cap * sizeof *bl);
                if (bl == NULL) goto failed;
                t->tcp_blocks = bl;
                t->tcp_blocks_cap = cap;
            }
            tcp_slot *block = fp_budget_malloc(t->b, FP_MEM_FLOWS, POOL_BLOCK * sizeof *block);
            if (block == NULL) goto failed;
            t->tcp_blocks[t->tcp_nblocks++] = block;
            t->tcp_used = 0;
        }
        s = &t->tcp_blocks[t->tcp_nblocks - 1][t->tcp_used++];
    }
    memset(&s->tcp, 0, sizeof s->tcp);
    f->tcp = &s->tcp;
    return;
failed:
    f->flow_anomalies |= FP_FLOW_ANOM_ALLOC_FAILED;
}

static void tcp_detach(fp_flow_table *t, fp_flow *f)
{
    if (f->tcp == NULL) return;
    tcp_slot *s = (tcp_slot *)(void *)f->tcp;
    s->next = t->tcp_free;
    t->tcp_free = s;
    f->tcp = NULL;
}

static void ext_drop(fp_flow_table *t, fp_flow *f)
{
    if (f->ext && t->ext_free) t->ext_free(t->ctx, f->ext);
    f->ext = NULL;
}

/* Hand a flow to the consumer (which may take its hints and ext), then drop what is left. */
static void emit_flow(fp_flow_table *t, fp_flow *f)
{
    tcp_detach(t, f);   /* only the table's packets need it */
    hints_credit(t, f); /* from here on they belong to the consumer */
    if (t->emit) t->emit(t->ctx, f);
    free(f->hints);
    f->hints = NULL;
    ext_drop(t, f);
}

/* Emit a flow and free its record. */
static void flow_expire(fp_flow_table *t, uint32_t idx, fp_expiration why)
{
    fp_flow *f = &FLOW(t, idx);
    f->expiration = (uint8_t)why;
    if (why == FP_EXP_EVICTED) f->flow_anomalies |= FP_FLOW_ANOM_EVICTED;
    t->stats.expired[why]++;
    LIST_UNLINK(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
    if (f->closing) LIST_UNLINK(t, f, idx, close_prev, close_next, close_head, close_tail);
    table_remove(t, idx);
    emit_flow(t, f);
    t->count--;
    f->lru_next = t->free_head;
    t->free_head = idx;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return b > 0 && a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Each list's head stopped the walk: it is due first. Without a time reversal the lists are
 * in time order and every flow joining them later has a time at or after the clock, so
 * until the earlier deadline a walk would stop at once (it reads both heads, two cache
 * misses, on every tick of the clock: every packet of every shard table). */
static void note_due(fp_flow_table *t)
{
    int64_t idle = t->cfg.idle_timeout_ns, due = INT64_MAX;
    if (t->stats.time_reversals) {
        t->due_ns = INT64_MIN;
        return;
    }
    if (idle > 0)
        due = add_sat(t->lru_head != FP_FLOW_NONE ? FLOW(t, t->lru_head).last_ns : t->now, idle);
    int64_t close = add_sat(t->close_head != FP_FLOW_NONE ? FLOW(t, t->close_head).close_ns : t->now,
                            t->cfg.close_grace_ns);
    t->due_ns = close < due ? close : due;
}

static void expire_due(fp_flow_table *t)
{
    if (t->now < t->due_ns) return;
    check_reversals(t);
    int64_t idle = t->cfg.idle_timeout_ns;
    while (idle > 0 && t->lru_head != FP_FLOW_NONE) {
        fp_flow *f = &FLOW(t, t->lru_head);
        if (t->now - f->last_ns < idle) break;
        set_order(t, ORD_IDLE, f->last_pkt);
        flow_expire(t, t->lru_head, f->closing ? (fp_expiration)f->closing : FP_EXP_IDLE);
    }
    while (t->close_head != FP_FLOW_NONE) {
        fp_flow *f = &FLOW(t, t->close_head);
        if (t->now - f->close_ns < t->cfg.close_grace_ns) break;
        set_order(t, ORD_CLOSE, f->close_pkt);
        flow_expire(t, t->close_head, (fp_expiration)f->closing);
    }
    note_due(t);
}

static void tick(fp_flow_table *t)
{
    if (t->tick == NULL) return;
    set_order(t, ORD_TICK, 0);
    t->tick(t->ctx, t->now);
}

/* The budget is exceeded and evicting can give bytes back. */
static int budget_wants_eviction(const fp_flow_table *t)
{
    return fp_budget_over(t->b) && fp_budget_evictable(t->b) > 0;
}

/* One more flow would pass max_flows, find no record (or, for TCP, no sequence state) the
 * pools may grow to, need a hash table doubling past the budget, or join a budget already
 * exceeded. */
static int must_evict_to_create(const fp_flow_table *t, int tcp)
{
    if (t->count >= t->cfg.max_flows) return 1;
    const fp_budget *b = t->b;
    if (!b->limit) return 0;
    if (t->free_head == FP_FLOW_NONE && t->pool_used == t->pool_cap && !pool_can_grow(t)) return 1;
    if (tcp && !t->cfg.no_hints && tcp_pool_full(t)) return 1;
    if ((t->count + 1) * 2 > t->slot_cap && b->bytes[FP_MEM_FLOWS] + t->slot_cap * sizeof(slot) > b->limit)
        return 1;
    return budget_wants_eviction(t);
}

/* After a packet left the budget exceeded: evict the least recently seen flows, then the
 * current flow itself if its own state is what is left over. */
static void enforce_budget(fp_flow_table *t, uint32_t current)
{
    while (budget_wants_eviction(t) && t->lru_head != current) {
        set_order(t, ORD_BUDGET_EVICT, FLOW(t, t->lru_head).last_pkt);
        flow_expire(t, t->lru_head, FP_EXP_EVICTED);
    }
    if (budget_wants_eviction(t) && FLOW(t, current).ext) {
        set_order(t, ORD_BUDGET_EVICT, UINT64_MAX >> 4);
        flow_expire(t, current, FP_EXP_EVICTED);
    }
}

/* Sharded tables remember where they created flows (the ids are renumbered at the merge). */
static int note_creation(fp_flow_table *t)
{
    if (t->cfg.shards < 2) return 0;
    if (t->ncreations == t->creations_cap) {
        uint64_t cap = t->creations_cap ? t->creations_cap * 2 : 1024;
        uint64_t *c = fp_budget_realloc(t->b, FP_MEM_FLOWS, t->creations, cap * sizeof *c);
        if (c == NULL) return -1;
        t->creations = c;
        t->creations_cap = cap;
    }
    t->creations[t->ncreations++] = t->pkt;
    return 0;
}

static void record_init(fp_flow_table *t, fp_flow *f, const fp_flow_packet *p)
{
    if (t->cfg.no_hints) fp_flow_record_init_core(f, p, t->next_id++, t->cfg.bidirectional);
    else fp_flow_record_init(f, p, t->next_id++, t->cfg.bidirectional);
}

static uint32_t flow_create(fp_flow_table *t, const fp_flow_packet *p, uint64_t h)
{
    while (t->count && must_evict_to_create(t, p->is_tcp)) {
        set_order(t, ORD_CREATE_EVICT, FLOW(t, t->lru_head).last_pkt);
        flow_expire(t, t->lru_head, FP_EXP_EVICTED);
    }
    if ((t->count + 1) * 2 > t->slot_cap && slots_resize(t, t->slot_cap * 2) < 0) return FP_FLOW_NONE;
    if (note_creation(t) < 0) return FP_FLOW_NONE;
    uint32_t idx = pool_take(t);
    if (idx == FP_FLOW_NONE) {
        t->ncreations -= t->creations != NULL;
        return FP_FLOW_NONE;
    }
    fp_flow *f = &FLOW(t, idx);
    record_init(t, f, p);
    f->create_pkt = t->pkt;
    f->hash = h;
    table_put(t, idx);
    LIST_APPEND(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
    t->count++;
    t->stats.flows_created++;
    return idx;
}

/* Active timeout: emit the flow so far, continue it in place (same slot, orientation). */
static void flow_restart(fp_flow_table *t, uint32_t idx, const fp_flow_packet *p)
{
    fp_flow *f = &FLOW(t, idx);
    if (note_creation(t) < 0) {
        t->stats.oom++;
        return;
    }
    f->expiration = FP_EXP_ACTIVE;
    t->stats.expired[FP_EXP_ACTIVE]++;
    if (f->closing) LIST_UNLINK(t, f, idx, close_prev, close_next, close_head, close_tail);
    emit_flow(t, f);
    uint64_t hash = f->hash, last_pkt = f->last_pkt;
    uint32_t lru_prev = f->lru_prev, lru_next = f->lru_next;
    uint8_t client_is_b = f->client_is_b;
    record_init(t, f, p);
    f->client_is_b = client_is_b;
    if (f->flipped) { /* the orientation is inherited, not inferred from this packet */
        f->flipped = 0;
        if (!t->cfg.no_hints) f->history[0] = 0; /* a core record has no history */
    }
    f->hash = hash;
    f->create_pkt = t->pkt;
    f->last_pkt = last_pkt;
    f->lru_prev = lru_prev;
    f->lru_next = lru_next;
    t->stats.flows_created++;
}

/* ---- public -------------------------------------------------------------- */

fp_flow_table *fp_flow_table_new(const fp_flow_config *cfg, fp_flow_emit_fn emit, void *ctx)
{
    fp_flow_table *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->cfg = *cfg;
    t->due_ns = INT64_MIN;
    if (t->cfg.max_flows == 0) t->cfg.max_flows = 1;
    t->rec_size = cfg->no_hints ? FP_FLOW_CORE_SIZE : sizeof(fp_flow);
    t->b = cfg->budget ? cfg->budget : &t->own_budget;
    t->b->limit = cfg->max_memory;
    fp_budget_charge(t->b, FP_MEM_ENGINE, fp_alloc_size(t));
    t->emit = emit;
    t->ctx = ctx;
    t->slot_cap = 1024;
    t->slots = fp_budget_calloc(t->b, FP_MEM_FLOWS, t->slot_cap, sizeof *t->slots);
    if (t->slots == NULL) {
        fp_flow_table_free(t);
        return NULL;
    }
    t->free_head = t->lru_head = t->lru_tail = t->close_head = t->close_tail = FP_FLOW_NONE;
    update_memory(t);
    return t;
}

void fp_flow_table_free(fp_flow_table *t)
{
    if (t == NULL) return;
    for (uint32_t i = t->lru_head; i != FP_FLOW_NONE; i = FLOW(t, i).lru_next) {
        hints_credit(t, &FLOW(t, i));
        free(FLOW(t, i).hints);
        ext_drop(t, &FLOW(t, i));
    }
    for (uint32_t i = 0; i < t->nblocks; i++) fp_budget_free(t->b, FP_MEM_FLOWS, t->blocks[i]);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->blocks);
    for (uint32_t i = 0; i < t->tcp_nblocks; i++) fp_budget_free(t->b, FP_MEM_FLOWS, t->tcp_blocks[i]);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->tcp_blocks);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->slots);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->frags.slots);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->creations);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->rev_idle.v);
    fp_budget_free(t->b, FP_MEM_FLOWS, t->rev_close.v);
    fp_budget_free(t->b, FP_MEM_ENGINE, t);
}

/* Later fragments take the key of their datagram's first fragment. Returns 1 when a
 * later fragment's first was not seen (the packet then keys on addresses only). */
static int attribute_fragment(fp_flow_table *t, fp_flow_packet *p, const uint8_t *data,
                              const fp_dissection *d)
{
    uint32_t id;
    if (fp_flow_fragment_id(data, d, &id) < 0) return 0;
    if (t->frags.slots == NULL &&
        (t->frags.slots = fp_budget_calloc(t->b, FP_MEM_FLOWS, FP_FRAG_SLOTS, sizeof *t->frags.slots)) == NULL) {
        t->stats.oom++;
        return 0;
    }
    uint64_t tag = fp_frag_tag(data, d, id);
    if (d->frag_offset == 0) {
        fp_frag_remember(&t->frags, tag, p->ts_ns, &p->key, p->swapped);
        return 0;
    }
    t->stats.fragments++;
    if (fp_frag_lookup(&t->frags, tag, p->ts_ns, &p->key, &p->swapped)) return 0;
    t->stats.fragment_misses++;
    return 1;
}

/* What every table does with every packet, its own or not: counters and the clock. */
static void table_account(fp_flow_table *t, int64_t ts_ns, uint32_t wirelen)
{
    t->pkt = t->stats.packets;
    t->order.pkt = t->pkt;
    t->stats.packets++;
    t->stats.bytes += wirelen;
    if (!t->has_now || ts_ns > t->now) {
        t->now = ts_ns;
        t->has_now = 1;
        expire_due(t);
        tick(t);
    } else if (ts_ns < t->now) {
        note_reversal(t, ts_ns);
    }
}

/* TCP/UDP whose header could not be read (cut short or lying) has no ports to key on:
 * counted, not turned into a port-less flow (tshark and Zeek skip it too). */
static int bad_transport(const fp_dissection *d)
{
    return (d->ip_proto == 6 || d->ip_proto == 17) && !FP_HAS(d, FP_L_TCP) && !FP_HAS(d, FP_L_UDP) &&
           !(d->is_fragment && d->frag_offset != 0);
}

/* Packets with anomalies are counted by one table of a sharded run: the shard that keeps the
 * packet's flow, shard 0 for packets no table keeps. A worker skips other shards' packets
 * without dissecting them (fastpkt.parallel sums the counts). */
static void count_anomalous(fp_flow_table *t, int anomalous, int kept)
{
    if (anomalous && (kept || t->cfg.shards < 2 || t->cfg.shard == 0)) t->stats.anomalies++;
}

void fp_flow_table_skip(fp_flow_table *t, int64_t ts_ns, uint32_t wirelen) { table_account(t, ts_ns, wirelen); }

void fp_flow_table_skip_run(fp_flow_table *t, const int64_t *ts, uint32_t n, uint64_t bytes, int in_order)
{
    if (n == 0) return;
    /* Each packet would only count and move the clock: none reaches a deadline (expire_due
     * returns before the due time), none is earlier than the clock, nothing ticks. */
    if (in_order && t->has_now && t->tick == NULL && ts[0] >= t->now && ts[n - 1] < t->due_ns) {
        t->stats.packets += n;
        t->stats.bytes += bytes;
        t->pkt = t->order.pkt = t->stats.packets - 1;
        if (ts[n - 1] > t->now) t->now = ts[n - 1];
        return;
    }
    t->stats.bytes += bytes; /* first: nothing the clock does reads it */
    for (uint32_t k = 0; k < n; k++) table_account(t, ts[k], 0);
}

/* A keyed packet of this table's flows: find or start its flow and account it. */
static void table_take(fp_flow_table *t, fp_flow_packet *p, uint64_t h, int orphan)
{
    uint32_t idx = table_find(t, &p->key, h);
    set_order(t, ORD_OWN, 0);
    if (idx != FP_FLOW_NONE) {
        fp_flow *f = &FLOW(t, idx);
        int new_syn = p->is_tcp && (p->tcp_flags & 0x12) == 0x02;
        if (f->closing && new_syn) { /* port reuse after a close: a new connection */
            flow_expire(t, idx, (fp_expiration)f->closing);
            idx = FP_FLOW_NONE;
        } else if (t->cfg.active_timeout_ns > 0 && p->ts_ns - f->first_ns >= t->cfg.active_timeout_ns) {
            flow_restart(t, idx, p);
        }
    }
    if (idx == FP_FLOW_NONE) {
        idx = flow_create(t, p, h);
        if (idx == FP_FLOW_NONE) {
            t->stats.oom++;
            update_memory(t);
            return;
        }
    }
    fp_flow *f = &FLOW(t, idx);
    if (p->is_tcp && f->tcp == NULL && !t->cfg.no_hints && !(f->flow_anomalies & FP_FLOW_ANOM_ALLOC_FAILED))
        tcp_attach(t, f);
    int had_hints = f->hints != NULL;
    int closed = t->cfg.no_hints ? fp_flow_record_update_core(f, p) : fp_flow_record_update(f, p);
    if (orphan) f->flow_anomalies |= FP_FLOW_ANOM_FRAG_ORPHAN;
    set_order(t, ORD_PACKET, 0);
    if (t->on_packet) t->on_packet(t->ctx, f, p, fp_flow_is_forward(f, p->swapped));
    if (f->hints && !had_hints) hints_charge(t, f);
    lru_touch(t, f, idx);
    f->last_pkt = t->pkt;
    if (closed && !f->closing) {
        f->closing = (uint8_t)closed;
        f->close_ns = p->ts_ns;
        f->close_pkt = t->pkt;
        LIST_APPEND(t, f, idx, close_prev, close_next, close_head, close_tail);
    }
    if (fp_budget_over(t->b)) enforce_budget(t, idx);
    update_memory(t);
}

/* `own`: the key pass gave the packet to this table (fp_flow_key_pass keys only packets whose
 * dissection gives the key it hashed: fuzz_flow checks it), so its shard is not hashed again. */
static void table_add(fp_flow_table *t, const uint8_t *data, const fp_dissection *d, int64_t ts_ns,
                      uint32_t wirelen, int own)
{
    fp_flow_packet p;
    table_account(t, ts_ns, wirelen);
    if (fp_flow_packet_from(&p, data, d, ts_ns, wirelen, t->cfg.bidirectional) < 0) {
        t->stats.non_ip_packets++;
        count_anomalous(t, d->anomalies != 0, 0);
        return;
    }
    if (bad_transport(d)) {
        t->stats.bad_transport++;
        count_anomalous(t, d->anomalies != 0, 0);
        return;
    }
    int orphan = d->is_fragment ? attribute_fragment(t, &p, data, d) : 0;
    uint64_t h = fp_flow_key_hash(&p.key);
    if (!own && t->cfg.shards > 1 && fp_flow_shard(&p.key, t->cfg.shards) != t->cfg.shard) return; /* another's */
    count_anomalous(t, d->anomalies != 0, 1);
    table_take(t, &p, h, orphan);
}

void fp_flow_table_add(fp_flow_table *t, const uint8_t *data, const fp_dissection *d, int64_t ts_ns, uint32_t wirelen)
{
    table_add(t, data, d, ts_ns, wirelen, 0);
}

void fp_flow_table_add_own(fp_flow_table *t, const uint8_t *data, const fp_dissection *d, int64_t ts_ns,
                           uint32_t wirelen)
{
    table_add(t, data, d, ts_ns, wirelen, 1);
}

void fp_flow_table_advance(fp_flow_table *t, int64_t now_ns)
{
    if (t->has_now && now_ns > t->now) {
        t->now = now_ns;
        expire_due(t);
        tick(t);
        update_memory(t);
    }
}

uint64_t fp_flow_table_flush_some(fp_flow_table *t, uint64_t max)
{
    t->order.pkt = UINT64_MAX;
    for (uint64_t n = 0; n < max && t->lru_head != FP_FLOW_NONE; n++) {
        fp_flow *f = &FLOW(t, t->lru_head);
        set_order(t, 0, f->last_pkt);
        flow_expire(t, t->lru_head, f->closing ? (fp_expiration)f->closing : FP_EXP_END);
    }
    update_memory(t);
    return t->count;
}

void fp_flow_table_flush(fp_flow_table *t) { fp_flow_table_flush_some(t, UINT64_MAX); }

void fp_flow_table_set_extension(fp_flow_table *t, fp_flow_packet_fn on_packet, fp_flow_ext_free_fn ext_free)
{
    t->on_packet = on_packet;
    t->ext_free = ext_free;
}

void fp_flow_table_set_tick(fp_flow_table *t, fp_flow_tick_fn tick) { t->tick = tick; }

void fp_flow_table_tick_position(fp_flow_table *t, uint64_t position) { set_order(t, ORD_TICK, position); }

const fp_flow_stats *fp_flow_table_stats(const fp_flow_table *t) { return &t->stats; }
uint64_t fp_flow_table_count(const fp_flow_table *t) { return t->count; }
fp_flow_order fp_flow_table_order(const fp_flow_table *t) { return t->order; }

fp_flow_order fp_flow_table_bound(const fp_flow_table *t)
{
    fp_flow_order o = {t->stats.packets, 0};
    if (t->order.pkt == UINT64_MAX) { /* flush_some: by last packet, the LRU list's order */
        o.pkt = UINT64_MAX;
        o.rank = t->lru_head == FP_FLOW_NONE ? UINT64_MAX : FLOW(t, t->lru_head).last_pkt;
    }
    return o;
}

const uint64_t *fp_flow_table_creations(const fp_flow_table *t, uint64_t *n)
{
    *n = t->ncreations;
    return t->creations;
}

void fp_flow_table_creations_taken(fp_flow_table *t) { t->ncreations = 0; }
