/* 802.11 link types, down to the IP packet a data frame carries:
 *   LINKTYPE_IEEE802_11 (105): the MAC header of IEEE 802.11-2016 section 9.2.4 (frame
 *     control, then 24 bytes, a fourth address when both DS bits are set, QoS control for
 *     QoS subtypes, HT control when QoS frames have the +HTC/Order bit; control frames are
 *     10 or 16 bytes, 9.3.1), then LLC/SNAP (IEEE 802.2 with RFC 1042's OUI 00-00-00) and
 *     its EtherType;
 *   LINKTYPE_IEEE802_11_RADIOTAP (127): radiotap.org's header (version 0, little-endian
 *     length and fields, each aligned to its size), its Flags field read for the FCS bit;
 *   LINKTYPE_PPI (192): the Per-Packet Information header (length and the DLT it wraps,
 *     little-endian), around 802.11 or Ethernet.
 * Management and control frames, null data and protected (encrypted) frames stop at the
 * MAC header: their body is the payload. The `wlan.*` and `radiotap.*` fields (Wireshark's
 * names, roles of the addresses as packet-ieee80211.c assigns them) are at the end. */
#include "cursor.h"
#include "dissect.h"
#include "fields.h"

enum { WLAN_MGMT = 0, WLAN_CTRL = 1, WLAN_DATA = 2 };
enum { FC_TODS = 0x01, FC_FROMDS = 0x02, FC_PROTECTED = 0x40, FC_ORDER = 0x80 };
enum { RADIOTAP_FLAGS_FCS = 0x10 };
enum { CTRL_EXTENSION = 6, CTRL_PS_POLL = 10, CTRL_CF_END = 14 };

static const uint8_t llc_snap[6] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00};

/* The MAC header's length from its frame control bytes. */
static uint32_t wlan_header_len(uint8_t fc0, uint8_t flags)
{
    unsigned type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
    switch (type) {
    case WLAN_MGMT: return (flags & FC_ORDER) ? 28 : 24;
    case WLAN_CTRL: /* a transmitter address follows the receiver's in these */
        return ((1u << subtype) & 0xcf3cu) ? 16 : 10;
    case WLAN_DATA: {
        uint32_t hlen = 24;
        if ((flags & FC_TODS) && (flags & FC_FROMDS)) hlen += 6;
        if (subtype & 0x8) hlen += (flags & FC_ORDER) ? 2 + 4 : 2; /* QoS control, HT control */
        return hlen;
    }
    default: return 4; /* extension frames (DMG, S1G beacons): their layout is not decoded */
    }
}

