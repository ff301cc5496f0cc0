"""fastpkt.scapy against real Scapy: the same calls on the same inputs, compared.

No root needed. Cut captures are made by truncating the examples' sample and the pcapng
fixture at record boundaries, inside record headers and inside record data; both
``rdpcap``s and both ``sniff(offline=)``s read them. The default live interface is compared
with Scapy's ``conf.iface`` (the capture itself is replaced by a recorder: opening it needs
root and traffic, which tests/test_live_netns.py covers).
"""
from __future__ import annotations

import struct
import sys
import warnings
from pathlib import Path

import pytest

import fastpkt as fp
import fastpkt.scapy as fs
from _fphelpers import DATA, corpus_dir

scapy_all = pytest.importorskip("scapy.all")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
FP_SNIFF = sys.modules["fastpkt.sniff"]   # the module (fastpkt.sniff is the function)


def _record_offsets(data: bytes) -> list[int]:
    """Offsets of a classic little-endian pcap's records, from its own headers."""
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    offsets, off = [], 24
    while off + 16 <= len(data):
        offsets.append(off)
        (caplen,) = struct.unpack_from("<I", data, off + 8)
        off += 16 + caplen
    return offsets


def _same(ours, theirs, times: bool = True) -> None:
    """Same packets in the same order, at the same times (pcapng: Scapy applies neither
    if_tsoffset nor a time to Simple Packet Blocks; pass times=False)."""
    assert [bytes(p) for p in ours] == [bytes(p) for p in theirs]
    if times:
        for a, b in zip(ours, theirs):
            assert abs(a.time - float(b.time)) < 1e-6


