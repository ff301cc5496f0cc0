/* TLS, the one module for every consumer (per-packet view, flows, the hello engine):
 * tls.c checks record headers, undoes the record layer of a byte stream into handshake
 * messages, parses ClientHello and ServerHello in full (whole, or streamed into a compact
 * form), reads the records of one segment (pkt.tls) and ends with the tls.* field table;
 * tls_fingerprint.c derives JA3/JA3S/JA4/JA4_r from parsed hellos (hashing through OpenSSL
 * libcrypto, EVP; it reads no wire bytes the parser did not frame). Python-free.
 *   Records: RFC 8446 section 5.1 (RFC 5246 section 6.2.1). Handshake messages may be
 *     split over records and several may share one record; other record types must not
 *     interleave with a fragmented message.
 *   QUIC: RFC 9001 section 4.1.3, CRYPTO frames carry handshake messages without records.
 *   Hellos: RFC 8446 sections 4.1.2, 4.1.3 and 4.2 (RFC 5246 7.4.1.2/7.4.1.3); server_name
 *     RFC 6066 section 3; ALPN RFC 7301 section 3.1; ec_point_formats RFC 8422 section 5.1.2;
 *     GREASE RFC 8701; encrypted_client_hello (0xfe0d) draft-ietf-tls-esni.
 *   JA3/JA3S: https://github.com/salesforce/ja3 (README). JA4/JA4_r: FoxIO
 *     technical_details/JA4.md (BSD-3-Clause; JA4 only, the other JA4+ methods are not
 *     implemented here).
 * Every offset in a parsed hello is relative to the handshake message body it was parsed
 * from (zero-copy); the body must outlive the fp_tls_hello. */
#ifndef FP_TLS_H
#define FP_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "dissect.h"

/* ---- Records -------------------------------------------------------------------- */

#define FP_TLS_MAX_RECORD 18432u /* 2^14 + 2048: TLSCiphertext limit of RFC 5246 */

/* The one check of a TLS record header (RFC 8446 5.1, RFC 5246 6.2): content type 20..24
 * (22 only with `handshake`), version 3.0-3.4, length at most FP_TLS_MAX_RECORD. `len` may
 * be short: 1 = plausible so far, 0 = not TLS. */
static inline int fp_tls_record_plausible(const uint8_t *p, size_t len, int handshake)
{
    /* content types: 20 change_cipher_spec .. 24 heartbeat, 22 handshake */
    if (len >= 1 && (handshake ? p[0] != 22 : (uint8_t)(p[0] - 20) > 4)) return 0;
    if (len >= 3 && (p[1] != 3 || p[2] > 4)) return 0;
    if (len == 2 && p[1] != 3) return 0;
    return len < 5 || ((uint32_t)p[3] << 8 | p[4]) <= FP_TLS_MAX_RECORD;
}

/* ---- Handshake assembler --------------------------------------------------------- */

#define FP_TLS_MAX_MESSAGE (64u * 1024u) /* default cap on one handshake message body */
#define FP_TLS_SH_MAX_BODY 65607u        /* RFC 8446 4.1.3 grammar maximum of a ServerHello
                                            body: 2+32+33+2+1+(2+65535) */

/* Assembler flags: what was seen, and why it stopped (DONE set = no more bytes examined). */
#define FP_TLS_ASM_FLAGS(X)                                                                  \
    X(DONE, "done")                   /* stopped: later bytes are ignored */                 \
    X(NOT_TLS, "not_tls")             /* the stream does not start with a handshake record */ \
    X(GAP, "gap")                     /* bytes were lost (fp_tls_asm_gap) */                 \
    X(TOO_BIG, "too_big")             /* a handshake message longer than max_message */      \
    X(BAD_RECORD, "bad_record")       /* a later record header is not TLS */                 \
    X(INTERLEAVED, "interleaved")     /* another record type inside a fragmented message */  \
    X(CCS, "change_cipher_spec")      /* ChangeCipherSpec seen (see ccs_policy) */           \
    X(ALERT, "alert")                 /* alert record seen (stops) */                        \
    X(APPDATA, "application_data")    /* application data / TLS 1.3 encrypted records (stops) */ \
    X(STOPPED, "stopped")             /* the message callback asked to stop */               \
    X(NOMEM, "no_memory")             /* the message buffer could not grow */                \
    X(EMPTY_RECORD, "empty_record")   /* zero-length handshake record (RFC 8446 5.1 forbids) */

