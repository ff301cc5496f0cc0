"""The shared dissection feed of workers=N (csrc/py/engine_feed.c, fastpkt.parallel._feed):
one mapped capture cut into record-aligned windows, each read and dissected by one worker,
consumed by every shard table in input order. Windows are forced down to 4 KiB here, so
their edges fall inside flows, TCP streams, ClientHellos spread over segments, fragmented
datagrams, tunnels and idle/close expiries; every run must give what one engine gives
(test_parallel.check_all: rows, order, ids, counters, streams, hellos, HTTP), and what the
traffic was built with (gen_pcap's truth file, the crafted SNIs and datagrams). Where the
feed cannot apply, or a window is not proven, the run falls back and still agrees."""
from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import pytest

import fastpkt as fp
from fastpkt import parallel
from test_parallel import FALLBACK, check_all, fixtures, generated, shuffled_hello_conns  # noqa: F401
from test_source_chunks import ETH_IP_UDP, fake_pcap_records, pcap_file

WINDOW = 4096


@pytest.fixture
def feeds(monkeypatch):
    """Every _Feed the runs make (None where the feed did not apply), in 4 KiB windows."""
    monkeypatch.setattr(parallel, "WINDOW_BYTES", WINDOW)
    made: list = []
    real = parallel._feed

    def spy(readers, n, bidirectional, open_readers):
        f = real(readers, n, bidirectional, open_readers)
        made.append(f)
        return f

    monkeypatch.setattr(parallel, "_feed", spy)
    return made


def proven(made: list) -> int:
    return sum(f is not None and f.failed == 0 for f in made)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_every_capture_in_tiny_windows(path, feeds):
    check_all(str(path), expect_merge=path.name not in FALLBACK)
    assert all(f is None or f.failed in (0, 1) for f in feeds)  # never cancelled: no worker stopped early


def test_the_fixtures_are_really_fed(feeds):
    fed = 0
    for p in fixtures():
        feeds.clear()
        try:
            fp.flows(str(p), workers=2).to_pandas()
        except fp.Error:
            continue
        fed += proven(feeds)
    assert fed >= 5


def test_generated_capture_in_tiny_windows(generated, feeds):  # noqa: F811
    import json

    truth = json.loads(Path(str(generated) + ".truth.json").read_text())
    df = fp.flows(str(generated), workers=3).to_pandas()
    assert feeds[-1].windows > 1000 and feeds[-1].failed == 0
    counts = df["protocol_name"].value_counts()
    assert counts["TCP"] == truth["tcp_flows"] and counts["UDP"] == truth["udp_flows"]
    assert sorted(h.sni for h in fp.client_hellos(str(generated), workers=2)) == sorted(truth["snis"])
    check_all(str(generated))
    assert proven(feeds) == len(feeds)
    # idle, active and close expiries decided while the windows around them are elsewhere
    for kw in ({"idle_timeout": 0.2}, {"idle_timeout": 1.0, "active_timeout": 2.0}, {"bidirectional": False}):
        one = fp.flows(str(generated), workers=1, **kw)
        many = fp.flows(str(generated), workers=3, **kw)
        assert many.to_pandas().equals(one.to_pandas()), kw
        assert "workers" in many.stats and many.stats["flows_expired"] == one.stats["flows_expired"]
    assert proven(feeds) == len(feeds)


def test_hellos_over_segments_across_windows(feeds):
    from test_stream_reassembly import pcap

    data = pcap(shuffled_hello_conns(12, seed=5))
    assert len(data) > 20 * WINDOW
    hellos = list(fp.client_hellos(data, workers=3))
    assert sorted(h.sni for h in hellos) == sorted("c%d.interleaved.example" % i for i in range(12))
    check_all(data, workers=(2, 3, 5))
    assert feeds and proven(feeds) == len(feeds)


def test_fragments_and_tunnels_across_windows(tmp_path, feeds):
    """UDP datagrams in 3 fragments and TCP connections inside VXLAN (one VNI each),
    interleaved, so windows cut datagrams and connections: reassembly and tunnel keys are
    the single engine's, and the counts are what was built."""
    scapy = pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, TCP, UDP, fragment
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    pkts = []
    t = 1_700_000_000.0
    for i in range(60):
        dgram = Ether() / IP(src="10.1.0.%d" % (i + 1), dst="10.2.0.1", id=1000 + i) / \
            UDP(sport=5000 + i, dport=53) / (bytes([i]) * 2500)
        for frag in fragment(dgram[IP], fragsize=1000):
            pkts.append(Ether() / frag)
        c, sv = IP(src="192.168.0.1", dst="192.168.0.2"), IP(src="192.168.0.2", dst="192.168.0.1")
        conn = [c / TCP(sport=40000, dport=80, flags="S", seq=0),
                sv / TCP(sport=80, dport=40000, flags="SA", seq=0, ack=1),
                c / TCP(sport=40000, dport=80, flags="A", seq=1, ack=1),
                c / TCP(sport=40000, dport=80, flags="PA", seq=1, ack=1) / (b"x" * 100),
                c / TCP(sport=40000, dport=80, flags="FA", seq=101, ack=1),
                sv / TCP(sport=80, dport=40000, flags="FA", seq=1, ack=102),
                c / TCP(sport=40000, dport=80, flags="A", seq=102, ack=2)]
        for seg in conn:
            pkts.append(Ether() / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=4789, dport=4789) /
                        VXLAN(vni=i + 1) / Ether() / seg)
    for k, p in enumerate(pkts):
        p.time = t + k * 0.001
    path = tmp_path / "frag_tunnel.pcap"
    scapy.wrpcap(str(path), pkts)
    assert path.stat().st_size > 30 * WINDOW
    fl = fp.flows(str(path), workers=2)
    df = fl.to_pandas()
    # scapy's default addresses make a record header shifted by 4 bytes look like another
    # chain of records: some cuts are wrong and read again
    assert feeds[-1].failed == 0 and fl.stats["fed"]
    assert fl.stats["defrag"]["reassembled"] == 60
    assert int((df["tunnel_id"] > 0).sum()) == 60
    assert sorted(df.loc[df["tunnel_id"] > 0, "tunnel_id"]) == list(range(1, 61))
    assert int((df["protocol_name"] == "UDP").sum()) >= 60
    check_all(str(path))
    assert proven(feeds) == len(feeds)


