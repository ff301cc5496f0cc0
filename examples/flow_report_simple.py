#!/usr/bin/env python3
"""Aggregate packets into 5-tuple flows and write flow_summary.csv: ports the course's
Section 10 "Flow Summary Report" (pcap_to_flows).

The course looped over rdpcap() in Python; here the DataFrame is built in C (to_pandas) and
pandas groups it. Same rows: src, sport, dst, dport, proto, packets (directional, as in the
course). flow_report.py does the same on bidirectional flow records built in C (fp.flows).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import fastpkt as fp
from _common import parser

if TYPE_CHECKING:
    import pandas as pd

PROTO = {6: "TCP", 17: "UDP"}


def pcap_to_flows(path: str) -> pd.DataFrame:
    df = fp.read(path).to_pandas()
    df = df[df["proto"].isin([6, 17]) & df["sport"].notna() & (df["ip_version"] == 4)]
    flows = (df.groupby(["src", "sport", "dst", "dport", "proto"], observed=True)
             .size().rename("packets").reset_index())
    flows["proto"] = flows["proto"].map(PROTO)
    return flows.sort_values("packets", ascending=False, kind="stable")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--out", default="flow_summary.csv")
    args = p.parse_args()
    df = pcap_to_flows(args.pcap)
    df.to_csv(args.out, index=False)
    print(df.head(10).to_string(index=False))
    print(f"[*] wrote {len(df)} flows to {args.out}")


if __name__ == "__main__":
    main()
