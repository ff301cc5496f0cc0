"""Streams of workers=N handed out while the workers run (Streams._merge_live, csrc/py/engine.c):
the same Streams in the same order with the same ids as one engine (the reference here;
test_streams_reference checks one engine against tshark's follow), the first one before the
input is read, a consumer that leaves early, a slow consumer whose buffered Streams fill
max_memory, and fallbacks after some Streams were handed out (no duplicate, no loss)."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import fastpkt as fp
from test_parallel import GEN, stream_rows


@pytest.fixture(scope="module")
def closing(tmp_path_factory):
    """Conversations that end all along the capture (20 at a time, ~20 s of traffic), so one
    engine hands Streams out from the first third of the input on."""
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    out = tmp_path_factory.mktemp("live") / "closing.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "40000", "--seed", "5", "--concurrency", "20",
                    "--gap-us", "1000", "--mix", "tcp", "--out", str(out)], check=True, capture_output=True)
    return str(out)


def single_rows(path: str, **kw) -> list[tuple]:
    return stream_rows(fp.streams(path, workers=1, **kw))


def workers_running() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fastpkt-worker")]


def wait_for(cond, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_first_stream_before_the_input_is_read(closing):
    """Worker 0 stops in its progress callback past half the file until the consumer has its
    first Stream: a merge that waited for the end would never give it (the callback gives up
    after a minute and the test fails)."""
    size = os.path.getsize(closing)
    got_first = threading.Event()
    held = []

    def progress(pos: int, total: int) -> None:
        if pos > size // 2 and not held:
            held.append(got_first.wait(60))

    st = fp.streams(closing, workers=2, progress=progress)
    rows = []
    for s in st:
        if not rows:
            packets_then = st.stats["packets"]
            got_first.set()
        rows.extend(stream_rows([s]))
    assert held == [True]
    assert packets_then < st.stats["packets"] == 40000
    assert rows == single_rows(closing)
    assert st.stats["workers"] == 2 and "fallback" not in st.stats


def test_a_consumer_that_leaves_early_stops_the_workers(closing):
    st = fp.streams(closing, workers=2)
    first = [next(st) for _ in range(3)]
    assert stream_rows(first) == single_rows(closing)[:3]
    del st, first
    gc.collect()
    assert wait_for(lambda: not workers_running()), workers_running()
    st = fp.streams(closing, workers=3)  # nothing left behind: a new run is whole
    assert stream_rows(st) == single_rows(closing)


def test_a_slow_consumer_fills_max_memory_and_one_engine_goes_on(closing):
    """The Streams waiting for the consumer count in each worker's share of max_memory: while
    it sleeps they fill the share, the worker stops (budget_stops) and the rest comes from one
    engine past the Streams already handed out."""
    limit = 16 << 20  # one engine peaks at 9.5 MB; each worker's Streams pass its 8 MiB share
    want = single_rows(closing, max_memory=limit)
    st = fp.streams(closing, workers=2, max_memory=limit)
    rows = stream_rows([next(st) for _ in range(5)])
    assert wait_for(lambda: st.stats.get("budget_stops", 0) > 0)
    rows += stream_rows(st)
    assert rows == want
    # at least the 5 taken; more when the consumer took, before the stop was told, Streams
    # the stopped worker had queued below its last bound (still the single engine's)
    assert st.stats["fallback"]["reason"] == "budget_stops" and 5 <= st.stats["fallback"]["after"] <= len(want)
    assert "workers" not in st.stats


def test_evictions_after_streams_were_handed_out(closing):
    """max_flows split between the workers: a worker evicts, and one engine (which decides
    what leaves) gives the rest after the Streams already handed out, none twice."""
    want = single_rows(closing, max_flows=16)
    st = fp.streams(closing, workers=2, max_flows=16)
    rows = stream_rows(st)
    assert rows == want
    assert st.stats["fallback"]["reason"] == "evicted" and st.stats["evicted"] > 0


def test_ctrl_c_while_waiting_then_iteration_goes_on(closing):
    """SIGINT while the consumer waits for the workers raises KeyboardInterrupt there; the
    workers stop, and iterating again goes on with one engine past what was handed out.
    Worker 0 sends it from its first progress call (8,192 packets in, before any connection
    of this capture ends) and waits there until the consumer has raised, so no Stream can
    reach the consumer in between. It waits to send it until the consumer iterates (each
    worker reads on its own from the start: worker 0 may reach 8,192 packets while the
    caller's thread is still starting worker 1)."""
    sent, raised, iterating = [], threading.Event(), threading.Event()

    def progress(pos: int, total: int) -> None:
        if not sent:
            iterating.wait(60)
            sent.append(pos)
            os.kill(os.getpid(), signal.SIGINT)
            raised.wait(60)

    st = fp.streams(closing, workers=2, progress=progress)
    rows: list[tuple] = []
    with pytest.raises(KeyboardInterrupt):
        try:
            iterating.set()
            for s in st:
                rows.extend(stream_rows([s]))
        finally:
            raised.set()
    assert rows == []
    rows += stream_rows(st)
    assert rows == single_rows(closing)
    assert st.stats["fallback"] == {"reason": "interrupted", "after": 0}
    assert wait_for(lambda: not workers_running())


def test_run_of_a_live_merge(closing):
    st = fp.streams(closing, workers=2)
    assert st.run() == len(single_rows(closing))
    assert st.finished and list(st) == [] and st.stats["workers"] == 2


def test_merge_live_argument_checks(closing):
    shards = tuple(fp.Streams([fp.Reader(closing)], _shard=(i, 2, True)) for i in range(2))
    with pytest.raises(ValueError, match="callable"):
        fp.Streams._merge_live(shards, None)
    with pytest.raises(ValueError, match="0..n-1"):
        fp.Streams._merge_live(shards[::-1], lambda k: None)
    with pytest.raises(ValueError, match="_merge_live"):
        shards[0]._live()
    m = fp.Streams._merge_live(shards, lambda k: None)
    with pytest.raises(ValueError, match="0..n-1"):
        fp.Streams._merge_live(shards, lambda k: None)  # already in a merge
    del m
