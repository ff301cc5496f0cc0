/* Record sources: pcap and pcapng files (mmap'd) and byte streams (pipes,
 * stdin, any fp_input), detected by magic number; gzip, zstd, xz and bzip2
 * compressed streams are decompressed on the fly. Python-free.
 *
 * A source yields records; a record's `data` stays valid until the next call
 * to fp_source_next() or fp_source_close(). */
#ifndef FP_SOURCE_H
#define FP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { FP_FORMAT_PCAP = 1, FP_FORMAT_PCAPNG = 2, FP_FORMAT_LIVE = 3 } fp_format;

/* fp_source_next() of a live source when its read timeout passed without a packet. */
#define FP_SOURCE_IDLE 2

typedef enum {
    FP_OK = 0,
    FP_ERR_IO = 1,        /* open/read/mmap failed (errno in err.sys_errno) */
    FP_ERR_FORMAT = 2,    /* bad magic, bad version, impossible length, corrupt block */
    FP_ERR_TRUNCATED = 3, /* file ends inside a header or record */
    FP_ERR_NO_DEVICE = 4, /* live: no such interface */
    FP_ERR_PERMISSION = 5,/* live: capturing needs privileges */
    FP_ERR_FILTER = 6,    /* live: the BPF expression did not compile */
} fp_errkind;

typedef enum { FP_ON_ERROR_RAISE = 0, FP_ON_ERROR_STOP = 1, FP_ON_ERROR_SKIP = 2 } fp_on_error;

typedef struct {
    fp_errkind kind;
    int sys_errno;
    uint64_t offset;        /* file offset of the bad header/record/block */
    uint64_t packet_index;  /* 0-based index the bad record would have had */
    char message[256];      /* what went wrong and what to do */
} fp_error;

typedef struct {
    int64_t ts_ns;          /* nanoseconds since the Unix epoch (if_tsoffset applied) */
    uint32_t caplen;
    uint32_t wirelen;
    uint32_t linktype;
    uint32_t interface_id;  /* pcapng interface (global across sections), 0 for pcap */
    int has_ts;             /* 0 for pcapng Simple Packet Blocks */
    uint64_t offset;        /* file offset of the record header / block */
    const uint8_t *data;
    /* pcapng EPB/PB options, raw, in the section's byte order: they start at
     * data + caplen rounded up to 4 and are as stable as data. 0 when none. */
    uint32_t opts_len;
    int opts_big_endian;
    /* Bytes of frame check sequence ending each frame on the wire (pcapng if_fcslen, the FCS
     * bits of a pcap header's link type), captured or not; 0 when none or not said. */
    uint8_t fcs_len;
} fp_record;

typedef struct {
    uint32_t linktype;
    uint32_t snaplen;
    uint64_t tsresol_num;   /* units per second: 10^6, 10^9, or 2^n / 10^n from if_tsresol */
    int64_t tsoffset_s;
    uint8_t fcs_len;        /* if_fcslen (pcap: the header's FCS bits), bytes */
    char name[64];
} fp_interface;

typedef struct fp_source fp_source;

/* A byte input for stream sources. read() stores up to len bytes and returns how
 * many, 0 only at the end of input, or -1 with *err filled (kind and message; the
 * source sets the offsets). close() releases ctx; it may be NULL. */
typedef struct {
    int64_t (*read)(void *ctx, uint8_t *buf, size_t len, fp_error *err);
    void (*close)(void *ctx);
    void *ctx;
} fp_input;

/* Compression formats recognised by magic number (FP_COMPRESSION_NONE: plain capture). */
typedef enum {
    FP_COMPRESSION_NONE = 0,
    FP_COMPRESSION_GZIP = 1,
    FP_COMPRESSION_ZSTD = 2,
    FP_COMPRESSION_XZ = 3,
    FP_COMPRESSION_BZIP2 = 4,
} fp_compression;

/* Open a file (mmap) or, when path is "-", standard input (stream). */
fp_source *fp_source_open_path(const char *path, fp_on_error policy, fp_error *err);
/* Open an already open file descriptor as a stream (pipes, sockets). Takes ownership. */
fp_source *fp_source_open_fd(int fd, fp_on_error policy, fp_error *err);
/* Open any byte input as a stream. Takes ownership: in.close runs on failure too. */
fp_source *fp_source_open_input(fp_input in, fp_on_error policy, fp_error *err);
/* The source reads the file behind fd through its input (e.g. a Python file object):
 * a regular file is then registered so that our writers replace it instead of
 * truncating its unread bytes (see source/file_registry.h). */
