#!/usr/bin/env bash
# Benchmarks `get` of docker-credential-dockhand through the read-only dir: store over a
# tree of 1,000 mounted secrets laid out as the kubelet does (a timestamped directory,
# "..data" pointing at it, ".dockerconfigjson" pointing into "..data"), on tmpfs like a
# secret volume when /dev/shm is writable.  Called by `make bench`.
#
# Usage: BUILDDIR=build hack/bench.d/30-dir-get.sh (or all parts: hack/bench.sh)
#   BENCH_RUNS (default 200) measured runs and BENCH_WARMUP (default 20) warm-up runs;
#   BENCH_SECRETS (default 1000) secrets in the tree.
#
# No peer reads such a tree (docker-credential-secretservice is not comparable), so the
# other rows are for scale only: `cat` of every secret's file in one process and `jq`
# reading one secret's file.  A get must open and read every secret's file, so its cost
# grows with the tree: on a 2-vCPU VM where /bin/true takes 0.9 ms, a bare C loop of
# readdir + 1,000 openat/read/close already takes about 3 ms (see docs/dir-store.md).
# Prints median and p90 wall time and peak RSS per row, and the target of the issue
# (median get <= 3 ms with 1,000 secrets) marked met / NOT met.  The target is
# informational: only a broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILDDIR=${BUILDDIR:-build}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-20}
SECRETS=${BENCH_SECRETS:-1000}
case $BUILDDIR in /*) BUILD=$BUILDDIR ;; *) BUILD=$ROOT/$BUILDDIR ;; esac
BENCHEXEC="$BUILD/test/tools/benchexec"
OURS="$BUILD/bin/docker-credential-dockhand"

TARGET_MEDIAN_MS=3

for tool in jq base64 cat; do
    command -v "$tool" >/dev/null || { echo "bench: '$tool' is not installed" >&2; exit 1; }
done
for f in "$BENCHEXEC" "$OURS"; do
    [ -x "$f" ] || { echo "bench: $f is not built (make $BUILDDIR/test/tools/benchexec all)" >&2; exit 1; }
done

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/dockhand-bench-dir.XXXXXX)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench-dir.XXXXXX")
fi
trap 'rm -rf "$WORK"' EXIT
TREE="$WORK/tree"
NS="$TREE/default"
mkdir -p "$NS" "$WORK/home"

# One secret per registry; every 100th also carries a glob key, as ECR/ACR pull secrets do.
for ((i = 1; i <= SECRETS; i++)); do
    dir="$NS/pull-secret-$i"
    ts="..2026_11_23_12_00_00.$i"
    mkdir -p "$dir/$ts"
    auth=$(printf 'robot-%d:token-%d-0123456789abcdef0123456789abcdef' "$i" "$i" | base64 -w0)
    if ((i % 100 == 0)); then
        printf '{"auths":{"registry-%d.example.com":{"auth":"%s"},"*.dkr.ecr.*.amazonaws.com":{"username":"AWS","password":"ecr-%d"}}}' \
            "$i" "$auth" "$i" >"$dir/$ts/.dockerconfigjson"
    else
        printf '{"auths":{"registry-%d.example.com":{"username":"robot-%d","password":"token-%d-0123456789abcdef0123456789abcdef","auth":"%s"}}}' \
            "$i" "$i" "$i" "$auth" >"$dir/$ts/.dockerconfigjson"
    fi
    ln -s "$ts" "$dir/..data"
    ln -s ..data/.dockerconfigjson "$dir/.dockerconfigjson"
done

MID=$(((SECRETS + 1) / 2))
URL="registry-$MID.example.com"
GET_INPUT="$WORK/get-input"
printf '%s' "$URL" >"$GET_INPUT"
EXPECT=$(printf '{"ServerURL":"%s","Username":"robot-%d","Secret":"token-%d-0123456789abcdef0123456789abcdef"}' \
    "$URL" "$MID" "$MID")

export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share"
unset DOCKHAND_CONFIG DOCKHAND_LOG_LEVEL DOCKHAND_LOG_FORMAT
export DOCKHAND_STORE="dir:$TREE" DOCKHAND_NAMESPACE=default

got=$("$OURS" get <"$GET_INPUT") || true
if [ "$got" != "$EXPECT" ]; then
    echo "bench: get returned '$got', expected '$EXPECT'" >&2
    exit 1
fi

# field JSON NAME: a numeric field of benchexec's output.
field() {
    local re="\"$2\":([0-9.]+)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
fs=$(stat -f -c %T "$TREE" 2>/dev/null || echo '?')
echo "# dockhand bench: get through dir: over $SECRETS secrets, $RUNS runs after $WARMUP warm-up runs each"
echo "# date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "# cpu:     ${cpu:-unknown} ($(nproc) online)"
echo "# kernel:  $(uname -srm)"
echo "# tree:    $SECRETS secrets in kubelet layout on $fs, look-up of $URL"
echo "# ours:    $("$OURS" version 2>/dev/null || echo '?') ($OURS)"
echo

declare -A RESULT
status=0
bench() {
    local name=$1
    shift
    RESULT[$name]=$("$BENCHEXEC" -n "$RUNS" -w "$WARMUP" "$@") ||
        { echo "bench: $name failed" >&2; status=1; }
}
files=("$NS"/*/.dockerconfigjson)
bench 'dockhand get' -i "$GET_INPUT" -- "$OURS" get
bench 'dockhand list' -- "$OURS" list
bench "cat ${#files[@]} files" -- cat "${files[@]}"
bench 'true' -- true
# shellcheck disable=SC2016 # $u is jq's variable
bench 'jq, 1 file' -- jq -r --arg u "$URL" '.auths[$u].auth' "$NS/pull-secret-$MID/.dockerconfigjson"

printf '%-18s %10s %10s %14s\n' '' 'median ms' 'p90 ms' 'peak RSS KiB'
for name in 'dockhand get' 'dockhand list' "cat ${#files[@]} files" 'jq, 1 file' 'true'; do
    r=${RESULT[$name]:-}
    if [ -z "$r" ]; then
        printf '%-18s %10s\n' "$name" 'n/a'
        continue
    fi
    printf '%-18s %10s %10s %14s\n' "$name" "$(field "$r" median_ms)" "$(field "$r" p90_ms)" \
        "$(field "$r" max_rss_kib)"
done

echo
echo "target from the issue (informational):"
ours=$(field "${RESULT['dockhand get']:-}" median_ms || true)
if [ -n "$ours" ]; then
    met=$(awk -v m="$ours" -v t="$TARGET_MEDIAN_MS" 'BEGIN { print (m <= t) ? "met" : "NOT met" }')
    printf '  %-44s %-8s (%s ms)\n' "median get <= $TARGET_MEDIAN_MS ms with $SECRETS secrets" "$met" "$ours"
else
    echo "  n/a: dockhand was not measured"
fi
exit $status
