#!/usr/bin/env python3
"""Stream benchmark: TCP reassembly (capture -> per-direction payload bytes), fastpkt side by
side with the course's Scapy code and a dpkt reassembler, on one capture, in one run.

    python benchmarks/bench_streams.py [--pcap FILE | --packets N] [--repeats 1]

Default file: benchmarks/out/gen_1000000_s1.pcap (benchmarks/gen_capture.py, generated when
missing; --packets N picks/generates gen_N_s1.pcap). Peers not installed are skipped. Every tool runs in its own
process (this script with --child NAME); peak RSS is that process's ru_maxrss (os.wait4).

Rows (fastpkt on one worker, workers=1, as the peers; every tool ends with the bytes of each direction of every TCP connection):
  fastpkt            for s in fp.streams(path): len(s.client_data), len(s.server_data)
  fastpkt on_data    fp.streams(path, store=False, on_data=cb): a Python call per in-order chunk
  scapy (course)     the course's reconstruct_streams: rdpcap, `IP in p and TCP in p and Raw in
                     p`, streams[(src, sport, dst, dport)] += p[Raw].load in capture order.
                     rdpcap of the whole file needs minutes and GBs, so it runs on the first
                     --scapy-limit packets and its time is extrapolated linearly (pps from the
                     packets processed). The course's bytes += is quadratic per stream, so on a
                     full file it would do worse than the extrapolation says.
  dpkt               dpkt.pcap.Reader + Ethernet(): per connection and direction a dict
                     seq -> payload (first copy wins), then a sorted join per direction that
                     trims overlaps, skips duplicates and notes holes (see dpkt_reassemble)
There is no plain-C reassembly floor among the shared peers (c_floor.c reads and counts flows
only), so there is no C row here; bench_read.py shows the read floor.

Check: total payload bytes client->server and server->client must be equal for fastpkt,
fastpkt on_data and dpkt (and the truth file's tcp_payload_bytes, when the capture has no
retransmissions). The course code only sees IPv4, only bytes under a Raw layer, and does not
know which side is the client; its prefix is compared with dpkt and fastpkt on the same prefix
(untimed extra runs), with the bytes it misses explained.
"""
from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

perf = time.perf_counter


def _emit(peer: str, packets: int, seconds: float, **extra) -> None:
    d = {"peer": peer, "packets": packets, "seconds": seconds,
         "pps": packets / seconds if seconds > 0 else None}
    d.update(extra)
    print(json.dumps(d), flush=True)


# ------------------------------------------------------------------ children (one per process)
def child_fastpkt(path: str, limit: int, on_data: bool) -> None:
    import fastpkt as fp

    src = fp.Reader(path, count=limit) if limit else path
    tot = {"c2s": 0, "s2c": 0, "v4_c2s": 0, "v4_s2c": 0}
    nstreams = 0
    if on_data:
        per = {"client": 0, "server": 0}

        def cb(chunk, per=per):
            per[chunk.direction] += len(chunk.data)

        t0 = perf()
        st = fp.streams(src, store=False, on_data=cb, progress=False)
        for _s in st:
            nstreams += 1
        dt = perf() - t0
        tot = {"c2s": per["client"], "s2c": per["server"]}
    else:
        t0 = perf()
        st = fp.streams(src, workers=1, progress=False)
        for s in st:
            nstreams += 1
            c, sv = len(s.client_data), len(s.server_data)
            tot["c2s"] += c
            tot["s2c"] += sv
            if s.ip_version == 4:
                tot["v4_c2s"] += c
                tot["v4_s2c"] += sv
        dt = perf() - t0
    stats = dict(st.stats)
    rs = stats.get("reassembly", {})
    _emit("fastpkt", int(stats.get("packets", 0)), dt, streams=nstreams,
          gap_bytes=int(rs.get("gap_bytes", 0)), stats=stats, **tot)


