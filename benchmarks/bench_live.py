#!/usr/bin/env python3
"""Live capture: zero-drop replay rates of fastpkt sniff and flows vs Scapy and tcpdump.

The highest rate fastpkt's sniff(store=False, prn=...) and fp.flows(Capture) keep with zero
drops, side by side with Scapy's sniff and tcpdump -w, on the same traffic.

    sudo python benchmarks/bench_live.py [--quick] [--pcap FILE | --packets N] [--rates ...]

Needs root (network namespace, packet sockets). Everything happens inside a network namespace
this script creates (fpbench-<pid>) and deletes at exit: a veth pair fpa <-> fpb, IPv6 off and
no addresses, so the only packets on fpb are the replayed ones. Host interfaces are never
touched.

Replay: tcpreplay -K (preloaded) --pps R --limit N -i fpa (apt-get install tcpreplay), pinned to
CPU 0; without tcpreplay (or with --sender python) a raw AF_PACKET sender in this script (the
pcap's frames, paced in batches). The capturing tool listens on fpb, pinned to CPU 1 (taskset,
when there are >= 2 CPUs). Default capture: benchmarks/out/gen_100000_s1.pcap
(benchmarks/gen_capture.py --seed 1, generated when missing; ~760 B mean frame).

For each rate step (packets/s; "max" = tcpreplay --topspeed), the tools run one after the
other on identical traffic (the first N frames of the capture, looped when N exceeds it), each
in its own process:
  fastpkt sniff       fp.sniff(iface, store=False, prn=lambda p: None), Capture defaults
                      (kernel blocks within 50 ms, 32 MiB ring), ended by SIGINT as Ctrl+C would (a
                      Capture loop calling prn if fastpkt has no sniff; the row says so)
  fastpkt flows       for f in fp.flows(fp.Capture(iface)): ...   (flows as they expire)
  fp sniff imm=True   fp.sniff(..., immediate=True): each packet at once; libpcap then gives
                      every packet a fixed ring slot (TPACKET_V2). The default (immediate=False)
                      uses libpcap's TPACKET_V3 blocks, packed by
                      packet length, handed over when full or after timeout_ms
  scapy sniff         Scapy's AsyncSniffer(store=False, prn=lambda p: None) with its defaults
                      (L2ListenSocket, SO_RCVBUF = conf.bufsize = 64 KiB)
  tcpdump -w          tcpdump -i fpb -n -w /dev/null (its defaults: 2 MiB buffer, 1 s timeout)
--fp-options '{"snaplen": 2048}' (JSON) passes Capture options to every fastpkt row.
When the replay ends, each Python tool drains until nothing new arrives for 0.3 s, then stops;
tcpdump gets SIGINT 1.2 s after the replay (its buffer timeout). Counted per tool: packets the
interface received (fpb rx counter: the truth), packets the tool delivered, kernel drops
(fastpkt Capture.stats(), tcpdump's "dropped by kernel", Scapy's socket PACKET_STATISTICS) and
the tool's CPU time (from the moment it is armed). A step is clean when drops are 0 and
delivered == arrived; a lossy step is run again (--retries, default 1: other work on a small
box causes stray losses), and a tool stops climbing after --give-up consecutive lossy steps.
Zero-drop rate: the fastest step at which that step and every slower one were clean.

Last, a ring probe: how many packets fastpkt.Capture's kernel ring holds while nobody reads it
(a 20,000-packet burst with defaults, immediate=True, immediate=True with a 128 MiB buffer or
snaplen=2048): the
slack a consumer has when it is descheduled. In immediate mode libpcap uses TPACKET_V2 with
one fixed-size slot per packet, sized from the MTU, or 64 KiB when the interface has
segmentation offloads (veth and most NICs do), so 32 MiB is only ~512 slots.

Results vary between runs on a small VM: a consumer that sleeps between packets (immediate
mode) must be woken per packet, and a late wake-up of a few ms overflows a 512-slot ring.
"""
from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_read import ensure_pcap, write_json_rows  # noqa: E402

