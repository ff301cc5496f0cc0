"""fp.Capture's C-level passes on a live source (root only; traffic on 127.0.0.1 only):
count() and read_all() wait through quiet read timeouts until the deadline or the count,
instead of ending at the first timeout."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

import fastpkt as fp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="live capture needs root")

PORT = 39517


def _send_later(n: int, delay: float = 0.4) -> threading.Thread:
    def run():
        time.sleep(delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(b"fastpkt %d" % i, ("127.0.0.1", PORT))
    t = threading.Thread(target=run)
    t.start()
    return t


def test_count_waits_for_the_deadline():
    cap = fp.Capture("lo", filter="udp dst port %d" % PORT, duration=1.5)
    t = _send_later(25)
    start = time.monotonic()
    assert cap.count() == 25
    assert time.monotonic() - start >= 1.4
    t.join()


def test_read_all_stops_at_count():
    cap = fp.Capture("lo", filter="udp dst port %d" % PORT, count=10, duration=10)
    t = _send_later(30)
    start = time.monotonic()
    pl = cap.read_all()
    assert len(pl) == 10 and time.monotonic() - start < 5
    assert all(p.udp.dport == PORT for p in pl)
    t.join()
