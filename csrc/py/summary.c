/* _fastpkt._summary(reader, ...): the counters behind fastpkt.summary.summarize (`fastpkt
 * summary`) in one pass over the Reader's records, dissected as the packet table dissects
 * them, with the GIL released per batch: no Packet, PacketList or column is made, and the
 * state is a fixed set of counters plus five top-N tables whose size is bounded.
 *
 * The open-ended sections (talkers by packets and by bytes, DNS query names, TLS SNIs, HTTP
 * hosts) count exactly while their distinct keys fit `capacity` keys and `key_bytes` bytes of
 * names; past that a table becomes a Space-Saving sketch (Metwally, Agrawal, El Abbadi 2005):
 * a new key takes the place of the smallest kept one and inherits its count, so a kept
 * key's count is over by at most that inherited error, never under, and any key seen more
 * often than (total / keys kept) is kept. A long name past the byte budget drops the smallest
 * entries until it fits (their largest count becomes the least a newcomer inherits, which
 * keeps counts from going under); only a name longer than the whole budget is not counted
 * (its packets are in `cut`). */
#include "pyfp.h"

#include <string.h>

#include "columns.h"

/* A key up to 16 bytes (addresses; short names) lives in its entry, a longer one in memory of
 * its own, charged to the table's byte budget. */
#define SS_INLINE 16

typedef struct {
    uint64_t count;
    uint32_t hash, len;
    uint32_t heap_pos; /* its place in the heap once the table is a sketch */
    union {
        uint8_t in[SS_INLINE];
        uint8_t *ptr;
    } key;
} ss_entry;

typedef struct {
    ss_entry *e;
    uint32_t n, e_cap, cap; /* entries used, allocated, allowed */
    uint32_t *slots;        /* open addressing, linear probing: entry index + 1, 0 = empty */
    uint32_t nslots;
    uint32_t *heap;         /* entry indices, a min-heap on count: made at the first eviction */
    size_t key_bytes, max_key_bytes;
    uint64_t floor;         /* the largest count dropped to make room for a long name */
    uint64_t cut;           /* weight of names longer than the whole byte budget */
    int sketch, oom;
} ss_table;

static inline const uint8_t *ss_key(const ss_entry *e) { return e->len <= SS_INLINE ? e->key.in : e->key.ptr; }

static void ss_free(ss_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->e[i].len > SS_INLINE) PyMem_RawFree(t->e[i].key.ptr);
    PyMem_RawFree(t->e);
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->heap);
}

/* Bytes the table holds (entries, slots, heap, long keys). */
static size_t ss_bytes(const ss_table *t)
{
    return (size_t)t->e_cap * sizeof *t->e + (size_t)t->nslots * sizeof *t->slots +
           (t->heap ? (size_t)t->e_cap * sizeof *t->heap : 0) + t->key_bytes;
}

static int ss_grow(ss_table *t)
{
    uint32_t e_cap = t->e_cap ? t->e_cap * 2 : 64;
    if (e_cap > t->cap) e_cap = t->cap;
    ss_entry *e = PyMem_RawRealloc(t->e, (size_t)e_cap * sizeof *e);
    if (e == NULL) return -1;
    t->e = e;
    t->e_cap = e_cap;
    uint32_t nslots = t->nslots ? t->nslots : 128;
    while (nslots < 2 * (uint64_t)e_cap) nslots *= 2;
    if (nslots == t->nslots) return 0;
    uint32_t *slots = PyMem_RawCalloc(nslots, sizeof *slots);
    if (slots == NULL) return -1;
    for (uint32_t c = 0; c < t->n; c++) {
        uint32_t i = t->e[c].hash & (nslots - 1);
        while (slots[i]) i = (i + 1) & (nslots - 1);
        slots[i] = c + 1;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static void heap_swap(ss_table *t, uint32_t a, uint32_t b)
{
    uint32_t x = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = x;
    t->e[t->heap[a]].heap_pos = a;
    t->e[t->heap[b]].heap_pos = b;
}

/* A count only grows: its entry moves towards the leaves. */
static void heap_down(ss_table *t, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < t->n && t->e[t->heap[l]].count < t->e[t->heap[m]].count) m = l;
        if (l + 1 < t->n && t->e[t->heap[l + 1]].count < t->e[t->heap[m]].count) m = l + 1;
        if (m == i) return;
        heap_swap(t, i, m);
        i = m;
    }
}

