"""IP fragment reassembly (csrc/flow/ip_defrag.c) against tshark's reassembly of the same
captures: the corpus captures with fragments, datagrams Scapy fragments (in order, reversed,
shuffled, duplicated, IPv4 and IPv6), overlapping fragments, and captures of real kernel
fragmentation in a network namespace (root only). The overlap policies are checked against
their definitions (ip_defrag.h) on hand-built vectors; anomaly names are Zeek's weird names.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.all import DNS, DNSQR, DNSRR, ICMP, IP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw, fragment, fragment6
from scapy.utils import wrpcap

import fastpkt as fp
from fastpkt import cli
from _fphelpers import corpus_files, have, tool_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# tshark lists a fragment whose overlap conflicts under ip.fragment.error, not ip.fragment.
FIELDS = ("frame.number", "ip.fragment", "ipv6.fragment", "ip.fragment.error", "ipv6.fragment.error",
          "udp.length", "udp.payload", "tcp.len", "dns.qry.name", "http.request.method",
          "ip.fragment.overlap", "ip.fragment.overlap.conflict")


def tshark_frames(path: Path) -> list[dict[str, str]]:
    """tshark's view with its default reassembly, one dict per frame."""
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=tool_env(
        WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def frames_of(s: str) -> tuple[int, ...] | None:
    return tuple(int(x) for x in s.split(",")) if s else None


def compare_with_tshark(path: Path, via: str = "open", **open_kw) -> int:
    """Every frame: the fragments tshark reassembled in it, and what the reassembled
    datagram holds, read by fp.open() or into fp.read()'s PacketList (`via`). Returns the
    number of reassembled datagrams."""
    kw = {"defragment": True} | open_kw
    ours = list(fp.read(str(path), **kw) if via == "read" else fp.open(str(path), **kw))
    ref = tshark_frames(path)
    assert len(ours) == len(ref)
    n = 0
    for p, t in zip(ours, ref):
        want = frames_of(t["ip.fragment"] or t["ipv6.fragment"])
        errors = frames_of(t["ip.fragment.error"] or t["ipv6.fragment.error"])
        where = "%s frame %s" % (path.name, t["frame.number"])
        if errors:  # the two lists lose tshark's offset order: compare the frames
            assert sorted(p.fragments) == sorted(want + errors), where
        else:
            assert p.fragments == want, where
        if want is None:
            continue
        if t["ip.fragment.overlap.conflict"]:
            assert "fragment_inconsistency" in p.anomalies, where
        n += 1
        if t["udp.length"]:
            assert p.udp is not None and p.udp.len == int(t["udp.length"]), where
            if t["udp.payload"]:  # tshark's runs to the datagram's end, past the UDP length
                ref = bytes.fromhex(t["udp.payload"].replace(":", ""))
                assert p.udp.payload == ref[:p.udp.len - 8], where
        if t["tcp.len"]:
            assert p.tcp is not None and len(p.tcp.payload) == int(t["tcp.len"]), where
        if t["dns.qry.name"]:
            # tshark shows a space where a label holds one; fastpkt escapes it (\\032)
            assert [q.qname.replace("\\032", " ") for q in p.dns.qd] == t["dns.qry.name"].split(","), where
        if t["http.request.method"]:
            assert p.http is not None and p.http.method == t["http.request.method"], where
    return n


@pytest.fixture(scope="module")
def tshark_ok():
    if not have("tshark"):
        pytest.skip("tshark is not installed")


@pytest.mark.parametrize("via", ["open", "read"])
def test_corpus_captures_with_fragments(corpus, tshark_ok, via):
    total = tables = 0
    for name in corpus_files():
        path = corpus / name
        try:
            pkts = list(fp.open(str(path), defragment=False, on_error="stop"))
        except fp.Error:
            continue
        if not any((p.ip is not None and (p.ip.MF or p.ip.frag)) or
                   (p.ip6 is not None and p.ip6.frag is not None and (p.ip6.MF or p.ip6.frag)) for p in pkts):
            continue
        if (corpus / "refs" / (name + ".stderr")).exists():
            continue  # cut short or unreadable for tshark: no whole reference
        total += compare_with_tshark(path, via)
        if via == "read":
            tables += check_reader_tables(path)
        if via == "open":  # display filters select after reassembly, as tshark -Y does
            for expr in ("udp", "tcp.len > 0", "dns", "http", "ip.flags.mf == 1 or ipv6.fraghdr.more == 1"):
                assert fastpkt_selects(path, expr) == tshark_selects(path, expr), (name, expr)
            check_engine_filters(path, ["udp", "tcp.len > 0", "dns", "http", "tcp or udp"])
    assert via == "open" or tables == total
    assert total >= 6  # ppp-ip6_fragments (4), ppp-frag_http_req, zeek-ipv6-fragmented-dns


def test_defragment_false_keeps_fragments_as_captured(corpus):
    path = str(corpus / "ppp-frag_http_req.pcap")
    off = list(fp.open(path, defragment=False))
    on = list(fp.open(path, defragment=True))
    assert [p.raw for p in fp.open(path)] == [p.raw for p in off]  # off by default, as fp.read()
    assert all(p.fragments is None for p in off)
    assert off[-1].tcp is None and on[-1].tcp is not None and on[-1].http.method == "GET"
    assert on[-1].wire == off[-1].raw and on[-1].wirelen == off[-1].wirelen
    assert on[-1].raw != off[-1].raw


def big_dns_answer(txt_len: int = 3000) -> bytes:
    txt = [b"x" * 255] * (txt_len // 255)
    return bytes(DNS(id=7, qr=1, qd=DNSQR(qname="big.example", qtype="TXT"),
                     an=DNSRR(rrname="big.example", type="TXT", rdata=txt)))


def scapy_capture(tmp_path: Path, frames: list[bytes], name: str) -> Path:
    path = tmp_path / name
    wrpcap(str(path), [Ether(f) for f in frames])
    return path


def scapy_fragments(tmp_path: Path, order: str, version: int) -> tuple[Path, bytes]:
    """A DNS answer Scapy fragments, as an Ethernet capture with the frames in `order`."""
    payload = big_dns_answer()
    if version == 4:
        dgram = IP(src="10.1.0.1", dst="10.1.0.2", id=0x1234) / UDP(sport=53, dport=40000) / Raw(payload)
        pieces = fragment(dgram, fragsize=400)
    else:
        dgram = (IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(id=0xabcdef) /
                 UDP(sport=53, dport=40000) / Raw(payload))
        pieces = fragment6(dgram, 520)
    frames = [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / f) for f in pieces]
    if order == "reversed":
        frames.reverse()
    elif order == "shuffled":
        random.Random(18).shuffle(frames)
    elif order == "duplicated":
        frames = frames[:2] + frames[1:2] + frames[2:]
    return scapy_capture(tmp_path, frames, "frags.pcap"), payload


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated"])
@pytest.mark.parametrize("version", [4, 6])
def test_scapy_fragments(tmp_path, tshark_ok, order, version):
    path, payload = scapy_fragments(tmp_path, order, version)
    assert compare_with_tshark(path) == 1
    assert compare_with_tshark(path, "read") == 1
    last = list(fp.open(str(path), defragment=True))[-1]
    assert last.udp.payload == payload  # the datagram Scapy fragmented
    assert [q.qname for q in last.dns.qd] == ["big.example"]
    assert last.udp.checksum_ok() is True
    if order == "duplicated":
        assert "fragment_overlap" in last.anomalies


@pytest.mark.parametrize("version", [4, 6])
def test_packetlist_columns_filters_and_slices(tmp_path, tshark_ok, version):
    """fp.read(defragment=True): the columns and display filters of the list see the
    reassembled datagram where tshark does; slices keep it; bytes stay as captured."""
    path, payload = scapy_fragments(tmp_path, "shuffled", version)
    ref = tshark_frames(path)
    done = [i for i, t in enumerate(ref) if t["ip.fragment"] or t["ipv6.fragment"]]
    assert len(done) == 1
    pl = fp.read(str(path), defragment=True)
    plain = fp.read(str(path))
    df = pl.to_pandas()
    assert int(df["sport"][done[0]]) == 53 and int(df["dport"][done[0]]) == 40000
    assert int(df["payload_len"][done[0]]) == int(ref[done[0]]["udp.length"]) - 8 == len(payload)
    assert df["dns_qname"][done[0]] == "big.example"
    assert df["caplen"].tolist() == plain.to_pandas()["caplen"].tolist()  # frames as captured
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-Y", "dns", "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    assert [i + 1 for i, keep in enumerate(pl.filter_mask("dns")) if keep] == [int(n) for n in out.split()]
    assert [bytes(p.wire or p.raw) for p in pl] == [p.raw for p in plain]
    i = done[0]
    for sliced, at in ((pl[i:], 0), (pl[::-1], len(pl) - 1 - i), (pl[i % 2::2], i // 2)):
        assert sliced[at].fragments == pl[i].fragments and sliced[at].udp.payload == payload
        assert sum(p.fragments is not None for p in sliced) == 1
    assert all(p.fragments is None for p in pl[i + 1:]) and all(p.fragments is None for p in pl[:i])


# ---- display filters and BPF with defragment= --------------------------------------

def tshark_selects(path: Path, expr: str) -> list[int]:
    """The frame numbers `tshark -Y expr` prints with its default reassembly."""
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-Y", expr, "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [int(n) for n in out.split()]


def fastpkt_selects(path: Path, expr: str) -> list[int]:
    """The frame numbers fastpkt's display filter keeps with defragment=True, every way it is
    given: to fp.open (iteration and count()), to fp.read, and to the list's filter_mask
    (these agree or the test fails); the completing fragments carry what tshark lists."""
    reader = fp.open(str(path), defragment=True, display_filter=expr)
    got = []
    for _ in reader:
        got.append(reader.frame_number)
    assert fp.open(str(path), defragment=True, display_filter=expr).count() == len(got), expr
    listed = fp.read(str(path), defragment=True, display_filter=expr)
    whole = fp.read(str(path), defragment=True)
    assert [i + 1 for i, keep in enumerate(whole.filter_mask(expr)) if keep] == got, expr
    assert [p.fragments for p in listed] == [whole[n - 1].fragments for n in got], expr
    return got


def dns_exchange(tmp_path: Path, order: str, version: int) -> Path:
    """A DNS query, its answer fragmented by Scapy (frames in `order`), then an unrelated
    datagram."""
    path, _ = scapy_fragments(tmp_path, order, version)
    eth = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    ip = IP(src="10.1.0.2", dst="10.1.0.1") if version == 4 else IPv6(src="fd00::2", dst="fd00::1")
    query = eth / ip / UDP(sport=40000, dport=53) / DNS(id=7, qd=DNSQR(qname="big.example", qtype="TXT"))
    other = eth / ip / UDP(sport=5000, dport=6000) / Raw(b"x" * 32)
    frames = [Ether(f) for f in [bytes(query)] + [bytes(p) for p in fp.read(str(path))] + [bytes(other)]]
    wrpcap(str(path), frames)
    return path


DEFRAG_FILTERS = {
    4: ["dns", "udp.port == 53", "udp", "dns.qry.name == \"big.example\"", "ip.src == 10.1.0.1",
        "ip.flags.mf == 1", "ip.frag_offset > 0", "frame.len > 400", "frame.cap_len < 400", "not udp",
        "ip.id == 0x1234"],
    6: ["dns", "udp.port == 53", "udp.length > 1000", "ipv6.src == fd00::1", "not dns",
        "ipv6.fraghdr.more == 1", "frame.len > 500"],
}


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated"])
@pytest.mark.parametrize("version", [4, 6])
def test_display_filters_select_after_reassembly(tmp_path, tshark_ok, order, version):
    """defragment=True: a display filter sees what tshark -Y sees with its default
    reassembly. `dns` and `udp.port == 53` match the completing fragment (the datagram), not
    the first fragment whose UDP header tshark leaves as data; fragments still match on their
    own IP header. Non-fragments around them (a DNS query before, an unrelated datagram
    after) match as captured."""
    path = dns_exchange(tmp_path, order, version)
    for expr in DEFRAG_FILTERS[version]:
        assert fastpkt_selects(path, expr) == tshark_selects(path, expr), expr
    done = [p.fragments is not None for p in fp.read(str(path), defragment=True)].index(True) + 1
    assert tshark_selects(path, "dns") == [1, done]  # the query and the completing fragment


@pytest.mark.parametrize("bpf", ["udp port 53", "host 10.1.0.1", "ip[6:2] & 0x1fff != 0 or port 40000"])
def test_bpf_selects_frames_before_reassembly(tmp_path, tshark_ok, bpf):
    """BPF decides per frame as captured, before reassembly: tcpdump's reading of a file and
    what a capture filter (tshark -f) lets through. A fragment it drops never reaches the
    reassembler: `udp port 53` keeps the first fragment only (libpcap's port tests need
    offset 0), so the answer is never reassembled, as tshark reading what tcpdump kept
    shows it. The reference: tcpdump applies the BPF, tshark -Y reassembles what remains."""
    if not have("tcpdump"):
        pytest.skip("tcpdump is not installed")
    path = dns_exchange(tmp_path, "shuffled", 4)
    kept = tmp_path / "bpf.pcap"
    subprocess.run(["tcpdump", "-r", str(path), "-w", str(kept), bpf], capture_output=True, check=True,
                   env=tool_env())
    frames = [p.raw for p in fp.read(str(kept))]
    assert [p.raw for p in fp.read(str(path), filter=bpf)] == frames
    for expr in ("dns", "udp", "ip.src == 10.1.0.1", "ip"):
        ours = fp.read(str(path), filter=bpf, display_filter=expr, defragment=True)
        assert [bytes(p.wire or p.raw) for p in ours] == [frames[n - 1] for n in tshark_selects(kept, expr)], expr
        reader = fp.open(str(path), filter=bpf, display_filter=expr, defragment=True)
        assert [bytes(p.wire or p.raw) for p in reader] == [bytes(p.wire or p.raw) for p in ours], expr
    assert (bpf == "udp port 53") == (not any(p.fragments for p in fp.read(str(path), filter=bpf, defragment=True)))


# ---- the engines' display filters after reassembly -----------------------------------

def tshark_conversations(path: Path, expr: str) -> dict:
    """tshark's TCP and UDP conversations over the frames `expr` passes, with its default
    reassembly: {(proto, epA, epB): {endpoint: frames sent}}. The taps' own filter (``-z
    conv,udp,EXPR``) is the one deciding: ``-Y`` selects what is printed, not what taps see."""
    from test_flows_reference import parse_tshark_conv

    out = subprocess.run(["tshark", "-r", str(path), "-n", "-q", "-z", "conv,tcp," + expr, "-z", "conv,udp," + expr],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return {k: {ep: v[0] for ep, v in d.items()} for k, d in parse_tshark_conv(out).items()}


def engine_conversations(path: Path, expr: str, workers: int) -> dict:
    """The same from fp.flows(display_filter=expr): packets per direction of TCP/UDP flows."""
    from test_flows_reference import our_conversations

    df = fp.flows(str(path), display_filter=expr, workers=workers, progress=False).to_pandas()
    return {k: {ep: v[0] for ep, v in d.items()} for k, d in our_conversations(df).items()}


def check_engine_filters(path: Path, exprs: list[str]) -> None:
    """Every expression: fp.flows with workers=1 and 2 keeps the packets tshark's
    conversations count (the datagram a completing fragment made, never a first fragment's
    transport header)."""
    for expr in exprs:
        want = tshark_conversations(path, expr)
        for workers in (1, 2):
            assert engine_conversations(path, expr, workers) == want, (path.name, expr, workers)


def tshark_fields(path: Path, expr: str, *fields: str) -> list[tuple[str, ...]]:
    cmd = ["tshark", "-r", str(path), "-n", "-Y", expr, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]


ENGINE_FILTERS = {
    4: ["dns", "udp.port == 53", "udp", "not dns", "ip.src == 10.1.0.1", "frame.len > 400",
        "ip.flags.mf == 1", "dns.qry.name == \"big.example\""],
    6: ["dns", "udp.port == 53", "udp.length > 1000", "not dns", "ipv6.src == fd00::1"],
}


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated"])
@pytest.mark.parametrize("version", [4, 6])
def test_engine_display_filters_after_reassembly(tmp_path, tshark_ok, order, version):
    """fp.flows/fp.dns with display_filter= decide on the reassembled datagram, as tshark
    with its reassembly: `dns` keeps the fragmented answer (a filter on the frames as
    captured kept the query alone), the same with one worker or two."""
    path = dns_exchange(tmp_path, order, version)
    check_engine_filters(path, ENGINE_FILTERS[version])
    (ref,) = tshark_fields(path, "dns.flags.response == 1", "dns.id", "dns.count.answers", "dns.qry.name")
    for workers in (1, 2):
        (txn,) = list(fp.dns(str(path), display_filter="dns", workers=workers))
        assert (txn.trans_id, len(txn.answers), txn.query) == (int(ref[0], 16), int(ref[1]), ref[2])
        assert txn.answered and txn.rcode_name == "NOERROR"
    for expr in ("dns", "udp.port == 53", "not dns"):  # fp.stats counts the frames tshark -Y shows
        assert fp.stats(str(path), display_filter=expr).frames == len(tshark_selects(path, expr)), expr
    out = tmp_path / "dns.json"  # the CLI's -Y: the same engine, two workers
    assert cli.main(["dns", str(path), "-Y", "dns", "-j", "2", "--json", str(out)]) == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["answered"] and row["query"] == ref[2]


def client_hello(sni: bytes, padding: int) -> bytes:
    """A TLS 1.2 ClientHello record (RFC 5246 7.4.1.2) with server_name (RFC 6066 3) and
    padding (RFC 7685) extensions, built by hand: importing Scapy's TLS layers here would bind
    port 443 for the whole process and change what later Scapy comparisons decode."""
    name = b"\x00" + struct.pack("!H", len(sni)) + sni
    ext = struct.pack("!HHH", 0, len(name) + 2, len(name)) + name
    ext += struct.pack("!HH", 0x15, padding) + bytes(padding)
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(msg)) + msg


def tls_over_fragments(tmp_path: Path, order: str) -> Path:
    """A TCP handshake, then a ClientHello (padded to ~2 KB) in one segment the IP layer
    fragments (frames in `order`), then the server's ACK."""
    from scapy.all import TCP

    c, s = ("10.4.0.1", 50000), ("10.4.0.2", 443)
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    back = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    hello = client_hello(b"frag.example", 1800)
    up = IP(src=c[0], dst=s[0], id=0x4242)
    down = IP(src=s[0], dst=c[0])
    seg = up / TCP(sport=c[1], dport=s[1], flags="PA", seq=1001, ack=5001) / Raw(hello)
    pieces = [bytes(eth / f) for f in fragment(seg, fragsize=600)]
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        random.Random(18).shuffle(pieces)
    elif order == "duplicated":
        pieces = pieces[:2] + pieces[1:2] + pieces[2:]
    frames = [bytes(eth / up / TCP(sport=c[1], dport=s[1], flags="S", seq=1000)),
              bytes(back / down / TCP(sport=s[1], dport=c[1], flags="SA", seq=5000, ack=1001)),
              bytes(eth / up / TCP(sport=c[1], dport=s[1], flags="A", seq=1001, ack=5001))] + pieces + [
              bytes(back / down / TCP(sport=s[1], dport=c[1], flags="A", seq=5001, ack=1001 + len(hello)))]
    return scapy_capture(tmp_path, frames, "tls.pcap")


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated"])
def test_hellos_and_streams_filter_after_reassembly(tmp_path, tshark_ok, order):
    """A ClientHello in one TCP segment cut into IP fragments: `tls` and the server name
    select the datagram; `tcp.port == 443` keeps it whole (not the first fragment, which
    alone carries a TCP header as captured). The hello's SNI and the stream's bytes are what
    tshark reassembled, with one worker or two."""
    path = tls_over_fragments(tmp_path, order)
    sni = [t[0] for t in tshark_fields(path, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")]
    assert sni == ["frag.example"]
    tls_len = int(tshark_fields(path, "tls.handshake.type == 1", "tcp.len")[0][0])
    check_engine_filters(path, ["tcp.port == 443", "tls", "tls.handshake.extensions_server_name == \"frag.example\"",
                                "tcp.len > 0", "ip.flags.mf == 1", "not tls"])
    for workers in (1, 2):
        for expr in ("tcp.port == 443", "tls", "tls.handshake.extensions_server_name contains \"frag\""):
            got = [h.sni for h in fp.client_hellos(str(path), display_filter=expr, workers=workers)]
            assert got == sni, (expr, workers)
        (st,) = list(fp.streams(str(path), display_filter="tcp.port == 443", workers=workers))
        assert len(st.client_data) == tls_len and not st.client_gaps, workers


def test_corpus_http_request_in_fragments_through_engines(corpus, tshark_ok):
    """ppp-frag_http_req: an HTTP request in eleven IPv4 fragments. fp.http and fp.streams
    with a display filter see the request tshark -Y http shows (the frames as captured hold
    no HTTP and, past the first, no TCP)."""
    path = corpus / "ppp-frag_http_req.pcap"
    ((method, uri),) = tshark_fields(path, "http", "http.request.method", "http.request.uri")
    for workers in (1, 2):
        (msg,) = list(fp.http(str(path), display_filter="http", workers=workers))
        assert (msg.method, msg.uri) == (method, uri)
        (st,) = list(fp.streams(str(path), display_filter="tcp.port == 80", workers=workers))
        assert st.client_data.startswith(("%s %s " % (method, uri)).encode())


def table_rows(df) -> list[tuple]:
    """A DataFrame's rows as plain values (categories decoded, missing as None): batches of
    read_frames each have their own dictionaries."""
    import pandas as pd

    return [tuple(None if pd.isna(v) else v for v in row) for row in df.astype(object).itertuples(index=False)]


def check_reader_tables(path: Path, **kw) -> int:
    """A defragmenting Reader's Arrow stream, its to_pandas() and read_frames (batches of 3
    rows: datagrams spread over batches) give the rows of fp.read(defragment=True).to_pandas(),
    and the rows of completing fragments carry what tshark reassembled. Returns how many
    such rows there were."""
    import pandas as pd
    import pyarrow as pa

    want = table_rows(fp.read(str(path), defragment=True, **kw).to_pandas())
    assert table_rows(pa.table(fp.open(str(path), defragment=True, **kw)).to_pandas()) == want
    assert table_rows(fp.open(str(path), defragment=True, **kw).to_pandas()) == want
    frames = list(fp.read_frames(str(path), 3, defragment=True, workers=2, **kw))
    assert table_rows(pd.concat(frames)) == want
    batches = list(fp.read_frames(str(path), 3, arrow=True, defragment=True, **kw))
    assert table_rows(pa.Table.from_batches(batches).to_pandas()) == want
    got = pa.table(fp.open(str(path), defragment=True, **kw)).to_pandas()
    expr = kw.get("display_filter", "frame")
    numbers = tshark_selects(path, expr)
    assert len(got) == len(numbers)
    ref = {int(t["frame.number"]): t for t in tshark_frames(path)}
    checked = 0
    for row, n in zip(got.itertuples(index=False), numbers):
        t = ref[n]
        if not (t["ip.fragment"] or t["ipv6.fragment"]):
            continue
        checked += 1
        if t["udp.length"]:
            assert int(row.payload_len) == int(t["udp.length"]) - 8, n
        if t["tcp.len"]:
            assert int(row.payload_len) == int(t["tcp.len"]), n
        if t["dns.qry.name"]:
            assert row.dns_qname.replace("\\032", " ") == t["dns.qry.name"].split(",")[0], n
    return checked


@pytest.mark.parametrize("version", [4, 6])
def test_reader_tables_defragment(tmp_path, tshark_ok, version):
    path = dns_exchange(tmp_path, "shuffled", version)
    assert check_reader_tables(path) == check_reader_tables(path, display_filter="dns") == 1
    plain = fp.read(str(path)).to_pandas()
    got = fp.open(str(path), defragment=True).to_pandas()
    done = [i for i, t in enumerate(tshark_frames(path)) if t["ip.fragment"] or t["ipv6.fragment"]]
    assert len(done) == 1 and int(got["sport"][done[0]]) == 53 and pd_na(plain["sport"][done[0]])


def pd_na(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def v4_fragment(ident: int, off: int, data: bytes, mf: bool, proto: int = 17) -> bytes:
    ip = IP(src="10.2.0.1", dst="10.2.0.2", id=ident, proto=proto, frag=off // 8, flags="MF" if mf else 0)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / Raw(data))


def test_overlap_conflict_first_policy_matches_tshark(tmp_path, tshark_ok):
    """The earlier fragment has the lower offset: tshark keeps its bytes, as "first" does."""
    head = bytes(UDP(sport=1000, dport=2000, len=8 + 40, chksum=0))
    frames = [v4_fragment(5, 0, head + b"A" * 24, True), v4_fragment(5, 16, b"C" * 32, False)]
    path = scapy_capture(tmp_path, frames, "overlap.pcap")
    compare_with_tshark(path)
    ref = tshark_frames(path)[-1]
    last = list(fp.open(str(path), defragment=True))[-1]
    assert last.udp.payload == b"A" * 24 + b"C" * 16
    assert ref["ip.fragment.overlap.conflict"] and "fragment_inconsistency" in last.anomalies


# Policy vectors: fragments (offset, bytes, more fragments) in arrival order and the payload
# each policy gives, derived from the definitions in ip_defrag.h: first keeps the earlier
# bytes, last takes the later, bsd takes the later only where it starts before the earlier,
# linux also where it starts at the same offset.
POLICY_VECTORS = [
    ([(0, b"A" * 16, True), (0, b"B" * 8, True), (8, b"C" * 16, False)],
     {"first": b"A" * 16 + b"C" * 8, "last": b"B" * 8 + b"C" * 16,
      "bsd": b"A" * 16 + b"C" * 8, "linux": b"B" * 8 + b"A" * 8 + b"C" * 8}),
    ([(8, b"A" * 16, True), (0, b"B" * 16, True), (24, b"C" * 8, False)],
     {"first": b"B" * 8 + b"A" * 16 + b"C" * 8, "last": b"B" * 16 + b"A" * 8 + b"C" * 8,
      "bsd": b"B" * 16 + b"A" * 8 + b"C" * 8, "linux": b"B" * 16 + b"A" * 8 + b"C" * 8}),
]


@pytest.mark.parametrize("policy", ["first", "last", "bsd", "linux"])
@pytest.mark.parametrize("vector", range(len(POLICY_VECTORS)))
def test_overlap_policies(tmp_path, policy, vector):
    frags, want = POLICY_VECTORS[vector]
    frames = [v4_fragment(9, off, data, mf, proto=253) for off, data, mf in frags]  # 253: experimental
    path = scapy_capture(tmp_path, frames, "policy.pcap")
    last = list(fp.open(str(path), defragment=policy))[-1]
    assert last.fragments == tuple(sorted(range(1, len(frames) + 1), key=lambda i: (frags[i - 1][0], i)))
    assert last.payload == want[policy]
    assert "fragment_inconsistency" in last.anomalies


def capture(frames: list[bytes], times: list[float] | None = None) -> bytearray:
    """An in-memory pcap of Ethernet frames (written by fastpkt's Writer)."""
    out = io.BytesIO()
    with fp.Writer(out) as w:
        for i, f in enumerate(frames):
            w.write(f, time=times[i] if times else 1000.0 + i * 1e-3)
    return bytearray(out.getvalue())


def test_anomalies_named_as_zeek():
    """Zeek's Frag.cc conditions: MF with a total length under 64, a piece ending past 64000,
    DF on a fragment, next headers that differ (IPv6: IPv4 keys datagrams on the protocol),
    two last fragments that disagree."""
    v6 = [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="fd00::1", dst="fd00::2") /
                IPv6ExtHdrFragment(id=3, nh=nh, offset=off, m=m) / Raw(b"g" * 16))
          for nh, off, m in ((17, 0, 1), (6, 2, 0))]
    frames = [
        v4_fragment(1, 0, b"a" * 16, True),                     # 36 bytes with MF
        v6[1],
        v4_fragment(2, 64000, b"c" * 16, True),                 # ends past 64000
        v4_fragment(3, 64, b"e" * 16, False),
        v4_fragment(3, 64, b"e" * 24, False),                   # another end
        v4_fragment(3, 0, b"d" * 64, True),
    ]
    df = bytearray(v4_fragment(4, 0, b"f" * 64, True))
    df[14 + 6] |= 0x40
    frames.append(bytes(df))
    got = [p.anomalies for p in fp.open(capture([v6[0]] + frames), defragment=True)][1:]
    assert "excessively_small_fragment" in got[0]
    assert "fragment_protocol_inconsistency" in got[1]
    assert "excessively_large_fragment" in got[2]
    assert "fragment_size_inconsistency" in got[4] and "fragment_overlap" in got[4]
    assert "fragment_size_inconsistency" in got[5]  # the completing fragment: the datagram's
    assert "fragment_with_DF" in got[6]


def test_engine_memory_cap_and_counters():
    """Datagrams never completed fill the reassembler up to its cap (an eighth of max_memory),
    then the oldest are dropped: counted, and charged to the engine's budget."""
    frames = [v4_fragment(i, 0, bytes(1000), True) for i in range(600)]
    fl = fp.flows(capture(frames), max_memory=1 << 20, progress=False)
    list(fl)
    st = fl.stats
    assert st["defrag"]["fragments"] == 600 and st["defrag"]["dropped"] > 0
    # the cap holds the fragments; the reassembler's own tables are 12 KiB more
    assert 0 < st["memory_peak"]["defrag"] <= (1 << 20) // 8 + (16 << 10)
    assert st["memory"]["defrag"] == st["memory_bytes"] - sum(
        v for k, v in st["memory"].items() if k != "defrag")


def test_timeout_drops_incomplete_datagrams():
    frames = [v4_fragment(77, 0, bytes(16), True), v4_fragment(77, 16, bytes(16), False)]
    pkts = list(fp.open(capture(frames, [1000.0, 1031.0]), defragment=True))  # 31 s apart: past the 30 s timeout
    assert [p.fragments for p in pkts] == [None, None]


def test_bad_defragment_argument():
    with pytest.raises(ValueError, match="defragment"):
        fp.open(bytearray(), defragment="windows")


# ---- real kernel fragmentation ------------------------------------------------------

NETNS_SCRIPT = r"""
import socket, sys
payload = bytes(range(256)) * 12  # 3072 bytes
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    srv = socket.socket(fam, socket.SOCK_DGRAM); srv.bind((host, 40001))
    cli = socket.socket(fam, socket.SOCK_DGRAM)
    cli.sendto(payload, (host, 40001))
    assert srv.recv(65535) == payload
dns, query = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.0.0.1", 53))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.sendto(query, ("127.0.0.1", 53))
q, addr = srv.recvfrom(2048)
srv.sendto(dns, addr)
assert cli.recv(65535) == dns
# two echo requests of 3000 data bytes through a raw socket: the kernel fragments them
# and its replies
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in (1, 2):
    body = bytes([8, 0, 0, 0, 0x12, 0x34, 0, seq]) + bytes(range(200)) * 15
    s = sum(int.from_bytes(body[i:i + 2], "big") for i in range(0, len(body), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    body = body[:2] + (~s & 0xffff).to_bytes(2, "big") + body[4:]
    icmp.sendto(body, ("127.0.0.1", 0))
    while icmp.recv(65535)[20] != 0:  # the raw socket sees the request too
        pass
"""


def test_kernel_fragmentation_in_a_namespace(tmp_path, tshark_ok):
    from _netns import NetnsCapture, NetnsError, requirements

    why = requirements()
    if why:
        pytest.skip(why)
    import sys
    pcap = tmp_path / "kernel.pcap"
    dns = big_dns_answer(2500)
    try:
        with NetnsCapture("fpdefrag", pcap) as ns:
            r = ns.exec(["ip", "link", "set", "lo", "mtu", "1280"])
            assert r.returncode == 0, r.stderr
            if not ns.has_ipv6:
                pytest.skip("no ::1 on loopback in the namespace (IPv6 disabled)")
            query = bytes(DNS(id=7, qd=DNSQR(qname="big.example", qtype="TXT")))
            r = ns.exec([sys.executable, "-c", NETNS_SCRIPT, dns.hex(), query.hex()])
            assert r.returncode == 0, r.stderr
    except NetnsError as e:
        pytest.skip(str(e))
    n = compare_with_tshark(pcap)
    assert n >= 3 + 4  # two UDP datagrams, the DNS answer, two echo requests and replies
    for expr in ("dns", "udp.port == 53", "udp.port == 40001", "icmp", "udp", "ipv6.src == ::1",
                 "dns.qry.name == \"big.example\""):
        assert fastpkt_selects(pcap, expr) == tshark_selects(pcap, expr), expr
    check_engine_filters(pcap, ["dns", "udp.port == 53", "udp.port == 40001", "udp", "ipv6.src == ::1"])
    (txn,) = list(fp.dns(str(pcap), display_filter="dns"))
    assert txn.answered and len(txn.answers) == 1 and txn.query == "big.example"
    assert check_reader_tables(pcap) == n
    pkts = [p for p in fp.open(str(pcap), defragment=True) if p.fragments]
    udp = [p for p in pkts if p.udp is not None]
    payload = bytes(range(256)) * 12
    assert [p.udp.payload for p in udp if p.udp.dport == 40001] == [payload, payload]
    assert [p.ip is not None for p in udp if p.udp.dport == 40001] == [True, False]
    assert [p.udp.payload for p in udp if p.udp.sport == 53] == [dns]
    icmp = [p for p in pkts if p.icmp is not None]
    assert len(icmp) == 4 and all(len(p.icmp.payload) == 3000 and p.icmp.checksum_ok() for p in icmp)
    # the engines see the datagrams whole
    flows = fp.flows(str(pcap), progress=False).to_pandas()
    big = flows[flows.dst_port == 40001]
    assert sorted(big.fwd_payload_bytes) == [len(payload)] * 2 and list(big.fwd_packets) == [1, 1]
    digest = hashlib.sha256(dns).hexdigest()
    assert digest == hashlib.sha256(udp[-1].udp.payload).hexdigest()


def test_many_open_datagrams_reassemble_after_the_table_grows():
    """5,000 datagrams open at once (the bucket table doubles at 2,048 and 4,096 waiting),
    then each completed, last ones first: every datagram is what Scapy's defragment() makes
    of the same fragments."""
    from scapy.all import defragment

    rng = random.Random(5)
    n = 5000
    payloads = [rng.randbytes(32) for _ in range(n)]
    src = bytes([10, 3, 0, 1])
    firsts = [fragment_ip(src, i, 0, True, payloads[i][:16]) for i in range(n)]
    lasts = [fragment_ip(src, i, 16, False, payloads[i][16:]) for i in reversed(range(n))]
    frames = [bytes.fromhex("020000000002" "020000000001" "0800") + ip for ip in firsts + lasts]
    whole = {p.id: bytes(p[IP].payload) for p in defragment([IP(ip) for ip in firsts + lasts])}
    assert len(whole) == n
    done = [p for p in fp.open(capture(frames), defragment=True) if p.fragments]
    assert len(done) == n
    assert {p.ip.id: bytes(p.ip.payload) for p in done} == whole
    fl = fp.flows(capture(frames), progress=False)
    list(fl)
    assert fl.stats["defrag"]["reassembled"] == n and fl.stats["defrag"]["dropped"] == 0


def fragment_ip(src: bytes, ident: int, off: int, more: bool, data: bytes) -> bytes:
    """An IPv4 fragment of protocol 253 (experimental: nothing decodes it), built by hand."""
    flags = (0x2000 if more else 0) | off // 8
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, flags, 64, 253, 0, src, bytes([10, 3, 0, 2]))
    return hdr + data
