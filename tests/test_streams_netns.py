"""fp.streams on real kernel TCP: loopback inside a network namespace this test creates.

Root only (skips otherwise, or without `ip netns`/tcpdump). The harness (tests/_netns.py)
creates `fpstreams-<pid>`, brings lo up with MTU 1500 and offloads off, and records it with
`tcpdump -i lo -U -B 65536`. All traffic is on 127.0.0.1 / ::1 inside the namespace.

Transfers (one TCP connection each, IPv4 to 127.0.0.1:6001 and IPv6 to [::1]:6002): the client
sends a request (a name line plus seeded random padding, up to 6 KB), half-closes, and the
server answers with a file of 0 B, 1 B, 1448 B (one IPv4 segment with timestamps), 1449 B,
64 KiB or 3 MB of seeded random bytes, then closes. Plus one HTTP/1.1 keep-alive connection
(http.server with protocol_version "HTTP/1.1", http.client on one socket) fetching several
files from a temp directory (127.0.0.1:6003).

iptables/ip6tables INPUT rules drop 7 % of the segments of 200 bytes or more on those ports
at random, and the same traffic is recorded twice:
  tap      `tcpdump -i lo`: the capture tap on loopback is before INPUT, so this capture holds
           each dropped segment AND its retransmission, later (duplicates, repacketised
           retransmissions, SACK recovery, data out of order);
  arrival  `tcpdump -i nflog:5` of an NFLOG rule placed after the drop rule in INPUT: only the
           segments that were delivered, so each drop is a real hole in the capture, filled
           later by the retransmission - reassembly must buffer data above it. fastpkt reads the
           LINKTYPE_NFLOG capture as written (its BPF filters do not: libpcap compiles none for
           NFLOG, so the helpers below select with display filters).
Sends are paced so that the captures lose nothing (tcpdump's "dropped by kernel" counter). The
test checks that drops, retransmissions and holes really happened (iptables counters, repeated
sequence numbers in the tap capture, sequence jumps in the arrival capture, tshark's analysis
flags when tshark is installed), so the byte-exact comparisons prove something.

For every connection: sha256(server_data) == sha256(the file on disk), client_data == the
request bytes, no gaps, both directions closed by FIN, state "closed" (or "reset" where
tcpdump shows that the kernel sent a RST), no inconsistent overlap (retransmitted copies
carry the same bytes).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _netns import NetnsCapture, NetnsError, requirements, run

V4_PORT, V6_PORT, HTTP_PORT = 6001, 6002, 6003
SIZES = [0, 1, 1448, 1449, 65536, 3_000_000]
HTTP_SIZES = [0, 1, 1449, 65536, 700_000, 5]  # several requests on one keep-alive connection
DROP_PROBABILITY = "0.07"
NFLOG_GROUP = 5
VIEWS = ("tap", "arrival")
SEED = 20240605

TRANSFER = r'''
import hashlib, json, os, socket, sys, threading, time
spec = json.loads(sys.argv[1])
d = spec["dir"]
CHUNK = 16384

def paced_send(sock, data):
    view = memoryview(data)
    for i in range(0, len(view), CHUNK):
        sock.sendall(view[i:i + CHUNK])
        time.sleep(0.001)  # traffic shaping: paced so that tcpdump keeps up (no capture loss)

def recv_all(sock):
    parts = []
    while True:
        b = sock.recv(1 << 16)
        if not b:
            return b"".join(parts)
        parts.append(b)

def serve(ls):
    while True:
        c, _ = ls.accept()
        req = recv_all(c)
        name = req.split(b"\n", 1)[0].split()[1].decode()
        with open(os.path.join(d, name), "rb") as f:
            paced_send(c, f.read())
        c.close()

for fam in spec["families"]:
    host, port = ("127.0.0.1", spec["v4port"]) if fam == 4 else ("::1", spec["v6port"])
    ls = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    threading.Thread(target=serve, args=(ls,), daemon=True).start()
    for name in spec["files"]:
        with open(os.path.join(d, "req-" + name), "rb") as f:
            req = f.read()
        s = socket.create_connection((host, port), timeout=60)
        cport = s.getsockname()[1]
        paced_send(s, req)
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
        s.close()
        print(json.dumps({"family": fam, "name": name, "client_port": cport,
                          "server_port": port, "sha256": hashlib.sha256(got).hexdigest(),
                          "len": len(got)}), flush=True)
'''

HTTP_SCRIPT = r'''
import functools, hashlib, http.client, http.server, json, socket, sys, threading, time
spec = json.loads(sys.argv[1])

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def copyfile(self, source, outputfile):     # traffic shaping: paced, so that tcpdump keeps up
        while True:
            b = source.read(16384)
            if not b:
                return
            outputfile.write(b)
            time.sleep(0.001)

srv = http.server.HTTPServer(("127.0.0.1", spec["port"]),
                             functools.partial(Handler, directory=spec["dir"]))
threading.Thread(target=srv.serve_forever, daemon=True).start()
conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
for name in spec["files"]:
    conn.request("GET", "/" + name)
    sock = conn.sock
    r = conn.getresponse()
    body = r.read()
    print(json.dumps({"name": name, "status": r.status, "client_port": sock.getsockname()[1],
                      "sock": id(sock), "sha256": hashlib.sha256(body).hexdigest(),
                      "len": len(body), "will_close": r.will_close}), flush=True)
# close our side and wait for the server's FIN (it closes after our FIN): the connection
# ends with both FINs in the capture before the server is shut down
sock = conn.sock
sock.shutdown(socket.SHUT_WR)
assert sock.recv(1) == b""
conn.close()
srv.shutdown()
'''


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _file_name(size: int) -> str:
    return "f%d.bin" % size


def _write_payloads(root: Path) -> dict[str, bytes]:
    """Seeded random files: responses f<size>.bin and their requests req-f<size>.bin."""
    rng = random.Random(SEED)
    out = {}
    for i, size in enumerate(SIZES):
        name = _file_name(size)
        out[name] = rng.randbytes(size)
        pad = rng.randbytes((0, 10, 3000, 6000, 1, 2500)[i % 6])
        out["req-" + name] = b"FILE %s\n" % name.encode() + pad
    www = root / "www"
    www.mkdir()
    for i, size in enumerate(HTTP_SIZES):
        name = "h%d-%d.bin" % (i, size)
        out["www/" + name] = rng.randbytes(size)
    for name, data in out.items():
        (root / name).write_bytes(data)
        os.chmod(root / name, 0o644)
    os.chmod(www, 0o755)
    return out


def _lines(stdout: str) -> list[dict]:
    return [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    why = requirements()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("streams_netns")
    os.chmod(tmp, 0o755)
    payloads = _write_payloads(tmp)
    info: dict = {"payloads": payloads, "pcap": tmp / "lo.pcap", "drops": {}, "errors": {},
                  "transfers": [], "http": [], "ipv6": False, "arrival": False,
                  "arrival_v6": False,
                  "arrival_pcap": tmp / "nflog.pcap"}
    ns = NetnsCapture("fpstreams", info["pcap"])
    try:
        with ns:
            info["ns"] = ns.name
            info["ipv6"] = ns.has_ipv6
            rule = ["-p", "tcp", "-m", "multiport", "--ports", "%d,%d,%d" % (V4_PORT, V6_PORT,
                                                                             HTTP_PORT),
                    "-m", "length", "--length", "200:65535",
                    "-m", "statistic", "--mode", "random", "--probability", DROP_PROBABILITY,
                    "-j", "DROP"]
            if not ns.iptables(["-A", "INPUT"] + rule):
                pytest.skip("cannot install the iptables drop rule: %s" % ns.iptables_error)
            info["ip6tables"] = ns.has_ipv6 and ns.iptables(["-A", "INPUT"] + rule, v6=True)
            # after the drop rule: logs the segments that are delivered (the arrival view)
            log = rule[:6] + ["-j", "NFLOG", "--nflog-group", str(NFLOG_GROUP)]
            info["arrival"] = ns.iptables(["-A", "INPUT"] + log)
            info["arrival_v6"] = (info["arrival"] and info["ip6tables"]
                                  and ns.iptables(["-A", "INPUT"] + log, v6=True))
            if info["arrival"]:
                try:
                    ns.add_capture("nflog:%d" % NFLOG_GROUP, info["arrival_pcap"])
                except NetnsError as e:
                    info["arrival"] = False
                    info["arrival_error"] = str(e)
            else:
                info["arrival_error"] = ns.iptables_error
            spec = {"dir": str(tmp), "files": [_file_name(s) for s in SIZES],
                    "families": [4, 6] if ns.has_ipv6 else [4],
                    "v4port": V4_PORT, "v6port": V6_PORT}
            r = ns.exec([sys.executable, "-c", TRANSFER, json.dumps(spec)], timeout=120)
            info["transfers"] = _lines(r.stdout)
            if r.returncode != 0:
                info["errors"]["transfer"] = (r.stdout + r.stderr)[-2000:]
            spec = {"dir": str(tmp / "www"), "port": HTTP_PORT,
                    "files": ["h%d-%d.bin" % (i, s) for i, s in enumerate(HTTP_SIZES)]}
            r = ns.exec([sys.executable, "-c", HTTP_SCRIPT, json.dumps(spec)], timeout=120)
            info["http"] = _lines(r.stdout)
            if r.returncode != 0:
                info["errors"]["http"] = (r.stdout + r.stderr)[-2000:]
            info["drops"][4] = sum(n for n, ln in ns.counters() if "DROP" in ln)
            if info["ip6tables"]:
                info["drops"][6] = sum(n for n, ln in ns.counters(v6=True) if "DROP" in ln)
            info["tcpdump"] = ns.stop_capture()
            info["incomplete"] = ns.incomplete
    except NetnsError as e:
        pytest.skip(str(e))
    assert not ns.left_behind(), "namespace %s left behind" % ns.name
    streams = fp.streams(str(info["pcap"]), progress=False)
    info["streams"] = {"tap": list(streams)}
    info["stats"] = {"tap": streams.stats}
    if info["arrival"]:
        info["arrival_packets"] = len(fp.read(str(info["arrival_pcap"])))
        streams = fp.streams(str(info["arrival_pcap"]), progress=False)
        info["streams"]["arrival"] = list(streams)
        info["stats"]["arrival"] = streams.stats
    return info


def _view(info, view):
    if view == "arrival" and not info["arrival"]:
        pytest.skip("no NFLOG capture: %s" % info.get("arrival_error"))
    return info["streams"][view]


def _pcap(info, view):
    return info["pcap"] if view == "tap" else info["arrival_pcap"]


def _no_errors(info, what):
    assert what not in info["errors"], "scenario %s failed:\n%s" % (what, info["errors"][what])


def _find(streams, ip_version, client_port, server_port):
    found = [s for s in streams if s.ip_version == ip_version
             and s.client_port == client_port and s.server_port == server_port]
    assert len(found) == 1, "expected one stream for client port %d -> %d, got %r" % (
        client_port, server_port, [(s.key, s.state) for s in streams])
    return found[0]


def _gaps(gaps):
    return [(g.offset, g.length) for g in gaps]


def test_capture_is_complete(capture):
    """tcpdump lost nothing, so every byte the kernel sent is in the capture."""
    assert not capture["incomplete"], capture["incomplete"]
    for iface, err in capture["tcpdump"].items():
        m = re.search(r"(\d+) packets? dropped by kernel", err)
        assert m, (iface, err)
        assert int(m.group(1)) == 0, (iface, err)


def _holes(pcap):
    """Per IP version, how often a data segment starts beyond every byte seen so far in its
    direction (a hole in the capture) - fastpkt's packet parser, not its reassembly."""
    top: dict = {}
    holes = {4: 0, 6: 0}
    for pkt in fp.open(str(pcap), display_filter="tcp"):
        t = pkt.tcp
        fam = 4 if pkt.ip is not None else 6
        key = (fam, pkt.src, pkt.sport, pkt.dport)
        if t.flags.S:
            top[key] = (t.seq, 1)
            continue
        if key not in top or not t.payload:
            continue
        isn, end = top[key]
        off = (t.seq - isn) % (1 << 32)
        if off > end:
            holes[fam] += 1
        top[key] = (isn, max(end, off + len(t.payload)))
    return holes


