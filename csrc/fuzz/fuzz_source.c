/* libFuzzer harness for the record sources (csrc/source): open the input as
 * an in-memory capture and read every record under each error policy,
 * touching every byte of each record so ASan sees any out-of-bounds view;
 * then once more as a stream fed in small chunks (sizes from the last
 * byte), which drives the stream buffer's refills and, for inputs starting
 * with a gzip/zstd/xz/bzip2 magic, the decoders on the same data. A clean
 * capture is also read as record-aligned ranges (chunk.c) the way consumers do
 * (a range read on to the end once one proves inexact): any difference from
 * the sequential read traps.
 *
 * Build (csrc/fuzz/build/ is git-ignored; `make fuzz` does all this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *     csrc/fuzz/fuzz_source.c csrc/source/\*.c \
 *     -lpcap -lz -lzstd -llzma -lbz2 -o csrc/fuzz/build/fuzz_source
 * Seed corpus: the captures of tests/data (real, truncated and deliberately
 * broken headers), plus their .gz/.zst/.xz/.bz2
 * versions, in csrc/fuzz/build/corpus_source/, then
 *   csrc/fuzz/build/fuzz_source -max_total_time=180 -max_len=65536 csrc/fuzz/build/corpus_source
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "source/source.h"

/* A decompression bomb may expand a small input enormously: stop reading after this. */
#define MAX_DECOMPRESSED (64u << 20)

static void drain(fp_source *s)
{
    fp_error err;
    fp_record rec;
    volatile uint8_t sink = 0;
    uint64_t n = 0;
    while (fp_source_next(s, &rec, &err) == 1 && n++ < 1000000 &&
           fp_source_position(s) < MAX_DECOMPRESSED) {
        for (uint32_t i = 0; i < rec.caplen; i++)
            sink ^= rec.data[i];
        const fp_interface *ifc = fp_source_interface(s, rec.interface_id);
        if (!ifc || ifc->linktype != rec.linktype)
            __builtin_trap();   /* every record must name a real interface */
    }
    (void)fp_source_last_error(s);
    fp_source_close(s);
}

static void read_memory(const uint8_t *data, size_t size, fp_on_error policy)
{
    fp_error err;
    fp_source *s = fp_source_open_memory(data, size, policy, &err);
    if (s)
        drain(s);
}

typedef struct {
    const uint8_t *p;
    size_t left, chunk;
} chunked;

static int64_t chunked_read(void *ctx, uint8_t *buf, size_t len, fp_error *err)
{
    (void)err;
    chunked *c = ctx;
    size_t k = len < c->chunk ? len : c->chunk;
    if (k > c->left)
        k = c->left;
    memcpy(buf, c->p, k);
    c->p += k;
    c->left -= k;
    return (int64_t)k;
}

static void read_chunked(const uint8_t *data, size_t size, fp_on_error policy)
{
    chunked c = {data, size, size ? 1u + data[size - 1] % 97u : 1u};
    fp_input in = {chunked_read, NULL, &c};
    fp_error err;
    fp_source *s = fp_source_open_input(in, policy, &err);
    if (s)
        drain(s);
}

/* Hash of the records from s's position to the end of its range; -1 after an error. */
static int hash_records(fp_source *s, uint64_t *h, uint64_t *n)
{
    fp_error err;
    fp_record rec;
    int rc;
    while ((rc = fp_source_next(s, &rec, &err)) == 1) {
        uint64_t fields[4] = {rec.offset, (uint64_t)rec.ts_ns, rec.caplen, rec.interface_id};
        for (size_t i = 0; i < sizeof fields; i++)
            *h = (*h ^ ((const uint8_t *)fields)[i]) * 1099511628211u;
        for (uint32_t i = 0; i < rec.caplen; i++)
            *h = (*h ^ rec.data[i]) * 1099511628211u;
        ++*n;
    }
    return rc < 0 || fp_source_last_error(s)->kind != FP_OK ? -1 : 0;
}

static void read_ranges(const uint8_t *data, size_t size)
{
    fp_error err;
    fp_source *s = fp_source_open_memory(data, size, FP_ON_ERROR_RAISE, &err);
    if (!s)
        return;
    uint64_t want = 14695981039346656037u, want_n = 0;
    uint64_t bounds[4];
    unsigned m = fp_source_split(s, 3, bounds);
    int clean = hash_records(s, &want, &want_n) == 0;
    fp_source_close(s);
    if (!clean)
        return;
    uint64_t got = 14695981039346656037u, got_n = 0;
    for (unsigned i = 0; i < m; i++) {
        s = fp_source_open_memory(data, size, FP_ON_ERROR_RAISE, &err);
        if (!s || fp_source_set_range(s, bounds[i], bounds[i + 1], FP_KEEP_INDEX) < 0 ||
            hash_records(s, &got, &got_n) < 0)
            __builtin_trap();   /* a range of a clean capture opens, starts and reads cleanly */
        int inexact = i + 1 < m && !fp_source_range_exact(s);
        if (inexact && (fp_source_set_range(s, fp_source_position(s), size, FP_KEEP_INDEX) < 0 ||
                        hash_records(s, &got, &got_n) < 0))
            __builtin_trap();
        fp_source_close(s);
        if (inexact)
            break;
    }
    if (got != want || got_n != want_n)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_memory(data, size, FP_ON_ERROR_RAISE);
    read_memory(data, size, FP_ON_ERROR_STOP);
    read_memory(data, size, FP_ON_ERROR_SKIP);
    read_chunked(data, size, FP_ON_ERROR_RAISE);
    read_chunked(data, size, FP_ON_ERROR_SKIP);
    read_ranges(data, size);
    return 0;
}
