#!/usr/bin/env python3
"""Read benchmark: fastpkt side by side with Scapy, dpkt, the Python floor, tshark and the
plain-C floor, on one synthetic capture, in one run (median of --repeats runs).

    python benchmarks/bench_read.py [--packets 1000000] [--pcap FILE] [--repeats 3]

Without --pcap, benchmarks/out/bench_<N>.pcap is generated with
../shared/bench/gen_pcap.py --seed 1 when missing (set FASTPKT_BENCH_DIR to point elsewhere).

Rows (same work as the shared peers' "dissect" task: read every record, touch ip src/dst,
proto, ports, length):
  fastpkt loop       Python loop over fp.open() touching pkt.ip/ip6 src/dst/proto, ports, wirelen
  scapy              PcapReader (first --scapy-limit packets; pps from those)
  dpkt               dpkt.pcap.Reader + Ethernet()
  python floor       the loop alone over objects decoded beforehand (peers/python_floor.py)
  fastpkt to_pandas  fp.read(path).to_pandas()
  fastpkt C count    Reader(path, filter="tcp").count(): BPF + record walk, no Python objects
  fastpkt len(read)  len(fp.read(path, filter="tcp")) (for comparison with the C count)
  c_floor mmap/libpcap, tshark -T fields
Targets: loop >= 300x Scapy and >= 20x dpkt; to_pandas >= 5M pps; C pass within
1.5x of the C mmap floor.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("FASTPKT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
BENCH = os.path.join(SHARED, "bench")
PEERS = os.path.join(BENCH, "peers")
OUT = os.environ.get("FASTPKT_BENCH_DIR", os.path.join(HERE, "out"))

perf = time.perf_counter


def ensure_pcap(n: int) -> str:
    path = os.path.join(OUT, "bench_%d.pcap" % n)
    if not os.path.exists(path):
        gen = os.path.join(BENCH, "gen_pcap.py")
        if not os.path.exists(gen):
            sys.exit("bench_read: %s not found; pass --pcap FILE" % gen)
        os.makedirs(OUT, exist_ok=True)
        print("generating %s (%d packets) ..." % (path, n), flush=True)
        jobs = str(max(1, min(4, os.cpu_count() or 1)))
        subprocess.run([sys.executable, gen, "--packets", str(n), "--seed", "1", "--out", path,
                        "--jobs", jobs], check=True)
    return path


# ------------------------------------------------------------------ fastpkt measurements
def fastpkt_loop(path: str) -> tuple[int, float, int]:
    import fastpkt as fp

    n = ports = lens = 0
    t0 = perf()
    for pkt in fp.open(path):
        n += 1
        ip = pkt.ip or pkt.ip6
        if ip is not None:
            src, dst, proto = ip.src, ip.dst, ip.proto
            lens += pkt.wirelen
            l4 = pkt.tcp or pkt.udp
            if l4 is not None:
                ports += l4.sport + l4.dport
    return n, perf() - t0, ports


def fastpkt_loop_flat(path: str) -> tuple[int, float, int]:
    """Same work through the packet-level shortcuts (pkt.src/dst/proto/sport/dport)."""
    import fastpkt as fp

    n = ports = lens = 0
    t0 = perf()
    for pkt in fp.open(path):
        n += 1
        src = pkt.src
        if src is not None:
            dst, proto = pkt.dst, pkt.proto
            lens += pkt.wirelen
            sport = pkt.sport
            if sport is not None:
                ports += sport + pkt.dport
    return n, perf() - t0, ports


def fastpkt_pandas(path: str) -> tuple[int, float, int]:
    import fastpkt as fp

    t0 = perf()
    df = fp.read(path).to_pandas()
    dt = perf() - t0
    ports = int(df["sport"].sum()) + int(df["dport"].sum())
    return len(df), dt, ports


def fastpkt_count(path: str) -> tuple[int, float, int]:
    import fastpkt as fp

    t0 = perf()
    with fp.Reader(path, filter="tcp") as r:
        k = r.count()
        seen = r.packets_read + r.filtered
    return seen, perf() - t0, k


def fastpkt_len_read(path: str) -> tuple[int, float, int]:
    import fastpkt as fp

    t0 = perf()
    with fp.Reader(path, filter="tcp") as r:
        k = len(r.read_all())
        seen = r.packets_read + r.filtered
    return seen, perf() - t0, k


# ------------------------------------------------------------------ peers
def peer_json(cmd: list[str], timeout: float = 1800) -> dict:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": (out.stderr or out.stdout)[-300:]}


def build_c_floor() -> str | None:
    src = os.path.join(PEERS, "c_floor.c")
    exe = os.path.join(OUT, "c_floor")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    os.makedirs(OUT, exist_ok=True)
    r = subprocess.run(["gcc", "-O2", "-o", exe, src, "-lpcap"], capture_output=True, text=True)
    if r.returncode:
        print("c_floor build failed: %s" % r.stderr[-300:], file=sys.stderr)
        return None
    return exe


def median_run(fn, repeats: int) -> dict:
    runs = [fn() for _ in range(repeats)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    secs = sorted(r["seconds"] for r in ok)
    med = statistics.median(secs)
    best = min(ok, key=lambda r: abs(r["seconds"] - med))
    return dict(best, seconds=med, pps=best["packets"] / med if med else None,
                spread="%.3f..%.3f" % (secs[0], secs[-1]))


def local(fn, path):
    def run():
        n, dt, check = fn(path)
        return {"packets": n, "seconds": dt, "check": check}
    return run


def external(cmd):
    def run():
        return peer_json(cmd)
    return run


def row_adder(rows: list, skip: set, default_repeats: int):
    """add(name, fn, repeats=...): measure one tool (median of repeats) unless skipped,
    report progress on stderr, and append (name, result) to rows."""
    def add(name, fn, repeats=default_repeats):
        if name.split()[0] in skip or name in skip:
            return
        print("  measuring %-20s" % name, end="", flush=True, file=sys.stderr)
        r = median_run(fn, repeats)
        print(" %s" % ("error: " + r["error"][:200] if "error" in r else "%.3f s" % r["seconds"]),
              file=sys.stderr)
        rows.append((name, r))
    return add


def write_json_rows(json_path: str | None, rows: list, capture: str) -> None:
    """Append one JSON line per measured tool (--json), for tracking runs over time."""
    if not json_path:
        return
    with open(json_path, "a") as f:
        for name, r in rows:
            f.write(json.dumps(dict(r, tool=name, file=os.path.basename(capture))) + "\n")


def bench_setup(doc: str, repeats: int):
    """The command line every benchmark shares; returns (args, capture path, rows to skip)
    with the capture already in the page cache so every tool reads it from memory."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--pcap", help="use this file instead of generating one")
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--scapy-limit", type=int, default=20_000)
    ap.add_argument("--skip", default="", help="comma-separated rows to skip (scapy,tshark,...)")
    ap.add_argument("--json", help="also append the results as JSON lines here")
    a = ap.parse_args()
    path = a.pcap or ensure_pcap(a.packets)
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass
    return a, path, set(filter(None, a.skip.split(",")))


