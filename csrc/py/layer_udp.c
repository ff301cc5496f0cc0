/* UDP header (RFC 768, csrc/dissect/udp.c). */
#include "layer.h"

static PyGetSetDef udp_getset[] = {
    {"sport", fp_layer_get_field, NULL, "Source port.", U16(0)},
    {"dport", fp_layer_get_field, NULL, "Destination port.", U16(2)},
    {"len", fp_layer_get_field, NULL, "Length field (header + data).", U16(4)},
    {"chksum", fp_layer_get_field, NULL, "Checksum as on the wire, 0 = none (see checksum_ok()).", U16(6)},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(udp, "UDP", "UDP header (RFC 768).", udp_getset, fp_layer_l4_methods);

const fp_layer_def fp_layer_udp = {&udp_spec, FP_L_UDP, FP_NAMES("sport", "dport", "len", "chksum"),
                                   FP_NAMES("sport", "dport", "len"), NULL};