void fp_dissect_wlan(fp_dctx *x, uint32_t off, uint32_t end)
{
    fp_cursor c;
    if (fp_header_open(x, off, end, 2, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint8_t fc0 = fp_peek_u8(&c, 0), flags = fp_peek_u8(&c, 1);
    unsigned type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
    uint32_t hlen = wlan_header_len(fc0, flags);
    if (fp_header_open(x, off, end, hlen, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    fp_set_layer(x->d, FP_L_WLAN, off, hlen, end);
    if (type != WLAN_DATA || (subtype & 0x4) || (flags & FC_PROTECTED) || !fp_cur_has(&c, hlen + 8) ||
        memcmp(c.ptr + hlen, llc_snap, sizeof llc_snap) != 0) {
        fp_set_payload(x->d, off + hlen, end); /* nothing decodable above the MAC header */
        return;
    }
    fp_dissect_ethertype(x, off + hlen + 8, end, fp_load_be16(c.ptr + hlen + 6));
}

/* Alignment and size of the radiotap fields of presence bits 0..17 (radiotap.org). */
static const uint8_t radiotap_align[18] = {8, 1, 1, 2, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1};
static const uint8_t radiotap_size[18] = {8, 1, 1, 4, 2, 1, 1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1};

int fp_radiotap_field(const uint8_t *p, uint32_t len, unsigned bit)
{
    if (len < 8 || bit >= 18) return -1;
    uint32_t present = fp_load_le32(p + 4), pos = 8, word = present;
    if (!((present >> bit) & 1)) return -1;
    while ((word & 0x80000000u) && pos + 4 <= len) { /* extended bitmaps */
        word = fp_load_le32(p + pos);
        pos += 4;
    }
    for (unsigned b = 0; b <= bit; b++) {
        if (!((present >> b) & 1)) continue;
        pos = (pos + radiotap_align[b] - 1) & ~(uint32_t)(radiotap_align[b] - 1);
        if (b == bit) break;
        pos += radiotap_size[b];
    }
    return pos + radiotap_size[bit] <= len ? (int)pos : -1;
}

void fp_dissect_radiotap(fp_dctx *x)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, 8, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint32_t len = (uint32_t)c.ptr[2] | ((uint32_t)c.ptr[3] << 8);
    if (len < 8 || len > x->caplen) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    fp_set_layer(x->d, FP_L_RADIOTAP, 0, len, x->caplen);
    uint32_t end = x->caplen;
    int flags = fp_radiotap_field(c.ptr, len, 1);
    if (flags >= 0 && (c.ptr[flags] & RADIOTAP_FLAGS_FCS) && end >= len + 4)
        end -= 4; /* the frame check sequence is not part of the frame's payload */
    fp_dissect_wlan(x, len, end);
}

void fp_dissect_ppi(fp_dctx *x)
{
    fp_cursor c;
    if (fp_header_open(x, 0, x->caplen, 8, FP_ANOM_LINK_TRUNC, &c) < 0)
        return;
    uint32_t len = (uint32_t)c.ptr[2] | ((uint32_t)c.ptr[3] << 8);
    uint32_t dlt = fp_load_le32(c.ptr + 4);
    if (len < 8 || len > x->caplen) {
        x->d->anomalies |= FP_ANOM_LINK_TRUNC;
        fp_set_payload(x->d, 0, x->caplen);
        return;
    }
    switch (dlt) {
    case FP_LINKTYPE_IEEE802_11: fp_dissect_wlan(x, len, x->caplen); return;
    case FP_LINKTYPE_ETHERNET:
        if (fp_header_open(x, len, x->caplen, 14, FP_ANOM_LINK_TRUNC, &c) < 0) return;
        fp_set_layer(x->d, FP_L_ETH, len, 14, x->caplen);
        fp_dissect_ethertype(x, len + 14, x->caplen, fp_peek_be16(&c, 12));
        return;
    default: fp_set_payload(x->d, len, x->caplen); return;
    }
}

/* ---- names ------------------------------------------------------------------ */

/* Wireshark 4.0's frame_type_subtype_vals for types 0-2 and the two extension beacons. */
static const char *const frame_names[50] = {
    [0x00] = "Association Request", [0x01] = "Association Response",
    [0x02] = "Reassociation Request", [0x03] = "Reassociation Response",
    [0x04] = "Probe Request", [0x05] = "Probe Response", [0x06] = "Measurement Pilot",
    [0x08] = "Beacon frame", [0x09] = "ATIM", [0x0a] = "Disassociate", [0x0b] = "Authentication",
    [0x0c] = "Deauthentication", [0x0d] = "Action", [0x0e] = "Action No Ack",
    [0x0f] = "Aruba Management", [0x12] = "Trigger", [0x14] = "Beamforming Report Poll",
    [0x15] = "VHT/HE NDP Announcement", [0x17] = "Control Wrapper",
    [0x18] = "802.11 Block Ack Req", [0x19] = "802.11 Block Ack", [0x1a] = "Power-Save poll",
    [0x1b] = "Request-to-send", [0x1c] = "Clear-to-send", [0x1d] = "Acknowledgement",
    [0x1e] = "CF-End (Control-frame)", [0x1f] = "CF-End + CF-Ack (Control-frame)",
    [0x20] = "Data", [0x21] = "Data + CF-Ack", [0x22] = "Data + CF-Poll",
    [0x23] = "Data + CF-Ack + CF-Poll", [0x24] = "Null function (No data)",
    [0x25] = "Acknowledgement (No data)", [0x26] = "CF-Poll (No data)",
    [0x27] = "CF-Ack/Poll (No data)", [0x28] = "QoS Data", [0x29] = "QoS Data + CF-Acknowledgment",
    [0x2a] = "QoS Data + CF-Poll", [0x2b] = "QoS Data + CF-Ack + CF-Poll",
    [0x2c] = "QoS Null function (No data)", [0x2e] = "QoS CF-Poll (No Data)",
    [0x2f] = "QoS CF-Ack + CF-Poll (No data)", [0x30] = "DMG Beacon", [0x31] = "S1G Beacon",
};

const char *fp_wlan_frame_name(unsigned type_subtype)
{
    return type_subtype < 50 ? frame_names[type_subtype] : NULL;
}

/* ---- fields ----------------------------------------------------------------- */

enum { ROLE_ANY = FP_WLAN_STAA + 1 };

/* Address n (1..4) of the header, NULL when the header has none there. */
static const uint8_t *wlan_address(const uint8_t *h, uint32_t hlen, int n)
{
    static const uint8_t at[5] = {0, 4, 10, 16, 24};
    unsigned type = (h[0] >> 2) & 3;
    if (n == 0 || type > WLAN_DATA || (n == 4 && (type != WLAN_DATA || (h[1] & 3) != 3))) return NULL;
    return at[n] + 6u <= hlen ? h + at[n] : NULL;
}

/* Which address (1..4) plays `role`, 0 for none: data frames by their DS bits, management
 * frames as DS 0, control frames RA and TA (CF-End's second address is the BSSID, PS-Poll's
 * first is). */
static int wlan_role(const uint8_t *h, int role)
{
    static const uint8_t data_roles[4][6] = {
        /* RA TA DA SA BSSID STAA */
        {1, 2, 1, 2, 3, 0}, /* no DS bit */
        {1, 2, 3, 2, 1, 2}, /* to DS */
        {1, 2, 1, 3, 2, 1}, /* from DS */
        {1, 2, 3, 4, 0, 0}, /* both: a mesh or WDS hop */
    };
    unsigned type = (h[0] >> 2) & 3, subtype = h[0] >> 4;
    switch (type) {
    case WLAN_MGMT: return data_roles[0][role];
    case WLAN_CTRL:
        if (role == FP_WLAN_RA) return 1;
        if (role == FP_WLAN_TA) return subtype == CTRL_CF_END ? 0 : 2;
        if (role == FP_WLAN_BSSID) return subtype == CTRL_PS_POLL ? 1 : subtype == CTRL_CF_END ? 2 : 0;
        return 0;
    case WLAN_DATA: return data_roles[h[1] & 3][role];
    default: return 0;
    }
}

const uint8_t *fp_wlan_addr(const uint8_t *hdr, uint32_t hlen, int role)
{
    return hlen >= 2 ? wlan_address(hdr, hlen, wlan_role(hdr, role)) : NULL;
}

static int wlan_addr_each(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_WLAN)) return 0;
    const fp_span *s = &x->d->layer[FP_L_WLAN];
    const uint8_t *h = x->data + s->off;
    if (f->arg != ROLE_ANY) {
        const uint8_t *a = fp_wlan_addr(h, s->hlen, f->arg);
        if (a == NULL) return 0;
        fp_field_value v = {0, a, 6};
        visit(arg, &v);
        return 1;
    }
    static const uint8_t order[4] = {1, 2, 4, 3}; /* as Wireshark adds them: SA before DA */
    int n = 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *a = wlan_address(h, s->hlen, order[i]);
        if (a == NULL) continue;
        fp_field_value v = {0, a, 6};
        n++;
        if (visit(arg, &v)) break;
    }
    return n;
}

