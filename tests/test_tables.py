"""Every table object through the Arrow PyCapsule interface (csrc/py/arrow.c, fastpkt/tables.py).

pyarrow, Polars and DuckDB each read the C stream themselves: they must get the rows and
types ``to_pandas()`` gives, DuckDB's group-bys must equal pandas' on the same data, and the
packet counts must match Scapy's own reading of the file."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pytest

import fastpkt as fp
from fastpkt import tables

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "examples" / "data" / "sample.pcap")
DATA = Path(__file__).parent / "data"

# One factory per table object: the engines read their input once, so each consumer gets its own.
TABLES: dict[str, Callable[[str], Any]] = {
    "packets": lambda p: fp.read(p),
    "reader": lambda p: fp.open(p),
    "flows": lambda p: fp.flows(p, progress=False),
    "flows_kept": lambda p: _kept(fp.flows(p, progress=False)),
    "streams": lambda p: fp.streams(p, progress=False),
    "hellos": lambda p: fp.client_hellos(p, progress=False),
    "dns": lambda p: fp.dns(p, progress=False),
    "http": lambda p: fp.http(p, progress=False),
    "http_messages": lambda p: _messages(p),
}
FILES = [SAMPLE, str(DATA / "http.pcap"), str(DATA / "tls.pcap"), str(DATA / "two_if.pcapng"),
         str(DATA / "dns.pcap"), str(DATA / "ipv6_ext_frag.pcap")]


def _messages(path: str) -> Any:
    """The HTTP messages of the capture's first port-80 connection (none: an empty table)."""
    from fastpkt.http import HttpMessages

    return next((s.http_messages() for s in fp.streams(path, progress=False) if s.server_port == 80),
                HttpMessages())


def _kept(fl: Any) -> Any:
    len(fl)  # read everything and keep it: the export walks kept flows
    return fl


def kind_of_arrow(t: Any) -> str:
    if pa.types.is_dictionary(t):
        return "cat"
    if pa.types.is_timestamp(t):
        assert t.unit == "ns" and t.tz == "UTC", t
        return "time"
    if pa.types.is_duration(t):
        assert t.unit == "ns", t
        return "dur"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "str"
    return str(t).replace("uint", "u").replace("int", "i").replace("bool", "bool").replace("double", "f64")


