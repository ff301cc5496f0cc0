"""Type stubs for the C extension. The public names are re-exported by fastpkt/__init__.py."""
from __future__ import annotations

from os import PathLike
from typing import IO, Any, Callable, ClassVar, Iterable, Iterator, Literal, Sequence, TypeVar, final, overload, type_check_only

import pandas
import polars
import pyarrow
from typing_extensions import Buffer, Self, disjoint_base

from .http import HttpMessages

_OnError = Literal["raise", "stop", "skip"]
_OnMemoryError = Literal["raise", "drop"]
# str/bytes/PathLike are paths ("-" is stdin); binary file objects are read as streams through
# their readinto() or read(); bytearray/memoryview/mmap (buffer protocol, not bytes) are
# in-memory captures. Any of them may be gzip, zstd, xz or bzip2 compressed (magic number).
_Source = str | bytes | PathLike[str] | IO[bytes] | bytearray | memoryview

class Error(Exception): ...
class FormatError(Error, ValueError):
    offset: int | None        # file offset of the bad header/record/block
    packet_index: int | None  # 0-based index the bad record would have had
class TruncatedError(FormatError): ...
class FilterError(Error, ValueError):
    """A display filter that does not compile; str() ends with the expression and a caret."""
    expression: str | None
    column: int | None        # offset of the offending token in expression
    length: int | None        # its length (0: the end of the expression)
    reason: str | None        # the message alone (tshark's wording where it has one)
# fp.read(..., on_error="raise") attaches what was read before the fault as `exc.packets`.

ANOMALIES: tuple[str, ...]   # every anomaly name, index = bit number
def field_names() -> tuple[str, ...]: ...   # every name Packet.field() knows (Wireshark's)
def _set_link_rule(linktype: int, next: int, header_len: int, ethertype_offset: int, /) -> None: ...
def _set_udp_tunnel_ports(ports: Sequence[tuple[int, int]], /) -> None: ...

@final
class DisplayFilter:
    """A Wireshark display filter (tshark -Y syntax) compiled to a C program."""
    def __new__(cls, expression: str) -> Self: ...
    expression: str
    def match(self, pkt: Packet) -> bool: ...
def compile_filter(expression: str) -> DisplayFilter: ...
def _set_facade_types(packet_type: type[Packet], layer_types: dict[type[Layer] | str, type[Layer]], /) -> None: ...
def _set_facade_slots(flag_cls: type, tcp_names: str, ip_names: list[str], raw_cls: type, /) -> None: ...
def _facade_flag(value: int, names: str | list[str], multi: bool, /) -> Any: ...
# the shared address-text, int and hot-view field tables of packet attributes
# (csrc/py/hotcache.c): slots, entries, bytes held (tables and objects), hits and misses
def _hot_cache_info() -> dict[str, int]: ...

@final
class FieldInfo(tuple[Any, ...]):
    """What Packet.field(name) returns (a struct sequence): Wireshark's type and width."""
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    name: str
    type: str            # uint bool ipv4 ipv6 ether string bytes time protocol
    bits: int | None     # width of uint/bool fields
    protocol: str        # the name's first part: "tcp" for "tcp.srcport"

def field_info(name: str, /) -> FieldInfo: ...   # ValueError (with a suggestion) when unknown
DEFAULT_MAX_MEMORY: int      # max_memory of flows/streams/client_hellos/dns when not given (1 GiB)

@final
class TCPFlags:
    """TCP flags: int-like, attributes F S R P A U E C N, str() like 'SA'."""
    F: bool; S: bool; R: bool; P: bool; A: bool; U: bool; E: bool; C: bool; N: bool
    value: int
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __and__(self, other: int, /) -> int: ...
    def __rand__(self, other: int, /) -> int: ...
    def __new__(cls, value: int | str = 0) -> Self: ...
    def __eq__(self, other: object, /) -> bool: ...   # compares with int or flag string 'SA'
    def __contains__(self, letters: str, /) -> bool: ...
    def __or__(self, other: int, /) -> int: ...
    def __ror__(self, other: int, /) -> int: ...
    def __xor__(self, other: int, /) -> int: ...
    def __rxor__(self, other: int, /) -> int: ...
    def __bool__(self) -> bool: ...
    def __hash__(self) -> int: ...

@disjoint_base
class Layer:
    name: str                 # 'Ether', 'IP', 'TCP', ... (Scapy's class names)
    @property
    def _packet(self) -> Packet | None: ...   # the packet a view reads (None: a builder)
    fields: tuple[str, ...]   # field names shown by show()
    offset: int               # offset of the header within the packet bytes
    header_len: int
    @property
    def payload(self) -> Any: ...     # view: bytes after the header, within its length;
                                      # being built: the next layer (Raw for raw bytes), b'' at the end
    @property
    def raw(self) -> bytes: ...       # header + payload bytes of this layer
    def __bytes__(self) -> bytes: ...
    def fields_dict(self) -> dict[str, Any]: ...
    def _repr_html_(self) -> str: ...   # fields as (Wireshark name where known, value) rows
    # Building (layers made by a constructor, `/`, copy() or parsing bytes are editable):
    # IP(dst="10.0.0.1", ttl=5) / TCP(dport=80, flags="S"); IP(raw_bytes); del pkt[IP].chksum
    fields_desc: tuple[tuple[str, str, Any, int, bool], ...]  # (name, kind, default, bits, auto)
    def __new__(cls, _raw: bytes | bytearray | memoryview = ..., /, **fields: Any) -> Self: ...
    def __truediv__(self, other: object, /) -> Layer: ...    # a Layer, bytes, str or Raw
    def __rtruediv__(self, other: object, /) -> Layer: ...
    def __contains__(self, layer: type | str, /) -> bool: ...
    def __getitem__(self, layer: type | str, /) -> Any: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Layer]: ...   # the packets a network ("10.0.0.0/24") or a list of values stands for
    def __setattr__(self, name: str, value: Any, /) -> None: ...
    def __delattr__(self, name: str, /) -> None: ...
    def __getattribute__(self, name: str, /) -> Any: ...   # declared fields keep their types
    def copy(self) -> Layer: ...
    def verify_checksums(self) -> dict[str, bool | None]: ...
    def show(self, dump: bool = False) -> str | None: ...
    def show2(self, dump: bool = False) -> str | None: ...
    def summary(self) -> str: ...

