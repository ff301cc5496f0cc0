/* Test driver for the source layer (not shipped: setup.py must exclude
 * every test_*.c and csrc/fuzz/). For a capture, prints one line per record
 *     index ts_ns caplen wirelen linktype interface
 * (ts_ns is "-" for records without a timestamp) and a final "# end ..." line
 * with the outcome, so scripts can compare against tshark's refs.
 *
 *   test_source_main [-p raise|stop|skip] [-s] [-m] [-w out.pcap] [-f bpf] FILE
 *     -s  read FILE as a stream (fp_source_open_fd) instead of mmap
 *     -m  read FILE into memory and use fp_source_open_memory
 *     -w  rewrite every record to out.pcap (pcap input: with its own header)
 *     -f  only print records matching the BPF expression (per link type) */
#define _DEFAULT_SOURCE 1

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../write/writer.h"
#include "bpf.h"
#include "source.h"

typedef struct {
    fp_on_error policy;
    int stream, memory;
    const char *write_path, *filter, *path;
} options;

static int usage(void)
{
    fprintf(stderr, "usage: test_source_main [-p raise|stop|skip] [-s] [-m] [-w out.pcap] "
                    "[-f filter] FILE\n");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    int c;
    memset(o, 0, sizeof *o);
    while ((c = getopt(argc, argv, "p:smw:f:")) != -1) {
        if (c == 'p' && strcmp(optarg, "raise") == 0)
            o->policy = FP_ON_ERROR_RAISE;
        else if (c == 'p' && strcmp(optarg, "stop") == 0)
            o->policy = FP_ON_ERROR_STOP;
        else if (c == 'p' && strcmp(optarg, "skip") == 0)
            o->policy = FP_ON_ERROR_SKIP;
        else if (c == 's')
            o->stream = 1;
        else if (c == 'm')
            o->memory = 1;
        else if (c == 'w')
            o->write_path = optarg;
        else if (c == 'f')
            o->filter = optarg;
        else
            return -1;
    }
    if (optind != argc - 1)
        return -1;
    o->path = argv[optind];
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, k;
    uint8_t *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static fp_writer *open_writer(const char *path, fp_source *s, fp_werror *we)
{
    fp_out *o = fp_out_open_path(path, 0, we);
    if (!o)
        return NULL;
    return fp_writer_open_pcap(o, fp_source_pcap_header(s), fp_source_linktype(s),
                               fp_source_snaplen(s), 1, 0, we);
}

static void print_end(const char *what, int rc, const fp_error *e, fp_source *s)
{
    printf("# %s rc=%d kind=%d offset=%" PRIu64 " index=%" PRIu64 " packets=%" PRIu64
           " skipped=%" PRIu64 " msg=%s\n", what, rc, (int)e->kind, e->offset, e->packet_index,
           s ? fp_source_packets(s) : 0, s ? fp_source_skipped(s) : 0, e->message);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) < 0)
        return usage();
    fp_error err = {0};
    fp_source *s;
    uint8_t *mem = NULL;
    if (o.memory) {
        size_t len = 0;
        mem = slurp(o.path, &len);
        if (!mem) {
            perror(o.path);
            return 1;
        }
        s = fp_source_open_memory(mem, len, o.policy, &err);
    } else if (o.stream) {
        int fd = open(o.path, O_RDONLY);
        if (fd < 0) {
            perror(o.path);
            return 1;
        }
        s = fp_source_open_fd(fd, o.policy, &err);
    } else {
        s = fp_source_open_path(o.path, o.policy, &err);
    }
    if (!s) {
        print_end("open-error", -1, &err, NULL);
        free(mem);
        return 1;
    }
    fp_werror werr;
    fp_writer *w = o.write_path ? open_writer(o.write_path, s, &werr) : NULL;
    if (o.write_path && !w) {
        fprintf(stderr, "%s\n", werr.message);
        return 1;
    }
    fp_bpf_set *bpf = o.filter ? fp_bpf_set_new_ex(o.filter, fp_source_snaplen(s), fp_source_byte_swapped(s)) : NULL;
    fp_record rec;
    int rc;
    while ((rc = fp_source_next(s, &rec, &err)) == 1) {
        uint64_t idx = fp_source_packets(s) - 1;
        fp_wpacket wp = {.ts_ns = rec.ts_ns, .data = rec.data, .caplen = rec.caplen,
                         .wirelen = rec.wirelen};
        if (w && fp_writer_write(w, &wp, &werr) < 0) {
            fprintf(stderr, "write: %s\n", werr.message);
            return 1;
        }
        if (bpf) {
            char msg[256];
            int m = fp_bpf_set_match(bpf, &rec, msg, sizeof msg);
            if (m < 0)
                printf("# bpf-error %s\n", msg);
            if (m <= 0)
                continue;
        }
        const fp_interface *ifc = fp_source_interface(s, rec.interface_id);
        if (!ifc || ifc->linktype != rec.linktype) {
            fprintf(stderr, "interface %u inconsistent\n", rec.interface_id);
            return 1;
        }
        char ts[32] = "-";
        if (rec.has_ts)
            snprintf(ts, sizeof ts, "%" PRId64, rec.ts_ns);
        printf("%" PRIu64 " %s %u %u %u %u\n", idx, ts, rec.caplen, rec.wirelen, rec.linktype,
               rec.interface_id);
    }
    const fp_error *last = rc < 0 ? &err : fp_source_last_error(s);
    print_end("end", rc, last, s);
    if (w && fp_writer_commit(w, &werr) < 0) {
        fprintf(stderr, "close: %s\n", werr.message);
        return 1;
    }
    fp_bpf_set_free(bpf);
    fp_source_close(s);
    free(mem);
    return 0;
}
