"""HTTP/1.x (RFC 9112) start line and headers within one segment."""
from __future__ import annotations

from scapy.layers.http import HTTPRequest, HTTPResponse

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


def test_against_scapy_http_layer():
    """Scapy's own HTTP dissector on the same bytes."""
    pkts = fixture_packets("http.pcap")
    req = HTTPRequest(pkts[0].tcp.payload)
    assert pkts[0].http.method == req.Method.decode()
    assert pkts[0].http.uri == req.Path.decode()
    assert pkts[0].http.version == req.Http_Version.decode()
    assert pkts[0].http.host == req.Host.decode()
    assert pkts[0].http.headers["user-agent"] == req.User_Agent.decode()
    rsp = HTTPResponse(pkts[1].tcp.payload)
    assert pkts[1].http.status == int(rsp.Status_Code)
    assert pkts[1].http.reason == rsp.Reason_Phrase.decode()
    assert pkts[1].http.version == rsp.Http_Version.decode()


def test_layer_presence():
    p = fixture_packets("http.pcap")[0]
    assert p.haslayer("HTTP") and "HTTP" in p and p.http.name == "HTTP"
    assert p.layers[-1] == "HTTP"
    assert p.http.offset == p.tcp.offset + p.tcp.header_len
