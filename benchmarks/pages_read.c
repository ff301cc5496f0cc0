/* Mapping or reading a pcap file: what one pass costs the CPU (issue 18 part 4, seventh pass).
 *
 * One pass touches every record header and the 64 bytes after it, as fastpkt's read loop does,
 * either through a mapping of the whole file (pages released every 32 MiB behind the walk, as
 * fastpkt's mapped source does) or by pread() into one reused buffer. The kernel's cost differs:
 * a mapping sets and clears a page-table entry per cached page (one per 4 KiB page when the file
 * is cached in small pages), a read copies every byte from the page cache. Modes are alternated
 * round by round in one process; each pass reports user and system CPU (getrusage) and faults.
 *
 *   gcc -O2 -o pages_read benchmarks/pages_read.c
 *   ./pages_read FILE [ROUNDS [MODE]]   # modes: -1 mmap, 0 mmap with prefetch,
 *                                       # 1-3 pread into 256 KiB, 1 MiB, 4 MiB; default all
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCAP_GLOBAL 24
#define RECORD_HEADER 16
#define TOUCHED 64
#define RELEASE_EVERY (32u << 20)
#define PREFETCH_AHEAD 4096u

struct walk {
    uint64_t records;
    uint64_t sum; /* keeps the touches from being optimised away */
};

static uint32_t load_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Walks the complete records in [p, end); returns the bytes consumed. With `limit` (the
 * mapping's end), each record's lines 4 KiB on are prefetched, as fastpkt's mapped source does. */
static size_t walk_records(const unsigned char *p, const unsigned char *end,
                           const unsigned char *limit, struct walk *w)
{
    const unsigned char *start = p;
    while ((size_t)(end - p) >= RECORD_HEADER) {
        uint32_t caplen = load_u32(p + 8);
        if ((size_t)(end - p - RECORD_HEADER) < caplen)
            break;
        uint64_t acc = load_u32(p) ^ load_u32(p + 12);
        size_t n = caplen < TOUCHED ? caplen : TOUCHED;
        for (size_t i = 0; i < n; i++)
            acc += p[RECORD_HEADER + i];
        w->sum += acc;
        w->records++;
        const unsigned char *next = p + RECORD_HEADER + caplen;
        if (limit) {
            uintptr_t a = ((uintptr_t)p + PREFETCH_AHEAD) & ~(uintptr_t)63;
            uintptr_t stop = (uintptr_t)next + PREFETCH_AHEAD;
            if (stop > (uintptr_t)limit)
                stop = (uintptr_t)limit;
            for (; a < stop; a += 64)
                __builtin_prefetch((const void *)a);
        }
        p = next;
    }
    return (size_t)(p - start);
}

static int pass_mmap(int fd, size_t size, int prefetch, struct walk *w)
{
    unsigned char *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return -1;
    size_t off = PCAP_GLOBAL, released = 0;
    while (off < size) {
        size_t stop = size - off > RELEASE_EVERY ? off + RELEASE_EVERY : size;
        size_t used = walk_records(base + off, base + stop, prefetch ? base + size : NULL, w);
        if (used == 0 && stop == size) /* a truncated tail */
            break;
        off += used; /* a record cut by the window's end starts the next window */
        while (released + RELEASE_EVERY <= off) {
            madvise(base + released, RELEASE_EVERY, MADV_DONTNEED);
            released += RELEASE_EVERY;
        }
    }
    munmap(base, size);
    return 0;
}

static int pass_pread(int fd, size_t size, unsigned char *buf, size_t cap, struct walk *w)
{
    off_t pos = PCAP_GLOBAL;
    while ((size_t)pos < size) {
        ssize_t got = pread(fd, buf, cap, pos);
        if (got <= 0)
            return got < 0 ? -1 : 0;
        size_t used = walk_records(buf, buf + got, NULL, w);
        if (used == 0) /* a record larger than the buffer, or a truncated tail */
            return 0;
        pos += (off_t)used; /* a record cut by the buffer's edge is read again whole */
    }
    return 0;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [ROUNDS [MODE]]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    int only = argc > 3 ? atoi(argv[3]) : -2; /* one mode alone, for perf stat */
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(argv[1]);
        return 1;
    }
    size_t size = (size_t)st.st_size;
    static const size_t caps[] = {256u << 10, 1u << 20, 4u << 20};
    unsigned char *buf = malloc(caps[2]);
    if (!buf)
        return 1;
    printf("%-12s %8s %8s %8s %9s %10s\n", "mode", "user", "system", "cpu", "faults", "records");
    for (int r = 0; r < rounds; r++) {
        for (int m = -1; m < 4; m++) {
            if (only != -2 && m != only)
                continue;
            struct rusage a, b;
            struct walk w = {0, 0};
            getrusage(RUSAGE_SELF, &a);
            int rc = m <= 0 ? pass_mmap(fd, size, m == 0, &w)
                            : pass_pread(fd, size, buf, caps[m - 1], &w);
            getrusage(RUSAGE_SELF, &b);
            if (rc < 0) {
                perror("pass");
                return 1;
            }
            double user = seconds(b.ru_utime) - seconds(a.ru_utime);
            double sys = seconds(b.ru_stime) - seconds(a.ru_stime);
            char name[32];
            if (m <= 0)
                snprintf(name, sizeof name, m ? "mmap" : "mmap+pf");
            else
                snprintf(name, sizeof name, "pread %zuK", caps[m - 1] >> 10);
            printf("%-12s %8.3f %8.3f %8.3f %9ld %10llu  %llx\n", name, user, sys, user + sys,
                   b.ru_minflt - a.ru_minflt, (unsigned long long)w.records,
                   (unsigned long long)(w.sum & 0xfff));
        }
    }
    free(buf);
    close(fd);
    return 0;
}
