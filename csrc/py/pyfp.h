/* Shared declarations of the CPython bridge (the only code that includes Python.h). */
#ifndef FP_PYFP_H
#define FP_PYFP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../dissect/dissect.h"
#include "../source/source.h"
#include "../dissect/build.h"
#include "../flow/ip_defrag.h"

#define FP_B_COUNT_MAX 24 /* >= FP_B_COUNT (dissect/build.h) */
typedef struct {
    int family;
    uint64_t when_ms;
    uint8_t dst[16], src[16];
} fp_route_entry;

typedef struct {
    PyTypeObject *Packet_Type;
    PyTypeObject *Reader_Type;
    PyTypeObject *PacketList_Type;
    PyTypeObject *Writer_Type;
    PyTypeObject *Flows_Type;      /* engine.c */
    PyTypeObject *Flow_Type;       /* struct sequence of one flow's columns */
    PyTypeObject *Streams_Type;    /* engine.c: the engine with TCP reassembly */
    PyTypeObject *Stream_Type;     /* engine_streams.c */
    PyTypeObject *Gap_Type;
    PyTypeObject *StreamChunk_Type;
    PyTypeObject *ClientHellos_Type; /* engine.c: the engine with the hello search */
    PyTypeObject *ClientHello_Type;  /* engine_hellos.c: struct sequence of one hello */
    PyTypeObject *DnsTransactions_Type; /* engine.c: the engine with DNS pairing */
    PyTypeObject *DnsTransaction_Type;  /* engine_dns.c: struct sequence of one transaction */
    PyTypeObject *Raw_Type;       /* bytes subclass returned by pkt['Raw'] */
    PyTypeObject *Layer_Types[FP_L_COUNT]; /* indexed by fp_layer_id; NULL for link pseudo-layers */
    PyTypeObject *TCPFlags_Type;
    PyTypeObject *DisplayFilter_Type; /* filter.c */
    PyObject *FilterError;    /* fastpkt.FilterError(Error, ValueError) */
    PyTypeObject *FieldInfo_Type; /* fields.c: struct sequence describing one field */
    PyObject *Error;          /* fastpkt.Error */
    PyObject *FormatError;    /* fastpkt.FormatError(Error, ValueError) */
    PyObject *TruncatedError; /* fastpkt.TruncatedError(FormatError) */
    PyObject *CaptureError;   /* fastpkt.CaptureError(Error, OSError): live capture */
    PyObject *CapturePermissionError; /* (CaptureError, PermissionError) */
    PyObject *anomaly_names[FP_ANOM_COUNT_BITS]; /* interned str */
    PyObject *packet_fast_names[16];             /* interned hot attribute names of Packet */
#define FP_LAYER_FAST_MAX 8
    struct {
        PyObject *name;                          /* interned */
        const PyGetSetDef *def;
    } layer_fast[FP_L_COUNT][FP_LAYER_FAST_MAX]; /* hot fields of each layer type */
    uint8_t layer_fast_n[FP_L_COUNT];
    /* The hot views' classes (layer.c), by FP_HOT_IP4..UDP: one for IP and IPv6, one for TCP
     * and UDP, with the generic tp_getattro and their hot fields as member slots, so LOAD_ATTR
     * specialises ip.src like pkt.ip whichever family comes; the getters that fill those slots
     * when the packet is made. */
    PyTypeObject *Hot_Types[4];
    const PyGetSetDef *hot_field_defs[4][3];
    /* building (build.c, layer_build.c) */
    PyTypeObject *LayerBase_Type;
    PyTypeObject *Build_Types[FP_B_COUNT_MAX];   /* by fp_build_id */
    PyTypeObject *DNSQR_Type, *DNSRR_Type;
    /* PPP control views (layer_ppp.c): the PPPControl base, then by FP_PPP_LCP...; PPPOption */
    PyTypeObject *PPPControl_Types[5], *PPPOption_Type;
    /* fastpkt.scapy's packet and layer subclasses (module._set_facade_types), or NULL:
     * Readers and PacketLists with `facade` set make these, and their packets' layers too. */
    PyTypeObject *Facade_Packet_Type;
    PyTypeObject *Facade_Layer_Types[FP_L_COUNT];
    /* bit i: hot name i (packet_fast_names, layer_fast[id]) reads as in fastpkt's type, so
     * the facade's class keeps the fast path for it */
    uint32_t facade_packet_fast;
    uint32_t facade_layer_fast[FP_L_COUNT];
    /* fastpkt.scapy's FlagValue and Raw (module._set_facade_slots): classes whose slots
     * (value, names, multi; load, _chain, _i, _owner) sit at these offsets, made here for the
     * facade's TCP and IP `flags` (layer.c) and `pkt[Raw]` (packet.c) */
    PyTypeObject *Facade_Flag_Type, *Facade_Raw_Type;
    Py_ssize_t facade_flag_off[3], facade_raw_off[4];
    PyObject *facade_flag_names[2]; /* TCP's letters, IP's list */
    PyObject *facade_flags_attr;    /* interned "flags" */
    PyObject *bnames[FP_B_COUNT_MAX][24];        /* interned field names of each table */
#define FP_ROUTE_CACHE 16
    fp_route_entry route_cache[FP_ROUTE_CACHE];  /* source address by destination, 1 s */
    unsigned route_next;
    struct fp_hotcache *hot;                     /* hotcache.c, made at first use */
#define FP_PACKET_FREE 8
    struct fp_packet_obj *packet_free[FP_PACKET_FREE]; /* freed in-place Packets (packet.c) */
    int packet_free_n;
} fp_state;

