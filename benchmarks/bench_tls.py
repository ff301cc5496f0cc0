#!/usr/bin/env python3
"""TLS SNI benchmark: ClientHello SNI extraction, fastpkt side by side with the course's Scapy
code and tshark, on one capture, in one run.

    python benchmarks/bench_tls.py [--packets 1000000] [--capture mixed|gen] [--pcap FILE]
                                   [--tcp-hellos T] [--quic-hellos Q] [--tls-seed S]
                                   [--repeats 1] [--scapy-limit 20000] [--skip ROWS] [--json OUT]

The capture (1M packets with ~3 % TLS flows):
  --capture mixed (default): benchmarks/out/bench_tls_<N>.pcap, exactly N packets, built once
      and cached: benchmarks/gen_capture.py --seed 1 output of N - E packets (bench_read's
      ensure_pcap) with E packets of extra TLS added by benchmarks/make_tls_pcap.py: T TCP
      connections whose ClientHellos are 600..5000 bytes (~80 % span 2-4 segments, the SNI
      anywhere in them) and Q QUIC v1 connections (encrypted Initials, hellos over ~1.1 KB
      split over two Initials). T and Q default to 400 and 100 per million packets. The
      generator alone is not enough: its ~3 % TLS has only ~300-byte hellos, each in one
      segment, and no QUIC (see make_tls_pcap.py).
  --capture gen: the generator's file as it is (benchmarks/out/gen_<N>_s1.pcap).
  --pcap FILE: any capture (no truth check unless FILE.truth.json exists).
FILE.truth.json (both generated kinds) lists every SNI written; each tool's SNIs are checked
against it as a multiset: "correct" = found and in the truth, "wrong" = found but not there
(e.g. a name cut at a segment boundary).

Rows (fastpkt on one worker, workers=1, as every peer runs on one thread; each tool in its
own process, this script with --child NAME; peak RSS = that process's ru_maxrss via
os.wait4, which includes the children it waited for: tcpdump, tshark):
  fastpkt hellos      for h in fp.client_hellos(FILE): h.sni  (TCP reassembled on any port,
                      QUIC Initials decrypted, in C)
  fastpkt to_pandas   fp.client_hellos(FILE).to_pandas(), SNIs = non-null df.sni
  fastpkt per-packet  the course's approach on fastpkt: fp.open(FILE, filter="tcp port 443"),
                      pkt.tls.sni per packet (a hello's first segment only)
  scapy (course)      the course's parse_sni + handle_tls (Section 9, verbatim) over
                      PcapReader, with the course's BPF filter "tcp port 443" applied in Python
                      (PcapReader has no filter). Scapy dissects every packet at ~4k packets/s
                      here, so it runs on the first --scapy-limit packets (0 = all) and its
                      pps is extrapolated linearly to the file; the fastpkt hellos row is
                      rerun (untimed) on the same prefix to compare the SNIs found.
  scapy sniff+BPF     the course's code as written, offline: sniff(offline=FILE,
                      filter="tcp port 443", prn=handle_tls, store=False). Scapy runs tcpdump
                      to filter the file, so it dissects only the port-443 packets; whole
                      file. This is the course's full-file SNI count.
  tshark              tshark -r FILE -Y tls.handshake.type==1 -T fields
                      -e tls.handshake.extensions_server_name (wall time incl. start-up;
                      SNIs = non-empty fields; tshark reassembles TCP and decrypts QUIC
                      Initials too)
Targets: fastpkt >= 100x the course's Scapy approach, faster than tshark, more SNIs
found than the course's code.

Suggested make target (the Makefile's bench target runs bench_read/flows/streams):
    bench-tls: build
    	$(PY) benchmarks/bench_tls.py
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

perf = time.perf_counter
TSHARK_CMD = ["tshark", "-Y", "tls.handshake.type==1", "-T", "fields",
              "-e", "tls.handshake.extensions_server_name"]


# ------------------------------------------------------------------ the course's code
def parse_sni(payload: bytes) -> str | None:
    """
    Simple TLS ClientHello SNI parser.
    """
    # ---- the course's Section 9 "TLS SNI Extractor (Metadata Only)", verbatim
    try:
        if payload[0] != 0x16:  # TLS Handshake
            return None
        # Skip record header (5 bytes) and handshake header (4 bytes)
        pointer = 5 + 4
        # Skip version (2) + random (32) + session ID length (1) + session ID
        pointer += 2 + 32
        session_len = payload[pointer]
        pointer += 1 + session_len
        # Cipher suites
        cs_len = int.from_bytes(payload[pointer:pointer+2], "big")
        pointer += 2 + cs_len
        # Compression methods
        comp_len = payload[pointer]
        pointer += 1 + comp_len
        # Extensions length
        ext_len = int.from_bytes(payload[pointer:pointer+2], "big")
        pointer += 2
        end = pointer + ext_len
        while pointer + 4 <= end:
            ext_type = int.from_bytes(payload[pointer:pointer+2], "big")
            ext_size = int.from_bytes(payload[pointer+2:pointer+4], "big")
            pointer += 4
            if ext_type == 0x00:  # SNI
                # Skip list length (2) and name type (1)
                pointer += 2 + 1
                name_len = int.from_bytes(payload[pointer:pointer+2], "big")
                pointer += 2
                return payload[pointer:pointer+name_len].decode()
            pointer += ext_size
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def _course_handler(found: list):
    from scapy.all import TCP, Raw

    def handle_tls(packet) -> None:
        if packet.haslayer(TCP) and packet.haslayer(Raw):
            sni = parse_sni(packet[Raw].load)
            if sni:
                found.append(sni)  # the course prints f"TLS SNI: {sni}"
    return handle_tls


# ------------------------------------------------------------------ children (one per process)
def _emit(peer: str, packets: int, seconds: float, snis: list, path: str, **extra) -> None:
    """The JSON line, with the SNI check against FILE.truth.json (after the clock)."""
    d = {"peer": peer, "packets": packets, "seconds": seconds,
         "pps": packets / seconds if seconds > 0 else None, "snis": len(snis),
         "unique_snis": len(set(snis))}
    truth_path = path + ".truth.json"
    if os.path.exists(truth_path):
        with open(truth_path) as f:
            truth = collections.Counter(json.load(f).get("snis", []))
        found = collections.Counter(snis)
        d["correct"] = sum((found & truth).values())
        d["wrong"] = len(snis) - d["correct"]
    d.update(extra)
    print(json.dumps(d), flush=True)


def _file_packets(path: str) -> int:
    import fastpkt as fp

    with fp.Reader(path) as r:
        return r.count()


def child_fastpkt(path: str, limit: int) -> None:
    import fastpkt as fp

    src = fp.Reader(path, count=limit) if limit else path
    snis = []
    tr = collections.Counter()
    t0 = perf()
    hs = fp.client_hellos(src, workers=1, progress=False)
    for h in hs:
        tr[h.transport] += 1
        if h.sni:
            snis.append(h.sni)
    dt = perf() - t0
    _emit("fastpkt hellos", int(hs.stats["packets"]), dt, snis, path,
          hellos=sum(tr.values()), transports=dict(tr), tls_stats=dict(hs.stats["tls"]))


def child_fastpkt_pandas(path: str, limit: int) -> None:
    import fastpkt as fp

    src = fp.Reader(path, count=limit) if limit else path
    t0 = perf()
    hs = fp.client_hellos(src, workers=1, progress=False)
    df = hs.to_pandas()
    snis = df["sni"].dropna().astype(str).tolist()
    dt = perf() - t0
    _emit("fastpkt to_pandas", int(hs.stats["packets"]), dt, snis, path, hellos=len(df))


def child_fastpkt_packet(path: str, limit: int) -> None:
    import fastpkt as fp

    snis = []
    n_hello = n_partial = 0
    t0 = perf()
    with fp.open(path, filter="tcp port 443", count=limit or None) as reader:
        for pkt in reader:
            tls = pkt.tls
            if tls is not None and tls.sni:
                snis.append(tls.sni)
        seen = reader.packets_read + reader.filtered
    dt = perf() - t0
    # untimed: how many hellos did the per-packet view see start, and how many were cut
    with fp.open(path, filter="tcp port 443", count=limit or None) as reader:
        for pkt in reader:
            tls = pkt.tls
            if tls is not None and tls.is_client_hello:
                n_hello += 1
                n_partial += not tls.hello_complete
    _emit("fastpkt per-packet", seen, dt, snis, path, hellos=n_hello, partial_hellos=n_partial)


def child_scapy(path: str, limit: int) -> None:
    from scapy.all import TCP, PcapReader

    found: list = []
    handle_tls = _course_handler(found)
    n = 0
    t0 = perf()
    with PcapReader(path) as reader:
        for packet in reader:
            n += 1
            tcp = packet.getlayer(TCP)  # the course's sniff(filter="tcp port 443"), in Python
            if tcp is not None and (tcp.sport == 443 or tcp.dport == 443):
                handle_tls(packet)
            if limit and n >= limit:
                break
    dt = perf() - t0
    _emit("scapy (course)", n, dt, found, path, limit=limit)


def child_scapy_sniff(path: str) -> None:
    from scapy.all import sniff

    found: list = []
    handle_tls = _course_handler(found)
    t0 = perf()
    sniff(offline=path, filter="tcp port 443", prn=handle_tls, store=False, quiet=True)
    dt = perf() - t0
    _emit("scapy sniff+BPF", _file_packets(path), dt, found, path)


def child_tshark(path: str) -> None:
    import subprocess

    cmd = TSHARK_CMD[:1] + ["-r", path] + TSHARK_CMD[1:]
    t0 = perf()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = perf() - t0
    if p.returncode:
        sys.exit("tshark failed: %s" % p.stderr.decode(errors="replace")[-300:])
    lines = p.stdout.decode(errors="replace").splitlines()
    snis = [s for line in lines for s in line.split(",") if s]
    _emit("tshark", _file_packets(path), dt, snis, path, hellos=len(lines))


def child_main(argv: list[str]) -> None:
    name, path = argv[0], argv[1]
    limit = int(argv[2]) if len(argv) > 2 else 0
    import pandas  # noqa: F401  (imported before any clock, like the shared peers)

    if name == "fastpkt":
        child_fastpkt(path, limit)
    elif name == "fastpkt-pandas":
        child_fastpkt_pandas(path, limit)
    elif name == "fastpkt-packet":
        child_fastpkt_packet(path, limit)
    elif name == "scapy":
        child_scapy(path, limit)
    elif name == "scapy-sniff":
        child_scapy_sniff(path)
    elif name == "tshark":
        child_tshark(path)
    else:
        sys.exit("unknown child %r" % name)


# ------------------------------------------------------------------ the capture
def ensure_tls_pcap(n: int, tcp_hellos: int, quic_hellos: int, seed: int) -> str:
    """benchmarks/out/bench_tls_<n>[...].pcap: exactly n packets, the generator's mix plus the
    synthetic TLS of make_tls_pcap.py (built once, then reused)."""
    import make_tls_pcap
    from bench_read import OUT, ensure_pcap

    default = (tcp_hellos, quic_hellos, seed) == (n * 400 // 1_000_000, n * 100 // 1_000_000, 1)
    name = "bench_tls_%d%s.pcap" % (n, "" if default else "_t%d_q%d_s%d" % (tcp_hellos, quic_hellos, seed))
    path = os.path.join(OUT, name)
    if os.path.exists(path) and os.path.exists(path + ".truth.json"):
        return path
    conns, rng = make_tls_pcap.synthesize(seed, tcp_hellos, quic_hellos)
    added = sum(len(pk) for pk, _ in conns)
    had_base = os.path.exists(os.path.join(OUT, "gen_%d_s1.pcap" % (n - added)))
    base = ensure_pcap(n - added)
    print("building %s (%d generator packets + %d of TLS) ..." % (path, n - added, added), flush=True)
    make_tls_pcap.build(base, path, seed, tcp_hellos, quic_hellos, synthesized=(conns, rng))
    if not had_base:  # an intermediate made only for this file: do not keep two copies
        for f in (base, base + ".truth.json"):
            if os.path.exists(f):
                os.remove(f)
    return path


def parse_args(doc: str):
    """This benchmark's own options, then bench_read's common command line (bench_setup)."""
    from bench_read import bench_setup, ensure_pcap

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--capture", choices=("mixed", "gen"), default="mixed")
    pre.add_argument("--tcp-hellos", type=int)
    pre.add_argument("--quic-hellos", type=int)
    pre.add_argument("--tls-seed", type=int, default=1)
    mine, rest = pre.parse_known_args()
    if "-h" in rest or "--help" in rest:
        print("bench_tls options: --capture mixed|gen (default mixed), --tcp-hellos T, "
              "--quic-hellos Q (default 400 and 100 per million packets), --tls-seed S "
              "(default 1); see the module docstring. Common options:\n")
    else:
        peek = argparse.ArgumentParser(add_help=False)
        peek.add_argument("--packets", type=int, default=1_000_000)
        peek.add_argument("--pcap")
        p, _ = peek.parse_known_args(rest)
        if not p.pcap:
            if mine.capture == "mixed":
                t = mine.tcp_hellos if mine.tcp_hellos is not None else p.packets * 400 // 1_000_000
                q = mine.quic_hellos if mine.quic_hellos is not None else p.packets * 100 // 1_000_000
                path = ensure_tls_pcap(p.packets, t, q, mine.tls_seed)
            else:
                path = ensure_pcap(p.packets)
            rest += ["--pcap", path]
    sys.argv = sys.argv[:1] + rest
    return bench_setup(doc, repeats=1)


def composition(path: str) -> dict:
    """Untimed: the capture's TLS share (TCP flows on port 443, and UDP flows with a QUIC
    ClientHello: the generator also writes random UDP/443 payloads, which are not TLS) and
    the truth."""
    import fastpkt as fp

    df = fp.flows(path, workers=1, progress=False).to_pandas()
    l4 = df[df["protocol"].isin([6, 17])]
    tls = l4[((l4["protocol"] == 6) & ((l4["src_port"] == 443) | (l4["dst_port"] == 443)))
             | ((l4["protocol"] == 17) & l4["sni"].notna())]
    out = {"packets": _file_packets(path), "flows": len(l4), "tls_flows": len(tls),
           "tls_packets": int(tls["packets"].sum()),
           "quic_flows": int((tls["protocol"] == 17).sum())}
    truth_path = path + ".truth.json"
    if os.path.exists(truth_path):
        with open(truth_path) as f:
            t = json.load(f)
        out["truth"] = {k: t.get(k) for k in ("total_packets", "client_hellos", "sni_count",
                                                "base_client_hellos", "added")}
        if "client_hellos" not in t:  # a gen_capture truth file
            out["truth"]["client_hellos"] = t.get("events", {}).get("tls_client_hello")
    return out


# ------------------------------------------------------------------ the run
def main() -> int:
    from bench_flows import measured, run_measured
    from bench_read import row_adder

    a, path, skip = parse_args(__doc__)
    me = [sys.executable, os.path.abspath(__file__), "--child"]
    rows: list[tuple[str, dict]] = []
    add = row_adder(rows, skip, a.repeats)

    add("fastpkt hellos", measured(me + ["fastpkt", path]))
    add("fastpkt to_pandas", measured(me + ["fastpkt-pandas", path]))
    add("fastpkt per-packet", measured(me + ["fastpkt-packet", path]))
    add("scapy (course)", measured(me + ["scapy", path, str(a.scapy_limit)]), needs=["scapy"])
    # Scapy compiles sniff()'s BPF filter with tcpdump.
    add("scapy sniff+BPF", measured(me + ["scapy-sniff", path]), needs=["scapy", "cmd:tcpdump"])
    add("tshark", measured(me + ["tshark", path]), needs=["cmd:tshark"])

    res = dict(rows)
    comp = composition(path)
    truth = comp.get("truth", {})
    fpr = res.get("fastpkt hellos", {})
    ref = fpr.get("pps") if "error" not in fpr else None

    print("\nfile: %s  (%d packets; TLS (TCP/443 and QUIC): %d of %d TCP/UDP flows (%.1f %%), %d "
          "packets (%.1f %%), %d QUIC flows)" % (
              path, comp["packets"], comp["tls_flows"], comp["flows"],
              100.0 * comp["tls_flows"] / max(1, comp["flows"]), comp["tls_packets"],
              100.0 * comp["tls_packets"] / max(1, comp["packets"]), comp["quic_flows"]))
    if truth:
        added = truth.get("added") or {}
        print("truth: %s ClientHellos, %s SNIs%s" % (
            truth.get("client_hellos"), truth.get("sni_count"),
            "; added by make_tls_pcap.py: %d TCP (%d over 2-4 segments, %d with the SNI past the "
            "first segment), %d QUIC (%d over two Initials)" % (
                added["tcp"], added["tcp_multi_segment"], added["tcp_sni_past_first_segment"],
                added["quic"], added["quic_two_initials"]) if added else ""))
    print("%-19s %9s %9s %12s %14s %9s %7s %6s %7s %5s" % (
        "tool", "packets", "seconds", "pps", "fastpkt is", "peak RSS", "hellos", "SNIs",
        "correct", "wrong"))
    for name, r in rows:
        if "error" in r:
            print("%-19s error: %s" % (name, r["error"].strip().splitlines()[-1][:150]))
            continue
        pps = r.get("pps") or 0
        ratio = ("%.1fx faster" % (ref / pps)) if ref and pps and not name.startswith(
            "fastpkt") else "-"
        print("%-19s %9d %9.3f %12s %14s %6.0f MB %7s %6d %7s %5s" % (
            name, r["packets"], r["seconds"], "{:,.0f}".format(pps), ratio, r.get("rss_mb", 0),
            r.get("hellos", "-"), r["snis"], r.get("correct", "-"), r.get("wrong", "-")))
    if "error" not in fpr and fpr:
        print("  fastpkt hellos by transport: %s; tls stats: %s" % (fpr.get("transports"),
                                                                  fpr.get("tls_stats")))
    pp = res.get("fastpkt per-packet")
    if pp and "error" not in pp:
        print("  per-packet: %d hellos start in a port-443 segment, %d of them continue in later "
              "segments (their SNI is found only when it lies in the first one); QUIC is UDP and "
              "encrypted, so it never shows up there; the filter 'tcp port 443' also skips "
              "802.1Q-tagged packets (so does the course's)" % (pp["hellos"], pp["partial_hellos"]))
    sc = res.get("scapy (course)")
    full = comp["packets"]
    if sc and "error" not in sc:
        if sc["packets"] < full:
            print("  scapy (course) ran on the first %d packets (%d SNIs); the whole file "
                  "extrapolated linearly: ~%.0f s" % (sc["packets"], sc["snis"], full / sc["pps"]))
            r = run_measured(me + ["fastpkt", path, str(sc["packets"])])
            if "error" not in r:
                print("  same prefix, fastpkt hellos (untimed rerun): %d SNIs (%s correct) vs the "
                      "course's %d (%s correct)" % (r["snis"], r.get("correct", "?"), sc["snis"],
                                                   sc.get("correct", "?")))

    def pps(name):
        r = res.get(name)
        return r.get("pps") if r and "error" not in r else None

    def ratio(name, base="fastpkt hellos"):
        return pps(base) / pps(name) if pps(base) and pps(name) else None

    def target(label, value, goal, fmt="%.1fx"):
        if value is None:
            print("  %-52s n/a" % label)
            return
        print("  %-52s %s (goal %s)  %s" % (label, fmt % value, fmt % goal,
                                            "ok" if value >= goal else "BELOW"))

    print("\ntargets (fastpkt hellos):")
    target("vs the course's Scapy code (PcapReader)", ratio("scapy (course)"), 100)
    target("vs tshark -Y tls.handshake.type==1 (faster)", ratio("tshark"), 1.0)
    course = res.get("scapy sniff+BPF")
    if course is None or "error" in course:
        course = None
    if course and "error" not in fpr:
        print("  %-52s %d vs %d  %s" % ("SNIs found, fastpkt vs the course's code (whole file)",
                                        fpr["snis"], course["snis"],
                                        "ok" if fpr["snis"] > course["snis"] else "NOT MORE"))
    else:
        print("  %-52s n/a" % "SNIs found, fastpkt vs the course's code (whole file)")
    print("  other ratios: vs scapy sniff+BPF %s, per-packet fastpkt vs scapy (course) %s, "
          "to_pandas vs tshark %s" % tuple(
              "%.1fx" % v if v else "n/a" for v in (ratio("scapy sniff+BPF"),
                                                   ratio("scapy (course)", "fastpkt per-packet"),
                                                   ratio("tshark", "fastpkt to_pandas"))))
    ts = res.get("tshark")
    if ts and "error" not in ts and "error" not in fpr and fpr:
        print("  SNIs: fastpkt %d, tshark %d, course %s, per-packet fastpkt %s%s" % (
            fpr["snis"], ts["snis"], course["snis"] if course else "n/a",
            pp["snis"] if pp and "error" not in pp else "n/a",
            ", truth %d" % truth["sni_count"] if truth.get("sni_count") is not None else ""))
    from bench_read import write_json_rows

    write_json_rows(a.json, rows, path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
