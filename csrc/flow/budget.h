/* One memory budget per engine: every allocation a flows/streams/client_hellos/dns run keeps
 * is charged here at allocation and credited at free, by component, at its real size
 * (malloc's usable size plus its chunk header, so small-allocation rounding and overhead
 * count as they cost). The flow table evicts flows while `total` is over `limit`.
 * Header-only so the Python-free parts (and each fuzz harness) need no extra object.
 * A NULL budget is allowed everywhere: plain malloc, nothing counted. */
#ifndef FP_BUDGET_H
#define FP_BUDGET_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define FP_MEM_COMPONENTS(X)                                                           \
    X(ENGINE, "engine")             /* fixed per engine: its structs, QUIC decryption scratch */ \
    X(FLOWS, "flows")               /* flow records, hash table, hints, fragment table */ \
    X(HELLO, "hello_search")        /* per-connection hello search state and hello copies */ \
    X(QUIC, "quic")                 /* QUIC key caches and CRYPTO buffers */               \
    X(TLS, "tls_assembly")          /* the TLS hello parser's held bytes */              \
    X(REASSEMBLY, "reassembly")     /* per-connection reassembler and out-of-order segments */ \
    X(STREAM_DATA, "stream_data")   /* stored stream bytes and gap lists */              \
    X(ON_DATA, "on_data_queue")     /* chunks queued for the on_data callback */         \
    X(OUTPUT, "output")             /* finished records waiting for the consumer */ \
    X(DEFRAG, "defrag")             /* IP fragments held for reassembly (own cap, ip_defrag.h) */ \
    X(DNS, "dns")                   /* DNS transactions open per connection, TCP message framing */

#define FP_MEM_ENUM(name, str) FP_MEM_##name,
enum { FP_MEM_COMPONENTS(FP_MEM_ENUM) FP_MEM_COUNT };
#undef FP_MEM_ENUM
extern const char *const fp_mem_component_names[FP_MEM_COUNT];

typedef struct {
    uint64_t limit;                     /* max_memory; 0 = no limit */
    uint64_t total, peak;               /* all components, now and at most */
    uint64_t bytes[FP_MEM_COUNT], peak_bytes[FP_MEM_COUNT];
    uint64_t held;                      /* of those, per-connection state owned by finished records
                                           waiting in the output queue: no eviction frees it */
    uint64_t alloc_failures;            /* allocations that returned NULL */
} fp_budget;

/* What an allocation really occupies: glibc's chunk is the usable size plus one size_t. */
static inline size_t fp_alloc_size(void *p) { return p ? malloc_usable_size(p) + sizeof(size_t) : 0; }

static inline void fp_budget_charge(fp_budget *b, int c, size_t n)
{
    if (b == NULL || n == 0) return;
    b->bytes[c] += n;
    if (b->bytes[c] > b->peak_bytes[c]) b->peak_bytes[c] = b->bytes[c];
    b->total += n;
    if (b->total > b->peak) b->peak = b->total;
}

static inline void fp_budget_credit(fp_budget *b, int c, size_t n)
{
    if (b == NULL) return;
    b->bytes[c] -= n;
    b->total -= n;
}

/* Above the limit. Finished records waiting for the consumer (the output queue and the
 * state they own) are not counted: evictions cannot free them, the consumer does, and the
 * engine hands them over in short batches. */
static inline int fp_budget_over(const fp_budget *b)
{
    return b != NULL && b->limit && b->total - b->bytes[FP_MEM_OUTPUT] - b->held > b->limit;
}

/* Bytes that evicting flows can give back: per-connection state (the flow records' pool,
 * the engine's fixed buffers and the queues are not freed by an eviction). */
static inline uint64_t fp_budget_evictable(const fp_budget *b)
{
    return b->total - b->bytes[FP_MEM_ENGINE] - b->bytes[FP_MEM_FLOWS] - b->bytes[FP_MEM_OUTPUT] -
           b->bytes[FP_MEM_ON_DATA] - b->bytes[FP_MEM_DEFRAG] - b->held;
}

/* A finished connection's state (n bytes) now belongs to a record in the output queue. */
static inline void fp_budget_hold(fp_budget *b, size_t n)
{
    if (b) b->held += n;
}
static inline void fp_budget_unhold(fp_budget *b, size_t n)
{
    if (b) b->held -= n;
}

static inline void *fp_budget_failed(fp_budget *b)
{
    if (b) b->alloc_failures++;
    return NULL;
}

static inline void *fp_budget_malloc(fp_budget *b, int c, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) return fp_budget_failed(b);
    fp_budget_charge(b, c, fp_alloc_size(p));
    return p;
}

static inline void *fp_budget_calloc(fp_budget *b, int c, size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL) return fp_budget_failed(b);
    fp_budget_charge(b, c, fp_alloc_size(p));
    return p;
}

/* realloc; on failure the old block stays valid (and charged). */
static inline void *fp_budget_realloc(fp_budget *b, int c, void *old, size_t n)
{
    size_t before = fp_alloc_size(old);
    void *p = realloc(old, n ? n : 1);
    if (p == NULL) return fp_budget_failed(b);
    fp_budget_credit(b, c, before);
    fp_budget_charge(b, c, fp_alloc_size(p));
    return p;
}

static inline void fp_budget_free(fp_budget *b, int c, void *p)
{
    if (p == NULL) return;
    fp_budget_credit(b, c, fp_alloc_size(p));
    free(p);
}

#endif
