/* DNS transactions per connection (see dns_tracker.h). */
#include "dns_tracker.h"

#include <string.h>

#define TXN_NAME(name, str) str,
const char *const fp_dns_txn_anomaly_names[FP_DNS_TXN_ANOM_COUNT] = {FP_DNS_TXN_ANOMALIES(TXN_NAME)};
#undef TXN_NAME

#define QR 0x8000u

uint8_t fp_dns_idle_marker = 'i';

static void tcp_sink(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap, const uint8_t *data, uint32_t len);

void fp_dns_tracker_init(fp_dns_tracker *t, fp_budget *budget, int64_t timeout_ns, fp_dns_emit_fn emit, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->budget = budget;
    t->timeout_ns = timeout_ns;
    t->clock_ns = INT64_MIN; /* no tick yet: a transaction counts from its own time */
    t->emit = emit;
    t->emit_ctx = ctx;
    t->sh.budget = budget;
    t->sh.cfg.max_buffered = 256u << 10; /* two whole messages out of order per direction */
    t->sh.cfg.max_buffered_total = 64u << 20;
    t->sh.cfg.store = 0;
    t->sh.sink = tcp_sink;
    t->sh.sink_ctx = t;
}

static int dns_port(const fp_flow_key *k)
{
    for (int i = 0; i < 2; i++) {
        uint16_t port = i ? k->pb : k->pa;
        if (port == 53 || port == 5353 || port == 5355) return 1;
    }
    return 0;
}

int fp_dns_wants(const fp_flow_packet *p)
{
    if (p->is_udp) return FP_HAS(p->d, FP_L_DNS) || (FP_HAS(p->d, FP_L_UDP) && dns_port(&p->key));
    return p->is_tcp && FP_HAS(p->d, FP_L_TCP) && (p->key.pa == 53 || p->key.pb == 53);
}

/* ---- transactions --------------------------------------------------------- */

static void txn_free_parts(fp_dns_tracker *t, fp_dns_txn *x)
{
    fp_budget_free(t->budget, FP_MEM_DNS, x->qname);
    fp_budget_free(t->budget, FP_MEM_DNS, x->resp);
    fp_budget_free(t->budget, FP_MEM_DNS, x);
}

void fp_dns_txn_free(fp_dns_tracker *t, fp_dns_txn *x)
{
    if (x == NULL) return;
    fp_budget_unhold(t->budget, x->held);
    t->held -= x->held;
    txn_free_parts(t, x);
}

void fp_dns_txn_hold(fp_dns_tracker *t, fp_dns_txn *x)
{
    x->held = fp_alloc_size(x) + fp_alloc_size(x->qname) + fp_alloc_size(x->resp);
    fp_budget_hold(t->budget, x->held);
    t->held += x->held;
}

size_t fp_dns_txn_release(fp_dns_tracker *t, fp_dns_txn *x)
{
    size_t n = x->held;
    fp_budget_unhold(t->budget, n);
    fp_budget_credit(t->budget, FP_MEM_DNS, n); /* held is exactly what its three blocks were charged */
    t->held -= n;
    x->held = 0;
    return n;
}

void fp_dns_txn_drop(fp_dns_txn *x)
{
    if (x == NULL) return;
    free(x->qname);
    free(x->resp);
    free(x);
}

/* Take x (the head of its connection's open list) off both open lists. */
static void unlink_head(fp_dns_tracker *t, fp_dns_conn *c, fp_dns_txn *x)
{
    c->open = x->next;
    if (c->open == NULL) c->open_tail = NULL;
    c->nopen--;
    x->next = NULL;
    if (x->older) x->older->newer = x->newer;
    else t->oldest = x->newer;
    if (x->newer) x->newer->older = x->older;
    else t->newest = x->older;
    x->older = x->newer = NULL;
    x->conn = NULL;
}

/* Unlink the head of the open list and hand it to the engine. */
static void close_head(fp_dns_tracker *t, fp_dns_conn *c, uint32_t anomaly)
{
    fp_dns_txn *x = c->open;
    unlink_head(t, c, x);
    x->anomalies |= anomaly;
    t->stats.transactions++;
    if (x->query_ns == FP_FLOW_NO_TIME) t->stats.response_only++;
    else if (x->responses) t->stats.answered++;
    else t->stats.unanswered++;
    if (anomaly & FP_DNS_TXN_A(EVICTED)) t->stats.evicted++;
    t->emit(t->emit_ctx, x);
}

