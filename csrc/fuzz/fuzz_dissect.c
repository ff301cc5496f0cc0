/* libFuzzer harness for csrc/dissect: the first input byte picks a link type,
 * the rest is one record. Runs the dissector and every on-demand decoder over it.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc \
 *         csrc/fuzz/fuzz_dissect.c csrc/dissect/{link,arp,ipv4,...}.c  (all but test_*.c) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "dissect/fields.h"
#include "dissect/tls.h"

static const uint32_t linktypes[] = {
    FP_LINKTYPE_ETHERNET, FP_LINKTYPE_LINUX_SLL, FP_LINKTYPE_LINUX_SLL2, FP_LINKTYPE_RAW,
    FP_LINKTYPE_IPV4,     FP_LINKTYPE_IPV6,      FP_LINKTYPE_NULL,       FP_LINKTYPE_LOOP,
    FP_LINKTYPE_IEEE802_11, FP_LINKTYPE_IEEE802_11_RADIOTAP, FP_LINKTYPE_PPI, FP_LINKTYPE_PFLOG,
    FP_LINKTYPE_ENC,      FP_LINKTYPE_IPNET,     FP_LINKTYPE_NFLOG,     FP_LINKTYPE_PPP,
    FP_LINKTYPE_PPP_HDLC, FP_LINKTYPE_PPP_ETHER, FP_LINKTYPE_PPP_WITH_DIR,
};

static volatile uint32_t sink; /* keeps results observable */

static void check_span(const fp_dissection *d, uint32_t caplen)
{
    for (int id = 0; id < FP_L_COUNT; id++) {
        if (!FP_HAS(d, id))
            continue;
        const fp_span *s = &d->layer[id];
        if (s->off > s->end || s->hlen > s->end - s->off || s->end > caplen)
            abort();
    }
    if (d->payload_off > caplen || d->payload_len > caplen - d->payload_off)
        abort();
}

static void walk_dns(const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    fp_dns_record rec;
    char text[8192];
    if (fp_dns_message(data, d, &msg, &len) != 0 || fp_dns_iter_init(&it, msg, len) != 0)
        return;
    while (fp_dns_iter_next(&it, &rec) == 1) {
        sink += (uint32_t)strlen(rec.name);
        int r = fp_dns_rdata_text(msg, len, &rec, text, sizeof text);
        if (r >= 0 && (size_t)r != strlen(text))
            abort();
        r = fp_dns_rdata_text(msg, len, &rec, text, 7); /* small buffers must not overflow */
        sink += (uint32_t)r;
    }
}

/* Every value of every registry field must lie in the record or in the context's text. */
typedef struct {
    const uint8_t *data;
    uint32_t caplen;
    const fp_field_ctx *x;
} field_bounds;

static int check_field_value(void *arg, const fp_field_value *v)
{
    const field_bounds *b = arg;
    const uint8_t *text = (const uint8_t *)b->x->text;
    if (v->p != NULL && !(v->p >= b->data && v->len <= b->caplen &&
                          (size_t)(v->p - b->data) <= b->caplen - v->len) &&
        !(v->p >= text && v->p + v->len <= text + sizeof b->x->text))
        abort();
    sink += (uint32_t)v->u + v->len;
    return 0;
}

static void walk_fields(const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                        const fp_dissection *d)
{
    static fp_field_ctx x; /* 1 KiB of scratch: off the fuzzer's stack */
    fp_field_ctx_init(&x, data, caplen, wirelen, 0, 1, d);
    field_bounds b = {data, caplen, &x};
    const fp_field *f;
    for (int i = 0; (f = fp_field_at(i)) != NULL; i++)
        if (fp_field_each(f, &x, check_field_value, &b) < 0 || fp_field_lookup(f->name) != f)
            abort();
}

/* The PPP control views' walk (csrc/py/layer_ppp.c): each protocol's packet inside the
 * record with its header, and every option the views read judged within its packet. */