def kind_of_pandas(dtype: Any) -> str:
    s = str(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return "cat"
    if s == "datetime64[ns, UTC]":
        return "time"
    if s == "timedelta64[ns]":
        return "dur"
    if s in ("string", "str"):
        return "str"
    if s == "boolean":
        return "bool"
    if s == "float64":
        return "f64"
    if s == "object":
        return "object"
    return s.lower().replace("uint", "u").replace("int", "i")


def pandas_values(df: Any, col: str) -> list[Any]:
    s = df[col]
    if str(s.dtype) in ("datetime64[ns, UTC]", "timedelta64[ns]"):
        return [None if pd.isna(v) else v.value for v in s]
    out = []
    for v in s.astype(object):
        if isinstance(v, tuple):
            v = list(v)
        elif v is None or (not isinstance(v, (list, bytes, str)) and pd.isna(v)):
            v = None
        elif isinstance(v, float) and math.isnan(v):
            v = None
        out.append(v)
    return out


def arrow_values(table: Any, col: str) -> list[Any]:
    c = table.column(col)
    if pa.types.is_timestamp(c.type) or pa.types.is_duration(c.type):
        c = c.cast(pa.int64())
    elif pa.types.is_interval(c.type):  # DuckDB reads a duration as its INTERVAL: ns again
        return [None if v is None else (v.months * 30 + v.days) * 86_400_000_000_000 + v.nanoseconds
                for v in c.to_pylist()]
    elif pa.types.is_dictionary(c.type):
        c = c.cast(c.type.value_type)
    return [None if isinstance(v, float) and math.isnan(v) else v for v in c.to_pylist()]


def assert_same(table: Any, df: Any) -> None:
    assert table.column_names == list(df.columns)
    assert table.num_rows == len(df)
    for name in table.column_names:
        ak, pk = kind_of_arrow(table.schema.field(name).type), kind_of_pandas(df[name].dtype)
        assert ak == pk or (pk == "object" and ak in ("list", "bytes")), (name, ak, pk)
        assert arrow_values(table, name) == pandas_values(df, name), name


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
@pytest.mark.parametrize("what", list(TABLES))
def test_pyarrow_reads_what_to_pandas_gives(what, path):
    want = TABLES[what](path).to_pandas()
    table = pa.RecordBatchReader.from_stream(TABLES[what](path)).read_all()
    assert_same(table, want)
    assert pa.schema(TABLES[what](path)) == table.schema  # __arrow_c_schema__ reads no rows


@pytest.mark.parametrize("what", list(TABLES))
def test_polars_reads_what_to_pandas_gives(what):
    pl = pytest.importorskip("polars")
    want = TABLES[what](SAMPLE).to_pandas()
    df = pl.DataFrame(TABLES[what](SAMPLE))
    assert df.columns == list(want.columns) and df.height == len(want)
    for name, dtype in df.schema.items():
        pk = kind_of_pandas(want[name].dtype)
        if pk == "time":
            assert dtype == pl.Datetime("ns", "UTC"), name
        elif pk == "dur":
            assert dtype == pl.Duration("ns"), name
        elif pk == "cat":
            assert dtype == pl.Categorical, name
        elif pk == "str":
            assert dtype == pl.String, name
        elif pk == "object":
            assert isinstance(dtype, pl.List) or dtype == pl.Binary, name
        else:
            assert str(dtype).lower() == {"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
                                          "i64": "int64", "bool": "boolean", "f64": "float64"}[pk], name
    assert_same(df.to_arrow(), want)
    assert_same(TABLES[what](SAMPLE).to_polars().to_arrow(), want)


@pytest.mark.parametrize("what", list(TABLES))
def test_duckdb_replacement_scan(what):
    duckdb = pytest.importorskip("duckdb")
    want = TABLES[what](SAMPLE).to_pandas()
    obj = TABLES[what](SAMPLE)
    assert not isinstance(obj, list)  # DuckDB's replacement scan skips list subclasses
    rel = duckdb.sql("select * from obj")
    got = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    assert got.num_rows == len(want) and got.column_names == list(want.columns)
    for name in got.column_names:
        assert arrow_values(got, name) == pandas_values(want, name), name


def test_duckdb_groupby_equals_pandas_and_scapy():
    duckdb = pytest.importorskip("duckdb")
    pk = fp.read(SAMPLE)
    df = pk.to_pandas()
    got = duckdb.sql("select dport, count(*) n, sum(wirelen) b from pk where dport is not null "
                     "group by dport order by dport").fetchall()
    g = df.dropna(subset=["dport"]).groupby("dport", observed=True).agg(n=("wirelen", "size"), b=("wirelen", "sum"))
    assert got == [(int(k), int(r.n), int(r.b)) for k, r in g.iterrows()]
    by_src = dict(duckdb.sql("select src, count(*) from pk where src is not null group by src").fetchall())
    assert by_src == {k: int(v) for k, v in df["src"].value_counts().items() if v}
    fl = fp.flows(SAMPLE, progress=False)
    fdf = fp.flows(SAMPLE, progress=False).to_pandas()
    got = dict(duckdb.sql("select conn_state, sum(packets) from fl group by conn_state").fetchall())
    assert got == {k: int(v) for k, v in fdf.groupby("conn_state", observed=True)["packets"].sum().items()}

    scapy = pytest.importorskip("scapy.all")
    counts: dict[int, int] = {}
    for p in scapy.rdpcap(SAMPLE):
        for layer in (scapy.TCP, scapy.UDP):
            if p.haslayer(layer):
                counts[p[layer].dport] = counts.get(p[layer].dport, 0) + 1
                break
    assert dict(duckdb.sql("select dport, count(*) from pk where dport is not null group by dport").fetchall()) \
        == counts


def test_small_batches_and_their_own_dictionaries():
    pk = fp.read(SAMPLE)
    reader = pk.record_batches(batch_size=7)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [7] * (len(pk) // 7) + ([len(pk) % 7] if len(pk) % 7 else [])
    assert_same(pa.Table.from_batches(batches), pk.to_pandas())
    fl = fp.flows(SAMPLE, progress=False)
    rows = sum(b.num_rows for b in fl.record_batches(batch_size=3))
    assert rows == len(fp.flows(SAMPLE, progress=False)) and not fl._kept
    with pytest.raises(RuntimeError, match="consumed by iteration"):
        fl.to_pandas()  # a streamed export keeps nothing


def test_streams_payload_column():
    table = fp.streams(SAMPLE, progress=False).to_arrow(payload=True)
    streams = list(fp.streams(SAMPLE, progress=False))
    assert table.column("client_data").to_pylist() == [s.client_data for s in streams]
    assert table.column("server_data").to_pylist() == [s.server_data for s in streams]
    assert "client_data" not in fp.streams(SAMPLE, progress=False).to_arrow().column_names


def test_empty_capture_has_the_schema(tmp_path):
    empty = tmp_path / "empty.pcap"
    fp.write(str(empty), [], linktype=1)
    for what in TABLES:
        table = pa.table(TABLES[what](str(empty)))
        assert table.num_rows == 0 and table.schema == pa.schema(TABLES[what](SAMPLE)), what


def test_errors_surface_through_the_stream(tmp_path):
    bad = tmp_path / "cut.pcap"
    bad.write_bytes(Path(SAMPLE).read_bytes()[:-10])
    with pytest.raises(OSError, match="TruncatedError"):
        pa.table(fp.flows(str(bad), progress=False))
    with pytest.raises(TypeError, match="not a fastpkt table"):
        tables.to_arrow(object())


def test_parquet_and_csv_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    for what in TABLES:
        want = TABLES[what](SAMPLE).to_pandas()
        TABLES[what](SAMPLE).to_parquet(tmp_path / "t.parquet")
        assert_same(pq.read_table(tmp_path / "t.parquet"), want)
        TABLES[what](SAMPLE).to_csv(tmp_path / "t.csv")
        back = pd.read_csv(tmp_path / "t.csv")
        assert list(back.columns) == list(want.columns) and len(back) == len(want), what
    first = pd.read_csv(tmp_path / "t.csv", nrows=1)
    assert first is not None


def test_times_are_utc_nanoseconds():
    pk = fp.read(SAMPLE)
    table = pk.to_arrow()
    assert table.schema.field("time").type == pa.timestamp("ns", "UTC")
    assert table.column("time").cast(pa.int64()).to_pylist() == [p.time_ns for p in pk]


def test_reader_streams_its_remaining_packets():
    want = fp.read(SAMPLE).to_pandas()
    with fp.open(SAMPLE) as reader:
        assert pa.schema(reader) == pa.schema(fp.read(SAMPLE))
        next(reader)  # the stream starts where the Reader is
        table = pa.RecordBatchReader.from_stream(reader).read_all()
    assert_same(table, want.iloc[1:].reset_index(drop=True))
    with fp.open(SAMPLE) as reader:
        assert [b.num_rows for b in reader.record_batches(batch_size=100)] == [100, len(want) - 100]


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_reader_exports_are_fp_read_to_pandas_and_read_once(path, tmp_path):
    """A Reader's exports are fp.read(path).to_pandas()'s rows and dtypes (as many rows as
    Scapy reads); they consume the Reader as iteration does."""
    scapy = pytest.importorskip("scapy.all")
    want = fp.read(path).to_pandas()
    assert len(want) == len(scapy.rdpcap(path))
    with fp.open(path) as reader:
        got = reader.to_pandas(progress=False)
        assert next(reader, None) is None and len(reader.to_pandas()) == 0
    pd.testing.assert_frame_equal(got, want)
    with fp.open(path) as reader:
        assert_same(reader.to_arrow(), want)
        assert reader.to_arrow().num_rows == 0
    with fp.open(path) as reader:
        assert reader.to_csv(tmp_path / "r.csv") == len(want)
    assert len(pd.read_csv(tmp_path / "r.csv")) == len(want)


def test_a_table_of_a_mapped_file_leaves_its_packets_readable():
    """columns() hands the record pages back to the kernel as it goes: the packets must
    still read as the file holds them (Scapy's bytes)."""
    scapy = pytest.importorskip("scapy.all")
    pk = fp.read(SAMPLE)
    pk.to_pandas()
    assert [bytes(p.raw) for p in pk] == [bytes(p) for p in scapy.rdpcap(SAMPLE)]


# ---- packets streamed in C (csrc/py/packetlist.c): straight from a Reader's records ----

@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_reader_stream_gives_the_rows_of_to_pandas(path):
    with fp.open(path) as reader:
        table = pa.RecordBatchReader.from_stream(reader).read_all()
    table.validate(full=True)
    assert_same(table, fp.read(path).to_pandas())


def test_reader_stream_over_many_batches_matches_scapy(tmp_path):
    """Enough rows that the puller and the dissecting thread run apart (chunks, the lag bound,
    several batches each with its own dictionaries); every row checked against Scapy."""
    scapy = pytest.importorskip("scapy.all")
    big = tmp_path / "big.pcap"
    repeat = 120
    fp.write(str(big), list(fp.read(SAMPLE)) * repeat)
    ref = []
    for p in scapy.rdpcap(SAMPLE):
        ip = p[scapy.IP] if p.haslayer(scapy.IP) else p[scapy.IPv6] if p.haslayer(scapy.IPv6) else None
        l4 = p[scapy.TCP] if p.haslayer(scapy.TCP) else p[scapy.UDP] if p.haslayer(scapy.UDP) else None
        ref.append((len(p), ip.src if ip else None, ip.dst if ip else None,
                    l4.sport if l4 else None, l4.dport if l4 else None,
                    p.src if p.haslayer(scapy.Ether) else None))
    with fp.open(str(big)) as reader:
        batches = list(reader.record_batches(batch_size=5000))
    assert [b.num_rows for b in batches[:-1]] == [5000] * (len(batches) - 1)
    table = pa.Table.from_batches(batches)
    table.validate(full=True)
    got = list(zip(*(arrow_values(table, c) for c in ("caplen", "src", "dst", "sport", "dport", "eth_src"))))
    assert got == ref * repeat


def test_reader_stream_text_is_utf8_as_python_replaces_it(tmp_path):
    """Names are raw bytes on the wire: the dictionaries hold what bytes.decode('utf-8',
    'replace') gives (maximal invalid subparts become U+FFFD), as the pandas categories do."""
    hosts = [b"plain.example", b"caf\xc3\xa9.example", b"\xff\xfe.bad", b"cut\xe2\x82", b"\xed\xa0\x80surrogate",
             b"\xf0\x9f\x98\x80ok", b"\xf4\x90\x80\x80big", b"\xe0\x80\x80overlong", b"\xc3"]
    pkts = [fp.Ether() / fp.IP(src="10.0.0.1", dst="10.0.0.2") / fp.TCP(sport=40000 + i, dport=80, flags="PA")
            / (b"GET / HTTP/1.1\r\nHost: " + h + b"\r\n\r\n") for i, h in enumerate(hosts)]
    path = tmp_path / "hosts.pcap"
    fp.write(str(path), [bytes(p) for p in pkts])
    with fp.open(str(path)) as reader:
        table = pa.table(reader)
    want = [h.decode("utf-8", "replace") for h in hosts]
    assert arrow_values(table, "http_host") == want
    assert pandas_values(fp.read(str(path)).to_pandas(), "http_host") == want


def test_reader_stream_delivers_the_rows_before_an_error(tmp_path):
    scapy = pytest.importorskip("scapy.all")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(Path(SAMPLE).read_bytes()[:-10])
    # Scapy keeps the cut record's bytes with a warning; the complete records come before it
    before = sum(1 for p in scapy.rdpcap(str(cut)) if len(p) == p.wirelen)
    rows = 0
    with fp.open(str(cut)) as reader:
        stream = pa.RecordBatchReader.from_stream(reader)
        with pytest.raises(OSError, match="TruncatedError"):
            for batch in stream:
                rows += batch.num_rows
    assert rows == before


# ---- to_pandas of packets in bounded memory ------------------------------------------------

PEAK_CHILD = r"""
import gc, ipaddress, json, struct, sys, tracemalloc
import fastpkt as fp

n, nsrc = int(sys.argv[2]), int(sys.argv[3])
def frame(i):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0,
                     ipaddress.IPv4Address(0x0A000000 + i % nsrc).packed,     # nsrc sources
                     ipaddress.IPv4Address(0xC0A80000 + i % 300).packed)      # 300 destinations
    udp = struct.pack("!HHHH", 1024 + i % 50000, 53 if i % 2 else 80, 8, 0)
    return bytes([2, 0, 0, 0, 0, i % 100]) * 2 + b"\x08\x00" + ip + udp      # 100 MACs
fp.write(sys.argv[1], [frame(i) for i in range(n)], linktype=1)
pl = fp.read(sys.argv[1])
pl[:10].to_pandas()  # pandas and what it imports lazily are not part of the bound
gc.collect()
tracemalloc.start()
df = pl.to_pandas()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
ok = (df["src"].astype(str).tolist() == [str(ipaddress.IPv4Address(0x0A000000 + i % nsrc)) for i in range(n)]
      and df["dst"].astype(str).tolist() == [str(ipaddress.IPv4Address(0xC0A80000 + i % 300)) for i in range(n)]
      and df["eth_src"].astype(str).tolist() == ["02:00:00:00:00:%02x" % (i % 100) for i in range(n)])
print(json.dumps({"peak": peak, "frame": int(df.memory_usage(deep=True, index=False).sum()), "ok": ok,
                  "codes": [str(df[c].cat.codes.dtype) for c in ("src", "dst", "eth_src")]}))
"""


@pytest.mark.parametrize("rows, sources, widths", [(200000, 20000, ["int16", "int16", "int8"]),
                                                   (60000, 40000, ["int32", "int16", "int8"])])
def test_packets_to_pandas_peaks_within_the_documented_bound(tmp_path, rows, sources, widths):
    """README/DESIGN: PacketList.to_pandas() allocates at most 1.2x the DataFrame it returns
    (traced in a fresh interpreter) when addresses repeat, as they do in captures; a capture of
    mostly distinct addresses also pays for their interner (checked for values only). The codes
    come in the widths pandas keeps (int32, int16, int8); the values are the addresses written."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PEAK_CHILD, str(tmp_path / "many.pcap"), str(rows), str(sources)],
                         capture_output=True, text=True, check=True, cwd=str(ROOT))
    r = json.loads(out.stdout)
    assert r["ok"] and r["codes"] == widths
    if rows >= 3 * sources:
        assert r["peak"] <= 1.2 * r["frame"], r


def test_duckdb_counts_every_table_type():
    """DuckDB's replacement scan finds any object with __arrow_c_stream__ except list subclasses:
    every table type fastpkt hands out (HttpMessages included) is queried by name."""
    duckdb = pytest.importorskip("duckdb")
    from fastpkt.http import HttpMessages

    http_path = str(DATA / "http.pcap")
    stream = next(s for s in fp.streams(http_path, progress=False) if s.server_port == 80)
    objects: dict[str, Callable[[], Any]] = {
        **{what: (lambda f=f: f(SAMPLE)) for what, f in TABLES.items()},
        "reader": lambda: fp.open(SAMPLE),
        "http_messages": lambda: stream.http_messages(),
    }
    want_rows = {what: len(TABLES[what](SAMPLE).to_pandas()) for what in TABLES}
    want_rows["reader"] = len(fp.read(SAMPLE))
    want_rows["http_messages"] = len(stream.http_messages().to_pandas())
    assert want_rows["http_messages"] > 0
    for what, make in objects.items():
        tbl = make()
        assert not isinstance(tbl, list), what
        assert duckdb.sql("select count(*) from tbl").fetchall() == [(want_rows[what],)], what
    msgs = stream.http_messages()
    assert isinstance(msgs, HttpMessages) and len(msgs) == len(list(msgs)) and msgs[0] is list(msgs)[0]
    assert_same(pa.table(msgs), msgs.to_pandas())