/* Transactions opened `timeout` ago or more close (the list is in opening order). */
static void close_expired(fp_dns_tracker *t, fp_dns_conn *c)
{
    while (c->open && t->now_ns - c->open->open_ns >= t->timeout_ns) close_head(t, c, 0);
}

/* Anomalies of a whole message: the iterator's verdict on every record. */
static uint32_t message_anomalies(const uint8_t *msg, uint32_t len)
{
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, msg, len) != 0) return FP_DNS_TXN_A(MALFORMED);
    int r;
    while ((r = fp_dns_iter_next(&it, &rec)) == 1)
        ;
    uint32_t a = 0;
    uint32_t bits = it.flags | (r < 0 ? (uint32_t)it.error : 0);
    if (bits & FP_ANOM_DNS_MALFORMED) a |= FP_DNS_TXN_A(MALFORMED);
    if (bits & FP_ANOM_DNS_NAME) a |= FP_DNS_TXN_A(BAD_NAME);
    if (bits & FP_ANOM_DNS_POINTER_CHAIN) a |= FP_DNS_TXN_A(POINTER_CHAIN);
    if (it.hdr.qdcount == 0 && !(it.hdr.flags & QR)) a |= FP_DNS_TXN_A(NO_QUESTION); /* a query asking nothing */
    return a;
}

/* The first question's name (copied), type and class. A message without a question (mDNS
 * responses, RFC 6762 section 6) gives the name of its first answer, as Zeek reports it. */
static void take_question(fp_dns_tracker *t, fp_dns_txn *x, const uint8_t *msg, uint32_t len)
{
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, msg, len) != 0 || fp_dns_iter_next(&it, &rec) != 1) return;
    if (rec.section != FP_DNS_QD && rec.section != FP_DNS_AN) return;
    size_t n = strlen(rec.name);
    char *name = fp_budget_malloc(t->budget, FP_MEM_DNS, n + 1);
    if (name == NULL) {
        t->stats.oom++;
        x->anomalies |= FP_DNS_TXN_A(ALLOC_FAILED);
        return;
    }
    memcpy(name, rec.name, n + 1);
    x->qname = name;
    if (rec.section != FP_DNS_QD) return;
    x->qtype = rec.type;
    x->qclass = rec.rclass;
    x->has_question = 1;
}

static fp_dns_txn *txn_open(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, uint16_t id, int orig_is_b)
{
    if (c->nopen >= FP_DNS_CONN_OPEN_MAX) {
        t->stats.closed_at_cap++;
        close_head(t, c, FP_DNS_TXN_A(CLOSED_AT_CAP));
    }
    fp_dns_txn *x = fp_budget_calloc(t->budget, FP_MEM_DNS, 1, sizeof *x);
    if (x == NULL) {
        t->stats.oom++;
        return NULL;
    }
    x->kind = FP_DNS_KIND_TXN;
    x->tcp = c->tcp;
    x->orig_is_b = (uint8_t)orig_is_b;
    x->key = f->key;
    x->flow_id = f->flow_id;
    x->create_pkt = f->create_pkt;
    x->id = id;
    x->conn = c;
    x->open_pkt = t->pkt;
    x->older = t->newest;
    if (t->newest) t->newest->newer = x;
    else t->oldest = x;
    t->newest = x;
    x->open_ns = t->now_ns;
    x->tick_ns = t->now_ns > t->clock_ns ? t->now_ns : t->clock_ns;
    x->query_ns = x->response_ns = FP_FLOW_NO_TIME;
    if (c->open_tail) c->open_tail->next = x;
    else c->open = x;
    c->open_tail = x;
    c->nopen++;
    return x;
}

static int same_question(const fp_dns_txn *x, const uint8_t *msg, uint32_t len)
{
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, msg, len) != 0 || it.hdr.qdcount == 0 || fp_dns_iter_next(&it, &rec) != 1)
        return !x->has_question;
    return x->has_question && x->qtype == rec.type && x->qclass == rec.rclass && x->qname &&
           strcmp(x->qname, rec.name) == 0;
}

static void on_query(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, const uint8_t *msg, uint32_t len,
                     int sender_is_b, uint32_t anomalies)
{
    uint16_t id = fp_dns_be16(msg);
    t->stats.queries++;
    for (fp_dns_txn *x = c->open; x; x = x->next)
        if (x->id == id && x->orig_is_b == sender_is_b && x->query_ns != FP_FLOW_NO_TIME && x->responses == 0 &&
            same_question(x, msg, len)) {
            x->queries++; /* the same question again before any answer: a retransmission */
            x->anomalies |= anomalies;
            t->stats.retransmitted_queries++;
            return;
        }
    fp_dns_txn *x = txn_open(t, c, f, id, sender_is_b);
    if (x == NULL) return;
    x->query_ns = t->now_ns;
    x->queries = 1;
    x->qflags = fp_dns_be16(msg + 2);
    x->anomalies |= anomalies;
    take_question(t, x, msg, len);
}

