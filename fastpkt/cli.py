"""The ``fastpkt`` command line.

    fastpkt summary FILE [--filter BPF] [--top N] [--json OUT | --csv OUT]
                                                    protocols, talkers, ports, DNS/TLS/HTTP names
    fastpkt read FILE [--count N] [--filter BPF]    one line per packet (like tcpdump / Scapy)
    fastpkt read FILE --filter BPF -w OUT           the selected packets to a pcap/pcapng file
    fastpkt info FILE                               format, link type, snaplen, packets, span
    fastpkt flows FILE [--csv OUT | --json OUT | --parquet OUT]  flow records built in C
    fastpkt report FILE --png OUT [--top N]         the course's flow report + top-ports chart
    fastpkt streams FILE [--out DIR] [--http] [--csv OUT | --json OUT]   TCP streams reassembled in C
    fastpkt sni FILE [--csv OUT | --json OUT] [--ja]   TLS ClientHellos (TCP, QUIC): SNI, ALPN, JA3/JA4
    fastpkt dns FILE [--csv OUT | --json OUT]       DNS transactions (UDP, TCP): query, rcode, answers, rtt
    fastpkt filter FILE -Y EXPR [-w OUT]            packets a Wireshark display filter passes
    fastpkt stats FILE -z conv,ip [-z ...]          tshark-style statistics (io,phs, conv, endpoints, io,stat, dns/http trees)

OUT '-' is standard output; --json writes JSON Lines (one object per row; summary: one object).
Every command taking --filter (BPF) also takes -Y EXPR (a display filter, as tshark's -Y).
Also ``python -m fastpkt``.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import json
import os
import sys
from typing import IO, Any, Iterator, Sequence, cast

import fastpkt as fp


LINKTYPES = {0: "NULL (BSD loopback)", 1: "EN10MB (Ethernet)", 101: "RAW (IP)",
             108: "LOOP (OpenBSD loopback)", 113: "LINUX_SLL", 228: "IPV4", 229: "IPV6",
             276: "LINUX_SLL2"}


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """A text output: '-' is stdout (left open), anything else a file."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", newline="") as out:
        yield out


