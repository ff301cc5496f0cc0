/* Private to csrc/source: the fp_source state shared by the core (source.c)
 * and the format parsers (pcap.c, pcapng.c). Not part of the public API. */
#ifndef FP_SOURCE_IMPL_H
#define FP_SOURCE_IMPL_H

#include <stdatomic.h>
#include <sys/types.h>

#include "source.h"

/* Claimed lengths are checked against these limits before a byte of the record is
 * buffered, so a pipe cannot make us hold more than the format allows.
 * FP_MAX_PACKET is libpcap's MAXIMUM_SNAPLEN, the largest packet of most link
 * types (tshark's limit too). A larger snaplen raises a file's packet bound up to
 * FP_MAX_RECORD, the largest per-link-type maximum of libpcap and wiretap (D-Bus). */
#define FP_MAX_PACKET (256u << 10)
#define FP_MAX_RECORD (128u << 20)
/* pcapng packet blocks may carry this much beyond their packet (libpcap's rule);
 * other blocks (SHB, IDB, NRB, ISB, DSB, custom) may be this long in total. */
#define FP_PCAPNG_OPTIONS_MAX (128u << 10)
#define FP_PCAPNG_OTHER_BLOCK_MAX (16u << 20)
/* Bounded interface table: pcapng files with more IDBs than this are rejected. */
#define FP_MAX_INTERFACES 65536u
/* Largest pcapng prefix kept for exact rewrites (section header and interfaces). */
#define FP_MAX_PCAPNG_PREFIX (1u << 20)
/* A source of its own mapping gives back the pages it read this often. */
#define FP_ADVISE_EVERY (32u << 20)
/* SKIP policy: how far past a bad record we look for the next good one. */
#define FP_RESYNC_WINDOW (64u << 20)
/* Records in a row that must look right before fp_source_sync trusts a boundary. */
#define FP_SYNC_CHAIN 8

struct fp_source {
    fp_format format;
    fp_on_error policy;

    /* Input: a whole buffer (mmap or caller memory) or a stream buffer. */
    const uint8_t *mem;     /* non-NULL for mmap/memory sources */
    uint64_t mem_len;
    int mapped;             /* mem is our mmap: unmap and advise on it */
    int guard;              /* its mapguard slot (SIGBUS-safe against truncation) */
    const _Atomic int *guard_lost; /* that slot's mark (fp_mapguard_lost_flag), read per record */
    uint64_t page_mask;
    uint64_t advised;       /* mmap bytes already released with MADV_DONTNEED */
    uint64_t release_at;    /* reading past this position gives pages back (release_consumed);
                             * UINT64_MAX when there is nothing to give back */
    uint64_t keep_from, keep_to; /* pages of [keep_from, keep_to) are not given back (fp_source_keep) */
    /* fp_source_share_mapping: the mapping this source reads with others (NULL: its own),
     * the next source sharing it, and this source's position as the others last saw it
     * (UINT64_MAX once it read to its end). */
    struct fp_shared_map *share;
    struct fp_source *share_next;
    uint64_t share_pos;
    int fd;                 /* mmap'd file descriptor, -1 if none */
    fp_input in;            /* stream input (in.read NULL for mmap/memory sources) */
    fp_compression compression;
    uint8_t *buf;           /* stream buffer: holds input bytes [buf_base, buf_base+buf_len) */
    size_t buf_cap, buf_len;
    uint64_t buf_base;
    int eof;

    uint64_t pos;           /* absolute offset of the next unread record/block */
    uint64_t skip_to;       /* set by a parser on a bad record whose end is known, else 0 */

    /* pcap file header */
    uint8_t pcap_header[24];
    int big_endian;         /* pcap: file order; pcapng: current section's order */
    int nanosecond;
    uint32_t ts_frac_ns;    /* pcap: nanoseconds per unit of a record's fraction (1 or 1000) */
    uint32_t snaplen, linktype;

    /* pcapng: interfaces global across sections; the current section's are
     * [section_base, section_base + section_count). */
    fp_interface *ifs;
    uint32_t n_ifs, cap_ifs;
    uint32_t section_base, section_count;
    uint32_t packet_bound;  /* largest packet allowed: pcap by the snaplen, pcapng by the
                             * current section's interfaces (fp_src_packet_bound) */

    int64_t prev_ts_ns;     /* last delivered timestamp (resync plausibility) */
    int have_prev_ts;

    uint64_t packets, skipped;
    int finished;
    /* fp_source_set_range: no record starting at or past range_end (UINT64_MAX: none)
     * is delivered; layout_blocks counts SHBs and IDBs read, range_layout its value at
     * the range's start. */
    uint64_t range_end;
    uint64_t layout_blocks, range_layout;
    fp_error last_error;

    struct fp_live *live;   /* live capture (live.c), else NULL */

    /* A regular file read as a stream, in the file registry while this source reads it. */
    int registered;
    dev_t file_dev;
    ino_t file_ino;

