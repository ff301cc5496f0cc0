/* The hello search per connection (see hello_tracker.h). */
#include "hello_tracker.h"

#include <stdlib.h>
#include <string.h>

#define SCRATCH_BYTES 65536u /* one UDP datagram, decrypted (allocated at the first QUIC-like one) */

/* CRYPTO windows (cs[i].buf) are allocated at the first fragment and grow with the data. */
struct fp_quic_state {
    fp_quic_keys_cache cache;
    fp_quic_crypto_stream cs[2];
};

typedef struct {
    fp_hello_tracker *t;
    fp_hello_conn *c;
    int dir;
} msg_ctx;

/* Copy a hello body out of the search buffers. slot 0: ClientHello, 1: ServerHello. */
static void keep_hello(fp_hello_tracker *t, fp_hello_conn *c, int slot, int dir, const uint8_t *body, uint32_t len)
{
    if (c->hello[slot]) return;
    uint8_t *b = fp_budget_malloc(t->budget, FP_MEM_HELLO, len);
    if (b == NULL) {
        t->stats.oom++;
        c->alloc_failed = 1;
        return;
    }
    if (len) memcpy(b, body, len); /* an empty hello may come without a body pointer */
    c->hello[slot] = b;
    c->hello_len[slot] = len;
    c->hello_ns[slot] = t->now_ns;
    if (slot == 0) {
        c->client_dir = (uint8_t)dir;
        t->stats.client_hellos++;
    } else {
        t->stats.server_hellos++;
    }
}

/* Handshake messages of one direction: keep the first ClientHello / ServerHello, then stop. */
static int on_message(void *ctx, const fp_tls_hs_msg *m)
{
    msg_ctx *x = ctx;
    fp_hello_conn *c = x->c;
    if (m->type != 1 && m->type != 2) return 0;
    if (m->type == 1 && c->hello[0] == NULL) {
        c->hello_wire_len = m->wire_len;
        c->hello_anomalies = m->anomalies;
        fp_hello_stats *st = &x->t->stats;
        st->hello_over_cap += (m->anomalies & FP_TLS_HELLO_A(OVER_CAP)) != 0;
        st->hello_implausible_length += (m->anomalies & FP_TLS_HELLO_A(IMPLAUSIBLE_LENGTH)) != 0;
    }
    keep_hello(x->t, c, m->type - 1, x->dir, m->body, m->len);
    return 1;
}

/* The one place the TLS parsers' memory is counted: what one direction's assembler holds
 * (message buffer and streaming ClientHello parser), by its own measure. */
static size_t tls_parser_bytes(const fp_tls_asm *a) { return fp_tls_asm_memory(a); }

/* Bring the budget's TLS share up to date with what the connection's parsers hold now. */
static void tls_account(fp_hello_tracker *t, fp_hello_conn *c)
{
    size_t now = c->tls ? tls_parser_bytes(&c->tls[0]) + tls_parser_bytes(&c->tls[1]) : 0;
    if (now > c->tls_bytes) fp_budget_charge(t->budget, FP_MEM_TLS, now - c->tls_bytes);
    else fp_budget_credit(t->budget, FP_MEM_TLS, c->tls_bytes - now);
    c->tls_bytes = now;
}

static void asm_setup(fp_hello_tracker *t, fp_tls_asm *a, int quic)
{
    fp_tls_asm_init(a, quic);
    a->hello_fields = t->hello_fields;
    a->max_message = FP_TLS_SH_MAX_BODY; /* a ServerHello of any valid size is held whole */
}

/* The input of a direction ends (gap, search over): a ClientHello it was reading is kept
 * as far as it went (counted either way, see fp_tls_asm_finish). */
static void asm_end(fp_hello_tracker *t, fp_hello_conn *c, int dir)
{
    msg_ctx x = {t, c, dir};
    if (c->hello[0] == NULL && fp_tls_asm_finish(&c->tls[dir], on_message, &x) != 0) t->stats.hello_partial++;
}

/* A handshake record starting with a hello of `type` (1 client, 2 server): where TLS begins
 * after a plaintext prologue (STARTTLS, HTTP CONNECT, SOCKS) it starts a segment. */
