/* Text of addresses and bytes for Python: MAC, IPv4 and IPv6 (the core's fp_ip4_text and
 * fp_ip6_text), hex runs, ASCII str from C; joined text and name tuples. */
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

PyObject *fp_join_str(PyObject *parts, const char *sep)
{
    PyObject *s = PyUnicode_FromString(sep);
    PyObject *r = s ? PyUnicode_Join(s, parts) : NULL;
    Py_XDECREF(s);
    Py_DECREF(parts);
    return r;
}

int fp_list_append_new(PyObject *list, PyObject *item)
{
    int r = item ? PyList_Append(list, item) : -1;
    Py_XDECREF(item);
    return r;
}

PyObject *fp_intern_tuple(const char *const *first, Py_ssize_t n, size_t stride)
{
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t != NULL && i < n; i++) {
        PyObject *s = PyUnicode_InternFromString(*(const char *const *)((const char *)first + (size_t)i * stride));
        if (s == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

PyObject *fp_print_or_return(PyObject *text, int dump)
{
    if (text == NULL || dump) return text;
    PyObject *builtins = PyEval_GetBuiltins();
    PyObject *print = builtins ? PyDict_GetItemString(builtins, "print") : NULL;
    PyObject *r = print ? PyObject_CallOneArg(print, text) : NULL;
    Py_DECREF(text);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}
