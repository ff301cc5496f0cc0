#!/usr/bin/env python3
"""Scaling benchmark: fp.flows (and client_hellos) with workers = 1, 2, ... on the same file,
next to the plain-C flow floor and NFStream with n_meters = N, in one run.

    python benchmarks/bench_scale.py [--pcap FILE | --packets N] [--repeats 3] [--max-workers N]
    python benchmarks/bench_scale.py --files DIR [--workers 2]

--files: the rotated-files run instead (issue 17's 20 GB): fp.flows over every *.pcap and
*.pcapng in DIR (merged in time order) with workers=N, once (a large input is not repeated):
seconds, packets/s, GB/s, CPU, the process's peak RSS and each worker's engine peak.

Every row runs in its own process (peak RSS = that process's ru_maxrss, os.wait4).
Rows:
  flows wN           len(fp.flows(path, workers=N)): the engines alone (records kept)
  flows wN pandas    fp.flows(path, workers=N).to_pandas()
  hellos wN          len(list(fp.client_hellos(path, workers=N)))
  streams wN         the Streams of fp.streams(path, workers=N), iterated (bytes kept per Stream)
  frames wN          every DataFrame of fp.read_frames(path, workers=N): packets by record-aligned
                     byte ranges, each read and converted once (no flow state)
  flows pieces wN    the file cut into N record-aligned pieces (pcap), len(fp.flows(piece,
                     workers=1)) in N processes at once: what fully independent work gives on
                     this machine (seconds: the slowest piece; CPU: their sum), the reference
                     for "flows wN"
  flows ranges wN    the file cut into N record-aligned byte ranges, len(fp.flows(reader over
                     range i, workers=1)) on N threads of one process, not stitched: its flow
                     count exceeds w1's by the flows that span a boundary. The bound of
                     range partitioning in one process (docs/DESIGN.md, "Range partitioning")
  dask wN pandas     fastpkt.dask.flows([path], npartitions=N).compute() on a LocalCluster of N
                     threads (compare with "flows wN pandas": the Dask overhead)
  dask2 wN memory    the same in two stages (TWO_STAGE_MIN_SHARDS lowered to N) with stage 1's
                     entries in memory (spill_dir=False: the shards hold every range's entries)
  dask2 wN spill     ... with the entries spilled to files the shards read through a window
                     (the default); peak RSS is the cluster process's, every shard's included
                     (dask rows: from the cluster's start, not the packet count before it)
  c_floor            plain C: mmap + open-addressing 5-tuple table (peers/c_floor.c flows mmap)
  nfstream mN        NFStreamer(path, n_meters=N).to_pandas(), when nfstream imports
Printed per row: seconds (median), packets/s, GB/s, speedup and scaling efficiency against
one worker (speedup / N), process CPU seconds, their ratio to one worker's ("cpu xw1": the
work N workers add; issue 17's goal is at most 1.25 for 2), CPU seconds per worker, the CPU bound on
speedup (one worker's CPU over each of N workers' share: what N idle cores would give) and
its efficiency (bound / N), minor page faults in thousands ("faults k": the workers of a file
share one mapping, so its pages fault in once), peak RSS, each worker's engine peak
(stats['worker_memory_peak_bytes']), and "skips" (stats['key_pass_skips']: the packets the
workers keyed from their first bytes and left to the shard that keeps them). The machine's
usable cores and load bound what the wall clock can show.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_flows import measured, run_measured  # noqa: E402
from bench_read import PEERS, bench_setup, build_c_floor, row_adder  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import pandas  # imported before the clock, like the peers
import fastpkt as fp
path, what, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
c0 = resource.getrusage(resource.RUSAGE_SELF)
if what == "frames":
    n = sum(len(df) for df in fp.read_frames(path, workers=workers))
    st = {"packets": n, "workers": workers, "memory_peak_bytes": 0}
elif what == "ranges":  # unstitched: each worker's flows of its range alone (see the docstring)
    import threading
    with fp.Reader(path) as r:
        bounds = r._split(workers)
    parts = [None] * (len(bounds) - 1)
    def part(i):
        r = fp.Reader(path)
        r._set_range(bounds[i], bounds[i + 1])
        parts[i] = fp.flows(r, workers=1, progress=False)
        len(parts[i])
    threads = [threading.Thread(target=part, args=(i,)) for i in range(1, len(parts))]
    for t in threads:
        t.start()
    part(0)
    for t in threads:
        t.join()
    n = sum(len(e) for e in parts)
    st = {"packets": sum(e.stats["packets"] for e in parts), "workers": len(parts),
          "worker_memory_peak_bytes": [e.stats["memory_peak_bytes"] for e in parts]}
elif what == "hellos":
    eng = fp.client_hellos(path, workers=workers, progress=False)
    n = len(list(eng))
elif what == "streams":
    eng = fp.streams(path, workers=workers, progress=False)
    n = sum(1 for _ in eng)
else:
    eng = fp.flows(path, workers=workers, progress=False)
    n = len(eng.to_pandas()) if what == "pandas" else len(eng)
dt = time.perf_counter() - t0
c1 = resource.getrusage(resource.RUSAGE_SELF)
st = eng.stats if what not in ("frames", "ranges") else st
print(json.dumps({"packets": int(st["packets"]), "seconds": dt, "records": n,
                  "cpu": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
                  "user": c1.ru_utime - c0.ru_utime, "faults": c1.ru_minflt - c0.ru_minflt,
                  "merged": "workers" in st, "skips": st.get("key_pass_skips", 0),
                  "worker_peaks": st.get("worker_memory_peak_bytes", [st.get("memory_peak_bytes", 0)]) if what != "frames" else []}))
"""

