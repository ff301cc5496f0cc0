"""`python -m fastpkt`, --json/--csv on flows, sni, streams and summary, and one-line exits.

The numbers are checked against Scapy's reading of the capture and tshark's SNIs, not
against fastpkt's own text output."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "examples" / "data" / "sample.pcap")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "fastpkt", *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def scapy_packets():
    scapy = pytest.importorskip("scapy.all")
    return scapy, scapy.rdpcap(SAMPLE)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def test_python_m_fastpkt():
    r = run("--version")
    assert r.stdout.startswith("fastpkt ")
    assert run("--help").stdout.startswith("usage: fastpkt")


def test_flows_json_and_csv(scapy_packets):
    scapy, pkts = scapy_packets
    ip_packets = sum(1 for p in pkts if p.haslayer(scapy.IP) or p.haslayer(scapy.IPv6))
    rows = json_lines(run("flows", SAMPLE, "--json", "-").stdout)
    assert sum(r["packets"] for r in rows) == ip_packets
    assert all(r["first_seen"].endswith("Z") for r in rows)
    table = list(csv.DictReader(io.StringIO(run("flows", SAMPLE, "--csv", "-").stdout)))
    assert [int(r["flow_id"]) for r in table] == [r["flow_id"] for r in rows]
    assert [r["conn_state"] for r in table] == [r["conn_state"] or "" for r in rows]


def test_streams_json_and_csv(scapy_packets):
    scapy, pkts = scapy_packets
    syns = {(p[scapy.TCP].sport, p[scapy.TCP].dport) for p in pkts
            if p.haslayer(scapy.TCP) and p[scapy.TCP].flags & 0x12 == 0x02}
    rows = json_lines(run("streams", SAMPLE, "--json", "-").stdout)
    assert {(r["client_port"], r["server_port"]) for r in rows if not r["midstream"]} == syns
    payload: dict[tuple[int, int], int] = {}
    for p in pkts:
        if p.haslayer(scapy.TCP):
            key = (p[scapy.TCP].sport, p[scapy.TCP].dport)
            payload[key] = payload.get(key, 0) + len(bytes(p[scapy.TCP].payload))
    for r in rows:  # a clean loopback capture: every segment once
        assert r["client_bytes"] == payload.get((r["client_port"], r["server_port"]), 0)
        assert r["server_bytes"] == payload.get((r["server_port"], r["client_port"]), 0)
    table = list(csv.DictReader(io.StringIO(run("streams", SAMPLE, "--csv", "-").stdout)))
    assert [int(r["stream_id"]) for r in table] == [r["stream_id"] for r in rows]


def test_sni_json_matches_tshark(tshark):
    out = subprocess.run([tshark, "-r", SAMPLE, "-Y", "tls.handshake.type == 1", "-T", "fields",
                          "-e", "tls.handshake.extensions_server_name"],
                         capture_output=True, text=True, check=True).stdout
    rows = json_lines(run("sni", SAMPLE, "--json", "-").stdout)
    assert sorted(r["sni"] for r in rows) == sorted(line for line in out.splitlines() if line)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    assert all(isinstance(r["ciphers"], list) for r in rows)


def test_summary_json_and_csv(scapy_packets, tmp_path):
    scapy, pkts = scapy_packets
    d = json.loads(run("summary", SAMPLE, "--json", "-").stdout)
    assert d["packets"] == len(pkts)
    assert d["bytes"] == sum(p.wirelen or len(p) for p in pkts)
    assert d["protocols"]["TCP"] == sum(1 for p in pkts if p.haslayer(scapy.TCP))
    assert d["protocols"]["UDP"] == sum(1 for p in pkts if p.haslayer(scapy.UDP))
    out = tmp_path / "summary.csv"
    run("summary", SAMPLE, "--csv", str(out))
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["section", "key", "value"]
    assert ["packets", "", str(len(pkts))] in rows
    assert ["protocols", "TCP", str(d["protocols"]["TCP"])] in rows


def test_missing_module_is_one_line_and_exit_2():
    code = ("import sys; sys.modules['pandas'] = None; from fastpkt.cli import main; "
            "sys.exit(main(['sni', %r, '--csv', '-']))" % SAMPLE)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "pandas" in r.stderr and "Traceback" not in r.stderr


def test_summary_needs_no_pandas():
    """summary counts in C (csrc/py/summary.c): it runs, and prints the same text, without pandas."""
    code = ("import sys; sys.modules['pandas'] = None; from fastpkt.cli import main; "
            "sys.exit(main(['summary', %r]))" % SAMPLE)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == run("summary", SAMPLE).stdout


def test_output_over_the_input_is_refused(tmp_path):
    cap = tmp_path / "c.pcap"
    cap.write_bytes(Path(SAMPLE).read_bytes())
    r = run("flows", str(cap), "--json", str(cap), check=False)
    assert r.returncode == 2 and "is the input capture" in r.stderr
    assert cap.read_bytes() == Path(SAMPLE).read_bytes()