/* Little-endian words of the MAC header (arg: which), masked. */
enum { LE_DURATION, LE_SEQUENCE, LE_QOS };
static int wlan_le16_each(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_WLAN)) return 0;
    const fp_span *s = &x->d->layer[FP_L_WLAN];
    const uint8_t *h = x->data + s->off;
    unsigned type = (h[0] >> 2) & 3, subtype = h[0] >> 4;
    uint32_t at = f->offset;
    if (f->arg == LE_SEQUENCE && type == WLAN_CTRL) return 0; /* no sequence control */
    if (f->arg == LE_QOS) { /* QoS control: QoS data subtypes, after the fourth address if any */
        if (type != WLAN_DATA || !(subtype & 0x8)) return 0;
        at = (h[1] & 3) == 3 ? 30 : 24;
    }
    if (at + 2 > s->hlen) return 0;
    uint32_t w = (uint32_t)h[at] | ((uint32_t)h[at + 1] << 8);
    fp_field_value v = {0, NULL, 0};
    w &= f->mask;
    for (uint32_t m = f->mask; (m & 1u) == 0; m >>= 1) w >>= 1;
    v.u = w;
    visit(arg, &v);
    return 1;
}

static int is_control_extension(uint8_t fc0) { return fc0 == ((CTRL_EXTENSION << 4) | (WLAN_CTRL << 2)); }

