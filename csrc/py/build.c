/* Building packets: the layer types in builder mode (csrc/dissect/build.h).
 *
 * IP(dst=..., ttl=5) makes a layer object whose `pkt` is NULL and whose `b` holds the
 * field values (one slot per row of the protocol's table, a bit per field the caller set),
 * the Python objects of variable fields (options, DNS sections, loads) with their wire
 * bytes encoded when set, and the payload: the next builder layer, or bytes. `a / b`
 * stacks copies (Scapy's semantics; a temporary operand is linked, not copied). bytes()
 * lays the stack out into fp_blayer rows and lets the core write it into one bytes object;
 * IP(raw) / Ether(raw) read bytes back into a stack with every field set, so they rebuild
 * byte for byte. Attributes a builder does not hold itself (checksum_ok(), options
 * decoded as a view would, header_len...) come from a view of the built bytes. */
#include "build.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../dissect/cursor.h"

#define FP_BUILD_MAX_LAYERS 64

PyObject *fp_tcp_options_list(const uint8_t *p, size_t len); /* layer_tcp.c */

static fp_bnode *bnode_new(fp_state *st, const fp_bproto *p)
{
    fp_bnode *b = PyMem_Calloc(1, sizeof *b);
    if (b == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    b->p = p;
    b->st = st;
    for (int f = 0; f < p->nfields; f++) b->v[f] = p->fields[f].dflt;
    if (p->id == FP_B_IP6) b->a6[1][15] = 1; /* dst ::1 */
    return b;
}

void fp_bnode_free(FpLayer *l)
{
    fp_bnode *b = l->b;
    if (b == NULL) return;
    for (int k = 0; k < FP_BVARS; k++) {
        Py_XDECREF(b->var[k]);
        Py_XDECREF(b->wire[k]);
    }
    if (b->payload && fp_is_builder(b->payload)) LAYER(b->payload)->b->under = NULL;
    Py_XDECREF(b->payload);
    Py_XDECREF(b->trailer);
    Py_XDECREF(b->expand);
    PyMem_Free(b);
    l->b = NULL;
}

PyObject *fp_builder_alloc(fp_state *st, int id)
{
    const fp_bproto *p = fp_bproto_of(id);
    PyTypeObject *tp = st->Build_Types[id];
    if (p == NULL || tp == NULL) {
        PyErr_Format(PyExc_SystemError, "fastpkt: no builder for layer kind %d", id);
        return NULL;
    }
    FpLayer *l = (FpLayer *)PyObject_Malloc((size_t)tp->tp_basicsize);
    if (l == NULL) return PyErr_NoMemory();
    PyObject_Init((PyObject *)l, tp);
    l->pkt = NULL;
    l->id = (uint8_t)id;
    l->index = 0;
    l->embedded = 0;
    l->b = bnode_new(st, p);
    if (l->b == NULL) {
        l->b = NULL;
        Py_DECREF(l);
        return NULL;
    }
    return (PyObject *)l;
}

/* ---- field lookup ------------------------------------------------------ */

int fp_build_field_index(const fp_state *st, const fp_bproto *p, PyObject *name)
{
    PyObject *const *names = st->bnames[p->id];
    for (int f = 0; f < p->nfields; f++)
        if (names[f] == name) return f;
    if (!PyUnicode_Check(name)) return -1;
    for (int f = 0; f < p->nfields; f++)
        if (PyUnicode_CompareWithASCIIString(name, p->fields[f].name) == 0) return f;
    return -1;
}

static int var_slot(const fp_bproto *p, int f)
{
    int k = 0;
    for (int i = 0; i < f; i++) k += p->fields[i].kind == FP_BK_VAR;
    return k;
}

/* ---- values in ------------------------------------------------------------ */

static int field_err(const fp_bproto *p, int f, PyObject *v, const char *what)
{
    PyErr_Format(PyExc_ValueError, "%s.%s: %s, not %R", p->name, p->fields[f].name, what, v);
    return -1;
}

static int type_err(const fp_bproto *p, int f, PyObject *v, const char *what)
{
    PyErr_Format(PyExc_TypeError, "%s.%s: expected %s, not %.100s", p->name, p->fields[f].name, what,
                 Py_TYPE(v)->tp_name);
    return -1;
}

/* Names Scapy accepts for some numeric fields. */
static const struct {
    uint8_t id;
    const char *field, *name;
    uint16_t value;
} enum_names[] = {
    {FP_B_ARP, "op", "who-has", 1},          {FP_B_ARP, "op", "is-at", 2},
    {FP_B_ICMP, "type", "echo-reply", 0},     {FP_B_ICMP, "type", "dest-unreach", 3},
    {FP_B_ICMP, "type", "source-quench", 4},  {FP_B_ICMP, "type", "redirect", 5},
    {FP_B_ICMP, "type", "echo-request", 8},   {FP_B_ICMP, "type", "time-exceeded", 11},
    {FP_B_ICMP, "type", "parameter-problem", 12}, {FP_B_ICMP, "type", "timestamp-request", 13},
    {FP_B_ICMP, "type", "timestamp-reply", 14}, {FP_B_ICMP, "type", "address-mask-request", 17},
    {FP_B_ICMP, "type", "address-mask-reply", 18},
    {FP_B_IP4, "proto", "icmp", 1},           {FP_B_IP4, "proto", "tcp", 6},
    {FP_B_IP4, "proto", "udp", 17},           {FP_B_IP6, "nh", "tcp", 6},
    {FP_B_IP6, "nh", "udp", 17},              {FP_B_IP6, "nh", "ICMPv6", 58},
    {FP_B_DNS, "opcode", "QUERY", 0},         {FP_B_DNS, "rcode", "ok", 0},
    {FP_B_DNS, "rcode", "name-error", 3},
};

int fp_dns_type_value(PyObject *v, long *out); /* layer_dns.c */

static int uint_from(fp_state *st, const fp_bproto *p, int f, PyObject *v, uint64_t *out)
{
    const fp_bfield *fd = &p->fields[f];
    PyObject *num = NULL;
    if (PyUnicode_Check(v)) {
        if (fd->flags & FP_BF_TCPFLAGS) {
            num = PyObject_CallOneArg((PyObject *)st->TCPFlags_Type, v);
            if (num == NULL) {
                PyErr_Clear();
                return field_err(p, f, v, "flags are letters of FSRPAUECN");
            }
        } else if (fd->flags & FP_BF_IPFLAGS) {
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(v, &n);
            if (s == NULL) return -1;
            uint64_t m = 0;
            for (Py_ssize_t i = 0; i < n;) {
                Py_ssize_t j = i;
                while (j < n && s[j] != '+' && s[j] != ' ' && s[j] != ',') j++;
                if (j - i == 2 && memcmp(s + i, "MF", 2) == 0) m |= 1;
                else if (j - i == 2 && memcmp(s + i, "DF", 2) == 0) m |= 2;
                else if (j - i == 4 && memcmp(s + i, "evil", 4) == 0) m |= 4;
                else if (j > i) return field_err(p, f, v, "flags are MF, DF, evil joined by '+'");
                i = j + 1;
            }
            *out = m;
            return 0;
        } else {
            for (size_t k = 0; k < sizeof enum_names / sizeof enum_names[0]; k++)
                if (enum_names[k].id == p->id && strcmp(enum_names[k].field, fd->name) == 0 &&
                    PyUnicode_CompareWithASCIIString(v, enum_names[k].name) == 0) {
                    *out = enum_names[k].value;
                    return 0;
                }
            return field_err(p, f, v, "unknown name");
        }
    }
    if (num == NULL) {
        if (PyFloat_Check(v) || !PyIndex_Check(v)) {
            if (!(fd->flags & FP_BF_TCPFLAGS) || !PyNumber_Check(v)) return type_err(p, f, v, "an int");
            num = PyNumber_Long(v);
        } else {
            num = PyNumber_Index(v);
        }
        if (num == NULL) return -1;
    } else {
        Py_SETREF(num, PyNumber_Long(num));
        if (num == NULL) return -1;
    }
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(num, &overflow);
    Py_DECREF(num);
    if (x == -1 && PyErr_Occurred()) return -1;
    uint64_t max = fd->bits >= 64 ? ~0ull : (1ull << fd->bits) - 1;
    if (overflow || x < 0 || (uint64_t)x > max) {
        PyErr_Format(PyExc_ValueError, "%s.%s: %R out of range 0..%llu", p->name, fd->name, v,
                     (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

/* An IPv4 address: dotted quad, or a host name resolved now (Scapy resolves at build). */
static int ip4_from(const fp_bproto *p, int f, PyObject *v, uint64_t *out)
{
    if (!PyUnicode_Check(v)) return type_err(p, f, v, "an IPv4 address as str");
    const char *s = PyUnicode_AsUTF8(v);
    if (s == NULL) return -1;
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_family = AF_INET;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = strchr(s, '/') ? EAI_NONAME : getaddrinfo(s, NULL, &hints, &res);
        Py_END_ALLOW_THREADS
        if (rc != 0 || res == NULL) return field_err(p, f, v, "not an IPv4 address or a known host");
        a = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }
    *out = ntohl(a.s_addr);
    return 0;
}

static int ip6_from(const fp_bproto *p, int f, PyObject *v, uint8_t out[16])
{
    if (!PyUnicode_Check(v)) return type_err(p, f, v, "an IPv6 address as str");
    const char *s = PyUnicode_AsUTF8(v);
    if (s == NULL) return -1;
    if (inet_pton(AF_INET6, s, out) == 1) return 0;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET6;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = getaddrinfo(s, NULL, &hints, &res);
    Py_END_ALLOW_THREADS
    if (rc != 0 || res == NULL) return field_err(p, f, v, "not an IPv6 address or a known host");
    memcpy(out, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
    freeaddrinfo(res);
    return 0;
}

static int mac_from(const fp_bproto *p, int f, PyObject *v, uint64_t *out)
{
    if (!PyUnicode_Check(v)) return type_err(p, f, v, "a MAC address as str");
    const char *s = PyUnicode_AsUTF8(v);
    if (s == NULL) return -1;
    uint64_t m = 0;
    int digits = 0, groups = 0;
    for (const char *c = s;; c++) {
        int h = (*c >= '0' && *c <= '9') ? *c - '0' : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
              : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10 : -1;
        if (h >= 0 && digits < 2) {
            m = m << 4 | (uint64_t)h;
            digits++;
            continue;
        }
        if ((*c == ':' || *c == '-' || *c == 0) && digits == 2) {
            groups++;
            digits = 0;
            if (*c == 0) break;
            continue;
        }
        return field_err(p, f, v, "not a MAC address like 'aa:bb:cc:dd:ee:ff'");
    }
    if (groups != 6) return field_err(p, f, v, "not a MAC address like 'aa:bb:cc:dd:ee:ff'");
    *out = m;
    return 0;
}

/* bytes of a bytes-like, a str (UTF-8) or anything with __bytes__ (Raw, layers). */
PyObject *fp_build_as_bytes(PyObject *v)
{
    if (PyBytes_CheckExact(v)) return Py_NewRef(v);
    if (PyUnicode_Check(v)) return PyUnicode_AsUTF8String(v);
    if (PyObject_CheckBuffer(v)) return PyBytes_FromObject(v);
    PyObject *r = PyObject_Bytes(v);
    if (r == NULL) return NULL;
    if (!PyBytes_Check(r)) Py_SETREF(r, PyBytes_FromObject(r));
    return r;
}

static int bytes_like(PyObject *v)
{
    return PyBytes_Check(v) || PyByteArray_Check(v) || PyMemoryView_Check(v) || PyUnicode_Check(v);
}

/* A list (or one item) of raw pieces: bytes-likes or objects with __bytes__, joined. */
static PyObject *join_pieces(const fp_bproto *p, int f, PyObject *v)
{
    if (bytes_like(v)) return fp_build_as_bytes(v);
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        PyObject *b = fp_build_as_bytes(v);
        if (b == NULL) {
            PyErr_Clear();
            type_err(p, f, v, "bytes or a list of options");
        }
        return b;
    }
    PyObject *parts = PyList_New(0);
    if (parts == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(v); i++) {
        PyObject *b = fp_build_as_bytes(PySequence_Fast_GET_ITEM(v, i));
        if (b == NULL) {
            Py_DECREF(parts);
            PyErr_Clear();
            return type_err(p, f, PySequence_Fast_GET_ITEM(v, i), "bytes-like options") ? NULL : NULL;
        }
        int r = PyList_Append(parts, b);
        Py_DECREF(b);
        if (r < 0) {
            Py_DECREF(parts);
            return NULL;
        }
    }
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    PyObject *r = empty ? _PyBytes_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(parts);
    return r;
}

/* TCP options as Scapy writes them: [('MSS', 1460), ('NOP', None), ('WScale', 7),
 * ('SAckOK', b''), ('Timestamp', (1, 0)), ('SAck', (l, r)), ('EOL', None), (kind, b'..')]. */
static const struct {
    const char *name;
    uint8_t kind;
    char fmt; /* H: u16, B: u8, I: tuple of u32, 0: bytes only */
} tcp_opt_names[] = {
    {"EOL", 0, 0},       {"NOP", 1, 0},      {"MSS", 2, 'H'},   {"WScale", 3, 'B'},
    {"SAckOK", 4, 0},    {"SAck", 5, 'I'},   {"Timestamp", 8, 'I'}, {"AltChkSum", 14, 0},
    {"AltChkSumOpt", 15, 0}, {"MD5", 19, 0}, {"Mood", 25, 0},   {"UTO", 28, 'H'},
    {"AO", 29, 0},       {"TFO", 34, 'I'},
};

static PyObject *tcp_options_wire(const fp_bproto *p, int f, PyObject *v)
{
    if (bytes_like(v)) return fp_build_as_bytes(v);
    if (!PyList_Check(v) && !PyTuple_Check(v)) return type_err(p, f, v, "a list of (name, value)") ? NULL : NULL;
    uint8_t buf[1024];
    size_t n = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(v); i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(v, i);
        if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2)
            return type_err(p, f, o, "(name, value) tuples") ? NULL : NULL;
        PyObject *name = PyTuple_GET_ITEM(o, 0), *val = PyTuple_GET_ITEM(o, 1);
        int kind = -1;
        char fmt = 0;
        if (PyUnicode_Check(name)) {
            for (size_t k = 0; k < sizeof tcp_opt_names / sizeof tcp_opt_names[0]; k++)
                if (PyUnicode_CompareWithASCIIString(name, tcp_opt_names[k].name) == 0) {
                    kind = tcp_opt_names[k].kind;
                    fmt = tcp_opt_names[k].fmt;
                }
        } else if (PyLong_Check(name)) {
            long k = PyLong_AsLong(name);
            if (k >= 0 && k <= 255) kind = (int)k;
        }
        if (kind < 0) return field_err(p, f, name, "unknown TCP option") ? NULL : NULL;
        uint8_t val_b[256];
        size_t vn = 0;
        PyObject *vb = NULL;
        if (kind <= 1 || val == Py_None) {
        } else if (bytes_like(val)) {
            vb = fp_build_as_bytes(val);
            if (vb == NULL) return NULL;
            vn = (size_t)PyBytes_GET_SIZE(vb);
            if (vn > 253) {
                Py_DECREF(vb);
                return field_err(p, f, val, "option value over 253 bytes") ? NULL : NULL;
            }
            memcpy(val_b, PyBytes_AS_STRING(vb), vn);
            Py_DECREF(vb);
        } else if (fmt == 'H' || fmt == 'B') {
            unsigned long x = PyLong_Check(val) ? PyLong_AsUnsignedLong(val) : (unsigned long)-1;
            if (PyErr_Occurred()) PyErr_Clear();
            if (x > (fmt == 'H' ? 0xffffu : 0xffu)) return field_err(p, f, val, "option value out of range") ? NULL : NULL;
            if (fmt == 'H') {
                val_b[0] = (uint8_t)(x >> 8);
                val_b[1] = (uint8_t)x;
                vn = 2;
            } else {
                val_b[0] = (uint8_t)x;
                vn = 1;
            }
        } else if (fmt == 'I') {
            PyObject *seq = PyLong_Check(val) ? PyTuple_Pack(1, val) : PySequence_Tuple(val);
            if (seq == NULL) {
                PyErr_Clear();
                return type_err(p, f, val, "a tuple of ints") ? NULL : NULL;
            }
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(seq); k++) {
                unsigned long x = PyLong_Check(PyTuple_GET_ITEM(seq, k))
                                      ? PyLong_AsUnsignedLong(PyTuple_GET_ITEM(seq, k)) : (unsigned long)-1;
                if (PyErr_Occurred()) PyErr_Clear();
                if (x > 0xffffffffu || vn + 4 > 253) {
                    Py_DECREF(seq);
                    return field_err(p, f, val, "option values are 32-bit ints") ? NULL : NULL;
                }
                for (int s = 3; s >= 0; s--) val_b[vn++] = (uint8_t)(x >> (8 * s));
            }
            Py_DECREF(seq);
        } else {
            return type_err(p, f, val, "bytes for this option") ? NULL : NULL;
        }
        int w = fp_tcp_option_put(buf + n, sizeof buf - n, (uint8_t)kind, val_b, vn);
        if (w < 0) return field_err(p, f, v, "options too long") ? NULL : NULL;
        n += (size_t)w;
    }
    return PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)n);
}

