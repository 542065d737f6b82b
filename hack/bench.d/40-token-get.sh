#!/usr/bin/env bash
# Benchmarks a CACHED `get` of a minted registry token: docker-credential-dockhand against
# docker-credential-ecr-login (amazon-ecr-credential-helper) for an ECR registry, and
# against docker-credential-gcloud (google-cloud-cli, only when installed) for gcr.io.
# Every helper answers from its own warm cache; nothing touches the network:
#   - dockhand mints once from the strict fakes (test/fake/aws-ecr.py through
#     AWS_ENDPOINT_URL_ECR, test/fake/google.py through the key's token_uri), then every
#     measured get is served from $XDG_CACHE_HOME/dockhand/tokens;
#   - ecr-login gets a cache entry written here in its own format ($AWS_ECR_CACHE_DIR/
#     cache.json, version "1.0", key "<region>-<base64(access key id + md5(''))>-<account>",
#     token valid for 12 h, so its refresh point is 6 h away); the SDK only resolves the
#     static credentials from the environment to build the key;
#   - gcloud gets a service-account credential and a cached access token (expiring in
#     12 h) written into a private CLOUDSDK_CONFIG (credentials.db, access_tokens.db,
#     configurations/config_default), as `gcloud auth activate-service-account` would
#     leave them.  (Activation itself cannot be used: gcloud asks for more scopes than
#     the strict fake grants.)
# Before measuring, each peer's get is checked to print the expected secret and, when
# strace is installed, to attempt no inet connection.
#
# Usage: BUILDDIR=build hack/bench.d/40-token-get.sh (or hack/bench.sh 40-token-get)
#   BENCH_RUNS (default 200) measured runs and BENCH_WARMUP (default 20) warm-up runs per
#   helper.  Everything runs in a private HOME/XDG/CLOUDSDK_CONFIG tree that is removed at
#   the end; the fakes are stopped at the end.
#
# Prints the environment, one row per helper (median and p90 wall time of one `get`, peak
# RSS), the ratio of each peer's median to dockhand's for the same registry, and the
# targets of the issue marked met / NOT met.  The targets are informational: only a
# broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash
GCLOUD_HELPER=/usr/bin/docker-credential-gcloud

# Targets from the issue.
TARGET_ECR_SPEEDUP=3
TARGET_GCR_SPEEDUP=50

# shellcheck source=test/cli/lib/common.bash
. test/cli/lib/common.bash

for tool in docker-credential-ecr-login python3 openssl jq; do
    dh_require "$tool" || exit 1
done
if [ ! -x "$BENCHEXEC" ]; then
    echo "bench: $BENCHEXEC is not built (make $BUILDDIR/test/tools/benchexec)" >&2
    exit 1
fi

ACCOUNT=123456789012
REGION=us-east-1
ECR_HOST=$ACCOUNT.dkr.ecr.$REGION.amazonaws.com
GCR_HOST=gcr.io
AKID=AKIDDOCKHANDBENCH01
SK="sk-bench-$RANDOM$RANDOM"
ECR_PW="ecr-bench-$RANDOM$RANDOM"
GCR_PW="ya29.bench-$RANDOM$RANDOM"
GCLOUD_PW="ya29.gcloud-bench-$RANDOM$RANDOM"
EMAIL=bench@dockhand-bench.iam.gserviceaccount.com

BATS_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench.XXXXXX")
FAKE_PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${FAKE_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$BATS_TEST_TMPDIR"
}
trap cleanup EXIT
dh_isolate # private HOME and XDG dirs under $BATS_TEST_TMPDIR
export CLOUDSDK_CONFIG="$BATS_TEST_TMPDIR/gcloud" AWS_ECR_CACHE_DIR="$BATS_TEST_TMPDIR/ecr-cache"
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
export AWS_REGION=$REGION AWS_CONFIG_FILE="$BATS_TEST_TMPDIR/none" \
    AWS_SHARED_CREDENTIALS_FILE="$BATS_TEST_TMPDIR/none"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ECR_DISABLE_CACHE

