"""pcapng's if_fcslen and if_tsresol per interface (and pcap's FCS bits) against tshark, in
every reader path: the iterator, fp.read()'s PacketList (views, display filters, columns),
a Reader's display filter, the flow engine (one reader and record-aligned ranges).

The capture is built by hand: four interfaces with different FCS lengths and timestamp
resolutions, and frames whose FCS is captured whole, cut by the snap length, cut in half,
on a link type tshark keeps it on, and after a payload no length field bounds (an unknown
EtherType: only stripping the FCS gives tshark's data.len)."""
from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import tool_env
from fastpkt.tables import to_arrow

MACS = bytes.fromhex("020000000002" "020000000001")


def opt(code: int, val: bytes) -> bytes:
    return struct.pack("<HH", code, len(val)) + val + b"\0" * (-len(val) % 4)


def block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def idb(linktype: int, *opts: bytes) -> bytes:
    return block(1, struct.pack("<HHI", linktype, 0, 262144) + b"".join(opts) + opt(0, b""))


def epb(interface: int, units: int, frame: bytes, wirelen: int | None = None) -> bytes:
    wl = len(frame) if wirelen is None else wirelen
    return block(6, struct.pack("<IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(frame), wl) + frame)


def ip4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return hdr + payload


def udp(sport: int, dport: int, body: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body


def tcp(sport: int, dport: int, body: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x18, 65535, 0, 0) + body


def with_fcs(frame: bytes) -> bytes:
    return frame + struct.pack("<I", zlib.crc32(frame))


UDP_FRAME = MACS + b"\x08\x00" + ip4("10.0.0.1", "10.0.0.2", 17, udp(1234, 5678, b"hello"))
TCP_FRAME = MACS + b"\x08\x00" + ip4("10.0.0.3", "10.0.0.4", 6, tcp(80, 999, b"x" * 30))
OTHER_FRAME = MACS + b"\x88\xb5" + bytes(range(20))  # IEEE local experimental EtherType


def fcs_pcapng() -> bytes:
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += idb(1, opt(13, b"\x04"), opt(9, b"\x09"))    # 0: FCS 4, nanoseconds
    out += idb(1, opt(9, b"\x06"))                      # 1: no FCS, microseconds
    out += idb(1, opt(13, b"\x04"), opt(9, b"\x8a"))    # 2: FCS 4, 2^-10 s
    out += idb(101, opt(13, b"\x04"), opt(9, b"\x03"))  # 3: raw IP, FCS 4 (tshark keeps it), ms
    out += epb(0, 1700000000_123456789, with_fcs(UDP_FRAME))
    out += epb(1, 1700000001_654321, UDP_FRAME)
    out += epb(2, 1700000002 * 1024 + 513, with_fcs(TCP_FRAME))
    out += epb(3, 1700000003_250, with_fcs(UDP_FRAME[14:]))
    out += epb(0, 1700000004_000000001, with_fcs(TCP_FRAME)[:40], len(TCP_FRAME) + 4)  # no FCS captured
    out += epb(0, 1700000005_000000001, UDP_FRAME[:-2], len(UDP_FRAME))  # FCS half captured, cut
    out += epb(0, 1700000006_000000001, with_fcs(OTHER_FRAME))
    out += epb(1, 1700000007_000001, OTHER_FRAME)
    out += epb(2, 1700000008 * 1024 + 1023, with_fcs(UDP_FRAME))
    return out


FIELDS = ("frame.number", "frame.interface_id", "frame.time_epoch", "frame.len", "frame.cap_len", "eth.fcs",
          "ip.src", "udp.length", "tcp.len", "data.len")


def tshark_rows(path: Path, *extra: str) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", *extra]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def ns(epoch: str) -> int:
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])


def ours(p) -> dict[str, str]:
    fcs = p.field("eth.fcs")
    return {
        "frame.interface_id": str(p.interface), "frame.time_epoch": str(p.time_ns),
        "frame.len": str(p.wirelen), "frame.cap_len": str(p.caplen),
        "eth.fcs": "" if fcs is None else "0x%08x" % fcs,
        "ip.src": p.ip.src if p.ip else "", "udp.length": str(p.udp.len) if p.udp else "",
        "tcp.len": str(len(p.tcp.payload)) if p.tcp else "",
        "data.len": str(len(p.payload)) if p.payload and not (p.ip and p.ip.proto == 6) else "",
    }


def theirs(row: dict[str, str]) -> dict[str, str]:
    want = {k: v for k, v in row.items() if k != "frame.number"}
    want["frame.time_epoch"] = str(ns(row["frame.time_epoch"]))
    want["frame.interface_id"] = row["frame.interface_id"] or "0"  # pcap: no interface
    return want


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fcs") / "fcs.pcapng"
    path.write_bytes(fcs_pcapng())
    return path


def test_iterator_and_packetlist_match_tshark(capture, tshark):
    rows = tshark_rows(capture)
    assert len(rows) == 9
    assert [r["eth.fcs"] != "" for r in rows] == [True, False, True, False, False, False, True, False, True]
    want = [theirs(r) for r in rows]
    assert [ours(p) for p in fp.open(str(capture))] == want
    pl = fp.read(str(capture))
    assert [ours(pl[i]) for i in range(len(pl))] == want
    # the raw record keeps the FCS: frame.cap_len and the bytes written out are as captured
    assert pl[0].raw == with_fcs(UDP_FRAME)


def fcs_pcap(path):
    """Three frames with their FCS in a pcap whose link type has the F bit and a length of
    2 16-bit words (a 4-byte FCS)."""
    frames = [with_fcs(UDP_FRAME), with_fcs(OTHER_FRAME), with_fcs(TCP_FRAME)]
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1 | 0x04000000 | 2 << 28)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, i, len(f), len(f)) + f
    path.write_bytes(out)
    return path


