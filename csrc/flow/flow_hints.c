/* Application hints from a flow's first packets: TLS SNI from a ClientHello inside one
 * segment (RFC 6066 section 3), HTTP/1.x method and Host (RFC 9112), DNS query name
 * and response code (RFC 1035 section 4.1.1). Read through the dissector's checked
 * parsers; text is cut at FP_HINT_TEXT - 1 bytes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow.h"
#include "../dissect/tls.h"

static fp_flow_hints *hints_of(fp_flow *f)
{
    if (f->hints == NULL) {
        f->hints = calloc(1, sizeof *f->hints);
        if (f->hints) f->hints->dns_rcode = -1;
    }
    return f->hints;
}

static uint16_t copy_text(char *dst, size_t cap, const void *src, size_t n)
{
    if (n > cap - 1) n = cap - 1;
    if (n) memcpy(dst, src, n); /* src may be NULL when there is nothing to copy */
    dst[n] = 0;
    return (uint16_t)n;
}

static void dns_hints(fp_flow *f, const fp_flow_packet *p)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    fp_dns_record rec;
    if (fp_dns_message(p->data, p->d, &msg, &len) < 0 || fp_dns_iter_init(&it, msg, len) < 0) return;
    int response = (it.hdr.flags & 0x8000) != 0;
    if (f->hints && f->hints->dns_qname_len && (!response || f->hints->dns_rcode >= 0)) return;
    fp_flow_hints *h = hints_of(f);
    if (h == NULL) return;
    if (response && h->dns_rcode < 0) h->dns_rcode = (int16_t)(it.hdr.flags & 0x000f);
    if (h->dns_qname_len == 0 && fp_dns_iter_next(&it, &rec) == 1 && rec.section == FP_DNS_QD)
        h->dns_qname_len = copy_text(h->dns_qname, sizeof h->dns_qname, rec.name, strlen(rec.name));
}

static void tls_hints(fp_flow *f, const fp_flow_packet *p)
{
    fp_tls_info ti;
    if (f->hints && f->hints->sni_len) return;
    if (fp_tls_parse(p->data, p->d, &ti) < 0 || !ti.is_client_hello || ti.sni.len == 0) return;
    fp_flow_hints *h = hints_of(f);
    if (h) h->sni_len = copy_text(h->sni, sizeof h->sni, p->data + ti.sni.off, ti.sni.len);
}

static void http_hints(fp_flow *f, const fp_flow_packet *p)
{
    fp_http_message m;
    if (f->hints && f->hints->http_method_len) return;
    if (fp_http_parse(p->data, p->d, &m) < 0 || m.start.is_response) return;
    fp_flow_hints *h = hints_of(f);
    if (h == NULL) return;
    h->http_method_len = copy_text(h->http_method, sizeof h->http_method, p->data + m.start.method.off,
                                   m.start.method.len);
    long k = fp_http_find_field(p->data, m.headers, m.header_count, "host");
    uint8_t unfolded[sizeof h->http_host];
    size_t len;
    if (k >= 0) {
        const uint8_t *v = fp_http_value(p->data, &m.headers[k], unfolded, sizeof unfolded, &len);
        h->http_host_len = copy_text(h->http_host, sizeof h->http_host, v, len);
    }
}

void fp_flow_hints_update(fp_flow *f, const fp_flow_packet *p, int forward)
{
    (void)forward;
    const fp_dissection *d = p->d;
    if (d == NULL) return;
    if (FP_HAS(d, FP_L_DNS)) dns_hints(f, p);
    if (FP_HAS(d, FP_L_TLS)) tls_hints(f, p);
    if (FP_HAS(d, FP_L_HTTP)) http_hints(f, p);
}

int fp_flow_hints_set_tls(fp_flow *f, const char *sni, size_t sni_len, const char *alpn, size_t alpn_len,
                          const char *ja3, const char *ja4)
{
    fp_flow_hints *h = hints_of(f);
    if (h == NULL) return -1;
    if (sni_len) h->sni_len = copy_text(h->sni, sizeof h->sni, sni, sni_len);
    h->alpn_len = copy_text(h->alpn, sizeof h->alpn, alpn, alpn_len);
    copy_text(h->ja3, sizeof h->ja3, ja3, strlen(ja3));
    copy_text(h->ja4, sizeof h->ja4, ja4, strlen(ja4));
    return 0;
}
