#!/usr/bin/env python3
"""Flow benchmark: capture -> flow table -> pandas DataFrame, fastpkt side by side with the
course's Scapy code, dpkt, tshark -z conv, NFStream and the plain-C flow floor, in one run.

    python benchmarks/bench_flows.py [--pcap FILE | --packets N] [--repeats 1]

Default file: benchmarks/out/gen_1000000_s1.pcap (benchmarks/gen_capture.py, generated when
missing; --packets N picks/generates gen_N_s1.pcap). Peers not installed are skipped. Every tool runs in its own
process; peak RSS is that process's ru_maxrss (os.wait4).

Rows (the shared peers' "flows" task: bidirectional 5-tuple table -> DataFrame):
  fastpkt            fp.flows(path).to_pandas()  (full records: TCP state, RTT, stats, hints)
  scapy (course)     rdpcap + Counter + DataFrame, first --scapy-limit packets (pps from those)
  dpkt               dpkt + dict + DataFrame (peers/dpkt_peer.py --task flows)
  tshark             tshark -q -z conv,tcp -z conv,udp (wall time incl. start-up)
  nfstream           NFStreamer(...).to_pandas() (and the lean variant), when it imports
  c_floor            plain C: mmap + open-addressing 5-tuple table (peers/c_floor.c flows mmap)
Targets: >= 100x Scapy, >= 10x dpkt, faster than NFStream and tshark, within 2x of
the C floor.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_read import PEERS, bench_setup, build_c_floor, row_adder  # noqa: E402

FASTPKT_CHILD = r"""
import json, sys, time
import pandas  # imported before the clock, like the peers
import fastpkt as fp
path = sys.argv[1]
t0 = time.perf_counter()
flows = fp.flows(path, progress=False, workers=1)  # one engine against the peers and the C floor
df = flows.to_pandas()
dt = time.perf_counter() - t0
tu = int(df["protocol"].isin([6, 17]).sum())
print(json.dumps({"peer": "fastpkt", "packets": int(flows.stats["packets"]), "seconds": dt,
                  "flows": tu, "all_flows": len(df), "evicted": int(flows.stats["evicted"])}))
"""


def run_measured(cmd: list[str], timeout: float = 3600) -> dict:
    """Run one peer process; its JSON line plus its own peak RSS (ru_maxrss via wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        except OSError as exc:
            return {"error": str(exc)}
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except KeyboardInterrupt:
            p.kill()
            raise
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, etext = out.read(), err.read()
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            d = json.loads(line)
            d["rss_mb"] = ru.ru_maxrss / 1024.0
            d["proc_user"] = ru.ru_utime  # the whole process's user CPU (a C peer's is its work)
            return d
    return {"error": (etext or text or "exit %d" % p.returncode)[-300:]}


def measured(cmd):
    def run():
        return run_measured(cmd)
    return run


def main() -> int:
    a, path, skip = bench_setup(__doc__, repeats=1)
    py = sys.executable
    rows: list[tuple[str, dict]] = []
    add = row_adder(rows, skip, a.repeats)

    add("fastpkt", measured([py, "-c", FASTPKT_CHILD, path]))
    peer = os.path.join(PEERS, "%s.py")
    add("scapy (course)", measured([py, peer % "scapy_peer", path, "--task", "flows", "--limit",
                                    str(a.scapy_limit)]), needs=[peer % "scapy_peer", "scapy"])
    add("dpkt", measured([py, peer % "dpkt_peer", path, "--task", "flows"]),
        needs=[peer % "dpkt_peer", "dpkt"])
    add("tshark", measured([py, peer % "tshark_peer", path, "--task", "flows"]),
        needs=[peer % "tshark_peer", "cmd:tshark"])
    # nfstream imports at find_spec time on some builds: ask a child whether it loads.
    nfs_ok = subprocess.run([py, "-c", "import nfstream"], capture_output=True).returncode == 0
    add("nfstream", measured([py, peer % "nfstream_peer", path]),
        needs=[peer % "nfstream_peer"] + ([] if nfs_ok else ["nfstream"]))
    add("nfstream-lean", measured([py, peer % "nfstream_peer", path, "--variant", "lean"]),
        needs=[peer % "nfstream_peer"] + ([] if nfs_ok else ["nfstream"]))
    exe = build_c_floor()
    if exe:
        add("c_floor", measured([exe, path, "flows", "mmap"]))

    res = dict(rows)
    truth_path = path + ".truth.json"
    truth = json.load(open(truth_path)) if os.path.exists(truth_path) else {}
    fpr = res.get("fastpkt", {})
    ref = fpr.get("pps") if "error" not in fpr else None
    print("\nfile: %s  (%s packets%s)" % (path, truth.get("total_packets", "?"),
                                         ", truth flows %s" % truth["flows"] if truth else ""))
    print("%-16s %9s %9s %13s %14s %9s %9s" % ("tool", "packets", "seconds", "pps",
                                               "fastpkt is", "peak RSS", "flows"))
    for name, r in rows:
        if "error" in r:
            print("%-16s %s" % (name, r["error"][:100]))
            continue
        pps = r.get("pps") or 0
        ratio = ("%.1fx faster" % (ref / pps)) if ref and pps and name != "fastpkt" else "-"
        flows = r.get("flows")
        if truth and flows is not None and name not in ("scapy (course)",):
            flows = "%s%s" % (flows, "" if flows == truth["flows"] else " (!)")
        print("%-16s %9d %9.3f %13s %14s %7.0f MB %9s" % (
            name, r["packets"], r["seconds"], "{:,.0f}".format(pps), ratio, r.get("rss_mb", 0),
            flows if flows is not None else "-"))

    def pps(name):
        r = res.get(name)
        return r.get("pps") if r and "error" not in r else None

    print("\ntargets (fastpkt to DataFrame):")

    def target(label, value, goal, fmt="%.1fx"):
        if value is None:
            print("  %-40s n/a" % label)
            return
        print("  %-40s %s (goal %s)  %s" % (label, fmt % value, fmt % goal,
                                            "ok" if value >= goal else "BELOW"))

    def ratio(name):
        return ref / pps(name) if ref and pps(name) else None

    target("vs the course's Scapy code", ratio("scapy (course)"), 100)
    target("vs dpkt + dict + DataFrame", ratio("dpkt"), 10)
    target("vs NFStream (faster)", ratio("nfstream"), 1.0)
    target("vs NFStream lean (faster)", ratio("nfstream-lean"), 1.0)
    target("vs tshark -z conv (faster)", ratio("tshark"), 1.0)
    cf = ratio("c_floor")
    target("C floor time x2 / fastpkt time (>= 1)", 2 * cf if cf else None, 1.0, "%.2f")
    if cf:
        print("    (fastpkt takes %.2fx the time of the plain-C flow floor)" % (1 / cf))
    from bench_read import write_json_rows

    write_json_rows(a.json, rows, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
