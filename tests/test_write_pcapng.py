"""pcapng writing in C (csrc/write/capture_writer.c) and values that do not fit a format.

References: tshark and capinfos read our pcapng back (interfaces, link types, resolutions,
times, comments, flags); Scapy's rdpcap likewise; mergecap/editcap make multi-interface
pcapngs with comments that we must rewrite byte for byte, as we must the corpus pcapngs
that fit the definition in docs/DESIGN.md ("Writers")."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.all import Ether, IP, UDP, rdpcap

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, DATA, corpus_dir, tool_env

# Reference tools run without a sanitizer runtime preloaded for our extension.
TOOL_ENV = tool_env()


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:   # a failure under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip("%s is not installed" % tool)
    return path


def _tshark_fields(path: Path, *fields: str, extra: tuple[str, ...] = ()) -> list[list[str]]:
    args = [_require("tshark"), "-r", str(path), *extra, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=TOOL_ENV).stdout
    return [line.split("\t") for line in out.splitlines()]


FRAMES = [bytes(Ether() / IP(src="10.0.0.%d" % i, dst="10.0.0.99") / UDP(sport=1000 + i, dport=53))
          for i in range(6)]
RAW = [bytes(IP(src="192.0.2.%d" % i, dst="192.0.2.99") / UDP(sport=7, dport=9)) for i in range(3)]
T0 = 1_700_000_000_123_456_789


def _write_sample(path: Path) -> None:
    """Three interfaces (µs Ethernet, ns raw IP, 2^-20 s with an offset), comments, flags."""
    with fp.Writer(str(path), format="pcapng") as w:
        assert w.add_interface(1, name="eth0", tsresol=10**6, snaplen=1500) == 0
        assert w.add_interface(101, name="raw0", tsresol=10**9) == 1
        assert w.add_interface(1, name="slow1", tsresol=2**20, tsoffset=1_000_000_000) == 2
        for i, f in enumerate(FRAMES[:3]):
            w.write(f, time_ns=T0 + i * 1001, interface=0, comment="eth %d" % i if i != 1 else None,
                    flags=1 if i == 2 else None)
        for i, f in enumerate(RAW):
            w.write(f, time_ns=T0 + i, interface=1, comment="raw ünï %d" % i, wirelen=len(f) + 10)
        for i, f in enumerate(FRAMES[3:]):
            w.write(f, time_ns=T0 + 500_000_000 * i, interface=2)


def test_pcapng_read_by_tshark(tmp_path):
    out = tmp_path / "s.pcapng"
    _write_sample(out)
    rows = _tshark_fields(out, "frame.interface_id", "frame.interface_name", "frame.time_epoch",
                          "frame.len", "frame.cap_len", "frame.comment", "frame.packet_flags")
    assert [r[0] for r in rows] == ["0"] * 3 + ["1"] * 3 + ["2"] * 3
    assert [r[1] for r in rows] == ["eth0"] * 3 + ["raw0"] * 3 + ["slow1"] * 3
    # µs interface: the time cut to microseconds; ns: exact
    assert [Decimal(r[2]) for r in rows[:3]] == [Decimal(T0 + i * 1001) // 1000 / Decimal(10**6) for i in range(3)]
    assert [Decimal(r[2]) for r in rows[3:6]] == [Decimal(T0 + i) / Decimal(10**9) for i in range(3)]
    assert [int(r[3]) - int(r[4]) for r in rows[3:6]] == [10, 10, 10]
    assert [r[5] for r in rows] == ["eth 0", "", "eth 2", "raw ünï 0", "raw ünï 1", "raw ünï 2", "", "", ""]
    assert rows[2][6] in ("0x00000001", "1")
    # 2^-20 s units after if_tsoffset: tshark's time within one unit below ours
    for i, r in enumerate(rows[6:]):
        want = Decimal(T0 + 500_000_000 * i) / Decimal(10**9)
        assert Decimal(0) <= want - Decimal(r[2]) < Decimal(1) / Decimal(2**20)
    back = fp.read(str(out))
    assert [p.raw for p in back] == FRAMES[:3] + RAW + FRAMES[3:]
    assert [p.comment for p in back][:4] == ["eth 0", None, "eth 2", "raw ünï 0"]
    assert [p.linktype for p in back] == [1, 1, 1, 101, 101, 101, 1, 1, 1]


def test_pcapng_read_by_capinfos(tmp_path):
    out = tmp_path / "s.pcapng"
    _write_sample(out)
    text = subprocess.run([_require("capinfos"), "-M", str(out)], check=True, capture_output=True,
                          text=True, env=TOOL_ENV).stdout
    assert "Number of packets:   9" in text
    assert "Number of interfaces in file: 3" in text
    assert text.count("Encapsulation = Ethernet (1 - ether)") == 2
    assert "Encapsulation = Raw IP (7 - rawip)" in text
    assert "Time precision = microseconds (6)" in text and "Time precision = nanoseconds (9)" in text
    assert "Name = slow1" in text and "Capture length = 1500" in text


def test_pcapng_read_by_scapy(tmp_path):
    out = tmp_path / "s.pcapng"
    _write_sample(out)
    pkts = rdpcap(str(out))
    assert [bytes(p) for p in pkts] == FRAMES[:3] + RAW + FRAMES[3:]
    assert [Decimal(p.time) * 10**9 // 1 for p in pkts[3:6]] == [T0 + i for i in range(3)]
    assert [p.comment for p in pkts[:4]] == [b"eth 0", None, b"eth 2", "raw ünï 0".encode()]
    assert [p.wirelen for p in pkts[3:6]] == [len(f) + 10 for f in RAW]


def test_auto_interfaces_per_linktype_and_file_objects():
    """Without interfaces=, each link type gets an interface (nanosecond); a file object works."""
    mixed = [p for p in fp.read(str(DATA / "two_if.pcapng")) if p.time_ns is not None]
    buf = io.BytesIO()
    with fp.Writer(buf, format="pcapng") as w:
        for p in mixed:
            w.write(p)
        assert [i["linktype"] for i in w.interfaces] == [1, 101]
        assert {i["tsresol"] for i in w.interfaces} == {10**9}
    back = fp.read(memoryview(buf.getvalue()))
    assert [(p.raw, p.time_ns, p.wirelen, p.linktype, p.comment) for p in back] == \
        [(p.raw, p.time_ns, p.wirelen, p.linktype, p.comment) for p in mixed]
    assert [p.interface for p in back] == [0 if p.linktype == 1 else 1 for p in mixed]


# ---- byte-identical round trips ----------------------------------------------------

def _mergecap_file(tmp_path: Path) -> Path:
    merged = tmp_path / "merged.pcapng"
    subprocess.run([_require("mergecap"), "-F", "pcapng", "-w", str(merged), str(DATA / "le_usec.pcap"),
                    str(DATA / "ns_le.pcap"), str(DATA / "raw.pcap")], check=True, capture_output=True, env=TOOL_ENV)
    commented = tmp_path / "commented.pcapng"
    subprocess.run([_require("editcap"), "-a", "1:first comment", "-a", "3:third, ünïcode", str(merged),
                    str(commented)], check=True, capture_output=True, env=TOOL_ENV)
    return commented


def test_multi_interface_round_trip_is_byte_identical(tmp_path):
    src = _mergecap_file(tmp_path)
    pl = fp.read(str(src))
    assert len(pl.interfaces) == 3 and {p.interface for p in pl} == {0, 1, 2}
    assert [p.comment for p in pl][:3] == ["first comment", None, "third, ünïcode"]
    out = tmp_path / "out.pcapng"
    fp.write(str(out), pl)
    assert out.read_bytes() == src.read_bytes()
    # a streaming Writer given the list's header and interfaces does the same
    out2 = tmp_path / "out2.ntar"
    with fp.Writer(str(out2), header=pl.file_header, interfaces=pl.interfaces) as w:
        for p in fp.open(str(src)):
            w.write(p)
    assert out2.read_bytes() == src.read_bytes()


# Corpus pcapngs that fit the definition (one section, every non-packet block before the
# first packet, EPBs only): several interfaces, a decryption-secrets block, big packets.
CORPUS_EXACT = ["ndpi-quic-v2.pcapng", "ndpi-tls_missing_ch_frag.pcap", "ndpi-tls_with_huge_ch.pcapng",
                "ppp-grepackets.pcap", "ppp-icmppackets.pcap", "ppp-ipv6_options.pcap",
                "ppp-qinq_802.1_ad.pcapng", "ndpi-reasm_segv_anon.pcapng", "tcpdump-empty.pcapng"]
# Outside the definition, the same frames for tshark: trailing ISBs (11 interfaces in one),
# obsolete Packet Blocks written as EPBs.
CORPUS_SAME_FRAMES = ["ndpi-quic_frags_ch_in_multiple_packets.pcapng", "ppp-many_interfaces-1.pcapng",
                      "scapy-pfcp.pcap"]


def _corpus_file(name: str) -> Path:
    d = corpus_dir()
    if d is None:   # skips are failures under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip(CORPUS_SKIP_REASON)
    if not (d / name).exists():
        pytest.skip("%s is not in the vendored corpus (licence): it needs ../shared/corpus" % name)
    return d / name


@pytest.mark.parametrize("name", CORPUS_EXACT)
def test_corpus_pcapng_round_trip_is_byte_identical(tmp_path, name):
    src = _corpus_file(name)
    pl = fp.read(str(src))
    assert pl.format == "pcapng"
    out = tmp_path / "out"
    fp.write(str(out), pl, format="pcapng")
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", CORPUS_SAME_FRAMES)
def test_corpus_pcapng_round_trip_same_frames(tmp_path, name):
    src = _corpus_file(name)
    out = tmp_path / "out.pcapng"
    fp.write(str(out), fp.read(str(src)))
    fields = ("frame.interface_id", "frame.interface_name", "frame.time_epoch", "frame.len",
              "frame.cap_len", "frame.comment", "frame.encap_type")
    want = _tshark_fields(src, *fields)
    assert _tshark_fields(out, *fields) == want and want
    assert out.read_bytes() != src.read_bytes()   # else it belongs in CORPUS_EXACT


def test_two_sections_and_other_blocks_round_trip_by_content(tmp_path):
    """two_if.pcapng (two sections, SPB, PB, NRB, ISB, DSB after packets) is outside the exact
    definition: tshark still sees the same packets, interfaces and comments."""
    src = DATA / "two_if.pcapng"
    out = tmp_path / "out.pcapng"
    fp.write(str(out), fp.read(str(src)))
    # tshark also lists blocks it cannot place as frames without an interface: not packets.
    # (tshark 4.0 names the second section's interfaces after the first's: names not compared.)
    fields = ("frame.interface_name", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.comment")
    a = [r[1:] for r in _tshark_fields(src, *fields) if r[0]]
    b = [r[1:] for r in _tshark_fields(out, *fields)]
    assert len(a) == len(b) == 7
    for ra, rb in zip(a, b):
        if ra[0] == "":     # a Simple Packet Block has no time: written as 0
            ra[0], rb[0] = "0", str(Decimal(rb[0]).normalize())
        assert ra == rb
    names = [r[0] for r in _tshark_fields(out, *fields)]
    assert names == ["eth0", "raw0", "eth0", "raw0", "eth0", "be0", "be1"]


def test_pcap_to_pcapng_and_back(tmp_path):
    pl = fp.read(str(DATA / "ns_be.pcap"))
    ng = tmp_path / "x.pcapng"
    fp.write(str(ng), pl)
    rows = _tshark_fields(ng, "frame.time_epoch")
    assert [Decimal(r[0]) for r in rows] == [Decimal(p.time_ns) / 10**9 for p in pl]
    back = tmp_path / "x.pcap"
    fp.write(str(back), fp.read(str(ng)), nanosecond=True, big_endian=True)
    assert [(p.raw, p.time_ns, p.wirelen) for p in fp.read(str(back))] == \
        [(p.raw, p.time_ns, p.wirelen) for p in pl]


def test_rotating_pcapng(tmp_path):
    pl = fp.read(str(REPO_SAMPLE))
    with fp.RotatingWriter(tmp_path / "r.pcapng", linktype=1, rotate_bytes=4000) as w:
        for p in pl:
            w.write(p)
    assert len(w.paths) > 3
    for path in w.paths:
        assert Path(path).stat().st_size <= 4000 or len(fp.read(path)) == 1
        assert fp.read(path).format == "pcapng"
    assert [p.raw for path in w.paths for p in fp.read(path)] == [p.raw for p in pl]


REPO_SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "sample.pcap"


# ---- values that do not fit ----------------------------------------------------------

F = FRAMES[0]


def _pcap(tmp_path, **kw):
    return fp.Writer(str(tmp_path / "v.pcap"), **kw)


@pytest.mark.parametrize("kwargs,match", [
    ({"time_ns": -1}, "before 1970"),
    ({"time": -0.5}, "before 1970"),
    ({"time_ns": (1 << 32) * 10**9}, "after 2106"),
    ({"time_ns": 1 << 64}, "does not fit 64 bits"),
    ({"time": 1e300}, "outside the range"),
    ({"wirelen": 10}, "smaller than the captured length"),
    ({"wirelen": 1 << 32}, "wirelen must be an integer from 0 to 4294967295"),
    ({"wirelen": -1}, "wirelen must be an integer"),
    ({"comment": "x"}, "no comments or flags"),
    ({"flags": 1}, "no comments or flags"),
    ({"interface": 0}, "needs format='pcapng'"),
])
def test_pcap_refuses(tmp_path, kwargs, match):
    with _pcap(tmp_path) as w:
        with pytest.raises(ValueError, match=match):
            w.write(F, **kwargs)
        w.write(F, time_ns=T0)  # the writer is still usable; nothing half-written
    assert [p.raw for p in fp.read(str(tmp_path / "v.pcap"))] == [F]


def test_pcap_refuses_caplen_over_snaplen(tmp_path):
    with _pcap(tmp_path, snaplen=20) as w:
        with pytest.raises(ValueError, match="exceeds the snaplen 20"):
            w.write(F)


@pytest.mark.parametrize("kwargs,match", [
    ({"linktype": 65536}, "linktype must be from 0 to 65535"),
    ({"linktype": -1}, "linktype must be"),
    ({"snaplen": 1 << 32}, "snaplen must be an integer"),
    ({"format": "pcapx"}, "format must be 'pcap' or 'pcapng'"),
    ({"header": b"\0" * 24}, "pcap magic"),
    ({"header": b"\0" * 10}, "24-byte pcap file header"),
    ({"interfaces": [{"linktype": 1}]}, "interfaces= needs format='pcapng'"),
])
def test_pcap_open_refuses(tmp_path, kwargs, match):
    (tmp_path / "v.pcap").write_bytes(b"untouched")
    with pytest.raises(ValueError, match=match):
        _pcap(tmp_path, **kwargs)
    assert (tmp_path / "v.pcap").read_bytes() == b"untouched"


def _ng(tmp_path, **kw):
    return fp.Writer(str(tmp_path / "v.pcapng"), **kw)


@pytest.mark.parametrize("kwargs,match", [
    ({"interface": 3}, "interface 3 does not exist"),
    ({"interface": 1 << 32}, "interface must be an integer"),
    ({"time_ns": 999_999_999}, "before the interface's epoch"),
    ({"comment": "x" * 65536}, "at most 65535"),
    ({"flags": 1 << 32}, "flags must be an integer"),
    ({"wirelen": 3}, "smaller than the captured length"),
])
def test_pcapng_refuses(tmp_path, kwargs, match):
    with _ng(tmp_path) as w:
        w.add_interface(1, tsoffset=1)
        with pytest.raises(ValueError, match=match):
            w.write(F, **{"time_ns": T0, **kwargs})
        w.write(F, time_ns=T0)
    assert [p.raw for p in fp.read(str(tmp_path / "v.pcapng"))] == [F]


def test_pcapng_refuses_interfaces_and_headers(tmp_path):
    with _ng(tmp_path) as w:
        with pytest.raises(ValueError, match="tsresol must be a power of 10 or of 2"):
            w.add_interface(1, tsresol=3)
        with pytest.raises(ValueError, match="linktype must be from 0 to 65535"):
            w.add_interface(70000)
        with pytest.raises(ValueError, match="unknown interface key"):
            w.add_interface(1, speed=10)
        assert w.add_interface(1, snaplen=20) == 0
        with pytest.raises(ValueError, match="exceeds the snaplen 20"):
            w.write(F)
        raw = fp.read(str(DATA / "raw.pcap"))[0]
        with pytest.raises(ValueError, match="packet has link type 101 but interface 0 has 1"):
            w.write(raw, interface=0)
        with pytest.raises(ValueError, match="does not fit 64 bits"):
            w.add_interface(1, tsresol=2**40)
            w.write(F, interface=1, time_ns=(1 << 63) - 1)
    with pytest.raises(ValueError, match="section header"):
        _ng(tmp_path, header=b"\0" * 28)
    pl = fp.read(str(DATA / "two_if.pcapng"))
    with pytest.raises(ValueError, match="header declares 2 interfaces"):
        _ng(tmp_path, header=pl.file_header)
    with pytest.raises(ValueError, match="second section header"):
        _ng(tmp_path, header=pl.file_header * 2, interfaces=pl.interfaces)


def test_pcap_from_several_linktypes_says_to_use_pcapng(tmp_path):
    with pytest.raises(ValueError, match="use format='pcapng'"):
        fp.write(str(tmp_path / "x.pcap"), fp.read(str(DATA / "two_if.pcapng")))
    assert fp.write(str(tmp_path / "x.pcap"), fp.read(str(DATA / "two_if.pcapng")), format="pcapng") == 7
    assert fp.read(str(tmp_path / "x.pcap")).format == "pcapng"


def test_writer_stub_matches_runtime(tmp_path):
    from test_stubs import stub_attrs

    with fp.Writer(str(tmp_path / "s.pcapng")) as w:
        missing = [a for a in stub_attrs("Writer") if not hasattr(w, a)]
    assert not missing
    pl = fp.read(str(DATA / "two_if.pcapng"))
    assert all(hasattr(pl, a) for a in ("format", "interfaces", "file_header"))
    assert hasattr(pl[0], "comment")


def test_write_all_and_iterables(tmp_path):
    pl = fp.read(str(DATA / "two_if.pcapng"))
    with fp.Writer(str(tmp_path / "a.pcapng"), header=pl.file_header, interfaces=pl.interfaces) as w:
        assert w.write_all(pl) == 7 and w.write_all(pl[:2]) == 2 and w.packets_written == 9
    with pytest.raises(ValueError, match="packet 1 has link type 101"):
        with fp.Writer(str(tmp_path / "b.pcap")) as w:
            w.write_all(pl)
    assert not (tmp_path / "b.pcap").exists() or len(fp.read(str(tmp_path / "b.pcap"))) <= 1
    n = fp.write(str(tmp_path / "c.pcapng"), fp.open(str(DATA / "two_if.pcapng")))  # a Reader
    assert n == 7 and [p.raw for p in fp.read(str(tmp_path / "c.pcapng"))] == [p.raw for p in pl]


def test_a_writer_used_by_two_threads_says_so(tmp_path):
    """While one thread writes to the file with the GIL released, another thread's call
    raises RuntimeError instead of racing on the buffer (a stopped FIFO reader holds the
    first thread inside write(2))."""
    import signal
    import threading
    import time

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cat = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL, env=TOOL_ENV)
    w = fp.Writer(str(fifo), snaplen=0)
    os.kill(cat.pid, signal.SIGSTOP)
    big = bytes(4 << 20)   # more than the 1 MiB buffer and the pipe: write(2) blocks
    t = threading.Thread(target=w.write, args=(big,), kwargs={"time_ns": T0})
    t.start()
    deadline = time.monotonic() + 30
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            w.record_size(b"x")   # never releases the GIL itself
        except RuntimeError as exc:
            refused = "in use by another thread" in str(exc)
    os.kill(cat.pid, signal.SIGCONT)
    t.join(30)
    w.close()
    cat.wait(30)
    assert refused and not t.is_alive()
