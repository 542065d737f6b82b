#!/usr/bin/env bats
# The pull foundation end to end: a multi-layer image built with umoci
# (hack/make-bench-image.sh) is pushed to a real docker-registry; ocifetch
# (test/tools/ocifetch.c: imageref + manifest + http multi + ocilayout) fetches it
# through test/fake/misbehaving-proxy.py into an OCI layout that skopeo and umoci
# then read.  The proxy drops a connection mid-blob, flips a byte, answers 429 with
# Retry-After and redirects blobs to another port, checking no Authorization goes there.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

OCIFETCH="$DOCKHAND_TEST_TOOLS/ocifetch"

setup_file() {
    dh_require python3 jq curl skopeo umoci docker-registry htpasswd sha256sum
    dh_registry_start "$BATS_FILE_TMPDIR/registry"
    local out
    out=$(BENCH_REG_USER=$DH_REG_USER BENCH_REG_PASS=$DH_REG_PASS \
        "$DH_ROOT/hack/make-bench-image.sh" --registry "$DH_REG_HOST" --repo test/multi \
        --size-mib 2 --layers 4)
    export IMG_A_DIGEST IMG_B_DIGEST
    IMG_A_DIGEST=$(sed -n 1p <<<"$out" | cut -d' ' -f2)
    IMG_B_DIGEST=$(sed -n 2p <<<"$out" | cut -d' ' -f2)
    [ -n "$IMG_A_DIGEST" ] && [ -n "$IMG_B_DIGEST" ]

    local dir="$BATS_FILE_TMPDIR/proxy"
    mkdir -p "$dir"
    python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$DH_REG_HOST" \
        >"$dir/ports" 2>"$dir/err" </dev/null 3>&- &
    echo $! >"$dir/pid"
    for _ in $(seq 1 200); do
        [ -s "$dir/ports" ] && break
        sleep 0.05
    done
    export PROXY_PORT STORAGE_PORT
    PROXY_PORT=$(jq -r .port "$dir/ports")
    STORAGE_PORT=$(jq -r .storage_port "$dir/ports")
    [ -n "$PROXY_PORT" ] && [ "$PROXY_PORT" != null ]
}

teardown_file() {
    local pid
    pid=$(cat "$BATS_FILE_TMPDIR/proxy/pid" 2>/dev/null) || true
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    dh_registry_stop "$BATS_FILE_TMPDIR/registry" || true
}

setup() {
    dh_isolate
    proxy_post /_fake/reset '{}'
}

proxy_post() {
    curl -fsS -X POST --data "$2" "http://127.0.0.1:$PROXY_PORT$1" >/dev/null
}

proxy_log() {
    curl -fsS "http://127.0.0.1:$PROXY_PORT/_fake/requests"
}

fetch() {
    OCIFETCH_BASIC="$DH_REG_USER:$DH_REG_PASS" "$OCIFETCH" --plain-http "$@"
}

# blob GETs the proxy answered, as "listener status range" lines
blob_gets() {
    proxy_log | jq -r '.[] | select(.method == "GET" and (.path | contains("/blobs/"))) |
        "\(.listener) \(.status) \(.range // "-") \(.path | split("/") | last)"'
}

