/* Finding TLS hellos on connections: ClientHello and ServerHello over TCP (reassembled,
 * so hellos split across segments, records, retransmissions and reordering are found)
 * and over QUIC (Initial packets decrypted, CRYPTO frames gathered in any order).
 * Detection is by content, on any port. Python-free.
 *
 * Per connection the tracker holds only what the search needs and lets go of it as soon
 * as the search is over: a reassembler (store off) feeding a TLS record assembler per
 * direction, or a QUIC key cache and two sliding CRYPTO windows feeding the same
 * assemblers. ClientHellos of any length stream through the assembler's ClientHello parser
 * (at most `hello_fields` bytes of fields kept, tls.h); a direction is searched for
 * FP_HELLO_TCP_DEPTH bytes, longer while a ClientHello is being read. The hellos found are
 * copied out (the compact ClientHello, the ServerHello body): they outlive the search.
 * QUIC state exists only once a client's first datagram decrypted as an Initial, and its
 * CRYPTO windows grow with the data. Everything is charged to the engine's budget. */
#ifndef FP_HELLO_TRACKER_H
#define FP_HELLO_TRACKER_H

#include "../dissect/quic.h"
#include "../dissect/tls.h"
#include "../flow/flow.h"
#include "tcp_reassembly.h"

#define FP_HELLO_TCP_DEPTH (128u << 10)   /* stream bytes per direction searched for a hello to start */
#define FP_HELLO_STREAM_MAX (1u << 20)    /* stream (TCP) or CRYPTO (QUIC) bytes a direction is followed
                                             for at most: a ClientHello's fields end within 131,396
                                             body bytes, 6 stream bytes each in 1-byte records */
#define FP_HELLO_QUIC_CRYPTO (32u << 10)  /* CRYPTO window per direction: out-of-order reach */
#define FP_HELLO_QUIC_DATAGRAMS 32        /* datagrams in a row without CRYPTO progress before giving up */
#define FP_HELLO_QUIC_MIN_INITIAL 1200u   /* a client pads datagrams carrying Initials to at least
                                             this (RFC 9000 section 14.1): smaller ones are not tried */
#define FP_HELLO_PLAIN_WINDOW 4096u      /* a plaintext start (STARTTLS, CONNECT, SOCKS) may turn
                                            into TLS within this many bytes of a direction */

typedef struct fp_quic_state fp_quic_state;

typedef struct {
    uint8_t transport;        /* 't' TCP or 'q' QUIC once the connection looked like one */
    uint8_t done;             /* nothing more to look for: the search state is freed */
    uint8_t client_dir;       /* direction (0 forward) the ClientHello travelled */
    uint8_t dead[2];          /* per direction: gave up, or its hello found */
    uint8_t plain[2];         /* per direction: started as plaintext; TLS may still begin */
    uint8_t quic_tries[2];
    uint8_t alloc_failed;     /* drop mode: an allocation failed, the search lost state */
    uint32_t asm_flags[2];    /* FP_TLS_ASM bits of each direction */
    uint32_t quic_flags;      /* FP_QUIC_F bits seen */
    uint32_t quic_version;
    uint8_t *hello[2];        /* [0] ClientHello (compact form), [1] ServerHello body (copies) */
    uint32_t hello_len[2];
    uint32_t hello_wire_len;  /* the ClientHello's body length as its header claims */
    uint32_t hello_anomalies; /* FP_TLS_HELLO_A bits of the ClientHello's streaming parser */
    int64_t hello_ns[2];      /* time of the packet that completed each */
    fp_reasm *r;              /* TCP search */
    fp_tls_asm *tls;          /* [2]: TCP records, or QUIC CRYPTO streams */
    fp_quic_state *q;         /* QUIC search */
    size_t tls_bytes;         /* what the TLS parsers held at the last count (budget) */
    size_t held;              /* bytes counted in the budget's `held` while queued for output */
} fp_hello_conn;

typedef struct {
    uint64_t client_hellos, server_hellos;
    uint64_t tcp_searches, quic_searches;   /* connections that looked like TLS / QUIC */
    uint64_t quic_auth_failures, gave_up;
    uint64_t quic_not_initial;              /* first datagrams that looked like an Initial but did not decrypt */
    uint64_t oom;
    uint64_t hello_over_cap;           /* ClientHellos with fields past hello_fields */
    uint64_t hello_implausible_length; /* ... whose header claimed over FP_TLS_CH_MAX_BODY */
    uint64_t hello_partial;            /* ... cut by a gap or the connection's end (reported
                                          when past the session id) */
} fp_hello_stats;

typedef struct {
    fp_reasm_shared sh;       /* reassembly limits of the search; its sink feeds the TLS assembler */
    fp_hello_stats stats;
    int64_t now_ns;           /* time of the packet being processed */
    uint32_t hello_fields;    /* cap of a ClientHello's kept fields (FP_TLS_HELLO_FIELDS) */
    uint8_t *scratch;         /* QUIC decryption buffer (one datagram) */
    fp_budget *budget;        /* the engine's; may be NULL */
} fp_hello_tracker;

#define FP_HELLO_ALLOC_FAILED (-2) /* fp_hello_packet: the search state could not be allocated */

int fp_hello_tracker_init(fp_hello_tracker *t, fp_budget *budget);
void fp_hello_tracker_free(fp_hello_tracker *t);

/* One packet of a connection (forward: client -> server as the flow table oriented it).
 * *pc is created on demand. Returns 1 when the connection's hello information became
 * complete with this packet (a ClientHello, and the ServerHello or a server side that
 * will not show one), 0 while searching, -1 when the connection is not searched (not TLS
 * or QUIC), FP_HELLO_ALLOC_FAILED when its search state could not be allocated. */
int fp_hello_packet(fp_hello_tracker *t, fp_hello_conn **pc, const fp_flow_packet *p, int forward);
/* The connection is over: stop searching (what was found stays). */
void fp_hello_finish(fp_hello_tracker *t, fp_hello_conn *c);
void fp_hello_conn_free(fp_hello_tracker *t, fp_hello_conn *c);
/* A finished connection's hellos now wait in the output queue (not evictable). */
void fp_hello_conn_hold(fp_hello_tracker *t, fp_hello_conn *c);

/* Parsed view of a connection's hellos, with fingerprints. */
typedef struct {
    fp_tls_hello ch, sh;
    int has_ch, has_sh;
    char ja3[33], ja3s[33], ja4[FP_JA4_SIZE];
    char *ja3_str, *ja3s_str, *ja4_r; /* malloc'd, NULL when absent */
} fp_hello_view;
/* Fill a view (0) or -1 when the connection has no ClientHello. Free with fp_hello_view_free. */
int fp_hello_view_make(const fp_hello_conn *c, fp_hello_view *v);
void fp_hello_view_free(fp_hello_view *v);
/* The ClientHello alone with its JA3 hash and JA4 (what flows keep): no raw strings, no
 * ServerHello, one pass per fingerprint. 0, or -1 when there is no ClientHello. */
int fp_hello_fingerprints(const fp_hello_conn *c, fp_tls_hello *ch, char ja3[33], char ja4[FP_JA4_SIZE]);
/* Highest TLS version a ClientHello offers (supported_versions without GREASE, else legacy). */
uint16_t fp_hello_max_version(const fp_tls_hello *h);

#endif
