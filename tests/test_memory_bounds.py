"""Peak RSS on hostile input, engine by engine, against the bounds README's "Memory" section
documents: fp.stats' tables, the IP defragmenter (in an engine and in a Reader), workers=N
and flows/streams/client_hellos under a tiny max_memory. Each flood (tests/_floods.py) is
run in a fresh interpreter, peak RSS growth read from VmHWM reset after a warm-up; what a
bound cut must show in the counters. tests/test_memory_budget.py checks the engines'
accounting against RSS on floods that fill the budget.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _floods as F  # noqa: E402

MiB = 1 << 20
SLACK = 8 * MiB  # allocator slack, the output queue (docs/DESIGN.md, "Memory budget")
WORKER_SLACK = 4 * MiB  # per extra worker: its Readers, thread, malloc arena
DEFRAG_READER_CAP = 64 * MiB  # FP_DEFRAG_MAX_BYTES: a Reader's reassembler has no budget
STATS_ROW_BYTES = 200  # a conversation row handed to Python (two address strings, numbers)

ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
pytestmark = pytest.mark.skipif(ASAN, reason="RSS is not a memory measure under ASan (quarantine, shadow)")


def measured(flood: str, count: int, engine: str, max_memory: int | None, **options: object) -> dict:
    args = [sys.executable, str(Path(F.__file__)), flood, str(count), engine,
            "none" if max_memory is None else str(max_memory), json.dumps(options)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(fp.__file__).parents[1])})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_stats_million_conversations_cut_and_counted():
    """400,000 distinct UDP conversations against a 16 MiB budget: the tables stop growing,
    every packet is either in a conversation or counted in cut."""
    limit = 16 * MiB
    r = measured("udp_conversations", 400_000, "stats", limit)
    cut, kept = r["cut"], r["conversation_frames"]
    assert r["packets"] == 400_000
    assert r["memory_peak_bytes"] <= limit
    for layer in ("ip", "udp"):
        assert cut["conv_" + layer] > 0 and kept[layer] + cut["conv_" + layer] == 400_000, (layer, r)
    rows = kept["ip"] + kept["udp"]  # one packet per conversation
    assert r["rss_growth"] <= limit + STATS_ROW_BYTES * rows + SLACK, (r["rss_growth"], rows)


@pytest.mark.parametrize("flood,count", [("open_fragments", 300_000), ("giant_fragments", 300_000),
                                         ("overlapping_fragments", 2000)])
def test_defrag_in_an_engine_stays_within_its_cap(flood, count):
    """The engine's reassembler holds at most max_memory / 8; older datagrams (or a datagram
    whose overlapping copies alone pass the cap) are dropped and counted."""
    limit = 16 * MiB
    r = measured(flood, count, "flows", limit)
    st = r["stats"]
    d = st["defrag"]
    assert d["fragments"] == count and d["dropped"] > 0 and d["reassembled"] == 0, d
    # the fixed tables (owners, bucket array) are charged to the component, not to the cap
    assert st["memory_peak"]["defrag"] <= limit // 8 + 256 * 1024, st["memory_peak"]
    assert r["rss_growth"] <= limit // 8 + SLACK, r["rss_growth"]


@pytest.mark.parametrize("flood,count", [("open_fragments", 400_000), ("overlapping_fragments", 2000)])
def test_defrag_in_a_reader_stays_within_the_default_cap(flood, count):
    """Reader(defragment=True) has no budget: its reassembler holds at most 64 MiB, and
    300,000 open datagrams are looked up in time (the bucket table grows with them)."""
    r = measured(flood, count, "reader_defrag", None)
    assert r["rss_growth"] <= DEFRAG_READER_CAP + SLACK, r["rss_growth"]
    d = r["defrag"]
    assert d["fragments"] == count and d["dropped"] > 0 and d["reassembled"] == 0, d
    if flood == "open_fragments":
        assert r["anomalies"]["excessively_small_fragment"] == count
    else:
        assert r["anomalies"]["fragment_overlap"] > 0


@pytest.mark.parametrize("engine,limit", [("flows", 16 * MiB), ("streams", 16 * MiB)])
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_one_budget(engine, limit, workers):
    """workers=N divides max_memory between the shards; when they evict, one engine runs
    instead (after the shards' memory is given back), so N workers never hold N budgets."""
    r = measured("tcp_one_byte", 100_000, engine, limit, workers=workers)
    st = r["stats"]
    assert st["evicted"] > 0 and st["packets"] == r["packets"] == 300_000
    assert st["memory_peak_bytes"] <= limit + SLACK
    assert r["rss_growth"] <= limit + SLACK + (workers - 1) * WORKER_SLACK, r["rss_growth"]


def test_workers_records_held_for_the_merge_count():
    """One-packet flows that one engine holds without evicting: shards that held their
    finished records to the end would pass their share of max_memory (budget_stops, as the
    shards run alone below show). The live merge takes them as they leave; the worker that
    flushes its flows first waits with them, counted in its share, until the other ends: both
    run to the end within the bound."""
    limit = 64 * MiB
    one = measured("quic_initials", 60_000, "flows", limit, tls=False)
    two = measured("quic_initials", 60_000, "flows", limit, tls=False, workers=2)
    assert one["stats"]["evicted"] == two["stats"]["evicted"] == 0
    assert two["packets"] == 60_000
    assert two["stats"]["workers"] == 2 and "fallback" not in two["stats"]
    assert two["rss_growth"] <= limit + SLACK + WORKER_SLACK, (one["rss_growth"], two["rss_growth"])

    small = memoryview(F.quic_initials(15_000).pcap)
    shards = [fp.Flows([fp.Reader(small)], _shard=(i, 2, True), max_memory=8 * MiB, tls=False) for i in range(2)]
    for s in shards:
        s.flush()
    assert [s.stats["budget_stops"] for s in shards] == [1, 1]
    alone = fp.flows(small, max_memory=16 * MiB, progress=False, tls=False)
    split = fp.flows(small, max_memory=16 * MiB, progress=False, tls=False, workers=2)
    assert alone.to_pandas().equals(split.to_pandas()) and split.stats["evicted"] == 0


@pytest.mark.parametrize("engine,flood,count", [("flows", "quic_initials", 150_000),
                                                ("streams", "tcp_one_byte", 100_000),
                                                ("client_hellos", "complete_hellos", 20_000)])
def test_tiny_budget(engine, flood, count):
    """max_memory = 1 MiB: the process grows by the budget plus fixed slack, and every flow
    the budget pushed out is counted."""
    r = measured(flood, count, engine, 1 * MiB)
    st = r["stats"]
    assert st["evicted"] > 0 and st["allocation_failures"] == 0 and st["dropped"] == 0
    assert st["memory_peak_bytes"] <= 1 * MiB + SLACK
    assert r["rss_growth"] <= 1 * MiB + SLACK, r["rss_growth"]


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads the mappings in /proc/self/smaps")
def test_rotated_files_give_back_their_pages(tmp_path):
    """Rotated files merged by time: each file's Reader stays open until every file ends, so
    a file read to its end must give back the pages read since the last release (up to
    32 MiB: 38 files of a 20 GB run kept 2 GB with 2 workers, whose Readers are the same;
    one worker here, since another worker may still be inside the first file)."""
    files = []
    for k in range(3):
        w = F.Writer()
        for i in range(8000):  # ~8.4 MB, under the 32 MiB between releases
            w.add(k * 10_000_000 + i * 100, F.ipv4(F.client_ip(i % 50), b"\x0a\x00\x00\x01", 17,
                                                     F.udp(40000 + i % 50, 53, bytes(1000))))
        files.append(tmp_path / ("rot%d.pcap" % k))
        files[-1].write_bytes(w.done())

    def resident_kib(path: str) -> int:
        total, inside = 0, False
        with open("/proc/self/smaps") as f:
            for line in f:
                if not line[0].isupper():
                    inside = line.rstrip().endswith(path)
                elif inside and line.startswith("Rss:"):
                    total += int(line.split()[1])
        return total

    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        if done > total * 3 // 4 and not seen:  # inside the last file
            seen.append(resident_kib(str(files[0])))

    fl = fp.flows([str(p) for p in files], workers=1, progress=progress)
    assert len(fl) == 50 and seen  # the 50 conversations go on across the files
    assert seen[0] <= 64, "the first file still holds %d KiB" % seen[0]
