"""DnsTransactions of workers=N merged while the workers run (``_merge_live``, as Flows are:
test_parallel_live_flows): the same rows, order, columns and counters as one engine (the
reference; test_dns_transactions checks one engine, and workers=2 and 3, against tshark's
pairing and Zeek's dns.log) and as the merge that held every shard's transactions to the
end (``_merge``), iterated and exported; with every shard waiting for the consumer after each
batch (the test hook parallel.LIVE_QUEUE_BYTES); the first rows before the workers finish;
transactions past a small max_memory that stopped the held merge; a slow consumer; the
memory of a run over 300,000 generated transactions; the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

import fastpkt as fp
from fastpkt import parallel
from fastpkt.flows import _readers
from _fphelpers import corpus_dir
from test_parallel import GEN, fixtures, read_or_none, same_stats
from test_parallel_live_flows import ASAN_RSS, bounded_live_run

MiB = 1 << 20


def rows(records) -> list[str]:
    return [repr(tuple(r)) for r in records]  # repr: NaN fields compare equal


def held(path: str, n: int, **options) -> list[str]:
    """The merge before this one: every shard read to the end, its transactions held, then merged."""
    shards = tuple(fp.DnsTransactions(_readers(path, None, "raise", "dns"), _shard=(i, n), **options)
                   for i in range(n))
    for s in shards:
        s._finish()
    return rows(fp.DnsTransactions._merge(shards))


def captures() -> list[Path]:
    """Every capture of test_parallel, and the corpus' Zeek baselines (their DNS logs among them)."""
    out = fixtures()
    d = corpus_dir()
    if d is not None and (d / "zeek-baselines").is_dir():
        out += sorted(p for p in (d / "zeek-baselines").iterdir() if p.suffix in (".pcap", ".pcapng"))
    return out


def check_live(tx, one_stats: dict, n: int) -> dict:
    st = dict(tx.stats)
    assert st["workers"] == n and "fallback" not in st and "live_room_waits" in st, st
    same_stats(one_stats, dict(st))
    return st


@pytest.mark.parametrize("path", captures(), ids=lambda p: p.name)
def test_every_capture_same_as_one_engine(path):
    path = str(path)
    one = read_or_none(lambda: fp.dns(path, workers=1))
    want = read_or_none(lambda: rows(one)) if one is not None else None
    for n in (2, 3):
        tx = read_or_none(lambda: fp.dns(path, workers=n))
        assert (read_or_none(lambda: rows(tx)) if tx is not None else None) == want
        if not want:  # no DNS here, or unreadable: both ways alike is all there is to see
            continue
        check_live(tx, dict(one.stats), n)
        if path.rsplit("/", 1)[-1] != "two_if.pcapng":  # time reversal: one engine (test_parallel)
            assert held(path, n) == want
        # every column, with its dtype, through the export
        assert fp.dns(path, workers=n).to_pandas().equals(fp.dns(path, workers=1).to_pandas())


@pytest.mark.parametrize("path", captures(), ids=lambda p: p.name)
def test_every_capture_with_every_shard_waiting_for_the_consumer(path, monkeypatch):
    """Chunks of 2 KiB, a window of 4 per worker, and each shard waiting for the consumer
    after every batch that left transactions (test_parallel_live forces the same for the
    other engines): one engine's rows and counters, no fallback."""
    path = str(path)
    one = read_or_none(lambda: fp.dns(path, workers=1))
    want = read_or_none(lambda: rows(one)) if one is not None else None
    if not want:
        pytest.skip("no DNS transaction in this capture")
    monkeypatch.setattr(parallel, "SPLIT_CHUNK_BYTES", 2048)
    monkeypatch.setattr(parallel, "SPLIT_WINDOW", 1)
    monkeypatch.setattr(parallel, "LIVE_QUEUE_BYTES", 1)
    for n in (2, 3):
        tx = fp.dns(path, workers=n)
        assert rows(tx) == want
        assert check_live(tx, dict(one.stats), n)["live_room_waits"] > 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """gen_pcap's DNS mix: 200,000 packets, 100,008 transactions over 77,017 UDP connections
    (10% IPv6, 1% VLAN), about 20 s of traffic."""
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    out = tmp_path_factory.mktemp("live_dns") / "dns.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "200000", "--seed", "5", "--mix", "dns",
                    "--concurrency", "50", "--gap-us", "200", "--out", str(out)], check=True, capture_output=True)
    return str(out)