/* A control frame extension (DMG) numbers its kind 0x160 + the flags' low bits, which are
 * then not the DS, more-fragments and retry flags (nor is bit 6 "protected"). */
static int wlan_type_subtype(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    if (!FP_HAS(x->d, FP_L_WLAN)) return 0;
    const uint8_t *h = x->data + x->d->layer[FP_L_WLAN].off;
    unsigned ts = (((h[0] >> 2) & 3u) << 4) | (h[0] >> 4);
    fp_field_value v = {is_control_extension(h[0]) ? 0x160u + (h[1] & 0xfu) : ts, NULL, 0};
    visit(arg, &v);
    return 1;
}

static int wlan_flag_each(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (FP_HAS(x->d, FP_L_WLAN) && is_control_extension(x->data[x->d->layer[FP_L_WLAN].off])) return 0;
    return fp_field_fixed(f, x, visit, arg);
}

#define WLAN_FC(name, mask) FP_FIELD_UINT(name, FP_L_WLAN, 0, 8, mask)
#define WLAN_FLAG(name, mask) {name, FP_FT_BOOL, 8, FP_L_WLAN, 0, 1, mask, wlan_flag_each}
#define WLAN_ADDR(name, role) {name, FP_FT_MAC, 48, FP_L_WLAN, role, 0, 0, wlan_addr_each}
#define WLAN_LE16(name, kind, off, mask) {name, FP_FT_UINT, 16, FP_L_WLAN, kind, off, mask, wlan_le16_each}
static const fp_field wlan_fields[] = {
    FP_FIELD_PROTO("wlan", FP_L_WLAN),
    FP_FIELD_UINT("wlan.fc", FP_L_WLAN, 0, 16, 0),
    WLAN_FC("wlan.fc.version", 0x03),
    WLAN_FC("wlan.fc.type", 0x0c),
    WLAN_FC("wlan.fc.subtype", 0xf0),
    {"wlan.fc.type_subtype", FP_FT_UINT, 16, FP_L_WLAN, 0, 0, 0, wlan_type_subtype},
    FP_FIELD_UINT("wlan.flags", FP_L_WLAN, 1, 8, 0),
    {"wlan.fc.ds", FP_FT_UINT, 8, FP_L_WLAN, 0, 1, 0x03, wlan_flag_each},
    WLAN_FLAG("wlan.fc.tods", 0x01),
    WLAN_FLAG("wlan.fc.fromds", 0x02),
    WLAN_FLAG("wlan.fc.frag", 0x04),
    WLAN_FLAG("wlan.fc.retry", 0x08),
    FP_FIELD_BOOL("wlan.fc.pwrmgt", FP_L_WLAN, 1, 8, 0x10),
    FP_FIELD_BOOL("wlan.fc.moredata", FP_L_WLAN, 1, 8, 0x20),
    WLAN_FLAG("wlan.fc.protected", 0x40),
    FP_FIELD_BOOL("wlan.fc.order", FP_L_WLAN, 1, 8, 0x80),
    WLAN_LE16("wlan.duration", LE_DURATION, 2, 0x7fff),
    WLAN_ADDR("wlan.ra", FP_WLAN_RA),
    WLAN_ADDR("wlan.ta", FP_WLAN_TA),
    WLAN_ADDR("wlan.da", FP_WLAN_DA),
    WLAN_ADDR("wlan.sa", FP_WLAN_SA),
    WLAN_ADDR("wlan.bssid", FP_WLAN_BSSID),
    WLAN_ADDR("wlan.staa", FP_WLAN_STAA),
    WLAN_ADDR("wlan.addr", ROLE_ANY),
    WLAN_LE16("wlan.seq", LE_SEQUENCE, 22, 0xfff0),
    WLAN_LE16("wlan.frag", LE_SEQUENCE, 22, 0x000f),
    WLAN_LE16("wlan.qos.tid", LE_QOS, 24, 0x000f),
};
FP_FIELD_TABLE(fp_fields_wlan, "wlan", wlan_fields);

