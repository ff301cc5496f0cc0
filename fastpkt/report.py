"""The course's flow report, on flow records built in C (``fp.flows``).

    from fastpkt.report import flow_report, top_destinations, chart_top_destinations
    df = flow_report("trace.pcap")            # src sport dst dport proto packets, busiest first
    chart_top_destinations(fp.flows("trace.pcap").to_pandas(), "top_ports.png")

* ``flow_report(source, top=10, **flow_options)`` is the course's ``pcap_to_flows`` (Section 10
  "Flow Summary Report"): one row per directional TCP/UDP 5-tuple with its packet count, sorted
  by packets. The course looped over ``rdpcap()`` in Python; here the flow table is built in C
  and pandas only sums the (few) flow records. The course kept IPv4 only; IPv6 flows are
  included here (``ip_versions=(4,)`` restores the course's rows exactly).
* ``top_destinations(df, n)``, ``chart_top_destinations(df, png)``: the course's "Charting Top
  Conversations" (packets per destination port, bar chart saved as PNG, matplotlib Agg).
* ``protocol_breakdown(df)``: packets, bytes and flows per protocol.
* ``format_report(df, stats)``: the text ``fastpkt flows`` / ``fastpkt report`` print.

``df`` arguments accept either ``Flows.to_pandas()`` frames (``dst_port``, ``packets`` ...) or
``flow_report()`` frames (``dport``, ``packets`` ...).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, cast

import fastpkt as fp
from fastpkt.summary import SKETCH_KEYS, TopCounter, _human_bytes  # one byte formatter for summary and report

if TYPE_CHECKING:
    import pandas

PROTO_NAMES = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6",
               132: "SCTP"}
COURSE_COLUMNS = ["src", "sport", "dst", "dport", "proto", "packets"]
# flow_report() columns -> Flows.to_pandas() columns
_ALIASES = {"dport": "dst_port", "sport": "src_port", "dst": "dst_ip", "src": "src_ip",
            "dst_port": "dport", "src_port": "sport", "dst_ip": "dst", "src_ip": "src"}


def flow_frames(source: Any, **flow_options: Any) -> Iterator[pandas.DataFrame]:
    """The flow table of ``source`` as DataFrames of one record batch each (65,536 flows), from
    the flows' Arrow stream built in C: flows are converted as they leave the table, so memory
    holds one batch whatever the capture's size. A DataFrame is passed through as it is."""
    from . import frames

    if hasattr(source, "columns") and hasattr(source, "iloc"):  # a DataFrame already
        yield source
        return
    flows = source if isinstance(source, fp.Flows) else fp.flows(source, **flow_options)
    for batch in flows.record_batches():
        yield frames.batch_to_pandas(batch)


def _col(df: Any, name: str) -> str:
    if name in df.columns:
        return name
    alt = _ALIASES.get(name)
    if alt and alt in df.columns:
        return alt
    raise KeyError("column %r (or %r) not in the flow table: %s" % (name, alt, list(df.columns)))


def _proto_names(df: Any) -> Any:
    """Protocol names as the course prints them (TCP, UDP, ICMP ...), from the number."""
    if "protocol" in df.columns:
        return df["protocol"].astype("int64").map(lambda p: PROTO_NAMES.get(int(p), str(int(p))))
    return df[_col(df, "proto")].astype(str)


def _course_rows(df: Any, ip_versions: Iterable[int], protocols: Iterable[str]) -> Any:
    """One batch's flows as the course's (src, sport, dst, dport, proto, packets) rows."""
    import pandas as pd

    names = _proto_names(df)
    keep = names.isin(list(protocols)) & df["ip_version"].isin(list(ip_versions))
    return pd.DataFrame({
        "src": df["src_ip"].astype(str), "sport": df["src_port"], "dst": df["dst_ip"].astype(str),
        "dport": df["dst_port"], "proto": names, "packets": df["packets"].astype("int64"),
    })[keep.to_numpy(dtype=bool)]


