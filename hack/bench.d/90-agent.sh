#!/usr/bin/env bash
# Benchmarks `dockhand agent` against a REAL containerd (Debian's, started by
# test/cli/lib/containerd.bash) and a REAL docker-registry with htpasswd auth:
#   1. pulls: `dockhand agent --once` (concurrency 1) against direct CRI PullImage
#      calls of the same images through test/tools/cri-client (the floor: the same
#      RPC without the agent's ImageStatus, credential resolution and workers), each
#      run on a FRESH containerd (stopped, state removed, started again), the two
#      alternated; medians and the agent's overhead in %.  Target: <= 5 %.
#   2. `dockhand agent status` of 100 present images (one image tagged 100 times with
#      ctr), median wall time.  Target: <= 100 ms.
#   3. peak RSS (VmHWM of /proc/PID/status) of a running agent that keeps the images
#      present and serves /metrics.  Target: <= 12 MiB.  Also the largest RSS of one
#      process of an `agent --once` run (GNU time: the agent or a forked pull worker).
# Needs root (containerd).  Usage: BUILDDIR=build hack/bench.d/90-agent.sh
#   BENCH_PULL_RUNS (default 5) runs of each pull variant, BENCH_IMAGES (default 3)
#   images of BENCH_LAYER_MIB (default 8) MiB of random data each, BENCH_STATUS_RUNS
#   (default 20).  Targets are informational: only a broken set-up fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=hack/lib/bench.bash
. hack/lib/bench.bash
CLI="$BUILD/bin/dockhand"
CRI="$BUILD/test/tools/cri-client"
PULL_RUNS=${BENCH_PULL_RUNS:-5}
NIMG=${BENCH_IMAGES:-3}
LAYER_MIB=${BENCH_LAYER_MIB:-8}
STATUS_RUNS=${BENCH_STATUS_RUNS:-20}

# shellcheck source=test/cli/lib/common.bash
. test/cli/lib/common.bash
# shellcheck source=test/cli/lib/registry.bash
. test/cli/lib/registry.bash
# shellcheck source=test/cli/lib/containerd.bash
. test/cli/lib/containerd.bash

for bin in "$CLI" "$CRI"; do
    [ -x "$bin" ] || { echo "bench: $bin is not built (make all $BUILDDIR/test/tools/cri-client)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: 90-agent needs root (containerd)" >&2; exit 1; }
dh_require containerd ctr docker-registry htpasswd skopeo jq curl || exit 1

W=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-bench-agent.XXXXXX")
AGENT_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -z "$AGENT_PID" ] || { kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true; }
    dh_containerd_stop "$W/containerd" >/dev/null 2>&1 || true
    dh_registry_stop "$W/registry" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

