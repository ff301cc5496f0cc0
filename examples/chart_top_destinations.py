#!/usr/bin/env python3
"""Bar chart of the top destination ports: ports the course's Section 10 "Charting Top
Conversations" (from flow_summary.csv, or straight from the capture).

Needs matplotlib (pip install matplotlib); without it the script says so and exits 0.
"""
from __future__ import annotations

import os
import sys

import fastpkt as fp
from _common import parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--csv", help="flow_summary.csv from flow_report_simple.py (default: use --pcap)")
    p.add_argument("--out", default="top_ports.png")
    args = p.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[skip] matplotlib is not installed (pip install matplotlib)")
        return
    import pandas as pd

    if args.csv and os.path.exists(args.csv):
        df = pd.read_csv(args.csv)
    else:
        df = fp.read(args.pcap).to_pandas()
        df = df[df["dport"].notna()].assign(packets=1)
    top = df.groupby("dport")["packets"].sum().sort_values(ascending=False).head(10)
    if top.empty:
        print("no TCP/UDP packets", file=sys.stderr)
        return
    top.plot(kind="bar")
    plt.title("Top Destination Ports")
    plt.xlabel("Destination Port")
    plt.ylabel("Packet Count")
    plt.tight_layout()
    plt.savefig(args.out)
    print(f"[*] Saved chart to {args.out}")


if __name__ == "__main__":
    main()
