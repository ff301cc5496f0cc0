"""tshark-style statistics (``tshark -q -z ...``) as DataFrames.

    st = fp.stats("trace.pcap")                 # one C pass: the capture's typed columns
    st.conversations("tcp")                     # -z conv,tcp   (eth, ip, ipv6, tcp, udp)
    st.endpoints("ip")                          # -z endpoints,ip
    st.io(1.0, ["dns", "tcp.flags.syn == 1"])   # -z io,stat,1,dns,"tcp.flags.syn == 1"
    st.dns(), st.http()                         # names, types, codes, methods, hosts
    st.plot_io(1.0)                             # the I/O graph (matplotlib)

The capture is read once into a PacketList whose columns are built in C (addresses, ports,
lengths, times, DNS names, HTTP hosts); the tables are vectorised pandas aggregations over
them, and io() filters run as display filters in C (``PacketList.filter_mask``). No Python
runs per packet.
"""
from __future__ import annotations

from typing import Any, Sequence

LAYERS = ("eth", "ip", "ipv6", "tcp", "udp")
MAX_INTERVALS = 10_000_000


class Stats:
    """Statistics over one capture; see the module docstring."""

    def __init__(self, source: Any, *, filter: str | None = None,  # noqa: A002
                 display_filter: Any = None, on_error: str = "raise") -> None:
        from . import read

        self.packets = read(source, filter=filter, display_filter=display_filter, on_error=on_error)
        self._df: Any = None

    @property
    def frame(self) -> Any:
        """The capture's columns (``PacketList.to_pandas()``), built once."""
        if self._df is None:
            self._df = self.packets.to_pandas()
        return self._df

    def _ns(self, rows: Any) -> Any:
        """Packet times in integer nanoseconds since the epoch."""
        return rows["time"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype("int64")

    def _start(self) -> int:
        return int(self._ns(self.frame).min()) if len(self.frame) else 0

    def _keys(self, layer: str) -> tuple[Any, Any, Any]:
        """(rows of the layer, endpoint A column, endpoint B column) as strings."""
        if layer not in LAYERS:
            raise ValueError("layer must be one of %s, not %r" % (", ".join(LAYERS), layer))
        df = self.frame
        if layer == "eth":
            rows = df[df["eth_src"].notna()]
            return rows, rows["eth_src"].astype(str), rows["eth_dst"].astype(str)
        if layer in ("tcp", "udp"):
            rows = df[df["src"].notna()]
            rows = rows[(rows["proto"] == (6 if layer == "tcp" else 17)) & rows["sport"].notna()]
            a = rows["src"].astype(str) + ":" + rows["sport"].astype(str)
            b = rows["dst"].astype(str) + ":" + rows["dport"].astype(str)
            return rows, a, b
        rows = df[(df["ip_version"] == (6 if layer == "ipv6" else 4)) & df["src"].notna()]
        return rows, rows["src"].astype(str), rows["dst"].astype(str)

    def conversations(self, layer: str = "ip") -> Any:
        """``tshark -z conv,LAYER``: one row per pair of endpoints (A is the sender of the
        pair's first packet): frames and bytes A->B and B->A, totals, start relative to the
        first packet, duration. TCP/UDP endpoints are "address:port". Sorted by total frames
        then bytes, descending."""
        import pandas as pd

        rows, a, b = self._keys(layer)
        cols = ["a", "b", "frames_ab", "bytes_ab", "frames_ba", "bytes_ba", "frames", "bytes",
                "rel_start", "duration"]
        if rows.empty:
            return pd.DataFrame(columns=cols)
        first_is_a = a <= b
        lo, hi = a.where(first_is_a, b), b.where(first_is_a, a)
        t = pd.DataFrame({"lo": lo.values, "hi": hi.values, "fwd": first_is_a.values,
                          "len": rows["wirelen"].astype("int64").values, "time": self._ns(rows)})
        g = t.groupby(["lo", "hi"], sort=False)
        first = g.head(1).set_index(["lo", "hi"])
        agg = g.agg(frames=("len", "size"), bytes=("len", "sum"), start=("time", "min"),
                    end=("time", "max"))
        fwd = t[t["fwd"]].groupby(["lo", "hi"]).agg(f=("len", "size"), b=("len", "sum"))
        rev = t[~t["fwd"]].groupby(["lo", "hi"]).agg(f=("len", "size"), b=("len", "sum"))
        agg = agg.join(fwd.add_suffix("_lohi")).join(rev.add_suffix("_hilo")).fillna(0)
        a_is_lo = first["fwd"].reindex(agg.index)
        out = pd.DataFrame({
            "a": [lo_ if f else hi_ for (lo_, hi_), f in zip(agg.index, a_is_lo)],
            "b": [hi_ if f else lo_ for (lo_, hi_), f in zip(agg.index, a_is_lo)],
            "frames_ab": agg["f_lohi"].where(a_is_lo, agg["f_hilo"]).astype("int64").values,
            "bytes_ab": agg["b_lohi"].where(a_is_lo, agg["b_hilo"]).astype("int64").values,
            "frames_ba": agg["f_hilo"].where(a_is_lo, agg["f_lohi"]).astype("int64").values,
            "bytes_ba": agg["b_hilo"].where(a_is_lo, agg["b_lohi"]).astype("int64").values,
            "frames": agg["frames"].astype("int64").values,
            "bytes": agg["bytes"].astype("int64").values,
            "rel_start": ((agg["start"] - self._start()) / 1e9).values,
            "duration": ((agg["end"] - agg["start"]) / 1e9).values,
        })
        return out.sort_values(["frames", "bytes"], ascending=False, kind="stable").reset_index(drop=True)

    def endpoints(self, layer: str = "ip") -> Any:
        """``tshark -z endpoints,LAYER``: per address (address:port for TCP/UDP) frames and
        bytes in total, sent (tx) and received (rx)."""
        import pandas as pd

        rows, a, b = self._keys(layer)
        size = rows["wirelen"].astype("int64").values
        tx = pd.DataFrame({"address": a.values, "len": size}).groupby("address")["len"].agg(["size", "sum"])
        rx = pd.DataFrame({"address": b.values, "len": size}).groupby("address")["len"].agg(["size", "sum"])
        out = tx.add_prefix("tx_").join(rx.add_prefix("rx_"), how="outer").fillna(0).astype("int64")
        out = out.rename(columns={"tx_size": "tx_frames", "tx_sum": "tx_bytes",
                                  "rx_size": "rx_frames", "rx_sum": "rx_bytes"})
        out["frames"] = out["tx_frames"] + out["rx_frames"]
        out["bytes"] = out["tx_bytes"] + out["rx_bytes"]
        out = out.reset_index()[["address", "frames", "bytes", "tx_frames", "tx_bytes", "rx_frames",
                                 "rx_bytes"]]
        return out.sort_values(["frames", "bytes"], ascending=False, kind="stable").reset_index(drop=True)

    def io(self, interval: float = 1.0, filters: Sequence[Any] = ()) -> Any:
        """``tshark -z io,stat,INTERVAL[,FILTER...]``: frames and bytes per interval from the
        first packet (``start`` in seconds), then ``frames_i``/``bytes_i`` per display filter
        (each run in C over the capture). At most 10 million intervals (ValueError)."""
        import numpy as np
        import pandas as pd

        if not interval > 0:
            raise ValueError("interval must be > 0 seconds")
        df = self.frame
        if not len(df):
            return pd.DataFrame(columns=["start", "frames", "bytes"])
        ns = self._ns(df) - self._start()
        bucket = ns // int(round(interval * 1e9))
        size = df["wirelen"].to_numpy().astype("int64")
        n = int(bucket.max()) + 1
        if n > MAX_INTERVALS:  # every interval is a row, empty ones too (as tshark prints them)
            raise ValueError("%d intervals of %g s span the capture: more than %d; use a longer "
                             "interval" % (n, interval, MAX_INTERVALS))
        out = {"start": np.arange(n) * interval,
               "frames": np.bincount(bucket, minlength=n),
               "bytes": np.bincount(bucket, weights=size, minlength=n).astype("int64")}
        for i, f in enumerate(filters, 1):
            mask = np.frombuffer(self.packets.filter_mask(f), dtype=np.uint8).astype(bool)
            out["frames_%d" % i] = np.bincount(bucket[mask], minlength=n)
            out["bytes_%d" % i] = np.bincount(bucket[mask], weights=size[mask], minlength=n).astype("int64")
        return pd.DataFrame(out)

    def dns(self) -> Any:
        """Queried names with their packet counts (``-z dns,tree``'s names), most first."""
        return self._counts("dns_qname", "name")

    def http(self) -> Any:
        """HTTP hosts with their packet counts (``-z http,tree``'s hosts), most first."""
        return self._counts("http_host", "host")

    def _counts(self, column: str, name: str) -> Any:
        s = self.frame[column].dropna().astype(str)
        out = s.value_counts().rename_axis(name).reset_index(name="packets")
        return out.sort_values(["packets", name], ascending=[False, True], kind="stable").reset_index(drop=True)

    def plot_io(self, interval: float = 1.0, filters: Sequence[Any] = (), ax: Any = None) -> Any:
        """The I/O graph: frames per interval, one line per filter (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        t = self.io(interval, filters)
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3.5))
        ax.plot(t["start"], t["frames"], label="all frames", drawstyle="steps-post")
        for i, f in enumerate(filters, 1):
            ax.plot(t["start"], t["frames_%d" % i], label=str(f), drawstyle="steps-post")
        ax.set_xlabel("seconds from the first packet")
        ax.set_ylabel("frames / %g s" % interval)
        ax.legend(loc="upper right")
        return ax


def stats(source: Any, *, filter: str | None = None, display_filter: Any = None,  # noqa: A002
          on_error: str = "raise") -> Stats:
    """tshark-style statistics over a capture (see fastpkt.stats.Stats)."""
    return Stats(source, filter=filter, display_filter=display_filter, on_error=on_error)
