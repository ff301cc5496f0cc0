"""read_frames(workers=N): threads reading record-aligned byte ranges (fastpkt.parallel.
packet_batches over csrc/source/chunk.c) give the packets, columns and order of the one-thread
read, which the table tests check against tshark and Scapy; on crafted files Scapy's rdpcap is
the reference directly. Hostile payloads, errors under raise and stop, and filters too."""
from __future__ import annotations

import struct

import pytest

import fastpkt as fp
from fastpkt import parallel
from test_parallel import fixtures
from test_source_chunks import ETH_IP_UDP, fake_pcap_records, pcap_file

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")


def frame_rows(path, **kw) -> list[tuple]:
    out: list[tuple] = []
    for df in fp.read_frames(str(path), **kw):
        out += df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)
    return out


def arrow_rows(path, **kw) -> list[dict]:
    out: list[dict] = []
    for b in fp.read_frames(str(path), arrow=True, **kw):
        out += b.to_pylist()
    return out


def readable(path) -> bool:
    try:
        fp.Reader(str(path)).count()
        return True
    except fp.Error:
        return False


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch):
    monkeypatch.setattr(parallel, "RANGE_BYTES", 4096)  # many ranges on small files


@pytest.mark.parametrize("path", [p for p in fixtures() if readable(p)], ids=lambda p: p.name)
def test_ranges_equal_one_thread(path):
    one = frame_rows(path, workers=1)
    for n in (2, 3):
        assert frame_rows(path, workers=n, batch_size=7) == one
    assert arrow_rows(path, workers=2) == arrow_rows(path, workers=1)


def test_bpf_filter_and_batches(tmp_path):
    path = tmp_path / "many.pcap"
    t0 = 1_700_000_000_000_000
    path.write_bytes(pcap_file([(t0 + i, ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % 3, 53, 8, 0))
                                for i in range(3000)]))
    one = frame_rows(path, workers=1, filter="udp port 1001")
    assert len(one) == 1000
    assert frame_rows(path, workers=3, batch_size=100, filter="udp port 1001") == one
    sizes = [len(df) for df in fp.read_frames(str(path), workers=2, batch_size=100)]
    assert sum(sizes) == 3000 and max(sizes) <= 100 and len(sizes) > 30  # batches stop at range edges


def test_hostile_payloads(tmp_path):
    scapy = pytest.importorskip("scapy.utils")
    t0 = 1_700_000_000_000_000
    path = tmp_path / "hostile.pcap"
    path.write_bytes(pcap_file([(t0 + i * 1000, ETH_IP_UDP + fake_pcap_records(30, t0)) for i in range(200)]))
    rows = frame_rows(path, workers=2)
    assert len(rows) == 200 and rows == frame_rows(path, workers=1)
    raw = [bytes(p) for p in scapy.rdpcap(str(path))]
    assert [bytes(p.raw) for p in fp.read(str(path))] == raw


def cut_file(tmp_path):
    t0 = 1_700_000_000_000_000
    data = pcap_file([(t0 + i, ETH_IP_UDP) for i in range(2000)])
    bad = bytearray(data)
    rec = 24 + 1500 * (16 + len(ETH_IP_UDP))
    bad[rec + 8:rec + 12] = struct.pack("<I", 0x7FFFFFFF)  # packet 1500 claims 2 GB
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(bad))
    return path


def test_errors_as_one_thread(tmp_path):
    path = cut_file(tmp_path)
    with pytest.raises(fp.FormatError) as one:
        frame_rows(path, workers=1, batch_size=100)
    with pytest.raises(fp.FormatError) as two:
        frame_rows(path, workers=2, batch_size=100)
    assert str(two.value) == str(one.value) and "record 1500 " in str(one.value)
    stop = frame_rows(path, workers=1, on_error="stop")
    assert len(stop) == 1500 and frame_rows(path, workers=3, on_error="stop") == stop


def test_streams_and_skip_read_on_one_thread(tmp_path):
    path = cut_file(tmp_path)
    skip = frame_rows(path, workers=1, on_error="skip")
    assert frame_rows(path, workers=2, on_error="skip") == skip
    with open(path, "rb") as f:
        with pytest.raises(ValueError):
            list(fp.read_frames(f, workers=2))
