"""tshark-style statistics (``tshark -q -z ...``) as DataFrames and Arrow streams.

    st = fp.stats("trace.pcap", interval=1.0, filters=["dns"])  # one C pass over the file
    st.phs()                                    # -z io,phs   (protocol hierarchy)
    st.conversations("tcp")                     # -z conv,tcp (eth, ip, ipv6, tcp, udp)
    st.endpoints("ip")                          # -z endpoints,ip
    st.io()                                     # -z io,stat,1,dns (the pass's interval, filters)
    st.dns(), st.http()                         # -z dns,tree, -z http,tree
    st.z("conv,tcp")                            # any of them by tshark's name
    st.arrow("io,phs")                          # the same table over Arrow's C stream
    st.plot_io(), st.plot_phs()                 # matplotlib

One pass in C (``csrc/stats``) reads, dissects and counts every packet with the GIL
released: the hierarchy, the conversations of every layer, the io,stat buckets (its display
filters read the dissection already made) and the DNS and HTTP trees. State is bounded by
``max_memory`` (conversation tables and buckets) and fixed caps (4096 hierarchy paths, 256
DNS types/classes and HTTP methods); what a bound refused is counted in ``st.cut``.
IP fragments are reassembled as tshark does by default (``defragment=False``: counted as
captured, as ``tshark -o ip.defragment:FALSE -o ipv6.defragment:FALSE``).
``io()`` with another interval or other filters reads the capture again (a path or bytes;
an exhausted stream cannot be). The per-name counts of ``dns_names()``/``http_hosts()`` are
counted in the same pass.
"""
from __future__ import annotations

import os
from typing import IO, Any, Sequence

from . import frames
from ._fastpkt import _arrow_schema, _arrow_stream, _stats

LAYERS = ("eth", "ip", "ipv6", "tcp", "udp")
MAX_INTERVALS = 10_000_000

# DNS names as tshark's dns,tree prints them (RFC 1035 4.1.1, RFC 2136, IANA registries)
RCODES = {0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name",
          4: "Not implemented", 5: "Refused", 6: "Name exists", 7: "RRset exists",
          8: "RRset does not exist", 9: "Not authoritative", 10: "Name out of zone"}
OPCODES = {0: "Standard query", 1: "Inverse query", 2: "Server status request",
           4: "Zone change notification", 5: "Dynamic update"}
QTYPES = dict(enumerate(
    "- A NS MD MF CNAME SOA MB MG MR NULL WKS PTR HINFO MINFO MX TXT RP AFSDB X25 ISDN RT NSAP "
    "NSAP-PTR SIG KEY PX GPOS AAAA LOC NXT EID NIMLOC SRV ATMA NAPTR KX CERT A6 DNAME SINK OPT "
    "APL DS SSHFP IPSECKEY RRSIG NSEC DNSKEY DHCID NSEC3 NSEC3PARAM TLSA SMIMEA - HIP".split()))
