"""The documentation site (mkdocs.yml, docs/): it builds with warnings as errors (broken
internal links and anchors, pages left out of the navigation, API objects that cannot be
found), its performance page is made from real benchmark output, and every code block in it
runs against the bundled sample, printing the `text` block that follows it when there is one."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
RUNNABLE = ("python", "sh")


def code_blocks():
    """(page, line, language, code, expected output or None) for every runnable block; an
    AssertionError for a block that is neither runnable nor the output of the one before."""
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        fences = list(FENCE.finditer(text))
        for i, m in enumerate(fences):
            line = text.count("\n", 0, m.start()) + 1
            lang, code = m.group(1), m.group(2)
            prev = fences[i - 1] if i else None
            if lang == "text" and prev and prev.group(1) in RUNNABLE and not text[prev.end():m.start()].strip():
                continue  # the output of the block before
            assert lang in RUNNABLE, "%s:%d: a %r block the docs test cannot run" % (page, line, lang)
            nxt = fences[i + 1] if i + 1 < len(fences) else None
            expected = nxt.group(2) if nxt and nxt.group(1) == "text" and not text[m.end():nxt.start()].strip() else None
            out.append(pytest.param(lang, code, expected, id="%s:%d" % (page.relative_to(DOCS), line)))
    return out


@pytest.fixture
def sample_dir(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "sample.pcap")
    # The shell blocks' `fastpkt` is this tree's, whatever the environment has installed.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fastpkt").write_text('#!/bin/sh\nexec "%s" -m fastpkt "$@"\n' % sys.executable)
    (bin_dir / "fastpkt").chmod(0o755)
    # LD_PRELOAD stays: under `make sanitize` the blocks load the ASan-built extension, which
    # needs the sanitizer runtimes loaded first.
    env = dict(os.environ) | {
        "PYTHONPATH": str(ROOT), "PATH": "%s:%s" % (bin_dir, os.environ["PATH"]), "COLUMNS": "100"}
    return tmp_path, env


@pytest.mark.parametrize("lang,code,expected", code_blocks())
def test_code_block_runs(sample_dir, lang, code, expected):
    if "scapy" in code:
        pytest.importorskip("scapy")
    cwd, env = sample_dir
    cmd = [sys.executable, "-c", code] if lang == "python" else ["bash", "-e", "-o", "pipefail", "-c", code]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    if expected is not None:
        assert r.stdout == expected


def test_site_builds_strict_with_benchmark_results(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("mkdocs and mkdocstrings not installed (pip install -e '.[test]')")
    bench = tmp_path / "bench"
    env = dict(os.environ) | {  # LD_PRELOAD stays, as in sample_dir
        "FASTPKT_BENCH_DIR": str(bench), "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    # A real (small) benchmark run, peers included when present, feeds the performance page.
    results = bench / "results.jsonl"
    r = subprocess.run([sys.executable, "benchmarks/bench_read.py", "--packets", "3000", "--repeats", "1",
                        "--skip", "scapy,tshark", "--json", str(results)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "WARNING" not in r.stderr, r.stderr[-3000:]

    perf = (site / "performance" / "index.html").read_text()
    assert "bench_read" in perf
    for row in rows:
        assert row["tool"] in perf
        if "error" not in row:
            assert "{:,}".format(row["packets"]) in perf
    security = (site / "security" / "index.html").read_text()
    assert "Threat model" in security and 'href="../DESIGN/"' in security
    api = (site / "api" / "index.html").read_text()
    # C docstrings (PyDoc_STRVAR) reach the reference, with the stubs' signatures.
    assert "compiled by libpcap and run in the kernel" in api
    assert "fastpkt.Capture" in api and "fastpkt.flows" in api
    for page in ("getting-started", "workflows/read", "workflows/tls", "DESIGN", "changelog", "RELEASING"):
        assert (site / page / "index.html").exists(), page
