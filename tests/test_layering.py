"""The C tree's layering (docs/DESIGN.md, "Map of the tree"), checked on its #include lines.

Each folder of csrc/ is a layer (csrc/py/test, the test extension, is one of its own); a
file may include headers of its own layer and of the layers listed for it below, nothing
else. Only csrc/py and its subfolders include Python's headers; the core is Python-free.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"

# layer -> the other layers its files may include
ALLOWED = {
    "source": set(),                  # capture files, pipes, live handles -> records
    "dissect": set(),                 # record bytes -> layer offsets, protocol parsers
    "write": {"source"},              # records -> files; asks source which files are being read
    "flow": {"dissect"},              # dissected packets -> flow records, memory budget
    "stream": {"flow", "dissect"},    # flow engine extensions: reassembly, HTTP, hello search
    "probe": {"source", "dissect"},   # raw sockets, probes sent and matched to a live capture
    "filter": {"dissect"},            # display filters: compiled over the field registry
    "stats": {"dissect", "filter", "flow"},  # tshark's -z tables in one pass (flow: the budget)
    "fuzz": {"source", "dissect", "write", "flow", "stream", "filter", "probe", "stats"},  # harnesses over the core
    "py": {"source", "dissect", "write", "flow", "stream", "probe", "filter", "stats"},  # the CPython bridge
    "py/test": {"dissect"},           # the test extension _fptest: parsers only tests call
}
PYTHON_HEADERS = {"Python.h", "structmember.h", "pythread.h", "frameobject.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def c_files() -> list[Path]:
    return sorted(p for p in CSRC.rglob("*") if p.suffix in (".c", ".h") and "build" not in p.parts)


def layer_of(path: Path) -> str:
    parts = path.relative_to(CSRC).parts
    return "py/test" if parts[:2] == ("py", "test") and len(parts) > 2 else parts[0]


def resolve(src: Path, name: str) -> Path | None:
    """A quoted include as the compiler finds it: next to the file, else under csrc/."""
    for base in (src.parent, CSRC):
        target = (base / name).resolve()
        if target.is_file():
            return target
    return None


def includes(path: Path) -> list[tuple[str, str]]:
    return INCLUDE.findall(path.read_text(errors="replace"))


def test_every_folder_has_a_rule():
    folders = {p.name for p in CSRC.iterdir() if p.is_dir() and p.name != "build"}
    folders |= {"py/" + p.name for p in (CSRC / "py").iterdir() if p.is_dir()}
    assert folders <= set(ALLOWED), (
        "new csrc/ folder(s) %s: give each its allowed includes here and a line in the map at "
        "the top of docs/DESIGN.md" % sorted(folders - set(ALLOWED)))


def test_design_map_names_every_folder():
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    map_part = design.split("\n## ", 2)[1]  # the first section
    for folder in sorted(ALLOWED):
        assert "`csrc/%s/`" % folder in map_part, folder


@pytest.mark.parametrize("path", c_files(), ids=lambda p: str(p.relative_to(CSRC)))
def test_includes_follow_the_layers(path):
    layer = layer_of(path)
    allowed = ALLOWED.get(layer, set()) | {layer}
    bad = []
    for kind, name in includes(path):
        python_layer = layer.split("/")[0] == "py"
        if Path(name).name in PYTHON_HEADERS or (Path(name).name == "pyfp.h" and not python_layer):
            if not python_layer:
                bad.append("%s: Python's headers are for csrc/py only" % name)
            continue
        if kind == "<":
            continue  # system and library headers
        target = resolve(path, name)
        if target is None:
            bad.append("%s: not found next to the file or under csrc/" % name)
        elif CSRC not in target.parents:
            bad.append("%s: outside csrc/" % name)
        elif layer_of(target) not in allowed:
            bad.append("%s: csrc/%s may not include csrc/%s (allowed: %s)"
                       % (name, layer, layer_of(target), ", ".join(sorted(allowed))))
    assert not bad, "\n".join(bad)


def test_the_checker_sees_violations(tmp_path, monkeypatch):
    """The parser catches each kind of include it must refuse."""
    fake = tmp_path / "csrc"
    for d in ("dissect", "flow", "py/test"):
        (fake / d).mkdir(parents=True)
    (fake / "flow" / "flow.h").write_text("")
    (fake / "py" / "pyfp.h").write_text("")
    (fake / "py" / "test" / "t.c").write_text('#include <Python.h>\n#include "../pyfp.h"\n')
    (fake / "dissect" / "x.c").write_text(
        '#include <stdint.h>\n#  include "../flow/flow.h"\n#include <Python.h>\n'
        '#include "py/pyfp.h"\n#include "missing.h"\n')
    monkeypatch.setattr(sys.modules[__name__], "CSRC", fake)
    with pytest.raises(AssertionError) as err:
        test_includes_follow_the_layers(fake / "dissect" / "x.c")
    msg = str(err.value)
    assert "csrc/dissect may not include csrc/flow" in msg
    assert "Python.h: Python's headers" in msg and "pyfp.h: Python's headers" in msg
    assert "missing.h: not found" in msg
    with pytest.raises(AssertionError, match="csrc/py/test may not include csrc/py"):
        test_includes_follow_the_layers(fake / "py" / "test" / "t.c")
