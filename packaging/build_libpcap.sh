#!/bin/sh
# build_libpcap.sh PREFIX: the pinned libpcap as a static, position-independent library in
# PREFIX/lib/libpcap.a (headers in PREFIX/include), for linking into the extension.
# Optional parts are off so nothing beyond libc comes along: no D-Bus (it would bring
# libdbus and libsystemd), no libnl (Linux capture works through plain netlink sockets
# without it), no RDMA, Bluetooth, USB, netmap, DPDK or remote capture.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
prefix=$1
[ -f "$prefix/lib/libpcap.a" ] && [ "$(cat "$prefix/VERSION" 2>/dev/null)" = "$LIBPCAP_VERSION" ] && exit 0
work="$prefix.build"
rm -rf "$work" "$prefix"
"$here/fetch_source.sh" libpcap "$LIBPCAP_VERSION" "$LIBPCAP_SHA256" "$LIBPCAP_URL" "$work"
tar -xzf "$work/libpcap-$LIBPCAP_VERSION.tar.gz" -C "$work"
cd "$work/libpcap-$LIBPCAP_VERSION"
./configure --quiet --prefix="$prefix" --disable-shared \
    --disable-dbus --without-libnl --disable-rdma --disable-bluetooth --disable-usb \
    --disable-netmap --without-dpdk --disable-remote CFLAGS="-O2 -fPIC"
make -s -j"${JOBS:-1}"
make -s install
echo "$LIBPCAP_VERSION" > "$prefix/VERSION"
rm -rf "$work"
