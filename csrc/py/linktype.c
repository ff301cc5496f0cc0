/* Process-wide decoding rules, applied in C with no Python per packet: _set_link_rule
 * (fastpkt.register_link_type: a link type decoded by a fixed header rule, dissect/link.c)
 * and _set_udp_tunnel_ports (fastpkt.set_tunnel_ports: dissect/tunnel.c's port table). */
#include "pyfp.h"

static PyObject *set_link_rule(PyObject *m, PyObject *args)
{
    (void)m;
    unsigned long linktype, header_len;
    int next;
    long ethertype_off;
    if (!PyArg_ParseTuple(args, "kikl:_set_link_rule", &linktype, &next, &header_len, &ethertype_off))
        return NULL;
    if (linktype > 0xffff) {
        PyErr_Format(PyExc_ValueError, "link type %lu is out of range (0 to 65535)", linktype);
        return NULL;
    }
    if (fp_linktype_builtin((uint32_t)linktype)) {
        PyErr_Format(PyExc_ValueError, "link type %lu is decoded by fastpkt itself", linktype);
        return NULL;
    }
    if (next < FP_LINK_NEXT_IP4 || next > FP_LINK_NEXT_ETHERTYPE) {
        PyErr_Format(PyExc_ValueError, "unknown next-protocol code %d", next);
        return NULL;
    }
    if (header_len > FP_LINK_RULE_HEADER_MAX) {
        PyErr_Format(PyExc_ValueError, "header_len %lu is over %u", header_len, FP_LINK_RULE_HEADER_MAX);
        return NULL;
    }
    if (next == FP_LINK_NEXT_ETHERTYPE && (ethertype_off < 0 || (unsigned long)ethertype_off + 2 > header_len)) {
        PyErr_Format(PyExc_ValueError, "ethertype_offset %ld: the 2-byte EtherType must lie inside the "
                     "%lu-byte header", ethertype_off, header_len);
        return NULL;
    }
    if (fp_link_rule_set((uint32_t)linktype, next, (uint32_t)header_len,
                         next == FP_LINK_NEXT_ETHERTYPE ? (uint32_t)ethertype_off : 0) < 0) {
        PyErr_Format(PyExc_ValueError, "%d link types are registered already", FP_LINK_RULES_MAX);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _set_udp_tunnel_ports(((port, type), ...)): type 3 VXLAN, 4 Geneve, 5 GTP-U (FP_TUN_). */
static PyObject *set_udp_tunnel_ports(PyObject *m, PyObject *arg)
{
    (void)m;
    PyObject *seq = PySequence_Fast(arg, "_set_udp_tunnel_ports takes a sequence of (port, type)");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint16_t ports[FP_TUNNEL_PORTS_MAX];
    uint8_t types[FP_TUNNEL_PORTS_MAX];
    if (n > FP_TUNNEL_PORTS_MAX) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "at most %d tunnel ports", FP_TUNNEL_PORTS_MAX);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned port, type;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "II", &port, &type)) {
            Py_DECREF(seq);
            return NULL;
        }
        if (port == 0 || port > 0xffff) {
            Py_DECREF(seq);
            return PyErr_Format(PyExc_ValueError, "UDP port %u is out of range (1 to 65535)", port);
        }
        ports[i] = (uint16_t)port;
        types[i] = (uint8_t)(type < 256 ? type : 0);
    }
    Py_DECREF(seq);
    if (fp_tunnel_ports_set(ports, types, (int)n) < 0)
        return PyErr_Format(PyExc_ValueError, "tunnel types are VXLAN (%d), Geneve (%d) and GTP-U (%d)",
                            FP_TUN_VXLAN, FP_TUN_GENEVE, FP_TUN_GTPU);
    Py_RETURN_NONE;
}

static PyMethodDef linktype_functions[] = {
    {"_set_udp_tunnel_ports", set_udp_tunnel_ports, METH_O,
     "_set_udp_tunnel_ports(((port, type), ...)) -> None\n--\n\n"
     "Replace the UDP ports decoded as VXLAN (type 3), Geneve (4) and GTP-U (5)."},
    {"_set_link_rule", set_link_rule, METH_VARARGS,
     "_set_link_rule(linktype, next, header_len, ethertype_offset) -> None\n--\n\n"
     "Decode `linktype` by a fixed header rule (fastpkt.register_link_type); next: 1 IPv4,\n"
     "2 IPv6, 3 IP by version, 4 Ethernet, 5 the EtherType at ethertype_offset."},
    {NULL, NULL, 0, NULL},
};

int fp_linktype_register(PyObject *m)
{
    return PyModule_AddFunctions(m, linktype_functions);
}