void fp_source_note_file(fp_source *s, int fd);
/* Open an in-memory buffer (not copied; must outlive the source). */
fp_source *fp_source_open_memory(const uint8_t *buf, size_t len, fp_on_error policy,
                                 fp_error *err);

/* 1: record produced; 0: clean end of input; -1: error in *err; live sources also
 * FP_SOURCE_IDLE (no packet within the read timeout).
 * Policy: RAISE returns -1 at the first bad record (everything before it was
 * delivered); STOP returns 0 instead (the error is kept, see fp_source_last_error);
 * SKIP resynchronises past the bad record when it can and counts it. */
int fp_source_next(fp_source *s, fp_record *rec, fp_error *err);
/* fp_source_next's path for the records of pcap mappings and memory buffers that are
 * ordinary (whole, within bounds): 1 with the record delivered exactly as fp_source_next
 * delivers it; 0 (nothing consumed) for anything else, for which fp_source_next decides. */
int fp_source_next_quick(fp_source *s, fp_record *rec);

fp_format fp_source_format(const fp_source *s);
/* Link type of the first interface (pcap: the file's). 0xFFFFFFFF when unknown yet. */
uint32_t fp_source_linktype(const fp_source *s);
uint32_t fp_source_snaplen(const fp_source *s);
int fp_source_nanosecond(const fp_source *s);   /* pcap: nanosecond magic */
int fp_source_byte_swapped(const fp_source *s);
uint32_t fp_source_interface_count(const fp_source *s);
const fp_interface *fp_source_interface(const fp_source *s, uint32_t id);
uint64_t fp_source_skipped(const fp_source *s);   /* bad records skipped (SKIP policy) */
uint64_t fp_source_position(const fp_source *s);  /* bytes consumed (decompressed) */
fp_compression fp_source_compression(const fp_source *s);
const char *fp_compression_name(fp_compression c);   /* "gzip", ...; NULL for NONE */
uint64_t fp_source_size(const fp_source *s);      /* file size, 0 for streams */
/* The error that ended iteration under STOP (kind FP_OK if none). */
const fp_error *fp_source_last_error(const fp_source *s);
/* For pcap files: the 24-byte file header as read (for byte-identical rewrite). */
const uint8_t *fp_source_pcap_header(const fp_source *s);
/* For pcapng files: the raw blocks before the first packet block (section
 * header, interfaces, ...) and how many interfaces they declare; NULL when
 * they were too large to keep or did not parse. For exact rewrites. */
const uint8_t *fp_source_pcapng_prefix(const fp_source *s, size_t *len, uint32_t *n_interfaces);
/* 1 when record data stays valid until fp_source_close() (mmap'd files and memory
 * buffers), 0 for streams (data valid only until the next call). Lets PacketList
 * reference packets in place instead of copying them. */
int fp_source_stable_data(const fp_source *s);
/* Nonzero when another process truncated the mapped file under us: record data of
 * the lost part reads as zeros (see mapguard.h), iteration ended with FP_ERR_TRUNCATED. */
int fp_source_lost(const fp_source *s);
/* Hand the pages of [from, to) back to the kernel when they lie in our file mapping (a
 * no-op for memory buffers and streams): record data stays valid (the file is re-read on
 * the next access), resident memory drops. For passes over many kept records. */
void fp_source_release_pages(const fp_source *s, const uint8_t *from, const uint8_t *to);
/* Keep the pages of [from, to) (file offsets) of our file mapping mapped: this source's own
 * releases and fp_source_release_pages skip them, so a second pass over kept records (a
 * PacketList's export after its index pass) finds them mapped instead of mapping the file
 * again. One range per source; a new one replaces it. Returns the bytes kept (page-rounded),
 * 0 when `s` is not a file mapping of its own (nothing kept). fp_source_unkeep gives the
 * range [from, to) back when it is still the one kept. */
