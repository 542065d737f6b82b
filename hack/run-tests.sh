#!/usr/bin/env bash
# Runs every test kind and prints one closing line: "N passed, N failed, N skipped".
# Usage: hack/run-tests.sh [unit|cli|fuzz ...]   (default: all kinds)
# Each test program speaks TAP.  A skipped test is never counted as passed; with
# CI=true or DOCKHAND_TEST_STRICT=1 a skip counts as a failure.  A run in which
# nothing passed fails.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILDDIR=${BUILDDIR:-build}
export BUILDDIR
export DOCKHAND_BIN_DIR="$PWD/$BUILDDIR/bin"
export DOCKHAND_TEST_TOOLS="$PWD/$BUILDDIR/test/tools"
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(unit fuzz cli)
strict=0
if [ "${CI:-}" = true ] || [ "${DOCKHAND_TEST_STRICT:-0}" = 1 ]; then strict=1; fi

passed=0 failed=0 skipped=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-tests.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

# run_tap NAME CMD...: runs CMD, echoes its TAP, tallies the results.
run_tap() {
    local name=$1; shift
    local out="$logdir/out" rc p=0 f=0 s=0 line planned=""
    echo "# --- $name"
    "$@" >"$out" 2>"$logdir/err"
    rc=$?
    while IFS= read -r line; do
        case "$line" in
            "not ok"*) f=$((f + 1)); echo "$line" ;;
            ok*"# skip"*|ok*"# SKIP"*)
                if [ $strict = 1 ]; then f=$((f + 1)); echo "not $line (skip counts as failure in strict mode)"
                else s=$((s + 1)); echo "$line"; fi ;;
            ok*) p=$((p + 1)); echo "$line" ;;
            1..*) planned=${line#1..}; planned=${planned%% *} ;;
            *) echo "$line" ;;
        esac
    done <"$out"
    if [ $rc -ne 0 ] && [ $f -eq 0 ]; then
        f=$((f + 1)); echo "not ok - $name exited with status $rc"
    fi
    if [ -n "$planned" ] && [ $((p + f + s)) -lt "$planned" ]; then
        f=$((f + 1)); echo "not ok - $name ran $((p + f + s - 1)) of $planned planned tests"
    fi
    if [ $f -ne 0 ] && [ -s "$logdir/err" ]; then
        echo "# stderr of $name:"; sed 's/^/#   /' "$logdir/err" | tail -n 40
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

for kind in "${kinds[@]}"; do
    case "$kind" in
    unit)
        for t in "$BUILDDIR"/test/test_*; do
            [ -x "$t" ] && run_tap "unit/$(basename "$t")" "$t"
        done ;;
    fuzz)
        for t in "$BUILDDIR"/fuzz-replay/*; do
            [ -x "$t" ] || continue
            n=$(basename "$t")
            run_tap "fuzz-replay/$n" "$t" "test/fuzz/corpus/$n"
        done ;;
    cli)
        for t in test/cli/*.bats; do
            [ -f "$t" ] && run_tap "cli/$(basename "$t")" bats --tap "$t"
        done ;;
    *) echo "unknown test kind '$kind'" >&2; exit 2 ;;
    esac
done

echo "$passed passed, $failed failed, $skipped skipped"
if [ $failed -ne 0 ]; then exit 1; fi
if [ $passed -eq 0 ]; then echo "no test passed" >&2; exit 1; fi
exit 0
