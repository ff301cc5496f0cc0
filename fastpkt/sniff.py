"""Scapy's ``sniff()`` on fastpkt: live (``fastpkt.Capture``) or over capture files.

    import fastpkt as fp
    fp.sniff(iface="eth0", filter="udp port 53", prn=lambda p: p.summary(), store=False)
    pkts = fp.sniff(iface="eth0", count=100, timeout=10)          # SniffResult (a list)
    fp.sniff(offline="trace.pcap", lfilter=lambda p: p.dns is not None, prn=handle)
    fp.sniff(iface="eth0", store=False, write="out.pcap", rotate_bytes=100 << 20)

    t = fp.AsyncSniffer(iface="eth0", filter="tcp")
    t.start(); ...; pkts = t.stop()

The packet loop is the same whatever the source, with Scapy's order: BPF ``filter`` (run by
the kernel live, in C offline), ``write`` (every packet the filter passed), ``lfilter``,
count, store, ``prn`` (a non-None return value is printed), then ``stop_filter`` (the packet
that satisfies it is the last one). ``count`` counts packets that pass ``lfilter``; 0 means
no limit. ``timeout`` is seconds of wall-clock time. Ctrl+C ends a sniff() and returns what
it kept, as Scapy's does (``chainCC=True`` re-raises KeyboardInterrupt instead).

Differences from Scapy: ``iface=None`` captures on libpcap's "any" device (all interfaces;
Scapy uses its default interface), and one interface per sniff(); a list of capture files is
merged in time order (Scapy alternates between them); AsyncSniffer accepts ``timeout``,
``start()`` returns once the capture is armed (and raises open errors such as a bad filter
or a missing interface right there), and ``stop()`` after the sniffer ended by itself returns
its results instead of raising. The result is a ``SniffResult``: a list of
``fastpkt.Packet`` with ``summary()``, ``to_pandas()`` and ``to_packetlist()``.
"""
from __future__ import annotations

import os
import threading
import time
from typing import IO, Any, Callable, Iterable, Iterator, Sequence, cast

from ._fastpkt import DisplayFilter, Packet, PacketList, Reader
from .live import Capture, sniff_capture_options
from .replay import open_offline
from .writers import RotatingWriter, capture_bytes

__all__ = ["sniff", "AsyncSniffer", "RotatingWriter", "SniffResult"]

PacketCallback = Callable[[Packet], Any]


class SniffResult(list[Any]):
    """What sniff() kept: a ``list`` of ``fastpkt.Packet``, plus

    ``summary()`` (one line per packet, as a str), ``to_packetlist()`` (a real
    ``fastpkt.PacketList``, built from an in-memory copy of the packets), ``to_pandas()`` /
    ``to_arrow()`` / ``columns()`` (through that PacketList: the columns are built in C),
    ``stats`` (a live capture's final ``Capture.stats()``: received, dropped,
    interface_dropped, delivered; None offline) and ``linktype``. Slices are SniffResults.
    ``fastpkt.write(path, result)`` saves it. (A list because the C ``PacketList`` is built
    by Readers only; ``to_packetlist()`` makes one from a copy.)
    """

    def __init__(self, packets: Iterable[Packet] = (), name: str = "Sniffed",
                 stats: dict[str, int] | None = None, linktype: int | None = None) -> None:
        super().__init__(packets)
        self.name = name
        self.stats = stats
        self._linktype = linktype

    @property
    def linktype(self) -> int:
        """Link type of the packets (of the source when empty; 1, Ethernet, if unknown)."""
        if self:
            return cast("int", self[0].linktype)
        return self._linktype if self._linktype is not None else 1

    def __getitem__(self, i: Any) -> Any:
        item = super().__getitem__(i)
        if isinstance(i, slice):
            return SniffResult(item, self.name, self.stats, self._linktype)
        return item

    def summary(self) -> str:
        """One summary line per packet (``Packet.summary()``)."""
        return "\n".join(p.summary() for p in self)

    def to_packetlist(self) -> PacketList:
        """A ``fastpkt.PacketList`` of the same packets (copied into an in-memory capture:
        nanosecond pcap, or pcapng when the packets have different link types)."""
        return Reader(memoryview(capture_bytes(self, self.linktype))).read_all()

    def columns(self) -> list[tuple[Any, ...]]:
        return self.to_packetlist().columns()

    def to_pandas(self) -> Any:
        """One row per packet; the same columns as ``fastpkt.read(...).to_pandas()``."""
        return self.to_packetlist().to_pandas()

    def to_arrow(self) -> Any:
        return self.to_packetlist().to_arrow()

    def __repr__(self) -> str:
        counts = {"TCP": 0, "UDP": 0, "ICMP": 0}
        other = 0
        for p in self:
            if p.tcp is not None:
                counts["TCP"] += 1
            elif p.udp is not None:
                counts["UDP"] += 1
            elif p.icmp is not None or p.icmp6 is not None:
                counts["ICMP"] += 1
            else:
                other += 1
        parts = " ".join("%s:%d" % kv for kv in counts.items())
        return "<%s: %s Other:%d>" % (self.name, parts, other)