# start_py NAME ARGS...: a python fake with --state-dir $BATS_TEST_TMPDIR/NAME; waits for
# its port file and prints the port.
start_py() {
    local name=$1 dir="$BATS_TEST_TMPDIR/$1"
    shift
    mkdir -p "$dir"
    python3 "$@" --state-dir "$dir" >"$dir/out.log" 2>&1 &
    FAKE_PIDS+=($!)
    for _ in $(seq 1 200); do
        [ -s "$dir/port" ] && { tr -d '\n' <"$dir/port"; return 0; }
        sleep 0.05
    done
    cat "$dir/out.log" >&2
    return 1
}

# --- fakes, for dockhand's single mint per registry
start_py ecr-fake test/fake/aws-ecr.py --access-key-id "$AKID" --secret-access-key "$SK" \
    --region "$REGION" --account "$ACCOUNT" --password "$ECR_PW" --expires-in 43200 \
    >"$BATS_TEST_TMPDIR/ecr-port"
ECR_PORT=$(cat "$BATS_TEST_TMPDIR/ecr-port")
export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_PORT"
G="$BATS_TEST_TMPDIR/google"
mkdir -p "$G"
openssl genrsa -out "$G/key.pem" 2048 2>/dev/null
openssl rsa -in "$G/key.pem" -pubout -out "$G/pub.pem" 2>/dev/null
start_py google-fake test/fake/google.py --pubkey "$G/pub.pem" --kid k1 --email "$EMAIL" \
    --access-token "$GCR_PW" >"$BATS_TEST_TMPDIR/google-port"
GOOGLE_PORT=$(cat "$BATS_TEST_TMPDIR/google-port")
jq -n --rawfile k "$G/key.pem" --arg e "$EMAIL" --arg u "http://127.0.0.1:$GOOGLE_PORT/token" \
    '{type:"service_account", project_id:"dockhand-bench", private_key_id:"k1",
      private_key:$k, client_email:$e, client_id:"1", token_uri:$u}' >"$G/sa.json"
export GOOGLE_APPLICATION_CREDENTIALS="$G/sa.json"

# --- ecr-login's warm cache (hack/lib/bench.bash)
mkdir -m 0700 "$AWS_ECR_CACHE_DIR"
bench_ecr_login_cache "$AWS_ECR_CACHE_DIR/cache.json" "$AKID" "$REGION" "$ACCOUNT" "$ECR_HOST" "$ECR_PW"

# --- gcloud's warm cache: credential + access token in a private CLOUDSDK_CONFIG
HAVE_GCLOUD=0
if [ -x "$GCLOUD_HELPER" ] && command -v gcloud >/dev/null 2>&1; then
    HAVE_GCLOUD=1
    mkdir -p "$CLOUDSDK_CONFIG/configurations"
    python3 - "$CLOUDSDK_CONFIG" "$G/sa.json" "$GCLOUD_PW" <<'EOF'
import datetime, json, sqlite3, sys
d, sa_path, token = sys.argv[1:]
sa = json.load(open(sa_path))
email = sa["client_email"]
c = sqlite3.connect(d + "/credentials.db")
c.execute('CREATE TABLE IF NOT EXISTS "credentials" (account_id TEXT PRIMARY KEY, value BLOB)')
c.execute("REPLACE INTO credentials VALUES (?,?)", (email, json.dumps(sa)))
c.commit()
c = sqlite3.connect(d + "/access_tokens.db")
c.execute('CREATE TABLE IF NOT EXISTS "access_tokens" (account_id TEXT PRIMARY KEY, '
          "access_token TEXT, token_expiry TIMESTAMP, rapt_token TEXT, id_token TEXT)")
exp = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
       + datetime.timedelta(hours=12))