static void keep_response(fp_dns_tracker *t, fp_dns_txn *x, const uint8_t *msg, uint32_t len)
{
    uint8_t *copy = fp_budget_malloc(t->budget, FP_MEM_DNS, len);
    if (copy == NULL) {
        t->stats.oom++;
        x->anomalies |= FP_DNS_TXN_A(ALLOC_FAILED);
        return;
    }
    memcpy(copy, msg, len);
    x->resp = copy;
    x->resp_len = len;
}

static int multicast(const fp_flow_key *k, int b)
{
    const uint8_t *a = b ? k->b : k->a;
    return k->ip_version == 4 ? (a[0] & 0xf0) == 0xe0 : a[0] == 0xff;
}

static void on_response(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, const uint8_t *msg, uint32_t len,
                        int sender_is_b, uint32_t anomalies)
{
    uint16_t id = fp_dns_be16(msg);
    /* the query's sender is the response's receiver, except for a multicast group (mDNS,
     * LLMNR announcements): then the responder stays the originator, as Zeek keeps it */
    int orig_is_b = multicast(&f->key, !sender_is_b) ? sender_is_b : !sender_is_b;
    t->stats.responses++;
    fp_dns_txn *match = NULL;
    for (fp_dns_txn *x = c->open; x; x = x->next) { /* the oldest unanswered query first */
        if (x->id != id || x->orig_is_b != orig_is_b) continue;
        if (x->responses == 0) {
            match = x;
            break;
        }
        if (match == NULL) match = x;
    }
    if (match && match->responses) { /* another response to an answered transaction */
        match->responses++;
        t->stats.duplicate_responses++;
        if (match->resp && (match->resp_len != len || memcmp(match->resp, msg, len) != 0) &&
            !(match->anomalies & FP_DNS_TXN_A(RESPONSES_DIFFER))) {
            match->anomalies |= FP_DNS_TXN_A(RESPONSES_DIFFER);
            t->stats.responses_differ++;
        }
        return;
    }
    if (match == NULL) { /* a response nobody asked (in this capture): a row of its own */
        if ((match = txn_open(t, c, f, id, orig_is_b)) == NULL) return;
        take_question(t, match, msg, len);
    }
    match->responses = 1;
    match->response_ns = t->now_ns;
    match->anomalies |= anomalies;
    keep_response(t, match, msg, len);
}

/* One whole DNS message sent by the key's b side (sender_is_b) or a side. */
static void on_message(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, const uint8_t *msg, uint32_t len,
                       int sender_is_b, uint32_t extra)
{
    t->stats.messages++;
    if (len < 12) {
        t->stats.short_messages++;
        return;
    }
    close_expired(t, c);
    uint32_t a = message_anomalies(msg, len) | extra;
    if (fp_dns_be16(msg + 2) & QR) on_response(t, c, f, msg, len, sender_is_b, a);
    else on_query(t, c, f, msg, len, sender_is_b, a);
}

/* ---- TCP framing ------------------------------------------------------------ */

static void tcp_dir_reset(fp_dns_tracker *t, fp_dns_tcp_dir *d)
{
    fp_budget_free(t->budget, FP_MEM_DNS, d->buf);
    fp_budget_free(t->budget, FP_MEM_DNS, d->tail);
    d->buf = d->tail = NULL;
    d->have_prefix = d->trial = 0;
    d->tail_len = 0;
    d->need = d->got = 0;
}

/* Bytes of a direction that no message will hold once its framing ends (a gap, the
 * connection's end): the kept tail, and the message being gathered (its prefix and what
 * came of it), on trial or not. */
static uint64_t tcp_dir_unframed(const fp_dns_tcp_dir *d)
{
    return (uint64_t)d->tail_len + d->have_prefix + (d->have_prefix == 2 ? d->got : 0);
}

/* A header that could start a message of n bytes (RFC 1035 section 4.1.1): Z clear, an
 * assigned opcode (not 3) and rcode, at most one question (RFC 9619), and counts whose
 * smallest records (a 5-byte question, an 11-byte record) fit in n. */
