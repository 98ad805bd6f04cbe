#!/usr/bin/env bash
# Builds a stand-in for node:24-bookworm-slim when no image registry is reachable: a minimal
# Debian bookworm from Debian's mirror (debootstrap) plus the Node 24 binary that npm installed
# into node_modules and the system's npm. Like the official slim image it has no ca-certificates
# and no openssl, so the Dockerfile must install what it needs.
#
# Cached by content: the tag is a hash of this script, the node binary and npm's version, so a
# warm machine skips the build entirely. Prints the image reference on stdout (last line).
#
# usage: build-base-image.sh [REPO_ROOT]      env: DOCKER (default: docker), DEBIAN_MIRROR
set -euo pipefail

root="$(cd "${1:-$(dirname "$0")/../..}" && pwd)"
docker_cmd="${DOCKER:-docker}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

node_bin="$root/node_modules/node/bin/node"
[ -x "$node_bin" ] || node_bin="$(cd "$root" && npx --no-install which node)"
[ -x "$node_bin" ] || { echo "build-base-image: no Node binary (run npm ci first)" >&2; exit 1; }
"$node_bin" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' \
  || { echo "build-base-image: $node_bin is not Node >= 24" >&2; exit 1; }

npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$npm_dir/package.json" ] || { echo "build-base-image: cannot find npm's folder" >&2; exit 1; }
npm_version="$("$node_bin" -p "require('$npm_dir/package.json').version")"

# This machine may reach the npm registry through a TLS-inspecting egress proxy whose CA only
# the host's trust store has. Builds need npm to trust what the host trusts, so the stand-in's
# npm (and nothing else: no ENV, the system store stays empty like the official image's) gets
# the host bundle as its cafile. Set SLUICE_TEST_NPM_CAFILE= (empty) to leave it out.
npm_cafile="${SLUICE_TEST_NPM_CAFILE-/etc/ssl/certs/ca-certificates.crt}"
[ -z "$npm_cafile" ] || [ -r "$npm_cafile" ] || npm_cafile=""

hash="$( { sha256sum "$0" | cut -d' ' -f1; sha256sum "$node_bin" | cut -d' ' -f1; echo "$npm_version $mirror"
           [ -z "$npm_cafile" ] || sha256sum "$npm_cafile" | cut -d' ' -f1; } | sha256sum | cut -c1-16)"
image="sluice-test-base:$hash"

if "$docker_cmd" image inspect "$image" >/dev/null 2>&1; then
  echo "build-base-image: cached $image" >&2
  echo "$image"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "build-base-image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

work="$(mktemp -d /var/tmp/sluice-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "build-base-image: debootstrap bookworm into $rootfs" >&2
start=$SECONDS
# minbase: dpkg, apt and essential packages only, as in the official slim images.
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
echo "build-base-image: debootstrap took $((SECONDS - start)) s" >&2

# Trim what an image does not need (the official slim images drop these too).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

# Node and npm where the official image has them.
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

if [ -n "$npm_cafile" ]; then
  mkdir -p "$rootfs/usr/local/etc" "$rootfs/usr/local/share/sluice-test"
  install -m 0644 "$npm_cafile" "$rootfs/usr/local/share/sluice-test/npm-ca.pem"
  echo "cafile=/usr/local/share/sluice-test/npm-ca.pem" >"$rootfs/usr/local/etc/npmrc"
fi

tar -C "$rootfs" --numeric-owner -c . | "$docker_cmd" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
"$docker_cmd" tag "$image" sluice-test-base:latest
echo "build-base-image: built $image in $((SECONDS - start)) s" >&2
echo "$image"
