/* Text of addresses and bytes for Python: MAC, IPv4 and IPv6 (the core's fp_ip4_text and
 * fp_ip6_text), hex runs, ASCII str from C. */
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

PyObject *fp_ip4_str(const uint8_t *p)
{
    char buf[FP_IP4_TEXT_MAX];
    return fp_ascii_str(buf, (Py_ssize_t)fp_ip4_text(p, buf));
}

PyObject *fp_ip6_str(const uint8_t *p)
{
    char buf[FP_IP6_TEXT_MAX];
    return fp_ascii_str(buf, (Py_ssize_t)fp_ip6_text(p, buf));
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

PyObject *fp_mac_str(const uint8_t *p) { return fp_hex_colon_str(p, 6); }