c.execute("REPLACE INTO access_tokens VALUES (?,?,?,?,?)", (email, token, str(exp), None, None))
c.commit()
with open(d + "/configurations/config_default", "w") as f:
    f.write("[core]\naccount = %s\nproject = dockhand-bench\n" % email)
with open(d + "/active_config", "w") as f:
    f.write("default")
EOF
fi

ECR_INPUT="$BATS_TEST_TMPDIR/ecr-input" GCR_INPUT="$BATS_TEST_TMPDIR/gcr-input"
printf '%s' "$ECR_HOST" >"$ECR_INPUT"
printf '%s' "$GCR_HOST" >"$GCR_INPUT"

# no_inet_connect INPUT CMD...: with strace installed, fails when one get of CMD attempts
# an AF_INET/AF_INET6 connection.
no_inet_connect() {
    local input=$1 log="$BATS_TEST_TMPDIR/strace.log"
    shift
    command -v strace >/dev/null 2>&1 || return 0
    strace -f -qq -e trace=connect -o "$log" "$@" <"$input" >/dev/null 2>&1 || true
    if grep -E 'AF_INET6?' "$log" >&2; then
        echo "bench: $* get attempted a network connection (above)" >&2
        return 1
    fi
}

# bench_get NAME INPUT SECRET CMD...: checks that one `CMD get` prints SECRET with no inet
# connection, then prints benchexec's JSON line for it.
bench_get() {
    local name=$1 input=$2 secret=$3 got
    shift 3
    got=$("$@" get <"$input" 2>"$BATS_TEST_TMPDIR/$name.err") || true
    if [ "$(jq -r .Secret <<<"$got" 2>/dev/null)" != "$secret" ]; then
        echo "bench: $name get returned '$got' ($(cat "$BATS_TEST_TMPDIR/$name.err"))" >&2
        return 1
    fi
    no_inet_connect "$input" "$@" get || return 1
    "$BENCHEXEC" -n "$RUNS" -w "$WARMUP" -i "$input" -- "$@" get
}

