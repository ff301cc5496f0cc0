/* libFuzzer harness for csrc/filter: fuzz bytes -> a display filter expression and a packet.
 * The expression is compiled (errors must say where: column within it); one that compiles is
 * evaluated on the packet, dissected as Ethernet and as raw IP, each copied into an exact-size
 * buffer so ASan sees any overread.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icsrc \
 *         csrc/fuzz/fuzz_filter.c csrc/filter/(*.c) csrc/dissect/(*.c) -lpcre2-8 -lcrypto
 * Input: the expression up to the first NUL byte, then the packet's bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    char *expr = malloc(elen + 1);
    if (expr == NULL) return 0;
    memcpy(expr, data, elen);
    expr[elen] = '\0';
    fp_filter_error err;
    fp_filter *f = fp_filter_compile(expr, &err);
    if (f == NULL) {
        if (err.column < 0 || (size_t)err.column > elen || err.length < 0 ||
            (size_t)err.length > elen - (size_t)err.column || err.message[0] == '\0')
            abort();
        free(expr);
        return 0;
    }
    size_t plen = nul ? size - elen - 1 : 0;
    uint8_t *pkt = malloc(plen ? plen : 1);
    if (pkt != NULL) {
        memcpy(pkt, nul ? nul + 1 : data, plen);
        fp_dissection d;
        (void)fp_filter_match_record(f, pkt, (uint32_t)plen, (uint32_t)plen, 1, 0, 1, 1, 0, 0, &d);
        (void)fp_filter_match_record(f, pkt, (uint32_t)plen, (uint32_t)plen + 10, 101, -1, 0, 0, 1, FP_DISSECT_NO_TUNNELS, &d);
        free(pkt);
    }
    fp_filter_free(f);
    free(expr);
    return 0;
}
