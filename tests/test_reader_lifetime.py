"""Reader semantics the zero-copy design must keep: packets outlive close(), partial
results ride on exceptions, and the C-only count agrees with iteration."""
from __future__ import annotations

import gc
import shutil

import pytest

import fastpkt as fp
from _fphelpers import DATA


def test_packets_outlive_closed_reader(tmp_path):
    src = tmp_path / "copy.pcap"
    shutil.copy(DATA / "le_usec.pcap", src)
    with fp.open(src) as r:
        kept = list(r)
        expected = [p.raw for p in kept]
    assert r.closed
    gc.collect()
    # The mapping stays alive while packets view it, even after close() and unlink.
    src.unlink()
    assert [p.raw for p in kept] == expected
    assert all(p.summary() for p in kept)


def test_packetlist_outlives_reader_and_slices_share_it():
    with fp.open(DATA / "le_usec.pcap") as r:
        pl = r.read_all()
    del r
    gc.collect()
    assert len(pl) == 5 and len(pl[1:4]) == 3
    assert pl[1:4][0].raw == pl[1].raw
    assert [p.time_ns for p in pl[::-1]] == [p.time_ns for p in pl][::-1]


def test_closed_reader_yields_nothing():
    r = fp.open(DATA / "le_usec.pcap")
    first = next(r)
    r.close()
    r.close()  # idempotent
    assert list(r) == []
    assert first.wirelen > 0


def test_count_matches_iteration():
    for flt in (None, "tcp", "udp", "icmp or icmp6"):
        n_iter = sum(1 for _ in fp.open(DATA / "two_if.pcapng", filter=flt))
        assert fp.open(DATA / "two_if.pcapng", filter=flt).count() == n_iter


def test_read_attaches_partial_packets_to_truncated_error(tmp_path):
    data = (DATA / "le_usec.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-5])
    with pytest.raises(fp.TruncatedError) as ei:
        fp.read(cut)
    assert len(ei.value.packets) == 4
    assert ei.value.packet_index == 4
    pl = fp.read(cut, on_error="stop")
    assert len(pl) == 4