DASK = r"""
import json, resource, sys, time
import pandas
import fastpkt as fp, fastpkt.dask as fpd
from distributed import Client, LocalCluster
path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
packets = int(fp.open(path).count())
open("/proc/self/clear_refs", "w").write("5")  # the peak from here: the count mapped the whole file
kw = {}
if mode != "whole":  # two stages: entries in memory or spilled
    fpd.TWO_STAGE_MIN_SHARDS = n
    kw = {"spill_dir": False} if mode == "memory" else {}
with LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address=None) as cl, Client(cl):
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    df = fpd.flows([path], npartitions=n, **kw).compute()
    dt = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"packets": packets, "seconds": dt, "records": len(df), "run_rss_mb": hwm / 1024,
                  "cpu": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)}))
"""

FILES = r"""
import glob, json, os, resource, sys, time
import pandas
import fastpkt as fp
folder, workers = sys.argv[1], int(sys.argv[2])
paths = sorted(glob.glob(os.path.join(folder, "*.pcap")) + glob.glob(os.path.join(folder, "*.pcapng")))
t0 = time.perf_counter()
c0 = resource.getrusage(resource.RUSAGE_SELF)
eng = fp.flows(paths, workers=workers, progress=False)
n = len(eng)
dt = time.perf_counter() - t0
c1 = resource.getrusage(resource.RUSAGE_SELF)
st = eng.stats
print(json.dumps({"packets": int(st["packets"]), "seconds": dt, "records": n, "files": len(paths),
                  "bytes": sum(os.path.getsize(p) for p in paths), "merged": "workers" in st,
                  "cpu": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
                  "worker_peaks": st.get("worker_memory_peak_bytes", [st["memory_peak_bytes"]])}))
"""

NFSTREAM = r"""
import json, sys, time
import pandas
from nfstream import NFStreamer
path, meters = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
df = NFStreamer(source=path, n_meters=meters).to_pandas()
dt = time.perf_counter() - t0
print(json.dumps({"packets": int(df["bidirectional_packets"].sum()), "seconds": dt, "records": len(df)}))
"""