def flow_report(source: Any, top: int | None = 10, *, ip_versions: Iterable[int] = (4, 6),
                protocols: Iterable[str] = ("TCP", "UDP"), **flow_options: Any) -> pandas.DataFrame:
    """The course's flow summary: src, sport, dst, dport, proto, packets; busiest first.

    ``source`` is anything ``fp.flows`` reads (path, '-', file object, bytes, list of paths,
    Reader), a ``Flows`` object already built, or its ``to_pandas()`` frame. Flows are
    directional like the course's (``bidirectional=False`` unless given), and records of one
    5-tuple split by timeouts are summed back into one row. ``top=None`` returns every row.
    The flows are read batch by batch (``flow_frames``); with ``top`` the 5-tuples are counted
    in a Space-Saving sketch of 100,000 keys: exact unless a capture has more directional
    5-tuples than that, then the top rows are estimates (never under the true count).
    """
    import pandas as pd

    flow_options.setdefault("bidirectional", False)
    keys = ["src", "sport", "dst", "dport", "proto"]
    counter = TopCounter(capacity=SKETCH_KEYS if top is not None else 1 << 62)
    kept: list[Any] = []  # bidirectional records stay rows of their own: the busiest so far
    for df in flow_frames(source, **flow_options):
        if len(df) == 0:
            continue
        sub = _course_rows(df, ip_versions, protocols)
        if flow_options.get("bidirectional"):
            both = pd.concat(kept + [sub], ignore_index=True)
            kept = [both if top is None else both.sort_values("packets", ascending=False, kind="stable").head(top)]
        else:
            sums = sub.groupby(keys, sort=False, dropna=False)["packets"].sum()
            counter.add((k, int(n)) for k, n in sums.items())
    if flow_options.get("bidirectional"):
        out = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=COURSE_COLUMNS)
    else:
        rows = counter.top(len(counter.counts) if top is None else top)
        out = pd.DataFrame([(*k, n) for k, n in rows], columns=COURSE_COLUMNS)
    if not len(out):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("sport", "dport", "packets")
                                          else object) for c in COURSE_COLUMNS})
    out = out.astype({"sport": "int64", "dport": "int64", "packets": "int64"})
    out = out.sort_values("packets", ascending=False, kind="stable").reset_index(drop=True)
    return out if top is None else out.head(top)


def top_destinations(df: Any, n: int = 10, by: str = "dst_port") -> Any:
    """Packets per destination (port by default), largest first: a pandas Series."""
    key = _col(df, by)
    s = df[df[key].notna()].groupby(key, observed=True)["packets"].sum()
    s = s.astype("int64").sort_values(ascending=False, kind="stable").head(n)
    if by in ("dst_port", "dport", "src_port", "sport"):
        s.index = s.index.astype("int64")
    return s


_TITLES = {"dst_port": ("Top Destination Ports", "Destination Port"),
           "dst_ip": ("Top Destination Hosts", "Destination Address")}


