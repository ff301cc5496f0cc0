/* The flow table: open addressing (linear probing, backward-shift deletion) over
 * indices into a pool of flow records, keyed by a 64-bit hash of the canonical key.
 *
 * Expiry without scanning the table: flows sit on an LRU list (moved to the tail on
 * each packet), so idle flows are found at its head; closed TCP flows also sit on a
 * closing list in close order and leave after `close_grace_ns` (so the final ACK of
 * a FIN exchange, or packets racing a RST, are still counted). The active timeout is
 * checked when a flow's packet arrives: the flow is emitted and a new one continues
 * in place with the same orientation. "Now" is the largest packet time seen.
 * Memcap: at max_flows, or when the accounted bytes would pass max_memory, the least
 * recently seen flow is evicted (emitted with expiration 'evicted', counted). */
#include <stdlib.h>
#include <string.h>

#include "flow.h"

typedef struct {
    uint32_t idx1; /* pool index + 1; 0 = empty */
    uint32_t tag;  /* high hash bits: most mismatches skip the record */
} slot;

struct fp_flow_table {
    fp_flow_config cfg;
    fp_flow_emit_fn emit;
    fp_flow_packet_fn on_packet;
    fp_flow_ext_free_fn ext_free;
    void *ctx;
    slot *slots;
    uint64_t slot_cap; /* power of two */
    fp_flow *pool;
    uint32_t pool_cap, pool_used, free_head;
    uint64_t count, hints;
    uint32_t lru_head, lru_tail, close_head, close_tail;
    int64_t now;
    int has_now;
    uint64_t next_id;
    fp_frag_table frags;
    fp_flow_stats stats;
};

/* ---- accounting ------------------------------------------------------- */

static uint64_t memory_of(const fp_flow_table *t, uint64_t flows, uint64_t slot_cap)
{
    return flows * sizeof(fp_flow) + slot_cap * sizeof(slot) + t->hints * sizeof(fp_flow_hints) +
           (t->frags.slots ? FP_FRAG_SLOTS * sizeof(fp_frag_slot) : 0);
}

static void update_memory(fp_flow_table *t)
{
    t->stats.memory_bytes = memory_of(t, t->count, t->slot_cap);
    if (t->count > t->stats.max_flows_seen) t->stats.max_flows_seen = t->count;
}

/* ---- intrusive lists ---------------------------------------------------- */

#define LIST_UNLINK(t, f, idx, prev, next, head, tail)                  \
    do {                                                                \
        if ((f)->prev != FP_FLOW_NONE) (t)->pool[(f)->prev].next = (f)->next; \
        else (t)->head = (f)->next;                                     \
        if ((f)->next != FP_FLOW_NONE) (t)->pool[(f)->next].prev = (f)->prev; \
        else (t)->tail = (f)->prev;                                     \
        (f)->prev = (f)->next = FP_FLOW_NONE;                           \
    } while (0)

#define LIST_APPEND(t, f, idx, prev, next, head, tail)                  \
    do {                                                                \
        (f)->prev = (t)->tail;                                          \
        (f)->next = FP_FLOW_NONE;                                       \
        if ((t)->tail != FP_FLOW_NONE) (t)->pool[(t)->tail].next = (idx); \
        else (t)->head = (idx);                                         \
        (t)->tail = (idx);                                              \
    } while (0)