@pytest.mark.parametrize("workers", [2, 3])
def test_generated_capture_iterated_exported_and_its_truth(generated, workers):
    truth = json.loads(Path(generated + ".truth.json").read_text())["events"]
    one = fp.dns(generated, workers=1)
    want = rows(one)
    tx = fp.dns(generated, workers=workers)
    got = list(tx)
    assert rows(got) == want and held(generated, workers) == want
    check_live(tx, dict(one.stats), workers)
    assert len(tx) == len(want)
    assert sum(t.queries for t in got) == truth["dns_queries"]
    assert sum(t.responses for t in got) == truth["dns_responses"]
    assert sum(t.rcode_name == "NXDOMAIN" for t in got) == truth["dns_nxdomain"]
    # small batches: the export takes the merge's transactions a batch at a time
    def batches(n: int):
        return pa.Table.from_batches(list(fp.dns(generated, workers=n).record_batches(batch_size=1000))).to_pandas()

    assert batches(workers).equals(batches(1))


def test_first_rows_before_the_workers_finish(generated):
    """Worker 0 stops in its progress callback past half the file until the consumer has its
    first transaction: a merge that waited for the end would never give it (the callback
    gives up after a minute and the test fails). timeout=1: the first closes 1 s in."""
    size = os.path.getsize(generated)
    got_first = threading.Event()
    waited = []

    def progress(pos: int, total: int) -> None:
        if pos > size // 2 and not waited:
            waited.append(got_first.wait(60))

    tx = fp.dns(generated, workers=2, timeout=1, progress=progress)
    got = []
    for t in tx:
        if not got:
            packets_then = tx.stats["packets"]
            got_first.set()
        got.append(repr(tuple(t)))
    assert waited == [True]
    assert packets_then < tx.stats["packets"] == 200000
    assert got == rows(fp.dns(generated, workers=1, timeout=1))


