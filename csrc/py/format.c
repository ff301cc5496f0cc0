/* Text of addresses and bytes for Python: MAC, IPv4, IPv6, hex runs, ASCII str from C. */
#include "pyfp.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

PyObject *fp_ascii_str(const char *s, Py_ssize_t n)
{
    PyObject *u = PyUnicode_New(n, 127);
    if (u == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    return u;
}

static char *put_dec_u8(char *o, unsigned v)
{
    if (v >= 100) {
        *o++ = (char)('0' + v / 100);
        v %= 100;
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else if (v >= 10) {
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
    } else {
        *o++ = (char)('0' + v);
    }
    return o;
}

static char *put_ip4(char *o, const uint8_t *p)
{
    o = put_dec_u8(o, p[0]);
    *o++ = '.';
    o = put_dec_u8(o, p[1]);
    *o++ = '.';
    o = put_dec_u8(o, p[2]);
    *o++ = '.';
    return put_dec_u8(o, p[3]);
}

PyObject *fp_ip4_str(const uint8_t *p)
{
    char buf[16];
    char *o = put_ip4(buf, p);
    return fp_ascii_str(buf, o - buf);
}

static char *put_hex16(char *o, unsigned v)
{
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned nib = (v >> shift) & 0xf;
        if (nib || started || shift == 0) {
            *o++ = hexdig[nib];
            started = 1;
        }
    }
    return o;
}

/* RFC 5952 text, identical to glibc's inet_ntop (which Scapy uses): the longest run
 * of two or more zero groups (the first on a tie) becomes "::", hex in lower case,
 * and the IPv4-mapped / IPv4-compatible forms end in dotted quad. */
PyObject *fp_ip6_str(const uint8_t *p)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++) w[i] = ((unsigned)p[2 * i] << 8) | p[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0) j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best = -1;
    char buf[48];
    char *o = buf;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            if (best + best_len == 8) *o++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i != 0) *o++ = ':';
        if (i == 6 && best == 0 &&
            (best_len == 6 || (best_len == 7 && w[7] != 1) || (best_len == 5 && w[5] == 0xffff))) {
            o = put_ip4(o, p + 12);
            break;
        }
        o = put_hex16(o, w[i]);
    }
    return fp_ascii_str(buf, o - buf);
}

PyObject *fp_hex_colon_str(const uint8_t *p, unsigned n)
{
    char buf[96];
    if (n > 32) n = 32;
    if (n == 0) return fp_ascii_str("", 0);
    char *o = buf;
    for (unsigned i = 0; i < n; i++) {
        if (i) *o++ = ':';
        *o++ = hexdig[p[i] >> 4];
        *o++ = hexdig[p[i] & 0xf];
    }
    return fp_ascii_str(buf, o - buf);
}

PyObject *fp_mac_str(const uint8_t *p)
{
    char buf[17];
    char *o = buf;
    for (int i = 0; i < 6; i++) {
        if (i) *o++ = ':';
        *o++ = hexdig[p[i] >> 4];
        *o++ = hexdig[p[i] & 0xf];
    }
    return fp_ascii_str(buf, 17);
}

