#!/usr/bin/env python3
"""Each course workflow three ways on one capture: the course's script under Scapy, the same
script with only the import changed (examples/course/, fastpkt.scapy), and the idiomatic
fastpkt version (examples/*.py).

    python benchmarks/bench_course.py [--pcap FILE] [--packets 1000000] [--scapy-limit 50000]
                                      [--only NAME,...]

Without --pcap, benchmarks/out/bench_<N>.pcap is generated with
../shared/bench/gen_pcap.py --seed 1 when missing. Every run is a fresh process (its own
directory for the files it writes, stdout to a file), timed wall clock, with its peak RSS
(ru_maxrss via wait4). Scapy runs on the first --scapy-limit packets only: its time is
extrapolated as startup + (time - startup) * packets / limit, the startup measured by the same
script on a one-packet capture; its RSS is the capped run's (rdpcap scripts hold the whole
list, so Scapy's real peak on the full file is larger). Ratios are whole runs (startup
included: importing Scapy, fastpkt, pandas) and, in brackets, the packet work alone (each
form's time minus its own one-packet run). Goals: >= 30x Scapy with only the import changed,
>= 100x idiomatic. The table goes to stdout and benchmarks/out/bench_course.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("FASTPKT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
OUT = os.environ.get("FASTPKT_BENCH_DIR", os.path.join(HERE, "out"))
COURSE = os.path.join(ROOT, "examples", "course")
sys.path.insert(0, ROOT)  # this tree's fastpkt, as the runs get it through PYTHONPATH

# course script -> idiomatic twin and its arguments (examples/README.md's table)
WORKFLOWS = {
    "dns_sniffer": ("dns_monitor", []),
    "dns_analyzer": ("dns_analyzer", []),
    "tcp_session_tracker": ("tcp_session_tracker", []),
    "read_pcap_summary": ("read_pcap_summary", []),
    "handshake_tracker": ("handshake_tracker", []),
    "arp_monitor": ("arp_monitor", []),
    "http_requests": ("http_requests", []),
    "tls_sni": ("tls_sni", []),
    "flow_report": ("flow_report_simple", []),
    "verify_checksums": ("verify_checksums", []),
    "signature_matcher": ("signature_matcher", []),
    "reconstruct_streams": ("reconstruct_streams", ["--out", "."]),
    "port_scan_detector": ("port_scan_detector", []),
    "timed_capture_to_pcap": ("timed_capture_to_pcap", []),
    "protocol_counter": ("read_pcap_summary", []),
    "bandwidth_monitor": ("bandwidth_monitor", []),
    "read_pcap_ips_http": ("http_requests", []),
    "lab1_packet_sniffer": ("packet_sniffer", ["--csv", "sniff_log.csv", "--count", "0", "--filter", "ip"]),
    "lab3_dns_analyzer": ("dns_analyzer", []),
    "lab5_tcp_flow_report": ("tcp_session_tracker", []),
}


def ensure_pcap(n: int) -> str:
    path = os.path.join(OUT, "bench_%d.pcap" % n)
    if not os.path.exists(path):
        gen = os.path.join(SHARED, "bench", "gen_pcap.py")
        if not os.path.exists(gen):
            sys.exit("bench_course: %s not found; pass --pcap FILE" % gen)
        os.makedirs(OUT, exist_ok=True)
        subprocess.run([sys.executable, gen, "--packets", str(n), "--seed", "1", "--out", path], check=True)
    return path


def head(src: str, n: int, dest: str) -> str:
    import fastpkt as fp

    fp.write(dest, fp.read(src, count=n))
    return dest


def run(script: str, args: list[str]) -> dict[str, float | int | str]:
    """One run in a fresh directory: wall seconds, peak RSS (MB), exit status."""
    work = tempfile.mkdtemp(prefix="bench-course-")
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    try:
        with open(os.path.join(work, "out.txt"), "w") as out, open(os.path.join(work, "err.txt"), "w+") as err:
            t0 = time.perf_counter()
            p = subprocess.Popen([sys.executable, script] + args, cwd=work, env=env, stdout=out, stderr=err)
            _, status, ru = os.wait4(p.pid, 0)
            secs = time.perf_counter() - t0
            err.seek(0)
            tail = [ln for ln in err.read().splitlines() if ln and not ln.startswith(" ")]
        code = os.waitstatus_to_exitcode(status)
        failure = "" if code == 0 else (tail[-1:] or ["exit %d" % code])[0][:60]
        return {"s": secs, "rss": ru.ru_maxrss / 1024.0, "ok": failure}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scapy_copy(dest: str) -> str:
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(COURSE):
        if name.endswith(".py"):
            with open(os.path.join(COURSE, name)) as f:
                text = f.read()
            with open(os.path.join(dest, name), "w") as f:
                f.write(text.replace("from fastpkt.scapy import", "from scapy.all import"))
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pcap")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--scapy-limit", type=int, default=50_000)
    ap.add_argument("--only", help="comma-separated course script names")
    a = ap.parse_args()
    import fastpkt as fp

    path = a.pcap or ensure_pcap(a.packets)
    total = fp.open(path).count()
    tmp = tempfile.mkdtemp(prefix="bench-course-src-")
    try:
        scapy_dir = scapy_copy(os.path.join(tmp, "scapy"))
        capped = head(path, min(a.scapy_limit, total), os.path.join(tmp, "capped.pcap"))
        one = head(path, 1, os.path.join(tmp, "one.pcap"))
        limit = fp.open(capped).count()
        names = a.only.split(",") if a.only else list(WORKFLOWS)
        rows = []
        print("%s: %d packets; Scapy on the first %d, extrapolated" % (path, total, limit), flush=True)
        for name in names:
            twin, twin_args = WORKFLOWS[name]
            start = run(os.path.join(scapy_dir, name + ".py"), ["--pcap", one])
            sc = run(os.path.join(scapy_dir, name + ".py"), ["--pcap", capped])
            sc_full = start["s"] + max(sc["s"] - start["s"], 0.0) * total / limit
            swapped = run(os.path.join(COURSE, name + ".py"), ["--pcap", path])
            swapped["start"] = run(os.path.join(COURSE, name + ".py"), ["--pcap", one])["s"]
            idiom = run(os.path.join(ROOT, "examples", twin + ".py"), ["--pcap", path] + twin_args)
            idiom["start"] = run(os.path.join(ROOT, "examples", twin + ".py"), ["--pcap", one] + twin_args)["s"]
            sc["start"] = start["s"]
            sc["work"] = sc_full - start["s"]
            row = (name, twin, sc_full, sc, swapped, idiom)
            rows.append(row)
            print(fmt(row, total), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = "\n".join([HEADER] + [fmt(r, total) for r in rows])
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "bench_course.md"), "w") as f:
        f.write("%s, %d packets, Scapy on the first %d (extrapolated), load %.1f\n\n%s\n"
                % (os.path.basename(path), total, limit, os.getloadavg()[0], table))
    print("\n" + table)
    return 0


HEADER = ("| course script | Scapy s (extrap.) | import swapped s | x Scapy (work) | idiomatic (twin) s | x Scapy (work) "
          "| peak RSS MB Scapy (capped) / swapped / idiomatic |\n|---|---|---|---|---|---|---|")


def fmt(row, total: int) -> str:
    name, twin, sc_full, sc, swapped, idiom = row

    def cell(r):
        return "%.2f" % r["s"] if not r["ok"] else "fails: %s" % r["ok"]

    def ratio(r):
        if r["ok"] or sc["ok"]:
            return "-"
        return "%.0fx (%.0fx)" % (sc_full / r["s"], sc["work"] / max(r["s"] - r["start"], 0.01))

    return "| %s | %s | %s | %s | %s (%s) | %s | %.0f / %.0f / %.0f |" % (
        name, "%.1f" % sc_full if not sc["ok"] else "fails: %s" % sc["ok"], cell(swapped), ratio(swapped),
        cell(idiom), twin, ratio(idiom), sc["rss"], swapped["rss"], idiom["rss"])


if __name__ == "__main__":
    sys.exit(main())
