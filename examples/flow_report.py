#!/usr/bin/env python3
"""Flow summary report on flow records built in C: ports the course's Section 10 "Flow Summary
Report" (pcap_to_flows) to fp.flows, and writes flow_summary.csv.

The course looped over rdpcap() in Python and counted packets per 5-tuple in a Counter. Here
fp.flows() aggregates in C and fastpkt.report.flow_report() returns the course's rows: src, sport,
dst, dport, proto, packets, busiest first (directional 5-tuples, like the course). --flows OUT
also writes the full flow records (client/server, per-direction counts, conn_state, RTT ...).
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser
from fastpkt.report import flow_report, format_report


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--out", default="flow_summary.csv")
    p.add_argument("--flows", metavar="OUT", help="also write every bidirectional flow record (CSV)")
    args = p.parse_args()
    df = flow_report(args.pcap, top=None, progress=False)
    df.to_csv(args.out, index=False)
    print(df.head(10).to_string(index=False))
    print(f"[*] wrote {len(df)} flows to {args.out}")
    flows = fp.flows(args.pcap, progress=False)
    if args.flows:
        flows.to_csv(args.flows)
        print(f"[*] wrote {len(flows)} bidirectional flow records to {args.flows}")
    print()
    print(format_report(flows.to_pandas(), dict(flows.stats), top=5))


if __name__ == "__main__":
    main()