/* A layer view: the owning packet plus which layer (and which VLAN tag). A layer being
 * built has no packet: `b` holds its values (csrc/py/build.h) and `id` is its fp_build_id.
 * `embedded`: one of its packet's views[] (layer.c), living in the packet's allocation. */
typedef struct fp_bnode fp_bnode;
typedef struct fp_packet_obj FpPacket;
typedef struct {
    PyObject_HEAD
    FpPacket *pkt;
    uint8_t id;
    uint8_t index;
    uint8_t embedded; /* FP_VIEW_*: where the view lives and who owns whom */
    fp_bnode *b;
} FpLayer;
/* A hot view (FpPacket.hot_views): its own hot fields as member slots too (layer.c). */
#define FP_HOT_FIELDS 3
typedef struct {
    FpLayer l;
    PyObject *field[FP_HOT_FIELDS]; /* IP, IPv6: src, dst, proto; TCP, UDP: sport, dport, NULL */
} FpHotLayer;
enum {
    FP_VIEW_ALLOCATED = 0, /* its own block; holds a reference to its packet */
    FP_VIEW_EMBEDDED = 1,  /* one of its packet's views[]; holds a reference to the packet */
    FP_VIEW_HOT = 2,       /* one of hot_views[]: the packet's member slot owns a reference to it */
    FP_VIEW_HOT_OUT = 3,   /* a hot view that outlived its packet's last reference: it holds
                            * one to the packet until the outside references to it are gone */
};

/* A packet: record metadata, its dissection and its bytes. Records of mmap'd files
 * and memory buffers are referenced in place (`owner` keeps the mapping alive);
 * others are copied into the object's own tail (one allocation). Layers are
 * views into `data`; the first views asked for live in the packet's own block. */
#define FP_PACKET_VIEWS 2
/* The packet attributes per-packet loops read most, as T_OBJECT_EX members (packet.c): the
 * views, then wirelen and the flat form's values (pkt.src, dst, proto, sport, dport). */