#define FP_TLS_ASM_ENUM(name, str) FP_TLS_ASM_BIT_##name,
enum { FP_TLS_ASM_FLAGS(FP_TLS_ASM_ENUM) FP_TLS_ASM_FLAG_COUNT };
#undef FP_TLS_ASM_ENUM
#define FP_TLS_ASM(name) (1u << FP_TLS_ASM_BIT_##name)
extern const char *const fp_tls_asm_flag_names[FP_TLS_ASM_FLAG_COUNT];

/* One complete handshake message, handed to the callback. A ClientHello read by the
 * streaming parser (fp_tls_asm.hello_fields set) comes as its compact form instead. */
typedef struct {
    uint8_t type;          /* HandshakeType: 1 ClientHello, 2 ServerHello, 11 Certificate... */
    uint8_t after_ccs;     /* came after a ChangeCipherSpec (see ccs_policy) */
    uint8_t compact;       /* body is a compact ClientHello (fp_tls_ch_stream) */
    uint8_t partial;       /* compact: the input ended inside the hello (fp_tls_asm_finish) */
    uint32_t len;          /* body length (the uint24 of the header; compact: its own length) */
    const uint8_t *body;   /* the body after the 4-byte header; valid during the call only */
    uint32_t index;        /* 0-based message number in this direction */
    uint32_t wire_len;     /* the uint24 of the header (= len unless compact) */
    uint32_t anomalies;    /* compact: FP_TLS_HELLO_A bits the streaming parser found */
} fp_tls_hs_msg;

/* Return 0 to go on, non-zero to stop the assembler (flag STOPPED). */
/* What follows a ChangeCipherSpec. In TLS <= 1.2 the rest of the handshake is encrypted.
 * In TLS 1.3 middlebox-compatibility mode (RFC 8446 D.4) a CCS may come right before the
 * second ClientHello after a HelloRetryRequest (or before the server's second hello), and
 * that one is plaintext. AUTO reads on only when the next record is a handshake record
 * that starts with a ClientHello/ServerHello header whose length fills the record (or a
 * full 2^14-byte record): 1/256 * 2^-24 odds for an encrypted Finished to look like it. */
enum { FP_TLS_CCS_AUTO = 0, FP_TLS_CCS_STOP = 1, FP_TLS_CCS_CONTINUE = 2 };
typedef int (*fp_tls_hs_cb)(void *ctx, const fp_tls_hs_msg *msg);

typedef struct fp_tls_ch_stream fp_tls_ch_stream;

/* Per-direction state. Fill with fp_tls_asm_init, adjust the settings, feed the bytes of
 * one direction in order, free with fp_tls_asm_free. Allocations: the buffer of a message
 * that is split across feeds or records (grown up to max_message) and, with hello_fields
 * set, the streaming parser of a ClientHello (at most hello_fields bytes of fields). */