static PyObject *ip6_list_wire(const fp_bproto *p, int f, PyObject *v)
{
    if (!PyList_Check(v) && !PyTuple_Check(v)) return type_err(p, f, v, "a list of IPv6 addresses") ? NULL : NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    if (n > 127) return field_err(p, f, v, "at most 127 addresses") ? NULL : NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, 16 * n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++)
        if (ip6_from(p, f, PySequence_Fast_GET_ITEM(v, i), (uint8_t *)PyBytes_AS_STRING(out) + 16 * i) < 0)
            Py_CLEAR(out);
    return out;
}

/* ---- DNS records ---------------------------------------------------------- */

static int put_u16(uint8_t *o, size_t cap, size_t *n, unsigned v)
{
    if (*n + 2 > cap) return -1;
    o[(*n)++] = (uint8_t)(v >> 8);
    o[(*n)++] = (uint8_t)v;
    return 0;
}

static int dns_name_from(PyObject *v, uint8_t *o, size_t cap, size_t *n)
{
    PyObject *b = fp_build_as_bytes(v);
    if (b == NULL) return -1;
    int w = fp_dns_name_put(o + *n, cap - *n, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    if (w < 0) PyErr_Format(PyExc_ValueError, "DNS name %R: labels of 1..63 bytes, at most 255 in all", v);
    Py_DECREF(b);
    if (w < 0) return -1;
    *n += (size_t)w;
    return 0;
}

static int int_item(PyObject *rec, Py_ssize_t i, long dflt, long max, const char *what, long *out)
{
    PyObject *x = PyTuple_GET_ITEM(rec, i);
    if (x == Py_None) {
        *out = dflt;
        return 0;
    }
    long v;
    if (PyUnicode_Check(x)) {
        if (fp_dns_type_value(x, &v) < 0) return -1;
    } else {
        v = PyLong_AsLong(x);
        if (v == -1 && PyErr_Occurred()) return -1;
    }
    if (v < 0 || v > max) {
        PyErr_Format(PyExc_ValueError, "DNS record %s: %R out of range 0..%ld", what, x, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int dns_rdata_from(PyObject *rec, long type, uint8_t *o, size_t cap, size_t *n)
{
    PyObject *raw = PyTuple_GET_ITEM(rec, 6), *rd = PyTuple_GET_ITEM(rec, 5);
    if (raw != Py_None) rd = raw;
    size_t start = *n;
    if (rd == Py_None) return 0;
    if ((type == 1 || type == 28) && PyUnicode_Check(rd)) {
        const char *s = PyUnicode_AsUTF8(rd);
        size_t len = type == 1 ? 4 : 16;
        if (s == NULL) return -1;
        if (*n + len > cap || inet_pton(type == 1 ? AF_INET : AF_INET6, s, o + *n) != 1) {
            PyErr_Format(PyExc_ValueError, "DNSRR.rdata: %R is not an %s address", rd, type == 1 ? "IPv4" : "IPv6");
            return -1;
        }
        *n += len;
        return 0;
    }
    if ((type == 2 || type == 5 || type == 12 || type == 39) && PyUnicode_Check(rd))
        return dns_name_from(rd, o, cap, n);
    if (type == 16 && !PyBytes_Check(rd)) { /* TXT: character-strings */
        PyObject *items = PyUnicode_Check(rd) ? PyTuple_Pack(1, rd) : PySequence_Tuple(rd);
        if (items == NULL) return -1;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
            PyObject *b = fp_build_as_bytes(PyTuple_GET_ITEM(items, i));
            Py_ssize_t bn = b ? PyBytes_GET_SIZE(b) : 0;
            if (b == NULL || bn > 255 || *n + 1 + (size_t)bn > cap) {
                if (b) PyErr_SetString(PyExc_ValueError, "DNSRR.rdata: TXT strings are at most 255 bytes");
                Py_XDECREF(b);
                Py_DECREF(items);
                return -1;
            }
            o[(*n)++] = (uint8_t)bn;
            memcpy(o + *n, PyBytes_AS_STRING(b), (size_t)bn);
            *n += (size_t)bn;
            Py_DECREF(b);
        }
        Py_DECREF(items);
        return 0;
    }
    PyObject *b = fp_build_as_bytes(rd);
    if (b == NULL) return -1;
    if (*n + (size_t)PyBytes_GET_SIZE(b) > cap) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_ValueError, "DNS: message over 65535 bytes");
        return -1;
    }
    memcpy(o + *n, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    *n += (size_t)PyBytes_GET_SIZE(b);
    Py_DECREF(b);
    (void)start;
    return 0;
}

/* One section (a DNSQR/DNSRR or a list of them) in wire form; *count records. */
static PyObject *dns_section_wire(fp_state *st, const fp_bproto *p, int f, PyObject *v, uint64_t *count)
{
    PyObject *seq;
    if (v == Py_None) seq = PyTuple_New(0);
    else if (PyObject_TypeCheck(v, st->DNSQR_Type) || PyObject_TypeCheck(v, st->DNSRR_Type)) seq = PyTuple_Pack(1, v);
    else if (PyList_Check(v) || PyTuple_Check(v)) seq = PySequence_Tuple(v);
    else return type_err(p, f, v, "DNSQR/DNSRR records or a list of them") ? NULL : NULL;
    if (seq == NULL) return NULL;
    uint8_t *buf = PyMem_Malloc(65536);
    size_t n = 0, cap = 65536;
    if (buf == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *r = PyTuple_GET_ITEM(seq, i);
        long type, cls, ttl, rdlen;
        if (PyObject_TypeCheck(r, st->DNSQR_Type)) {
            ok = dns_name_from(PyTuple_GET_ITEM(r, 0), buf, cap, &n) == 0 &&
                 int_item(r, 1, 1, 0xffff, "qtype", &type) == 0 && int_item(r, 2, 1, 0xffff, "qclass", &cls) == 0 &&
                 put_u16(buf, cap, &n, (unsigned)type) == 0 && put_u16(buf, cap, &n, (unsigned)cls) == 0;
        } else if (PyObject_TypeCheck(r, st->DNSRR_Type)) {
            ok = dns_name_from(PyTuple_GET_ITEM(r, 0), buf, cap, &n) == 0 &&
                 int_item(r, 1, 1, 0xffff, "type", &type) == 0 && int_item(r, 2, 1, 0xffff, "rclass", &cls) == 0 &&
                 int_item(r, 3, 0, 0x7fffffffL, "ttl", &ttl) == 0 && int_item(r, 4, -1, 0xffff, "rdlen", &rdlen) == 0 &&
                 put_u16(buf, cap, &n, (unsigned)type) == 0 && put_u16(buf, cap, &n, (unsigned)cls) == 0 &&
                 put_u16(buf, cap, &n, (unsigned)(ttl >> 16)) == 0 && put_u16(buf, cap, &n, (unsigned)ttl & 0xffff) == 0;
            if (ok) {
                size_t at = n;
                ok = put_u16(buf, cap, &n, 0) == 0 && dns_rdata_from(r, type, buf, cap, &n) == 0;
                if (ok) {
                    unsigned len = rdlen >= 0 ? (unsigned)rdlen : (unsigned)(n - at - 2);
                    buf[at] = (uint8_t)(len >> 8);
                    buf[at + 1] = (uint8_t)len;
                }
            }
        } else {
            type_err(p, f, r, "DNSQR/DNSRR records");
            ok = 0;
        }
        if (ok == 0 && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "DNS: message over 65535 bytes");
    }
    *count = (uint64_t)PyTuple_GET_SIZE(seq);
    Py_DECREF(seq);
    PyObject *out = ok ? PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)n) : NULL;
    PyMem_Free(buf);
    return out;
}

