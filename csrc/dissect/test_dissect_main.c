/* Test driver (not shipped): dissect every frame of a classic pcap file and print
 * one TSV line per frame with the same column names as the tshark refs in
 * /work/shared/corpus/refs, for comparison. pcapng is not read here.
 *   cc -std=c11 -O2 -Icsrc/dissect -o td csrc/dissect/{test_dissect_main,link,...}.c */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dissect.h"

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void mac(const uint8_t *p)
{
    printf("%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5]);
}

static void addr(int af, const uint8_t *p)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(af, p, buf, sizeof buf);
    fputs(buf, stdout);
}

static void print_slice(const uint8_t *data, fp_slice s)
{
    fwrite(data + s.off, 1, s.len, stdout);
}

static void print_http(const uint8_t *data, const fp_dissection *d)
{
    fp_http_message m;
    if (!FP_HAS(d, FP_L_HTTP) || fp_http_parse(data, d, &m) != 0 || !m.is_request) {
        printf("\t\t\t");
        return;
    }
    putchar('\t');
    print_slice(data, m.method);
    putchar('\t');
    print_slice(data, m.uri);
    putchar('\t');
    for (int i = 0; i < m.header_count; i++) {
        if (m.header_name[i].len == 4 && strncasecmp((const char *)data + m.header_name[i].off,
                                                     "host", 4) == 0) {
            print_slice(data, m.header_value[i]);
            break;
        }
    }
}

static void print_dns(const uint8_t *data, const fp_dissection *d)
{
    const uint8_t *msg;
    uint32_t len;
    fp_dns_iter it;
    fp_dns_record rec;
    char text[4096];
    if (fp_dns_message(data, d, &msg, &len) != 0 || fp_dns_iter_init(&it, msg, len) != 0) {
        printf("\t\t");
        return;
    }
    putchar('\t');
    int first = 1;
    while (fp_dns_iter_next(&it, &rec) == 1) {
        if (rec.section != FP_DNS_QD) { /* exercise rdata formatting; shown on stderr */
            int r = fp_dns_rdata_text(msg, len, &rec, text, sizeof text);
            if (getenv("DNS_RDATA"))
                fprintf(stderr, "rr %s type %u -> %d %s\n", rec.name, rec.type, r,
                        r >= 0 ? text : "");
            continue;
        }
        if (!first)
            putchar(',');
        fputs(rec.name[0] ? rec.name : "<Root>", stdout);
        first = 0;
    }
    printf("\t%d", it.hdr.flags >> 15);
}

