"""mkdocs hooks (mkdocs.yml `hooks:`): pages made from files outside docs/ and from benchmark
output, so nothing is written twice.

`<!-- include FILE -->` is replaced by FILE (relative to the repository), its links into
docs/ made relative to the site. `<!-- bench-results -->` becomes one table per benchmark
from benchmarks/out/results.jsonl (FASTPKT_BENCH_DIR moves it), rows as the benchmark
printed them, with pps and the ratio to the benchmark's first fastpkt row.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"<!-- include (\S+) -->")


def bench_dir() -> Path:
    return Path(os.environ.get("FASTPKT_BENCH_DIR", ROOT / "benchmarks" / "out"))


def _include(match: re.Match) -> str:
    text = (ROOT / match.group(1)).read_text()
    return re.sub(r"\]\(docs/", "](", text)


def bench_tables() -> str:
    path = bench_dir() / "results.jsonl"
    if not path.exists():
        return ("No results yet on the machine that built these pages: run `make bench`, then "
                "build the docs again.")
    runs: dict[str, list[dict]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            runs.setdefault(row.get("bench", "benchmark"), []).append(row)
    out = []
    for bench, rows in runs.items():
        last: dict[str, dict] = {}
        for row in rows:  # the latest run of each tool
            last[row["tool"]] = row
        ref = next((r for r in last.values() if r["tool"].startswith("fastpkt") and r.get("pps")), None)
        out += ["## %s" % bench, "", "File: `%s`" % next(iter(last.values())).get("file", "?"), "",
                "| tool | packets | seconds | packets/s | time vs %s |" % (ref["tool"] if ref else "fastpkt"),
                "|---|---:|---:|---:|---:|"]
        for tool, r in last.items():
            if "error" in r:
                out.append("| %s | | | | %s |" % (tool, r["error"][:80].replace("|", "/")))
                continue
            pps = r.get("pps") or (r["packets"] / r["seconds"] if r.get("seconds") else 0)
            ratio = "%.2fx" % (ref["pps"] / pps) if ref and pps else ""
            out.append("| %s | %s | %.3f | %s | %s |" % (tool, "{:,}".format(r.get("packets", 0)),
                                                         r.get("seconds", 0), "{:,.0f}".format(pps), ratio))
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = INCLUDE.sub(_include, markdown)
    if "<!-- bench-results -->" in markdown:
        markdown = markdown.replace("<!-- bench-results -->", bench_tables())
    return markdown
