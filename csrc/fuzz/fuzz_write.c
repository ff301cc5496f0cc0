/* libFuzzer harness for csrc/write (the parts that read input: a pcapng header prefix
 * and a packet's raw options), with csrc/source as the oracle:
 * Built by `make fuzz` with csrc/write and csrc/source (-lpcap -lz -lzstd -llzma -lbz2).
 * Input: [flags][tsresol exponent][rest]. The rest is checked as a header prefix, then
 * written as one packet's raw options (copied into an exact-size buffer so ASan sees an
 * overread) into a pcapng in memory: flags bit 0 options big-endian, bit 1 writer
 * big-endian, bit 2 replace the comment, bit 3 set flags, bit 4 tsresol 2^n (else 10^n).
 * The output must be exactly fp_writer_record_size() bigger, and must read back through
 * fp_source with the packet's time (as units), lengths and bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "write/writer.h"

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} sink;

static int sink_write(void *ctx, const uint8_t *p, size_t n)
{
    sink *s = ctx;
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            abort();
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_write: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0], exponent = data[1];
    size_t n = size - 2;
    uint8_t *rest = malloc(n ? n : 1);
    memcpy(rest, data + 2, n);
    fp_werror e;
    fp_writer_check_header(FP_WFORMAT_PCAPNG, rest, n, &e);

    sink s = {0};
    fp_out *o = fp_out_open_sink(sink_write, &s, &e);
    fp_writer *w = o ? fp_writer_open_pcapng(o, NULL, 0, flags & 2, &e) : NULL;
    if (!w)
        fail("open");
    uint64_t units = flags & 16 ? (uint64_t)1 << (exponent % 31) : 1;
    for (int k = 0; !(flags & 16) && k < exponent % 10; k++)
        units *= 10;
    fp_winterface ifc = {.linktype = 1, .tsresol = units, .name = "fz"};
    if (fp_writer_add_interface(w, &ifc, &e) != 0)
        fail("add_interface");
    static const uint8_t frame[61] = {1, 2, 3};
    fp_wpacket p = {.ts_ns = 1700000000123456789LL, .data = frame, .caplen = sizeof frame,
                    .wirelen = 100, .raw_opts = rest, .raw_opts_len = (uint32_t)n,
                    .raw_big_endian = flags & 1, .comment = flags & 4 ? "note" : NULL,
                    .comment_len = 4, .has_flags = (flags & 8) != 0, .flags = 0x11};
    if (fp_out_flush(fp_writer_out(w), &e) < 0)
        fail("flush");
    size_t before = s.len;
    uint64_t want = fp_writer_record_size(w, &p);
    if (fp_writer_write(w, &p, &e) < 0)
        fail(e.message);
    if (fp_out_flush(fp_writer_out(w), &e) < 0 || s.len - before != want)
        fail("record size");
    if (fp_writer_commit(w, &e) < 0)
        fail("commit");

    fp_error err;
    fp_source *src = fp_source_open_memory(s.buf, s.len, FP_ON_ERROR_RAISE, &err);
    fp_record rec;
    if (!src || fp_source_next(src, &rec, &err) != 1)
        fail(src ? err.message : "reopen");
    if (rec.caplen != sizeof frame || rec.wirelen != 100 || memcmp(rec.data, frame, sizeof frame) ||
        rec.ts_ns > p.ts_ns || rec.ts_ns < p.ts_ns - 1000000000LL / (int64_t)(units < 1000000000 ? units : 1000000000))
        fail("read back");
    fp_source_close(src);
    free(s.buf);
    free(rest);
    return 0;
}