static void lru_touch(fp_flow_table *t, fp_flow *f, uint32_t idx)
{
    if (t->lru_tail == idx) return;
    LIST_UNLINK(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
    LIST_APPEND(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
}

/* ---- hash table ----------------------------------------------------------- */

static int slots_resize(fp_flow_table *t, uint64_t cap)
{
    slot *s = calloc(cap, sizeof *s);
    if (s == NULL) return -1;
    for (uint64_t i = 0; i < t->slot_cap; i++) {
        if (!t->slots[i].idx1) continue;
        uint64_t j = t->pool[t->slots[i].idx1 - 1].hash & (cap - 1);
        while (s[j].idx1) j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
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
        if (s->tag == tag && memcmp(&t->pool[s->idx1 - 1].key, k, sizeof *k) == 0) return s->idx1 - 1;
    }
}

static void table_put(fp_flow_table *t, uint32_t idx)
{
    uint64_t mask = t->slot_cap - 1, h = t->pool[idx].hash;
    uint64_t i = h & mask;
    while (t->slots[i].idx1) i = (i + 1) & mask;
    t->slots[i].idx1 = idx + 1;
    t->slots[i].tag = (uint32_t)(h >> 32);
}

/* Linear-probing deletion by backward shift: no tombstones, probe chains stay short. */
static void table_remove(fp_flow_table *t, uint32_t idx)
{
    uint64_t mask = t->slot_cap - 1;
    uint64_t i = t->pool[idx].hash & mask;
    while (t->slots[i].idx1 != idx + 1) i = (i + 1) & mask;
    for (uint64_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        if (!t->slots[j].idx1) break;
        uint64_t home = t->pool[t->slots[j].idx1 - 1].hash & mask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].idx1 = 0;
}

/* ---- records ------------------------------------------------------------ */

static uint32_t pool_take(fp_flow_table *t)
{
    if (t->free_head != FP_FLOW_NONE) {
        uint32_t idx = t->free_head;
        t->free_head = t->pool[idx].lru_next;
        return idx;
    }
    if (t->pool_used == t->pool_cap) {
        uint64_t cap = t->pool_cap ? (uint64_t)t->pool_cap * 2 : 256;
        if (cap > t->cfg.max_flows) cap = t->cfg.max_flows;
        if (cap > 0xFFFFFFF0u) cap = 0xFFFFFFF0u;
        if (cap <= t->pool_cap) return FP_FLOW_NONE;
        fp_flow *p = realloc(t->pool, cap * sizeof *p);
        if (p == NULL) return FP_FLOW_NONE;
        t->pool = p;
        t->pool_cap = (uint32_t)cap;
    }
    return t->pool_used++;
}

static void ext_drop(fp_flow_table *t, fp_flow *f)
{
    if (f->ext && t->ext_free) t->ext_free(t->ctx, f->ext);
    f->ext = NULL;
}

/* Hand a flow to the consumer (which may take its hints and ext), then drop what is left. */
static void emit_flow(fp_flow_table *t, fp_flow *f)
{
    if (f->hints) t->hints--;
    if (t->emit) t->emit(t->ctx, f);
    free(f->hints);
    f->hints = NULL;
    ext_drop(t, f);
}

/* Emit a flow and free its record. */
static void flow_expire(fp_flow_table *t, uint32_t idx, fp_expiration why)
{
    fp_flow *f = &t->pool[idx];
    f->expiration = (uint8_t)why;
    t->stats.expired[why]++;
    LIST_UNLINK(t, f, idx, lru_prev, lru_next, lru_head, lru_tail);
    if (f->closing) LIST_UNLINK(t, f, idx, close_prev, close_next, close_head, close_tail);
    table_remove(t, idx);
    emit_flow(t, f);
    t->count--;
    f->lru_next = t->free_head;
    t->free_head = idx;
}

static void expire_due(fp_flow_table *t)
{
    int64_t idle = t->cfg.idle_timeout_ns;
    while (idle > 0 && t->lru_head != FP_FLOW_NONE) {
        fp_flow *f = &t->pool[t->lru_head];
        if (t->now - f->last_ns < idle) break;
        flow_expire(t, t->lru_head, f->closing ? (fp_expiration)f->closing : FP_EXP_IDLE);
    }
    while (t->close_head != FP_FLOW_NONE) {
        fp_flow *f = &t->pool[t->close_head];
        if (t->now - f->close_ns < t->cfg.close_grace_ns) break;
        flow_expire(t, t->close_head, (fp_expiration)f->closing);
    }
}

static int over_memcap(const fp_flow_table *t)
{
    if (t->count >= t->cfg.max_flows) return 1;
    if (!t->cfg.max_memory) return 0;
    uint64_t cap = t->slot_cap;
    if ((t->count + 1) * 2 > cap) cap *= 2;
    return memory_of(t, t->count + 1, cap) > t->cfg.max_memory;
}

static uint32_t flow_create(fp_flow_table *t, const fp_flow_packet *p, uint64_t h)
{
    while (t->count && over_memcap(t)) flow_expire(t, t->lru_head, FP_EXP_EVICTED);
    if ((t->count + 1) * 2 > t->slot_cap && slots_resize(t, t->slot_cap * 2) < 0) return FP_FLOW_NONE;
    uint32_t idx = pool_take(t);
    if (idx == FP_FLOW_NONE) return FP_FLOW_NONE;
    fp_flow *f = &t->pool[idx];
    fp_flow_record_init(f, p, t->next_id++, t->cfg.bidirectional);
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
    fp_flow *f = &t->pool[idx];
    f->expiration = FP_EXP_ACTIVE;
    t->stats.expired[FP_EXP_ACTIVE]++;
    if (f->closing) LIST_UNLINK(t, f, idx, close_prev, close_next, close_head, close_tail);
    emit_flow(t, f);
    fp_flow saved = *f;
    fp_flow_record_init(f, p, t->next_id++, t->cfg.bidirectional);
    f->client_is_b = saved.client_is_b;
    if (f->flipped) { /* the orientation is inherited, not inferred from this packet */
        f->flipped = 0;
        f->history_len = 0;
        f->history[0] = 0;
    }
    f->hash = saved.hash;
    f->lru_prev = saved.lru_prev;
    f->lru_next = saved.lru_next;
    t->stats.flows_created++;
}

/* ---- public -------------------------------------------------------------- */

fp_flow_table *fp_flow_table_new(const fp_flow_config *cfg, fp_flow_emit_fn emit, void *ctx)
{
    fp_flow_table *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->cfg = *cfg;
    if (t->cfg.max_flows == 0) t->cfg.max_flows = 1;
    t->emit = emit;
    t->ctx = ctx;
    t->slot_cap = 1024;
    t->slots = calloc(t->slot_cap, sizeof *t->slots);
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
    for (uint32_t i = t->lru_head; i != FP_FLOW_NONE; i = t->pool[i].lru_next) {
        free(t->pool[i].hints);
        ext_drop(t, &t->pool[i]);
    }
    free(t->pool);
    free(t->slots);
    free(t->frags.slots);
    free(t);
}

/* Later fragments take the key of their datagram's first fragment. Returns 1 when a
 * later fragment's first was not seen (the packet then keys on addresses only). */
static int attribute_fragment(fp_flow_table *t, fp_flow_packet *p, const uint8_t *data,
                              const fp_dissection *d)
{
    uint32_t id;
    if (fp_flow_fragment_id(data, d, &id) < 0) return 0;
    if (t->frags.slots == NULL && (t->frags.slots = calloc(FP_FRAG_SLOTS, sizeof *t->frags.slots)) == NULL) {
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

void fp_flow_table_add(fp_flow_table *t, const uint8_t *data, const fp_dissection *d,
                       int64_t ts_ns, uint32_t wirelen)
{
    fp_flow_packet p;
    t->stats.packets++;
    t->stats.bytes += wirelen;
    if (d->anomalies) t->stats.anomalies++;
    if (!t->has_now || ts_ns > t->now) {
        t->now = ts_ns;
        t->has_now = 1;
        expire_due(t);
    }
    if (fp_flow_packet_from(&p, data, d, ts_ns, wirelen, t->cfg.bidirectional) < 0) {
        t->stats.non_ip_packets++;
        return;
    }
    /* TCP/UDP whose header could not be read (cut short or lying) has no ports to key
     * on: counted, not turned into a port-less flow (tshark and Zeek skip it too). */
    if ((d->ip_proto == 6 || d->ip_proto == 17) && !FP_HAS(d, FP_L_TCP) && !FP_HAS(d, FP_L_UDP) &&
        !(d->is_fragment && d->frag_offset != 0)) {
        t->stats.bad_transport++;
        return;
    }
    int orphan = d->is_fragment ? attribute_fragment(t, &p, data, d) : 0;
    uint64_t h = fp_flow_key_hash(&p.key);
    uint32_t idx = table_find(t, &p.key, h);
    if (idx != FP_FLOW_NONE) {
        fp_flow *f = &t->pool[idx];
        int new_syn = p.is_tcp && (p.tcp_flags & 0x12) == 0x02;
        if (f->closing && new_syn) { /* port reuse after a close: a new connection */
            flow_expire(t, idx, (fp_expiration)f->closing);
            idx = FP_FLOW_NONE;
        } else if (t->cfg.active_timeout_ns > 0 && ts_ns - f->first_ns >= t->cfg.active_timeout_ns) {
            flow_restart(t, idx, &p);
        }
    }
    if (idx == FP_FLOW_NONE) {
        idx = flow_create(t, &p, h);
        if (idx == FP_FLOW_NONE) {
            t->stats.oom++;
            update_memory(t);
            return;
        }
    }
    fp_flow *f = &t->pool[idx];
    int had_hints = f->hints != NULL;
    int closed = fp_flow_record_update(f, &p);
    if (orphan) f->flow_anomalies |= FP_FLOW_ANOM_FRAG_ORPHAN;
    if (t->on_packet) t->on_packet(t->ctx, f, &p, fp_flow_is_forward(f, p.swapped));
    t->hints += (f->hints != NULL) - had_hints;
    lru_touch(t, f, idx);
    if (closed && !f->closing) {
        f->closing = (uint8_t)closed;
        f->close_ns = ts_ns;
        LIST_APPEND(t, f, idx, close_prev, close_next, close_head, close_tail);
    }
    update_memory(t);
}

void fp_flow_table_advance(fp_flow_table *t, int64_t now_ns)
{
    if (t->has_now && now_ns > t->now) {
        t->now = now_ns;
        expire_due(t);
        update_memory(t);
    }
}

void fp_flow_table_flush(fp_flow_table *t)
{
    while (t->lru_head != FP_FLOW_NONE) {
        fp_flow *f = &t->pool[t->lru_head];
        flow_expire(t, t->lru_head, f->closing ? (fp_expiration)f->closing : FP_EXP_END);
    }
    update_memory(t);
}

void fp_flow_table_set_extension(fp_flow_table *t, fp_flow_packet_fn on_packet, fp_flow_ext_free_fn ext_free)
{
    t->on_packet = on_packet;
    t->ext_free = ext_free;
}

const fp_flow_stats *fp_flow_table_stats(const fp_flow_table *t) { return &t->stats; }
uint64_t fp_flow_table_count(const fp_flow_table *t) { return t->count; }