def _summary_rows(d: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """summarize()'s dict as (section, key, value) rows: scalars with an empty key, tables
    (protocols, top talkers, ...) one row per entry."""
    for section, value in d.items():
        if isinstance(value, dict):
            for k, v in value.items():
                yield section, str(k), v
        elif isinstance(value, list):
            for k, v in value:
                yield section, str(k), v
        else:
            yield section, "", "" if value is None else value


def cmd_summary(args: argparse.Namespace) -> int:
    from .summary import format_summary, summarize

    _check_output(args, args.json or args.csv)
    d = summarize(args.file, filter=args.filter, top=args.top, on_error=args.on_error,
                  display_filter=args.display_filter)
    if args.json:
        with _output(args.json) as out:
            json.dump(d, out, indent=1)
            out.write("\n")
    elif args.csv:
        with _output(args.csv) as out:
            w = csv.writer(out)
            w.writerow(("section", "key", "value"))
            w.writerows(_summary_rows(d))
    else:
        print(format_summary(d))
    return 0


def _stamp(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%H:%M:%S.%f")


def _check_output(args: argparse.Namespace, out: str | None) -> None:
    """Refuse to write a table over the capture it comes from (a capture output is safe:
    fastpkt's writers replace a file being read instead of truncating it)."""
    if out and args.file != "-" and os.path.exists(out) and os.path.exists(args.file) and \
            os.path.samefile(out, args.file):
        raise ValueError("the output %s is the input capture; choose another name" % out)


def cmd_write(args: argparse.Namespace) -> int:
    with fp.open(args.file, filter=args.filter, count=args.count, on_error=args.on_error,
                 display_filter=args.display_filter) as reader:
        packets = reader.read_all()
    fmt = args.format
    if fmt is None and not args.write.lower().endswith((".pcap", ".cap", ".pcapng", ".ntar")):
        fmt = packets.format  # no telling extension: keep the input's format
    if args.write == "-":
        n = fp.write(sys.stdout.buffer, packets, format=fmt or packets.format)
        sys.stdout.buffer.flush()
    else:
        n = fp.write(args.write, packets, format=fmt)
    print("wrote %d packets to %s" % (n, args.write), file=sys.stderr)
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    if args.write:
        return cmd_write(args)
    out = sys.stdout
    with fp.open(args.file, filter=args.filter, count=args.count, on_error=args.on_error,
                 display_filter=args.display_filter) as reader:
        for pkt in reader:
            out.write("%s %s\n" % (_stamp(pkt.time), pkt.summary()))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .summary import capture_info

    info = capture_info(args.file, on_error=args.on_error)  # one C pass, flat memory
    lt, compression, size = info["linktype"], info["compression"], info["size"]
    rows = [
        ("File", args.file),
        ("Format", "%s (%s timestamps%s)" % (info["format"], "nanosecond" if info["nanosecond"] else "microsecond",
                                             ", %s-compressed" % compression if compression else "")),
        ("Link type", "%d %s" % (lt, LINKTYPES.get(lt, ""))),
        ("Snaplen", str(info["snaplen"])),
        ("File size", "%d bytes" % size if size else "(stream)"),
        ("Packets", str(info["packets"])),
        ("Bytes on wire", str(info["bytes"])),
        ("Captured", "%d bytes" % info["captured_bytes"]),
    ]
    first, last = info["earliest"], info["latest"]
    if first is not None and last is not None:
        rows.append(("First packet", _iso_ns(first)))
        rows.append(("Last packet", _iso_ns(last)))
        rows.append(("Duration", "%.9f s" % ((last - first) / 1e9)))
        rows.append(("Time order", "strict" if info["time_ordered"] else "not strict"))
    if info["untimed"]:
        rows.append(("Without time", "%d packets" % info["untimed"]))
    if info["format"] == "pcapng":
        for i, ifc in enumerate(info["interfaces"]):
            kind = "linktype %s %s" % (ifc["linktype"], LINKTYPES.get(ifc["linktype"], "")) \
                if ifc["linktype"] is not None else "undeclared"
            rows.append(("Interface %d" % i, "%s%s, snaplen %s: %d packets, %d bytes" % (
                "%s, " % ifc["name"] if ifc["name"] else "", kind.rstrip(), ifc["snaplen"], ifc["packets"],
                ifc["bytes"])))
    if info["error"] is not None:
        rows.append(("Stopped at", str(info["error"])))
    if info["skipped"]:
        rows.append(("Skipped", "%d bad records" % info["skipped"]))
    for k, v in rows:
        print("%-14s %s" % (k + ":", v))
    return 0


def _iso_ns(ns: int) -> str:
    """UTC time with all nine digits (datetime keeps microseconds only)."""
    sec, frac = divmod(ns, 1_000_000_000)
    stamp = _dt.datetime.fromtimestamp(sec, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return "%s.%09d+00:00" % (stamp, frac)


def _flow_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {"bidirectional": args.bidirectional, "idle_timeout": args.idle_timeout,
            "active_timeout": args.active_timeout, "filter": args.filter,
            "on_error": args.on_error, "display_filter": args.display_filter, "workers": args.workers}
    if args.max_flows is not None:
        opts["max_flows"] = args.max_flows
    if args.max_memory is not None:
        opts["max_memory"] = args.max_memory << 20
    if not sys.stderr.isatty():
        opts["progress"] = False
    return opts


def cmd_flows(args: argparse.Namespace) -> int:
    from .report import format_report, report_counts

    from . import tables

    flows = fp.flows(args.file, **_flow_options(args))
    out = args.csv or args.json or args.parquet
    _check_output(args, out)
    if args.parquet:
        flows.to_parquet(args.parquet)
    elif out:
        with _output(out) as f:
            (tables.to_csv if args.csv else tables.to_json)(flows, f)
    if out:  # the export streamed the flows: len() counts what went out
        print("wrote %d flows to %s" % (len(flows), out), file=sys.stderr)
        return 0
    counts = report_counts(flows, top=args.top)  # batch by batch from the C stream
    print(format_report(counts, dict(flows.stats), top=args.top))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import chart_top_destinations, flow_report, format_report, report_counts

    flows = fp.flows(args.file, **_flow_options(args))
    counts = report_counts(flows, top=args.top)  # batch by batch from the C stream: bounded memory
    print(format_report(counts, dict(flows.stats), top=args.top, title="Flow report: %s" % args.file))
    print("")
    print("Flow summary (the course's pcap_to_flows: directional 5-tuples, busiest first)")
    if args.file == "-":  # stdin cannot be read a second time
        print("  (not available when reading stdin)")
    else:
        opts = _flow_options(args)
        opts["bidirectional"] = False
        course = flow_report(args.file, top=args.top, **opts)
        print(course.to_string(index=False) if len(course) else "  (none)")
    _check_output(args, args.png)
    if args.png:
        try:
            chart_top_destinations(counts, args.png, n=args.top)
        except ImportError:
            print("fastpkt report: matplotlib is not installed (pip install matplotlib); "
                  "no chart written", file=sys.stderr)
            return 2
        print("[*] Saved chart to %s" % args.png)
    return 0


def _endpoint(ip: str, port: int) -> str:
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def _http_lines(stream: fp.Stream) -> list[str]:
    from .http import HttpRequest

    lines = []
    for msg in stream.http_messages():
        if isinstance(msg, HttpRequest):
            lines.append("       > %s %s%s" % (msg.method, msg.uri,
                                          "  (Host: %s)" % msg.host if msg.host else ""))
        else:
            lines.append("       < %s %s  (%d body bytes%s)" % (
                msg.status, msg.reason, len(msg.body or b""),
                "" if msg.body_complete else ", incomplete"))
    return lines


def cmd_streams(args: argparse.Namespace) -> int:
    opts = {"filter": args.filter, "on_error": args.on_error, "idle_timeout": args.idle_timeout,
            "display_filter": args.display_filter, "workers": args.workers}
    if args.depth is not None:
        opts["depth"] = args.depth
    if not sys.stderr.isatty():
        opts["progress"] = False
    if args.csv or args.json:
        from . import tables

        out_path = args.csv or args.json
        _check_output(args, out_path)
        streams = fp.streams(args.file, **opts)
        with _output(out_path) as f:
            rows = (tables.to_csv if args.csv else tables.to_json)(streams, f)
        print("wrote %d streams to %s" % (rows, out_path), file=sys.stderr)
        return 0
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    n = cbytes = sbytes = gap_bytes = 0
    out = sys.stdout
    for s in fp.streams(args.file, **opts):
        n += 1
        cb, sb = len(s.client_data), len(s.server_data)
        ngaps = len(s.client_gaps) + len(s.server_gaps)
        gb = s.client_gap_bytes + s.server_gap_bytes
        cbytes += cb
        sbytes += sb
        gap_bytes += gb
        if args.out:
            for path in s.save(args.out):
                out.write("%s\n" % path)
        else:
            out.write("%5d  %s -> %s  %-9s client %d B, server %d B, %s\n" % (
                s.stream_id, _endpoint(s.client_ip, s.client_port),
                _endpoint(s.server_ip, s.server_port), s.state, cb, sb,
                "gaps %d (%d bytes)" % (ngaps, gb) if ngaps else "no gaps"))
        if args.http:
            lines = _http_lines(s)
            if lines and args.out:  # the per-stream line was not printed: say which stream
                out.write("%5d  %s -> %s\n" % (
                    s.stream_id, _endpoint(s.client_ip, s.client_port),
                    _endpoint(s.server_ip, s.server_port)))
            for line in lines:
                out.write(line + "\n")
    print("%d streams, %d bytes client -> server, %d bytes server -> client, %d bytes missing"
          % (n, cbytes, sbytes, gap_bytes), file=sys.stderr)
    return 0


def _json_lines(df: Any, out: IO[str]) -> None:
    from .tables import json_lines

    json_lines(df, out)


def _joined(value: Any) -> Any:
    """A tuple cell of hellos.to_pandas() as one CSV string: items joined by ','."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else value


def _write_records(args: argparse.Namespace, out_path: str, df: Any, list_cols: Any, what: str) -> int:
    """--json writes JSON lines; --csv joins the list columns, which CSV cannot hold."""
    with _output(out_path) as f:
        if args.json:
            _json_lines(df, f)
        else:
            for col in list_cols:
                df[col] = df[col].map(_joined)
            df.to_csv(f, index=False)
    print("wrote %d %s to %s" % (len(df), what, out_path), file=sys.stderr)
    return 0


def cmd_sni(args: argparse.Namespace) -> int:
    opts = {"filter": args.filter, "on_error": args.on_error, "idle_timeout": args.idle_timeout,
            "display_filter": args.display_filter, "workers": args.workers}
    if not sys.stderr.isatty():
        opts["progress"] = False
    hellos = fp.client_hellos(args.file, **opts)
    out_path = args.csv or args.json
    _check_output(args, out_path)
    if out_path:
        df = hellos.to_pandas().sort_values("time", kind="stable")
        tuples = [c for c in df.columns
                  if df[c].dtype == object and df[c].map(lambda v: isinstance(v, tuple)).any()]
        return _write_records(args, out_path, df, tuples, "ClientHellos")
    out = sys.stdout
    n = with_sni = quic = 0
    # records come out as connections' handshakes complete; print them in capture-time order
    for h in sorted(hellos, key=lambda h: h.time):
        n += 1
        with_sni += h.sni is not None
        quic += h.transport == "quic"
        line = "%s %s -> %s  %-4s  %s  alpn %s  %s" % (
            _stamp(h.time), _endpoint(h.client_ip, h.client_port),
            _endpoint(h.server_ip, h.server_port), h.transport, h.sni or "-",
            ",".join(h.alpn) or "-", h.version_name)
        if args.ja:
            line += "  ja3 %s  ja4 %s" % (h.ja3_hash or "-", h.ja4 or "-")
        out.write(line + "\n")
    print("%d ClientHellos (%d TCP, %d QUIC), %d with an SNI" % (n, n - quic, quic, with_sni),
          file=sys.stderr)
    return 0


def cmd_dns(args: argparse.Namespace) -> int:
    opts: dict[str, Any] = {"bpf": args.filter, "on_error": args.on_error, "idle_timeout": args.idle_timeout,
                            "display_filter": args.display_filter, "timeout": args.timeout,
                            "workers": args.workers}
    if not sys.stderr.isatty():
        opts["progress"] = False
    txns = fp.dns(args.file, **opts)
    out_path = args.csv or args.json
    _check_output(args, out_path)
    if out_path:
        df = txns.to_pandas().sort_values("ts", kind="stable")
        return _write_records(args, out_path, df, ("answers", "TTLs", "anomalies"), "DNS transactions")
    out = sys.stdout
    n = answered = 0
    # transactions close as their timeout passes or their connection ends: print them by query time
    for t in sorted(txns, key=lambda t: t.ts):
        n += 1
        answered += t.answered
        rtt = "%.6f" % t.rtt if t.rtt is not None else "-"
        out.write("%s %s -> %s  %-3s  %5d  %-5s %s  %s  rtt %s  %s%s\n" % (
            _stamp(t.ts), _endpoint(t.orig_h, t.orig_p), _endpoint(t.resp_h, t.resp_p), t.proto, t.trans_id,
            t.qtype_name or "-", t.query if t.query is not None else "-", t.rcode_name or "unanswered", rtt,
            ",".join(t.answers) or "-", "  [%s]" % ",".join(t.anomalies) if t.anomalies else ""))
    print("%d DNS transactions, %d answered" % (n, answered), file=sys.stderr)
    return 0


def _add_file_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="pcap or pcapng file ('-' for stdin)")


def _add_filter_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", "-f", metavar="BPF", help="only packets matching this BPF filter")
    _add_display_filter_arg(p)


def _add_display_filter_arg(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--display-filter", "-Y", metavar="EXPR", required=required,
                   help="only packets this Wireshark display filter passes (tshark -Y syntax, "
                        "e.g. 'dns.qry.name contains \"example\"'), run in C")


def _print_phs(df: Any) -> None:
    print("Protocol Hierarchy Statistics")
    for r in df.itertuples():
        name = "  " * (r.depth - 1) + r.protocol
        print("%-40s frames:%d bytes:%d" % (name, r.frames, r.bytes))


def _print_tree(df: Any, title: str) -> None:
    """A tshark-style stats tree: topics indented under their parents, counts beside."""
    print(title)
    print("%-30s %s" % ("Topic / Item", "Count"))
    parents = {"rcode": "rcode", "opcode": "opcodes", "query_response": "Query/Response",
               "qtype": "Query Type", "class": "Class"}
    shown: set[str] = set()
    for r in df.itertuples():
        if r.topic in ("total",):
            print("%-30s %d" % (r.name, r.count))
        elif r.topic in parents:
            if r.topic not in shown:
                shown.add(r.topic)
                print(" %-29s %d" % (parents[r.topic], df[df.topic == r.topic]["count"].sum()))
            print("  %-28s %d" % (r.name, r.count))
        elif r.topic in ("requests", "responses", "other"):
            print(" %-29s %d" % (r.name, r.count))
        elif r.topic in ("method", "status_class"):
            print("  %-28s %d" % (r.name, r.count))
            if r.topic == "status_class":
                for s in df[(df.topic == "status") & (df.value // 100 == r.value)].itertuples():
                    print("   %-27s %d" % (s.name, s.count))


def cmd_stats(args: argparse.Namespace) -> int:
    """tshark -q -z's tables, one after the other, from one C pass over the capture."""
    io = next((z for z in args.z if z.startswith("io,stat,")), None)
    interval, flist = None, []
    if io is not None:
        text, _, filters = io[len("io,stat,"):].partition(",")
        interval, flist = float(text), [f for f in filters.split(",") if f]
    st = fp.stats(args.file, interval=interval, filters=flist, filter=args.filter,
                  display_filter=args.display_filter, on_error=args.on_error,
                  defragment=not args.no_defragment)
    for z in args.z:
        df = st.z(z)  # ValueError for an unknown statistic
        print("=" * 80)
        if z == "io,phs":
            _print_phs(df)
        elif z in ("dns,tree", "http,tree"):
            _print_tree(df, "DNS:" if z == "dns,tree" else "HTTP/Packet Counter:")
        else:
            print(z)
            print(df.to_string(index=False) if len(df) else "(none)")
    print("=" * 80)
    return 0


def cmd_filter(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.read is None):
        raise ValueError("give the capture once: FILE or -r FILE ('-' for stdin)")
    args.file = args.file if args.file is not None else args.read
    args.count = None
    return cmd_read(args)


def _add_on_error_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--on-error", choices=("raise", "stop", "skip"), default="raise",
                   help="a corrupt or truncated record: fail (default), stop there, or skip it")


def _add_write_args(p: argparse.ArgumentParser, write_help: str) -> None:
    """-w OUT and its --format: read and filter both hand them to cmd_read."""
    p.add_argument("--write", "-w", metavar="OUT", help=write_help)
    p.add_argument("--format", choices=("pcap", "pcapng"),
                   help="format of OUT (default: its extension, else FILE's format)")


def _add_idle_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--idle-timeout", type=float, default=120.0, metavar="S",
                   help="end a %s after S seconds without packets (default 120)" % what)


def _add_table_outputs(p: argparse.ArgumentParser, json_help: str, csv_help: str) -> Any:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", metavar="OUT", help="write %s to OUT ('-': stdout)" % json_help)
    g.add_argument("--csv", metavar="OUT", help="write %s to OUT ('-': stdout)" % csv_help)
    return g


def _add_workers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-j", "--workers", type=int, metavar="N",
                   help="engines in parallel, each on its share of the flows (same output as one; "
                        "default: $FASTPKT_WORKERS, else the usable cores for files of 64 MiB or more, "
                        "else 1; -j 1: one engine)")


