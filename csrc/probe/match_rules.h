/* What a probe or a captured packet looks like to the matching rules (match.c), shared with
 * the session (session.c), which keys probes by fp_pview_key for the lookup. Python-free. */
#ifndef FP_PROBE_MATCH_RULES_H
#define FP_PROBE_MATCH_RULES_H

#include <stdint.h>

/* The IP-level facts the rules compare: the header's addresses and protocol and the
 * transport fields, of a packet or of the header an ICMP error quotes. */
typedef struct {
    uint8_t ver;          /* 4 or 6; 0: none */
    uint8_t proto;        /* after IPv6 extension headers */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;        /* TCP/UDP */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    uint32_t l4_payload;          /* TCP payload bytes */
    int has_tcp_seq, has_tcp_ack; /* a quoted TCP header may hold only its ports and seq */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id, icmp_seq;
    const uint8_t *echo_data;     /* ICMPv6 echo data (compared by Scapy) */
    uint32_t echo_len;
    int dns;                      /* a DNS message was dissected */
    uint16_t dns_id;
    uint8_t dns_qr;
} fp_pview_ip;

typedef struct {
    int arp;                      /* ARP (IPv4 over Ethernet) */
    uint16_t arp_op;
    uint8_t arp_psrc[4], arp_pdst[4];
    fp_pview_ip ip;
    int icmp_error;               /* ip is an ICMP error; quoted holds the header it quotes */
    fp_pview_ip quoted;
    uint32_t net_off;             /* offset of the ARP/IP header in the record */
} fp_pview;

/* The lookup key: what an answer shares with its probe. A probe is keyed by its own
 * fields; an answer by the reversed fields (our address = its destination), an ICMP error
 * by the header it quotes. Equal keys are necessary, fp_pview_answers decides. */
typedef struct {
    uint8_t kind; /* 1 ARP, 2 IP */
    uint8_t ver, proto, pad;
    uint16_t a, b; /* ports, echo id and sequence, or 0 */
    uint8_t addr[16]; /* our address (probe source; ARP: the address asked for) */
    uint8_t peer[4];  /* IPv4: the probe's destination, which every answer names (as its
                       * source, or in the header an error quotes); IPv6 answers need not */
} fp_probe_key;

/* Fill *v from a record; 0 when the packet is neither ARP nor IP (nothing to match). */
int fp_pview_parse(const uint8_t *data, uint32_t len, uint32_t linktype, fp_pview *v);
/* Key of a probe (as_answer 0) or of a captured packet (1); 0 when there is none. */
int fp_pview_key(const fp_pview *v, int as_answer, fp_probe_key *k);
uint64_t fp_probe_key_hash(const fp_probe_key *k);
/* Scapy's answer.answers(probe). */
int fp_pview_answers(const fp_pview *probe, const fp_pview *ans);

#endif
