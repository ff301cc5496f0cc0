"""BPF filters on files (filter=): same packets as `tcpdump -r FILE -w - FILTER` when
tcpdump is installed, hand-known counts otherwise; bad filters raise fp.Error with
libpcap's message."""
from __future__ import annotations

import struct
import subprocess

import pytest

import fastpkt as fp
from _fphelpers import DATA, corpus_dir, corpus_files, have

FILTERS = ["tcp", "udp", "ip", "ip6", "tcp port 80", "host 10.0.0.3", "udp port 53",
           "tcp[tcpflags] & tcp-syn != 0", "vlan", "vlan 100", "ip[6:2] & 0x1fff != 0",
           "icmp6", "arp", "greater 100", "not ip"]

# Counts checked with tcpdump 4.99.3 / libpcap 1.10.3 when this file was written; they
# run everywhere, tcpdump or not.
HAND_COUNTS = {
    ("be_usec.pcap", "tcp"): 2, ("be_usec.pcap", "udp"): 2, ("be_usec.pcap", "ip6"): 1,
    ("be_usec.pcap", "ip"): 3, ("be_usec.pcap", "tcp port 80"): 2,
    ("be_usec.pcap", "host 10.0.0.3"): 1, ("be_usec.pcap", "tcp[tcpflags] & tcp-syn != 0"): 2,
    ("be_usec.pcap", "vlan"): 0,
    ("qinq.pcap", "vlan"): 4, ("qinq.pcap", "vlan 100"): 1, ("qinq.pcap", "ip"): 0,
    ("dns.pcap", "udp port 53"): 2, ("dns.pcap", "tcp"): 1, ("dns.pcap", "ip"): 3,
    ("ipv6_ext_frag.pcap", "udp"): 4, ("ipv6_ext_frag.pcap", "ip6"): 4,
    ("ipv6_ext_frag.pcap", "ip[6:2] & 0x1fff != 0"): 3, ("ipv6_ext_frag.pcap", "icmp6"): 2,
    ("sll2.pcap", "tcp"): 1, ("sll2.pcap", "ip6"): 1, ("sll2.pcap", "ip"): 1,
    ("null.pcap", "tcp"): 1, ("null.pcap", "udp"): 2, ("null.pcap", "ip6"): 2,
    ("null.pcap", "ip"): 1,
}

PCAP_FIXTURES = ["be_usec.pcap", "le_usec.pcap", "ns_be.pcap", "qinq.pcap", "dns.pcap",
                 "ipv6_ext_frag.pcap", "sll2.pcap", "sll.pcap", "null.pcap", "raw.pcap",
                 "arp.pcap", "tcp_opts.pcap", "icmp6.pcap"]


