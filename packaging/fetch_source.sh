#!/bin/sh
# fetch_source.sh NAME VERSION SHA256 URL DIR: DIR/NAME-VERSION.tar.gz with that SHA-256.
# On Debian the tarball comes from `apt-get source` (the archive's signed Sources index;
# a deb-src entry in a temporary apt directory, so the system's apt set-up is untouched),
# elsewhere from URL. Either way the SHA-256 must match the pin.
set -eu
name=$1 version=$2 sha=$3 url=$4 dir=$5
out="$dir/$name-$version.tar.gz"
mkdir -p "$dir"
check() { [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; }
check && exit 0
rm -f "$out"
if command -v apt-get >/dev/null 2>&1 && [ -r /etc/debian_version ]; then
    apt="$(mktemp -d)"
    trap 'rm -rf "$apt"' EXIT
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources" "$apt/get"
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    for suite in "$codename" "$codename-security"; do
        base=http://deb.debian.org/debian; [ "$suite" = "$codename" ] || base=$base-security
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' \
            "$base" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg >> "$apt/sources/src.sources"
    done
    opts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$apt/sources
          -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    apt-get -qq $opts update >/dev/null
    # The Debian revision is whatever the archive holds for this upstream version.
    deb=$(apt-cache $opts showsrc "$name" | sed -n "s/^Version: \($version-.*\)/\1/p" | head -n1)
    if [ -n "$deb" ]; then
        (cd "$apt/get" && apt-get -qq $opts source --download-only "$name=$deb" >/dev/null)
        cp "$apt/get/${name}_$version.orig.tar.gz" "$out"
    fi
fi
if [ ! -f "$out" ]; then
    curl -fsSL -o "$out" "$url"
fi
check || { echo "fetch_source.sh: $out does not have the pinned SHA-256 $sha" >&2; rm -f "$out"; exit 1; }
