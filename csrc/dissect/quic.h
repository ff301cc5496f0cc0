/* QUIC Initial packets: header parsing, Initial key derivation, header protection
 * removal, AEAD decryption and the frames an Initial may carry, for passive observers.
 *   Packet formats: RFC 9000 section 17 (long header 17.2, Initial 17.2.2, Retry 17.2.5,
 *   Version Negotiation 17.2.1, short header 17.3), varints section 16, packet number
 *   decoding Appendix A.3, frames section 19 (PADDING, PING, ACK, CRYPTO,
 *   CONNECTION_CLOSE), coalesced packets section 12.2.
 *   Protection: RFC 9001 section 5 (5.2 Initial secrets, 5.3 AEAD, 5.4 header protection).
 *   QUIC version 2: RFC 9369 section 3 (version 0x6b3343cf, packet types, salt, labels).
 * Python-free; crypto by OpenSSL libcrypto (HMAC-SHA256, AES-128-ECB, AES-128-GCM).
 *
 * Typical use in a flow engine, per UDP flow that looks like QUIC:
 *     fp_quic_keys_cache cache;        fp_quic_cache_init(&cache);      (per flow)
 *     fp_quic_crypto_stream cs[2];     fp_quic_crypto_init(&cs[0], buf0, 65536); ...
 *     per datagram: fp_quic_feed(&cache, cs, payload, len, from_client, scratch, len, &info)
 *     when fp_quic_crypto_message_len(&cs[0], &type) > 0 and type == 1, the ClientHello
 *     (handshake header + body) is cs[0].buf[0 .. that length).
 * Nothing here allocates except OpenSSL's cipher contexts, made per call and freed before
 * returning. No global state: every function is thread-safe on distinct objects. */
#ifndef FP_QUIC_H
#define FP_QUIC_H

#include <stddef.h>
#include <stdint.h>

#define FP_QUIC_VERSION_1 0x00000001u
#define FP_QUIC_VERSION_2 0x6b3343cfu /* RFC 9369 section 3.1 */
#define FP_QUIC_MAX_CID 20            /* RFC 9000 section 17.2: v1 connection IDs <= 20 bytes */
#define FP_QUIC_MAX_PACKETS 8         /* packets described per datagram in fp_quic_info */
#define FP_QUIC_MAX_DECRYPTS 16       /* Initial decryption attempts per datagram (hostile bound) */
#define FP_QUIC_FEED_FRAGS 128        /* CRYPTO fragments fp_quic_feed handles per datagram */
#define FP_QUIC_CRYPTO_CAP 65536      /* documented default size of a CRYPTO stream buffer */
#define FP_QUIC_CRYPTO_MAX_RANGES 32  /* disjoint byte ranges a CRYPTO stream tracks */

/* ---- Keys ------------------------------------------------------------------ */
typedef struct {
    uint8_t secret[32]; /* client_initial_secret / server_initial_secret */
    uint8_t key[16];    /* AEAD_AES_128_GCM key */
    uint8_t iv[12];
    uint8_t hp[16];     /* AES-128-ECB header protection key */
} fp_quic_dir_keys;

typedef struct {
    uint32_t version;           /* FP_QUIC_VERSION_1 or FP_QUIC_VERSION_2 */
    uint8_t initial_secret[32]; /* HKDF-Extract(salt(version), client DCID) */
    fp_quic_dir_keys client;    /* "client in": protects the client's Initials */
    fp_quic_dir_keys server;    /* "server in": protects the server's Initials */
} fp_quic_initial_keys;

/* Wireshark's QUIC heuristic on a UDP payload (any port): 1 for a long header of a known
 * version with plausible connection ID lengths (what the quic.* fields and io,phs take). */
int fp_quic_heuristic(const uint8_t *p, uint32_t len);

/* 1 for versions whose Initial protection we know (v1, v2), else 0. */
int fp_quic_version_supported(uint32_t version);

/* Derive both directions' Initial keys from the client's first Destination Connection ID
 * (RFC 9001 section 5.2; RFC 9369 section 3.3 for v2). dcid_len may be 0..255 (any length
 * is hashed; the wire limit is checked by the parser). Returns 0, or -1 for an unsupported
 * version or an OpenSSL failure. Costs ~10 HMAC-SHA256: callers derive once per DCID. */
int fp_quic_derive_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len,
                                fp_quic_initial_keys *out);

/* Per-connection key cache (plain data: memset/copy/free freely). It remembers the
 * client's original DCID, the keys derived from it for each version seen (a v1 client may
 * be answered in v2 under compatible version negotiation), a Retry's SCID (the client's
 * next Initial uses it as DCID and the keys change, RFC 9001 section 5.2) and the largest
 * packet number decrypted per direction (to expand truncated packet numbers). */