def test_arrival_capture_has_holes(capture):
    """The arrival view really lacks the dropped segments: data beyond a hole, filled later."""
    info = capture
    _view(info, "arrival")
    _no_errors(info, "transfer")
    holes = _holes(info["arrival_pcap"])
    tap_holes = _holes(info["pcap"])
    for fam in ([4, 6] if info["arrival_v6"] else [4]):
        assert holes[fam] > 0, holes
        # the tap sees segments before the drops: (almost) no holes. Under load a segment can
        # reach the tap after a later one from the other CPU, so a few are tolerated.
        assert tap_holes[fam] * 10 < holes[fam], (tap_holes, holes)
    # the arrival capture is exactly the tap capture minus the dropped segments
    logged = "tcp portrange %d-%d" % (V4_PORT, HTTP_PORT)
    if not info["arrival_v6"]:
        logged = "ip and " + logged
    tap = sum(1 for _ in fp.open(str(info["pcap"]), filter=logged))
    drops = sum(n for fam, n in info["drops"].items() if fam == 4 or info["arrival_v6"])
    assert info["arrival_packets"] == tap - drops, (info["arrival_packets"], tap, info["drops"])
    if shutil.which("tshark"):
        r = run(["tshark", "-r", str(info["arrival_pcap"]), "-n", "-Y",
                 "tcp.analysis.lost_segment", "-T", "fields", "-e", "frame.number"],
                timeout=120, env=dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent"))
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.split()) > 0  # tshark: "previous segment not captured"


