"""fp.client_hellos on real clients: loopback inside a network namespace this test creates.

Root only (skips otherwise, or without `ip netns`/tcpdump/openssl). The harness
(tests/_netns.py) creates `fphellos-<pid>`, brings lo up with MTU 1500 and offloads off, and
records it with tcpdump. All traffic is on 127.0.0.1 / ::1 inside the namespace. The expected
values come from what the test configured (and what the clients report), never from fastpkt.

Scenarios (all recorded in one capture; one server port each):
  6101  openssl s_server (self-signed P-256 cert made here, -alpn h2) and `openssl s_client
        -servername NAME -alpn h2,http/1.1` for an IDN punycode name, a name with a 63-byte
        label, names of 253 bytes, over IPv4 and IPv6, and one TLS 1.2-only client.
  6102  the same s_server kind, and a raw-socket client sending ClientHellos built by hand
        here (GREASE in ciphers/extensions/groups/versions/key_share): hellos past 1,500,
        3,000 and 5,000 bytes (several TCP segments: padding extension, a big GREASE key
        share), one split over two TLS records, one sent in tiny TCP segments (TCP_NODELAY,
        each chunk sent once the previous one is ACKed; the record header itself split). JA3/JA4 strings are computed here from the
        built fields (JA3 README; JA4 spec) and compared exactly; tshark's ja3_full and SNI
        on the same capture too, when tshark is installed.
  6103  lossy: iptables INPUT drops 10 % of the segments of 200 bytes or more at random (after
        the capture tap, see _netns.py), and an NFLOG rule after the drop rule records what
        was delivered ("arrival" view: real holes filled later by retransmissions, so the
        hellos arrive out of order). 9 KB hand-built hellos (7 segments), 16 per IP version;
        every hello must be found in both views with the right SNI, JA3 and JA4.
  6104  STARTTLS-like: a Python server reads "STARTTLS\\r\\n", answers "OK\\r\\n" then wraps the
        socket with ssl; the same after an HTTP CONNECT exchange, and after prologues shorter
        than a TLS record header ("TLS\\n" / "OK\\n"); a Python ssl client does the same.
  6106  QUIC (UDP): aioquic client and server (ALPN h3, server_name set), IPv4/IPv6, QUIC v2,
        and a hello too big for one Initial. Skipped when aioquic is not importable.
Finally fp.flows(...).to_pandas()'s sni/alpn/ja3/ja4 columns for the same connections.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import ssl
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _netns import NetnsCapture, NetnsError, requirements, run, wait_until

P_OPENSSL, P_RAW, P_LOSSY, P_PROLOGUE, P_QUIC = 6101, 6102, 6103, 6104, 6106
DROP_PROBABILITY = "0.10"
NFLOG_GROUP = 7
LOSSY_PER_FAMILY = 16
SEED = 20240611
TSHARK_ENV = dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent")


# ---- hand-built ClientHellos ------------------------------------------------------------

def is_grease(v: int) -> bool:
    """RFC 8701: 0x0A0A, 0x1A1A, ..., 0xFAFA."""
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def _u16s(values) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def _ext(t: int, body: bytes) -> tuple[int, bytes]:
    return (t, body)


class Hello:
    """A TLS 1.3 ClientHello (Chrome-like, with GREASE), built by hand; knows its own JA3/JA4."""

    def __init__(self, sni: str, alpn=("h2", "http/1.1"), pad: int | None = None,
                 grease_share: int = 1, seed: int = 0):
        rng = random.Random(SEED + seed)
        self.sni = sni
        self.alpn = tuple(alpn)
        self.legacy_version = 0x0303
        self.ciphers = (0x2A2A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030,
                        0xCCA9, 0xCCA8, 0x009C, 0x002F)
        self.groups = (0x3A3A, 0x001D, 0x0017, 0x0018)
        self.point_formats = (0,)
        self.sigalgs = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
        self.versions = (0x4A4A, 0x0304, 0x0303)
        self.psk_modes = (1,)
        self.key_share_groups = (0x3A3A, 0x001D)
        self.random = rng.randbytes(32)
        self.session_id = rng.randbytes(32)
        name = sni.encode()
        protos = b"".join(bytes([len(p)]) + p.encode() for p in self.alpn)
        shares = (struct.pack("!HH", 0x3A3A, grease_share) + bytes(grease_share)
                  + struct.pack("!HH", 0x001D, 32) + rng.randbytes(32))
        exts = [
            _ext(0x0A0A, b""),
            _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),
            _ext(23, b""),                                             # extended_master_secret
            _ext(65281, b"\x00"),                                      # renegotiation_info
            _ext(10, struct.pack("!H", 2 * len(self.groups)) + _u16s(self.groups)),
            _ext(11, bytes([len(self.point_formats)]) + bytes(self.point_formats)),
            _ext(35, b""),                                             # session_ticket
            _ext(16, struct.pack("!H", len(protos)) + protos),
            _ext(13, struct.pack("!H", 2 * len(self.sigalgs)) + _u16s(self.sigalgs)),
            _ext(43, bytes([2 * len(self.versions)]) + _u16s(self.versions)),
            _ext(45, bytes([len(self.psk_modes)]) + bytes(self.psk_modes)),
            _ext(51, struct.pack("!H", len(shares)) + shares),
            _ext(0xFAFA, b"\x00"),
        ]
        if pad is not None:
            exts.append(_ext(21, bytes(pad)))                          # padding (RFC 7685)
        self.extensions = tuple(t for t, _ in exts)
        ext_bytes = b"".join(struct.pack("!HH", t, len(b)) + b for t, b in exts)
        body = (struct.pack("!H", self.legacy_version) + self.random
                + bytes([len(self.session_id)]) + self.session_id
                + struct.pack("!H", 2 * len(self.ciphers)) + _u16s(self.ciphers)
                + b"\x01\x00" + struct.pack("!H", len(ext_bytes)) + ext_bytes)
        self.body_len = len(body)
        self.message = b"\x01" + len(body).to_bytes(3, "big") + body

    def records(self, split: int | None = None) -> bytes:
        """The handshake message in one TLS record, or two (the message cut at `split`)."""
        parts = [self.message] if split is None else [self.message[:split],
                                                      self.message[split:]]
        return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(p)) + p for p in parts)

    @property
    def ja3(self) -> str:
        """SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats (JA3
        README): decimal, '-' joined, GREASE values left out."""
        def j(values):
            return "-".join(str(v) for v in values if not is_grease(v))
        return ",".join([str(self.legacy_version), j(self.ciphers), j(self.extensions),
                         j(self.groups), j(self.point_formats)])

    @property
    def ja4(self) -> str:
        return ja4("t", self.versions, self.legacy_version, bool(self.sni), self.ciphers,
                   self.extensions, self.alpn, self.sigalgs)[0]

    @property
    def ja4_r(self) -> str:
        return ja4("t", self.versions, self.legacy_version, bool(self.sni), self.ciphers,
                   self.extensions, self.alpn, self.sigalgs)[1]


def ja4(transport: str, versions, legacy_version: int, has_sni: bool, ciphers, extensions,
        alpn, sigalgs) -> tuple[str, str]:
    """(JA4, JA4_r) by the FoxIO JA4 spec (JA4.md): transport + version + d/i + cipher count
    + extension count + ALPN first and last characters; sorted ciphers; sorted extensions
    without SNI/ALPN, then the signature algorithms in order. GREASE left out everywhere."""
    names = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}
    offered = [v for v in versions if not is_grease(v)]
    version = max(offered) if offered else legacy_version
    ciphers = [c for c in ciphers if not is_grease(c)]
    exts = [t for t in extensions if not is_grease(t)]
    first = alpn[0] if alpn else ""
    a = "%s%s%s%02d%02d%s" % (transport, names[version], "d" if has_sni else "i",
                              min(len(ciphers), 99), min(len(exts), 99),
                              first[0] + first[-1] if first else "00")
    b = ",".join(sorted("%04x" % c for c in ciphers))
    c = ",".join(sorted("%04x" % t for t in exts if t not in (0, 16)))
    sigs = ",".join("%04x" % x for x in sigalgs if not is_grease(x))
    if sigs:
        c += "_" + sigs

    def h(text):
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"
    return "%s_%s_%s" % (a, h(b), h(c)), "%s_%s_%s" % (a, b, c)


ALPN15 = ("http/1.1", "h2", "spdy/3.1", "h2c", "hq-interop", "acme-tls/1", "imap", "pop3",
          "ftp", "xmpp-client", "stun.turn", "webrtc", "coap", "dot", "mqtt")  # fastpkt keeps 16


def _raw_cases() -> dict:
    """name -> (Hello, wire bytes, send plan chunks or None, minimum client data segments)."""
    cases = {}
    h = Hello("seg1500.raw.example", pad=1400, seed=1)
    cases["over1500"] = (h, h.records(), None, 2)
    h = Hello("seg3000.raw.example", grease_share=2900, seed=2)          # a big dummy key share
    cases["over3000"] = (h, h.records(), None, 3)
    h = Hello("seg5000.raw.example", alpn=ALPN15, pad=3000, grease_share=1800, seed=3)
    cases["over5000"] = (h, h.records(), None, 4)
    h = Hello("two-records.raw.example", seed=4)
    cases["two_records"] = (h, h.records(split=150), None, 1)
    h = Hello("tiny-segments.raw.example", alpn=("h2",), seed=5)
    data = h.records()
    chunks = [3, 2, 1, 4] + [40] * ((len(data) - 10) // 40)              # header split too
    cases["tiny_segments"] = (h, data, chunks, len(chunks))
    assert cases["two_records"][1].count(b"\x16\x03\x01") == 2
    assert len(cases["over1500"][1]) > 1500 and len(cases["over3000"][1]) > 3000
    assert len(cases["over5000"][1]) > 5000
    return cases


RAW_CASES = _raw_cases()


def _lossy_hellos() -> dict:
    out = {}
    for fam in (4, 6):
        for i in range(LOSSY_PER_FAMILY):
            out[(fam, i)] = Hello("lossy-v%d-%02d.example" % (fam, i), pad=9000,
                                  seed=100 + 50 * fam + i)
    return out


LOSSY_HELLOS = _lossy_hellos()


# ---- openssl s_client cases -------------------------------------------------------------

def _name253(first: str) -> str:
    name = ".".join([first * 63, "b" * 63, "c" * 63, "d" * 57]) + ".com"
    assert len(name) == 253 and max(len(x) for x in name.split(".")) == 63
    return name


S_CLIENT_CASES = {
    # id: (host, server name, extra s_client options)
    "v4-idn": ("127.0.0.1", "xn--bcher-kva.example", []),
    "v4-label63": ("127.0.0.1", "l" * 63 + ".example.org", []),
    "v4-name253": ("127.0.0.1", _name253("a"), []),
    "v6-idn": ("::1", "xn--80akhbyknj4f.xn--p1ai", []),
    "v6-name253": ("::1", _name253("x"), []),
    "v4-tls12": ("127.0.0.1", "tls12.example", ["-tls1_2"]),
}

PROLOGUE_CASES = {
    # id: (kind, server name, client ALPN)
    "starttls": ("starttls", "mail.starttls.example", ("imap",)),
    "connect": ("connect", "www.connect.example", ("h2", "http/1.1")),
    # shorter than a TLS record header (5 bytes) in both directions: "TLS\n", "OK\n"
    "short": ("short", "short.prologue.example", ("h2",)),
}

QUIC_LONG_ALPN = ("h3",) + tuple("x%02d-" % i + "q" * 90 for i in range(14))

QUIC_CASES = {
    # id: (host, server name, ALPN, QUIC version)
    "v4": ("127.0.0.1", "quic.example", ("h3",), 1),
    "v6": ("::1", "quic6.example", ("h3", "h3-29"), 1),
    "v2": ("127.0.0.1", "v2.quic.example", ("h3",), 2),
    "two-initials": ("127.0.0.1", "big.quic.example", QUIC_LONG_ALPN, 1),
}
QUIC_VERSIONS = {1: 0x00000001, 2: 0x6B3343CF}


# ---- scripts run inside the namespace ---------------------------------------------------

RAW_CLIENT = r'''
import fcntl, json, socket, struct, sys, termios, time
spec = json.loads(sys.argv[1])

def unacked(s):
    """Bytes sent but not yet ACKed (SIOCOUTQ, the same ioctl number as TIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]

