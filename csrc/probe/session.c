/* A probing session (probe.h): a live capture opened first, the probes, the sockets, and the
 * loop that sends and matches. Probes are looked up by the hash of their key in a sorted
 * index (sent order among equal keys, so a repeated probe takes answers in sending order,
 * as Scapy's hash lists do); the rules of match.c decide among the candidates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dissect/dissect.h"
#include "../source/live.h"
#include "match_rules.h"
#include "probe.h"

typedef struct {
    uint64_t hash;
    uint32_t probe;
} index_entry;

typedef struct {
    uint64_t off; /* into probe_data */
    uint32_t len;
    uint32_t answers;
    int64_t sent_ns;
} probe_rec;

struct fp_probe_session {
    fp_source *cap;
    fp_sender *snd;
    uint32_t probe_lt;  /* RAW or ETHERNET */
    int multi;
    probe_rec *probes;
    uint32_t n, cap_n;
    uint8_t *probe_data;
    uint64_t probe_data_len, probe_data_cap;
    index_entry *index; /* sorted by (hash, probe); rebuilt when probes were added */
    uint32_t index_len;
    uint32_t indexed;   /* probes the index covers */
    uint32_t unanswered;
    /* the round */
    uint32_t *queue;
    uint32_t qlen, qpos, qcap;
    int64_t inter_ns, timeout_ns, next_send, last_send; /* monotonic ns */
    /* answers */
    fp_probe_answer *answers;
    uint32_t nans, ans_cap;
    uint8_t *ans_data;
    uint64_t ans_data_len, ans_data_cap;
    fp_probe_stats stats;
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void oom(fp_error *err)
{
    memset(err, 0, sizeof *err);
    err->kind = FP_ERR_IO;
    err->sys_errno = ENOMEM;
    snprintf(err->message, sizeof err->message, "out of memory while probing");
}

/* Grow *buf (of *cap elements of `size`) to hold `need`. */
static int grow(void **buf, uint64_t *cap, uint64_t need, size_t size)
{
    if (need <= *cap) return 0;
    uint64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*buf, c * size);
    if (p == NULL) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

fp_probe_session *fp_probe_open(const fp_probe_config *cfg, fp_error *err)
{
    fp_probe_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        oom(err);
        return NULL;
    }
    s->multi = cfg->multi;
    s->probe_lt = cfg->l2_iface ? FP_LINKTYPE_ETHERNET : FP_LINKTYPE_RAW;
    /* Kernel blocks retired every 5 ms: answers reach the matcher within that, without
     * immediate mode's one 64 KiB slot per packet (which drops bursts, see DESIGN.md). */
    fp_live_config lc = {0};
    lc.iface = cfg->capture_iface && *cfg->capture_iface ? cfg->capture_iface : "any";
    lc.filter = cfg->filter;
    lc.snaplen = 65535;
    lc.buffer_size = cfg->buffer_size > 0 ? cfg->buffer_size : 32 << 20;
    lc.timeout_ms = 5;
    lc.nanosecond = 1;
    /* An answer comes from another host: what this host sends (its own ARP replies to a
     * neighbour's refresh, the probes themselves) would otherwise match, as it never does
     * in Scapy, whose Linux sockets drop PACKET_OUTGOING. */
    lc.inbound_only = 1;
    s->snd = fp_sender_open(cfg->l2_iface, err);
    if (s->snd == NULL) goto fail;
    s->cap = fp_source_open_live(&lc, err);
    if (s->cap == NULL) goto fail;
    return s;
fail:
    fp_probe_close(s);
    return NULL;
}

int64_t fp_probe_add(fp_probe_session *s, const uint8_t *data, uint32_t len)
{
    uint64_t pc = s->cap_n;
    if (s->n == UINT32_MAX - 1 || grow((void **)&s->probes, &pc, (uint64_t)s->n + 1, sizeof *s->probes) < 0 ||
        grow((void **)&s->probe_data, &s->probe_data_cap, s->probe_data_len + len, 1) < 0)
        return -1;
    s->cap_n = (uint32_t)pc;
    probe_rec *p = &s->probes[s->n];
    memset(p, 0, sizeof *p);
    p->off = s->probe_data_len;
    p->len = len;
    memcpy(s->probe_data + s->probe_data_len, data, len);
    s->probe_data_len += len;
    s->unanswered++;
    return s->n++;
}

