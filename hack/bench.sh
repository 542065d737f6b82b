#!/usr/bin/env bash
# `make bench`: runs every benchmark part in hack/bench.d/ in name order (or the
# parts named on the command line, e.g. hack/bench.sh 10-helper-get).  Each part
# compares dockhand with the peer tools installed from Debian in the same run and
# prints medians and ratios.  Targets are informational; a part fails only when
# its set-up is broken.  Exits non-zero when any part failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export BUILDDIR=${BUILDDIR:-build}
parts=()
if [ $# -gt 0 ]; then
    for p in "$@"; do parts+=("hack/bench.d/${p%.sh}.sh"); done
else
    for p in hack/bench.d/*.sh; do parts+=("$p"); done
fi
failed=0
for p in "${parts[@]}"; do
    echo "======== $(basename "$p" .sh)"
    if ! bash "$p"; then
        echo "bench part $(basename "$p") failed" >&2
        failed=$((failed + 1))
    fi
    echo
done
[ $failed -eq 0 ]