typedef struct {
    /* settings */
    uint32_t max_message;       /* body bytes held per message (default FP_TLS_MAX_MESSAGE) */
    uint32_t hello_fields;      /* non-zero: ClientHellos of any length (up to 2^24-1) are
                                 * parsed as they stream, keeping at most this many bytes of
                                 * fields (fp_tls_ch_stream); max_message does not apply */
    uint8_t quic;               /* input is a QUIC CRYPTO stream: no record layer */
    uint8_t ccs_policy;         /* FP_TLS_CCS_* (default AUTO) */
    /* results */
    uint32_t flags;             /* FP_TLS_ASM(...) bits */
    uint64_t consumed;          /* bytes examined (excludes bytes fed after DONE) */
    uint32_t records;           /* records whose header was read */
    uint32_t messages;          /* messages delivered */
    uint16_t first_record_version;
    /* internal */
    uint8_t after_ccs;
    uint8_t ccs_probe;          /* AUTO: the next handshake record must start a hello */
    uint8_t rec_type;
    uint8_t rec_hdr_have;
    uint8_t msg_hdr_have;
    uint8_t rec_hdr[5];
    uint8_t msg_hdr[4];
    uint32_t rec_left;          /* body bytes of the current record still to come */
    uint32_t rec_len;           /* body length of the current record */
    uint32_t msg_len, msg_have; /* message being assembled in buf */
    uint8_t *buf;
    uint32_t buf_cap;
    fp_tls_ch_stream *ch;       /* streaming ClientHello in progress (hello_fields) */
    uint8_t ch_delivered;       /* its fields ended early: the rest of the body is skipped */
} fp_tls_asm;

void fp_tls_asm_init(fp_tls_asm *a, int quic);
void fp_tls_asm_free(fp_tls_asm *a);
/* Feed in-order bytes; `cb` (may be NULL) gets each complete message. Returns 1 when the
 * assembler is done (flags tell why; further feeds are ignored), 0 while it wants more. */
int fp_tls_asm_feed(fp_tls_asm *a, const uint8_t *data, size_t len, fp_tls_hs_cb cb, void *ctx);
/* Bytes were lost before the next feed: the direction is abandoned (flag GAP). */
void fp_tls_asm_gap(fp_tls_asm *a);
/* The input ends (connection over, gap, search given up): a streamed ClientHello cut short
 * is delivered as it stands (msg.partial, anomaly tls_hello_truncated) once its fields got
 * past the session id. Returns 1 when it was delivered, -1 when one was cut before that,
 * 0 when none was in progress. */
int fp_tls_asm_finish(fp_tls_asm *a, fp_tls_hs_cb cb, void *ctx);
/* A ClientHello is being streamed (its header read, its fields not yet delivered). */
static inline int fp_tls_asm_streaming(const fp_tls_asm *a)
{
    return a->ch != NULL && !a->ch_delivered && a->msg_hdr_have == 4 && a->msg_hdr[0] == 1 &&
           !(a->flags & FP_TLS_ASM(DONE));
}
/* Heap bytes the assembler holds now (message buffer and streaming parser), for budgets. */
size_t fp_tls_asm_memory(const fp_tls_asm *a);
/* Bytes of a message or record header held, waiting for more input. */
static inline uint32_t fp_tls_asm_pending(const fp_tls_asm *a)
{
    return (uint32_t)a->msg_hdr_have + a->msg_have;
}

/* ---- Hello parsing --------------------------------------------------------------- */

#define FP_TLS_MAX_CIPHERS 512       /* realistic maximum ~370 (scanners offering all IANA) */
#define FP_TLS_MAX_EXTENSIONS 128    /* browsers send ~20 */
#define FP_TLS_MAX_COMPRESSION 16
#define FP_TLS_MAX_SNI 8             /* host_name entries (RFC 6066 allows one per type) */
#define FP_TLS_MAX_ALPN 16
#define FP_TLS_MAX_VERSIONS 16
#define FP_TLS_MAX_GROUPS 64
#define FP_TLS_MAX_SIGALGS 64
#define FP_TLS_MAX_KEY_SHARES 16
#define FP_TLS_MAX_PSK_MODES 8
#define FP_TLS_MAX_POINT_FORMATS 16

/* Return codes of the parsers (first problem met); h->error holds the same value. */
enum {
    FP_TLS_OK = 0,
    FP_TLS_ERR_TRUNCATED = -1, /* the body ends inside a field: parsing stopped there */
    FP_TLS_ERR_LENGTH = -2,    /* an inner length runs past its container: parsing stopped */
    FP_TLS_ERR_EXTENSION = -3, /* an extension's content breaks its grammar (rest parsed) */
    FP_TLS_ERR_TRAILING = -4,  /* bytes after the last field (everything parsed) */
    FP_TLS_ERR_ARGUMENT = -5,  /* NULL body/hello, or a fingerprint of the wrong hello kind */
    FP_TLS_ERR_NOMEM = -6,     /* fingerprints: scratch memory or the digest failed */
};
const char *fp_tls_error_name(int code);

