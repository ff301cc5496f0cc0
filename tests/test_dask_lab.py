"""fastpkt.dask on a real multi-machine Dask cluster, built on this machine: a `dask scheduler`
and three `dask worker` processes, each a "machine" of its own: its own network namespace (a
veth to a bridge, 10.17.7.0/24: the cluster's traffic never leaves the namespaces) and its own
mount namespace with a private tmpfs on its temporary directory (TMPDIR, one path mounted
over in each), so no two share one. The capture and an optional spill directory are in the
test's directory, which every machine sees (a shared filesystem). The client runs on the
scheduler's machine. Against one engine (workers=1, which the other tests hold to tshark and
Zeek), over rotated gen_pcap files in the two stages:

- the spill root every worker has is its own temporary directory: asked at run time, a worker says it does
  not see the run's directory, the entries travel in memory, same rows, no directory left;
- spill_dir on the shared mount: the shards are fed spill files there, same rows, none left;
- the worker that made the run's spill directory killed (SIGKILL, no nanny) as it starts its
  next task: Dask recomputes on the others, same rows, no hang; the directory its death left
  behind is removed when the run's directory is made again, or by the next run.

Then the same files over http:// from a server on the scheduler's machine (tests/_httpfiles.py,
bound to the lab's address), read by the workers in 64 KiB range requests: the same rows as
the local files and one engine. A file whose server resets the connection half-way fails the
compute with RemoteReadError naming the URL and offset; a corrupt capture (local, and over
HTTP) with one engine's FormatError, offset and packet index: exceptions that crossed from a
worker process to the client by pickle, received, not waited for (each compute has a timeout).

Root only (namespaces, mounts); skips cleanly without it or without dask.distributed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _netns import Netns, NetnsError, requirements, run, wait_until

pd = pytest.importorskip("pandas")
pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")
from test_dask import dealt_in_three, engine_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NET = "10.17.7."
SCHEDULER = NET + "1"
WORKERS = {"w1": NET + "11", "w2": NET + "12", "w3": NET + "13"}
PORT = 8786
WEB_PORT = 8780
# every machine (a mount namespace of its own, private): its own tmpfs on the one path every
# machine takes as its temporary directory ($TMPDIR). Not over /tmp itself, which may hold the
# checkout and its virtualenv (a CI clone in /tmp)
MACHINE = 'mount -t tmpfs -o size=256m fpdasklab "$TMPDIR" && exec "$@"'

# a worker's preload: once $FPLAB_SHARED/arm exists, the worker that makes the run's spill
# directory dies (SIGKILL) as it starts its next task of the run, a stage 1 walk or a shard (its
# pid in $FPLAB_SHARED/killed: O_EXCL, once), as a machine lost between the stages would
PRELOAD = r'''
import os, signal
import fastpkt.dask as fpd

LAB = os.environ["FPLAB_SHARED"]


def owner_dies():
    if not os.path.exists(LAB + "/arm") or open(LAB + "/owner").read() != str(os.getpid()):
        return
    try:
        fd = os.open(LAB + "/killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(name, before=None, after=None):
    real = getattr(fpd, name)
    real = getattr(real, "lab_wrapped", real)  # distributed may run a preload twice

    def task(*args, **kwargs):
        if before:
            before()
        out = real(*args, **kwargs)
        if after:
            after(out)
        return out

    task.lab_wrapped = real
    setattr(fpd, name, task)


def opened(run):
    if run is not None and os.path.exists(LAB + "/arm"):
        with open(LAB + "/owner.tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(LAB + "/owner.tmp", LAB + "/owner")


wrap("_spill_open", after=opened)
wrap("_walk_spill", before=owner_dies)
wrap("_shard", before=owner_dies)
'''

CLIENT = r'''
import json, os, sys, tempfile, threading, time
import fastpkt.dask as fpd
from fastpkt import parallel
from distributed import Client

addr, web, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
LAB = os.environ["FPLAB_SHARED"]
parallel.RANGE_BYTES = 256 << 10  # several ranges a file (cut here, on the client)
fpd.TWO_STAGE_MIN_SHARDS = 2      # the two stages from 2 shards
spill = LAB + "/spill"
out = {}
c = Client(addr, timeout="60s")
c.wait_for_workers(3, timeout=120)
out["workers"] = len(c.scheduler_info()["workers"])


def spill_runs():
    return sorted(os.listdir(spill))


def fed_files():
    """Spill files seen in the shared root while a run goes (polled)."""
    seen, stop = set(), threading.Event()

    def poll():
        while not stop.is_set():
            for run in spill_runs():
                try:
                    seen.update(run + "/" + f for f in os.listdir(os.path.join(spill, run)))
                except OSError:
                    pass
            time.sleep(0.005)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    return seen, lambda: (stop.set(), t.join())


def compute(name, urls=None, **kw):
    df = fpd.flows(urls or paths, **kw)
    try:
        got = c.compute(df).result(timeout=150)
    except Exception as e:
        out[name] = "%s: %s" % (type(e).__name__, e)
        return
    got.to_pickle(LAB + "/%s.pkl" % name)
    out[name] = len(got)

# 1. the default spill root is each worker's own temporary directory: seen by no other
out["own_tmp_open"] = c.submit(fpd._spill_open, None, pure=False).result()
compute("own_tmp", npartitions=3)
out["own_tmp_left"] = c.run(lambda: sorted(n for n in os.listdir(tempfile.gettempdir()) if n.startswith(fpd.SPILL_PREFIX)))

# 2. a spill root on the shared mount: every worker sees it
os.mkdir(spill)
seen, done = fed_files()
compute("shared", npartitions=3, spill_dir=spill)
done()
out["shared_fed"] = sorted(seen)
out["shared_left"] = spill_runs()

# 3. the worker that made the run's directory killed as it starts its next task
open(LAB + "/owner", "w").close()
open(LAB + "/arm", "w").close()
compute("killed", npartitions=3, spill_dir=spill)
os.unlink(LAB + "/arm")
out["killed_pid"] = open(LAB + "/killed").read() if os.path.exists(LAB + "/killed") else None
out["workers_after_kill"] = len(c.scheduler_info()["workers"])
out["killed_left"] = spill_runs()

# 4. the next run removes what the killed worker's run left
compute("next", npartitions=2, spill_dir=spill)
out["next_left"] = spill_runs()

# 5. the files over http:// from the lab's server, in 64 KiB range requests
blocks = {"block_size": 64 << 10}
names = [os.path.basename(p) for p in paths]
compute("http", npartitions=3, urls=[web + "/files/" + n for n in names], storage_options=blocks)
c.compute(fpd.read_packets(web + "/files/" + names[0], storage_options=blocks)).result(timeout=150) \
    .to_pickle(LAB + "/http_packets.pkl")


def failure(name, ddf):
    """The exception a compute raised on the client: type, text, attributes (a hang: TimeoutError)."""
    try:
        c.compute(ddf).result(timeout=150)
        out[name] = None
    except Exception as e:
        out[name] = {"type": "%s.%s" % (type(e).__module__, type(e).__qualname__), "text": str(e),
                     "attrs": {k: v for k, v in vars(e).items() if isinstance(v, (int, str))}}


# 6. a server resetting the connection half-way through a file; a corrupt capture
lost = "%s/drop/%d/%s" % (web, os.path.getsize(paths[1]) // 2, names[1])
failure("http_lost", fpd.flows([web + "/files/" + names[0], lost], npartitions=3, storage_options=blocks))
failure("corrupt", fpd.flows(paths + [LAB + "/bad.pcap"], npartitions=3))
failure("http_corrupt", fpd.read_packets(web + "/files/bad.pcap", storage_options=blocks))
c.close()
print(json.dumps(out))
'''


class DaskLab:
    """A bridge namespace and one namespace per machine (scheduler, w1..w3), each with a veth
    on the bridge; processes started in a machine get a private temporary directory (``start``)."""

    def __init__(self, shared: Path, own_tmp: Path):
        self.tag = "%d" % (os.getpid() % 100000)
        self.shared = shared
        self.own_tmp = own_tmp
        self.spaces: dict[str, Netns] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    def _must(self, name: str, cmd) -> None:
        r = self.spaces[name].exec(cmd)
        if r.returncode != 0:
            raise NetnsError("%s in %s: %s" % (" ".join(cmd), name, r.stderr.strip()))

    def __enter__(self) -> "DaskLab":
        try:
            for name in ("sw", "sched", *WORKERS):
                ns = Netns("fpdask%s%s" % (name, self.tag))
                ns.name = "fpdask%s%s" % (name, self.tag)
                ns.__enter__()
                self.spaces[name] = ns
            self._must("sw", ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"])
            self._must("sw", ["ip", "link", "set", "br0", "up"])
            for i, (name, addr) in enumerate((("sched", SCHEDULER), *WORKERS.items())):
                a, b = "fpd%s%da" % (self.tag, i), "fpd%s%db" % (self.tag, i)
                r = run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
                if r.returncode != 0:
                    raise NetnsError("cannot create a veth pair: %s" % r.stderr.strip())
                for dev, ns in ((a, name), (b, "sw")):
                    r = run(["ip", "link", "set", dev, "netns", self.spaces[ns].name])
                    if r.returncode != 0:
                        raise NetnsError("cannot move %s: %s" % (dev, r.stderr.strip()))
                self._must(name, ["ip", "link", "set", a, "name", "eth0"])
                self._must(name, ["ip", "addr", "add", addr + "/24", "dev", "eth0"])
                self._must(name, ["ip", "link", "set", "eth0", "up"])
                self._must("sw", ["ip", "link", "set", b, "master", "br0"])
                self._must("sw", ["ip", "link", "set", b, "up"])
        except BaseException:
            self.__exit__()
            raise
        return self

    def start(self, name: str, key: str, cmd: list[str], **kw) -> subprocess.Popen:
        """cmd on machine `name`: its namespace, a private temporary directory, the shared one."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FPLAB_SHARED": str(self.shared),
               "TMPDIR": str(self.own_tmp)}
        env.pop("DASK_TEMPORARY_DIRECTORY", None)
        p = subprocess.Popen(self.spaces[name].prefix + ["unshare", "--mount", "--propagation", "private",
                                                         "sh", "-c", MACHINE, "sh", *cmd], env=env, **kw)
        self.procs[key] = p
        return p

    def __exit__(self, *exc) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        self.procs = {}
        for ns in reversed(list(self.spaces.values())):
            ns.__exit__()
        self.spaces = {}