def pieces(py: str, path: str, n: int):
    """The "flows pieces wN" row: n record-aligned pieces of a pcap, one process each, at once."""
    import tempfile

    import fastpkt as fp

    def run() -> dict:
        with fp.Reader(path) as r:
            if r.format != "pcap":
                return {"error": "pieces need a pcap file"}
            bounds = r._split(n)
        with open(path, "rb") as f, tempfile.TemporaryDirectory() as d:
            header = f.read(24)
            names = []
            for i in range(len(bounds) - 1):
                f.seek(bounds[i])
                names.append(os.path.join(d, "piece%d.pcap" % i))
                with open(names[-1], "wb") as out:
                    out.write(header + f.read(bounds[i + 1] - bounds[i]))
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(names)) as ex:
                parts = list(ex.map(lambda p: run_measured([py, "-c", CHILD, p, "flows", "1"]), names))
        bad = [p for p in parts if "error" in p]
        if bad:
            return bad[0]
        return {"seconds": max(p["seconds"] for p in parts), "cpu": sum(p["cpu"] for p in parts),
                "faults": sum(p["faults"] for p in parts),
                "packets": sum(p["packets"] for p in parts), "records": sum(p["records"] for p in parts),
                "rss_mb": max(p["rss_mb"] for p in parts), "merged": True}
    return run


def rotated(folder: str, workers: int) -> int:
    """One fp.flows run over a folder of rotated captures (see --files)."""
    r = measured([sys.executable, "-c", FILES, folder, str(workers)])()
    if "error" in r:
        print("error: %s" % r["error"][:300])
        return 1
    print("%d files, %.2f GB, %d packets, %d flows, workers=%d%s" % (
        r["files"], r["bytes"] / 1e9, r["packets"], r["records"], workers,
        "" if r["merged"] or workers == 1 else " (fell back to one engine)"))
    print("%.1f s, %s packets/s, %.3f GB/s, %.1f s CPU, peak RSS %.0f MB, worker engine peaks %s MB" % (
        r["seconds"], "{:,.0f}".format(r["packets"] / r["seconds"]), r["bytes"] / r["seconds"] / 1e9,
        r["cpu"], r.get("rss_mb", 0), " ".join("%.0f" % (p / 1e6) for p in r["worker_peaks"])))
    return 0