#define FP_TLS_HELLO_ANOMALIES(X)                                                            \
    X(TRUNCATED, "tls_hello_truncated")         /* body ends inside a field */               \
    X(BAD_LENGTH, "tls_hello_bad_length")       /* a vector overruns its container */        \
    X(ODD_LENGTH, "tls_hello_odd_length")       /* a list of uint16 with an odd byte count */ \
    X(TRAILING, "tls_hello_trailing")           /* bytes left after the fields */            \
    X(EXT_MALFORMED, "tls_hello_ext_malformed") /* an extension breaks its own grammar */    \
    X(DUP_EXTENSION, "tls_hello_dup_extension") /* one type twice (RFC 8446 4.2) */          \
    X(SESSION_ID_LONG, "tls_hello_session_id_long") /* session id over 32 bytes */           \
    X(EMPTY_LIST, "tls_hello_empty_list")       /* no cipher suites / compression methods */ \
    X(PSK_NOT_LAST, "tls_hello_psk_not_last")   /* pre_shared_key not the last (RFC 8446 4.2.11) */ \
    X(CAPPED, "tls_hello_capped")               /* a decoded array hit its cap (see capped) */ \
    X(OVER_CAP, "tls_hello_over_cap")           /* fields past hello_fields were not kept */ \
    X(IMPLAUSIBLE_LENGTH, "tls_hello_implausible_length") /* header claims > FP_TLS_CH_MAX_BODY */

#define FP_TLS_HELLO_ANOM_ENUM(name, str) FP_TLS_HELLO_BIT_##name,
enum { FP_TLS_HELLO_ANOMALIES(FP_TLS_HELLO_ANOM_ENUM) FP_TLS_HELLO_ANOM_COUNT };
#undef FP_TLS_HELLO_ANOM_ENUM
#define FP_TLS_HELLO_A(name) (1u << FP_TLS_HELLO_BIT_##name)
extern const char *const fp_tls_hello_anomaly_names[FP_TLS_HELLO_ANOM_COUNT];

/* Which arrays hit their cap (the spans and fingerprints still cover every value). */
enum {
    FP_TLS_CAP_CIPHERS = 1u << 0,
    FP_TLS_CAP_EXTENSIONS = 1u << 1,
    FP_TLS_CAP_COMPRESSION = 1u << 2,
    FP_TLS_CAP_SNI = 1u << 3,
    FP_TLS_CAP_ALPN = 1u << 4,
    FP_TLS_CAP_VERSIONS = 1u << 5,
    FP_TLS_CAP_GROUPS = 1u << 6,
    FP_TLS_CAP_SIGALGS = 1u << 7,
    FP_TLS_CAP_KEY_SHARES = 1u << 8,
    FP_TLS_CAP_PSK_MODES = 1u << 9,
    FP_TLS_CAP_POINT_FORMATS = 1u << 10,
};

/* Where GREASE values (RFC 8701) were found. */
enum {
    FP_TLS_GREASE_CIPHER = 1u << 0,
    FP_TLS_GREASE_EXTENSION = 1u << 1,
    FP_TLS_GREASE_GROUP = 1u << 2,
    FP_TLS_GREASE_VERSION = 1u << 3,
    FP_TLS_GREASE_SIGALG = 1u << 4,
    FP_TLS_GREASE_KEY_SHARE = 1u << 5,
    FP_TLS_GREASE_ALPN = 1u << 6,      /* two-byte ALPN id 0x?A?A */
    FP_TLS_GREASE_PSK_MODE = 1u << 7,  /* 0x0B, 0x2A, ... 0xE4 */
};

/* RFC 8701 values 0x0A0A, 0x1A1A, ... 0xFAFA. */
static inline int fp_tls_is_grease(uint16_t v)
{
    return (v & 0x0f0fu) == 0x0a0au && (v >> 8) == (v & 0xffu);
}

