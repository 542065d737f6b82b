#!/usr/bin/env bash
# Benchmarks `dockhand secret generate` (one registry from the default file store, YAML
# out) against the peer that makes the same Secret: `kubectl create secret
# docker-registry --dry-run=client -o yaml` with the same values on its command line.
# Both outputs are checked to carry the same decoded .dockerconfigjson first.
#
# Usage: BUILDDIR=build hack/bench.d/50-secret-generate.sh (or hack/bench.sh 50-secret-generate)
#   BENCH_RUNS (default 200) measured runs and BENCH_WARMUP (default 20) warm-up runs per
#   tool.  Everything runs in a private HOME/XDG tree that is removed at the end.
#
# Prints one row per tool (median and p90 wall time, peak RSS) and kubectl's median as a
# multiple of dockhand's.  Informational: only a broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash
# shellcheck source=test/cli/lib/common.bash
. test/cli/lib/common.bash

dh_require kubectl jq base64 || exit 1
CLI="$BUILD/bin/dockhand"
for f in "$BENCHEXEC" "$CLI" "${OURS:?}"; do
    [ -x "$f" ] || { echo "bench: $f is not built" >&2; exit 1; }
done

BATS_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench.XXXXXX")
trap 'rm -rf "$BATS_TEST_TMPDIR"' EXIT
dh_isolate
export KUBECONFIG="$BATS_TEST_TMPDIR/no-kubeconfig"

REG=registry.example.com:5000 USER_=bench-user PASS='bench:secret&<>-0123456789'
jq -n --arg s "$REG" --arg u "$USER_" --arg p "$PASS" '{ServerURL: $s, Username: $u, Secret: $p}' |
    "$OURS" store
OURS_CMD=("$CLI" secret generate regcred -n bench --registry "$REG")
PEER_CMD=(kubectl create secret docker-registry regcred -n bench "--docker-server=$REG"
    "--docker-username=$USER_" "--docker-password=$PASS" --dry-run=client -o yaml)

# The same payload from both (kubectl's YAML read back by kubectl's own reader).
decode() { kubectl label --local -f - -o json bench=1 | jq -j '.data[".dockerconfigjson"]' | base64 -d; }
a=$("${OURS_CMD[@]}" | decode)
b=$("${PEER_CMD[@]}" | decode)
if [ "$a" != "$b" ]; then
    echo "bench: payloads differ" >&2
    exit 1
fi

field() {
    local re="\"$2\":([0-9.]+)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

echo "# dockhand bench: secret generate vs kubectl create secret docker-registry --dry-run=client"
echo "# date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ'), $RUNS runs after $WARMUP warm-up runs each"
echo "# kubectl: $(kubectl version --client 2>/dev/null | head -n 1)"
echo
ours=$("$BENCHEXEC" -n "$RUNS" -w "$WARMUP" -i /dev/null -- "${OURS_CMD[@]}")
peer=$("$BENCHEXEC" -n "$RUNS" -w "$WARMUP" -i /dev/null -- "${PEER_CMD[@]}")
printf '%-10s %10s %10s %14s %s\n' tool 'median ms' 'p90 ms' 'peak RSS KiB' 'median vs dockhand'
printf '%-10s %10s %10s %14s\n' dockhand "$(field "$ours" median_ms)" "$(field "$ours" p90_ms)" \
    "$(field "$ours" max_rss_kib)"
printf '%-10s %10s %10s %14s %s\n' kubectl "$(field "$peer" median_ms)" "$(field "$peer" p90_ms)" \
    "$(field "$peer" max_rss_kib)" \
    "$(awk -v a="$(field "$peer" median_ms)" -v b="$(field "$ours" median_ms)" \
        'BEGIN { if (b > 0) printf "kubectl/dockhand = %.1fx", a / b; else print "n/a" }')"