static int cmp_entry(const void *a, const void *b)
{
    const index_entry *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->probe < y->probe ? -1 : x->probe > y->probe;
}

/* Key every probe (probes without a key, e.g. not IP or ARP, get none and stay unanswered). */
static int build_index(fp_probe_session *s)
{
    if (s->indexed == s->n && s->index) return 0;
    free(s->index);
    s->index = malloc(((size_t)s->n + 1) * sizeof *s->index);
    if (s->index == NULL) return -1;
    uint32_t m = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        fp_pview v;
        fp_probe_key k;
        if (!fp_pview_parse(s->probe_data + s->probes[i].off, s->probes[i].len, s->probe_lt, &v) ||
            !fp_pview_key(&v, 0, &k))
            continue;
        s->index[m].hash = fp_probe_key_hash(&k);
        s->index[m++].probe = i;
    }
    qsort(s->index, m, sizeof *s->index, cmp_entry);
    s->index_len = m;
    s->indexed = s->n;
    return 0;
}

int fp_probe_plan(fp_probe_session *s, const uint32_t *probes, uint32_t n, int64_t inter_ns, int64_t timeout_ns)
{
    uint64_t qc = s->qcap;
    for (uint32_t i = 0; i < n; i++)
        if (probes[i] >= s->n) return -1;
    if (build_index(s) < 0 || grow((void **)&s->queue, &qc, (uint64_t)n + 1, sizeof *s->queue) < 0) return -2;
    s->qcap = (uint32_t)qc;
    memcpy(s->queue, probes, (size_t)n * sizeof *probes);
    s->qlen = n;
    s->qpos = 0;
    s->inter_ns = inter_ns > 0 ? inter_ns : 0;
    s->timeout_ns = timeout_ns;
    s->next_send = s->last_send = mono_ns();
    return 0;
}

static int store_answer(fp_probe_session *s, uint32_t probe, const fp_record *rec, uint32_t net_off)
{
    uint64_t ac = s->ans_cap;
    if (grow((void **)&s->answers, &ac, (uint64_t)s->nans + 1, sizeof *s->answers) < 0 ||
        grow((void **)&s->ans_data, &s->ans_data_cap, s->ans_data_len + rec->caplen, 1) < 0)
        return -1;
    s->ans_cap = (uint32_t)ac;
    fp_probe_answer *a = &s->answers[s->nans++];
    a->probe = probe;
    a->linktype = rec->linktype;
    a->ts_ns = rec->ts_ns;
    a->net_off = net_off;
    a->len = rec->caplen;
    a->data_off = s->ans_data_len;
    memcpy(s->ans_data + s->ans_data_len, rec->data, rec->caplen);
    s->ans_data_len += rec->caplen;
    return 0;
}

/* Find the probe a captured packet answers: the first in sending order among those with
 * its key that the rules accept and, unless multi, that has no answer yet. */
static int match_record(fp_probe_session *s, const fp_record *rec)
{
    fp_pview r;
    fp_probe_key k;
    s->stats.captured++;
    if (!fp_pview_parse(rec->data, rec->caplen, rec->linktype, &r) || !fp_pview_key(&r, 1, &k)) {
        s->stats.unmatched++;
        return 0;
    }
    uint64_t h = fp_probe_key_hash(&k);
    uint32_t lo = 0, hi = s->index_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->index[mid].hash < h) lo = mid + 1;
        else hi = mid;
    }
    for (uint32_t i = lo; i < s->index_len && s->index[i].hash == h; i++) {
        probe_rec *p = &s->probes[s->index[i].probe];
        if (p->sent_ns == 0 || (!s->multi && p->answers)) continue;
        fp_pview pv;
        fp_probe_key pk;
        if (!fp_pview_parse(s->probe_data + p->off, p->len, s->probe_lt, &pv) || !fp_pview_key(&pv, 0, &pk) ||
            memcmp(&pk, &k, sizeof k) || !fp_pview_answers(&pv, &r))
            continue;
        if (store_answer(s, s->index[i].probe, rec, r.net_off) < 0) return -1;
        if (p->answers++ == 0) s->unanswered--;
        return 0;
    }
    s->stats.unmatched++;
    return 0;
}

