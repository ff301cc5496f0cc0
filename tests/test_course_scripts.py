"""The course's scripts, import swapped, print what they print under Scapy.

examples/course/ holds the course's code with ``from scapy.all import`` changed to
``from fastpkt.scapy import``. Each offline script runs twice on every capture (the corpus,
tests/data's fixtures and the bundled sample): as written, and with the import switched back
to real Scapy. Stdout (wall-clock stamps masked), how the run ended and the files it wrote are
compared line by line. Every difference must be one listed in tests/data/scapy_differences.json
for that capture and script, of a kind its reason accounts for; each reason is a row of the
README's table. The sending scripts run in tests/test_probe_netns.py's lab.

Runtime: the two forms run side by side in two processes, each importing its library once
(runpy per script and capture), about 30 s for the shared corpus on a quiet machine; the
captures are small, so no packet cap is needed.
"""
from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import pytest

import _course
from _fphelpers import DATA, corpus_dir, corpus_files

pytest.importorskip("scapy.all")

DIFFERENCES = json.loads((DATA / "scapy_differences.json").read_text())
REASONS, CASES = DIFFERENCES["reasons"], DIFFERENCES["cases"]
SAMPLE = _course.ROOT / "examples" / "data" / "sample.pcap"


def _captures() -> dict[str, Path]:
    caps = {SAMPLE.name: SAMPLE}
    caps.update((p.name, p) for p in sorted(DATA.glob("*.pcap*")))
    d = corpus_dir()
    if d is not None:
        caps.update((name, d / name) for name in corpus_files())
    return caps


CAPTURES = _captures()
NO_INPUT = "-"  # the building scripts; "lab": the sending ones (tests/test_probe_netns.py)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str], tuple[dict, dict]]:
    """(capture, script) -> (Scapy's run, fastpkt.scapy's run), for every capture at once."""
    jobs = [(name, ["--pcap", str(path)]) for path in CAPTURES.values() for name in _course.READERS]
    keys = [(cap, name) for cap in CAPTURES for name in _course.READERS]
    jobs += [(name, []) for name in _course.BUILDERS]
    keys += [(NO_INPUT, name) for name in _course.BUILDERS]
    theirs, ours = _course.both(jobs, tmp_path_factory.mktemp("course"))
    return dict(zip(keys, zip(theirs, ours)))


def _check(runs, capture: str) -> None:
    problems, stale = [], []
    for (cap, script), (theirs, ours) in runs.items():
        if cap != capture:
            continue
        listed = CASES.get(cap, {}).get(script, [])
        same = (theirs["end"] == ours["end"] and theirs["stdout"] == ours["stdout"]
                and not _course.file_diffs(theirs, ours))
        if same:
            if listed:
                stale.append(script)
            continue
        for why in _course.unexplained(theirs, ours, listed, REASONS):
            problems.append("%s on %s: %s (listed: %s)" % (script, cap, why, listed or "nothing"))
    if stale:
        warnings.warn("now identical to Scapy, remove from scapy_differences.json: %s on %s"
                      % (", ".join(stale), capture))
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("capture", list(CAPTURES))
def test_offline_scripts_print_what_scapy_prints(runs, capture):
    _check(runs, capture)


def test_building_scripts_print_what_scapy_prints(runs):
    _check(runs, NO_INPUT)


def test_the_scripts_ran(runs):
    """Guard against a comparison of two empty runs: the sample has DNS, HTTP, TLS, ARP."""
    theirs, _ = runs[(SAMPLE.name, "http_requests")]
    assert any(line.startswith("HTTP: GET ") for line in theirs["stdout"]), theirs
    theirs, ours = runs[(SAMPLE.name, "read_pcap_summary")]
    assert ours["stdout"] == theirs["stdout"] and len(ours["stdout"]) > 2


def test_every_listed_case_names_a_known_reason():
    for cap, scripts in CASES.items():
        for script, ids in scripts.items():
            assert script in _course.READERS + _course.BUILDERS + _course.SENDERS, script
            assert ids and set(ids) <= set(REASONS), (cap, script, ids)


def test_every_reason_is_a_readme_row():
    readme = (_course.ROOT / "README.md").read_text()
    section = readme.split("### Course scripts under Scapy and under fastpkt.scapy", 1)
    assert len(section) == 2, "README lacks the course-differences table"
    rows = section[1].split("\n\n")[2]
    for rid, reason in REASONS.items():
        assert "| `%s` |" % rid in rows, rid
        for key in ("scapy", "fastpkt", "why"):
            assert reason[key] in rows, (rid, key)


def _code_lines(path: Path) -> list[str]:
    """The script's lines after its docstring, minus those that only name the input."""
    text = path.read_text()
    doc = ast.get_docstring(ast.parse(text), clean=False)
    body = text.split('"""', 2)[2] if doc is not None else text
    shim = re.compile(r"_course|source\(\)|is_live\(\)|pcap\(|target\(|network\(|bpf\(")
    return [" ".join(ln.split()) for ln in body.splitlines()
            if ln.strip() and not shim.search(ln) and not ln.startswith("from fastpkt.scapy import")]


@pytest.mark.parametrize("script", [p.stem for p in sorted(_course.COURSE.glob("*.py"))
                                    if not p.stem.startswith(("_", "lab"))])
def test_the_code_is_the_courses(script):
    """Every line (but the input's) is in the course text: only the import changed."""
    seeds = _course.ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("the course text (../shared/seeds) is not beside this clone")
    course = "\n".join(p.read_text() for p in sorted(seeds.glob("00*.txt")))
    course = course.replace('\\"', '"').replace("\\\\r\\\\n", "\\r\\n")
    known = {" ".join(ln.split()) for ln in course.splitlines()}
    missing = [ln for ln in _code_lines(_course.COURSE / (script + ".py")) if ln not in known]
    assert not missing, missing