def wait_acked(s):
    deadline = time.monotonic() + 60  # failure guard only
    while unacked(s):
        if time.monotonic() > deadline:
            raise SystemExit("chunk never ACKed")
        time.sleep(0.001)
for c in spec["conns"]:
    with open(c["file"], "rb") as f:
        data = f.read()
    s = socket.socket(socket.AF_INET6 if ":" in c["host"] else socket.AF_INET)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(20)
    s.connect((c["host"], c["port"]))
    port = s.getsockname()[1]
    pos = 0
    for n in c["chunks"] or []:
        s.sendall(data[pos:pos + n])
        pos += n
        wait_acked(s)  # the next chunk cannot join this one's segment: one segment each
    if pos < len(data):
        s.sendall(data[pos:])
    reply = b""
    try:            # the server's first record: a ServerHello (or an alert)
        while len(reply) < 6 or len(reply) < 5 + int.from_bytes(reply[3:5], "big"):
            b = s.recv(65536)
            if not b:
                break
            reply += b
    except socket.timeout:
        pass
    s.shutdown(socket.SHUT_WR)
    s.settimeout(30)  # failure guard: the server closes after our FIN
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
    print(json.dumps({"name": c["name"], "client_port": port, "reply": reply[:6].hex()}),
          flush=True)
