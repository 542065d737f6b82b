#!/usr/bin/env bats
# dockhand pull against real docker-registry instances on 127.0.0.1: htpasswd
# (plain http, reached through test/fake/misbehaving-proxy.py) with credentials
# from dockhand's file store, and token auth (TLS, test CA) behind the strict
# token server test/fake/registry-token.py.  Images are built with umoci and
# pushed with skopeo; the layouts are read back by skopeo and unpacked by umoci.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

setup_file() {
    dh_require python3 jq curl skopeo umoci docker-registry htpasswd sha256sum openssl
    local out
    # 1. htpasswd, plain http: a 4-layer image and a second one sharing 3 layers
    dh_registry_start "$BATS_FILE_TMPDIR/basic" alice "basic-pw-$RANDOM$RANDOM"
    out=$(BENCH_REG_USER=$DH_REG_USER BENCH_REG_PASS=$DH_REG_PASS \
        "$DH_ROOT/hack/make-bench-image.sh" --registry "$DH_REG_HOST" --repo test/multi \
        --size-mib 2 --layers 4)
    export IMG_A_DIGEST IMG_B_DIGEST
    IMG_A_DIGEST=$(sed -n 1p <<<"$out" | cut -d' ' -f2)
    IMG_B_DIGEST=$(sed -n 2p <<<"$out" | cut -d' ' -f2)
    [ -n "$IMG_A_DIGEST" ] && [ -n "$IMG_B_DIGEST" ]
    export BASIC_HOST=$DH_REG_HOST BASIC_USER=$DH_REG_USER BASIC_PASS=$DH_REG_PASS
    # a multi-platform OCI index (linux/amd64 + linux/arm64) composed from umoci images
    push_index "$BATS_FILE_TMPDIR/index" "$BASIC_HOST/test/index:multi" "$BASIC_USER:$BASIC_PASS" ''
    export INDEX_DIGEST=$PUSHED_INDEX ARM64_DIGEST=$PUSHED_ARM64

    # the proxy in front of the htpasswd registry
    local dir="$BATS_FILE_TMPDIR/proxy"
    mkdir -p "$dir"
    python3 "$DH_ROOT/test/fake/misbehaving-proxy.py" --upstream "http://$BASIC_HOST" \
        >"$dir/ports" 2>"$dir/err" </dev/null 3>&- &
    echo $! >"$dir/pid"
    for _ in $(seq 1 200); do
        [ -s "$dir/ports" ] && break
        sleep 0.05
    done
    export PROXY_PORT STORAGE_PORT PROXY
    PROXY_PORT=$(jq -r .port "$dir/ports")
    STORAGE_PORT=$(jq -r .storage_port "$dir/ports")
    PROXY=127.0.0.1:$PROXY_PORT
    [ -n "$PROXY_PORT" ] && [ "$PROXY_PORT" != null ]

    # 2. token auth over TLS: two images of test/tok (two tags) and one of test/tok-b
    dh_registry_start --tls --auth token "$BATS_FILE_TMPDIR/tok" bob "token-pw-$RANDOM$RANDOM"
    out=$(SSL_CERT_FILE=$DH_REG_CA BENCH_REG_USER=$DH_REG_USER BENCH_REG_PASS=$DH_REG_PASS \
        "$DH_ROOT/hack/make-bench-image.sh" --registry "$DH_REG_HOST" --repo test/tok \
        --size-mib 1 --layers 2 --tls)
    mkdir -p "$BATS_FILE_TMPDIR/pushhome"
    env HOME="$BATS_FILE_TMPDIR/pushhome" SSL_CERT_FILE="$DH_REG_CA" skopeo --insecure-policy copy --quiet \
        --src-creds "$DH_REG_USER:$DH_REG_PASS" --dest-creds "$DH_REG_USER:$DH_REG_PASS" \
        "docker://$DH_REG_HOST/test/tok:base" "docker://$DH_REG_HOST/test/tok:second"
    export TOK_HOST=$DH_REG_HOST TOK_USER=$DH_REG_USER TOK_PASS=$DH_REG_PASS TOK_CA=$DH_REG_CA \
        TOK_URL=$DH_TOKEN_URL
}

