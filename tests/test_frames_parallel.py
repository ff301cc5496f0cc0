"""PacketList.columns() splits big lists over threads with their own interners and then
merges them: the result must equal building each part alone (single-threaded)."""
from __future__ import annotations

import pytest

import fastpkt as fp
from _fphelpers import DATA

pd = pytest.importorskip("pandas")


def test_threaded_columns_equal_sequential(tmp_path):
    frames = [p for p in fp.read(DATA / "dns.pcap")] + [p for p in fp.read(DATA / "tcp_opts.pcap")] \
        + [p for p in fp.read(DATA / "ipv6_ext_frag.pcap")]
    out = tmp_path / "many.pcap"
    n = 150_000  # above the threshold for 2+ threads
    with fp.Writer(out) as w:
        for i in range(n):
            p = frames[(i * 7) % len(frames)]
            w.write(p.raw, time_ns=1_600_000_000_000_000_000 + i * 1000)
    pl = fp.read(out)
    whole = pl.to_pandas()
    assert len(whole) == n
    for lo, hi in ((0, 50_000), (50_000, 100_000), (100_000, n)):
        part = pl[lo:hi].to_pandas()
        ref = whole.iloc[lo:hi].reset_index(drop=True)
        for col in part.columns:
            a, b = part[col].astype(object), ref[col].astype(object)
            same = (a == b) | (a.isna() & b.isna())
            assert bool(same.all()), col