enum {
    FP_HOT_IP4, FP_HOT_IP6, FP_HOT_TCP, FP_HOT_UDP, FP_HOT_VIEWS,
    FP_HOT_WIRELEN = FP_HOT_VIEWS, FP_HOT_FLAT, FP_HOT_SRC = FP_HOT_FLAT, FP_HOT_DST, FP_HOT_PROTO,
    FP_HOT_SPORT, FP_HOT_DPORT, FP_HOT_COUNT
};
struct fp_packet_obj {
    PyObject_VAR_HEAD
    int64_t ts_ns;
    uint32_t caplen, wirelen, linktype, interface_id;
    int has_ts;
    int owner_is_reader;
    int dissect_flags;     /* fp_dissect_ex's: FP_DISSECT_NO_TUNNELS unless decapsulated */
    uint32_t opts_len;     /* pcapng packet options, raw: at data + caplen rounded up to 4 */
    int opts_big_endian;
    fp_state *st;          /* module state, cached: attribute access is the hot path */
    PyObject *owner;       /* NULL when the bytes live in inline_data */
    PyObject *edit;        /* builder stack of these bytes once a layer was edited, else NULL */
    struct fp_packet_wire *wire; /* a reassembled datagram's packet: the frame as captured */
    const uint8_t *data;
    fp_dissection d;
    /* Layer views handed out without an allocation (fp_layer_new): a free one has refcount
     * 0; one in use holds a reference to this packet, so the block outlives it. */
    FpLayer views[FP_PACKET_VIEWS];
    /* pkt.ip, ip6, tcp, udp, wirelen, src, dst, proto, sport, dport as member slots: CPython
     * 3.11 specialises LOAD_ATTR for T_OBJECT_EX members (LOAD_ATTR_SLOT), never for a getset
     * or a tp_getattro. Set when the packet is made: a layer present is its view in
     * hot_views[] (FP_VIEW_HOT), else None; the flat values are its views' field objects
     * (None when absent). fastpkt.scapy's packets leave the views NULL (their views are its
     * classes, GC-tracked) and answer the names in their tp_getattro. */
    PyObject *hot[FP_HOT_COUNT];
    /* bit k: hot[FP_HOT_SRC + k] owns its reference; else it borrows a hot view's field
     * object (both live until the views are refilled or released, packet.c) */
    unsigned flat_owned;
    FpHotLayer hot_views[FP_HOT_VIEWS];
    uint8_t inline_data[];
};

fp_state *fp_state_from_type(PyTypeObject *tp);
fp_state *fp_state_from_module(PyObject *m);

/* packet.c */
int fp_packet_register(PyObject *m, fp_state *st);
uint32_t fp_packet_fast_kept(fp_state *st, PyTypeObject *sub); /* for _set_facade_types */
/* an instance of a registered facade class (layer.c) with its n slots set (references stolen) */
PyObject *fp_facade_slots_new(PyTypeObject *tp, const Py_ssize_t *off, PyObject *const *values, int n);
/* A hot view's fields are its bytes' no longer once its packet is edited: the views take
 * their protocol's class again, whose getattro reads the edit (build.c). */
void fp_packet_hot_views_edited(FpPacket *p);
/* fastpkt.scapy's packet class: the hot names it keeps from fastpkt, then the generic lookup
 * and its _scapy_getattr (Packet itself has the generic tp_getattro, for LOAD_ATTR_SLOT). */
PyObject *fp_packet_facade_getattro(PyObject *self, PyObject *name);
/* `reader` non-NULL: view the record in place (its data must be stable). `facade`: make
 * the fastpkt.scapy subclass (when registered). */
FpPacket *fp_packet_from_record(fp_state *st, const fp_record *rec, PyObject *reader, int facade, int flags);
/* owner_is_reader of the packets a Reader's iteration views in place: freed, their block
 * parks in that Reader for its next packet (fp_reader_obj.parked). */
#define FP_OWNER_READER_ITER 2
/* Free a block parked in a Reader (its close() and dealloc). */
void fp_packet_parked_free(FpPacket *p);
FpPacket *fp_packet_from_bytes(fp_state *st, const uint8_t *data, uint32_t caplen,
                               uint32_t wirelen, uint32_t linktype, int64_t ts_ns);
/* A packet viewing `data` in place; `owner` (a Reader or a buffer holder) is kept alive. */
FpPacket *fp_packet_view(fp_state *st, PyObject *owner, int owner_is_reader, const uint8_t *data,
                         uint32_t caplen, uint32_t wirelen, uint32_t linktype, int64_t ts_ns,
                         int facade, int flags);
/* The packet of the fragment that completed an IP datagram views the reassembled frame
 * (`data`); writers take the frame as captured from here. */
typedef struct fp_packet_wire {
    PyObject *frames;      /* tuple of the fragments' frame numbers, by offset */
    uint32_t caplen, wirelen, opts_len;
    uint32_t fcs_len;      /* the FCS the frame's interface declares (the reassembled one has none) */
    int opts_big_endian;
    uint8_t data[];        /* caplen bytes, then (pcapng) padding and options */
} fp_packet_wire;
FpPacket *fp_packet_reassembled(fp_state *st, const fp_record *rec, const uint8_t *data, uint32_t len,
                                uint64_t anomalies, const uint64_t *frames, uint32_t nframes, int facade,
                                int flags);
