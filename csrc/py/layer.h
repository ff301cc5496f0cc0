/* Protocol layer views, shared by layer.c (base type, generic fields, registration) and
 * the per-protocol layer_*.c files (their fields and type specs). */
#ifndef FP_PY_LAYER_H
#define FP_PY_LAYER_H

#include "pyfp.h"
#include "../dissect/cursor.h"

#define LAYER(o) ((FpLayer *)(o))

/* index of a view of the outermost IP header of a tunnelled packet (pkt.outer_ip) */
#define FP_LAYER_OUTER 0xff
static inline int louter(const FpLayer *l) { return l->index == FP_LAYER_OUTER && l->id != FP_L_VLAN; }
static inline const fp_span *lspan(const FpLayer *l)
{
    return louter(l) ? &l->pkt->d.outer_ip : &l->pkt->d.layer[l->id];
}
static inline const uint8_t *ldata(const FpLayer *l) { return l->pkt->data; }

/* A TCP view's 9 flag bits (the dissector decoded the header, so bytes 12-13 are there). */
static inline unsigned fp_tcp_view_flags(const FpLayer *l)
{
    const uint8_t *p = ldata(l) + lspan(l)->off;
    return ((unsigned)(p[12] & 1) << 8) | p[13];
}

/* First byte of this layer's header: VLAN tags are 4 bytes each after the first. */
static inline uint32_t lhdr_off(const FpLayer *l)
{
    uint32_t off = lspan(l)->off;
    if (l->id == FP_L_VLAN) off += 4u * l->index;
    return off;
}

/* Fixed-position fields: closure = offset | width << 8 | shift << 12 | bits << 18 | bool << 24 */
#define FLD(off, width, shift, bits) \
    ((void *)(uintptr_t)((off) | ((width) << 8) | ((shift) << 12) | ((uintptr_t)(bits) << 18)))
#define FLDB(off, width, shift) \
    ((void *)(uintptr_t)((off) | ((width) << 8) | ((shift) << 12) | (1u << 18) | (1u << 24)))
#define U8(off) FLD(off, 1, 0, 8)
#define U16(off) FLD(off, 2, 0, 16)
#define U32(off) FLD(off, 4, 0, 32)

static inline int field_load(const uint8_t *base, uint32_t avail, uintptr_t c, uint32_t *out)
{
    unsigned off = c & 0xff, width = (c >> 8) & 0xf, shift = (c >> 12) & 0x3f,
             bits = (c >> 18) & 0x3f;
    if (off + width > avail) return -1;
    const uint8_t *p = base + off;
    uint32_t v = width == 1 ? p[0] : width == 2 ? fp_load_be16(p) : fp_load_be32(p);
    v >>= shift;
    if (bits < 32) v &= (1u << bits) - 1;
    *out = v;
    return 0;
}

static inline PyObject *field_obj(uintptr_t c, uint32_t v)
{
    if (c & (1u << 24)) return PyBool_FromLong(v);
    return PyLong_FromUnsignedLong(v);
}

/* A C tri-state (1, 0, -1 unknown) as True, False, None. */
static inline PyObject *tristate(int r)
{
    if (r < 0) Py_RETURN_NONE;
    return PyBool_FromLong(r);
}

/* Getters for the getset tables (layer.c): a FLD() field relative to the header; a MAC
 * (closure: offset from the header), IPv4 or IPv6 address (offset from the layer). */
PyObject *fp_layer_get_field(PyObject *self, void *closure);
PyObject *fp_layer_get_mac(PyObject *self, void *closure);
PyObject *fp_layer_get_ip4(PyObject *self, void *closure);
PyObject *fp_layer_get_ip6(PyObject *self, void *closure);
extern PyMethodDef fp_layer_l4_methods[]; /* checksum_ok() of TCP, UDP, ICMP, ICMPv6 */
extern PyMethodDef fp_layer_no_methods[];

/* The HTTP message a layer holds (layer_http.c); its header part ends where the body starts. */
int fp_layer_http_parse(const FpLayer *l, fp_http_message *m);

void fp_layer_dealloc(PyObject *self);
PyObject *fp_layer_getattro(PyObject *self, PyObject *name);

#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define Py_TPFLAGS_DISALLOW_INSTANTIATION 0
#endif

/* BASETYPE: fastpkt.scapy subclasses the view types (no new fields, see _set_facade_types) */
#define LAYER_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_BASETYPE)

/* layer_build.c: constructing (builder mode) and setting fields */
PyObject *fp_layer_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds);
int fp_layer_setattro(PyObject *self, PyObject *name, PyObject *value);

#define LAYER_SPEC(cname, pyname, doc, getset, methods) LAYER_SPEC_F(cname, pyname, doc, getset, methods, 0)
/* extra_flags: Py_TPFLAGS_BASETYPE for the views builder-only types extend (ICMPv6). */
#define LAYER_SPEC_F(cname, pyname, doc, getset, methods, extra_flags)                    \
    static PyType_Slot cname##_slots[] = {                                                \
        {Py_tp_doc, (void *)(doc)},                                                       \
        {Py_tp_dealloc, fp_layer_dealloc}, /* not subtype_dealloc: layers are made per access */ \
        {Py_tp_getattro, fp_layer_getattro},                                              \
        {Py_tp_setattro, fp_layer_setattro},                                              \
        {Py_tp_new, fp_layer_tp_new},                                                     \
        {Py_tp_getset, getset},                                                           \
        {Py_tp_methods, methods},                                                         \
        {0, NULL},                                                                        \
    };                                                                                    \
    static PyType_Spec cname##_spec = {                                                   \
        .name = "fastpkt." pyname,                                                        \
        .basicsize = sizeof(FpLayer),                                                     \
        .flags = LAYER_FLAGS | (extra_flags),                                             \
        .slots = cname##_slots,                                                           \
    }

/* One layer type: its spec, the layer id it serves, its `fields` (Scapy's order), the
 * fields its repr shows (a leading '#' prints the int in hex) and, optionally, a hook
 * that adds class attributes. */
typedef struct {
    PyType_Spec *spec;
    fp_layer_id id;
    const char *const *fields;
    const char *const *repr;
    int (*setup)(PyObject *m, PyTypeObject *tp);
} fp_layer_def;

#define FP_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

extern const fp_layer_def fp_layer_ether, fp_layer_sll, fp_layer_loop, fp_layer_vlan, fp_layer_arp,
    fp_layer_ip4, fp_layer_ip6, fp_layer_tcp, fp_layer_udp, fp_layer_icmp, fp_layer_icmp6, fp_layer_dns,
    fp_layer_http, fp_layer_tls, fp_layer_radiotap, fp_layer_dot11;

/* A protocol getter's entry as written (the class holds it behind the builder guard). */
const PyGetSetDef *fp_view_getter(const PyGetSetDef *d);
/* A view method called by hand on a builder: the builder's own `self.name()`. */
PyObject *fp_builder_method(PyObject *self, const char *name);

/* A class attribute of an immutable type, set before first use. */
int fp_layer_set_class_attr(PyTypeObject *tp, const char *name, PyObject *value);

#endif