def main() -> int:
    a, path, skip = bench_setup(__doc__, repeats=3)
    try:
        import pandas  # noqa: F401  (imported before any timing, as the shared peers do)
    except ImportError:
        pass
    py = sys.executable
    rows: list[tuple[str, dict]] = []
    add = row_adder(rows, skip, a.repeats)

    add("fastpkt loop", local(fastpkt_loop, path))
    add("fastpkt loop (flat)", local(fastpkt_loop_flat, path))
    add("fastpkt to_pandas", local(fastpkt_pandas, path))
    add("fastpkt C count", local(fastpkt_count, path))
    add("fastpkt len(read)", local(fastpkt_len_read, path))
    add("python floor", external([py, os.path.join(PEERS, "python_floor.py"), path]))
    add("dpkt", external([py, os.path.join(PEERS, "dpkt_peer.py"), path]))
    add("scapy", external([py, os.path.join(PEERS, "scapy_peer.py"), path,
                           "--limit", str(a.scapy_limit)]))
    exe = build_c_floor()
    if exe:
        add("c_floor mmap", external([exe, path, "dissect", "mmap"]))
        add("c_floor libpcap", external([exe, path, "dissect", "libpcap"]))
    if shutil.which("tshark"):
        add("tshark", external([py, os.path.join(PEERS, "tshark_peer.py"), path]), repeats=1)

    res = dict(rows)
    ref = res.get("fastpkt loop", {}).get("pps")
    print("\nfile: %s" % path)
    print("%-20s %10s %9s %13s %12s  %s" % ("tool", "packets", "seconds", "pps", "vs fp loop", "spread / check"))
    for name, r in rows:
        if "error" in r:
            print("%-20s error: %s" % (name, r["error"][:100]))
            continue
        pps = r.get("pps") or 0
        ratio = ("%.2fx" % (ref / pps)) if ref and pps else "-"
        print("%-20s %10d %9.3f %13s %12s  %s check=%s" % (
            name, r["packets"], r["seconds"], "{:,.0f}".format(pps), ratio, r.get("spread", ""),
            r.get("check", r.get("port_sum"))))

    def pps(name):
        r = res.get(name)
        return r.get("pps") if r and "error" not in r else None

    print("\ntargets:")

    def target(label, value, goal, fmt="%.1fx"):
        if value is None:
            print("  %-44s n/a" % label)
            return
        status = "ok" if value >= goal else "BELOW"
        print("  %-44s %s (goal %s)  %s" % (label, fmt % value, fmt % goal, status))

    loop = pps("fastpkt loop")
    target("fastpkt loop vs Scapy PcapReader", loop / pps("scapy") if loop and pps("scapy") else None, 300)
    target("fastpkt loop vs dpkt", loop / pps("dpkt") if loop and pps("dpkt") else None, 20)
    target("fastpkt loop pps (aim 2M)", loop, 2e6, "%.3g")
    target("to_pandas pps", pps("fastpkt to_pandas"), 5e6, "%.3g")
    cfl, cnt = pps("c_floor mmap"), pps("fastpkt C count")
    target("C floor mmap / fastpkt C count (<= 1.5x)", (1.5 * cnt / cfl) if cfl and cnt else None, 1.0,
           "%.2f")
    if cfl and cnt:
        print("    (C count is %.2fx the time of the C mmap floor)" % (cfl / cnt))
    if loop and pps("python floor"):
        print("  fastpkt loop vs Python floor: %.2fx the floor's time" % (pps("python floor") / loop))
    checks = {n: r.get("check", r.get("port_sum")) for n, r in rows if n in ("fastpkt loop", "fastpkt to_pandas", "python floor",
                                                          "dpkt", "c_floor mmap", "c_floor libpcap")}
    if len(set(v for v in checks.values() if v is not None)) > 1:
        print("  port-sum check MISMATCH: %s" % checks)
    else:
        print("  port-sum check: all equal (%s)" % next(iter(checks.values()), None))
    write_json_rows(a.json, rows, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
