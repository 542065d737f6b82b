#!/usr/bin/env bash
# Benchmarks `dockhand secret sync --once` over 1,000 namespaces against the strict fake
# API server (test/fake/kube-apiserver.py, HTTPS on loopback) with one ECR registry minted
# from the fake ECR and one static registry from the file store, patching the `default`
# ServiceAccount of every namespace.  Called by `make bench`.
#
# Usage: BUILDDIR=build hack/bench.d/70-secret-sync.sh   (BENCH_NAMESPACES, default 1000)
#
# Prints, per run: wall time, API calls and writes (from the fake's counters, checked
# against dockhand's own report), token fetches per registry (the fake ECR's count):
#   1. first run: every namespace gets the Secret and the ServiceAccount patch;
#   2. second run, nothing changed: no write at all;
#   3. the same unchanged run when the cluster-wide lists are forbidden (each namespace
#      is read on its own, as the peers always do).
# No peer is installable from Debian (registry-creds and imagepullsecret-patcher are Go
# programs shipped as container images), so the numbers are printed alone; the peers'
# request pattern is described in docs/secret-sync.md.  Targets are informational.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash
# shellcheck source=test/cli/lib/kubefake.bash
. test/cli/lib/kubefake.bash

N=${BENCH_NAMESPACES:-1000}
for tool in python3 openssl jq curl; do dh_require "$tool" || exit 1; done
DH_CLI="$BUILD/bin/dockhand"
[ -x "$DH_CLI" ] || { echo "bench: $DH_CLI is not built" >&2; exit 1; }

ACCOUNT=123456789012
ECR_HOST=$ACCOUNT.dkr.ecr.us-east-1.amazonaws.com
REG=registry.bench.example:5000
AKID=AKIDDOCKHANDBENCH70
SK="sk-bench-$RANDOM$RANDOM"

BATS_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench.XXXXXX")
ECR_PID=
FAKE_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    stop_fake "$FAKE_PID"
    [ -z "$ECR_PID" ] || { kill "$ECR_PID" 2>/dev/null || true; wait "$ECR_PID" 2>/dev/null || true; }
    rm -rf "$BATS_TEST_TMPDIR"
}
trap cleanup EXIT
dh_isolate

export PKI="$BATS_TEST_TMPDIR/pki" TOKEN="tok-bench-$RANDOM$RANDOM" BASIC_PW="unused-$RANDOM"
make_pki "$PKI"
export FAKE_DIR="$BATS_TEST_TMPDIR/fake"
start_fake "$FAKE_DIR" 127.0.0.1
fake_kubeconfig "$BATS_TEST_TMPDIR/kubeconfig"
export KUBECONFIG="$BATS_TEST_TMPDIR/kubeconfig"
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT POD_NAMESPACE DOCKHAND_STORE

mkdir -p "$BATS_TEST_TMPDIR/ecr"
python3 test/fake/aws-ecr.py --state-dir "$BATS_TEST_TMPDIR/ecr" --access-key-id "$AKID" \
    --secret-access-key "$SK" --region us-east-1 --account "$ACCOUNT" \
    --password "ecr-bench-$RANDOM" --expires-in 43200 >"$BATS_TEST_TMPDIR/ecr/out.log" 2>&1 &
ECR_PID=$!
for _ in $(seq 1 200); do [ -s "$BATS_TEST_TMPDIR/ecr/port" ] && break; sleep 0.05; done
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
ECR_PORT=$(cat "$BATS_TEST_TMPDIR/ecr/port")
export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_PORT"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
mkdir -p "$XDG_CONFIG_HOME/dockhand"
printf 'ecr:\n  - registry: "%s"\n    region: us-east-1\n' "$ECR_HOST" >"$XDG_CONFIG_HOME/dockhand/config.yaml"
printf '{"ServerURL":"%s","Username":"bench","Secret":"bench-secret"}' "$REG" |
    "$BUILD/bin/docker-credential-dockhand" store

names=()
for i in $(seq 1 "$N"); do names+=("bench-$i"); done
fake_namespaces '{"bench":"yes"}' "${names[@]}"

ecr_calls() { jq -r .calls < <(curl -fsS "$AWS_ENDPOINT_URL_ECR/_fake/calls"); }

# run LABEL: one --once run; prints a row and checks the report against the fake.
run() {
    local label=$1 t0 t1 out summary counters ms calls writes ecr0 ecr
    fake_ctl POST /_fake/requests/reset >/dev/null
    ecr0=$(ecr_calls)
    out="$BATS_TEST_TMPDIR/report.$label"
    t0=$(date +%s%N)
    "$DH_CLI" secret sync --once --name bench-pull --registry "$ECR_HOST" --registry "$REG" \
        --selector bench=yes --service-accounts default >"$out" 2>"$out.err" ||
        { cat "$out.err" >&2; return 1; }
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    summary=$(grep '"cycle"' "$out" | tail -n 1)
    counters=$(fake_counters)
    calls=$(jq -r .requests <<<"$counters")
    writes=$(jq -r .writes <<<"$counters")
    ecr=$(($(ecr_calls) - ecr0))
    [ "$(jq -r .namespaces <<<"$summary")" -eq "$N" ] || { echo "bench: $label synced $(jq -r .namespaces <<<"$summary") namespaces" >&2; return 1; }
    [ "$(jq -r .api_calls <<<"$summary")" -eq "$calls" ] || { echo "bench: report and fake disagree on API calls" >&2; return 1; }
    [ "$(jq -r .failed <<<"$summary")" -eq 0 ] || { echo "bench: $label had failures" >&2; return 1; }
    printf '%-44s %9s %9s %9s %14s\n' "$label" "$ms" "$calls" "$writes" "$ecr"
    eval "${label//[^a-z]/_}_writes=$writes"
}

echo "secret sync --once, $N namespaces, 2 registries (ECR minted + static), SA 'default' patched"
echo "fake API server: python3 ThreadingHTTPServer over TLS on loopback; $(nproc) CPUs"
printf '%-44s %9s %9s %9s %14s\n' run wall_ms api_calls writes ecr_fetches
run "first (create + patch)"
run "second (unchanged)"
fake_ctl POST /_fake/scenario '{"forbid_cluster":["secrets","serviceaccounts"]}' >/dev/null
run "unchanged, cluster-wide lists forbidden"
echo
echo "expected: first run writes $((2 * N)) (one apply + one ServiceAccount PUT per namespace) with"
echo "one ECR token fetch; an unchanged run writes 0 and only lists namespaces, Secrets and"
echo "ServiceAccounts cluster-wide (500 per page: $((3 * ((N + 499) / 500))) calls), or reads each namespace's"
echo "Secret and ServiceAccount when those lists are forbidden.  A later run reuses the cached"
echo "token (0 fetches) until it nears expiry."
echo "peers: none installable from Debian (registry-creds, imagepullsecret-patcher); numbers alone."
if [ "${second__unchanged__writes:-1}" -ne 0 ]; then
    echo "bench: the unchanged run wrote $second__unchanged__writes times" >&2
    exit 1
fi