static int ss_make_heap(ss_table *t)
{
    if ((t->heap = PyMem_RawMalloc((size_t)t->n * sizeof *t->heap)) == NULL) return -1;
    for (uint32_t i = 0; i < t->n; i++) {
        t->heap[i] = i;
        t->e[i].heap_pos = i;
    }
    for (uint32_t i = t->n / 2; i-- > 0;) heap_down(t, i);
    t->sketch = 1;
    return 0;
}

/* Entry c's slot emptied; later slots of its probe run shift back (no tombstones). */
static void ss_unslot(ss_table *t, uint32_t c)
{
    uint32_t mask = t->nslots - 1, i = t->e[c].hash & mask;
    while (t->slots[i] != c + 1) i = (i + 1) & mask;
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        if (!t->slots[j]) break;
        uint32_t home = t->e[t->slots[j] - 1].hash & mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i] = 0;
}

static inline size_t ss_long_bytes(const ss_entry *e) { return e->len > SS_INLINE ? e->len : 0; }

/* The smallest entry dropped without a successor (room for a long name): the last entry
 * takes its place in the array, the heap's last leaf its place in the heap. */
static void ss_drop_min(ss_table *t)
{
    uint32_t c = t->heap[0], last = t->n - 1;
    ss_entry *e = &t->e[c];
    if (e->count > t->floor) t->floor = e->count;
    ss_unslot(t, c);
    if (e->len > SS_INLINE) {
        PyMem_RawFree(e->key.ptr);
        t->key_bytes -= e->len;
    }
    t->heap[0] = t->heap[last];
    t->e[t->heap[0]].heap_pos = 0;
    if (c != last) {
        uint32_t mask = t->nslots - 1, i = t->e[last].hash & mask;
        while (t->slots[i] != last + 1) i = (i + 1) & mask;
        t->slots[i] = c + 1;
        t->e[c] = t->e[last];
        t->heap[t->e[c].heap_pos] = c;
    }
    t->n = last;
    if (t->n) heap_down(t, 0);
}

static int ss_set_key(ss_table *t, ss_entry *e, const uint8_t *key, uint32_t n, uint32_t h)
{
    if (n > SS_INLINE) {
        uint8_t *p = PyMem_RawMalloc(n);
        if (p == NULL) return -1;
        memcpy(p, key, n);
        e->key.ptr = p;
        t->key_bytes += n;
    } else {
        memcpy(e->key.in, key, n);
    }
    e->len = n;
    e->hash = h;
    return 0;
}

