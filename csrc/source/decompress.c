/* Compressed captures: gzip (RFC 1952, zlib; concatenated members), zstd
 * (RFC 8878, libzstd; concatenated and skippable frames), xz (liblzma;
 * concatenated streams and stream padding) and bzip2 (libbz2; concatenated
 * streams), recognised by magic number and decoded as a stream.
 *
 * A decoder is an fp_input over another fp_input, so the source's stream
 * buffer holds decompressed bytes and the formats never see compression.
 * Memory is bounded per decoder: a 128 KiB input buffer plus the codec's
 * window (gzip 32 KiB, bzip2 < 4 MiB, zstd <= 2^FP_ZSTD_WINDOW_LOG_MAX,
 * xz <= FP_XZ_MEMLIMIT); a stream asking for more is refused, not honoured. */
#include <bzlib.h>
#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "source_impl.h"

#define IN_CHUNK (128u << 10)
/* zstd's own default limit (128 MiB window); zstd --long=31 streams need more. */
#define FP_ZSTD_WINDOW_LOG_MAX 27
/* xz -9 needs 65 MiB; 256 MiB leaves room for custom dictionaries. */
#define FP_XZ_MEMLIMIT (256ull << 20)

typedef struct {
    fp_input inner;
    fp_compression kind;
    uint8_t *in;
    size_t in_cap, in_len, in_pos;
    int in_eof;
    int between;    /* a gzip member / bzip2 stream / zstd frame ended: another may follow */
    int done;       /* clean end of the compressed data */
    int failed;     /* sticky: every later read returns `sticky` */
    fp_error sticky;
    uint64_t in_total, out_total;   /* compressed bytes consumed, decompressed produced */
    union {
        z_stream z;
        ZSTD_DStream *zs;
        lzma_stream lz;
        bz_stream bz;
    } u;
} decoder;

const char *fp_compression_name(fp_compression c)
{
    switch (c) {
    case FP_COMPRESSION_GZIP: return "gzip";
    case FP_COMPRESSION_ZSTD: return "zstd";
    case FP_COMPRESSION_XZ: return "xz";
    case FP_COMPRESSION_BZIP2: return "bzip2";
    default: return NULL;
    }
}

fp_compression fp_compression_detect(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return FP_COMPRESSION_GZIP;
    /* a zstd frame (28 b5 2f fd) or a skippable frame (5? 2a 4d 18) */
    if (n >= 4 && ((p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) ||
                   ((p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)))
        return FP_COMPRESSION_ZSTD;
    if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
        return FP_COMPRESSION_XZ;
    if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9')
        return FP_COMPRESSION_BZIP2;
    return FP_COMPRESSION_NONE;
}

/* Record a sticky error; kind FP_ERR_IO with errno ENOMEM for allocation failures. */
static int fail(decoder *d, fp_errkind kind, const char *detail)
{
    const char *name = fp_compression_name(d->kind);
    if (kind == FP_ERR_TRUNCATED)
        fp_src_error(&d->sticky, kind, 0, 0,
                     "the %s data ends before its end marker: the compressed file was cut short "
                     "after %llu compressed bytes (%llu decompressed; offsets count decompressed "
                     "bytes); pass on_error='stop' to keep the packets before it", name,
                     (unsigned long long)d->in_total, (unsigned long long)d->out_total);
    else if (kind == FP_ERR_FORMAT)
        fp_src_error(&d->sticky, kind, 0, 0,
                     "corrupt %s data near compressed byte %llu (%s), after %llu decompressed "
                     "bytes (offsets count decompressed bytes)", name,
                     (unsigned long long)d->in_total, detail, (unsigned long long)d->out_total);
    else {
        fp_src_error(&d->sticky, kind, 0, 0, "%s decoder: %s", name, detail);
        d->sticky.sys_errno = ENOMEM;
    }
    d->failed = 1;
    return -1;
}

/* ---- codecs: init, restart after a member, one step, end ------------------- */

static int codec_init(decoder *d)
{
    switch (d->kind) {
    case FP_COMPRESSION_GZIP:
        return inflateInit2(&d->u.z, 16 + MAX_WBITS) == Z_OK ? 0 : -1;  /* gzip wrapper only */
    case FP_COMPRESSION_ZSTD:
        d->u.zs = ZSTD_createDStream();
        if (!d->u.zs)
            return -1;
        ZSTD_DCtx_setParameter(d->u.zs, ZSTD_d_windowLogMax, FP_ZSTD_WINDOW_LOG_MAX);
        return 0;
    case FP_COMPRESSION_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        d->u.lz = init;
        return lzma_stream_decoder(&d->u.lz, FP_XZ_MEMLIMIT, LZMA_CONCATENATED) == LZMA_OK ? 0 : -1;
    }
    case FP_COMPRESSION_BZIP2:
        memset(&d->u.bz, 0, sizeof d->u.bz);
        return BZ2_bzDecompressInit(&d->u.bz, 0, 0) == BZ_OK ? 0 : -1;
    default:
        return -1;
    }
}