def test_transactions_past_a_small_budget_no_longer_stop_the_workers(generated):
    """100,008 transactions (~40 MB held) through 16 MiB, timeout and idle_timeout 1 s: one
    engine holds ~2 MB of DNS state at a time. The held merge's shards pass their share with
    the transactions they keep (budget_stops: one engine then ran from the start); the live
    merge hands them out as they close, each worker within its share."""
    limit = 16 * MiB
    kw = dict(timeout=1, idle_timeout=1)
    stopped = [fp.DnsTransactions(_readers(generated, None, "raise", "dns"), _shard=(i, 2, True),
                                  max_memory=limit // 2, **kw) for i in range(2)]
    for s in stopped:
        s._finish()
    assert [s.stats["budget_stops"] for s in stopped] == [1, 1]
    del stopped
    one = fp.dns(generated, workers=1, max_memory=limit, **kw)
    want = one.to_pandas()
    assert one.stats["evicted"] == 0 and len(want) == 100008
    for n in (2, 3):
        for how in ("to_pandas", "iterate", "to_arrow"):
            tx = fp.dns(generated, workers=n, max_memory=limit, **kw)
            if how == "to_pandas":
                assert tx.to_pandas().equals(want)
            elif how == "iterate":
                assert sum(1 for _ in tx) == len(want)
            else:
                assert tx.to_arrow().num_rows == len(want)
            st = tx.stats
            assert st["workers"] == n and "fallback" not in st and st["budget_stops"] == 0, (how, st)
            assert st["evicted"] == 0 and max(st["worker_memory_peak_bytes"]) <= limit // n, (how, st)


@pytest.mark.parametrize("limit", [8 * MiB, 4 * MiB], ids=lambda b: "%dMiB" % (b // MiB))
def test_a_small_budget_runs_every_worker_to_the_end(generated, limit):
    """timeout and idle_timeout 1 s: one engine holds ~3 MB. A batch of a worker ended about
    2,000 transactions at once, whose 552-byte slots (the output array doubled to 4,096 of
    them, 2.3 MB) passed its 4 MiB share before it published: budget_stops, one engine from
    the start. A worker now publishes once its waiting records pass a sixteenth of its share,
    and its table forgets the flow creations it handed over (8 bytes a flow for the whole run:
    ~0.5 MB of a 2 MiB share by 80% of this capture): one engine's rows, order and counters,
    no fallback, each worker within its share. (At 3 MiB a worker's own state, 1.1 MB of DNS
    and 0.4 MB of flow table, passes its share: one engine runs.)"""
    kw = dict(timeout=1, idle_timeout=1, max_memory=limit)
    one = fp.dns(generated, workers=1, **kw)
    want = rows(one)
    assert one.stats["evicted"] == 0 and len(want) == 100008
    for n in (2, 3):
        tx = fp.dns(generated, workers=n, **kw)
        assert rows(tx) == want
        st = check_live(tx, dict(one.stats), n)
        assert st["budget_stops"] == 0 and st["evicted"] == 0, st
        assert max(st["worker_memory_peak_bytes"]) <= limit // n, st


def test_memory_peak_after_a_fallback_is_one_engines(generated):
    """At 3 MiB a worker's own state passes its share: the merge goes on with one engine, whose
    counters the stats are. memory_peak_bytes and each component's peak are one engine's
    (within 1%), iterated (about 3 MB) and exported: an export holds every transaction it
    returns (the output and dns components), in one engine too, which is what a peak of
    ~100 MB after a fallback beside an iteration's ~3 MB was (h17d)."""
    kw = dict(timeout=1, idle_timeout=1, max_memory=3 * MiB)
    peaks = {}
    for how in ("iterate", "to_pandas"):
        one, tx = fp.dns(generated, workers=1, **kw), fp.dns(generated, workers=2, **kw)
        for e in (one, tx):
            sum(1 for _ in e) if how == "iterate" else e.to_pandas()
        want, st = one.stats, tx.stats
        assert "fallback" in st and "fallback" not in want, st
        assert abs(st["memory_peak_bytes"] - want["memory_peak_bytes"]) <= want["memory_peak_bytes"] // 100, (how, st)
        for k, v in want["memory_peak"].items():
            assert abs(st["memory_peak"][k] - v) <= v // 100, (how, k, st["memory_peak"], want["memory_peak"])
        assert st["memory_bytes"] <= st["memory_peak_bytes"]
        peaks[how] = want
    it, ex = peaks["iterate"], peaks["to_pandas"]
    assert it["memory_peak_bytes"] < 2 * kw["max_memory"], it
    grown = ex["memory_peak_bytes"] - it["memory_peak_bytes"]
    held = (ex["memory_peak"]["output"] - it["memory_peak"]["output"]) + \
        (ex["memory_peak"]["dns"] - it["memory_peak"]["dns"])
    assert grown > 10 * kw["max_memory"] and abs(grown - held) <= grown // 100, (it, ex)


def test_a_slow_consumer_holds_the_workers_back(generated):
    """A consumer that sleeps: each worker's queue fills its share and it waits for the
    consumer (live_room_waits) instead of stopping."""
    limit = 16 * MiB
    kw = dict(timeout=1, idle_timeout=1, max_memory=limit)
    want = rows(fp.dns(generated, workers=1, **kw))
    tx = fp.dns(generated, workers=2, **kw)
    got = []
    for i, t in enumerate(tx):
        got.append(repr(tuple(t)))
        if i % 10000 == 0:
            time.sleep(0.5)
    assert got == want
    st = tx.stats
    assert "fallback" not in st and st["budget_stops"] == 0 and st["live_room_waits"] > 0, st


def test_a_consumer_that_leaves_early_stops_the_workers(generated):
    import gc

    want = rows(fp.dns(generated, workers=1, timeout=1))
    tx = fp.dns(generated, workers=2, timeout=1, max_memory=16 * MiB)
    assert rows([next(tx) for _ in range(3)]) == want[:3]
    del tx
    gc.collect()
    end = time.monotonic() + 60
    while any(t.name.startswith("fastpkt-worker") for t in threading.enumerate()) and time.monotonic() < end:
        time.sleep(0.01)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("fastpkt-worker")]
    assert rows(fp.dns(generated, workers=2, timeout=1)) == want


def test_cli_jobs_flag_on_the_generated_capture(generated):
    out = [subprocess.run([sys.executable, "-m", "fastpkt", "dns", "-j", str(j), generated], capture_output=True,
                          text=True, check=True, timeout=600).stdout for j in (1, 2)]
    assert out[0] == out[1] and out[0].count("\n") > 100000


@ASAN_RSS
def test_many_transactions_iterated_in_bounded_memory(tmp_path):
    """gen_pcap's DNS mix: 600,000 packets, ~300,000 transactions closing all along the
    capture. Held to the end they were ~325 MB (1,080 bytes each with its record): the held
    merge ran one engine from the start. Live, both workers run to the end; each keeps
    within its share and the process grows by the budget plus the workers' shared window of
    the mapped file."""
    r, truth = bounded_live_run(tmp_path, ["--packets", "600000", "--seed", "6", "--mix", "dns",
                                           "--concurrency", "50", "--gap-us", "200"],
                                "dns", {"timeout": 1, "idle_timeout": 1}, 32 * MiB)
    assert r["one"] == r["rows"] and truth["events"]["dns_queries"] >= r["rows"] >= 250_000, (r["rows"], truth)
