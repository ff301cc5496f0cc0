"""HTTP/1.x (RFC 9112) start line and headers within one segment."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

import fastpkt as fp
from fastpkt.http import messages

from _fphelpers import fixture_packets, hand


def test_against_hand_values():
    for i, (p, h) in enumerate(zip(fixture_packets("http.pcap"), hand("http.pcap"))):
        if "http" in h and h["http"] is None:
            assert p.http is None, i
            continue
        x = p.http
        assert x is not None, i
        for k, v in h.items():
            if k == "body":
                assert x.body == bytes.fromhex(v), i
            elif k == "headers":
                assert x.headers == v, (i, x.headers)
            else:
                assert getattr(x, k) == v, (i, k, getattr(x, k), v)


# Scapy's HTTP dissector runs in a fresh interpreter: importing scapy.layers.http binds port 80
# for every later Scapy dissection in the process, and its do_dissect_payload stores a
# bodiless message's (empty) load on Scapy's NoPayload singleton (`self.payload.load = s`),
# after which every Scapy packet's last layer answers `load` (tests comparing with Scapy saw
# it in full runs)
_SCAPY_HTTP = """
import json, sys
from scapy.layers.http import HTTPRequest, HTTPResponse
req, rsp = HTTPRequest(bytes.fromhex(sys.argv[1])), HTTPResponse(bytes.fromhex(sys.argv[2]))
print(json.dumps([req.Method.decode(), req.Path.decode(), req.Http_Version.decode(), req.Host.decode(),
                  req.User_Agent.decode(), int(rsp.Status_Code), rsp.Reason_Phrase.decode(),
                  rsp.Http_Version.decode()]))
"""


def test_against_scapy_http_layer():
    """Scapy's own HTTP dissector on the same bytes."""
    pkts = fixture_packets("http.pcap")
    out = subprocess.run([sys.executable, "-c", _SCAPY_HTTP, bytes(pkts[0].tcp.payload).hex(),
                          bytes(pkts[1].tcp.payload).hex()], capture_output=True, text=True, check=True)
    method, path, version, host, agent, status, reason, rsp_version = json.loads(out.stdout)
    req, rsp = pkts[0].http, pkts[1].http
    assert (req.method, req.uri, req.version, req.host) == (method, path, version, host)
    assert req.headers["user-agent"] == agent
    assert (rsp.status, rsp.reason, rsp.version) == (status, reason, rsp_version)


def test_layer_presence():
    p = fixture_packets("http.pcap")[0]
    assert p.haslayer("HTTP") and "HTTP" in p and p.http.name == "HTTP"
    assert p.layers[-1] == "HTTP"
    assert p.http.offset == p.tcp.offset + p.tcp.header_len


# ---- one head parser: the segment view and the stream engine agree -------------------

def _segment(payload: bytes, response: bool = False):
    ports = dict(sport=80, dport=40000) if response else dict(sport=40000, dport=80)
    return fp.Packet(bytes(Ether() / IP() / TCP(flags="PA", **ports) / payload))


def _stream_message(payload: bytes):
    return list(messages(payload, b""))[0]


def test_field_cap_is_flagged_not_silent():
    """Past FP_HTTP_MAX_HEADERS (128, the stream engine's cap) fields are dropped and
    the view says so, as fp.http messages do (test_http_stream.test_header_flood)."""
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(129)) + b"Host: h\r\n\r\n"
    h = _segment(many).http
    assert len(h.headers) == 128 and h.host is None and h.headers_complete
    assert h.anomalies == ("too_many_headers",)
    assert _segment(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").http.anomalies == ()


def test_whitespace_before_colon_keeps_the_field_flagged():
    """RFC 9112 section 5.1: a proxy removes whitespace between name and colon, so the
    field is kept under its name and flagged. (tshark 4.0 shows no http.host for
    'Host : x' and h11 rejects the message; the segment view used to drop it unflagged.)"""
    raw = b"GET /a HTTP/1.1\r\nHost : example.com\r\nUser-Agent: ua\r\n\r\n"
    h = _segment(raw).http
    assert h.host == "example.com" and h.anomalies == ("bad_header",)
    assert _stream_message(raw).headers.fields == [("Host", "example.com"), ("User-Agent", "ua")]


def test_obs_fold_is_unfolded():
    """RFC 9112 section 5.2 (replace each obs-fold with SP) and h11 0.16 ('one two');
    tshark 4.0 shows the first line only; the segment view used to drop the continuation."""
    h11 = pytest.importorskip("h11")
    raw = b"GET /b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: one\r\n  two\r\nAccept: x\r\n\r\n"
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    ref = dict(conn.next_event().headers)
    h = _segment(raw).http
    assert h.headers["user-agent"] == ref[b"user-agent"].decode() == "one two"
    assert h.anomalies == ("obs_fold",)
    assert _stream_message(raw).headers["user-agent"] == "one two"


def test_folded_host_is_unfolded_in_every_consumer(tmp_path):
    """RFC 9112 section 5.2 and h11 0.16: the Host field as the C consumers read it (the
    field registry, PacketList's http_host column, the flow's http_host) is the unfolded
    value pkt.http.host gives. tshark 4.0 shows "a.exa" and loses the next field."""
    h11 = pytest.importorskip("h11")
    raw = b"GET / HTTP/1.1\r\nHost: a.exa\r\n  mple.test\r\nUser-Agent: ua\r\n\r\n"
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    ref = dict(conn.next_event().headers)[b"host"].decode()
    pkt = _segment(raw)
    assert pkt.http.host == pkt.field("http.host") == ref == "a.exa mple.test"
    assert pkt.field("http.user_agent") == "ua"
    path = str(tmp_path / "folded.pcap")
    fp.write(path, [pkt])
    assert list(fp.read(path).to_pandas()["http_host"]) == [ref]
    assert list(fp.flows(path, progress=False).to_pandas()["http_host"]) == [ref]


def test_status_below_100_is_not_a_status_line():
    """RFC 9110 section 15 (status codes are 100-599) and h11 0.16 (rejects 099); tshark 4.0
    shows http.response.code 99. The segment view used to report status 99."""
    h11 = pytest.importorskip("h11")
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.receive_data(b"HTTP/1.1 099 Low\r\nServer: s\r\n\r\n")
    with pytest.raises(h11.RemoteProtocolError):
        conn.next_event()
    p = _segment(b"HTTP/1.1 099 Low\r\nServer: s\r\n\r\n", response=True)
    assert "http_malformed" in p.anomalies and p.http.status is None
    assert _segment(b"HTTP/1.1 100 Continue\r\n\r\n", response=True).http.status == 100


@pytest.mark.parametrize("raw", [
    b"GET /x?q=1 HTTP/1.1\r\nHost: a\r\nX-Null: a\x00b\r\n\r\nbody",
    b"POST / HTTP/1.0\nHost: lf\nContent-Length: 0\n\n",
    b"GET / HTTP/1.1\r\n folded-first: x\r\nA: b\r\nNoColon\r\nX-Empty:\r\n later\r\n\r\n",
])
def test_segment_view_and_stream_read_the_same_head(raw):
    h, m = _segment(raw).http, _stream_message(raw)
    assert (h.method, h.uri, h.version) == (m.method, m.uri, m.version)
    assert h.headers == {k.lower(): m.headers[k] for k in m.headers}
    assert set(h.anomalies) == set(m.anomalies)