QTYPES.update({59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB",
               65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
               253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA"})
CLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
STATUS_CLASSES = {1: "1xx: Informational", 2: "2xx: Success", 3: "3xx: Redirection",
                  4: "4xx: Client Error", 5: "5xx: Server Error"}


class StatsTable:
    """One statistics table: ``to_pandas()``, ``to_arrow()`` and the Arrow PyCapsule
    interface (``__arrow_c_stream__``, built by ``csrc/py/arrow.c``)."""

    def __init__(self, df: Any) -> None:
        self._df = df

    def _specs(self) -> list[tuple[Any, ...]]:
        specs: list[tuple[Any, ...]] = []
        for name in self._df.columns:
            col = self._df[name]
            kind = col.dtype.kind
            if kind in "iub":
                dtype = {"i": "<i8", "u": "<u8", "b": "|b1"}[kind]
                specs.append((name, dtype, col.to_numpy().astype(dtype.replace("|b1", "u1")).tobytes()))
            elif kind == "f":
                specs.append((name, "<f8", col.to_numpy().astype("<f8").tobytes()))
            else:
                specs.append((name, "str", [None if v is None else str(v) for v in col.tolist()]))
        return specs

    def to_pandas(self) -> Any:
        return self._df.copy()

    def to_arrow(self) -> Any:
        pa = frames._require("pyarrow")
        return pa.RecordBatchReader.from_stream(self).read_all()

    def to_polars(self) -> Any:
        from . import tables

        return tables.to_polars(self)

    def to_parquet(self, path: str | os.PathLike[str], partition_cols: Sequence[str] | None = None) -> None:
        from . import tables

        tables.to_parquet(self, path, partition_cols=partition_cols)

    def to_csv(self, path: str | os.PathLike[str] | IO[str]) -> int:
        from . import tables

        return tables.to_csv(self, path)

    def record_batches(self, batch_size: int | None = None) -> Any:
        from . import tables

        return tables.record_batches(self, batch_size)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        specs = self._specs()
        return _arrow_stream(specs, iter([specs]))

    def __arrow_c_schema__(self) -> Any:
        return _arrow_schema(self._specs())

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        return "<fastpkt.StatsTable %d rows: %s>" % (len(self._df), ", ".join(map(str, self._df.columns)))

    def _repr_html_(self) -> str:
        from . import views

        return views.html(self)


class Stats:
    """Statistics over one capture from one C pass; see the module docstring."""

    def __init__(self, source: Any, *, interval: float | None = None, filters: Sequence[Any] = (),
                 filter: str | None = None, display_filter: Any = None,  # noqa: A002
                 on_error: str = "raise", max_memory: int = 1 << 30, progress: Any = None,
                 defragment: bool | str = True) -> None:
        self._source, self._filter, self._dfilter, self._on_error = source, filter, display_filter, on_error
        self._defragment = defragment
        self._max_memory, self._progress = max_memory, progress
        self._packets: Any = None
        self.interval = interval
        self.filters = list(filters)
        self._r = self._run(interval, self.filters)
        #: what a bound refused: frames of conversations per layer, hierarchy paths, io
        #: buckets, DNS types/classes and HTTP methods past their caps, failed allocations
        self.cut: dict[str, int] = dict(self._r["cut"])
        #: largest memory the pass's tables held (bytes)
        self.peak_memory: int = self._r["peak_memory"]

    def _run(self, interval: float | None, filters: Sequence[Any]) -> dict[str, Any]:
        from . import open as fp_open

        interval_ns = 0
        if interval is not None:
            if not interval > 0:
                raise ValueError("interval must be > 0 seconds")
            interval_ns = max(1, int(round(interval * 1e9)))
        # the outer packet (io,stat's frames, the outer conversations); the C pass reads
        # inside each tunnel itself, as tshark's taps count every level of a frame
        reader = fp_open(self._source, filter=self._filter, display_filter=self._dfilter,
                         on_error=self._on_error, decapsulate=False, defragment=self._defragment)
        from .views import progress_callback

        try:
            return _stats(reader, interval_ns, list(filters), self._max_memory, MAX_INTERVALS,
                          progress_callback(self._progress, "stats"))
        finally:
            reader.close()

    def __repr__(self) -> str:
        return "<fastpkt.Stats %d frames, %d bytes%s>" % (
            self.frames, self.bytes, ", interval %gs" % self.interval if self.interval else "")

    def _repr_html_(self) -> str:
        from . import views

        return views.html(self)

    @property
    def frames(self) -> int:
        """Frames counted (after the BPF and display filters)."""
        return int(self._r["frames"])

    @property
    def bytes(self) -> int:
        return int(self._r["bytes"])

    @property
    def packets(self) -> Any:
        """The capture as a PacketList (read on first use; the tables do not need it)."""
        if self._packets is None:
            from . import read

            self._packets = read(self._source, filter=self._filter, display_filter=self._dfilter,
                                 on_error=self._on_error)
        return self._packets

    # ---- io,phs ------------------------------------------------------------------

    def phs(self) -> Any:
        """``tshark -z io,phs``: one row per protocol path, depth first in order of first
        sight: ``depth`` (1 = outermost), ``protocol``, ``path`` (``eth:ip:tcp``), frames,
        bytes (frame lengths). Undissected payload is ``data``; a tunnelled frame goes on inside
        each encapsulation (``eth:ip:udp:vxlan:eth:ip:tcp``, ``eth:ip:gre:ppp:lcp``)."""
        import pandas as pd

        rows: list[Any] = []
        stack: list[Any] = []
        for depth, proto, nframes, nbytes in self._r["phs"]:
            del stack[depth - 1:]
            stack.append(proto)
            rows.append((depth, proto, ":".join(stack), nframes, nbytes))
        return pd.DataFrame(rows, columns=["depth", "protocol", "path", "frames", "bytes"]).astype(
            {"depth": "int64", "frames": "int64", "bytes": "int64"})

    # ---- conv / endpoints ------------------------------------------------------------

    def _conv_raw(self, layer: str) -> Any:
        if layer not in LAYERS:
            raise ValueError("layer must be one of %s, not %r" % (", ".join(LAYERS), layer))
        return frames.to_pandas(self._r["conv"][layer])

    def conversations(self, layer: str = "ip") -> Any:
        """``tshark -z conv,LAYER``: one row per pair of endpoints (A is the sender of the
        pair's first packet): frames and bytes A->B and B->A, totals, start relative to the
        first packet, duration. TCP/UDP endpoints are "address:port". Sorted by total frames
        then bytes, descending."""
        import pandas as pd

        c = self._conv_raw(layer)
        out = pd.DataFrame({
            "a": c["a"].astype(object), "b": c["b"].astype(object),
            "frames_ab": c["frames_ab"].astype("int64"), "bytes_ab": c["bytes_ab"].astype("int64"),
            "frames_ba": c["frames_ba"].astype("int64"), "bytes_ba": c["bytes_ba"].astype("int64"),
        })
        out["frames"] = out["frames_ab"] + out["frames_ba"]
        out["bytes"] = out["bytes_ab"] + out["bytes_ba"]
        out["rel_start"] = (c["first_ns"] - self._r["first_ns"]).astype("float64") / 1e9
        out["duration"] = (c["last_ns"] - c["first_ns"]).astype("float64") / 1e9
        return out.sort_values(["frames", "bytes"], ascending=False, kind="stable").reset_index(drop=True)

    def endpoints(self, layer: str = "ip") -> Any:
        """``tshark -z endpoints,LAYER``: per address (address:port for TCP/UDP) frames and
        bytes in total, sent (tx) and received (rx); summed over its conversations."""
        import pandas as pd

        c = self.conversations(layer)
        cols = ["address", "frames", "bytes", "tx_frames", "tx_bytes", "rx_frames", "rx_bytes"]
        if c.empty:
            return pd.DataFrame(columns=cols)
        a = pd.DataFrame({"address": c["a"], "tx_frames": c["frames_ab"], "tx_bytes": c["bytes_ab"],
                          "rx_frames": c["frames_ba"], "rx_bytes": c["bytes_ba"]})
        b = pd.DataFrame({"address": c["b"], "tx_frames": c["frames_ba"], "tx_bytes": c["bytes_ba"],
                          "rx_frames": c["frames_ab"], "rx_bytes": c["bytes_ab"]})
        out = pd.concat([a, b]).groupby("address", sort=False).sum().astype("int64").reset_index()
        out["frames"] = out["tx_frames"] + out["rx_frames"]
        out["bytes"] = out["tx_bytes"] + out["rx_bytes"]
        return out[cols].sort_values(["frames", "bytes"], ascending=False, kind="stable").reset_index(drop=True)

    # ---- io,stat -------------------------------------------------------------------------

    def io(self, interval: float | None = None, filters: Sequence[Any] | None = None) -> Any:
        """``tshark -z io,stat,INTERVAL[,FILTER...]``: frames and bytes per interval from the
        first packet (``start`` in seconds), then ``frames_i``/``bytes_i`` per display filter.
        Without arguments: the pass's interval (1 s if none was given) and filters; others
        read the capture again. Every interval is a row, empty ones too; a span of more than
        10 million intervals is refused (ValueError)."""
        import numpy as np
        import pandas as pd

        interval = interval if interval is not None else (self.interval or 1.0)
        filters = list(filters) if filters is not None else self.filters
        if interval == self.interval and filters == self.filters:
            r = self._r
        else:
            r = self._run(interval, filters)
        if r["cut"]["io"]:
            raise ValueError("more than %d intervals of %g s span the capture (%d packets outside); "
                             "use a longer interval" % (MAX_INTERVALS, interval, r["cut"]["io"]))
        cols = frames.to_pandas(r["io"]["columns"])
        if not r["frames"]:
            return pd.DataFrame(columns=["start", "frames", "bytes"])
        out = pd.DataFrame({"start": (np.arange(len(cols)) + r["io"]["base"]) * interval})
        for name in cols.columns:
            out[name] = cols[name].astype("int64")
        return out

    # ---- dns,tree / http,tree ------------------------------------------------------------

    def dns(self) -> Any:
        """``tshark -z dns,tree``'s counts: rows (``topic``, ``value``, ``name``, ``count``)
        for the DNS packets in total, per rcode, per opcode, queries and responses, and per
        type and class of the first question."""
        import pandas as pd

        d = self._r["dns"]
        rows: list[tuple[str, int, str, int]] = [("total", -1, "Total Packets", d["packets"])]
        rows += [("rcode", k, RCODES.get(k, "Unknown (%d)" % k), v) for k, v in d["rcode"].items()]
        rows += [("opcode", k, OPCODES.get(k, "Unknown (%d)" % k), v) for k, v in d["opcode"].items()]
        rows += [("query_response", k, n, v) for k, n, v in ((0, "Query", d["queries"]),
                                                              (1, "Response", d["responses"])) if v]
        rows += [("qtype", k, QTYPES.get(k, "Unknown (%d)" % k), v) for k, v in d["qtype"].items()]
        rows += [("class", k, CLASSES.get(k, "Unknown (%d)" % k), v) for k, v in d["qclass"].items()]
        return _tree(pd, rows)

    def http(self) -> Any:
        """``tshark -z http,tree``'s counts: rows (``topic``, ``value``, ``name``,
        ``count``) for HTTP packets in total, requests per method, responses per status
        code (``status_class`` rows: 2xx...), and other HTTP packets (neither a request nor
        a response line in the segment)."""
        import pandas as pd

        h = self._r["http"]
        rows: list[tuple[str, int, str, int]] = [("total", -1, "Total HTTP Packets", h["packets"])]
        if h["requests"]:
            rows.append(("requests", -1, "HTTP Request Packets", h["requests"]))
            rows += [("method", -1, m, v) for m, v in h["methods"].items()]
        if h["responses"]:
            rows.append(("responses", -1, "HTTP Response Packets", h["responses"]))
            by_class: dict[int, int] = {}
            for code, v in h["status"].items():
                by_class[code // 100] = by_class.get(code // 100, 0) + v
            rows += [("status_class", k, STATUS_CLASSES.get(k, "???: broken"), v) for k, v in by_class.items()]
            rows += [("status", k, str(k), v) for k, v in h["status"].items()]
        if h["other"]:
            rows.append(("other", -1, "Other HTTP Packets", h["other"]))
        return _tree(pd, rows)

    def dns_names(self) -> Any:
        """The first question's name of each DNS message (the PacketList's ``dns_qname``) with
        its packet count, most first; counted in the pass (``cut['dns_names']``: packets
        whose new name the memory budget refused)."""
        return self._counts("dns_names", "name")

    def http_hosts(self) -> Any:
        """HTTP Host values (the PacketList's ``http_host``) with their packet counts, most
        first; counted in the pass (``cut['http_hosts']`` as for names)."""
        return self._counts("http_hosts", "host")

    def _counts(self, key: str, name: str) -> Any:
        import pandas as pd

        out = pd.DataFrame(self._r[key], columns=[name, "packets"]).astype({name: "object", "packets": "int64"})
        return out.sort_values(["packets", name], ascending=[False, True], kind="stable").reset_index(drop=True)

    # ---- by tshark's name ------------------------------------------------------------------

    def z(self, spec: str) -> Any:
        """A table by its ``tshark -z`` name: ``io,phs``, ``conv,LAYER``, ``endpoints,LAYER``,
        ``io,stat,INTERVAL[,FILTER...]``, ``dns,tree``, ``http,tree``."""
        kind, _, rest = spec.partition(",")
        if spec == "io,phs":
            return self.phs()
        if kind == "conv":
            return self.conversations(rest)
        if kind == "endpoints":
            return self.endpoints(rest)
        if kind == "io" and rest.startswith("stat,"):
            interval, _, flist = rest[5:].partition(",")
            return self.io(float(interval), [f for f in flist.split(",") if f] if flist else [])
        if spec == "dns,tree":
            return self.dns()
        if spec == "http,tree":
            return self.http()
        raise ValueError("unknown statistic %r: io,phs conv,LAYER endpoints,LAYER (eth ip ipv6 tcp "
                         "udp), io,stat,INTERVAL[,FILTER...], dns,tree, http,tree" % spec)

    def arrow(self, spec: str) -> StatsTable:
        """The table ``z(spec)`` as a StatsTable (``__arrow_c_stream__``, ``to_arrow()``)."""
        return StatsTable(self.z(spec))

    # ---- plots -------------------------------------------------------------------------------

    def plot_io(self, interval: float | None = None, filters: Sequence[Any] | None = None,
                ax: Any = None) -> Any:
        """The I/O graph: frames per interval, one line per filter (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        t = self.io(interval, filters)
        interval = interval if interval is not None else (self.interval or 1.0)
        filters = list(filters) if filters is not None else self.filters
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3.5))
        ax.plot(t["start"], t["frames"], label="all frames", drawstyle="steps-post")
        for i, f in enumerate(filters, 1):
            ax.plot(t["start"], t["frames_%d" % i], label=str(f), drawstyle="steps-post")
        ax.set_xlabel("seconds from the first packet")
        ax.set_ylabel("frames / %g s" % interval)
        ax.legend(loc="upper right")
        return ax

    def plot_phs(self, ax: Any = None) -> Any:
        """The protocol hierarchy as horizontal bars of frames per path (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        t = self.phs()
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 0.3 * len(t) + 1))
        labels = ["  " * (d - 1) + p for d, p in zip(t["depth"], t["protocol"])]
        ax.barh(range(len(t)), t["frames"])
        ax.set_yticks(range(len(t)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("frames")
        return ax


def _tree(pd: Any, rows: list[Any]) -> Any:
    return pd.DataFrame(rows, columns=["topic", "value", "name", "count"]).astype(
        {"value": "int64", "count": "int64"})


def stats(source: Any, *, interval: float | None = None, filters: Sequence[Any] = (),
          filter: str | None = None, display_filter: Any = None,  # noqa: A002
          on_error: str = "raise", max_memory: int = 1 << 30, progress: Any = None,
          defragment: bool | str = True) -> Stats:
    """tshark-style statistics over a capture from one C pass (see fastpkt.stats.Stats).

    defragment: IP fragments are reassembled as tshark does by default: a fragment of a
    datagram not yet complete counts as IP data, the one completing it with the datagram's
    protocols (and its own frame length); a policy name as for ``fastpkt.open``. False:
    every fragment counts as captured, as ``tshark -o ip.defragment:FALSE -o
    ipv6.defragment:FALSE``."""
    return Stats(source, interval=interval, filters=filters, filter=filter,
                 display_filter=display_filter, on_error=on_error, max_memory=max_memory,
                 progress=progress, defragment=defragment)
