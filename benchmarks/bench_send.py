#!/usr/bin/env python3
"""Sending and probing: send rate of fastpkt.send/sendp vs Scapy's send/sendp and tcpreplay,
and sr() of 5,000 probes (wall time, answers) vs Scapy's sr, on a veth pair.

    sudo python benchmarks/bench_send.py [--packets 100000] [--scapy-packets 10000] [--probes 5000]

Needs root. Two namespaces this script creates and deletes (fpsendA-<pid>, fpsendB-<pid>)
joined by a veth pair fpa (10.13.9.1) <-> fpb (10.13.9.2), offloads off, a static neighbour
entry so no ARP runs, IPv6 off (no stray frames); nothing outside them is touched. Every tool runs in its own process in
fpsendA, one after the other, on the same packets (UDP to 10.13.9.2:9, 64-byte payload, built
in advance: only sending is timed). Delivered = fpb's rx packet counter, the truth on the
wire. tcpreplay (apt-get install tcpreplay) replays the same frames with --topspeed from a
preloaded pcap; without it that row is skipped. Probing: ICMP echo requests seq 0..N-1 to
10.13.9.2 with inter=0, timeout=2; answers counted by each tool, wall time from the call to
its return (the timeout after the last answer included for Scapy; fastpkt returns as soon as
every probe is answered).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
A_ADDR, B_ADDR = "10.13.9.1", "10.13.9.2"

PRELUDE = """
import json, sys, time
sys.path.insert(0, %(root)r)
from scapy.all import IP, UDP, ICMP, Ether, conf
conf.verb = 0
n = %(n)d
mac_a, mac_b = %(mac_a)r, %(mac_b)r
ips = [IP(src=%(a)r, dst=%(b)r, id=i & 0xffff)/UDP(sport=40000, dport=9)/(b"x" * 64) for i in range(n)]
"""

TOOLS = {
    "fastpkt send": """
import fastpkt as fp
raw = [bytes(p) for p in ips]
t = time.perf_counter(); fp.send(raw, verbose=0); dt = time.perf_counter() - t
""",
    "fastpkt sendp": """
import fastpkt as fp
raw = [bytes(Ether(src=mac_a, dst=mac_b)/p) for p in ips]
t = time.perf_counter(); fp.sendp(raw, iface="fpa", verbose=0); dt = time.perf_counter() - t
""",
    "scapy send": """
from scapy.all import send
t = time.perf_counter(); send(ips, verbose=0); dt = time.perf_counter() - t
""",
    "scapy sendp": """
from scapy.all import sendp
frames = [Ether(src=mac_a, dst=mac_b)/p for p in ips]
t = time.perf_counter(); sendp(frames, iface="fpa", verbose=0); dt = time.perf_counter() - t
""",
}

PROBE = """
import json, sys, time
sys.path.insert(0, %(root)r)
from scapy.all import IP, ICMP, conf
conf.verb = 0
probes = [IP(src=%(a)r, dst=%(b)r)/ICMP(id=77, seq=i) for i in range(%(n)d)]
if %(tool)r == "fastpkt":
    import fastpkt as fp
    raw = [bytes(p) for p in probes]
    t = time.perf_counter(); ans, unans = fp.sr(raw, inter=0, timeout=2, verbose=0)
else:
    from scapy.all import sr
    t = time.perf_counter(); ans, unans = sr(probes, inter=0, timeout=2, verbose=0)
