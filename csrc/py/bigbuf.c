/* See bigbuf.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap */
#endif
#include "bigbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

/* len bytes (whole pages) from a 2 MiB boundary: the kernel backs each whole 2 MiB of it with
 * one huge page; a tail short of 2 MiB gets small pages, so nothing is mapped beyond len. */
static void *map_aligned(size_t len)
{
    uint8_t *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m) munmap(m, (size_t)(p - m));
    munmap(p + len, (size_t)(m + HUGE_PAGE - p));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* advice: without THP the pages are small, nothing else changes */
#endif
    return p;
}

void *fp_big_alloc(size_t size)
{
    return size < HUGE_PAGE ? malloc(size ? size : 1) : map_aligned(page_round(size));
}

void *fp_big_grow(void *p, size_t old, size_t size)
{
    if (size < HUGE_PAGE) return realloc(p, size);
    void *q = map_aligned(page_round(size));
    if (q == NULL) return NULL;
    if (old < HUGE_PAGE) {
        if (old) memcpy(q, p, old);
        free(p);
        return q;
    }
#ifdef MREMAP_FIXED
    if (mremap(p, page_round(old), page_round(old), MREMAP_MAYMOVE | MREMAP_FIXED, q) != MAP_FAILED) return q;
#endif
    memcpy(q, p, old);
    munmap(p, page_round(old));
    return q;
}

void fp_big_free(void *p, size_t size)
{
    if (p == NULL) return;
    if (size < HUGE_PAGE) free(p);
    else munmap(p, page_round(size));
}

size_t fp_big_capacity(size_t want)
{
    return want < HUGE_PAGE ? want : (want + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}