static void print_frame(uint32_t n, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                        uint32_t lt)
{
    fp_dissection d;
    fp_dissect(data, caplen, wirelen, lt, &d);
    printf("%u\t", n);
    if (FP_HAS(&d, FP_L_ETH)) {
        mac(data + 6);
        putchar('\t');
        mac(data);
    } else {
        putchar('\t');
    }
    putchar('\t');
    for (int i = 0; i < d.vlan_count; i++)
        printf("%s%u", i ? "," : "", d.vlan[i].tci & 0xfff);
    putchar('\t');
    if (FP_HAS(&d, FP_L_IP4)) {
        const uint8_t *ip = data + d.layer[FP_L_IP4].off;
        addr(AF_INET, ip + 12);
        putchar('\t');
        addr(AF_INET, ip + 16);
        printf("\t%u\t%u\t%u\t%u", ip[9], ip[8], d.more_fragments, d.frag_offset / 8);
    } else {
        printf("\t\t\t\t\t");
    }
    putchar('\t');
    if (FP_HAS(&d, FP_L_IP6)) {
        const uint8_t *ip = data + d.layer[FP_L_IP6].off;
        addr(AF_INET6, ip + 8);
        putchar('\t');
        addr(AF_INET6, ip + 24);
        printf("\t%u", ip[6]);
    } else {
        printf("\t\t");
    }
    if (FP_HAS(&d, FP_L_TCP)) {
        const fp_span *s = &d.layer[FP_L_TCP];
        const uint8_t *t = data + s->off;
        printf("\t%u\t%u\t%u\t%u\t0x%04x\t%u", d.sport, d.dport, be32(t + 4), be32(t + 8),
               be16(t + 12) & 0x0fff, s->end - s->off - s->hlen);
    } else {
        printf("\t\t\t\t\t\t");
    }
    if (FP_HAS(&d, FP_L_UDP))
        printf("\t%u\t%u\t%u", d.sport, d.dport, be16(data + d.layer[FP_L_UDP].off + 4));
    else
        printf("\t\t\t");
    putchar('\t');
    if (FP_HAS(&d, FP_L_ICMP))
        printf("%u", data[d.layer[FP_L_ICMP].off]);
    putchar('\t');
    if (FP_HAS(&d, FP_L_ICMP6))
        printf("%u", data[d.layer[FP_L_ICMP6].off]);
    putchar('\t');
    if (FP_HAS(&d, FP_L_ARP))
        printf("%u", be16(data + d.layer[FP_L_ARP].off + 6));
    print_dns(data, &d);
    putchar('\t');
    fp_tls_info tls;
    if (FP_HAS(&d, FP_L_TLS) && fp_tls_parse(data, &d, &tls) == 0 && tls.sni.len)
        print_slice(data, tls.sni);
    print_http(data, &d);
    /* extra columns, ours only */
    printf("\t");
    for (int b = 0; b < FP_ANOM_COUNT_BITS; b++)
        if (d.anomalies >> b & 1)
            printf("%s ", fp_anomaly_names[b]);
    fp_tcp_option opts[40];
    int bad;
    fp_tcp_options(data, &d, opts, 40, &bad);
    printf("\t%d\t%d%s\n", fp_ip4_checksum_ok(data, &d), fp_l4_checksum_ok(data, &d),
           bad ? " badopt" : "");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s file.pcap\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    uint8_t gh[24];
    if (fread(gh, 1, 24, f) != 24) {
        fprintf(stderr, "short file header\n");
        return 1;
    }
    uint32_t magic;
    memcpy(&magic, gh, 4);
    int swap;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = 1;
    else {
        fprintf(stderr, "not a classic pcap\n");
        return 1;
    }
    uint32_t lt = rd32(gh + 20, swap) & 0x0fffffff;
    printf("frame.number\teth.src\teth.dst\tvlan.id\tip.src\tip.dst\tip.proto\tip.ttl\t"
           "ip.flags.mf\tip.frag_offset\tipv6.src\tipv6.dst\tipv6.nxt\ttcp.srcport\t"
           "tcp.dstport\ttcp.seq_raw\ttcp.ack_raw\ttcp.flags\ttcp.len\tudp.srcport\t"
           "udp.dstport\tudp.length\ticmp.type\ticmpv6.type\tarp.opcode\tdns.qry.name\t"
           "dns.flags.response\ttls.handshake.extensions_server_name\thttp.request.method\t"
           "http.request.uri\thttp.host\tanomalies\tip4_csum\tl4_csum\n");
    uint8_t rh[16];
    uint32_t n = 0;
    uint8_t *buf = NULL;
    while (fread(rh, 1, 16, f) == 16) {
        uint32_t caplen = rd32(rh + 8, swap), wirelen = rd32(rh + 12, swap);
        if (caplen > 262144) {
            fprintf(stderr, "record %u: caplen %u too large\n", n + 1, caplen);
            break;
        }
        /* Exact-size heap copy so the sanitizers catch any read past caplen. */
        free(buf);
        buf = malloc(caplen ? caplen : 1);
        if (!buf || fread(buf, 1, caplen, f) != caplen) {
            fprintf(stderr, "record %u: truncated\n", n + 1);
            break;
        }
        print_frame(++n, buf, caplen, wirelen, lt);
    }
    free(buf);
    fclose(f);
    return 0;
}