def main() -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--files")
    pre.add_argument("--workers", type=int, default=2)
    known, rest = pre.parse_known_args()
    if known.files:
        return rotated(known.files, known.workers)
    sys.argv[1:] = rest
    a, path, skip = bench_setup(__doc__, repeats=3)
    py = sys.executable
    size = os.path.getsize(path)
    cores = len(os.sched_getaffinity(0))
    counts = [1] + [n for n in (2, 3, 4, 6, 8, 12, 16) if n <= max(cores, 2)]
    rows: list[tuple[str, dict]] = []
    add = row_adder(rows, skip, a.repeats)
    for what in ("flows", "pandas", "hellos", "streams", "frames"):
        for n in counts:
            name = "%s w%d" % ("flows" if what == "pandas" else what, n) + (" pandas" if what == "pandas" else "")
            add(name, measured([py, "-c", CHILD, path, what, str(n)]))
    for n in counts[1:]:
        add("flows pieces w%d" % n, pieces(py, path, n))
        add("flows ranges w%d" % n, measured([py, "-c", CHILD, path, "ranges", str(n)]))
    if subprocess.run([py, "-c", "import dask.dataframe, distributed"], capture_output=True).returncode == 0:
        for n in counts:  # threads in one process, as workers=N (fastpkt.dask on LocalCluster)
            add("dask w%d pandas" % n, measured([py, "-c", DASK, path, str(n), "whole"]))
        for n in counts[1:]:
            for mode in ("memory", "spill"):
                add("dask2 w%d %s" % (n, mode), measured([py, "-c", DASK, path, str(n), mode]))
    exe = build_c_floor()
    if exe:
        add("c_floor", measured([exe, path, "flows", "mmap"]))
    if subprocess.run([py, "-c", "import nfstream"], capture_output=True).returncode == 0:
        for n in counts:
            add("nfstream m%d" % n, measured([py, "-c", NFSTREAM, path, str(n)]))
    else:
        rows.append(("nfstream", {"error": "not installed"}))

    res = dict(rows)
    print("\nfile: %s  (%.2f GB), usable cores: %d, load average %.1f" % (
        path, size / 1e9, cores, os.getloadavg()[0]))
    print("%-18s %9s %12s %7s %8s %6s %8s %8s %8s %9s %9s %8s %9s  %s" % (
        "row", "seconds", "packets/s", "GB/s", "speedup", "eff.", "cpu s", "cpu xw1", "cpu/wkr", "cpu bound",
        "cpu eff.", "faults k", "peak RSS", "worker engine peaks (MB)"))
    for name, r in rows:
        if "error" in r:
            print("%-18s %s" % (name, r["error"][:100]))
            continue
        base = res.get("flows w1" if name.startswith(("flows pieces", "flows ranges")) else
                       name.replace(" w%s" % name.split(" w")[-1].split()[0], " w1") if " w" in name else "")
        n = int(name.split(" w")[1].split()[0]) if " w" in name else 1
        speed = base["seconds"] / r["seconds"] if base and "error" not in base else None
        # the speedup N workers allow on N idle cores: one worker's CPU over each worker's
        # share (what a loaded machine's wall clock cannot show)
        bound = base["cpu"] / (r["cpu"] / n) if base and "cpu" in base and r.get("cpu") else None
        print("%-18s %9.3f %12s %7.2f %8s %6s %8s %8s %8s %9s %9s %8s %7.0f MB  %s%s%s" % (
            name, r["seconds"], "{:,.0f}".format(r["packets"] / r["seconds"]), size / r["seconds"] / 1e9,
            "%.2fx" % speed if speed else "-", "%.2f" % (speed / n) if speed else "-",
            "%.2f" % r["cpu"] if "cpu" in r else "-", "%.2f" % (r["cpu"] / base["cpu"]) if bound else "-",
            "%.3f" % (r["cpu"] / n) if "cpu" in r else "-",
            "%.2fx" % bound if bound else "-", "%.2f" % (bound / n) if bound else "-",
            "%.1f" % (r["faults"] / 1e3) if "faults" in r else "-", r.get("run_rss_mb", r.get("rss_mb", 0)),
            " ".join("%.0f" % (p / 1e6) for p in r.get("worker_peaks", [])),
            "  skips %d" % r["skips"] if r.get("skips") else "",
            "" if r.get("merged", True) or n == 1 else "  (fell back to one engine)"))
    for n in counts:
        d, f = res.get("dask w%d pandas" % n), res.get("flows w%d pandas" % n)
        if d and f and "error" not in d and "error" not in f:
            print("dask (LocalCluster, %d threads) vs workers=%d: %.2fx the time, %.2fx the CPU" % (
                n, n, d["seconds"] / f["seconds"], d["cpu"] / f["cpu"]))
    w1, floor = res.get("flows w1"), res.get("c_floor")
    if w1 and floor and "error" not in w1 and "error" not in floor:
        print("\nflows w1 vs the C flow floor: %.2fx its time (medians; goal <= 1.5x)" % (w1["seconds"] / floor["seconds"]))
        floor_ratio(py, exe, path, a.repeats)
    return 0


def floor_ratio(py: str, exe: str, path: str, repeats: int) -> None:
    """flows w1 and the C floor taking turns, best of `repeats` each: on a shared machine the
    best runs are the least disturbed. User CPU: the engine's (fp.flows alone) against the
    floor process's."""
    w: list[dict] = []
    f: list[dict] = []
    for _ in range(repeats):
        w.append(run_measured([py, "-c", CHILD, path, "flows", "1"]))
        f.append(run_measured([exe, path, "flows", "mmap"]))
    w, f = [r for r in w if "error" not in r], [r for r in f if "error" not in r]
    if not w or not f:
        return
    ws, fs = min(r["seconds"] for r in w), min(r["seconds"] for r in f)
    wu, fu = min(r["user"] for r in w), min(r["proc_user"] for r in f)
    print("flows w1 vs the C flow floor, best of %d each: %.3f s vs %.3f s = %.2fx its time; "
          "user CPU %.3f s vs %.3f s = %.2fx" % (len(w), ws, fs, ws / fs, wu, fu, wu / fu))


if __name__ == "__main__":
    sys.exit(main())
