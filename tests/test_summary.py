"""`fastpkt summary`/`info` and read_frames() read in batches: the same numbers whatever the
batch size, matching Scapy's reading of the capture; the sketch behind open-ended top-N
counters keeps heavy hitters and says when it estimated."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

import fastpkt as fp
from fastpkt.summary import TopCounter, summarize

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "examples" / "data" / "sample.pcap")


@pytest.fixture(scope="module")
def scapy_packets():
    scapy = pytest.importorskip("scapy.all")
    return scapy, scapy.rdpcap(SAMPLE)


def test_summary_matches_scapy(scapy_packets):
    scapy, pkts = scapy_packets
    d = summarize(SAMPLE, top=100)
    assert d["packets"] == len(pkts) and d["bytes"] == sum(p.wirelen or len(p) for p in pkts)
    for name, layer in (("TCP", scapy.TCP), ("UDP", scapy.UDP), ("ARP", scapy.ARP), ("DNS", scapy.DNS),
                        ("IPv6", scapy.IPv6)):
        assert d["protocols"][name] == sum(1 for p in pkts if p.haslayer(layer)), name
    talkers = Counter(p[scapy.IP].src if p.haslayer(scapy.IP) else p[scapy.IPv6].src
                      for p in pkts if p.haslayer(scapy.IP) or p.haslayer(scapy.IPv6))
    assert dict(d["top_talkers_packets"]) == dict(talkers)
    assert d["approximate"] == []


def test_batches_do_not_change_the_numbers():
    whole = summarize(SAMPLE, top=50)
    assert summarize(SAMPLE, top=50, batch_size=7) == whole
    assert summarize(SAMPLE, top=50, batch_size=1) == whole


def test_sketch_keeps_heavy_hitters_and_says_it_estimated():
    exact = Counter({"heavy%d" % i: 1000 - i for i in range(5)})
    exact.update({"rare%d" % i: 1 for i in range(500)})
    sketch = TopCounter(capacity=50)
    items = list(exact.items())
    for start in range(0, len(items), 37):  # batches, as summarize feeds it
        sketch.add(items[start:start + 37])
    assert sketch.overflowed
    top = sketch.top(5)
    assert [k for k, _ in top] == ["heavy%d" % i for i in range(5)]
    assert all(n >= exact[k] for k, n in top)  # Space-Saving never undercounts a kept key


def test_read_frames_equal_one_dataframe():
    pd = pytest.importorskip("pandas")
    whole = fp.read(SAMPLE).to_pandas()
    frames = list(fp.read_frames(SAMPLE, batch_size=40))
    assert [len(f) for f in frames] == [40, 40, 40, 40, len(whole) - 160]
    joined = pd.concat(frames, ignore_index=True)
    for col in ("time", "wirelen", "sport", "dport"):
        assert joined[col].tolist() == whole[col].tolist(), col
    assert [str(v) for v in joined["src"]] == [str(v) for v in whole["src"]]
    batches = list(fp.read_frames(SAMPLE, batch_size=100, arrow=True))
    assert [b.num_rows for b in batches] == [100, len(whole) - 100]
    with pytest.raises(ValueError):
        next(fp.read_frames(SAMPLE, batch_size=0))


def test_info_counts_like_scapy(scapy_packets, capsys):
    from fastpkt.cli import main

    _, pkts = scapy_packets
    assert main(["info", SAMPLE]) == 0
    out = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert int(out["Packets"]) == len(pkts)
    assert int(out["Bytes on wire"]) == sum(p.wirelen or len(p) for p in pkts)


# VmHWM: this process image's own peak (ru_maxrss starts from the forking parent's on Linux)
SUMMARY_CHILD = """
import sys
from fastpkt import cli
rc = cli.main(["summary", sys.argv[1]])
sys.stdout.flush()
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("maxrss_kb", hwm, file=sys.stderr)
sys.exit(rc)
"""


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="RSS is not a memory measure under ASan (quarantine, shadow)")
def test_summary_peak_rss_stays_under_the_documented_bound(tmp_path):
    """README: ``fastpkt summary`` counts in one C pass with fixed state, peaking under 200 MB
    RSS whatever the capture's size. A ~100 MB capture (the sample's packets
    repeated) read whole with fp.read() and to_pandas() would go past that; the command's own
    peak RSS, measured in its process, must stay under it and grow by no more than a batch."""
    import subprocess
    import sys

    big = tmp_path / "big.pcap"
    sample = list(fp.read(SAMPLE))
    repeat = 3500
    fp.write(str(big), (p for _ in range(repeat) for p in sample))
    assert big.stat().st_size > 90e6
    def peak_kb(path: str) -> int:
        r = subprocess.run([sys.executable, "-c", SUMMARY_CHILD, path], capture_output=True, text=True,
                           cwd=str(ROOT), timeout=300)
        assert r.returncode == 0, r.stderr
        assert "%d packets" % len(fp.read(path)) in r.stdout
        return int(r.stderr.split("maxrss_kb")[-1])

    small, large = peak_kb(SAMPLE), peak_kb(str(big))
    assert large < 200 * 1024, large
    # one batch more than the sample's run, not the file: whole-file tables grow by ~70 MB here
    assert large - small < 40 * 1024, (small, large)
