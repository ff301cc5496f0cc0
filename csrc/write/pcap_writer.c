/* pcap writer (draft-ietf-opsawg-pcap): file header version 2.4, thiszone 0,
 * sigfigs 0, microsecond (a1b2c3d4) or nanosecond (a1b23c4d) magic, in the
 * byte order the caller asks for, so a file read by fastpkt can be written
 * back byte for byte. Output goes through a FILE* with a large buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_writer.h"

#define WRITE_BUFFER (1u << 20)

struct fp_pcap_writer {
    FILE *f;
    char *buf;
    int nanosecond;
    int big_endian;
};

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[be ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put16(uint8_t *p, uint16_t v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

static fp_pcap_writer *writer_new(const char *path)
{
    fp_pcap_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->buf = malloc(WRITE_BUFFER);
    w->f = w->buf ? fopen(path, "wb") : NULL;
    if (!w->f) {
        int e = w->buf ? errno : ENOMEM;
        free(w->buf);
        free(w);
        errno = e;
        return NULL;
    }
    setvbuf(w->f, w->buf, _IOFBF, WRITE_BUFFER);
    return w;
}

static int write_all(fp_pcap_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}

static fp_pcap_writer *writer_start(fp_pcap_writer *w, const uint8_t hdr[24])
{
    if (write_all(w, hdr, 24) == 0)
        return w;
    int e = errno;
    fp_pcap_writer_close(w);
    errno = e;
    return NULL;
}

fp_pcap_writer *fp_pcap_writer_open(const char *path, uint32_t linktype, uint32_t snaplen,
                                    int nanosecond, int big_endian)
{
    fp_pcap_writer *w = writer_new(path);
    if (!w)
        return NULL;
    w->nanosecond = nanosecond != 0;
    w->big_endian = big_endian != 0;
    uint8_t hdr[24] = {0};
    put32(hdr, w->nanosecond ? 0xA1B23C4Du : 0xA1B2C3D4u, w->big_endian);
    put16(hdr + 4, 2, w->big_endian);
    put16(hdr + 6, 4, w->big_endian);
    put32(hdr + 16, snaplen, w->big_endian);
    put32(hdr + 20, linktype, w->big_endian);
    return writer_start(w, hdr);
}

fp_pcap_writer *fp_pcap_writer_open_header(const char *path, const uint8_t header[24])
{
    uint32_t magic_be = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 |
                        (uint32_t)header[2] << 8 | header[3];
    int be, ns;
    switch (magic_be) {
    case 0xA1B2C3D4u: be = 1; ns = 0; break;
    case 0xD4C3B2A1u: be = 0; ns = 0; break;
    case 0xA1B23C4Du: be = 1; ns = 1; break;
    case 0x4D3CB2A1u: be = 0; ns = 1; break;
    default: errno = EINVAL; return NULL;
    }
    fp_pcap_writer *w = writer_new(path);
    if (!w)
        return NULL;
    w->nanosecond = ns;
    w->big_endian = be;
    return writer_start(w, header);
}

int fp_pcap_writer_write(fp_pcap_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen,
                         uint32_t wirelen)
{
    /* Floor division so times before 1970 still give frac in [0, 1 s). */
    int64_t sec = ts_ns / 1000000000, frac = ts_ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        sec -= 1;
    }
    uint8_t h[16];
    put32(h, (uint32_t)sec, w->big_endian);
    put32(h + 4, (uint32_t)(w->nanosecond ? frac : frac / 1000), w->big_endian);
    put32(h + 8, caplen, w->big_endian);
    put32(h + 12, wirelen, w->big_endian);
    errno = 0;
    if (write_all(w, h, sizeof h) < 0 || write_all(w, data, caplen) < 0)
        return -1;
    return 0;
}

int fp_pcap_writer_flush(fp_pcap_writer *w)
{
    return fflush(w->f) == 0 ? 0 : -1;
}

int fp_pcap_writer_close(fp_pcap_writer *w)
{
    if (!w)
        return 0;
    int rc = fclose(w->f) == 0 ? 0 : -1;   /* flushes; reports a late write error */
    int e = errno;
    free(w->buf);
    free(w);
    errno = e;
    return rc;
}