/* defragment= of Reader: True (the default policy), False (and absent), or a policy name
 * ("first", "last", "bsd", "linux"); -1 with an exception when neither. */
int fp_defrag_policy_arg(PyObject *arg, int *policy);
/* A reassembler's counters as stats['defrag'] gives them (zeros for NULL: no fragment yet). */
struct fp_defrag;
PyObject *fp_defrag_stats_dict(const struct fp_defrag *df);
/* Where a packet's pcapng options start (they follow its data, 4-byte aligned). */
static inline const uint8_t *fp_packet_opts(const FpPacket *p)
{
    return p->data + ((p->caplen + 3u) & ~3u);
}

/* fields.c: Packet.field() and field_names() */
PyObject *fp_packet_field(PyObject *self, PyObject *args, PyObject *kwds);
int fp_fields_register(PyObject *m, fp_state *st);

/* filter.c: DisplayFilter, compile_filter(), FilterError */
struct fp_filter;
typedef struct {
    PyObject_HEAD
    struct fp_filter *filter;
    PyObject *expression;
} FpDisplayFilter;
int fp_filter_register(PyObject *m, fp_state *st);
/* A new reference to a DisplayFilter from one or from its text (FilterError when bad). */
PyObject *fp_display_filter_from(fp_state *st, PyObject *obj);

/* layer.c: the Layer base and one heap type per protocol layer (layer_*.c) */
int fp_layers_register(PyObject *m, fp_state *st);
/* layer_ppp.c: the PPP control views' types; pkt.lcp... (cp: FP_PPP_LCP...), None when absent */
int fp_ppp_views_register(PyObject *m, fp_state *st);
PyObject *fp_ppp_control_view(FpPacket *pkt, int cp);
/* Layer names as Packet.layers spells them (Scapy's class names; SLL/SLL2 for cooked). */
extern const char *const fp_layer_names[FP_L_COUNT];
PyObject *fp_layer_new(fp_state *st, FpPacket *pkt, fp_layer_id id, int index);
/* fp_layer_new(st, pkt, id, 0) for a layer the caller found in the packet (pkt.ip ...). */
PyObject *fp_layer_present(fp_state *st, FpPacket *pkt, fp_layer_id id);
/* The facade classes' attribute fall-through (Scapy: a field of a layer further in): after
 * an AttributeError for a public name, type(self)._scapy_getattr(self, name). */
PyObject *fp_facade_getattr_missing(PyObject *self, PyObject *name);
/* hotcache.c: the values per-packet loops read most, shared instead of made per access.
 * Address text from a bounded table keyed by the address bytes (len 4 or 16), falling back
 * to a fresh object; unsigned ints and the hot views' fields: hotcache.h. */
PyObject *fp_hot_addr_str(fp_state *st, const uint8_t *p, unsigned len);
void fp_hotcache_free(fp_state *st);
int fp_hotcache_register(PyObject *m);
int fp_linktype_register(PyObject *m); /* linktype.c: _set_link_rule, _set_udp_tunnel_ports */
/* tcpflags.c */
int fp_tcpflags_register(PyObject *m, fp_state *st);
PyObject *fp_tcpflags_new(fp_state *st, unsigned flags);
/* format.c: text of addresses and bytes */
PyObject *fp_ip4_str(const uint8_t *p);
PyObject *fp_ip6_str(const uint8_t *p);
PyObject *fp_mac_str(const uint8_t *p);
PyObject *fp_hex_colon_str(const uint8_t *p, unsigned n); /* "aa:bb:..." for n <= 32 bytes */
PyObject *fp_ascii_str(const char *s, Py_ssize_t n);      /* PyUnicode_New + memcpy, no decoding */
/* sep.join(parts) for the repr/show builders; takes over the reference to parts. */
PyObject *fp_join_str(PyObject *parts, const char *sep);
/* list.append(item), taking over item's reference; -1 when item is NULL or the append fails. */
int fp_list_append_new(PyObject *list, PyObject *item);
/* show(dump): the text itself (taken over) when dump, else print(text) and None. */
PyObject *fp_print_or_return(PyObject *text, int dump);
/* Tuple of interned str from n names found `stride` bytes apart, starting at *first
 * (a name array, or the name member of an array of structs). */
PyObject *fp_intern_tuple(const char *const *first, Py_ssize_t n, size_t stride);

