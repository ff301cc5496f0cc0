"""TLS record header and ClientHello SNI in one segment (RFC 8446 4.1.2, RFC 6066 3)."""
from __future__ import annotations

import subprocess

import pytest

from _fphelpers import DATA, fixture_packets, hand


def test_against_hand_values():
    for i, (p, h) in enumerate(zip(fixture_packets("tls.pcap"), hand("tls.pcap"))):
        t = p.tls
        assert t is not None, i
        for k, v in h.items():
            if k == "what":
                continue
            if k == "malformed":
                assert ("tls_malformed" in p.anomalies) is v, (i, p.anomalies)
                continue
            assert getattr(t, k) == v, (i, k, getattr(t, k), v)


def test_layer_presence():
    p = fixture_packets("tls.pcap")[0]
    assert p.haslayer("TLS") and p.tls.name == "TLS" and p.layers[-1] == "TLS"


def test_sni_agrees_with_tshark(tshark):
    """tshark's reading of the same fixture (independent of how it was built)."""
    out = subprocess.run([tshark, "-r", str(DATA / "tls.pcap"), "-n", "-T", "fields",
                          "-e", "tls.handshake.extensions_server_name"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    ours = [p.tls.sni or "" for p in fixture_packets("tls.pcap")]
    if len(out) != len(ours):
        pytest.fail(f"tshark printed {len(out)} lines for {len(ours)} packets")
    assert ours == out


# ---- one ClientHello parser: where the per-packet view changed, and what decided it ------------
# pkt.tls reads its ClientHello with the hello engine's parser (csrc/dissect/tls.c). The
# old per-packet parser disagreed with it on the cases below; each test names the reference.

import struct  # noqa: E402

import fastpkt as fp  # noqa: E402
from test_client_hellos import client_hello, records  # noqa: E402
from test_stream_reassembly import Conn, pcap  # noqa: E402


def _ext(t: int, body: bytes) -> bytes:
    return struct.pack("!HH", t, len(body)) + body


def _hello(exts: bytes) -> bytes:
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _sni(name: bytes) -> bytes:
    return _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)


def _segment(payload: bytes):
    c = Conn().handshake()
    c.c(0, payload)
    return list(fp.open(pcap(c.frames)))[3]


def test_inner_overrun_of_any_extension_is_malformed():
    """An ALPN list longer than its extension: tshark 4.x reports "Vector length 9 is too
    large" (Expert Info Error/Malformed). The old parser checked server_name only."""
    p = _segment(records(_hello(_sni(b"a.example") + _ext(16, b"\x00\x09\x02h2"))))
    assert p.tls.sni == "a.example" and "tls_malformed" in p.anomalies


def test_grammar_warnings_are_not_malformed():
    """An empty host_name and an odd cipher-suite length are tshark warnings (Expert Info
    Warning/Protocol), not Malformed: the view does not flag them."""
    empty = _segment(records(_hello(_ext(0, b"\x00\x03\x00\x00\x00"))))
    assert empty.tls.sni is None and "tls_malformed" not in empty.anomalies
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x03\x13\x01\x13" + b"\x01\x00"
    odd = _segment(records(b"\x01" + len(body).to_bytes(3, "big") + body))
    assert "tls_malformed" not in odd.anomalies


def test_cut_hello_is_truncated_not_malformed():
    """A hello cut by the segment end whose cipher-suite vector claims past the message: tshark
    (tcp.desegment_tcp_streams off) judges no handshake message it has not seen whole, and the
    hello engine reports such a hello truncated. The old parser flagged it malformed."""
    msg = _hello(_sni(b"c.example"))
    cut = msg[:39] + b"\x0f\xa0" + msg[41:]          # cipher suites claim 4000 bytes
    p = _segment(records(cut)[:60])
    assert p.tls.is_client_hello and not p.tls.hello_complete
    assert "tls_malformed" not in p.anomalies


def test_sni_needs_its_whole_extension_in_the_segment():
    """A server_name extension cut by the segment end gives no SNI, as the hello engine frames
    it (tshark shows it only after reassembly). The old parser read a host_name whose
    extension claimed more bytes than the segment held."""
    name = b"d.example"
    entry = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    msg = _hello(_ext(0, entry + bytes(200)))        # extension claims 200 more bytes
    p = _segment(records(msg)[:len(records(msg)) - 150])
    assert p.tls.is_client_hello and p.tls.sni is None


def test_hello_over_more_records_than_read_is_flagged():
    """Records per segment are bounded (16 collected): a hello still unfinished there is
    flagged tls_records_capped, never silently cut."""
    msg = client_hello(sni="capped.example", pad=400)
    p = _segment(records(msg, [100] + [16] * 30))   # the SNI lies in the first record
    assert p.tls.sni == "capped.example" and not p.tls.hello_complete
    assert "tls_records_capped" in p.anomalies
    fits = _segment(records(msg, [200] + [30] * 14))  # 15 records
    assert fits.tls.hello_complete and fits.tls.sni == "capped.example"
    assert "tls_records_capped" not in fits.anomalies