TX, RX = "fpa", "fpb"
IDLE_S = 0.3           # a Python tool stops after this long with nothing new
TCPDUMP_WAIT_S = 1.2   # tcpdump's default 1000 ms buffer timeout, plus margin
FULL_RATES = "1000,2500,5000,10000,25000,50000,100000,150000,200000,max"
QUICK_RATES = "2000,20000,100000,max"
# row name -> (--skip name, how it runs)
TOOLS = {
    "fastpkt sniff": ("fastpkt-sniff", ("fastpkt", "sniff", {})),
    "fastpkt flows": ("fastpkt-flows", ("fastpkt", "flows", {})),
    "fp sniff imm=True": ("fastpkt-immediate", ("fastpkt", "sniff", {"immediate": True})),
    "scapy sniff": ("scapy", ("scapy",)),
    "tcpdump -w": ("tcpdump", ("tcpdump",)),
}


# ------------------------------------------------------------------ the capturing children
def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _drain_then(progress, stop) -> threading.Thread:
    """Wait for the parent's 'stop' line on stdin, then until progress() stops moving for
    IDLE_S, then call stop(). Runs in a daemon thread."""
    def run():
        sys.stdin.readline()
        last = -1
        while True:
            time.sleep(IDLE_S)
            now = progress()
            if now == last:
                break
            last = now
        stop()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _ready() -> float:
    print("READY", flush=True)
    return _cpu()


def child_fastpkt(mode: str, iface: str, options: str) -> dict:
    """mode sniff: fp.sniff(iface, store=False, prn=...), ended by SIGINT (Ctrl+C) once the
    traffic has drained, as a user ends it; mode loop: for pkt in fp.Capture(iface): prn(pkt);
    mode flows: for f in fp.flows(fp.Capture(iface)). options: Capture keyword arguments (JSON)."""
    import fastpkt as fp

    kw = json.loads(options)
    if mode == "sniff" and hasattr(fp, "sniff"):
        return _child_fp_sniff(fp, iface, kw)
    cap = fp.Capture(iface, **kw)
    out: dict = {}
    if mode == "flows":
        fl = fp.flows(cap, progress=False)
        cpu0 = _ready()
        _drain_then(lambda: cap.packets_read, cap.stop)
        nflows = 0
        for _f in fl:
            nflows += 1
        out.update(flows=nflows, engine_packets=int(fl.stats.get("packets", -1)))
    else:
        prn = lambda p: None  # noqa: E731
        cpu0 = _ready()
        _drain_then(lambda: cap.packets_read, cap.stop)
        for pkt in cap:
            prn(pkt)
        out["api"] = "Capture loop"
    st = cap.stats()
    cap.close()
    out.update(delivered=st["delivered"], dropped=st["dropped"] + st["interface_dropped"],
               received=st["received"], cpu=_cpu() - cpu0)
    return out


def _child_fp_sniff(fp, iface: str, kw: dict) -> dict:
    count = [0]
    prn_none = lambda p: None  # noqa: E731

    def prn(p):  # the benchmark's prn: lambda p: None, plus a counter to see progress
        count[0] += 1
        return prn_none(p)

    pid = os.getpid()
    cpu0 = [0.0]

    def started():
        cpu0[0] = _ready()
        _drain_then(lambda: count[0], lambda: os.kill(pid, signal.SIGINT))

    out: dict = {"api": "fp.sniff"}
    try:
        res = fp.sniff(iface=iface, store=False, prn=prn, started_callback=started, **kw)
    except KeyboardInterrupt:  # sniff() returns on Ctrl+C; this would be a regression
        res = None
        out["error"] = "fp.sniff raised KeyboardInterrupt on SIGINT"
    st = getattr(res, "stats", None) or {}
    if st:
        out.update(dropped=int(st["dropped"]) + int(st.get("interface_dropped", 0)),
                   received=int(st["received"]), sniff_delivered=int(st.get("delivered", -1)))
    out["delivered"] = count[0]
    out["cpu"] = _cpu() - cpu0[0]
    return out


def child_scapy(iface: str) -> dict:
    from scapy.all import AsyncSniffer, conf

    count = [0]

    def prn(p):
        count[0] += 1

    sock = conf.L2listen(iface=iface)
    started = threading.Event()
    s = AsyncSniffer(opened_socket=sock, store=False, prn=prn, started_callback=started.set)
    s.start()
    started.wait(10)
    cpu0 = _ready()
    kstats = {}

    def stop():
        # PACKET_STATISTICS (struct tpacket_stats: packets, drops), read before the socket closes
        raw = sock.ins.getsockopt(263, 6, 8)  # SOL_PACKET, PACKET_STATISTICS
        kstats["received"], kstats["dropped"] = struct.unpack("II", raw)
        s.stop()

    _drain_then(lambda: count[0], stop).join()
    s.join()
    return dict(kstats, delivered=count[0], cpu=_cpu() - cpu0)