static int plausible_header(const uint8_t *h, uint32_t n)
{
    uint16_t flags = fp_dns_be16(h + 2);
    unsigned opcode = (flags >> 11) & 15u, rcode = flags & 15u;
    if ((flags & 0x0040) || opcode == 3 || opcode > 6 || rcode > 10) return 0;
    uint32_t qd = fp_dns_be16(h + 4);
    uint32_t rr = (uint32_t)fp_dns_be16(h + 6) + fp_dns_be16(h + 8) + fp_dns_be16(h + 10);
    return qd <= 1 && 12 + 5 * qd + 11 * rr <= n;
}

/* Every record of the message decodes and the last ends at its end. */
static int parses_exactly(const uint8_t *msg, uint32_t n)
{
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_iter_init(&it, msg, n) != 0) return 0;
    int r;
    while ((r = fp_dns_iter_next(&it, &rec)) == 1)
        ;
    return r == 0 && it.pos == n;
}

/* The message's one question, from what the chunk holds of it: a name of labels (no pointer:
 * nothing precedes it to point at) ending in the bytes there, a type, and a class DNS uses
 * (IN, CHAOS, HESIOD, NONE, ANY; mDNS's unicast-response bit aside). */
static int plausible_question(const uint8_t *msg, uint32_t avail)
{
    uint32_t at = 12, name = 0;
    for (;;) {
        if (at >= avail) return 0;
        uint8_t label = msg[at++];
        if (label == 0) break;
        if (label > 63 || (name += label + 1u) > 255) return 0;
        at += label;
    }
    if (at + 4 > avail || fp_dns_be16(msg + at) == 0) return 0;
    unsigned qclass = fp_dns_be16(msg + at + 2) & 0x7fffu;
    return qclass == 1 || qclass == 3 || qclass == 4 || qclass == 254 || qclass == 255;
}

/* Whole-message parses tried per chunk: each costs up to the message's length, so a hostile
 * chunk full of plausible prefixes costs at most this many passes. */
#define HUNT_PARSES 16

uint32_t fp_dns_tcp_hunt(const uint8_t *data, uint32_t len, uint32_t seg, int *trial)
{
    int parses = 0;
    uint32_t first_past = len; /* the first message on trial: a whole one after it wins (a real
                                  one running past the bytes would hold that one inside it) */
    *trial = 0;
    for (uint32_t i = 0; len >= 14 && i <= len - 14; i++) {
        uint32_t n = fp_dns_be16(data + i);
        if (n < 12 || !plausible_header(data + i + 2, n)) continue;
        int one_question = fp_dns_be16(data + i + 6) == 1;
        uint32_t avail = (uint64_t)i + 2 + n > len ? len - i - 2 : n;
        if (one_question && !plausible_question(data + i + 2, avail)) continue;
        if (avail < n) { /* runs past the bytes: it must ask one question */
            if (i == seg && one_question) return i;
            if (one_question && first_past == len) first_past = i;
            continue;
        }
        if (i != seg && !one_question) continue;
        uint32_t next = i + 2 + n;
        if (next + 2 <= len && fp_dns_be16(data + next) < 12) continue;
        if (parses++ == HUNT_PARSES) break;
        if (parses_exactly(data + i + 2, n)) return i;
    }
    *trial = first_past < len;
    return first_past;
}

/* Hunting found nothing in these bytes: keep their end for the next chunk's search (a
 * message can start there), the rest is skipped. */
static void hunt_keep_tail(fp_dns_tracker *t, fp_dns_tcp_dir *d, const uint8_t *data, uint32_t len)
{
    uint32_t keep = len < FP_DNS_HUNT_TAIL ? len : FP_DNS_HUNT_TAIL;
    if (d->tail == NULL && (d->tail = fp_budget_malloc(t->budget, FP_MEM_DNS, FP_DNS_HUNT_TAIL)) == NULL) {
        t->stats.oom++;
        keep = 0;
    }
    if (keep) memcpy(d->tail, data + len - keep, keep);
    d->tail_len = (uint16_t)keep;
    t->stats.tcp_skipped_bytes += len - keep;
    if (len > keep) d->lost = 1;
}

