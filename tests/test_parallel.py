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
PER_WORKER = ("memory_bytes", "memory_peak_bytes", "memory", "memory_peak", "max_memory", "max_flows_seen",
              "live_room_waits", "split_wait_publishes",  # a live merge's waits: when its threads ran
              "live_queue_bytes", "live_queue_peak_bytes")  # its queues' slots: how far the consumer lagged


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


def _sparse(path: Path, head: bytes, size: int) -> str:
    """A file of `size` bytes starting with `head` (the rest a hole): resolve_workers reads
    only its size and first bytes."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return str(path)


def test_default_workers_follow_the_input(tmp_path, monkeypatch):
    """workers=None: the usable cores for paths and in-memory captures of AUTO_MIN_BYTES or
    more, else 1; inputs workers=N refuses (stdin, a Reader, a file object, on_data) and
    compressed files (every worker would decompress all of it) get 1 instead of an error."""
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    cores = parallel.usable_cores()
    small = pcap([indexed_udp_frame(i, 100) for i in range(10)])
    big = _sparse(tmp_path / "big.pcap", small[:24], parallel.AUTO_MIN_BYTES)
    just_under = _sparse(tmp_path / "under.pcap", small[:24], parallel.AUTO_MIN_BYTES - 1)
    gz = _sparse(tmp_path / "big.pcap.gz", b"\x1f\x8b\x08\x00", parallel.AUTO_MIN_BYTES)
    for ranges in (False, True):
        assert parallel.resolve_workers(None, small, ranges=ranges) == 1
        assert parallel.resolve_workers(None, just_under, ranges=ranges) == 1
        assert parallel.resolve_workers(None, big, ranges=ranges) == cores
        assert parallel.resolve_workers(None, [just_under, just_under], ranges=ranges) == cores  # summed
        assert parallel.resolve_workers(None, "-", ranges=ranges) == 1
        with open(big, "rb") as f:
            assert parallel.resolve_workers(None, f, ranges=ranges) == 1
        assert parallel.resolve_workers(None, [big, "-"], ranges=ranges) == 1
    assert parallel.resolve_workers(None, gz) == 1  # sharded engines: each worker would gunzip it
    assert parallel.resolve_workers(None, gz, ranges=True) == cores  # read_frames reads it whole
    assert parallel.resolve_workers(None, big, on_data=print) == 1
    assert parallel.resolve_workers(1, big) == 1
    with fp.open(str(DATA / "tls.pcap")) as r:
        assert parallel.resolve_workers(None, r) == 1


def test_workers_environment_variable(tmp_path, monkeypatch):
    """FASTPKT_WORKERS sets what workers=None runs (1: one engine whatever the size); an
    explicit workers= wins, and inputs one worker must read stay on one."""
    small = pcap([indexed_udp_frame(i, 100) for i in range(10)])
    big = _sparse(tmp_path / "big.pcap", small[:24], parallel.AUTO_MIN_BYTES)
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    assert parallel.resolve_workers(None, big) == 1
    assert parallel.resolve_workers(None, big, ranges=True) == 1
    monkeypatch.setenv(parallel.WORKERS_ENV, " 3 ")
    assert parallel.resolve_workers(None, small) == 3
    assert parallel.resolve_workers(2, small) == 2
    assert parallel.resolve_workers(None, "-") == 1
    assert parallel.resolve_workers(None, small, on_data=print) == 1
    fl = fp.flows(small)
    assert fl.stats["workers"] == 3 and fl.to_pandas().equals(fp.flows(small, workers=1).to_pandas())
    monkeypatch.setenv(parallel.WORKERS_ENV, "")
    assert parallel.resolve_workers(None, small) == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(parallel.WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="FASTPKT_WORKERS"):
            fp.flows(small)


def test_default_runs_the_usable_cores_on_large_captures(monkeypatch):
    """Every sharded engine over an in-memory capture of AUTO_MIN_BYTES: as many workers as
    usable cores (one engine on a one-core machine), the single engine's records."""
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    cores = parallel.usable_cores()
    buf = pcap([indexed_udp_frame(i, 65000) for i in range(1040)])
    assert len(buf) >= parallel.AUTO_MIN_BYTES
    for engine in (fp.flows, fp.client_hellos, fp.streams, fp.dns):
        eng = engine(buf, progress=False)
        rows = [repr(r) for r in eng]
        assert eng.stats.get("workers", 1) == cores, engine
        assert rows == [repr(r) for r in engine(buf, progress=False, workers=1)], engine


def test_default_on_a_large_generated_capture(tmp_path, monkeypatch):
    """gen_pcap's capture past AUTO_MIN_BYTES through fp.flows(path) with the default: the
    DataFrame and counters of workers=1, and stats says how many workers ran."""
    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    path = tmp_path / "big.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "130000", "--seed", "17", "--out", str(path),
                    "--no-truth"], check=True, capture_output=True)
    try:
        assert path.stat().st_size >= parallel.AUTO_MIN_BYTES
        one = fp.flows(str(path), workers=1, progress=False)
        default = fp.flows(str(path), progress=False)
        assert default.to_pandas().equals(one.to_pandas())
        cores = parallel.usable_cores()
        if cores > 1:
            assert default.stats["workers"] == cores
            assert default.stats["split_walk_memory_peak_bytes"] > 0
            same_stats(dict(one.stats), dict(default.stats))
        else:
            assert "workers" not in default.stats
    finally:
        path.unlink()


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
