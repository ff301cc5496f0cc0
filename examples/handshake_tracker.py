#!/usr/bin/env python3
"""Track TCP three-way handshakes and report incomplete ones: ports the course's Section 7
"Handshake Tracker".

    sudo python3 handshake_tracker.py --iface eth0 --incomplete-after 10
    python3 handshake_tracker.py --pcap trace.pcap

The course's flag tests were ordered so that a SYN-ACK counted as a SYN (flags & 0x02 is true
for both); here SYN, SYN-ACK and ACK are told apart with the flag attributes. The course ran
sniff(count=20) in a loop and checked for stale SYNs between the calls, so it lost packets
while checking and never checked a quiet link. Here one fp.AsyncSniffer runs in the
background and the main thread checks every second: a SYN whose handshake has not finished
after --incomplete-after seconds is reported (time = packet time while packets flow, the
wall clock on a quiet live link). SYNs still open when the capture ends are reported then.
"""
from __future__ import annotations

import threading
import time

import fastpkt as fp
from _common import is_live, parser, source


class HandshakeTracker:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.handshakes: dict[tuple[object, ...], dict[str, bool]] = {}
        self.started: dict[tuple[object, ...], float] = {}        # flow -> time of its SYN, until complete or reported
        self.last_time = 0.0           # the newest packet time seen
        self.lock = threading.Lock()   # the callback runs in the sniffer's thread

    def _status(self, flow: tuple[object, ...]) -> dict[str, bool]:
        return self.handshakes.setdefault(flow, {"syn": False, "synack": False, "ack": False,
                                                 "rst": False, "done": False})

    def handle(self, packet: fp.Packet) -> None:
        """The sniff callback."""
        tcp = packet.tcp
        if tcp is None:
            return
        with self.lock:
            self._handle(packet, tcp)
            if packet.time - self.last_time >= 1.0:
                self.detect_incomplete(packet.time)
            self.last_time = max(self.last_time, packet.time)

    def _handle(self, packet: fp.Packet, tcp: fp.TCP) -> None:
        flow = (packet.src, tcp.sport, packet.dst, tcp.dport)
        reverse = (packet.dst, tcp.dport, packet.src, tcp.sport)
        flags = tcp.flags
        if flags.S and not flags.A:
            self._status(flow)["syn"] = True
            self.started.setdefault(flow, packet.time)
        elif flags.S and flags.A:
            if reverse in self.handshakes:
                self.handshakes[reverse]["synack"] = True
        elif flags.R:
            for key in (flow, reverse):
                if key in self.handshakes:
                    self.handshakes[key]["rst"] = True
        else:
            status = self.handshakes.get(flow)
            if status and flags.A and status["syn"] and status["synack"] and not status["done"]:
                status["ack"] = status["done"] = True
                self.started.pop(flow, None)
                print(f"[✓] Complete handshake: {flow}")

    def detect_incomplete(self, now: float | None) -> None:
        """Report SYNs older than the timeout at time `now` (None: all that are left)."""
        for flow, started in list(self.started.items()):
            if now is None or now - started > self.timeout:
                status = self.handshakes[flow]
                if status["syn"] and not status["ack"]:
                    why = "refused (RST)" if status["rst"] else "no answer"
                    print(f"[!] Incomplete handshake: {flow} {why} status={status}")
                del self.started[flow]


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--incomplete-after", type=float, default=10.0, metavar="SECONDS",
                   help="report a SYN without a finished handshake after this long (default 10)")
    args = p.parse_args()
    tracker = HandshakeTracker(args.incomplete_after)
    sniffer = fp.AsyncSniffer(filter="tcp", prn=tracker.handle, store=False, **source(args))
    sniffer.start()
    try:
        while sniffer.running:
            sniffer.join(timeout=1.0)
            if is_live(args):  # a quiet link brings no packet times: use the clock
                with tracker.lock:
                    tracker.detect_incomplete(max(time.time(), tracker.last_time))
    except KeyboardInterrupt:
        pass
    finally:
        sniffer.stop()
    with tracker.lock:
        tracker.detect_incomplete(None)
    stats = sniffer.stats()
    if stats:
        print(f"[*] capture stats: {stats}")


if __name__ == "__main__":
    main()
