"""The shared dissection feed's windows inside the engines' memory budget (engine_feed.c:
each worker's engine is charged for the window slots it fills, component "engine")."""
from __future__ import annotations

import struct

import fastpkt as fp
from fastpkt import parallel
from test_source_chunks import ETH_IP_UDP, pcap_file

WINDOW = 64 << 10


def small_udp(tmp_path, count=40_000, flows=20):
    """Minimum-size UDP frames (58-byte records): the most records per window."""
    pkts = [(i * 1000, ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % flows, 2000, 8, 0)) for i in range(count)]
    path = tmp_path / "small_udp.pcap"
    path.write_bytes(pcap_file(pkts))
    return str(path)


def test_feed_windows_count_in_max_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "WINDOW_BYTES", WINDOW)
    path = small_udp(tmp_path)
    one = fp.flows(path, workers=1)
    want = one.to_pandas()
    assert len(want) == 20
    many = fp.flows(path, workers=2)
    assert many.to_pandas().equals(want)
    assert many.stats["workers"] == 2 and many.stats["fed"]
    # each worker fills two of the ring's four slots; a record costs its fp_record, dissection,
    # class and pass entry (over 600 bytes) in a slot
    per_window = WINDOW // (16 + len(ETH_IP_UDP))
    extra = many.stats["memory_peak"]["engine"] - 2 * one.stats["memory_peak"]["engine"]
    assert extra >= 2 * 2 * per_window * 600
    for peak in many.stats["worker_memory_peak_bytes"]:
        assert peak >= 2 * per_window * 600


def test_a_share_below_the_windows_runs_one_engine(tmp_path, monkeypatch):
    """A worker's share of max_memory cannot hold its windows: it stops (budget_stops) and one
    engine, which reads without the feed, gives the result within the same max_memory."""
    monkeypatch.setattr(parallel, "WINDOW_BYTES", WINDOW)
    path = small_udp(tmp_path)
    limit = 2 << 20  # 1 MiB a worker: less than two slots of 1,130 records
    single = fp.flows(path, workers=1, max_memory=limit)
    tight = fp.flows(path, workers=2, max_memory=limit)
    assert "workers" not in tight.stats
    assert tight.to_pandas().equals(single.to_pandas())
    assert single.stats["evicted"] == 0 and single.stats["memory_peak_bytes"] < limit