/* Send every probe that is due now. */
static int send_due(fp_probe_session *s, int64_t now, fp_error *err)
{
    while (s->qpos < s->qlen && now >= s->next_send) {
        probe_rec *p = &s->probes[s->queue[s->qpos]];
        int why;
        int64_t t = wall_ns(); /* before: on loopback the answer is captured inside sendto() */
        int rc = fp_sender_send(s->snd, s->probe_data + p->off, p->len, &why, err);
        if (rc < 0) return -1;
        if (rc == 0) {
            p->sent_ns = t;
            s->stats.sent++;
        } else {
            s->stats.send_skipped++;
            s->stats.last_skip_errno = why;
        }
        s->qpos++;
        now = mono_ns();
        s->last_send = now;
        s->next_send = s->inter_ns ? s->next_send + s->inter_ns : now;
        if (s->next_send < now - s->inter_ns) s->next_send = now; /* never burst to catch up */
    }
    return 0;
}

int fp_probe_run(fp_probe_session *s, int slice_ms, fp_error *err)
{
    int64_t slice_end = mono_ns() + (int64_t)slice_ms * 1000000LL;
    for (;;) {
        int64_t now = mono_ns();
        if (send_due(s, now, err) < 0) return -1;
        int all_sent = s->qpos >= s->qlen;
        if (all_sent && !s->multi && s->unanswered == 0) return 0;
        int64_t until = slice_end;
        if (!all_sent && s->next_send < until) until = s->next_send;
        if (all_sent && s->timeout_ns >= 0) {
            int64_t deadline = s->last_send + s->timeout_ns;
            if (now >= deadline) return 0;
            if (deadline < until) until = deadline;
        }
        if (now >= slice_end) return 1;
        int64_t wait = until > now ? (until - now + 999999) / 1000000 : 0;
        fp_source_live_set_wait(s->cap, (int)wait);
        fp_record rec;
        int rc = fp_source_next(s->cap, &rec, err);
        if (rc < 0) return -1;
        if (rc == 0) return 0; /* capture broken off */
        if (rc == 1 && match_record(s, &rec) < 0) {
            oom(err);
            return -1;
        }
    }
}

uint32_t fp_probe_count(const fp_probe_session *s) { return s->n; }
int64_t fp_probe_sent_ns(const fp_probe_session *s, uint32_t probe) { return probe < s->n ? s->probes[probe].sent_ns : 0; }
uint32_t fp_probe_answer_count(const fp_probe_session *s) { return s->nans; }
const fp_probe_answer *fp_probe_answer_at(const fp_probe_session *s, uint32_t i) { return i < s->nans ? &s->answers[i] : NULL; }
const uint8_t *fp_probe_answer_data(const fp_probe_session *s, const fp_probe_answer *a) { return s->ans_data + a->data_off; }
uint32_t fp_probe_answers_of(const fp_probe_session *s, uint32_t probe) { return probe < s->n ? s->probes[probe].answers : 0; }
void fp_probe_get_stats(const fp_probe_session *s, fp_probe_stats *out) { *out = s->stats; }

int fp_probe_capture_stats(const fp_probe_session *s, uint64_t *received, uint64_t *dropped)
{
    uint64_t ifdrop;
    return fp_source_live_stats(s->cap, received, dropped, &ifdrop);
}

void fp_probe_close(fp_probe_session *s)
{
    if (s == NULL) return;
    if (s->cap) fp_source_close(s->cap);
    fp_sender_close(s->snd);
    free(s->probes);
    free(s->probe_data);
    free(s->index);
    free(s->queue);
    free(s->answers);
    free(s->ans_data);
    free(s);
}