/* The default question of Scapy's DNS(): www.example.com, A, IN. */
static PyObject *dns_default_qd(fp_state *st)
{
    PyObject *q = PyStructSequence_New(st->DNSQR_Type);
    if (q == NULL) return NULL;
    PyStructSequence_SET_ITEM(q, 0, PyUnicode_FromString("www.example.com"));
    PyStructSequence_SET_ITEM(q, 1, PyLong_FromLong(1));
    PyStructSequence_SET_ITEM(q, 2, PyLong_FromLong(1));
    PyObject *l = PyList_New(1);
    if (l == NULL) {
        Py_DECREF(q);
        return NULL;
    }
    PyList_SET_ITEM(l, 0, q);
    return l;
}

/* ---- set / get / del ------------------------------------------------------ */

/* Encode a variable field's value into its wire bytes (b->wire). */
static int var_set(fp_state *st, FpLayer *l, int f, PyObject *v)
{
    fp_bnode *b = l->b;
    const fp_bproto *p = b->p;
    int k = var_slot(p, f);
    PyObject *wire;
    uint64_t count = 0;
    switch (p->id) {
    case FP_B_TCP: wire = tcp_options_wire(p, f, v); break;
    case FP_B_IP6_RT: wire = ip6_list_wire(p, f, v); break;
    case FP_B_DNS: wire = dns_section_wire(st, p, f, v, &count); break;
    case FP_B_RAW:
    case FP_B_ICMP6_ECHO_REQ:
    case FP_B_ICMP6_ECHO_REP:
        wire = fp_build_as_bytes(v);
        if (wire == NULL) {
            PyErr_Clear();
            type_err(p, f, v, "bytes or str");
        }
        break;
    default: wire = join_pieces(p, f, v); break;
    }
    if (wire == NULL) return -1;
    if (p->id == FP_B_DNS && b->dns_raw) { /* parsed sections: each in its own slot again */
        for (int s = 0; s < FP_BVARS; s++) {
            uint64_t c = 0;
            PyObject *w = s == k ? NULL : dns_section_wire(st, p, 15 + s, b->var[s] ? b->var[s] : Py_None, &c);
            if (s != k && w == NULL) {
                Py_DECREF(wire);
                return -1;
            }
            Py_XSETREF(b->wire[s], w);
            b->count[s] = (uint16_t)c;
        }
    }
    if (p->id == FP_B_DNS) {
        b->dns_raw = 0;
        b->count[k] = (uint16_t)count;
    }
    Py_XSETREF(b->wire[k], wire);
    Py_XSETREF(b->var[k], Py_NewRef(v));
    b->unpadded = 0;
    return 0;
}