def _seq_join(segs: dict, base: int) -> tuple[bytes, int]:
    """Join {seq: payload} in sequence order from `base` (32-bit wrap aware): duplicates
    skipped, overlaps trimmed (first copy wins), holes left out and counted."""
    out = []
    expected = 0
    gap = 0
    for rel, data in sorted(((s - base) & 0xFFFFFFFF, d) for s, d in segs.items()):
        end = rel + len(data)
        if end <= expected:
            continue
        if rel < expected:
            data = data[expected - rel:]
        elif rel > expected:
            gap += rel - expected
        out.append(data)
        expected = end
    return b"".join(out), gap


def dpkt_reassemble(path: str, limit: int = 0):
    """What a competent dpkt user writes: per connection, per direction, {seq: payload}; the
    ISN from the SYN (else the first data segment), client = SYN sender (else the sender of
    the first packet, or the receiver of a SYN-ACK seen first). Returns (packets, streams)
    with streams = {(client, server): [client_bytes, server_bytes, gaps, is_v6]}."""
    import dpkt

    Eth, IP4, IP6, TCP = dpkt.ethernet.Ethernet, dpkt.ip.IP, dpkt.ip6.IP6, dpkt.tcp.TCP
    SYN, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
    conns = {}  # (lower endpoint, higher endpoint) -> [client, isn[2], segs[2], is_v6]
    n = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            if limit and n > limit:
                n -= 1
                break
            try:
                ip = Eth(buf).data
            except (dpkt.UnpackError, IndexError):
                continue
            if not isinstance(ip, (IP4, IP6)):
                continue
            tcp = ip.data
            if not isinstance(tcp, TCP):
                continue
            a, b = (ip.src, tcp.sport), (ip.dst, tcp.dport)
            key = (a, b) if a <= b else (b, a)
            c = conns.get(key)
            flags = tcp.flags
            if c is None:
                client = b if (flags & SYN and flags & ACK) else a
                c = conns[key] = [client, [None, None], [{}, {}], isinstance(ip, IP6)]
            d = 0 if a == c[0] else 1
            if flags & SYN:
                c[1][d] = (tcp.seq + 1) & 0xFFFFFFFF
            data = tcp.data
            if data:
                segs = c[2][d]
                old = segs.get(tcp.seq)
                if old is None or len(data) > len(old):  # a retransmission may carry more
                    segs[tcp.seq] = data
    streams = {}
    for key, (client, isn, segs, v6) in conns.items():
        res = []
        gaps = 0
        for d in (0, 1):
            if not segs[d]:
                res.append(b"")
                continue
            base = isn[d] if isn[d] is not None else next(iter(segs[d]))
            data, gap = _seq_join(segs[d], base)
            res.append(data)
            gaps += gap
        server = key[1] if key[0] == client else key[0]
        streams[(client, server)] = [res[0], res[1], gaps, v6]
    return n, streams


def child_dpkt(path: str, limit: int) -> None:
    import dpkt  # noqa: F401  (imported before the clock)

    t0 = perf()
    n, streams = dpkt_reassemble(path, limit)
    tot = {"c2s": 0, "s2c": 0, "v4_c2s": 0, "v4_s2c": 0}
    gaps = 0
    for cdata, sdata, g, v6 in streams.values():
        c, sv = len(cdata), len(sdata)
        tot["c2s"] += c
        tot["s2c"] += sv
        if not v6:
            tot["v4_c2s"] += c
            tot["v4_s2c"] += sv
        gaps += g
    dt = perf() - t0
    _emit("dpkt", n, dt, streams=len(streams), gap_bytes=gaps, **tot)


