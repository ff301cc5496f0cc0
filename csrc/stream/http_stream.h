/* HTTP/1.x messages over the two reassembled byte streams of one TCP connection
 * (RFC 9112). Python-free. Requests are read from the client's bytes, responses from
 * the server's, and paired in order (pipelining, interim 1xx). Bodies are framed per
 * RFC 9112 section 6.3; chunked bodies are decoded into a buffer owned by the result,
 * everything else is a span into the caller's data (zero-copy).
 *
 * Capture gaps: each direction's data has its holes removed; a gap (off, len) says
 * that `len` bytes are missing just before data[off]. Gaps are never filled: a body
 * that spans one holds only the bytes present and is marked incomplete; framing that
 * crosses one is resynchronised by length arithmetic when possible (gap lengths are
 * known), otherwise by scanning for the next start line (flagged `resync`). */
#ifndef FP_HTTP_STREAM_H
#define FP_HTTP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "../dissect/http.h" /* the message-head parser, its caps and anomalies */

#define FP_HTTP_STREAM_MAX_MESSAGES (1u << 20)  /* per direction */
#define FP_HTTP_STREAM_MAX_CHUNK_LINE 4096u     /* chunk-size line with its extensions */

/* Anomaly bits, on a message (what was wrong with it) or a direction (why it stopped): the
 * head parser's first (same bits; too_many_headers stops the direction after the message,
 * bad_start_line and head_too_large stop it before), then framing's. */
#define FP_HTTP_STREAM_ANOMALIES(X)                                                           \
    FP_HTTP_HEAD_ANOMALIES(X)                                                                 \
    X(BAD_CONTENT_LENGTH, "bad_content_length")                                              \
    X(CONFLICTING_CONTENT_LENGTH, "conflicting_content_length")                              \
    X(TE_AND_CL, "te_and_cl")               /* both: Transfer-Encoding wins (smuggling sign) */ \
    X(BAD_TRANSFER_ENCODING, "bad_transfer_encoding") /* chunked missing or not last */      \
    X(BAD_CHUNK, "bad_chunk")               /* chunk-size line, chunk CRLF or trailer */     \
    X(CHUNK_SIZE_OVERFLOW, "chunk_size_overflow")                                            \
    X(TRUNCATED, "truncated")               /* stream closed (FIN) before the message ended */ \
    X(GAP, "gap")                           /* bytes of this message missing from capture */ \
    X(RESYNC, "resync")                     /* found by scanning after a gap: pairing may be off */ \
    X(UNSOLICITED, "unsolicited")           /* response with no outstanding request */       \
    X(TOO_MANY_MESSAGES, "too_many_messages")

#define FP_HTTP_STREAM_ANOM_ENUM(name, str) FP_HTTP_STREAM_BIT_##name,
enum { FP_HTTP_STREAM_ANOMALIES(FP_HTTP_STREAM_ANOM_ENUM) FP_HTTP_STREAM_ANOM_COUNT };
#undef FP_HTTP_STREAM_ANOM_ENUM
#define FP_HTTP_STREAM_A(name) (1u << FP_HTTP_STREAM_BIT_##name)
extern const char *const fp_http_stream_anomaly_names[FP_HTTP_STREAM_ANOM_COUNT];

/* How a message's body is delimited (RFC 9112 section 6.3). */
typedef enum {
    FP_HTTP_BODY_NONE,    /* no body: bodiless request, HEAD/1xx/204/304/CONNECT 2xx response */
    FP_HTTP_BODY_LENGTH,  /* Content-Length */
    FP_HTTP_BODY_CHUNKED, /* Transfer-Encoding ending in chunked */
    FP_HTTP_BODY_CLOSE,   /* response delimited by the end of the connection */
    FP_HTTP_BODY_COUNT
} fp_http_body_framing;
extern const char *const fp_http_body_framing_names[FP_HTTP_BODY_COUNT];

/* Why a direction's parsing ended. */
typedef enum {
    FP_HTTP_STOP_END,        /* every byte parsed */
    FP_HTTP_STOP_INCOMPLETE, /* the data ends inside a message */
    FP_HTTP_STOP_ERROR,      /* unrecoverable framing error (see the anomalies) */
    FP_HTTP_STOP_TUNNEL,     /* CONNECT 2xx or 101: the rest is not HTTP/1 */
    FP_HTTP_STOP_DESYNC,     /* after a gap, no start line was found again */
    FP_HTTP_STOP_LIMIT,      /* FP_HTTP_STREAM_MAX_MESSAGES reached */
    FP_HTTP_STOP_COUNT
} fp_http_stop;
extern const char *const fp_http_stop_names[FP_HTTP_STOP_COUNT];

typedef struct {
    uint64_t off; /* data offset the missing bytes precede (0..len) */
    uint64_t len; /* missing bytes */
} fp_http_gap;

/* One direction's reassembled bytes. */
typedef struct {
    const uint8_t *data;
    size_t len;
    const fp_http_gap *gaps; /* any order; zero lengths ignored; off must be <= len */
    size_t n_gaps;
    int closed;              /* ended by FIN with every byte present */
} fp_http_stream_input;

typedef struct {
    uint8_t is_response;  /* 0: request (client data), 1: response (server data) */
    uint8_t framing;      /* fp_http_body_framing */
    uint8_t body_complete;
    uint8_t body_decoded; /* body is in result->decoded (chunked), else in the data */
    uint8_t interim;      /* 1xx other than 101: does not answer the request */
    uint16_t status;      /* responses */
    uint32_t anomalies;
    uint32_t index;       /* ordinal among its direction's messages */
    int64_t peer;         /* response: its request; request: its final response; -1 none */
    fp_http_span method, target, version, reason; /* into the direction's data */
    size_t header_first, header_count;            /* into result->headers */
    size_t trailer_first, trailer_count;          /* chunked trailer fields */
    fp_http_span body;
    uint64_t body_missing; /* body bytes lost in capture gaps */
    size_t start, end;     /* the message's data offsets (end: after the body present) */
} fp_http_stream_msg;

typedef struct {
    uint8_t stop;       /* fp_http_stop */
    uint32_t anomalies; /* what stopped or disturbed the direction outside any message */
    size_t parsed;      /* data offset where parsing ended */
    uint64_t skipped;   /* bytes passed over while resynchronising */
} fp_http_stream_dir;

typedef struct {
    fp_http_stream_msg *msgs; /* stream order: request, its responses, next request ... */
    size_t n_msgs, cap_msgs;
    fp_http_header *headers;
    size_t n_headers, cap_headers;
    uint8_t *decoded;         /* dechunked bodies, back to back; never longer than the input */
    size_t n_decoded, cap_decoded;
    fp_http_stream_dir dir[2]; /* [0] client, [1] server */
} fp_http_stream_result;

/* Parse both directions. Returns 0, or -1 when out of memory (result left empty).
 * Always free the result with fp_http_stream_result_free. */
int fp_http_stream_parse(const fp_http_stream_input *client, const fp_http_stream_input *server,
                         fp_http_stream_result *out);
void fp_http_stream_result_free(fp_http_stream_result *r);

/* Case-insensitive lookup among m's headers: result->headers index, or -1. */
long fp_http_stream_find_header(const fp_http_stream_result *r, const fp_http_stream_msg *m,
                                const uint8_t *data, const char *name);

#endif
