"""fp.streams against an independent reassembler, and on hand-built segment sequences.

Part 1: tshark's "Follow TCP Stream" on the real-capture corpus
----------------------------------------------------------------
For every TCP stream tshark finds in a corpus capture (../shared/corpus, including
fingerprints/), `tshark -r FILE -q -z follow,tcp,raw,N` gives that stream's bytes: one hex line
per chunk, lines of the second endpoint ("Node 1") indented by a tab. All streams of a file
are followed in one tshark run (several -z options). The concatenation per direction is
compared with fastpkt's client_data / server_data for the same endpoints (node 0 is not
necessarily the client: directions are matched by ip:port).

What tshark's follow does with missing data (tshark 4.0, checked on the corpus):
  * a hole that the receiver acknowledged (the capture lost bytes the receiver got) becomes,
    in raw mode too, an inserted TEXT chunk "[N bytes missing in capture file]\\0" in that
    direction (ndpi-tls_missing_ch_frag.pcap). The parser recognises the chunk and records a
    gap (offset, N) instead of data.
  * data above a hole that nobody acknowledged is held back and never printed: tshark's
    output just stops at the hole (ppp-unidirectional_tcp_stream_with_missing_packet.pcap),
    where fastpkt reports a gap and keeps the later bytes.
  * bytes cut by the snapshot length are silently left out (no marker): tshark prints the
    captured part of the segment only (ppp-pcapng-example.pcapng, X11 segments cut at 1444
    bytes; a headers-only capture follows as empty, zeek-retransmit-fast009.pcap).
  * overlapping segments: the first copy wins (suricata-tcp-overlap2.pcap gives "GOOD"),
    the same policy as fastpkt's.
So the comparison depends on what tshark's analysis says about the stream:
  clean      (no tcp.analysis.lost_segment / ack_lost_segment, no marker, nothing cut by the
              snaplen): both directions must be byte-identical, and fastpkt must report no gap.
  lossy      (lost_segment or ack_lost_segment flagged, or a marker printed): per direction,
              the bytes up to tshark's first hole (its first marker, or the end of its output)
              must be identical; fastpkt's first gap must not come before that point, and when
              tshark printed a marker, fastpkt's first gap must be exactly (offset, N).
              Beyond the first hole tshark's output is not a reference (it may stop).
  snaplen    (a frame of the stream has cap_len < len): fastpkt's data (which leaves the
              missing tail of a cut segment out, as a gap) must equal tshark's bytes; gaps are
              not compared because tshark does not report those.
Streams left out, with the reason (counted and shown with -v/-rA):
  tunnel     a frame of the stream has two IP headers (GRE, PPTP, GTP-U, VXLAN, IP in IP):
             tshark follows the inner TCP, fastpkt's streams are built from the outer headers
             only. (ICMP errors quoting a segment of the stream are not segments: ignored.)
  fragments  the stream's segments travel in IP fragments: tshark defragments, fastpkt's
             stream reassembly takes whole TCP segments (it does not reassemble IP fragments).
  rst_data   a RST segment of the stream carries payload: tshark's follow prints it as
             stream data, fastpkt by design does not (RFC 9293 section 3.5.3: the data of a
             RST is a diagnostic, not part of the stream; csrc/stream/tcp_reassembly.c) -
             tcpdump-tcp_rst_data-trunc.pcap. test_rst_payload_is_not_stream_data below pins
             fastpkt's policy.
  empty      neither tshark nor fastpkt has a byte in either direction (SYN scans, lone ACKs)
             - nothing to compare; tshark may also print no endpoints for these.
Caps so that the module runs in well under a minute: captures up to 4 MB, the first 200
streams of a file.

Part 2: hand-built segment sequences (Scapy writes the pcaps, the expected bytes are written
by hand in each test): overlaps with different bytes, sequence numbers wrapping at 2^32, a hole
never filled, a midstream start, RST mid-transfer, a keep-alive probe, data after FIN, depth.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, corpus_dir, corpus_files, read_tsv

MAX_FILE_BYTES = 4 << 20
MAX_STREAMS = 200
TSHARK_ENV = dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent")
MARKER = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00?")


# --------------------------------------------------------------------------------------
# Part 1: tshark follow
# --------------------------------------------------------------------------------------

def _has_tcp(name: str) -> bool:
    """From the committed tshark refs: does the capture have a TCP segment (not only a TCP
    header quoted in an ICMP error)?"""
    ref = corpus_dir() / "refs" / ("%s.tsv" % name)
    if not ref.exists():
        return True
    return any(row.get("tcp.srcport") and not (row.get("icmp.type") or row.get("icmpv6.type"))
               for row in read_tsv(ref))


def _corpus_captures() -> list[str]:
    d = corpus_dir()
    if d is None:
        return []
    out = [n for n in corpus_files() if _has_tcp(n)]
    fpdir = d / "fingerprints"
    if fpdir.is_dir():
        out += sorted("fingerprints/" + p.name for p in fpdir.iterdir()
                      if p.suffix in (".pcap", ".pcapng", ".cap"))
    return [n for n in out if (d / n).stat().st_size <= MAX_FILE_BYTES]


def _tshark(args: list[str], timeout: float = 120) -> str:
    r = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True,
                       timeout=timeout, env=TSHARK_ENV)
    if r.returncode != 0 and not r.stdout:
        raise RuntimeError("tshark %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    return str(ipaddress.ip_address(host.strip("[]"))), int(port)


FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "frame.len", "frame.cap_len", "ip.flags.mf", "ip.frag_offset",
          "ipv6.fraghdr.offset", "tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment",
          "tcp.flags.reset", "tcp.len", "icmp.type", "icmpv6.type"]


def _parse_fields(lines: list[str]) -> dict[int, dict]:
    """Per tshark tcp.stream: endpoints of its first frame and the classification flags."""
    out: dict[int, dict] = {}
    for line in lines:
        c = dict(zip(FIELDS, line.split("\t")))
        if len(c) != len(FIELDS):
            continue
        ids = {int(x) for x in c["tcp.stream"].split(",") if x}
        if not ids or c["icmp.type"] or c["icmpv6.type"]:
            continue  # not TCP, or an ICMP error quoting a TCP header (not a segment)
        srcs = [x for x in (c["ip.src"] + "," + c["ipv6.src"]).split(",") if x]
        dsts = [x for x in (c["ip.dst"] + "," + c["ipv6.dst"]).split(",") if x]
        tunnel = len(srcs) != 1 or len(ids) != 1
        frag = ("1" in c["ip.flags.mf"].split(",")
                or any(x not in ("", "0") for x in c["ip.frag_offset"].split(","))
                or bool(c["ipv6.fraghdr.offset"]))
        snaplen = (c["frame.len"] and c["frame.cap_len"]
                   and int(c["frame.cap_len"]) < int(c["frame.len"]))
        lossy = bool(c["tcp.analysis.lost_segment"] or c["tcp.analysis.ack_lost_segment"])
        rst_data = (c["tcp.flags.reset"].split(",")[0] in ("1", "True")
                    and c["tcp.len"].split(",")[0] not in ("", "0"))
        for sid in ids:
            st = out.setdefault(sid, {"tunnel": False, "fragments": False, "snaplen": False,
                                      "lossy": False, "rst_data": False, "endpoints": None,
                                      "frames": 0})
            st["rst_data"] |= rst_data
            st["frames"] += 1
            st["tunnel"] |= tunnel
            st["fragments"] |= frag
            st["snaplen"] |= bool(snaplen)
            st["lossy"] |= lossy
            if st["endpoints"] is None and not tunnel and srcs and dsts:
                try:
                    sp = int(c["tcp.srcport"].split(",")[0])
                    dp = int(c["tcp.dstport"].split(",")[0])
                    st["endpoints"] = frozenset({(str(ipaddress.ip_address(srcs[0])), sp),
                                                 (str(ipaddress.ip_address(dsts[0])), dp)})
                except ValueError:
                    pass
    return out


def _parse_follow(lines: list[str]) -> dict[int, dict]:
    """Parse `-z follow,tcp,raw,N` blocks: per stream, the two endpoints (node 0, node 1) and
    per node the bytes it sent plus the gaps tshark marked ([(offset, length)])."""
    res: dict[int, dict] = {}
    cur = None
    for line in lines:
        if line.startswith("Filter: tcp.stream eq "):
            cur = {"nodes": [None, None], "data": [bytearray(), bytearray()],
                   "gaps": [[], []], "chunks": 0}
            res[int(line.split()[-1])] = cur
        elif cur is None or not line.strip() or line.startswith(("=====", "Follow:")):
            continue
        elif line.startswith(("Node 0: ", "Node 1: ")):
            n = int(line[5])
            try:
                cur["nodes"][n] = _endpoint(line[8:])
            except ValueError:          # "Node 0: :0" for a stream without data
                cur["nodes"][n] = None
        else:
            node = 1 if line.startswith("\t") else 0
            chunk = bytes.fromhex(line.strip())
            cur["chunks"] += 1
            m = MARKER.fullmatch(chunk)
            if m:
                cur["gaps"][node].append((len(cur["data"][node]), int(m.group(1))))
            else:
                cur["data"][node] += chunk
    return res


def tshark_reference(path: Path) -> tuple[dict[int, dict], dict[int, dict], bool]:
    """One tshark run: the per-frame fields of every TCP frame, then `follow,tcp,raw,N` for
    N < MAX_STREAMS (tcp.stream numbers are 0, 1, 2, ...; asking for one that does not exist
    prints an empty block). Returns (streams, follow, capped)."""
    args = ["-r", str(path), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        args += ["-e", f]
    for i in range(MAX_STREAMS):
        args += ["-z", "follow,tcp,raw,%d" % i]
    lines = _tshark(args, timeout=300).splitlines()
    cut = next((k for k, ln in enumerate(lines) if ln.startswith("=====")), len(lines))
    streams = _parse_fields(lines[:cut])
    capped = any(sid >= MAX_STREAMS for sid in streams)
    streams = {sid: st for sid, st in streams.items() if sid < MAX_STREAMS}
    return streams, _parse_follow(lines[cut:]), capped


def _gaps(gaps) -> list[tuple[int, int]]:
    return [(g.offset, g.length) for g in gaps]


def _first_diff(a: bytes, b: bytes) -> int | None:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return None if len(a) == len(b) else n


def _fp_key(s) -> frozenset:
    return frozenset({(str(ipaddress.ip_address(s.client_ip)), s.client_port),
                      (str(ipaddress.ip_address(s.server_ip)), s.server_port)})


def _compare_direction(what: str, kind: str, fdata: bytes, fgaps, tdata: bytes, tgaps,
                       errors: list[str]) -> None:
    fg = _gaps(fgaps)
    if kind == "clean":
        if fdata != tdata:
            errors.append("%s: bytes differ at offset %s (fastpkt %d bytes, tshark %d)" % (
                what, _first_diff(fdata, tdata), len(fdata), len(tdata)))
        if fg:
            errors.append("%s: fastpkt reports gaps %r, tshark's analysis sees no lost "
                          "segment" % (what, fg))
    elif kind == "snaplen":
        if fdata != tdata:
            errors.append("%s (snaplen-cut stream): bytes differ at offset %s (fastpkt %d "
                          "bytes, tshark %d)" % (what, _first_diff(fdata, tdata), len(fdata),
                                                 len(tdata)))
    else:  # lossy: compare up to tshark's first hole
        t0 = tgaps[0][0] if tgaps else len(tdata)
        f0 = fg[0][0] if fg else len(fdata)
        if fdata[:t0] != tdata[:t0]:
            errors.append("%s (lossy): bytes before tshark's first hole (offset %d) differ at "
                          "offset %s (fastpkt %d bytes, first gap %r)" % (
                              what, t0, _first_diff(fdata[:t0], tdata[:t0]), len(fdata),
                              fg[:1]))
        elif f0 < t0:
            errors.append("%s (lossy): fastpkt's first gap %r comes before tshark's first hole"
                          " at offset %d" % (what, fg[:1], t0))
        elif tgaps and fg[:1] != [tgaps[0]]:
            errors.append("%s (lossy): tshark marks %d bytes missing at offset %d, fastpkt's "
                          "first gap is %r" % (what, tgaps[0][1], tgaps[0][0], fg[:1]))


def _pair(tsh: dict[int, dict], follow: dict[int, dict], fstreams: list, errors: list[str]):
    """Match tshark streams to fastpkt streams (same endpoints, in order of appearance)."""
    tgroups: dict[frozenset, list[int]] = {}
    for sid in sorted(tsh):
        ep = tsh[sid]["endpoints"]
        if ep is not None:
            tgroups.setdefault(ep, []).append(sid)
    fgroups: dict[frozenset, list] = {}
    for s in sorted(fstreams, key=lambda s: (s.first_seen, s.stream_id)):
        fgroups.setdefault(_fp_key(s), []).append(s)

    def t_empty(sid):
        f = follow.get(sid)
        return f is None or not (f["data"][0] or f["data"][1] or f["gaps"][0] or f["gaps"][1])

    def f_empty(s):
        return not (s.client_data or s.server_data or s.client_gaps or s.server_gaps)

    pairs = []
    for ep, sids in tgroups.items():
        fs = fgroups.get(ep, [])
        if len(fs) != len(sids):  # streams without any byte may be counted differently
            sids = [i for i in sids if not t_empty(i)]
            fs = [s for s in fs if not f_empty(s)]
        if len(fs) != len(sids):
            errors.append("endpoints %s: tshark has %d stream(s) with data %r, fastpkt %d %r" % (
                sorted(ep), len(sids), sids, len(fs),
                [(s.stream_id, s.key, s.state, s.client_bytes, s.server_bytes) for s in fs]))
            continue
        pairs += list(zip(sids, fs))
    return pairs


CAPTURES = _corpus_captures()


@pytest.fixture(scope="module")
def tshark_runs():
    """tshark on every capture, two at a time in the background (tshark's start-up, not the
    captures, is most of the time); each test waits for its own file."""
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {name: pool.submit(tshark_reference, corpus_dir() / name) for name in CAPTURES}


@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES or [pytest.param(None, marks=pytest.mark.skip(
    reason=CORPUS_SKIP_REASON))])
def test_follow_tcp_matches_tshark(name, tshark_runs):
    path = corpus_dir() / name
    tsh, follow, capped = tshark_runs[name].result()
    if not tsh:
        pytest.skip("tshark sees no TCP stream in %s" % name)
    fstreams = list(fp.streams(str(path), on_error="stop", idle_timeout=1e9, progress=False))
    if capped:  # only the fastpkt streams of the first MAX_STREAMS tshark streams
        keep = {st["endpoints"] for st in tsh.values()}
        fstreams = [s for s in fstreams if _fp_key(s) in keep]

    errors: list[str] = []
    skipped: dict[str, list[int]] = {}
    usable = {}
    for sid, st in tsh.items():
        reason = ("tunnel" if st["tunnel"] else "fragments" if st["fragments"] else
                  "rst_data" if st["rst_data"] else
                  "no endpoints" if st["endpoints"] is None else None)
        if reason:
            skipped.setdefault(reason, []).append(sid)
        else:
            usable[sid] = st
    # fastpkt streams that belong to a left-out tshark stream are not compared either
    out_eps = {st["endpoints"] for sid, st in tsh.items() if sid not in usable}
    fstreams = [s for s in fstreams if _fp_key(s) not in out_eps]

    compared = []
    for sid, s in _pair(usable, follow, fstreams, errors):
        f = follow[sid]
        st = usable[sid]
        if not (f["data"][0] or f["data"][1] or f["gaps"][0] or f["gaps"][1]) and not (
                s.client_data or s.server_data):
            continue  # "empty": nothing to compare
        marked = bool(f["gaps"][0] or f["gaps"][1])
        kind = "snaplen" if st["snaplen"] else "lossy" if (st["lossy"] or marked) else "clean"
        nodes = f["nodes"]
        client = (str(ipaddress.ip_address(s.client_ip)), s.client_port)
        if client == nodes[0]:
            cn = 0
        elif client == nodes[1]:
            cn = 1
        elif nodes == [None, None]:
            cn = 0  # tshark printed no endpoint (and so no data)
        else:
            errors.append("stream %d: fastpkt client %r is neither tshark node %r" % (
                sid, client, nodes))
            continue
        sn = 1 - cn
        what = "%s stream %d (fastpkt %d, %s:%d -> %s:%d)" % (
            name, sid, s.stream_id, s.client_ip, s.client_port, s.server_ip, s.server_port)
        _compare_direction(what + " client->server", kind, s.client_data, s.client_gaps,
                           bytes(f["data"][cn]), f["gaps"][cn], errors)
        _compare_direction(what + " server->client", kind, s.server_data, s.server_gaps,
                           bytes(f["data"][sn]), f["gaps"][sn], errors)
        if s.client_bytes != len(s.client_data) or s.server_bytes != len(s.server_data):
            errors.append("%s: client_bytes/server_bytes %d/%d != len(data) %d/%d" % (
                what, s.client_bytes, s.server_bytes, len(s.client_data), len(s.server_data)))
        compared.append(sid)
    empty = [sid for sid in usable if sid not in compared]  # also unpaired ones (see _pair)
    if empty:
        skipped["empty"] = empty
    print("%s: %d stream(s) compared, left out: %r" % (name, len(compared), skipped))
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------------------
# Part 2: hand-built segment sequences
# --------------------------------------------------------------------------------------

class Wire:
    """Writes one TCP connection, segment by segment, with Scapy (an independent writer)."""

    def __init__(self, v6: bool = False, client=("10.0.0.1", 40000), server=("10.0.0.2", 80)):
        if v6:
            client = ("2001:db8::1", client[1])
            server = ("2001:db8::2", server[1])
        self.v6, self.client, self.server = v6, client, server
        self.pkts: list = []
        self.t = 1_700_000_000.0

    def _seg(self, src, dst, seq, ack, flags, data):
        from scapy.all import IP, TCP, Ether, IPv6, Raw

        ip = (IPv6(src=src[0], dst=dst[0]) if self.v6 else IP(src=src[0], dst=dst[0]))
        macs = (("02:00:00:00:00:01", "02:00:00:00:00:02") if src == self.client
                else ("02:00:00:00:00:02", "02:00:00:00:00:01"))
        p = Ether(src=macs[0], dst=macs[1]) / ip / TCP(
            sport=src[1], dport=dst[1], seq=seq % (1 << 32), ack=ack % (1 << 32), flags=flags,
            window=65535)
        if data:
            p = p / Raw(load=data)
        self.t += 0.001
        p.time = self.t
        self.pkts.append(p)

    def c(self, seq, flags="PA", data=b"", ack=0):
        """client -> server"""
        self._seg(self.client, self.server, seq, ack, flags, data)

    def s(self, seq, flags="PA", data=b"", ack=0):
        """server -> client"""
        self._seg(self.server, self.client, seq, ack, flags, data)

    def handshake(self, cisn, sisn):
        self.c(cisn, "S")
        self.s(sisn, "SA", ack=cisn + 1)
        self.c(cisn + 1, "A", ack=sisn + 1)

    def streams(self, path: Path, **kw) -> list:
        from scapy.all import wrpcap

        wrpcap(str(path), self.pkts)
        return list(fp.streams(str(path), progress=False, **kw))


@pytest.fixture(scope="module")
def scapy():
    return pytest.importorskip("scapy.all")


def _one(streams):
    assert len(streams) == 1, [(s.key, s.state) for s in streams]
    return streams[0]


def test_overlap_first_data_wins(tmp_path, scapy):
    """fastpkt's policy: the first copy of a byte in capture order wins, delivered or still
    buffered out of order. (tshark's follow agrees for delivered bytes, but for bytes buffered
    above a hole it keeps the later, in-order copy: it prints ...1234"5678" here.)"""
    w = Wire()
    C, S = 1000, 5000
    w.handshake(C, S)
    w.c(C + 1, data=b"GOOD", ack=S + 1)          # offsets 0..4
    w.c(C + 2, data=b"XXX", ack=S + 1)           # 1..4 again, different bytes: ignored
    w.c(C + 3, data=b"ZZZZZZ", ack=S + 1)        # 2..8: 2..4 differ (ignored), 4..8 new
    w.c(C + 13, data=b"abcd", ack=S + 1)         # 12..16, out of order (hole 8..12)
    w.c(C + 9, data=b"12345678", ack=S + 1)      # 8..16: 8..12 new, 12..16 differ (ignored)
    w.s(S + 1, "A", ack=C + 17)
    w.c(C + 17, "FA", ack=S + 1)
    w.s(S + 1, "FA", ack=C + 18)
    w.c(C + 18, "A", ack=S + 2)
    s = _one(w.streams(tmp_path / "overlap.pcap"))
    assert s.client_data == b"GOOD" + b"ZZZZ" + b"1234" + b"abcd"
    assert _gaps(s.client_gaps) == [] and s.server_data == b""
    assert "stream_overlap_inconsistent" in s.anomalies, s.anomalies
    assert s.state == "closed" and s.client_closed and s.server_closed
    assert not s.midstream
    assert (s.client_ip, s.client_port, s.server_ip, s.server_port) == ("10.0.0.1", 40000,
                                                                        "10.0.0.2", 80)


def test_identical_retransmission_is_consistent(tmp_path, scapy):
    w = Wire()
    C, S = 7, 9
    w.handshake(C, S)
    w.c(C + 1, data=b"hello ", ack=S + 1)
    w.c(C + 7, data=b"world", ack=S + 1)
    w.c(C + 1, data=b"hello world", ack=S + 1)   # retransmission, same bytes, repacketised
    w.s(S + 1, data=b"ok", ack=C + 12)
    w.c(C + 12, "FA", ack=S + 3)
    w.s(S + 3, "FA", ack=C + 13)
    w.c(C + 13, "A", ack=S + 4)
    s = _one(w.streams(tmp_path / "retrans.pcap"))
    assert s.client_data == b"hello world" and s.server_data == b"ok"
    assert "stream_overlap_inconsistent" not in s.anomalies, s.anomalies
    assert s.state == "closed"


def test_sequence_wraparound(tmp_path, scapy):
    w = Wire(v6=True)
    C, S = (1 << 32) - 5, (1 << 32) - 2          # both directions cross 2^32
    w.handshake(C, S)
    w.c(C + 1, data=b"AAAAAAAA", ack=S + 1)      # seq 2^32-4 .. 2^32+3 (wraps inside)
    w.c(C + 9, data=b"BBBBBBBB", ack=S + 1)      # after the wrap: seq 4
    w.c(C + 25, data=b"DDDD", ack=S + 1)         # out of order, above a hole
    w.c(C + 17, data=b"CCCCCCCC", ack=S + 1)     # fills the hole
    w.s(S + 1, data=b"r" * 10, ack=C + 29)       # 2^32-1 .. 2^32+8
    w.s(S + 11, data=b"s" * 3, ack=C + 29)
    w.c(C + 29, "FA", ack=S + 14)
    w.s(S + 14, "FA", ack=C + 30)
    w.c(C + 30, "A", ack=S + 15)
    s = _one(w.streams(tmp_path / "wrap.pcap"))
    assert s.ip_version == 6 and s.client_ip == "2001:db8::1" and s.server_ip == "2001:db8::2"
    assert s.client_data == b"A" * 8 + b"B" * 8 + b"C" * 8 + b"D" * 4
    assert s.server_data == b"r" * 10 + b"s" * 3
    assert _gaps(s.client_gaps) == [] and _gaps(s.server_gaps) == []
    assert s.state == "closed" and s.client_closed and s.server_closed
    assert s.client_bytes == 28 and s.server_bytes == 13


def test_hole_never_filled_is_a_gap(tmp_path, scapy):
    seg1 = bytes(range(1, 101))                  # 100 bytes, no zero byte
    seg3 = bytes(range(151, 201))                # 50 bytes after a 50-byte hole
    w = Wire()
    C, S = 100_000, 200_000
    w.handshake(C, S)
    w.c(C + 1, data=seg1, ack=S + 1)
    w.s(S + 1, "A", ack=C + 101)
    w.c(C + 151, data=seg3, ack=S + 1)           # offsets 150..200; 100..150 never sent
    w.s(S + 1, "A", ack=C + 101)                 # duplicate ACK: the hole stays
    w.c(C + 201, "FA", ack=S + 1)
    w.s(S + 1, "RA", ack=C + 101)
    s = _one(w.streams(tmp_path / "hole.pcap"))
    assert s.client_data == seg1 + seg3          # nothing invented: 150 bytes
    assert len(s.client_data) == 150 and s.client_bytes == 150
    assert _gaps(s.client_gaps) == [(100, 50)]
    assert not s.client_closed                   # bytes before the FIN are missing
    assert s.server_data == b"" and _gaps(s.server_gaps) == []


def test_midstream_start(tmp_path, scapy):
    w = Wire(client=("10.9.0.1", 5555), server=("10.9.0.2", 8080))
    A, B = 777_777, 3_000_000_000
    # no SYN: the first packet's sender is the client
    w.c(A, data=b"mid-1", ack=B)
    w.s(B, data=b"resp", ack=A + 5)
    w.c(A + 5, data=b"mid-2", ack=B + 4)
    w.s(B + 4, "A", ack=A + 10)
    s = _one(w.streams(tmp_path / "midstream.pcap"))
    assert s.midstream
    assert "stream_midstream" in s.anomalies, s.anomalies
    assert s.key == ("10.9.0.1", 5555, "10.9.0.2", 8080)
    assert s.client_data == b"mid-1mid-2" and s.server_data == b"resp"
    assert _gaps(s.client_gaps) == [] and _gaps(s.server_gaps) == []


def test_midstream_first_packet_from_server_side(tmp_path, scapy):
    """Without a SYN, the first packet's sender is the client, whatever the ports."""
    w = Wire(client=("10.9.0.2", 80), server=("10.9.0.1", 43210))
    w.c(50, data=b"HTTP/1.1 200 OK\r\n", ack=60)
    w.s(60, data=b"x", ack=67)
    s = _one(w.streams(tmp_path / "midstream2.pcap"))
    assert s.midstream and s.client_ip == "10.9.0.2" and s.client_port == 80
    assert s.client_data == b"HTTP/1.1 200 OK\r\n" and s.server_data == b"x"


