"""The idiomatic twins (examples/*.py) against the course's scripts run under real Scapy.

examples/course/ with the import switched back to ``from scapy.all import`` is the reference:
Lab Part 1's sniff_log.csv must hold the same bytes as the twin's (each row's stamp aside: the
course's is the wall clock, the twin's the packet's capture time), Section 2's basic sniffer
prints nothing the twin does not print, and Section 15's stream files hold the twin's bytes for
the same (src, sport, dst, dport). The checks are examples/course/_agree.py's, which
examples/run_all.sh runs on the bundled sample. The twins format a capture file column by
column (packet_sniffer) and save each connection as it ends (reconstruct_streams).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import _course
from _fphelpers import corpus_dir

pytest.importorskip("scapy.all")

EXAMPLES = _course.ROOT / "examples"
_spec = importlib.util.spec_from_file_location("_agree", EXAMPLES / "course" / "_agree.py")
assert _spec is not None and _spec.loader is not None
agree = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agree)

SAMPLE = EXAMPLES / "data" / "sample.pcap"
# In the corpus part vendored in tests/corpus: fragments, nanosecond stamps, BSD loopback, ICMP,
# a file cut short (Scapy and the twin keep the 38 packets before the cut).
CORPUS = ["ppp-frag_http_req.pcap", "ppp-nanosecs_big_endian.pcap", "ppp-null_loopback.pcap",
          "ppp-icmppackets.pcap", "derived-zeek-retransmit-fast009-cut.pcap"]

# course script -> (twin, its arguments, _agree's check, captures)
PAIRS = {
    "lab1_packet_sniffer": ("packet_sniffer", ["--csv", "sniff_log.csv", "--count", "0", "--filter", "ip"],
                            "sniff_log", ["sample.pcap"] + CORPUS),
    "basic_sniffer": ("packet_sniffer", ["--count", "10"], "lines", ["sample.pcap"] + CORPUS[:3]),
    "reconstruct_streams": ("reconstruct_streams", ["--out", "."], "streams",
                            ["sample.pcap", "ppp-twohttprequests.pcap"]),
}
CASES = [(course, cap) for course, (_, _, _, caps) in PAIRS.items() for cap in caps]


def _capture(name: str) -> Path:
    if name == SAMPLE.name:
        return SAMPLE
    d = corpus_dir()
    if d is None or not (d / name).is_file():
        pytest.skip("%s is not in the corpus found (tests/corpus vendors it)" % name)
    return d / name


@pytest.fixture(scope="module")
def scapy_src(tmp_path_factory) -> Path:
    return _course.scapy_copy(tmp_path_factory.mktemp("scapy-src"))


def _run(script: Path, args: list[str], cwd: Path) -> None:
    """Run a script in cwd, its stdout to cwd/out.txt (what _agree reads)."""
    cwd.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(_course.ROOT), PYTHONWARNINGS="ignore", TZ="UTC")
    r = subprocess.run([sys.executable, str(script)] + args, cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, "%s: %s" % (script.name, r.stderr[-2000:])
    (cwd / "out.txt").write_text(r.stdout)


@pytest.mark.parametrize("course,capture", CASES, ids=["%s-%s" % c for c in CASES])
def test_twin_agrees_with_the_course_under_scapy(scapy_src, tmp_path, course, capture):
    twin, args, kind, _ = PAIRS[course]
    path = _capture(capture)
    _run(scapy_src / (course + ".py"), ["--pcap", str(path)], tmp_path / "course")
    _run(EXAMPLES / (twin + ".py"), ["--pcap", str(path)] + args, tmp_path / "twin")
    assert agree.KINDS[kind](tmp_path / "course", tmp_path / "twin") == []
    if kind == "sniff_log":  # the check saw rows, not two empty logs
        assert (tmp_path / "twin" / "sniff_log.csv").read_text().count("\n") > 1


def test_packet_sniffer_keeps_the_packets_before_a_cut(tmp_path):
    """On a file cut short the twin prints and logs every packet before the cut, says where
    it stopped on stderr and exits 0 (as Scapy's sniff(offline=) does)."""
    path = _capture("derived-zeek-retransmit-fast009-cut.pcap")
    env = dict(os.environ, PYTHONPATH=str(_course.ROOT))
    r = subprocess.run([sys.executable, str(EXAMPLES / "packet_sniffer.py"), "--pcap", str(path), "--count", "0",
                        "--csv", "log.csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "the capture stops after 38 packets" in r.stderr and "record 38 at offset 2788" in r.stderr
    assert len(r.stdout.splitlines()) == 1 + 38
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 38
