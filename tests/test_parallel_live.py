"""Streams of workers=N handed out while the workers run (Streams._merge_live, csrc/py/engine.c):
the same Streams in the same order with the same ids as one engine (the reference here;
test_streams_reference checks one engine against tshark's follow), the first one before the
input is read, a consumer that leaves early, a slow consumer whose buffered Streams fill
max_memory (the workers wait for it), and fallbacks after some Streams were handed out (no
duplicate, no loss)."""
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
from fastpkt import parallel
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


def test_a_slow_consumer_holds_the_workers_back(closing):
    """The Streams waiting for the consumer count in each worker's share of max_memory: while
    it sleeps they fill the share and the worker waits for it (live_room_waits) instead of
    stopping; the Streams are one engine's and no engine runs twice."""
    limit = 16 << 20  # one engine peaks at 9.5 MB; each worker's Streams pass its 8 MiB share
    want = single_rows(closing, max_memory=limit)
    st = fp.streams(closing, workers=2, max_memory=limit)
    rows = stream_rows([next(st) for _ in range(5)])
    assert wait_for(lambda: st.stats.get("live_room_waits", 0) > 0), st.stats
    rows += stream_rows(st)
    assert rows == want
    assert st.stats["workers"] == 2 and "fallback" not in st.stats and st.stats["budget_stops"] == 0
    assert st.stats["live_room_waits"] > 0


def test_a_share_full_before_the_first_stream_waits(closing, monkeypatch):
    """Worker 0 waits in its first progress call (before any connection ends) until worker 1
    has filled its share with Streams the merge cannot hand out yet: worker 1 waits (it used to
    stop, and one engine ran from the start), and once worker 0 goes on every Stream is one
    engine's. Each worker reads the whole file here: with the split walk worker 1 cannot get
    further ahead than the walk's window (test_parallel_split)."""
    monkeypatch.setattr(parallel, "SPLIT_WALK", False)
    limit = 16 << 20
    held, box = [], []

    def progress(pos: int, total: int) -> None:
        if not held:
            held.append(wait_for(lambda: bool(box) and box[0].stats.get("live_room_waits", 0) > 0))

    st = fp.streams(closing, workers=2, max_memory=limit, progress=progress)
    box.append(st)
    rows = stream_rows(st)
    assert held == [True]
    assert rows == single_rows(closing, max_memory=limit)
    assert st.stats["workers"] == 2 and "fallback" not in st.stats and st.stats["budget_stops"] == 0


@pytest.mark.parametrize("workers", [2, 3])
def test_a_shard_waiting_in_the_split_walk_publishes_first(closing, monkeypatch, workers):
    """What h17m's 2 s stall rule guarded against: a shard waits in the split walk for the
    slowest, which waits for the consumer to take its records, while the consumer waits for
    the first shard's bound. Forced here: chunks of 2 KiB, a window of 4 per worker, and every
    shard waiting for the consumer after each batch that left records it cannot take yet (the
    test hook parallel.LIVE_QUEUE_BYTES). A shard publishes its records and bound before it
    waits in the walk (split_wait_publishes), so the merge never waits on a stale bound and
    there is no stall rule left: Streams, flows and ClientHellos are one engine's, without a
    fallback."""
    monkeypatch.setattr(parallel, "SPLIT_CHUNK_BYTES", 2048)
    monkeypatch.setattr(parallel, "SPLIT_WINDOW", 1)
    monkeypatch.setattr(parallel, "LIVE_QUEUE_BYTES", 1)
    for engine, rows_of in ((fp.streams, stream_rows), (fp.flows, lambda fl: [repr(tuple(r)) for r in fl]),
                            (fp.client_hellos, lambda hs: [repr(tuple(h)) for h in hs])):
        want = rows_of(engine(closing, workers=1))
        got = engine(closing, workers=workers)
        assert rows_of(got) == want, engine
        st = got.stats
        assert st["workers"] == workers and "fallback" not in st and st["budget_stops"] == 0, (engine, st)
        assert st["split_walk_memory_peak_bytes"] > 0 and st["split_wait_publishes"] > 0, (engine, st)
        assert st["live_room_waits"] > 0 or not want, (engine, st)


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


