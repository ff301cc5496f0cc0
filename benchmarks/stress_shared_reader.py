"""The full-size check of Reader sharing (tests/test_reader_sharing.py runs 12):
flows + streams + client_hellos in three threads over one Reader, RUNS times; every run
the packets the engines were fed must add up to the file's, with no error.

    python benchmarks/stress_shared_reader.py [--runs 1000] [--packets 140000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fastpkt as fp  # noqa: E402
from test_reader_sharing import capture, three_engines  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--packets", type=int, default=140_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "share.pcap"
        path.write_bytes(capture(args.packets))
        bad, split, t0 = 0, {"all in one": 0, "shared": 0}, time.perf_counter()
        for _ in range(args.runs):
            reader = fp.open(str(path))
            fed = three_engines(reader)
            if sum(fed.values()) != args.packets or reader.packets_read != args.packets:
                bad += 1
                print("run delivered", fed, file=sys.stderr)
            split["all in one" if max(fed.values()) == args.packets else "shared"] += 1
        print(f"{args.runs} runs x {args.packets} packets, 3 engines on one Reader: "
              f"{bad} runs wrong; {split['shared']} split the packets, "
              f"{split['all in one']} had one engine take all; "
              f"{time.perf_counter() - t0:.0f} s")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