teardown_file() {
    local pid d
    pid=$(cat "$BATS_FILE_TMPDIR/proxy/pid" 2>/dev/null) || true
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    for d in basic tok; do
        dh_registry_stop "$BATS_FILE_TMPDIR/$d" || true
        if dh_registry_running "$BATS_FILE_TMPDIR/$d"; then
            echo "registry $d still runs after teardown" >&2
            return 1
        fi
    done
}

setup() {
    dh_isolate
    [ -x "$DH_CLI" ] || { echo "dockhand not built: $DH_CLI" >&2; return 1; }
    unset SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
    proxy_post /_fake/reset '{}'
    # the credentials come from dockhand's own (file) store, as docker would store them
    store_creds "$PROXY" "$BASIC_USER" "$BASIC_PASS"
    store_creds "$BASIC_HOST" "$BASIC_USER" "$BASIC_PASS"
    store_creds "$TOK_HOST" "$TOK_USER" "$TOK_PASS"
}

# push_index WORK REF CREDS SKOPEO_TLS_ARGS: builds two one-file images with umoci
# (linux/amd64 and linux/arm64), composes an OCI index of both and pushes it with
# skopeo copy --all.  Sets PUSHED_INDEX and PUSHED_ARM64 (digests).
push_index() {
    local work=$1 ref=$2 creds=$3 a idx h
    mkdir -p "$work"
    umoci init --layout "$work/l"
    for a in amd64 arm64; do
        umoci new --image "$work/l:$a"
        umoci config --image "$work/l:$a" --architecture "$a" --os linux
        mkdir -p "$work/src-$a"
        echo "arch $a" >"$work/src-$a/arch.txt"
        umoci insert --rootless --image "$work/l:$a" "$work/src-$a/arch.txt" /arch.txt
    done
    idx=$(jq -c '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [.manifests[] | {mediaType, digest, size,
            platform: {os: "linux", architecture: .annotations["org.opencontainers.image.ref.name"]}}]}' \
        "$work/l/index.json")
    printf '%s' "$idx" >"$work/idx.json"
    h=$(sha256sum "$work/idx.json" | cut -d' ' -f1)
    cp "$work/idx.json" "$work/l/blobs/sha256/$h"
    jq --arg d "sha256:$h" --argjson s "$(stat -c %s "$work/idx.json")" \
        '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
            annotations: {"org.opencontainers.image.ref.name": "multi"}}]' "$work/l/index.json" >"$work/i2"
    mv "$work/i2" "$work/l/index.json"
    PUSHED_ARM64=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "arm64") | .digest' "$work/l/index.json")
    PUSHED_INDEX=sha256:$h
    mkdir -p "$work/home"
    env HOME="$work/home" skopeo --insecure-policy copy --quiet --all --dest-tls-verify=false \
        --dest-creds "$creds" "oci:$work/l:multi" "docker://$ref"
}

store_creds() {
    printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$1" "$2" "$3" |
        "$DH_HELPER" store
}

proxy_post() {
    curl -fsS -X POST --data "$2" "http://127.0.0.1:$PROXY_PORT$1" >/dev/null
}

proxy_log() {
    curl -fsS "http://127.0.0.1:$PROXY_PORT/_fake/requests"
}

# blob GETs the proxy answered, as "listener status range digest" lines
blob_gets() {
    proxy_log | jq -r '.[] | select(.method == "GET" and (.path | contains("/blobs/"))) |
        "\(.listener) \(.status) \(.range // "-") \(.path | split("/") | last)"'
}

token_requests() {
    curl -sf --cacert "$TOK_CA" "$TOK_URL/_fake/requests"
}

pull() {
    "$DH_CLI" pull --insecure-registry "$PROXY" "$@"
}