def test_pcap_header_fcs_bits(tmp_path, tshark):
    """A pcap file's link type with the F bit and a length of 2 16-bit words: a 4-byte FCS."""
    path = fcs_pcap(tmp_path / "fcs.pcap")
    want = [theirs(r) for r in tshark_rows(path)]
    assert [r["eth.fcs"] != "" for r in want] == [True] * 3
    assert [ours(p) for p in fp.open(str(path))] == want


@pytest.mark.parametrize("dfilter", ["eth.fcs", "udp.length == 13", "!ip"])
def test_display_filters_match_tshark(capture, tshark, dfilter):
    want = [ns(r["frame.time_epoch"]) for r in tshark_rows(capture, "-Y", dfilter)]
    assert want
    assert [p.time_ns for p in fp.open(str(capture), display_filter=dfilter)] == want
    pl = fp.read(str(capture))
    assert [p.time_ns for p, keep in zip(pl, pl.filter_mask(dfilter)) if keep] == want


def test_columns_match_tshark(capture, tshark):
    rows = tshark_rows(capture)
    df = fp.read(str(capture)).to_pandas()
    assert df["time"].astype("int64").tolist() == [ns(r["frame.time_epoch"]) for r in rows]
    assert df["interface"].tolist() == [int(r["frame.interface_id"]) for r in rows]
    assert df["caplen"].tolist() == [int(r["frame.cap_len"]) for r in rows]
    # payload_len of the frames no length field bounds: tshark's data.len without the FCS
    other = [i for i, r in enumerate(rows) if r["ip.src"] == ""]
    assert [int(df["payload_len"][i]) for i in other] == [int(rows[i]["data.len"]) for i in other]
    with fp.open(str(capture)) as r:  # a Reader's Arrow stream: the columns filled from its records
        table = to_arrow(r)
    assert table.column("payload_len").to_pylist() == df["payload_len"].tolist()
    assert [t.value for t in table.column("time").to_pandas()] == df["time"].astype("int64").tolist()


@pytest.mark.parametrize("workers", [1, 2])
def test_flows_times_and_bytes_match_tshark(capture, tshark, workers):
    rows = tshark_rows(capture)
    by_src: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if r["udp.length"] or r["tcp.len"]:  # a TCP header cut by the snap length is no flow's
            by_src.setdefault(r["ip.src"], []).append(r)
    df = fp.flows(str(capture), progress=False, workers=workers).to_pandas()
    got = {row.src_ip: (row.first_seen.value, row.last_seen.value, row.packets, row.bytes)
           for row in df.itertuples()}
    want = {src: (ns(rs[0]["frame.time_epoch"]), ns(rs[-1]["frame.time_epoch"]), len(rs),
                  sum(int(r["frame.len"]) for r in rs)) for src, rs in by_src.items()}
    assert got == want


