"""to_parquet(dir, partition_cols=[...]): Hive-partitioned datasets of packets and flows,
read back by pyarrow.dataset and DuckDB (independent readers) and compared with the table."""
from __future__ import annotations

import pytest

import fastpkt as fp
from _fphelpers import DATA

pa = pytest.importorskip("pyarrow")
ds = pytest.importorskip("pyarrow.dataset")
duckdb = pytest.importorskip("duckdb")

CAPTURES = [DATA / "tls.pcap", DATA / "http.pcap", DATA / "dns.pcap", DATA / "ipv6_ext_frag.pcap"]


def merged_capture(tmp_path):
    out = tmp_path / "all.pcap"
    fp.write(str(out), [p for c in CAPTURES for p in fp.read(str(c))])
    return str(out)


def as_plain(df):
    return df.astype({c: "object" for c in df.columns if str(df[c].dtype) == "category"})


def test_flows_partitioned_by_protocol_and_state(tmp_path):
    src = merged_capture(tmp_path)
    flows = fp.flows(src, workers=2)
    want = flows.to_pandas()
    flows.to_parquet(tmp_path / "flows", partition_cols=["protocol_name", "conn_state"])
    dirs = {p.relative_to(tmp_path / "flows").parts[:2] for p in (tmp_path / "flows").rglob("*.parquet")}
    assert all(a.startswith("protocol_name=") and b.startswith("conn_state=") for a, b in dirs)
    got = ds.dataset(str(tmp_path / "flows"), format="parquet", partitioning="hive").to_table().to_pandas()
    got = got.sort_values("flow_id").reset_index(drop=True)
    assert len(got) == len(want)
    for col in ("flow_id", "packets", "bytes", "src_ip", "dst_ip", "history"):
        assert list(got[col].astype(str)) == list(want[col].astype(str)), col
    assert list(got["protocol_name"].astype(str)) == list(want["protocol_name"].astype(str))
    sql = ("select protocol_name, count(*) from read_parquet('%s/**/*.parquet', hive_partitioning=true) "
           "group by 1 order by 1" % (tmp_path / "flows"))
    assert duckdb.sql(sql).fetchall() == sorted(want["protocol_name"].astype(str).value_counts().items())


def test_packets_partitioned_and_nulls(tmp_path):
    pl = fp.read(merged_capture(tmp_path))
    want = as_plain(pl.to_pandas())
    pl.to_parquet(tmp_path / "pk", partition_cols=["ip_version", "proto"])
    sql = ("select proto, count(*) from read_parquet('%s/**/*.parquet', hive_partitioning=true) "
           "group by 1 order by 1 nulls last" % (tmp_path / "pk"))
    counts = want["proto"].value_counts(dropna=False)
    expect = sorted(((None if v != v or v is None else int(v)), n) for v, n in counts.items())
    assert sorted(duckdb.sql(sql).fetchall(), key=lambda r: (r[0] is None, r[0] or 0)) == \
        sorted(expect, key=lambda r: (r[0] is None, r[0] or 0))
    got = ds.dataset(str(tmp_path / "pk"), format="parquet", partitioning="hive").to_table()
    assert got.num_rows == len(pl)
    assert sorted(got.column("time").to_pylist()) == sorted(pl.to_arrow().column("time").to_pylist())


def test_partition_columns_are_checked(tmp_path):
    flows = fp.flows(str(DATA / "http.pcap"))
    with pytest.raises(ValueError, match="no column 'nope'"):
        flows.to_parquet(tmp_path / "x", partition_cols=["nope"])
    with pytest.raises(ValueError, match="cannot name a directory"):
        fp.client_hellos(str(DATA / "tls.pcap")).to_parquet(tmp_path / "y", partition_cols=["alpn"])
