"""Build the C extension fastpkt._fastpkt: every .c under csrc/ except the fuzz harnesses and
the test bridges (csrc/py/test). In-place builds (`setup.py build_ext --inplace`, what `make
build`, `make test` and `make sanitize` run) also build those bridges as the test extension
tests/_fptest; wheels and installs never contain it.

libpcap (for BPF on files and live capture) is found with pkg-config or pcap-config, OpenSSL's
libcrypto (QUIC Initial decryption) with pkg-config, and the decompressors for compressed
captures (zlib, libzstd, liblzma with pkg-config; libbz2, which ships no .pc file, by header).

Release builds (make wheel, cibuildwheel) link static libraries instead:
FASTPKT_LIBPCAP_PREFIX=DIR takes DIR/lib/libpcap.a and DIR/include (packaging/build_libpcap.sh),
FASTPKT_OPENSSL_PREFIX=DIR takes DIR/lib*/libcrypto.a and DIR/include. Their symbols stay
inside the extension (--exclude-libs), so another copy loaded in the process never clashes."""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _flags(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def static_library(env, name):
    """(include flags, path of lib<name>.a) under $env's prefix, or None when $env is unset."""
    prefix = os.environ.get(env)
    if not prefix:
        return None
    for lib in ("lib", "lib64"):
        archive = Path(prefix, lib, "lib%s.a" % name)
        if archive.exists():
            return ["-I" + str(Path(prefix, "include"))], str(archive)
    sys.exit("%s=%s: no lib/lib%s.a or lib64/lib%s.a there" % (env, prefix, name, name))


def libpcap_flags():
    for cmd in (["pkg-config", "--cflags", "--libs", "libpcap"], ["pcap-config", "--cflags", "--libs"]):
        if shutil.which(cmd[0]):
            flags = _flags(cmd)
            if flags is not None:
                return flags
    if Path("/usr/include/pcap/pcap.h").exists():
        return ["-lpcap"]
    sys.exit("fastpkt needs libpcap's headers to build. On Debian/Ubuntu: "
             "apt-get install libpcap-dev (Fedora: libpcap-devel; macOS: brew install libpcap).")


def libcrypto_flags():
    """OpenSSL's libcrypto (QUIC Initial decryption: HMAC-SHA256, AES-ECB, AES-GCM)."""
    if shutil.which("pkg-config"):
        flags = _flags(["pkg-config", "--cflags", "--libs", "libcrypto"])
        if flags is not None:
            return flags
    if Path("/usr/include/openssl/evp.h").exists():
        return ["-lcrypto"]
    sys.exit("fastpkt needs OpenSSL's libcrypto headers to build. On Debian/Ubuntu: "
             "apt-get install libssl-dev (Fedora: openssl-devel; macOS: brew install openssl@3).")


_COMPRESSION = (  # (pkg-config name, header, library, Debian package, Fedora package)
    ("zlib", "zlib.h", "z", "zlib1g-dev", "zlib-devel"),
    ("libzstd", "zstd.h", "zstd", "libzstd-dev", "libzstd-devel"),
    ("liblzma", "lzma.h", "lzma", "liblzma-dev", "xz-devel"),
    (None, "bzlib.h", "bz2", "libbz2-dev", "bzip2-devel"),
)


def compression_flags():
    """zlib, libzstd, liblzma and libbz2: compressed captures are opened by magic number."""
    flags = []
    for pc, header, lib, deb, rpm in _COMPRESSION:
        found = _flags(["pkg-config", "--cflags", "--libs", pc]) if pc and shutil.which("pkg-config") else None
        if found is None and Path("/usr/include", header).exists():
            found = ["-l" + lib]
        if found is None:
            sys.exit("fastpkt needs %s to build (compressed captures). On Debian/Ubuntu: "
                     "apt-get install %s (Fedora: %s)." % (header, deb, rpm))
        flags += found
    return flags


def libpcre2_flags():
    """PCRE2 (8-bit): the display filters' `matches`, as in Wireshark."""
    if shutil.which("pkg-config"):
        flags = _flags(["pkg-config", "--cflags", "--libs", "libpcre2-8"])
        if flags is not None:
            return flags
    if Path("/usr/include/pcre2.h").exists():
        return ["-lpcre2-8"]
    sys.exit("fastpkt needs PCRE2's headers to build (display filters' `matches`). On "
             "Debian/Ubuntu: apt-get install libpcre2-dev (Fedora: pcre2-devel; macOS: brew install pcre2).")


def sources(top, skip=()):
    """The .c files under csrc/<top>, except those under csrc/<s> for s in skip."""
    out = []
    for p in sorted((HERE / "csrc" / top).rglob("*.c")):
        rel = p.relative_to(HERE / "csrc")
        if any(rel.parts[:len(Path(s).parts)] == Path(s).parts for s in skip):
            continue
        out.append(str(Path("csrc") / rel))
    return out


static_pcap = static_library("FASTPKT_LIBPCAP_PREFIX", "pcap")
static_crypto = static_library("FASTPKT_OPENSSL_PREFIX", "crypto")
pcap = static_pcap[0] if static_pcap else libpcap_flags()
crypto = static_crypto[0] if static_crypto else libcrypto_flags()
libflags = pcap + crypto + compression_flags() + libpcre2_flags()
static_archives = [found[1] for found in (static_pcap, static_crypto) if found]
if static_crypto:
    crypto.append("-ldl")  # a static libcrypto loads its providers and engines with dlopen
extra_compile = ["-std=c11", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
if os.environ.get("FASTPKT_WERROR", "") == "1":
    extra_compile.append("-Werror")
extra_link = ["-Wl,--exclude-libs," + ":".join(os.path.basename(a) for a in static_archives)] \
    if static_archives and sys.platform.startswith("linux") else []
san = os.environ.get("FASTPKT_SANITIZE")
if san:
    extra_compile += ["-fsanitize=" + san, "-fno-omit-frame-pointer", "-g", "-O1"]
    extra_link += ["-fsanitize=" + san]
elif sys.platform.startswith("linux") and os.environ.get("FASTPKT_LTO", "1") != "0":
    # Link-time optimisation: the per-packet path crosses files (record pull in source/,
    # dissection in dissect/, the packet's slots in py/); inlined across them it runs 3.7%
    # fewer instructions (docs/DESIGN.md). FASTPKT_LTO=0 builds without.
    extra_compile.append("-flto=auto")
    # the optimiser runs at the link now: its warnings (and -Werror) must be there too
    extra_link += ["-flto=auto", "-O2"] + [f for f in extra_compile if f.startswith("-W")]

common = dict(
    extra_compile_args=extra_compile,
    extra_link_args=extra_link,
    define_macros=[("_GNU_SOURCE", "1")],
)
ext = Extension(
    "fastpkt._fastpkt",
    sources=sources(".", skip=("fuzz", "py/test")),
    include_dirs=["csrc"] + [f[2:] for f in libflags if f.startswith("-I")],
    library_dirs=[f[2:] for f in libflags if f.startswith("-L")],
    libraries=[f[2:] for f in libflags if f.startswith("-l")] + ["pthread"],
    extra_objects=static_archives,
    **common,
)
# The test bridges with the part of the core they reach (dissect is self-contained).
test_ext = Extension(
    "tests._fptest",
    sources=sources("py/test") + sources("dissect"),
    include_dirs=["csrc"] + [f[2:] for f in crypto if f.startswith("-I")],
    library_dirs=[f[2:] for f in crypto if f.startswith("-L")],
    libraries=[f[2:] for f in crypto if f.startswith("-l")],
    extra_objects=[static_crypto[1]] if static_crypto else [],
    **common,
)


class build_ext_with_tests(build_ext):
    """In-place builds are development builds: they add the test extension."""

    def finalize_options(self):
        if self.inplace and test_ext not in self.distribution.ext_modules:
            self.distribution.ext_modules.append(test_ext)
        super().finalize_options()

    def run(self):
        # An in-place build leaves its copy in build_lib too, which a wheel would take.
        stale = os.path.join(self.build_lib, self.get_ext_filename(self.get_ext_fullname(test_ext.name)))
        if not self.inplace and os.path.exists(stale):
            os.remove(stale)
        super().run()


setup(ext_modules=[ext], cmdclass={"build_ext": build_ext_with_tests})
