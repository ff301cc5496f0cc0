/* Builder-mode layers (csrc/py/build.c), shared with layer.c and the layer_*.c files. */
#ifndef FP_PY_BUILD_H
#define FP_PY_BUILD_H

#include "layer.h"
#include "../dissect/build.h"

#define FP_BVARS 4 /* variable fields per layer (DNS: qd, an, ns, ar) */

/* A builder layer's state: one value per field of its table, the fields given, the
 * variable fields as given (var) and as wire bytes (wire), the payload (a builder layer
 * or bytes) and, for parsed bytes, what followed the layer's extent (trailer). */
struct fp_bnode {
    const fp_bproto *p;
    uint32_t set;
    uint64_t v[FP_BUILD_MAX_FIELDS];
    uint8_t a6[2][16];
    PyObject *var[FP_BVARS];
    PyObject *wire[FP_BVARS];
    PyObject *payload;
    PyObject *trailer;
    PyObject *expand; /* {field index: values} of fields given a network or a list, or NULL */
    FpLayer *under; /* borrowed: the layer whose payload this is */
    fp_state *st;
    int dns_raw;    /* DNS parsed from bytes: wire[0] holds all sections as they were */
    int unpadded;   /* options parsed from a header cut short: rebuilt as they were */
    uint16_t count[FP_BVARS]; /* DNS: records in each section, for unset counts */
};

static inline int fp_is_builder(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == fp_layer_dealloc && LAYER(o)->pkt == NULL;
}
static inline int fp_is_layer(PyObject *o) { return Py_TYPE(o)->tp_dealloc == fp_layer_dealloc; }

PyObject *fp_builder_alloc(fp_state *st, int id);
void fp_bnode_free(FpLayer *l);
int fp_build_field_index(const fp_state *st, const fp_bproto *p, PyObject *name);
int fp_build_set(fp_state *st, FpLayer *l, int f, PyObject *v); /* v NULL: del */
PyObject *fp_build_get(fp_state *st, FpLayer *l, int f);
PyObject *fp_build_copy(fp_state *st, FpLayer *l);
/* The packets a stack stands for (Scapy's implicit packets): a list, one per combination
 * of the values of fields given an IPv4 network ("10.0.0.0/24") or a list of numbers. */
PyObject *fp_build_expand(fp_state *st, FpLayer *l);
PyObject *fp_build_div(PyObject *a, PyObject *b);
PyObject *fp_build_bytes(fp_state *st, FpLayer *l);
PyObject *fp_build_parse(fp_state *st, int id, const uint8_t *data, size_t n);
PyObject *fp_build_from_view(fp_state *st, FpLayer *v);
/* The dissected Packet of the built bytes of l's whole stack (AttributeError when its
 * outer layer is not Ether, IP or IPv6), and the view of l in it. */
PyObject *fp_build_packet(fp_state *st, FpLayer *l);
PyObject *fp_build_view(fp_state *st, FpLayer *l, PyObject **packet);
/* Where l's header lies in the built bytes of its stack. */
int fp_build_extent(fp_state *st, FpLayer *l, uint32_t *off, uint32_t *hlen);
PyObject *fp_build_as_bytes(PyObject *v);
/* The packet's bytes as a builder stack (Ethernet and raw IP link types), new reference. */
PyObject *fp_build_packet_stack(fp_state *st, FpPacket *p);
/* The layer of the packet's edit stack that view v shows (borrowed); with `create`, the
 * stack is made on first use. NULL with an error when v's layer has no builder. */
FpLayer *fp_view_node(FpLayer *v, int create);
/* layer_build.c: types, tp_new, attribute access, methods */
int fp_build_register(PyObject *m, fp_state *st);
PyObject *fp_layer_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds);
PyObject *fp_build_getattro(PyObject *self, PyObject *name);
int fp_layer_setattro(PyObject *self, PyObject *name, PyObject *value);
int fp_layer_contains(PyObject *self, PyObject *spec);
PyObject *fp_layer_getitem(PyObject *self, PyObject *spec);
Py_ssize_t fp_layer_len(PyObject *self);
PyObject *fp_layer_iter(PyObject *self);
PyObject *fp_build_repr(PyObject *self);
extern PyMethodDef fp_layer_build_methods[];

#endif