/* reader.c: Reader (lazy iterator) and the BPF glue; packetlist.c; writer.c */
struct fp_bpf_set;
typedef struct {
    PyObject_HEAD
    fp_state *st;            /* cached module state: next() is per packet */
    fp_source *src;
    struct fp_bpf_set *bpf;
    PyObject *dfilter_obj;   /* DisplayFilter run after the BPF filter, or NULL */
    const struct fp_filter *dfilter; /* its program (immutable; shared by GIL-free pulls) */
    /* The dissection the display filter made of the last record pulled: engines take it
     * instead of dissecting again. Whole (application layers too) once keep_dissection
     * is set (by an engine over this Reader), else only as deep as the filter reads. */
    fp_dissection dissection;
    int keep_dissection;
    uint64_t frames;         /* records read from the source: frame.number of the last */
    int defrag_policy;       /* fp_defrag_policy for iteration's IP reassembly, -1 when off */
    int dissect_flags;       /* FP_DISSECT_NO_TUNNELS with decapsulate=False */
    struct fp_defrag *defrag; /* made at the first fragment */
    /* defragment= with a display filter: the filter decides on what the reassembler made of
     * the record, so fp_reader_pull offers it and keeps the outcome for the consumer:
     * FP_DEFRAG_PASS/HELD/COMPLETE and its result (a reassembled frame valid until the
     * next pull), or -1 when the pull did not reassemble (the consumer does). */
    int pulled_defrag;
    fp_defrag_result pulled_res;
    Py_buffer view;          /* memory sources: the caller's buffer, held while open */
    int has_view;
    int is_stream;           /* unstable record data (pipes, file objects, compressed, live) */
    int closed;
    Py_ssize_t exports;      /* PacketLists pointing into this source's mapping */
    fp_on_error policy;
    int has_limit;
    uint64_t limit, delivered, filtered; /* filtered: by BPF or the display filter */
    PyObject *error;         /* FormatError that ended iteration under on_error='stop' */
    /* Sharing: one consumer pulls at a time. A consumer that pulls with the GIL released
     * claims the Reader first (claim_owner, changed only with the GIL held); a thread that
     * has to wait locks claim_lock for the claimer (claim_locked) and waits on it with the
     * GIL released; the claimer's release unlocks it. */
    unsigned long claim_owner; /* thread ident of the claimer, 0 when unclaimed */
    PyThread_type_lock claim_lock; /* allocated by the first waiter */
    int claim_locked;
    PyObject *file;          /* the file object a stream is read from (GC-visible), or NULL */
    PyObject *input_exc;     /* exception a file object's read raised, re-raised for it */
    int64_t deadline_ns;     /* live: CLOCK_MONOTONIC time iteration ends at, 0 = none */
    int facade;              /* packets (and read_all's lists) are fastpkt.scapy's */
    /* Blocks of packets this Reader's iteration made, parked by packet_dealloc once nobody
     * held them (their hot slots still filled; no reference to the Reader): the next packet
     * reuses one in place. Freed by close() and dealloc. */
#define FP_READER_PARKED 2
    FpPacket *parked[FP_READER_PARKED];
    int nparked;
} fp_reader_obj;

/* FP_PULL_IDLE: a live source's read timeout passed without a packet. */
/* FP_PULL_NO_MEMORY: the reassembler ahead of a display filter could not be made. */
enum { FP_PULL_RECORD = 1, FP_PULL_END = 0, FP_PULL_SOURCE_ERROR = -1, FP_PULL_FILTER_ERROR = -2,
       FP_PULL_IDLE = 2, FP_PULL_NO_MEMORY = -3 };
int fp_reader_pull(fp_reader_obj *r, fp_record *rec, fp_error *err, char *errbuf, size_t errlen);
/* The dissection flags of the Packets a Reader makes of its records. */
int fp_reader_packet_flags(const fp_reader_obj *r, const fp_record *rec);
/* The Reader's reassembler (defragment=), made at the first call; NULL out of memory. */
fp_defrag *fp_reader_defrag(fp_reader_obj *r);
/* defragment=: the record just pulled offered to the Reader's reassembler once (the pull
 * did it ahead of a display filter, else the first consumer to ask; `d` its dissection or
 * NULL for a headers-only one made here): FP_DEFRAG_PASS/HELD/COMPLETE with pulled_res
 * filled, -1 out of memory. */