typedef struct {
    uint32_t off, len; /* within the handshake body */
} fp_tls_span;

typedef struct {
    uint16_t type;
    fp_tls_span data; /* extension_data */
} fp_tls_ext;

typedef struct {
    /* what was parsed */
    const uint8_t *body;
    uint32_t body_len;
    uint8_t is_server;       /* 0 ClientHello, 1 ServerHello */
    uint8_t complete;        /* every field was framed (error is 0, EXTENSION or TRAILING) */
    int error;               /* FP_TLS_OK or the first FP_TLS_ERR_* */
    uint32_t anomalies;      /* FP_TLS_HELLO_A(...) bits */
    uint32_t capped;         /* FP_TLS_CAP_* bits */
    uint32_t grease;         /* FP_TLS_GREASE_* bits */
    uint8_t ext_overrun;     /* EXT_MALFORMED included an inner length past its extension */

    /* fixed fields */
    uint16_t legacy_version;
    fp_tls_span random;      /* 32 bytes */
    fp_tls_span session_id;
    uint8_t is_hrr;          /* ServerHello whose random is the HelloRetryRequest value */

    /* cipher suites: ClientHello offers (vector body), ServerHello's selected one */
    fp_tls_span cipher_span;
    uint32_t cipher_count;   /* all offered, including those past the cap */
    uint16_t cipher;         /* ServerHello */

    fp_tls_span compression_span;
    uint32_t compression_count;

    /* extensions, in order */
    uint8_t has_extensions;  /* the extensions vector is present (absent in old hellos) */
    fp_tls_span ext_span;    /* extensions vector body */
    uint32_t ext_count;      /* all framed extensions, including those past the cap */

    /* decoded extensions (first occurrence of each type) */
    uint8_t has_sni;         /* extension 0x0000 present (even empty: ServerHello echo) */
    uint32_t sni_count;      /* host_name entries */

    uint8_t has_alpn;        /* 0x0010. ServerHello: the selected protocol (TLS <= 1.2 only:
                              * TLS 1.3 sends it in the encrypted EncryptedExtensions) */
    uint32_t alpn_count;

    uint8_t has_supported_versions; /* 0x002b */
    uint32_t version_count;  /* ClientHello list (ServerHello: 1, the selected version) */
    fp_tls_span versions_span;
    uint16_t selected_version; /* ServerHello: supported_versions, else legacy_version */

    uint8_t has_groups;      /* supported_groups 0x000a */
    uint32_t group_count;
    fp_tls_span groups_span;

    uint8_t has_sigalgs;     /* signature_algorithms 0x000d */
    uint32_t sigalg_count;
    fp_tls_span sigalgs_span;

    uint8_t has_key_share;   /* 0x0033: ClientHello entries' groups; ServerHello the chosen */
    uint32_t key_share_count;

    uint8_t has_psk_modes;   /* psk_key_exchange_modes 0x002d */
    uint32_t psk_mode_count;

    uint8_t has_point_formats; /* ec_point_formats 0x000b */
    uint32_t point_format_count;
    fp_tls_span point_formats_span;

    uint8_t has_ech;         /* encrypted_client_hello 0xfe0d */
    int ech_type;            /* ClientHello: 0 outer, 1 inner, -1 unknown/empty */
    uint8_t has_quic_transport_params; /* 0x0039 (or the draft codepoint 0xffa5) */
    uint8_t has_psk;         /* pre_shared_key 0x0029 */
    uint8_t has_early_data;  /* 0x002a */

    /* capped arrays, last: hello_init zeroes only what is above (they are written up to
     * their counts and never read past them) */
    uint16_t ciphers[FP_TLS_MAX_CIPHERS];
    uint8_t compression[FP_TLS_MAX_COMPRESSION];
    fp_tls_ext exts[FP_TLS_MAX_EXTENSIONS];
    fp_tls_span sni[FP_TLS_MAX_SNI];
    fp_tls_span alpn[FP_TLS_MAX_ALPN];
    uint16_t versions[FP_TLS_MAX_VERSIONS];
    uint16_t groups[FP_TLS_MAX_GROUPS];
    uint16_t sigalgs[FP_TLS_MAX_SIGALGS];
    uint16_t key_share_groups[FP_TLS_MAX_KEY_SHARES];
    uint8_t psk_modes[FP_TLS_MAX_PSK_MODES];
    uint8_t point_formats[FP_TLS_MAX_POINT_FORMATS];
} fp_tls_hello;

