"""fp.sniff(offline=...) against Scapy's own sniff(offline=...), and fp.RotatingWriter.

No root needed. Both sniffers read the same captures (every tests/data fixture and the
examples' sample) and the results are compared packet by packet (bytes, times) for count,
lfilter, stop_filter, prn (printed return values), store=False, timeout and BPF filters
(Scapy filters files by piping them through tcpdump; fastpkt runs the filter in C).
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA, have

scapy_all = pytest.importorskip("scapy.all")
scapy_sniff = scapy_all.sniff

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
CAPTURES = sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng")) + [SAMPLE]
IDS = [p.name for p in CAPTURES]


def _raw(p) -> bytes:
    return bytes(p)


def _same(ours, theirs, times: bool = True) -> None:
    """Same packets, same order, same times (pcapng: Scapy stamps a Simple Packet Block,
    which has no time, with the wall clock; pass times=False)."""
    assert [_raw(p) for p in ours] == [_raw(p) for p in theirs]
    if times:
        for a, b in zip(ours, theirs):
            assert abs(a.time - float(b.time)) < 1e-6


def _both(path: Path, **kw):
    ours = fp.sniff(offline=str(path), **kw)
    theirs = scapy_sniff(offline=str(path), quiet=True, **kw)
    return ours, theirs, path.suffix != ".pcapng"


# ------------------------------------------------------------------ against Scapy
@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_everything(path):
    ours, theirs, times = _both(path)
    assert isinstance(ours, fp.SniffResult) and len(ours) == len(fp.read(str(path)))
    _same(ours, theirs, times)


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_count_lfilter_stop_filter(path):
    n = len(fp.read(str(path)))
    for count in (1, 3, n, n + 5):
        _same(*_both(path, count=count))
    even = lambda p: len(bytes(p)) % 2 == 0  # noqa: E731  (works on both packet types)
    for count in (0, 2):
        ours, theirs, times = _both(path, lfilter=even, count=count)
        _same(ours, theirs, times)
        if count:
            assert len(ours) <= count
    middle = bytes(fp.read(str(path))[n // 2])
    ours, theirs, times = _both(path, stop_filter=lambda p: bytes(p) == middle)
    _same(ours, theirs, times)
    assert bytes(ours[-1]) == middle
    # stop_filter is checked on packets that passed lfilter, after count
    ours, theirs, times = _both(path, lfilter=lambda p: bytes(p) != middle,
                                stop_filter=lambda p: bytes(p) == middle, count=n)
    _same(ours, theirs, times)


@pytest.mark.parametrize("path", CAPTURES, ids=IDS)
def test_prn_and_store_false(path, capsys):
    calls = {"ours": [], "theirs": []}

    def prn(side):
        def f(p):
            calls[side].append(bytes(p))
            return "len=%d" % len(bytes(p)) if len(bytes(p)) % 3 else None  # None is not printed
        return f

    ours = fp.sniff(offline=str(path), prn=prn("ours"), store=False, count=4)
    printed_ours = capsys.readouterr().out
    theirs = scapy_sniff(offline=str(path), prn=prn("theirs"), store=False, count=4, quiet=True)
    printed_theirs = capsys.readouterr().out
    assert len(ours) == len(theirs) == 0
    assert calls["ours"] == calls["theirs"] and calls["ours"]
    assert printed_ours == printed_theirs


FILTERS = [("dns.pcap", "udp port 53"), ("http.pcap", "tcp"), ("http.pcap", "tcp[tcpflags] & tcp-push != 0"),
           ("arp.pcap", "arp"), ("icmp.pcap", "icmp"), ("icmp6.pcap", "icmp6"), ("qinq.pcap", "vlan"),
           ("sll.pcap", "tcp or udp"), ("null.pcap", "ip"), ("raw.pcap", "udp"), ("be_usec.pcap", "tcp"),
           ("sample.pcap", "udp port 53"), ("sample.pcap", "tcp port 443"), ("sample.pcap", "arp"),
           ("sample.pcap", "host 127.0.0.66"), ("sample.pcap", "ip6")]


@pytest.mark.skipif(not have("tcpdump"), reason="Scapy filters capture files with tcpdump")
@pytest.mark.parametrize("name,flt", FILTERS, ids=["%s:%s" % f for f in FILTERS])
def test_bpf_filter(name, flt):
    path = SAMPLE if name == "sample.pcap" else DATA / name
    ours, theirs, _ = _both(path, filter=flt)
    _same(ours, theirs)
    assert len(ours) == len(fp.read(str(path), filter=flt)) > 0
    # filter, then lfilter and count on what passed
    ours, theirs, _ = _both(path, filter=flt, lfilter=lambda p: len(bytes(p)) > 60, count=2)
    _same(ours, theirs)


def test_timeout_zero_reads_nothing():
    ours, theirs, _ = _both(SAMPLE, timeout=0)
    assert len(ours) == len(theirs) == 0
    assert len(fp.sniff(offline=str(SAMPLE), timeout=60)) == 179


def test_list_of_files_merged_in_time_order():
    files = [str(DATA / "dns.pcap"), str(SAMPLE), str(DATA / "http.pcap")]
    ours = fp.sniff(offline=files)
    theirs = scapy_sniff(offline=files, quiet=True)
    assert sorted(map(bytes, ours)) == sorted(map(bytes, theirs))  # Scapy alternates between files
    times = [p.time_ns for p in ours]
    assert times == sorted(times)
    ours = fp.sniff(offline=files, filter="udp port 53", count=5)
    assert len(ours) == 5 and all(p.udp is not None for p in ours)


def test_file_objects_and_packet_lists():
    with open(SAMPLE, "rb") as f:
        _same(fp.sniff(offline=f, filter="tcp"), fp.read(str(SAMPLE), filter="tcp"))
    _same(fp.sniff(offline=io.BytesIO(SAMPLE.read_bytes()), count=7), fp.read(str(SAMPLE), count=7))
    plist = fp.read(str(SAMPLE))
    _same(fp.sniff(offline=plist, lfilter=lambda p: p.arp is not None), fp.read(str(SAMPLE), filter="arp"))
    # a BPF filter on a list of packets runs in C over an in-memory copy
    _same(fp.sniff(offline=list(plist), filter="udp port 53"), fp.read(str(SAMPLE), filter="udp port 53"))
    # an open Reader
    with fp.open(str(SAMPLE)) as r:
        assert len(fp.sniff(offline=r, count=3)) == 3
        assert len(fp.sniff(offline=r)) == 176  # the Reader goes on where it was


def test_scapy_facade_delegates():
    from fastpkt import scapy as facade

    seen = []
    r = facade.sniff(offline=str(SAMPLE), filter="tcp port 80", prn=seen.append, count=4)
    assert isinstance(r, facade.PacketList) and isinstance(r.res, fp.SniffResult)  # Scapy: a PacketList
    assert len(r) == 4 and len(seen) == 4
    _same(r, scapy_sniff(offline=str(SAMPLE), filter="tcp port 80", count=4, quiet=True))
    assert len(facade.sniff(offline=facade.rdpcap(str(SAMPLE)), count=2)) == 2


def test_sniff_result(tmp_path):
    r = fp.sniff(offline=str(SAMPLE))
    plist = fp.read(str(SAMPLE))
    assert r.summary() == plist.summary()
    assert repr(r).startswith("<Sniffed: TCP:") and r.stats is None and r.linktype == 1
    assert isinstance(r[2:5], fp.SniffResult) and len(r[2:5]) == 3
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(r.to_pandas(), plist.to_pandas())
    pd.testing.assert_frame_equal(r[10:20].to_pandas(), plist[10:20].to_pandas().reset_index(drop=True))
    # an empty result still knows its link type and makes an empty frame
    empty = fp.sniff(offline=str(DATA / "sll.pcap"), lfilter=lambda p: False)
    assert len(empty) == 0 and empty.linktype == 113 and len(empty.to_pandas()) == 0
    # different link types: the copy is a pcapng with one interface per link type
    mixed = fp.sniff(offline=[str(DATA / "sll.pcap"), str(DATA / "raw.pcap"), str(DATA / "dns.pcap")])
    pl = mixed.to_packetlist()
    assert [(p.linktype, p.raw, p.time_ns, p.wirelen) for p in pl] == \
        [(p.linktype, p.raw, p.time_ns, p.wirelen) for p in mixed]
    # fp.write takes it
    fp.write(tmp_path / "r.pcap", r[:5], nanosecond=True)
    _same(fp.read(str(tmp_path / "r.pcap")), r[:5])


def test_write_during_offline_sniff(tmp_path):
    """write= gets every packet the BPF filter passed, before lfilter, and rotates."""
    r = fp.sniff(offline=str(SAMPLE), filter="tcp", lfilter=lambda p: False,
                 write=tmp_path / "w.pcap", rotate_bytes=3000)
    assert len(r) == 0
    files = sorted(tmp_path.glob("w-*.pcap"))
    assert len(files) > 3 and all(f.stat().st_size <= 3000 or len(fp.read(str(f))) == 1 for f in files)
    _same([p for f in files for p in fp.read(str(f))], fp.read(str(SAMPLE), filter="tcp"))
    r = fp.sniff(offline=str(SAMPLE), write=tmp_path / "one.pcap", count=10)
    _same(fp.read(str(tmp_path / "one.pcap")), r)


def test_argument_errors():
    with pytest.raises(TypeError, match="unexpected keyword"):
        fp.sniff(offline=str(SAMPLE), bogus=1)
    with pytest.raises(TypeError, match="sessions are not supported"):
        fp.sniff(offline=str(SAMPLE), session=object())
    with pytest.raises(ValueError, match="need write"):
        fp.sniff(offline=str(SAMPLE), rotate_bytes=1000)
    with pytest.raises(ValueError):
        fp.sniff(offline=str(SAMPLE), count=-1)
    with pytest.raises(fp.Error):
        fp.sniff(offline=str(SAMPLE), filter="tcp and and")
    with pytest.raises(OSError):
        fp.sniff(offline="/nonexistent/x.pcap")
    assert len(fp.sniff(offline=str(SAMPLE), quiet=True, count=1)) == 1  # Scapy's quiet= is accepted


def test_async_sniffer_offline():
    t = fp.AsyncSniffer(offline=str(SAMPLE), filter="udp")
    t.start()
    res = t.join(timeout=30)
    assert res is t.results and len(res) == len(fp.read(str(SAMPLE), filter="udp")) and not t.running
    assert t.stop() is res  # after the end, stop() hands back the results
    # stop() while a slow callback runs: the sniff ends after the packet in hand
    import threading

    gate, inside = threading.Event(), threading.Event()

    def slow(p):
        inside.set()
        gate.wait(60)  # failure guard: the test opens the gate

    t = fp.AsyncSniffer(offline=str(SAMPLE), prn=slow)
    t.start()
    assert inside.wait(60)  # failure guards: each wait ends on its event
    assert t.stop(join=False) is None and t.running
    gate.set()
    res = t.join(timeout=60)
    assert len(res) == 1 and not t.running
    with pytest.raises(fp.Error):
        fp.AsyncSniffer(offline=str(SAMPLE), filter="tcp and and").start()
    with pytest.raises(RuntimeError):
        fp.AsyncSniffer(offline=str(SAMPLE)).stop()


# ------------------------------------------------------------------ RotatingWriter
def test_rotating_writer_without_rotation_is_a_writer(tmp_path):
    src = DATA / "le_usec.pcap"
    pl = fp.read(str(src))
    with fp.RotatingWriter(tmp_path / "a.pcap", linktype=pl.linktype, snaplen=pl.snaplen) as w:
        for p in pl:
            w.write(p)
    assert w.paths == [str(tmp_path / "a.pcap")] and w.packets_written == len(pl)
    with fp.Writer(str(tmp_path / "b.pcap"), linktype=pl.linktype, snaplen=pl.snaplen) as w2:
        for p in pl:
            w2.write(p)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_rotating_writer_by_size(tmp_path):
    pl = fp.read(str(SAMPLE))
    limit = 2500
    w = fp.RotatingWriter(str(tmp_path / "cap.pcap"), linktype=1, nanosecond=True, rotate_bytes=limit)
    for p in pl:
        w.write(p)
    w.close()
    w.close()  # idempotent
    names = [Path(p).name for p in w.paths]
    assert names == ["cap-%04d.pcap" % (i + 1) for i in range(len(names))] and len(names) > 10
    for path in w.paths:
        size = Path(path).stat().st_size
        n = len(fp.read(path))
        assert size <= limit or n == 1  # a packet bigger than the limit gets a file of its own
        assert size == 24 + sum(16 + p.caplen for p in fp.read(path))
    back = [p for path in w.paths for p in fp.read(path)]
    assert [(p.raw, p.time_ns, p.wirelen) for p in back] == [(p.raw, p.time_ns, p.wirelen) for p in pl]
    assert back[0].time_ns == pl[0].time_ns  # nanosecond files keep nanoseconds
    with pytest.raises(ValueError):
        w.write(pl[0])


def test_rotating_writer_by_time(tmp_path):
    pl = fp.read(str(SAMPLE))
    with fp.RotatingWriter(tmp_path / "t", linktype=1, rotate_seconds=0.5) as w:
        for p in pl:
            w.write(p)
    assert Path(w.paths[0]).name == "t-0001"  # no extension: the number goes at the end
    spans = []
    for path in w.paths:
        times = [p.time_ns for p in fp.read(path)]
        assert times and times[-1] - times[0] < 500_000_000
        spans.append((times[0], times[-1]))
    # a new file starts only when a packet falls outside the previous one's interval
    for (a0, _), (b0, _) in zip(spans, spans[1:]):
        assert b0 - a0 >= 500_000_000
    assert sum(len(fp.read(p)) for p in w.paths) == len(pl)
    expected_files = 1
    start = pl[0].time_ns
    for p in pl:
        if p.time_ns - start >= 500_000_000:
            expected_files += 1
            start = p.time_ns
    assert len(w.paths) == expected_files


def test_rotating_writer_bytes_and_lazy_linktype(tmp_path):
    w = fp.RotatingWriter(tmp_path / "raw.pcap", linktype=None, rotate_bytes=24 + 2 * (16 + 20))
    assert w.paths == []  # nothing to write yet: the link type comes with the first packet
    sll = fp.read(str(DATA / "sll.pcap"))
    w.write(sll[0])
    for i in range(4):
        w.write(b"\x45" + bytes(19), time_ns=1_700_000_000_000_000_000 + i)
    w.close()
    assert w.linktype == 113 and len(w.paths) == 3 and w.packets_written == 5
    back = [p for path in w.paths for p in fp.read(path)]
    assert all(p.linktype == 113 for p in back) and back[1].raw == b"\x45" + bytes(19)
    assert [p.time_ns // 1000 for p in back[1:]] == [1_700_000_000_000_000] * 4  # microsecond files
    with pytest.raises(ValueError):
        fp.RotatingWriter(tmp_path / "x.pcap", rotate_bytes=10)
    with pytest.raises(ValueError):
        fp.RotatingWriter(tmp_path / "x.pcap", rotate_seconds=0)


def test_capture_bytes_is_a_valid_capture():
    from fastpkt.sniff import capture_bytes

    pl = fp.read(str(DATA / "ns_le.pcap"))
    data = capture_bytes(list(pl))
    assert struct.unpack("<I", data[:4])[0] == 0xA1B23C4D
    back = fp.read(memoryview(data))
    assert [(p.raw, p.time_ns) for p in back] == [(p.raw, p.time_ns) for p in pl]
    assert len(fp.read(memoryview(capture_bytes([], linktype=101)))) == 0
