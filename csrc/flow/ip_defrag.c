/* IP fragment reassembly: see ip_defrag.h for the policy, limits and output. */
#include "ip_defrag.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 65535u
#define SMALL_FRAGMENT 64u     /* Zeek's MIN_ACCEPTABLE_FRAG_SIZE (IP total length) */
#define LARGE_FRAGMENT 64000u  /* Zeek's MAX_ACCEPTABLE_FRAG_SIZE (payload end) */
#define BUCKETS 1024u           /* at first; doubled while more than 2 datagrams a bucket wait */
#define NO_OWNER 0xffffu

typedef struct {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t version, proto; /* proto: IPv4 only (RFC 791 keys on it; RFC 8200 does not) */
} dg_key;

typedef struct {
    uint32_t off, len;
    uint64_t frame;
    uint8_t data[];
} frag;

typedef struct dgram {
    struct dgram *hnext;           /* hash chain */
    struct dgram *older, *newer;   /* creation order: timeouts and the memory cap */
    dg_key key;
    uint64_t hash;
    int64_t first_ns;
    uint32_t total;                /* payload length once a last fragment (MF clear) came; else 0 */
    uint32_t anomalies;
    uint8_t next_proto;            /* protocol (IPv4) or the fragment header's next header (IPv6) */
    uint8_t has_last;
    uint16_t nfrags, cap;
    frag **frags;                  /* arrival order */
    size_t mem;                    /* bytes charged for this datagram */
} dgram;

struct fp_defrag {
    fp_defrag_config cfg;
    fp_budget *b;
    uint64_t bytes;                /* held now (datagrams and fragments) */
    dgram **buckets;
    size_t nbuckets;               /* a power of 2 */
    dgram *oldest, *newest;
    fp_defrag_stats stats;
    uint16_t *owner;               /* per payload byte: the fragment supplying it */
    uint8_t *out;                  /* the reassembled frame */
    uint32_t out_cap;
    uint64_t frames[FP_DEFRAG_MAX_FRAGS];
    uint64_t order[FP_DEFRAG_MAX_FRAGS];   /* offset << 16 | arrival index, sorted */
};

/* What a fragment says about itself. */
typedef struct {
    dg_key key;
    uint32_t hdr_end;              /* end of the bytes kept in front of the payload */
    uint32_t off, len;             /* payload offset in the datagram, length */
    uint32_t total_len;            /* IP total length (IPv6: payload length + 40) */
    int more, df;
} frag_info;

static void *df_alloc(fp_defrag *df, size_t n)
{
    void *p = fp_budget_malloc(df->b, FP_MEM_DEFRAG, n);
    if (p) df->bytes += fp_alloc_size(p);
    return p;
}

static void df_free(fp_defrag *df, void *p)
{
    if (p == NULL) return;
    df->bytes -= fp_alloc_size(p);
    fp_budget_free(df->b, FP_MEM_DEFRAG, p);
}

fp_defrag *fp_defrag_new(const fp_defrag_config *cfg, fp_budget *budget)
{
    fp_defrag *df = fp_budget_calloc(budget, FP_MEM_DEFRAG, 1, sizeof *df);
    if (df == NULL) return NULL;
    df->cfg = *cfg;
    df->b = budget;
    df->buckets = fp_budget_calloc(budget, FP_MEM_DEFRAG, BUCKETS, sizeof *df->buckets);
    if (df->buckets == NULL) {
        fp_budget_free(budget, FP_MEM_DEFRAG, df);
        return NULL;
    }
    df->nbuckets = BUCKETS;
    return df;
}

static void dgram_free(fp_defrag *df, dgram *g)
{
    for (uint16_t i = 0; i < g->nfrags; i++) df_free(df, g->frags[i]);
    df_free(df, g->frags);
    df_free(df, g);
}

void fp_defrag_free(fp_defrag *df)
{
    if (df == NULL) return;
    for (dgram *g = df->oldest, *next; g; g = next) {
        next = g->newer;
        dgram_free(df, g);
    }
    fp_budget_free(df->b, FP_MEM_DEFRAG, df->owner);
    fp_budget_free(df->b, FP_MEM_DEFRAG, df->out);
    fp_budget_free(df->b, FP_MEM_DEFRAG, df->buckets);
    fp_budget_free(df->b, FP_MEM_DEFRAG, df);
}

const fp_defrag_stats *fp_defrag_stats_of(const fp_defrag *df) { return &df->stats; }

