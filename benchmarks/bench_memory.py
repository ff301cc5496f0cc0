"""Memory budget benchmark: the floods of tests/_floods.py at full size and a generated
normal-traffic capture, each engine in a fresh interpreter.

Per run: peak RSS growth (VmHWM reset after a warm-up), the engine's memory_peak_bytes and
their ratio, packets/s, evictions. Then the cost of the budget accounting on fp.flows over
normal traffic: this tree against a build of the tree before the budget (--base DIR, a
built checkout of the merge-base), alternating runs, medians.

    python benchmarks/bench_memory.py --pcap bench_1m.pcap [--base /tmp/base] [--limit MiB]

bench_1m.pcap: benchmarks/gen_capture.py --packets 1000000 --seed 1.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOODS_PY = ROOT / "tests" / "_floods.py"
MiB = 1 << 20

FLOODS = [  # flood, count, engine
    ("quic_initials", 1_000_000, "client_hellos"),
    ("quic_initials", 1_000_000, "flows"),
    ("tcp_one_byte", 1_000_000, "streams"),
    ("tcp_one_byte", 1_000_000, "flows"),
    ("tls_claims", 1_000_000, "client_hellos"),
    ("partial_hellos", 4_000, "client_hellos"),
    ("out_of_order", 500_000, "streams"),
    ("overlapping", 100_000, "streams"),
]

# Normal traffic from a file, read into memory first (file pages would count in RSS).
NORMAL = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import _floods as F, fastpkt as fp
data = open(sys.argv[2], "rb").read()
end = 24
for _ in range(1000):  # the first 1000 records (classic pcap, little-endian)
    end += 16 + int.from_bytes(data[end + 8:end + 12], "little")
warm = data[:end]
r = F.measure(data, warm, sys.argv[3], None if sys.argv[4] == "none" else int(sys.argv[4]))
print(json.dumps(r, default=str))
"""

# Timing only: fp.flows over the file (mmap), for the accounting cost. CPU time of the
# process: on a shared machine wall time mostly measures the neighbours.
TIMING = r"""
import sys, time
import fastpkt as fp
t = time.process_time()
for _ in fp.flows(sys.argv[1], progress=False, workers=1):  # one engine streaming its records
    pass
print(time.process_time() - t)
"""


def run(args: list[str], pythonpath: Path) -> str:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(pythonpath)})
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout


def row(name: str, r: dict) -> str:
    st = r["stats"]
    rss, peak = r["rss_growth"], r["memory_peak_bytes"]
    return (f"| {name} | {r['packets']:,} | {rss / MiB:,.1f} | {peak / MiB:,.1f} | {peak / max(rss, 1):.3f} | "
            f"{r['packets'] / r['seconds'] / 1e6:.2f} M | {st['evicted']:,} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap", help="normal-traffic capture (gen_capture.py --packets 1000000 --seed 1)")
    ap.add_argument("--base", help="a built checkout of the tree before the budget, for the cost")
    ap.add_argument("--limit", type=int, default=64, help="max_memory for the floods, MiB")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--cost-only", action="store_true", help="only the accounting cost")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply flood counts (quick runs)")
    a = ap.parse_args()

    print(f"max_memory = {a.limit} MiB for the floods, default ({1 << 30 >> 20} MiB) for normal traffic\n")
    print("| run | packets | peak RSS growth MiB | memory_peak_bytes MiB | ratio | packets/s | evicted |")
    print("|---|---|---|---|---|---|---|")
    for flood, count, engine in [] if a.cost_only else FLOODS:
        n = max(1, int(count * a.scale))
        r = json.loads(run([str(FLOODS_PY), flood, str(n), engine, str(a.limit * MiB)], ROOT))
        print(row(f"{flood} ×{n:,} → {engine}", r), flush=True)
    if a.pcap and not a.cost_only:
        for engine in ("flows", "streams", "client_hellos"):
            r = json.loads(run(["-c", NORMAL, str(ROOT / "tests"), a.pcap, engine, "none"], ROOT))
            print(row(f"{Path(a.pcap).name} → {engine}", r), flush=True)
    if a.pcap and a.base:
        mine, base = [], []
        for _ in range(a.repeat):
            base.append(float(run(["-c", TIMING, a.pcap], Path(a.base))))
            mine.append(float(run(["-c", TIMING, a.pcap], ROOT)))
        for what, f in (("min", min), ("median", statistics.median)):
            mb, mm = f(base), f(mine)
            print(f"\nfp.flows over {Path(a.pcap).name}, CPU seconds, {what} of {a.repeat} alternating runs: "
                  f"before the budget {mb:.3f} s, with it {mm:.3f} s: {100 * (mm / mb - 1):+.1f} %")


if __name__ == "__main__":
    main()
