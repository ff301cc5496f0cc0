"""Notebook integration: _repr_html_ on packets and packet lists."""
from __future__ import annotations

import fastpkt as fp
from _fphelpers import DATA


def test_packetlist_repr_html_is_a_table():
    pl = fp.read(DATA / "dns.pcap")
    html = pl._repr_html_()
    assert "PacketList" in html and "%d packets" % len(pl) in html
    assert "<table" in html and "dns_qname" in html


def test_packet_repr_html_escapes_and_shows_layers():
    p = fp.read(DATA / "dns.pcap")[0]
    html = p._repr_html_()
    assert "###[ DNS ]###" in html
    assert "<pre>" in html and "'" not in html.split("<pre>", 1)[1].split("</pre>")[0].replace("&#x27;", "")