def test_rst_mid_transfer(tmp_path, scapy):
    w = Wire()
    C, S = 10, 20
    w.handshake(C, S)
    w.c(C + 1, data=b"request", ack=S + 1)
    w.s(S + 1, data=b"partial resp", ack=C + 8)
    w.s(S + 13, "RA", ack=C + 8)
    s = _one(w.streams(tmp_path / "rst.pcap"))
    assert s.state == "reset"
    assert s.client_data == b"request" and s.server_data == b"partial resp"
    assert not s.server_closed and not s.client_closed


def test_rst_payload_is_not_stream_data(tmp_path, scapy):
    """fastpkt's documented policy (tcp_reassembly.c): a RST's payload is a diagnostic
    (RFC 9293 section 3.5.3), not stream data - tshark's follow would print it."""
    w = Wire()
    C, S = 300, 900
    w.handshake(C, S)
    w.c(C + 1, data=b"GET", ack=S + 1)
    w.s(S + 1, "RA", data=b"connection refused by policy", ack=C + 4)
    s = _one(w.streams(tmp_path / "rstdata.pcap"))
    assert s.state == "reset"
    assert s.client_data == b"GET" and s.server_data == b""
    assert _gaps(s.server_gaps) == []


def test_midstream_without_payload(tmp_path, scapy):
    """'midstream' means no SYN was seen, also for a connection of which the capture holds
    only ACKs and a RST (tcpdump-tcp_rst_data-trunc.pcap is such a capture)."""
    w = Wire()
    w.c(1000, "A", ack=2000)
    w.s(2000, "A", ack=1000)
    w.c(1000, "RA", ack=2000)
    s = _one(w.streams(tmp_path / "ackonly.pcap"))
    assert s.client_data == b"" and s.server_data == b""
    assert s.state == "reset"
    assert s.midstream, (s.midstream, s.anomalies)


