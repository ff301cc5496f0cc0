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