def child_scapy(path: str, limit: int) -> None:
    # the course's imports (scapy.all loads every layer Scapy knows, as the course does)
    from collections import defaultdict
    from scapy.all import IP, TCP, Raw, rdpcap

    t0 = perf()
    # ---- the course's reconstruct_streams, verbatim except count= (the prefix)
    packets = rdpcap(path, count=limit or -1)
    streams = defaultdict(bytes)
    for packet in packets:
        if IP in packet and TCP in packet and Raw in packet:
            ip = packet[IP]
            tcp = packet[TCP]
            flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
            streams[flow] += packet[Raw].load
    total = sum(len(v) for v in streams.values())
    dt = perf() - t0
    # ---- untimed: sides (SYN sender is the client) and the bytes the course code misses
    from scapy.all import IPv6

    role = {}  # connection -> (evidence rank, client): SYN 2, SYN-ACK 1, first packet 0
    missed_raw = missed_v6 = 0
    for packet in packets:
        l3 = packet.getlayer(IP) or packet.getlayer(IPv6)
        if l3 is None or TCP not in packet:
            continue
        tcp = packet[TCP]
        a, b = (l3.src, tcp.sport), (l3.dst, tcp.dport)
        key = frozenset((a, b))
        syn, ack = tcp.flags & 0x02, tcp.flags & 0x10
        rank, client = (2, a) if syn and not ack else (1, b) if syn else (0, a)
        if key not in role or rank > role[key][0]:
            role[key] = (rank, client)
        plen = len(bytes(tcp.payload))
        if IP not in packet:
            missed_v6 += plen
        else:
            missed_raw += plen - (len(packet[Raw].load) if Raw in packet else 0)
    tot = {"c2s": 0, "s2c": 0}
    for (src, sport, dst, dport), data in streams.items():
        client = role[frozenset(((src, sport), (dst, dport)))][1]
        tot["c2s" if client == (src, sport) else "s2c"] += len(data)
    _emit("scapy (course)", len(packets), dt, streams=len(streams), total=total,
          v4_c2s=tot["c2s"], v4_s2c=tot["s2c"], missed_v6=missed_v6, missed_not_raw=missed_raw,
          limit=limit)


def child_main(argv: list[str]) -> None:
    name, path = argv[0], argv[1]
    limit = int(argv[2]) if len(argv) > 2 else 0
    import pandas  # noqa: F401  (imported before any clock, like the shared peers)

    if name == "fastpkt":
        child_fastpkt(path, limit, on_data=False)
    elif name == "fastpkt-on_data":
        child_fastpkt(path, limit, on_data=True)
    elif name == "dpkt":
        child_dpkt(path, limit)
    elif name == "scapy":
        child_scapy(path, limit)
    else:
        sys.exit("unknown child %r" % name)


