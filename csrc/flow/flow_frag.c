/* IP fragments: only a datagram's first fragment carries the ports, so later ones are
 * attributed to its flow through a small direct-mapped table keyed by the datagram
 * (addresses, protocol, IP identification; RFC 791 section 3.2, RFC 8200 section 4.5).
 * Bounded: FP_FRAG_SLOTS entries, a newer datagram overwrites (counted), entries
 * older than FP_FRAG_LIFETIME_NS are ignored. */
#include <string.h>

#include "flow.h"

uint64_t fp_frag_tag(const uint8_t *data, const fp_dissection *d, uint32_t id)
{
    fp_flow_key k;
    memset(&k, 0, sizeof k);
    if (FP_HAS(d, FP_L_IP4) && d->layer[FP_L_IP4].end - d->layer[FP_L_IP4].off >= 20) {
        const uint8_t *ip = data + d->layer[FP_L_IP4].off;
        memcpy(k.a, ip + 12, 4);
        memcpy(k.b, ip + 16, 4);
        k.ip_version = 4;
    } else if (FP_HAS(d, FP_L_IP6) && d->layer[FP_L_IP6].end - d->layer[FP_L_IP6].off >= 40) {
        const uint8_t *ip = data + d->layer[FP_L_IP6].off;
        memcpy(k.a, ip + 8, 16);
        memcpy(k.b, ip + 24, 16);
        k.ip_version = 6;
    }
    k.proto = d->ip_proto;
    k.pa = (uint16_t)(id >> 16);
    k.pb = (uint16_t)id;
    uint64_t h = fp_flow_key_hash(&k);
    return h ? h : 1;
}

void fp_frag_remember(fp_frag_table *t, uint64_t tag, int64_t ts_ns, const fp_flow_key *key,
                      int swapped)
{
    fp_frag_slot *s = &t->slots[tag & (FP_FRAG_SLOTS - 1)];
    if (s->tag && s->tag != tag && ts_ns - s->ts_ns < FP_FRAG_LIFETIME_NS) t->overwrites++;
    s->tag = tag;
    s->ts_ns = ts_ns;
    s->key = *key;
    s->swapped = swapped;
}

int fp_frag_lookup(const fp_frag_table *t, uint64_t tag, int64_t ts_ns, fp_flow_key *key,
                   int *swapped)
{
    const fp_frag_slot *s = &t->slots[tag & (FP_FRAG_SLOTS - 1)];
    int64_t age = ts_ns - s->ts_ns;
    if (s->tag != tag || age > FP_FRAG_LIFETIME_NS || age < -FP_FRAG_LIFETIME_NS) return 0;
    *key = s->key;
    *swapped = s->swapped;
    return 1;
}
