"""fastpkt.dask's engines in two stages with stage 1's entries spilled to files: on a
dask.distributed LocalCluster the rows are one engine's (workers=1, which the other tests hold
to tshark and Zeek) on every corpus capture and on gen_pcap captures in small ranges; the
spill files exist while the shards run and are gone after, also after a task failed; a worker
that does not see the spill directory turns the run back to entries in memory; and a shard
fed entries far past the old quarter of max_memory holds a window of them, not all."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastpkt as fp

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import fastpkt.dask as fpd  # noqa: E402
from test_dask import (ENGINES, _generated, corpus_readable, dealt_in_three, engine_rows, ranged,  # noqa: E402
                       same_as_one_engine)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def spill(tmp_path):
    """The spill root of this test (Dask's temporary-directory, the default one), empty after it."""
    d = tmp_path / "spill"
    d.mkdir()
    with dask.config.set({"temporary-directory": str(d)}):
        yield d
    assert list(d.iterdir()) == []


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """A gen_pcap capture (TLS, HTTP, DNS, UDP) dealt round robin into three files."""
    return dealt_in_three(tmp_path_factory.mktemp("spill_gen"), 9000, 41)


def watch_feeds(monkeypatch) -> list:
    """Record, per shard fed, its pieces and the spill directories there while it runs."""
    seen: list = []
    real = fpd._fed

    def fed(eng, files):
        runs = [p for p in Path(fpd._spill_root(None)).iterdir() if p.name.startswith(fpd.SPILL_PREFIX)]
        seen.append(([piece for f in files for piece in f], {r: sorted(os.listdir(r)) for r in runs}))
        real(eng, files)

    monkeypatch.setattr(fpd, "_fed", fed)
    return seen


def test_spilled_on_cluster_are_one_engine(client, rotated, spill, monkeypatch):
    """Rotated files in 64 KiB ranges, 2 and 3 shards: every shard is fed spill files only (the
    files in one run directory in the spill root while it runs), the rows are one engine's for
    flows, ClientHellos, HTTP and DNS, and nothing is left in the root after."""
    ranged(monkeypatch, 64 << 10)
    seen = watch_feeds(monkeypatch)
    same_as_one_engine(rotated, kinds=ENGINES, scheduler=None)
    assert len(seen) == 4 * (2 + 3)
    for pieces, runs in seen:
        assert pieces and all(isinstance(p, str) for p in pieces)
        (run, files), = runs.items()
        assert {os.path.basename(p) for p in pieces} <= set(files) and Path(pieces[0]).parent == run
    ranges = sum(len(fpd._ranges(p)) - 1 for p in rotated)
    assert len(seen[0][0]) == ranges


def test_every_corpus_capture_spilled_on_cluster(client, spill, monkeypatch):
    """Every readable corpus capture and fixture in about 20 ranges, 2 shards on the cluster,
    spilled: flows and ClientHellos are one engine's."""
    for path in corpus_readable():
        ranged(monkeypatch, max(256, path.stat().st_size // 20))
        same_as_one_engine([str(path)], partitions=(2,), kinds=ENGINES[:2], scheduler=None)


def test_in_memory_when_asked_or_no_directory(client, rotated, spill, tmp_path, monkeypatch):
    """spill_dir=False, or a spill directory that cannot be made: the entries stay in memory
    (today's feed), the same rows; a spill_dir given is where the run's directory goes."""
    ranged(monkeypatch, 64 << 10)
    seen = watch_feeds(monkeypatch)
    want = engine_rows("flows", "flow_id", fp.flows(rotated, workers=1).to_pandas())
    for where in (False, tmp_path / "missing" / "dir"):
        got = fpd.flows(rotated, npartitions=2, spill_dir=where).compute()
        assert engine_rows("flows", "flow_id", got).equals(want)
    assert len(seen) == 4 and all(isinstance(p, np.ndarray) for pieces, _ in seen for p in pieces)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's file")
    seen.clear()
    got = fpd.flows(rotated, npartitions=2, spill_dir=mine).compute()
    assert engine_rows("flows", "flow_id", got).equals(want)
    assert all(Path(p).parent.parent == mine for pieces, _ in seen for p in pieces)
    assert sorted(os.listdir(mine)) == ["notes.txt"] and (mine / "notes.txt").read_text() == "a user's file"


def test_a_worker_not_seeing_the_directory(client, rotated, spill, monkeypatch):
    """One worker of the cluster does not see the run's directory (asked with Client.run): the
    run keeps its entries in memory, removes the directory, and gives one engine's rows."""
    ranged(monkeypatch, 64 << 10)
    seen = watch_feeds(monkeypatch)
    first = sorted(client.scheduler_info()["workers"])[0]

    def sees(run, dask_worker=None):
        return dask_worker.address != first and os.path.isdir(run)

    monkeypatch.setattr(fpd, "_sees", sees)
    want = engine_rows("flows", "flow_id", fp.flows(rotated, workers=1).to_pandas())
    got = fpd.flows(rotated, npartitions=2).compute()
    assert engine_rows("flows", "flow_id", got).equals(want)
    assert len(seen) == 2 and all(isinstance(p, np.ndarray) for pieces, _ in seen for p in pieces)


def test_spill_directory_removed_under_a_shard_names_the_cause(client, rotated, spill, monkeypatch):
    """The run's spill files removed while a shard reads them (another task failed and
    cleaned up, or the run was cancelled): the shard's error says so, not just the missing
    file, since Dask may report it before the error that caused it."""
    ranged(monkeypatch, 64 << 10)
    real = fpd._fed

    def fed(eng, files):
        real(eng, files)
        for piece in (p for f in files for p in f if isinstance(p, str)):
            shutil.rmtree(os.path.dirname(piece), ignore_errors=True)

    monkeypatch.setattr(fpd, "_fed", fed)
    with pytest.raises(fp.Error, match="another task of this run failed first"):
        fpd.flows(rotated, npartitions=2).compute()


def test_spill_files_removed_when_a_task_fails(client, rotated, spill, monkeypatch):
    """A shard failing after it was fed, and a stage 1 task failing: the error reaches the
    caller and the run's directory is gone (the spill fixture checks the root is empty)."""
    ranged(monkeypatch, 64 << 10)
    seen = watch_feeds(monkeypatch)

    def frame(kind, eng):
        raise RuntimeError("shard failed")

    with monkeypatch.context() as m:
        m.setattr(fpd, "_frame", frame)
        # the failing shard removes the run's files; the other shard, if still reading them,
        # fails too, naming the cause, and Dask reports whichever error reaches it first
        with pytest.raises((RuntimeError, fp.Error), match="shard failed|another task of this run failed first"):
            fpd.flows(rotated, npartitions=2).compute()
    assert seen and all(isinstance(p, str) for p in seen[0][0])
    real = fpd._walk

    def walk(path, start, *args):
        if start > 0:
            raise RuntimeError("walk failed")
        return real(path, start, *args)

    with monkeypatch.context() as m:
        m.setattr(fpd, "_walk", walk)
        with pytest.raises(RuntimeError, match="walk failed"):
            fpd.flows(rotated, npartitions=2).compute()
    idle(client)


def idle(client) -> None:
    """Wait for the tasks still running after a compute raised (they may write spill files)."""
    import time

    for _ in range(600):
        if not any(client.processing().values()):
            return
        time.sleep(0.1)


def test_spill_file_missing_or_cut_under_a_shard(tmp_path):
    """A spill file removed before a shard reaches it, or cut inside an entry: an error naming
    the file, never a crash or a wrong row. Entries whole in a file, in memory or in pieces
    feed the same rows."""
    _generated(tmp_path, 3000, 43)
    path = str(tmp_path / "g.pcap")
    b = fpd._ranges(path)
    entries = np.concatenate([fpd._walk(path, b[k], b[k + 1], 2, {})[0] for k in range(len(b) - 1)])
    spill = tmp_path / "e.entries"
    for cut, err in ((None, "No such file"), (33, "whole 32-byte entries")):
        if cut is None:
            spill.unlink(missing_ok=True)
        else:
            spill.write_bytes(entries.tobytes()[:cut])
        fl = fp.Flows([fp.Reader(path)], _shard=(0, 2))
        fl._feed(((str(spill),),))
        with pytest.raises(OSError if cut is None else fp.Error, match="spill file .*e.entries.*" + err):
            fl.to_pandas()
    spill.write_bytes(entries.tobytes())  # whole: the rows of the entries in memory
    rest = tmp_path / "rest.entries"
    rest.write_bytes(entries[100:].tobytes())
    rows = []
    for piece in ((str(spill),), (entries,), (entries[:100], str(rest))):
        fl = fp.Flows([fp.Reader(path)], _shard=(0, 2))
        fl._feed((piece,))
        rows.append(fl.to_pandas())
    assert rows[0].equals(rows[1]) and rows[0].equals(rows[2]) and len(rows[0])


def tiny_pcap(path: Path, n: int) -> None:
    """n 60-byte Ethernet/IPv4/UDP frames 1 ms apart from 200 sources and 64 ports to one DNS
    server: 76 bytes a record, so its 32-byte entries are 42% of the file."""
    rec = np.dtype([("sec", "<u4"), ("usec", "<u4"), ("incl", "<u4"), ("orig", "<u4"), ("frame", "u1", 60)])
    a = np.zeros(n, dtype=rec)
    t = np.arange(n, dtype=np.uint64) * 1000
    a["sec"], a["usec"] = 1_700_000_000 + t // 1_000_000, t % 1_000_000
    a["incl"] = a["orig"] = 60
    head = bytes.fromhex("020000000002" "020000000001" "0800" "4500002e00004000401100000a0000010a000002")
    a["frame"] = np.frombuffer(head + struct.pack(">HHHH", 0, 53, 26, 0) + bytes(18), dtype=np.uint8)
    a["frame"][:, 34:36] = (1024 + np.arange(n) % 64).astype(">u2").view(np.uint8).reshape(n, 2)
    a["frame"][:, 29] = 1 + np.arange(n) % 200
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        a.tofile(f)


_STAGE_ONE = r"""
import pickle, sys
import fastpkt.dask as fpd
path, run, out = sys.argv[1], sys.argv[2] or None, sys.argv[3]
b = fpd._ranges(path)
parts = [fpd._walk_spill(run, path, b[k], b[k + 1], 2, {"max_memory": 16 << 20}) for k in range(len(b) - 1)]
pickle.dump((b, parts), open(out, "wb"))
"""

# a shard task as a worker runs it: its dependencies (stage 1's results) arrive, then it runs
_SHARD = r"""
import json, pickle, sys
import numpy as np, pandas, distributed
import fastpkt.dask as fpd
def kb(name):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(name + ":"))
path, deps, lift = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if lift:
    fpd._feed_bound = lambda options: 1 << 40
fed = []
real = fpd._fed
fpd._fed = lambda eng, files: (fed.append(1), real(eng, files))[1]
base = kb("VmRSS")
b, parts = pickle.load(open(deps, "rb"))
df = fpd._shard("flows", [path], 0, 2, None, {"max_memory": 16 << 20}, [(path, b, parts)])[0]
print(json.dumps({"fed": bool(fed), "rows": len(df), "growth": (kb("VmHWM") - base) * 1024}))
"""


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="RSS is not a memory measure under ASan (quarantine, shadow), and the child runs without its LD_PRELOAD")
def test_entries_past_the_old_bound_fed_in_bounded_memory(tmp_path):
    """2M records of 76 bytes (152 MB): 64 MB of entries, 16x the quarter of max_memory=16 MiB
    past which the shards read the whole file before. Spilled, the shard is fed and its RSS
    grows by less than 24 MiB: a 1 MiB window of entries, capture pages given back every
    8 MiB, its flows; with the entries in memory (the bound lifted) it grows by all 64 MB.
    The same rows either way."""
    path = tmp_path / "tiny.pcap"
    tiny_pcap(path, 2_000_000)
    run = fpd._spill_open(str(tmp_path))
    assert run is not None
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = {}
    for name, r, lift in (("spilled", run, "0"), ("memory", "", "1")):
        deps = tmp_path / (name + ".pkl")
        subprocess.run([sys.executable, "-c", _STAGE_ONE, str(path), r, str(deps)], check=True, env=env, cwd=ROOT,
                       timeout=600)
        res = subprocess.run([sys.executable, "-c", _SHARD, str(path), str(deps), lift], check=True, env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
        out[name] = json.loads(res.stdout)
    fpd._spill_close(run)
    entries = 2_000_000 * 32
    assert entries > (16 << 20) // fpd.FEED_MEMORY_SHARE * 8
    assert out["spilled"]["fed"] and out["memory"]["fed"], out
    assert out["spilled"]["growth"] < 24 << 20, out
    assert out["memory"]["growth"] > entries, out
    assert out["spilled"]["rows"] == out["memory"]["rows"] > 0


def test_a_run_cancelled_between_the_stages_leaves_nothing(client, rotated, spill, monkeypatch):
    """The client cancels the compute while the shards wait between the stages (stage 1's spill
    files written): the run's directory goes when Dask drops the run (the object _spill_open
    returned owns it), not only when the graph finishes or a task fails."""
    import threading

    ranged(monkeypatch, 64 << 10)
    go, waiting = threading.Event(), threading.Event()
    real = fpd._fed

    def fed(eng, files):
        waiting.set()
        go.wait(60)
        real(eng, files)

    monkeypatch.setattr(fpd, "_fed", fed)
    future = client.compute(fpd.flows(rotated, npartitions=2))
    assert waiting.wait(120)
    (run,) = list(spill.iterdir())
    assert any(n.endswith(".entries") for n in os.listdir(run))
    future.cancel()
    del future
    go.set()
    idle(client)
    assert wait_for(lambda: not run.exists()), os.listdir(run)


def wait_for(cond, seconds: float = 60.0) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end and not cond():
        time.sleep(0.05)
    return cond()


def test_runs_left_behind_are_removed_by_the_next(client, rotated, spill, tmp_path, monkeypatch):
    """Run directories no run will remove (their maker was killed, or the client exited between
    the stages) go at the next run under the same root: this host's whose process is gone, and
    another host's untouched for SPILL_STALE_SECONDS. Kept: a live process's, another host's
    recent one, one a shard still reads (its lock), and a user's files, even named alike."""
    import fcntl
    import socket

    ranged(monkeypatch, 64 << 10)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = fpd._host()
    other = "not-" + socket.gethostname()
    made = {}
    for key, name in (("dead", "%s-%s-abcd1234" % (gone, host)), ("live", "%d-%s-abcd1234" % (os.getpid(), host)),
                      ("far_old", "1-%s-abcd1234" % other), ("far_new", "2-%s-abcd1234" % other),
                      ("read", "%s-%s-efgh5678" % (gone, host))):
        d = spill / (fpd.SPILL_PREFIX + name)
        d.mkdir()
        (d / "x.entries").write_bytes(bytes(32))
        made[key] = d
    old = os.stat(made["far_old"]).st_mtime - fpd.SPILL_STALE_SECONDS - 60
    os.utime(made["far_old"], (old, old))
    user = spill / (fpd.SPILL_PREFIX + "notes.txt")
    user.write_text("a user's file")
    lock = os.open(made["read"], os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_SH)
    try:
        want = engine_rows("flows", "flow_id", fp.flows(rotated, workers=1).to_pandas())
        got = fpd.flows(rotated, npartitions=2).compute()
        assert engine_rows("flows", "flow_id", got).equals(want)
    finally:
        os.close(lock)
    left = {p.name for p in spill.iterdir()}
    assert left == {made[k].name for k in ("live", "far_new", "read")} | {user.name}, left
    assert user.read_text() == "a user's file"
    for p in spill.iterdir():  # the spill fixture wants the root empty
        shutil.rmtree(p) if p.is_dir() else p.unlink()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="no /proc: a zombie cannot be told")
def test_a_killed_workers_run_is_stale_before_it_is_reaped(tmp_path):
    """A worker killed while its parent has not reaped it yet (a zombie: `os.kill(pid, 0)`
    still succeeds) made a run directory: it is gone, so the next run removes it (the Dask lab
    test's killed worker, a child of the test, was such a zombie when the next run looked)."""
    import signal
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = tmp_path / (fpd.SPILL_PREFIX + "%d-%s-abcd1234" % (child.pid, fpd._host()))
        run.mkdir()
        assert fpd._remove_stale(str(tmp_path)) == []        # alive: kept
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while open("/proc/%d/stat" % child.pid, "rb").read().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert fpd._remove_stale(str(tmp_path)) == [str(run)]  # a zombie, not reaped: removed
        assert not run.exists()
    finally:
        child.kill()
        child.wait()


def test_a_dropped_run_waits_for_the_shards_reading_it(tmp_path):
    """The run's owner dropped while a shard reads its spill files (as when a worker spills the
    run's key to disk under memory pressure): the directory stays until the shard is done
    reading (its lock), then goes; a shard never has its files removed under it this way."""
    import gc
    import time

    run = fpd._spill_open(str(tmp_path))
    assert run is not None
    path = str(run)
    Path(path, "x.entries").write_bytes(bytes(32))
    with fpd._reading(path):
        del run
        gc.collect()
        time.sleep(0.5)
        assert os.listdir(path) == ["x.entries"]
    assert wait_for(lambda: not os.path.exists(path))