def chart_top_destinations(df: Any, png_path: str, by: str = "dst_port", n: int = 10) -> str:
    """Bar chart of the top destinations by packets, saved as PNG (the course's chart); ``df``
    may also be the ``ReportCounts`` of a flow table read in batches (ports only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = df.top_ports(n) if isinstance(df, ReportCounts) else top_destinations(df, n=n, by=by)
    title, xlabel = _TITLES.get(by if by in _TITLES else _ALIASES.get(by, by),
                                ("Top %s" % by, by))
    fig, ax = plt.subplots()
    try:
        if len(top):
            top.plot(kind="bar", ax=ax)
        else:
            ax.text(0.5, 0.5, "no flows", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Packet Count")
        fig.tight_layout()
        fig.savefig(png_path)
    finally:
        plt.close(fig)
    return str(png_path)


def protocol_breakdown(df: Any) -> Any:
    """Packets, bytes and flows per protocol name (a DataFrame indexed by protocol)."""
    import pandas as pd

    if len(df) == 0:
        return pd.DataFrame({"flows": [], "packets": [], "bytes": []}).astype("int64")
    names = df["protocol_name"].astype(str) if "protocol_name" in df.columns else _proto_names(df)
    tab = pd.DataFrame({"protocol": names.to_numpy(),
                        "packets": df["packets"].astype("int64").to_numpy(),
                        "bytes": (df["bytes"].astype("int64").to_numpy() if "bytes" in df.columns
                                  else 0)})
    out = tab.groupby("protocol").agg(flows=("packets", "size"), packets=("packets", "sum"),
                                      bytes=("bytes", "sum"))
    return out.sort_values("packets", ascending=False, kind="stable")


def _endpoint(ip: Any, port: Any) -> str:
    ip = str(ip)
    import pandas as pd

    if port is None or pd.isna(port):
        return cast("str", ip)
    return ("[%s]:%d" % (ip, int(port))) if ":" in ip else ("%s:%d" % (ip, int(port)))


class ReportCounts:
    """What ``format_report`` shows, counted batch by batch (``add`` one flow DataFrame at a
    time): totals, per-protocol flows/packets/bytes, packets per destination port, Zeek
    conn_state counts (small domains, exact) and the ``top`` busiest flows seen so far. Memory is
    bounded whatever the number of flows."""

    def __init__(self, top: int = 10) -> None:
        self.top = top
        self.flows = self.packets = self.bytes = 0
        self.has_bytes = self.has_states = False
        self.protocols: dict[str, list[int]] = {}  # name -> [flows, packets, bytes]
        self.dst_ports: dict[int, int] = {}
        self.states: dict[str, int] = {}
        self.busiest: Any = None

    def add(self, df: Any) -> None:
        import pandas as pd

        if len(df) == 0:
            return
        self.flows += len(df)
        self.packets += int(df["packets"].sum())
        self.has_bytes = "bytes" in df.columns
        if self.has_bytes:
            self.bytes += int(df["bytes"].sum())
        for name, row in protocol_breakdown(df).iterrows():
            acc = self.protocols.setdefault(str(name), [0, 0, 0])
            for i, col in enumerate(("flows", "packets", "bytes")):
                acc[i] += int(row[col])
        key = _col(df, "dst_port")
        for port, n in df[df[key].notna()].groupby(key, observed=True)["packets"].sum().items():
            self.dst_ports[int(port)] = self.dst_ports.get(int(port), 0) + int(n)
        if "conn_state" in df.columns:
            self.has_states = True
            states = df["conn_state"].astype(object).dropna()
            for state, n in states[states != ""].value_counts(sort=False).items():
                self.states[str(state)] = self.states.get(str(state), 0) + int(n)
        top = df.sort_values("packets", ascending=False, kind="stable").head(self.top)
        both = top if self.busiest is None else pd.concat([self.busiest, top], ignore_index=True)
        self.busiest = both.sort_values("packets", ascending=False, kind="stable").head(self.top)

    def top_ports(self, n: int) -> Any:
        """Packets per destination port, largest first (``top_destinations`` of every flow)."""
        import pandas as pd

        ports = sorted(self.dst_ports.items())
        s = pd.Series([c for _, c in ports], index=pd.Index([p for p, _ in ports], dtype="int64"), dtype="int64")
        return s.sort_values(ascending=False, kind="stable").head(n)


def report_counts(flows: Any, top: int = 10) -> ReportCounts:
    """Counts of every flow of ``flows`` (a Flows object, or what ``fp.flows`` reads), read as
    record batches from the C stream."""
    counts = ReportCounts(top)
    for df in flow_frames(flows):
        counts.add(df)
    return counts


def format_report(df: Any, stats: dict[str, Any] | None = None, top: int = 10, title: str | None = None) -> str:
    """Terminal rendering of a flow table (``Flows.to_pandas()``, or the ``ReportCounts`` of
    one read in batches) and its ``stats``."""
    counts = df if isinstance(df, ReportCounts) else ReportCounts(top)
    if counts is not df:
        counts.add(df)
    lines: list[str] = []
    n = counts.flows
    if title:
        lines.append(title)
    lines.append("%d flows, %d packets, %s" % (n, counts.packets, _human_bytes(counts.bytes)))
    lines.append("")
    lines.append("Protocols")
    protos = sorted(sorted(counts.protocols.items()), key=lambda kv: -kv[1][1])
    if protos:
        lines.append("  %-10s %8s %10s %12s" % ("protocol", "flows", "packets", "bytes"))
        for name, (flows, packets, nbytes) in protos:
            lines.append("  %-10s %8d %10d %12s" % (name, flows, packets, _human_bytes(nbytes)))
    else:
        lines.append("  (none)")
    lines.append("")
    lines.append("Top flows (packets)")
    if n:
        import pandas as pd

        busiest = counts.busiest.head(top)
        has = busiest.columns
        rows = []
        for _, r in busiest.iterrows():
            state = r.get("conn_state") if "conn_state" in has else None
            state = "" if state is None or pd.isna(state) else str(state)
            rows.append((_endpoint(r["src_ip"], r.get("src_port")),
                         _endpoint(r["dst_ip"], r.get("dst_port")),
                         str(r.get("protocol_name", "")), int(r["packets"]),
                         _human_bytes(int(r["bytes"])) if "bytes" in has else "",
                         "%.3f" % float(r["duration"]) if "duration" in has else "", state))
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        lines.append("  %-*s    %-*s %-7s %8s %10s %10s %s" % (w1, "client", w2, "server", "proto",
                                                              "packets", "bytes", "seconds",
                                                              "state"))
        for r in rows:
            lines.append("  %-*s -> %-*s %-7s %8d %10s %10s %s" % (w1, r[0], w2, r[1], *r[2:]))
    else:
        lines.append("  (none)")
    lines.append("")
    lines.append("Top destination ports (packets)")
    td: Any = counts.top_ports(top) if n else []
    if len(td):
        for port, count in td.items():
            lines.append("  %-8d %d" % (port, count))
    else:
        lines.append("  (none)")
    if n and counts.states:
        lines.append("")
        lines.append("TCP connection states (Zeek conn_state)")
        for k, v in sorted(counts.states.items(), key=lambda kv: -kv[1]):
            lines.append("  %-8s %d" % (k, v))
    if stats:
        lines.append("")
        lines.append("Stats")
        for key in ("packets", "bytes", "non_ip_packets", "flows_created", "evicted", "fragments",
                    "anomalies", "max_flows_seen", "memory_bytes"):
            if key in stats:
                lines.append("  %-16s %s" % (key, stats[key]))
        exp = stats.get("flows_expired")
        if isinstance(exp, dict):
            lines.append("  %-16s %s" % ("flows_expired", ", ".join(
                "%s=%s" % (k, v) for k, v in exp.items())))
    return "\n".join(lines)
