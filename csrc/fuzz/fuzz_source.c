/* libFuzzer harness for the record sources (csrc/source): open the input as
 * an in-memory capture and read every record under each error policy,
 * touching every byte of each record so ASan sees any out-of-bounds view;
 * then once more as a stream fed in small chunks (sizes from the last
 * byte), which drives the stream buffer's refills and, for inputs starting
 * with a gzip/zstd/xz/bzip2 magic, the decoders on the same data.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_memory(data, size, FP_ON_ERROR_RAISE);
    read_memory(data, size, FP_ON_ERROR_STOP);
    read_memory(data, size, FP_ON_ERROR_SKIP);
    read_chunked(data, size, FP_ON_ERROR_RAISE);
    read_chunked(data, size, FP_ON_ERROR_SKIP);
    return 0;
}
