/* One flow's record: per-direction counters and size/inter-arrival statistics, TCP flag counts,
 * Zeek-style history and conn_state, handshake RTT, and retransmission /
 * out-of-order detection with wrap-safe 32-bit sequence arithmetic (RFC 1982 style,
 * as Suricata's SEQ_LT/SEQ_GT).
 *
 * History (Zeek conn.log letters; upper case = originator, lower = responder):
 *   S SYN without ACK   H SYN+ACK   A pure ACK   D payload   F FIN   R RST
 *   T retransmitted payload   W zero window   Q SYN with FIN or RST   I FIN with RST
 *   G content gap (data acked by the peer but never captured)
 *   ^ direction flipped (the first packet was a SYN-ACK or an echo reply)
 * S H A D F R Q I are recorded once per direction; T, G and W after 1, 10, 100, ...
 * occurrences, as Zeek does. T and G follow Zeek's sequence view (zeek_seq_update,
 * zeek_ack_received); the retransmits/out_of_order counters are our own (seq_track).
 * conn_state follows Zeek's derivation from the two
 * endpoints' states (base/protocols/conn/main.zeek), see fp_flow_conn_state(). */
#include <string.h>

#include "flow.h"

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10, TH_URG = 0x20,
       TH_ECE = 0x40, TH_CWR = 0x80 };

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_LEQ(a, b) (!SEQ_GT(a, b))
#define SEQ_GEQ(a, b) (!SEQ_LT(a, b))

const char *const fp_flow_anomaly_names[FP_FLOW_ANOM_COUNT_BITS] = {
    "flow_fragment_orphan", "flow_history_full", "flow_seq_holes_full", "flow_tcp_bad_flags",
    "evicted", "allocation_failed", "tls_hello_incomplete",
};
const char *const fp_expiration_names[FP_EXP_COUNT] = {"idle", "active", "fin", "rst", "end", "evicted"};
const char *const fp_conn_state_names[FP_CS_COUNT] = {
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
};

/* No length field: a few letters per flow, and its byte would grow the record by a word. */
static void history_add(fp_flow *f, char c)
{
    size_t n = strlen(f->history);
    if (n >= FP_FLOW_HISTORY_MAX) {
        f->flow_anomalies |= FP_FLOW_ANOM_HISTORY_FULL;
        return;
    }
    f->history[n] = c;
    f->history[n + 1] = 0;
}

/* Once-per-direction letters: bit index in fp_flow_dir.hist_seen. */
static const char once_letters[] = "SHADFRQI";

static void history_once(fp_flow *f, fp_flow_dir *dir, int forward, int letter)
{
    if (dir->hist_seen & (1u << letter)) return;
    dir->hist_seen |= (uint8_t)(1u << letter);
    char c = once_letters[letter];
    history_add(f, forward ? c : (char)(c + ('a' - 'A')));
}

/* Zeek's logarithmic repeats: a letter at the 1st, 10th, 100th ... occurrence. */
static void history_log(fp_flow *f, uint32_t count, int forward, char upper)
{
    for (uint32_t t = 1; t <= count && t <= 1000000000u; t *= 10)
        if (t == count) {
            history_add(f, forward ? upper : (char)(upper + ('a' - 'A')));
            return;
        }
}

