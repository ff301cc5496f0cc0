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

from typing import Any, Iterable

import fastpkt as fp
from fastpkt.summary import _human_bytes  # one byte formatter for summary and report

PROTO_NAMES = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6",
               132: "SCTP"}
COURSE_COLUMNS = ["src", "sport", "dst", "dport", "proto", "packets"]
# flow_report() columns -> Flows.to_pandas() columns
_ALIASES = {"dport": "dst_port", "sport": "src_port", "dst": "dst_ip", "src": "src_ip",
            "dst_port": "dport", "src_port": "sport", "dst_ip": "dst", "src_ip": "src"}


def _flows_frame(source: Any, **flow_options: Any):
    if hasattr(source, "to_pandas") and not isinstance(source, (str, bytes)):
        return source.to_pandas()
    return fp.flows(source, **flow_options).to_pandas()


def _col(df: Any, name: str) -> str:
    if name in df.columns:
        return name
    alt = _ALIASES.get(name)
    if alt and alt in df.columns:
        return alt
    raise KeyError("column %r (or %r) not in the flow table: %s" % (name, alt, list(df.columns)))


def _proto_names(df: Any):
    """Protocol names as the course prints them (TCP, UDP, ICMP ...), from the number."""
    if "protocol" in df.columns:
        return df["protocol"].astype("int64").map(lambda p: PROTO_NAMES.get(int(p), str(int(p))))
    return df[_col(df, "proto")].astype(str)


def flow_report(source: Any, top: int | None = 10, *, ip_versions: Iterable[int] = (4, 6),
                protocols: Iterable[str] = ("TCP", "UDP"), **flow_options: Any):
    """The course's flow summary: src, sport, dst, dport, proto, packets; busiest first.

    ``source`` is anything ``fp.flows`` reads (path, '-', file object, bytes, list of paths,
    Reader) or a ``Flows`` object already built. Flows are directional like the course's
    (``bidirectional=False`` unless given), and records of one 5-tuple split by timeouts are
    summed back into one row. ``top=None`` returns every row.
    """
    import pandas as pd

    flow_options.setdefault("bidirectional", False)
    df = _flows_frame(source, **flow_options)
    if len(df) == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("sport", "dport", "packets")
                                          else object) for c in COURSE_COLUMNS})
    names = _proto_names(df)
    keep = names.isin(list(protocols)) & df["ip_version"].isin(list(ip_versions))
    sub = pd.DataFrame({
        "src": df["src_ip"].astype(str), "sport": df["src_port"], "dst": df["dst_ip"].astype(str),
        "dport": df["dst_port"], "proto": names, "packets": df["packets"].astype("int64"),
    })[keep.to_numpy(dtype=bool)]
    if not flow_options.get("bidirectional"):
        out = sub.groupby(["src", "sport", "dst", "dport", "proto"], sort=False,
                          dropna=False)["packets"].sum().reset_index()
    else:
        out = sub.reset_index(drop=True)
    out = out.astype({"sport": "int64", "dport": "int64", "packets": "int64"})
    out = out.sort_values("packets", ascending=False, kind="stable").reset_index(drop=True)
    return out if top is None else out.head(top)


def top_destinations(df: Any, n: int = 10, by: str = "dst_port"):
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
    """Bar chart of the top destinations by packets, saved as PNG (the course's chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = top_destinations(df, n=n, by=by)
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


def protocol_breakdown(df: Any):
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
        return ip
    return ("[%s]:%d" % (ip, int(port))) if ":" in ip else ("%s:%d" % (ip, int(port)))


def format_report(df: Any, stats: dict | None = None, top: int = 10, title: str | None = None) -> str:
    """Terminal rendering of a flow table (``Flows.to_pandas()``) and its ``stats``."""
    import pandas as pd

    lines: list[str] = []
    n = len(df)
    packets = int(df["packets"].sum()) if n else 0
    nbytes = int(df["bytes"].sum()) if n and "bytes" in df.columns else 0
    if title:
        lines.append(title)
    lines.append("%d flows, %d packets, %s" % (n, packets, _human_bytes(nbytes)))
    lines.append("")
    lines.append("Protocols")
    pb = protocol_breakdown(df)
    if len(pb):
        lines.append("  %-10s %8s %10s %12s" % ("protocol", "flows", "packets", "bytes"))
        for name, row in pb.iterrows():
            lines.append("  %-10s %8d %10d %12s" % (name, row["flows"], row["packets"],
                                                   _human_bytes(row["bytes"])))
    else:
        lines.append("  (none)")
    lines.append("")
    lines.append("Top flows (packets)")
    if n:
        busiest = df.sort_values("packets", ascending=False, kind="stable").head(top)
        rows = []
        for _, r in busiest.iterrows():
            state = r.get("conn_state") if "conn_state" in df.columns else None
            state = "" if state is None or pd.isna(state) else str(state)
            rows.append((_endpoint(r["src_ip"], r.get("src_port")),
                         _endpoint(r["dst_ip"], r.get("dst_port")),
                         str(r.get("protocol_name", "")), int(r["packets"]),
                         _human_bytes(int(r["bytes"])) if "bytes" in df.columns else "",
                         "%.3f" % float(r["duration"]) if "duration" in df.columns else "", state))
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
    td = top_destinations(df, n=top) if n else []
    if len(td):
        for port, count in td.items():
            lines.append("  %-8d %d" % (port, count))
    else:
        lines.append("  (none)")
    if n and "conn_state" in df.columns:
        states = df["conn_state"].astype(object).dropna()
        states = states[states != ""]
        if len(states):
            lines.append("")
            lines.append("TCP connection states (Zeek conn_state)")
            for k, v in states.value_counts().items():
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
