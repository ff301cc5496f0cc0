#!/usr/bin/env python3
"""Display filter benchmark: fastpkt's display_filter against the equivalent BPF pass, a
plain dissect pass and tshark -Y on the same expression, in one run (median of --repeats).

    python benchmarks/bench_filter.py [--packets 1000000] [--pcap FILE] [--repeats 3]
                                      [--tshark-packets 200000]

Without --pcap, benchmarks/out/bench_<N>.pcap is generated with
../shared/bench/gen_pcap.py --seed 1 when missing (FASTPKT_BENCH_DIR points elsewhere).

Every fastpkt row is a C-only pass, `Reader(...).count()` (no Python per packet):
  bpf tcp port 443        Reader(filter="tcp port 443"): libpcap's BPF, no dissection
  df tcp.port == 443      the same selection as a display filter (header fields)
  dissect pass            display_filter="frame": dissection plus a test that always holds
  df dns.qry.name         dns.qry.name contains "mocor" (DNS names decoded per UDP/53 packet)
  df tls sni              tls.handshake.extensions_server_name contains "mocor"
  tshark -Y ...           tshark -n -r FILE -c N -Y EXPR -T fields -e frame.number, with
                          reassembly off; packets per second over the first N packets
Targets (issue 16): header-only display filter within 1.5x of the BPF pass; DNS-name or SNI
filter within 2x of the dissect pass; >= 100x tshark -Y on the same expression.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("FASTPKT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
OUT = os.environ.get("FASTPKT_BENCH_DIR", os.path.join(HERE, "out"))
TSHARK_PREFS = ["tcp.desegment_tcp_streams:FALSE", "ip.defragment:FALSE", "ipv6.defragment:FALSE",
                "tls.desegment_ssl_records:FALSE", "dns.desegment_dns_messages:FALSE",
                "tcp.analyze_sequence_numbers:FALSE"]

HEADER = "tcp.port == 443"
DNS = 'dns.qry.name contains "mocor"'
SNI = 'tls.handshake.extensions_server_name contains "mocor"'


def ensure_pcap(n: int) -> str:
    path = os.path.join(OUT, "bench_%d.pcap" % n)
    if not os.path.exists(path):
        gen = os.path.join(SHARED, "bench", "gen_pcap.py")
        if not os.path.exists(gen):
            sys.exit("bench_filter: %s not found; pass --pcap FILE" % gen)
        os.makedirs(OUT, exist_ok=True)
        print("generating %s (%d packets) ..." % (path, n), flush=True)
        subprocess.run([sys.executable, gen, "--packets", str(n), "--seed", "1", "--out", path],
                       check=True)
    return path


def timed(fn, repeats: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def count(path: str, **kw) -> int:
    import fastpkt as fp

    with fp.Reader(path, **kw) as r:
        return r.count()


def tshark_rate(path: str, expr: str, n: int) -> tuple[float, int]:
    cmd = ["tshark", "-n", "-r", path, "-c", str(n), "-Y", expr, "-T", "fields", "-e", "frame.number"]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return n / (time.perf_counter() - t), len(out.split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--pcap")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tshark-packets", type=int, default=200_000)
    args = ap.parse_args()
    path = args.pcap or ensure_pcap(args.packets)
    total = count(path)
    rows = {}
    rows["bpf tcp port 443"] = timed(lambda: count(path, filter="tcp port 443"), args.repeats)
    rows["df " + HEADER] = timed(lambda: count(path, display_filter=HEADER), args.repeats)
    rows["dissect pass"] = timed(lambda: count(path, display_filter="frame"), args.repeats)
    rows["df " + DNS] = timed(lambda: count(path, display_filter=DNS), args.repeats)
    rows["df " + SNI] = timed(lambda: count(path, display_filter=SNI), args.repeats)
    print("%d packets in %s" % (total, path))
    print("%-62s %9s %10s %9s" % ("row", "seconds", "Mpps", "matched"))
    for name, (secs, matched) in rows.items():
        print("%-62s %9.3f %10.2f %9d" % (name, secs, total / secs / 1e6, matched))
    ratio = rows["df " + HEADER][0] / rows["bpf tcp port 443"][0]
    print("header display filter / BPF pass:          %.2fx (target <= 1.5x)" % ratio)
    for expr in (DNS, SNI):
        print("%-42s %.2fx (target <= 2x)" % (expr[:24] + " / dissect pass:",
                                              rows["df " + expr][0] / rows["dissect pass"][0]))
    if shutil.which("tshark"):
        for expr in (HEADER, DNS, SNI):
            pps, _ = tshark_rate(path, expr, args.tshark_packets)
            ours = total / rows["df " + expr][0]
            print("tshark -Y %-40s %10.0f pps; fastpkt %.0fx (target >= 100x)" % (expr, pps, ours / pps))
    else:
        print("tshark not installed: no tshark rows")


if __name__ == "__main__":
    main()
