#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds two images of incompressible random data without a docker daemon (umoci) and
# pushes them to a registry with skopeo, for the pull benchmark and the pull tests.
#
#   hack/make-bench-image.sh --registry HOST:PORT --repo NAME [--size-mib N] [--layers L]
#                            [--work DIR] [--tls]
#
#   NAME:base    L layers of random data, N MiB in all (default 200 MiB in 8 layers)
#   NAME-b:base  the first L-1 layers of NAME:base plus one layer of its own (the same
#                size as the others): "a second image sharing most layers"
#
# Credentials for the push, when the registry wants some: $BENCH_REG_USER and
# $BENCH_REG_PASS (skopeo --dest-creds).  Plain http unless --tls.  On success prints
# one line per image: "HOST:PORT/NAME:base sha256:<manifest digest>".  The work directory
# (default: a new one under ${TMPDIR:-/tmp}) keeps the OCI layout umoci built; it is
# removed at the end unless --work was given.
set -euo pipefail

registry='' repo='' size_mib=200 layers=8 work='' tls=false
while [ $# -gt 0 ]; do
    case $1 in
    --registry) registry=$2; shift 2 ;;
    --repo) repo=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --tls) tls=true; shift ;;
    *) echo "make-bench-image: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$registry" ] || [ -z "$repo" ]; then
    echo "usage: make-bench-image.sh --registry HOST:PORT --repo NAME [--size-mib N] [--layers L] [--work DIR] [--tls]" >&2
    exit 2
fi
[ "$layers" -ge 2 ] || { echo "make-bench-image: --layers must be at least 2" >&2; exit 2; }
for tool in umoci skopeo tar head jq; do
    command -v "$tool" >/dev/null || { echo "make-bench-image: $tool is not installed (make deps)" >&2; exit 1; }
done

keep_work=true
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/dh-bench-image.XXXXXX")
    keep_work=false
fi
cleanup() { if [ "$keep_work" = false ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
mkdir -p "$work"
oci="$work/oci"
rm -rf "$oci"

# layer size in KiB (at least 1)
layer_kib=$(( size_mib * 1024 / layers ))
[ "$layer_kib" -ge 1 ] || layer_kib=1

# make_layer N: an uncompressed tar holding one file of random bytes
make_layer() {
    local n=$1 d="$work/layer-$1"
    rm -rf "$d" && mkdir -p "$d/data"
    head -c "$(( layer_kib * 1024 ))" /dev/urandom >"$d/data/blob-$n.bin"
    tar -C "$d" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer-$n.tar" data
    rm -rf "$d"
}

umoci init --layout "$oci"
umoci new --image "$oci:common"
for i in $(seq 1 $(( layers - 1 ))); do
    make_layer "$i"
    umoci raw add-layer --image "$oci:common" "$work/layer-$i.tar"
    rm -f "$work/layer-$i.tar"
done
make_layer a
umoci raw add-layer --image "$oci:common" --tag a "$work/layer-a.tar"
make_layer b
umoci raw add-layer --image "$oci:common" --tag b "$work/layer-b.tar"
rm -f "$work/layer-a.tar" "$work/layer-b.tar"

creds=()
if [ -n "${BENCH_REG_USER:-}" ]; then
    creds=(--dest-creds "$BENCH_REG_USER:${BENCH_REG_PASS:-}")
fi
# A private HOME so that no credential file or helper of the caller takes part.
home="$work/home"
mkdir -p "$home/.config" "$home/.docker" "$home/run"
chmod 0700 "$home/run"
push() {
    local tag=$1 dest=$2
    env -u REGISTRY_AUTH_FILE HOME="$home" XDG_CONFIG_HOME="$home/.config" \
        XDG_RUNTIME_DIR="$home/run" DOCKER_CONFIG="$home/.docker" \
        skopeo --insecure-policy copy --quiet --retry-times 2 --dest-tls-verify="$tls" \
        "${creds[@]}" "oci:$oci:$tag" "docker://$registry/$dest" >&2
    echo "$registry/$dest $(jq -r --arg t "$tag" \
        '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
        "$oci/index.json")"
}
push a "$repo:base"
push b "$repo-b:base"