@test "a layout written through the proxy is read by skopeo and umoci" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr fetch --name base "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$output" = "$IMG_A_DIGEST" ]
    # layout files
    [ "$(cat "$dir/oci-layout")" = '{"imageLayoutVersion":"1.0.0"}' ]
    [ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$dir/index.json")" = base ]
    [ "$(jq -r '.manifests[0].digest' "$dir/index.json")" = "$IMG_A_DIGEST" ]
    # every blob is what its name says, and nothing else is left
    for f in "$dir"/blobs/sha256/*; do
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
    done
    [ "$(find "$dir/blobs" -maxdepth 1 -name '.partial-*' | wc -l)" -eq 0 ]
    # manifest + config + 4 layers
    [ "$(find "$dir/blobs/sha256" -type f | wc -l)" -eq 6 ]
    # skopeo reads it
    run --separate-stderr skopeo inspect "oci:$dir:base"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(jq '.Layers | length' <<<"$output")" -eq 4 ]
    run --separate-stderr skopeo copy --insecure-policy "oci:$dir:base" "dir:$BATS_TEST_TMPDIR/copy"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    # umoci unpacks it: the 4 random files are in the root filesystem
    run --separate-stderr umoci unpack --rootless --image "$dir:base" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(find "$BATS_TEST_TMPDIR/bundle/rootfs/data" -name 'blob-*.bin' | wc -l)" -eq 4 ]
    # the proxy saw Basic credentials on every blob GET
    [ "$(proxy_log | jq '[.[] | select(.path | contains("/blobs/")) | select(.authorization | not)] | length')" -eq 0 ]
}

@test "a layer shared by two images is downloaded once" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr fetch --name a "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(blob_gets | wc -l)" -eq 5 ] # config + 4 layers
    proxy_post /_fake/reset '{}'
    run --separate-stderr fetch --name b "127.0.0.1:$PROXY_PORT/test/multi-b:base" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$output" = "$IMG_B_DIGEST" ]
    # only its config and its own layer: the 3 shared layers were present
    [ "$(blob_gets | wc -l)" -eq 2 ]
    [ "$(jq '.manifests | length' "$dir/index.json")" -eq 2 ]
    run skopeo inspect "oci:$dir:b"
    [ "$status" -eq 0 ]
    run skopeo inspect "oci:$dir:a"
    [ "$status" -eq 0 ]
}

@test "a connection dropped mid-blob is resumed with a Range request" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"drop_after": 100000}'
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run blob_gets
    echo "$output"
    # each layer (512 KiB) was cut once at 100000 bytes, then asked for from there
    [ "$(grep -c ' bytes=100000- ' <<<"$output")" -eq 4 ]
    [ "$(grep -c '^proxy 206 bytes=100000- ' <<<"$output")" -eq 4 ]
    for f in "$dir"/blobs/sha256/*; do
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
    done
    run skopeo inspect "oci:$dir:base"
    [ "$status" -eq 0 ]
}

@test "a flipped byte fails the digest check and leaves nothing in the layout" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"corrupt": true}'
    run --separate-stderr fetch --concurrency 1 "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "ocifetch: 127.0.0.1:$PROXY_PORT/test/multi:base: blobs: blob sha256:"*": digest mismatch: expected sha256:"*", got sha256:"* ]]
    [ ! -e "$dir/index.json" ]
    [ "$(find "$dir/blobs/sha256" -type f | wc -l)" -eq 0 ]
    # the corrupted blob's temporary file is gone too
    local bad
    bad=$(sed -n 's/.*digest mismatch: expected sha256:\([0-9a-f]*\),.*/\1/p' <<<"$stderr")
    [ -n "$bad" ]
    [ ! -e "$dir/blobs/.partial-sha256-$bad" ]
}

@test "429 with Retry-After is waited for, then the blob is fetched" {
    local dir="$BATS_TEST_TMPDIR/layout" start end
    proxy_post /_fake/config '{"throttle": 1, "retry_after": "2"}'
    start=$(date +%s%N)
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    end=$(date +%s%N)
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run blob_gets
    echo "$output"
    [ "$(grep -c '^proxy 429 ' <<<"$output")" -eq 5 ]
    [ "$(grep -c '^proxy 200 ' <<<"$output")" -eq 5 ]
    # at least the 2 s asked for went by (a lower bound: never flaky)
    [ $(( (end - start) / 1000000 )) -ge 2000 ]
}

@test "a blob redirected to another port is fetched without the Authorization header" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"redirect": true}'
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/multi:base" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run proxy_log
    # 5 redirects with credentials on the registry's port, 5 fetches without on the storage port
    [ "$(jq '[.[] | select(.listener == "proxy" and .status == 307 and .authorization)] | length' <<<"$output")" -eq 5 ]
    [ "$(jq '[.[] | select(.listener == "storage" and .status == 200)] | length' <<<"$output")" -eq 5 ]
    [ "$(jq '[.[] | select(.listener == "storage" and .authorization)] | length' <<<"$output")" -eq 0 ]
    run skopeo inspect "oci:$dir:latest"
    [ "$status" -ne 0 ] # stored under its tag, "base"
    run skopeo inspect "oci:$dir:base"
    [ "$status" -eq 0 ]
}