def test_flows_on_a_cluster_of_machines(tmp_path):
    why = requirements(tools=("ip", "unshare", "mount"))
    if why:
        pytest.skip(why)
    shared = tmp_path / "lab"
    shared.mkdir()
    (tmp_path / "own").mkdir()
    pytest.importorskip("aiohttp", reason="fsspec's http:// needs aiohttp (pip install -e '.[test]')")
    from test_frames_ranges import cut_file

    paths = dealt_in_three(shared, 6000, 41)
    want = engine_rows("flows", "flow_id", fp.flows(paths, workers=1).to_pandas())
    bad = str(cut_file(shared))
    with pytest.raises(fp.FormatError) as corrupt:
        fp.flows(paths + [bad], workers=1).to_pandas()
    with pytest.raises(fp.FormatError) as corrupt_packets:
        fp.read(bad)
    (shared / "preload.py").write_text(PRELOAD)
    py = sys.executable
    logs = {}
    try:
        with DaskLab(shared, tmp_path / "own") as lab:
            for key in ("sched", *WORKERS):
                logs[key] = open(tmp_path / (key + ".log"), "w")
            lab.start("sched", "sched", [py, "-m", "distributed.cli.dask_scheduler", "--host", SCHEDULER,
                                         "--port", str(PORT), "--no-dashboard"],
                      stdout=logs["sched"], stderr=subprocess.STDOUT)
            addr = "tcp://%s:%d" % (SCHEDULER, PORT)
            server = lab.start("sched", "web", [py, str(ROOT / "tests" / "_httpfiles.py"), str(shared), SCHEDULER,
                                                str(WEB_PORT)], stdout=subprocess.PIPE, stderr=logs["sched"], text=True)
            assert server.stdout is not None and server.stdout.readline() == "ready\n", "the HTTP server did not start"
            web = "http://%s:%d" % (SCHEDULER, WEB_PORT)
            for name, ip in WORKERS.items():
                lab.start(name, name, [py, "-m", "distributed.cli.dask_worker", addr, "--host", ip, "--name", name,
                                       "--nthreads", "1", "--no-nanny", "--no-dashboard", "--memory-limit", "0",
                                       "--preload", str(shared / "preload.py")],
                          stdout=logs[name], stderr=subprocess.STDOUT)
            client = lab.start("sched", "client", [py, "-c", CLIENT, addr, web,
                                                   *map(str, paths)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                stdout, stderr = client.communicate(timeout=400)
            except subprocess.TimeoutExpired:
                client.kill()
                stdout, stderr = client.communicate()
                pytest.fail("the client did not finish: a run hung\n" + stderr[-3000:])
            assert client.returncode == 0, stderr[-3000:]
            killed_alive = lab.procs["w1"].poll(), lab.procs["w2"].poll(), lab.procs["w3"].poll()
    finally:
        for f in logs.values():
            f.close()
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["workers"] == 3
    # 1: each machine's temporary directory is its own: the run's directory is refused, entries in memory
    assert out["own_tmp_open"] is None, out
    assert len(out["own_tmp_left"]) == 3 and all(v == [] for v in out["own_tmp_left"].values()), out
    # 2: spilled on the shared mount, the run's directory gone after
    assert any(f.endswith(".entries") for f in out["shared_fed"]), out
    assert out["shared_left"] == [], out
    # 3: the worker that made the run's directory died (SIGKILL) at its next task; the others
    # gave the same rows; its directory was removed when Dask made the run's again (unless a
    # shard still read it: then only it is left) ...
    assert out["killed_pid"] and out["workers_after_kill"] == 2, out
    assert sorted(rc for rc in killed_alive if rc is not None) == [-9], killed_alive
    assert all(n.startswith("fastpkt-spill-%s-" % out["killed_pid"]) for n in out["killed_left"]), out
    # 4: ... and by the next run at the latest
    assert out["next_left"] == [], out
    for name in ("own_tmp", "shared", "killed", "next", "http"):
        assert isinstance(out[name], int), (name, out[name])
        got = engine_rows("flows", "flow_id", pd.read_pickle(shared / (name + ".pkl")))
        assert got.equals(want), name
    # 5: over HTTP, the local file's packets too
    want_packets = fp.read(paths[0]).to_pandas()
    got_packets = pd.read_pickle(shared / "http_packets.pkl")
    assert got_packets.astype(str).equals(want_packets.astype(str))
    # 6: the errors reached the client as raised on the workers: type, text, attributes
    lost = out["http_lost"]
    cut = os.path.getsize(paths[1]) // 2
    assert lost["type"] == "fastpkt.dask.RemoteReadError", lost
    assert lost["attrs"]["path"] == "%s/drop/%d/%s" % (web, cut, Path(paths[1]).name), lost
    assert 0 < lost["attrs"]["offset"] <= cut and "offset %d" % lost["attrs"]["offset"] in lost["text"], lost
    for name, one in (("corrupt", corrupt.value), ("http_corrupt", corrupt_packets.value)):
        assert out[name] == {"type": "fastpkt.FormatError", "text": str(one),
                             "attrs": {"offset": one.offset, "packet_index": one.packet_index}}, (name, out[name])
