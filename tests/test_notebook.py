"""Notebook integration: _repr_html_ on packets and packet lists."""
from __future__ import annotations

import fastpkt as fp
from _fphelpers import DATA


def test_packetlist_repr_html_is_a_table():
    pl = fp.read(DATA / "dns.pcap")
    html = pl._repr_html_()
    assert "PacketList" in html and "%d packets" % len(pl) in html
    assert "<table" in html and "dns_qname" in html


def test_packet_repr_html_escapes_and_shows_layers():
    p = fp.read(DATA / "dns.pcap")[0]
    html = p._repr_html_()
    assert "###[ DNS ]###" in html
    assert "<pre>" in html and "'" not in html.split("<pre>", 1)[1].split("</pre>")[0].replace("&#x27;", "")


# ---- views of every object, and the tour notebook ----------------------------------

import io  # noqa: E402
from html import escape as html_escape  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "examples" / "data" / "sample.pcap")


def header_cells(html: str) -> list[str]:
    return re.findall(r"<th>([^<]*)</th>", html.split("</thead>")[0]) if "<thead>" in html else []


def test_packetlist_view_puts_the_five_tuple_first_and_hides_empty_columns():
    pytest.importorskip("pandas")
    pl = fp.read(SAMPLE)
    cols = header_cells(pl._repr_html_())
    assert cols[:7] == ["time", "src", "sport", "dst", "dport", "proto", "wirelen"]
    df = pl[:20].to_pandas()
    empty = [c for c in df.columns if df[c].isna().all()]
    assert empty and not set(empty) & set(cols)  # e.g. vlan: no tag in the first rows


def test_flows_view_shows_state_packets_bytes():
    pytest.importorskip("pandas")
    fl = fp.flows(SAMPLE, progress=False)
    cols = header_cells(fl._repr_html_())
    assert cols[:10] == ["first_seen", "src_ip", "src_port", "dst_ip", "dst_port", "protocol_name",
                         "conn_state", "packets", "bytes", "duration"]


def test_every_object_has_a_view_and_the_right_name():
    objs = {"Reader": fp.open(SAMPLE), "Streams": fp.streams(SAMPLE), "ClientHellos": fp.client_hellos(SAMPLE),
            "HttpTable": fp.http(SAMPLE)}
    for name, obj in objs.items():
        assert "<b>%s</b>" % name in obj._repr_html_(), name
        assert repr(obj).startswith("<fastpkt.%s" % name), repr(obj)
    assert objs["Streams"].stats["packets"] == 0  # a view never reads an engine
    hello = next(iter(fp.client_hellos(SAMPLE)))
    assert "sample.fastpkt.test" in hello._repr_html_()
    flow = next(iter(fp.flows(SAMPLE)))
    assert "conn_state" in flow._repr_html_()
    pkt = fp.read(SAMPLE)[0]
    assert "<b>IP</b>" in pkt[fp.IP]._repr_html_() and repr(pkt[fp.IP]).startswith("<IP ")
    facade = pytest.importorskip("fastpkt.scapy")
    ip = facade.rdpcap(SAMPLE)[0][facade.IP]
    assert ip._repr_html_() == "<pre>%s</pre>" % html_escape(repr(ip))  # Scapy's text, as Scapy's layers show
    with fp.Writer(io.BytesIO()) as w:
        assert "<b>Writer</b>" in w._repr_html_() and "(a file object)" in w._repr_html_()


def test_http_messages_and_statistics_have_views_and_the_right_name():
    """The records and tables the first view test leaves out: a request and its response
    (head fields, body as left-aligned hex), fp.stats() and its Arrow tables."""
    s = next(s for s in fp.streams(SAMPLE) if s.server_port == 80)
    req = s.http_messages()[0]
    html = req._repr_html_()
    assert "<b>HttpRequest</b>" in html and req.method in html and req.host in html
    resp = req.response
    assert resp is not None
    html = resp._repr_html_()
    assert "<b>HttpResponse</b>" in html and str(resp.status) in html
    assert "0000  " + " ".join("%02x" % b for b in resp.body[:16]) in html and "text-align:left" in html
    st = fp.stats(SAMPLE)
    assert "<b>Stats</b>" in st._repr_html_() and repr(st).startswith("<fastpkt.Stats %d frames" % st.frames)
    conv = st.arrow("conv,ip")
    assert "<b>StatsTable</b>" in conv._repr_html_() and "frames_ab" in conv._repr_html_()
    assert repr(conv).startswith("<fastpkt.StatsTable %d rows" % len(conv))