/* Scapy's implicit packets: an IPv4 field given "a.b.c.d/n" (n >= 12) or a number field
 * given a list (each value) or a (low, high) tuple (the inclusive range). The field holds
 * the first value (what bytes() builds, as Scapy's); b->expand keeps (first, count) for a
 * network, the values otherwise. 1: handled, 0: a plain value, -1: error. */
#define FP_EXPAND_MAX (1 << 20)

static int expand_set(FpLayer *l, int f, PyObject *v)
{
    fp_bnode *b = l->b;
    const fp_bproto *p = b->p;
    const fp_bfield *fd = &p->fields[f];
    PyObject *values = NULL;
    uint64_t first;
    if (fd->kind == FP_BK_IP4 && PyUnicode_Check(v) && PyUnicode_FindChar(v, '/', 0, PyUnicode_GET_LENGTH(v), 1) >= 0) {
        const char *s = PyUnicode_AsUTF8(v);
        if (s == NULL) return -1;
        char addr[64];
        const char *slash = strchr(s, '/');
        char *end;
        long n = strtol(slash + 1, &end, 10);
        struct in_addr a;
        if ((size_t)(slash - s) >= sizeof addr || *end || end == slash + 1 || n < 12 || n > 32)
            return field_err(p, f, v, "a network is an address and a prefix length of 12..32");
        memcpy(addr, s, (size_t)(slash - s));
        addr[slash - s] = 0;
        if (inet_pton(AF_INET, addr, &a) != 1) return field_err(p, f, v, "not an IPv4 network");
        uint64_t mask = n == 32 ? 0xffffffffu : (0xffffffffu << (32 - n)) & 0xffffffffu;
        first = ntohl(a.s_addr) & mask;
        values = Py_BuildValue("(KK)", (unsigned long long)first, 1ull << (32 - n));
    } else if (fd->kind == FP_BK_UINT && (PyList_Check(v) || (PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2))) {
        if (PyTuple_Check(v)) { /* (low, high): Scapy's inclusive range */
            uint64_t lo, hi;
            if (uint_from(b->st, p, f, PyTuple_GET_ITEM(v, 0), &lo) < 0 ||
                uint_from(b->st, p, f, PyTuple_GET_ITEM(v, 1), &hi) < 0)
                return -1;
            if (hi < lo || hi - lo >= FP_EXPAND_MAX) return field_err(p, f, v, "a range is (low, high), low <= high");
            values = PyList_New(0);
            for (uint64_t x = lo; values != NULL && x <= hi; x++) {
                PyObject *o = PyLong_FromUnsignedLongLong(x);
                if (o == NULL || PyList_Append(values, o) < 0) Py_CLEAR(values);
                Py_XDECREF(o);
            }
            if (values != NULL) Py_SETREF(values, PyList_AsTuple(values));
        } else {
            if (PyList_GET_SIZE(v) == 0 || PyList_GET_SIZE(v) > FP_EXPAND_MAX)
                return field_err(p, f, v, "a list of values is not empty");
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
                uint64_t x;
                if (uint_from(b->st, p, f, PyList_GET_ITEM(v, i), &x) < 0) return -1;
            }
            values = PyList_AsTuple(v);
        }
        if (values == NULL) return -1;
        PyObject *f0 = PySequence_GetItem(values, 0);
        int r = f0 ? uint_from(b->st, p, f, f0, &first) : -1;
        Py_XDECREF(f0);
        if (r < 0) {
            Py_DECREF(values);
            return -1;
        }
    } else {
        return 0;
    }
    if (values == NULL) return -1;
    PyObject *key = PyLong_FromLong(f);
    if (b->expand == NULL) b->expand = PyDict_New();
    int r = key && b->expand ? PyDict_SetItem(b->expand, key, values) : -1;
    Py_XDECREF(key);
    Py_DECREF(values);
    if (r < 0) return -1;
    b->v[f] = first;
    b->set |= 1u << f;
    return 1;
}

static void expand_clear(fp_bnode *b, int f)
{
    if (b->expand == NULL) return;
    PyObject *key = PyLong_FromLong(f);
    if (key && PyDict_DelItem(b->expand, key) < 0) PyErr_Clear();
    Py_XDECREF(key);
}

int fp_build_set(fp_state *st, FpLayer *l, int f, PyObject *v)
{
    fp_bnode *b = l->b;
    const fp_bproto *p = b->p;
    const fp_bfield *fd = &p->fields[f];
    if (b->expand) expand_clear(b, f);
    if (v != NULL) {
        int e = expand_set(l, f, v);
        if (e != 0) return e < 0 ? -1 : 0;
    }
    if (v == NULL || (v == Py_None && fd->kind != FP_BK_VAR)) { /* del / None: back to default or auto */
        if (fd->kind == FP_BK_VAR) {
            int k = var_slot(p, f);
            Py_CLEAR(b->var[k]);
            Py_CLEAR(b->wire[k]);
            if (p->id == FP_B_DNS) {
                b->dns_raw = 0;
                b->count[k] = 0;
            }
        } else if (fd->kind == FP_BK_IP6) {
            memset(b->a6[fd->slot], 0, 16);
            if (p->id == FP_B_IP6 && fd->slot == 1) b->a6[1][15] = 1;
        } else {
            b->v[f] = fd->dflt;
        }
        b->set &= ~(1u << f);
        return 0;
    }
    uint64_t x;
    switch (fd->kind) {
    case FP_BK_UINT:
        if (uint_from(st, p, f, v, &x) < 0) return -1;
        b->v[f] = x;
        break;
    case FP_BK_IP4:
        if (ip4_from(p, f, v, &x) < 0) return -1;
        b->v[f] = x;
        break;
    case FP_BK_MAC:
        if (mac_from(p, f, v, &x) < 0) return -1;
        b->v[f] = x;
        break;
    case FP_BK_IP6:
        if (ip6_from(p, f, v, b->a6[fd->slot]) < 0) return -1;
        break;
    default:
        if (var_set(st, l, f, v) < 0) return -1;
        break;
    }
    b->set |= 1u << f;
    return 0;
}

