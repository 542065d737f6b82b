#!/usr/bin/env bash
# Builds dockhand's OCI image (the agent DaemonSet's and the sync job's `image:
# dockhand`) with umoci, without a docker daemon and without a Dockerfile, from the
# binaries already built here, then verifies it by unpacking it and running the
# binary inside the unpacked root filesystem with chroot.
#
#   hack/build-agent-image.sh [--bin-dir DIR] [--layout DIR] [--tag TAG] [--no-verify]
#
#   --bin-dir DIR   where dockhand and docker-credential-dockhand are (default build/bin;
#                   build them with `make` — STATIC_DEPS=1, the default, links libcrypto,
#                   jansson and libyaml statically)
#   --layout DIR    the OCI image layout to write (default build/oci-image); push it with
#                   skopeo copy oci:DIR:TAG docker://REGISTRY/dockhand:TAG
#   --tag TAG       default: dockhand's version
#
# libcurl is dlopen'd at run time (docs/design.md), so the image carries Debian's
# libcurl.so.4 and every library it needs, copied with their paths as `ldd` lists
# them, plus libc and the dynamic loader, the CA bundle (/etc/ssl/certs), and minimal
# /etc/passwd and /etc/group.  Nothing else: no shell, no package manager.  The
# verification needs root (chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bin
LAYOUT=build/oci-image
TAG=
VERIFY=1
while [ $# -gt 0 ]; do
    case $1 in
    --bin-dir) BIN=${2:?}; shift 2 ;;
    --layout) LAYOUT=${2:?}; shift 2 ;;
    --tag) TAG=${2:?}; shift 2 ;;
    --no-verify) VERIFY=0; shift ;;
    *) echo "usage: hack/build-agent-image.sh [--bin-dir DIR] [--layout DIR] [--tag TAG] [--no-verify]" >&2; exit 2 ;;
    esac
done
for t in umoci ldd jq; do
    command -v "$t" >/dev/null || { echo "build-agent-image: '$t' is required (hack/install-deps.sh)" >&2; exit 1; }
done
for b in dockhand docker-credential-dockhand; do
    [ -x "$BIN/$b" ] || { echo "build-agent-image: $BIN/$b is not built (make)" >&2; exit 1; }
done
[ -n "$TAG" ] || TAG=$("$BIN/dockhand" version | awk '{print $NF}')
TAG=${TAG#v}
CURL=$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64|aarch64|64bit/ { print $NF; exit }')
[ -n "$CURL" ] || CURL=$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')
[ -n "$CURL" ] || { echo "build-agent-image: libcurl.so.4 is not installed (libcurl4)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc/ssl/certs" "$ROOT/tmp" "$ROOT/var/lib/dockhand" \
    "$ROOT/var/cache/dockhand" "$ROOT/etc/dockhand"
chmod 1777 "$ROOT/tmp"
install -m 0755 "$BIN/dockhand" "$BIN/docker-credential-dockhand" "$ROOT/usr/local/bin/"

# copy FILE to the same path in the image (the content: symlinks are resolved)
copy_lib() {
    mkdir -p "$ROOT$(dirname "$1")"
    cp -L "$1" "$ROOT$1"
}
{
    ldd "$BIN/dockhand"
    ldd "$CURL"
    echo "$CURL"
} | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u | while read -r lib; do
    copy_lib "$lib"
done
# the loader under its canonical name as well (PT_INTERP)
interp=$(readelf -l "$BIN/dockhand" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -z "$interp" ] || copy_lib "$interp"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ROOT/etc/group"

rm -rf "$LAYOUT"
mkdir -p "$(dirname "$LAYOUT")"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$TAG"
umoci unpack --rootless --image "$LAYOUT:$TAG" "$WORK/bundle" >/dev/null
cp -a "$ROOT/." "$WORK/bundle/rootfs/"
umoci repack --image "$LAYOUT:$TAG" "$WORK/bundle"
umoci config --image "$LAYOUT:$TAG" --os linux --architecture "$(dpkg --print-architecture 2>/dev/null || echo amd64)" \
    --config.user 0:0 --config.env PATH=/usr/local/bin \
    --config.entrypoint /usr/local/bin/dockhand --config.cmd agent \
    --config.label org.opencontainers.image.title=dockhand \
    --config.label "org.opencontainers.image.version=$TAG" \
    --config.label org.opencontainers.image.source=https://github.com/dockhand/dockhand
umoci gc --layout "$LAYOUT"
echo "build-agent-image: $LAYOUT:$TAG"
umoci stat --image "$LAYOUT:$TAG" --json | jq -r '.history | length' >/dev/null

[ "$VERIFY" = 1 ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "build-agent-image: verification skipped (chroot needs root); pass --no-verify to silence" >&2
    exit 1
fi
V="$WORK/verify"
umoci unpack --image "$LAYOUT:$TAG" "$V" >/dev/null
out=$(chroot "$V/rootfs" /usr/local/bin/dockhand version)
echo "  chroot: dockhand version -> $out"
chroot "$V/rootfs" /usr/local/bin/dockhand agent --help | head -n 1 | sed 's/^/  chroot: dockhand agent --help -> /'
# libcurl loads inside the image: a CRI call to a socket that does not exist fails at
# the connection (naming the endpoint), not at loading libcurl.
printf 'images: [example.invalid/x:1]\n' >"$V/rootfs/tmp/agent.yaml"
if out=$(chroot "$V/rootfs" /usr/local/bin/dockhand agent status --config /tmp/agent.yaml \
    --runtime-endpoint unix:///tmp/none.sock --state-dir /tmp/state 2>&1); then
    echo "build-agent-image: status against a missing socket succeeded?" >&2
    exit 1
fi
case $out in
*libcurl*) echo "build-agent-image: libcurl does not load in the image: $out" >&2; exit 1 ;;
*"unix:///tmp/none.sock"*) echo "  chroot: libcurl loads (status fails at the socket: ${out:0:110}...)" ;;
*) echo "build-agent-image: unexpected answer: $out" >&2; exit 1 ;;
esac
echo "build-agent-image: verified"