def live_shards(path: str, progress0, progress1=None, n: int = 2) -> tuple:
    return tuple(fp.Streams([fp.Reader(path)], _shard=(i, n, True),
                            progress=progress0 if i == 0 else progress1 if i == 1 else None)
                 for i in range(n))


def test_ctrl_c_while_the_fallback_skips_what_was_handed_out(closing):
    """Worker 0 fails (its progress raises) once the consumer has 3 Streams; the one engine the
    merge goes on with is interrupted while it passes those handed out: iterating again goes
    on from where the skip stopped, giving none of them twice."""
    want = single_rows(closing)
    size = os.path.getsize(closing)
    took = threading.Event()

    def progress0(pos: int, total: int) -> None:
        if pos > size // 2:
            took.wait(60)
            raise RuntimeError("worker 0 fails")

    class InterruptedOnce:
        """The single engine, with a Ctrl+C before its second Stream."""
        def __init__(self) -> None:
            self.it, self.calls = iter(fp.streams(closing, workers=1)), 0

        def __iter__(self):
            return self

        @property
        def stats(self) -> dict:
            return self.it.stats

        def __next__(self):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return next(self.it)

    shards = live_shards(closing, progress0)
    threads = [threading.Thread(target=s._live, daemon=True) for s in shards]

    def fallback(k: int):
        for t in threads:
            t.join()
        return InterruptedOnce()

    st = fp.Streams._merge_live(shards, fallback)
    del shards
    for t in threads:
        t.start()
    rows = stream_rows([next(st) for _ in range(3)])
    took.set()
    with pytest.raises(KeyboardInterrupt):
        for s in st:  # Streams still queued below worker 0's bound may come first
            rows += stream_rows([s])
    rows += stream_rows(st)
    assert rows == want
    # at least the 3 taken: the consumer may take more before worker 0's stop is told
    assert st.stats["fallback"]["reason"] == "error" and 3 <= st.stats["fallback"]["after"] < len(want)


def test_a_second_thread_reading_during_the_fallback_is_refused(closing):
    """While one thread waits for the workers to stop (the lock released), another reading
    the same Streams gets a RuntimeError instead of running the fallback a second time."""
    want = single_rows(closing)
    release = threading.Event()

    def progress0(pos: int, total: int) -> None:
        raise RuntimeError("worker 0 fails")

    def progress1(pos: int, total: int) -> None:
        release.wait(60)

    shards = live_shards(closing, progress0, progress1)
    threads = [threading.Thread(target=s._live, daemon=True) for s in shards]
    fallbacks = []

    def fallback(k: int):
        fallbacks.append(k)
        for t in threads:
            t.join()
        return fp.streams(closing, workers=1)

    st = fp.Streams._merge_live(shards, fallback)
    del shards
    for t in threads:
        t.start()
    threads[0].join()  # worker 0 stopped: a reader falls back, then waits for worker 1
    results: list = [None, None]

    def read(i: int) -> None:
        try:
            results[i] = stream_rows([next(st)])
        except RuntimeError as e:
            results[i] = e

    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for r in readers:
        r.start()
    # the one that came second is refused at once; the first waits for worker 1
    assert wait_for(lambda: any(isinstance(r, RuntimeError) for r in results))
    release.set()
    for r in readers:
        r.join(60)
    refused = [r for r in results if isinstance(r, RuntimeError)]
    got = [r for r in results if isinstance(r, list)]
    assert len(refused) == 1 and "another thread" in str(refused[0]) and got == [want[:1]]
    assert fallbacks == [0]
    assert stream_rows(st) == want[1:]


def test_a_fallback_that_raises_is_tried_again(closing):
    def progress0(pos: int, total: int) -> None:
        raise RuntimeError("worker 0 fails")

    shards = live_shards(closing, progress0)
    threads = [threading.Thread(target=s._live, daemon=True) for s in shards]
    calls = []

    def fallback(k: int):
        for t in threads:
            t.join()
        calls.append(k)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl+C while it joins the workers
        if len(calls) == 2:
            return None
        return fp.streams(closing, workers=1)

    st = fp.Streams._merge_live(shards, fallback)
    del shards
    for t in threads:
        t.start()
    with pytest.raises(KeyboardInterrupt):
        next(st)
    with pytest.raises(TypeError, match="not an iterator"):
        next(st)
    assert stream_rows(st) == single_rows(closing)
    assert calls == [0, 0, 0]