@final
class Raw(bytes):
    """A payload layer's bytes (``pkt[fastpkt.scapy.Raw]``): bytes, with Scapy's ``load``."""
    @property
    def load(self) -> bytes: ...

class Ether(Layer):
    src: str; dst: str; type: int
@final
class SLL(Layer):             # Linux cooked v1 and v2 (pkt.sll)
    pkttype: int; hatype: int; halen: int; addr: str; proto: int; ifindex: int | None
@final
class Loopback(Layer):        # BSD NULL/LOOP
    type: int
@final
class RadioTap(Layer):        # radiotap header (pkt.radiotap); fields of its first presence word
    version: int; pad: int; len: int; present: int
    Flags: int | None; Rate: float | None          # Rate in Mb/s
    ChannelFrequency: int | None; ChannelFlags: int | None; dBm_AntSignal: int | None
@final
class Dot11(Layer):           # 802.11 MAC header (pkt.wlan)
    subtype: int; type: int; proto: int; FCfield: int; ID: int | None; SC: int | None
    addr1: str | None; addr2: str | None; addr3: str | None; addr4: str | None
    ra: str | None; ta: str | None; da: str | None; sa: str | None; bssid: str | None
    seq: int | None; frag: int | None; type_subtype: int; retry: bool; protected: bool
    frame_name: str | None   # Wireshark's name: 'Beacon frame', 'QoS Data', ...
@final
class Dot1Q(Layer):
    vlan: int; prio: int; id: int; dei: int; tpid: int   # id = dei = DEI bit (Scapy's names); vlan = VID
    type: int                                  # ethertype that follows this tag
@final
class ARP(Layer):
    hwtype: int; ptype: int; hwlen: int; plen: int; op: int
    hwsrc: str; psrc: str; hwdst: str; pdst: str
@final
class IP(Layer):
    version: int; ihl: int; tos: int; len: int; id: int
    flags: int; DF: bool; MF: bool
    frag: int                 # fragment offset in 8-byte units (as in the header, Scapy)
    frag_bytes: int
    ttl: int; proto: int; chksum: int; src: str; dst: str
    options: bytes
    def checksum_ok(self) -> bool | None: ...
@final
class IPv6(Layer):
    version: int; tc: int; fl: int; plen: int; nh: int; hlim: int; src: str; dst: str
    ext_headers: list[tuple[int, int, int]]  # (next-header value, offset, length)
    proto: int                               # upper-layer protocol after extension headers
    frag: int | None                         # fragment offset in 8-byte units, None if unfragmented
    MF: bool
    @property
    def ttl(self) -> int: ...                # alias of hlim, so loops written for IP work
@final
class TCP(Layer):
    sport: int; dport: int; seq: int; ack: int; dataofs: int; reserved: int
    flags: TCPFlags; window: int; chksum: int; urgptr: int
    options: list[tuple[str, Any]]   # Scapy-style: [('MSS', 1460), ('SAckOK', b''), ('Timestamp', (1, 0)), ...]
    mss: int | None; wscale: int | None; sack_permitted: bool
    sack: list[tuple[int, int]]; timestamp: tuple[int, int] | None
    def checksum_ok(self) -> bool | None: ...
@final
class UDP(Layer):
    sport: int; dport: int; len: int; chksum: int
    def checksum_ok(self) -> bool | None: ...
@final
class ICMP(Layer):
    type: int; code: int; chksum: int; id: int | None; seq: int | None
    def checksum_ok(self) -> bool | None: ...
class ICMPv6(Layer):
    type: int; code: int; chksum: int; id: int | None; seq: int | None
    def checksum_ok(self) -> bool | None: ...

@final
class ICMPv6EchoRequest(ICMPv6):  # building only
    cksum: int; data: bytes
@final
class ICMPv6EchoReply(ICMPv6):
    cksum: int; data: bytes
@final
class IPv6ExtHdrHopByHop(Layer):  # building only; options: bytes (padded with Pad1/PadN)
    nh: int; len: int | None; options: bytes | list[bytes]
@final
class IPv6ExtHdrDestOpt(Layer):
    nh: int; len: int | None; options: bytes | list[bytes]
@final
class IPv6ExtHdrRouting(Layer):
    nh: int; len: int | None; type: int; segleft: int | None; reserved: int; addresses: list[str]
@final
class IPv6ExtHdrFragment(Layer):
    nh: int; res1: int; offset: int; res2: int; m: int; id: int

@final
class DNSQR:
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    def __new__(cls, qname: str | bytes = "www.example.com", qtype: int | str = 1, qclass: int | str = 1) -> Self: ...
    qname: str; qtype: int; qclass: int