/* Source address by the kernel's route to dst (connect() on a UDP socket sends
 * nothing), as Scapy picks it from its routing table; the unspecified address when
 * there is no route. Kept for a second per destination. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int route_src(fp_state *st, int family, const uint8_t *dst, uint8_t *src)
{
    size_t alen = family == AF_INET ? 4 : 16;
    uint64_t now = now_ms();
    for (int i = 0; i < FP_ROUTE_CACHE; i++) {
        fp_route_entry *e = &st->route_cache[i];
        if (e->family == family && now - e->when_ms < 1000 && memcmp(e->dst, dst, alen) == 0) {
            memcpy(src, e->src, alen);
            return 0;
        }
    }
    memset(src, 0, alen);
    int ok = 0;
    Py_BEGIN_ALLOW_THREADS
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        if (family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            a->sin_family = AF_INET;
            a->sin_port = htons(9);
            memcpy(&a->sin_addr, dst, 4);
            sl = sizeof *a;
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(9);
            memcpy(&a->sin6_addr, dst, 16);
            sl = sizeof *a;
        }
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
            struct sockaddr_storage me;
            socklen_t ml = sizeof me;
            if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0) {
                if (family == AF_INET) memcpy(src, &((struct sockaddr_in *)&me)->sin_addr, 4);
                else memcpy(src, &((struct sockaddr_in6 *)&me)->sin6_addr, 16);
                ok = 1;
            }
        }
        close(fd);
    }
    Py_END_ALLOW_THREADS
    fp_route_entry *e = &st->route_cache[st->route_next++ % FP_ROUTE_CACHE];
    e->family = family;
    e->when_ms = now;
    memcpy(e->dst, dst, alen);
    memcpy(e->src, src, alen);
    (void)ok;
    return 0;
}

/* The value an unset FP_BF_ROUTE field takes now (source addresses, ICMP timestamps). */
static void resolve_route_field(fp_state *st, const fp_bnode *b, uint64_t *v, uint8_t *a6)
{
    const fp_bproto *p = b->p;
    uint8_t dst[16], src[16];
    if (p->id == FP_B_IP4 || p->id == FP_B_ARP) {
        uint64_t d = p->id == FP_B_IP4 ? b->v[11] : b->v[8];
        for (int i = 0; i < 4; i++) dst[i] = (uint8_t)(d >> (24 - 8 * i));
        route_src(st, AF_INET, dst, src);
        *v = (uint64_t)src[0] << 24 | (uint64_t)src[1] << 16 | (uint64_t)src[2] << 8 | src[3];
    } else if (p->id == FP_B_IP6) {
        route_src(st, AF_INET6, b->a6[1], a6);
    } else if (p->id == FP_B_ICMP) { /* milliseconds since midnight UT (RFC 792) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *v = (uint64_t)(ts.tv_sec % 86400) * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
}

static PyObject *mac_obj(uint64_t m)
{
    uint8_t a[6];
    for (int i = 0; i < 6; i++) a[i] = (uint8_t)(m >> (40 - 8 * i));
    return fp_mac_str(a);
}

static PyObject *ip4_obj(uint64_t v)
{
    uint8_t a[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return fp_ip4_str(a);
}

/* What Scapy's getattr gives: set values, defaults, None for unset auto fields, the
 * payload's number for next-protocol fields, resolved source addresses. */
PyObject *fp_build_get(fp_state *st, FpLayer *l, int f)
{
    fp_bnode *b = l->b;
    const fp_bproto *p = b->p;
    const fp_bfield *fd = &p->fields[f];
    int set = (b->set >> f) & 1u;
    uint64_t v = b->v[f];
    uint8_t a6[16];
    if (fd->kind == FP_BK_VAR) {
        int k = var_slot(p, f);
        if (p->id == FP_B_TCP && b->var[k] && b->var[k] == b->wire[k]) /* parsed: decode as a view */
            return fp_tcp_options_list((const uint8_t *)PyBytes_AS_STRING(b->wire[k]),
                                       (size_t)PyBytes_GET_SIZE(b->wire[k]));
        if (b->var[k]) return Py_NewRef(b->var[k]);
        if (p->id == FP_B_DNS) return f == 15 ? dns_default_qd(st) : PyList_New(0);
        if (p->id == FP_B_TCP || p->id == FP_B_IP4 || p->id == FP_B_IP6_HOP || p->id == FP_B_IP6_DEST ||
            p->id == FP_B_IP6_RT)
            return PyList_New(0);
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (!set && (fd->flags & FP_BF_AUTO) && p->id != FP_B_DNS) Py_RETURN_NONE;
    if (!set && (fd->flags & FP_BF_NEXT) && b->payload && fp_is_builder(b->payload) && p->next_value)
        p->next_value(LAYER(b->payload)->id, &v);
    if (!set && (fd->flags & FP_BF_ROUTE)) resolve_route_field(st, b, &v, a6);
    else if (fd->kind == FP_BK_IP6) memcpy(a6, b->a6[fd->slot], 16);
    switch (fd->kind) {
    case FP_BK_IP4: return ip4_obj(v);
    case FP_BK_MAC: return mac_obj(v);
    case FP_BK_IP6: return fp_ip6_str(a6);
    default: break;
    }
    if (fd->flags & FP_BF_TCPFLAGS) return fp_tcpflags_new(st, (unsigned)v);
    return PyLong_FromUnsignedLongLong(v);
}

/* ---- stacks ------------------------------------------------------------- */

static FpLayer *innermost(FpLayer *l)
{
    while (l->b->payload && fp_is_builder(l->b->payload)) l = LAYER(l->b->payload);
    return l;
}

static FpLayer *outermost(FpLayer *l)
{
    while (l->b->under) l = l->b->under;
    return l;
}

static int attach(FpLayer *top, PyObject *payload)
{
    FpLayer *in = innermost(top);
    if (in->b->payload) { /* raw bytes at the end: they stay, the new layer goes after */
        PyErr_Format(PyExc_TypeError, "%s already ends in raw bytes; add layers before the payload",
                     top->b->p->name);
        return -1;
    }
    in->b->payload = payload; /* steals */
    if (fp_is_builder(payload)) LAYER(payload)->b->under = in;
    return 0;
}

/* A deep copy of l and its payloads (the copy has no underlayer). */
PyObject *fp_build_copy(fp_state *st, FpLayer *l)
{
    PyObject *top = NULL;
    FpLayer *prev = NULL;
    for (FpLayer *s = l; s != NULL;) {
        FpLayer *c = (FpLayer *)fp_builder_alloc(st, s->id);
        if (c == NULL) {
            Py_XDECREF(top);
            return NULL;
        }
        fp_bnode *d = c->b, *o = s->b;
        d->set = o->set;
        memcpy(d->v, o->v, sizeof d->v);
        memcpy(d->a6, o->a6, sizeof d->a6);
        d->dns_raw = o->dns_raw;
        memcpy(d->count, o->count, sizeof d->count);
        d->unpadded = o->unpadded;
        for (int k = 0; k < FP_BVARS; k++) {
            d->var[k] = Py_XNewRef(o->var[k]); /* values are replaced, never changed in place */
            d->wire[k] = Py_XNewRef(o->wire[k]);
        }
        d->trailer = Py_XNewRef(o->trailer);
        if (o->expand && (d->expand = PyDict_Copy(o->expand)) == NULL) {
            Py_DECREF(top ? top : (PyObject *)c);
            if (top) Py_DECREF(c);
            return NULL;
        }
        if (prev) {
            prev->b->payload = (PyObject *)c;
            d->under = prev;
        } else {
            top = (PyObject *)c;
        }
        prev = c;
        PyObject *next = o->payload;
        if (next && !fp_is_builder(next)) {
            c->b->payload = Py_NewRef(next);
            break;
        }
        s = next ? LAYER(next) : NULL;
    }
    return top;
}

/* A payload operand as a builder stack or bytes (new reference). */
static PyObject *as_payload(fp_state *st, PyObject *o)
{
    if (fp_is_builder(o)) {
        /* a temporary nobody else holds may be linked as it is */
        if (Py_REFCNT(o) == 1 && LAYER(o)->b->under == NULL) return Py_NewRef(o);
        return fp_build_copy(st, LAYER(o));
    }
    if (PyObject_TypeCheck(o, st->LayerBase_Type)) return fp_build_from_view(st, LAYER(o));
    PyObject *b = fp_build_as_bytes(o);
    if (b == NULL) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    return b;
}

PyObject *fp_build_div(PyObject *a, PyObject *b)
{
    fp_state *st = fp_state_from_type(Py_TYPE(PyObject_TypeCheck(a, &PyBaseObject_Type) &&
                                               fp_is_layer(a) ? a : b));
    if (st == NULL) return NULL;
    if (!fp_is_layer(a)) Py_RETURN_NOTIMPLEMENTED;
    PyObject *right = as_payload(st, b);
    if (right == NULL || right == Py_NotImplemented) return right;
    PyObject *left = fp_is_builder(a) ? fp_build_copy(st, LAYER(a)) : fp_build_from_view(st, LAYER(a));
    if (left == NULL || attach(LAYER(left), right) < 0) {
        Py_XDECREF(left);
        if (left) Py_DECREF(right);
        else Py_DECREF(right);
        return NULL;
    }
    return left;
}

/* ---- serializing ---------------------------------------------------------- */

typedef struct {
    fp_blayer rows[FP_BUILD_MAX_LAYERS];
    FpLayer *objs[FP_BUILD_MAX_LAYERS];
    fp_bctx c;
    Py_ssize_t scratch_n;
    uint8_t scratch[65536]; /* variable parts made of several fields (DNS sections) */
} build_job;

/* Rows for the stack from `top` down; a trailing raw payload is a Raw row. */
static int collect(fp_state *st, FpLayer *top, build_job *j)
{
    int n = 0;
    for (FpLayer *s = top; s != NULL;) {
        if (n >= FP_BUILD_MAX_LAYERS - 1) {
            PyErr_Format(PyExc_ValueError, "%s: more than %d layers", top->b->p->name, FP_BUILD_MAX_LAYERS - 1);
            return -1;
        }
        fp_bnode *b = s->b;
        fp_blayer *r = &j->rows[n];
        memset(r, 0, sizeof *r);
        r->p = b->p;
        r->set = b->set;
        r->var_unpadded = (uint8_t)b->unpadded;
        memcpy(r->v, b->v, sizeof r->v);
        memcpy(r->a6, b->a6, sizeof r->a6);
        for (int f = 0; f < b->p->nfields; f++)
            if ((b->p->fields[f].flags & FP_BF_ROUTE) && !((b->set >> f) & 1u) &&
                (b->p->id != FP_B_ICMP || fp_bfield_present(r, f)))
                resolve_route_field(st, b, &r->v[f], r->a6[0]);
        if (b->p->id == FP_B_DNS && !b->dns_raw) {
            /* unset sections: Scapy's default question, no records */
            if (b->wire[0] == NULL) {
                PyObject *qd = dns_default_qd(st);
                if (qd == NULL || var_set(st, s, 15, qd) < 0) {
                    Py_XDECREF(qd);
                    return -1;
                }
                Py_DECREF(qd);
                Py_CLEAR(b->var[0]); /* still the default, not a value the caller set */
            }
            for (int k = 0; k < 4; k++) /* qdcount.. follow the sections' order */
                if (!((b->set >> (11 + k)) & 1u)) r->v[11 + k] = b->count[k];
        }
        /* one variable part: concatenate the slots (DNS has four) */
        int nvar = 0;
        Py_ssize_t total = 0;
        for (int k = 0; k < FP_BVARS; k++)
            if (b->wire[k]) {
                nvar++;
                total += PyBytes_GET_SIZE(b->wire[k]);
            }
        if (nvar == 1) {
            for (int k = 0; k < FP_BVARS; k++)
                if (b->wire[k]) {
                    r->var = (const uint8_t *)PyBytes_AS_STRING(b->wire[k]);
                    r->var_len = (uint32_t)PyBytes_GET_SIZE(b->wire[k]);
                }
        } else if (nvar > 1) {
            if (j->scratch_n + total > (Py_ssize_t)sizeof j->scratch) {
                PyErr_Format(PyExc_ValueError, "%s: variable fields over %zu bytes", b->p->name, sizeof j->scratch);
                return -1;
            }
            r->var = j->scratch + j->scratch_n;
            for (int k = 0; k < FP_BVARS; k++)
                if (b->wire[k]) {
                    memcpy(j->scratch + j->scratch_n, PyBytes_AS_STRING(b->wire[k]), (size_t)PyBytes_GET_SIZE(b->wire[k]));
                    j->scratch_n += PyBytes_GET_SIZE(b->wire[k]);
                }
            r->var_len = (uint32_t)total;
        }
        if (b->trailer) {
            r->trailer = (const uint8_t *)PyBytes_AS_STRING(b->trailer);
            r->trailer_len = (uint32_t)PyBytes_GET_SIZE(b->trailer);
        }
        j->objs[n] = s;
        n++;
        PyObject *next = b->payload;
        if (next && !fp_is_builder(next)) {
            fp_blayer *raw = &j->rows[n];
            memset(raw, 0, sizeof *raw);
            raw->p = &fp_bproto_raw;
            raw->var = (const uint8_t *)PyBytes_AS_STRING(next);
            raw->var_len = (uint32_t)PyBytes_GET_SIZE(next);
            j->objs[n] = NULL;
            n++;
            break;
        }
        s = next ? LAYER(next) : NULL;
    }
    j->c.L = j->rows;
    j->c.n = n;
    return n;
}

/* The bytes of the stack from the outermost layer above `l`; *first is l's row. */
static PyObject *build_stack(fp_state *st, FpLayer *l, build_job *j, int *first)
{
    FpLayer *top = outermost(l);
    j->scratch_n = 0;
    if (collect(st, top, j) < 0) return NULL;
    *first = 0;
    for (int i = 0; i < j->c.n; i++)
        if (j->objs[i] == l) *first = i;
    int64_t total = fp_build_plan(&j->c);
    if (total < 0) {
        PyErr_SetString(PyExc_ValueError, j->c.err);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (out == NULL) return NULL;
    j->c.out = (uint8_t *)PyBytes_AS_STRING(out);
    if (fp_build_write(&j->c) < 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_ValueError, j->c.err);
        return NULL;
    }
    return out;
}

static build_job *job_new(void)
{
    build_job *j = PyMem_Malloc(sizeof *j);
    if (j == NULL) PyErr_NoMemory();
    return j;
}

/* bytes(layer): the layer and its payload, built in the context of its underlayers
 * (Scapy's TCP checksum reads the IP above it). */
PyObject *fp_build_bytes(fp_state *st, FpLayer *l)
{
    build_job *j = job_new();
    if (j == NULL) return NULL;
    int first;
    PyObject *all = build_stack(st, l, j, &first);
    if (all != NULL && first > 0) {
        uint32_t off = j->rows[first].off;
        Py_SETREF(all, PyBytes_FromStringAndSize(PyBytes_AS_STRING(all) + off, PyBytes_GET_SIZE(all) - off));
    }
    PyMem_Free(j);
    return all;
}

/* ---- parsing bytes into a stack ------------------------------------------------- */

static uint64_t get_be(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < w; k++) v = v << 8 | p[k];
    return v;
}

/* Fixed fields of layer p from h (at least its fixed length): all set. */
static void read_fields(fp_bnode *b, const uint8_t *h)
{
    const fp_bproto *p = b->p;
    for (int f = 0; f < p->nfields; f++) {
        const fp_bfield *fd = &p->fields[f];
        if (fd->kind == FP_BK_VAR) continue;
        b->set |= 1u << f;
        switch (fd->kind) {
        case FP_BK_UINT: {
            uint64_t mask = fd->bits >= 64 ? ~0ull : (1ull << fd->bits) - 1;
            b->v[f] = (get_be(h + fd->off, fd->width) >> fd->shift) & mask;
            break;
        }
        case FP_BK_IP4: b->v[f] = get_be(h + fd->off, 4); break;
        case FP_BK_MAC: b->v[f] = get_be(h + fd->off, 6); break;
        case FP_BK_IP6: memcpy(b->a6[fd->slot], h + fd->off, 16); break;
        default: break;
        }
    }
}

static int set_wire(fp_bnode *b, int k, const uint8_t *p, size_t n, PyObject *value)
{
    PyObject *w = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    if (w == NULL) return -1;
    Py_XSETREF(b->wire[k], w);
    Py_XSETREF(b->var[k], value ? value : Py_NewRef(w));
    return 0;
}

PyObject *fp_dns_records(fp_state *st, const uint8_t *msg, uint32_t len, int section); /* layer_dns.c */

static int kind_of_ether(uint64_t t)
{
    switch (t) {
    case 0x0800: return FP_B_IP4;
    case 0x86dd: return FP_B_IP6;
    case 0x0806: return FP_B_ARP;
    case 0x8100:
    case 0x88a8:
    case 0x9100: return FP_B_VLAN;
    default: return -1;
    }
}

static int kind_of_ipproto(uint64_t pr, int v6)
{
    switch (pr) {
    case 6: return FP_B_TCP;
    case 17: return FP_B_UDP;
    case 1: return v6 ? -1 : FP_B_ICMP;
    case 58: return v6 ? FP_B_ICMP6_ECHO_REQ : -1;
    case 4: return FP_B_IP4;
    case 41: return FP_B_IP6;
    case 0: return v6 ? FP_B_IP6_HOP : -1;
    case 43: return v6 ? FP_B_IP6_RT : -1;
    case 44: return v6 ? FP_B_IP6_FRAG : -1;
    case 60: return v6 ? FP_B_IP6_DEST : -1;
    default: return -1;
    }
}

/* Parse data[0..n) as layer kind `id` and what follows; a new stack. Headers that do not
 * fit, and payloads of kinds not built here, are raw bytes. */
PyObject *fp_build_parse(fp_state *st, int id, const uint8_t *data, size_t n)
{
    PyObject *top = NULL;
    FpLayer *prev = NULL;
    size_t pos = 0, end = n;
    int depth = 0, v6 = 0;
    while (id >= 0 && pos < end && depth++ < FP_BUILD_MAX_LAYERS - 2) {
        const uint8_t *h = data + pos;
        size_t avail = end - pos, hlen, pay_end = end;
        int next = -1;
        if (id == FP_B_ICMP6_ECHO_REQ) {
            if (avail < 8 || (h[0] != 128 && h[0] != 129)) break;
            if (h[0] == 129) id = FP_B_ICMP6_ECHO_REP;
        }
        const fp_bproto *p = fp_bproto_of(id);
        if (p == NULL || avail < p->hlen) break;
        if (id == FP_B_ARP && (h[4] != 6 || h[5] != 4)) break;
        if (id == FP_B_DNS && avail < 12) break;
        FpLayer *l = (FpLayer *)fp_builder_alloc(st, id);
        if (l == NULL) goto fail;
        fp_bnode *b = l->b;
        read_fields(b, h);
        hlen = p->hlen;
        switch (id) {
        case FP_B_ETH: next = kind_of_ether(b->v[2]); break;
        case FP_B_VLAN: next = kind_of_ether(b->v[3]); break;
        case FP_B_IP4: {
            size_t ihl = (size_t)(h[0] & 15) * 4, tot = fp_load_be16(h + 2);
            if (ihl > avail) ihl = avail;
            if (ihl > 20 && set_wire(b, 0, h + 20, ihl - 20, NULL) < 0) goto fail_l;
            hlen = ihl > 20 ? ihl : 20;
            b->unpadded = hlen % 4 != 0;
            if (tot >= hlen && tot < avail) pay_end = pos + tot;
            if ((b->v[6] & 0x1fff) == 0) next = kind_of_ipproto(b->v[8], 0);
            break;
        }
        case FP_B_IP6: {
            size_t plen = fp_load_be16(h + 4);
            if (40 + plen < avail) pay_end = pos + 40 + plen;
            next = kind_of_ipproto(b->v[4], 1);
            v6 = 1;
            break;
        }
        case FP_B_IP6_HOP:
        case FP_B_IP6_DEST:
        case FP_B_IP6_RT: {
            hlen = ((size_t)h[1] + 1) * 8;
            if (hlen > avail) goto raw_l;
            if (id == FP_B_IP6_RT) {
                if (set_wire(b, 0, h + 8, hlen - 8, NULL) < 0) goto fail_l;
                PyObject *addrs = PyList_New(0);
                for (size_t a = 8; addrs != NULL && a + 16 <= hlen; a += 16) {
                    PyObject *s = fp_ip6_str(h + a);
                    if (s == NULL || PyList_Append(addrs, s) < 0) Py_CLEAR(addrs);
                    Py_XDECREF(s);
                }
                if (addrs == NULL) goto fail_l;
                Py_SETREF(b->var[0], addrs);
            } else if (set_wire(b, 0, h + 2, hlen - 2, NULL) < 0) {
                goto fail_l;
            }
            next = kind_of_ipproto(b->v[0], 1);
            break;
        }
        case FP_B_IP6_FRAG:
            if (b->v[2] == 0) next = kind_of_ipproto(b->v[0], 1);
            break;
        case FP_B_TCP: {
            size_t off = (size_t)(h[12] >> 4) * 4;
            if (off > avail) off = avail;
            if (off > 20 && set_wire(b, 0, h + 20, off - 20, NULL) < 0) goto fail_l;
            hlen = off > 20 ? off : 20;
            b->unpadded = hlen % 4 != 0;
            break;
        }
        case FP_B_UDP: {
            size_t ul = fp_load_be16(h + 4);
            if (ul >= 8 && ul < avail) pay_end = pos + ul;
            if (b->v[0] == 53 || b->v[1] == 53) next = FP_B_DNS;
            break;
        }
        case FP_B_ICMP: {
            uint64_t t = b->v[0];
            b->v[0] = t; /* COND fields follow the type */
            fp_blayer row = {.p = p};
            memcpy(row.v, b->v, sizeof row.v);
            hlen = p->hlen_of(&row);
            if (hlen > avail) goto raw_l;
            /* words after the checksum, per type */
            uint32_t w = (uint32_t)get_be(h + 4, 4);
            b->v[3] = w >> 16;
            b->v[4] = w & 0xffff;
            b->v[8] = w;
            b->v[9] = w >> 24;
            b->v[10] = w >> 24;
            b->v[11] = (w >> 16) & 0xff;
            b->v[13] = w & 0xffff;
            b->v[14] = (t == 11 || t == 12) ? (w & 0xffff) : w;
            if (hlen == 20) {
                b->v[5] = get_be(h + 8, 4);
                b->v[6] = get_be(h + 12, 4);
                b->v[7] = get_be(h + 16, 4);
            }
            if (hlen == 12) b->v[12] = get_be(h + 8, 4);
            if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) next = FP_B_IP4;
            break;
        }
        case FP_B_ICMP6_ECHO_REQ:
        case FP_B_ICMP6_ECHO_REP:
            if (set_wire(b, 0, h + 8, avail - 8, NULL) < 0) goto fail_l;
            hlen = avail;
            break;
        case FP_B_DNS: {
            if (set_wire(b, 0, h + 12, avail - 12, NULL) < 0) goto fail_l;
            b->dns_raw = 1;
            for (int s = 0; s < 4; s++) {
                PyObject *recs = fp_dns_records(st, h, (uint32_t)avail, s);
                if (recs == NULL) goto fail_l;
                Py_XSETREF(b->var[s], recs);
            }
            hlen = avail;
            break;
        }
        default: break;
        }
        if (pay_end < end) {
            b->trailer = PyBytes_FromStringAndSize((const char *)data + pay_end, (Py_ssize_t)(end - pay_end));
            if (b->trailer == NULL) goto fail_l;
        }
        if (prev) {
            prev->b->payload = (PyObject *)l;
            b->under = prev;
        } else {
            top = (PyObject *)l;
        }
        prev = l;
        pos += hlen;
        end = pay_end;
        id = next;
        (void)v6;
        continue;
    raw_l:
        Py_DECREF(l);
        break;
    fail_l:
        Py_DECREF(l);
        goto fail;
    }
    if (pos < end) {
        PyObject *rest = PyBytes_FromStringAndSize((const char *)data + pos, (Py_ssize_t)(end - pos));
        if (rest == NULL) goto fail;
        if (prev) prev->b->payload = rest;
        else {
            Py_DECREF(rest);
            PyErr_Format(PyExc_ValueError, "%s: %zu bytes are too few for its header", fp_bproto_of(id)->name, n);
            return NULL;
        }
    }
    if (top == NULL) {
        PyErr_SetString(PyExc_ValueError, "no bytes to parse");
        return NULL;
    }
    return top;
fail:
    Py_XDECREF(top);
    return NULL;
}

/* A view layer (or its packet's stack from it down) as a builder stack. */
PyObject *fp_build_from_view(fp_state *st, FpLayer *v)
{
    PyObject *raw = PyObject_GetAttrString((PyObject *)v, "raw");
    if (raw == NULL) return NULL;
    int id = v->id == FP_L_ICMP6 ? FP_B_ICMP6_ECHO_REQ : v->id;
    if (fp_bproto_of(id) == NULL) {
        Py_DECREF(raw);
        PyErr_Format(PyExc_TypeError, "cannot build %s layers", fp_layer_names[v->id]);
        return NULL;
    }
    PyObject *r = fp_build_parse(st, id, (const uint8_t *)PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw));
    Py_DECREF(raw);
    return r;
}

