/* Capture writers: pcap and pcapng, to a file or to a caller's sink.
 * Python-free. Every value that does not fit the format is refused with a
 * message (FP_WERR_VALUE) instead of being wrapped.
 *
 * Output (fp_out) is buffered. A file that this process is reading (see
 * source/file_registry.h) is never truncated: the output goes to a temporary
 * file in the same directory, renamed over the target at commit, so readers
 * keep the old inode and its mapping. `atomic` asks for that always. */
#ifndef FP_WRITER_H
#define FP_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef enum { FP_WERR_IO = 1, FP_WERR_VALUE = 2 } fp_werrkind;

typedef struct {
    fp_werrkind kind;
    int sys_errno;      /* FP_WERR_IO */
    char message[256];
} fp_werror;

/* ---- output ---------------------------------------------------------------- */

typedef struct fp_out fp_out;
/* Writes n bytes; 0, or -1 with errno set. */
typedef int (*fp_sink_fn)(void *ctx, const uint8_t *p, size_t n);

fp_out *fp_out_open_path(const char *path, int atomic, fp_werror *e);
fp_out *fp_out_open_sink(fp_sink_fn sink, void *ctx, fp_werror *e);
/* 1 when writing a temporary file that commit renames over the target. */
int fp_out_replacing(const fp_out *o);
/* Bytes the buffer takes before a write reaches the sink or the file. */
size_t fp_out_room(const fp_out *o);
uint64_t fp_out_bytes(const fp_out *o);   /* written so far, buffered included */
int fp_out_write(fp_out *o, const void *p, size_t n, fp_werror *e);
int fp_out_flush(fp_out *o, fp_werror *e);
/* Flush, close, rename a temporary file over the target (removed on failure). Frees o. */
int fp_out_commit(fp_out *o, fp_werror *e);
/* Close; a temporary file is removed, a file written in place (or a sink) gets what was
 * buffered. Frees o. */
void fp_out_abort(fp_out *o);

/* ---- capture writer ------------------------------------------------------- */

typedef enum { FP_WFORMAT_PCAP = 1, FP_WFORMAT_PCAPNG = 2 } fp_wformat;

typedef struct {
    uint32_t linktype;     /* 0..65535 */
    uint32_t snaplen;      /* pcapng: 0 = no limit */
    uint64_t tsresol;      /* timestamp units per second: 10^k or 2^k */
    int64_t tsoffset_s;    /* pcapng if_tsoffset */
    const char *name;      /* pcapng if_name; NULL or "" for none */
    uint32_t fcs_len;      /* pcapng if_fcslen: FCS bytes ending each frame; 0 none (not written) */
} fp_winterface;

typedef struct {
    int64_t ts_ns;
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint32_t interface_id;     /* pcapng */
    /* pcapng options: raw ones (from a pcapng source, in raw_big_endian order)
     * are copied as they are when the byte order matches and nothing
     * overrides them; otherwise comments and flags are carried over. */
    const uint8_t *raw_opts;
    uint32_t raw_opts_len;
    int raw_big_endian;
    const char *comment;       /* opt_comment (UTF-8) replacing the raw ones; NULL: keep */
    size_t comment_len;
    int has_flags;             /* epb_flags replacing the raw one */
    uint32_t flags;
} fp_wpacket;

typedef struct fp_writer fp_writer;

/* pcap: `header` (24 bytes, copied exactly) or linktype/snaplen/resolution/order, and
 * `fcs_len` (bytes: even, at most 30) the header's link type field declares in its F bit and
 * top 4 bits (16-bit words), as libpcap reads them. Takes ownership of `o` (also on failure). */
fp_writer *fp_writer_open_pcap(fp_out *o, const uint8_t *header, uint32_t linktype, uint32_t fcs_len,
                               uint32_t snaplen, int nanosecond, int big_endian, fp_werror *e);
/* pcapng: `prefix` (blocks starting with a section header, copied exactly; its
 * byte order wins) or a new section header. The prefix's interfaces must then
 * be described, in order, by the first fp_writer_add_interface() calls. */
fp_writer *fp_writer_open_pcapng(fp_out *o, const uint8_t *prefix, size_t prefix_len,
                                 int big_endian, fp_werror *e);
/* Check a header for fp_writer_open_pcap/pcapng before any output is opened: -1, or
 * how many interfaces it declares (0 for pcap). */
int64_t fp_writer_check_header(fp_wformat format, const uint8_t *header, size_t len, fp_werror *e);
/* Check an interface for fp_writer_add_interface (pcapng). 0 or -1. */
int fp_writer_check_interface(const fp_winterface *ifc, fp_werror *e);
fp_wformat fp_writer_format(const fp_writer *w);
/* pcapng: declare an interface (an IDB, unless the prefix has it). Returns its id or -1. */
int64_t fp_writer_add_interface(fp_writer *w, const fp_winterface *ifc, fp_werror *e);
uint32_t fp_writer_interface_count(const fp_writer *w);
const fp_winterface *fp_writer_interface(const fp_writer *w, uint32_t id);
/* Bytes fp_writer_write() would add for this packet. */
uint64_t fp_writer_record_size(const fp_writer *w, const fp_wpacket *p);
int fp_writer_write(fp_writer *w, const fp_wpacket *p, fp_werror *e);
fp_out *fp_writer_out(fp_writer *w);
/* Flush and finish the output (rename a temporary file over the target);
 * on failure the temporary file is removed. Frees w. */
int fp_writer_commit(fp_writer *w, fp_werror *e);
/* Stop: a temporary file is removed (the target stays as it was); a file
 * written in place keeps what was written. Frees w. */
void fp_writer_abort(fp_writer *w);

#endif
