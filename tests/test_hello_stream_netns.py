"""ClientHellos of 16 KB to 1 MB sent to a real OpenSSL 3 server (openssl s_server) over real
kernel TCP in a network namespace; fp.client_hellos on the capture against tshark (with TCP
reassembly) and against the fields the hellos were built with.

Root only (skips otherwise, or without `ip netns`/tcpdump/openssl). The harness
(tests/_netns.py) records loopback (MTU 1500, offloads off) with tcpdump. A raw-socket
client (test_hellos_netns.RAW_CLIENT) sends each hand-built hello (tests/test_hello_stream.
BigHello: padding, thousands of extensions, a 7-12 KB GREASE key share beside a real X25519
one, tickets, up to 30,000 cipher suites) and records the server's first reply: a ServerHello
shows OpenSSL accepted the hello; the 1 MB one (past OpenSSL's 131,396-byte limit) gets an
alert. tshark 4.0 reports hellos up to 64 KB; it does not reassemble longer handshake
messages, so for those the built fields are the reference.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

import pytest

import fastpkt as fp
from _netns import NetnsCapture, NetnsError, requirements, run
from test_hello_stream import BigHello, SIZES, tshark_hellos
from test_hellos_netns import RAW_CLIENT, _lines, _s_server

PORT = 6201
KEY_SHARES = {"16k": 0, "64k": 8000, "66k": 12000, "125k": 7000}   # into a GREASE share


def _hellos() -> dict[str, BigHello]:
    out = {}
    for size, kw in SIZES.items():
        kw = dict(kw, key_share=32, grease_share=KEY_SHARES[size])
        out[size] = BigHello(sni="%s.openssl.example" % size, seed=len(size) + 40, **kw)
    out["1m"] = BigHello(sni="1m.openssl.example", tail=bytes(1 << 20), seed=99)
    return out


HELLOS = _hellos()


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    why = requirements(("ip", "tcpdump", "openssl", "ss"))
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("hello_stream_netns")
    os.chmod(tmp, 0o755)
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"),
             "-subj", "/CN=fastpkt-test", "-days", "2"])
    if r.returncode != 0:
        pytest.skip("openssl cannot make a self-signed certificate: %s" % r.stderr[-300:])
    spec = {"conns": []}
    for name, h in HELLOS.items():
        f = tmp / ("%s.bin" % name)
        f.write_bytes(h.records())
        spec["conns"].append({"name": name, "host": "127.0.0.1", "port": PORT, "file": str(f),
                              "chunks": None})
    pcap = tmp / "lo.pcap"
    try:
        with NetnsCapture("fpbighello", pcap) as ns:
            server = _s_server(ns, PORT, tmp)
            try:
                r = ns.exec([sys.executable, "-c", RAW_CLIENT, json.dumps(spec)], timeout=180)
            finally:
                server.terminate()
                server.wait(timeout=10)
    except NetnsError as e:
        pytest.skip(str(e))
    replies = {row["name"]: row for row in _lines(r.stdout)}
    assert set(replies) == set(HELLOS), (r.stdout + r.stderr)[-2000:]
    return pcap, replies


@pytest.fixture(scope="module")
def ours(capture):
    pcap, replies = capture
    by_port = {row["client_port"]: name for name, row in replies.items()}
    default = {by_port[h.client_port]: h for h in fp.client_hellos(str(pcap))}
    wide = {by_port[h.client_port]: h for h in fp.client_hellos(str(pcap), max_hello_fields=1 << 20)}
    return default, wide


@pytest.mark.parametrize("name", list(SIZES))
def test_openssl_accepts_the_hello_and_we_read_it(capture, ours, name):
    _, replies = capture
    h = HELLOS[name]
    assert replies[name]["reply"].startswith("160303"), replies[name]   # a ServerHello record
    default, wide = ours
    r = wide[name]
    assert (r.sni, r.alpn, r.ja3, r.ja4) == (h.sni, h.alpn, h.ja3, h.ja4())
    assert r.server_version == 0x0304 and r.hello_size == len(h.body)
    d = default[name]
    assert d.sni == h.sni
    assert d.ja3 == h.ja3 or "tls_hello_over_cap" in d.anomalies


def test_one_megabyte_hello_gets_an_alert_and_is_flagged(capture, ours):
    _, replies = capture
    h = HELLOS["1m"]
    assert replies["1m"]["reply"].startswith("15"), replies["1m"]      # OpenSSL: an alert
    r = ours[0]["1m"]
    assert r.sni == h.sni and r.ja3 == h.ja3 and r.hello_size == len(h.body)
    assert "tls_hello_implausible_length" in r.anomalies


def test_sni_and_ja3_against_tshark(capture, ours):
    pcap, replies = capture
    theirs = tshark_hellos(pcap, port=PORT)
    ja3_of = {sni: (full, md5) for sni, full, md5 in theirs}
    for name in SIZES:
        h, r = HELLOS[name], ours[1][name]
        if len(h.body) > 65535 and h.sni not in ja3_of:   # tshark 4.0: not reassembled
            ja3_of[h.sni] = (h.ja3, hashlib.md5(h.ja3.encode()).hexdigest())
        assert (r.ja3, r.ja3_hash) == ja3_of[h.sni], name
    assert {"16k.openssl.example", "64k.openssl.example"} <= set(ja3_of)