ms_now() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# push_random REPO:TAG: a one-layer image of LAYER_MIB MiB of random bytes.
push_random() {
    local ref=$1 l="$W/oci-$RANDOM" src diffid layer config manifest
    src="$l.src"
    mkdir -p "$l/blobs/sha256" "$src/rootfs"
    head -c $((LAYER_MIB << 20)) /dev/urandom >"$src/rootfs/data.bin"
    tar --owner=0 --group=0 --numeric-owner -C "$src/rootfs" -cf "$src/layer.tar" data.bin
    diffid=$(sha256sum "$src/layer.tar") && diffid=${diffid%% *}
    gzip -n -1 "$src/layer.tar"
    layer=$(_dh_blob "$src/layer.tar.gz" "$l")
    printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diffid" >"$src/config.json"
    config=$(_dh_blob "$src/config.json" "$l")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
        "${config% *}" "${config#* }" "${layer% *}" "${layer#* }" >"$src/manifest.json"
    manifest=$(_dh_blob "$src/manifest.json" "$l")
    printf '{"imageLayoutVersion":"1.0.0"}' >"$l/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "${manifest% *}" "${manifest#* }" >"$l/index.json"
    env -u REGISTRY_AUTH_FILE HOME="$W/home" skopeo --insecure-policy copy --dest-tls-verify=false \
        --dest-creds "$DH_REG_USER:$DH_REG_PASS" "oci:$l:latest" "docker://$DH_REG_HOST/$ref" >/dev/null
    rm -rf "$l" "$src"
}

fresh_containerd() {
    dh_containerd_stop "$W/containerd" >/dev/null 2>&1 || true
    dh_containerd_start "$W/containerd" >/dev/null
    dh_containerd_add_registry "$DH_REG_HOST"
}

mkdir -p "$W/home"
dh_registry_start "$W/registry" >/dev/null
IMAGES=()
for i in $(seq 1 "$NIMG"); do
    push_random "bench/img$i:1"
    IMAGES+=("$DH_REG_HOST/bench/img$i:1")
done
# credentials from a dir: store, as in the DaemonSet
mkdir -p "$W/secrets/default/pull"
jq -n --arg h "$DH_REG_HOST" --arg a "$(printf '%s:%s' "$DH_REG_USER" "$DH_REG_PASS" | base64 -w0)" \
    '{auths: {($h): {auth: $a}}}' >"$W/secrets/default/pull/.dockerconfigjson"
export DOCKHAND_STORE="dir:$W/secrets" HOME="$W/home" XDG_CONFIG_HOME="$W/home/.config" \
    XDG_CACHE_HOME="$W/home/.cache" XDG_DATA_HOME="$W/home/.local/share"
{
    echo "images:"
    for img in "${IMAGES[@]}"; do echo "  - $img"; done
    echo "concurrency: 1"
} >"$W/agent.yaml"
CREDS=$(jq -cn --arg u "$DH_REG_USER" --arg p "$DH_REG_PASS" '{username: $u, password: $p}')

echo "== dockhand agent: $NIMG images of $LAYER_MIB MiB, $PULL_RUNS runs each, fresh containerd per run"
echo "   $(containerd --version | awk '{print $1, $3}'), docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}'), $(nproc) CPUs"
: >"$W/agent.ms"
: >"$W/direct.ms"
for run in $(seq 1 "$PULL_RUNS"); do
    order="agent direct"
    [ $((run % 2)) -eq 1 ] || order="direct agent" # alternated
    for variant in $order; do
        fresh_containerd
        t0=$(ms_now)
        if [ "$variant" = agent ]; then
            /usr/bin/time -f %M -o "$W/maxrss" "$CLI" agent --once --config "$W/agent.yaml" \
                --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$W/state" 2>"$W/agent.log" ||
                { cat "$W/agent.log" >&2; exit 1; }
        else
            for img in "${IMAGES[@]}"; do
                "$CRI" --endpoint "$DH_CTRD_ENDPOINT" --creds-stdin pull "$img" <<<"$CREDS" >/dev/null
            done
        fi
        t1=$(ms_now)
        echo $((t1 - t0)) >>"$W/$variant.ms"
        rm -rf "$W/state"
    done
done
A=$(median <"$W/agent.ms")
D=$(median <"$W/direct.ms")
OVH=$(awk -v a="$A" -v d="$D" 'BEGIN { printf "%.1f", (a - d) * 100 / d }')
printf '%-44s %10s ms   (runs: %s)\n' "agent --once (concurrency 1)" "$A" "$(tr '\n' ' ' <"$W/agent.ms")"
printf '%-44s %10s ms   (runs: %s)\n' "direct CRI PullImage (cri-client)" "$D" "$(tr '\n' ' ' <"$W/direct.ms")"
MET=$(awk -v o="$OVH" 'BEGIN { print (o <= 5) ? "met" : "NOT met" }')
printf '  %-42s %-8s (%s %%)\n' "agent overhead <= 5 %" "$MET" "$OVH"

# 2. status of 100 present images
{
    echo "images:"
    for i in $(seq 1 100); do echo "  - $DH_REG_HOST/bench/status:t$i"; done
} >"$W/status.yaml"
for i in $(seq 1 100); do dh_ctr images tag --force "${IMAGES[0]}" "$DH_REG_HOST/bench/status:t$i" >/dev/null; done
out=$("$CLI" agent status --config "$W/status.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --state-dir "$W/state")
[ "$(grep -c ' present ' <<<"$out")" -eq 100 ] || { echo "bench: status does not show 100 present images" >&2; exit 1; }
: >"$W/status.ms"
for _ in $(seq 1 "$STATUS_RUNS"); do
    t0=$(date +%s%N)
    "$CLI" agent status --config "$W/status.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --state-dir "$W/state" >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$W/status.ms"
done
S=$(median <"$W/status.ms")
L=$("$CRI" --endpoint "$DH_CTRD_ENDPOINT" status-loop 100 "${IMAGES[0]}")
printf '%-44s %10s ms   (direct: cri-client %s)\n' "agent status, 100 present images" "$S" "$L"
MET=$(awk -v s="$S" 'BEGIN { print (s <= 100) ? "met" : "NOT met" }')
printf '  %-42s %-8s (%s ms)\n' "status of 100 images <= 100 ms" "$MET" "$S"

# 3. peak RSS of a running agent
PORT=$(dh_free_port)
"$CLI" agent --config "$W/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "127.0.0.1:$PORT" \
    --state-dir "$W/state" 2>"$W/agent-bg.log" &
AGENT_PID=$!
dh_wait_port "$PORT" >/dev/null
for _ in $(seq 1 200); do
    curl -sS "http://127.0.0.1:$PORT/metrics" | grep -qx "dockhand_agent_images_present $NIMG" && break
    sleep 0.1
done
for _ in $(seq 1 50); do curl -sS "http://127.0.0.1:$PORT/metrics" >/dev/null; done
HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status")
kill "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=
printf '%-44s %10s KiB\n' "running agent peak RSS (VmHWM)" "$HWM"
printf '%-44s %10s KiB   (agent or pull worker, the larger: workers load libcurl)\n' \
    "agent --once max RSS of one process" "$(cat "$W/maxrss")"
MET=$(awk -v h="$HWM" 'BEGIN { print (h <= 12 * 1024) ? "met" : "NOT met" }')
printf '  %-42s %-8s (%s KiB)\n' "peak RSS <= 12 MiB" "$MET" "$HWM"