print(json.dumps({"dt": time.perf_counter() - t, "answers": len(ans)}))
"""


def sh(cmd, check=True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


class Pair:
    def __init__(self) -> None:
        self.a, self.b = "fpsendA-%d" % os.getpid(), "fpsendB-%d" % os.getpid()

    def ex(self, ns: str, cmd, **kw) -> subprocess.CompletedProcess:
        return sh(["ip", "netns", "exec", ns] + list(cmd), **kw)

    def __enter__(self) -> "Pair":
        sh(["ip", "netns", "add", self.a])
        sh(["ip", "netns", "add", self.b])
        sh(["ip", "link", "add", "fpa%d" % os.getpid(), "type", "veth", "peer", "name", "fpb%d" % os.getpid()])
        for ns, tmp, name, addr in ((self.a, "fpa%d" % os.getpid(), "fpa", A_ADDR),
                                    (self.b, "fpb%d" % os.getpid(), "fpb", B_ADDR)):
            sh(["ip", "link", "set", tmp, "netns", ns])
            self.ex(ns, ["ip", "link", "set", tmp, "name", name])
            if shutil.which("ethtool"):
                self.ex(ns, ["ethtool", "-K", name, "tso", "off", "gso", "off", "gro", "off"], check=False)
            self.ex(ns, ["ip", "addr", "add", addr + "/24", "dev", name])
            self.ex(ns, ["ip", "link", "set", name, "up"])
            self.ex(ns, ["ip", "link", "set", "lo", "up"])
            self.ex(ns, ["sh", "-c", "echo 0 > /proc/sys/net/ipv4/icmp_ratelimit; "
                                     "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6"])
        self.mac_a = self.ex(self.a, ["cat", "/sys/class/net/fpa/address"]).stdout.strip()
        self.mac_b = self.ex(self.b, ["cat", "/sys/class/net/fpb/address"]).stdout.strip()
        self.ex(self.a, ["ip", "neigh", "replace", B_ADDR, "lladdr", self.mac_b, "dev", "fpa", "nud", "permanent"])
        self.ex(self.b, ["ip", "neigh", "replace", A_ADDR, "lladdr", self.mac_a, "dev", "fpb", "nud", "permanent"])
        return self

    def rx(self) -> int:
        return int(self.ex(self.b, ["cat", "/sys/class/net/fpb/statistics/rx_packets"]).stdout)

    def __exit__(self, *exc) -> None:
        sh(["ip", "netns", "del", self.a], check=False)
        sh(["ip", "netns", "del", self.b], check=False)


def python_row(pair: Pair, name: str, n: int) -> dict:
    code = (PRELUDE % {"root": str(ROOT), "n": n, "mac_a": pair.mac_a, "mac_b": pair.mac_b,
                       "a": A_ADDR, "b": B_ADDR}
            + TOOLS[name] + "\nprint(json.dumps({'dt': dt}))\n")
    before = pair.rx()
    r = pair.ex(pair.a, [sys.executable, "-c", code], check=False)
    if r.returncode != 0:
        return {"tool": name, "error": r.stderr.strip().splitlines()[-1]}
    dt = json.loads(r.stdout.strip().splitlines()[-1])["dt"]
    return {"tool": name, "packets": n, "seconds": dt, "pps": n / dt, "delivered": pair.rx() - before}


def tcpreplay_row(pair: Pair, n: int) -> dict:
    if not shutil.which("tcpreplay"):
        return {"tool": "tcpreplay", "error": "not installed (apt-get install tcpreplay)"}
    with tempfile.TemporaryDirectory() as d:
        pcap = Path(d) / "frames.pcap"
        code = (PRELUDE % {"root": str(ROOT), "n": n, "mac_a": pair.mac_a, "mac_b": pair.mac_b,
                           "a": A_ADDR, "b": B_ADDR}
                + "from scapy.all import wrpcap\nwrpcap(%r, [Ether(src=mac_a, dst=mac_b)/p for p in ips])\n" % str(pcap))
        sh([sys.executable, "-c", code])
        before = pair.rx()
        r = pair.ex(pair.a, ["tcpreplay", "-K", "--topspeed", "-i", "fpa", str(pcap)], check=False)
        out = r.stdout + r.stderr
        m = re.search(r"Actual: (\d+) packets .*? ([\d.]+) seconds", out)
        if r.returncode != 0 or not m:
            return {"tool": "tcpreplay", "error": out.strip().splitlines()[-1] if out.strip() else "failed"}
        dt = float(m.group(2))
        return {"tool": "tcpreplay --topspeed", "packets": n, "seconds": dt, "pps": n / dt,
                "delivered": pair.rx() - before}


def probe_row(pair: Pair, tool: str, n: int) -> dict:
    code = PROBE % {"root": str(ROOT), "a": A_ADDR, "b": B_ADDR, "n": n, "tool": tool}
    r = pair.ex(pair.a, [sys.executable, "-c", code], check=False)
    if r.returncode != 0:
        return {"tool": tool, "error": r.stderr.strip().splitlines()[-1]}
    return dict(json.loads(r.stdout.strip().splitlines()[-1]), tool=tool)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=100_000, help="packets per fastpkt/tcpreplay send row")
    ap.add_argument("--scapy-packets", type=int, default=10_000, help="packets per Scapy send row")
    ap.add_argument("--probes", type=int, default=5000)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces, raw sockets)")
    with Pair() as pair:
        rows = [python_row(pair, "fastpkt send", args.packets), python_row(pair, "fastpkt sendp", args.packets),
                python_row(pair, "scapy send", args.scapy_packets),
                python_row(pair, "scapy sendp", args.scapy_packets), tcpreplay_row(pair, args.packets)]
        print("send rate (UDP, 106-byte frames, veth pair)")
        print("%-22s %9s %9s %12s %10s" % ("tool", "packets", "seconds", "packets/s", "delivered"))
        for r in rows:
            if "error" in r:
                print("%-22s %s" % (r["tool"], r["error"]))
            else:
                print("%-22s %9d %9.3f %12.0f %10d" % (r["tool"], r["packets"], r["seconds"], r["pps"], r["delivered"]))
        base = {r["tool"]: r["pps"] for r in rows if "pps" in r}
        if "fastpkt send" in base and "scapy send" in base:
            print("fastpkt send / scapy send: %.1fx" % (base["fastpkt send"] / base["scapy send"]))
        if "fastpkt sendp" in base and "scapy sendp" in base:
            print("fastpkt sendp / scapy sendp: %.1fx" % (base["fastpkt sendp"] / base["scapy sendp"]))
        print("\nsr() of %d ICMP echo probes, inter=0, timeout=2" % args.probes)
        print("%-10s %9s %9s" % ("tool", "seconds", "answers"))
        for tool in ("fastpkt", "scapy"):
            r = probe_row(pair, tool, args.probes)
            if "error" in r:
                print("%-10s %s" % (tool, r["error"]))
            else:
                print("%-10s %9.2f %9d" % (tool, r["dt"], r["answers"]))


if __name__ == "__main__":
    main()