'''

PROLOGUE = r'''
import json, socket, ssl, sys, threading
spec = json.loads(sys.argv[1])
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(spec["cert"], spec["key"])
sctx.set_alpn_protocols(["imap", "h2"])

def read_until(sock, end):
    buf = b""
    while not buf.endswith(end):          # byte by byte: no TLS byte is consumed here
        b = sock.recv(1)
        if not b:
            raise EOFError(buf)
        buf += b
    return buf

def serve(ls):
    while True:
        c, _ = ls.accept()
        try:
            first = read_until(c, b"\n")
            if first == b"STARTTLS\r\n":
                c.sendall(b"OK\r\n")
            elif first == b"TLS\n":
                c.sendall(b"OK\n")
            else:
                read_until(c, b"\r\n\r\n")
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = sctx.wrap_socket(c, server_side=True)
            t.sendall(t.recv(100).replace(b"PING", b"PONG"))
            t.close()
        except Exception as e:
            print(json.dumps({"server_error": repr(e)}), flush=True)
            c.close()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", spec["port"]))
ls.listen(4)
threading.Thread(target=serve, args=(ls,), daemon=True).start()
for c in spec["conns"]:
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.set_alpn_protocols(c["alpn"])
    s = socket.create_connection(("127.0.0.1", spec["port"]), timeout=20)
    port = s.getsockname()[1]
    if c["kind"] == "starttls":
        s.sendall(b"STARTTLS\r\n")
        answer = read_until(s, b"\r\n")
    elif c["kind"] == "short":
        s.sendall(b"TLS\n")
        answer = read_until(s, b"\n")
    else:
        s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n"
                  % (c["sni"].encode(), c["sni"].encode()))
        answer = read_until(s, b"\r\n\r\n")
    t = cctx.wrap_socket(s, server_hostname=c["sni"])
    t.sendall(b"PING")
    echo = t.recv(100)
    print(json.dumps({"id": c["id"], "client_port": port, "answer": answer.decode(),
                      "echo": echo.decode(), "version": t.version(),
                      "alpn": t.selected_alpn_protocol(), "cipher": t.cipher()[0]}), flush=True)
    t.close()
'''

QUIC_SCRIPT = r'''
import asyncio, json, ssl, sys
from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
spec = json.loads(sys.argv[1])

async def one(c):
    cc = QuicConfiguration(is_client=True, alpn_protocols=c["alpn"], server_name=c["sni"],
                           verify_mode=ssl.CERT_NONE)
    if c["version"] == 2:
        cc.supported_versions = [QuicProtocolVersion.VERSION_2]
    async with connect(c["host"], spec["port"], configuration=cc) as p:
        await p.wait_connected()
        await p.ping()
        port = p._transport.get_extra_info("sockname")[1]
        quic = getattr(p, "_quic", None)
        return {"id": c["id"], "client_port": port,
                "alpn": getattr(getattr(quic, "tls", None), "alpn_negotiated", None),
                "version": getattr(quic, "_version", None)}

async def main():
    sc = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    sc.load_cert_chain(spec["cert"], spec["key"])
    servers = [await serve("127.0.0.1", spec["port"], configuration=sc)]
    if spec["ipv6"]:
        servers.append(await serve("::1", spec["port"], configuration=sc))
    for c in spec["conns"]:
        try:
            print(json.dumps(await asyncio.wait_for(one(c), 30)), flush=True)
        except Exception as e:
            print(json.dumps({"id": c["id"], "error": repr(e)}), flush=True)
    for s in servers:
        s.close()

