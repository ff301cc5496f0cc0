#!/usr/bin/env python3
"""fastpkt peer for ../shared/bench (same CLI and JSON line as the shared peers).

    python benchmarks/peers_fastpkt.py FILE --task dissect|flows [--limit N]

dissect: Python loop over fp.open() touching src/dst/proto/length and both ports;
         check = sum of sport+dport over TCP/UDP packets (must equal the C floor's).
flows:   fp.read().to_pandas() + pandas groupby on the direction-independent 5-tuple
         (the flow table in C, fp.flows, is timed by bench_flows.py).
To use it with run_all.sh, copy it to peers/fastpkt_peer.py and add a `fastpkt)` line to cmds().
"""
import os
import sys

sys.path.insert(0, os.environ.get("FASTPKT_BENCH_PEERS",
                                  os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "..", "..", "shared", "bench", "peers")))
from _common import parse, emit, perf  # noqa: E402


def dissect(fp, path, limit):
    n = nip = nl4 = ports = lens = 0
    t0 = perf()
    for pkt in fp.open(path, count=limit or None):
        n += 1
        ip = pkt.ip or pkt.ip6
        if ip is not None:
            src, dst, proto = ip.src, ip.dst, ip.proto
            nip += 1
            lens += pkt.wirelen
            l4 = pkt.tcp or pkt.udp
            if l4 is not None:
                nl4 += 1
                ports += l4.sport + l4.dport
    return n, perf() - t0, dict(ip_packets=nip, l4_packets=nl4, check=ports)


def flows(fp, path, limit):
    import numpy as np
    import pandas as pd

    t0 = perf()
    df = fp.read(path, count=limit or None).to_pandas()
    n = len(df)
    df = df[df["proto"].isin([6, 17]) & df["sport"].notna()]
    src, dst = df["src"].astype(str).to_numpy(), df["dst"].astype(str).to_numpy()
    sp, dp = df["sport"].to_numpy(dtype=np.int64), df["dport"].to_numpy(dtype=np.int64)
    swap = (src > dst) | ((src == dst) & (sp > dp))
    key = pd.DataFrame({
        "proto": df["proto"].to_numpy(dtype=np.int64),
        "a_ip": np.where(swap, dst, src), "a_port": np.where(swap, dp, sp),
        "b_ip": np.where(swap, src, dst), "b_port": np.where(swap, sp, dp),
        "bytes": df["wirelen"].to_numpy(), "time": df["time"].to_numpy(),
    })
    table = key.groupby(["proto", "a_ip", "a_port", "b_ip", "b_port"], sort=False).agg(
        packets=("bytes", "size"), bytes=("bytes", "sum"), first=("time", "min"), last=("time", "max"))
    return n, perf() - t0, dict(flows=len(table))


def main():
    a = parse("fastpkt", ["dissect", "flows"])
    import fastpkt as fp

    fn = dissect if a.task == "dissect" else flows
    n, dt, extra = fn(fp, a.pcap, a.limit)
    emit("fastpkt", a.task, n, dt, version=fp.__version__, **extra)


if __name__ == "__main__":
    main()