@final
class DNSRR:
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    def __new__(cls, rrname: str | bytes = ".", type: int | str = 1, rclass: int | str = 1, ttl: int = 0,
                rdlen: int | None = None, rdata: Any = None, rdata_raw: bytes | None = None) -> Self: ...
    rrname: str; type: int; rclass: int; ttl: int; rdlen: int
    rdata: str | bytes        # text for A/AAAA/CNAME/NS/PTR/MX/TXT/SOA/SRV, raw bytes otherwise
    rdata_raw: bytes
@final
class DNS(Layer):
    id: int; qr: int; opcode: int; aa: int; tc: int; rd: int; ra: int; z: int; ad: int; cd: int
    rcode: int; qdcount: int; ancount: int; nscount: int; arcount: int
    qd: list[DNSQR]; an: list[DNSRR]; ns: list[DNSRR]; ar: list[DNSRR]
    DNSQR: ClassVar[type[DNSQR]]; DNSRR: ClassVar[type[DNSRR]]   # the record types, as Scapy nests them
    qname: str | None         # first question's name
    malformed: bool           # records could not all be decoded (anomaly also set)
@final
class HTTP(Layer):
    is_request: bool
    method: str | None; uri: str | None; path: str | None; version: str
    status: int | None; reason: str | None
    headers: dict[str, str]   # lower-case names; repeated headers joined by ', '
    host: str | None
    headers_complete: bool
    body: bytes               # what follows the headers in this segment
    anomalies: tuple[str, ...]  # head anomalies, as fp.http messages name them
@final
class TLS(Layer):
    type: int                 # record content type (22 = handshake)
    version: int              # record version
    len: int
    handshake_type: int | None
    is_client_hello: bool
    hello_version: int | None
    sni: str | None           # ClientHello server_name (single segment)
    hello: ClientHello | None  # the whole ClientHello when this segment holds it
    hello_complete: bool

@final
class PPPOption:
    """One option of a PPP control packet's Configure-* (a struct sequence)."""
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    type: int
    length: int
    value: int | str | bytes | bool | None   # decoded (MRU, ACCM, addresses...); None when invalid or unknown
    data: bytes                               # the bytes after type and length
    name: str | None                          # 'mru', 'auth_protocol', 'pri_dns_address', ...
    field: str | None                         # tshark's field of the value: 'lcp.opt.mru', ...
    valid: bool                               # False: its length lies (ppp_control_malformed)
    algorithm: int | None                     # CHAP's algorithm of an Authentication-Protocol option

@disjoint_base
class PPPControl:
    """A PPP control packet of a Packet (pkt.lcp, pkt.ipcp, pkt.ipv6cp, pkt.ccp): a lazy view."""
    @property
    def name(self) -> str: ...               # 'LCP', 'IPCP', 'IPV6CP', 'CCP'
    @property
    def protocol(self) -> int: ...           # 0xc021, 0x8021, 0x8057, 0x80fd
    @property
    def code(self) -> int: ...               # ppp.code
    @property
    def identifier(self) -> int: ...         # ppp.identifier
    @property
    def length(self) -> int: ...             # ppp.length as captured (it may lie)
    @property
    def options(self) -> tuple[PPPOption, ...]: ...   # Configure-Request/Ack/Nak/Reject's
    @property
    def magic_number(self) -> int | None: ...         # LCP codes 9-13 (Echo, Discard, Identification...)
    @property
    def rejected_protocol(self) -> int | None: ...    # LCP Protocol-Reject
    @property
    def payload(self) -> bytes: ...          # after the 4-byte header, within the length
    @property
    def raw(self) -> bytes: ...
    @property
    def offset(self) -> int: ...
    @property
    def header_len(self) -> int: ...
    @property
    def malformed(self) -> bool: ...         # the packet has ppp_control_malformed
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def _packet(self) -> Packet: ...
    def fields_dict(self) -> dict[str, Any]: ...
    def __bytes__(self) -> bytes: ...
    def _repr_html_(self) -> str: ...
@final
class LCP(PPPControl): ...
@final
class IPCP(PPPControl): ...
@final
class IPV6CP(PPPControl): ...
@final
class CCP(PPPControl): ...

_L = TypeVar("_L", bound=Layer)