asyncio.run(main())
'''


# ---- the capture ------------------------------------------------------------------------

def _lines(stdout: str) -> list[dict]:
    return [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]


def _cipher_ids() -> dict[str, int]:
    """OpenSSL cipher name -> IANA code (from the ssl module, not fastpkt)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}


def _wait_listening(ns: NetnsCapture, port: int, proc: subprocess.Popen, log: Path) -> None:
    """Until the server listens (ss), or has exited; the guard only bounds a failure."""
    if wait_until(lambda: proc.poll() is not None
                  or ns.exec(["ss", "-ltnH", "sport = :%d" % port]).stdout.strip(),
                  interval=0.05) and proc.poll() is None:
        return
    raise NetnsError("openssl s_server on port %d did not start: %s"
                     % (port, log.read_text()[-500:] if log.exists() else ""))


def _s_server(ns: NetnsCapture, port: int, tmp: Path) -> subprocess.Popen:
    log = tmp / ("s_server-%d.log" % port)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ns.prefix + ["openssl", "s_server", "-accept", str(port),
                         "-cert", str(tmp / "cert.pem"), "-key", str(tmp / "key.pem"),
                         "-alpn", "h2", "-www"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    _wait_listening(ns, port, proc, log)
    return proc


def _run_s_client(ns: NetnsCapture, host: str, sni: str, extra: list[str]) -> dict:
    target = "[%s]:%d" % (host, P_OPENSSL) if ":" in host else "%s:%d" % (host, P_OPENSSL)
    r = run(ns.prefix + ["openssl", "s_client", "-connect", target, "-servername", sni,
                         "-alpn", "h2,http/1.1"] + extra, timeout=30, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    m = re.search(r"^New, (TLSv1\.[23]), Cipher is (\S+)", out, re.M)
    a = re.search(r"^ALPN protocol: (\S+)", out, re.M)
    return {"rc": r.returncode, "protocol": m and m.group(1), "cipher": m and m.group(2),
            "alpn": a and a.group(1), "output": out[-1500:]}


def _write_raw_specs(tmp: Path, hosts_v6: bool) -> tuple[dict, dict]:
    raw = {"conns": []}
    for name, (h, wire, chunks, _) in RAW_CASES.items():
        f = tmp / ("raw-%s.bin" % name)
        f.write_bytes(wire)
        raw["conns"].append({"name": name, "host": "127.0.0.1", "port": P_RAW, "file": str(f),
                             "chunks": chunks})
    lossy = {"conns": []}
    for (fam, i), h in LOSSY_HELLOS.items():
        if fam == 6 and not hosts_v6:
            continue
        f = tmp / ("lossy-v%d-%02d.bin" % (fam, i))
        f.write_bytes(h.records())
        lossy["conns"].append({"name": "%d-%d" % (fam, i), "host": "127.0.0.1" if fam == 4
                               else "::1", "port": P_LOSSY, "file": str(f), "chunks": None})
    return raw, lossy


def _scenarios(ns: NetnsCapture, info: dict, tmp: Path,
               servers: list[subprocess.Popen]) -> None:
    """Everything that runs inside the namespace (the servers go into `servers`)."""
    info["ns"] = ns.name
    info["ipv6"] = ns.has_ipv6
    # the lossy path: random drops after the capture tap, NFLOG of what was delivered
    match = ["-p", "tcp", "-m", "multiport", "--ports", str(P_LOSSY)]
    drop = match + ["-m", "length", "--length", "200:65535", "-m", "statistic",
                    "--mode", "random", "--probability", DROP_PROBABILITY, "-j", "DROP"]
    log = match + ["-j", "NFLOG", "--nflog-group", str(NFLOG_GROUP)]
    if ns.iptables(["-A", "INPUT"] + drop) and ns.iptables(["-A", "INPUT"] + log):
        info["lossy_v6"] = (ns.has_ipv6 and ns.iptables(["-A", "INPUT"] + drop, v6=True)
                            and ns.iptables(["-A", "INPUT"] + log, v6=True))
        try:
            ns.add_capture("nflog:%d" % NFLOG_GROUP, info["arrival_pcap"])
            info["arrival"] = True
        except NetnsError as e:
            info["arrival_error"] = str(e)
    else:
        info["iptables_error"] = ns.iptables_error
    for port in (P_OPENSSL, P_RAW, P_LOSSY):
        servers.append(_s_server(ns, port, tmp))

    # 1. openssl s_client
    for cid, (host, sni, extra) in S_CLIENT_CASES.items():
        if ":" in host and not ns.has_ipv6:
            continue
        info["s_client"][cid] = _run_s_client(ns, host, sni, extra)

    # 2. hand-built hellos, 3. the same over the lossy path
    raw, lossy = _write_raw_specs(tmp, info["lossy_v6"])
    for key, spec in (("raw", raw), ("lossy", lossy)):
        if key == "lossy" and "iptables_error" in info:
            continue
        r = ns.exec([sys.executable, "-c", RAW_CLIENT, json.dumps(spec)], timeout=120)
        info[key] = {row["name"]: row for row in _lines(r.stdout)}
        if r.returncode != 0:
            info["errors"][key] = (r.stdout + r.stderr)[-2000:]
    info["drops"][4] = sum(n for n, ln in ns.counters() if "DROP" in ln)
    if info["lossy_v6"]:
        info["drops"][6] = sum(n for n, ln in ns.counters(v6=True) if "DROP" in ln)

    # 4. plaintext prologue, then TLS
    spec = {"port": P_PROLOGUE, "cert": str(tmp / "cert.pem"),
            "key": str(tmp / "key.pem"),
            "conns": [{"id": cid, "kind": kind, "sni": sni, "alpn": list(alpn)}
                      for cid, (kind, sni, alpn) in PROLOGUE_CASES.items()]}
    r = ns.exec([sys.executable, "-c", PROLOGUE, json.dumps(spec)], timeout=60)
    info["prologue"] = {row["id"]: row for row in _lines(r.stdout) if "id" in row}
    if r.returncode != 0 or any("server_error" in row for row in _lines(r.stdout)):
        info["errors"]["prologue"] = (r.stdout + r.stderr)[-2000:]

    # 5. QUIC
    if info["quic_skip"] is None:
        spec = {"port": P_QUIC, "cert": str(tmp / "cert.pem"),
                "key": str(tmp / "key.pem"), "ipv6": ns.has_ipv6,
                "conns": [{"id": cid, "host": host, "sni": sni, "alpn": list(alpn),
                           "version": ver}
                          for cid, (host, sni, alpn, ver) in QUIC_CASES.items()
                          if ns.has_ipv6 or ":" not in host]}
        r = ns.exec([sys.executable, "-c", QUIC_SCRIPT, json.dumps(spec)], timeout=90)
        info["quic"] = {row["id"]: row for row in _lines(r.stdout)}
        if r.returncode != 0:
            info["errors"]["quic"] = (r.stdout + r.stderr)[-2000:]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    why = requirements(("ip", "tcpdump", "openssl", "ss"))
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("hellos_netns")
    os.chmod(tmp, 0o755)
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(tmp / "key.pem"),
             "-out", str(tmp / "cert.pem"), "-subj", "/CN=fastpkt-test", "-days", "2"])
    if r.returncode != 0:
        pytest.skip("openssl cannot make a self-signed certificate: %s" % r.stderr[-300:])
    info: dict = {"pcap": tmp / "lo.pcap", "arrival_pcap": tmp / "nflog.pcap", "errors": {}, "s_client": {},
                  "raw": {}, "lossy": {}, "prologue": {}, "quic": {}, "drops": {},
                  "quic_skip": None, "arrival": False, "lossy_v6": False}
    try:
        import aioquic  # noqa: F401  (the QUIC scenario runs it in a subprocess)
    except ImportError:
        info["quic_skip"] = "aioquic is not installed (pip install aioquic)"
    ns = NetnsCapture("fphellos", info["pcap"])
    servers: list[subprocess.Popen] = []
    try:
        with ns:
            try:
                _scenarios(ns, info, tmp, servers)
            finally:
                for proc in servers:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            info["tcpdump"] = ns.stop_capture()
            info["incomplete"] = ns.incomplete
    except NetnsError as e:
        pytest.skip(str(e))
    assert not ns.left_behind(), "namespace %s left behind" % ns.name
    info["hellos"] = {"tap": list(fp.client_hellos(str(info["pcap"])))}
    if info["arrival"]:
        info["hellos"]["arrival"] = list(fp.client_hellos(str(info["arrival_pcap"])))
    return info


def _no_errors(info, what):
    assert what not in info["errors"], "scenario %s failed:\n%s" % (what, info["errors"][what])


def _hellos_on(info, port, view="tap", transport="tcp"):
    return [h for h in info["hellos"][view] if h.server_port == port and h.transport == transport]


def _one_by_port(info, ip_version, client_port, server_port, view="tap", transport="tcp"):
    found = [h for h in info["hellos"][view] if h.ip_version == ip_version
             and h.client_port == client_port and h.server_port == server_port
             and h.transport == transport]
    assert len(found) == 1, "expected one hello for port %d -> %d, got %r" % (
        client_port, server_port, [(h.client_port, h.server_port, h.sni) for h in
                                   _hellos_on(info, server_port, view, transport)])
    return found[0]


def _client_segments(pcap: Path, ip_version: int, client_port: int, server_port: int) -> list:
    """(seq offset, length) of the client's data segments, from fastpkt's packet parser."""
    out, isn = [], None
    for pkt in fp.open(str(pcap), display_filter="tcp.port == %d" % server_port):  # NFLOG: no BPF
        t = pkt.tcp
        fam = 4 if pkt.ip is not None else 6
        if fam != ip_version or pkt.sport != client_port or pkt.dport != server_port:
            continue
        if t.flags.S:
            isn = t.seq
        elif t.payload and isn is not None:
            out.append(((t.seq - isn - 1) % (1 << 32), len(t.payload)))
    return out


# ---- the tests --------------------------------------------------------------------------

def test_capture_is_complete(capture):
    """tcpdump lost nothing, so every byte the kernel sent is in the capture(s)."""
    assert not capture["incomplete"], capture["incomplete"]
    for iface, err in capture["tcpdump"].items():
        m = re.search(r"(\d+) packets? dropped by kernel", err)
        assert m, (iface, err)
        assert int(m.group(1)) == 0, (iface, err)


def test_only_loopback_addresses_and_expected_connections(capture):
    hs = capture["hellos"]["tap"]
    assert {h.client_ip for h in hs} | {h.server_ip for h in hs} <= {"127.0.0.1", "::1"}
    assert re.match(r"fphellos-\d+$", capture["ns"])
    assert {h.server_port for h in hs} <= {P_OPENSSL, P_RAW, P_LOSSY, P_PROLOGUE, P_QUIC}


# 1. openssl s_client -----------------------------------------------------------------------

def test_s_client_hellos_all_found(capture):
    """Exactly one hello per s_client run on the s_server port, with the names configured."""
    want = sorted((6 if ":" in S_CLIENT_CASES[cid][0] else 4, S_CLIENT_CASES[cid][1])
                  for cid in capture["s_client"])
    got = sorted((h.ip_version, h.sni) for h in _hellos_on(capture, P_OPENSSL))
    assert got == want


@pytest.mark.parametrize("cid", list(S_CLIENT_CASES))
def test_s_client_hello(capture, cid):
    host, sni, extra = S_CLIENT_CASES[cid]
    if cid not in capture["s_client"]:
        pytest.skip("no ::1 on loopback in the namespace (IPv6 disabled)")
    run_ = capture["s_client"][cid]
    assert run_["protocol"] and run_["alpn"] == "h2", run_["output"]   # what s_client saw
    ipver = 6 if ":" in host else 4
    found = [h for h in _hellos_on(capture, P_OPENSSL) if h.sni == sni and h.ip_version == ipver]
    assert len(found) == 1, [(h.ip_version, h.sni) for h in _hellos_on(capture, P_OPENSSL)]
    h = found[0]
    negotiated = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}[run_["protocol"]]
    assert h.transport == "tcp" and h.quic_version is None
    assert h.client_ip == host and h.server_ip == host and h.server_port == P_OPENSSL
    assert h.sni == sni and h.server_names == (sni,)
    assert h.alpn == ("h2", "http/1.1")
    assert 0 in h.extensions and 16 in h.extensions
    if "-tls1_2" in extra:
        assert h.version == 0x0303 and h.version_name == "TLS 1.2"
        assert 43 not in h.extensions
        assert h.server_alpn == run_["alpn"]             # in the clear in a 1.2 ServerHello
    else:
        assert h.version == 0x0304 and h.version_name == "TLS 1.3" and 0x0304 in h.versions
        assert h.server_alpn is None                   # TLS 1.3: in EncryptedExtensions
    assert h.legacy_version == 0x0303
    assert h.server_version == negotiated
    assert h.server_cipher == _cipher_ids()[run_["cipher"]]
    assert h.server_time is not None and h.server_time >= h.time
    assert h.ja3 and h.ja3.startswith("771,")
    assert h.ja3_hash == hashlib.md5(h.ja3.encode()).hexdigest()
    assert h.ja3s and h.ja3s_hash == hashlib.md5(h.ja3s.encode()).hexdigest()
    assert h.ja3s.split(",")[:2] == ["771", str(h.server_cipher)]
    assert h.ja4.startswith("t%sd" % ("12" if "-tls1_2" in extra else "13"))
    assert h.ja4[8:10] == "h2"
    assert h.hello_size > len(sni)
    assert h.anomalies == ()


# 2. hand-built hellos ----------------------------------------------------------------------

def _check_built(h, want: Hello):
    assert h.transport == "tcp"
    assert h.sni == want.sni and h.server_names == (want.sni,)
    assert h.alpn == want.alpn
    assert h.legacy_version == want.legacy_version
    assert h.version == 0x0304 and h.versions == want.versions
    assert h.ciphers == want.ciphers
    assert h.extensions == want.extensions
    assert h.groups == want.groups
    assert h.signature_algorithms == want.sigalgs
    assert h.key_share_groups == want.key_share_groups
    assert h.ec_point_formats == want.point_formats
    assert h.psk_modes == want.psk_modes
    assert h.grease is True and h.ech is False
    assert h.hello_size == want.body_len
    assert h.ja3 == want.ja3
    assert h.ja3_hash == hashlib.md5(want.ja3.encode()).hexdigest()
    assert h.ja4_r == want.ja4_r
    assert h.ja4 == want.ja4
    assert h.anomalies == ()


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_hand_built_hello(capture, case):
    info = capture
    _no_errors(info, "raw")
    want, wire, chunks, min_segments = RAW_CASES[case]
    row = info["raw"][case]
    # what s_server answered (read by the client): a ServerHello record
    assert row["reply"][:2] == "16" and row["reply"][10:12] == "02", row
    # the hello really spans as many TCP segments as planned (packet level, not reassembly)
    segs = _client_segments(info["pcap"], 4, row["client_port"], P_RAW)
    hello_segs = [s for s in segs if s[0] < len(wire)]
    assert len(hello_segs) >= min_segments, hello_segs
    h = _one_by_port(info, 4, row["client_port"], P_RAW)
    assert h.client_ip == "127.0.0.1" and h.server_ip == "127.0.0.1"
    _check_built(h, want)
    assert h.server_version == 0x0304
    assert h.server_cipher in want.ciphers and 0x1301 <= h.server_cipher <= 0x1303
    assert h.server_time is not None and h.server_time >= h.time


def _tshark_hellos(pcap: Path) -> dict:
    """First ClientHello (SNI, JA3 full string) per connection, keyed by (transport, client
    address, client port), per tshark."""
    fields = ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport",
              "tls.handshake.extensions_server_name", "tls.handshake.ja3_full",
              "tls.handshake.ja3"]
    cmd = ["tshark", "-r", str(pcap), "-n", "-o", "tcp.desegment_tcp_streams:TRUE",
           "-d", "tcp.port==%d,tls" % P_OPENSSL, "-d", "tcp.port==%d,tls" % P_RAW,
           "-d", "udp.port==%d,quic" % P_QUIC,
           "-Y", "tls.handshake.type == 1", "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    r = run(cmd, timeout=120, env=TSHARK_ENV)
    assert r.returncode == 0, r.stderr
    out: dict = {}
    for ln in r.stdout.splitlines():
        row = dict(zip(fields, ln.split("\t")))
        if not row.get("tls.handshake.ja3_full"):
            continue
        transport = "tcp" if row["tcp.srcport"] else "quic"
        key = (transport, row["ip.src"] or row["ipv6.src"],
               int(row["tcp.srcport"] or row["udp.srcport"]))
        out.setdefault(key, (row["tls.handshake.extensions_server_name"].split(",")[0],
                             row["tls.handshake.ja3_full"], row["tls.handshake.ja3"]))
    return out


@pytest.fixture(scope="module")
def tshark_hellos(capture):
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")
    return _tshark_hellos(capture["pcap"])


def test_tshark_agrees_on_hand_built_hellos(capture, tshark_hellos):
    _no_errors(capture, "raw")
    for case, (want, _, _, _) in RAW_CASES.items():
        port = capture["raw"][case]["client_port"]
        assert tshark_hellos.get(("tcp", "127.0.0.1", port)) == (
            want.sni, want.ja3, hashlib.md5(want.ja3.encode()).hexdigest()), case


def test_tshark_agrees_with_fastpkt_on_clients(capture, tshark_hellos):
    """s_client's and aioquic's hellos (not built here): tshark's SNI and JA3 = fastpkt's."""
    hs = _hellos_on(capture, P_OPENSSL) + _hellos_on(capture, P_QUIC, transport="quic")
    assert hs
    for h in hs:
        assert tshark_hellos.get((h.transport, h.client_ip, h.client_port)) == (
            h.sni, h.ja3, h.ja3_hash), (h.transport, h.client_port, h.sni)


# 3. lossy path ---------------------------------------------------------------------------

def _lossy_rows(info, family):
    if "iptables_error" in info:
        pytest.skip("cannot install the iptables drop rule: %s" % info["iptables_error"])
    if family == 6 and not info["lossy_v6"]:
        pytest.skip("no ip6tables rules or no IPv6 in the namespace")
    _no_errors(info, "lossy")
    rows = {k: v for k, v in info["lossy"].items() if k.startswith("%d-" % family)}
    assert len(rows) == LOSSY_PER_FAMILY, info["lossy"]
    return rows


@pytest.mark.parametrize("family", [4, 6])
def test_lossy_path_really_lost_segments(capture, family):
    """Drops fired; the tap capture holds retransmitted copies of client hello data and the
    arrival capture has holes in it (data beyond a missing segment, filled later)."""
    info = capture
    rows = _lossy_rows(info, family)
    assert info["drops"].get(family, 0) > 0, info["drops"]
    retrans = holes = 0
    for row in rows.values():
        top = 0
        for off, n in _client_segments(info["pcap"], family, row["client_port"], P_LOSSY):
            retrans += off < top          # data already seen: a retransmitted copy
            top = max(top, off + n)
        if info["arrival"]:
            top = 0
            for off, n in _client_segments(info["arrival_pcap"], family, row["client_port"],
                                           P_LOSSY):
                holes += off > top
                top = max(top, off + n)
    assert retrans > 0, "no retransmitted client segment in the IPv%d tap capture" % family
    if info["arrival"]:
        assert holes > 0, "no hole in the IPv%d arrival capture" % family


@pytest.mark.parametrize("view", ["tap", "arrival"])
@pytest.mark.parametrize("family", [4, 6])
def test_lossy_path_hellos(capture, family, view):
    info = capture
    rows = _lossy_rows(info, family)
    if view == "arrival" and not info["arrival"]:
        pytest.skip("no NFLOG capture: %s" % info.get("arrival_error"))
    host = "127.0.0.1" if family == 4 else "::1"
    problems = []
    for name, row in sorted(rows.items()):
        assert row["reply"][:2] == "16", row                        # the server answered
        want = LOSSY_HELLOS[(family, int(name.split("-")[1]))]
        found = [h for h in info["hellos"][view] if h.ip_version == family
                 and h.client_port == row["client_port"] and h.server_port == P_LOSSY]
        if len(found) != 1:
            problems.append("%s port %d: %d hellos" % (want.sni, row["client_port"], len(found)))
            continue
        h = found[0]
        assert h.client_ip == host
        got = (h.sni, h.alpn, h.ja3, h.ja4, h.hello_size, h.anomalies)
        exp = (want.sni, want.alpn, want.ja3, want.ja4, want.body_len, ())
        if got != exp:
            problems.append("%s: got %r" % (want.sni, got))
    assert not problems, "\n".join(problems)
    n = len([h for h in info["hellos"][view] if h.server_port == P_LOSSY
             and h.ip_version == family])
    assert n == LOSSY_PER_FAMILY


# 4. plaintext prologue -------------------------------------------------------------------

@pytest.mark.parametrize("cid", list(PROLOGUE_CASES))
def test_hello_after_plaintext_prologue(capture, cid):
    info = capture
    _no_errors(info, "prologue")
    kind, sni, alpn = PROLOGUE_CASES[cid]
    row = info["prologue"][cid]
    assert row["echo"] == "PONG" and row["alpn"] == alpn[0], row   # the TLS session worked
    h = _one_by_port(info, 4, row["client_port"], P_PROLOGUE)
    assert h.transport == "tcp" and h.sni == sni and h.server_names == (sni,)
    assert h.alpn == alpn
    assert h.version == {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}[row["version"]]
    assert h.server_version == h.version
    assert h.server_cipher == _cipher_ids()[row["cipher"]]


# 5. QUIC ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cid", list(QUIC_CASES))
def test_quic_hello(capture, cid):
    info = capture
    if info["quic_skip"]:
        pytest.skip(info["quic_skip"])
    host, sni, alpn, ver = QUIC_CASES[cid]
    if ":" in host and not info["ipv6"]:
        pytest.skip("no ::1 on loopback in the namespace (IPv6 disabled)")
    _no_errors(info, "quic")
    row = info["quic"][cid]
    assert "error" not in row, row
    assert row["alpn"] in ("h3", None), row           # None: aioquic's internals renamed
    assert row["version"] in (QUIC_VERSIONS[ver], None), row
    h = _one_by_port(info, 6 if ":" in host else 4, row["client_port"], P_QUIC,
                     transport="quic")
    assert h.client_ip == host and h.server_ip == host
    assert h.sni == sni and h.server_names == (sni,)
    assert h.alpn == alpn
    assert h.quic_version == QUIC_VERSIONS[ver]
    assert h.version == 0x0304 and h.versions == (0x0304,)
    assert 57 in h.extensions or 0xFFA5 in h.extensions      # quic_transport_parameters
    assert h.server_version == 0x0304 and h.server_cipher in (0x1301, 0x1302, 0x1303)
    assert h.ja4.startswith("q13d") and h.ja4[8:10] == "h3"
    assert h.anomalies == ()
    if cid == "two-initials":
        # the ALPN list alone is longer than a 1200-byte Initial: CRYPTO over two packets
        assert sum(len(p) + 1 for p in alpn) > 1200
        assert h.hello_size > 1200


# 6. the flows' TLS columns ---------------------------------------------------------------

def _expected_connections(info) -> list[tuple]:
    """(ip_version, client_port, server_port, protocol, sni, first alpn, hand JA3, hand JA4)
    for every connection of the scenarios: None where the value is not configured here."""
    out = []
    for cid, run_ in info["s_client"].items():
        host, sni, _ = S_CLIENT_CASES[cid]
        hs = [h for h in _hellos_on(info, P_OPENSSL) if h.sni == sni]
        if len(hs) == 1:   # the client port comes from the capture (s_client does not print it)
            out.append((6 if ":" in host else 4, hs[0].client_port, P_OPENSSL, 6, sni, "h2",
                        None, None))
    for case, row in info["raw"].items():
        want = RAW_CASES[case][0]
        out.append((4, row["client_port"], P_RAW, 6, want.sni, want.alpn[0], want.ja3, want.ja4))
    for name, row in info["lossy"].items():
        fam, i = (int(x) for x in name.split("-"))
        want = LOSSY_HELLOS[(fam, i)]
        out.append((fam, row["client_port"], P_LOSSY, 6, want.sni, want.alpn[0], want.ja3,
                    want.ja4))
    for cid, row in info["prologue"].items():
        _, sni, alpn = PROLOGUE_CASES[cid]
        out.append((4, row["client_port"], P_PROLOGUE, 6, sni, alpn[0], None, None))
    for cid, row in info["quic"].items():
        if "client_port" in row:
            host, sni, alpn, _ = QUIC_CASES[cid]
            out.append((6 if ":" in host else 4, row["client_port"], P_QUIC, 17, sni, alpn[0],
                        None, None))
    return out


class _Any:
    def __repr__(self):
        return "<any>"


ANY = _Any()


def test_flows_tls_columns_match_the_hellos(capture):
    info = capture
    df = fp.flows(str(info["pcap"])).to_pandas()
    hellos = {(h.ip_version, h.client_port, h.server_port): h for h in info["hellos"]["tap"]}
    problems = []
    expected = _expected_connections(info)
    assert len(expected) >= len(RAW_CASES) + len(PROLOGUE_CASES)
    for fam, cport, sport, proto, sni, alpn0, ja3, ja4 in expected:
        rows = df[(df.ip_version == fam) & (df.src_port == cport) & (df.dst_port == sport)
                  & (df.protocol == proto)]
        if len(rows) != 1:
            problems.append("%d %d->%d: %d flows" % (fam, cport, sport, len(rows)))
            continue
        row = rows.iloc[0]
        h = hellos.get((fam, cport, sport))
        # JA3/JA4 not computed here (real clients' hellos): the hello record's, and when
        # fastpkt made no record, at least some value ("<any>")
        want = (sni, alpn0,
                hashlib.md5(ja3.encode()).hexdigest() if ja3 else (h.ja3_hash if h else ANY),
                ja4 or (h.ja4 if h else ANY))
        got = (row.sni, row.alpn, row.ja3, row.ja4)
        if any(w != g and not (w is ANY and isinstance(g, str) and g)
               for w, g in zip(want, got)):
            problems.append("%d %d->%d: flows %r, expected %r" % (fam, cport, sport, got, want))
        if h is not None and (h.sni, h.alpn[:1], h.ja3_hash, h.ja4) != (
                row.sni, (row.alpn,), row.ja3, row.ja4):
            problems.append("%d %d->%d: hello record %r" % (
                fam, cport, sport, (h.sni, h.alpn[:1], h.ja3_hash, h.ja4)))
    assert not problems, "\n".join(problems)


def test_hellos_to_pandas(capture):
    info = capture
    df = fp.client_hellos(str(info["pcap"])).to_pandas()
    assert len(df) == len(info["hellos"]["tap"])
    assert set(df["transport"].astype(str)) <= {"tcp", "quic"}
    raw_ports = {row["client_port"] for row in info["raw"].values()}
    raw = df[(df.server_port == P_RAW) & df.client_port.isin(raw_ports)]
    assert sorted(raw["sni"].astype(str)) == sorted(h.sni for h, _, _, _ in RAW_CASES.values())



def test_ja4_consistent_with_the_hello_fields(capture):
    """Real clients' hellos (s_client, Python ssl, aioquic; their ciphers and extensions
    checked against tshark above): JA4/JA4_r recomputed here from the record's own fields."""
    hs = [h for h in capture["hellos"]["tap"] if h.server_port != P_LOSSY]
    assert hs
    problems = []
    for h in hs:
        want = ja4("q" if h.transport == "quic" else "t", h.versions, h.legacy_version,
                   bool(h.server_names), h.ciphers, h.extensions, h.alpn,
                   h.signature_algorithms)
        if (h.ja4, h.ja4_r) != want:
            problems.append("%s %s: %r, expected %r" % (h.transport, h.sni, (h.ja4, h.ja4_r),
                                                          want))
    assert not problems, "\n".join(problems)
