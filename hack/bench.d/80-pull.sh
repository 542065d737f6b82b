#!/usr/bin/env bash
# Benchmarks `dockhand pull --to oci:DIR` against `skopeo copy docker://... oci:DIR:REF`
# on one image of BENCH_PULL_MIB (default 200) MiB in BENCH_PULL_LAYERS (default 8)
# layers of incompressible data (hack/make-bench-image.sh), in a real docker-registry
# on 127.0.0.1 (plain http, htpasswd).  Runs alternate between the two tools, each into
# a fresh directory (removed after the run); benchexec measures wall time and peak RSS.
# Then the second image (sharing all but one layer) is pulled into the layout of the
# first: the bytes dockhand fetched for it are printed (the shared layers once).
#
# Usage: BUILDDIR=build hack/bench.d/80-pull.sh (or hack/bench.sh 80-pull)
#   BENCH_PULL_RUNS (default 7) measured runs per tool, BENCH_PULL_CONCURRENCY (default:
#   dockhand's) passed as --concurrency.  Everything runs in a private HOME/XDG tree
#   that is removed at the end, with the registry.
#
# Informational: only a broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash
# shellcheck source=test/cli/lib/registry.bash
. test/cli/lib/registry.bash

dh_require skopeo umoci jq docker-registry htpasswd || exit 1
CLI="$BUILD/bin/dockhand"
for f in "$BENCHEXEC" "$CLI" "${OURS:?}"; do
    [ -x "$f" ] || { echo "bench: $f is not built" >&2; exit 1; }
done
RUNS=${BENCH_PULL_RUNS:-7}
MIB=${BENCH_PULL_MIB:-200}
LAYERS=${BENCH_PULL_LAYERS:-8}
CONC=()
[ -n "${BENCH_PULL_CONCURRENCY:-}" ] && CONC=(--concurrency "$BENCH_PULL_CONCURRENCY")

BATS_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench.XXXXXX")
cleanup() {
    dh_registry_stop "$BATS_TEST_TMPDIR/registry" >/dev/null 2>&1 || true
    rm -rf "$BATS_TEST_TMPDIR"
}
trap cleanup EXIT
dh_isolate
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

dh_registry_start "$BATS_TEST_TMPDIR/registry" >/dev/null
out=$(BENCH_REG_USER=$DH_REG_USER BENCH_REG_PASS=$DH_REG_PASS hack/make-bench-image.sh \
    --registry "$DH_REG_HOST" --repo bench/img --size-mib "$MIB" --layers "$LAYERS" \
    --work "$BATS_TEST_TMPDIR/build")
rm -rf "$BATS_TEST_TMPDIR/build"
IMG_A=$(sed -n 1p <<<"$out" | cut -d' ' -f1)
IMG_B=$(sed -n 2p <<<"$out" | cut -d' ' -f1)
DIGEST_A=$(sed -n 1p <<<"$out" | cut -d' ' -f2)
# dockhand's credentials: its own file store, as `docker login` through it leaves them
jq -n --arg s "$DH_REG_HOST" --arg u "$DH_REG_USER" --arg p "$DH_REG_PASS" \
    '{ServerURL: $s, Username: $u, Secret: $p}' | "$OURS" store
# skopeo's: its own auth file (a bench-only test password)
mkdir -p "$XDG_RUNTIME_DIR/containers"
jq -n --arg h "$DH_REG_HOST" --arg a "$(printf '%s:%s' "$DH_REG_USER" "$DH_REG_PASS" | base64 -w0)" \
    '{auths: {($h): {auth: $a}}}' >"$XDG_RUNTIME_DIR/containers/auth.json"

OUT=$BATS_TEST_TMPDIR/out
ours_run() { "$BENCHEXEC" -n 1 -w 0 -- "$CLI" pull -q "${CONC[@]}" --insecure-registry "$DH_REG_HOST" "$IMG_A" --to "oci:$1"; }
peer_run() { "$BENCHEXEC" -n 1 -w 0 -- skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$IMG_A" "oci:$1:base"; }

# Both write the same image: the manifest digest named in each layout.
"$CLI" pull -q "${CONC[@]}" --insecure-registry "$DH_REG_HOST" "$IMG_A" --to "oci:$OUT.check1"
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$IMG_A" "oci:$OUT.check2:base"
a=$(jq -r '.manifests[0].digest' "$OUT.check1/index.json")
b=$(jq -r '.manifests[0].digest' "$OUT.check2/index.json")
if [ "$a" != "$DIGEST_A" ] || [ "$b" != "$DIGEST_A" ]; then
    echo "bench: layouts differ: dockhand $a, skopeo $b, pushed $DIGEST_A" >&2
    exit 1
fi
rm -rf "$OUT.check1" "$OUT.check2"

field() {
    local re="\"$2\":([0-9.]+)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
max() { sort -n | tail -n 1; }

ours_ms=() peer_ms=() ours_rss=() peer_rss=()
for i in $(seq 1 "$RUNS"); do
    for tool in ours peer; do
        rm -rf "$OUT"
        r=$("${tool}_run" "$OUT")
        if [ "$tool" = ours ]; then
            ours_ms+=("$(field "$r" median_ms)") ours_rss+=("$(field "$r" max_rss_kib)")
        else
            peer_ms+=("$(field "$r" median_ms)") peer_rss+=("$(field "$r" max_rss_kib)")
        fi
    done
    echo "# run $i: dockhand ${ours_ms[-1]} ms, skopeo ${peer_ms[-1]} ms" >&2
done
rm -rf "$OUT"
om=$(printf '%s\n' "${ours_ms[@]}" | median)
pm=$(printf '%s\n' "${peer_ms[@]}" | median)
orss=$(printf '%s\n' "${ours_rss[@]}" | max)
prss=$(printf '%s\n' "${peer_rss[@]}" | max)

# The second image into the first's layout: only what it does not share is fetched.
"$CLI" pull -q --insecure-registry "$DH_REG_HOST" "$IMG_A" --to "oci:$OUT"
shared=$("$CLI" pull --insecure-registry "$DH_REG_HOST" "$IMG_B" --to "oci:$OUT" -o json 2>/dev/null)
both=$("$CLI" pull --insecure-registry "$DH_REG_HOST" "$IMG_A" "$IMG_B" --to "oci:$OUT.both" -o json 2>/dev/null)
rm -rf "$OUT" "$OUT.both"

echo "# dockhand bench: pull into an OCI layout vs skopeo copy docker:// oci:"
echo "# date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ'), $RUNS alternated runs each, fresh directory per run"
echo "# image:   $MIB MiB in $LAYERS layers (random data), docker-registry on 127.0.0.1, plain http, htpasswd"
echo "# skopeo:  $(skopeo --version)"
echo
printf '%-10s %10s %14s %s\n' tool 'median ms' 'peak RSS KiB' 'median vs dockhand'
printf '%-10s %10s %14s\n' dockhand "$om" "$orss"
printf '%-10s %10s %14s %s\n' skopeo "$pm" "$prss" \
    "$(awk -v a="$pm" -v b="$om" 'BEGIN { if (b > 0) printf "skopeo/dockhand = %.2fx", a / b; else print "n/a" }')"
echo
jq -r '.images[0] | "second image into the same layout: \(.bytes_fetched) of \(.bytes_total) bytes fetched (\(.blobs_fetched) blobs fetched, \(.blobs_reused) reused), \(.duration_ms) ms"' <<<"$shared"
jq -r '"both images in one pull: \(.bytes_fetched) bytes fetched for \([.images[].bytes_total] | add) bytes of blobs, \(.duration_ms) ms"' <<<"$both"