static void ss_add(ss_table *t, const uint8_t *key, size_t len, uint64_t w)
{
    if (t->oom) return;
    uint32_t n = (uint32_t)len, h = fp_hash_bytes(key, len);
    uint32_t i = 0;
    if (t->nslots) {
        uint32_t mask = t->nslots - 1;
        for (i = h & mask; t->slots[i]; i = (i + 1) & mask) {
            ss_entry *e = &t->e[t->slots[i] - 1];
            if (e->hash == h && e->len == n && memcmp(ss_key(e), key, n) == 0) {
                e->count += w;
                if (t->sketch) heap_down(t, e->heap_pos);
                return;
            }
        }
    }
    size_t long_bytes = n > SS_INLINE ? n : 0;
    if (!t->sketch && t->n < t->cap && t->key_bytes + long_bytes <= t->max_key_bytes) {
        if (t->n == t->e_cap || 2 * (uint64_t)(t->n + 1) > t->nslots) {
            if (ss_grow(t) < 0) goto oom;
            uint32_t mask = t->nslots - 1; /* the table was rehashed: probe again for a free slot */
            for (i = h & mask; t->slots[i]; i = (i + 1) & mask) {}
        }
        ss_entry *e = &t->e[t->n];
        if (ss_set_key(t, e, key, n, h) < 0) goto oom;
        e->count = w;
        t->slots[i] = ++t->n;
        return;
    }
    if (t->n && !t->sketch && ss_make_heap(t) < 0) goto oom;
    while (t->n > 1 && t->key_bytes - ss_long_bytes(&t->e[t->heap[0]]) + long_bytes > t->max_key_bytes)
        ss_drop_min(t); /* a long name past the byte budget: fewer, longer keys */
    if (t->n == 0 || t->key_bytes - ss_long_bytes(&t->e[t->heap[0]]) + long_bytes > t->max_key_bytes) {
        t->cut += w; /* a capacity of 0, or one name longer than the whole budget */
        t->sketch = 1;
        return;
    }
    uint32_t c = t->heap[0];
    ss_entry *e = &t->e[c];
    ss_unslot(t, c);
    if (e->len > SS_INLINE) {
        PyMem_RawFree(e->key.ptr);
        t->key_bytes -= e->len;
    }
    e->len = 0;
    if (ss_set_key(t, e, key, n, h) < 0) goto oom;
    /* the newcomer may have been seen as often as the replaced key or a dropped one: that count
     * is its possible error (so it is never under its true count) */
    if (e->count < t->floor) e->count = t->floor;
    e->count += w;
    uint32_t mask = t->nslots - 1;
    for (i = h & mask; t->slots[i]; i = (i + 1) & mask) {}
    t->slots[i] = c + 1;
    heap_down(t, 0);
    return;
oom:
    t->oom = 1;
}

/* ---- the pass ----------------------------------------------------------------------- */

enum { P_ETH, P_IP4, P_IP6, P_TCP, P_UDP, P_ICMP, P_ICMP6, P_ARP, P_DNS, P_HTTP, P_TLS, P_COUNT };
static const char *const proto_names[P_COUNT] = {"Ethernet", "IPv4", "IPv6", "TCP", "UDP", "ICMP",
                                                 "ICMPv6", "ARP", "DNS", "HTTP", "TLS"};
enum { T_TALK_PKTS, T_TALK_BYTES, T_DNS, T_SNI, T_HOST, T_COUNT };
static const char *const table_names[T_COUNT] = {"top_talkers_packets", "top_talkers_bytes", "dns_queries",
                                                 "tls_snis", "http_hosts"};

typedef struct {
    uint64_t packets, bytes, tcp_syn, tcp_rst;
    int64_t first, last;
    int timed;
    uint64_t proto[P_COUNT];
    uint64_t other[256];            /* IP protocols other than the four named */
    uint64_t tcp_ports[65536], udp_ports[65536]; /* packets towards each port (lower port) */
    uint64_t anomalies[FP_ANOM_COUNT_BITS];
    ss_table t[T_COUNT];
} summary_acc;

static void add_talker(summary_acc *a, const uint8_t *addr, size_t n, uint32_t wirelen)
{
    ss_add(&a->t[T_TALK_PKTS], addr, n, 1);
    ss_add(&a->t[T_TALK_BYTES], addr, n, wirelen);
}