typedef struct {
    uint8_t have_dcid;
    uint8_t dcid_len;
    uint8_t dcid[FP_QUIC_MAX_CID];
    uint8_t have_retry;
    uint8_t retry_scid_len;
    uint8_t retry_scid[FP_QUIC_MAX_CID];
    uint8_t slot_valid[2];            /* [0] v1, [1] v2 */
    fp_quic_initial_keys slot[2];
    int64_t largest_pn[2];            /* [0] client, [1] server; -1 = none yet */
    uint32_t rekeys;                  /* DCID changes after the first (Retry, new connection) */
} fp_quic_keys_cache;

void fp_quic_cache_init(fp_quic_keys_cache *c);
/* Key the cache on a known client DCID (e.g. taken from the client's first Initial when the
 * caller decrypts server datagrams first). Drops derived keys. -1 when len > 20. */
int fp_quic_cache_set_dcid(fp_quic_keys_cache *c, const uint8_t *dcid, size_t len);
/* The cache's keys for `version`, deriving them on first use; NULL when the cache has no
 * DCID yet, the version is unsupported or derivation failed. */
const fp_quic_initial_keys *fp_quic_cache_keys(fp_quic_keys_cache *c, uint32_t version);

/* ---- Datagram decryption ----------------------------------------------------- */
typedef enum {
    FP_QUIC_PKT_INITIAL = 0,
    FP_QUIC_PKT_0RTT,
    FP_QUIC_PKT_HANDSHAKE,
    FP_QUIC_PKT_RETRY,
    FP_QUIC_PKT_VERSION_NEG,  /* version 0: the rest of the datagram */
    FP_QUIC_PKT_SHORT,        /* 1-RTT: the rest of the datagram */
    FP_QUIC_PKT_UNKNOWN_VERSION, /* long header of a version we cannot parse past the CIDs */
    FP_QUIC_PKT_COUNT
} fp_quic_packet_type;
extern const char *const fp_quic_packet_type_names[FP_QUIC_PKT_COUNT];

typedef enum {
    FP_QUIC_OK = 0,            /* Initial decrypted and authenticated */
    FP_QUIC_SKIPPED,           /* not an Initial: recognised and stepped over */
    FP_QUIC_TRUNCATED,         /* header or Length runs past the datagram */
    FP_QUIC_BAD_HEADER,        /* connection ID longer than 20 bytes */
    FP_QUIC_TOO_SHORT,         /* no room for the 16-byte header-protection sample + tag */
    FP_QUIC_NO_KEYS,           /* server Initial and the cache has no client DCID */
    FP_QUIC_AUTH_FAILED,       /* AEAD tag did not verify (wrong keys or corrupted) */
    FP_QUIC_NO_SCRATCH,        /* scratch buffer too small */
    FP_QUIC_LIMIT,             /* FP_QUIC_MAX_DECRYPTS attempts already made */
    FP_QUIC_CRYPTO_ERROR,      /* OpenSSL failed (out of memory) */
    FP_QUIC_STATUS_COUNT
} fp_quic_status;
extern const char *const fp_quic_status_names[FP_QUIC_STATUS_COUNT];

/* Frame types seen in a decrypted payload (bits of fp_quic_packet.frames). */
enum {
    FP_QUIC_FRAME_PADDING = 1u << 0,
    FP_QUIC_FRAME_PING = 1u << 1,
    FP_QUIC_FRAME_ACK = 1u << 2,              /* 0x02 or 0x03 (with ECN counts) */
    FP_QUIC_FRAME_CRYPTO = 1u << 3,
    FP_QUIC_FRAME_CLOSE = 1u << 4,            /* CONNECTION_CLOSE 0x1c or 0x1d */
    FP_QUIC_FRAME_UNKNOWN = 1u << 5,          /* a type not allowed in Initials: parsing stopped */
    FP_QUIC_FRAME_MALFORMED = 1u << 6,        /* a frame ran past the payload or broke a limit
                                                 (CRYPTO end >= 2^62): parsing stopped */
    FP_QUIC_FRAME_BITS = 7
};
extern const char *const fp_quic_frame_names[FP_QUIC_FRAME_BITS];

