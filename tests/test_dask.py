"""fastpkt.dask on a dask.distributed LocalCluster (threads, light on 2 cores): the rows of
read_packets, flows, client_hellos and http equal fastpkt's own engines' (which the other
tests compare with tshark and Zeek), whatever the partitioning; meta has the same dtypes;
inputs through fsspec URLs read the same."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA

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


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """Rotated files with overlapping times: a gen_pcap capture dealt round robin into three
    (with tls.pcap and http.pcap's packets), plus the fixtures."""
    d = tmp_path_factory.mktemp("dask")
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    g = d / "g.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "12000", "--seed", "21", "--out", str(g), "--no-truth"],
                   check=True, capture_output=True)
    pl = fp.read(str(g))
    parts = []
    for i in range(3):
        p = d / ("part%d.pcap" % i)
        fp.write(str(p), pl[i::3])
        parts.append(str(p))
    return parts


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