/* `body`/`len`: the handshake message body (after the 4-byte header). Returns FP_TLS_OK or
 * the first FP_TLS_ERR_*; the struct is filled with everything framed before a stop. */
int fp_tls_client_hello_parse(const uint8_t *body, uint32_t len, fp_tls_hello *h);
int fp_tls_server_hello_parse(const uint8_t *body, uint32_t len, fp_tls_hello *h);
/* A compact ClientHello (fp_tls_ch_stream) with the anomalies its streaming parser found
 * (fp_tls_hs_msg.anomalies): parsed, those added, error/complete made to agree. */
int fp_tls_client_hello_parse_compact(const uint8_t *body, uint32_t len, uint32_t stream_anomalies,
                                      fp_tls_hello *h);

/* ---- Streaming ClientHello ----------------------------------------------------- */
/* A ClientHello body is parsed as its bytes arrive, in any number of pieces, into a
 * compact ClientHello: a well-formed body of the same grammar that keeps what the hello
 * parser, the fingerprints and the records read (version, random, session id, cipher
 * suites, compression methods, every extension type in order, and the data of the first
 * server_name, supported_groups, ec_point_formats, signature_algorithms, ALPN,
 * supported_versions and psk_key_exchange_modes), with key_share reduced to its groups
 * (empty keys), encrypted_client_hello to its first byte and every other extension body
 * (padding, pre_shared_key, tickets, unknown, duplicates) skipped unread. Lengths are
 * rewritten only for vectors that end inside the body, so a cut or overrunning hello
 * parses to the same errors as the original. fp_tls_client_hello_parse reads the compact
 * form; the streamer's anomalies (OVER_CAP, TRAILING, IMPLAUSIBLE_LENGTH, EXT_MALFORMED
 * of a key_share, TRUNCATED when finished early) come on top.
 *
 * The compact form is capped at `cap` bytes (fp_tls_asm.hello_fields): cipher suites use at
 * most half of it, extension entries stop at 7/8 so decoded data keeps room; what does not
 * fit is skipped and flagged tls_hello_over_cap (fingerprints then cover what was kept). The
 * fields of a hello end at most FP_TLS_CH_MAX_BODY bytes in: the hello is complete there
 * even when its header claims more (flagged tls_hello_implausible_length, the rest of the
 * message is skipped unread). */

#define FP_TLS_CH_MAX_BODY 131396u        /* RFC 8446 4.1.2 grammar maximum (OpenSSL's
                                             CLIENT_HELLO_MAX_LENGTH): 2+32+33+65536+256+65537 */
#define FP_TLS_HELLO_FIELDS (16u << 10)   /* default cap of a compact ClientHello */
#define FP_TLS_HELLO_FIELDS_MIN 1024u     /* smallest cap (fixed fields are up to 580 bytes) */

struct fp_tls_ch_stream {
    uint32_t cap;            /* compact bytes at most */
    uint32_t wire_len;       /* body length the header claims */
    uint32_t seen;           /* body bytes consumed */
    uint32_t anomalies;      /* FP_TLS_HELLO_A bits found while streaming */
    uint8_t state, done, ks_open, ks_bad;
    uint8_t acc_have, acc_need;
    uint8_t acc[4];          /* a fixed-size field being gathered */
    uint16_t decoded;        /* kinds of extension already seen (the first is decoded) */
    uint32_t left, keep;     /* bytes left in the current run / of them still to copy */
    uint32_t exts_left, ext_left, ks_left; /* left in extensions / this one / client_shares */
    uint32_t cs_pos, exts_pos, ext_pos, ks_pos; /* lengths rewritten in out */
    uint32_t hdr_pos, hdr_len; /* the current extension's length in out, and on the wire */
    uint8_t *out;            /* the compact body */
    uint32_t out_len, out_cap;
};

