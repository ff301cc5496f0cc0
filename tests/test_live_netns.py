"""Live capture (fp.Capture, fp.sniff, fp.AsyncSniffer, engines on a Capture) on real traffic.

Root only (skips otherwise, or without `ip netns`/tcpdump). Everything happens inside network
namespaces this module creates (tests/_netns.Netns: lo up, MTU 1500, offloads off): the
captures run there (`ip netns exec NS python -c ...` children) and all traffic is between
sockets on 127.0.0.1 / ::1 of that namespace, so nothing from the host is captured and
nothing leaves it. The DNS test uses the routed lab (tests/_netns.Lab: its private
10.13.1.0/24 and fd13:1::/64 between namespaces it creates).

On loopback libpcap sees every packet twice (the transmit tap, marked outgoing, and the
receive tap) and drops the outgoing copy in user space, as tcpdump does; its counters
(`received`, tcpdump's "packets received by filter") count both copies. Scapy's default
L2ListenSocket keeps both copies, so the Scapy side of the comparisons sniffs with
`L2socket=conf.L2socket`, which drops outgoing packets: the same view as libpcap.

Covered: fastpkt and tcpdump capture the same packets (bytes, lengths, order) and
agree on libpcap's counters; sniff()'s filter/count/timeout/stop_filter/prn/store/lfilter
against Scapy's sniff() on the same traffic; Ctrl+C (SIGINT) ends an idle capture in every
form (Capture loop, sniff, engine, AsyncSniffer.join); RSS stays flat over 200
Capture open/close cycles and over 1.2M captured packets; the documented exceptions for a
missing interface, a bad filter and missing privileges (capsh and setpriv); AsyncSniffer
start/stop/join; sniff(write=..., rotate_bytes/rotate_seconds) files; fp.flows / fp.streams /
fp.client_hellos on a live Capture hand out records while the capture is running; and the
live examples (examples/*.py --iface lo) print what they print on the sample capture when
the sample is replayed onto lo; fp.dns on the capture of dig asking a real DNS server
(dnsmasq) over UDP and TCP agrees with dig's output and tshark's pairing.

No assertion depends on the machine's speed: the tests wait for events (a child's READY line
once its capture is armed, a thread blocked in the capture's poll(), the packets in a file,
a server socket gone after the final ACK) with deadlines that only bound a failure, and the
few sleeps left shape traffic (pacing, gaps between packets) and say so.
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import fastpkt as fp
from _netns import Netns, NetnsError, PcapCounter, requirements, run, wait_until

GUARD_S = 60.0  # failure guard for every wait in the test process; never the expected path
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PY = sys.executable
# children (and the examples, whose own directory comes first on sys.path) import this
# checkout's fastpkt, not whichever one the interpreter has installed
CHILD_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))

# ------------------------------------------------------------------ child scripts
PRELUDE = r'''
import json, os, socket, sys, threading, time
SPEC = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}

def emit(tag, obj=None):
    print(tag if obj is None else tag + " " + json.dumps(obj), flush=True)

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def udp_sink(host, port):
    """A bound receiver, so that datagrams draw no ICMP port-unreachable."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.bind((host, port))
    return s

def send_udp(host, port, payloads, gap=0.0):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    for p in payloads:
        s.sendto(p, (host, port))
        if gap:
            time.sleep(gap)  # traffic shaping: packets spread in time (rotation, pacing)
    s.close()

GUARD = 60.0  # seconds: bounds a failure only; every wait below ends on its event

def wait_until(predicate, what, interval=0.005):
    deadline = time.monotonic() + GUARD
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("never happened within %d s: %s" % (GUARD, what))
        time.sleep(interval)

def in_capture_wait(tid):
    """The thread is blocked in the capture's poll() (an idle capture waiting for packets)."""
    try:
        with open("/proc/self/task/%d/wchan" % tid) as f:
            return "poll" in f.read()
    except OSError:
        return False

def tcp_port_busy(port):
    """A TCP socket on local port `port` other than the listener (e.g. a server socket in
    LAST_ACK, waiting for the final ACK) - /proc/net/tcp{,6}, state 0A is LISTEN."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] != "0A":
                return True
    return False

def line_server(host, port):
    """Answers every line with b're:' + line; closes after the client's FIN."""
    ls = socket.socket(family(host))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    def serve():
        while True:
            c, _ = ls.accept()
            f = c.makefile("rb")
            for line in f:
                c.sendall(b"re:" + line)
            f.close()   # makefile() holds the descriptor: close both to send the FIN
            c.close()
    threading.Thread(target=serve, daemon=True).start()

def talk(host, port, messages):
    c = socket.create_connection((host, port), timeout=10)
    f = c.makefile("rb")
    for m in messages:
        c.sendall(m)
        assert f.readline() == b"re:" + m
    c.shutdown(socket.SHUT_WR)
    assert f.read() == b""
    f.close()
    c.close()
'''

# Traffic for the tcpdump comparison: UDP v4/v6 datagrams of many sizes, TCP v4/v6
# conversations (segments up to the MSS), then the END datagram the fastpkt child stops at.
TRAFFIC_TCPDUMP = PRELUDE + r'''
sinks = [udp_sink("127.0.0.1", 5001)] + ([udp_sink("::1", 5001)] if SPEC["ipv6"] else [])
hosts = ["127.0.0.1"] + (["::1"] if SPEC["ipv6"] else [])
for h in hosts:
    line_server(h, 5002)
payloads = [b"u%04d" % i + b"x" * (i * 7 % 1400) for i in range(SPEC["udp"])]
send_udp("127.0.0.1", 5001, payloads)
if SPEC["ipv6"]:
    send_udp("::1", 5001, payloads[: SPEC["udp6"]])
messages = [b"m%03d " % i + b"y" * (i * 211 % 3000) + b"\n" for i in range(SPEC["messages"])]
for h in hosts:
    talk(h, 5002, messages)
# END must come after the last TCP packet: wait until the servers got the final ACKs (their
# sockets are gone), i.e. those ACKs went past the capture tap
wait_until(lambda: not tcp_port_busy(5002), "the TCP conversations on 5002 closed")
send_udp("127.0.0.1", 5001, [b"END"])
emit("SENT")
'''

CAPTURE_UNTIL_END = PRELUDE + r'''
import fastpkt as fp
cap = fp.Capture("lo", filter=SPEC["filter"])
emit("READY")
w = fp.Writer(SPEC["out"], linktype=cap.linktype, snaplen=cap.snaplen, nanosecond=cap.nanosecond)
for p in cap:
    w.write(p)
    if p.udp is not None and p.payload == b"END":
        break
stats = cap.stats()
w.close()
cap.close()
emit("RESULT", stats)
'''

# One process per library; each runs every scenario in its own thread on the same traffic.
SNIFF_SCENARIOS = PRELUDE + r'''
T = SPEC["T"]
if SPEC["lib"] == "scapy":
    from scapy.all import TCP, UDP, conf
    from scapy.all import sniff as scapy_sniff
    def sniff(**kw):
        return scapy_sniff(iface="lo", L2socket=conf.L2socket, **kw)
    def payload(p):
        if UDP in p:
            return bytes(p[UDP].payload)
        if TCP in p:
            return bytes(p[TCP].payload)
        return b""
    def flags(p):
        return int(p[TCP].flags) if TCP in p else None
else:
    import fastpkt as fp
    def sniff(**kw):
        return fp.sniff(iface="lo", **kw)
    def payload(p):
        return p.payload
    def flags(p):
        return int(p.tcp.flags) if p.tcp is not None else None

def key(p):
    return [payload(p).decode("latin-1"), flags(p)]

def even_b(p):
    return int(payload(p)[1:]) % 2 == 0