/* ---- the view of built bytes ------------------------------------------------ */

PyObject *fp_build_packet(fp_state *st, FpLayer *l)
{
    FpLayer *top = outermost(l);
    uint32_t lt;
    switch (top->id) {
    case FP_B_ETH: lt = FP_LINKTYPE_ETHERNET; break;
    case FP_B_IP4: lt = FP_LINKTYPE_IPV4; break;
    case FP_B_IP6: lt = FP_LINKTYPE_IPV6; break;
    default:
        PyErr_Format(PyExc_AttributeError, "a %s stack has no dissected view: put it under Ether, IP or IPv6",
                     top->b->p->name);
        return NULL;
    }
    PyObject *raw = fp_build_bytes(st, top);
    if (raw == NULL) return NULL;
    FpPacket *pkt = fp_packet_from_bytes(st, (const uint8_t *)PyBytes_AS_STRING(raw), (uint32_t)PyBytes_GET_SIZE(raw),
                                         (uint32_t)PyBytes_GET_SIZE(raw), lt, 0);
    Py_DECREF(raw);
    return (PyObject *)pkt;
}

PyObject *fp_build_view(fp_state *st, FpLayer *l, PyObject **packet)
{
    PyObject *pkt = fp_build_packet(st, l);
    if (pkt == NULL) return NULL;
    int id = l->id == FP_B_ICMP6_ECHO_REP ? FP_L_ICMP6 : l->id;
    if (id >= FP_L_COUNT || !FP_HAS(&((FpPacket *)pkt)->d, id)) {
        Py_DECREF(pkt);
        PyErr_Format(PyExc_AttributeError, "%s: no dissected view of this layer", l->b->p->name);
        return NULL;
    }
    PyObject *view = fp_layer_new(st, (FpPacket *)pkt, (fp_layer_id)id, 0);
    if (view == NULL) Py_DECREF(pkt);
    else *packet = pkt;
    return view;
}

