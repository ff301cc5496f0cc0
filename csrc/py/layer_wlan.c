/* 802.11 layers (csrc/dissect/wlan.c): the radiotap capture header and the MAC header.
 * Scapy's field names (RadioTap.ChannelFrequency, Dot11.addr1, FCfield, SC) plus the
 * address roles and counters Wireshark shows (ra, ta, da, sa, bssid, seq, frag). */
#include "layer.h"

enum { RT_FLAGS, RT_RATE, RT_FREQ, RT_CHFLAGS, RT_ANTSIGNAL };

static const uint8_t *rt_field(const FpLayer *l, unsigned bit)
{
    const uint8_t *p = ldata(l) + lspan(l)->off;
    int at = fp_radiotap_field(p, lspan(l)->hlen, bit);
    return at < 0 ? NULL : p + at;
}

/* Fields of the first presence word (the default namespace); None when absent. */
static PyObject *radiotap_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    static const uint8_t bit[] = {[RT_FLAGS] = 1, [RT_RATE] = 2, [RT_FREQ] = 3, [RT_CHFLAGS] = 3, [RT_ANTSIGNAL] = 5};
    int which = (int)(intptr_t)closure;
    const uint8_t *p = rt_field(l, bit[which]);
    if (p == NULL) Py_RETURN_NONE;
    switch (which) {
    case RT_FLAGS: return PyLong_FromLong(p[0]);
    case RT_RATE: return PyFloat_FromDouble(p[0] / 2.0); /* 500 kb/s units, in Mb/s */
    case RT_FREQ: return PyLong_FromLong(p[0] | (p[1] << 8));
    case RT_CHFLAGS: return PyLong_FromLong(p[2] | (p[3] << 8));
    case RT_ANTSIGNAL: return PyLong_FromLong((int8_t)p[0]);
    default: Py_RETURN_NONE;
    }
}

static PyObject *radiotap_get_le(PyObject *self, void *closure)
{
    const uint8_t *p = ldata(LAYER(self)) + lspan(LAYER(self))->off;
    return closure ? PyLong_FromUnsignedLong(fp_load_le32(p + 4)) : PyLong_FromLong(p[2] | (p[3] << 8));
}

