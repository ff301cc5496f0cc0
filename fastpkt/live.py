"""Live capture: ``fastpkt.Capture``, ``fastpkt.interfaces()`` and the Capture options
``sniff()`` accepts.

A Capture is a Reader over libpcap's live handle (create -> set -> activate), so everything
that takes a Reader takes a Capture: iterate it for Packets, or hand it to
``fp.flows``/``fp.streams``/``fp.client_hellos`` to get expired flows, finished streams and
hellos as they happen, in bounded memory. The read loop runs in C with the GIL released;
a quiet capture comes back every ``timeout_ms`` so Ctrl+C stops it promptly, and
``close()`` from another thread ends an iteration in progress.
"""
from __future__ import annotations

from typing import Any

from ._fastpkt import DisplayFilter, Reader, _interfaces

__all__ = ["Capture", "interfaces"]

# Kernel ring for a capture: libpcap's 2 MiB default drops bursts.
DEFAULT_BUFFER = 32 << 20

# Capture's options that sniff() passes through (**capture_options).
CAPTURE_OPTIONS = ("snaplen", "promisc", "immediate", "buffer_size", "timeout_ms", "tstamp_precision")
# Scapy arguments that have no meaning here and are accepted for compatibility.
_IGNORED_SCAPY_OPTIONS = ("quiet", "monitor")
# Scapy arguments fastpkt does not have: say what to use instead.
_UNSUPPORTED = {
    "session": "sessions are not supported; reassemble TCP with fastpkt.streams(fastpkt.Capture(...))",
    "L2socket": "fastpkt captures with libpcap; pass capture options (snaplen=, buffer_size=, ...)",
}


class Capture(Reader):
    """Capture(iface=None, filter=None, snaplen=262144, promisc=False, immediate=False,
    buffer_size=None, timeout_ms=50, tstamp_precision="nano", duration=None, count=None,
    display_filter=None)

    iface: interface name (``fastpkt.interfaces()`` lists them); None captures on "any".
    filter: BPF expression, compiled by libpcap and run in the kernel.
    snaplen / promisc / immediate / buffer_size (kernel ring bytes, default 32 MiB) /
        timeout_ms: libpcap's settings of the same names. By default packets are delivered in
        kernel blocks within timeout_ms (50 ms) of arrival, and a quiet capture returns every
        timeout_ms. immediate=True hands over each packet at once, but libpcap then gives
        every packet a fixed ring slot of up to 64 KiB (on interfaces with offloads): 32 MiB
        holds ~512 packets, and benchmarks/bench_live.py saw drops from 50k packets/s on a
        veth pair where the default kept 260k packets/s without a drop.
    tstamp_precision: "nano" (falls back to micro when the system cannot) or "micro".
    duration: stop iterating after this many seconds; count: after this many packets.
    display_filter: a Wireshark display filter (or DisplayFilter) run in C on each captured
        packet after the kernel's BPF; count counts the packets it passes.

    Needs root or CAP_NET_RAW + CAP_NET_ADMIN: fastpkt.CapturePermissionError says how to
    grant them. An unknown interface raises fastpkt.CaptureError, a bad filter
    fastpkt.Error with libpcap's message.
    """

    def __init__(self, iface: str | None = None, filter: str | None = None,  # noqa: A002
                 snaplen: int = 262144, promisc: bool = False, immediate: bool = False,
                 buffer_size: int | None = None, timeout_ms: int = 50,
                 tstamp_precision: str = "nano", duration: float | None = None,
                 count: int | None = None,
                 display_filter: str | DisplayFilter | None = None) -> None:
        if tstamp_precision not in ("nano", "micro"):
            raise ValueError("tstamp_precision must be 'nano' or 'micro', not %r" % (tstamp_precision,))
        if count is not None and count < 0:
            raise ValueError("count must be >= 0 (or None for no limit)")
        self.iface = iface or "any"
        self.filter = filter
        self._open_live(iface, filter, snaplen=snaplen, promisc=bool(promisc), immediate=int(bool(immediate)),
                        buffer_size=int(buffer_size or DEFAULT_BUFFER), timeout_ms=int(timeout_ms),
                        nanosecond=tstamp_precision == "nano", display_filter=display_filter)
        if duration is not None:
            self._set_deadline(float(duration))
        if count is not None:
            self._set_limit(int(count))

    def stats(self) -> dict[str, int]:
        """libpcap's counters: received (by the filter), dropped (kernel buffer full),
        interface_dropped, plus delivered (packets handed to Python or an engine)."""
        got = self._live_stats()
        received, dropped, if_dropped = got if got is not None else (0, 0, 0)
        return {"received": received, "dropped": dropped, "interface_dropped": if_dropped,
                "delivered": self.packets_read}

    def stop(self) -> None:
        """End the iteration in progress (from any thread); close() also releases the handle."""
        self._break()

    def __repr__(self) -> str:
        return "<fastpkt.Capture %s%s, %d packets>" % (
            self.iface, " filter %r" % self.filter if self.filter else "", self.packets_read)


def interfaces() -> list[dict[str, Any]]:
    """Interfaces libpcap can capture on: name, description, addresses (family, address,
    netmask), loopback, up, running."""
    return _interfaces()


def sniff_capture_options(capture_options: dict[str, Any]) -> dict[str, Any]:
    """sniff()'s extra keyword arguments as Capture options; Scapy-only ones ignored or explained."""
    out = {}
    for name, value in capture_options.items():
        if name in CAPTURE_OPTIONS:
            out[name] = value
        elif name in _IGNORED_SCAPY_OPTIONS:
            continue
        elif name in _UNSUPPORTED:
            if value is not None:
                raise TypeError("sniff(%s=...): %s" % (name, _UNSUPPORTED[name]))
        else:
            raise TypeError("sniff() got an unexpected keyword argument %r (capture options: %s)"
                            % (name, ", ".join(CAPTURE_OPTIONS)))
    return out