# ------------------------------------------------------------------ the run
def main() -> int:
    from bench_flows import measured, run_measured
    from bench_read import bench_setup, row_adder

    a, path, skip = bench_setup(__doc__, repeats=1)
    me = [sys.executable, os.path.abspath(__file__), "--child"]
    rows: list[tuple[str, dict]] = []
    add = row_adder(rows, skip, a.repeats)

    add("fastpkt", measured(me + ["fastpkt", path]))
    add("fastpkt on_data", measured(me + ["fastpkt-on_data", path]))
    add("scapy (course)", measured(me + ["scapy", path, str(a.scapy_limit)]), needs=["scapy"])
    add("dpkt", measured(me + ["dpkt", path]), needs=["dpkt"])

    res = dict(rows)
    truth_path = path + ".truth.json"
    truth = json.load(open(truth_path)) if os.path.exists(truth_path) else {}
    fpr = res.get("fastpkt", {})
    ref = fpr.get("pps") if "error" not in fpr else None

    def payload(r):
        return r.get("total", r.get("c2s", 0) + r.get("s2c", 0))

    print("\nfile: %s  (%s packets%s)" % (
        path, truth.get("total_packets", "?"),
        ", truth: %d TCP payload bytes" % truth["events"]["tcp_payload_bytes"] if truth else ""))
    print("%-16s %9s %9s %12s %9s %14s %9s %8s" % ("tool", "packets", "seconds", "pps",
                                                  "GB/s", "fastpkt is", "peak RSS", "streams"))
    for name, r in rows:
        if "error" in r:
            print("%-16s error: %s" % (name, r["error"].strip().splitlines()[-1][:150]))
            continue
        pps = r.get("pps") or 0
        ratio = ("%.1fx faster" % (ref / pps)) if ref and pps and not name.startswith(
            "fastpkt") else "-"
        gbs = payload(r) / r["seconds"] / 1e9 if r["seconds"] else 0
        print("%-16s %9d %9.3f %12s %9.3g %14s %6.0f MB %8s" % (
            name, r["packets"], r["seconds"], "{:,.0f}".format(pps), gbs, ratio,
            r.get("rss_mb", 0), r.get("streams", "-")))
    sc = res.get("scapy (course)")
    if sc and "error" not in sc:
        print("  (scapy's streams: directions with data, the course's dict keys; the others "
              "count connections)")
        full = truth.get("total_packets") or fpr.get("packets")
        if full and sc["packets"] < full:
            print("  scapy (course) ran on the first %d packets; the whole file extrapolated "
                  "linearly: ~%.0f s (the bytes += concatenation is quadratic per stream, so "
                  "the real figure is higher)" % (sc["packets"], full / sc["pps"]))

    print("\npayload bytes delivered (client->server / server->client):")
    full_rows = [n for n in ("fastpkt", "fastpkt on_data", "dpkt")
                 if n in res and "error" not in res[n]]
    for name in full_rows:
        r = res[name]
        print("  %-16s %13s / %13s  total %13s  gap bytes %s" % (
            name, "{:,}".format(r["c2s"]), "{:,}".format(r["s2c"]),
            "{:,}".format(r["c2s"] + r["s2c"]), "{:,}".format(r.get("gap_bytes", 0))))
    sums = {(res[n]["c2s"], res[n]["s2c"]) for n in full_rows}
    if len(sums) > 1:
        print("  per-direction check: MISMATCH")
    elif sums:
        c2s, s2c = sums.pop()
        line = "  per-direction check: all equal"
        if truth:
            tp = truth["events"]["tcp_payload_bytes"]
            line += "; truth tcp_payload_bytes %s %s" % (
                "{:,}".format(tp), "equal" if tp == c2s + s2c else
                "differs by %+d (retransmissions/gaps?)" % (c2s + s2c - tp))
        print(line)

    if sc and "error" not in sc:
        n = sc["packets"]
        print("\nscapy (course) prefix check (first %d packets; dpkt and fastpkt rerun on the "
              "same prefix, untimed):" % n)
        print("  %-16s %13s / %13s  (IPv4 only)" % ("scapy (course)", "{:,}".format(sc["v4_c2s"]),
                                                     "{:,}".format(sc["v4_s2c"])))
        pref = {}
        for name, child in (("dpkt", "dpkt"), ("fastpkt", "fastpkt")):
            r = run_measured(me + [child, path, str(n)])
            if "error" in r:
                print("  %-16s error: %s" % (name, r["error"].strip().splitlines()[-1][:150]))
                continue
            pref[name] = r
            print("  %-16s %13s / %13s  (IPv4 only; all: %s / %s)" % (
                name, "{:,}".format(r["v4_c2s"]), "{:,}".format(r["v4_s2c"]),
                "{:,}".format(r["c2s"]), "{:,}".format(r["s2c"])))
        missed = sc["missed_not_raw"]
        print("  the course code skips IPv6 (%s payload bytes in the prefix) and bytes Scapy "
              "dissects as another layer above TCP rather than Raw (%s bytes, e.g. the 4-byte "
              "NBT header on port 445)" % ("{:,}".format(sc["missed_v6"]), "{:,}".format(missed)))
        for name, r in pref.items():
            ok = r["v4_c2s"] + r["v4_s2c"] == sc["total"] + missed
            print("  %s IPv4 total == course total + bytes not under Raw: %s" % (
                name, "ok" if ok else "MISMATCH (%d vs %d)" % (
                    r["v4_c2s"] + r["v4_s2c"], sc["total"] + missed)))
    from bench_read import write_json_rows

    write_json_rows(a.json, rows, path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