class AsyncSniffer:
    """A sniff() in a background thread (Scapy's AsyncSniffer): the same arguments.

        t = fp.AsyncSniffer(iface="eth0", filter="tcp port 80", prn=handle)
        t.start()            # returns once the capture is armed; raises open errors
        ...
        pkts = t.stop()      # ends the capture at once (any thread), joins, returns results

    ``running`` is True until the sniff ends (stop(), count, stop_filter, timeout, end of the
    files); ``results`` is the SniffResult afterwards; ``join(timeout=None)`` waits for the
    end and returns the results (re-raising an exception the sniff raised, as
    ``exception`` holds it); ``stats()`` is the live capture's ``Capture.stats()``.
    ``count`` is the number of packets that passed lfilter so far.
    """

    def __init__(self, iface: str | None = None, count: int = 0, timeout: float | None = None,
                 filter: str | None = None,  # noqa: A002
                 prn: PacketCallback | None = None, lfilter: PacketCallback | None = None,
                 store: bool = True, stop_filter: PacketCallback | None = None,
                 offline: Any = None, write: str | os.PathLike[str] | None = None,
                 rotate_bytes: int | None = None, rotate_seconds: float | None = None,
                 started_callback: Callable[[], Any] | None = None, chainCC: bool = False,  # noqa: N803
                 opened_socket: Reader | None = None,
                 display_filter: str | DisplayFilter | None = None, **capture_options: Any) -> None:
        if isinstance(iface, (list, tuple)):
            if len(iface) != 1:
                raise ValueError("fastpkt sniffs one interface at a time; iface=None captures on "
                                 "all of them (libpcap's 'any' device)")
            iface = iface[0]
        if count is None:
            count = 0
        if count < 0:
            raise ValueError("count must be >= 0 (0: no limit)")
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 seconds (or None)")
        if (rotate_bytes is not None or rotate_seconds is not None) and write is None:
            raise ValueError("rotate_bytes/rotate_seconds need write=PATH")
        if opened_socket is not None and not isinstance(opened_socket, Reader):
            raise TypeError("opened_socket must be a fastpkt Reader or Capture")
        if opened_socket is not None and (offline is not None or filter or display_filter is not None):
            raise ValueError("opened_socket is already open: pass no offline=, filter= or display_filter=")
        if display_filter is not None and not isinstance(display_filter, DisplayFilter):
            display_filter = DisplayFilter(display_filter)  # a bad one fails here, not in the thread
        self.iface = iface
        self.count_limit = int(count)
        self.timeout = timeout
        self.filter = filter
        self.display_filter = display_filter
        self.prn = prn
        self.lfilter = lfilter
        self.store = bool(store)
        self.stop_filter = stop_filter
        self.offline = offline
        self.write = write
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.started_callback = started_callback
        self.chainCC = chainCC
        self.opened_socket = opened_socket
        self.capture_options = sniff_capture_options(capture_options)
        self.running = False
        self.results: SniffResult | None = None
        self.exception: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.count = 0
        self.writer: RotatingWriter | None = None
        self._capture: Any = None   # the live Capture while sniffing
        self._stats: dict[str, int] | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._armed = threading.Event()
        self._open_error: BaseException | None = None
        self._done = threading.Event()   # set when the background sniff has ended

    # -- opening
    def _open(self) -> tuple[Iterator[Packet], list[Reader], int | None, Any]:
        """(packets, readers to close, link type, live capture or None)."""
        if self.opened_socket is not None:
            src = self.opened_socket
            live = src if hasattr(src, "stats") else None
            if live is not None and self.timeout is not None:
                live._set_deadline(self.timeout)  # as Capture(duration=timeout) from now
            return iter(src), [], src.linktype, live
        if self.offline is not None:
            packets, readers, lt = open_offline(self.offline, self.filter, self.display_filter)
            return packets, readers, lt, None
        cap = Capture(self.iface, filter=self.filter, duration=self.timeout,
                      display_filter=self.display_filter, **self.capture_options)
        return iter(cap), [cap], cap.linktype, cap

    def _make_writer(self, linktype: int | None, source: Any) -> RotatingWriter | None:
        if self.write is None:
            return None
        snaplen = getattr(source, "snaplen", 0) or 262144
        if not hasattr(source, "stats"):
            # a file's records may exceed its (first interface's) snaplen, a capture's cannot
            snaplen = max(snaplen, 262144)
        # a pcapng's interfaces each declare an if_tsresol: nanoseconds (fastpkt's times) keep them all
        nano = bool(getattr(source, "nanosecond", True)) or getattr(source, "format", None) == "pcapng"
        return RotatingWriter(self.write, linktype=linktype, snaplen=snaplen, nanosecond=nano,
                              rotate_bytes=self.rotate_bytes, rotate_seconds=self.rotate_seconds)

    # -- the loop
    def _run(self) -> SniffResult:
        """Sniff in the calling thread until the end; returns (and keeps) the results."""
        self.count = 0
        self._stats = None
        kept: list[Packet] = []
        self.results = None
        readers: list[Reader] = []
        linktype = None
        self.running = True
        try:
            try:
                packets, readers, linktype, live = self._open()
                self.writer = self._make_writer(linktype, live if live is not None else
                                                (readers[0] if readers else None))
            except BaseException as exc:
                self._open_error = exc
                raise
            finally:
                self._armed.set()
            with self._lock:
                self._capture = live
                if self._stopping and live is not None:
                    live.stop()
            if self.started_callback is not None:
                self.started_callback()
            try:
                self._loop(packets, kept, live is None)
            except KeyboardInterrupt:
                if self.chainCC:
                    raise
            finally:
                if live is not None:
                    try:
                        self._stats = live.stats()
                    except Exception:  # pragma: no cover - a closed handle has no counters
                        self._stats = None
        finally:
            with self._lock:
                self._capture = None
            for r in readers:
                r.close()
            if self.writer is not None:
                self.writer.close()
            self.running = False
        self.results = SniffResult(kept, stats=self._stats, linktype=linktype)
        return self.results

    def _loop(self, packets: Iterator[Packet], kept: list[Packet], offline: bool) -> None:
        count = self.count_limit
        lfilter, prn, stop_filter = self.lfilter, self.prn, self.stop_filter
        store = self.store
        writer = self.writer
        deadline = None
        if offline and self.timeout is not None:  # live captures end by the C deadline
            deadline = time.monotonic() + self.timeout
            if self.timeout <= 0:
                return
        n = 0
        try:
            for pkt in packets:
                if self._stopping:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if writer is not None:
                    writer.write(pkt)
                if lfilter is not None and not lfilter(pkt):
                    continue
                n += 1
                self.count = n
                if store:
                    kept.append(pkt)
                if prn is not None:
                    result = prn(pkt)
                    if result is not None:
                        print(result)
                if (stop_filter is not None and stop_filter(pkt)) or 0 < count <= n:
                    break
        finally:
            self.count = n

    # -- background use
    def _thread_main(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001  (handed to join()/stop())
            self.exception = exc
            self.running = False
            self._armed.set()
        finally:
            self._done.set()

    def start(self) -> None:
        """Start sniffing in a daemon thread; returns once the capture is open (raises the
        error when it cannot be opened: CaptureError, CapturePermissionError, bad filter)."""
        if self.running:
            raise RuntimeError("this AsyncSniffer is already running")
        self.exception = None
        self.results = None
        self._stopping = False
        self._armed.clear()
        self._done.clear()
        self._open_error = None
        self.running = True
        self.thread = threading.Thread(target=self._thread_main, name="fastpkt-AsyncSniffer", daemon=True)
        self.thread.start()
        self._armed.wait()
        if self._open_error is not None:
            self.thread.join()
            raise self._open_error

    def stop(self, join: bool = True) -> SniffResult | None:
        """End the sniff now (the capture's wait is woken); with join, wait for the thread
        and return the results."""
        if self.thread is None:
            raise RuntimeError("this AsyncSniffer was not started")
        with self._lock:
            self._stopping = True
            if self._capture is not None:
                self._capture.stop()
        if join:
            return self.join()
        return None

    def join(self, timeout: float | None = None) -> SniffResult | None:
        """Wait for the sniff to end (at most ``timeout`` seconds); returns the results
        (None while still running) and re-raises what the sniff raised."""
        if self.thread is not None:
            # wait on our own event: Thread.join() interrupted by Ctrl+C can leave the
            # thread marked as stopped while it still runs (CPython 3.11, bpo-45274's fix)
            if not self._done.wait(timeout):
                return None
            self.thread.join()
        if self.exception is not None:
            raise self.exception
        return self.results

    def stats(self) -> dict[str, int] | None:
        """The live capture's counters (received, dropped, interface_dropped, delivered):
        current while running, final afterwards; None offline."""
        with self._lock:
            cap = self._capture
            if cap is not None:
                return cast("dict[str, int] | None", cap.stats())
        return self._stats

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = ("offline %r" % (self.offline,)) if self.offline is not None else (self.iface or "any")
        return "<fastpkt.AsyncSniffer %s %s, %d packets>" % (where, state, self.count)


def sniff(iface: str | None = None, count: int = 0, timeout: float | None = None,
          filter: str | None = None,  # noqa: A002
          prn: PacketCallback | None = None, lfilter: PacketCallback | None = None,
          store: bool = True, stop_filter: PacketCallback | None = None,
          offline: str | os.PathLike[str] | IO[bytes] | Sequence[Any] | None = None,
          write: str | os.PathLike[str] | None = None, rotate_bytes: int | None = None,
          rotate_seconds: float | None = None, started_callback: Callable[[], Any] | None = None,
          chainCC: bool = False, opened_socket: Reader | None = None,  # noqa: N803
          display_filter: str | DisplayFilter | None = None,
          **capture_options: Any) -> SniffResult:
    """Capture packets and hand them to callbacks, as Scapy's sniff() does.

    iface: interface to capture on (``fastpkt.interfaces()`` lists them); None: all
        interfaces (libpcap's "any" device). Needs root or CAP_NET_RAW + CAP_NET_ADMIN.
    count: stop after this many packets that passed lfilter (0: no limit).
    timeout: stop after this many seconds.
    filter: BPF expression; run by the kernel live, in C on files.
    display_filter: a Wireshark display filter (``tshark -Y`` syntax) run in C after
        ``filter``, live and offline: packets it rejects never reach Python (nor ``write``).
    prn: called with every packet that passed lfilter; a non-None return value is printed.
    lfilter: Python predicate; packets it rejects are not counted, stored or given to prn.
    store: keep the packets (False: the result is empty; memory stays flat).
    stop_filter: stop after the first packet for which it returns True.
    offline: read a capture instead: a path, a binary file object, a list of paths (merged
        in time order) or a list of fastpkt Packets; ``filter`` applies to it.
    write: also write every packet the BPF filter passed (before lfilter) to this pcap;
        rotate_bytes / rotate_seconds start numbered files (see ``RotatingWriter``).
    started_callback: called once the capture is armed.
    chainCC: re-raise KeyboardInterrupt (default: Ctrl+C ends the sniff and returns).
    opened_socket: an open ``fastpkt.Capture`` or Reader to read from (not closed here; a
        ``timeout`` becomes the Capture's deadline, and stop() ends its iteration for good).
    capture_options: passed to ``fastpkt.Capture``: snaplen, promisc, immediate,
        buffer_size, timeout_ms, tstamp_precision.

    Returns a SniffResult (a list of Packets; ``.stats`` has the capture's counters).
    Errors: fastpkt.CaptureError (no such interface), fastpkt.CapturePermissionError,
    fastpkt.Error (bad filter, with libpcap's message).
    """
    sniffer = AsyncSniffer(iface=iface, count=count, timeout=timeout, filter=filter, prn=prn,
                           lfilter=lfilter, store=store, stop_filter=stop_filter, offline=offline,
                           write=write, rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds,
                           started_callback=started_callback, chainCC=chainCC,
                           opened_socket=opened_socket, display_filter=display_filter,
                           **capture_options)
    return sniffer._run()