void fp_tls_ch_stream_init(fp_tls_ch_stream *s, uint32_t wire_len, uint32_t cap);
void fp_tls_ch_stream_free(fp_tls_ch_stream *s);
/* Body bytes in order; returns 1 once the fields are complete (later bytes are skipped
 * unread), 0 while more are wanted, -1 when the compact buffer could not grow. */
int fp_tls_ch_stream_feed(fp_tls_ch_stream *s, const uint8_t *p, size_t n);
/* Heap bytes the streaming parser holds (struct included): its state for budgets. */
size_t fp_tls_ch_stream_memory(const fp_tls_ch_stream *s);

/* ---- One segment (pkt.tls) ----------------------------------------------------- */
typedef struct {
    uint8_t content_type;     /* first record */
    uint16_t record_version;
    uint16_t record_length;
    int record_count;         /* complete or partial records in the segment */
    int handshake_type;       /* first handshake message type, -1 if none */
    int is_client_hello;
    uint16_t hello_version;   /* legacy_version of the ClientHello/ServerHello */
    fp_slice sni;             /* first host_name of server_name, len 0 if none */
    int hello_complete;       /* whole ClientHello inside this segment */
    int malformed;            /* added: an inner length exceeded its (complete) container */
    int capped;               /* the ClientHello went on past the records collected */
} fp_tls_info;
/* Returns 0 when the TCP payload starts with a plausible TLS record. */
int fp_tls_parse(const uint8_t *data, const fp_dissection *d, fp_tls_info *t);
/* The same for a TLS payload at data[off..end). */
int fp_tls_parse_span(const uint8_t *data, uint32_t off, uint32_t end, fp_tls_info *t);

/* ---- Fingerprints ---------------------------------------------------------------- */
/* Computed from the spans the parser recorded (never from the capped arrays). For a hello
 * whose parse stopped (FP_TLS_ERR_TRUNCATED/LENGTH) they cover the fields framed before
 * the stop: check h->complete before trusting them. JA4 for QUIC is 'q' by the transport
 * the caller knows (has_quic_transport_params says the same from the hello itself). */

#define FP_JA4_SIZE 37 /* "t13d1516h2_8daaf6152771_e5627efa2ab1" + NUL */

/* JA3 for a ClientHello ("SSLVersion,Ciphers,Extensions,EllipticCurves,PointFormats"),
 * JA3S for a ServerHello ("SSLVersion,Cipher,Extensions"): decimal, '-' joined, GREASE
 * left out. Writes the string NUL-terminated into str (cut at cap-1; str may be NULL when
 * cap is 0) and the MD5 of the whole string as 32 lowercase hex digits + NUL. Returns the
 * full string length, or an FP_TLS_ERR_* (negative). */
int64_t fp_tls_ja3(const fp_tls_hello *h, char *str, size_t cap, char md5_hex[33]);

/* JA4 of a ClientHello. `proto`: 't' TCP, 'q' QUIC, 'd' DTLS. Writes ja4 (FP_JA4_SIZE
 * bytes) and, when raw is not NULL, JA4_r (sorted, unhashed) cut at raw_cap-1. Returns the
 * full JA4_r length, or an FP_TLS_ERR_* (negative). */
int64_t fp_tls_ja4(const fp_tls_hello *h, char proto, char ja4[FP_JA4_SIZE], char *raw,
                   size_t raw_cap);
/* The same, with the strings in memory of their exact size (free() them): the JA3/JA3S
 * string (MD5 into md5_hex), the JA4_r string (JA4 into ja4). NULL when the digest or an
 * allocation failed. */
char *fp_tls_ja3_new(const fp_tls_hello *h, char md5_hex[33]);
char *fp_tls_ja4_new(const fp_tls_hello *h, char proto, char ja4[FP_JA4_SIZE]);

#endif