static void summary_add(summary_acc *a, const fp_record *rec, const uint8_t *data, const fp_dissection *d)
{
    a->packets++;
    a->bytes += rec->wirelen;
    /* every record's time, as the packet table's time column has it (min and max, not file order) */
    if (!a->timed || rec->ts_ns < a->first) a->first = rec->ts_ns;
    if (!a->timed || rec->ts_ns > a->last) a->last = rec->ts_ns;
    a->timed = 1;
    if (FP_HAS(d, FP_L_ETH)) a->proto[P_ETH]++;
    a->proto[P_IP4] += d->ip_version == 4;
    a->proto[P_IP6] += d->ip_version == 6;
    /* the packet table's src: the IPv4 header's when there is one, else the IPv6 header's */
    if (FP_HAS(d, FP_L_IP4)) add_talker(a, data + d->layer[FP_L_IP4].off + 12, 4, rec->wirelen);
    else if (FP_HAS(d, FP_L_IP6)) add_talker(a, data + d->layer[FP_L_IP6].off + 8, 16, rec->wirelen);
    else if (d->tunnel_count && d->outer_ip_id != FP_L_COUNT) {
        /* a tunnel carrying no IP (PPTP's PPP control frames, GRE keepalives): the packet is
         * the outer header's, as tshark counts it */
        int v4 = d->outer_ip_id == FP_L_IP4;
        a->proto[v4 ? P_IP4 : P_IP6]++;
        add_talker(a, data + d->outer_ip.off + (v4 ? 12 : 8), v4 ? 4 : 16, rec->wirelen);
    }
    if (d->ip_version) {
        switch (d->ip_proto) {
        case 6: a->proto[P_TCP]++; break;
        case 17: a->proto[P_UDP]++; break;
        case 1: a->proto[P_ICMP]++; break;
        case 58: a->proto[P_ICMP6]++; break;
        default: a->other[d->ip_proto]++;
        }
    }
    if (FP_HAS(d, FP_L_ARP)) a->proto[P_ARP]++;
    if (FP_HAS(d, FP_L_DNS)) a->proto[P_DNS]++;
    if (FP_HAS(d, FP_L_HTTP)) a->proto[P_HTTP]++;
    if (FP_HAS(d, FP_L_TLS)) a->proto[P_TLS]++;
    int tcp = FP_HAS(d, FP_L_TCP), ports = tcp || FP_HAS(d, FP_L_UDP);
    /* towards services: the lower port is the server's (replies to ephemeral ports drop out) */
    if (ports && d->dport <= d->sport) (tcp ? a->tcp_ports : a->udp_ports)[d->dport]++;
    if (tcp) {
        uint8_t flags = data[d->layer[FP_L_TCP].off + 13];
        a->tcp_syn += (flags & 0x12) == 0x02;
        a->tcp_rst += (flags & 0x04) != 0;
    }
    for (uint64_t bits = d->anomalies; bits; bits &= bits - 1) a->anomalies[__builtin_ctzll(bits)]++;
    if (FP_HAS(d, FP_L_DNS) || FP_HAS(d, FP_L_TLS) || FP_HAS(d, FP_L_HTTP)) {
        fp_app_keys k;
        fp_app_keys_get(&k, data, d);
        /* names in queries to a DNS server (port 53; mDNS and LLMNR ask everyone) */
        if (k.qname && !k.dns_response && ports && d->dport == 53) ss_add(&a->t[T_DNS], k.qname, k.qlen, 1);
        if (k.sni) ss_add(&a->t[T_SNI], k.sni, k.slen, 1);
        if (k.host) ss_add(&a->t[T_HOST], k.host, k.hlen, 1);
    }
}

static int summary_oom(const summary_acc *a)
{
    for (int i = 0; i < T_COUNT; i++)
        if (a->t[i].oom) return 1;
    return 0;
}