int fp_reader_reassemble(fp_reader_obj *r, const fp_record *rec, const fp_dissection *d);
/* A consumer reassembling on its own budget (an engine or fp.stats) pulls with
 * fp_reader_pull_reassembling: from a Reader with defragment= and a display filter
 * (FP_READER_FILTERS_AFTER_DEFRAG) every record passing BPF comes dissected whole in
 * r->dissection, and the consumer tests the filter after its reassembly, on what tshark shows
 * for the frame (fp_reader_match_reassembled: `data`/`len` the datagram a completing fragment
 * made, else the record; `d` their dissection, a held fragment's with its upper layers
 * hidden). 1 kept; 0 rejected, counted as the pull counts what it filters. */
#define FP_READER_FILTERS_AFTER_DEFRAG(r) ((r)->dfilter && (r)->defrag_policy >= 0)
int fp_reader_pull_reassembling(fp_reader_obj *r, fp_record *rec, fp_error *err, char *errbuf, size_t errlen);
int fp_reader_match_reassembled(fp_reader_obj *r, const fp_record *rec, const uint8_t *data, uint32_t len,
                                const fp_dissection *d);
int fp_reader_pull_finish(fp_reader_obj *r, fp_state *st, int rc, const fp_record *rec,
                          const fp_error *err, const char *errbuf);
void fp_reader_remember_stop_error(fp_reader_obj *r, fp_state *st);
/* A whole-file pass's progress callback (None: nothing) called with the bytes consumed and
 * the file's size; -1 with its exception set when it raised. */
int fp_reader_report_progress(fp_reader_obj *r, PyObject *progress);
void fp_reader_release_source(fp_reader_obj *r);
/* Around every GIL-free pull (GIL held for both calls): claim readers[0..n) (Reader
 * objects), all or none, waiting with the GIL released while another thread holds
 * any; -1 with an exception when this thread holds one already or one is listed twice.
 * While claimed, records and stream buffers belong to the claimer alone; close() from
 * another thread only marks the Reader, and the release frees it. */
int fp_readers_claim(PyObject *const *readers, Py_ssize_t n);
void fp_readers_release(PyObject *const *readers, Py_ssize_t n);
/* Drop one export (a Packet/PacketList viewing the mapping); frees it after close(). */
void fp_reader_unexport(fp_reader_obj *r);
/* read_all: progress (callable(position, size) or NULL/None) is called every 65,536 records. */
PyObject *fp_packetlist_from_reader(PyObject *reader, uint64_t limit, PyObject *progress);
/* Writers: the number of records of a PacketList, and record i's fields (data and options
 * stay valid while the list lives) without making a Packet. */
Py_ssize_t fp_packetlist_size(PyObject *pl);
void fp_packetlist_record(PyObject *pl, Py_ssize_t i, fp_record *rec);
int fp_reader_register(PyObject *m, fp_state *st);
int fp_packetlist_register(PyObject *m, fp_state *st);
int fp_writer_register(PyObject *m, fp_state *st);
int fp_flows_register(PyObject *m, fp_state *st);
int fp_streams_register(PyObject *m, fp_state *st);
int fp_hellos_register(PyObject *m, fp_state *st);
int fp_dns_register(PyObject *m, fp_state *st); /* engine_dns.c: DnsTransaction, DNS_FIELDS */
int fp_capture_register(PyObject *m, fp_state *st);
int fp_http_register(PyObject *m, fp_state *st);
int fp_arrow_register(PyObject *m);
int fp_info_register(PyObject *m); /* info.c: _capture_info, what capinfos counts */
int fp_summary_register(PyObject *m); /* summary.c: _summary, fastpkt summary's counters */
int fp_stats_register(PyObject *m, fp_state *st); /* stats.c: _stats, the -z engine */

/* Table methods shared by PacketList, Flows, Streams and ClientHellos (arrow.c): the Arrow
 * PyCapsule interface and the exports, all over one stream of record batches. */