@final
class Packet:
    time: float
    time_ns: int
    wirelen: int
    caplen: int
    linktype: int
    interface: int
    comment: str | None   # pcapng: the first opt_comment
    raw: bytes
    eth: Ether | None; sll: SLL | None; loopback: Loopback | None
    radiotap: RadioTap | None; wlan: Dot11 | None
    vlan: Dot1Q | None; vlans: list[Dot1Q]
    arp: ARP | None; ip: IP | None; ip6: IPv6 | None
    tcp: TCP | None; udp: UDP | None; icmp: ICMP | None; icmp6: ICMPv6 | None
    dns: DNS | None; http: HTTP | None; tls: TLS | None
    lcp: LCP | None; ipcp: IPCP | None; ipv6cp: IPV6CP | None; ccp: CCP | None  # PPP control packets
    src: str | None; dst: str | None            # network-layer addresses (IPv4 or IPv6)
    sport: int | None; dport: int | None; proto: int | None
    # ip/ip6/src/dst/proto: the innermost IP header there is; udp/sport/dport: over a UDP tunnel
    # carrying no IP packet (VXLAN carrying ARP), the tunnel's UDP header (as the table row)
    payload: bytes            # innermost payload after the last decoded header
    anomalies: tuple[str, ...]
    layers: tuple[str, ...]   # layer names outer to inner, e.g. ('Ether', 'IP', 'TCP')
    fragments: tuple[int, ...] | None  # frames a reassembled IP datagram came from, by offset
    tunnels: tuple[tuple[str, int | None], ...]  # encapsulations decoded, outer to inner
    outer_ip: IP | IPv6 | None  # outermost IP header of a tunnelled packet (ip/ip6 are the innermost)
    wire: bytes               # the frame as captured (raw is the reassembled one when they differ)
    fcslen: int               # FCS bytes its interface declares (if_fcslen, pcap FCS bits); writers keep it
    def __new__(cls, data: bytes, linktype: int = 1, time: float | None = None,
                wirelen: int | None = None, *, decapsulate: bool = True) -> Self: ...
    def haslayer(self, layer: str | type) -> bool: ...
    def __contains__(self, layer: str | type, /) -> bool: ...
    # pkt[fp.TCP] is the TCP layer (typed as such); KeyError like Scapy's IndexError when absent
    @overload
    def __getitem__(self, layer: type[_L], /) -> _L: ...
    @overload
    def __getitem__(self, layer: str, /) -> Layer: ...
    @overload
    def __getitem__(self, layer: type, /) -> Any: ...   # fastpkt.scapy.Raw: the payload (.load)
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...             # wirelen
    def summary(self) -> str: ...
    def show(self, dump: bool = False) -> str | None: ...
    def copy(self) -> Layer: ...   # an editable copy: the bytes read back into builder layers
    def verify_checksums(self) -> dict[str, bool | None]: ...
    # Setting or deleting a layer's field (del pkt[IP].chksum) edits the packet: its layers and
    # bytes() show the rebuilt packet from then on.
    # A field by its Wireshark name ("tcp.srcport", "dns.qry.name"): the first value or None;
    # all=True: every occurrence (VLAN tags, DNS records, ...) as a list. Values: int (uint),
    # bool, str (addresses, strings), float (frame.time_epoch), bytes (a protocol's bytes).
    # ValueError for an unknown name, with the nearest known one.
    def field(self, name: str, *, all: bool = False) -> Any: ...

@disjoint_base
class Reader:
    """Lazy iterator over a capture. Context manager. May feed several threads and engines at
    once: each packet goes to exactly one of them."""
    _facade: bool   # make fastpkt.scapy's packets (ScapyPacket)
    def __init__(self, source: _Source, filter: str | None = None, on_error: _OnError = "raise",
                 count: int | None = None,
                 display_filter: str | DisplayFilter | None = None,
                 defragment: bool | str = False,  # or "first", "last", "bsd", "linux"
                 decapsulate: bool = True) -> None: ...
    format: Literal["pcap", "pcapng"]
    linktype: int
    snaplen: int
    nanosecond: bool
    packets_read: int       # records delivered
    skipped: int            # bad records skipped under on_error="skip"
    filtered: int           # records rejected by the BPF filter or the display filter
    display_filter: DisplayFilter | None
    frame_number: int       # records read so far: tshark's frame.number of the last packet
    position: int           # bytes consumed (decompressed bytes for compressed captures)
    size: int               # file size (0 for streams, compressed captures included)
    compression: Literal["gzip", "zstd", "xz", "bzip2"] | None   # found by magic number
    error: FormatError | None   # what ended iteration under on_error="stop"
    defrag_stats: dict[str, int]   # defragment=True: fragments, reassembled, dropped, ... (stats['defrag'])
    def __iter__(self) -> Iterator[Packet]: ...
    def __next__(self) -> Packet: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def close(self) -> None: ...
    # progress(position, size) every 65,536 packets and at the end
    def read_all(self, count: int | None = None, progress: Callable[[int, int], object] | None = None) -> PacketList: ...
    def count(self) -> int: ...   # C-only pass: packets passing the filter, no objects made
    def _open_live(self, iface: str | None = ..., filter: str | None = ..., *, snaplen: int = ...,
                   promisc: bool = ..., immediate: int = ..., buffer_size: int = ..., timeout_ms: int = ...,
                   nanosecond: bool = ..., display_filter: str | DisplayFilter | None = ...) -> None: ...
    def _live_stats(self) -> tuple[int, int, int] | None: ...
    def _set_deadline(self, seconds: float | None) -> None: ...
    def _set_limit(self, count: int) -> None: ...
    def _break(self) -> None: ...
    # record-aligned byte ranges (csrc/source/chunk.c): boundaries, one guess, one range
    def _split(self, n: int, /) -> list[int]: ...
    def _sync(self, offset: int, /) -> int: ...
    def _set_range(self, start: int, end: int, first_index: int | None = None, /) -> None: ...
    def _share_mapping(self, other: Reader, /) -> bool: ...
    _range_exact: bool      # the range ended on a record boundary, no interface declared
    closed: bool
    def _repr_html_(self) -> str: ...
    # the remaining packets as an Arrow stream (PacketList.to_pandas() columns, in batches)
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def record_batches(self, batch_size: int | None = None) -> pyarrow.RecordBatchReader: ...
    # the exports consume the Reader like iteration: a Reader is read once
    def to_pandas(self, *, progress: bool | Callable[[int, int], object] | None = None) -> pandas.DataFrame: ...
    def to_arrow(self) -> pyarrow.Table: ...
    def to_polars(self) -> polars.DataFrame: ...
    def to_parquet(self, path: str | PathLike[str], partition_cols: Sequence[str] | None = None) -> None: ...
    def to_csv(self, path: str | PathLike[str]) -> None: ...