int fp_build_extent(fp_state *st, FpLayer *l, uint32_t *off, uint32_t *hlen)
{
    build_job *j = job_new();
    if (j == NULL) return -1;
    int first;
    PyObject *all = build_stack(st, l, j, &first);
    if (all != NULL) {
        *off = j->rows[first].off;
        *hlen = j->rows[first].hlen;
    }
    PyMem_Free(j);
    Py_XDECREF(all);
    return all ? 0 : -1;
}

/* ---- editing dissected packets ------------------------------------------------- */

PyObject *fp_build_packet_stack(fp_state *st, FpPacket *p)
{
    int id = -1;
    switch (p->linktype) {
    case FP_LINKTYPE_ETHERNET: id = FP_B_ETH; break;
    case FP_LINKTYPE_IPV4: id = FP_B_IP4; break;
    case FP_LINKTYPE_IPV6: id = FP_B_IP6; break;
    case FP_LINKTYPE_RAW:
    case 12:
    case 14:
        if (p->caplen) id = (p->data[0] >> 4) == 6 ? FP_B_IP6 : FP_B_IP4;
        break;
    default: break;
    }
    if (id < 0) {
        PyErr_Format(PyExc_TypeError, "packets of link type %u cannot be edited: fastpkt builds "
                     "Ethernet and raw IP frames", p->linktype);
        return NULL;
    }
    return fp_build_parse(st, id, p->data, p->caplen);
}

