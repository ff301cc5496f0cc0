"""fp.Capture's C-level passes on a live source (root only; traffic on 127.0.0.1 only):
count() and read_all() wait through quiet read timeouts until the deadline or the count,
instead of ending at the first timeout.

Each test captures on lo with a filter on a UDP port it has bound itself (port 0: the kernel
picks a free one), so other processes' loopback traffic - the same tests run by someone else
on this machine - cannot match. No test depends on how fast the machine is: every wait is
for an event (packets consumed by the capture, a thread ended), with a deadline only as a
failure guard.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

import fastpkt as fp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root")

GUARD_S = 60.0  # bounds a failure (a capture that never returns); never the expected path
QUIET_S = 0.3   # a quiet link for several read timeouts (timeout_ms=50)


def _lo_dropped() -> int:
    """Packets the kernel dropped on lo before its receive path - before any capture - when
    the per-CPU backlog, shared by every namespace, overflows (loopback flooded)."""
    try:
        return int(open("/sys/class/net/lo/statistics/rx_dropped").read())
    except (OSError, ValueError):
        return 0


class Sink:
    """A bound UDP receiver on 127.0.0.1 (no ICMP unreachable); its port is ours alone."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def send(self, n: int, tag: bytes = b"") -> None:
        """Send n datagrams and wait until all have arrived here: arrival is after the capture
        tap, so from then on the capture has them. Only the kernel dropping packets on lo
        before the tap (lo's rx_dropped; the backlog is shared by every namespace, so a flood
        anywhere on the machine) can lose one: then the guard fails saying how many it dropped."""
        dropped = _lo_dropped()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(b"fastpkt %s%d" % (tag, i), ("127.0.0.1", self.port))
        self.sock.settimeout(GUARD_S)
        for i in range(n):
            try:
                got = self.sock.recv(2048)
            except (socket.timeout, TimeoutError):
                raise AssertionError("%d of %d datagrams arrived; the kernel dropped %d packets "
                                     "on lo before any capture (loopback flooded on this machine)"
                                     % (i, n, _lo_dropped() - dropped)) from None
            assert got == b"fastpkt %s%d" % (tag, i), got


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.sock.close()


def _until(predicate) -> bool:
    deadline = time.monotonic() + GUARD_S
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_count_waits_through_quiet_timeouts_until_the_deadline(sink):
    """count() with no packet limit keeps counting across quiet read timeouts (before,
    between and after bursts) and ends at the capture's deadline, with every packet."""
    cap = fp.Capture("lo", filter="udp dst port %d" % sink.port, duration=GUARD_S)
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(n=cap.count()))
    t.start()
    try:
        # traffic shaping: the quiet gaps are what the test is about (a count that ended
        # at a read timeout would stop at 25); the waits are on packets_read, not time
        time.sleep(QUIET_S)
        sink.send(25, b"a")
        assert _until(lambda: cap.packets_read >= 25 or not t.is_alive()), cap.packets_read
        time.sleep(QUIET_S)
        assert t.is_alive(), "count() returned at a quiet read timeout: %r" % result
        sink.send(25, b"b")
        assert _until(lambda: cap.packets_read >= 50 or not t.is_alive()), cap.packets_read
        time.sleep(QUIET_S)
        assert t.is_alive(), "count() returned before its deadline: %r" % result
        cap._set_deadline(0.0)  # the deadline is now (what duration= sets at construction)
        t.join(GUARD_S)
        assert not t.is_alive(), "count() did not return at its deadline"
        assert result["n"] == 50
    finally:
        cap.close()
        t.join(GUARD_S)


def test_count_returns_at_the_deadline_on_a_quiet_link(sink):
    """No packet at all: count() returns 0 at the deadline (returning at all is the point;
    the join's guard is what catches a capture that never ends)."""
    cap = fp.Capture("lo", filter="udp dst port %d" % sink.port, duration=0.2)
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(n=cap.count()))
    t.start()
    t.join(GUARD_S)
    try:
        assert not t.is_alive(), "count() ignored its deadline on a quiet link"
        assert result["n"] == 0
    finally:
        cap.close()
        t.join(GUARD_S)


def test_read_all_stops_at_count(sink):
    """read_all() with count=10 returns the first 10 of 30 packets sent after a quiet
    spell: it ends on the count, not at a read timeout (0) or at the deadline (30), which is
    only a guard here."""
    cap = fp.Capture("lo", filter="udp dst port %d" % sink.port, count=10, duration=GUARD_S)

    def later():
        time.sleep(QUIET_S)  # traffic shaping: read_all() first waits through quiet timeouts
        sink.send(30)

    t = threading.Thread(target=later)
    t.start()
    try:
        pl = cap.read_all()
    finally:
        t.join(GUARD_S)
        cap.close()
    assert [p.payload for p in pl] == [b"fastpkt %d" % i for i in range(10)]
    assert all(p.udp.dport == sink.port for p in pl)


def test_capture_view_names_the_class_and_its_counters(sink):
    """A live Capture's notebook view and repr (issue 15: readers and captures have views):
    its interface, filter and the kernel's counters while open."""
    with fp.Capture("lo", filter="udp port %d" % sink.port, timeout_ms=50) as cap:
        html = cap._repr_html_()
        assert "<b>Capture</b>" in html and "lo" in html and "udp port %d" % sink.port in html
        assert all(str(k) in html for k in cap.stats())
        assert repr(cap).startswith("<fastpkt.Capture lo")
    assert "<b>Capture</b>" in cap._repr_html_()  # closed: still a view, no counters asked