@type_check_only
class _Tables:
    """Stub only: the exports (fastpkt.tables) PacketList, Flows, ClientHellos and DnsTransactions each define,
    one stream of record batches behind all of them (Streams' take payload=)."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...
    def to_pandas(self) -> pandas.DataFrame: ...
    def to_arrow(self) -> pyarrow.Table: ...
    def to_polars(self) -> polars.DataFrame: ...
    def to_parquet(self, path: str | PathLike[str], partition_cols: Sequence[str] | None = None) -> None: ...
    def to_csv(self, path: str | PathLike[str]) -> None: ...
    def record_batches(self, batch_size: int | None = None) -> pyarrow.RecordBatchReader: ...

@final
class PacketList(Sequence[Packet], _Tables):
    _facade: bool   # make fastpkt.scapy's packets (ScapyPacket)
    linktype: int; snaplen: int; nanosecond: bool; big_endian: bool
    file_header: bytes | None   # pcap header / pcapng leading blocks as read: exact rewrites
    format: Literal["pcap", "pcapng"]
    interfaces: list[dict[str, Any]]   # pcapng: linktype, snaplen, tsresol, tsoffset, name, fcslen
    mapped_bytes: int   # file bytes kept mapped from read to export (0: pages go back as read)
    def filter_mask(self, display_filter: str | DisplayFilter) -> bytes: ...   # 1 per passing packet
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, i: int, /) -> Packet: ...
    @overload
    def __getitem__(self, s: slice, /) -> PacketList: ...
    def __iter__(self) -> Iterator[Packet]: ...
    def summary(self) -> str: ...
    # Column buffers built in C with the GIL released, one tuple per column:
    # (name, numpy dtype, buffer) | (name, "masked<uN", values, mask) | (name, "category", int32 codes, categories)
    def columns(self, progress: Callable[[int, int], object] | None = None, *, _threads: int = 0) -> list[tuple[Any, ...]]: ...
    # progress: True/False/None (a bar past ~64 MiB of packets when someone watches) or progress(done, rows)
    def to_pandas(self, progress: bool | Callable[[int, int], object] | None = None) -> pandas.DataFrame: ...
    def _repr_html_(self) -> str: ...

@disjoint_base
class Writer:
    """pcap or pcapng output (csrc/write). A path this process is reading is replaced at
    close(), never truncated; atomic=True always writes a temporary file renamed at close()."""
    def __init__(self, path: str | PathLike[str] | IO[bytes], linktype: int | None = None,
                 snaplen: int = 262144, nanosecond: bool | None = None, big_endian: bool = False,
                 header: bytes | None = None, *, format: Literal["pcap", "pcapng"] | None = None,
                 interfaces: Sequence[dict[str, Any]] | None = None, atomic: bool = False,
                 fcslen: int | None = None) -> None: ...
    def write(self, packet: Packet | bytes, time: float | None = None, time_ns: int | None = None,
              wirelen: int | None = None, *, interface: int | None = None, comment: str | None = None,
              flags: int | None = None) -> None: ...   # ValueError for values the format cannot hold
    def write_all(self, packets: Iterable[Packet | bytes]) -> int: ...   # a PacketList: in C
    def record_size(self, packet: Packet | bytes, time: float | None = None, time_ns: int | None = None,
                    wirelen: int | None = None, *, interface: int | None = None,
                    comment: str | None = None, flags: int | None = None) -> int: ...
    def add_interface(self, linktype: int, *, snaplen: int | None = None, tsresol: int | None = None,
                      tsoffset: int = 0, name: str | None = None, fcslen: int = 0) -> int: ...   # pcapng
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...   # on an exception a temporary file is removed
    packets_written: int
    bytes_written: int
    closed: bool
    path: str | None   # None for a file object
    def _repr_html_(self) -> str: ...
    format: Literal["pcap", "pcapng"]
    linktype: int
    interfaces: list[dict[str, Any]]   # pcapng: linktype, snaplen, tsresol, tsoffset, name, fcslen
    replacing: bool                    # output is a temporary file renamed over path at close()

# ---- flows (csrc/flow, csrc/py/engine.c; build them with fastpkt.flows()) ----------------
FLOW_COLUMNS: tuple[str, ...]   # the column names, in DataFrame order

@final
class Flow(tuple[Any, ...]):
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    """One flow (a struct sequence): fields are the DataFrame columns. Times are float
    seconds since the epoch, missing values None, unobserved floats NaN."""
    flow_id: int
    first_seen: float
    last_seen: float
    duration: float
    src_ip: str                 # the client (first sender; SYN sender when a SYN-ACK came first)
    dst_ip: str
    src_port: int | None        # None for non-TCP/UDP
    dst_port: int | None
    protocol: int
    protocol_name: str          # TCP, UDP, ICMP, ICMPv6, GRE, ... or IP-<n>
    ip_version: int
    vlan: int | None            # outer 802.1Q id
    tunnel: str | None          # innermost encapsulation (VXLAN, GRE, PPTP, GTP_U, MPLS, ...); flows key on it
    tunnel_id: int | None       # its VNI, GRE key, ERSPAN or PPPoE session id (GTP-U TEIDs, MPLS
                                # labels, PPTP call ids differ by direction: not in the key, None)
    icmp_type: int | None       # first packet's (ICMP/ICMPv6 flows)
    icmp_code: int | None
    fwd_packets: int
    fwd_bytes: int              # wire length
    rev_packets: int
    rev_bytes: int
    packets: int
    bytes: int
    fwd_payload_bytes: int
    rev_payload_bytes: int
    syn: int                    # SYN without ACK
    synack: int
    fin: int
    rst: int
    psh: int
    urg: int
    ece: int
    cwr: int
    conn_state: str             # Zeek: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH
    history: str                # Zeek letters S H A D F R T W Q I ^ (upper = originator)
    rtt_syn_synack: float
    rtt_synack_ack: float
    retransmits: int
    fwd_acked_bytes: int | None
    rev_acked_bytes: int | None
    missed_bytes: int
    out_of_order: int
    fwd_size_min: float
    fwd_size_mean: float
    fwd_size_max: float
    fwd_size_std: float         # sample std (ddof=1), NaN below 2 packets
    rev_size_min: float
    rev_size_mean: float
    rev_size_max: float
    rev_size_std: float
    fwd_iat_min: float
    fwd_iat_mean: float
    fwd_iat_max: float
    fwd_iat_std: float
    rev_iat_min: float
    rev_iat_mean: float
    rev_iat_max: float
    rev_iat_std: float
    sni: str | None
    alpn: str | None
    ja3: str | None
    ja4: str | None
    http_host: str | None
    http_method: str | None
    dns_qname: str | None
    dns_rcode: int | None
    anomalies: str              # comma-joined names, "" when none
    expiration: str             # idle, active, fin, rst, end, evicted
    def _repr_html_(self) -> str: ...

@final
class Flows(_Tables):
    """Iterate to stream Flow records in expiry order (not kept), or call to_pandas()/
    to_arrow()/len() first to read everything and keep all flows."""
    def __new__(cls, readers: Sequence[Reader], *, bidirectional: bool = True,
                 idle_timeout: float | None = 120.0, active_timeout: float | None = 1800.0,
                 max_flows: int | None = 1_000_000, max_memory: int | None = None,
                 progress: Any = None, tls: bool = True, max_hello_fields: int | None = 16384,
                 on_memory_error: Literal["raise", "drop"] = "raise",
                 _shard: tuple[int, int] | tuple[int, int, bool] | None = None) -> Self: ...
    @classmethod
    def _split_walk(cls, shards: tuple[Self, ...], chunk_bytes: int, window: int, /) -> bool: ...
    @classmethod
    def _walk_entries(cls, reader: Reader, shards: int, /) -> tuple[bytes, bool]: ...
    def _feed(self, entries: tuple[Buffer | tuple[Buffer | str, ...], ...], /) -> None: ...
    def _split_leave(self) -> None: ...
    def _split_state(self) -> tuple[str | None, int] | None: ...
    @classmethod
    def _merge(cls, shards: tuple[Self, ...], /) -> Self: ...
    @classmethod
    def _merge_live(cls, shards: tuple[Self, ...], fallback: Callable[[int], Any], queue_bytes: int = 0, /) -> Self: ...
    def _live(self) -> None: ...
    def _shard_ids(self) -> tuple[bytes, bytes, bytes]: ...
    def __iter__(self) -> Iterator[Flow]: ...
    def __next__(self) -> Flow: ...
    def __len__(self) -> int: ...
    def __getitem__(self, i: int, /) -> Flow: ...
    def columns(self) -> list[tuple[Any, ...]]: ...   # the fastpkt.frames protocol
    def _columns_range(self, start: int, stop: int, /) -> list[tuple[Any, ...]]: ...
    def _columns_next(self, n: int, /) -> list[tuple[Any, ...]]: ...
    def flush(self) -> None: ...
    def _repr_html_(self) -> str: ...
    stats: dict[str, Any]
    finished: bool
    _kept: bool

@final
class Gap(tuple[int, int]):
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    """`length` bytes the capture lacks belong at index `offset` of the direction's data."""
    offset: int
    length: int