/* Datagram-level flags (fp_quic_info.flags): what was seen or wrong. */
enum {
    FP_QUIC_F_EMPTY = 1u << 0,            /* zero-length datagram */
    FP_QUIC_F_TRUNCATED = 1u << 1,        /* a packet ran past the datagram */
    FP_QUIC_F_CID_TOO_LONG = 1u << 2,     /* DCID/SCID length > 20 in a v1/v2 long header */
    FP_QUIC_F_AUTH_FAILED = 1u << 3,
    FP_QUIC_F_NO_KEYS = 1u << 4,
    FP_QUIC_F_UNKNOWN_FRAME = 1u << 5,
    FP_QUIC_F_FRAME_MALFORMED = 1u << 6,
    FP_QUIC_F_FRAGS_FULL = 1u << 7,       /* more CRYPTO frames than max_frags (counted) */
    FP_QUIC_F_MANY_PACKETS = 1u << 8,     /* more than FP_QUIC_MAX_PACKETS (rest not described) */
    FP_QUIC_F_DECRYPT_LIMIT = 1u << 9,
    FP_QUIC_F_DCID_MISMATCH = 1u << 10,   /* coalesced packets with different DCIDs */
    FP_QUIC_F_RESERVED_BITS = 1u << 11,   /* reserved header bits non-zero after unprotection */
    FP_QUIC_F_REKEYED = 1u << 12,         /* the cache moved to a new client DCID */
    FP_QUIC_F_RETRY = 1u << 13,
    FP_QUIC_F_VERSION_NEG = 1u << 14,
    FP_QUIC_F_SHORT_HEADER = 1u << 15,
    FP_QUIC_F_UNSUPPORTED_VERSION = 1u << 16,
    FP_QUIC_F_TRAILING = 1u << 17,        /* bytes after the last packet (zeros or garbage) */
    FP_QUIC_F_FIXED_BIT_CLEAR = 1u << 18, /* long header with the QUIC bit 0 (RFC 9287 grease) */
    FP_QUIC_F_TOO_SHORT = 1u << 19,
    FP_QUIC_F_CRYPTO_OVER_WINDOW = 1u << 20, /* CRYPTO bytes beyond a stream's window were
                                                dropped (set by its reader, not the datagram) */
    FP_QUIC_F_COUNT_BITS = 21
};
extern const char *const fp_quic_flag_names[FP_QUIC_F_COUNT_BITS];

typedef struct {
    uint64_t offset;      /* CRYPTO stream offset */
    uint32_t length;
    const uint8_t *data;  /* into the caller's scratch buffer */
    uint8_t packet;       /* index of the packet in the datagram */
} fp_quic_crypto_frag;

typedef struct {
    uint8_t type;         /* fp_quic_packet_type */
    uint8_t status;       /* fp_quic_status */
    uint8_t pn_len;       /* 1..4 once header protection is removed, else 0 */
    uint8_t dcid_len, scid_len; /* scid_len 0 for short headers */
    uint8_t dcid[FP_QUIC_MAX_CID], scid[FP_QUIC_MAX_CID]; /* short header: dcid not known */
    uint32_t version;     /* 0 for short headers */
    uint32_t offset;      /* first byte within the datagram */
    uint32_t size;        /* bytes of the datagram the packet occupies */
    uint32_t token_off, token_len; /* Initial token, within the datagram */
    uint32_t header_len;  /* unprotected header incl. packet number (the AEAD's AAD) */
    uint64_t pn;          /* full packet number (RFC 9000 A.3) when decrypted */
    uint32_t frames;      /* FP_QUIC_FRAME_* bits */
    const uint8_t *header;  /* unprotected header copy in scratch (header_len bytes), or NULL */
    const uint8_t *payload; /* decrypted frames in scratch, or NULL */
    uint32_t payload_len;
    uint64_t close_error;      /* CONNECTION_CLOSE error code (frames & FP_QUIC_FRAME_CLOSE) */
    uint64_t close_frame_type; /* the frame type that caused it (0x1c only) */
} fp_quic_packet;

typedef struct {
    uint32_t flags;          /* FP_QUIC_F_* */
    int packet_count;        /* packets found (those past FP_QUIC_MAX_PACKETS are not described) */
    int initial_count;
    int decrypted_count;
    int frag_count;          /* CRYPTO frames found, written or not */
    int frags_dropped;       /* found but no room in the caller's array */
    uint32_t trailing;       /* bytes after the last packet that start no packet */
    fp_quic_packet packets[FP_QUIC_MAX_PACKETS];
} fp_quic_info;