every_blob_is_its_digest() {
    local f
    for f in "$1"/blobs/sha256/*; do
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || return 1
    done
    [ "$(find "$1/blobs" -maxdepth 1 -name '.partial-*' | wc -l)" -eq 0 ]
}

@test "htpasswd: a multi-layer image pulled with credentials from dockhand's store, read by skopeo and umoci" {
    local dir="$BATS_TEST_TMPDIR/layout" ref="$PROXY/test/multi:base"
    run --separate-stderr pull "$ref" --to "oci:$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$output" = "$IMG_A_DIGEST $ref" ]
    # plain progress lines (stderr is not a terminal)
    [[ "$stderr" == *"$ref: manifest $IMG_A_DIGEST, 5 blobs, 2.0 MiB"* ]]
    [[ "$stderr" == *"$ref: pulled as $ref (2.0 MiB fetched, 0 blobs reused)"* ]]
    [[ "$stderr" == *"1 of 1 image pulled into $dir"* ]]
    [ "$(cat "$dir/oci-layout")" = '{"imageLayoutVersion":"1.0.0"}' ]
    [ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$dir/index.json")" = "$ref" ]
    [ "$(jq -r '.manifests[0].digest' "$dir/index.json")" = "$IMG_A_DIGEST" ]
    every_blob_is_its_digest "$dir"
    [ "$(find "$dir/blobs/sha256" -type f | wc -l)" -eq 6 ]
    run --separate-stderr skopeo inspect "oci:$dir:$ref"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(jq '.Layers | length' <<<"$output")" -eq 4 ]
    run --separate-stderr umoci unpack --rootless --image "$dir:$ref" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(find "$BATS_TEST_TMPDIR/bundle/rootfs/data" -name 'blob-*.bin' | wc -l)" -eq 4 ]
    # Basic credentials on every blob GET; the password never in the output
    [ "$(proxy_log | jq '[.[] | select(.path | contains("/blobs/")) | select(.authorization | not)] | length')" -eq 0 ]
    [ "$(blob_gets | wc -l)" -eq 5 ]
    [[ "$output$stderr" != *"$BASIC_PASS"* ]]
}

@test "--to oci:DIR:REF names a single image; several images need oci:DIR" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr pull -q "$PROXY/test/multi:base" --to "oci:$dir:base"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run --separate-stderr skopeo inspect "oci:$dir:base"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run --separate-stderr pull "$PROXY/test/multi:base" "$PROXY/test/multi-b:base" --to "oci:$dir:base"
    [ "$status" -eq 1 ]
    [ "$stderr" = "dockhand: error: --to oci:DIR:REF names one image; for 2 images use --to oci:DIR (each is named by its reference)" ]
    run --separate-stderr pull "$PROXY/test/multi:base" --to "docker://x"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"only an OCI layout is supported (--to oci:DIR[:REF])"* ]]
    run --separate-stderr pull "$PROXY/test/multi:base"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"no destination given (--to oci:DIR)"* ]]
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$dir" --concurrency 0
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"--concurrency needs a number from 1 to 64, not '0'"* ]]
}

@test "two images sharing layers in one pull: each shared blob is fetched once" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr pull "$PROXY/test/multi:base" "$PROXY/test/multi-b:base" \
        --to "oci:$dir" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    # 5 blobs of the first image + the second's config and own layer
    run blob_gets
    echo "$output"
    [ "$(wc -l <<<"$output")" -eq 7 ]
    [ "$(cut -d' ' -f4 <<<"$output" | sort -u | wc -l)" -eq 7 ]
    [ "$(jq '.manifests | length' "$dir/index.json")" -eq 2 ]
    run skopeo inspect "oci:$dir:$PROXY/test/multi-b:base"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.Digest' <<<"$output")" = "$IMG_B_DIGEST" ]
    # a second pull of both fetches no blob at all
    proxy_post /_fake/reset '{}'
    run --separate-stderr pull "$PROXY/test/multi:base" "$PROXY/test/multi-b:base" --to "oci:$dir" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(blob_gets | wc -l)" -eq 0 ]
    jq -e '.bytes_fetched == 0 and ([.images[].blobs_reused] == [5, 5])' <<<"$output"
}

@test "-o json: the summary's shape and numbers" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr pull "$PROXY/test/multi:base" "$PROXY/test/multi-b:base" "$PROXY/test/multi:nope" \
        --to "oci:$dir" -o json
    [ "$status" -eq 1 ]
    echo "$output"
    jq -e --arg dir "$dir" '.layout == $dir and .pulled == 2 and .failed == 1 and (.duration_ms | type) == "number"
        and (.images | length) == 3' <<<"$output"
    jq -e --arg a "$IMG_A_DIGEST" --arg b "$IMG_B_DIGEST" --arg p "$PROXY" '
        (.images[0] | .image == "\($p)/test/multi:base" and .ref_name == .image and .digest == $a
            and .fetched_digest == $a and .index_digest == null and .platform == null
            and .media_type == "application/vnd.oci.image.manifest.v1+json"
            and .blobs_total == 5 and .blobs_fetched == 5 and .blobs_reused == 0
            and .bytes_fetched == .bytes_total and .bytes_total > 2000000 and .error == null)
        and (.images[1] | .digest == $b and .blobs_fetched == 2 and .blobs_reused == 3
            and .bytes_fetched < .bytes_total / 2)
        and (.images[2] | .digest == null and (.error | startswith("manifest: not found")))
        and .bytes_fetched == (.images | map(.bytes_fetched) | add)
        and ([.images[] | keys] | unique | length) == 1' <<<"$output"
    [[ "$stderr" == *"dockhand: error: $PROXY/test/multi:nope: manifest: not found: manifest unknown"* ]]
}

@test "-q prints nothing on success" {
    run --separate-stderr pull -q "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ -z "$stderr" ]
}

@test "a multi-platform index: --platform selects the manifest, the index digest is reported" {
    local dir="$BATS_TEST_TMPDIR/layout"
    run --separate-stderr pull --platform linux/arm64 "$PROXY/test/index:multi" --to "oci:$dir:arm" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    jq -e --arg i "$INDEX_DIGEST" --arg m "$ARM64_DIGEST" '.images[0] | .digest == $m and
        .fetched_digest == $m and .index_digest == $i and .platform == "linux/arm64"' <<<"$output"
    [ "$(jq -r '.manifests[0].digest' "$dir/index.json")" = "$ARM64_DIGEST" ]
    run --separate-stderr umoci unpack --rootless --image "$dir:arm" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/arch.txt")" = "arch arm64" ]
    run --separate-stderr skopeo inspect "oci:$dir:arm"
    [ "$(jq -r .Architecture <<<"$output")" = arm64 ]
    # aarch64 is arm64 (containerd's normalisation)
    run --separate-stderr pull -q --platform linux/aarch64 "$PROXY/test/index:multi" --to "oci:$dir:arm2"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "arm2") | .digest' "$dir/index.json")" = "$ARM64_DIGEST" ]
    # no match: named, with what the index has
    run --separate-stderr pull --platform linux/s390x "$PROXY/test/index:multi" --to "oci:$dir:s"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"dockhand: error: $PROXY/test/index:multi: platform: no manifest for platform 'linux/s390x' in the index (it has: linux/amd64, linux/arm64)"* ]]
    # pinned by digest: the index digest asked for is checked
    run --separate-stderr pull -q --platform linux/amd64 "$PROXY/test/index@$INDEX_DIGEST" --to "oci:$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "'"$PROXY/test/index@$INDEX_DIGEST"'") | .digest' "$dir/index.json")" != "$ARM64_DIGEST" ]
}

@test "token auth: scope repository:NAME:pull, one token per repository for several images" {
    local dir="$BATS_TEST_TMPDIR/layout" before
    export SSL_CERT_FILE=$TOK_CA
    before=$(token_requests | jq length)
    run --separate-stderr "$DH_CLI" pull "$TOK_HOST/test/tok:base" "$TOK_HOST/test/tok:second" \
        "$TOK_HOST/test/tok-b:base" --to "oci:$dir" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    jq -e '.pulled == 3' <<<"$output"
    run token_requests
    # dockhand's requests: one token for each repository, asked with bob's Basic credentials
    jq -e --argjson n "$before" --arg u "$TOK_USER" '.[$n:] | length == 2 and all(.status == 200 and .authenticated and .user == $u)' <<<"$output"
    jq -e --argjson n "$before" '[.[$n:][] | .query | map({key: .[0], value: .[1]}) | from_entries | .scope] | sort == ["repository:test/tok-b:pull", "repository:test/tok:pull"]' <<<"$output"
    jq -e --argjson n "$before" '[.[$n:][] | .query | map({key: .[0], value: .[1]}) | from_entries | .service] | unique == ["dockhand-test-registry"]' <<<"$output"
    run --separate-stderr skopeo inspect "oci:$dir:$TOK_HOST/test/tok:second"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run --separate-stderr umoci unpack --rootless --image "$dir:$TOK_HOST/test/tok-b:base" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
}

@test "token auth: a wrong password is a clear error naming the image; TLS without the CA is refused" {
    export SSL_CERT_FILE=$TOK_CA
    store_creds "$TOK_HOST" "$TOK_USER" not-the-password
    run --separate-stderr "$DH_CLI" pull "$TOK_HOST/test/tok:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    echo "$stderr"
    [[ "$stderr" == *"dockhand: error: $TOK_HOST/test/tok:base: manifest: unauthorized: incorrect username or password"* ]]
    [[ "$stderr" != *not-the-password* ]]
    unset SSL_CERT_FILE
    run --separate-stderr "$DH_CLI" pull "$TOK_HOST/test/tok:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"dockhand: error: $TOK_HOST/test/tok:base: registry: cannot reach registry '$TOK_HOST': TLS error"* ]]
}

@test "htpasswd: wrong credentials are a clear error naming the image" {
    store_creds "$PROXY" "$BASIC_USER" not-the-password
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [ "$stderr" = "dockhand: error: $PROXY/test/multi:base: manifest: unauthorized: authentication required" ] || { echo "$stderr"; false; }
    # no credentials at all: the same
    "$DH_HELPER" erase <<<"$PROXY"
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"$PROXY/test/multi:base: manifest: unauthorized: "* ]]
}

@test "an unknown tag is a clear error naming the image" {
    run --separate-stderr pull "$PROXY/test/multi:nope" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [ "$stderr" = "dockhand: error: $PROXY/test/multi:nope: manifest: not found: manifest unknown" ] || { echo "$stderr"; false; }
    run --separate-stderr pull "$PROXY/test/Multi" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"dockhand: error: $PROXY/test/Multi: reference: invalid reference format: repository name (test/Multi) must be lowercase"* ]]
}

@test "plain http is refused without --insecure-registry" {
    run --separate-stderr "$DH_CLI" pull "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"dockhand: error: $PROXY/test/multi:base: registry: cannot reach registry '$PROXY': TLS error"*"(a plain http registry needs --insecure-registry $PROXY;"* ]]
    # nothing reached the registry in clear text
    [ "$(proxy_log | jq '[.[] | select(.path | startswith("/v2/"))] | length')" -eq 0 ]
    # another registry marked insecure does not count
    run --separate-stderr "$DH_CLI" pull --insecure-registry "127.0.0.1:1" "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/layout"
    [ "$status" -eq 1 ]
}

@test "a connection dropped mid-blob is resumed with a Range request" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"drop_after": 100000}'
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run blob_gets
    echo "$output"
    # each layer (512 KiB) was cut once at 100000 bytes, then asked for from there
    [ "$(grep -c '^proxy 206 bytes=100000- ' <<<"$output")" -eq 4 ]
    every_blob_is_its_digest "$dir"
    run skopeo inspect "oci:$dir:$PROXY/test/multi:base"
    [ "$status" -eq 0 ]
}

@test "a flipped byte fails the image, naming it and the blob, and leaves nothing in the layout" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"corrupt": true}'
    run --separate-stderr pull --concurrency 1 "$PROXY/test/multi:base" --to "oci:$dir"
    [ "$status" -eq 1 ]
    echo "$stderr"
    [[ "$stderr" == *"dockhand: error: $PROXY/test/multi:base: blob sha256:"*": digest mismatch: expected sha256:"*", got sha256:"* ]]
    [ -z "$output" ]
    [ "$(jq '.manifests | length' "$dir/index.json" 2>/dev/null || echo 0)" -eq 0 ]
    [ "$(find "$dir/blobs" -type f | wc -l)" -eq 0 ]
}

@test "429 with Retry-After is waited for, then the blob is fetched" {
    local dir="$BATS_TEST_TMPDIR/layout" start end
    proxy_post /_fake/config '{"throttle": 1, "retry_after": "2"}'
    start=$(date +%s%N)
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$dir"
    end=$(date +%s%N)
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run blob_gets
    [ "$(grep -c '^proxy 429 ' <<<"$output")" -eq 5 ]
    [ "$(grep -c '^proxy 200 ' <<<"$output")" -eq 5 ]
    # at least the 2 s asked for went by (a lower bound)
    [ $(((end - start) / 1000000)) -ge 2000 ]
    # 503 without Retry-After: bounded backoff, then success
    proxy_post /_fake/config '{"error_5xx": 2}'
    run --separate-stderr pull "$PROXY/test/multi-b:base" --to "oci:$BATS_TEST_TMPDIR/l2"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$(blob_gets | grep -c '^proxy 503 ')" -eq 10 ]
    # more failures than --retries allows: the image fails, named
    proxy_post /_fake/config '{"error_5xx": 3}'
    run --separate-stderr pull --retries 2 "$PROXY/test/multi:base" --to "oci:$BATS_TEST_TMPDIR/l3"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"dockhand: error: $PROXY/test/multi:base: blob sha256:"*": HTTP 503"* ]]
}

@test "a blob redirected to another port is fetched without the Authorization header" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"redirect": true}'
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$dir"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run proxy_log
    [ "$(jq '[.[] | select(.listener == "proxy" and .status == 307 and .authorization)] | length' <<<"$output")" -eq 5 ]
    [ "$(jq '[.[] | select(.listener == "storage" and .status == 200)] | length' <<<"$output")" -eq 5 ]
    [ "$(jq '[.[] | select(.listener == "storage" and .authorization)] | length' <<<"$output")" -eq 0 ]
    every_blob_is_its_digest "$dir"
    run skopeo inspect "oci:$dir:$PROXY/test/multi:base"
    [ "$status" -eq 0 ]
}

@test "a Docker v2 image is stored as OCI: the stored digest is reported, the fetched one checked" {
    local dir="$BATS_TEST_TMPDIR/layout" v2
    mkdir -p "$BATS_TEST_TMPDIR/pushhome"
    run --separate-stderr env HOME="$BATS_TEST_TMPDIR/pushhome" skopeo --insecure-policy copy --quiet \
        --src-tls-verify=false --dest-tls-verify=false --format v2s2 \
        --src-creds "$BASIC_USER:$BASIC_PASS" --dest-creds "$BASIC_USER:$BASIC_PASS" \
        "docker://$BASIC_HOST/test/multi:base" "docker://$BASIC_HOST/test/docker:v2"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    v2=$(skopeo inspect --raw --tls-verify=false --creds "$BASIC_USER:$BASIC_PASS" "docker://$BASIC_HOST/test/docker:v2" | sha256sum | cut -d' ' -f1)
    run --separate-stderr pull "$PROXY/test/docker:v2" --to "oci:$dir" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    jq -e --arg f "sha256:$v2" '.images[0] | .fetched_digest == $f and .digest != $f
        and .media_type == "application/vnd.oci.image.manifest.v1+json"' <<<"$output"
    [ "$(jq -r '.manifests[0].digest' "$dir/index.json")" = "$(jq -r '.images[0].digest' <<<"$output")" ]
    run --separate-stderr umoci unpack --rootless --image "$dir:$PROXY/test/docker:v2" "$BATS_TEST_TMPDIR/bundle"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    # a digest reference that does not match what the registry serves is refused
    run --separate-stderr pull "$PROXY/test/docker@sha256:$(printf '%064d' 0)" --to "oci:$dir"
    [ "$status" -eq 1 ]
}

@test "two pulls into one layout at once: a blob being written by one is waited for by the other" {
    local dir="$BATS_TEST_TMPDIR/layout" p1 p2
    proxy_post /_fake/config '{"delay_ms": 700}'
    pull -q "$PROXY/test/multi:base" --to "oci:$dir" >"$BATS_TEST_TMPDIR/1.out" 2>&1 &
    p1=$!
    sleep 0.3
    pull -q "$PROXY/test/multi-b:base" "$PROXY/test/multi:base" --to "oci:$dir" >"$BATS_TEST_TMPDIR/2.out" 2>&1 &
    p2=$!
    wait "$p1" || { cat "$BATS_TEST_TMPDIR/1.out"; false; }
    wait "$p2" || { cat "$BATS_TEST_TMPDIR/2.out"; false; }
    # every blob once in the layout, none fetched twice
    run blob_gets
    echo "$output"
    [ "$(cut -d' ' -f4 <<<"$output" | sort | uniq -d | wc -l)" -eq 0 ]
    every_blob_is_its_digest "$dir"
    [ "$(jq '.manifests | length' "$dir/index.json")" -eq 2 ]
    run skopeo inspect "oci:$dir:$PROXY/test/multi-b:base"
    [ "$status" -eq 0 ]
}

@test "on a terminal: a live table of bytes and rates on stderr" {
    dh_require script
    local dir="$BATS_TEST_TMPDIR/layout"
    run env TERM=xterm script -qec "$DH_CLI pull --insecure-registry $PROXY $PROXY/test/multi:base $PROXY/test/multi-b:base --to oci:$dir 2>&1" /dev/null
    [ "$status" -eq 0 ]
    echo "$output"
    # redrawn in place (cursor up, clear line), each image with done / total and a rate, then done
    [[ "$output" == *$'\e[2A'* ]]
    [[ "$output" == *$'\r\e[K'"$PROXY/test/multi:base"*" 2.0 MiB / 2.0 MiB "*"/s done"* ]]
    [[ "$output" == *$'\r\e[K'"$PROXY/test/multi-b:base"*" 2.0 MiB / 2.0 MiB "*"/s done"* ]]
    # no plain progress lines
    [[ "$output" != *": manifest sha256:"* ]]
}

@test "a pull cut short keeps its partial blobs; the next pull resumes them with Range" {
    local dir="$BATS_TEST_TMPDIR/layout"
    proxy_post /_fake/config '{"drop_after": 100000}'
    run --separate-stderr pull --retries 0 "$PROXY/test/multi:base" --to "oci:$dir"
    [ "$status" -eq 1 ]
    echo "$stderr"
    [[ "$stderr" == *"dockhand: error: $PROXY/test/multi:base: blob sha256:"* ]]
    [ ! -e "$dir/index.json" ]
    # the 4 layers were cut at 100000 bytes: their partial files wait in the layout
    [ "$(find "$dir/blobs" -maxdepth 1 -name '.partial-sha256-*' -size 100000c | wc -l)" -eq 4 ]
    proxy_post /_fake/reset '{}'
    run --separate-stderr pull "$PROXY/test/multi:base" --to "oci:$dir" -o json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    run blob_gets
    echo "$output"
    [ "$(grep -c '^proxy 206 bytes=100000- ' <<<"$output")" -eq 4 ]
    every_blob_is_its_digest "$dir"
}
