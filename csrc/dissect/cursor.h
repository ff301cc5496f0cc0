/* Bounds-checked reads over packet bytes (after tcpdump's GET_* macros).
 * A dissector holds a cursor (ptr, end) and never dereferences past `end`:
 * every read goes through these helpers, which fail instead of overrunning. */
#ifndef FP_CURSOR_H
#define FP_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *base; /* start of the packet: offsets are relative to it */
    const uint8_t *ptr;
    const uint8_t *end;
} fp_cursor;

static inline fp_cursor fp_cursor_make(const uint8_t *base, size_t len)
{
    fp_cursor c = {base, base, base + len};
    return c;
}

static inline size_t fp_cur_left(const fp_cursor *c) { return (size_t)(c->end - c->ptr); }
static inline uint32_t fp_cur_off(const fp_cursor *c) { return (uint32_t)(c->ptr - c->base); }
static inline int fp_cur_has(const fp_cursor *c, size_t n) { return fp_cur_left(c) >= n; }

/* Peek helpers: read at ptr+at without moving; caller has checked fp_cur_has(c, at+width). */
static inline uint8_t fp_peek_u8(const fp_cursor *c, size_t at) { return c->ptr[at]; }
static inline uint16_t fp_peek_be16(const fp_cursor *c, size_t at)
{
    return (uint16_t)((c->ptr[at] << 8) | c->ptr[at + 1]);
}
static inline uint32_t fp_peek_be32(const fp_cursor *c, size_t at)
{
    return ((uint32_t)c->ptr[at] << 24) | ((uint32_t)c->ptr[at + 1] << 16) |
           ((uint32_t)c->ptr[at + 2] << 8) | (uint32_t)c->ptr[at + 3];
}

/* Checked consuming reads: return 0 on success, -1 (cursor unchanged) when short. */
static inline int fp_get_u8(fp_cursor *c, uint8_t *v)
{
    if (!fp_cur_has(c, 1)) return -1;
    *v = c->ptr[0];
    c->ptr += 1;
    return 0;
}
static inline int fp_get_be16(fp_cursor *c, uint16_t *v)
{
    if (!fp_cur_has(c, 2)) return -1;
    *v = fp_peek_be16(c, 0);
    c->ptr += 2;
    return 0;
}
static inline int fp_get_be32(fp_cursor *c, uint32_t *v)
{
    if (!fp_cur_has(c, 4)) return -1;
    *v = fp_peek_be32(c, 0);
    c->ptr += 4;
    return 0;
}
static inline int fp_skip(fp_cursor *c, size_t n)
{
    if (!fp_cur_has(c, n)) return -1;
    c->ptr += n;
    return 0;
}

/* Unaligned raw loads from a buffer whose bounds the caller has already checked. */
static inline uint16_t fp_load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t fp_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t fp_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