uint64_t fp_source_keep(fp_source *s, uint64_t from, uint64_t to);
void fp_source_unkeep(fp_source *s, uint64_t from, uint64_t to);
/* The file mapping a source reads (its length in *len), NULL for streams and memory buffers:
 * memory sources over it (fp_source_open_memory) walk parts of it again from any record. */
const uint8_t *fp_source_mapping(const fp_source *s, size_t *len);
/* Map the pages of [from, to) of our file mapping in one call (MADV_POPULATE_READ, Linux 5.14;
 * a no-op elsewhere, for memory buffers and streams): a pass over kept records about to read
 * them takes no page fault per 16 pages. Past the end of a truncated file the call fails
 * quietly (the read then meets the guard). */
void fp_source_map_pages(const fp_source *s, const uint8_t *from, const uint8_t *to);
/* Read `s` through the mapping of `with` (the same file, mapped by this process; `s` has
 * delivered no record yet) and drop its own: each page then faults in once for every source
 * sharing it, not once per source (the workers of a parallel engine each read the whole
 * file). A page is given back once every sharing source is past it, or once it lies
 * FP_SHARE_WINDOW behind the one furthest on (a source that far behind faults it in again
 * and gives it back itself): the sources of one file hold at most about FP_SHARE_WINDOW +
 * 20 MiB of it. 1 when shared (or already), 0 when either is not a mapped file, they differ
 * or `s` was read; threads: not while either is read. */
#define FP_SHARE_WINDOW (64u << 20)
int fp_source_share_mapping(fp_source *s, fp_source *with);
/* Record-aligned byte ranges (chunk.c), for mapped files and memory buffers read
 * under on_error raise or stop. fp_source_sync: the first offset at or after `from`
 * (and the first record) where FP_SYNC_CHAIN records in a row have plausible headers,
 * or the input's size when none does within FP_RESYNC_WINDOW bytes; a guess that
 * fp_source_range_exact() later proves. fp_source_split: up to n ranges over the
 * records of a source not yet read, as in `bounds` (room for n+1):
 * returns m, the ranges being [bounds[i], bounds[i+1]) for i < m, bounds[0] the first
 * record and bounds[m] the size; 1 for streams and under on_error skip. */
uint64_t fp_source_sync(const fp_source *s, uint64_t from);
unsigned fp_source_split(const fp_source *s, unsigned n, uint64_t *bounds);
/* Deliver only the records that start in [start, end): start >= the position (a fresh
 * source, or one whose range ended, to read on from there). first_index: the index of
 * the record at start (records before it in the file; error messages count from it),
 * or FP_KEEP_INDEX. -1 when not allowed: a stream, start past end or behind the
 * position, after an error or a skip. */
#define FP_KEEP_INDEX UINT64_MAX
int fp_source_set_range(fp_source *s, uint64_t start, uint64_t end, uint64_t first_index);
/* 1 when the range was read to its end without error, its last record ended exactly
 * at `end` and it declared no section or interface: the next range, read by a fresh
 * source, then delivers exactly what this one would have next. */
int fp_source_range_exact(const fp_source *s);
/* The same except that the last record may end past `end` (the range was read to its
 * end without error, and without section or interface block unless it reaches the end of
 * the input): when the range started on a true record, its records are the sequential
 * read's and the next one starts at the position. */
int fp_source_range_clean(const fp_source *s);
/* One walk on two threads (fp.read of a mapped pcap): fp_source_fork cuts the records not yet
 * read in two (fp_source_split), limits s to the first part and returns a source over the same
 * bytes reading the second, or NULL (no cut: a stream, pcapng, a source with a range or a
 * shared mapping, or too little left). Its records point into s's mapping; it neither checks the map
 * guard nor releases pages (the caller does both). Once s has read its part,
 * fp_source_rejoin(s, end, records) proves the cut (fp_source_range_exact) and has s read on
 * from `end`, the fork's `records` counted as read: 1. When s ran past the cut, s reads on
 * from where it stopped and the fork's records are to be dropped: 0. -1 after an error (s
 * stays finished with it, as the sequential read would). */
fp_source *fp_source_fork(fp_source *s, fp_error *err);
int fp_source_rejoin(fp_source *s, uint64_t end, uint64_t records);
void fp_source_close(fp_source *s);

#endif
