#!/usr/bin/env bash
# Benchmarks `get` of docker-credential-dockhand (default file store) against the peer
# helpers installed on this machine: docker-credential-secretservice (inside a private
# D-Bus session with an unlocked gnome-keyring) and docker-credential-pass (private
# GNUPGHOME and password store).  Called by `make bench`, which builds everything first.
#
# Usage: BUILDDIR=build hack/bench.d/10-helper-get.sh (or all parts: hack/bench.sh)
#   BENCH_RUNS (default 200) measured runs and BENCH_WARMUP (default 20) warm-up runs per
#   helper.  Everything runs in a private HOME/XDG tree that is removed at the end.
#
# Prints the environment, one row per helper (median and p90 wall time of one `get`, peak
# RSS), the ratio of each peer's median to ours, and the targets of the issue marked
# met / not met.  The targets are informational: only a broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash

# Targets from the issue.
TARGET_MEDIAN_MS=2
TARGET_SPEEDUP=8
TARGET_RSS_KIB=4096

# shellcheck source=test/cli/lib/common.bash
. test/cli/lib/common.bash
# shellcheck source=test/cli/lib/peers.bash
. test/cli/lib/peers.bash

for tool in docker-credential-secretservice docker-credential-pass dbus-run-session \
        gnome-keyring-daemon gpg pass; do
    dh_require "$tool" || exit 1
done
if [ ! -x "$BENCHEXEC" ]; then
    echo "bench: $BENCHEXEC is not built (make $BUILDDIR/test/tools/benchexec)" >&2
    exit 1
fi

BATS_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    dh_pass_stop || true
    rm -rf "$BATS_TEST_TMPDIR"
}
trap cleanup EXIT
dh_isolate # private HOME and XDG dirs under $BATS_TEST_TMPDIR

URL=https://bench.example.com:5000
CRED=$(printf '{"ServerURL":"%s","Username":"bench-user","Secret":"bench-secret-0123456789abcdef"}' "$URL")
EXPECT=$CRED # get answers with the same three members in the same order
GET_INPUT="$BATS_TEST_TMPDIR/get-input"
printf '%s' "$URL" >"$GET_INPUT"
export BENCHEXEC RUNS WARMUP URL CRED EXPECT GET_INPUT

# bench_helper HELPER: stores the credential with HELPER, checks that get returns it,
# then prints benchexec's JSON line for `HELPER get`.
bench_helper() {
    local got
    if ! printf '%s' "$CRED" | "$1" store >/dev/null; then
        echo "bench: $1 store failed" >&2
        return 1
    fi
    got=$("$1" get <"$GET_INPUT") || true
    if [ "$got" != "$EXPECT" ]; then
        echo "bench: $1 get returned '$got', expected '$EXPECT'" >&2
        return 1
    fi
    "$BENCHEXEC" -n "$RUNS" -w "$WARMUP" -i "$GET_INPUT" -- "$1" get
}
export -f bench_helper

# field JSON NAME: a numeric field of benchexec's output.
field() {
    local re="\"$2\":([0-9.]+)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
os=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}") || true)
echo "# dockhand bench: get of one credential, $RUNS runs after $WARMUP warm-up runs each"
echo "# date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "# cpu:     ${cpu:-unknown} ($(nproc) online)"
echo "# kernel:  $(uname -srm)"
echo "# os:      ${os:-unknown}"
echo "# peers:   golang-docker-credential-helpers $(dpkg-query -W -f='${Version}' golang-docker-credential-helpers 2>/dev/null || echo '?')"
if [ -x "$OURS" ]; then
    echo "# ours:    $("$OURS" version 2>/dev/null || echo '?') ($OURS)"
fi
echo

declare -A RESULT
status=0
if [ -x "$OURS" ]; then
    RESULT[dockhand]=$(bench_helper "$OURS") || { echo "bench: dockhand failed" >&2; status=1; }
else
    echo "bench: $OURS is not built; benchmarking the peers only" >&2
    status=1
fi
RESULT[secretservice]=$(dh_keyring_run bench_helper docker-credential-secretservice) ||
    { echo "bench: secretservice failed" >&2; status=1; }
RESULT[pass]=$(dh_pass_run bench_helper docker-credential-pass) ||
    { echo "bench: pass failed" >&2; status=1; }

printf '%-16s %10s %10s %14s %s\n' helper 'median ms' 'p90 ms' 'peak RSS KiB' 'median vs dockhand'
ours_median=$(field "${RESULT[dockhand]:-}" median_ms || true)
for h in dockhand secretservice pass; do
    r=${RESULT[$h]:-}
    if [ -z "$r" ]; then
        printf '%-16s %10s\n' "$h" 'n/a'
        continue
    fi
    med=$(field "$r" median_ms || true) p90=$(field "$r" p90_ms || true)
    rss=$(field "$r" max_rss_kib || true)
    ratio=''
    if [ "$h" != dockhand ] && [ -n "$ours_median" ]; then
        ratio=$(awk -v a="$med" -v b="$ours_median" -v h="$h" \
            'BEGIN { if (b > 0) printf "%s/dockhand = %.1fx", h, a / b; else print "n/a" }')
    fi
    printf '%-16s %10s %10s %14s %s\n' "$h" "$med" "$p90" "$rss" "$ratio"
done

echo
echo "targets from the issue (informational):"
mark() { if [ "$1" = 1 ]; then echo met; else echo 'NOT met'; fi; }
target() { printf '  %-36s %-8s %s\n' "$1" "$2" "$3"; }
if [ -n "$ours_median" ]; then
    ours_rss=$(field "${RESULT[dockhand]}" max_rss_kib || true)
    target "median get <= $TARGET_MEDIAN_MS ms" \
        "$(mark "$(awk -v m="$ours_median" -v t="$TARGET_MEDIAN_MS" 'BEGIN { print (m <= t) }')")" \
        "($ours_median ms)"
    ss_median=$(field "${RESULT[secretservice]:-}" median_ms || true)
    if [ -n "$ss_median" ]; then
        speedup=$(awk -v a="$ss_median" -v b="$ours_median" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
        target ">= ${TARGET_SPEEDUP}x faster than secretservice" \
            "$(mark "$(awk -v s="$speedup" -v t="$TARGET_SPEEDUP" 'BEGIN { print (s >= t) }')")" \
            "(${speedup}x)"
    else
        target ">= ${TARGET_SPEEDUP}x faster than secretservice" n/a ''
    fi
    target "peak RSS <= $((TARGET_RSS_KIB / 1024)) MiB" \
        "$(mark "$(awk -v r="$ours_rss" -v t="$TARGET_RSS_KIB" 'BEGIN { print (r <= t) }')")" \
        "($ours_rss KiB)"
else
    echo "  n/a: dockhand was not measured"
fi
exit $status