    /* pcapng: the raw blocks before the first packet block (SHB, IDBs, ...),
     * while they fit FP_MAX_PCAPNG_PREFIX; a writer copies them for exact rewrites. */
    uint8_t *ng_prefix;
    size_t ng_prefix_len;
    uint32_t ng_prefix_ifs;  /* IDBs among them */
    int ng_prefix_state;     /* 0 collecting, 1 complete, -1 unavailable */
};

/* An empty source (no input yet). */
fp_source *fp_src_new(fp_on_error policy);

/* live.c */
int fp_live_next(fp_source *s, fp_record *rec, fp_error *err);
void fp_live_close(fp_source *s);

/* Make up to `want` bytes at absolute offset `off` (>= s->pos) readable.
 * Returns how many are available (fewer than want only at end of input) and
 * sets *p, or -1 on an I/O error (err filled). A later peek may move the
 * stream buffer: pointers from earlier peeks in the same call become invalid. */
int64_t fp_src_peek_stream(fp_source *s, uint64_t off, size_t want, const uint8_t **p, fp_error *err);
static inline int64_t fp_src_peek(fp_source *s, uint64_t off, size_t want, const uint8_t **p, fp_error *err)
{
    if (s->mem) { /* a mapping or memory buffer: inline, it is every record's path */
        uint64_t have = off < s->mem_len ? s->mem_len - off : 0;
        *p = s->mem + (off < s->mem_len ? off : s->mem_len);
        return (int64_t)(have < want ? have : want);
    }
    return fp_src_peek_stream(s, off, want, p, err);
}

/* Fill *err (printf-style message). */
void fp_src_error(fp_error *err, fp_errkind kind, uint64_t offset, uint64_t index,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Append an interface to the global table (bounded by FP_MAX_INTERFACES). */
int fp_src_add_interface(fp_source *s, const fp_interface *ifc, fp_error *err, uint64_t offset);

/* Index the next record would get (delivered plus skipped). */
static inline uint64_t fp_src_index(const fp_source *s) { return s->packets + s->skipped; }

static inline uint16_t fp_rd16(const uint8_t *p, int be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static inline uint32_t fp_rd32(const uint8_t *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The packet bound for a snaplen (0 = unlimited): FP_MAX_PACKET, or the snaplen if
 * larger, at most FP_MAX_RECORD. */
static inline uint32_t fp_src_packet_bound(uint32_t snaplen)
{
    if (snaplen <= FP_MAX_PACKET)
        return FP_MAX_PACKET;
    return snaplen < FP_MAX_RECORD ? snaplen : FP_MAX_RECORD;
}

/* Records of a mapped file or memory buffer are a chain of lengths: each header's address is
 * known only once the previous one is read, so a plain walk waits for memory at every record
 * (most of a pass's time on a file bigger than the cache). As a record [from, to) is consumed,
 * the lines FP_PREFETCH_AHEAD bytes further on are asked for (they are there when the walk
 * arrives; a prefetch never faults, past the end or on unmapped pages it is dropped). */
#define FP_PREFETCH_AHEAD 4096u
static inline void fp_src_prefetch(const fp_source *s, uint64_t from, uint64_t to)
{
    /* streams have mem_len 0 (no NULL test: with one, GCC 12 -O2 dropped the whole loop) */
    uint64_t end = to + FP_PREFETCH_AHEAD < s->mem_len ? to + FP_PREFETCH_AHEAD : s->mem_len;
    for (uint64_t a = (from + FP_PREFETCH_AHEAD) & ~(uint64_t)63; a < end; a += 64)
        __builtin_prefetch(s->mem + a);
}

/* input.c: read(2) on a descriptor (owned) and a caller's memory buffer. */
int fp_input_fd(fp_input *in, int fd, fp_error *err);
int fp_input_memory(fp_input *in, const uint8_t *p, size_t len, fp_error *err);
void fp_input_close(fp_input *in);

/* decompress.c */
fp_compression fp_compression_detect(const uint8_t *p, size_t n);
/* Replace *in by a decoder reading from it; `prefix` (bytes already read from *in)
 * is decoded first. On failure *in is left as it was. */
int fp_decoder_wrap(fp_input *in, fp_compression c, const uint8_t *prefix, size_t prefix_len,
                    fp_error *err);

/* pcap.c: header at offset 0 already known to carry a pcap magic. */
int fp_pcap_open(fp_source *s, fp_error *err);
int fp_pcap_next(fp_source *s, fp_record *rec, fp_error *err);  /* 1 record, 0 end, -1 error */
/* The record at s->pos of a mapping or memory buffer when it is an ordinary one (whole,
 * within the file's bound, before the range's end): 1 with *rec filled as fp_pcap_next
 * fills it; 0, nothing changed, for everything else (the end, and what fp_pcap_next reports). */
int fp_pcap_take(fp_source *s, fp_record *rec);
int fp_pcap_resync(fp_source *s);  /* 1: s->pos moved to a plausible record, 0: gave up */

/* pcapng.c */
int fp_pcapng_open(fp_source *s, fp_error *err);
int fp_pcapng_next(fp_source *s, fp_record *rec, fp_error *err);
int fp_pcapng_resync(fp_source *s);

#endif
