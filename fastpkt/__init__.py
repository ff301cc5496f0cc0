"""fastpkt: packet analysis at the speed of C.

    import fastpkt as fp
    for pkt in fp.open("trace.pcap", filter="tcp port 443"):
        pkt.ip.src, pkt.tcp.dport, pkt.tcp.flags.S, pkt.payload
    df = fp.read("trace.pcap").to_pandas()
    fp.write("out.pcap", pkts)

The work is done in the C extension ``fastpkt._fastpkt``; this module only adds the
convenience functions ``open``, ``read`` and ``write``.
"""
from __future__ import annotations

import io
import os
import struct
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, cast, overload

if TYPE_CHECKING:
    from ._fastpkt import _OnError
    import pandas
    import pyarrow

from ._fastpkt import (  # noqa: F401  (re-exported)
    ARP,
    CCP,
    IPCP,
    IPV6CP,
    LCP,
    PPPControl,
    PPPOption,
    DNS,
    DNSQR,
    DNSRR,
    HTTP,
    ICMP,
    IP,
    SLL,
    TCP,
    TLS,
    UDP,
    Dot1Q,
    DEFAULT_MAX_MEMORY,
    DisplayFilter,
    CaptureError,
    CapturePermissionError,
    ClientHello,
    ClientHellos,
    DnsTransaction,
    DnsTransactions,
    Flow,
    Flows,
    Stream,
    Streams,
    Error,
    Ether,
    FilterError,
    FormatError,
    ICMPv6,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    Layer,
    Loopback,
    Packet,
    RadioTap,
    Dot11,
    PacketList,
    Reader,
    TCPFlags,
    TruncatedError,
    Writer,
    compile_filter,
    FieldInfo,
    field_info,
    field_names,
)

from ._version import __version__

__all__ = [
    "open", "read", "read_frames", "write", "flows", "streams", "save_streams", "http",
    "HttpRequest", "HttpResponse", "HttpHeaders", "client_hellos", "dns",
    "Capture", "interfaces", "CaptureError", "CapturePermissionError",
    "sniff", "AsyncSniffer", "RotatingWriter", "SniffResult",
    "Packet", "Reader", "PacketList", "Writer", "TCPFlags", "Layer",
    "Flow", "Flows", "Stream", "Streams", "ClientHello", "ClientHellos", "DnsTransaction", "DnsTransactions",
    "Error", "FormatError", "TruncatedError", "DEFAULT_MAX_MEMORY",
    "Ether", "SLL", "Loopback", "RadioTap", "Dot11", "Dot1Q", "ARP", "IP", "IPv6", "TCP", "UDP", "ICMP", "ICMPv6",
    "DNS", "DNSQR", "DNSRR", "HTTP", "TLS", "field_names", "field_info", "FieldInfo",
    "PPPControl", "LCP", "IPCP", "IPV6CP", "CCP", "PPPOption",
    "send", "sendp", "sr", "sr1", "srp", "srp1", "arping", "traceroute", "answers",
    "QueryAnswer", "SndRcvList", "UnansweredList",
    "conf", "get_if_list", "get_if_addr", "get_if_hwaddr", "route",
    "ICMPv6EchoRequest", "ICMPv6EchoReply", "IPv6ExtHdrHopByHop", "IPv6ExtHdrRouting",
    "IPv6ExtHdrFragment", "IPv6ExtHdrDestOpt",
    "DisplayFilter", "FilterError", "compile_filter", "stats",
    "register_link_type", "link_types", "LinkType", "set_tunnel_ports", "tunnel_ports",
    "DEFAULT_TUNNEL_PORTS",
    "__version__",
]


def _error_reduce(self: BaseException) -> tuple[Any, ...]:
    """Pickle fastpkt's exceptions with their attributes (offset, packet_index, path, ...)
    except ``packets``, the partial PacketList fp.read() attaches: it stays with the process
    that read it (it does not pickle, and may be large). A Dask task's exception reaches
    the client this way, type and attributes whole."""
    base = OSError if isinstance(self, OSError) else BaseException
    fn, args = cast("tuple[Any, ...]", base.__reduce__(self))[:2]
    state = {k: v for k, v in vars(self).items() if k != "packets"}
    return (fn, args, state) if state else (fn, args)


Error.__reduce__ = _error_reduce  # type: ignore[method-assign,assignment]

_builtin_open = open


def _source(source: Any) -> Any:
    """Normalise a source for the C Reader.

    Paths (str, bytes or PathLike; "-" is stdin), in-memory captures (bytearray, memoryview,
    any buffer) and binary file objects pass through: the Reader reads a file object through
    its readinto() (or read()), in bounded memory, so buffered readers, BytesIO, gzip.open()
    and other wrappers deliver exactly the bytes Python would.
    """
    if isinstance(source, (str, bytes, bytearray, memoryview, os.PathLike)):
        return source
    if isinstance(source, io.TextIOBase):
        raise TypeError("fastpkt needs a binary file object (open(..., 'rb')), got text")
    if hasattr(source, "readinto") or hasattr(source, "read"):
        return source
    raise TypeError(
        "source must be a path, '-' (stdin), bytes, or a binary file object, not %s"
        % type(source).__name__
    )


