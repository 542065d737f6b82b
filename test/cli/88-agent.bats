#!/usr/bin/env bats
# `dockhand agent`, the node pre-puller, against a REAL containerd (Debian's 1.6,
# test/cli/lib/containerd.bash) and a REAL docker-registry with htpasswd auth.
# Credentials come from dockhand's own stores (a `dir:` tree of mounted pull
# secrets, or the encrypted `file` store), resolved as the helper's get would.
# Presence is checked by the test through its own CRI client
# (test/tools/cri-client) and cross-checked with `ctr -n k8s.io images ls`.
# The SIGTERM case asserts "stops within a second" with a generous 3 s bound
# (a functional requirement, measured on a shared 2-core machine).

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry
load lib/containerd

CRI="$DOCKHAND_TEST_TOOLS/cri-client"

cri() {
    "$CRI" --endpoint "$DH_CTRD_ENDPOINT" "$@"
}

# push_variant REPO:TAG TEXT: a one-layer image whose file holds TEXT (so each
# TEXT is a different image and digest), pushed to the registry in DH_REG_*.
# Prints the manifest digest.
push_variant() {
    local ref=$1 text=$2 layout="$BATS_TEST_TMPDIR/variant-$RANDOM" src diffid layer config manifest
    src="$layout.src"
    mkdir -p "$layout/blobs/sha256" "$src/rootfs"
    printf '%s\n' "$text" >"$src/rootfs/hello.txt"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$src/rootfs" -cf "$src/layer.tar" hello.txt
    diffid=$(sha256sum "$src/layer.tar") && diffid=${diffid%% *}
    gzip -n -9 "$src/layer.tar"
    layer=$(_dh_blob "$src/layer.tar.gz" "$layout")
    printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$diffid" >"$src/config.json"
    config=$(_dh_blob "$src/config.json" "$layout")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
        "${config% *}" "${config#* }" "${layer% *}" "${layer#* }" >"$src/manifest.json"
    manifest=$(_dh_blob "$src/manifest.json" "$layout")
    printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "${manifest% *}" "${manifest#* }" >"$layout/index.json"
    env -u REGISTRY_AUTH_FILE HOME="$DH_REG_DIR/home" XDG_CONFIG_HOME="$DH_REG_DIR/home/.config" \
        XDG_RUNTIME_DIR="$DH_REG_DIR/run" DOCKER_CONFIG="$DH_REG_DIR/home/.docker" \
        skopeo --insecure-policy copy --retry-times 2 --dest-tls-verify=false \
        --dest-creds "$DH_REG_USER:$DH_REG_PASS" "oci:$layout:latest" "docker://$DH_REG_HOST/$ref" >/dev/null 2>&1 || return 1
    echo "${manifest% *}"
}

# pull_secret DIR HOST USER PASS: a mounted kubernetes.io/dockerconfigjson Secret under DIR/default/.
pull_secret() {
    local d
    d=$(mktemp -d "$1/default/pull-XXXXXX" 2>/dev/null || { mkdir -p "$1/default" && mktemp -d "$1/default/pull-XXXXXX"; })
    jq -n --arg h "$2" --arg a "$(printf '%s:%s' "$3" "$4" | base64 -w0)" '{auths: {($h): {auth: $a}}}' \
        >"$d/.dockerconfigjson"
}

# agent_bg LOG ARGS...: starts the agent in the background; sets AGENT_PID.
agent_bg() {
    local log=$1
    shift
    "$DH_CLI" agent --runtime-endpoint "$DH_CTRD_ENDPOINT" "$@" >"$log" 2>&1 </dev/null 3>&- &
    AGENT_PID=$!
}