static void codec_end(decoder *d)
{
    switch (d->kind) {
    case FP_COMPRESSION_GZIP: inflateEnd(&d->u.z); break;
    case FP_COMPRESSION_ZSTD: ZSTD_freeDStream(d->u.zs); break;
    case FP_COMPRESSION_XZ: lzma_end(&d->u.lz); break;
    case FP_COMPRESSION_BZIP2: BZ2_bzDecompressEnd(&d->u.bz); break;
    default: break;
    }
}

/* The next gzip member or bzip2 stream starts (zstd continues by itself). */
static int codec_restart(decoder *d)
{
    if (d->kind == FP_COMPRESSION_GZIP)
        return inflateReset(&d->u.z) == Z_OK ? 0 : fail(d, FP_ERR_IO, "out of memory");
    if (d->kind == FP_COMPRESSION_BZIP2) {
        BZ2_bzDecompressEnd(&d->u.bz);
        memset(&d->u.bz, 0, sizeof d->u.bz);
        if (BZ2_bzDecompressInit(&d->u.bz, 0, 0) != BZ_OK)
            return fail(d, FP_ERR_IO, "out of memory");
    }
    return 0;
}

/* zlib and libbz2 count in unsigned int: one step moves at most UINT_MAX each way. */
static unsigned uint_window(size_t n) { return n > UINT_MAX ? UINT_MAX : (unsigned)n; }

/* What one codec call came to, before the codec's own detail. */
enum { STEP_ON, STEP_END, STEP_NOMEM, STEP_BAD };

/* Run the codec once over the buffered input. 0: went on (maybe without output),
 * 1: a member/frame/stream ended, -1: error (sticky, counted after this step's output). */
static int codec_step(decoder *d, uint8_t *out, size_t len, size_t *produced)
{
    const uint8_t *src = d->in + d->in_pos;
    size_t avail = d->in_len - d->in_pos, used = 0;
    int res = STEP_BAD;
    const char *detail = "unknown compression";
    char what[96];
    switch (d->kind) {
    case FP_COMPRESSION_GZIP: {
        z_stream *z = &d->u.z;
        z->next_in = (Bytef *)(uintptr_t)src;
        z->avail_in = uint_window(avail);
        z->next_out = out;
        z->avail_out = uint_window(len);
        int zr = inflate(z, Z_NO_FLUSH);
        used = uint_window(avail) - z->avail_in;
        *produced = uint_window(len) - z->avail_out;
        res = zr == Z_STREAM_END ? STEP_END : zr == Z_MEM_ERROR ? STEP_NOMEM
              : zr == Z_OK || zr == Z_BUF_ERROR ? STEP_ON : STEP_BAD;
        detail = z->msg ? z->msg : "zlib error";
        break;
    }
    case FP_COMPRESSION_ZSTD: {
        ZSTD_inBuffer ib = {src, avail, 0};
        ZSTD_outBuffer ob = {out, len, 0};
        size_t zr = ZSTD_decompressStream(d->u.zs, &ob, &ib);
        used = ib.pos;
        *produced = ob.pos;
        /* 0: a frame is complete and flushed */
        res = !ZSTD_isError(zr) ? (zr == 0 ? STEP_END : STEP_ON)
              : ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ? STEP_NOMEM : STEP_BAD;
        detail = ZSTD_getErrorName(zr);
        break;
    }
    case FP_COMPRESSION_XZ: {
        lzma_stream *lz = &d->u.lz;
        lz->next_in = src;
        lz->avail_in = avail;
        lz->next_out = out;
        lz->avail_out = len;
        lzma_ret lr = lzma_code(lz, d->in_eof && avail == 0 ? LZMA_FINISH : LZMA_RUN);
        used = avail - lz->avail_in;
        *produced = len - lz->avail_out;
        if (lr == LZMA_STREAM_END)
            d->done = 1; /* LZMA_CONCATENATED: the end of every stream and its padding */
        res = lr == LZMA_MEM_ERROR ? STEP_NOMEM
              : lr == LZMA_OK || lr == LZMA_BUF_ERROR || lr == LZMA_STREAM_END ? STEP_ON : STEP_BAD;
        detail = lr == LZMA_FORMAT_ERROR    ? "not xz data"
                 : lr == LZMA_OPTIONS_ERROR ? "unsupported options"
                                            : "data error";
        if (lr == LZMA_MEMLIMIT_ERROR) {
            snprintf(what, sizeof what, "the stream needs %llu MiB to decode, more than the "
                     "%llu MiB allowed", (unsigned long long)(lzma_memusage(lz) >> 20),
                     FP_XZ_MEMLIMIT >> 20);
            detail = what;
        }
        break;
    }
    case FP_COMPRESSION_BZIP2: {
        bz_stream *bz = &d->u.bz;
        bz->next_in = (char *)(uintptr_t)src;
        bz->avail_in = uint_window(avail);
        bz->next_out = (char *)out;
        bz->avail_out = uint_window(len);
        int br = BZ2_bzDecompress(bz);
        used = uint_window(avail) - bz->avail_in;
        *produced = uint_window(len) - bz->avail_out;
        res = br == BZ_STREAM_END ? STEP_END : br == BZ_MEM_ERROR ? STEP_NOMEM
              : br == BZ_OK ? STEP_ON : STEP_BAD;
        detail = br == BZ_DATA_ERROR_MAGIC ? "not bzip2 data" : "data error";
        break;
    }
    default:
        break;
    }
    d->in_pos += used;
    d->in_total += used;
    d->out_total += *produced;
    switch (res) {
    case STEP_ON: return 0;
    case STEP_END: return 1;
    case STEP_NOMEM: return fail(d, FP_ERR_IO, "out of memory");
    default: return fail(d, FP_ERR_FORMAT, detail);
    }
}

