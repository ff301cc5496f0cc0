"""`fastpkt streams` and the stream examples (reconstruct_streams.py, find_http.py), on
tests/data/http.pcap and the bundled sample. Expected bytes per direction are computed here
from Scapy's reading of the same captures (payloads keyed by sequence number, so a
retransmission counts once), not from fp.streams."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastpkt import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
HTTP = ROOT / "tests" / "data" / "http.pcap"
EXAMPLES = ROOT / "examples"

LINE = re.compile(r"^\s*(\d+)\s+(\S+) -> (\S+)\s+(\w+)\s+client (\d+) B, server (\d+) B, (.*)$")
FILE = re.compile(r"^stream_(\d+)_(.+)_(\d+)_to_(.+)_(\d+)\.bin$")


def _ep(ip: str, port: int) -> str:
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def payload_by_direction(path: Path) -> dict:
    """{(src, sport, dst, dport): bytes} in sequence order, from Scapy (IPv4 and IPv6)."""
    from scapy.all import IP, TCP, IPv6, rdpcap

    segs: dict = {}
    for pkt in rdpcap(str(path)):
        l3 = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if l3 is None or TCP not in pkt:
            continue
        tcp = pkt[TCP]
        data = bytes(tcp.payload)
        if IP in pkt:  # Scapy keeps Ethernet padding in the payload: cut at the IP length
            data = data[:pkt[IP].len - pkt[IP].ihl * 4 - tcp.dataofs * 4]
        key = (l3.src, tcp.sport, l3.dst, tcp.dport)
        d = segs.setdefault(key, {})
        if data:
            d.setdefault(tcp.seq, data)
    return {k: b"".join(v[s] for s in sorted(v)) for k, v in segs.items()}


@pytest.fixture(scope="module")
def http_expected() -> dict:
    pytest.importorskip("scapy")
    return payload_by_direction(HTTP)


@pytest.fixture(scope="module")
def sample_expected() -> dict:
    pytest.importorskip("scapy")
    return payload_by_direction(SAMPLE)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def parse_lines(out: str) -> list[tuple]:
    rows = []
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, "unexpected line: %r" % line
        rows.append((int(m[1]), m[2], m[3], m[4], int(m[5]), int(m[6]), m[7]))
    return rows


# ---------------------------------------------------------------------------- CLI
def test_streams_lines_http(capsys, http_expected):
    rc, out, err = run_cli(capsys, "streams", HTTP)
    assert rc == 0, err
    rows = parse_lines(out)
    # four connections, all started mid-stream: the first sender is the client
    assert len(rows) == 4
    assert len({r[0] for r in rows}) == 4  # stream ids are unique
    for sid, client, server, state, cb, sb, gaps in rows:
        c_ip, c_port = client.rsplit(":", 1)
        s_ip, s_port = server.rsplit(":", 1)
        fwd = (c_ip, int(c_port), s_ip, int(s_port))
        rev = (s_ip, int(s_port), c_ip, int(c_port))
        assert cb == len(http_expected.get(fwd, b""))
        assert sb == len(http_expected.get(rev, b""))
        assert gaps == "no gaps"
        assert state in ("closed", "reset", "timeout", "truncated", "open")
    clients = {r[1] for r in rows}
    assert clients == {"10.0.0.1:50001", "10.0.0.1:50002", "10.0.0.1:50003", "10.0.0.1:50004"}
    total_c = sum(r[4] for r in rows)
    total_s = sum(r[5] for r in rows)
    assert "4 streams, %d bytes client -> server, %d bytes server -> client, 0 bytes missing" % (
        total_c, total_s) in err


def test_streams_out_writes_each_direction(capsys, tmp_path, http_expected):
    out_dir = tmp_path / "streams"
    rc, out, err = run_cli(capsys, "streams", HTTP, "--out", out_dir)
    assert rc == 0, err
    printed = [Path(p) for p in out.splitlines()]
    written = sorted(out_dir.iterdir())
    assert sorted(printed) == written
    # one file per direction that carried data, named like the course's save_streams
    assert len(written) == sum(1 for v in http_expected.values() if v)
    for path in written:
        m = FILE.match(path.name)
        assert m, path.name
        key = (m[2], int(m[3]), m[4], int(m[5]))
        assert path.read_bytes() == http_expected[key]


def test_streams_http(capsys):
    rc, out, err = run_cli(capsys, "streams", HTTP, "--http")
    assert rc == 0, err
    assert "> GET /index.html?q=1&r=%20" in out
    assert "< 404 Not Found" in out
    assert "> POST /api/v1/items" in out
    blocks: dict = {}
    current = None
    for line in out.splitlines():
        if line.lstrip()[:2] in ("> ", "< "):
            blocks[current].append(line.strip())
        else:
            current = parse_lines(line)[0][1]
            blocks[current] = []
    assert blocks["10.0.0.1:50001"][0].startswith("> GET /index.html")
    assert blocks["10.0.0.1:50001"][1].startswith("< 404 Not Found")
    assert blocks["10.0.0.1:50004"] == []  # not HTTP: no messages


def test_streams_filter(capsys, http_expected):
    rc, out, err = run_cli(capsys, "streams", HTTP, "--filter", "tcp port 8080")
    assert rc == 0, err
    rows = parse_lines(out)
    assert [r[1:3] for r in rows] == [("10.0.0.1:50002", "10.0.0.80:8080")]
    assert rows[0][4] == len(http_expected[("10.0.0.1", 50002, "10.0.0.80", 8080)])


def test_streams_depth(capsys, tmp_path, http_expected):
    rc, out, err = run_cli(capsys, "streams", HTTP, "--depth", "10", "--out", tmp_path)
    assert rc == 0, err
    files = list(tmp_path.iterdir())
    assert files
    for path in files:
        m = FILE.match(path.name)
        full = http_expected[(m[2], int(m[3]), m[4], int(m[5]))]
        assert path.read_bytes() == full[:10]


def test_streams_sample_totals_and_ipv6_names(capsys, tmp_path, sample_expected):
    rc, out, err = run_cli(capsys, "streams", SAMPLE)
    assert rc == 0, err
    rows = parse_lines(out)
    by_client = {(r[1], r[2]): r for r in rows}
    # every connection with data is there, with its bytes each way
    for (src, sport, dst, dport), data in sample_expected.items():
        if not data:
            continue
        fwd, rev = (_ep(src, sport), _ep(dst, dport)), (_ep(dst, dport), _ep(src, sport))
        if fwd in by_client:
            assert by_client[fwd][4] == len(data)
        else:
            assert by_client[rev][5] == len(data)
    assert any(r[1].startswith("[::1]") for r in rows)
    rc, out, err = run_cli(capsys, "streams", SAMPLE, "--out", tmp_path)
    assert rc == 0, err
    names = [Path(p).name for p in out.splitlines()]
    assert names and all(":" not in n for n in names)
    assert any("_--1_" in n for n in names)  # ::1 -> --1
    total = sum(len(v) for v in sample_expected.values())
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) == total


def test_streams_http_sample(capsys):
    rc, out, err = run_cli(capsys, "streams", SAMPLE, "--filter", "tcp port 80", "--http")
    assert rc == 0, err
    assert re.search(r"> GET /(\s|$)", out, re.M)
    assert "> GET /hello.txt" in out
    assert "< 200 OK" in out
    assert "< 404 File not found" in out


def test_streams_missing_file(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "streams", tmp_path / "nope.pcap")
    assert rc == 2
    assert "fastpkt streams" in err


def test_streams_help_lists_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "streams" in capsys.readouterr().out


# ---------------------------------------------------------------------------- examples
def run_example(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TMPDIR=str(cwd))
    return subprocess.run([sys.executable, str(EXAMPLES / name)] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=cwd, timeout=120, env=env)


def test_example_reconstruct_streams(tmp_path, sample_expected):
    out_dir = tmp_path / "out"
    r = run_example("reconstruct_streams.py", "--out", out_dir, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    wrote = re.findall(r"\[\*\] Wrote (\S+) \((\d+) bytes\)", r.stdout)
    assert wrote
    assert sorted(n for n, _ in wrote) == sorted(p.name for p in out_dir.iterdir())
    for name, size in wrote:
        m = FILE.match(name)
        assert m, name
        assert (out_dir / name).stat().st_size == int(size)
    assert sum(int(s) for _, s in wrote) == sum(len(v) for v in sample_expected.values())
    assert "bytes missing (gaps)" in r.stdout


def test_example_reconstruct_streams_default_dir(tmp_path):
    r = run_example("reconstruct_streams.py", "--pcap", HTTP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = re.search(r"writing to (\S+)", r.stdout)
    assert m and Path(m[1]).parent == tmp_path  # a new temp dir (TMPDIR)
    assert len(list(Path(m[1]).iterdir())) == 5  # 4 requests/payloads + 1 response


def test_example_find_http(tmp_path):
    r = run_example("find_http.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    course, _, parsed = r.stdout.partition("=== parsed")
    # the course's byte search: request and response heads, IPv4 and IPv6
    assert "[HTTP] ('127.0.0.20'" in course and "[HTTP] ('::1'" in course
    assert "GET /hello.txt HTTP/1.1" in course and "HTTP/1.0 200 OK" in course
    assert "GET /hello.txt" in parsed and "<- 200 OK" in parsed and "<- 404" in parsed
    r = run_example("find_http.py", "--pcap", HTTP, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "GET /index.html?q=1&r=%20" in r.stdout and "POST /api/v1/items" in r.stdout


@pytest.fixture(scope="module")
def hole_capture(tmp_path_factory) -> Path:
    """One connection whose client loses bytes 10..19 in the capture (the server ACKs them)."""
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    c, s = IP(src="10.1.0.1", dst="10.1.0.2"), IP(src="10.1.0.2", dst="10.1.0.1")
    cs, sc = dict(sport=40000, dport=80), dict(sport=80, dport=40000)
    pkts = [
        e / c / TCP(flags="S", seq=1000, **cs),
        e / s / TCP(flags="SA", seq=5000, ack=1001, **sc),
        e / c / TCP(flags="A", seq=1001, ack=5001, **cs),
        e / c / TCP(flags="PA", seq=1001, ack=5001, **cs) / Raw(b"A" * 10),
        e / c / TCP(flags="PA", seq=1021, ack=5001, **cs) / Raw(b"C" * 10),
        e / s / TCP(flags="A", seq=5001, ack=1031, **sc),
        e / c / TCP(flags="FA", seq=1031, ack=5001, **cs),
        e / s / TCP(flags="FA", seq=5001, ack=1032, **sc),
        e / c / TCP(flags="A", seq=1032, ack=5002, **cs),
    ]
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i * 0.01
    path = tmp_path_factory.mktemp("hole") / "hole.pcap"
    wrpcap(str(path), pkts)
    return path


def test_streams_reports_gaps(capsys, tmp_path, hole_capture):
    rc, out, err = run_cli(capsys, "streams", hole_capture)
    assert rc == 0, err
    (row,) = parse_lines(out)
    assert row[1:3] == ("10.1.0.1:40000", "10.1.0.2:80")
    assert row[4:6] == (20, 0)  # the 10 missing bytes are not invented
    assert row[6] == "gaps 1 (10 bytes)"
    assert "10 bytes missing" in err
    rc, out, err = run_cli(capsys, "streams", hole_capture, "--out", tmp_path)
    (path,) = [Path(p) for p in out.splitlines()]
    assert path.read_bytes() == b"A" * 10 + b"C" * 10


def test_example_reconstruct_streams_reports_gaps(tmp_path, hole_capture):
    r = run_example("reconstruct_streams.py", "--pcap", hole_capture, "--out", tmp_path / "o",
                    cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"\[!\] stream \d+ client data: 10 bytes missing at offset 10", r.stdout)
    assert "[*] 10 bytes missing (gaps)" in r.stdout
