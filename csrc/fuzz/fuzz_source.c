/* libFuzzer harness for the record sources (csrc/source): open the input as
 * an in-memory capture and read every record under each error policy,
 * touching every byte of each record so ASan sees any out-of-bounds view.
 *
 * Build (csrc/fuzz/build/ is git-ignored):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc \
 *     csrc/fuzz/fuzz_source.c csrc/source/source.c csrc/source/pcap.c \
 *     csrc/source/pcapng.c -o csrc/fuzz/build/fuzz_source
 * Seed corpus: copy every capture of /work/shared/corpus (the .pcap, .pcapng
 * and .cap files: real, truncated and deliberately broken headers) into
 * csrc/fuzz/build/corpus/, then
 *   csrc/fuzz/build/fuzz_source -max_total_time=180 -max_len=65536 csrc/fuzz/build/corpus
 */
#include <stddef.h>
#include <stdint.h>

#include "source/source.h"

static void read_all(const uint8_t *data, size_t size, fp_on_error policy)
{
    fp_error err;
    fp_source *s = fp_source_open_memory(data, size, policy, &err);
    if (!s)
        return;
    fp_record rec;
    volatile uint8_t sink = 0;
    uint64_t n = 0;
    while (fp_source_next(s, &rec, &err) == 1 && n++ < 1000000) {
        for (uint32_t i = 0; i < rec.caplen; i++)
            sink ^= rec.data[i];
        const fp_interface *ifc = fp_source_interface(s, rec.interface_id);
        if (!ifc || ifc->linktype != rec.linktype)
            __builtin_trap();   /* every record must name a real interface */
    }
    (void)fp_source_last_error(s);
    fp_source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_all(data, size, FP_ON_ERROR_RAISE);
    read_all(data, size, FP_ON_ERROR_STOP);
    read_all(data, size, FP_ON_ERROR_SKIP);
    return 0;
}