/* Walk the QUIC packets of one UDP datagram and decrypt its Initials.
 *   from_client: 1 when the datagram was sent by the connection's client.
 *   cache: per-connection keys; seeded from the first client Initial's DCID when empty.
 *     A client Initial whose DCID is a previous Retry's SCID rekeys the cache; one whose
 *     DCID differs and fails to authenticate is retried once with keys from its own DCID
 *     (a new connection on the same ports), and on success the cache is rekeyed.
 *   scratch: receives each Initial's unprotected header and plaintext; scratch_len >= len
 *     always suffices. Fragments and packet payload pointers point into it.
 *   frags/max_frags: CRYPTO frames of all decrypted Initials, in datagram order.
 *   info: filled in full (zeroed first).
 * Returns the number of fragments written (0..max_frags). Never fails on input bytes: what
 * was wrong is in info->flags and each packet's status. */
int fp_quic_decrypt_datagram(const uint8_t *udp_payload, uint32_t len, int from_client,
                             fp_quic_keys_cache *cache, uint8_t *scratch, size_t scratch_len,
                             fp_quic_crypto_frag *frags, int max_frags, fp_quic_info *info);

/* Parse the frames of a decrypted Initial payload (RFC 9000 section 19): PADDING, PING,
 * ACK (0x02/0x03, ranges and ECN counts skipped), CRYPTO, CONNECTION_CLOSE (0x1c/0x1d).
 * Stops at any other type (FP_QUIC_FRAME_UNKNOWN) or a frame running past `len`
 * (FP_QUIC_FRAME_MALFORMED). CRYPTO fragments go to frags[0..max_frags) (tagged with
 * `packet`); *found counts all of them. Returns the FP_QUIC_FRAME_* bits; close codes go
 * to *close_error / *close_frame_type when not NULL. */
uint32_t fp_quic_parse_frames(const uint8_t *payload, size_t len, uint8_t packet,
                              fp_quic_crypto_frag *frags, int max_frags, int *found,
                              uint64_t *close_error, uint64_t *close_frame_type);

/* Read a QUIC varint (RFC 9000 section 16) at p[0..len). Returns its size (1, 2, 4, 8)
 * or 0 when it does not fit. */
int fp_quic_varint(const uint8_t *p, size_t len, uint64_t *v);

/* ---- CRYPTO stream reassembly ----------------------------------------------- */
/* One direction's Initial CRYPTO stream, assembled from fragments arriving in any order
 * and any number of packets into a caller-provided buffer of `cap` bytes (bytes past cap
 * are dropped and counted; fp_quic_crypto_consume slides the window on, so a reader that
 * takes the bytes as they become contiguous follows a stream of any length). First data wins: a later copy of bytes already held is only
 * compared (differences counted in inconsistent_bytes). At most FP_QUIC_CRYPTO_MAX_RANGES
 * disjoint held ranges; a fragment that would need more is dropped (ranges_dropped). */
typedef struct {
    uint32_t start, end;
} fp_quic_range;

typedef struct {
    uint8_t *buf;            /* stream bytes [base, base + cap) */
    uint32_t cap;
    uint64_t base;           /* stream offset of buf[0]: bytes before it were consumed */
    uint32_t contiguous;     /* bytes [0, contiguous) of buf are held */
    uint32_t range_count;
    fp_quic_range ranges[FP_QUIC_CRYPTO_MAX_RANGES]; /* sorted, disjoint, not touching */
    uint64_t bytes_over_cap;
    uint64_t inconsistent_bytes;
    uint32_t ranges_dropped;
} fp_quic_crypto_stream;

void fp_quic_crypto_init(fp_quic_crypto_stream *s, uint8_t *buf, uint32_t cap);
/* Add one fragment (stream offset); returns the contiguous length afterwards. Bytes
 * before `base` were consumed already: they are ignored. */
uint32_t fp_quic_crypto_add(fp_quic_crypto_stream *s, uint64_t offset, const uint8_t *data,
                            uint32_t len);
/* When the first handshake message (type(1) + uint24 length + body, RFC 8446 section 4)
 * lies wholly in [0, contiguous): its total length (4 + body) with *type set; else 0
 * (also when it could never fit in cap). */
uint32_t fp_quic_crypto_message_len(const fp_quic_crypto_stream *s, uint8_t *type);
/* The first n (<= contiguous) bytes were read: drop them and move the window on. */
void fp_quic_crypto_consume(fp_quic_crypto_stream *s, uint32_t n);

/* Decrypt one datagram and add its CRYPTO fragments to streams[0] (client) or streams[1]
 * (server), by direction. scratch_len >= len suffices. Returns the number of fragments
 * added; info as for fp_quic_decrypt_datagram. */
int fp_quic_feed(fp_quic_keys_cache *cache, fp_quic_crypto_stream streams[2],
                 const uint8_t *udp_payload, uint32_t len, int from_client, uint8_t *scratch,
                 size_t scratch_len, fp_quic_info *info);

#endif