/* In-order bytes of one direction: length prefixes and messages, as many as they hold. */
static void tcp_sink(void *ctx, void *user, int dir, uint64_t offset, uint64_t gap, const uint8_t *data, uint32_t len)
{
    (void)offset;
    fp_dns_tracker *t = ctx;
    fp_dns_conn *c = user;
    fp_dns_tcp_dir *d = &c->dir[dir];
    const fp_flow *f = c->flow;
    if (!d->started) { /* without the SYN the first byte may be anywhere inside a message */
        d->started = 1;
        d->hunting = !c->r->dir[dir].syn;
    }
    if (gap && !d->dead) { /* framing is lost: the next bytes may be anywhere in a message */
        t->stats.tcp_gaps++;
        t->stats.tcp_skipped_bytes += tcp_dir_unframed(d); /* the message cut, the hunted tail */
        for (fp_dns_txn *x = c->open; x; x = x->next) x->anomalies |= FP_DNS_TXN_A(TCP_GAP);
        tcp_dir_reset(t, d);
        d->hunting = d->lost = 1;
    }
    if (d->dead || f == NULL || len == 0) return;
    uint8_t *joined = NULL; /* the kept tail, then this chunk */
    uint32_t seg = 0;       /* where the segment starts in data (UINT32_MAX: not in it) */
    if (d->hunting && d->tail_len) {
        if ((joined = fp_budget_malloc(t->budget, FP_MEM_DNS, (size_t)d->tail_len + len)) == NULL) {
            t->stats.oom++;
            d->dead = 1;
            return;
        }
        memcpy(joined, d->tail, d->tail_len);
        memcpy(joined + d->tail_len, data, len);
        seg = d->tail_len;
        data = joined;
        len += d->tail_len;
        d->tail_len = 0;
    }
    int sender_is_b = dir == 0 ? f->client_is_b : !f->client_is_b;
    while (len) {
        if (d->hunting) {
            int trial;
            uint32_t at = fp_dns_tcp_hunt(data, len, seg, &trial);
            if (at == len) {
                hunt_keep_tail(t, d, data, len);
                break;
            }
            t->stats.tcp_skipped_bytes += at;
            if (at) d->lost = 1;
            d->hunting = 0;
            d->trial = (uint8_t)trial;
            if (d->lost && !trial) t->stats.tcp_resyncs++;
            fp_budget_free(t->budget, FP_MEM_DNS, d->tail);
            d->tail = NULL;
            data += at;
            len -= at;
        }
        if (d->have_prefix < 2) {
            d->prefix[d->have_prefix++] = *data++;
            len--;
            if (d->have_prefix < 2) continue;
            d->need = fp_dns_be16(d->prefix);
            d->got = 0;
            if (d->need == 0) { /* an empty message: nothing to read */
                d->have_prefix = 0;
                t->stats.messages++;
                t->stats.short_messages++;
                continue;
            }
        }
        if (len == 0) break; /* the prefix ended the chunk: the message starts in the next */
        uint32_t take = d->need - d->got;
        if (take > len) take = len;
        uint32_t resync = d->lost ? FP_DNS_TXN_A(TCP_RESYNC) : 0;
        if (d->got == 0 && take == d->need) { /* whole in this chunk: no copy */
            t->stats.tcp_messages++;
            d->lost = 0;
            on_message(t, c, f, data, d->need, sender_is_b, resync);
        } else {
            if (d->buf == NULL && (d->buf = fp_budget_malloc(t->budget, FP_MEM_DNS, d->need)) == NULL) {
                t->stats.oom++;
                d->dead = 1;
                break;
            }
            memcpy(d->buf + d->got, data, take);
            if (d->got + take == d->need) {
                if (d->trial && !parses_exactly(d->buf, d->need)) { /* not a message: hunt on after it */
                    t->stats.tcp_skipped_bytes += 2u + d->need;
                    d->hunting = 1;
                    seg = UINT32_MAX;
                } else {
                    if (d->trial && d->lost) t->stats.tcp_resyncs++;
                    t->stats.tcp_messages++;
                    d->lost = 0;
                    on_message(t, c, f, d->buf, d->need, sender_is_b, resync);
                }
                d->trial = 0;
                fp_budget_free(t->budget, FP_MEM_DNS, d->buf);
                d->buf = NULL;
            }
        }
        d->got += take;
        data += take;
        len -= take;
        if (d->got == d->need) d->have_prefix = 0;
    }
    fp_budget_free(t->budget, FP_MEM_DNS, joined);
}

/* ---- connections -------------------------------------------------------------- */