def open(  # noqa: A001  (shadows the builtin on purpose: fp.open)
    source: str | os.PathLike[str] | bytes | IO[bytes],
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    count: int | None = None,
    display_filter: str | DisplayFilter | None = None,
    defragment: bool | str = False,
    decapsulate: bool = True,
) -> Reader:
    """Open a pcap or pcapng capture as a lazy iterator of Packet objects.

    source: a path (str/bytes/PathLike), "-" for stdin, a binary file object (read through
            its readinto() or read(): gzip.open(), BytesIO, sockets' makefile("rb") ...), or
            an in-memory capture (bytearray / memoryview; ``memoryview(data)`` for a bytes
            object). gzip, zstd, xz and bzip2 compressed captures are recognised by their
            magic number and decompressed as they are read, in bounded memory.
    filter: a BPF expression (tcpdump syntax), compiled for the file's link type and run in
            C before any Python object is made.
    on_error: what a corrupt or truncated record does after every complete packet before it
            was delivered: "raise" (FormatError), "stop" (end iteration; see Reader.error) or
            "skip" (resynchronise when possible; see Reader.skipped).
    count: stop after this many packets.
    display_filter: a Wireshark display filter (``tshark -Y`` syntax, e.g.
            ``'dns.qry.name contains "example"'``) or a ``DisplayFilter``, run in C on each
            dissected packet after ``filter``; a bad one raises FilterError.
    defragment: True to reassemble IPv4 and IPv6 fragments. Every frame is still a
            Packet; the one whose fragment completes a datagram views the reassembled
            datagram (its udp/tcp/dns views and payload see all of it; ``fragments`` lists
            the frames it came from; ``wire`` and writers keep the frame as captured).
            A policy name picks how overlapping fragments resolve: "first" (True's),
            "last", "bsd", "linux". False (default, as ``fp.read()``'s): fragments stay as
            captured. The engines (flows, streams, client_hellos) reassemble by default.
            With ``display_filter``, the filter decides after reassembly as ``tshark -Y``
            does: ``dns`` or ``udp.port == 53`` match the fragment completing a fragmented
            answer, never the fragments before it (tshark shows their payload as data).
            ``filter`` (BPF) decides per frame before reassembly, as tcpdump reads a file
            and a capture filter takes frames off the wire: fragments it drops never reach
            the reassembler (``udp port 53`` keeps first fragments only).
    decapsulate: decode tunnels (GRE with ERSPAN and TEB, VXLAN, Geneve, GTP-U, MPLS, IP in
            IP, 6in4, 4in6, PPPoE; default): layer views (``pkt.ip``, ``pkt.tcp``...) are the
            innermost packet's, as Zeek reports them, ``pkt.outer_ip`` the outermost IP
            header and ``pkt.tunnels`` the encapsulations with their VNI/key/TEID/label.
            False: views stay the outer packet's (tunnel headers undecoded payload).
            fastpkt.scapy's packets never decapsulate (Scapy's ``pkt[IP]`` is the outer one).

    The Reader is a context manager: ``with fp.open(path) as r: for pkt in r: ...``
    """
    return Reader(_source(source), filter=filter, on_error=cast("_OnError", on_error), count=count,
                  display_filter=display_filter, defragment=defragment, decapsulate=decapsulate)


def read(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    count: int | None = None,
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    display_filter: str | DisplayFilter | None = None,
    progress: bool | None | Callable[[int, int], Any] = None,
    decapsulate: bool = True,
    defragment: bool | str = False,
) -> PacketList:
    """Read a capture (or its first ``count`` packets) into a PacketList.

    A PacketList supports len(), indexing, slicing, iteration, summary() and to_pandas().
    filter, display_filter, decapsulate: as for ``open`` (views and columns of tunnelled
        packets are the innermost packet's by default).
    defragment: as for ``open``: the packet of the fragment completing a datagram views the
        reassembled datagram, in the list's views, columns (``to_pandas``, Arrow) and
        ``filter_mask``; its bytes as captured stay what writers write and what the engines
        (which reassemble on their own) read. ``display_filter`` selects after reassembly
        and ``filter`` (BPF) per frame before it, as for ``open``.
    progress: as for ``fastpkt.flows`` (a bar past 64 MiB when someone watches; False: none;
        a callable gets (bytes_read, file_size)).
    """
    from .views import progress_callback

    with open(source, filter=filter, on_error=on_error, display_filter=display_filter,
              decapsulate=decapsulate, defragment=defragment) as reader:
        return reader.read_all(count, progress=progress_callback(progress, "read"))