def child_sender(pcap: str, iface: str, count: int, pps: float) -> dict:
    """Raw AF_PACKET sender: the first `count` frames of `pcap` (looped), paced in batches."""
    frames = []
    with open(pcap, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        rec = struct.Struct(endian + "IIII")
        while len(frames) < count:
            h = f.read(16)
            if len(h) < 16:
                break
            _, _, caplen, _ = rec.unpack(h)
            frames.append(f.read(caplen))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    batch = max(1, int(pps / 2000)) if pps else 256
    sent = failed = 0
    t0 = time.perf_counter()
    nf = len(frames)
    while sent + failed < count:
        for i in range(sent + failed, min(count, sent + failed + batch)):
            try:
                s.send(frames[i % nf])
                sent += 1
            except OSError:
                failed += 1
        if pps:
            ahead = (sent + failed) / pps - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
    dt = time.perf_counter() - t0
    return {"sent": sent, "failed": failed, "seconds": dt}


def child_main(argv: list[str]) -> int:
    # a shell without job control starts background jobs with SIGINT ignored; sniff() is
    # stopped with SIGINT, so take Python's handler back
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kind = argv[0]
    if kind == "fastpkt":
        res = child_fastpkt(argv[1], argv[2], argv[3])
    elif kind == "scapy":
        res = child_scapy(argv[1])
    elif kind == "ring":
        res = child_ring_probe(argv[1], argv[2], argv[3], int(argv[4]))
    elif kind == "sender":
        res = child_sender(argv[1], argv[2], int(argv[3]), float(argv[4]))
    else:
        raise SystemExit("unknown child %r" % kind)
    print(json.dumps(res), flush=True)
    return 0


# ------------------------------------------------------------------ namespace and replay
CHILDREN: set = set()  # capturing processes still running, killed at exit


def _kill_children() -> None:
    for p in list(CHILDREN):
        if p.poll() is None:
            p.kill()
            p.wait()
    CHILDREN.clear()


def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class Netns:
    """A namespace with a veth pair TX <-> RX, deleted at exit (atexit and SIGTERM)."""

    def __init__(self) -> None:
        self.name = "fpbench-%d" % os.getpid()
        run(["ip", "netns", "add", self.name])
        atexit.register(self.delete)
        atexit.register(_kill_children)  # runs first (atexit is last-in, first-out)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        n = ["ip", "-n", self.name]
        run(n + ["link", "add", TX, "type", "veth", "peer", "name", RX])
        self.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                   "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        for dev in (TX, RX):
            self.exec(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev], check=False)
            run(n + ["link", "set", dev, "up"])

    def exec(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", self.name] + cmd, check=check)

    def prefix(self, cpu: int | None) -> list[str]:
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        return ["ip", "netns", "exec", self.name] + pin

    def rx_packets(self) -> int:
        out = run(["ip", "-n", self.name, "-s", "-j", "link", "show", RX]).stdout
        return int(json.loads(out)[0]["stats64"]["rx"]["packets"])

    def delete(self) -> None:
        if self.name:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            self.name = ""


def replay(ns: Netns, a, pcap: str, pcap_packets: int, pps: int | None, count: int) -> dict:
    """Send `count` frames at `pps` (None: as fast as possible) from TX; returns sent, seconds
    and the achieved rate as the sender reports them."""
    if a.sender == "tcpreplay":
        cmd = ns.prefix(a.cpu_tx) + ["tcpreplay", "-i", TX, "-K", "--limit", str(count)]
        loops = math.ceil(count / pcap_packets)
        if loops > 1:
            cmd += ["--loop", str(loops)]
        cmd += ["--topspeed"] if pps is None else ["--pps", str(pps)]
        p = run(cmd + [pcap], check=False)
        m = re.search(r"Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds", p.stdout)
        if not m:
            raise RuntimeError("tcpreplay: %s" % (p.stderr or p.stdout)[-400:])
        failed = re.search(r"Failed packets:\s+(\d+)", p.stdout)
        sent, secs = int(m.group(1)), float(m.group(3))
        return {"sent": sent, "seconds": secs, "failed": int(failed.group(1)) if failed else 0,
                "pps": sent / secs if secs else 0.0}
    cmd = ns.prefix(a.cpu_tx) + [sys.executable, os.path.abspath(__file__), "--child", "sender",
                                 pcap, TX, str(count), str(pps or 0)]
    p = run(cmd, check=False)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError("sender: %s" % p.stderr[-400:])
    d = json.loads(lines[-1])
    d["pps"] = d["sent"] / d["seconds"] if d["seconds"] else 0.0
    return d


# ------------------------------------------------------------------ one tool, one step
def _read_line(stream, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        r, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if r:
            line = stream.readline()
            return line if line else None
    return None


def _start_python(ns: Netns, a, args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(ns.prefix(a.cpu_rx) + [sys.executable, os.path.abspath(__file__),
                                                "--child"] + args,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT, env=env)
    CHILDREN.add(p)
    return p


def measure_python(ns: Netns, a, args: list[str], traffic) -> dict:
    p = _start_python(ns, a, args)
    try:
        line = _read_line(p.stdout, time.monotonic() + 60)
        if line is None or line.strip() != "READY":
            p.kill()
            _, err = p.communicate()
            return {"error": "did not start: %s" % (err or line or "")[-300:]}
        rx0 = ns.rx_packets()
        sent = traffic()
        arrived = ns.rx_packets() - rx0
        p.stdin.write("stop\n")
        p.stdin.flush()
        try:
            out, err = p.communicate(timeout=a.stall_timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return {"error": "STALL: no exit %.0f s after the traffic ended" % a.stall_timeout,
                    "arrived": arrived, "tx": sent}
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if not lines:
            return {"error": "exit %s: %s" % (p.returncode, err[-300:]), "arrived": arrived, "tx": sent}
        d = json.loads(lines[-1])
        return dict(d, arrived=arrived, tx=sent)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        CHILDREN.discard(p)


def measure_tcpdump(ns: Netns, a, traffic) -> dict:
    cmd = ns.prefix(a.cpu_rx) + ["tcpdump", "-i", RX, "-n", "-w", "/dev/null"]
    if a.tcpdump_buffer_mb:
        cmd += ["-B", str(int(a.tcpdump_buffer_mb * 1024))]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    CHILDREN.add(p)
    try:
        line = _read_line(p.stderr, time.monotonic() + 20)
        if line is None or "listening on" not in line:
            p.kill()
            return {"error": "tcpdump did not start: %s" % (line or "")}
        rx0 = ns.rx_packets()
        sent = traffic()
        arrived = ns.rx_packets() - rx0
        time.sleep(TCPDUMP_WAIT_S)
        p.send_signal(signal.SIGINT)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)

        def num(what):
            m = re.search(r"(\d+) packets? %s" % what, err)
            return int(m.group(1)) if m else None
        d = {"delivered": num("captured"), "received": num("received by filter"),
             "dropped": num("dropped by kernel"), "cpu": ru.ru_utime + ru.ru_stime,
             "arrived": arrived, "tx": sent}
        if d["delivered"] is None:
            d["error"] = "no tcpdump summary: %s" % err[-200:]
        return d
    finally:
        if p.returncode is None and p.poll() is None:
            p.kill()
            p.wait()
        CHILDREN.discard(p)


def measure(ns: Netns, a, tool: str, traffic) -> dict:
    how = TOOLS[tool][1]
    if how[0] == "fastpkt":
        opts = dict(a.fp_options, **how[2])
        return measure_python(ns, a, ["fastpkt", how[1], RX, json.dumps(opts)], traffic)
    if how[0] == "scapy":
        return measure_python(ns, a, ["scapy", RX], traffic)
    return measure_tcpdump(ns, a, traffic)


RING_PROBES = ({}, {"immediate": True}, {"immediate": True, "buffer_size": 128 << 20},
               {"immediate": True, "snaplen": 2048})


def child_ring_probe(iface: str, tx: str, pcap: str, burst: int) -> dict:
    """How many packets a Capture's kernel ring holds while nobody reads it: open, send a
    burst at top speed, read the counters. Runs inside the namespace."""
    import fastpkt as fp

    out = []
    for kw in RING_PROBES:
        cap = fp.Capture(iface, **kw)
        subprocess.run(["tcpreplay", "-q", "-i", tx, "-K", "--topspeed", "--limit", str(burst),
                        pcap], capture_output=True)
        time.sleep(0.2)
        st = cap.stats()
        cap.close()
        out.append({"options": kw, "received": st["received"], "dropped": st["dropped"],
                    "held": st["received"] - st["dropped"]})
    return {"probes": out}


def verdict(r: dict) -> bool:
    """Clean step: no kernel drops and every packet that reached the interface delivered."""
    if "error" in r:
        return False
    dropped = r.get("dropped")
    return (dropped is None or dropped == 0) and r.get("delivered", -1) >= r["arrived"]


# ------------------------------------------------------------------ main
def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 rate steps of ~1 s (about 1 min)")
    ap.add_argument("--pcap", help="replay this capture instead of the generated one")
    ap.add_argument("--packets", type=int, default=100_000, help="size of the generated capture")
    ap.add_argument("--rates", help="comma-separated packets/s steps, 'max' = as fast as the "
                    "sender goes (default %s; --quick %s)" % (FULL_RATES, QUICK_RATES))
    ap.add_argument("--seconds", type=float, help="traffic per step (default 2; --quick 1)")
    ap.add_argument("--min-packets", type=int, default=2000, help="at least this many per step")
    ap.add_argument("--max-packets", type=int, help="packets in the 'max' step (default 200000; "
                    "--quick 100000)")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: "
                    + ", ".join(v[0] for v in TOOLS.values()) + ", ring (the ring probe)")
    ap.add_argument("--retries", type=int, default=1,
                    help="run a lossy step again up to this many times (other load on the box)")
    ap.add_argument("--give-up", type=int, default=2,
                    help="stop raising a tool's rate after this many lossy steps in a row")
    ap.add_argument("--sender", choices=("auto", "tcpreplay", "python"), default="auto")
    ap.add_argument("--fp-options", default="{}", help="JSON Capture/sniff options for every "
                    "fastpkt row, e.g. '{\"snaplen\": 2048}' or '{\"buffer_size\": 134217728}'")
    ap.add_argument("--tcpdump-buffer-mb", type=float, default=0,
                    help="tcpdump -B in MiB (0: tcpdump's default, 2 MiB)")
    ap.add_argument("--stall-timeout", type=float, default=20.0)
    ap.add_argument("--json", help="also append the results as JSON lines here")
    a = ap.parse_args()
    a.fp_options = json.loads(a.fp_options)
    a.rates = a.rates or (QUICK_RATES if a.quick else FULL_RATES)
    a.seconds = a.seconds or (1.0 if a.quick else 2.0)
    a.max_packets = a.max_packets or (100_000 if a.quick else 200_000)
    if a.sender == "auto":
        a.sender = "tcpreplay" if shutil.which("tcpreplay") else "python"
    two = (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
    a.cpu_tx, a.cpu_rx = (0, 1) if two else (None, None)
    return a


def pcap_count(path: str, fallback: int) -> int:
    truth = path + ".truth.json"
    if os.path.exists(truth):
        with open(truth) as f:
            n = json.load(f).get("total_packets")
        if n:
            return int(n)
    try:
        import fastpkt as fp
        with fp.Reader(path) as r:
            return r.count()
    except Exception:  # noqa: BLE001
        return fallback


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "-"
    return "%gk" % round(r / 1e3, 1) if r >= 1e3 else "%.0f" % r


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    a = parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.geteuid() != 0:
        print("bench_live: needs root (network namespace + packet sockets); skipped")
        return 0
    for need in ("ip", "tcpdump"):
        if not shutil.which(need):
            print("bench_live: %s not found" % need)
            return 1
    t_start = time.monotonic()
    pcap = a.pcap or ensure_pcap(a.packets)
    npcap = pcap_count(pcap, a.packets)
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    tools = [t for t, (slug, _) in TOOLS.items() if slug not in skip and t not in skip]
    rates = [None if r.strip() == "max" else int(float(r)) for r in a.rates.split(",")]
    ns = Netns()
    print("namespace %s: %s -> %s (veth); sender %s%s; capture %s (%d packets)" % (
        ns.name, TX, RX, a.sender, " on CPU %s, tools on CPU %s" % (a.cpu_tx, a.cpu_rx)
        if a.cpu_tx is not None else "", pcap, npcap), flush=True)
    # warm the page cache and the sender once (not measured)
    replay(ns, a, pcap, npcap, None, min(npcap, 20000))

    rows: list[tuple[str, dict]] = []
    lossy_run = {t: 0 for t in tools}
    sustained: dict[str, dict] = {}   # highest step with this and every lower step clean
    highest: dict[str, dict] = {}     # highest clean step at all
    first_bad: dict[str, dict] = {}   # first step still lossy after the retries
    lossy_tries = {t: 0 for t in tools}
    head = "%-6s %-18s %9s %8s %8s %8s %6s %6s %6s  %s"
    print("\n" + head % ("step", "tool", "sent pps", "arrived", "captured", "k.drops", "lost",
                         "CPU s", "us/pkt", "verdict / note"), flush=True)
    for pps in rates:
        count = a.max_packets if pps is None else max(a.min_packets, int(pps * a.seconds))
        for tool in tools:
            if lossy_run[tool] >= a.give_up:
                continue
            for attempt in range(1 + a.retries):
                r = run_step(ns, a, tool, pcap, npcap, pps, count)
                r["attempt"] = attempt
                rows.append((tool, r))
                ok = verdict(r)
                print_step(head, r, ok)
                if ok:
                    break
                lossy_tries[tool] += 1
            if ok:
                lossy_run[tool] = 0
                if (r["sent_pps"] or 0) >= (highest.get(tool, {}).get("sent_pps") or 0):
                    highest[tool] = r
                if tool not in first_bad and ((r["sent_pps"] or 0) >=
                                              (sustained.get(tool, {}).get("sent_pps") or 0)):
                    sustained[tool] = r
            else:
                lossy_run[tool] += 1
                first_bad.setdefault(tool, r)

    summary(tools, sustained, highest, first_bad, lossy_tries, rows, a, time.monotonic() - t_start)
    if "ring" not in skip:
        ring_probe(ns, a, pcap)
    write_json_rows(a.json, rows, pcap)
    return 0


def run_step(ns: Netns, a, tool: str, pcap: str, npcap: int, pps: int | None, count: int) -> dict:
    """One tool on one replay of `count` frames at `pps`."""
    tx: dict = {}

    def traffic():
        tx.update(replay(ns, a, pcap, npcap, pps, count))
        return tx["sent"]
    r = measure(ns, a, tool, traffic)
    r.update(step=fmt_rate(pps) if pps else "max", tool=tool, requested_pps=pps,
             sent_pps=tx.get("pps"), sender_failed=tx.get("failed", 0))
    return r


def print_step(head: str, r: dict, ok: bool) -> None:
    arrived = r.get("arrived", 0)
    delivered = r.get("delivered")
    lost = (arrived - delivered) if delivered is not None else None
    notes = [r["error"]] if "error" in r else []
    if r.get("attempt"):
        notes.append("retry %d" % r["attempt"])
    if r.get("dropped") is None and "error" not in r:
        notes.append("no kernel counter")
    elif r.get("dropped") == 0 and lost:
        notes.append("captured < arrived with 0 kernel drops")
    if r.get("api") == "Capture loop" and "sniff" in r["tool"]:
        notes.append("Capture loop (no fp.sniff)")
    if "flows" in r:
        notes.append("%d flows" % r["flows"])
    cpu = r.get("cpu")
    print(head % (
        r["step"], r["tool"], "{:,.0f}".format(r["sent_pps"] or 0), arrived,
        delivered if delivered is not None else "-",
        r.get("dropped") if r.get("dropped") is not None else "-",
        "%.1f%%" % (100.0 * lost / arrived) if lost is not None and arrived else "-",
        "%.2f" % cpu if cpu is not None else "-",
        "%.2f" % (1e6 * cpu / delivered) if cpu and delivered else "-",
        " ".join(["ok" if ok else "LOSS"] + ["; ".join(notes)])), flush=True)


def zero_drop_rate(tool: str, sustained: dict, first_bad: dict) -> tuple[float | None, float | None]:
    """(sent pps of the tool's sustained zero-drop step, or None; sent pps of its first lossy
    step, or None). A tool lossy at its first step has its zero-drop rate below that step's."""
    r, bad = sustained.get(tool), first_bad.get(tool)
    return (r["sent_pps"] if r else None), (bad.get("sent_pps") if bad else None)


def ratio(tool: str, other: str, sustained: dict, first_bad: dict) -> str:
    """tool's zero-drop rate over other's. A rate clean at the fastest step is a lower bound
    ('>'), a tool lossy at its first step has an upper bound ('<' its first step)."""
    if tool == other:
        return "-"
    mine, mine_bad = zero_drop_rate(tool, sustained, first_bad)
    theirs, theirs_bad = zero_drop_rate(other, sustained, first_bad)
    mine_open, theirs_open = mine and not mine_bad, theirs and not theirs_bad
    if mine_open and theirs_open:
        return "both clean"
    theirs = theirs or theirs_bad  # lossy from the start: its rate is below that step
    if not mine or not theirs:
        return "-"
    sign = ">" if mine_open or not sustained.get(other) else ""
    if theirs_open:
        sign = "<"
    v = mine / theirs
    return "%s%sx" % (sign, "%.0f" % v if v >= 10 else "%.2f" % v if v >= 0.1 else "%.3f" % v)


def summary(tools, sustained, highest, first_bad, lossy_tries, rows, a, elapsed: float) -> None:
    top = max((r.get("sent_pps") or 0 for _, r in rows), default=0)
    print("\nzero-drop rate = the highest step at which this and every slower step were clean "
          "(each given %d retr%s); sent pps as the sender measured it; '>' = clean up to the "
          "fastest step" % (a.retries, "y" if a.retries == 1 else "ies"))
    head = "%-18s %11s %6s %10s %11s %8s %6s  %s"
    print(head % ("tool", "zero-drop", "step", "vs scapy", "vs tcpdump", "best ok", "lossy",
                  "first step lossy after retries"))
    for tool in tools:
        r, bad, hi = sustained.get(tool), first_bad.get(tool), highest.get(tool)
        rate, _ = zero_drop_rate(tool, sustained, first_bad)
        if bad:
            lostn = bad.get("arrived", 0) - (bad.get("delivered") or 0)
            bad_s = "%s (%s pps): %s of %s lost, %s kernel drops%s" % (
                bad["step"], "{:,.0f}".format(bad.get("sent_pps") or 0), lostn,
                bad.get("arrived", "?"), bad.get("dropped", "-"),
                " [%s]" % bad["error"] if "error" in bad else "")
        else:
            bad_s = "none"
        if rate:
            shown = ("> " if not bad and r.get("step") == "max" else "") + "{:,.0f}".format(rate)
        else:
            shown = "< %s" % fmt_rate(bad.get("sent_pps")) if bad else "none"
        print(head % (tool, shown, r["step"] if r else "-",
                      ratio(tool, "scapy sniff", sustained, first_bad),
                      ratio(tool, "tcpdump -w", sustained, first_bad),
                      hi["step"] if hi else "-", lossy_tries[tool], bad_s))
    print("\n(best ok = fastest clean step at all; lossy = lossy tries, retries included. 'max' = "
          "the sender's top speed, %s pps at best here; %s, sender on CPU %s, tools on CPU %s; "
          "%.0f s)" % ("{:,.0f}".format(top), "tcpreplay -K" if a.sender == "tcpreplay"
                       else "raw AF_PACKET sender", a.cpu_tx, a.cpu_rx, elapsed), flush=True)


def ring_probe(ns: Netns, a, pcap: str, burst: int = 20000) -> None:
    """Show how many packets fastpkt's kernel ring holds with nobody reading (the slack a
    Python consumer has before drops start)."""
    if a.sender != "tcpreplay":
        return
    p = run(ns.prefix(a.cpu_rx) + [sys.executable, os.path.abspath(__file__), "--child", "ring",
                                   RX, TX, pcap, str(burst)], check=False, cwd=ROOT)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        print("ring probe failed: %s" % p.stderr[-300:])
        return
    print("\nfastpkt kernel ring with nobody reading: a %d-packet burst at top speed" % burst)
    for pr in json.loads(lines[-1])["probes"]:
        opts = ", ".join("%s=%s" % kv for kv in pr["options"].items()) or "defaults"
        print("  Capture(%-30s holds %6d packets (%d dropped)" % (opts + ")", pr["held"],
                                                                 pr["dropped"]))


if __name__ == "__main__":
    sys.exit(main())
