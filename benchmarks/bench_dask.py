#!/usr/bin/env python3
"""fastpkt.dask.flows on a LocalCluster of worker processes: the two-stage split walk (ranges
walked into entries, shards fed them) against every shard reading the whole file, next to
fp.flows(path, workers=N) in this process.

    python benchmarks/bench_dask.py [--pcap FILE] [--workers 2] [--repeats 3] [--threads]

--threads: the workers are threads of this process (bench_scale.py's Dask rows): no entries
cross a process boundary, and the CPU is this process's.

Per run: wall seconds and the CPU of the worker processes (their rusage, before and after:
distributed's own threads included), minor faults of the workers. Per partition, counted from
the first stage's entries: the bytes of the records a shard reads (those it keeps and those the
key pass declines, headers included) and the distinct 4 KiB pages they lie on; a shard of the
whole-file reading walks every record, so it reads the whole file. The load average is printed
next to the wall-clock numbers: on a shared machine CPU seconds are the measure.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)  # this tree's fastpkt, here and in the cluster's worker processes
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))


def usage() -> tuple[float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_minflt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pcap", default="/tmp/bench/bench_1m.pcap")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", action="store_true")
    a = ap.parse_args()
    import fastpkt as fp
    import fastpkt.dask as fpd
    from distributed import Client, LocalCluster

    n, path = a.workers, a.pcap
    size = os.path.getsize(path)
    bounds = fpd._ranges(path)
    entries = np.concatenate([fpd._walk(path, bounds[k], bounds[k + 1], n, {})[0] for k in range(len(bounds) - 1)])
    hdr = 16 if path.endswith(".pcap") else 28
    print("file %s: %.1f MB, %d records, %d ranges, %d partitions" % (path, size / 1e6, len(entries),
                                                                       len(bounds) - 1, n))
    print("stage 1 (all ranges together): reads the file once: %.1f MB" % (size / 1e6))
    for i in range(n):
        mine = entries[(entries["shard"] == i) | (entries["shard"] < 0)]
        pages = np.unique(np.concatenate([(mine["offset"] - hdr) >> 12, (mine["offset"] + mine["caplen"] - 1) >> 12]))
        print("partition %d: %d records, %.1f MB of records, %.1f MB of pages (whole-file reading: %.1f MB)" % (
            i, len(mine), (mine["caplen"].sum() + hdr * len(mine)) / 1e6, len(pages) * 4096 / 1e6, size / 1e6))
    print("entries fetched by each partition: %.1f MB (32 bytes a record)" % (len(entries) * 32 / 1e6))
    want = len(fp.flows(path, workers=1))
    rows: dict[str, list[tuple[float, float, float]]] = {}
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=not a.threads, dashboard_address=None) as cl, \
            Client(cl) as c:
        where = c.run(lambda: __import__("fastpkt.dask").__file__)
        assert all(os.path.samefile(os.path.dirname(f), os.path.join(ROOT, "fastpkt")) for f in where.values())
        for _ in range(a.repeats):
            for name, two in (("dask two-stage", True), ("dask whole-file", False)):
                fpd.TWO_STAGE_MIN_SHARDS = 1 if two else 1 << 30  # either form at any shard count
                u0 = {0: usage()} if a.threads else c.run(usage)
                t0 = time.perf_counter()
                df = fpd.flows([path], npartitions=n).compute()
                dt = time.perf_counter() - t0
                u1 = {0: usage()} if a.threads else c.run(usage)
                assert len(df) == want
                cpu = sum(u1[w][0] - u0[w][0] for w in u1)
                faults = sum(u1[w][1] - u0[w][1] for w in u1)
                rows.setdefault(name, []).append((dt, cpu, faults))
            c0 = usage()[0]
            t0 = time.perf_counter()
            fp.flows(path, workers=n).to_pandas()
            rows.setdefault("flows w%d pandas" % n, []).append((time.perf_counter() - t0, usage()[0] - c0, 0))
    print("load average %.1f (%d usable cores), workers as %s; median of %d, min in brackets" % (
        os.getloadavg()[0], len(os.sched_getaffinity(0)), "threads" if a.threads else "processes", a.repeats))
    for name, r in rows.items():
        print("%-20s wall %6.2f s [%5.2f]  CPU %6.2f s [%5.2f]  minor faults %7.0fk" % (
            name, statistics.median(x[0] for x in r), min(x[0] for x in r), statistics.median(x[1] for x in r),
            min(x[1] for x in r), statistics.median(x[2] for x in r) / 1e3))


if __name__ == "__main__":
    main()
