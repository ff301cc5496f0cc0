"""Check that a course script and its idiomatic twin agree where they should (run_all.sh).

    python _agree.py KIND COURSE_DIR IDIOMATIC_DIR

Each directory holds the run's stdout as out.txt and the files it wrote. Kinds:

    lines    every line the course prints (wall-clock stamps, "[*]" banners and Scapy's trailing
             dot of DNS names aside) starts some line of the twin's output: the twin prints the
             same facts, plus more
    count    the "Wrote/Saved N packets" numbers are equal
    csv      flow_summary.csv holds the same rows (the twin sorts ties differently)
    sniff_log  sniff_log.csv holds the same bytes, each row's stamp aside (the course's is the
             wall clock when its callback ran, the twin's the packet's capture time)
    streams  each stream file the course wrote holds the bytes of the twin's file for the
             same (src, sport, dst, dport)
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?")


def _lines(d: Path) -> list[str]:
    return [STAMP.sub("T", ln).rstrip(".") for ln in (d / "out.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("[*]")]


def lines(course: Path, twin: Path) -> list[str]:
    theirs = _lines(twin)
    return ["course printed %r, the twin nothing like it" % ln for ln in _lines(course)
            if not any(t.startswith(ln) for t in theirs)]


def count(course: Path, twin: Path) -> list[str]:
    rx = re.compile(r"(?:Wrote|Saved) (\d+) packets")
    a, b = (rx.findall((d / "out.txt").read_text()) for d in (course, twin))
    return [] if a and a == b else ["course wrote %s packets, the twin %s" % (a, b)]


def csv_rows(course: Path, twin: Path) -> list[str]:
    a, b = (sorted(map(tuple, csv.reader(open(d / "flow_summary.csv")))) for d in (course, twin))
    return [] if a == b else ["flow_summary.csv rows differ: %d vs %d" % (len(a), len(b))]


def sniff_log(course: Path, twin: Path) -> list[str]:
    a, b = (STAMP.sub("T", (d / "sniff_log.csv").read_text()) for d in (course, twin))
    if a == b:
        return []
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return ["sniff_log.csv line %d: course %r, twin %r" % (n, x, y)]
    return ["sniff_log.csv: course %d lines, twin %d" % (a.count("\n"), b.count("\n"))]


def streams(course: Path, twin: Path) -> list[str]:
    def by_flow(d: Path) -> dict[str, bytes]:
        return {re.sub(r"^stream_\d+_", "", f.name): f.read_bytes() for f in d.rglob("stream_*.bin")}

    ours, theirs = by_flow(course), by_flow(twin)
    bad = [k for k, v in ours.items() if theirs.get(k) != v]
    return [] if ours and not bad else ["streams differ: %s" % (bad or "none written")]


KINDS = {"lines": lines, "count": count, "csv": csv_rows, "sniff_log": sniff_log, "streams": streams}

if __name__ == "__main__":
    kind, course_dir, twin_dir = sys.argv[1:4]
    problems = KINDS[kind](Path(course_dir), Path(twin_dir))
    for p in problems:
        print("  " + p)
    sys.exit(1 if problems else 0)