def test_stats_io_matches_tshark(capture, tshark):
    filters = ["eth.fcs", "udp.length == 13", "!ip"]
    out = subprocess.run(["tshark", "-r", str(capture), "-q", "-z", "io,stat,100," + ",".join(filters)],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    row = [line for line in out.splitlines() if "<>" in line][0]
    want = [int(c) for c in row.split("|")[2:-1]]
    io = fp.stats(str(capture), interval=100.0, filters=filters).io()
    got = [int(io[c][0]) for c in ("frames_1", "bytes_1", "frames_2", "bytes_2", "frames_3", "bytes_3")]
    assert got == want


# ---- writing: the declared FCS goes out with the frames ------------------------------

def pcap_linktype_field(path: Path) -> int:
    return struct.unpack("<I", path.read_bytes()[20:24])[0]


def same_frames(src: Path, out: Path, keep: list[int] | None = None) -> None:
    """tshark reads `out` with the eth.fcs values, lengths and payloads it reads in `src`
    (the frames numbered in `keep`; interface numbers aside), and fastpkt reads `out` as
    tshark does."""
    rows = tshark_rows(src)
    want = [theirs(r) for r in rows if keep is None or int(r["frame.number"]) in keep]
    got = [theirs(r) for r in tshark_rows(out)]
    assert [ours(p) for p in fp.open(str(out))] == got
    for row in want + got:
        del row["frame.interface_id"]
    assert got == want


@pytest.mark.parametrize("via", ["packets", "list", "reader"])
def test_pcapng_write_declares_if_fcslen(capture, tshark, tmp_path, via):
    """fp.write keeps each frame's declared FCS length as if_fcslen on the interfaces it
    writes: tshark reads the copy with the same eth.fcs values, and a read of the copy keeps
    the FCS out of dissection again. Packets go to an interface per link type and FCS length;
    a PacketList keeps its interfaces."""
    out = tmp_path / "out.pcapng"
    src = {"packets": lambda: list(fp.open(str(capture))), "list": lambda: fp.read(str(capture)),
           "reader": lambda: fp.open(str(capture))}[via]()
    fp.write(out, src, format="pcapng")
    same_frames(capture, out)
    assert [i["fcslen"] for i in fp.read(str(capture)).interfaces] == [4, 0, 4, 4]
    written = {(i["linktype"], i["fcslen"]) for i in fp.read(str(out)).interfaces}
    assert written == {(1, 4), (1, 0), (101, 4)}


def test_pcap_write_declares_fcs_bits(capture, tshark, tmp_path):
    """pcap declares one FCS length per file (the link type field's F bit and 16-bit words):
    packets with a 4-byte FCS are written under 1 | F | 2 << 28, read back by tshark with the
    same eth.fcs; a packet declaring another length is refused with the file untouched."""
    keep = [int(r["frame.number"]) for r in tshark_rows(capture) if r["frame.interface_id"] in ("0", "2")]
    pkts = [p for i, p in enumerate(fp.open(str(capture)), 1) if i in keep]
    assert {p.fcslen for p in pkts} == {4} and len(pkts) == 6
    out = tmp_path / "out.pcap"
    fp.write(out, pkts, nanosecond=True)
    assert pcap_linktype_field(out) == 1 | 0x04000000 | 2 << 28
    same_frames(capture, out, keep)
    mixed = [p for p in fp.open(str(capture)) if p.linktype == 1]
    with pytest.raises(ValueError, match="fcslen=4"):
        fp.write(tmp_path / "mixed.pcap", mixed)
    assert not (tmp_path / "mixed.pcap").exists()
    with pytest.raises(ValueError, match="16-bit words"):
        fp.Writer(tmp_path / "odd.pcap", fcslen=3)
    with pytest.raises(ValueError, match="if_fcslen"):
        fp.Writer(tmp_path / "big.pcapng", interfaces=[{"linktype": 1, "fcslen": 256}])


def test_pcap_fcs_bits_through_pcapng_and_back(tshark, tmp_path):
    """A pcap whose header declares a 4-byte FCS, written as pcapng (if_fcslen 4) and that
    written as pcap again (the F bit back): tshark reads all three alike."""
    path = fcs_pcap(tmp_path / "fcs.pcap")
    ng = tmp_path / "fcs.pcapng"
    fp.write(ng, fp.read(str(path)))
    assert [i["fcslen"] for i in fp.read(str(ng)).interfaces] == [4]
    same_frames(path, ng)
    back = tmp_path / "back.pcap"
    fp.write(back, fp.read(str(ng)))
    assert pcap_linktype_field(back) == 1 | 0x04000000 | 2 << 28
    same_frames(path, back)
    with fp.Writer(tmp_path / "w.pcapng", fcslen=4, linktype=1) as w:
        assert w.interfaces[0]["fcslen"] == 4
        assert w.add_interface(1, fcslen=0) == 1


# ---- rotated files: RotatingWriter and sniff(write=) ----------------------------------

def fcs_status(path: Path) -> list[str]:
    """tshark's eth.fcs.status per frame with FCS checking on (1: good)."""
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-o", "eth.check_fcs:TRUE", "-T", "fields",
                          "-e", "eth.fcs.status"], capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return out.splitlines()


