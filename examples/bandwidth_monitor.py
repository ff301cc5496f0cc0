#!/usr/bin/env python3
"""Bytes in and out per remote host for one local address: ports the packet-capture chapter's
"bandwidth monitor" (sniff 30 s with a callback, then print the top 10 hosts).

    sudo python3 bandwidth_monitor.py --iface eth0 --my-ip 192.168.1.42 --timeout 30
    python3 bandwidth_monitor.py --pcap trace.pcap --my-ip 127.0.0.1

No Python runs per packet: the capture's columns are built in C (to_pandas) and pandas sums
them. Sizes are the lengths on the wire (the chapter's len(pkt)); IPv6 hosts count too, and
--timeout defaults to the chapter's 30 s when sniffing live.
"""
from __future__ import annotations

import pandas as pd

import fastpkt as fp
from _common import is_live, parser, source


def traffic(frame: pd.DataFrame, my_ip: str) -> pd.DataFrame:
    """Per host: bytes_in (sent to my_ip), bytes_out (sent by my_ip to it; the chapter counts
    a packet from my_ip to itself as in only), packets it sent."""
    frame = frame[frame["src"].notna()]
    src, dst, size = frame["src"], frame["dst"], frame["wirelen"]

    def per_host(values: pd.Series, keys: pd.Series) -> pd.Series:
        # grouped on the categorical codes; the small result gets plain string labels, since
        # the three results' categorical indexes would not align (int8/int16 codes)
        out = values.groupby(keys, observed=True).sum()
        out.index = out.index.astype(str)
        return out

    bytes_in = per_host(size[dst == my_ip], src)
    bytes_out = per_host(size[(src == my_ip) & (dst != my_ip)], dst)
    packets = per_host(pd.Series(1, index=frame.index), src)
    table = pd.DataFrame({"bytes_in": bytes_in, "bytes_out": bytes_out, "packets": packets})
    return table.fillna(0).astype("int64").sort_values("bytes_in", ascending=False, kind="stable")


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--my-ip", default="192.168.1.42", help="the local address (default: %(default)s)")
    args = p.parse_args()
    if is_live(args) and args.timeout is None:
        args.timeout = 30.0
    if is_live(args):
        frame = fp.sniff(filter="ip or ip6", **source(args)).to_pandas()
    else:  # a file: the list is built in C, no packet objects
        frame = fp.read(args.pcap, filter="ip or ip6").to_pandas()
    table = traffic(frame, args.my_ip)
    print(f"\n{'Host':20s} {'In (KB)':>10s} {'Out (KB)':>10s} {'Packets':>10s}")
    print("-" * 55)
    for host, row in table.head(10).iterrows():
        print(f"{host!s:20s} {row['bytes_in'] / 1024:10.1f} {row['bytes_out'] / 1024:10.1f} {row['packets']:10d}")


if __name__ == "__main__":
    main()