# field JSON NAME: a numeric field of benchexec's output.
field() {
    local re="\"$2\":([0-9.]+)"
    [[ $1 =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
os=$( (. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}") || true)
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
echo "# dockhand bench: cached get of a minted token, $RUNS runs after $WARMUP warm-up runs each"
echo "# date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "# cpu:     ${cpu:-unknown} ($(nproc) online)"
echo "# kernel:  $(uname -srm)"
echo "# os:      ${os:-unknown}"
echo "# peers:   amazon-ecr-credential-helper $(pkgver amazon-ecr-credential-helper)," \
    "google-cloud-cli $(if [ $HAVE_GCLOUD = 1 ]; then pkgver google-cloud-cli; else echo 'not installed'; fi)"
if [ -x "$OURS" ]; then
    echo "# ours:    $("$OURS" version 2>/dev/null || echo '?') ($OURS)"
fi
echo "# ecr:     $ECR_HOST; gcr: $GCR_HOST; every helper answers from its own warm cache"
echo

declare -A RESULT
status=0
if [ -x "$OURS" ]; then
    # One get each mints from the fakes and warms dockhand's cache.
    for h in "$ECR_HOST" "$GCR_HOST"; do
        "$OURS" get <<<"$h" >/dev/null ||
            { echo "bench: dockhand could not mint for $h" >&2; status=1; }
    done
    RESULT[dockhand-ecr]=$(bench_get dockhand-ecr "$ECR_INPUT" "$ECR_PW" "$OURS") ||
        { echo "bench: dockhand (ecr) failed" >&2; status=1; }
    RESULT[dockhand-gcr]=$(bench_get dockhand-gcr "$GCR_INPUT" "$GCR_PW" "$OURS") ||
        { echo "bench: dockhand (gcr) failed" >&2; status=1; }
else
    echo "bench: $OURS is not built; benchmarking the peers only" >&2
    status=1
fi
RESULT[ecr-login]=$(bench_get ecr-login "$ECR_INPUT" "$ECR_PW" docker-credential-ecr-login) ||
    { echo "bench: ecr-login failed" >&2; status=1; }
if [ $HAVE_GCLOUD = 1 ]; then
    RESULT[gcloud]=$(bench_get gcloud "$GCR_INPUT" "$GCLOUD_PW" "$GCLOUD_HELPER") ||
        { echo "bench: gcloud failed" >&2; status=1; }
fi

# ratio PEER OURS_ROW: "PEER/dockhand = N.Nx" from the medians, or nothing.
ratio() {
    local a b
    a=$(field "${RESULT[$1]:-}" median_ms || true) b=$(field "${RESULT[$2]:-}" median_ms || true)
    [ -n "$a" ] && [ -n "$b" ] || return 0
    awk -v a="$a" -v b="$b" -v h="$1" 'BEGIN { if (b > 0) printf "%s/dockhand = %.1fx", h, a / b; else print "n/a" }'
}
printf '%-14s %-6s %10s %10s %14s %s\n' helper host 'median ms' 'p90 ms' 'peak RSS KiB' 'median vs dockhand'
for row in dockhand-ecr:ecr ecr-login:ecr dockhand-gcr:gcr gcloud:gcr; do
    h=${row%%:*} kind=${row#*:}
    r=${RESULT[$h]:-}
    if [ -z "$r" ]; then
        if [ "$h" = gcloud ] && [ $HAVE_GCLOUD = 0 ]; then
            printf '%-14s %-6s %s\n' "$h" "$kind" 'n/a (not installed)'
        else
            printf '%-14s %-6s %10s\n' "$h" "$kind" 'n/a'
        fi
        continue
    fi
    med=$(field "$r" median_ms || true) p90=$(field "$r" p90_ms || true)
    rss=$(field "$r" max_rss_kib || true)
    rat=''
    case $h in dockhand-*) ;; *) rat=$(ratio "$h" "dockhand-$kind") ;; esac
    printf '%-14s %-6s %10s %10s %14s %s\n' "$h" "$kind" "$med" "$p90" "$rss" "$rat"
done

if command -v strace >/dev/null 2>&1; then
    echo "(each helper's get was checked before measuring: expected secret, no inet connect under strace)"
else
    echo "(each helper's get was checked before measuring for the expected secret; strace not installed)"
fi
calls=$(curl -fsS "http://127.0.0.1:$ECR_PORT/_fake/calls" 2>/dev/null | jq -r .calls 2>/dev/null || echo '?')
gcalls=$(jq -r '.token // 0' "$BATS_TEST_TMPDIR/google-fake/calls.json" 2>/dev/null || echo 0)
echo "(upstream calls during the whole run: fake ECR $calls, fake Google token endpoint $gcalls)"

echo
echo "targets from the issue (informational):"
mark() { if [ "$1" = 1 ]; then echo met; else echo 'NOT met'; fi; }
target() { printf '  %-44s %-8s %s\n' "$1" "$2" "$3"; }
# speedup_target PEER OURS_ROW TARGET
speedup_target() {
    local a b s label=">= ${3}x faster than $1 (cached get)"
    a=$(field "${RESULT[$1]:-}" median_ms || true) b=$(field "${RESULT[$2]:-}" median_ms || true)
    if [ -z "$a" ] || [ -z "$b" ]; then
        target "$label" n/a ''
        return
    fi
    s=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
    target "$label" "$(mark "$(awk -v s="$s" -v t="$3" 'BEGIN { print (s >= t) }')")" "(${s}x)"
}
speedup_target ecr-login dockhand-ecr "$TARGET_ECR_SPEEDUP"
if [ $HAVE_GCLOUD = 1 ]; then
    speedup_target gcloud dockhand-gcr "$TARGET_GCR_SPEEDUP"
else
    target ">= ${TARGET_GCR_SPEEDUP}x faster than gcloud (cached get)" 'n/a (not installed)' ''
fi
exit $status
