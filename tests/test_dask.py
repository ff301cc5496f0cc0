"""fastpkt.dask on a dask.distributed LocalCluster (threads, light on 2 cores): the rows of
read_packets, flows, client_hellos, http and dns equal fastpkt's own engines' (which the other
tests compare with tshark and Zeek), whatever the partitioning; meta has the same dtypes;
inputs through fsspec URLs read the same."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, DATA, corpus_dir
from fastpkt.summary import capture_info

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
fsspec = pytest.importorskip("fsspec")
import fastpkt.dask as fpd  # noqa: E402

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_pcap.py"


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


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """Rotated files with overlapping times: a gen_pcap capture dealt round robin into three
    (with tls.pcap and http.pcap's packets), plus the fixtures."""
    d = tmp_path_factory.mktemp("dask")
    pl = _generated(d, 12000, 21)
    parts = []
    for i in range(3):
        p = d / ("part%d.pcap" % i)
        fp.write(str(p), pl[i::3])
        parts.append(str(p))
    return parts


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


def corpus_readable():
    from test_frames_ranges import readable
    from test_parallel import fixtures

    return [p for p in fixtures() if readable(p)]


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