int fp_defrag_policy_from_name(const char *name)
{
    static const char *const names[] = {"first", "last", "bsd", "linux"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* 0 with *fi filled for a fragment whose bytes are all captured; -1 otherwise. */
static int fragment_info(const uint8_t *data, uint32_t caplen, const fp_dissection *d, frag_info *fi)
{
    memset(&fi->key, 0, sizeof fi->key);
    fi->off = d->frag_offset;
    fi->more = d->more_fragments;
    if (FP_HAS(d, FP_L_IP4)) {
        const fp_span *s = &d->layer[FP_L_IP4];
        if (d->anomalies & (FP_ANOM_IP4_TRUNC | FP_ANOM_IP4_BAD_IHL)) return -1;
        const uint8_t *ip = data + s->off;
        fi->total_len = be16(ip + 2);
        if (fi->total_len < s->hlen || (uint64_t)s->off + fi->total_len > caplen) return -1;
        fi->hdr_end = s->off + s->hlen;
        fi->len = fi->total_len - s->hlen;
        fi->df = (ip[6] & 0x40) != 0;
        fi->key.version = 4;
        fi->key.proto = ip[9];
        memcpy(fi->key.src, ip + 12, 4);
        memcpy(fi->key.dst, ip + 16, 4);
        fi->key.id = be16(ip + 4);
        return 0;
    }
    if (!FP_HAS(d, FP_L_IP6)) return -1;
    const fp_span *s = &d->layer[FP_L_IP6];
    const fp_ip6_ext *fh = NULL;
    for (int i = 0; i < d->ip6_ext_count && fh == NULL; i++)
        if (d->ip6_ext[i].type == 44) fh = &d->ip6_ext[i];
    if (fh == NULL) return -1; /* past the recorded extension headers */
    const uint8_t *ip = data + s->off;
    uint32_t plen = be16(ip + 4);
    if (plen == 0 || (uint64_t)s->off + 40 + plen > caplen || fh->off + 8 > s->off + 40 + plen) return -1;
    fi->total_len = plen + 40;
    fi->hdr_end = fh->off + 8;
    fi->len = s->off + 40 + plen - fi->hdr_end;
    fi->df = 0;
    fi->key.version = 6;
    fi->key.proto = data[fh->off]; /* checked for consistency, not keyed on */
    memcpy(fi->key.src, ip + 8, 16);
    memcpy(fi->key.dst, ip + 24, 16);
    fi->key.id = be32(data + fh->off + 4);
    return 0;
}

static uint64_t key_hash(const dg_key *k)
{
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < offsetof(dg_key, proto); i++) h = (h ^ p[i]) * 1099511628211ull;
    if (k->version == 4) h = (h ^ k->proto) * 1099511628211ull;
    return h;
}

static int key_eq(const dg_key *a, const dg_key *b)
{
    return a->version == b->version && a->id == b->id && memcmp(a->src, b->src, 16) == 0 &&
           memcmp(a->dst, b->dst, 16) == 0 && (a->version == 6 || a->proto == b->proto);
}

static dgram **find_slot(fp_defrag *df, const dg_key *k, uint64_t h)
{
    dgram **pp = &df->buckets[h & (df->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && key_eq(&(*pp)->key, k))) pp = &(*pp)->hnext;
    return pp;
}

static void dgram_remove(fp_defrag *df, dgram *g)
{
    dgram **pp = find_slot(df, &g->key, g->hash);
    *pp = g->hnext;
    if (g->older) g->older->newer = g->newer;
    else df->oldest = g->newer;
    if (g->newer) g->newer->older = g->older;
    else df->newest = g->older;
    df->stats.pending--;
    dgram_free(df, g);
}

/* Datagrams whose first fragment is older than the timeout go (creation order). */
static void expire(fp_defrag *df, int64_t now)
{
    while (df->oldest && df->cfg.timeout_ns > 0 && now - df->oldest->first_ns > df->cfg.timeout_ns) {
        df->stats.timed_out++;
        dgram_remove(df, df->oldest);
    }
}

/* Twice the buckets, so that a flood of open datagrams (as many as the cap holds: ~300,000
 * at 64 MiB) keeps lookups short. Charged to the budget, not held against the cap; when the
 * allocation fails the chains just grow longer. */
static void grow_buckets(fp_defrag *df)
{
    size_t n = df->nbuckets * 2;
    dgram **b = fp_budget_calloc(df->b, FP_MEM_DEFRAG, n, sizeof *b);
    if (b == NULL) return;
    for (dgram *g = df->oldest; g; g = g->newer) {
        g->hnext = b[g->hash & (n - 1)];
        b[g->hash & (n - 1)] = g;
    }
    fp_budget_free(df->b, FP_MEM_DEFRAG, df->buckets);
    df->buckets = b;
    df->nbuckets = n;
}

static dgram *dgram_new(fp_defrag *df, const frag_info *fi, uint64_t h, int64_t ts_ns)
{
    dgram *g = df_alloc(df, sizeof *g);
    if (g == NULL) return NULL;
    memset(g, 0, sizeof *g);
    g->key = fi->key;
    g->hash = h;
    g->first_ns = ts_ns;
    g->next_proto = fi->key.proto;
    if (df->stats.pending >= 2 * df->nbuckets) grow_buckets(df);
    dgram **slot = &df->buckets[h & (df->nbuckets - 1)];
    g->hnext = *slot;
    *slot = g;
    g->older = df->newest;
    if (df->newest) df->newest->newer = g;
    else df->oldest = g;
    df->newest = g;
    df->stats.pending++;
    return g;
}

/* Overlap anomalies of a new piece against the pieces held (Zeek: equal bytes are an
 * overlap, differing ones an inconsistency). */
static uint32_t overlap_anomalies(const dgram *g, uint32_t off, uint32_t len, const uint8_t *p)
{
    uint32_t a = 0;
    for (uint16_t i = 0; i < g->nfrags; i++) {
        const frag *f = g->frags[i];
        uint32_t lo = off > f->off ? off : f->off;
        uint32_t hi = off + len < f->off + f->len ? off + len : f->off + f->len;
        if (lo >= hi) continue;
        a |= memcmp(p + (lo - off), f->data + (lo - f->off), hi - lo) ? FP_ANOM_FRAG_INCONSISTENT
                                                                       : FP_ANOM_FRAG_OVERLAP;
    }
    return a;
}

/* Does the later fragment `n` take a byte the earlier fragment `o` holds? */
static int later_wins(fp_defrag_policy policy, const frag *n, const frag *o)
{
    switch (policy) {
    case FP_DEFRAG_LAST: return 1;
    case FP_DEFRAG_BSD: return n->off < o->off;
    case FP_DEFRAG_LINUX: return n->off <= o->off;
    case FP_DEFRAG_FIRST:
    default: return 0;
    }
}

static int by_offset(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort the pieces by offset (then arrival) into df->order; 1 when they cover [0, total). */
static int covered(fp_defrag *df, dgram *g)
{
    for (uint16_t i = 0; i < g->nfrags; i++) df->order[i] = (uint64_t)g->frags[i]->off << 16 | i;
    qsort(df->order, g->nfrags, sizeof df->order[0], by_offset);
    uint32_t reach = 0;
    for (uint16_t i = 0; i < g->nfrags && reach < g->total; i++) {
        const frag *f = g->frags[df->order[i] & 0xffff];
        if (f->off > reach) return 0;
        if (f->off + f->len > reach) reach = f->off + f->len;
    }
    return reach >= g->total;
}

/* The frame: the completing fragment's bytes up to its payload, then the payload painted
 * fragment by fragment in arrival order, each byte kept or taken as the policy says. */
static int build(fp_defrag *df, dgram *g, const uint8_t *data, uint32_t hdr_end, fp_defrag_result *res)
{
    /* scratch, charged to the budget but not held against the cap (it holds no datagram) */
    if (df->owner == NULL &&
        (df->owner = fp_budget_malloc(df->b, FP_MEM_DEFRAG, MAX_PAYLOAD * sizeof *df->owner)) == NULL)
        return -1;
    uint32_t need = hdr_end + g->total;
    if (need > df->out_cap) {
        uint8_t *o = fp_budget_malloc(df->b, FP_MEM_DEFRAG, need);
        if (o == NULL) return -1;
        fp_budget_free(df->b, FP_MEM_DEFRAG, df->out);
        df->out = o;
        df->out_cap = need;
    }
    memcpy(df->out, data, hdr_end);
    uint8_t *payload = df->out + hdr_end;
    for (uint32_t i = 0; i < g->total; i++) df->owner[i] = NO_OWNER;
    for (uint16_t k = 0; k < g->nfrags; k++) {
        const frag *f = g->frags[k];
        uint32_t end = f->off + f->len < g->total ? f->off + f->len : g->total;
        for (uint32_t i = f->off; i < end; i++) {
            uint16_t o = df->owner[i];
            if (o != NO_OWNER && !later_wins(df->cfg.policy, f, g->frags[o])) continue;
            df->owner[i] = k;
            payload[i] = f->data[i - f->off];
        }
    }
    for (uint16_t i = 0; i < g->nfrags; i++) df->frames[i] = g->frags[df->order[i] & 0xffff]->frame;
    res->data = df->out;
    res->len = need;
    res->frames = df->frames;
    res->nframes = g->nfrags;
    return 0;
}

/* Drop the oldest datagrams (never `keep`) until `extra` more bytes fit under the cap. */
static void make_room(fp_defrag *df, size_t extra, const dgram *keep)
{
    while (df->cfg.max_bytes && df->bytes + extra > df->cfg.max_bytes) {
        if (df->oldest == NULL) return;
        dgram *victim = df->oldest == keep ? keep->newer : df->oldest;
        if (victim == NULL) return;
        df->stats.dropped++;
        dgram_remove(df, victim);
    }
}

int fp_defrag_add(fp_defrag *df, const uint8_t *data, uint32_t caplen, const fp_dissection *d,
                  int64_t ts_ns, uint64_t frame, fp_defrag_result *res)
{
    res->anomalies = 0;
    if (!d->is_fragment) return FP_DEFRAG_PASS;
    frag_info fi;
    expire(df, ts_ns);
    if (fragment_info(data, caplen, d, &fi) < 0) {
        df->stats.unusable++;
        return FP_DEFRAG_PASS;
    }
    uint32_t a = 0;
    if (fi.df) a |= FP_ANOM_FRAG_DF;
    if (fi.more && fi.total_len < SMALL_FRAGMENT) a |= FP_ANOM_FRAG_SMALL;
    uint64_t upper = (uint64_t)fi.off + fi.len;
    if (upper > LARGE_FRAGMENT) a |= FP_ANOM_FRAG_LARGE;
    if (upper > MAX_PAYLOAD) { /* no datagram can hold it */
        df->stats.unusable++;
        res->anomalies = a | FP_ANOM_FRAG_DROPPED;
        return FP_DEFRAG_PASS;
    }
    df->stats.fragments++;
    uint64_t h = key_hash(&fi.key);
    dgram *g = *find_slot(df, &fi.key, h);
    size_t piece = sizeof(frag) + fi.len;
    make_room(df, piece + (g ? 0 : sizeof *g), g);
    if (df->cfg.max_bytes && df->bytes + piece > df->cfg.max_bytes) {
        /* the datagram alone would pass the cap (overlapping copies pile up to 256 x 64 KiB):
         * it goes, with this fragment */
        df->stats.dropped++;
        if (g == NULL) {
            res->anomalies = a | FP_ANOM_FRAG_DROPPED;
            return FP_DEFRAG_HELD;
        }
        res->anomalies = g->anomalies | a | FP_ANOM_FRAG_DROPPED;
        dgram_remove(df, g);
        return FP_DEFRAG_HELD;
    }
    if (g == NULL && (g = dgram_new(df, &fi, h, ts_ns)) == NULL) {
        df->stats.dropped++;
        res->anomalies = a | FP_ANOM_FRAG_DROPPED;
        return FP_DEFRAG_HELD;
    }
    if (fi.key.proto != g->next_proto) a |= FP_ANOM_FRAG_PROTOCOL;
    uint32_t ov = overlap_anomalies(g, fi.off, fi.len, data + fi.hdr_end);
    if (ov) df->stats.overlaps++;
    a |= ov;
    if (!fi.more) {
        if (g->has_last && g->total != upper) a |= FP_ANOM_FRAG_SIZE;
        if (!g->has_last || upper > g->total) g->total = (uint32_t)upper;
        g->has_last = 1;
    }
    if (g->has_last && upper > g->total) a |= FP_ANOM_FRAG_SIZE; /* a piece past the last one's end */
    if (g->nfrags == g->cap) {
        uint16_t cap = g->cap ? (uint16_t)(g->cap * 2) : 4;
        frag **fs = g->nfrags < FP_DEFRAG_MAX_FRAGS ? df_alloc(df, cap * sizeof *fs) : NULL;
        if (fs == NULL) {
            g->anomalies |= a | FP_ANOM_FRAG_DROPPED;
            res->anomalies = g->anomalies;
            df->stats.dropped++;
            dgram_remove(df, g);
            return FP_DEFRAG_HELD;
        }
        if (g->nfrags) memcpy(fs, g->frags, g->nfrags * sizeof *fs);
        df_free(df, g->frags);
        g->frags = fs;
        g->cap = cap;
    }
    frag *f = df_alloc(df, piece);
    if (f == NULL) {
        res->anomalies = a | FP_ANOM_FRAG_DROPPED;
        df->stats.dropped++;
        return FP_DEFRAG_HELD;
    }
    f->off = fi.off;
    f->len = fi.len;
    f->frame = frame;
    memcpy(f->data, data + fi.hdr_end, fi.len);
    g->frags[g->nfrags++] = f;
    g->anomalies |= a;
    res->anomalies = a;
    if (!g->has_last || !covered(df, g)) return FP_DEFRAG_HELD;
    if (build(df, g, data, fi.hdr_end, res) < 0) {
        res->anomalies = g->anomalies | FP_ANOM_FRAG_DROPPED;
        df->stats.dropped++;
        dgram_remove(df, g);
        return FP_DEFRAG_HELD;
    }
    res->anomalies = g->anomalies;
    df->stats.reassembled++;
    dgram_remove(df, g);
    return FP_DEFRAG_COMPLETE;
}