def test_stream_payload_is_left_aligned_hex_and_ascii():
    s = next(s for s in fp.streams(SAMPLE) if s.server_port == 80)
    html = s._repr_html_()
    assert 'text-align:left' in html
    first = s.client_data[:16]
    assert "0000  " + " ".join("%02x" % b for b in first) in html
    assert "GET / HTTP/1.1.." in html  # printable bytes as text, CR LF as dots


def test_progress_bar_past_the_threshold_only(capsys):
    from fastpkt import views

    assert views.progress_callback(False, "x") is None
    bar = views.progress_callback(True, "flows")
    bar(10, 100)
    bar(100, 100)
    quiet = views._Bar("flows", threshold=views.PROGRESS_THRESHOLD)
    quiet(10, 100)
    assert quiet._bar is None  # a small input draws nothing
    seen = []
    assert views.progress_callback(lambda p, t: seen.append(p), "x") is not None


def test_tour_notebook_runs_and_shows_the_key_columns(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this tree's fastpkt
    nb = nbformat.read(ROOT / "examples" / "tour.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    htmls = [out.get("data", {}).get("text/html", "") for cell in nb.cells if cell.cell_type == "code"
             for out in cell.get("outputs", [])]
    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    joined = "\n".join(htmls)
    for key in ("<b>Reader</b>", "<b>PacketList</b>", "<b>Flows</b>", "conn_state", "<b>Stream ",
                "<b>ClientHellos</b>", "<b>ClientHello</b>", "sample.fastpkt.test", "GET"):
        assert key in joined, key
    packets = next(h for h in htmls if "<b>PacketList</b>" in h)
    assert header_cells(packets)[:5] == ["time", "src", "sport", "dst", "dport"]


class _FakeTqdm:
    """Stands in for tqdm.auto.tqdm: records each bar's total, updates and close."""
    bars: list["_FakeTqdm"] = []

    def __init__(self, total=None, **kwargs):
        self.total, self.kwargs, self.n, self.closed = total, kwargs, 0, False
        _FakeTqdm.bars.append(self)

    def update(self, n):
        self.n += n

    def close(self):
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch):
    import sys
    import types

    from fastpkt import views

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = _FakeTqdm
    pkg = types.ModuleType("tqdm")
    pkg.auto = auto
    monkeypatch.setitem(sys.modules, "tqdm", pkg)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    monkeypatch.setattr(views, "_interactive", lambda: True)  # as in Jupyter or on a terminal
    monkeypatch.setattr(views, "PROGRESS_THRESHOLD", 1)  # the sample is small: any size counts
    monkeypatch.setattr(views, "PROGRESS_PACKETS", 1)
    _FakeTqdm.bars = []
    return _FakeTqdm.bars


def _whole_file_calls(progress):
    from fastpkt import cli, report, summary

    size = os.path.getsize(SAMPLE)
    yield "read", lambda: fp.read(SAMPLE, progress=progress), size
    pk = fp.read(SAMPLE, progress=False)
    yield "to_pandas", lambda: pk.to_pandas(progress=progress), len(pk)
    yield "summary", lambda: summary.summarize(SAMPLE, progress=progress), size
    yield "flows", lambda: len(fp.flows(SAMPLE, progress=progress)), size
    yield "streams", lambda: list(fp.streams(SAMPLE, progress=progress)), size
    yield "report", lambda: report.flow_report(SAMPLE, progress=progress), size
    yield "client_hellos", lambda: list(fp.client_hellos(SAMPLE, progress=progress)), size
    yield "http", lambda: list(fp.http(SAMPLE, progress=progress)), size
    yield "stats", lambda: fp.stats(SAMPLE, progress=progress), size
    yield "read_frames", lambda: list(fp.read_frames(SAMPLE, batch_size=50, progress=progress)), size
    yield "read_frames(workers=2)", lambda: list(fp.read_frames(SAMPLE, batch_size=50, workers=2,
                                                                progress=progress)), size
    if progress is None:  # the command decides from the terminal
        yield "info", lambda: cli.main(["info", SAMPLE]), size