def test_keepalive_probe_ignored(tmp_path, scapy):
    w = Wire()
    C, S = 4000, 8000
    w.handshake(C, S)
    w.c(C + 1, data=b"hello", ack=S + 1)
    w.s(S + 1, "A", ack=C + 6)
    w.c(C + 5, "A", data=b"\xff", ack=S + 1)     # keep-alive probe: seq = next - 1, garbage
    w.s(S + 1, "A", ack=C + 6)
    w.c(C + 5, "A", ack=S + 1)                   # zero-length probe
    w.s(S + 1, "A", ack=C + 6)
    w.c(C + 6, data=b"world", ack=S + 1)
    w.c(C + 11, "FA", ack=S + 1)
    w.s(S + 1, "FA", ack=C + 12)
    w.c(C + 12, "A", ack=S + 2)
    s = _one(w.streams(tmp_path / "keepalive.pcap"))
    assert s.client_data == b"helloworld"
    assert "stream_overlap_inconsistent" not in s.anomalies, s.anomalies
    assert _gaps(s.client_gaps) == []
    assert s.state == "closed" and s.client_closed and s.server_closed


def test_data_after_fin_ignored(tmp_path, scapy):
    w = Wire()
    C, S = 1, 2
    w.handshake(C, S)
    w.c(C + 1, data=b"data", ack=S + 1)
    w.c(C + 5, "FA", ack=S + 1)                  # the FIN takes sequence number C+5
    w.s(S + 1, "FA", ack=C + 6)
    w.c(C + 6, "PA", data=b"junk", ack=S + 2)    # after the FIN: not part of the stream
    w.c(C + 6, "A", ack=S + 2)
    s = _one(w.streams(tmp_path / "afterfin.pcap"))
    assert s.client_data == b"data"
    assert s.client_closed and s.server_closed and s.state == "closed"
    assert _gaps(s.client_gaps) == []


def test_fin_carrying_data(tmp_path, scapy):
    w = Wire()
    C, S = 500, 600
    w.handshake(C, S)
    w.c(C + 1, "FPA", data=b"last words", ack=S + 1)
    w.s(S + 1, "FPA", data=b"bye", ack=C + 12)
    w.c(C + 12, "A", ack=S + 5)
    s = _one(w.streams(tmp_path / "findata.pcap"))
    assert s.client_data == b"last words" and s.server_data == b"bye"
    assert s.client_closed and s.server_closed and s.state == "closed"


def test_depth_cut(tmp_path, scapy):
    w = Wire()
    C, S = 40, 50
    w.handshake(C, S)
    w.c(C + 1, data=b"0123456789", ack=S + 1)
    w.s(S + 1, data=b"abc", ack=C + 11)
    w.c(C + 11, "FA", ack=S + 4)
    w.s(S + 4, "FA", ack=C + 12)
    s = _one(w.streams(tmp_path / "depth.pcap", depth=4))
    assert s.client_data == b"0123" and s.server_data == b"abc"
    assert "stream_depth_cut" in s.anomalies, s.anomalies
    assert _gaps(s.client_gaps) == []