SCENARIOS = {
    "count": dict(filter="udp port 5101", count=5),
    "stop_filter": dict(filter="udp port 5101", stop_filter=lambda p: payload(p) == b"STOP"),
    "lfilter_count": dict(filter="udp port 5102", lfilter=even_b, count=5),
    "lfilter_store_false": dict(filter="udp port 5102", lfilter=even_b, count=3, store=False),
    "prn_store_false": dict(filter="udp port 5104", prn=lambda p: "PRN " + payload(p).decode(),
                            store=False, count=6),
    # the one sniff with traffic that ends on its timeout: the window T only has to hold the
    # exchange (a few ms, sent once every sniff is armed); its packets are what is compared
    "tcp_timeout": dict(filter="tcp port 5103", timeout=T),
    "no_bpf_lfilter": dict(lfilter=lambda p: payload(p).startswith(b"b"), count=20),
    # a quiet port: ends on its timeout with nothing (returning at all is the point)
    "idle_timeout": dict(filter="udp port 5999", timeout=1.0),
}
results = {}
armed = threading.Barrier(len(SCENARIOS) + 1)

def run(name, kw):
    r = sniff(started_callback=lambda: armed.wait(GUARD), **kw)
    results[name] = {"packets": [key(p) for p in r], "len": len(r)}

emit("LOADED")
sys.stdin.readline()
threads = [threading.Thread(target=run, args=item) for item in SCENARIOS.items()]
for t in threads:
    t.start()
armed.wait(GUARD)  # every sniff has called started_callback: its capture is armed
emit("READY")
for t in threads:
    t.join()
emit("RESULT", results)
'''

TRAFFIC_SNIFF = PRELUDE + r'''
sinks = [udp_sink("127.0.0.1", p) for p in (5101, 5102, 5104)]
line_server("127.0.0.1", 5103)
emit("LOADED")
sys.stdin.readline()  # GO: every sniff is armed
a = [b"a%d" % i for i in range(30)]
send_udp("127.0.0.1", 5101, a[:15] + [b"STOP"] + a[15:], gap=0.002)
send_udp("127.0.0.1", 5102, [b"b%d" % i for i in range(20)], gap=0.002)
talk("127.0.0.1", 5103, [b"m%d hello\n" % i for i in range(4)])
send_udp("127.0.0.1", 5104, [b"p%d" % i for i in range(6)], gap=0.002)
emit("SENT")
'''

CTRL_C = PRELUDE + r'''
import fastpkt as fp
mode = SPEC["mode"]
if mode == "capture":
    cap = fp.Capture("lo")
    emit("READY")
    for p in cap:
        pass
elif mode == "sniff":
    r = fp.sniff(iface="lo", prn=lambda p: None, started_callback=lambda: emit("READY"))
    emit("RETURNED", len(r))
elif mode == "scapy_facade":
    from fastpkt.scapy import sniff
    r = sniff(iface="lo", store=False, started_callback=lambda: emit("READY"))
    emit("RETURNED", len(r))
elif mode == "flows":
    flows = fp.flows(fp.Capture("lo"))
    emit("READY")
    for f in flows:
        pass
elif mode == "async_join":
    t = fp.AsyncSniffer(iface="lo")
    t.start()
    emit("READY")
    t.join()
'''

LEAK_CYCLES = PRELUDE + r'''
import fastpkt as fp
for i in range(20):
    fp.Capture("lo", filter="udp port 5999").close()
before = rss_kib()
for i in range(SPEC["cycles"]):
    if i % 2:
        with fp.Capture("lo", filter="udp port 5999") as c:
            c.stats()
    else:
        c = fp.Capture("lo", filter="udp port 5999", snaplen=128, buffer_size=1 << 20)
        c.close()
        c.close()
emit("RESULT", {"before": before, "after": rss_kib()})
'''

LEAK_PACKETS = PRELUDE + r'''
import fastpkt as fp
warm, half = SPEC["warm"], SPEC["half"]
cap = fp.Capture("lo", filter="tcp port 5500", snaplen=128, duration=SPEC["limit_s"])
emit("READY")
n = 0
for p in cap:
    n += 1
    if n >= warm:
        break
before = rss_kib()
for p in cap:                      # plain iteration
    n += 1
    if n >= warm + half:
        break
seen = [0, 0]
def prn(p):
    seen[0] += 1
    seen[1] += p.tcp.dport + len(p.payload)   # touch the packet
r = fp.sniff(opened_socket=cap, store=False, prn=prn, count=half)
n += seen[0]
emit("RESULT", {"before": before, "after": rss_kib(), "packets": n,
                "stats": cap.stats(), "sniff_stats": r.stats})
cap.close()
'''

LEAK_SENDER = r'''
import socket, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 5500))
ls.listen(1)
def drain():
    c, _ = ls.accept()
    while c.recv(1 << 20):
        pass
threading.Thread(target=drain, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 100)   # the kernel cuts 1 MiB into ~12k segments
# a small send buffer keeps the segments in flight below the per-CPU receive backlog (1000):
# the default one overflows it by ~100k packets a second, and that backlog is shared by every
# namespace, so the flood made other loopback tests on the machine lose packets; as fast
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
s.connect(("127.0.0.1", 5500))
data = b"z" * (1 << 20)
print("SENDING", flush=True)
while True:
    s.sendall(data)
'''

ERRORS = PRELUDE + r'''
import fastpkt as fp
out = {}
def check(name, fn):
    try:
        fn()
        out[name] = None
    except Exception as e:
        out[name] = {"type": type(e).__name__, "message": str(e),
                     "CaptureError": isinstance(e, fp.CaptureError),
                     "PermissionError": isinstance(e, PermissionError),
                     "Error": isinstance(e, fp.Error)}
iface = SPEC["iface"]
flt = SPEC.get("filter")
check("Capture", lambda: fp.Capture(iface, filter=flt))
check("sniff", lambda: fp.sniff(iface=iface, filter=flt, count=1, timeout=0.2))
check("AsyncSniffer.start", lambda: fp.AsyncSniffer(iface=iface, filter=flt).start())
check("scapy.sniff", lambda: __import__("fastpkt.scapy").scapy.sniff(iface=iface, filter=flt, count=1, timeout=0.2))
emit("RESULT", out)
'''

ASYNC = PRELUDE + r'''
import fastpkt as fp
out = {}
sinks = [udp_sink("127.0.0.1", p) for p in (5201, 5202)]
# 1. start, traffic, stop: results hold the packets; the thread ends at once
t = fp.AsyncSniffer(iface="lo", filter="udp port 5201")
t.start()
out["running_after_start"] = t.running
send_udp("127.0.0.1", 5201, [b"s%d" % i for i in range(10)])
wait_until(lambda: t.count >= 10, "the AsyncSniffer got its 10 packets")
res = t.stop()
out["payloads"] = [p.payload.decode() for p in res]
out["results_is_res"] = t.results is res
out["running_after_stop"] = t.running
out["thread_alive"] = t.thread.is_alive()
out["stats"] = t.stats()
# 2. stop on an idle link, while the sniffer thread waits in the capture's poll()
t = fp.AsyncSniffer(iface="lo", filter="udp port 5999")
t.start()
wait_until(lambda: in_capture_wait(t.thread.native_id), "the sniffer thread waits for packets")
out["idle_len"] = len(t.stop())
out["idle_running"] = t.running
out["idle_thread_alive"] = t.thread.is_alive()
# 3. ends by itself (count); join returns the results; stop() afterwards returns them too
t = fp.AsyncSniffer(iface="lo", filter="udp port 5202", count=3, prn=lambda p: None)
t.start()
send_udp("127.0.0.1", 5202, [b"c%d" % i for i in range(6)])
res = t.join(timeout=GUARD)
out["count_len"] = None if res is None else len(res)
out["count_running"] = t.running
out["count_stop_len"] = len(t.stop())
# 4. timeout on a quiet port: it ends by itself (join's timeout is only a guard)
t = fp.AsyncSniffer(iface="lo", filter="udp port 5999", timeout=0.5)
t.start()
res = t.join(timeout=GUARD)
out["timeout_len"] = None if res is None else len(res)
out["timeout_running"] = t.running
# 5. stop() from a callback's thread of view: stop_filter ends it; restart works
t = fp.AsyncSniffer(iface="lo", filter="udp port 5201", stop_filter=lambda p: p.payload == b"x2")
t.start()
send_udp("127.0.0.1", 5201, [b"x%d" % i for i in range(5)])
res = t.join(timeout=GUARD)
out["stop_filter_payloads"] = [p.payload.decode() for p in res]
t.start()
send_udp("127.0.0.1", 5201, [b"x%d" % i for i in range(5)])
res = t.join(timeout=GUARD)
out["restart_payloads"] = [p.payload.decode() for p in res]
emit("RESULT", out)
'''

WRITE = PRELUDE + r'''
import fastpkt as fp
d = SPEC["dir"]
out = {}
sinks = [udp_sink("127.0.0.1", p) for p in (5301, 5302)]
payloads = [b"w%04d" % i + b"." * 100 for i in range(300)] + [b"END"]
def sender(port, items, gap):
    threading.Thread(target=send_udp, args=("127.0.0.1", port, items, gap)).start()