@final
class StreamChunk(tuple[Any, ...]):
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    """In-order data handed to streams(on_data=...)."""
    stream_id: int
    direction: str      # 'client' (client -> server) or 'server'
    offset: int         # position in the direction's byte stream, missing bytes counted
    data: bytes
    gap: int            # bytes missing just before this chunk
    client: tuple[str, int]
    server: tuple[str, int]

@final
class Stream:
    """One reassembled TCP connection."""
    stream_id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    key: tuple[str, int, str, int]
    ip_version: int
    vlan: int | None
    client_data: bytes
    server_data: bytes
    client_gaps: list[Gap]
    server_gaps: list[Gap]
    client_gap_bytes: int
    server_gap_bytes: int
    state: str          # 'closed' | 'reset' | 'timeout' | 'open' | 'truncated'
    client_closed: bool
    server_closed: bool
    complete: bool
    midstream: bool
    stored: bool
    client_packets: int
    server_packets: int
    client_bytes: int
    server_bytes: int
    first_seen: float
    last_seen: float
    anomalies: tuple[str, ...]
    flow: Flow
    def http_messages(self, decode: bool = False) -> HttpMessages: ...
    def save(self, directory: str | PathLike[str]) -> list[Any]: ...
    def _repr_html_(self) -> str: ...

