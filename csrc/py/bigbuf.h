/* Large buffers written once, front to back (a PacketList's record index, the columns of an
 * Arrow batch). From 2 MiB up they are mapped from a 2 MiB boundary and advised for transparent
 * huge pages: filling them takes one fault per 2 MiB instead of one per 4 KiB page (each fault
 * zeroes and charges its page; 1M packets' Arrow columns and index took ~30k faults, a tenth of
 * the export's CPU). Smaller ones come from malloc. Sizes are the caller's to remember. */
#ifndef FP_BIGBUF_H
#define FP_BIGBUF_H

#include <stddef.h>

/* size bytes, not zeroed; NULL when out of memory. */
void *fp_big_alloc(size_t size);
/* p (old bytes, from fp_big_alloc or fp_big_grow; NULL when old is 0) grown to size > old, its
 * bytes kept (mapped pages are moved, not copied); NULL when out of memory, p untouched. */
void *fp_big_grow(void *p, size_t old, size_t size);
void fp_big_free(void *p, size_t size);
/* The capacity to ask for when growing towards want bytes: whole huge pages once mapped, so a
 * grown buffer's pages move as huge pages. */
size_t fp_big_capacity(size_t want);

#endif