def _ours(call, *args, **kw):
    """(result, cut warnings) of a fastpkt.scapy call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(*args, **kw)
    return result, [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.fixture(scope="module")
def sample() -> bytes:
    return SAMPLE.read_bytes()


def _cut(tmp_path: Path, data: bytes, end: int, suffix: str = ".pcap") -> str:
    path = tmp_path / ("cut_%d%s" % (end, suffix))
    path.write_bytes(data[:end])
    return str(path)


def test_cut_inside_record_header(tmp_path, sample):
    """Scapy stops at a header the file ends inside, silently; we stop there and warn."""
    offsets = _record_offsets(sample)
    for i in range(1, len(offsets), 9):
        for into in (0, 1, 8, 15):
            path = _cut(tmp_path, sample, offsets[i] + into)
            theirs = scapy_all.rdpcap(path)
            ours, warned = _ours(fs.rdpcap, path)
            assert len(ours) == len(theirs) == i
            _same(ours, theirs)
            assert bool(warned) == (into > 0)
            if into:
                assert "kept the %d packets" % i in str(warned[0].message)


def test_cut_inside_record_data(tmp_path, sample):
    """Scapy also returns the cut record's bytes as a last, short packet (a README
    difference); every complete packet is the same."""
    offsets = _record_offsets(sample)
    for i in range(0, len(offsets), 11):
        path = _cut(tmp_path, sample, offsets[i] + 16 + 3)
        theirs = scapy_all.rdpcap(path)
        ours, warned = _ours(fs.rdpcap, path)
        assert len(ours) == i and len(theirs) == i + 1
        _same(ours, theirs[:-1])
        assert bytes(theirs[-1]) == sample[offsets[i] + 16:offsets[i] + 19]
        assert len(warned) == 1


def test_cut_with_count(tmp_path, sample):
    offsets = _record_offsets(sample)
    path = _cut(tmp_path, sample, offsets[40] + 5)
    for count in (1, 39, 40, 41, 100, -1):
        theirs = scapy_all.rdpcap(path, count=count)
        ours, warned = _ours(fs.rdpcap, path, count=count)
        _same(ours, theirs)
        assert bool(warned) == (count < 0 or count > 40)


def test_cut_pcapng(tmp_path):
    data = (DATA / "two_if.pcapng").read_bytes()
    compared = 0
    for end in range(len(data), 60, -13):
        path = _cut(tmp_path, data, end, ".pcapng")
        try:
            theirs = scapy_all.rdpcap(path)
        except scapy_all.Scapy_Exception:
            continue   # Scapy gives up on some cuts inside a block; we keep what came before
        ours, _ = _ours(fs.rdpcap, path)
        assert [bytes(p) for p in ours] == [bytes(p) for p in theirs]
        compared += 1
    assert compared > 50


def test_on_error(tmp_path, sample):
    """The error message tells users to pass on_error=; the facade takes it."""
    offsets = _record_offsets(sample)
    path = _cut(tmp_path, sample, offsets[30] + 20)
    with pytest.raises(fp.TruncatedError):
        fs.rdpcap(path, on_error="raise")
    with pytest.raises(fp.TruncatedError):
        fs.sniff(offline=path, on_error="raise")
    with pytest.warns(RuntimeWarning, match="kept the 30 packets"):
        assert len(fs.rdpcap(path, on_error="skip")) == 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(fs.rdpcap(SAMPLE, on_error="raise")) == len(scapy_all.rdpcap(str(SAMPLE)))


def test_sniff_offline_cut(tmp_path, sample, capsys):
    offsets = _record_offsets(sample)
    path = _cut(tmp_path, sample, offsets[50] + 7)
    tcp = lambda p: p.haslayer(scapy_all.TCP) if hasattr(p, "lastlayer") else p.tcp is not None  # noqa: E731
    for kw in ({}, {"count": 10}, {"filter": "tcp"}, {"filter": "udp", "count": 3},
               {"lfilter": tcp}, {"store": False}, {"prn": lambda p: len(p)}):
        theirs = scapy_all.sniff(offline=path, quiet=True, **kw)
        their_out = capsys.readouterr().out
        ours, warned = _ours(fs.sniff, offline=path, **kw)
        assert capsys.readouterr().out == their_out
        _same(ours, theirs)
        assert bool(warned) == (kw.get("count") is None)
    sniffer = fs.AsyncSniffer(offline=path, filter="tcp")
    theirs = scapy_all.sniff(offline=path, filter="tcp", quiet=True)
    ours, warned = _ours(lambda: (sniffer.start(), sniffer.join())[1])
    _same(ours, theirs)
    assert len(warned) == 1 and "kept the %d packets" % len(theirs) in str(warned[0].message)


class _Recorder:
    """Stands in for fastpkt.Capture: records where it was asked to capture."""

    opened: list = []

    def __init__(self, iface, **_kw):
        _Recorder.opened.append(iface)
        raise fp.CaptureError("recorded")


def test_sniff_default_interface(monkeypatch):
    """Scapy sniffs on conf.iface when no iface is given (fastpkt.sniff: all interfaces)."""
    assert fs.conf.iface == str(scapy_all.conf.iface)
    monkeypatch.setattr(FP_SNIFF, "Capture", _Recorder)
    _Recorder.opened.clear()
    for call in (lambda: fs.sniff(count=1), lambda: fs.AsyncSniffer(count=1).start(),
                 lambda: fs.sniff(iface="lo", count=1)):
        with pytest.raises(fp.CaptureError):
            call()
    assert _Recorder.opened == [fs.conf.iface, fs.conf.iface, "lo"]
    fs.conf.iface = "lo"
    try:
        with pytest.raises(fp.CaptureError):
            fs.sniff(count=1)
    finally:
        fs.conf.iface = None   # back to the default route's interface
    assert _Recorder.opened[-1] == "lo"


# ------------------------------------------------------------------ PacketList
LISTS = sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng")) + [SAMPLE]
# Captures where fastpkt decodes layers Scapy leaves as Raw (README, "Coming from Scapy"):
# the per-layer counts, pl[Layer] and session names differ there by design.
DECODES_MORE = {
    "null.pcap": "BSD loopback's AF_INET6 values 24, 28 and 30 (Scapy knows Linux's 10)",
    "qinq.pcap": "VLAN tags with the old 802.1ad ethertype 0x9100",
}


def _printed(capsys, call) -> str:
    assert call() is None   # Scapy's summary()/nsummary()/show() print and return None
    return capsys.readouterr().out


@pytest.mark.parametrize("path", LISTS, ids=[p.name for p in LISTS])
def test_packetlist_methods(path, capsys):
    ours, theirs = fs.rdpcap(path), scapy_all.rdpcap(str(path))
    times = path.suffix == ".pcap"
    if path.name not in DECODES_MORE:
        assert repr(ours) == repr(theirs)
        for cls in ("TCP", "UDP", "ICMP", "ARP", "IP", "IPv6", "DNS"):
            mine, ref = ours[getattr(fs, cls)], theirs[getattr(scapy_all, cls)]
            assert mine.listname == ref.listname
            _same(mine, ref, times)
    _same(ours[2:7], theirs[2:7], times)
    assert ours[2:7].listname == theirs[2:7].listname
    even = lambda p: len(bytes(p)) % 2 == 0  # noqa: E731  (the same code for both packet types)
    assert ours.filter(even).listname == theirs.filter(even).listname
    _same(ours.filter(even), theirs.filter(even), times)
    both = ours + ours[:3]
    assert len(both) == len(ours) + min(3, len(ours)) and both.listname == (theirs + theirs[:3]).listname
    head = lambda p: bytes(p)[:6].hex()  # noqa: E731
    for method in ("summary", "nsummary", "show"):
        mine = _printed(capsys, lambda: getattr(ours, method)(prn=head, lfilter=even))
        assert mine == _printed(capsys, lambda: getattr(theirs, method)(prn=head, lfilter=even))
    # fastpkt's own API stays reachable through the list
    assert ours.linktype == fp.read(path).linktype and len(ours.to_pandas()) == len(ours)


@pytest.mark.parametrize("path", LISTS, ids=[p.name for p in LISTS])
def test_packetlist_sessions(path):
    ours, theirs = fs.rdpcap(path).sessions(), scapy_all.rdpcap(str(path)).sessions()
    if path.name not in DECODES_MORE:
        assert list(ours) == list(theirs)
        for key in ours:
            _same(ours[key], theirs[key], path.suffix == ".pcap")
    by_len = lambda p: "len %d" % len(bytes(p))  # noqa: E731
    assert {k: len(v) for k, v in fs.rdpcap(path).sessions(by_len).items()} == \
        {k: len(v) for k, v in scapy_all.rdpcap(str(path)).sessions(by_len).items()}


def test_sniff_returns_packetlist(tmp_path, sample):
    ours, theirs = fs.sniff(offline=str(SAMPLE)), scapy_all.sniff(offline=str(SAMPLE), quiet=True)
    assert repr(ours) == repr(theirs)
    sniffer = fs.AsyncSniffer(offline=str(SAMPLE))
    sniffer.start()
    assert repr(sniffer.join()) == repr(theirs) and repr(sniffer.results) == repr(theirs)
    path = tmp_path / "out.pcap"
    fs.wrpcap(str(path), ours[fs.TCP])
    _same(scapy_all.rdpcap(str(path)), theirs[scapy_all.TCP])


# Corpus captures whose PacketList repr or session names differ from Scapy's, and why
# (README, "Coming from Scapy").
CORPUS_DIFFERS = {
    "derived-zeek-retransmit-fast009-cut.pcap": "cut inside a record: Scapy keeps its bytes",
    "libpcap-pcap-invalid-version-1.pcap": "header claims pcap 1.4: we refuse a corrupt header",
    "ndpi-fuzz-2021-10-13.pcap": "a corrupt record header (524,501 bytes): we stop, Scapy reads on",
    "pcapngtest-be-test202.pcapng": "records longer than the interface's snaplen: Scapy cuts them",
    "pcapngtest-le-test202.pcapng": "records longer than the interface's snaplen: Scapy cuts them",
    "pcapngtest-le-test010.pcapng": "Scapy reads these frames as ethertype 0x9000 (we: IPv4)",
    "ppp-grepackets.pcap": "GRE payloads: Scapy decodes inside the tunnel, we stop at GRE",
    "ppp-null_loopback.pcap": "BSD loopback AF_INET6 values: we decode IPv6",
    "tcpdump-quic_handshake.pcap": "BSD loopback AF_INET6 values: we decode IPv6",
    "tcpdump-quic_retry.pcap": "BSD loopback AF_INET6 values: we decode IPv6",
    "tcpdump-udp-length-heapoverflow.pcap": "a malformed frame Scapy leaves as Raw (we decode Ether/IP)",
    "tcpdump-various_gre.pcap": "GRE payloads: Scapy decodes inside the tunnel, we stop at GRE",
}


def test_corpus_packetlist(corpus_file):
    """repr counts and sessions() of every corpus capture against Scapy's."""
    path = corpus_dir() / corpus_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # cut captures: tested above
        try:
            theirs = scapy_all.rdpcap(str(path))
        except Exception as exc:  # noqa: BLE001  (Scapy's own reader errors)
            pytest.skip("Scapy cannot read it: %r" % (exc,))
        try:
            ours = fs.rdpcap(path)
        except fp.FormatError:
            assert corpus_file in CORPUS_DIFFERS
            return
    sessions, their_sessions = ours.sessions(), theirs.sessions()
    if corpus_file in CORPUS_DIFFERS:
        return
    assert repr(ours) == repr(theirs)
    assert list(sessions) == list(their_sessions)
    for key in sessions:
        assert [bytes(p) for p in sessions[key]] == [bytes(p) for p in their_sessions[key]]