PyObject *fp_table_arrow_c_stream(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_arrow_c_schema(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_to_pandas(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_to_arrow(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_to_polars(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_to_parquet(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_to_csv(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *fp_table_record_batches(PyObject *self, PyObject *args, PyObject *kwargs);
/* _repr_html_ for notebooks: fastpkt.views.html(self). fp_add_view_method() adds it to a
 * type built elsewhere (struct sequences). */
PyObject *fp_view_html(PyObject *self, PyObject *unused);
int fp_add_view_method(PyTypeObject *tp);
#define FP_VIEW_METHOD {"_repr_html_", fp_view_html, METH_NOARGS, "Notebook view (fastpkt.views)."}
#define FP_TABLE_METHOD(name, fn, doc) {name, (PyCFunction)(void (*)(void))(fn), METH_VARARGS | METH_KEYWORDS, doc}
#define FP_TABLE_METHODS                                                                                     \
    FP_TABLE_METHOD("__arrow_c_stream__", fp_table_arrow_c_stream,                                            \
                    "__arrow_c_stream__(requested_schema=None): an Arrow C stream PyCapsule of the rows,\n"    \
                    "in record batches of 65,536 (pyarrow, Polars, DuckDB read it)."),                        \
    FP_TABLE_METHOD("__arrow_c_schema__", fp_table_arrow_c_schema, "An Arrow C schema PyCapsule of the columns."), \
    FP_TABLE_METHOD("to_pandas", fp_table_to_pandas, "Every row as a pandas DataFrame (C buffers, no copies)."),  \
    FP_TABLE_METHOD("to_arrow", fp_table_to_arrow, "Every row as a pyarrow Table (from the Arrow stream)."),     \
    FP_TABLE_METHOD("to_polars", fp_table_to_polars, "Every row as a Polars DataFrame (from the Arrow stream)."), \
    FP_TABLE_METHOD("to_parquet", fp_table_to_parquet, "to_parquet(path): write the rows batch by batch."),     \
    FP_TABLE_METHOD("to_csv", fp_table_to_csv, "to_csv(path): write the rows as CSV batch by batch."),          \
    FP_TABLE_METHOD("record_batches", fp_table_record_batches,                                                \
                    "record_batches(batch_size=None): a pyarrow RecordBatchReader over the rows.")
int fp_probe_register(PyObject *m, fp_state *st); /* probe.c: send, sr */
/* HTTP anomaly bits as a tuple of names; a field's value as str (obs-folds unfolded). */
PyObject *fp_http_anomaly_tuple(uint32_t bits);
PyObject *fp_http_value_str(const uint8_t *data, const fp_http_header *h);

/* Float seconds -> integer nanoseconds, splitting off whole seconds first so that
 * times like 1234567890.25 convert exactly (a double holds ~16 digits). Times outside the
 * 64-bit range (before 1677, after 2262) saturate, as the readers' timestamps do (their
 * largest, INT64_MAX ns, reads back as 9223372036.854776 s: it must not wrap). NaN is 0. */
static inline int64_t fp_seconds_to_ns(double t)
{
    if (t != t) return 0;
    if (t >= 9223372036.854775807) return INT64_MAX;
    if (t <= -9223372036.854775808) return INT64_MIN;
    double whole = t >= 0 ? (double)(int64_t)t : -(double)(int64_t)(-t);
    if (whole > t) whole -= 1.0;
    int64_t ns = (int64_t)((t - whole) * 1e9 + 0.5);
    if (whole < 0) /* whole * 1e9 alone may pass INT64_MIN where the sum does not */
        return (int64_t)(whole + 1.0) * 1000000000LL + (ns - 1000000000LL);
    return (int64_t)whole * 1000000000LL + ns;
}

/* Register a struct sequence type and a module tuple of its field names (e.g. FLOW_COLUMNS). */
int fp_add_struct_type(PyObject *m, PyStructSequence_Desc *desc, PyTypeObject **type, const char *names_attr);
/* module.func(self, *args, **kwargs): a method whose body is Python (module.c). */
PyObject *fp_call_method_py(const char *module, const char *func, PyObject *self, PyObject *args,
                            PyObject *kwargs);

/* Raise the fastpkt exception matching a source error. */
void fp_raise_source_error(fp_state *st, const fp_error *err);

/* pyinput.c: a binary file object read through readinto() (or read()), the GIL taken
 * inside each read. `file` is borrowed: the caller keeps it alive until in->close ran.
 * An exception it raises is kept in *exc_slot (the Reader's), and the read fails with
 * FP_ERR_IO. 0: *in set; -1: exception set. */
int fp_pyinput_new(PyObject *file, PyObject **exc_slot, fp_input *in);
/* Has `o` a readinto or read method? */
int fp_pyinput_check(PyObject *o);

#endif
