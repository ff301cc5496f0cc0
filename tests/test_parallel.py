"""workers=N (fastpkt.parallel): the engines split by flow key over threads give what one
engine gives (same records, order, flow ids, counters: flows, client_hellos, streams, http,
dns) on every capture, on generated
captures (gen_pcap's truth file for totals) and on crafted ones: TCP streams and ClientHellos
over many out-of-order segments interleaved with other connections, rotated files with
overlapping times. The single engine itself is checked against tshark and Zeek elsewhere."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from fastpkt import parallel
from _fphelpers import DATA, corpus_dir, indexed_udp_frame
from test_hello_stream import hello_for, records_of, BigHello
from test_stream_reassembly import FIN, ACK, pcap
from test_hello_stream import conn_with

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_pcap.py"
# Counters that depend on how the memory is split, not on the traffic.
PER_WORKER = ("memory_bytes", "memory_peak_bytes", "memory", "memory_peak", "max_memory", "max_flows_seen")


def fixtures() -> list[Path]:
    out = sorted(DATA.glob("*.pcap")) + sorted(DATA.glob("*.pcapng"))
    d = corpus_dir()
    if d is not None:
        out += sorted(p for p in d.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return out


def read_or_none(fn):
    try:
        return fn()
    except fp.Error:
        return None  # a capture that cannot be read: the parallel run must fail the same way


def same_stats(single: dict, merged: dict) -> None:
    assert merged["workers"] > 1
    for k, v in single.items():
        if k in PER_WORKER:
            continue
        if k in ("reassembly", "dns"):  # a peak of each worker's own state: summed, not the one engine's
            peak = "buffered_peak_bytes" if k == "reassembly" else "state_peak_bytes"
            v = {a: b for a, b in v.items() if a != peak}
            merged[k] = {a: b for a, b in merged[k].items() if a != peak}
            assert merged[k] == v
            continue
        assert merged[k] == v, k


def stream_rows(ss) -> list[tuple]:
    return [(s.stream_id, s.client_ip, s.client_port, s.server_ip, s.server_port, s.state, s.client_data,
             s.server_data, tuple(s.client_gaps), tuple(s.server_gaps), s.anomalies) for s in ss]


def streams_and_stats(source, n: int) -> tuple[list[tuple], dict]:
    st = fp.streams(source, workers=n)
    return stream_rows(st), dict(st.stats)


def dns_and_stats(source, n: int) -> tuple[list[str], dict]:
    tx = fp.dns(source, workers=n)
    return [repr(tuple(t)) for t in tx], dict(tx.stats)


def check_all(source, workers=(2, 3), expect_merge=True) -> None:
    """flows, client_hellos, streams, http and dns: every worker count gives the single result."""
    one = read_or_none(lambda: fp.flows(source, workers=1))
    df1 = read_or_none(lambda: one.to_pandas()) if one is not None else None
    h1 = read_or_none(lambda: [repr(tuple(h)) for h in fp.client_hellos(source, workers=1)])
    s1 = read_or_none(lambda: streams_and_stats(source, 1))
    m1 = read_or_none(lambda: [repr(m) for m in fp.http(source, workers=1)])
    d1 = read_or_none(lambda: dns_and_stats(source, 1))
    for n in workers:
        fl = read_or_none(lambda: fp.flows(source, workers=n))
        df = read_or_none(lambda: fl.to_pandas()) if fl is not None else None
        if df1 is None:
            assert df is None
        else:
            assert df.equals(df1)
            assert ("workers" in fl.stats) == expect_merge
            if expect_merge:
                same_stats(one.stats, dict(fl.stats))
        assert read_or_none(lambda: [repr(tuple(h)) for h in fp.client_hellos(source, workers=n)]) == h1
        s = read_or_none(lambda: streams_and_stats(source, n))
        assert (s is None) == (s1 is None)
        if s1 is not None:
            assert s[0] == s1[0]
            if expect_merge:
                same_stats(s1[1], s[1])
        assert read_or_none(lambda: [repr(m) for m in fp.http(source, workers=n)]) == m1
        d = read_or_none(lambda: dns_and_stats(source, n))
        assert (d is None) == (d1 is None)
        if d1 is not None:
            assert d[0] == d1[0]
            if expect_merge:
                same_stats(d1[1], d[1])


# two_if.pcapng goes back in time by decades, which changes what one engine expires
FALLBACK = {"two_if.pcapng"}


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_every_capture_same_with_workers(path):
    check_all(str(path), expect_merge=path.name not in FALLBACK)


def test_time_going_back_falls_back_to_one_engine():
    fl = fp.flows(str(DATA / "two_if.pcapng"), workers=2)
    df = fl.to_pandas()
    assert fl.stats["time_reversals"] > 0 and "workers" not in fl.stats
    assert df.equals(fp.flows(str(DATA / "two_if.pcapng"), workers=1).to_pandas())


def shuffled_hello_conns(k: int, seed: int) -> list[bytes]:
    """k connections, each a ClientHello over many segments out of order, interleaved."""
    conns = []
    for i in range(k):
        h = BigHello(sni="c%d.interleaved.example" % i, pad=4000 + 300 * i, seed=i)
        c = conn_with(h.records(size=1000), order="shuffled", mss=200, seed=seed + i)
        c.s(0, records_of(b"\x02" + (40).to_bytes(3, "big") + bytes(40)), ack_off=0)
        c.s(45, flags=FIN | ACK)
        port = (41000 + i).to_bytes(2, "big")
        frames = []
        for f in c.frames:  # give each connection its own client port (both directions)
            b = bytearray(f)
            at = 34 if b[26:30] == c.frames[0][26:30] else 36
            b[at:at + 2] = port
            frames.append(bytes(b))
        conns.append(frames)
    rng = random.Random(seed)
    out, pos = [], [0] * k
    while any(p < len(c) for p, c in zip(pos, conns)):
        i = rng.choice([j for j in range(k) if pos[j] < len(conns[j])])
        out.append(conns[i][pos[i]])
        pos[i] += 1
    return out


def test_hellos_and_streams_over_interleaved_out_of_order_segments():
    data = pcap(shuffled_hello_conns(12, seed=7))
    hellos = list(fp.client_hellos(data, workers=3))
    assert sorted(h.sni for h in hellos) == sorted("c%d.interleaved.example" % i for i in range(12))
    check_all(data, workers=(2, 3, 5))


def test_large_hellos_one_per_worker_count():
    frames = shuffled_hello_conns(3, seed=1)
    big = conn_with(hello_for("66k").records(), order="shuffled", seed=3).frames
    data = pcap(frames + big)
    check_all(data, workers=(2, 4))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    out = tmp_path_factory.mktemp("gen") / "g.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "30000", "--seed", "11", "--concurrency", "400",
                    "--out", str(out)], check=True, capture_output=True)
    return out


def test_generated_capture_and_its_truth(generated):
    truth = json.loads(Path(str(generated) + ".truth.json").read_text())
    df = fp.flows(str(generated), workers=2).to_pandas()
    counts = df["protocol_name"].value_counts()
    assert counts["TCP"] == truth["tcp_flows"] and counts["UDP"] == truth["udp_flows"]
    assert int(df["packets"].sum()) + fp.flows(str(generated), workers=2).stats["non_ip_packets"] \
        <= truth["total_packets"]
    snis = sorted(h.sni for h in fp.client_hellos(str(generated), workers=3))
    assert snis == sorted(truth["snis"])
    check_all(str(generated))


def test_rotated_files_with_overlapping_times(generated, tmp_path):
    pl = fp.read(str(generated))
    parts = []
    for i in range(3):  # round robin: every file spans the whole time range
        p = tmp_path / ("part%d.pcap" % i)
        fp.write(str(p), pl[i::3])
        parts.append(str(p))
    del pl
    check_all(parts)
    assert fp.flows(parts, workers=2).to_pandas().equals(fp.flows(str(generated), workers=1).to_pandas())


def test_budget_too_small_for_a_share_runs_one_engine(generated):
    single = fp.flows(str(generated), workers=1, max_flows=150)
    fl = fp.flows(str(generated), workers=2, max_flows=150)
    assert fl.to_pandas().equals(single.to_pandas())
    assert "workers" not in fl.stats  # a worker evicted: one engine decides what leaves
    assert fl.stats["evicted"] == single.stats["evicted"] > 0


def test_streamed_iteration_of_a_merged_run(generated):
    got = [f.flow_id for f in fp.flows(str(generated), workers=2)]
    assert got == [f.flow_id for f in fp.flows(str(generated), workers=1)]
    assert sorted(got) == list(range(len(got)))


def test_workers_argument_checks(tmp_path):
    src = str(DATA / "http.pcap")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            fp.flows(src, workers=bad)
    with open(src, "rb") as f, pytest.raises(ValueError, match="each worker opens"):
        fp.flows(f, workers=2)
    with pytest.raises(ValueError, match="each worker opens"):
        fp.streams(fp.open(src), workers=2)
    with pytest.raises(ValueError, match="on_data"):
        fp.streams(src, workers=2, on_data=lambda c: None)
    # auto: small inputs and one-shot sources stay on one engine
    assert "workers" not in fp.flows(src).stats
    with open(src, "rb") as f:
        assert len(fp.flows(f)) == len(fp.flows(src, workers=1))
    with pytest.raises(ValueError, match="_shard"):
        fp.Flows([fp.open(src)], _shard=(2, 2))


def test_default_is_one_worker_for_the_sharded_engines():
    """workers=None runs one engine however large the input (every shard walks all of it:
    DESIGN, "One worker by default"); read_frames reads ranges on the usable cores."""
    buf = pcap([indexed_udp_frame(i, 65000) for i in range(1040)])
    assert len(buf) >= parallel.AUTO_MIN_BYTES
    assert parallel.resolve_workers(None, buf) == 1
    assert parallel.resolve_workers(None, buf, ranges=True) == parallel.usable_cores()
    for engine in (fp.flows, fp.client_hellos, fp.streams, fp.dns):
        eng = engine(buf, progress=False)
        list(eng)
        assert "workers" not in eng.stats, engine
    assert fp.flows(buf, workers=2).stats["workers"] == 2


def test_cli_jobs_flag_gives_the_same_output():
    src = str(DATA / "tls.pcap")
    for cmd, path in ((["sni", "--ja"], src), (["streams", "--http"], src), (["dns"], str(DATA / "dns_loop.pcap"))):
        out = [subprocess.run([sys.executable, "-m", "fastpkt", *cmd, "-j", str(j), path], capture_output=True,
                              text=True, check=True).stdout for j in (1, 3)]
        assert out[0] == out[1] and out[0]


def test_filters_shared_by_the_workers(generated):
    """One compiled display filter (and a BPF filter per Reader) runs on every worker's thread."""
    src = str(generated)
    for kw in ({"display_filter": 'tcp.port == 443 || dns.qry.name matches "^[a-m]"'}, {"filter": "tcp or udp"}):
        one = fp.flows(src, workers=1, **kw).to_pandas()
        assert len(one) and fp.flows(src, workers=3, **kw).to_pandas().equals(one)
        dkw = {"bpf" if k == "filter" else k: v for k, v in kw.items()}  # fp.dns names it bpf
        dns = fp.dns(src, workers=1, **dkw).to_pandas()
        assert len(dns) and fp.dns(src, workers=3, **dkw).to_pandas().equals(dns)