@final
class Streams:
    """Iterate for Stream objects as connections end; run() when only on_data matters."""
    def __new__(cls, readers: Sequence[Reader], *, idle_timeout: float | None = 120.0,
                 max_flows: int | None = 1_000_000, depth: int | None = None,
                 max_buffered: int | None = 4 << 20, max_buffered_total: int | None = 256 << 20,
                 store: bool = True, on_data: Callable[[StreamChunk], Any] | None = None,
                 progress: Any = None, max_memory: int | None = None,
                 on_memory_error: Literal["raise", "drop"] = "raise",
                 _shard: tuple[int, int] | tuple[int, int, bool] | None = None) -> Self: ...
    @classmethod
    def _split_walk(cls, shards: tuple[Self, ...], chunk_bytes: int, window: int, /) -> bool: ...
    @classmethod
    def _walk_entries(cls, reader: Reader, shards: int, /) -> tuple[bytes, bool]: ...
    def _feed(self, entries: tuple[Buffer | tuple[Buffer | str, ...], ...], /) -> None: ...
    def _split_leave(self) -> None: ...
    def _split_state(self) -> tuple[str | None, int] | None: ...
    @classmethod
    def _merge(cls, shards: tuple[Self, ...], /) -> Self: ...
    @classmethod
    def _merge_live(cls, shards: tuple[Self, ...], fallback: Callable[[int], Any], queue_bytes: int = 0, /) -> Self: ...
    def _live(self) -> None: ...
    def _shard_ids(self) -> tuple[bytes, bytes, bytes]: ...
    def _finish(self) -> None: ...
    def __iter__(self) -> Iterator[Stream]: ...
    def __next__(self) -> Stream: ...
    def run(self) -> int: ...
    def _repr_html_(self) -> str: ...
    # Tables (fastpkt.tables): one stream of record batches behind every export
    def __arrow_c_stream__(self, requested_schema: object | None = None, payload: bool = False) -> object: ...
    def __arrow_c_schema__(self, payload: bool = False) -> object: ...
    def to_pandas(self, payload: bool = False) -> pandas.DataFrame: ...
    def to_arrow(self, payload: bool = False) -> pyarrow.Table: ...
    def to_polars(self, payload: bool = False) -> polars.DataFrame: ...
    def to_parquet(self, path: str | PathLike[str], payload: bool = False,
                   partition_cols: Sequence[str] | None = None) -> None: ...
    def to_csv(self, path: str | PathLike[str], payload: bool = False) -> None: ...
    def record_batches(self, batch_size: int | None = None, payload: bool = False) -> pyarrow.RecordBatchReader: ...
    stats: dict[str, Any]
    finished: bool

# ---- HTTP/1.x over reassembled streams (csrc/stream/http_stream.c; use fastpkt.http.messages) ----
# (is_response, index, method|version, target|status, version|reason, headers, trailers, body,
#  body_complete, body_missing, framing, anomalies, data_start, data_end, peer list position)
_HttpRawMessage = tuple[bool, int, str, Any, str, list[tuple[str, str]], list[tuple[str, str]],
                        bytes, bool, int, str, tuple[str, ...], int, int, int | None]
_HttpDirectionState = tuple[str, int, int, tuple[str, ...]]   # (stop, parsed, skipped, anomalies)
def _http_parse(client_data: bytes | bytearray | memoryview, server_data: bytes | bytearray | memoryview,
                client_gaps: Iterable[tuple[int, int]], server_gaps: Iterable[tuple[int, int]],
                client_closed: bool, server_closed: bool
                ) -> tuple[list[_HttpRawMessage], _HttpDirectionState, _HttpDirectionState]: ...

HELLO_FIELDS: tuple[str, ...]   # ClientHello field names, in order

@final
class ClientHello(tuple[Any, ...]):
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    """One TLS ClientHello (TCP reassembled or QUIC decrypted), with the server's answer."""
    time: float
    stream_id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    ip_version: int
    transport: str                 # 'tcp' | 'quic'
    sni: str | None
    server_names: tuple[str, ...]
    alpn: tuple[str, ...]
    version: int
    version_name: str
    legacy_version: int
    versions: tuple[int, ...]
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    key_share_groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    psk_modes: tuple[int, ...]
    ech: bool
    grease: bool
    ja3: str | None
    ja3_hash: str | None
    ja4: str | None
    ja4_r: str | None
    hello_size: int                # body length the hello's header claims
    quic_version: int | None
    server_time: float | None
    server_version: int | None
    server_cipher: int | None
    server_alpn: str | None
    ja3s: str | None
    ja3s_hash: str | None
    anomalies: tuple[str, ...]
    def _repr_html_(self) -> str: ...

@final
class ClientHellos(_Tables):
    """Iterate for ClientHello records as connections' hellos complete."""
    def __new__(cls, readers: Sequence[Reader], *, idle_timeout: float | None = 120.0,
                 max_flows: int | None = 1_000_000, progress: Any = None,
                 max_hello_fields: int | None = 16384, max_memory: int | None = None,
                 on_memory_error: Literal["raise", "drop"] = "raise",
                 _shard: tuple[int, int] | tuple[int, int, bool] | None = None) -> Self: ...
    @classmethod
    def _split_walk(cls, shards: tuple[Self, ...], chunk_bytes: int, window: int, /) -> bool: ...
    @classmethod
    def _walk_entries(cls, reader: Reader, shards: int, /) -> tuple[bytes, bool]: ...
    def _feed(self, entries: tuple[Buffer | tuple[Buffer | str, ...], ...], /) -> None: ...
    def _split_leave(self) -> None: ...
    def _split_state(self) -> tuple[str | None, int] | None: ...
    @classmethod
    def _merge(cls, shards: tuple[Self, ...], /) -> Self: ...
    @classmethod
    def _merge_live(cls, shards: tuple[Self, ...], fallback: Callable[[int], Any], queue_bytes: int = 0, /) -> Self: ...
    def _live(self) -> None: ...
    def _shard_ids(self) -> tuple[bytes, bytes, bytes]: ...
    def _finish(self) -> None: ...
    def __iter__(self) -> Iterator[ClientHello]: ...
    def __next__(self) -> ClientHello: ...
    def _repr_html_(self) -> str: ...
    stats: dict[str, Any]
    finished: bool

DNS_FIELDS: tuple[str, ...]   # DnsTransaction field names, in order