def _add_flow_args(p: argparse.ArgumentParser) -> None:
    _add_file_arg(p)
    _add_filter_arg(p)
    _add_workers_arg(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--bidirectional", dest="bidirectional", action="store_true", default=True,
                   help="one record per conversation, client -> server (default)")
    g.add_argument("--unidirectional", dest="bidirectional", action="store_false",
                   help="one record per direction (src -> dst 5-tuple)")
    _add_idle_arg(p, "flow")
    p.add_argument("--active-timeout", type=float, default=1800.0, metavar="S",
                   help="split flows longer than S seconds (default 1800)")
    p.add_argument("--max-flows", type=int, metavar="N",
                   help="flow table capacity; the oldest flows are evicted past it")
    p.add_argument("--max-memory", type=int, metavar="MIB",
                   help="memory the engine may hold (default 1024); the oldest flows are evicted past it")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per table (default 10)")
    _add_on_error_arg(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastpkt",
        description="Fast packet analysis: summarise and print pcap/pcapng captures, "
                    "aggregate them into flows, reassemble TCP streams, list TLS ClientHellos.",
        epilog="FILE may be '-' to read a capture from stdin. BPF filters use tcpdump syntax, "
               "e.g. 'tcp port 443' or 'udp and port 53'.",
    )
    parser.add_argument("--version", action="version", version="fastpkt " + fp.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("summary", help="packets per protocol, top talkers, ports, DNS/TLS/HTTP names",
                       description="Summarise a capture: packets and bytes, capture span, "
                                   "packets per protocol, top talkers, top destination ports, "
                                   "DNS names queried, TLS SNIs, HTTP hosts and anomalies.")
    _add_file_arg(p)
    _add_filter_arg(p)
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per table (default 10)")
    _add_table_outputs(p, "the summary as one JSON object", "the summary as section,key,value rows")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("read", help="one summary line per packet",
                       description="Print one summary line per packet, like tcpdump or Scapy's "
                                   "summary().")
    _add_file_arg(p)
    p.add_argument("--count", "-c", type=int, metavar="N", help="stop after N packets")
    _add_filter_arg(p)
    _add_write_args(p, "write the selected packets to OUT instead of printing them ('-': stdout); "
                       "OUT may be FILE itself (it is replaced once complete)")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("info", help="format, link type, snaplen, packets, span",
                       description="Describe a capture file (like capinfos).")
    _add_file_arg(p)
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("flows", help="flow records (bidirectional 5-tuples) built in C",
                       description="Aggregate a capture into flows: packets/bytes per direction, "
                                   "TCP state (Zeek conn_state/history), RTT, timing, SNI/HTTP/"
                                   "DNS hints. Prints the top flows and the flow-table stats, or "
                                   "writes every flow to CSV/Parquet.")
    _add_flow_args(p)
    out = _add_table_outputs(p, "all flows as JSON Lines", "all flows as CSV")
    out.add_argument("--parquet", metavar="OUT", help="write all flows as Parquet")
    p.set_defaults(func=cmd_flows)

    p = sub.add_parser("report", help="the flow report and the top-destinations chart",
                       description="The course's flow report on flows built in C: protocol "
                                   "breakdown, top flows, top destination ports, connection "
                                   "states, and a bar chart of the top destination ports (PNG, "
                                   "needs matplotlib).")
    _add_flow_args(p)
    p.add_argument("--png", metavar="OUT", required=True,
                   help="save the top-destination-ports bar chart here (PNG)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("streams", help="TCP streams reassembled in C; save them or show HTTP",
                       description="Reassemble every TCP connection (sequence order, each byte "
                                   "once, holes reported as gaps). Prints one line per stream "
                                   "(client -> server, state, bytes each way, gaps), or with "
                                   "--out saves one file per direction and prints the paths.")
    _add_file_arg(p)
    p.add_argument("--out", "-o", metavar="DIR",
                   help="save stream_{id}_{src}_{sport}_to_{dst}_{dport}.bin files here")
    _add_filter_arg(p)
    p.add_argument("--depth", type=int, metavar="N",
                   help="keep at most N bytes per direction (default: all)")
    p.add_argument("--http", action="store_true",
                   help="also print the HTTP requests and responses of each stream")
    _add_table_outputs(p, "one JSON object per stream (no payload)", "one CSV row per stream (no payload)")
    _add_workers_arg(p)
    _add_idle_arg(p, "connection")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_streams)

    p = sub.add_parser("sni", help="TLS ClientHellos (TCP reassembled, QUIC decrypted): SNI, ALPN",
                       description="List every TLS ClientHello: TCP connections on any port are "
                                   "reassembled (hellos over several segments are found) and "
                                   "QUIC Initials decrypted. One line per hello: time (UTC), "
                                   "client -> server, transport, SNI, ALPN, TLS version; with "
                                   "--ja also the JA3 hash and JA4. --csv writes every field.")
    _add_file_arg(p)
    _add_filter_arg(p)
    _add_table_outputs(p, "every ClientHello (every field) as JSON Lines",
                       "every ClientHello (every field; lists joined by ',') as CSV")
    p.add_argument("--ja", action="store_true", help="also print the JA3 hash and JA4")
    _add_workers_arg(p)
    _add_idle_arg(p, "connection")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_sni)

    p = sub.add_parser("dns", help="DNS transactions: queries paired with responses (UDP, TCP port 53)",
                       description="List every DNS transaction (Zeek dns.log's columns): a query and "
                                   "its responses on one connection with one id, over UDP (DNS, "
                                   "mDNS, LLMNR) and TCP (reassembled), or a response whose query "
                                   "was not seen. One line per transaction: time (UTC), client -> "
                                   "server, transport, id, type, name, rcode, rtt, answers. --csv "
                                   "and --json write every column.")
    _add_file_arg(p)
    _add_filter_arg(p)
    _add_table_outputs(p, "every transaction (every column) as JSON Lines",
                       "every transaction (every column; lists joined by ',') as CSV")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="a transaction closes this long after its query (default 10)")
    _add_workers_arg(p)
    _add_idle_arg(p, "connection")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_dns)

    p = sub.add_parser("filter", help="packets a Wireshark display filter passes (like tshark -Y)",
                       description="Select packets with a Wireshark display filter compiled to "
                                   "C: print one line per packet, or write them with -w (the "
                                   "input's format unless OUT's extension says otherwise).")
    p.add_argument("file", metavar="FILE", nargs="?", help="pcap or pcapng file ('-' for stdin)")
    p.add_argument("-r", dest="read", metavar="FILE", help="the capture, as tshark takes it")
    _add_display_filter_arg(p, required=True)
    p.add_argument("--filter", "-f", metavar="BPF", help="a BPF filter run first")
    _add_write_args(p, "write the packets to OUT ('-': stdout)")
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("stats", help="tshark-style statistics: hierarchy, conversations, endpoints, I/O, DNS, HTTP",
                       description="tshark -q -z's tables from one C pass over the capture: "
                                   "io,phs, conv,LAYER and endpoints,LAYER (eth, ip, ipv6, tcp, udp), "
                                   "io,stat,INTERVAL[,FILTER...] (display filters), dns,tree "
                                   "(rcodes, opcodes, queries/responses, types, classes) and "
                                   "http,tree (methods, status codes).")
    _add_file_arg(p)
    p.add_argument("-z", action="append", required=True, metavar="STAT",
                   help="a statistic, as tshark -z names it (repeatable)")
    p.add_argument("--no-defragment", action="store_true",
                   help="count IP fragments as captured (tshark -o ip.defragment:FALSE "
                        "-o ipv6.defragment:FALSE); by default they are reassembled, as tshark does")
    _add_filter_arg(p)
    _add_on_error_arg(p)
    p.set_defaults(func=cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return cast("int", args.func(args))
    except BrokenPipeError:  # `fastpkt read big.pcap | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except fp.Error as exc:
        print("fastpkt %s: %s: %s" % (args.command, args.file, exc), file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print("fastpkt %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bad filter, unreadable file
        print("fastpkt %s: %s: %s" % (args.command, getattr(args, "file", ""), exc), file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional module this command needs (matplotlib, ...)
        print("fastpkt %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