agent_stop() {
    [ -n "${AGENT_PID:-}" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
    local limit=$1 i
    shift
    for i in $(seq 1 $((limit * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

present() { [[ $(cri status "$1") == present* ]]; }
has_digest() { cri status "$1" | grep -qx "digest ${1%:*}@$2"; }

# a kubelet-style ConfigMap mount: DIR/..TS/agent.yaml, DIR/..data -> ..TS, DIR/agent.yaml -> ..data/agent.yaml
configmap_write() {
    local dir=$1 ts
    ts="..$(date +%Y_%m_%d_%H_%M_%S).$RANDOM"
    mkdir -p "$dir/$ts"
    cat >"$dir/$ts/agent.yaml"
    ln -s "$ts" "$dir/..data_tmp"
    mv -T "$dir/..data_tmp" "$dir/..data"
    [ -L "$dir/agent.yaml" ] || ln -s ..data/agent.yaml "$dir/agent.yaml"
}

setup_file() {
    dh_require containerd ctr jq curl docker-registry htpasswd skopeo python3
    dh_registry_start "$BATS_FILE_TMPDIR/registry"
    dh_containerd_start "$BATS_FILE_TMPDIR/containerd"
    dh_containerd_add_registry "$DH_REG_HOST"
    local d
    d=$(BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR push_variant test/a:1 "image a") && echo "$d" >"$BATS_FILE_TMPDIR/digest-a"
    d=$(BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR push_variant test/b:1 "image b") && echo "$d" >"$BATS_FILE_TMPDIR/digest-b"
    d=$(BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR push_variant test/c:1 "image c") && echo "$d" >"$BATS_FILE_TMPDIR/digest-c"
}

teardown_file() {
    dh_containerd_stop "$BATS_FILE_TMPDIR/containerd"
    dh_registry_stop "$BATS_FILE_TMPDIR/registry"
}

setup() {
    dh_isolate
    AGENT_PID=
    SECRETS="$BATS_TEST_TMPDIR/secrets"
    pull_secret "$SECRETS" "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    export DOCKHAND_STORE="dir:$SECRETS"
    STATE="$BATS_TEST_TMPDIR/state"
}

teardown() {
    agent_stop
    [ -z "${PROXY_PID:-}" ] || { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null || true; }
    # the registry a test started (and restarted) of its own
    [ ! -d "$BATS_TEST_TMPDIR/reg2" ] || dh_registry_stop "$BATS_TEST_TMPDIR/reg2"
}

@test "agent --once makes three private images present with credentials from a dir: store" {
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images:
  - $DH_REG_HOST/test/a:1
  - image: $DH_REG_HOST/test/b:1
  - image: $DH_REG_HOST/test/c@$(cat "$BATS_FILE_TMPDIR/digest-c")
    platform: $(uname -m | sed 's/x86_64/linux\/amd64/; s/aarch64/linux\/arm64/')
concurrency: 3
EOF
    for i in a b c; do dh_ctr images rm "$DH_REG_HOST/test/$i:1" >/dev/null 2>&1 || true; done
    run ! present "$DH_REG_HOST/test/a:1"
    run --separate-stderr "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    echo "$stderr"
    [ "$status" -eq 0 ]
    present "$DH_REG_HOST/test/a:1"
    present "$DH_REG_HOST/test/b:1"
    has_digest "$DH_REG_HOST/test/a:1" "$(cat "$BATS_FILE_TMPDIR/digest-a")"
    has_digest "$DH_REG_HOST/test/b:1" "$(cat "$BATS_FILE_TMPDIR/digest-b")"
    run cri status "$DH_REG_HOST/test/c@$(cat "$BATS_FILE_TMPDIR/digest-c")"
    [[ $output == present* ]]
    # containerd agrees
    run dh_ctr images ls -q
    [[ $output == *"$DH_REG_HOST/test/a:1"* && $output == *"$DH_REG_HOST/test/b:1"* ]]
    [[ $output == *"$DH_REG_HOST/test/c@$(cat "$BATS_FILE_TMPDIR/digest-c")"* ]]
    # JSON log lines, one per pull; the password never appears
    [ "$(grep -c '"msg":"pulled ' <<<"$stderr")" -eq 3 ]
    while read -r line; do jq -e . >/dev/null <<<"$line"; done <<<"$stderr"
    [[ $stderr != *"$DH_REG_PASS"* ]]
    # the state file records what dockhand pulled (the removal bookkeeping)
    jq -e --arg r "$DH_REG_HOST/test/a:1" '.pulled[$r].id | startswith("sha256:")' "$STATE/agent-state.json"
    [ "$(jq -r '.images | length' "$STATE/agent-state.json")" -eq 3 ]
    # a second run pulls nothing
    run --separate-stderr "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    [ "$status" -eq 0 ]
    [[ $stderr != *'"msg":"pulled '* ]]
}

@test "agent status prints each desired image and its state on this node" {
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images:
  - $DH_REG_HOST/test/a:1
  - $DH_REG_HOST/test/never:1
  - $DH_REG_HOST/test/c@$(cat "$BATS_FILE_TMPDIR/digest-c")
retries: 0
EOF
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" \
        --metrics-address "" --state-dir "$STATE"
    [ "$status" -eq 0 ] || [ "$status" -eq 1 ]
    run "$DH_CLI" agent status --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --state-dir "$STATE"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "IMAGE"*"STATE"*"DIGEST"*"NOTE" ]]
    local da
    da=$(cat "$BATS_FILE_TMPDIR/digest-a")
    [[ ${lines[1]} == "$DH_REG_HOST/test/a:1 "*" present  ${da:0:19} "* ]]
    [[ ${lines[2]} == "$DH_REG_HOST/test/never:1 "*" failed "*"not found"* ]]
    # a digest-pinned reference is found by its repo digest
    local dc
    dc=$(cat "$BATS_FILE_TMPDIR/digest-c")
    [[ ${lines[3]} == "$DH_REG_HOST/test/c@$dc present  ${dc:0:19} "* ]]
    run "$DH_CLI" agent status --json --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --state-dir "$STATE"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.[0].digest' <<<"$output")" = "$da" ]
    [ "$(jq -r '.[1].state' <<<"$output")" = failed ]
}

@test "agent --once with a wrong credential (file store) fails naming the image and the registry's reason" {
    export DOCKHAND_STORE=file
    local wrong="wrong-$RANDOM$RANDOM"
    jq -cn --arg s "$DH_REG_HOST" --arg u "$DH_REG_USER" --arg p "$wrong" '{ServerURL: $s, Username: $u, Secret: $p}' |
        "$DH_HELPER" store
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [$DH_REG_HOST/test/wrongcred:1]
retries: 1
retryBase: 100ms
EOF
    BATS_TEST_TMPDIR=$BATS_TEST_TMPDIR push_variant test/wrongcred:1 "wrongcred" >/dev/null
    run --separate-stderr "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ $stderr == *"1 of 1 images failed: '$DH_REG_HOST/test/wrongcred:1': runtime.v1.ImageService/PullImage: rpc error: code = Unknown desc = "*"401 Unauthorized"* ]]
    [[ $stderr != *"$wrong"* ]]
    run ! present "$DH_REG_HOST/test/wrongcred:1"
    # the right one, stored the same way, works
    jq -cn --arg s "$DH_REG_HOST" --arg u "$DH_REG_USER" --arg p "$DH_REG_PASS" '{ServerURL: $s, Username: $u, Secret: $p}' |
        "$DH_HELPER" store
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" \
        --metrics-address "" --state-dir "$STATE"
    [ "$status" -eq 0 ]
    present "$DH_REG_HOST/test/wrongcred:1"
}

@test "agent serves /metrics and /healthz, and stops within a second of SIGTERM" {
    local port t0 t1
    port=$(dh_free_port)
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images:
  - $DH_REG_HOST/test/a:1
  - $DH_REG_HOST/test/b:1
startJitter: 0
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --metrics-address "127.0.0.1:$port" --state-dir "$STATE"
    dh_wait_port "$port"
    run curl -sS -i "http://127.0.0.1:$port/healthz"
    [[ $output == "HTTP/1.1 200 OK"* ]]
    [[ $output == *$'\r\n\r\nok' ]]
    metrics_ready() { curl -sS "http://127.0.0.1:$port/metrics" | grep -qx 'dockhand_agent_images_present 2'; }
    wait_for 20 metrics_ready
    run curl -sS -D "$BATS_TEST_TMPDIR/h" "http://127.0.0.1:$port/metrics"
    echo "$output"
    grep -qi '^content-type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/h"
    grep -qx 'dockhand_agent_images_desired 2' <<<"$output"
    grep -qx 'dockhand_agent_images_failed 0' <<<"$output"
    grep -qx '# TYPE dockhand_agent_pulls_total counter' <<<"$output"
    grep -q '^dockhand_agent_pull_duration_seconds_count [0-9]' <<<"$output"
    grep -q '^dockhand_agent_pulled_bytes_total [0-9]' <<<"$output"
    local ts
    ts=$(awk '$1 == "dockhand_agent_last_success_timestamp_seconds" {print $2}' <<<"$output")
    [ "$ts" -ge $(($(date +%s) - 60)) ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope"
    [ "$output" = 404 ]
    run curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics"
    [ "$output" = 405 ]
    # bounded requests: 10 KiB of header gets 431, and the agent still answers
    run curl -sS -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 10000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$port/metrics"
    [ "$output" = 431 ]
    # only on loopback by default: the listener is 127.0.0.1
    run ss -Hltn "sport = :$port"
    [[ $output == *"127.0.0.1:$port"* ]]
    t0=$(date +%s%N)
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID"
    t1=$(date +%s%N)
    AGENT_PID=
    echo "stopped in $(((t1 - t0) / 1000000)) ms"
    [ $(((t1 - t0) / 1000000)) -lt 3000 ]
    grep -q '"msg":"stopped"' "$BATS_TEST_TMPDIR/agent.log"
}

@test "agent reloads the list when the ConfigMap's ..data symlink is swapped and pulls the new image" {
    local dir="$BATS_TEST_TMPDIR/cm" d
    d=$(push_variant test/reload:1 "reload me")
    configmap_write "$dir" <<EOF
images: [$DH_REG_HOST/test/a:1]
startJitter: 0
reloadInterval: 1h
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$dir/agent.yaml" --metrics-address "" --state-dir "$STATE"
    wait_for 20 grep -q '"msg":"agent started' "$BATS_TEST_TMPDIR/agent.log"
    run ! present "$DH_REG_HOST/test/reload:1"
    configmap_write "$dir" <<EOF
images: [$DH_REG_HOST/test/a:1, $DH_REG_HOST/test/reload:1]
startJitter: 0
reloadInterval: 1h
EOF
    # inotify, not the (1 h) periodic check, sees the swap
    wait_for 20 present "$DH_REG_HOST/test/reload:1"
    has_digest "$DH_REG_HOST/test/reload:1" "$d"
    grep -q '"msg":"image list reloaded: 2 images"' "$BATS_TEST_TMPDIR/agent.log"
    kill -0 "$AGENT_PID"
    # an invalid list is refused with file:line and the last good one is kept
    configmap_write "$dir" <<EOF
images: [$DH_REG_HOST/test/a:1]
concurrency: many
EOF
    wait_for 20 grep -q 'the new image list is invalid (keeping the last one): .*agent.yaml:2: ' "$BATS_TEST_TMPDIR/agent.log"
    kill -0 "$AGENT_PID"
}

@test "agent re-checks a tag with a manifest HEAD and pulls the new digest when it moved" {
    local d1 d2 port
    d1=$(push_variant test/moving:1 "first")
    port=$(dh_free_port)
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [$DH_REG_HOST/test/moving:1]
startJitter: 0
recheckInterval: 1s
insecureRegistries: [$DH_REG_HOST]
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --metrics-address "127.0.0.1:$port" --state-dir "$STATE"
    wait_for 20 has_digest "$DH_REG_HOST/test/moving:1" "$d1"
    rechecked() { curl -sS "http://127.0.0.1:$port/metrics" | grep -q '^dockhand_agent_rechecks_total [1-9]'; }
    wait_for 20 rechecked
    # unchanged tag: no second pull
    [ "$(grep -c '"msg":"pulled ' "$BATS_TEST_TMPDIR/agent.log")" -eq 1 ]
    d2=$(push_variant test/moving:1 "second")
    [ "$d1" != "$d2" ]
    wait_for 20 has_digest "$DH_REG_HOST/test/moving:1" "$d2"
    grep -q "\"msg\":\"pulled '$DH_REG_HOST/test/moving:1' ($d2) in [0-9.]* s: the tag moved to $d2\"" "$BATS_TEST_TMPDIR/agent.log"
}

@test "agent recovers when the registry stops mid-pull and starts again" {
    local port
    # a registry of this test's own, behind a proxy that holds blob GETs for 2 s
    dh_registry_start "$BATS_TEST_TMPDIR/reg2"
    pull_secret "$SECRETS" "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    push_variant test/flaky:1 "flaky" >"$BATS_TEST_TMPDIR/d"
    coproc PROXY { exec python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$DH_REG_HOST"; }
    read -r line <&"${PROXY[0]}"
    port=$(jq -r .port <<<"$line")
    curl -sS -X POST -d '{"delay_ms": 2000}' "http://127.0.0.1:$port/_fake/config" >/dev/null
    dh_containerd_add_registry "127.0.0.1:$port"
    pull_secret "$SECRETS" "127.0.0.1:$port" "$DH_REG_USER" "$DH_REG_PASS"
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [127.0.0.1:$port/test/flaky:1]
startJitter: 0
retryBase: 300ms
retryMax: 1s
retries: 50
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$BATS_TEST_TMPDIR/agent.yaml" --metrics-address "" --state-dir "$STATE"
    blob_requested() { curl -sS "http://127.0.0.1:$port/_fake/requests" | jq -e 'map(select(.path | test("/manifests/"))) | length > 0' >/dev/null; }
    wait_for 20 blob_requested
    local regpid
    regpid=$(cat "$DH_REG_DIR/registry.pid")
    kill -TERM "$regpid"
    wait_for 10 eval '! kill -0 '"$regpid"' 2>/dev/null'
    wait_for 20 grep -q '"msg":"image .*attempt [0-9]* failed, retrying' "$BATS_TEST_TMPDIR/agent.log"
    run ! present "127.0.0.1:$port/test/flaky:1"
    docker-registry serve "$DH_REG_DIR/config.yml" >>"$DH_REG_DIR/registry.log" 2>&1 </dev/null 3>&- &
    echo $! >"$DH_REG_DIR/registry.pid"
    curl -sS -X POST -d '{}' "http://127.0.0.1:$port/_fake/config" >/dev/null
    wait_for 30 present "127.0.0.1:$port/test/flaky:1"
    has_digest "127.0.0.1:$port/test/flaky:1" "$(cat "$BATS_TEST_TMPDIR/d")"
    kill -0 "$AGENT_PID"
    agent_stop
    dh_registry_stop "$BATS_TEST_TMPDIR/reg2"
}

@test "agent backs off the registry on 429 and pulls once the throttling ends" {
    local port line t0 t1
    push_variant test/throttled:1 "throttled" >/dev/null
    coproc PROXY { exec python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$DH_REG_HOST"; }
    read -r line <&"${PROXY[0]}"
    port=$(jq -r .port <<<"$line")
    # containerd retries a 429 by itself a few times: throttle more GETs than that
    curl -sS -X POST -d '{"throttle": 12, "retry_after": "2"}' "http://127.0.0.1:$port/_fake/config" >/dev/null
    dh_containerd_add_registry "127.0.0.1:$port"
    pull_secret "$SECRETS" "127.0.0.1:$port" "$DH_REG_USER" "$DH_REG_PASS"
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [127.0.0.1:$port/test/throttled:1]
retryBase: 100ms
retries: 20
EOF
    t0=$(date +%s%N)
    run --separate-stderr "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" \
        --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    t1=$(date +%s%N)
    echo "$stderr"
    [ "$status" -eq 0 ]
    present "127.0.0.1:$port/test/throttled:1"
    [[ $stderr == *"429 Too Many Requests"* ]]
    [[ $stderr == *"registry '127.0.0.1:$port' is throttling or failing: no request to it for "* ]]
    run curl -sS "http://127.0.0.1:$port/_fake/requests"
    # 12 per blob path (the proxy counts each blob on its own), all answered before the pull worked
    [ "$(jq '[.[] | select(.status == 429)] | length' <<<"$output")" -ge 12 ]
    [ "$(jq '[.[] | select(.path | test("/blobs/"))] | last | .status' <<<"$output")" -eq 200 ]
    # the agent waited: the registry backoff (>= 0.8 s each) separates the attempts
    local n
    n=$(grep -c "is throttling or failing" <<<"$stderr")
    [ $(((t1 - t0) / 1000000)) -ge $((n * 800)) ]
}

@test "agent's re-check honours a 429's Retry-After (ping or manifest HEAD): the registry is left alone that long" {
    local port line
    push_variant test/retryafter:1 "retry-after" >/dev/null
    coproc PROXY { exec python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$DH_REG_HOST"; }
    read -r line <&"${PROXY[0]}"
    port=$(jq -r .port <<<"$line")
    dh_containerd_add_registry "127.0.0.1:$port"
    pull_secret "$SECRETS" "127.0.0.1:$port" "$DH_REG_USER" "$DH_REG_PASS"
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [127.0.0.1:$port/test/retryafter:1]
startJitter: 0
recheckInterval: 1s
insecureRegistries: [127.0.0.1:$port]
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$BATS_TEST_TMPDIR/agent.yaml" --metrics-address "" --state-dir "$STATE"
    wait_for 20 present "127.0.0.1:$port/test/retryafter:1"
    # the registry now answers 429 with Retry-After: 3 (mode ping: to everything,
    # its GET /v2/ included; mode head: only to the manifest HEAD)
    kill "$PROXY_PID"
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=
    local mode gaps
    for mode in ping head; do
        python3 -c '
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        print("%.3f %s %s" % (time.time(), self.command, self.path), file=sys.stderr, flush=True)
        busy = sys.argv[2] == "ping" or self.command == "HEAD"
        self.send_response(429 if busy else 200)
        if busy:
            self.send_header("Retry-After", "3")
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_HEAD = answer
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port" "$mode" 2>"$BATS_TEST_TMPDIR/429-$mode.log" 3>&- &
        PROXY_PID=$!
        dh_wait_port "$port"
        # the re-checks that reached the 429: GET /v2/ (ping mode) or the HEAD (head mode)
        checks() { [ "$(grep -c "$1" "$BATS_TEST_TMPDIR/429-$mode.log")" -ge 3 ]; }
        local want=' GET /v2/$'
        [ "$mode" = ping ] || want=' HEAD /v2/test/retryafter/manifests/1$'
        wait_for 20 checks "$want"
        cat "$BATS_TEST_TMPDIR/429-$mode.log"
        # consecutive re-checks are >= 3 s apart (the interval alone would be ~1 s)
        gaps=$(grep "$want" "$BATS_TEST_TMPDIR/429-$mode.log" | awk '{ if (prev) print $1 - prev; prev = $1 }')
        echo "$mode gaps: $gaps"
        awk '$1 < 2.9 { exit 1 }' <<<"$gaps"
        kill "$PROXY_PID"
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=
    done
    grep -q "registry '127.0.0.1:$port' is throttling or failing: no request to it for 3000 ms (its Retry-After)" "$BATS_TEST_TMPDIR/agent.log"
    # the image stays present and the agent keeps running
    present "127.0.0.1:$port/test/retryafter:1"
    kill -0 "$AGENT_PID"
}

@test "agent stops cleanly within a second of SIGTERM while a pull is in flight" {
    local port line t0 t1
    push_variant test/slow:1 "slow" >/dev/null
    coproc PROXY { exec python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$DH_REG_HOST"; }
    read -r line <&"${PROXY[0]}"
    port=$(jq -r .port <<<"$line")
    curl -sS -X POST -d '{"delay_ms": 20000}' "http://127.0.0.1:$port/_fake/config" >/dev/null
    dh_containerd_add_registry "127.0.0.1:$port"
    pull_secret "$SECRETS" "127.0.0.1:$port" "$DH_REG_USER" "$DH_REG_PASS"
    cat >"$BATS_TEST_TMPDIR/agent.yaml" <<EOF
images: [127.0.0.1:$port/test/slow:1]
startJitter: 0
EOF
    agent_bg "$BATS_TEST_TMPDIR/agent.log" --config "$BATS_TEST_TMPDIR/agent.yaml" --metrics-address "" --state-dir "$STATE"
    manifest_seen() { curl -sS "http://127.0.0.1:$port/_fake/requests" | jq -e 'map(select(.path | test("/manifests/"))) | length > 0' >/dev/null; }
    wait_for 20 manifest_seen
    sleep 0.3
    [ -n "$(pgrep -P "$AGENT_PID")" ] # the pull's worker
    t0=$(date +%s%N)
    kill -TERM "$AGENT_PID"
    local rc=0
    wait "$AGENT_PID" || rc=$?
    t1=$(date +%s%N)
    [ "$rc" -eq 0 ]
    AGENT_PID=
    echo "stopped in $(((t1 - t0) / 1000000)) ms"
    [ $(((t1 - t0) / 1000000)) -lt 3000 ]
    grep -q '"msg":"stopped"' "$BATS_TEST_TMPDIR/agent.log"
    run ! present "127.0.0.1:$port/test/slow:1"
}

@test "agent removes, when asked, only images that left the list and that it pulled" {
    local mine theirs
    push_variant test/mine:1 "mine" >/dev/null
    push_variant test/theirs:1 "theirs" >/dev/null
    mine="$DH_REG_HOST/test/mine:1" theirs="$DH_REG_HOST/test/theirs:1"
    printf 'images: [%s]\nremove: true\n' "$mine" >"$BATS_TEST_TMPDIR/agent.yaml"
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    [ "$status" -eq 0 ]
    present "$mine"
    # pulled by someone else (not through the agent)
    cri --creds-stdin pull "$theirs" < <(jq -cn --arg u "$DH_REG_USER" --arg p "$DH_REG_PASS" '{username: $u, password: $p}') >/dev/null
    present "$theirs"
    # without remove: true nothing is removed
    printf 'images: []\n' >"$BATS_TEST_TMPDIR/agent.yaml"
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    [ "$status" -eq 0 ]
    present "$mine"
    printf 'images: []\nremove: true\n' >"$BATS_TEST_TMPDIR/agent.yaml"
    run --separate-stderr "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml" --runtime-endpoint "$DH_CTRD_ENDPOINT" --metrics-address "" --state-dir "$STATE"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ $stderr == *"removed '$mine', which left the list"* ]]
    run ! present "$mine"
    present "$theirs"
    [ "$(jq '.pulled | length' "$STATE/agent-state.json")" -eq 0 ]
}

@test "agent: bad lists and arguments fail with one clear line" {
    printf 'images:\n  - ok.example/a:1\n  - "Bad Ref"\n' >"$BATS_TEST_TMPDIR/agent.yaml"
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"agent.yaml:3: 'Bad Ref': invalid reference format"* ]]
    printf 'images: []\nconcurency: 2\n' >"$BATS_TEST_TMPDIR/agent.yaml"
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/agent.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"agent.yaml:2: unknown setting 'concurency'"* ]]
    run "$DH_CLI" agent --once --config "$BATS_TEST_TMPDIR/missing.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"cannot read the image list '$BATS_TEST_TMPDIR/missing.yaml'"* ]]
    run "$DH_CLI" agent --bogus
    [ "$status" -eq 1 ]
    [[ $output == *"unknown argument '--bogus'"* ]]
    run "$DH_CLI" agent --help
    [ "$status" -eq 0 ]
    [[ $output == "usage: dockhand agent"* ]]
}