@overload
def read_frames(source: str | os.PathLike[str] | bytes | IO[bytes], batch_size: int = ..., *,
                arrow: Literal[False] = ..., filter: str | None = ..., on_error: str = ...,  # noqa: A002
                display_filter: str | DisplayFilter | None = ..., workers: int | None = ...,
                progress: bool | None | Callable[[int, int], Any] = ...,
                defragment: bool | str = ...) -> Iterator[pandas.DataFrame]: ...
@overload
def read_frames(source: str | os.PathLike[str] | bytes | IO[bytes], batch_size: int = ..., *,
                arrow: Literal[True], filter: str | None = ..., on_error: str = ...,  # noqa: A002
                display_filter: str | DisplayFilter | None = ..., workers: int | None = ...,
                progress: bool | None | Callable[[int, int], Any] = ...,
                defragment: bool | str = ...) -> Iterator[pyarrow.RecordBatch]: ...


def read_frames(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    batch_size: int = 1 << 20,
    *,
    arrow: bool = False,
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    display_filter: str | DisplayFilter | None = None,
    workers: int | None = None,
    progress: bool | None | Callable[[int, int], Any] = None,
    defragment: bool | str = False,
) -> Iterator[Any]:
    """A capture larger than memory as DataFrames of ``batch_size`` packets (the columns of
    ``PacketList.to_pandas()``), or pyarrow RecordBatches with ``arrow=True``. Each batch is
    read, converted in C and handed out before the next is read: memory holds one batch.

    workers: threads reading and converting record-aligned byte ranges of the file at once
    (default: ``$FASTPKT_WORKERS`` if set, else the usable cores for captures of 64 MiB or
    more, else 1). The packets and
    their order are the same; a batch then never spans two ranges of about 64 MiB, so
    batches may be shorter than ``batch_size``, and memory holds the batches of
    ``workers + 1`` ranges. Streams (stdin, file objects, compressed captures),
    ``on_error="skip"``, ``display_filter`` and ``defragment`` read on one thread.

    defragment: as for ``read``: the row of the fragment completing a datagram has the
    datagram's columns (ports, payload length, DNS name...), whichever batch its fragments
    were in (the columns ``fp.read(source, defragment=True).to_pandas()`` gives).

    progress: as for ``fastpkt.read`` (a bar over the file as batches are handed out, by
    default when someone watches and the file is 64 MiB or more; False: none).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    from . import parallel
    from .views import progress_callback

    bar = progress_callback(progress, "read_frames")

    def convert(chunk: PacketList) -> list[Any]:
        if arrow:
            return list(chunk.record_batches(batch_size=batch_size))
        return [chunk.to_pandas(progress=False)]

    def convert_in_range(chunk: PacketList) -> list[Any]:
        """One of n threads converting ranges: its columns on its own thread (columns()
        alone splits the rows over every CPU, which n threads at once oversubscribe)."""
        if arrow:
            return convert(chunk)
        from . import frames

        return [frames.to_pandas(chunk.columns(_threads=1))]

    n = parallel.resolve_workers(workers, source, ranges=True)
    if n > 1 and not defragment and parallel.rangeable(source, on_error, display_filter):
        for part in parallel.packet_batches(source, n, batch_size, convert_in_range, filter=filter, on_error=on_error,
                                            progress=bar):
            yield from part
        return
    with open(source, filter=filter, on_error=on_error, display_filter=display_filter,
              defragment=defragment) as reader:
        while True:
            chunk = reader.read_all(batch_size, progress=bar)
            if not len(chunk):
                return
            yield from convert(chunk)
            del chunk


def write(
    path: str | os.PathLike[str] | IO[bytes],
    packets: Iterable[Packet | bytes],
    linktype: int | None = None,
    nanosecond: bool | None = None,
    big_endian: bool | None = None,
    *,
    format: str | None = None,  # noqa: A002
) -> int:
    """Write packets to a pcap or pcapng file; returns the number of packets written.

    format: "pcap" or "pcapng"; None: from the extension (.pcapng, .ntar), else pcap.
    A PacketList is written as read: in its source's format a read-then-write round trip is
    byte-identical (pcap always; pcapng as DESIGN.md "Writers" defines), and pcapng output
    keeps its interfaces, resolutions and packet comments. Otherwise the defaults are the
    first packet's link type, microsecond (pcap) or nanosecond (pcapng) timestamps,
    little-endian. Raw ``bytes`` items are written as-is (linktype then defaults to 1,
    Ethernet) with time 0. Packets whose source declared an FCS (``Packet.fcslen``: pcapng
    if_fcslen, pcap's FCS bits) are written with it declared: on pcapng interfaces per link
    type and FCS length, in pcap the first packet's for the file (another length raises
    ValueError), so readers leave it out of the frame's layers again.

    The file is written to a temporary file renamed over ``path`` at the end: an exception
    (a value the format cannot hold, an I/O error, Ctrl+C) leaves ``path`` as it was, and
    packets read from ``path`` itself stay valid. The new file gets the old one's mode and
    (as root) owner; other hard links to the old file keep the old content.
    """
    if format is None:
        name = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
        format = "pcapng" if name.lower().endswith((".pcapng", ".ntar")) else "pcap"
    options: dict[str, Any] = {"format": format}
    if isinstance(path, (str, bytes, os.PathLike)):
        options["atomic"] = True
    if isinstance(packets, PacketList):
        options.update(_packetlist_options(packets, format, linktype, nanosecond, big_endian))
        items: Iterable[Any] = packets
    else:
        it = iter(packets)
        first = next(it, None)
        if linktype is None:
            linktype = getattr(first, "linktype", 1) if first is not None else 1
        options.update(linktype=linktype, nanosecond=nanosecond, big_endian=bool(big_endian),
                       fcslen=getattr(first, "fcslen", 0))
        items = _chain(first, it)
    with Writer(path, **options) as writer:
        return writer.write_all(items)


def _packetlist_options(packets: PacketList, format: str, linktype: int | None,  # noqa: A002
                        nanosecond: bool | None, big_endian: bool | None) -> dict[str, Any]:
    """Writer options that reproduce a PacketList's source (its header when the format and
    byte order are the same)."""
    interfaces = packets.interfaces
    if big_endian is None:
        big_endian = packets.big_endian
    same_order = bool(big_endian) == packets.big_endian
    if format == "pcapng":
        if not interfaces:  # from a pcap: one interface with the file's properties
            interfaces = [{"linktype": packets.linktype, "snaplen": packets.snaplen,
                           "tsresol": 10**9 if packets.nanosecond else 10**6,
                           "fcslen": _pcap_fcslen(packets.file_header)}]
        header = packets.file_header if packets.format == "pcapng" and same_order else None
        return {"interfaces": interfaces, "big_endian": bool(big_endian), "header": header}
    if linktype is None:
        linktype = packets.linktype
    if nanosecond is None:
        nanosecond = packets.nanosecond
    snaplen = max([packets.snaplen or 262144] + [i["snaplen"] or 262144 for i in interfaces])
    header = None
    if packets.format == "pcap" and packets.file_header is not None and \
            linktype == packets.linktype and bool(nanosecond) == packets.nanosecond and same_order:
        header = packets.file_header  # same format as read: copy the header byte for byte
    if packets.format == "pcap":
        fcslen = _pcap_fcslen(packets.file_header)
    else:  # the FCS its interfaces of that link type declare (differing ones raise as packets come)
        fcslen = next((i.get("fcslen", 0) for i in interfaces if i["linktype"] == linktype), 0)
    return {"linktype": linktype, "snaplen": snaplen, "nanosecond": bool(nanosecond),
            "big_endian": bool(big_endian), "header": header, "fcslen": None if header else fcslen}


def _pcap_fcslen(header: bytes | None) -> int:
    """The FCS length (bytes) a pcap file header's link type field declares: its F bit and
    top 4 bits, in 16-bit words (libpcap's LT_FCS_LENGTH)."""
    if header is None or len(header) < 24:
        return 0
    order = "<" if header[0] in (0xD4, 0x4D) else ">"
    field = struct.unpack(order + "I", header[20:24])[0]
    return (field >> 28) * 2 if field & 0x04000000 else 0


def _chain(first: Any, rest: Any) -> Any:
    if first is None:
        return
    yield first
    yield from rest


from .flows import flows  # noqa: E402  (after Reader; rebinds the name over the submodule)
from .streams import save_streams, streams  # noqa: E402  (rebinds the name over the submodule)
from .http import HttpHeaders, HttpRequest, HttpResponse, http  # noqa: E402  (rebinds the name)
from .tls import client_hellos  # noqa: E402
from .dns import dns  # noqa: E402  (rebinds the name over the submodule)
from .live import Capture, interfaces  # noqa: E402
from .sniff import AsyncSniffer, RotatingWriter, SniffResult, sniff  # noqa: E402  (rebinds the name)
from .netif import conf, get_if_addr, get_if_hwaddr, get_if_list, route  # noqa: E402
from .probe import (  # noqa: E402
    QueryAnswer, SndRcvList, UnansweredList, answers, arping, send, sendp, sr, sr1, srp, srp1, traceroute,
)
from .stats import stats  # noqa: E402  (rebinds the name over the submodule)
from .linktypes import LinkType, link_types, register_link_type  # noqa: E402
from .tunnel_ports import DEFAULT_TUNNEL_PORTS, set_tunnel_ports, tunnel_ports  # noqa: E402
