"""fastpkt.report and the `fastpkt flows` / `fastpkt report` commands, on the bundled sample and
on a capture written here. Files written by the CLI are read back with pandas and compared with
Flows.to_pandas() of the same capture; the course's flow summary is checked against a count made
here from the packets (fp.read), not against fp.flows itself."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import fastpkt as fp
from fastpkt import cli, report

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tmp_capture(tmp_path_factory) -> str:
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

    pkts = []
    t = 1_700_000_000.0
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    for i in range(30):
        for k in range(i % 5 + 1):
            t += 0.01
            p = e / IP(src="10.0.0.%d" % (i % 7 + 1), dst="10.0.1.1") / (
                TCP(sport=30000 + i, dport=(80, 443, 22)[i % 3], flags="PA") if i % 2 else
                UDP(sport=30000 + i, dport=53)) / Raw(b"x" * k)
            p.time = t
            pkts.append(p)
    path = tmp_path_factory.mktemp("report") / "tmp.pcap"
    wrpcap(str(path), pkts)
    return str(path)


@pytest.fixture(params=["sample", "tmp"])
def capture(request, tmp_capture) -> str:
    return str(SAMPLE) if request.param == "sample" else tmp_capture


def _frame_equal(a, b):
    """CSV/Parquet round trips lose dtypes (categories, datetimes as text, empty string vs
    missing in CSV): compare values."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)

    def cells(s):
        return [None if ((isinstance(v, str) and v == "") or
                         (not isinstance(v, str) and pd.isna(v))) else v
                for v in s.astype(object).tolist()]

    for col in a.columns:
        x, y = a[col], b[col]
        if str(y.dtype).startswith("datetime64"):
            x = pd.to_datetime(x)
        for i, (u, v) in enumerate(zip(cells(x), cells(y))):
            if u is None or v is None:
                assert u is None and v is None, (col, i, u, v)
            elif isinstance(v, (pd.Timestamp,)) or isinstance(u, pd.Timestamp):
                assert pd.Timestamp(u) == pd.Timestamp(v), (col, i, u, v)
            elif isinstance(v, float) or isinstance(u, float):
                assert float(u) == pytest.approx(float(v), rel=1e-9, abs=1e-9), (col, i, u, v)
            else:
                assert str(u) == str(v), (col, i, u, v)


def test_cli_flows_csv(capture, tmp_path):
    out = tmp_path / "flows.csv"
    assert cli.main(["flows", capture, "--csv", str(out)]) == 0
    ref = fp.flows(capture, progress=False).to_pandas()
    _frame_equal(pd.read_csv(out), ref)


