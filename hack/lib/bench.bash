# Shared set-up of the benchmark parts in hack/bench.d/ (sourced after `cd` to the
# repository root): where the build and the bench driver are, and the run counts.
# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing part
ROOT=$PWD
BUILDDIR=${BUILDDIR:-build}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-20}
case $BUILDDIR in /*) BUILD=$BUILDDIR ;; *) BUILD=$ROOT/$BUILDDIR ;; esac
BENCHEXEC="$BUILD/test/tools/benchexec"
OURS="$BUILD/bin/docker-credential-dockhand"

# bench_ecr_login_cache FILE AKID REGION ACCOUNT HOST PASSWORD: writes a warm cache for
# docker-credential-ecr-login in amazon-ecr-credential-helper 0.6.0's format, so the peer
# answers from its cache as dockhand does from its own.
bench_ecr_login_cache() {
    python3 - "$@" <<'EOF'
import base64, datetime, hashlib, json, sys
path, akid, region, account, host, pw = sys.argv[1:]
# 0.6.0's checksum(): md5.New().Sum([]byte(akid)) appends md5("") to the key id.
ck = base64.b64encode(akid.encode() + hashlib.md5(b"").digest()).decode()
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
entry = {"AuthorizationToken": base64.b64encode(("AWS:" + pw).encode()).decode(),
         "RequestedAt": fmt(now), "ExpiresAt": fmt(now + datetime.timedelta(hours=12)),
         "ProxyEndpoint": "https://" + host, "Service": "ecr"}
with open(path, "w") as f:
    json.dump({"Registries": {"%s-%s-%s" % (region, ck, account): entry}, "Version": "1.0"}, f)
EOF
}