static int hello_record_start(const uint8_t *p, uint32_t len, uint8_t type)
{
    /* record header, hello header, legacy_version 3.x: a hello body is at least 38 bytes
     * (version, random, session id and one cipher or the selected one, compression) */
    if (len < 11 || !fp_tls_record_plausible(p, len, 1) || p[5] != type || p[9] != 3) return 0;
    uint32_t rec = (uint32_t)p[3] << 8 | p[4], body = (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    return rec >= 4 + 38 && body >= 38;
}

static void feed(fp_hello_tracker *t, fp_hello_conn *c, int dir, int gap, const uint8_t *data, uint32_t len)
{
    fp_tls_asm *a = &c->tls[dir];
    if (gap) {
        asm_end(t, c, dir);
        fp_tls_asm_gap(a);
    }
    if (len && !(a->flags & FP_TLS_ASM(DONE))) {
        msg_ctx x = {t, c, dir};
        fp_tls_asm_feed(a, data, len, on_message, &x);
    }
}

/* The search reassembler's in-order bytes go to the direction's record assembler. */
static void tls_sink(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap, const uint8_t *data,
                     uint32_t len)
{
    fp_hello_tracker *t = ctx;
    fp_hello_conn *c = user;
    fp_tls_asm *a = &c->tls[dir];
    if (c->dead[dir]) return;
    if (!c->plain[dir]) {
        feed(t, c, dir, gap != 0, data, len);
        if (!(a->flags & FP_TLS_ASM(DONE))) return;
        if (!(a->flags & FP_TLS_ASM(NOT_TLS))) { /* set only at a stream's start */
            c->dead[dir] = 1;
            return;
        }
        c->plain[dir] = 1; /* this very chunk may already start the TLS (a prologue < 5 bytes) */
    }
    if (gap || offset >= FP_HELLO_PLAIN_WINDOW) {
        c->dead[dir] = 1;
        return;
    }
    if (!hello_record_start(data, len, dir == (int)c->client_dir ? 1 : 2)) return;
    fp_tls_asm_free(a); /* TLS begins here */
    asm_setup(t, a, 0);
    c->plain[dir] = 0;
    feed(t, c, dir, 0, data, len);
    if (a->flags & FP_TLS_ASM(DONE)) c->dead[dir] = 1;
}

int fp_hello_tracker_init(fp_hello_tracker *t, fp_budget *budget)
{
    memset(t, 0, sizeof *t);
    t->budget = budget;
    t->sh.budget = budget;
    t->sh.cfg.depth = 0; /* the search decides per direction (tcp_packet) */
    t->hello_fields = FP_TLS_HELLO_FIELDS;
    t->sh.cfg.max_buffered = FP_HELLO_TCP_DEPTH;
    t->sh.cfg.max_buffered_total = 64u << 20;
    t->sh.cfg.store = 0;
    t->sh.sink = tls_sink;
    t->sh.sink_ctx = t;
    return 0;
}

void fp_hello_tracker_free(fp_hello_tracker *t)
{
    fp_budget_free(t->budget, FP_MEM_ENGINE, t->scratch);
    t->scratch = NULL;
}

static void quic_state_free(fp_hello_tracker *t, fp_quic_state *q)
{
    if (q == NULL) return;
    for (int i = 0; i < 2; i++) fp_budget_free(t->budget, FP_MEM_QUIC, q->cs[i].buf);
    fp_budget_free(t->budget, FP_MEM_QUIC, q);
}

/* Let go of the search state; the hellos found stay. */
static void stop_search(fp_hello_tracker *t, fp_hello_conn *c)
{
    if (c->r) {
        fp_reasm_release(&t->sh, c->r);
        fp_budget_free(t->budget, FP_MEM_REASSEMBLY, c->r);
        c->r = NULL;
    }
    if (c->tls) {
        for (int i = 0; i < 2; i++) {
            asm_end(t, c, i);
            c->asm_flags[i] = c->tls[i].flags;
            fp_tls_asm_free(&c->tls[i]);
        }
        tls_account(t, c);
        fp_budget_free(t->budget, FP_MEM_HELLO, c->tls);
        c->tls = NULL;
    }
    quic_state_free(t, c->q);
    c->q = NULL;
    c->done = 1;
}

void fp_hello_finish(fp_hello_tracker *t, fp_hello_conn *c)
{
    if (!c->done) stop_search(t, c);
}

void fp_hello_conn_hold(fp_hello_tracker *t, fp_hello_conn *c)
{
    c->held = fp_alloc_size(c) + fp_alloc_size(c->hello[0]) + fp_alloc_size(c->hello[1]);
    fp_budget_hold(t->budget, c->held);
}

void fp_hello_conn_free(fp_hello_tracker *t, fp_hello_conn *c)
{
    if (c == NULL) return;
    fp_budget_unhold(t->budget, c->held);
    fp_hello_finish(t, c);
    fp_budget_free(t->budget, FP_MEM_HELLO, c->hello[0]);
    fp_budget_free(t->budget, FP_MEM_HELLO, c->hello[1]);
    fp_budget_free(t->budget, FP_MEM_HELLO, c);
}

/* After a packet: the search ends once both directions are settled; the connection is
 * reportable once its ClientHello is known and the server side is settled. */
static int settle(fp_hello_tracker *t, fp_hello_conn *c)
{
    int server = !c->client_dir;
    int ready = c->hello[0] && (c->hello[1] || c->dead[server]);
    if (ready || (c->dead[0] && c->dead[1])) {
        stop_search(t, c);
        return ready;
    }
    return 0;
}

static int tcp_packet(fp_hello_tracker *t, fp_hello_conn **pc, const fp_flow_packet *p, int dir)
{
    const fp_span *s = &p->d->layer[FP_L_TCP];
    uint32_t at = s->off + s->hlen, len = s->end - at;
    fp_hello_conn *c = *pc;
    if (c == NULL) {
        /* the SYN gives the stream's start; without it, wait for data */
        if (len == 0 && !(p->tcp_flags & FP_TH_SYN)) return 0;
        fp_budget *b = t->budget;
        if ((c = fp_budget_calloc(b, FP_MEM_HELLO, 1, sizeof *c)) == NULL ||
            (c->r = fp_budget_calloc(b, FP_MEM_REASSEMBLY, 1, sizeof *c->r)) == NULL ||
            (c->tls = fp_budget_calloc(b, FP_MEM_HELLO, 2, sizeof *c->tls)) == NULL) {
            if (c) fp_budget_free(b, FP_MEM_REASSEMBLY, c->r);
            fp_budget_free(b, FP_MEM_HELLO, c);
            t->stats.oom++;
            return FP_HELLO_ALLOC_FAILED;
        }
        c->transport = 't';
        c->r->user = c;
        asm_setup(t, &c->tls[0], 0);
        asm_setup(t, &c->tls[1], 0);
        t->stats.tcp_searches++;
        *pc = c;
    }
    if (c->done || c->transport != 't') return 0;
    fp_reasm_segment(&t->sh, c->r, dir, p->seq, p->ack, p->tcp_flags, p->data + at, len);
    tls_account(t, c);
    if (c->r->anomalies & FP_REASM_OOM) c->alloc_failed = 1;
    for (int i = 0; i < 2 && !c->done; i++) { /* the search depth; a ClientHello is followed to its end */
        uint64_t seen = c->r->dir[i].delivered;
        if ((seen >= FP_HELLO_TCP_DEPTH && !fp_tls_asm_streaming(&c->tls[i])) || seen >= FP_HELLO_STREAM_MAX ||
            (c->plain[i] && seen >= FP_HELLO_PLAIN_WINDOW)) {
            c->dead[i] = 1;
            asm_end(t, c, i); /* a ClientHello cut here is kept as far as it went */
        }
    }
    return settle(t, c);
}

/* A client Initial of a QUIC version we can decrypt: long header, fixed bit, type Initial. */
static int quic_initial(const uint8_t *p, uint32_t len)
{
    if (len < 7 || (p[0] & 0xC0) != 0xC0) return 0;
    uint32_t version = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    unsigned type = (p[0] >> 4) & 3;
    return (version == FP_QUIC_VERSION_1 && type == 0) || (version == FP_QUIC_VERSION_2 && type == 1);
}

/* CRYPTO bytes that became contiguous go to the direction's assembler (QUIC mode: no
 * records) and leave the window. Returns 1 when the stream moved on. */
static int quic_take(fp_hello_tracker *t, fp_hello_conn *c, int dir)
{
    fp_quic_crypto_stream *cs = &c->q->cs[dir];
    uint32_t n = cs->contiguous;
    if (n == 0) return 0;
    msg_ctx x = {t, c, dir};
    fp_tls_asm_feed(&c->tls[dir], cs->buf, n, on_message, &x);
    fp_quic_crypto_consume(cs, n);
    tls_account(t, c);
    if (cs->base >= FP_HELLO_STREAM_MAX) asm_end(t, c, dir);
    if ((c->tls[dir].flags & FP_TLS_ASM(DONE)) || cs->base >= FP_HELLO_STREAM_MAX) c->dead[dir] = 1;
    return 1;
}

/* Room in a CRYPTO window up to stream offset `end` (the window holds at most
 * FP_HELLO_QUIC_CRYPTO bytes past what was consumed): doubling from 1 KiB. */
static int crypto_reserve(fp_hello_tracker *t, fp_quic_crypto_stream *s, uint64_t end)
{
    if (end <= s->base) return 0;
    end -= s->base;
    if (end > FP_HELLO_QUIC_CRYPTO) end = FP_HELLO_QUIC_CRYPTO;
    if (end <= s->cap) return 0;
    uint32_t cap = s->cap ? s->cap : 1024;
    while (cap < end) cap *= 2;
    if (cap > FP_HELLO_QUIC_CRYPTO) cap = FP_HELLO_QUIC_CRYPTO;
    uint8_t *b = fp_budget_realloc(t->budget, FP_MEM_QUIC, s->buf, cap);
    if (b == NULL) return -1;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* Decrypted CRYPTO fragments into a direction's window (bytes past it are counted there as
 * over its cap, as when the window could not grow). */
static void quic_add(fp_hello_tracker *t, fp_hello_conn *c, int dir, const fp_quic_crypto_frag *frags, int n)
{
    fp_quic_crypto_stream *s = &c->q->cs[dir];
    for (int i = 0; i < n; i++) {
        if (crypto_reserve(t, s, frags[i].offset + frags[i].length) < 0) {
            t->stats.oom++;
            c->alloc_failed = 1;
        }
        fp_quic_crypto_add(s, frags[i].offset, frags[i].data, frags[i].length);
    }
    if (s->bytes_over_cap) c->quic_flags |= FP_QUIC_F_CRYPTO_OVER_WINDOW; /* on the record */
}

static void quic_info(fp_hello_tracker *t, fp_hello_conn *c, const fp_quic_info *info)
{
    c->quic_flags |= info->flags;
    if (info->flags & FP_QUIC_F_AUTH_FAILED) t->stats.quic_auth_failures++;
}

/* A client's first datagram: its search state is allocated only when it decrypted as an
 * Initial carrying CRYPTO data (a datagram that merely starts like one costs nothing, and
 * one shorter on the wire than a client may send costs no decryption either). */
static int quic_start(fp_hello_tracker *t, fp_hello_conn **pc, const uint8_t *payload, uint32_t len,
                      uint32_t wire_len)
{
    if (wire_len < FP_HELLO_QUIC_MIN_INITIAL) {
        t->stats.quic_not_initial++;
        return -1;
    }
    fp_quic_keys_cache cache;
    fp_quic_crypto_frag frags[FP_QUIC_FEED_FRAGS];
    fp_quic_info info;
    if (t->scratch == NULL && (t->scratch = fp_budget_malloc(t->budget, FP_MEM_ENGINE, SCRATCH_BYTES)) == NULL) {
        t->stats.oom++;
        return FP_HELLO_ALLOC_FAILED;
    }
    fp_quic_cache_init(&cache);
    int n = fp_quic_decrypt_datagram(payload, len, 1, &cache, t->scratch, SCRATCH_BYTES, frags,
                                     FP_QUIC_FEED_FRAGS, &info);
    if (n <= 0) {
        if (info.flags & FP_QUIC_F_AUTH_FAILED) t->stats.quic_auth_failures++;
        t->stats.quic_not_initial++;
        return -1;
    }
    fp_budget *b = t->budget;
    fp_hello_conn *c = fp_budget_calloc(b, FP_MEM_HELLO, 1, sizeof *c);
    if (c == NULL || (c->q = fp_budget_malloc(b, FP_MEM_QUIC, sizeof *c->q)) == NULL ||
        (c->tls = fp_budget_calloc(b, FP_MEM_HELLO, 2, sizeof *c->tls)) == NULL) {
        if (c) fp_budget_free(b, FP_MEM_QUIC, c->q);
        fp_budget_free(b, FP_MEM_HELLO, c);
        t->stats.oom++;
        return FP_HELLO_ALLOC_FAILED;
    }
    asm_setup(t, &c->tls[0], 1);
    asm_setup(t, &c->tls[1], 1);
    c->transport = 'q';
    c->quic_version = (uint32_t)payload[1] << 24 | (uint32_t)payload[2] << 16 | (uint32_t)payload[3] << 8 | payload[4];
    c->q->cache = cache;
    for (int i = 0; i < 2; i++) fp_quic_crypto_init(&c->q->cs[i], NULL, 0);
    t->stats.quic_searches++;
    *pc = c;
    quic_info(t, c, &info);
    quic_add(t, c, 0, frags, n);
    return 0;
}

static int udp_packet(fp_hello_tracker *t, fp_hello_conn **pc, const fp_flow_packet *p, int dir)
{
    const fp_span *s = &p->d->layer[FP_L_UDP];
    uint32_t at = s->off + s->hlen, len = s->end - at;
    const uint8_t *payload = p->data + at;
    fp_hello_conn *c = *pc;
    if (c == NULL) {
        if (dir != 0 || !quic_initial(payload, len)) return -1; /* not a QUIC client start */
        int rc = quic_start(t, pc, payload, len, p->l4_payload);
        if (rc < 0) return rc;
        c = *pc;
    } else {
        /* a settled direction's datagrams still go through: after a Retry the client's next
         * Initial carries the DCID that keys the server's Initials */
        if (c->done || c->transport != 'q' || len == 0) return 0;
        fp_quic_crypto_frag frags[FP_QUIC_FEED_FRAGS];
        fp_quic_info info;
        int n = fp_quic_decrypt_datagram(payload, len, dir == 0, &c->q->cache, t->scratch, SCRATCH_BYTES, frags,
                                         FP_QUIC_FEED_FRAGS, &info);
        quic_info(t, c, &info);
        quic_add(t, c, dir, frags, n);
    }
    if (c->dead[dir]) return settle(t, c);
    if (quic_take(t, c, dir)) c->quic_tries[dir] = 0; /* a long hello takes many datagrams */
    if (!c->dead[dir] && ++c->quic_tries[dir] >= FP_HELLO_QUIC_DATAGRAMS) {
        c->dead[dir] = 1;
        asm_end(t, c, dir);
        t->stats.gave_up++;
    }
    return settle(t, c);
}

int fp_hello_packet(fp_hello_tracker *t, fp_hello_conn **pc, const fp_flow_packet *p, int forward)
{
    if (*pc && (*pc)->done) return 0;
    t->now_ns = p->ts_ns;
    int dir = forward ? 0 : 1;
    if (p->is_tcp && FP_HAS(p->d, FP_L_TCP)) return tcp_packet(t, pc, p, dir);
    if (p->is_udp && FP_HAS(p->d, FP_L_UDP)) return udp_packet(t, pc, p, dir);
    return *pc ? 0 : -1;
}

/* ---- parsed view ------------------------------------------------------------ */

uint16_t fp_hello_max_version(const fp_tls_hello *h)
{
    uint16_t best = 0;
    for (uint32_t i = 0; i < h->version_count && i < FP_TLS_MAX_VERSIONS; i++)
        if (!fp_tls_is_grease(h->versions[i]) && h->versions[i] > best) best = h->versions[i];
    return best ? best : h->legacy_version;
}

int fp_hello_view_make(const fp_hello_conn *c, fp_hello_view *v)
{
    memset(v, 0, sizeof *v);
    if (c->hello[0] == NULL) return -1;
    fp_tls_client_hello_parse_compact(c->hello[0], c->hello_len[0], c->hello_anomalies, &v->ch);
    v->has_ch = 1;
    v->ja3_str = fp_tls_ja3_new(&v->ch, v->ja3);
    v->ja4_r = fp_tls_ja4_new(&v->ch, c->transport == 'q' ? 'q' : 't', v->ja4);
    if (c->hello[1]) {
        fp_tls_server_hello_parse(c->hello[1], c->hello_len[1], &v->sh);
        v->has_sh = 1;
        v->ja3s_str = fp_tls_ja3_new(&v->sh, v->ja3s);
    }
    return 0;
}

int fp_hello_fingerprints(const fp_hello_conn *c, fp_tls_hello *ch, char ja3[33], char ja4[FP_JA4_SIZE])
{
    if (c->hello[0] == NULL) return -1;
    fp_tls_client_hello_parse_compact(c->hello[0], c->hello_len[0], c->hello_anomalies, ch);
    ja3[0] = ja4[0] = 0;
    fp_tls_ja3(ch, NULL, 0, ja3);
    fp_tls_ja4(ch, c->transport == 'q' ? 'q' : 't', ja4, NULL, 0);
    return 0;
}

void fp_hello_view_free(fp_hello_view *v)
{
    free(v->ja3_str);
    free(v->ja3s_str);
    free(v->ja4_r);
    v->ja3_str = v->ja3s_str = v->ja4_r = NULL;
}