def keep(p):
    return p.payload == b"END" or int(p.payload[1:5]) % 2 == 0
r = fp.sniff(iface="lo", filter="udp port 5301", write=os.path.join(d, "rot.pcap"), rotate_bytes=4096,
             lfilter=keep, stop_filter=lambda p: p.payload == b"END",
             started_callback=lambda: sender(5301, payloads, 0.0005))
out["kept"] = [p.payload[:5].decode() for p in r]
# traffic shaping: 12 packets at least 0.1 s apart span >= 1.1 s of packet time, so rotation
# by packet time every 0.25 s makes >= 4 files however slow the machine is
r = fp.sniff(iface="lo", filter="udp port 5302", write=os.path.join(d, "sec.pcap"), rotate_seconds=0.25,
             count=12, store=False, started_callback=lambda: sender(5302, [b"t%02d" % i for i in range(12)], 0.1))
out["sec_len"] = len(r)
emit("RESULT", out)
'''

ENGINES = PRELUDE + r'''
import hashlib, random, ssl
import fastpkt as fp
# no duration: the captures run until stop(), which comes only once every expected record
# has been handed out - so a record handed out at all was handed out while its capture ran
caps = {"flows": fp.Capture("lo", filter="tcp port 5401 or udp port 5402"),
        "streams": fp.Capture("lo", filter="tcp port 5401"),
        "hellos": fp.Capture("lo", filter="tcp port 5403")}
# idle_timeout=1.0: the UDP flow expires by the wall clock while the capture is quiet
engines = {"flows": fp.flows(caps["flows"], idle_timeout=1.0),
           "streams": fp.streams(caps["streams"]),
           "hellos": fp.client_hellos(caps["hellos"])}
stopping = threading.Event()
cond = threading.Condition()
got = {name: [] for name in engines}
def pump(name):
    for rec in engines[name]:
        with cond:
            got[name].append((not stopping.is_set(), rec))
            cond.notify_all()
threads = [threading.Thread(target=pump, args=(n,)) for n in engines]
for t in threads:
    t.start()
rng = random.Random(7)
request, response = rng.randbytes(5000), rng.randbytes(70000)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 5401))
ls.listen(1)
def serve():
    c, _ = ls.accept()
    got_req = b""
    while len(got_req) < len(request):
        got_req += c.recv(65536)
    c.sendall(response)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
threading.Thread(target=serve).start()
c = socket.create_connection(("127.0.0.1", 5401))
c.sendall(request)
data = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
c.close()
assert data == response
sink = udp_sink("127.0.0.1", 5402)
send_udp("127.0.0.1", 5402, [b"q1", b"q2", b"q3"])
# a ClientHello to a server that reads it and hangs up
ts = socket.socket()
ts.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ts.bind(("127.0.0.1", 5403))
ts.listen(1)
def hang_up():
    c, _ = ts.accept()
    c.recv(65536)
    c.close()
threading.Thread(target=hang_up).start()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", 5403)), server_hostname="live.fastpkt.test"):
        pass
except (ssl.SSLError, OSError):
    pass

def all_in():
    ports = {(f.protocol_name, f.dst_port) for _, f in got["flows"]}
    return {("TCP", 5401), ("UDP", 5402)} <= ports and got["streams"] and got["hellos"]

with cond:
    complete = cond.wait_for(all_in, timeout=GUARD)
stopping.set()
for c in caps.values():
    c.stop()
for t in threads:
    t.join(GUARD)
out = {"complete_while_running": bool(complete), "ended": [not t.is_alive() for t in threads],
       "flows": [], "streams": [], "hellos": []}
for t, f in got["flows"]:
    out["flows"].append({"running": t, "protocol": f.protocol_name, "dst_port": f.dst_port, "conn_state": f.conn_state,
                         "expiration": f.expiration, "packets": f.packets,
                         "fwd_payload_bytes": f.fwd_payload_bytes, "rev_payload_bytes": f.rev_payload_bytes})
for t, s in got["streams"]:
    out["streams"].append({"running": t, "client_ok": s.client_data == request, "server_ok": s.server_data == response,
                           "client_len": len(s.client_data), "server_len": len(s.server_data), "state": s.state,
                           "gaps": len(s.client_gaps) + len(s.server_gaps)})
for t, h in got["hellos"]:
    out["hellos"].append({"running": t, "sni": h.sni, "server_port": h.server_port, "transport": h.transport})
emit("RESULT", out)
'''

REPLAY = r'''
import socket, sys, time
import fastpkt as fp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lo", 0))
n = 0
for p in fp.open(sys.argv[1]):
    s.send(bytes(p))
    n += 1
    time.sleep(0.001)  # traffic shaping: paced so that every example's capture keeps up
