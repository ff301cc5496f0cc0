#!/usr/bin/env python3
"""Tables benchmark: packets and flows to Arrow through the C stream, against the plain-C
floor's dissect and flows passes on the same file, in the same run; DuckDB reading the Arrow
stream against DuckDB over ``to_pandas()``; peak RSS of each (every case runs in a fresh
process, so ru_maxrss is that case's own peak).

    python benchmarks/bench_tables.py [--packets 1000000] [--pcap FILE] [--repeats 3]

Without --pcap, benchmarks/out/bench_<N>.pcap is generated with ../shared/bench/gen_pcap.py
--seed 1 when missing (FASTPKT_BENCH_DIR points elsewhere).

Rows:
  c_floor dissect / flows    peers/c_floor.c over mmap (the absolute floor)
  packets -> arrow           pa.RecordBatchReader.from_stream(fp.read(path)).read_all()
  packets -> arrow (Reader)  the same from fp.open(path): batches read as they go (bounded)
  packets -> pandas          fp.read(path).to_pandas()
  summary                    fastpkt.summary.summarize(path): batches of 1M packets (bounded memory)
  flows -> arrow             pa.table(fp.flows(path)) (streamed: flows converted as they leave)
  duckdb over capsule        duckdb.sql("select dport, count(*), sum(wirelen) ... from pkts") on a PacketList
  duckdb over to_pandas      the same query over pkts.to_pandas()
Goal: packets -> Arrow within 1.5x of the C floor's dissect time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_read import build_c_floor, ensure_pcap, peer_json  # noqa: E402

QUERY = "select dport, count(*) as n, sum(wirelen) as b from pkts where dport is not null group by dport"

# Each case: code run in a fresh interpreter; prints {"seconds", "records"} as one JSON line.
CASES = {
    "packets -> arrow": """
pkts = fp.read(path)
t = pa.RecordBatchReader.from_stream(pkts).read_all()
n = t.num_rows""",
    "packets -> arrow (Reader)": """
with fp.open(path) as r:
    n = sum(b.num_rows for b in pa.RecordBatchReader.from_stream(r))""",
    "packets -> pandas": """
df = fp.read(path).to_pandas()
n = len(df)""",
    "summary": """
from fastpkt.summary import summarize
n = summarize(path, progress=False)["packets"]""",
    "flows -> arrow": """
t = pa.table(fp.flows(path, progress=False))
n = t.num_rows""",
    "duckdb over capsule": """
pkts = fp.read(path)
n = len(duckdb.sql(QUERY).fetchall()) and len(pkts)""",
    "duckdb over to_pandas": """
pkts_list = fp.read(path)
pkts = pkts_list.to_pandas()
n = len(duckdb.sql(QUERY).fetchall()) and len(pkts)""",
}

RUNNER = """
import json, resource, sys, time
import duckdb, pyarrow as pa
import fastpkt as fp
path, QUERY = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
%s
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "records": n,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_case(code: str, path: str) -> dict:
    return peer_json([sys.executable, "-c", RUNNER % code, path, QUERY])


def median(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    secs = statistics.median(r["seconds"] for r in ok)
    return dict(ok[0], seconds=secs, rss_mb=max(r["rss_mb"] for r in ok))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--pcap")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", help="run only the cases whose name contains this")
    args = ap.parse_args()
    path = args.pcap or ensure_pcap(args.packets)
    size_mb = os.path.getsize(path) / 1e6
    rows = []
    exe = build_c_floor()
    floor = {}
    for task in ("dissect", "flows") if not args.only or "floor" in args.only else ():
        runs = [peer_json([exe, path, task, "mmap"]) for _ in range(args.repeats)] if exe else [{"error": "no gcc"}]
        ok = [r for r in runs if "error" not in r]
        if ok:
            floor[task] = statistics.median(r["seconds"] for r in ok)
            recs = ok[0].get("flows") if task == "flows" else ok[0]["packets"]
            rows.append(("c_floor %s" % task, floor[task], ok[0]["packets"], recs, None))
    packets = None
    for name, code in CASES.items():
        if args.only and args.only not in name:
            continue
        r = median([run_case(code, path) for _ in range(args.repeats)])
        if "error" in r:
            rows.append((name, None, None, None, r["error"]))
            continue
        if name.startswith("packets") or name == "summary":
            packets = r["records"]
        rows.append((name, r["seconds"], packets, r["records"], r["rss_mb"]))
    print("file: %s (%.0f MB, %s packets)" % (path, size_mb, packets))
    print("%-28s %9s %14s %12s %9s %10s" % ("case", "seconds", "packets/s", "records", "vs floor", "peak RSS"))
    for name, secs, pkts, recs, rss in rows:
        if secs is None:
            print("%-28s error: %s" % (name, rss))
            continue
        base = floor.get("flows" if "flows" in name else "dissect")
        ratio = "%.2fx" % (secs / base) if base and not name.startswith("c_floor") else ""
        print("%-28s %9.3f %14s %12s %9s %10s" % (
            name, secs, "{:,.0f}".format(pkts / secs) if pkts else "", "{:,}".format(recs) if recs else "",
            ratio, "%.0f MB" % rss if isinstance(rss, float) else ""))
    print(json.dumps({"file_mb": size_mb, "rows": rows}))


if __name__ == "__main__":
    main()
