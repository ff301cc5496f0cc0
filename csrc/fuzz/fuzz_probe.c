/* libFuzzer harness for csrc/probe's matching rules: the first byte picks the two link
 * types, the second where the input splits into a probe and a captured packet; both go
 * through fp_probe_answers (parse, key, rules), in both roles. */
#include <stdint.h>
#include <stdlib.h>

#include "probe/probe.h"

static const uint32_t linktypes[] = {1, 101, 113, 276}; /* Ethernet, raw IP, SLL, SLL2 */
static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint32_t lt_a = linktypes[data[0] & 3], lt_b = linktypes[(data[0] >> 2) & 3];
    size_t split = size > 2 ? 2 + data[1] % (size - 2 + 1) : 2;
    const uint8_t *a = data + 2, *b = data + split;
    uint32_t alen = (uint32_t)(split - 2), blen = (uint32_t)(size - split);
    sink += fp_probe_answers(a, alen, lt_a, b, blen, lt_b);
    sink += fp_probe_answers(b, blen, lt_b, a, alen, lt_a);
    sink += fp_probe_answers(a, alen, lt_a, a, alen, lt_a);
    return 0;
}