print("REPLAYED", n, flush=True)
'''


# ------------------------------------------------------------------ harness
def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    """A Python process in the namespace whose stdout lines are read without blocking."""

    def __init__(self, ns: Netns, script: str, spec: dict | None = None, argv=None, stdin=False, cwd=None,
                 env=None):
        cmd = [PY, "-c", script, json.dumps(spec or {})] if argv is None else argv
        self.proc = ns.popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_sigint_default,
                             cwd=cwd, env=env or CHILD_ENV)
        self.lines: list[str] = []
        self._buf = b""
        self._eof = False

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not r:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        *done, self._buf = self._buf.split(b"\n")
        self.lines += [ln.decode(errors="replace") for ln in done]
        return True

    def wait_for(self, prefix: str, timeout: float = GUARD_S) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ln in self.lines[seen:]:
                if ln.startswith(prefix):
                    return ln
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if self._eof or left <= 0:
                self.proc.kill()
                err = self.proc.stderr.read().decode(errors="replace")
                raise AssertionError("child never printed %r; stdout %r; stderr:\n%s"
                                     % (prefix, self.lines[-20:], err[-3000:]))
            self._read(min(left, 0.5))

    def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = GUARD_S) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while not self._eof and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        if not self._eof:
            self.proc.kill()
        err = self.proc.stderr.read().decode(errors="replace")
        rc = self.proc.wait(timeout=10)
        if self._buf:
            self.lines.append(self._buf.decode(errors="replace"))
            self._buf = b""
        return rc, err

    def result(self, timeout: float = GUARD_S):
        rc, err = self.finish(timeout)
        found = [ln for ln in self.lines if ln.startswith("RESULT ")]
        assert rc == 0 and found, "child failed (rc %s):\n%s\nstdout: %r" % (rc, err[-4000:], self.lines[-20:])
        return json.loads(found[-1][len("RESULT "):])


def _py(ns: Netns, script: str, spec: dict | None = None, timeout: float = 2 * GUARD_S):
    """Run a child to completion and return its RESULT."""
    return Child(ns, script, spec).result(timeout)


@pytest.fixture(scope="module")
def ns():
    why = requirements()
    if why:
        pytest.skip(why)
    try:
        with Netns("fplive") as n:
            yield n
    except NetnsError as exc:
        pytest.skip(str(exc))


FLOODS_LOOPBACK = {"test_rss_flat_over_open_close_cycles_and_1m_packets"}  # TCP copes


@pytest.fixture(autouse=True)
def _loopback_lossless(request):
    """The tests expect every packet sent on lo to arrive. When one failed and the kernel had
    dropped packets before the receive path (its backlog overflowed: something floods loopback
    on this machine), say so at teardown, next to the packet-exact check that failed. A test
    that passed anyway (TCP resent what was lost) is left alone."""
    if "ns" not in request.fixturenames or request.node.originalname in FLOODS_LOOPBACK:
        yield
        return
    n = request.getfixturevalue("ns")
    before, failed = n.lo_dropped(), request.session.testsfailed
    yield
    dropped = n.lo_dropped() - before
    if request.session.testsfailed > failed:  # this test's call failed
        assert dropped == 0, ("the kernel dropped %d packets on lo during this test, before "
                              "any capture (netdev backlog full: loopback flooded on this "
                              "machine)" % dropped)


def _tcpdump(ns: Netns, pcap: Path, flt: str) -> subprocess.Popen:
    dump = ns.popen(["tcpdump", "-i", "lo", "-n", "-U", "-s", "0", "-Z", "root", "-B", "65536",
                     "--immediate-mode", "-w", str(pcap), flt],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = dump.stderr.readline()
    if "listening" not in line:
        dump.kill()
        pytest.fail("tcpdump did not start: %s" % line)
    return dump


def _tcpdump_stop(dump: subprocess.Popen) -> dict[str, int]:
    dump.send_signal(signal.SIGINT)
    _, err = dump.communicate(timeout=GUARD_S)
    counters = {}
    for key, pat in (("received", r"(\d+) packets? received by filter"),
                     ("dropped", r"(\d+) packets? dropped by kernel"),
                     ("captured", r"(\d+) packets? captured")):
        m = re.search(pat, err)
        assert m, "no %r in tcpdump's output: %s" % (key, err)
        counters[key] = int(m.group(1))
    return counters


# ------------------------------------------------------------------ tests
def test_same_packets_and_counters_as_tcpdump(ns, tmp_path):
    """fastpkt and tcpdump side by side: identical packets (bytes, lengths, times to the
    microsecond, order) and the same libpcap counters; the UDP counts are the ones sent."""
    os.chmod(tmp_path, 0o755)
    flt = "udp port 5001 or tcp port 5002"
    ref = tmp_path / "tcpdump.pcap"
    mine = tmp_path / "fastpkt.pcap"
    dump = _tcpdump(ns, ref, flt)
    child = Child(ns, CAPTURE_UNTIL_END, {"filter": flt, "out": str(mine)})
    child.wait_for("READY")
    spec = {"udp": 600, "udp6": 200, "messages": 25, "ipv6": ns.has_ipv6}
    Child(ns, TRAFFIC_TCPDUMP, spec).finish()
    stats = child.result()
    # tcpdump leaves what is still in its ring on SIGINT: stop it once its file holds as many
    # packets as fastpkt delivered up to END (the guard only bounds a capture that lags)
    written = PcapCounter(ref)
    wait_until(lambda: written() >= stats["delivered"], GUARD_S)
    counters = _tcpdump_stop(dump)

    ours, theirs = fp.read(str(mine)), fp.read(str(ref))
    assert stats["dropped"] == 0 and counters["dropped"] == 0, (stats, counters)
    assert stats["received"] == counters["received"], (stats, counters)
    assert stats["delivered"] == len(ours) == len(theirs) == counters["captured"]
    # loopback: each packet passes the filter twice (transmit and receive taps)
    assert stats["received"] == 2 * stats["delivered"]
    assert [p.raw for p in ours] == [p.raw for p in theirs]
    assert [(p.caplen, p.wirelen) for p in ours] == [(p.caplen, p.wirelen) for p in theirs]
    # times: the kernel stamps a packet for each socket when the skb has no stamp yet, so the
    # two captures can differ by a microsecond or so
    assert max(abs(a.time_ns - b.time_ns) for a, b in zip(ours, theirs)) < 1_000_000
    udp = Counter((p.ip is not None, p.payload[:1]) for p in ours if p.udp is not None)
    assert udp[(True, b"u")] == 600 and udp[(True, b"E")] == 1
    if ns.has_ipv6:
        assert udp[(False, b"u")] == 200
    # TCP: every request line and every answer went by exactly once
    sent = sum(len(b"m%03d " % i + b"y" * (i * 211 % 3000) + b"\n") for i in range(25))
    tcp_bytes = sum(len(p.payload) for p in ours if p.tcp is not None)
    conversations = 2 if ns.has_ipv6 else 1
    assert tcp_bytes == conversations * (2 * sent + 3 * 25)


def test_sniff_semantics_match_scapy(ns):
    """The same traffic sniffed by fp.sniff and Scapy's sniff, scenario by scenario."""
    # T: the window of the one sniff with traffic that ends on its timeout; generous, as it
    # must hold the whole exchange, which starts once every sniff is armed and takes ms
    children = {lib: Child(ns, SNIFF_SCENARIOS, {"lib": lib, "T": 8.0}, stdin=True)
                for lib in ("fastpkt", "scapy")}
    traffic = Child(ns, TRAFFIC_SNIFF, stdin=True)
    for c in [*children.values(), traffic]:
        c.wait_for("LOADED")
    for c in children.values():
        c.send("GO")
    for c in children.values():
        c.wait_for("READY")  # every sniff of that child called its started_callback
    traffic.send("GO")
    traffic.finish()
    got = {lib: c.result() for lib, c in children.items()}
    prn_lines = {lib: [ln for ln in c.lines if ln.startswith("PRN ")] for lib, c in children.items()}
    fpk, scp = got["fastpkt"], got["scapy"]

    a = ["a%d" % i for i in range(30)]
    expected = {
        "count": a[:5],
        "stop_filter": a[:15] + ["STOP"],
        "lfilter_count": ["b0", "b2", "b4", "b6", "b8"],
        "lfilter_store_false": [],
        "prn_store_false": [],
        "no_bpf_lfilter": ["b%d" % i for i in range(20)],
        "idle_timeout": [],
    }
    for name, payloads in expected.items():
        assert [k[0] for k in fpk[name]["packets"]] == payloads, name
        assert fpk[name]["packets"] == scp[name]["packets"], name
        assert fpk[name]["len"] == scp[name]["len"] == len(payloads), name
    assert prn_lines["fastpkt"] == prn_lines["scapy"] == ["PRN p%d" % i for i in range(6)]
    # TCP: the same segments (flags and payloads) in the same order
    tcp = fpk["tcp_timeout"]["packets"]
    assert tcp == scp["tcp_timeout"]["packets"]
    assert [k[1] for k in tcp[:3]] == [0x02, 0x12, 0x10]  # SYN, SYN-ACK, ACK
    assert sum(k[1] & 0x01 for k in tcp) == 2             # two FINs
    assert "".join(k[0] for k in tcp) == "".join("m%d hello\nre:m%d hello\n" % (i, i) for i in range(4))
    # count/stop_filter sniffs ended on their packet (they have no timeout: they returned,
    # with exactly the packets up to it, while more traffic followed); the timeout sniffs
    # returned at all - how long any of them took is not asserted (machine speed)


CTRL_C_MODES = ("capture", "sniff", "scapy_facade", "flows", "async_join")


def _blocked_in_poll(pid: int) -> bool:
    """A thread of the process is blocked in poll() (the idle capture's wait)."""
    for task in Path("/proc/%d/task" % pid).glob("*"):
        try:
            if "poll" in (task / "wchan").read_text():
                return True
        except OSError:
            pass
    return False


def test_ctrl_c_ends_idle_capture(ns):
    """SIGINT to a child sniffing the idle loopback, once its capture thread waits in poll():
    it ends, whichever way it sniffs. sniff() returns (Scapy's behaviour); the others raise
    KeyboardInterrupt. The guard on the wait catches a capture that never sees the signal;
    how fast it reacts is not asserted (the read timeout is 50 ms, the machine may be busy)."""
    children = {m: Child(ns, CTRL_C, {"mode": m}) for m in CTRL_C_MODES}
    for m, c in children.items():
        c.wait_for("READY")
        assert wait_until(lambda: _blocked_in_poll(c.proc.pid), GUARD_S), \
            "%s: the capture never waited in poll()" % m
    for m, c in children.items():
        c.proc.send_signal(signal.SIGINT)
    for m, c in children.items():
        try:
            c.proc.wait(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            pytest.fail("%s: still running %d s after SIGINT" % (m, GUARD_S))
        rc, err = c.finish()
        if m in ("sniff", "scapy_facade"):
            assert rc == 0 and any(ln.startswith("RETURNED 0") for ln in c.lines), (m, rc, err)
        else:
            assert rc != 0 and "KeyboardInterrupt" in err, (m, rc, err)


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="RSS is not a leak measure under ASan: its quarantine holds freed memory")
def test_rss_flat_over_open_close_cycles_and_1m_packets(ns):
    """200 Capture open/close cycles (one child) and 1.2M captured packets (another, fed by a
    TCP sender whose 100-byte MSS makes the kernel cut segments at C speed) keep RSS flat.
    The cycles take ~10 s: closing a packet socket waits for the kernel (synchronize_net)."""
    cycles = Child(ns, LEAK_CYCLES, {"cycles": 200})
    # limit_s: the capture's duration, a guard only (1.2M packets come in a few seconds)
    child = Child(ns, LEAK_PACKETS, {"warm": 200_000, "half": 500_000, "limit_s": 3 * GUARD_S})
    child.wait_for("READY")
    sender = Child(ns, LEAK_SENDER)
    try:
        res = child.result(4 * GUARD_S)
    finally:
        sender.proc.kill()
        sender.finish()
    cyc = cycles.result(2 * GUARD_S)
    assert cyc["after"] - cyc["before"] < 2048, cyc
    assert res["packets"] >= 1_200_000, res
    assert res["after"] - res["before"] < 4096, res
    assert res["stats"]["delivered"] >= 1_200_000


def _perm_ways() -> list[tuple[str, list[str]]]:
    ways = []
    if shutil.which("capsh"):
        ways.append(("capsh", ["capsh", "--drop=cap_net_raw,cap_net_admin", "--"]))
    if shutil.which("setpriv"):
        # root without any capability: a user switch could not read a checkout under a 0700
        # directory (mktemp -d), and what matters is the missing CAP_NET_RAW/CAP_NET_ADMIN
        ways.append(("setpriv", ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]))
    return ways


def test_errors(ns):
    """Unknown interface -> CaptureError naming fastpkt.interfaces(); bad filter -> fastpkt.Error
    with libpcap's message; no privileges -> CapturePermissionError (also a PermissionError)
    saying to run as root or setcap. The same from Capture, sniff, AsyncSniffer.start and the
    Scapy facade."""
    unknown = _py(ns, ERRORS, {"iface": "fpnosuch0"})
    for where, e in unknown.items():
        assert e and e["type"] == "CaptureError" and not e["PermissionError"], (where, e)
        assert "fpnosuch0" in e["message"] and "fastpkt.interfaces()" in e["message"], (where, e)
    bad = _py(ns, ERRORS, {"iface": "lo", "filter": "tcp and and port 80"})
    for where, e in bad.items():
        assert e and e["type"] == "Error" and not e["CaptureError"], (where, e)
        assert "syntax error" in e["message"] and "tcp and and port 80" in e["message"], (where, e)
    ways = _perm_ways()
    if not ways:
        pytest.skip("neither capsh nor setpriv is installed")
    for name, prefix in ways:
        argv = prefix + [PY, "-c", ERRORS, json.dumps({"iface": "lo"})]
        if name == "capsh":  # capsh runs its arguments with /bin/bash -c
            argv = prefix + ["-c", " ".join(_shquote(a) for a in [PY, "-c", ERRORS, json.dumps({"iface": "lo"})])]
        denied = Child(ns, "", argv=argv).result()
        for where, e in denied.items():
            assert e and e["type"] == "CapturePermissionError", (name, where, e)
            assert e["CaptureError"] and e["PermissionError"] and e["Error"], (name, where, e)
            assert "root" in e["message"] and "setcap" in e["message"], (name, where, e)


def _shquote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def test_async_sniffer(ns):
    r = _py(ns, ASYNC)
    assert r["running_after_start"] is True
    assert r["payloads"] == ["s%d" % i for i in range(10)] and r["results_is_res"]
    # stop() ends the sniffer thread (returning at all is the point; no time is asserted)
    assert not r["running_after_stop"] and not r["thread_alive"]
    assert r["stats"]["delivered"] == 10 and r["stats"]["dropped"] == 0
    assert r["idle_len"] == 0 and not r["idle_running"] and not r["idle_thread_alive"]
    assert r["count_len"] == 3 and r["count_running"] is False and r["count_stop_len"] == 3
    assert r["timeout_len"] == 0 and not r["timeout_running"]  # ended by its timeout
    assert r["stop_filter_payloads"] == ["x0", "x1", "x2"]
    assert r["restart_payloads"] == ["x0", "x1", "x2"]


def test_write_rotates_readable_pcaps(ns, tmp_path):
    """sniff(write=..., rotate_bytes=...): numbered files within the size, readable by
    fastpkt, Scapy and tcpdump, holding every packet the BPF filter passed (lfilter does not
    apply to writing) in order; rotate_seconds: each file spans less than the interval."""
    os.chmod(tmp_path, 0o777)
    r = _py(ns, WRITE, {"dir": str(tmp_path)})
    files = sorted(tmp_path.glob("rot-*.pcap"))
    assert [f.name for f in files] == ["rot-%04d.pcap" % (i + 1) for i in range(len(files))]
    assert len(files) >= 10 and not (tmp_path / "rot.pcap").exists()
    assert all(f.stat().st_size <= 4096 for f in files)
    payloads = [p.payload for f in files for p in fp.read(str(f))]
    assert payloads == [b"w%04d" % i + b"." * 100 for i in range(300)] + [b"END"]
    from scapy.all import rdpcap

    assert sum(len(rdpcap(str(f))) for f in files) == 301
    if shutil.which("tcpdump"):
        n = 0
        for f in files:
            out = run(["tcpdump", "-r", str(f), "-n", "-q"])
            assert out.returncode == 0, out.stderr
            n += len(out.stdout.splitlines())
        assert n == 301
    assert r["kept"] == ["w%04d" % i for i in range(0, 300, 2)] + ["END"]
    sec = sorted(tmp_path.glob("sec-*.pcap"))
    assert r["sec_len"] == 0 and len(sec) >= 4
    times = [[p.time for p in fp.read(str(f))] for f in sec]
    assert sum(len(t) for t in times) == 12
    assert all(t and t[-1] - t[0] < 0.25 for t in times)


def test_engines_on_live_capture(ns):
    """fp.flows / fp.streams / fp.client_hellos over live Captures hand out their records
    while the capture still runs (TCP close, UDP idle by the wall clock, hello at connection
    end), with the right content: the child stops the captures only after every expected
    record has come out, and stop() ends the engines."""
    r = _py(ns, ENGINES)
    assert r["complete_while_running"], r
    assert all(r["ended"]), r
    flows = {(f["protocol"], f["dst_port"]): f for f in r["flows"]}
    tcp, udp = flows[("TCP", 5401)], flows[("UDP", 5402)]
    assert tcp["conn_state"] == "SF" and tcp["fwd_payload_bytes"] == 5000 and tcp["rev_payload_bytes"] == 70000
    assert udp["packets"] == 3 and udp["expiration"] == "idle"
    (stream,) = r["streams"]
    assert stream["client_ok"] and stream["server_ok"] and stream["gaps"] == 0, stream
    (hello,) = r["hellos"]
    assert hello["sni"] == "live.fastpkt.test" and hello["server_port"] == 5403
    for rec in [tcp, udp, stream, hello]:
        assert rec["running"], ("handed out only when the capture ended", rec)


# ------------------------------------------------------------------ examples, live
LIVE_EXAMPLES = {  # script -> extra arguments
    "packet_sniffer": [], "dns_monitor": [], "dns_analyzer": [], "tcp_session_tracker": [],
    "handshake_tracker": ["--incomplete-after", "0.5"], "arp_monitor": [], "http_requests": [], "tls_sni": [],
    "signature_matcher": [], "port_scan_detector": [], "timed_capture_to_pcap": [],
}
_TIMES = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00|\d\d:\d\d:\d\d\.\d{6}")


def _norm(lines: list[str]) -> list[str]:
    return [_TIMES.sub("<t>", ln) for ln in lines if ln.strip() and not ln.startswith("[*]")]


# What an example prints while it captures (the rest, if any, comes at exit): once a live
# run has printed as many such lines as the offline run, it has processed the whole replay.
WHILE_CAPTURING = {
    "tcp_session_tracker": lambda ln: ln.startswith("[FIN]"),
    "arp_monitor": lambda ln: ln.startswith("[!]"),
    "port_scan_detector": lambda ln: ln.startswith("[ALERT]"),
    "tls_sni": lambda ln: not ln.startswith(("==", "per packet:", "  missed:")),
}
CAPTURES = {"tls_sni": 2}  # tls_sni sniffs per packet and runs fp.client_hellos on a Capture


def _threads_in_poll(pid: int) -> int:
    """How many threads of the process are blocked in poll() (an armed capture waiting)."""
    n = 0
    for task in Path("/proc/%d/task" % pid).glob("*"):
        try:
            n += "poll" in (task / "wchan").read_text()
        except OSError:
            pass
    return n


def test_examples_live_match_offline(tmp_path):
    """Replay the bundled sample onto lo (raw AF_PACKET frames; iptables raw-table DROP keeps
    the namespace's own stack from answering) while every live example sniffs lo; after
    Ctrl+C each prints what it prints with --pcap on the sample (times aside). The handshake
    tracker runs with --incomplete-after 0.5, so live its refused SYNs are reported by the
    once-a-second wall-clock check while the capture runs.

    Events, not sleeps: the replay starts once every example's capture thread waits in
    poll(); Ctrl+C comes once each example has printed what the offline run prints while
    capturing; timed_capture_to_pcap, which prints only at exit, gets --count (what the
    offline run wrote) and ends by itself."""
    why = requirements(("ip", "iptables"))
    if why:
        pytest.skip(why)
    os.chmod(tmp_path, 0o777)
    sample = EXAMPLES / "data" / "sample.pcap"
    offline = {name: subprocess.Popen([PY, str(EXAMPLES / (name + ".py")), "--pcap", str(sample)] + args
                                      + (["--out", "offline.pcap"] if name == "timed_capture_to_pcap" else []),
                                      cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=CHILD_ENV)
               for name, args in LIVE_EXAMPLES.items()}
    expected = {}
    for name, p in offline.items():
        out, err = p.communicate(timeout=GUARD_S)
        assert p.returncode == 0, (name, err)
        expected[name] = out.splitlines()
    written = re.search(r"Wrote (\d+) packets", "\n".join(expected["timed_capture_to_pcap"])).group(1)
    while_capturing = {name: len([ln for ln in _norm(expected[name]) if WHILE_CAPTURING.get(name, bool)(ln)])
                       for name in LIVE_EXAMPLES if name != "timed_capture_to_pcap"}
    live_args = {"timed_capture_to_pcap": ["--out", "live.pcap", "--count", written,
                                           "--seconds", str(10 * GUARD_S)]}  # the window: a guard
    try:
        with Netns("fplivex") as ns:
            ns.exec(["ip", "link", "set", "lo", "mtu", "65536"])  # the sample has 5 KB frames
            for tool in ("iptables", "ip6tables"):
                if shutil.which(tool) and ns.exec([tool, "-t", "raw", "-A", "PREROUTING", "-j", "DROP"]).returncode:
                    if tool == "iptables":
                        pytest.skip("cannot add the iptables raw DROP rule")
            live = {name: Child(ns, "", argv=[PY, str(EXAMPLES / (name + ".py")), "--iface", "lo"] + args
                                + live_args.get(name, []), cwd=tmp_path)
                    for name, args in LIVE_EXAMPLES.items()}
            for name, c in live.items():
                assert wait_until(lambda: c.proc.poll() is not None
                                  or _threads_in_poll(c.proc.pid) >= CAPTURES.get(name, 1), GUARD_S), \
                    "%s did not start capturing" % name
                assert c.proc.poll() is None, (name, c.finish(5))
            rep = ns.exec([PY, "-c", REPLAY, str(sample)], timeout=GUARD_S)
            assert "REPLAYED 179" in rep.stdout, rep.stderr

            def caught_up(name, c):
                if name == "timed_capture_to_pcap":
                    return c.proc.poll() is not None
                c._read(0)
                return len([ln for ln in _norm(c.lines) if WHILE_CAPTURING.get(name, bool)(ln)]) \
                    >= while_capturing[name]

            # the guard only bounds a failure: what is missing then shows in the comparison
            wait_until(lambda: all(caught_up(n, c) for n, c in live.items()), GUARD_S)
            for c in live.values():
                if c.proc.poll() is None:
                    c.proc.send_signal(signal.SIGINT)
            outs = {}
            for name, c in live.items():
                rc, err = c.finish()
                assert rc == 0, (name, rc, err[-3000:])
                outs[name] = c.lines
    except NetnsError as exc:
        pytest.skip(str(exc))
    for name in LIVE_EXAMPLES:
        got, want_lines = _norm(outs[name]), _norm(expected[name])
        if name in ("tls_sni", "handshake_tracker"):
            # tls_sni live runs both approaches at once, so their lines interleave; the
            # handshake tracker reports stale SYNs by the wall clock live, by packet time offline
            got = sorted(ln for ln in got if not ln.startswith("=="))
            want_lines = sorted(ln for ln in want_lines if not ln.startswith("=="))
        elif name == "port_scan_detector":  # the offline run adds a pandas table
            want_lines = want_lines[:len(got)]
        elif name == "timed_capture_to_pcap":
            n = [re.search(r"Wrote (\d+) packets", "\n".join(o)).group(1) for o in (outs[name], expected[name])]
            assert n[0] == n[1], n
            continue
        assert got == want_lines, name
        assert got, name


# ------------------------------------------------------------------ the course's scripts, live
# examples/course/ sniffers that print while they capture, run live on lo under fastpkt.scapy
# and, at the same time on the same replay, with the import switched back to real Scapy.
# (lab5_tcp_flow_report prints once its 5-minute capture ends: test_lab5_live_under_faketime)
COURSE_LIVE = ["dns_sniffer", "dns_analyzer", "tcp_session_tracker", "arp_monitor", "http_requests", "tls_sni",
               "signature_matcher", "port_scan_detector", "lab1_packet_sniffer", "lab3_dns_analyzer",
               "basic_sniffer"]


# lab3 prints each packet's time of day: the replay's, not the sample's
_CLOCK = re.compile(r"^\d\d:\d\d:\d\d ")


def _live_mask(line: str) -> str:
    import _course

    return _CLOCK.sub("<time> ", _course.mask(line))


def _threads_waiting(pid: int) -> int:
    """Threads blocked in poll() or select() (libpcap's and Scapy's capture loops)."""
    n = 0
    for task in Path("/proc/%d/task" % pid).glob("*"):
        try:
            wchan = (task / "wchan").read_text()
        except OSError:
            continue
        n += "poll" in wchan or "select" in wchan
    return n


def test_course_scripts_live_print_what_they_print_offline(tmp_path):
    """The sample replayed into one end of a veth pair while each course sniffer runs on the
    other end twice, under fastpkt.scapy
    and under Scapy; each run then prints what the script prints on the sample offline (wall
    clock aside), which test_course_scripts shows is the same under both. basic_sniffer stops
    by itself after its 10 packets, the others get Ctrl+C once the fastpkt run has printed as
    many lines as offline. Scapy's sniffer may drop packets on a loaded machine (the issue's
    7,126 of 200,000): its live lines must be offline lines, and are reported when fewer.
    (Not lo: there Scapy's socket sees every frame twice, outgoing and looped back, where
    libpcap drops the outgoing copy.)"""
    import _course

    why = requirements(("ip", "iptables"))
    if why:
        pytest.skip(why)
    pytest.importorskip("scapy.all")
    os.chmod(tmp_path, 0o777)
    sample = EXAMPLES / "data" / "sample.pcap"
    scapy_dir = _course.scapy_copy(tmp_path / "scapy-src")
    offline = {}
    for name in COURSE_LIVE:
        r = subprocess.run([PY, str(_course.COURSE / (name + ".py")), "--pcap", str(sample)], cwd=tmp_path,
                           capture_output=True, text=True, env=CHILD_ENV, timeout=GUARD_S)
        assert r.returncode == 0, (name, r.stderr)
        offline[name] = [_live_mask(ln) for ln in r.stdout.splitlines()]
    env = dict(CHILD_ENV, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
    outs: dict[tuple[str, str], list[str]] = {}
    try:
        with Netns("fpcourse") as ns:
            for cmd in (["ip", "link", "add", "fpa", "type", "veth", "peer", "name", "fpb"],
                        ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/fpa/disable_ipv6"],  # no RS/MLD
                        ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/fpb/disable_ipv6"],
                        ["ip", "link", "set", "fpa", "mtu", "65535", "up"],  # the sample has 5 KB frames
                        ["ip", "link", "set", "fpb", "mtu", "65535", "up"]):
                r = ns.exec(cmd)
                if r.returncode:
                    raise NetnsError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
            for tool in ("iptables", "ip6tables"):
                if shutil.which(tool) and ns.exec([tool, "-t", "raw", "-A", "PREROUTING", "-j", "DROP"]).returncode:
                    if tool == "iptables":
                        pytest.skip("cannot add the iptables raw DROP rule")
            live = {}
            for form, src in (("fastpkt", _course.COURSE), ("scapy", scapy_dir)):
                for name in COURSE_LIVE:
                    cwd = tmp_path / form / name
                    cwd.mkdir(parents=True)
                    live[(form, name)] = Child(ns, "", argv=[PY, str(src / (name + ".py")), "--iface", "fpb"],
                                               cwd=cwd, env=env)
            for key, c in live.items():
                assert wait_until(lambda: c.proc.poll() is not None or _threads_waiting(c.proc.pid) >= 1,
                                  GUARD_S), "%s did not start capturing" % (key,)
                assert c.proc.poll() is None, (key, c.finish(5))
            rep = ns.exec([PY, "-c", REPLAY.replace('("lo", 0)', '("fpa", 0)'), str(sample)], timeout=GUARD_S)
            assert "REPLAYED 179" in rep.stdout, rep.stderr

            def caught_up(key, c):
                c._read(0)
                return c.proc.poll() is not None or len(c.lines) >= len(offline[key[1]])

            wait_until(lambda: all(caught_up(k, c) for k, c in live.items() if k[0] == "fastpkt"), GUARD_S)
            for c in live.values():
                if c.proc.poll() is None:
                    c.proc.send_signal(signal.SIGINT)
            for key, c in live.items():
                rc, err = c.finish()
                assert rc in (0, -signal.SIGINT, 130), (key, rc, err[-3000:])
                outs[key] = [_live_mask(ln) for ln in c.lines]
    except NetnsError as exc:
        pytest.skip(str(exc))
    lost = []
    for name in COURSE_LIVE:
        assert outs[("fastpkt", name)] == offline[name], name
        theirs = outs[("scapy", name)]
        assert set(theirs) <= set(offline[name]), (name, theirs)
        if theirs != offline[name]:
            lost.append("%s: %d of %d lines" % (name, len(theirs), len(offline[name])))
    if lost:
        print("\nScapy's live runs missed packets:", "; ".join(lost))


# ------------------------------------------------------------------ DNS lab (dnsmasq, dig)
# A real DNS server (dnsmasq) on h2 of the routed lab (tests/_netns.Lab) answers from this
# zone only; h1 asks with dig over UDP (IPv4 and IPv6) and over one TCP connection
# (+keepopen) while tcpdump records h1's wire. References: dig's own report of each answer
# and tshark's dissection and request/response pairing of the same capture.
DNS_ZONE = """\
local=/lab.test/
local-ttl=300
host-record=www.lab.test,10.13.9.1,fd13:9::1
host-record=mail.lab.test,10.13.9.25,60
host-record=multi.lab.test,10.13.9.2
host-record=multi.lab.test,10.13.9.3
cname=alias.lab.test,www.lab.test
mx-host=lab.test,mail.lab.test,10
srv-host=_sip._tcp.lab.test,mail.lab.test,5060,1,5
txt-record=txt.lab.test,"hello world","second string"
ptr-record=1.9.13.10.in-addr.arpa,www.lab.test
"""
# one dig run each: (server, options, [(name, type)...]); names outside lab.test are
# refused (no upstream), names inside it without records are NXDOMAIN
DIG_RUNS = [
    ("10.13.1.20", [], [("www.lab.test", "A"), ("www.lab.test", "AAAA"), ("multi.lab.test", "A"),
                        ("mail.lab.test", "A"), ("1.9.13.10.in-addr.arpa", "PTR"), ("other.test", "A")]),
    ("fd13:1::20", [], [("alias.lab.test", "A"), ("nope.lab.test", "AAAA")]),
    # without EDNS an NXDOMAIN or a refusal holds no record at all: Zeek's `rejected`
    ("10.13.1.20", ["+noedns"], [("other.test", "TXT"), ("gone.lab.test", "A")]),
    ("10.13.1.20", ["+tcp", "+keepopen"], [("alias.lab.test", "A"), ("lab.test", "MX"),
                                           ("txt.lab.test", "TXT"), ("_sip._tcp.lab.test", "SRV"),
                                           ("nope.lab.test", "A"), ("www.lab.test", "AAAA")]),
]


def _dig_messages(out: str) -> list[dict]:
    """Each answer dig printed: its header, question, answer section and transport."""
    msgs = []
    for block in out.split(";; Got answer:")[1:]:
        head = re.search(r"opcode: (\w+), status: (\w+), id: (\d+)", block)
        question = re.search(r";; QUESTION SECTION:\n;(\S+)\s+IN\s+(\S+)", block)
        answers = []
        if ";; ANSWER SECTION:\n" in block:
            for ln in block.split(";; ANSWER SECTION:\n")[1].split("\n\n")[0].splitlines():
                _, ttl, _, rtype, rdata = ln.split(None, 4)
                answers.append((rtype, int(ttl), rdata))
        msgs.append({"opcode": head.group(1), "status": head.group(2), "id": int(head.group(3)),
                     "flags": set(re.search(r";; flags:([^;]*);", block).group(1).split()),
                     "records": sum(map(int, re.findall(r"(?:ANSWER|AUTHORITY|ADDITIONAL): (\d+)", block))),
                     "query": question.group(1).rstrip("."), "qtype": question.group(2),
                     "answers": answers,
                     "proto": re.search(r";; SERVER: .*\((UDP|TCP)\)", block).group(1).lower()})
    return msgs


def _dig_rdata(rtype: str, rdata: str) -> str:
    """dig's presentation form as fp.dns writes it: names without the root's dot, TXT's
    character-strings joined without quotes (the zone's strings hold no escapes)."""
    if rtype == "TXT":
        return "".join(re.findall(r'"([^"\\]*)"', rdata))
    return rdata.rstrip(".")


def test_dns_lab_dnsmasq_dig_tshark(tmp_path):
    why = requirements(("ip", "tcpdump", "dnsmasq", "dig", "tshark"))
    if why:
        pytest.skip(why)
    from _netns import Dnsmasq, Lab
    conf = tmp_path / "zone.conf"
    conf.write_text(DNS_ZONE)
    pcap = tmp_path / "dns.pcap"
    digs = []
    try:
        with Lab("fpdns") as lab:
            h1 = lab.ns("h1")
            with Dnsmasq(lab.ns("h2"), [Lab.HOSTS["h2"], Lab.HOSTS6["h2"]], conf) as server:
                h1.add_capture("eth0", pcap)
                for srv, opts, questions in DIG_RUNS:
                    args = ["dig", "@" + srv, "+tries=1", "+time=%d" % GUARD_S] + opts
                    for i, (name, rtype) in enumerate(questions):
                        args += ["+qid=%d" % (1000 * (len(digs) + 1) + i), name, rtype]
                    r = h1.exec(args)
                    assert r.returncode == 0, (args, r.stdout, r.stderr)
                    digs.append(r.stdout)
                h1.stop_capture()
                assert not h1.incomplete, h1.incomplete
    except NetnsError as exc:
        pytest.skip(str(exc))
    want = [m for out in digs for m in _dig_messages(out)]
    assert len(want) == sum(len(q) for _, _, q in DIG_RUNS), (digs, server.log)
    assert len({(m["proto"], m["id"]) for m in want}) == len(want)  # dig's ids tell them apart

    rows = list(fp.dns(str(pcap), progress=False))
    got = {(t.proto, t.trans_id): t for t in rows}
    assert len(got) == len(rows) == len(want), [(t.proto, t.trans_id, t.query) for t in rows]
    for m in want:
        t = got[(m["proto"], m["id"])]
        assert (t.query, t.qtype_name, t.rcode_name, t.opcode_name.upper()) == (
            m["query"], m["qtype"], m["status"], m["opcode"]), (m, t)
        assert (t.AA, t.TC, t.RD, t.RA) == tuple(f in m["flags"] for f in ("aa", "tc", "rd", "ra")), (m, t)
        assert t.answers == tuple(_dig_rdata(rt, rd) for rt, _, rd in m["answers"]), (m, t)
        assert t.TTLs == tuple(float(ttl) for _, ttl, _ in m["answers"]), (m, t)
        assert t.rejected == (m["records"] == 0), (m, t)  # Zeek's: a response without any record
        assert (t.queries, t.responses, t.answered) == (1, 1, True) and not t.anomalies, t
        assert t.resp_h in (Lab.HOSTS["h2"], Lab.HOSTS6["h2"]) and t.resp_p == 53
        assert t.orig_h in (Lab.HOSTS["h1"], Lab.HOSTS6["h1"])
    assert sum(t.rejected for t in rows) == sum(m["records"] == 0 for m in want) == 2
    tcp_rows = [t for t in rows if t.proto == "tcp"]
    assert len(tcp_rows) == len(DIG_RUNS[-1][2]) and len({(t.orig_p, t.flow_id) for t in tcp_rows}) == 1

    # tshark: every message, its connection (tcp.stream) and its pairing (dns.response_to)
    fields = ("frame.number", "dns.id", "dns.flags.response", "dns.response_to", "dns.time", "udp.srcport",
              "tcp.stream", "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.flags.authoritative",
              "dns.flags.truncated", "dns.flags.recdesired", "dns.flags.recavail", "dns.count.answers",
              "dns.resp.ttl")
    cmd = ["tshark", "-n", "-r", str(pcap), "-Y", "dns", "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"WIRESHARK_CONFIG_DIR": "/nonexistent", "PATH": "/usr/bin:/bin"}).stdout
    msgs = [dict(zip(fields, ln.split("\t"))) for ln in out.splitlines() if ln]
    responses = [r for r in msgs if r["dns.flags.response"] in ("1", "True")]
    assert len(msgs) - len(responses) == sum(t.queries for t in rows)
    assert len(responses) == sum(t.responses for t in rows)
    assert len({r["tcp.stream"] for r in msgs if r["tcp.stream"]}) == 1  # +keepopen: one connection
    for r in responses:
        t = got[("tcp" if r["tcp.stream"] else "udp", int(r["dns.id"], 16))]
        assert r["dns.response_to"], r  # tshark paired it with its query, as we did
        assert abs(t.rtt - float(r["dns.time"])) <= 1e-6, (r, t.rtt)
        assert (t.query, t.qtype, t.rcode) == (r["dns.qry.name"], int(r["dns.qry.type"]),
                                               int(r["dns.flags.rcode"])), (r, t)
        bits = tuple(r["dns.flags." + f] in ("1", "True")
                     for f in ("authoritative", "truncated", "recdesired", "recavail"))
        assert (t.AA, t.TC, t.RD, t.RA) == bits, (r, t)
        n = int(r["dns.count.answers"])
        ttls = [float(v) for v in r["dns.resp.ttl"].split(",") if v][:n]  # answers come first
        assert len(t.answers) == n and list(t.TTLs) == ttls, (r, t)


# ------------------------------------------------------------------ Lab 5, live with time sped up
LAB5_SPEED = 10   # faketime's rate: the lab's 300 s capture ends after 30 s of wall clock


def _tree_waiting(pid: int) -> int:
    """_threads_waiting over a process and its descendants (faketime runs the script as
    its child)."""
    n, todo = 0, [pid]
    while todo:
        p = todo.pop()
        n += _threads_waiting(p)
        for task in Path("/proc/%d/task" % p).glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return n


def test_lab5_live_under_faketime(tmp_path):
    """Lab 5 captures for 5 minutes and only then prints its top flows. Run live under
    libfaketime (``faketime -f '+0 x10'``: clock_gettime and poll/select timeouts scaled,
    which both fastpkt's capture deadline and Scapy's sniff loop go by), under fastpkt.scapy
    and under Scapy at once, on the same veth pair and the same replay of the sample, paced
    and over well before either capture's end: both print what the lab prints offline on
    the sample, line for line."""
    import _course

    why = requirements(("ip", "iptables"))
    if why:
        pytest.skip(why)
    if shutil.which("faketime") is None:
        pytest.skip("faketime is not installed (Debian package faketime)")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("libfaketime and the ASan runtime deadlock at start (make sanitize): "
                    "`faketime python -c 'print()'` hangs with libasan preloaded")
    pytest.importorskip("scapy.all")
    os.chmod(tmp_path, 0o777)
    sample = EXAMPLES / "data" / "sample.pcap"
    script = "lab5_tcp_flow_report.py"
    r = subprocess.run([PY, str(_course.COURSE / script), "--pcap", str(sample)], cwd=tmp_path,
                       capture_output=True, text=True, env=CHILD_ENV, timeout=GUARD_S)
    assert r.returncode == 0, r.stderr
    offline = r.stdout.splitlines()
    assert len(offline) == 10, offline
    scapy_dir = _course.scapy_copy(tmp_path / "scapy-src")
    env = dict(CHILD_ENV, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
    try:
        with Netns("fplab5") as ns:
            for cmd in (["ip", "link", "add", "fpa", "type", "veth", "peer", "name", "fpb"],
                        ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/fpa/disable_ipv6"],
                        ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/fpb/disable_ipv6"],
                        ["ip", "link", "set", "fpa", "mtu", "65535", "up"],
                        ["ip", "link", "set", "fpb", "mtu", "65535", "up"]):
                r = ns.exec(cmd)
                if r.returncode:
                    raise NetnsError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
            # the replayed TCP is not answered by this namespace's stack (no RSTs captured)
            if ns.exec(["iptables", "-t", "raw", "-A", "PREROUTING", "-j", "DROP"]).returncode:
                pytest.skip("cannot add the iptables raw DROP rule")
            runs = {}
            for form, src in (("fastpkt", _course.COURSE), ("scapy", scapy_dir)):
                cwd = tmp_path / form
                cwd.mkdir()
                runs[form] = Child(ns, "", argv=["faketime", "-f", "+0 x%d" % LAB5_SPEED, PY, str(src / script),
                                                 "--iface", "fpb"], cwd=cwd, env=env)
            started = time.monotonic()
            for form, c in runs.items():
                assert wait_until(lambda: c.proc.poll() is not None or _tree_waiting(c.proc.pid) >= 1,
                                  GUARD_S), "%s did not start capturing" % form
                assert c.proc.poll() is None, (form, c.finish(5))
            rep = ns.exec([PY, "-c", REPLAY.replace('("lo", 0)', '("fpa", 0)'), str(sample)], timeout=GUARD_S)
            assert "REPLAYED 179" in rep.stdout, rep.stderr
            # the replay must be over well before the first capture's sped-up end
            assert time.monotonic() - started < 300 / LAB5_SPEED / 2, "the machine is too slow for this speed"
            outs = {}
            for form, c in runs.items():
                rc, err = c.finish(GUARD_S + 300 / LAB5_SPEED)
                assert rc == 0, (form, rc, err[-3000:])
                outs[form] = c.lines
    except NetnsError as exc:
        pytest.skip(str(exc))
    assert outs["fastpkt"] == offline
    assert outs["scapy"] == offline