def test_drops_and_retransmissions_happened(capture):
    """The random drops really fired, and their retransmissions are in the capture."""
    info = capture
    _no_errors(info, "transfer")
    families = [4, 6] if info.get("ip6tables") else [4]
    for fam in families:
        assert info["drops"].get(fam, 0) > 0, "no segment dropped for IPv%d: %r" % (
            fam, info["drops"])
    # Independent of fastpkt's reassembly: the same (connection, sequence number) carried
    # data more than once in the capture.
    seen: dict = {}
    for pkt in fp.open(str(info["pcap"]), filter="tcp and greater 200"):
        if pkt.tcp is None or not pkt.tcp.payload:
            continue
        k = (pkt.ip.version if pkt.ip is not None else 6, pkt.src, pkt.sport, pkt.dport,
             pkt.tcp.seq)
        seen[k] = seen.get(k, 0) + 1
    for fam in families:
        repeats = sum(n - 1 for k, n in seen.items() if k[0] == fam and n > 1)
        assert repeats > 0, "no retransmitted segment in the IPv%d capture" % fam
    if shutil.which("tshark"):
        r = run(["tshark", "-r", str(info["pcap"]), "-n", "-Y",
                 "tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
                 "tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order",
                 "-T", "fields", "-e", "ip.src", "-e", "ipv6.src"], timeout=120,
                env=dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent"))
        assert r.returncode == 0, r.stderr
        by_family = {4: 0, 6: 0}
        for ln in r.stdout.splitlines():
            v4, _, v6 = ln.partition("\t")
            if v6.strip():
                by_family[6] += 1
            elif v4.strip():
                by_family[4] += 1
        for fam in families:
            assert by_family[fam] > 0, "tshark sees no retransmission in IPv%d: %r" % (
                fam, by_family)


TRANSFER_CASES = [(view, fam, size) for view in VIEWS for fam in (4, 6) for size in SIZES]


@pytest.mark.parametrize("view,family,size", TRANSFER_CASES,
                         ids=["%s-v%d-%dB" % c for c in TRANSFER_CASES])
def test_transfer_reassembled(capture, view, family, size):
    info = capture
    streams = _view(info, view)
    if family == 6 and not info["ipv6"]:
        pytest.skip("no ::1 on loopback in the namespace (IPv6 disabled)")
    if family == 6 and view == "arrival" and not info["arrival_v6"]:
        pytest.skip("no ip6tables NFLOG rule: %s" % info.get("arrival_error"))
    _no_errors(info, "transfer")
    name = _file_name(size)
    rows = [t for t in info["transfers"] if t["family"] == family and t["name"] == name]
    assert len(rows) == 1, info["transfers"]
    row = rows[0]
    payload = info["payloads"][name]
    request = info["payloads"]["req-" + name]
    # the client itself received the file intact (so the expected bytes are right)
    assert row["sha256"] == _sha(payload) and row["len"] == size
    s = _find(streams, family, row["client_port"], row["server_port"])
    assert s.ip_version == family
    assert s.client_ip == ("127.0.0.1" if family == 4 else "::1")
    assert s.server_ip == s.client_ip
    assert s.key == (s.client_ip, row["client_port"], s.server_ip, row["server_port"])
    assert s.vlan is None
    assert not s.midstream
    assert _gaps(s.server_gaps) == [], "server->client gaps %r" % _gaps(s.server_gaps)
    assert _gaps(s.client_gaps) == [], "client->server gaps %r" % _gaps(s.client_gaps)
    assert len(s.server_data) == size
    assert _sha(s.server_data) == _sha(payload), _first_diff(s.server_data, payload)
    assert s.client_data == request, _first_diff(s.client_data, request)
    assert s.server_bytes == size and s.client_bytes == len(request)
    _assert_ending(s, _pcap(info, view))
    assert "stream_overlap_inconsistent" not in s.anomalies, s.anomalies
    assert "stream_midstream" not in s.anomalies
    assert s.client_packets >= 2 and s.server_packets >= 2  # SYN, ACK, ... / SYN-ACK, FIN
    assert s.first_seen <= s.last_seen


_TCPDUMP_LINE = re.compile(r" (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\]")


def _wire_ending(pcap, client_port: int, server_port: int) -> dict:
    """How the connection ended on the wire, read by tcpdump (the reference): whether each
    side sent a FIN and whether any RST was sent. The kernel may end a finished transfer with
    a RST (e.g. an orphaned socket's retransmission timer on a loaded machine); the stream's
    state must say what the wire says."""
    # no BPF filter: libpcap compiles none for the arrival view's NFLOG capture
    r = run(["tcpdump", "-nr", str(pcap)], timeout=120)
    assert r.returncode == 0, r.stderr
    out = {"client_fin": False, "server_fin": False, "rst": False}
    for ln in r.stdout.splitlines():
        m = _TCPDUMP_LINE.search(ln)
        if not m or {int(m.group(2)), int(m.group(4))} != {client_port, server_port}:
            continue
        flags, from_client = m.group(5), int(m.group(2)) == client_port
        if "F" in flags:
            out["client_fin" if from_client else "server_fin"] = True
        if "R" in flags:
            out["rst"] = True
    return out


def _assert_ending(s, pcap) -> None:
    wire = _wire_ending(pcap, s.client_port, s.server_port)
    assert wire["client_fin"] and wire["server_fin"], wire  # the scripts close both sides
    assert s.state == ("reset" if wire["rst"] else "closed"), wire
    assert s.client_closed and s.server_closed


def _first_diff(got: bytes, want: bytes) -> str:
    n = min(len(got), len(want))
    for i in range(n):
        if got[i] != want[i]:
            return "first differing offset %d (len got %d, want %d)" % (i, len(got), len(want))
    return "one is a prefix of the other (len got %d, want %d)" % (len(got), len(want))


def _http_stream(info, view="tap"):
    streams = _view(info, view)
    _no_errors(info, "http")
    rows = info["http"]
    assert len(rows) == len(HTTP_SIZES), rows
    assert len({r["sock"] for r in rows}) == 1 and len({r["client_port"] for r in rows}) == 1, \
        "http.client did not reuse one connection: %r" % rows
    assert all(r["status"] == 200 and not r["will_close"] for r in rows), rows
    return _find(streams, 4, rows[0]["client_port"], HTTP_PORT), rows


@pytest.mark.parametrize("view", VIEWS)
def test_http_keepalive_stream_bytes(capture, view):
    """The keep-alive connection itself reassembles completely (no HTTP parsing needed):
    every file's bytes appear, in request order, in the server's data."""
    info = capture
    s, rows = _http_stream(info, view)
    assert _gaps(s.server_gaps) == [] and _gaps(s.client_gaps) == []
    _assert_ending(s, _pcap(info, view))
    assert s.client_data.count(b"GET /") == len(HTTP_SIZES)
    pos = 0
    for i, size in enumerate(HTTP_SIZES):
        body = info["payloads"]["www/h%d-%d.bin" % (i, size)]
        head_end = s.server_data.index(b"\r\n\r\n", pos) + 4
        assert s.server_data[pos:pos + 15] == b"HTTP/1.1 200 OK"
        assert s.server_data[head_end:head_end + size] == body
        pos = head_end + size
    assert pos == len(s.server_data)


def _check_http_messages(msgs, info):
    from fastpkt.http import HttpRequest, HttpResponse

    reqs = [m for m in msgs if isinstance(m, HttpRequest)]
    resps = [m for m in msgs if isinstance(m, HttpResponse)]
    names = ["h%d-%d.bin" % (i, s) for i, s in enumerate(HTTP_SIZES)]
    assert [r.method for r in reqs] == ["GET"] * len(names)
    assert [r.uri for r in reqs] == ["/" + n for n in names]
    assert len(resps) == len(names), [(type(m).__name__, getattr(m, "status", None))
                                      for m in msgs]
    for resp, name in zip(resps, names):
        want = info["payloads"]["www/" + name]
        assert resp.status == 200
        assert resp.body_complete, name
        assert _sha(resp.body) == _sha(want), (name, len(resp.body), len(want))
        assert resp.request is not None and resp.request.uri == "/" + name


@pytest.mark.parametrize("view", VIEWS)
def test_http_keepalive_messages(capture, view):
    info = capture
    s, _ = _http_stream(info, view)
    _check_http_messages(s.http_messages(), info)


@pytest.mark.parametrize("entry", ["fp.http", "fastpkt.http.http"])
def test_http_keepalive_fp_http(capture, entry):
    """fp.http(source) over a capture: the contract's entry point, and the module function."""
    mod = importlib.import_module("fastpkt.http")   # fp.http is the function, not the module
    func = fp.http if entry == "fp.http" else mod.http
    info = capture
    _http_stream(info)  # the scenario ran
    # only the HTTP connection: the file transfers on 6001/6002 are not HTTP
    http_pcap = info["pcap"].with_name("http.pcap")
    if not http_pcap.exists():
        r = run(["tcpdump", "-r", str(info["pcap"]), "-w", str(http_pcap),
                 "tcp port %d" % HTTP_PORT])
        assert r.returncode == 0, r.stderr
    _check_http_messages(list(func(str(http_pcap), decode=False)), info)


@pytest.mark.parametrize("view", VIEWS)
def test_only_loopback_addresses(capture, view):
    streams = _view(capture, view)
    ips = {s.client_ip for s in streams} | {s.server_ip for s in streams}
    assert ips <= {"127.0.0.1", "::1"}, ips
    assert re.match(r"fpstreams-\d+$", capture["ns"])
    v6 = capture["ipv6"] and (view == "tap" or capture["arrival_v6"])
    n = len(SIZES) * (2 if v6 else 1) + 1
    assert len(streams) == n, [(s.key, s.state) for s in streams]