/* Pull, dissect and count the Reader's records, `batch` at a time with the GIL released. */
static int run_reader(fp_state *st, PyObject *reader, summary_acc *a, unsigned batch, PyObject *progress)
{
    fp_reader_obj *r = (fp_reader_obj *)reader;
    if (r->src == NULL || r->closed) return 0;
    r->keep_dissection = 1; /* a display filter's dissection is the one counted */
    fp_record rec;
    fp_error err;
    char errbuf[512];
    int rc = FP_PULL_END;
    for (;;) {
        if (fp_readers_claim(&reader, 1) < 0) return -1;
        int oom = 0;
        Py_BEGIN_ALLOW_THREADS
        fp_dissection d;
        unsigned n = 0;
        while (n++ < batch && (rc = fp_reader_pull(r, &rec, &err, errbuf, sizeof errbuf)) == FP_PULL_RECORD) {
            const fp_dissection *dp = &r->dissection;
            if (r->dfilter == NULL) {
                fp_dissect_ex(rec.data, rec.caplen, rec.wirelen, rec.linktype,
                              r->dissect_flags | FP_DISSECT_FCS(rec.fcs_len), &d);
                dp = &d;
            }
            summary_add(a, &rec, rec.data, dp);
        }
        if (n > batch) rc = FP_PULL_RECORD; /* batch done, more to come */
        oom = summary_oom(a);
        Py_END_ALLOW_THREADS
        int failed = 0;
        if (oom) {
            PyErr_NoMemory();
            failed = 1;
        } else if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE) {
            failed = fp_reader_pull_finish(r, st, rc, &rec, &err, errbuf) < 0;
        }
        fp_readers_release(&reader, 1);
        if (failed || PyErr_CheckSignals() < 0) return -1;
        if (fp_reader_report_progress(r, progress) < 0) return -1; /* the last call too: a bar ends at the file's end */
        if (rc != FP_PULL_RECORD && rc != FP_PULL_IDLE) return 0;
    }
}

/* ---- results ------------------------------------------------------------------------ */

/* The kept keys as (str, count) pairs, in no order: addresses as text, names decoded as the
 * packet table decodes them. */
static PyObject *table_list(const ss_table *t, int addresses)
{
    PyObject *list = PyList_New(t->n);
    if (list == NULL) return NULL;
    for (uint32_t i = 0; i < t->n; i++) {
        const ss_entry *e = &t->e[i];
        PyObject *k = !addresses ? PyUnicode_DecodeUTF8((const char *)ss_key(e), e->len, "replace")
                      : e->len == 4 ? fp_ip4_str(ss_key(e))
                                    : fp_ip6_str(ss_key(e));
        PyObject *pair = k ? Py_BuildValue("(NK)", k, (unsigned long long)e->count) : NULL;
        if (pair == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, pair);
    }
    return list;
}