def test_whole_file_calls_draw_one_tqdm_bar_by_default(fake_tqdm, capsys):
    """Every call that reads a whole file draws tqdm.auto's bar by default (someone watching, past
    the threshold): one bar per call, its total the file's size (to_pandas: its packets), updated
    to the end and closed."""
    for name, call, total in _whole_file_calls(None):
        fake_tqdm.clear()
        call()
        assert len(fake_tqdm) == 1, name
        bar = fake_tqdm[0]
        assert (bar.total, bar.n, bar.closed) == (total, total, True), name


def test_progress_false_and_unwatched_calls_draw_nothing(fake_tqdm, monkeypatch, capsys):
    from fastpkt import views

    for name, call, _ in _whole_file_calls(False):
        call()
        assert fake_tqdm == [], name
    monkeypatch.setattr(views, "_interactive", lambda: False)  # piped: no bar
    for name, call, _ in _whole_file_calls(None):
        call()
        assert fake_tqdm == [], name
    monkeypatch.setattr(views, "_interactive", lambda: True)
    monkeypatch.setattr(views, "PROGRESS_THRESHOLD", os.path.getsize(SAMPLE) + 1)  # below it: none
    fp.read(SAMPLE)
    assert fake_tqdm == []


def _kv_rows(html: str) -> dict[str, str]:
    import html as h

    return {h.unescape(k): h.unescape(v) for k, v in
            re.findall(r'<tr><th style="text-align:left">([^<]*)</th><td style="text-align:left">([^<]*)</td></tr>', html)}


@pytest.mark.tshark
def test_layer_views_are_field_tables_named_as_tshark_names_them():
    """pkt[IP], pkt.tcp, ...: a (name, value) table whose Wireshark-named rows hold the value
    tshark gives that field in the same frame; the one-line repr still names the layer."""
    import shutil
    import subprocess

    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    from _fphelpers import tool_env

    from fastpkt import views

    pkts = fp.read(SAMPLE)
    index = {"TCP": next(i for i, p in enumerate(pkts) if p.tcp is not None),
             "UDP": next(i for i, p in enumerate(pkts) if p.udp is not None)}
    checked = 0
    for i in index.values():
        p = pkts[i]
        for layer in (p[fp.Ether], p[fp.IP], p.tcp if p.tcp is not None else p.udp):
            html = layer._repr_html_()
            assert "<b>%s</b>" % layer.name in html and repr(layer).startswith("<%s " % layer.name)
            rows = _kv_rows(html)
            proto = views.WS_PROTOCOL.get(layer.name, layer.name.lower())
            attr_of = {"%s.%s" % (proto, views.WS_FIELDS.get(proto, {}).get(a, a)): a for a in layer.fields}
            named = [n for n in rows if "." in n]
            assert len(named) >= 3, rows
            out = subprocess.run(["tshark", "-r", SAMPLE, "-Y", "frame.number == %d" % (i + 1), "-T", "fields",
                                  "-E", "occurrence=f"] + [x for n in named for x in ("-e", n)],
                                 capture_output=True, text=True, check=True, env=tool_env()).stdout
            for name, ref in zip(named, out.rstrip("\n").split("\t")):
                value = getattr(layer, attr_of[name])
                assert rows[name] == str(value), name
                try:
                    assert int(value) == int(ref, 0), name
                except (TypeError, ValueError):
                    assert str(value) == ref, name
                checked += 1
    assert checked >= 20


def test_writer_view_shows_path_format_link_type_and_counts(tmp_path):
    """What the view says a Writer wrote is what Scapy reads back from the file."""
    scapy = pytest.importorskip("scapy.all")
    path = str(tmp_path / "out.pcap")
    pkts = fp.read(SAMPLE)[:5]
    w = fp.Writer(path, linktype=1)
    w.write_all(pkts)
    rows = _kv_rows(w._repr_html_())
    assert "<b>Writer</b> open" in w._repr_html_() and repr(w).startswith("<fastpkt.Writer ")
    assert (rows["path"], rows["format"], rows["linktype"], rows["packets written"], rows["closed"]) == \
        (path, "pcap", "1", "5", "False")
    w.close()
    assert int(rows["bytes written"]) == os.path.getsize(path)
    rows = _kv_rows(w._repr_html_())
    assert (rows["path"], rows["packets written"], rows["closed"]) == (path, "5", "True")
    assert len(scapy.rdpcap(path)) == 5