/* ---- the fp_input ---------------------------------------------------------- */

static int refill(decoder *d, fp_error *err)
{
    d->in_pos = d->in_len = 0;
    int64_t n = d->inner.read(d->inner.ctx, d->in, d->in_cap, err);
    if (n < 0) {
        d->sticky = *err;   /* the underlying input failed: so does every later read */
        d->failed = 1;
        return -1;
    }
    if (n == 0)
        d->in_eof = 1;
    d->in_len = (size_t)n;
    return 0;
}

static int64_t decoder_read(void *ctx, uint8_t *out, size_t len, fp_error *err)
{
    decoder *d = ctx;
    size_t produced = 0;
    while (produced == 0 && !d->done) {
        if (d->failed)
            break;
        if (d->in_pos == d->in_len && !d->in_eof && refill(d, err) < 0)
            break;
        if (d->between) {
            /* gzip allows zero padding after a member (gzip -d and Python accept it) */
            while (d->kind == FP_COMPRESSION_GZIP && d->in_pos < d->in_len && d->in[d->in_pos] == 0) {
                d->in_pos++;
                d->in_total++;
            }
            if (d->in_pos == d->in_len) {
                d->done = d->in_eof;
                continue;
            }
            d->between = 0;
            if (codec_restart(d) < 0)
                break;
        }
        size_t before = d->in_pos;
        int rc = codec_step(d, out, len, &produced);
        if (rc < 0)
            break;
        if (rc == 1)
            d->between = 1;
        else if (produced == 0 && d->in_pos == before && !d->done) {
            /* no progress: the codec needs input that will never come */
            if (d->in_pos == d->in_len && d->in_eof)
                fail(d, FP_ERR_TRUNCATED, NULL);
            else if (d->in_pos < d->in_len)
                fail(d, FP_ERR_FORMAT, "the decoder made no progress");
        }
    }
    if (produced > 0)
        return (int64_t)produced;  /* an error waits for the next call: these bytes come first */
    if (d->failed) {
        *err = d->sticky;
        return -1;
    }
    return 0;
}

static void decoder_close(void *ctx)
{
    decoder *d = ctx;
    codec_end(d);
    fp_input_close(&d->inner);
    free(d->in);
    free(d);
}

int fp_decoder_wrap(fp_input *in, fp_compression c, const uint8_t *prefix, size_t prefix_len,
                    fp_error *err)
{
    size_t cap = prefix_len > IN_CHUNK ? prefix_len : IN_CHUNK;
    decoder *d = calloc(1, sizeof *d);
    uint8_t *buf = malloc(cap);
    if (d)
        d->kind = c;
    if (!d || !buf || codec_init(d) < 0) {
        free(buf);
        free(d);
        fp_src_error(err, FP_ERR_IO, 0, 0, "out of memory starting the %s decoder",
                     fp_compression_name(c));
        err->sys_errno = ENOMEM;
        return -1;
    }
    if (prefix_len)
        memcpy(buf, prefix, prefix_len);
    d->inner = *in;
    d->in = buf;
    d->in_cap = cap;
    d->in_len = prefix_len;
    in->read = decoder_read;
    in->close = decoder_close;
    in->ctx = d;
    return 0;
}
