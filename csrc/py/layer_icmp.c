/* ICMP (RFC 792) and ICMPv6 (RFC 4443) headers (csrc/dissect/icmp.c). */
#include "layer.h"

/* Identifier/sequence: ICMP echo 0/8 and, as in Scapy, timestamp 13/14, information
 * 15/16 and address mask 17/18 (RFC 792, RFC 950); ICMPv6 echo 128/129. None otherwise. */
static PyObject *icmp_get_echo(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    const uint8_t *p = ldata(l) + s->off;
    if (s->hlen < 8 || s->off + 8 > s->end) Py_RETURN_NONE;
    int echo = l->id == FP_L_ICMP ? (p[0] == 0 || p[0] == 8 || (p[0] >= 13 && p[0] <= 18))
                                  : (p[0] == 128 || p[0] == 129);
    if (!echo) Py_RETURN_NONE;
    return PyLong_FromLong(fp_load_be16(p + ((intptr_t)closure ? 6 : 4)));
}

static PyGetSetDef icmp_getset[] = {
    {"type", fp_layer_get_field, NULL, "Message type (8 echo request, 0 echo reply, 3 unreachable ...).", U8(0)},
    {"code", fp_layer_get_field, NULL, "Message code.", U8(1)},
    {"chksum", fp_layer_get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(2)},
    {"id", icmp_get_echo, NULL,
     "Identifier for echo, timestamp, information and address-mask messages (types 0, 8, 13-18),\n"
     "else None (as in Scapy).",
     (void *)0},
    {"seq", icmp_get_echo, NULL, "Sequence number, for the same types as id; else None.", (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef icmp6_getset[] = {
    {"type", fp_layer_get_field, NULL, "Message type (128 echo request, 129 echo reply, 135 NS, 136 NA ...).",
     U8(0)},
    {"code", fp_layer_get_field, NULL, "Message code.", U8(1)},
    {"chksum", fp_layer_get_field, NULL, "Checksum as on the wire (see checksum_ok()).", U16(2)},
    {"id", icmp_get_echo, NULL, "Echo identifier (echo request/reply only, else None).", (void *)0},
    {"seq", icmp_get_echo, NULL, "Echo sequence number (echo request/reply only, else None).", (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(icmp, "ICMP", "ICMP header (RFC 792).", icmp_getset, fp_layer_l4_methods);
LAYER_SPEC_F(icmp6, "ICMPv6", "ICMPv6 header (RFC 4443).", icmp6_getset, fp_layer_l4_methods,
             Py_TPFLAGS_BASETYPE);

const fp_layer_def fp_layer_icmp = {&icmp_spec, FP_L_ICMP, FP_NAMES("type", "code", "chksum", "id", "seq"),
                                    FP_NAMES("type", "code", "id", "seq"), NULL};
const fp_layer_def fp_layer_icmp6 = {&icmp6_spec, FP_L_ICMP6, FP_NAMES("type", "code", "chksum", "id", "seq"),
                                     FP_NAMES("type", "code", "id", "seq"), NULL};