/* Radiotap fields of the first presence word, little-endian (arg: the presence bit). */
static int radiotap_each(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    if (!FP_HAS(x->d, FP_L_RADIOTAP)) return 0;
    const fp_span *s = &x->d->layer[FP_L_RADIOTAP];
    const uint8_t *p = x->data + s->off;
    int at = fp_radiotap_field(p, s->hlen, f->arg);
    if (at < 0) return 0;
    at += f->offset;
    uint32_t w = f->bits == 8 ? p[at] : (uint32_t)p[at] | ((uint32_t)p[at + 1] << 8);
    if (f->mask) {
        w &= f->mask;
        for (uint32_t m = f->mask; (m & 1u) == 0; m >>= 1) w >>= 1;
    }
    fp_field_value v = {f->type == FP_FT_BOOL ? w != 0 : w, NULL, 0};
    visit(arg, &v);
    return 1;
}

static int radiotap_length(const fp_field *f, fp_field_ctx *x, fp_field_visit visit, void *arg)
{
    (void)f;
    if (!FP_HAS(x->d, FP_L_RADIOTAP)) return 0;
    const uint8_t *p = x->data + x->d->layer[FP_L_RADIOTAP].off;
    fp_field_value v = {(uint64_t)p[2] | ((uint64_t)p[3] << 8), NULL, 0};
    visit(arg, &v);
    return 1;
}

#define RADIOTAP(name, type, bits, bit, off, mask) {name, type, bits, FP_L_RADIOTAP, bit, off, mask, radiotap_each}
static const fp_field radiotap_fields[] = {
    FP_FIELD_PROTO("radiotap", FP_L_RADIOTAP),
    FP_FIELD_UINT("radiotap.version", FP_L_RADIOTAP, 0, 8, 0),
    FP_FIELD_UINT("radiotap.pad", FP_L_RADIOTAP, 1, 8, 0),
    {"radiotap.length", FP_FT_UINT, 16, FP_L_RADIOTAP, 0, 0, 0, radiotap_length},
    RADIOTAP("radiotap.flags", FP_FT_UINT, 8, 1, 0, 0),
    RADIOTAP("radiotap.flags.fcs", FP_FT_BOOL, 8, 1, 0, RADIOTAP_FLAGS_FCS),
    RADIOTAP("radiotap.channel.freq", FP_FT_UINT, 32, 3, 0, 0),
    RADIOTAP("radiotap.channel.flags", FP_FT_UINT, 16, 3, 2, 0),
};
FP_FIELD_TABLE(fp_fields_radiotap, "radiotap", radiotap_fields);