@final
class DnsTransaction(tuple[Any, ...]):
    n_fields: ClassVar[int]
    n_sequence_fields: ClassVar[int]
    n_unnamed_fields: ClassVar[int]
    __match_args__: ClassVar[tuple[str, ...]]
    """One DNS transaction: a query and its responses (one connection, one id), after Zeek's dns.log."""
    ts: float                      # the query's time (the response's when no query was seen)
    flow_id: int                   # fastpkt.flows' flow_id of the same connection
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    ip_version: int
    proto: str                     # 'udp' | 'tcp'
    service: str                   # 'dns' | 'mdns' | 'llmnr'
    trans_id: int
    rtt: float | None              # seconds from the query to its first response
    query: str | None
    qclass: int | None
    qclass_name: str | None
    qtype: int | None
    qtype_name: str | None
    rcode: int | None
    rcode_name: str | None
    AA: bool
    TC: bool
    RD: bool
    RA: bool
    Z: int
    opcode: int
    opcode_name: str
    answers: tuple[str, ...]
    TTLs: tuple[float, ...]
    rejected: bool
    queries: int
    responses: int
    answered: bool
    anomalies: tuple[str, ...]
    def _repr_html_(self) -> str: ...

@final
class DnsTransactions(_Tables):
    """Iterate for DnsTransaction records as transactions close; len() once read to the end."""
    def __new__(cls, readers: Sequence[Reader], *, timeout: float | None = 10.0,
                 idle_timeout: float | None = 120.0, max_flows: int | None = 1_000_000, progress: Any = None,
                 max_memory: int | None = None, on_memory_error: Literal["raise", "drop"] = "raise",
                 _shard: tuple[int, int] | tuple[int, int, bool] | None = None) -> Self: ...
    @classmethod
    def _split_walk(cls, shards: tuple[Self, ...], chunk_bytes: int, window: int, /) -> bool: ...
    @classmethod
    def _walk_entries(cls, reader: Reader, shards: int, /) -> tuple[bytes, bool]: ...
    def _feed(self, entries: tuple[Buffer | tuple[Buffer | str, ...], ...], /) -> None: ...
    def _split_leave(self) -> None: ...
    def _split_state(self) -> tuple[str | None, int] | None: ...
    @classmethod
    def _merge(cls, shards: tuple[Self, ...], /) -> Self: ...
    @classmethod
    def _merge_live(cls, shards: tuple[Self, ...], fallback: Callable[[int], Any], queue_bytes: int = 0, /) -> Self: ...
    def _live(self) -> None: ...
    def _shard_ids(self) -> tuple[bytes, bytes, bytes]: ...
    def _finish(self) -> None: ...
    def _columns_next(self, n: int, /) -> list[tuple[Any, ...]]: ...
    def __iter__(self) -> Iterator[DnsTransaction]: ...
    def __next__(self) -> DnsTransaction: ...
    def __len__(self) -> int: ...
    def _repr_html_(self) -> str: ...
    stats: dict[str, Any]
    finished: bool

class CaptureError(Error, OSError): ...
class CapturePermissionError(CaptureError, PermissionError): ...
def _interfaces() -> list[dict[str, Any]]: ...
# Arrow C stream / schema PyCapsules from column specs (csrc/py/arrow.c; see fastpkt.tables)
# what capinfos counts, in one C pass: see fastpkt.summary.capture_info
def _capture_info(reader: Reader, progress: Callable[[int, int], object] | None = None) -> dict[str, Any]: ...
# fastpkt summary's counters, in one C pass: see fastpkt.summary.summarize
def _summary(reader: Reader, capacity: int = ..., key_bytes: int = ..., batch: int = ...,
             progress: Callable[[int, int], object] | None = None) -> dict[str, Any]: ...
def _arrow_stream(schema_specs: Sequence[tuple[Any, ...]], batches: Iterable[Sequence[tuple[Any, ...]]], /) -> object: ...
def _arrow_schema(specs: Sequence[tuple[Any, ...]], /) -> object: ...
def _list_cells(offsets: Any, items: Any, categories: Sequence[str] | None, /) -> list[tuple[Any, ...]]: ...
def _packet_arrow_stream(table: Reader | PacketList, batch_size: int = ..., /) -> object: ...
def _packet_arrow_schema() -> object: ...

# sending and probing (csrc/py/probe.c; the public API is fastpkt.probe)
_Buffer = bytes | bytearray | memoryview
def _probe_open(capture_iface: str | None = None, filter: str | None = None, l2_iface: str | None = None,
                multi: bool = False, buffer_size: int = 0) -> Any: ...
def _probe_add(session: Any, probes: Sequence[_Buffer], /) -> int: ...
def _probe_run(session: Any, probes: Sequence[int], inter: float, timeout: float | None, /) -> None: ...
def _probe_results(session: Any, l3: bool, /) -> tuple[list[tuple[int, Packet]], list[float | None]]: ...
def _probe_pending(session: Any, probes: Sequence[int], /) -> list[int]: ...
def _stats(reader: Reader, interval_ns: int = 0, filters: Sequence[str | DisplayFilter] | None = None,
           max_memory: int = ..., max_intervals: int = ..., progress: Any = None) -> dict[str, Any]: ...
def _probe_stats(session: Any, /) -> dict[str, int]: ...
def _probe_close(session: Any, /) -> None: ...
def _send(packets: Sequence[_Buffer], l2_iface: str | None, inter: float, loops: int, /) -> tuple[int, int, int]: ...
def _answers(answer: _Buffer, answer_linktype: int, probe: _Buffer, probe_linktype: int, /) -> bool: ...
