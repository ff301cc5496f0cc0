"""fastpkt.dask on a dask.distributed LocalCluster (threads, light on 2 cores): the rows of
read_packets, flows, client_hellos, http and dns equal fastpkt's own engines' (which the other
tests compare with tshark and Zeek), whatever the partitioning; meta has the same dtypes;
inputs through fsspec URLs read the same, over HTTP too (a loopback server with range
requests, and servers that lose the connection or send short bodies); every exception a
task raises reaches the client as itself."""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, DATA, corpus_dir
from fastpkt.summary import capture_info

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
fsspec = pytest.importorskip("fsspec")
import dask  # noqa: E402
import fastpkt.dask as fpd  # noqa: E402

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_pcap.py"


@pytest.fixture(autouse=True)
def spill_root(tmp_path_factory):
    """Stage 1's spill files go under a directory of the test's (Dask's temporary-directory),
    and every run removed its own."""
    d = tmp_path_factory.mktemp("spill")
    with dask.config.set({"temporary-directory": str(d)}):
        yield d
    assert list(d.iterdir()) == []


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _generated(d, packets: int, seed: int, mix: str | None = None) -> fp.PacketList:
    """A gen_pcap capture (the shared deterministic generator) made in d, read."""
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    g = d / "g.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", str(packets), "--seed", str(seed), "--out", str(g),
                    "--no-truth", *(("--mix", mix) if mix else ())], check=True, capture_output=True)
    return fp.read(str(g))


def dealt_in_three(d, packets: int, seed: int) -> list[str]:
    """A gen_pcap capture dealt round robin into three files in d (rotated files whose time
    ranges overlap)."""
    pl = _generated(d, packets, seed)
    parts = []
    for i in range(3):
        p = d / ("part%d.pcap" % i)
        fp.write(str(p), pl[i::3])
        parts.append(str(p))
    return parts


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """Rotated files with overlapping times: a gen_pcap capture dealt round robin into three
    (with tls.pcap and http.pcap's packets), plus the fixtures."""
    return dealt_in_three(tmp_path_factory.mktemp("dask"), 12000, 21)