static int set_u64(PyObject *d, const char *key, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    int rc = o ? PyDict_SetItemString(d, key, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static int set_new(PyObject *d, const char *key, PyObject *v)
{
    int rc = v ? PyDict_SetItemString(d, key, v) : -1;
    Py_XDECREF(v);
    return rc;
}

/* counts[i] as {key(i): count} (zeros left out unless all_keys); key: i, or names[i]. */
static PyObject *counts_dict(const uint64_t *counts, int n, const char *const *names, int all_keys)
{
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        if (!counts[i] && !all_keys) continue;
        PyObject *k = names ? PyUnicode_FromString(names[i]) : PyLong_FromLong(i);
        PyObject *v = k ? PyLong_FromUnsignedLongLong(counts[i]) : NULL;
        int rc = v ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *summary_result(const summary_acc *a)
{
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    size_t state = sizeof *a;
    for (int i = 0; i < T_COUNT; i++) state += ss_bytes(&a->t[i]);
    PyObject *sketches = PyList_New(0), *cut = PyDict_New();
    int ok = sketches && cut && set_u64(d, "packets", a->packets) == 0 && set_u64(d, "bytes", a->bytes) == 0 &&
             set_new(d, "first", a->timed ? PyLong_FromLongLong(a->first) : Py_NewRef(Py_None)) == 0 &&
             set_new(d, "last", a->timed ? PyLong_FromLongLong(a->last) : Py_NewRef(Py_None)) == 0 &&
             set_new(d, "protocols", counts_dict(a->proto, P_COUNT, proto_names, 1)) == 0 &&
             set_new(d, "other_ip_protocols", counts_dict(a->other, 256, NULL, 0)) == 0 &&
             set_new(d, "tcp_ports", counts_dict(a->tcp_ports, 65536, NULL, 0)) == 0 &&
             set_new(d, "udp_ports", counts_dict(a->udp_ports, 65536, NULL, 0)) == 0 &&
             set_new(d, "anomalies", counts_dict(a->anomalies, FP_ANOM_COUNT_BITS, fp_anomaly_names, 0)) == 0 &&
             set_u64(d, "tcp_syn", a->tcp_syn) == 0 && set_u64(d, "tcp_rst", a->tcp_rst) == 0 &&
             set_u64(d, "dns_names_kept", a->t[T_DNS].n) == 0 && set_u64(d, "state_bytes", state) == 0;
    for (int i = 0; ok && i < T_COUNT; i++) {
        const ss_table *t = &a->t[i];
        ok = set_new(d, table_names[i], table_list(t, i <= T_TALK_BYTES)) == 0;
        if (ok && t->sketch) {
            PyObject *name = PyUnicode_FromString(table_names[i]);
            ok = name && PyList_Append(sketches, name) == 0;
            Py_XDECREF(name);
        }
        if (ok && t->cut) ok = set_u64(cut, table_names[i], t->cut) == 0;
    }
    if (ok) ok = PyDict_SetItemString(d, "sketched", sketches) == 0 && PyDict_SetItemString(d, "cut", cut) == 0;
    Py_XDECREF(sketches);
    Py_XDECREF(cut);
    if (!ok) Py_CLEAR(d);
    return d;
}

static PyObject *summary_fn(PyObject *mod, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"reader", "capacity", "key_bytes", "batch", "progress", NULL};
    PyObject *reader, *progress = Py_None;
    unsigned int capacity = 100000, batch = 65536;
    Py_ssize_t key_bytes = 16 << 20;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|InIO:_summary", kwlist, &reader, &capacity, &key_bytes, &batch,
                                     &progress))
        return NULL;
    fp_state *st = fp_state_from_module(mod);
    if (st == NULL) return NULL;
    if (!PyObject_TypeCheck(reader, st->Reader_Type)) {
        PyErr_Format(PyExc_TypeError, "a Reader expected, not %s", Py_TYPE(reader)->tp_name);
        return NULL;
    }
    if (key_bytes < 0 || batch == 0 || capacity > (1u << 30)) {
        PyErr_SetString(PyExc_ValueError, "capacity <= 2**30, key_bytes >= 0 and batch > 0 expected");
        return NULL;
    }
    summary_acc *a = PyMem_RawCalloc(1, sizeof *a); /* 1 MiB of port counters: not on the stack */
    if (a == NULL) return PyErr_NoMemory();
    for (int i = 0; i < T_COUNT; i++) {
        a->t[i].cap = capacity;
        a->t[i].max_key_bytes = (size_t)key_bytes;
    }
    PyObject *result = run_reader(st, reader, a, batch, progress) < 0 ? NULL : summary_result(a);
    for (int i = 0; i < T_COUNT; i++) ss_free(&a->t[i]);
    PyMem_RawFree(a);
    return result;
}

static PyMethodDef summary_functions[] = {
    {"_summary", (PyCFunction)(void (*)(void))summary_fn, METH_VARARGS | METH_KEYWORDS,
     "_summary(reader, capacity=100000, key_bytes=16777216, batch=65536, progress=None)\n--\n\n"
     "Read the Reader's remaining records in C (GIL released per batch of records) and count\n"
     "what fastpkt.summary.summarize reports. Top-N sections keep at most `capacity` keys and\n"
     "`key_bytes` bytes of names longer than 16 bytes each, exactly while they fit, then as a\n"
     "Space-Saving sketch (listed in 'sketched'; refused names' packets in 'cut')."},
    {NULL},
};

int fp_summary_register(PyObject *m) { return PyModule_AddFunctions(m, summary_functions); }