static fp_dns_conn *conn_new(fp_dns_tracker *t, int tcp, void **home)
{
    fp_dns_conn *c = fp_budget_calloc(t->budget, FP_MEM_DNS, 1, sizeof *c);
    if (c == NULL) return NULL;
    c->kind = FP_DNS_KIND_CONN;
    c->tcp = (uint8_t)tcp;
    c->home = home;
    if (tcp) {
        if ((c->r = fp_budget_calloc(t->budget, FP_MEM_REASSEMBLY, 1, sizeof *c->r)) == NULL) {
            fp_budget_free(t->budget, FP_MEM_DNS, c);
            return NULL;
        }
        c->r->user = c;
    }
    return c;
}

static int dns_packet(fp_dns_tracker *t, void **home, const fp_flow *f, const fp_flow_packet *p, int forward)
{
    fp_dns_conn *c = *home == FP_DNS_IDLE ? NULL : *home;
    t->now_ns = p->ts_ns;
    if (c == NULL) {
        if ((c = conn_new(t, p->is_tcp, home)) == NULL) {
            *home = NULL;
            t->stats.oom++;
            return -1;
        }
        *home = c;
    }
    int sender_is_b = forward ? f->client_is_b : !f->client_is_b;
    if (!c->tcp) {
        const uint8_t *msg;
        uint32_t len;
        if (!p->is_udp || !FP_HAS(p->d, FP_L_UDP)) return 0;
        if (fp_dns_message(p->data, p->d, &msg, &len) != 0) { /* the dissector saw no room for a header */
            const fp_span *u = &p->d->layer[FP_L_UDP];
            if (!p->d->is_fragment && u->end - u->off < 8 + 12) {
                t->stats.messages++;
                t->stats.short_messages++;
            }
            return 0;
        }
        uint32_t cut = (p->d->anomalies & FP_ANOM_SNAPLEN) ? FP_DNS_TXN_A(CUT) : 0;
        on_message(t, c, f, msg, len, sender_is_b, cut);
        return 0;
    }
    if (!p->is_tcp || !FP_HAS(p->d, FP_L_TCP)) return 0;
    const fp_span *s = &p->d->layer[FP_L_TCP];
    uint32_t at = s->off + s->hlen, len = s->end - at;
    c->flow = f;
    close_expired(t, c);
    fp_reasm_segment(&t->sh, c->r, forward ? 0 : 1, p->seq, p->ack, p->tcp_flags, p->data + at, len);
    c->flow = NULL;
    return 0;
}

int fp_dns_packet(fp_dns_tracker *t, void **home, const fp_flow *f, const fp_flow_packet *p, int forward)
{
    int rc = dns_packet(t, home, f, p, forward);
    if (t->budget && t->budget->bytes[FP_MEM_DNS] - t->held > t->stats.state_peak_bytes)
        t->stats.state_peak_bytes = t->budget->bytes[FP_MEM_DNS] - t->held;
    return rc;
}

void fp_dns_tick(fp_dns_tracker *t, int64_t now_ns)
{
    t->clock_ns = now_ns;
    while (t->oldest && now_ns - t->oldest->tick_ns >= t->timeout_ns) {
        fp_dns_conn *c = t->oldest->conn; /* its head: both lists are in opening order */
        close_head(t, c, 0);
        if (!c->tcp && c->open == NULL) { /* UDP has no framing state to keep */
            *c->home = FP_DNS_IDLE;
            fp_dns_conn_free(t, c);
        }
    }
}

void fp_dns_conn_end(fp_dns_tracker *t, fp_dns_conn *c, const fp_flow *f, int evicted)
{
    if (c->tcp && c->r) { /* data still buffered behind a hole ends the framing */
        c->flow = f;
        fp_reasm_finish(&t->sh, c->r);
        c->flow = NULL;
        for (int i = 0; i < 2; i++) /* a message cut by the end is in no framed one */
            if (!c->dir[i].dead) t->stats.tcp_skipped_bytes += tcp_dir_unframed(&c->dir[i]);
    }
    while (c->open) close_head(t, c, evicted ? FP_DNS_TXN_A(EVICTED) : 0);
    fp_dns_conn_free(t, c);
}

void fp_dns_conn_free(fp_dns_tracker *t, fp_dns_conn *c)
{
    if (c == NULL) return;
    while (c->open) {
        fp_dns_txn *x = c->open;
        unlink_head(t, c, x);
        txn_free_parts(t, x);
    }
    if (c->r) {
        fp_reasm_release(&t->sh, c->r);
        fp_budget_free(t->budget, FP_MEM_REASSEMBLY, c->r);
    }
    for (int i = 0; i < 2; i++) tcp_dir_reset(t, &c->dir[i]);
    fp_budget_free(t->budget, FP_MEM_DNS, c);
}