static int node_shows(const FpLayer *n, int view_id)
{
    if (n->id == view_id) return 1;
    return view_id == FP_L_ICMP6 && (n->id == FP_B_ICMP6_ECHO_REQ || n->id == FP_B_ICMP6_ECHO_REP);
}

FpLayer *fp_view_node(FpLayer *v, int create)
{
    FpPacket *p = v->pkt;
    if (p->edit == NULL) {
        if (!create) return NULL;
        p->edit = fp_build_packet_stack(p->st, p);
        if (p->edit == NULL) return NULL;
        fp_packet_hot_views_edited(p);
    }
    int seen = 0;
    for (PyObject *o = p->edit; o != NULL && fp_is_builder(o); o = LAYER(o)->b->payload)
        if (node_shows(LAYER(o), v->id) && seen++ == v->index) return LAYER(o);
    PyErr_Format(PyExc_AttributeError, "this packet's %s layer cannot be edited: fastpkt builds "
                 "Ether, Dot1Q, ARP, IP, IPv6, TCP, UDP, ICMP, ICMPv6 echo and DNS over UDP",
                 fp_layer_names[v->id]);
    return NULL;
}

/* ---- implicit packets ---------------------------------------------------------- */

PyObject *fp_build_expand(fp_state *st, FpLayer *l)
{
    struct {
        int node, field, net;
        uint64_t base;
        Py_ssize_t n;
        PyObject *values; /* borrowed from the node's dict */
    } axes[64];
    int nn = 0, na = 0;
    uint64_t total = 1;
    for (PyObject *o = (PyObject *)l; o && fp_is_builder(o) && nn < FP_BUILD_MAX_LAYERS; o = LAYER(o)->b->payload) {
        FpLayer *n = LAYER(o);
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (n->b->expand && PyDict_Next(n->b->expand, &pos, &k, &v) && na < 64) {
            axes[na].node = nn;
            axes[na].field = (int)PyLong_AsLong(k);
            axes[na].net = n->b->p->fields[axes[na].field].kind == FP_BK_IP4;
            axes[na].values = v;
            if (axes[na].net) {
                axes[na].base = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(v, 0));
                axes[na].n = (Py_ssize_t)PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(v, 1));
            } else {
                axes[na].n = PyTuple_GET_SIZE(v);
            }
            total *= (uint64_t)axes[na].n;
            if (total > FP_EXPAND_MAX) {
                PyErr_Format(PyExc_ValueError, "%s: more than %d packets", l->b->p->name, FP_EXPAND_MAX);
                return NULL;
            }
            na++;
        }
        nn++;
    }
    PyObject *out = PyList_New((Py_ssize_t)total);
    for (uint64_t i = 0; out != NULL && i < total; i++) {
        PyObject *c = fp_build_copy(st, l);
        if (c == NULL) {
            Py_CLEAR(out);
            break;
        }
        FpLayer *cn[FP_BUILD_MAX_LAYERS];
        int k = 0;
        for (PyObject *o = c; o && fp_is_builder(o) && k < nn; o = LAYER(o)->b->payload) {
            cn[k++] = LAYER(o);
            Py_CLEAR(LAYER(o)->b->expand);
        }
        uint64_t rest = i; /* the last axis varies fastest, as in Scapy */
        for (int a = na - 1; a >= 0; a--) {
            uint64_t idx = rest % (uint64_t)axes[a].n;
            rest /= (uint64_t)axes[a].n;
            fp_bnode *b = cn[axes[a].node]->b;
            if (axes[a].net) b->v[axes[a].field] = axes[a].base + idx;
            else b->v[axes[a].field] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(axes[a].values, (Py_ssize_t)idx));
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, c);
    }
    return out;
}