def pcap_records(blob: bytes) -> list[bytes]:
    """Packet bytes of a pcap stream (tiny independent parser for tcpdump's output)."""
    if len(blob) < 24:
        return []
    e = "<" if blob[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, off = [], 24
    while off + 16 <= len(blob):
        caplen = struct.unpack_from(e + "I", blob, off + 8)[0]
        out.append(blob[off + 16: off + 16 + caplen])
        off += 16 + caplen
    return out


def tcpdump_select(path, flt: str) -> list[bytes] | None:
    r = subprocess.run(["tcpdump", "-r", str(path), "-w", "-", flt], capture_output=True)
    if r.returncode != 0:
        return None  # tcpdump cannot do it (link type, multi-linktype pcapng, ...)
    return pcap_records(r.stdout)


def ours_select(path, flt: str) -> list[bytes]:
    with fp.open(str(path), filter=flt, on_error="stop") as r:
        return [p.raw for p in r]


@pytest.mark.parametrize("key", sorted(HAND_COUNTS), ids=lambda k: f"{k[0]}:{k[1]}")
def test_hand_counts(key):
    name, flt = key
    pl = fp.read(str(DATA / name), filter=flt)
    assert len(pl) == HAND_COUNTS[key]
    with fp.open(str(DATA / name), filter=flt) as r:
        got = list(r)
        total = len(fp.read(str(DATA / name)))
        assert r.filtered == total - len(got)
        assert r.packets_read == len(got)


@pytest.mark.tcpdump
@pytest.mark.parametrize("name", PCAP_FIXTURES)
def test_fixtures_match_tcpdump(tcpdump, name):
    problems = []
    for flt in FILTERS:
        want = tcpdump_select(DATA / name, flt)
        if want is None:
            with pytest.raises(fp.Error):
                ours_select(DATA / name, flt)  # libpcap refuses it for us too
            continue
        got = ours_select(DATA / name, flt)
        if got != want:
            problems.append(f"{name} filter {flt!r}: fastpkt {len(got)} packets, "
                            f"tcpdump {len(want)}")
    assert not problems, "\n".join(problems)


CORPUS_FILTERS = ["tcp", "udp port 53", "ip6", "vlan", "icmp or icmp6"]


@pytest.mark.tcpdump
def test_corpus_matches_tcpdump(tcpdump, corpus_file):
    name = corpus_file
    path = corpus_dir() / name
    if (corpus_dir() / "refs" / f"{name}.stderr").exists():
        pytest.skip("unreadable or cut-short file")
    problems = []
    compared = 0
    for flt in CORPUS_FILTERS:
        want = tcpdump_select(path, flt)
        if want is None:
            continue
        compared += 1
        got = ours_select(path, flt)
        if got != want:
            problems.append(f"{name} filter {flt!r}: fastpkt {len(got)} packets, "
                            f"tcpdump {len(want)}")
    if not compared:
        pytest.skip("tcpdump cannot filter this file (e.g. several link types in one pcapng)")
    assert not problems, "\n".join(problems)


def test_pcapng_filter_per_interface_link_type():
    """two_if.pcapng mixes EN10MB and RAW interfaces: the filter must be compiled for each
    interface's link type (libpcap/tcpdump refuse such files altogether)."""
    def idx(flt):
        return [p.ip.id if p.ip else p.ip6.src for p in fp.read(str(DATA / "two_if.pcapng"),
                                                                filter=flt)]
    assert idx("ip") == [100, 101, 102, 103, 104]
    assert idx("ip6") == ["2001:db8::1", "2001:db8::3"]
    assert idx("udp") == [100, 102, "2001:db8::3"]


@pytest.mark.parametrize("flt,msg", [
    ("tcp port", "syntax error"),
    ("port 99999", "illegal port number 99999 > 65535"),
    ("host", "syntax error"),
])
def test_bad_filter_message(flt, msg):
    with pytest.raises(fp.Error) as ei:
        with fp.open(str(DATA / "be_usec.pcap"), filter=flt) as r:
            list(r)
    assert msg in str(ei.value)
    assert not isinstance(ei.value, fp.FormatError), "a bad filter is not a bad file"


def test_filter_invalid_for_link_type():
    with pytest.raises(fp.Error) as ei:
        fp.read(str(DATA / "raw.pcap"), filter="ether host 1:2:3:4:5:6")
    assert "ethernet addresses supported only on" in str(ei.value)


def test_filter_with_count():
    pl = fp.read(str(DATA / "ipv6_ext_frag.pcap"), filter="ip", count=2)
    assert len(pl) == 2 and all(p.ip is not None for p in pl)


def test_empty_filter_is_no_filter():
    assert len(fp.read(str(DATA / "be_usec.pcap"), filter="")) == 4
    assert len(fp.read(str(DATA / "be_usec.pcap"), filter=None)) == 4


def test_tcpdump_helper_is_sane():
    if not have("tcpdump"):
        pytest.skip("tcpdump is not installed")
    assert len(tcpdump_select(DATA / "be_usec.pcap", "tcp")) == 2
    assert corpus_files() is not None
