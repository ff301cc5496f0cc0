#!/usr/bin/env python3
"""Bar chart of the top destination ports: ports the course's Section 10 "Charting Top
Conversations" to fp.flows (flow records built in C), or reads the course's flow_summary.csv.

Needs matplotlib (pip install matplotlib); without it the script says so and exits 0.
"""
from __future__ import annotations

import os
import sys

import fastpkt as fp
from _common import parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--csv", help="flow_summary.csv from flow_report.py (default: use --pcap)")
    p.add_argument("--out", default="top_ports.png")
    args = p.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
    except ImportError:
        print("[skip] matplotlib is not installed (pip install matplotlib)")
        return
    import pandas as pd
    from fastpkt.report import chart_top_destinations, top_destinations

    if args.csv and os.path.exists(args.csv):
        df = pd.read_csv(args.csv)          # the course's input: src,sport,dst,dport,proto,packets
    else:
        df = fp.flows(args.pcap, progress=False).to_pandas()   # client -> server flows
    top = top_destinations(df, n=10)
    if top.empty:
        print("no TCP/UDP flows", file=sys.stderr)
        return
    print(top.to_string())
    chart_top_destinations(df, args.out)
    print(f"[*] Saved chart to {args.out}")


if __name__ == "__main__":
    main()