def test_wrong_cuts_are_read_again(tmp_path, feeds):
    """Payloads that are runs of valid-looking pcap records: cuts land inside them, and
    those windows are read again from where the window before really stopped."""
    t0 = 1_700_000_000_000_000
    pkts = [(t0 + i * 1000, ETH_IP_UDP + fake_pcap_records(12, t0 + i * 1000)) for i in range(400)]
    path = tmp_path / "hostile.pcap"
    path.write_bytes(pcap_file(pkts))
    one = fp.flows(str(path), workers=1)
    two = fp.flows(str(path), workers=2)
    assert two.to_pandas().equals(one.to_pandas())
    assert "workers" in two.stats and two.stats["fed"] and two.stats["packets"] == 400
    assert feeds[-1].failed == 0 and feeds[-1].redone > 0
    check_all(str(path))


def test_where_the_feed_does_not_apply(generated, tmp_path, feeds):  # noqa: F811
    """A display filter reading frame.number (it counts from the start), on_error='skip',
    compressed files and several files: every worker reads the input, as before."""
    src = str(generated)
    gz = tmp_path / "g.pcap.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g)
    half = tmp_path / "h.pcap"
    fp.write(str(half), fp.read(src)[:5000])
    for source, kw in ((src, {"display_filter": "frame.number > 9 && (tcp.port == 443 || udp)"}), (src, {"on_error": "skip"}),
                       (str(gz), {}), ([src, str(half)], {})):
        feeds.clear()
        one = fp.flows(source, workers=1, **kw).to_pandas()
        assert fp.flows(source, workers=2, **kw).to_pandas().equals(one)
        assert feeds == [None] or feeds == []


def test_budget_stop_ends_every_worker(generated, feeds):  # noqa: F811
    """A worker that stops (here: evictions at max_flows) cancels the feed, so no other
    worker waits for its windows, and one engine decides what leaves."""
    single = fp.flows(str(generated), workers=1, max_flows=150)
    fl = fp.flows(str(generated), workers=3, max_flows=150)
    assert fl.to_pandas().equals(single.to_pandas())
    assert "workers" not in fl.stats and fl.stats["evicted"] == single.stats["evicted"] > 0
    assert feeds[-1] is not None and feeds[-1].failed in (0, 3)


def test_cut_capture_raises_like_one_engine(generated, tmp_path, feeds):  # noqa: F811
    data = Path(generated).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    with pytest.raises(fp.TruncatedError):
        fp.flows(str(cut), workers=1).to_pandas()
    with pytest.raises(fp.TruncatedError):
        fp.flows(str(cut), workers=2).to_pandas()
    one = fp.flows(str(cut), workers=1, on_error="stop").to_pandas()
    assert fp.flows(str(cut), workers=2, on_error="stop").to_pandas().equals(one)
    assert feeds and all(f is None or f.failed == 1 for f in feeds)


def test_pcapng_with_interfaces_declared_mid_file(tmp_path, feeds):
    from test_source_chunks import pcapng_file

    pkts = [ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % 50, 2000, 8, 0) for i in range(2000)]
    for every in (0, 300):
        path = tmp_path / ("m%d.pcapng" % every)
        path.write_bytes(pcapng_file(pkts, every))
        feeds.clear()
        one = fp.flows(str(path), workers=1).to_pandas()
        assert len(one) == 50
        assert fp.flows(str(path), workers=2).to_pandas().equals(one)
        assert feeds[-1].failed == (1 if every else 0)


def test_feed_argument_checks(generated):  # noqa: F811
    from fastpkt._fastpkt import _Feed

    src = str(generated)
    readers = tuple(fp.Reader(src) for _ in range(2))
    with pytest.raises(ValueError, match="display filter"):
        _Feed(readers, fp.Reader(src, display_filter="tcp"), WINDOW)
    with pytest.raises(ValueError, match="display filter"):
        _Feed(readers, fp.Reader(src, on_error="skip"), WINDOW)
    with open(src, "rb") as f, pytest.raises(ValueError, match="mapped"):
        _Feed(readers, fp.Reader(f), WINDOW)
    feed = _Feed(readers, fp.Reader(src), WINDOW)
    with pytest.raises(ValueError, match="feed's Reader i"):
        fp.Flows([readers[1]], _shard=(0, 2, True, feed))
    with pytest.raises(ValueError, match="bidirectional"):
        fp.Flows([readers[0]], _shard=(0, 2, True, feed), bidirectional=False)
    with pytest.raises(TypeError, match="_Feed"):
        fp.Flows([readers[0]], _shard=(0, 2, True, "feed"))