@test "a Docker v2 schema 2 image is stored as an OCI manifest that skopeo and umoci read" {
    local dir="$BATS_TEST_TMPDIR/layout"
    # the same image, copied by skopeo into Docker's format
    mkdir -p "$BATS_TEST_TMPDIR/pushhome"
    run --separate-stderr env HOME="$BATS_TEST_TMPDIR/pushhome" skopeo --insecure-policy copy --quiet \
        --src-tls-verify=false --dest-tls-verify=false --format v2s2 \
        --src-creds "$DH_REG_USER:$DH_REG_PASS" --dest-creds "$DH_REG_USER:$DH_REG_PASS" \
        "docker://$DH_REG_HOST/test/multi:base" "docker://$DH_REG_HOST/test/docker:v2"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/docker:v2" "$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(jq -r '.manifests[0].mediaType' "$dir/index.json")" = application/vnd.oci.image.manifest.v1+json ]
    [ "$(jq -r '.mediaType' "$dir/blobs/sha256/${output#sha256:}")" = application/vnd.oci.image.manifest.v1+json ]
    run --separate-stderr skopeo inspect "oci:$dir:v2"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(jq '.Layers | length' <<<"$output")" -eq 4 ]
    run --separate-stderr umoci unpack --rootless --image "$dir:v2" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(find "$BATS_TEST_TMPDIR/bundle/rootfs/data" -name 'blob-*.bin' | wc -l)" -eq 4 ]
}

@test "over TLS the registry is reached with HTTP/2, blobs multiplexed on one connection" {
    local d="$BATS_TEST_TMPDIR/tls" port pid
    dh_require openssl
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$d/key.pem" -out "$d/cert.pem" -subj /CN=127.0.0.1 \
        -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
    port=$(dh_free_port)
    # a second registry on the same storage, with TLS (Go serves HTTP/2 over ALPN)
    cat >"$d/config.yml" <<EOC
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DH_REG_DIR/storage
http:
  addr: 127.0.0.1:$port
  secret: dockhand-test-tls
  tls:
    certificate: $d/cert.pem
    key: $d/key.pem
auth:
  htpasswd:
    realm: dockhand-test
    path: $DH_REG_DIR/htpasswd
EOC
    docker-registry serve "$d/config.yml" >"$d/log" 2>&1 </dev/null 3>&- &
    pid=$!
    dh_wait_port "$port"
    run --separate-stderr env OCIFETCH_BASIC="$DH_REG_USER:$DH_REG_PASS" "$OCIFETCH" \
        --ca-file "$d/cert.pem" --stats --concurrency 4 "127.0.0.1:$port/test/multi:base" "$d/layout"
    local fetched=$status fetch_err=$stderr
    # without the CA the certificate is refused
    run --separate-stderr "$OCIFETCH" "127.0.0.1:$port/test/multi:base" "$d/layout2"
    kill "$pid"
    wait "$pid" || true
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"TLS error with '127.0.0.1:$port'"* ]]
    status=$fetched stderr=$fetch_err
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    echo "$stderr"
    [ "$(grep -c '^transfer 200 http/2 ' <<<"$stderr")" -eq 5 ]
    # one connection opened for the five blobs: the others were streams on it
    [ "$(awk '/^transfer/ { n += $5 } END { print n }' <<<"$stderr")" -eq 1 ]
    run skopeo inspect "oci:$d/layout:base"
    [ "$status" -eq 0 ]
}

@test "a failing step is named with the image" {
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/multi:nope" "$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "ocifetch: 127.0.0.1:$PROXY_PORT/test/multi:nope: manifest: GET manifest 'nope': HTTP 404: "*MANIFEST_UNKNOWN* ]]
    run --separate-stderr fetch "127.0.0.1:$PROXY_PORT/test/Multi" "$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [ "$stderr" = "ocifetch: 127.0.0.1:$PROXY_PORT/test/Multi: reference: invalid reference format: repository name (test/Multi) must be lowercase" ]
    run --separate-stderr fetch --platform linux/s390x "127.0.0.1:$PROXY_PORT/test/multi:base" "$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 0 ] # a single-platform manifest is taken as it is
}