def rotated_like_source(src: Path, paths: list[str], keep: list[int] | None = None) -> None:
    """The rotated files, one after the other, hold the frames of `src` (those numbered in
    `keep`) as tshark reads them there: eth.fcs and its status, lengths, payloads, times; and
    fastpkt reads each file as tshark does."""
    assert len(paths) > 1
    want = [theirs(r) for r in tshark_rows(src) if keep is None or int(r["frame.number"]) in keep]
    status = [s for i, s in enumerate(fcs_status(src), 1) if keep is None or i in keep]
    got, got_status = [], []
    for path in paths:
        rows = [theirs(r) for r in tshark_rows(Path(path))]
        assert [ours(p) for p in fp.open(path)] == rows, path
        got += rows
        got_status += fcs_status(Path(path))
    for row in want + got:
        del row["frame.interface_id"]
    assert got == want
    assert got_status == status and "1" in status


@pytest.mark.parametrize("linktype", [None, 1])
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_rotating_writer_keeps_the_fcs(capture, tshark, tmp_path, fmt, linktype):
    """RotatingWriter declares the packets' FCS in every file it starts, as Writer does:
    pcap's FCS bits (taken from the first packet, whether the first file waited for it or was
    made at once for a given link type), pcapng's if_fcslen per interface. The first packet
    declaring another length than a pcap's is refused."""
    rows = tshark_rows(capture)
    keep = [int(r["frame.number"]) for r in rows if fmt == "pcapng" or r["frame.interface_id"] in ("0", "2")]
    pkts = [p for i, p in enumerate(fp.open(str(capture)), 1) if i in keep]
    with fp.RotatingWriter(tmp_path / ("out." + fmt), linktype=linktype, rotate_bytes=300, nanosecond=True) as w:
        for p in pkts:
            w.write(p)
    rotated_like_source(capture, w.paths, keep)
    if fmt == "pcap":
        assert {pcap_linktype_field(Path(p)) for p in w.paths} == {1 | 0x04000000 | 2 << 28}
    else:
        assert {(i["linktype"], i["fcslen"]) for p in w.paths for i in fp.read(p).interfaces} == \
            {(1, 4), (1, 0), (101, 4)}
    if fmt == "pcap":
        with fp.RotatingWriter(tmp_path / "mixed.pcap", linktype=linktype) as w:
            w.write(pkts[0])
            with pytest.raises(ValueError, match="fcslen=4"):
                w.write(next(p for p in fp.open(str(capture)) if p.fcslen == 0))


def test_sniff_write_keeps_the_fcs(capture, tshark, tmp_path):
    """sniff(offline=..., write=..., rotate_bytes=...): the rotated copies of a pcap declaring
    a 4-byte FCS and of the pcapng whose interfaces declare 4 and 0 read in tshark as the
    sources do."""
    src = fcs_pcap(tmp_path / "fcs.pcap")
    (tmp_path / "pcap").mkdir()
    fp.sniff(offline=str(src), write=str(tmp_path / "pcap" / "out.pcap"), rotate_bytes=150, store=False)
    rotated_like_source(src, sorted(str(p) for p in (tmp_path / "pcap").glob("out-*.pcap")))
    (tmp_path / "ng").mkdir()
    fp.sniff(offline=str(capture), write=str(tmp_path / "ng" / "out.pcapng"), rotate_bytes=400, store=False)
    rotated_like_source(capture, sorted(str(p) for p in (tmp_path / "ng").glob("out-*.pcapng")))