static PyGetSetDef radiotap_getset[] = {
    {"version", fp_layer_get_field, NULL, "Radiotap version (0).", U8(0)},
    {"pad", fp_layer_get_field, NULL, "Padding byte.", U8(1)},
    {"len", radiotap_get_le, NULL, "Length of the radiotap header.", NULL},
    {"present", radiotap_get_le, NULL, "First presence bitmap (bit 1 Flags, 2 Rate, 3 Channel, 5 dBm_AntSignal...).",
     (void *)1},
    {"Flags", radiotap_get, NULL, "Flags (0x10: the frame ends with its FCS), or None.", (void *)RT_FLAGS},
    {"Rate", radiotap_get, NULL, "Data rate in Mb/s (radiotap.datarate), or None.", (void *)RT_RATE},
    {"ChannelFrequency", radiotap_get, NULL, "Channel frequency in MHz (radiotap.channel.freq), or None.",
     (void *)RT_FREQ},
    {"ChannelFlags", radiotap_get, NULL, "Channel flags (radiotap.channel.flags), or None.", (void *)RT_CHFLAGS},
    {"dBm_AntSignal", radiotap_get, NULL, "Antenna signal in dBm (radiotap.dbm_antsignal), or None.",
     (void *)RT_ANTSIGNAL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* The MAC header: frame control (type bits 2-3, subtype 4-7, flags byte), then
 * little-endian duration and sequence control. */
enum { W_TYPE, W_SUBTYPE, W_PROTO, W_FC, W_ID, W_SC, W_SEQ, W_FRAG, W_TYPE_SUBTYPE, W_RETRY, W_PROTECTED };

static PyObject *dot11_get(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    const uint8_t *h = ldata(l) + s->off;
    unsigned type = (h[0] >> 2) & 3, subtype = h[0] >> 4;
    int has_sc = type != 1 && s->hlen >= 24;
    switch ((int)(intptr_t)closure) {
    case W_TYPE: return PyLong_FromLong(type);
    case W_SUBTYPE: return PyLong_FromLong(subtype);
    case W_PROTO: return PyLong_FromLong(h[0] & 3);
    case W_FC: return PyLong_FromLong(h[1]);
    case W_ID:
        if (s->hlen < 4) Py_RETURN_NONE;
        return PyLong_FromLong(h[2] | (h[3] << 8));
    case W_SC: case W_SEQ: case W_FRAG: {
        if (!has_sc) Py_RETURN_NONE;
        unsigned sc = h[22] | (h[23] << 8);
        long v = (intptr_t)closure == W_SC ? (long)sc : (intptr_t)closure == W_SEQ ? (long)(sc >> 4) : (long)(sc & 15);
        return PyLong_FromLong(v);
    }
    case W_TYPE_SUBTYPE: return PyLong_FromLong((type << 4) | subtype);
    case W_RETRY: return PyBool_FromLong(h[1] & 0x08);
    case W_PROTECTED: return PyBool_FromLong(h[1] & 0x40);
    default: Py_RETURN_NONE;
    }
}

static PyObject *dot11_get_addr(PyObject *self, void *closure)
{
    const FpLayer *l = LAYER(self);
    const fp_span *s = lspan(l);
    const uint8_t *h = ldata(l) + s->off;
    intptr_t c = (intptr_t)closure;
    if (c < 0) { /* addr1..addr4 by position */
        static const uint8_t at[5] = {0, 4, 10, 16, 24};
        unsigned n = (unsigned)-c;
        int four = ((h[0] >> 2) & 3) == 2 && (h[1] & 3) == 3;
        if (at[n] + 6u > s->hlen || (n == 4 && !four)) Py_RETURN_NONE;
        return fp_mac_str(h + at[n]);
    }
    const uint8_t *a = fp_wlan_addr(h, s->hlen, (int)c);
    if (a == NULL) Py_RETURN_NONE;
    return fp_mac_str(a);
}

static PyObject *dot11_get_name(PyObject *self, void *closure)
{
    (void)closure;
    const uint8_t *h = ldata(LAYER(self)) + lspan(LAYER(self))->off;
    const char *name = fp_wlan_frame_name((((h[0] >> 2) & 3) << 4) | (h[0] >> 4));
    if (name == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

static PyGetSetDef dot11_getset[] = {
    {"subtype", dot11_get, NULL, "Frame subtype (4 bits).", (void *)W_SUBTYPE},
    {"type", dot11_get, NULL, "Frame type: 0 management, 1 control, 2 data, 3 extension.", (void *)W_TYPE},
    {"proto", dot11_get, NULL, "Protocol version (0).", (void *)W_PROTO},
    {"FCfield", dot11_get, NULL, "Frame control flags: 0x01 to-DS, 0x02 from-DS, 0x04 more fragments, "
     "0x08 retry, 0x10 power management, 0x20 more data, 0x40 protected, 0x80 +HTC/order.", (void *)W_FC},
    {"ID", dot11_get, NULL, "Duration/ID field (little-endian), or None.", (void *)W_ID},
    {"addr1", dot11_get_addr, NULL, "First address, or None.", (void *)-1},
    {"addr2", dot11_get_addr, NULL, "Second address, or None (ACK, CTS).", (void *)-2},
    {"addr3", dot11_get_addr, NULL, "Third address, or None (control frames).", (void *)-3},
    {"SC", dot11_get, NULL, "Sequence control (little-endian), or None (control frames).", (void *)W_SC},
    {"addr4", dot11_get_addr, NULL, "Fourth address (data frames with both DS bits), or None.", (void *)-4},
    {"ra", dot11_get_addr, NULL, "Receiver address (wlan.ra), or None.", (void *)FP_WLAN_RA},
    {"ta", dot11_get_addr, NULL, "Transmitter address (wlan.ta), or None.", (void *)FP_WLAN_TA},
    {"da", dot11_get_addr, NULL, "Destination address (wlan.da), or None.", (void *)FP_WLAN_DA},
    {"sa", dot11_get_addr, NULL, "Source address (wlan.sa), or None.", (void *)FP_WLAN_SA},
    {"bssid", dot11_get_addr, NULL, "BSS identifier (wlan.bssid), or None.", (void *)FP_WLAN_BSSID},
    {"seq", dot11_get, NULL, "Sequence number (wlan.seq), or None.", (void *)W_SEQ},
    {"frag", dot11_get, NULL, "Fragment number (wlan.frag), or None.", (void *)W_FRAG},
    {"type_subtype", dot11_get, NULL, "(type << 4) | subtype, as wlan.fc.type_subtype.", (void *)W_TYPE_SUBTYPE},
    {"retry", dot11_get, NULL, "Retry flag.", (void *)W_RETRY},
    {"protected", dot11_get, NULL, "Protected (encrypted body) flag.", (void *)W_PROTECTED},
    {"frame_name", dot11_get_name, NULL, "Wireshark's name of the frame's type/subtype ('Beacon frame', "
     "'QoS Data', ...), or None for reserved values.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

LAYER_SPEC(radiotap, "RadioTap", "Radiotap capture header (radiotap.org): rate, channel, signal.", radiotap_getset,
           fp_layer_no_methods);
LAYER_SPEC(dot11, "Dot11", "802.11 MAC header: frame control, duration, addresses, sequence control.",
           dot11_getset, fp_layer_no_methods);

const fp_layer_def fp_layer_radiotap = {
    &radiotap_spec, FP_L_RADIOTAP,
    FP_NAMES("version", "pad", "len", "present", "Flags", "Rate", "ChannelFrequency", "ChannelFlags",
             "dBm_AntSignal"),
    FP_NAMES("ChannelFrequency", "Rate", "dBm_AntSignal"), NULL};
const fp_layer_def fp_layer_dot11 = {
    &dot11_spec, FP_L_WLAN, FP_NAMES("subtype", "type", "proto", "FCfield", "ID", "addr1", "addr2", "addr3", "SC", "addr4"),
    FP_NAMES("frame_name", "addr1", "addr2", "addr3"), NULL};