def test_cli_flows_parquet(capture, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "flows.parquet"
    assert cli.main(["flows", capture, "--parquet", str(out)]) == 0
    ref = fp.flows(capture, progress=False).to_pandas()
    _frame_equal(pd.read_parquet(out), ref)


def test_to_csv_and_parquet_methods(capture, tmp_path):
    flows = fp.flows(capture, progress=False)
    ref = flows.to_pandas()
    flows.to_csv(str(tmp_path / "a.csv"))
    _frame_equal(pd.read_csv(tmp_path / "a.csv"), ref)
    pytest.importorskip("pyarrow")
    flows.to_parquet(str(tmp_path / "a.parquet"))
    _frame_equal(pd.read_parquet(tmp_path / "a.parquet"), ref)


def test_cli_flows_prints_top_and_stats(capture, capsys):
    assert cli.main(["flows", capture, "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "Top flows" in text and "Stats" in text and "flows_created" in text


def test_cli_flows_options(tmp_capture, capsys, tmp_path):
    out = tmp_path / "u.csv"
    assert cli.main(["flows", tmp_capture, "--unidirectional", "--filter", "udp",
                     "--idle-timeout", "5", "--active-timeout", "60", "--csv", str(out)]) == 0
    df = pd.read_csv(out)
    ref = fp.flows(tmp_capture, bidirectional=False, filter="udp", idle_timeout=5,
                   active_timeout=60, progress=False).to_pandas()
    _frame_equal(df, ref)
    assert set(df["protocol"]) == {17}


def _course_rows_from_packets(path: str) -> dict:
    """The course's directional (src, sport, dst, dport, proto) -> packets, counted here from the
    packets themselves (IPv4 and IPv6 TCP/UDP, like flow_report's default)."""
    c: Counter = Counter()
    for pkt in fp.open(path):
        ip = pkt.ip or pkt.ip6
        l4 = pkt.tcp or pkt.udp
        if ip is None or l4 is None:
            continue
        c[(str(ip.src), l4.sport, str(ip.dst), l4.dport, "TCP" if pkt.tcp else "UDP")] += 1
    return dict(c)


def test_flow_report_course_rows(capture):
    df = report.flow_report(capture, top=None)
    assert list(df.columns) == report.COURSE_COLUMNS
    assert df["packets"].is_monotonic_decreasing
    got = {(r.src, int(r.sport), r.dst, int(r.dport), r.proto): int(r.packets)
           for r in df.itertuples(index=False)}
    assert got == _course_rows_from_packets(capture)
    assert len(report.flow_report(capture, top=3)) == min(3, len(df))


def test_top_destinations_and_breakdown(capture):
    df = fp.flows(capture, progress=False).to_pandas()
    top = report.top_destinations(df, n=5)
    assert len(top) <= 5 and top.is_monotonic_decreasing
    # cross-check with a direct pandas groupby on the flow table
    exp = df[df["dst_port"].notna()].groupby("dst_port", observed=True)["packets"].sum()
    for port, n in top.items():
        assert int(exp.loc[port]) == int(n)
    pb = report.protocol_breakdown(df)
    assert int(pb["packets"].sum()) == int(df["packets"].sum())
    assert int(pb["flows"].sum()) == len(df)
    text = report.format_report(df, dict(fp.flows(capture, progress=False).stats))
    assert "Protocols" in text and "Top destination ports" in text


def test_chart_png(capture, tmp_path):
    pytest.importorskip("matplotlib")
    df = fp.flows(capture, progress=False).to_pandas()
    png = tmp_path / "top.png"
    report.chart_top_destinations(df, str(png))
    assert png.read_bytes()[:8] == PNG_MAGIC
    csv_df = report.flow_report(capture, top=None)   # the course's CSV columns work too
    png2 = tmp_path / "top2.png"
    report.chart_top_destinations(csv_df, str(png2))
    assert png2.read_bytes()[:8] == PNG_MAGIC


def test_cli_report_png(capture, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "r.png"
    assert cli.main(["report", capture, "--png", str(png), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "Flow summary" in out and "Saved chart" in out


def test_examples_run(tmp_path):
    pytest.importorskip("matplotlib")
    ex = ROOT / "examples"
    r = subprocess.run([sys.executable, str(ex / "flow_report.py"), "--out",
                        str(tmp_path / "flow_summary.csv")], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    course = pd.read_csv(tmp_path / "flow_summary.csv")
    assert list(course.columns) == report.COURSE_COLUMNS
    for args in ([], ["--csv", str(tmp_path / "flow_summary.csv")]):
        png = tmp_path / ("top_ports%d.png" % len(args))
        r = subprocess.run([sys.executable, str(ex / "chart_top_destinations.py"), "--out",
                            str(png)] + args, capture_output=True, text=True, cwd=tmp_path,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert png.read_bytes()[:8] == PNG_MAGIC


def test_report_counts_batch_by_batch_give_the_whole_table_s_report(capture):
    """format_report of ReportCounts fed in small batches equals the report of the whole
    flow table (itself checked against pandas groupbys above), and chart input agrees."""
    df = fp.flows(capture, progress=False).to_pandas()
    counts = report.ReportCounts(top=5)
    for start in range(0, len(df), 3):
        counts.add(df.iloc[start:start + 3])
    assert report.format_report(counts, top=5) == report.format_report(df, top=5)
    assert counts.top_ports(5).to_dict() == report.top_destinations(df, n=5).to_dict()


def test_cli_report_streams_the_flows(capture, capsys, monkeypatch, tmp_path):
    """`fastpkt report` reads the flow records as Arrow batches: it never builds the whole
    flow table with to_pandas(); its text equals the report of that table."""
    df = fp.flows(capture, progress=False).to_pandas()
    from fastpkt import tables

    whole = tables.to_pandas  # Flows.to_pandas() is a C method calling fastpkt.tables.to_pandas

    def refuse_flows(obj, *args, **kwargs):
        assert not isinstance(obj, fp.Flows), "to_pandas() of every flow"
        return whole(obj, *args, **kwargs)

    monkeypatch.setattr(tables, "to_pandas", refuse_flows)
    pytest.importorskip("matplotlib")
    assert cli.main(["report", capture, "--top", "4", "--png", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert report.format_report(df, top=4).split("\nStats")[0] in out