@pytest.fixture(scope="module")
def sensors(tmp_path_factory):
    """Two sensors' rotated files, each sensor seeing every other packet of one gen_pcap
    capture and rotating at its own count: every file's time range overlaps one or two of
    the other sensor's, partly. Listed out of time order."""
    d = tmp_path_factory.mktemp("sensors")
    pl = _generated(d, 9000, 22, "tls")
    files = []
    for sensor, rotate in ((0, 1300), (1, 1700)):
        mine = pl[sensor::2]
        for k in range(0, len(mine), rotate):
            p = d / ("s%d_%02d.pcap" % (sensor, k // rotate))
            fp.write(str(p), mine[k:k + rotate])
            files.append(str(p))
    return files[::-1]


def plain(df):
    """Categoricals as objects (each partition has its own categories), rows by id."""
    df = df.astype({c: "object" for c in df.columns if str(df[c].dtype) == "category"})
    return df.reset_index(drop=True)


def same_dtypes(meta, want):
    assert list(meta.columns) == list(want.columns)
    assert [str(t) for t in meta.dtypes] == [str(t) for t in want.dtypes]


@pytest.mark.parametrize("npartitions", [1, 2, 3])
def test_flows_any_partitioning(client, captures, npartitions):
    want = fp.flows(captures, workers=1).to_pandas()
    ddf = fpd.flows(captures, npartitions=npartitions)
    same_dtypes(ddf._meta, want)
    got = ddf.compute().sort_values("flow_id")
    assert plain(got).equals(plain(want.sort_values("flow_id")))


def test_sensors_partly_overlapping(client, sensors):
    """Flows, hellos and HTTP over files whose time ranges overlap in part: the shards merge
    every file by time as one engine does, so a flow whose packets alternate between two
    sensors' files is one flow, with one engine's counters, history and id."""
    ranges = [(i["earliest"], i["latest"]) for i in map(capture_info, sensors)]
    assert any(a[0] < b[0] < a[1] < b[1] for a in ranges for b in ranges)  # partial overlaps
    want = fp.flows(sensors, workers=1).to_pandas().sort_values("flow_id")
    assert want["packets"].sum() == sum(fp.open(p).count() for p in sensors)
    for n in (2, 3):
        got = fpd.flows(sensors, npartitions=n).compute().sort_values("flow_id")
        assert plain(got).equals(plain(want))
    want = fp.client_hellos(sensors).to_pandas().sort_values("stream_id")
    assert len(want) > 10
    got = fpd.client_hellos(sensors, npartitions=2).compute().sort_values("stream_id")
    assert plain(got).astype(str).equals(plain(want).astype(str))


@pytest.mark.parametrize("with_sensors", [False, True])
def test_time_reversal_runs_one_engine(client, sensors, with_sensors):
    """A packet older than the clock (two_if.pcapng has one from 1970) may change which
    flows a shard's expiry walk reaches: the shards report it and partition 0 gives one
    engine's rows (3 shards of two_if alone differed from one engine before)."""
    src = [str(DATA / "two_if.pcapng")] + (sensors[:3] if with_sensors else [])
    for kind, column in (("flows", "flow_id"), ("client_hellos", "stream_id")):
        want = getattr(fp, kind)(src, workers=1).to_pandas().sort_values(column)
        got = getattr(fpd, kind)(src, npartitions=3).compute().sort_values(column)
        assert plain(got).astype(str).equals(plain(want).astype(str))
    want = fp.http(src).to_pandas()
    got = fpd.http(src, npartitions=3).compute()
    assert plain(got).astype(str).equals(plain(want).astype(str))


def test_hellos_and_http(client, captures):
    src = captures + [str(DATA / "tls.pcap"), str(DATA / "http.pcap")]
    want = fp.client_hellos(src).to_pandas()
    ddf = fpd.client_hellos(src, npartitions=3)
    same_dtypes(ddf._meta, want)
    got = ddf.compute().sort_values("stream_id")
    assert plain(got).astype(str).equals(plain(want.sort_values("stream_id")).astype(str))
    want = fp.http(src).to_pandas()
    got = fpd.http(src, npartitions=2).compute()
    key = list(want.columns)
    assert plain(got).astype(str).sort_values(key).reset_index(drop=True).equals(
        plain(want).astype(str).sort_values(key).reset_index(drop=True))
    assert len(got) > 0


@pytest.fixture(scope="module")
def dns_rotated(tmp_path_factory):
    """A DNS-heavy gen_pcap capture dealt round robin into three files (a query and its
    response often in different files), listed out of time order."""
    d = tmp_path_factory.mktemp("dns")
    pl = _generated(d, 6000, 23, "dns")
    parts = []
    for i in range(3):
        p = d / ("dns%d.pcap" % i)
        fp.write(str(p), pl[i::3])
        parts.append(str(p))
    return parts[::-1]


DNS_CORPUS = ["tcpdump-dns_tcp.pcap", "zeek-ipv6-fragmented-dns.pcap", "zeek-baselines/wikipedia.pcap",
              "zeek-baselines/dns-two-responses.pcap", "suricata-dns-udp-google.com-a-aaaa-mx.pcap"]


def dns_rows(df):
    """Rows in one engine's order whatever the partitioning (categoricals and lists as text)."""
    df = plain(df).astype(str)
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@pytest.mark.parametrize("which", ["corpus", "rotated"])
def test_dns(client, dns_rotated, which):
    """fpd.dns equals fp.dns(paths).to_pandas() (Zeek's and tshark's pairing are checked on it
    in test_dns_transactions.py): connections whose queries and answers sit in different files,
    fragmented answers over IPv6, TCP, for 1 to 3 partitions with one engine's flow ids."""
    if which == "corpus":
        d = corpus_dir()
        if d is None:
            pytest.skip(CORPUS_SKIP_REASON)
        src = [str(d / n) for n in DNS_CORPUS]
    else:
        src = dns_rotated
    want = fp.dns(src).to_pandas()
    assert len(want) > (20 if which == "corpus" else 2000) and want["answered"].any()
    for n in (1, 2, 3):
        ddf = fpd.dns(src, npartitions=n)
        same_dtypes(ddf._meta, want)
        got = ddf.compute()
        assert dns_rows(got).equals(dns_rows(want)), n


def test_read_packets_one_partition_per_file(client, captures):
    ddf = fpd.read_packets(captures)
    assert ddf.npartitions == len(captures)
    want = [fp.read(p).to_pandas() for p in captures]
    same_dtypes(ddf._meta, want[0])
    got = ddf.compute()
    assert len(got) == sum(len(w) for w in want)
    assert list(got["time"]) == [t for w in want for t in w["time"]]


def test_fsspec_urls(client, captures):
    """Any fsspec URL: the memory filesystem stands in for s3:// or hdfs://."""
    fs = fsspec.filesystem("memory")
    urls = []
    for p in captures:
        url = "memory://fastpkt-test/" + Path(p).name
        with fs.open(url, "wb") as f:
            f.write(Path(p).read_bytes())
        urls.append(url)
    want = plain(fp.flows(captures, workers=1).to_pandas().sort_values("flow_id"))
    got = fpd.flows(urls, npartitions=2).compute().sort_values("flow_id")
    assert plain(got).equals(want)
    assert len(fpd.read_packets(urls[:1]).compute()) == len(fp.read(captures[0]))
    # a filesystem read through file objects (fsspec's local one, as s3fs would be)
    got = fpd.flows(["local://" + p for p in captures], npartitions=2).compute().sort_values("flow_id")
    assert plain(got).equals(want)


@pytest.fixture(scope="module")
def web(captures):
    """The captures' directory served over HTTP on loopback (tests/_httpfiles.py: range
    requests as fsspec's HTTPFile reads, and servers that misbehave on purpose)."""
    pytest.importorskip("aiohttp", reason="fsspec's http:// needs aiohttp (pip install -e '.[test]')")
    from _httpfiles import serve

    srv = serve(str(Path(captures[0]).parent), "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    yield srv
    srv.shutdown()
    srv.server_close()


#: fsspec reads HTTP files by range requests of its block size (5 MiB by default): small
#: blocks put many block boundaries inside records and flows
SMALL_BLOCKS = {"block_size": 64 << 10}


def test_http_urls(client, captures, web):
    """http:// URLs read in 64 KiB range requests: the rows of one engine over the local
    files, also when the server's HEAD says a file is longer than it is."""
    urls = [web.url + "/files/" + Path(p).name for p in captures]
    before = len(web.ranges)
    want = plain(fp.flows(captures, workers=1).to_pandas().sort_values("flow_id"))
    got = fpd.flows(urls, npartitions=2, storage_options=SMALL_BLOCKS).compute().sort_values("flow_id")
    assert plain(got).equals(want)
    blocks = sum(-(-os.path.getsize(p) // SMALL_BLOCKS["block_size"]) for p in captures)
    assert len(web.ranges) - before >= blocks  # each shard read every file in range requests
    want_hellos = engine_rows("client_hellos", "stream_id", fp.client_hellos(captures, workers=1).to_pandas())
    got = fpd.client_hellos(urls, npartitions=3, storage_options=SMALL_BLOCKS).compute()
    assert engine_rows("client_hellos", "stream_id", got).equals(want_hellos) and len(want_hellos)
    assert packet_rows(fpd.read_packets(urls[0], storage_options=SMALL_BLOCKS).compute()) == \
        packet_rows(fp.read(captures[0]).to_pandas())
    longer = [web.url + "/longer/5000/" + Path(p).name for p in captures]
    got = fpd.flows(longer, npartitions=2, storage_options=SMALL_BLOCKS).compute().sort_values("flow_id")
    assert plain(got).equals(want)


def records_ending_by(path: str, offset: int) -> int:
    """The records of a classic pcap lying wholly before offset (its headers parsed here)."""
    data = Path(path).read_bytes()
    pos, n = 24, 0
    while pos + 16 <= len(data):
        end = pos + 16 + struct.unpack_from("<I", data, pos + 8)[0]
        if end > offset:
            break
        pos, n = end, n + 1
    return n


@pytest.mark.parametrize("mode", ["drop", "short"])
def test_http_lost_mid_file(client, captures, web, mode):
    """A server that resets the connection half-way through a file (drop), or closes it
    after a body shorter than its Content-Length (short): RemoteReadError naming the URL and
    the offset of the failed read, every packet before that offset delivered (records
    counted from the file's own headers), and on the cluster the same error, attributes and
    all, as soon as the task fails."""
    path = captures[1]
    cut = os.path.getsize(path) // 2
    url = "%s/%s/%d/%s" % (web.url, mode, cut, Path(path).name)
    seen = 0
    with pytest.raises(fpd.RemoteReadError) as lost:
        with fpd._open(url, SMALL_BLOCKS, None, None) as r:
            for _ in r:
                seen += 1
    e = lost.value
    assert e.path == url and 0 < e.offset <= cut and e.offset % SMALL_BLOCKS["block_size"] == 0
    assert url in str(e) and "offset %d" % e.offset in str(e) and "ClientPayloadError" in e.reason
    assert seen == records_ending_by(path, e.offset) > 0
    ddf = fpd.flows([web.url + "/files/" + Path(captures[0]).name, url], npartitions=2, storage_options=SMALL_BLOCKS)
    with pytest.raises(fpd.RemoteReadError) as remote:
        client.compute(ddf).result(timeout=120)  # a guard against a hang, not a timing
    assert (remote.value.path, remote.value.offset, str(remote.value)) == (e.path, e.offset, str(e))


def test_task_errors_reach_the_client(client, captures, web, tmp_path):
    """A corrupt capture (a record claiming 2 GB) fails its tasks with fastpkt's FormatError,
    offset and packet index as one engine's; a URL the server does not have gives
    FileNotFoundError, whose fsspec cause (aiohttp's, holding headers that do not pickle)
    would have reached the client as a bare Exception."""
    from test_frames_ranges import cut_file

    bad = str(cut_file(tmp_path))
    with pytest.raises(fp.FormatError) as one:
        fp.flows([bad], workers=1).to_pandas()
    for n in (1, 2):
        with pytest.raises(fp.FormatError) as got:
            client.compute(fpd.flows([captures[0], bad], npartitions=n)).result(timeout=120)
        assert type(got.value) is type(one.value) and str(got.value) == str(one.value)
        assert (got.value.offset, got.value.packet_index) == (one.value.offset, one.value.packet_index)
    with pytest.raises(FileNotFoundError, match="nothere.pcap"):
        client.compute(fpd.flows([web.url + "/files/nothere.pcap"], npartitions=2)).result(timeout=120)


def _round_trips(e: BaseException) -> BaseException:
    """e through pickle, and through distributed's way from a worker to the client."""
    from distributed.core import clean_exception, error_message

    back = pickle.loads(pickle.dumps(e))
    msg = error_message(e)
    tb = msg["traceback"]
    _, sent, _ = clean_exception(msg["exception"].data, tb.data if tb is not None else None)
    kept = {k: v for k, v in vars(e).items() if k != "packets"}  # fp.read's partial list stays
    for b in (back, sent):
        assert type(b) is type(e) and str(b) == str(e) and b.args == e.args and vars(b) == kept, (e, b)
    return back


def test_every_exception_pickles_with_its_attributes(tmp_path):
    """Every exception type fastpkt defines, raised for real where a test can (a corrupt and
    a cut capture, a bad display filter, a lost HTTP read), else made with its attributes:
    the same type, text and attributes back from pickle and from distributed's transport."""
    from test_frames_ranges import cut_file

    ours = {v for m in (fp, fpd) for v in vars(m).values()
            if isinstance(v, type) and issubclass(v, BaseException) and v.__module__.startswith("fastpkt")}
    assert ours >= {fp.Error, fp.FormatError, fp.TruncatedError, fp.FilterError, fp.CaptureError,
                    fp.CapturePermissionError, fpd.RemoteReadError}
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((DATA / "http.pcap").read_bytes()[:-5])
    raised: list[BaseException] = []
    for path in (cut_file(tmp_path), cut):
        with pytest.raises(fp.FormatError) as e:
            fp.read(str(path))
        raised.append(e.value)
    assert [type(e) for e in raised] == [fp.FormatError, fp.TruncatedError]
    assert all(e.offset > 0 and e.packet_index > 0 and len(e.packets) == e.packet_index for e in raised)
    with pytest.raises(fp.FilterError) as f:
        fp.compile_filter("tcp.port ==")
    raised.append(f.value)
    raised.append(fpd.RemoteReadError("http://10.0.0.1/a.pcap", 65536, "ClientPayloadError: lost"))
    for cls in ours - {type(e) for e in raised}:
        e = cls(2, "made here") if issubclass(cls, OSError) else cls("made here")
        e.offset, e.packet_index = 7, 3
        raised.append(e)
    for e in raised:
        back = _round_trips(e)
        for attr in ("offset", "packet_index", "path", "expression", "column", "reason"):
            assert getattr(back, attr, None) == getattr(e, attr, None), (e, attr)


def test_foreign_errors_made_portable():
    """An exception that does not come back from pickle as itself leaves a task as a
    fastpkt.Error with its type and text; ours and Python's keep their type, their cause
    and context dropped (distributed would pickle them along)."""
    class Holding(Exception):
        pass

    e = Holding("lost")
    e.lock = threading.Lock()
    out = fpd._portable(e)
    assert type(out) is fp.Error and "Holding: lost" in str(out)
    mine = fp.FormatError("bad record")
    mine.__cause__ = e
    assert fpd._portable(mine) is mine and mine.__cause__ is None and mine.__context__ is None
    assert type(fpd._portable(FileNotFoundError(2, "gone"))) is FileNotFoundError


def test_arguments_checked():
    with pytest.raises(ValueError, match="npartitions"):
        fpd.flows([str(DATA / "http.pcap")], npartitions=0)
    with pytest.raises(ValueError, match="at least one path"):
        fpd.flows([])


# ---- read_packets by record-aligned byte ranges ---------------------------------------------

def packet_rows(df) -> list[tuple]:
    return list(df.astype(object).where(df.notna(), None).itertuples(index=True, name=None))


def ranged(monkeypatch, size=4096):
    from fastpkt import parallel

    monkeypatch.setattr(parallel, "RANGE_BYTES", size)  # many ranges on small files
    monkeypatch.setattr(fpd, "TWO_STAGE_MIN_SHARDS", 2)  # the engines in two stages from 2 shards


def fixtures_all():
    from test_parallel import fixtures

    return fixtures()


def readable(path) -> bool:
    from test_frames_ranges import readable as r

    return r(path)


def corpus_readable():
    return [p for p in fixtures_all() if readable(p)]


def captures_gen(d) -> str:
    """A 6,000-packet gen_pcap capture in d (TLS, HTTP, DNS, UDP)."""
    g = d / "g.pcap"
    if not g.exists():
        _generated(d, 6000, 31)
    return str(g)


@pytest.mark.parametrize("path", corpus_readable(), ids=lambda p: p.name)
def test_read_packets_ranges_equal_per_file(monkeypatch, path):
    """Every corpus capture and fixture in 4 KiB ranges (synchronous scheduler): the rows,
    order and index of the one-partition read (fastpkt's table, checked against tshark)."""
    want = packet_rows(fpd.read_packets([str(path)]).compute(scheduler="sync"))
    ranged(monkeypatch)
    ddf = fpd.read_packets([str(path)])
    with fp.Reader(str(path)) as r:
        assert ddf.npartitions == max(1, len(r._split(-(-(r.size - r.position) // 4096) or 1)) - 1)
    same_dtypes(ddf._meta, fp.read(str(path)).to_pandas())
    assert packet_rows(ddf.compute(scheduler="sync")) == want


def test_read_packets_ranges_on_cluster(client, captures, monkeypatch):
    """Rotated gen_pcap files cut into 64 KiB ranges on the LocalCluster; a BPF filter."""
    want = fpd.read_packets(captures).compute()
    filt = fpd.read_packets(captures, filter="tcp").compute()
    ranged(monkeypatch, 64 << 10)
    ddf = fpd.read_packets(captures)
    assert ddf.npartitions > 3 * len(captures)
    assert plain(ddf.compute()).equals(plain(want))
    got = fpd.read_packets(captures, filter="tcp").compute()
    assert 0 < len(got) < len(want) and plain(got).equals(plain(filt))


def test_read_packets_ranges_hostile_and_errors(tmp_path, monkeypatch):
    """Payloads of valid-looking records (Scapy's rdpcap: the times and lengths of the true
    records; pcapng with interfaces declared mid-file: the one-partition read); a record
    claiming 2 GB fails with the sequential read's error."""
    scapy = pytest.importorskip("scapy.utils")
    from test_frames_ranges import cut_file
    from test_source_chunks import ETH_IP_UDP, fake_epbs, fake_pcap_records, pcap_file, pcapng_file

    ng = tmp_path / "hostile.pcapng"
    ng.write_bytes(pcapng_file([ETH_IP_UDP + b"\0\0" + fake_epbs(10) for _ in range(30)], 7))
    want = packet_rows(fpd.read_packets([str(ng)]).compute(scheduler="sync"))
    ranged(monkeypatch, 1024)
    ddf = fpd.read_packets([str(ng)])
    assert ddf.npartitions > 3 and packet_rows(ddf.compute(scheduler="sync")) == want
    monkeypatch.undo()

    t0 = 1_700_000_000_000_000
    path = tmp_path / "hostile.pcap"
    path.write_bytes(pcap_file([(t0 + i * 1000, ETH_IP_UDP + fake_pcap_records(30, t0)) for i in range(200)]))
    bad = cut_file(tmp_path)
    with pytest.raises(fp.FormatError) as one:
        fpd.read_packets([str(bad)]).compute(scheduler="sync")
    ranged(monkeypatch)
    got = fpd.read_packets([str(path)]).compute(scheduler="sync")
    ref = scapy.rdpcap(str(path))
    assert list(got["caplen"]) == [len(p) for p in ref]
    assert [t.value // 1000 for t in got["time"]] == [int(p.time * 1_000_000) for p in ref]
    ddf = fpd.read_packets([str(bad)])
    assert ddf.npartitions > 1
    with pytest.raises(fp.FormatError) as two:
        ddf.compute(scheduler="sync")
    assert str(two.value) == str(one.value) and "record 1500 " in str(one.value)


# ---- engines in two stages: ranges walked into entries, shards fed them -----------------------

ENGINES = (("flows", "flow_id"), ("client_hellos", "stream_id"), ("http", None), ("dns", None))


def engine_rows(kind: str, column: str | None, df):
    """One engine's rows whatever the partitioning: by id, or every column for HTTP and DNS
    (several rows share an id there); categoricals and lists as text."""
    df = plain(df).astype(str)
    key = [column] if column else list(df.columns)
    return df.sort_values(key, kind="stable").reset_index(drop=True)


def outcome(fn):
    """The rows, or the error's type and message."""
    try:
        return fn()
    except fp.Error as e:
        return type(e), str(e)


def same_as_one_engine(src: list[str], partitions=(2, 3), kinds=ENGINES, scheduler="sync") -> None:
    for kind, column in kinds:
        want = outcome(lambda: engine_rows(kind, column, getattr(fp, kind)(src, workers=1).to_pandas()))
        for n in partitions:
            got = outcome(lambda: engine_rows(kind, column, getattr(fpd, kind)(src, npartitions=n)
                                              .compute(scheduler=scheduler)))
            assert type(got) is type(want), (kind, n, got)
            assert got == want if isinstance(want, tuple) else got.equals(want), (kind, n)


def stage_one(path: str, n: int) -> list[tuple]:
    """Stage 1 of a local capture as fastpkt.dask cuts it: (entries, exact) per range."""
    b = fpd._ranges(path)
    return [fpd._walk(path, b[k], b[k + 1], n, {}) for k in range(len(b) - 1)]


def fed(path: str, n: int) -> tuple:
    """What a shard is fed from a file: (every record's entry, whether they are the sequential
    read's), from its ranges' entries and the rest of the file walked after an inexact one."""
    pieces, ok = fpd._file_entries(path, fpd._ranges(path), stage_one(path, n), n, {})
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=fpd.FEED_DTYPE), ok


@pytest.mark.parametrize("path", fixtures_all(), ids=lambda p: p.name)
def test_engines_in_ranges_every_capture(monkeypatch, path):
    """Every corpus capture and fixture cut into about 20 ranges (boundaries inside flows,
    streams and hellos), 2 and 3 shards fed from the ranges' entries: flows, ClientHellos,
    HTTP and DNS are one engine's (rows and ids), errors are its error. Every readable
    capture's entries are proven (the shards were fed, reading no other byte), one per record."""
    ranged(monkeypatch, max(256, path.stat().st_size // 20))
    if readable(path):
        entries, ok = fed(str(path), 2)
        assert ok and len(entries) == fp.Reader(str(path)).count()
    same_as_one_engine([str(path)], partitions=(2, 3) if path.stat().st_size < 2 << 20 else (2,))


def test_entries_against_scapy(monkeypatch):
    """Stage 1's entries: each record's offset, length and time as Scapy's RawPcapReader reads
    the file, in 256-byte ranges; shards as the key pass gives them (plain TCP/UDP keyed, the rest
    declined: -1)."""
    utils = pytest.importorskip("scapy.utils")
    path = str(DATA / "tls.pcap")
    ranged(monkeypatch, 256)
    parts = stage_one(path, 3)
    assert len(parts) > 3 and all(exact for _, exact in parts)
    e = np.concatenate([x for x, _ in parts])
    raw = list(utils.RawPcapReader(path))
    data = Path(path).read_bytes()
    assert [bytes(data[o:o + c]) for o, c in zip(e["offset"], e["caplen"])] == [p for p, _ in raw]
    assert list(e["wirelen"]) == [m.wirelen for _, m in raw]
    assert list(e["ts_ns"]) == [(m.sec * 1_000_000 + m.usec) * 1000 for _, m in raw]
    assert set(e["shard"]) <= {-1, 0, 1, 2} and (e["shard"] >= 0).sum() > len(e) // 2


def test_generated_in_small_ranges_on_cluster(client, captures, sensors, monkeypatch):
    """gen_pcap's rotated files (overlapping times: every shard merges them by time from their
    entries) and the two sensors' files in 64 KiB ranges on the LocalCluster."""
    ranged(monkeypatch, 64 << 10)
    assert len(fpd._ranges(captures[0])) > 4
    same_as_one_engine(captures, kinds=ENGINES[:3], scheduler=None)
    same_as_one_engine(sensors, partitions=(3,), kinds=ENGINES[:2], scheduler=None)


def test_hellos_over_segments_in_record_sized_ranges(tmp_path, monkeypatch):
    """ClientHellos over hundreds of shuffled segments interleaved across 12 connections, a
    range per record or two: zero-filled payloads chain like records, so many cuts are wrong
    guesses; from the first range that proves inexact the file is walked on from its start
    (a true record), so the shards are still fed one entry per record."""
    from test_parallel import shuffled_hello_conns
    from test_stream_reassembly import pcap

    path = tmp_path / "hellos.pcap"
    path.write_bytes(pcap(shuffled_hello_conns(12, seed=9)))
    ranged(monkeypatch, 64)
    assert not all(exact for _, exact in stage_one(str(path), 3))
    entries, ok = fed(str(path), 3)
    assert ok and len(entries) == fp.Reader(str(path)).count()
    same_as_one_engine([str(path)], partitions=(2, 3, 5), kinds=ENGINES[:3])
    got = fpd.client_hellos([str(path)], npartitions=3).compute(scheduler="sync")
    assert sorted(got["sni"]) == sorted("c%d.interleaved.example" % i for i in range(12))


def test_pcapng_interfaces_in_ranges(tmp_path, monkeypatch):
    """A pcapng of three interfaces (link types, time resolutions: test_parallel_split checks
    it with tshark) in 700-byte ranges: each entry keeps its record's link type, all ranges
    exact. Interfaces declared mid-file make a range inexact: the file is walked on from its
    start (the walk reads the declarations), the same rows."""
    from test_parallel_split import pcapng_interfaces
    from test_source_chunks import ETH_IP_UDP, pcapng_file

    frames = [(p.time_ns, bytes(p.raw)) for p in fp.read(captures_gen(tmp_path), count=3000)]
    path = tmp_path / "ifaces.pcapng"
    path.write_bytes(pcapng_interfaces(frames))
    ranged(monkeypatch, 700)
    parts = stage_one(str(path), 2)
    assert all(exact for _, exact in parts)
    assert sorted(set(np.concatenate([e for e, _ in parts])["linktype"])) == [1, 101]
    same_as_one_engine([str(path)], kinds=ENGINES[:2])
    pkts = [ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % 50, 2000, 8, 0) for i in range(2000)]
    mid = tmp_path / "mid.pcapng"
    mid.write_bytes(pcapng_file(pkts, 300))
    ranged(monkeypatch, 1000)
    assert not all(exact for _, exact in stage_one(str(mid), 2))
    entries, ok = fed(str(mid), 2)
    assert ok and len(entries) == 2000
    same_as_one_engine([str(mid)], kinds=ENGINES[:1])


def test_cut_and_corrupt_files_fail_like_one_engine(tmp_path, monkeypatch):
    """A record claiming 2 GB in the middle, a file cut inside a record and a cut one among
    rotated files: the same error (type, message with offset and packet index) as one engine
    (the walk after the failing range fails too: the shards read the files whole)."""
    from test_frames_ranges import cut_file

    bad = cut_file(tmp_path)
    src = Path(captures_gen(tmp_path)).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(src[: len(src) // 2 + 7])
    ranged(monkeypatch, 4096)
    assert not fed(str(bad), 2)[1] and not fed(str(cut), 2)[1]
    for paths in ([str(bad)], [str(cut)], [captures_gen(tmp_path), str(cut)]):
        for kind in ("flows", "client_hellos"):
            want = outcome(lambda: getattr(fp, kind)(paths, workers=1).to_pandas())
            assert isinstance(want, tuple), (paths, kind)
            got = outcome(lambda: getattr(fpd, kind)(paths, npartitions=2).compute(scheduler="sync"))
            assert got == want


def walked_in_stages(ddf) -> bool:
    return any(str(k).startswith("_walk") for k in dict(ddf.__dask_graph__()))


def test_two_stages_from_eight_shards(captures):
    """By default the engines run in two stages from TWO_STAGE_MIN_SHARDS shards up, below it
    every shard reads every file; both give one engine's rows."""
    assert fpd.TWO_STAGE_MIN_SHARDS == 8
    assert not walked_in_stages(fpd.flows(captures, npartitions=7))
    ddf = fpd.flows(captures, npartitions=8)
    assert walked_in_stages(ddf)
    want = fp.flows(captures, workers=1).to_pandas()
    assert plain(ddf.compute(scheduler="sync").sort_values("flow_id")).equals(plain(want.sort_values("flow_id")))


def test_fed_entries_checked():
    """Entries that point outside the file or name a shard that is not one raise, never read
    outside the mapping; a shard refuses to be fed after it started."""
    path = str(DATA / "http.pcap")
    size = Path(path).stat().st_size
    good = fed(path, 2)[0]
    for field, value in (("offset", size - 10), ("caplen", 1 << 31), ("shard", 7)):
        e = good.copy()
        e[field][len(e) // 2] = value
        fl = fp.Flows([fp.Reader(path)], _shard=(0, 2))
        fl._feed((e,))
        with pytest.raises(fp.Error, match="outside its file or shards"):
            fl.to_pandas()
    fl = fp.Flows([fp.Reader(path)], _shard=(0, 2))
    with pytest.raises(ValueError, match="32 bytes"):
        fl._feed((b"x" * 33,))
    with pytest.raises(TypeError):
        fl._feed((good, good))
    fl.to_pandas()
    with pytest.raises(ValueError, match="not read yet"):
        fl._feed((good,))


def test_fed_entries_at_any_alignment(tmp_path):
    """Entries in a buffer at an odd address (a pickle or a network frame puts a bytes payload
    at any offset; UBSan found one in the Dask lab) are copied through the window, not read in
    place: the shard's rows are the same as from aligned entries, across window ends (32,768
    entries) and piece ends."""
    d = tmp_path / "big"
    d.mkdir()
    _generated(d, 40000, 7)
    path = str(d / "g.pcap")
    entries, ok = fed(path, 2)
    assert ok and len(entries) == 40000

    def odd(a):
        buf = bytearray(a.nbytes + 1)
        buf[1:] = a.tobytes()
        return memoryview(buf)[1:]

    for shard in (0, 1):
        want = fp.Flows([fp.Reader(path)], _shard=(shard, 2))
        want._feed((entries,))
        got = fp.Flows([fp.Reader(path)], _shard=(shard, 2))
        got._feed(((odd(entries[:100]), entries[100:35000], odd(entries[35000:])),))
        assert plain(got.to_pandas()).equals(plain(want.to_pandas()))


def test_entries_past_their_bound_read_whole_files(monkeypatch, captures):
    """Entries in memory (no spill directory: test_dask_spill) are held by a shard for its
    whole run: past their share of max_memory they are not fed and the shards read the files
    whole, with the same rows."""
    ranged(monkeypatch, 64 << 10)
    assert fed(captures[0], 2)[1]
    monkeypatch.setattr(fpd, "_spill_open", lambda spill_dir: None)
    monkeypatch.setattr(fpd, "FEED_MEMORY_SHARE", 1 << 40)
    assert not fed(captures[0], 2)[1]
    same_as_one_engine(captures, partitions=(2,), kinds=ENGINES[:1])


def test_file_truncated_under_a_fed_shard(tmp_path):
    """A file cut short by another process while a shard is fed from its entries: the pages
    past the new end read as zeros (never a SIGBUS) and the run ends with TruncatedError, as
    a Reader's does."""
    path = tmp_path / "g.pcap"
    path.write_bytes(Path(captures_gen(tmp_path)).read_bytes())
    entries, ok = fed(str(path), 2)
    assert ok
    fl = fp.Flows([fp.Reader(str(path))], _shard=(0, 2))
    fl._feed((entries,))
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(fp.TruncatedError, match="truncated while it was read"):
        fl.to_pandas()


def test_tunnel_ports_of_the_client_reach_the_tasks(tmp_path, monkeypatch):
    """VXLAN connections on UDP port 8472, made a VXLAN port on the client (fp.set_tunnel_ports):
    the tasks run where the table is the default again (the synchronous scheduler after it
    was put back, as a worker process that never saw the call) and still key (stage 1) and
    dissect with the client's ports: the inner flows and packets one engine gives there. With
    the worker's own table the shards kept the outer UDP flows."""
    pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import wrpcap

    E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    pkts = []
    for i in range(24):
        outer = E / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=50000 + i, dport=8472) / VXLAN(vni=i + 1)
        for flags in ("S", "SA", "A", "FA", "FA", "A"):
            pkts.append(outer / E / IP(src="10.0.%d.1" % i, dst="10.0.%d.2" % i) / TCP(sport=1000 + i, dport=80,
                                                                                      flags=flags))
    for t, p in enumerate(pkts):
        p.time = 1_700_000_000 + t / 100
    path = str(tmp_path / "vx8472.pcap")
    wrpcap(path, pkts)
    ranged(monkeypatch, 1024)  # two stages from 2 shards: stage 1 keys the records
    try:
        fp.set_tunnel_ports(vxlan=(4789, 8472))
        want = fp.flows(path, workers=1).to_pandas()
        packets = fp.read(path).to_pandas()
        graphs = [fpd.flows(path, npartitions=n) for n in (2, 3)] + [fpd.flows(path, npartitions=1)]
        packet_graph = fpd.read_packets(path)
    finally:
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)
    assert sorted(want["tunnel_id"]) == list(range(1, 25))
    try:
        for g in graphs:
            fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)  # each run starts from a worker's table
            got = g.compute(scheduler="synchronous").sort_values("flow_id")
            assert plain(got).equals(plain(want.sort_values("flow_id")))
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)
        got = packet_graph.compute(scheduler="synchronous")
        assert packet_rows(got) == packet_rows(packets)
    finally:
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)
