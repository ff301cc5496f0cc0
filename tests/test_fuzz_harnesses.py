"""The libFuzzer harnesses (csrc/fuzz/, `make fuzz`) still compile against the core's headers:
they call C functions the extension's build does not check, so a signature change can leave
one broken until someone fuzzes (fuzz_filter was: a flags argument added to fp_filter_match_record). A syntax-only compile with the
extension's warnings catches it in every test run, without clang."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESSES = sorted((ROOT / "csrc" / "fuzz").glob("fuzz_*.c"))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("harness", HARNESSES, ids=lambda p: p.stem)
def test_harness_compiles(harness: Path) -> None:
    r = subprocess.run(["gcc", "-fsyntax-only", "-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                        "-Werror", "-D_GNU_SOURCE", "-I" + str(ROOT / "csrc"), str(harness)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_every_harness_is_built_by_make_fuzz() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert HARNESSES and all(h.name in makefile for h in HARNESSES)