static void walk_ppp_control(const uint8_t *data, uint32_t caplen, const fp_dissection *d)
{
    for (int cp = FP_PPP_LCP; cp <= FP_PPP_CCP; cp++) {
        uint32_t at, end;
        if (!fp_ppp_control_find(d, data, caplen, cp, &at, &end)) continue;
        if (end > caplen || at > end || end - at < 4) abort();
        uint32_t len = (uint32_t)data[at + 2] << 8 | data[at + 3];
        if (len < 4 || len > end - at) continue;
        for (uint32_t o = 4; len - o >= 2;) {
            uint8_t olen = data[at + o + 1];
            if (olen < 2 || olen > len - o) break;
            sink += (uint32_t)fp_ppp_option_lies(cp, data + at + o, olen);
            sink += (uint32_t)fp_ppp_option_fits(cp, data[at + o], olen);
            o += olen;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1 || size > 65536 + 1)
        return 0;
    uint32_t lt = linktypes[in[0] % (sizeof linktypes / sizeof linktypes[0])];
    uint32_t caplen = (uint32_t)size - 1;
    /* Exact-size copy so ASan sees any read past caplen. */
    uint8_t *data = malloc(caplen ? caplen : 1);
    if (!data)
        return 0;
    memcpy(data, in + 1, caplen);
    uint32_t wirelen = (in[0] & 0x80) ? caplen + 100 : caplen;

    fp_dissection d;
    /* bit 6 of the first byte: decode tunnels (their inner packets and the outer IP span) */
    fp_dissect_ex(data, caplen, wirelen, lt, (in[0] & 0x40) ? FP_DISSECT_NO_TUNNELS : 0, &d);
    check_span(&d, caplen);
    if (d.tunnel_count > FP_MAX_TUNNELS) abort();
    for (int i = 0; i < d.tunnel_count; i++)
        if (d.tunnel[i].type == 0 || d.tunnel[i].type >= FP_TUN_COUNT ||
            (uint64_t)d.tunnel[i].off + d.tunnel[i].hlen > caplen)
            abort();
    if ((d.gre_off != 0 && d.gre_off >= caplen) || d.link_ppp > caplen) abort(); /* records' own offsets */
    if (d.outer_ip_id != FP_L_COUNT &&
        (d.outer_ip.off > d.outer_ip.off + d.outer_ip.hlen || d.outer_ip.off + d.outer_ip.hlen > d.outer_ip.end ||
         d.outer_ip.end > caplen))
        abort();

    fp_tcp_option opts[8];
    int bad;
    sink += (uint32_t)fp_tcp_options(data, &d, opts, 8, &bad);
    walk_dns(data, &d);
    walk_fields(data, caplen, wirelen, &d);
    walk_ppp_control(data, caplen, &d);
    fp_http_message m;
    if (fp_http_parse(data, &d, &m) == 0) {
        if (m.header_count > FP_HTTP_MAX_HEADERS || m.body_off > caplen)
            abort();
        for (size_t i = 0; i < m.header_count; i++)
            if (m.headers[i].value.off + m.headers[i].value.len > caplen ||
                m.headers[i].name.off + m.headers[i].name.len > caplen)
                abort();
    }
    fp_tls_info t;
    if (fp_tls_parse(data, &d, &t) == 0 && t.sni.off + t.sni.len > caplen)
        abort();
    sink += (uint32_t)fp_ip4_checksum_ok(data, &d);
    sink += (uint32_t)fp_l4_checksum_ok(data, &d);
    sink += fp_inet_checksum(data, caplen, 0);
    if (in[0] & 0x40) { /* the tunnels a dissection without them left, read on from there: the whole one's */
        fp_dissection c, w;
        if (fp_dissect_tunnels(data, caplen, wirelen, lt, 0, &d, &c) == 0) {
            fp_dissect_ex(data, caplen, wirelen, lt, 0, &w);
            if (c.present != w.present || c.anomalies != w.anomalies || c.tunnel_count != w.tunnel_count ||
                c.payload_off != w.payload_off || c.payload_len != w.payload_len || c.vlan_count != w.vlan_count ||
                c.ethertype != w.ethertype || c.ip_proto != w.ip_proto || c.sport != w.sport || c.dport != w.dport ||
                c.outer_ip_id != w.outer_ip_id || c.gre_off != w.gre_off || c.cmd_off != w.cmd_off)
                abort();
            for (int i = 0; i < FP_L_COUNT; i++)
                if (FP_HAS(&w, i) && memcmp(&c.layer[i], &w.layer[i], sizeof c.layer[i]) != 0) abort();
            for (int i = 0; i < w.tunnel_count; i++)
                if (c.tunnel[i].type != w.tunnel[i].type || c.tunnel[i].off != w.tunnel[i].off ||
                    c.tunnel[i].hlen != w.tunnel[i].hlen || c.tunnel[i].id != w.tunnel[i].id ||
                    c.tunnel[i].inner_link != w.tunnel[i].inner_link)
                    abort();
        }
    }
    free(data);
    return 0;
}
