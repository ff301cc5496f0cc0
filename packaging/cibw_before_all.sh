#!/bin/sh
# cibw_before_all.sh PREFIX: cibuildwheel's before-all step (once per platform and
# architecture, in the manylinux container or on the macOS runner): the build tools and the
# decompression/PCRE2 headers, then the pinned OpenSSL (static libcrypto) and libpcap
# (static) from packaging/versions.env into PREFIX/openssl and PREFIX/libpcap, which
# pyproject's [tool.cibuildwheel] environment hands to setup.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
prefix=$1
if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q flex bison perl-IPC-Cmd perl-Time-Piece zlib-devel libzstd-devel xz-devel \
        bzip2-devel pcre2-devel
elif command -v yum >/dev/null 2>&1; then
    yum install -y -q flex bison perl-IPC-Cmd zlib-devel libzstd-devel xz-devel bzip2-devel pcre2-devel
elif command -v brew >/dev/null 2>&1; then
    brew install zstd xz pcre2 pkg-config
fi
mkdir -p "$prefix"
"$here/fetch_source.sh" openssl "$OPENSSL_VERSION" "$OPENSSL_SHA256" "$OPENSSL_URL" "$prefix/src"
tar -xzf "$prefix/src/openssl-$OPENSSL_VERSION.tar.gz" -C "$prefix/src"
(cd "$prefix/src/openssl-$OPENSSL_VERSION" &&
    ./config --prefix="$prefix/openssl" --libdir=lib no-shared no-tests no-engine -fPIC &&
    make -s -j"$(getconf _NPROCESSORS_ONLN)" build_libs && make -s install_dev)
JOBS=$(getconf _NPROCESSORS_ONLN) "$here/build_libpcap.sh" "$prefix/libpcap"