/* Orientation, times and links: what a core record starts with (the rest is zeroed). */
static void init_core(fp_flow *f, const fp_flow_packet *p, uint64_t flow_id, int bidirectional)
{
    memset(f, 0, FP_FLOW_CORE_SIZE);
    f->key = p->key;
    f->flow_id = flow_id;
    f->client_is_b = (uint8_t)p->swapped; /* the first packet's sender is the client ... */
    int synack = p->is_tcp && (p->tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
    int echo_reply = p->is_icmp && ((p->key.ip_version == 4 && p->icmp_type == 0) ||
                                    (p->key.ip_version == 6 && p->icmp_type == 129));
    /* ... unless it answers: then its receiver is. A one-way flow is what its packets say. */
    if (bidirectional && (synack || echo_reply)) {
        f->client_is_b = (uint8_t)!p->swapped;
        f->flipped = 1;
    }
    f->first_ns = f->last_ns = p->ts_ns;
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    f->lru_prev = f->lru_next = f->close_prev = f->close_next = FP_FLOW_NONE;
}

void fp_flow_record_init_core(fp_flow *f, const fp_flow_packet *p, uint64_t flow_id, int bidirectional)
{
    init_core(f, p, flow_id, bidirectional);
}

void fp_flow_record_init(fp_flow *f, const fp_flow_packet *p, uint64_t flow_id, int bidirectional)
{
    init_core(f, p, flow_id, bidirectional);
    memset((char *)f + FP_FLOW_CORE_SIZE, 0, sizeof *f - FP_FLOW_CORE_SIZE);
    if (f->flipped) history_add(f, '^');
    f->conn_last_ns = p->ts_ns;
    f->syn_ns = f->synack_ns = f->ack_ns = FP_FLOW_NO_TIME;
}

static void count_packet(fp_flow_dir *dir, const fp_flow_packet *p)
{
    dir->packets++;
    dir->bytes += p->wirelen;
    dir->payload_bytes += p->l4_payload;
    if (dir->packets == 1) dir->size_min = dir->size_first = p->wirelen;
    if (p->wirelen < dir->size_min) dir->size_min = p->wirelen;
    if (p->wirelen > dir->size_max) dir->size_max = p->wirelen;
    double ds = (double)p->wirelen - (double)dir->size_first;
    dir->size_d += ds;
    dir->size_dd += ds * ds;
    if (dir->packets > 1) {
        int64_t dt = p->ts_ns - dir->last_ns;
        if (dt < 0) dt = 0; /* capture reordering: clamp at 0 */
        if (dir->packets == 2) dir->iat_min_ns = dir->iat_first_ns = dt;
        if (dt < dir->iat_min_ns) dir->iat_min_ns = dt;
        if (dt > dir->iat_max_ns) dir->iat_max_ns = dt;
        dir->iat_sum_ns += (uint64_t)dt;
        double di = (double)(dt - dir->iat_first_ns);
        dir->iat_d += di;
        dir->iat_dd += di * di;
    }
    dir->last_ns = p->ts_ns;
}

/* ---- sequence tracking -------------------------------------------------- */

static void hole_add(fp_flow *f, fp_flow_tcp_dir *dir, uint32_t start, uint32_t end)
{
    if (dir->holes == FP_FLOW_SEQ_HOLES) { /* forget the oldest gap */
        f->flow_anomalies |= FP_FLOW_ANOM_SEQ_HOLES;
        memmove(dir->hole_start, dir->hole_start + 1, (FP_FLOW_SEQ_HOLES - 1) * sizeof(uint32_t));
        memmove(dir->hole_end, dir->hole_end + 1, (FP_FLOW_SEQ_HOLES - 1) * sizeof(uint32_t));
        dir->holes--;
    }
    dir->hole_start[dir->holes] = start;
    dir->hole_end[dir->holes] = end;
    dir->holes++;
}

/* Remove [s, e) from the gaps; returns 1 when it filled any part of one. */
static int holes_fill(fp_flow *f, fp_flow_tcp_dir *dir, uint32_t s, uint32_t e)
{
    uint32_t ns[FP_FLOW_SEQ_HOLES], ne[FP_FLOW_SEQ_HOLES];
    int n = 0, filled = 0;
    for (int i = 0; i < dir->holes; i++) {
        uint32_t hs = dir->hole_start[i], he = dir->hole_end[i];
        if (SEQ_LEQ(e, hs) || SEQ_GEQ(s, he)) { /* no overlap */
            if (n < FP_FLOW_SEQ_HOLES) ns[n] = hs, ne[n] = he, n++;
            else f->flow_anomalies |= FP_FLOW_ANOM_SEQ_HOLES;
            continue;
        }
        filled = 1;
        /* what is left of the gap on either side; a split may not fit (wrapped ranges) */
        if (SEQ_LT(hs, s)) {
            if (n < FP_FLOW_SEQ_HOLES) ns[n] = hs, ne[n] = s, n++;
            else f->flow_anomalies |= FP_FLOW_ANOM_SEQ_HOLES;
        }
        if (SEQ_LT(e, he)) {
            if (n < FP_FLOW_SEQ_HOLES) ns[n] = e, ne[n] = he, n++;
            else f->flow_anomalies |= FP_FLOW_ANOM_SEQ_HOLES;
        }
    }
    memcpy(dir->hole_start, ns, (size_t)n * sizeof(uint32_t));
    memcpy(dir->hole_end, ne, (size_t)n * sizeof(uint32_t));
    dir->holes = (uint8_t)n;
    return filled;
}

/* A data segment [s, s+len): new data, retransmission (seen before) or out-of-order
 * (below the highest sequence seen, filling a gap). Returns 1 for a retransmission. */
static int seq_track(fp_flow *f, fp_flow_tcp_dir *dir, uint32_t s, uint32_t len)
{
    uint32_t e = s + len;
    if (!dir->has_seq) {
        dir->has_seq = 1;
        dir->seq_end = e;
        return 0;
    }
    if (SEQ_GEQ(s, dir->seq_end)) {
        if (SEQ_GT(s, dir->seq_end)) hole_add(f, dir, dir->seq_end, s);
        dir->seq_end = e;
        return 0;
    }
    int filled = holes_fill(f, dir, s, e);
    if (SEQ_GT(e, dir->seq_end)) dir->seq_end = e;
    if (filled) {
        f->out_of_order++;
        return 0;
    }
    f->retransmits++;
    return 1;
}

/* ---- TCP ------------------------------------------------------------------ */

/* The sender's endpoint state (*me) and its peer's after a segment. */
static void endpoint_update(uint8_t *me, uint8_t *peer, uint8_t fl, uint32_t payload)
{
    int syn = fl & TH_SYN, ack = fl & TH_ACK;
    if (fl & TH_RST) {
        *me = FP_EP_RESET;
    } else if (syn && !ack) {
        if (*me == FP_EP_INACTIVE || *me == FP_EP_PARTIAL) *me = FP_EP_SYN_SENT;
    } else if (syn) {
        if (*me == FP_EP_INACTIVE || *me == FP_EP_PARTIAL || *me == FP_EP_SYN_SENT) *me = FP_EP_SYN_ACK_SENT;
        if (*peer == FP_EP_SYN_SENT) { /* the reply to a SYN: both ends established */
            *me = FP_EP_ESTABLISHED;
            *peer = FP_EP_ESTABLISHED;
        }
    } else if (fl & TH_FIN) {
        if (*me != FP_EP_RESET) *me = FP_EP_CLOSED;
    } else if (ack || payload) {
        if (*me == FP_EP_INACTIVE) *me = FP_EP_PARTIAL;
        else if (*me == FP_EP_SYN_SENT || *me == FP_EP_SYN_ACK_SENT) *me = FP_EP_ESTABLISHED;
        if (*me == FP_EP_ESTABLISHED && *peer == FP_EP_SYN_ACK_SENT) *peer = FP_EP_ESTABLISHED;
    }
}

static void count_flags(fp_flow *f, uint8_t fl)
{
    int syn = (fl & TH_SYN) != 0, ack = (fl & TH_ACK) != 0;
    f->syn += syn && !ack;
    f->synack += syn && ack;
    f->fin += (fl & TH_FIN) != 0;
    f->rst += (fl & TH_RST) != 0;
    f->psh += (fl & TH_PSH) != 0;
    f->urg += (fl & TH_URG) != 0;
    f->ece += (fl & TH_ECE) != 0;
    f->cwr += (fl & TH_CWR) != 0;
}

enum { L_S, L_H, L_A, L_D, L_F, L_R, L_Q, L_I };

/* ---- Zeek's sequence view: retransmissions (T), content gaps (G), closes -------
 * After Zeek's TCP analyzer: an endpoint's last_seq advances with every segment (pure
 * ACKs and the FIN octet included); a segment carrying payload that does not advance it
 * is a retransmission. The reassembler holds the captured payload; when the peer acks
 * past the contiguous captured data, each hole skipped (and the unseen tail) is a
 * content gap. Payload cut by the snap length never reaches Zeek's reassembler. */

#define Z_TOO_LARGE_SEQ_DELTA 1048576

/* Payload bytes actually present in the capture. */
static uint32_t captured_payload(const fp_flow_packet *p)
{
    if (!p->d || !(p->d->present & (1u << FP_L_TCP))) return p->l4_payload;
    const fp_span *s = &p->d->layer[FP_L_TCP];
    uint32_t hdr_end = s->off + s->hlen;
    return s->end > hdr_end ? s->end - hdr_end : 0;
}

/* Sequence bookkeeping of the sender (its state before this packet); 1 = retransmission. */
static int zeek_seq_update(fp_flow_dir *me, uint8_t me_state, fp_flow_tcp_dir *mz, int forward, uint8_t fl,
                           uint32_t seq, uint32_t len)
{
    int syn = (fl & TH_SYN) != 0, fin = (fl & TH_FIN) != 0, rst = (fl & TH_RST) != 0;
    uint32_t seg = len + (uint32_t)syn + (uint32_t)fin - (rst ? len : 0);
    uint32_t end = seq + seg;
    if (!mz->z_init) {
        mz->z_init = 1;
        if (syn) {
            me->z_start = seq;
            mz->z_last = end;
        } else { /* partial: numbered as though a SYN had been seen, first segment not a dup */
            me->z_start = seq - 1;
            mz->z_last = seq;
        }
        mz->z_reassem = me->z_start + 1;
        mz->z_partial = forward ? (!syn || (fl & TH_ACK)) : !syn;
    } else if (syn) {
        int st = me_state;
        if (((st == FP_EP_SYN_SENT || st == FP_EP_SYN_ACK_SENT) && seq != me->z_start) ||
            st == FP_EP_ESTABLISHED || st == FP_EP_PARTIAL) {
            me->z_start = seq;
            mz->z_last = end;
        }
    }
    if (fin) {
        mz->z_fin = 1;
        mz->z_fin_end = end;
    }
    int32_t delta = (int32_t)(end - mz->z_last);
    if ((syn || rst) && (delta > Z_TOO_LARGE_SEQ_DELTA || delta < -Z_TOO_LARGE_SEQ_DELTA)) return 0;
    if (fin && mz->z_last == me->z_start + 1) {
        mz->z_last = end;
        return 0;
    }
    if (me_state == FP_EP_RESET) return 0;
    if (delta > 0) {
        mz->z_last = end;
        return 0;
    }
    return len > 0;
}

/* Zeek reports gaps in history only between established (or cleanly closing) ends. */
static int zeek_clean(uint8_t state, const fp_flow_tcp_dir *z)
{
    return state == FP_EP_ESTABLISHED || (state == FP_EP_CLOSED && z->prev_state == FP_EP_ESTABLISHED);
}

static void zeek_blk_remove(fp_flow_tcp_dir *z, int i)
{
    for (int j = i + 1; j < z->z_blocks; j++) {
        z->z_blk_start[j - 1] = z->z_blk_start[j];
        z->z_blk_end[j - 1] = z->z_blk_end[j];
    }
    z->z_blocks--;
}

/* Lowest block starting before `limit`, or -1. */
static int zeek_blk_lowest(const fp_flow_tcp_dir *z, uint32_t limit)
{
    int best = -1;
    for (int i = 0; i < z->z_blocks; i++)
        if (SEQ_LT(z->z_blk_start[i], limit) && (best < 0 || SEQ_LT(z->z_blk_start[i], z->z_blk_start[best])))
            best = i;
    return best;
}

/* A content gap in the sender's data (side s: 0 = forward). */
static void zeek_gap(fp_flow *f, int s)
{
    if (zeek_clean(f->state[s], &f->tcp->dir[s]) && zeek_clean(f->state[!s], &f->tcp->dir[!s]))
        history_log(f, ++f->tcp->dir[s].gaps, s == 0, 'G');
}

/* The receiver acks `ack` of the sender's data (side s; after the state machine, as Zeek). */
static void zeek_ack_received(fp_flow *f, int s, uint32_t ack)
{
    fp_flow_dir *snd = &f->dir[s];
    fp_flow_tcp_dir *sz = &f->tcp->dir[s];
    if (!sz->z_init || SEQ_LT(ack, snd->z_start)) return; /* peer unseen / ack underflow */
    if (sz->z_fin && SEQ_GEQ(ack, sz->z_fin_end)) ack = sz->z_fin_end - 1; /* not the FIN octet */
    if (!snd->has_acked || SEQ_GT(ack, snd->acked)) {
        snd->acked = ack;
        snd->has_acked = 1;
    }
    if (SEQ_LEQ(ack, sz->z_reassem)) return;
    /* a partial connection's first ack is an artefact of the faked initial sequence */
    if ((f->tcp->dir[0].z_partial || f->tcp->dir[1].z_partial) && (uint32_t)(ack - snd->z_start) <= 2) return;
    int i;
    while ((i = zeek_blk_lowest(sz, ack)) >= 0) { /* captured data above holes, below the ack */
        if (SEQ_GT(sz->z_blk_start[i], sz->z_reassem)) {
            snd->missed += sz->z_blk_start[i] - sz->z_reassem;
            zeek_gap(f, s);
        }
        if (SEQ_GT(sz->z_blk_end[i], sz->z_reassem)) sz->z_reassem = sz->z_blk_end[i];
        zeek_blk_remove(sz, i);
    }
    if (SEQ_GT(ack, sz->z_reassem)) {
        snd->missed += ack - sz->z_reassem;
        zeek_gap(f, s);
        sz->z_reassem = ack;
    }
}

/* Captured payload [s, e) handed to the reassembler. */
static void zeek_data(fp_flow *f, fp_flow_tcp_dir *d, uint32_t s, uint32_t e)
{
    if (SEQ_LEQ(e, d->z_reassem)) return;
    if (SEQ_GT(s, d->z_reassem)) { /* above a hole: keep it, merged with what it touches */
        for (int i = 0; i < d->z_blocks;) {
            if (SEQ_LEQ(s, d->z_blk_end[i]) && SEQ_GEQ(e, d->z_blk_start[i])) {
                if (SEQ_LT(d->z_blk_start[i], s)) s = d->z_blk_start[i];
                if (SEQ_GT(d->z_blk_end[i], e)) e = d->z_blk_end[i];
                zeek_blk_remove(d, i);
            } else {
                i++;
            }
        }
        if (d->z_blocks == FP_FLOW_SEQ_HOLES) { /* full: coalesce with the highest block */
            f->flow_anomalies |= FP_FLOW_ANOM_SEQ_HOLES;
            int hi = 0;
            for (int i = 1; i < d->z_blocks; i++)
                if (SEQ_GT(d->z_blk_end[i], d->z_blk_end[hi])) hi = i;
            if (SEQ_LT(d->z_blk_start[hi], s)) s = d->z_blk_start[hi];
            if (SEQ_GT(d->z_blk_end[hi], e)) e = d->z_blk_end[hi];
            zeek_blk_remove(d, hi);
        }
        d->z_blk_start[d->z_blocks] = s;
        d->z_blk_end[d->z_blocks] = e;
        d->z_blocks++;
        return;
    }
    d->z_reassem = e; /* contiguous: deliver, then whatever it now reaches */
    int i;
    while ((i = zeek_blk_lowest(d, d->z_reassem + 1)) >= 0) {
        if (SEQ_GT(d->z_blk_end[i], d->z_reassem)) d->z_reassem = d->z_blk_end[i];
        zeek_blk_remove(d, i);
    }
}

/* Sequence tracking (retransmissions, out-of-order, Zeek's view); needs f->tcp. */
static void tcp_seq_update(fp_flow *f, const fp_flow_packet *p, int forward)
{
    int s = forward ? 0 : 1;
    fp_flow_dir *me = &f->dir[s];
    fp_flow_tcp_dir *mz = &f->tcp->dir[s];
    uint8_t fl = p->tcp_flags;
    int syn = fl & TH_SYN, ack = fl & TH_ACK, fin = fl & TH_FIN, rst = fl & TH_RST;
    if (!rst && p->window == 0) history_log(f, ++mz->zero_windows, forward, 'W');
    if (syn && !mz->has_seq) { /* data starts after the SYN's sequence number */
        mz->has_seq = 1;
        mz->seq_end = p->seq + 1;
    }
    if (p->l4_payload && !rst) seq_track(f, mz, syn ? p->seq + 1 : p->seq, p->l4_payload);
    if (zeek_seq_update(me, f->state[s], mz, forward, fl, p->seq, p->l4_payload))
        history_log(f, ++mz->retrans, forward, 'T');
    int underflow = SEQ_LT(p->seq, me->z_start); /* Zeek: no reassembly for it */
    if (fin || rst) mz->did_close = 1;

    uint8_t me_was = f->state[s], peer_was = f->state[!s];
    endpoint_update(&f->state[s], &f->state[!s], fl, p->l4_payload);
    if (f->state[s] != me_was) mz->prev_state = me_was;
    if (f->state[!s] != peer_was) f->tcp->dir[!s].prev_state = peer_was;

    if (ack) zeek_ack_received(f, !s, p->ack);
    if (p->l4_payload && !rst && !underflow && captured_payload(p) >= p->l4_payload) {
        uint32_t start = syn ? p->seq + 1 : p->seq;
        zeek_data(f, mz, start, start + p->l4_payload);
    }
}

/* The connection is over: a reset, or both ends closed. */
static int tcp_closed(const fp_flow *f, uint8_t fl)
{
    if (fl & TH_RST) return FP_EXP_RST;
    if (f->state[0] == FP_EP_CLOSED && f->state[1] == FP_EP_CLOSED) return FP_EXP_FIN;
    return 0;
}

static int tcp_update(fp_flow *f, const fp_flow_packet *p, int forward)
{
    int s = forward ? 0 : 1;
    fp_flow_dir *me = &f->dir[s];
    uint8_t fl = p->tcp_flags;
    int syn = fl & TH_SYN, ack = fl & TH_ACK, fin = fl & TH_FIN, rst = fl & TH_RST;
    count_flags(f, fl);
    if (syn && (fin || rst)) {
        history_once(f, me, forward, L_Q);
        f->flow_anomalies |= FP_FLOW_ANOM_BAD_FLAGS;
    }
    if (fin && rst) {
        history_once(f, me, forward, L_I);
        f->flow_anomalies |= FP_FLOW_ANOM_BAD_FLAGS;
    }
    if (syn) history_once(f, me, forward, ack ? L_H : L_S);
    if (ack && !syn && !fin && !rst && p->l4_payload == 0) history_once(f, me, forward, L_A);
    if (p->l4_payload) history_once(f, me, forward, L_D);
    if (fin) history_once(f, me, forward, L_F);
    if (rst) history_once(f, me, forward, L_R);

    /* handshake times: SYN (client) -> SYN-ACK (server) -> first ACK (client) */
    if (syn && !ack && forward && f->syn_ns == FP_FLOW_NO_TIME) f->syn_ns = p->ts_ns;
    if (syn && ack && !forward && f->synack_ns == FP_FLOW_NO_TIME) f->synack_ns = p->ts_ns;
    if (ack && !syn && forward && f->synack_ns != FP_FLOW_NO_TIME && f->ack_ns == FP_FLOW_NO_TIME)
        f->ack_ns = p->ts_ns;

    if (f->tcp) tcp_seq_update(f, p, forward);
    else endpoint_update(&f->state[s], &f->state[!s], fl, p->l4_payload); /* no sequence state: the states still move */
    return tcp_closed(f, fl);
}

int fp_flow_record_update(fp_flow *f, const fp_flow_packet *p)
{
    int forward = fp_flow_is_forward(f, p->swapped);
    count_packet(&f->dir[forward ? 0 : 1], p);
    /* Zeek stops a TCP connection's last time once both ends have closed (FIN or RST):
     * the packet completing the close counts, the ACKs after it do not. That time gives
     * the duration; last_seen (and the idle clock) stay the last packet's. */
    int both_closed = p->is_tcp && f->tcp && f->tcp->dir[0].did_close && f->tcp->dir[1].did_close;
    if (p->ts_ns > f->conn_last_ns && !both_closed) f->conn_last_ns = p->ts_ns;
    if (p->ts_ns > f->last_ns) f->last_ns = p->ts_ns;
    if (p->ts_ns < f->first_ns) f->first_ns = p->ts_ns;
    f->anomalies |= p->anomalies;
    int closed = 0;
    if (p->is_tcp) closed = tcp_update(f, p, forward);
    else if (p->l4_payload) history_once(f, &f->dir[forward ? 0 : 1], forward, L_D);
    if (f->dir[0].packets + f->dir[1].packets <= FP_FLOW_HINT_PACKETS) fp_flow_hints_update(f, p, forward);
    return closed;
}

int fp_flow_record_update_core(fp_flow *f, const fp_flow_packet *p)
{
    if (p->ts_ns > f->last_ns) f->last_ns = p->ts_ns;
    if (p->ts_ns < f->first_ns) f->first_ns = p->ts_ns;
    f->anomalies |= p->anomalies;
    if (!p->is_tcp) return 0;
    int s = fp_flow_is_forward(f, p->swapped) ? 0 : 1;
    endpoint_update(&f->state[s], &f->state[!s], p->tcp_flags, p->l4_payload);
    return tcp_closed(f, p->tcp_flags);
}

/* Zeek's /^\^?S[^HAFGIQ]*R/ on the history: the originator's SYN, then its RST before
 * any handshake, ACK, FIN or bad-flag letter of its own. */
static int history_syn_then_rst(const char *h)
{
    if (*h == '^') h++;
    if (*h++ != 'S') return 0;
    for (; *h; h++) {
        if (*h == 'R') return 1;
        if (strchr("HAFGIQ", *h)) return 0;
    }
    return 0;
}

fp_conn_state fp_flow_conn_state(const fp_flow *f)
{
    const fp_flow_dir *o = &f->dir[0], *r = &f->dir[1];
    if (f->key.proto == 17) {
        if (o->packets) return r->packets ? FP_CS_SF : FP_CS_S0;
        return r->packets ? FP_CS_SHR : FP_CS_OTH;
    }
    if (f->key.proto != 6) return FP_CS_OTH;
    int os = f->state[0], rs = f->state[1];
    int o_inactive = os == FP_EP_INACTIVE || os == FP_EP_PARTIAL;
    int r_inactive = rs == FP_EP_INACTIVE || rs == FP_EP_PARTIAL;
    if (rs == FP_EP_RESET) {
        if (os == FP_EP_SYN_SENT || os == FP_EP_SYN_ACK_SENT ||
            (os == FP_EP_RESET && o->payload_bytes == 0 && r->payload_bytes == 0))
            return FP_CS_REJ;
        return o_inactive ? FP_CS_RSTRH : FP_CS_RSTR;
    }
    if (os == FP_EP_RESET) {
        if (r_inactive) return history_syn_then_rst(f->history) ? FP_CS_RSTOS0 : FP_CS_OTH;
        return FP_CS_RSTO;
    }
    if (rs == FP_EP_CLOSED && os == FP_EP_CLOSED) return FP_CS_SF;
    if (os == FP_EP_CLOSED) return r_inactive ? FP_CS_SH : FP_CS_S2;
    if (rs == FP_EP_CLOSED) return o_inactive ? FP_CS_SHR : FP_CS_S3;
    if (os == FP_EP_SYN_SENT && rs == FP_EP_INACTIVE) return FP_CS_S0;
    if (os == FP_EP_ESTABLISHED && rs == FP_EP_ESTABLISHED) return FP_CS_S1;
    return FP_CS_OTH;
}
