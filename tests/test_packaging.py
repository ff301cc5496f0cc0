"""Release configuration (no build): cibuildwheel's dry run lists the wheels CI builds, and
the libpcap/OpenSSL pins live in packaging/versions.env alone."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "packaging" / "versions.env"
PYTHONS = ("cp310", "cp311", "cp312", "cp313")


def cibuildwheel() -> list[str]:
    exe = shutil.which("cibuildwheel", path=os.path.dirname(sys.executable)) or shutil.which("cibuildwheel")
    if exe is None:
        pytest.skip("cibuildwheel not installed (pip install -e '.[test]')")
    return [exe]


def identifiers(platform: str, **env: str) -> set[str]:
    r = subprocess.run(cibuildwheel() + ["--print-build-identifiers", "--platform", platform], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, **env), timeout=300)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def pins() -> dict[str, str]:
    out = {}
    for line in PINS.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def test_linux_wheels_for_x86_64_and_aarch64():
    assert identifiers("linux") == {"%s-manylinux_%s" % (py, arch) for py in PYTHONS
                                    for arch in ("x86_64", "aarch64")}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_macos_wheels_per_runner_architecture(arch):
    assert identifiers("macos", CIBW_ARCHS_MACOS=arch) == {"%s-macosx_%s" % (py, arch) for py in PYTHONS}


def test_build_selection_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = min(int(py[3:]) for py in PYTHONS)
    assert project["requires-python"] == ">=3.%d" % oldest


def test_pins_live_in_one_place():
    p = pins()
    assert re.fullmatch(r"\d+\.\d+\.\d+", p["LIBPCAP_VERSION"]) and re.fullmatch(r"\d+\.\d+\.\d+", p["OPENSSL_VERSION"])
    assert p["OPENSSL_VERSION"].startswith(p["OPENSSL_SERIES"] + ".")
    for name in ("LIBPCAP", "OPENSSL"):
        assert re.fullmatch(r"[0-9a-f]{64}", p[name + "_SHA256"])
        assert p[name + "_VERSION"] in p[name + "_URL"]
    # Nothing else names the versions: pyproject and the Makefile defer to the file.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    text = repr(config) + (ROOT / "Makefile").read_text() + (ROOT / "setup.py").read_text()
    for key in ("LIBPCAP_VERSION", "OPENSSL_VERSION"):
        assert p[key] not in text, key
    assert "include packaging/versions.env" in (ROOT / "Makefile").read_text()
    for script in ("build_libpcap.sh", "build_wheel.sh", "cibw_before_all.sh"):
        assert '. "$here/versions.env"' in (ROOT / "packaging" / script).read_text(), script


def test_cibuildwheel_hands_the_static_libraries_to_setup():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    for platform in ("linux", "macos"):
        section = config[platform]
        prefix = section["before-all"].split()[-1]
        assert section["before-all"].startswith("sh packaging/cibw_before_all.sh ")
        assert section["environment"]["FASTPKT_LIBPCAP_PREFIX"] == prefix + "/libpcap"
        assert section["environment"]["FASTPKT_OPENSSL_PREFIX"] == prefix + "/openssl"
