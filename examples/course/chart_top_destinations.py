#!/usr/bin/env python3
"""
Create a bar chart of top TCP destinations.
"""
from __future__ import annotations
import pandas as pd
import matplotlib.pyplot as plt


def chart_top_destinations(path: str) -> None:
    """
    Chart top destination ports from flow summary.
    """
    df = pd.read_csv(path)
    top = df.groupby("dport")["packets"].sum().sort_values(ascending=False).head(10)
    top.plot(kind="bar")
    plt.title("Top Destination Ports")
    plt.xlabel("Destination Port")
    plt.ylabel("Packet Count")
    plt.tight_layout()
    plt.savefig("top_ports.png")
    print("[*] Saved chart to top_ports.png")


if __name__ == "__main__":
    chart_top_destinations("flow_summary.csv")
