/* pcap writer: microsecond or nanosecond resolution, either byte order (so a
 * file read with fastpkt can be written back byte for byte). Python-free. */
#ifndef FP_PCAP_WRITER_H
#define FP_PCAP_WRITER_H

#include <stdint.h>
#include <stdio.h>

typedef struct fp_pcap_writer fp_pcap_writer;

/* Create `path` (truncating). Returns NULL with errno set on failure. */
fp_pcap_writer *fp_pcap_writer_open(const char *path, uint32_t linktype, uint32_t snaplen,
                                    int nanosecond, int big_endian);
/* Create `path` with this exact 24-byte pcap file header (e.g. from
 * fp_source_pcap_header()), so version, thiszone, sigfigs and the FCS bits of
 * the link type survive a rewrite; byte order and resolution follow its magic.
 * Returns NULL with errno set (EINVAL for an unknown magic). */
fp_pcap_writer *fp_pcap_writer_open_header(const char *path, const uint8_t header[24]);
/* Write one record; ts_ns is nanoseconds since the epoch. Returns 0 or -1 (errno). */
int fp_pcap_writer_write(fp_pcap_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen,
                         uint32_t wirelen);
int fp_pcap_writer_flush(fp_pcap_writer *w);
int fp_pcap_writer_close(fp_pcap_writer *w);  /* flushes; returns -1 on a write error */

#endif
