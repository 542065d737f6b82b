#!/usr/bin/env bats
# The read-only dir:<root> store (docs/dir-store.md) through the real helper:
# trees of mounted Kubernetes Secrets built here (kubelet layout: a timestamped
# directory, "..data" pointing at it, the visible names pointing into "..data"),
# kubelet-style matching with globs, broken files, the read-only verbs, a
# "..data" swap racing 1,000 reads, and skopeo against a real registry.

# shellcheck disable=SC2154  # $stderr is set by bats `run --separate-stderr`

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

NOT_FOUND='credentials not found in native keychain'
READ_ONLY='the dir store is read-only'

setup_file() {
    dh_require docker-registry htpasswd skopeo jq base64
    dh_suite_registry_start
}

teardown_file() {
    dh_suite_registry_stop
}

setup() {
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    unset DOCKER_AUTH_CONFIG REGISTRY_AUTH_FILE
    ROOT="$BATS_TEST_TMPDIR/secrets"
    mkdir -p "$ROOT"
    export DOCKHAND_STORE="dir:$ROOT"
    SWAP_PID=
}

teardown() {
    if [ -n "${SWAP_PID:-}" ] && kill -0 "$SWAP_PID" 2>/dev/null; then
        kill "$SWAP_PID" 2>/dev/null || true
        wait "$SWAP_PID" 2>/dev/null || true
    fi
}

# b64 TEXT: base64 of TEXT, one line.
b64() {
    printf '%s' "$1" | base64 -w0
}

# auths KEY USER PASS [KEY USER PASS...]: a .dockerconfigjson with "auth" fields.
auths() {
    local args=() i=0
    while [ $# -ge 3 ]; do
        args+=(--arg "k$i" "$1" --arg "a$i" "$(b64 "$2:$3")")
        i=$((i + 1))
        shift 3
    done
    local filter='{auths: {}}'
    for ((j = 0; j < i; j++)); do
        filter+=" | .auths[\$k$j] = {auth: \$a$j}"
    done
    jq -cn "${args[@]}" "$filter"
}

# kube_secret NS NAME FILE CONTENT: a secret mounted the way the kubelet does it.
kube_secret() {
    local dir="$ROOT/$1/$2" ts="..2026_11_23_12_00_00.$RANDOM"
    mkdir -p "$dir/$ts"
    printf '%s' "$4" >"$dir/$ts/$3"
    ln -sfn "$ts" "$dir/..data"
    ln -sfn "..data/$3" "$dir/$3"
}

# plain_secret NS NAME FILE CONTENT: a secret directory with a plain file.
plain_secret() {
    mkdir -p "$ROOT/$1/$2"
    printf '%s' "$4" >"$ROOT/$1/$2/$3"
}

# get URL: runs the helper's get (stdout in $output, stderr in $stderr).
get() {
    run --separate-stderr "$DH_HELPER" get <<<"$1"
}

# expect_cred URL USER SECRET [SERVER]: get URL answers USER and SECRET, no warning.
expect_cred() {
    get "$1"
    [ "$status" -eq 0 ] || { echo "get $1: $output $stderr"; return 1; }
    [ "$(jq -r .ServerURL <<<"$output")" = "${4:-$1}" ]
    [ "$(jq -r .Username <<<"$output")" = "$2" ] || { echo "get $1: $output"; return 1; }
    [ "$(jq -r .Secret <<<"$output")" = "$3" ] || { echo "get $1: $output"; return 1; }
    [ -z "$stderr" ] || { echo "unexpected stderr: $stderr"; return 1; }
}

expect_not_found() {
    get "$1"
    [ "$status" -eq 1 ] || { echo "get $1: $output"; return 1; }
    [ "$output" = "$NOT_FOUND" ]
}

@test "get reads a mounted kubernetes.io/dockerconfigjson secret; list shows its keys" {
    kube_secret default pull .dockerconfigjson \
        "$(auths registry.example.com ci-bot 's3cr:et' 'https://ghcr.io' gh-user gh-token)"
    expect_cred registry.example.com ci-bot 's3cr:et'
    expect_cred https://registry.example.com/v2/ ci-bot 's3cr:et'
    expect_cred ghcr.io gh-user gh-token
    run --separate-stderr "$DH_HELPER" list
    [ "$status" -eq 0 ]
    [ "$output" = '{"https://ghcr.io":"gh-user","registry.example.com":"ci-bot"}' ]
    [ -z "$stderr" ]
    expect_not_found registry.example.com:5000
    expect_not_found other.example.com
}

@test "every secret of the namespace is visible; .dockercfg and config.json are read" {
    kube_secret default a .dockerconfigjson "$(auths a.example.com ua pa)"
    kube_secret default b .dockercfg \
        '{"b.example.com":{"username":"ub","password":"pb","email":"b@example.com"}}'
    plain_secret default c config.json \
        '{"auths":{"c.example.com":{"auth":"'"$(b64 uc:pc)"'"}},"credsStore":"desktop","credHelpers":{"x.io":"y"}}'
    plain_secret default d .dockerconfigjson "$(auths d.example.com ud pd)"
    # "auth" overrides username/password, as in the kubelet; unpadded base64 is fine
    plain_secret default e .dockerconfigjson \
        '{"auths":{"e.example.com":{"username":"old","password":"stale","auth":"'"$(b64 ue:pe | tr -d =)"'"}}}'
    expect_cred a.example.com ua pa
    expect_cred b.example.com ub pb
    expect_cred c.example.com uc pc
    expect_cred d.example.com ud pd
    expect_cred e.example.com ue pe
    run --separate-stderr "$DH_HELPER" list
    [ "$status" -eq 0 ]
    [ "$(jq -c 'to_entries | map(.key + "=" + .value)' <<<"$output")" = \
        '["a.example.com=ua","b.example.com=ub","c.example.com=uc","d.example.com=ud","e.example.com=ue"]' ]
}

@test "DOCKHAND_NAMESPACE picks the directory; hidden entries are not secrets" {
    kube_secret default pull .dockerconfigjson "$(auths r.example.com dev dev-pw)"
    kube_secret prod pull .dockerconfigjson "$(auths r.example.com prod prod-pw)"
    plain_secret default .hidden .dockerconfigjson "$(auths h.example.com hid hid-pw)"
    mkdir -p "$ROOT/default/..2026_11_23_12_00_00.1"
    printf '%s' "$(auths h.example.com ts ts-pw)" >"$ROOT/default/..2026_11_23_12_00_00.1/.dockerconfigjson"
    ln -s ..2026_11_23_12_00_00.1 "$ROOT/default/..data"
    printf 'not a secret\n' >"$ROOT/default/README"
    expect_cred r.example.com dev dev-pw
    DOCKHAND_NAMESPACE=prod expect_cred r.example.com prod prod-pw
    expect_not_found h.example.com
    run --separate-stderr "$DH_HELPER" list
    [ "$output" = '{"r.example.com":"dev"}' ]
    [ -z "$stderr" ]
    # a namespace without a directory holds nothing
    DOCKHAND_NAMESPACE=empty expect_not_found r.example.com
    DOCKHAND_NAMESPACE=empty run --separate-stderr "$DH_HELPER" list
    [ "$status" -eq 0 ]
    [ "$output" = '{}' ]
}

@test "kubelet globs: *.azurecr.io, ECR, *.*.registry.io, ports and path prefixes" {
    kube_secret default globs .dockerconfigjson "$(auths \
        '*.azurecr.io' az az-pw \
        '*.dkr.ecr.*.amazonaws.com' AWS ecr-token \
        '*.*.registry.io' deep deep-pw \
        'registry.io:8080/path' ported ported-pw \
        '*.io' io io-pw)"
    expect_cred myreg.azurecr.io az az-pw
    expect_cred 123456789012.dkr.ecr.eu-west-1.amazonaws.com AWS ecr-token
    expect_cred a.b.registry.io deep deep-pw
    expect_cred registry.io:8080/path/app ported ported-pw
    # docker asks for a host only: a key with a path still answers (docker's rule)
    expect_cred registry.io:8080 ported ported-pw
    # '*' never crosses a dot, and the label count must match
    expect_cred b.io io io-pw
    expect_not_found a.b.io
    expect_cred azurecr.io io io-pw # two labels: "*.io", not "*.azurecr.io"
    # One label too many for the ECR glob: the dir store has nothing, so dockhand tries to
    # mint an ECR token itself and, with no AWS credentials here, says why (docs/tokens.md).
    AWS_EC2_METADATA_DISABLED=true run --separate-stderr "$DH_HELPER" get \
        <<<123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn
    [ "$status" -eq 1 ]
    [[ "$output" == *"no AWS credentials"* ]]
    [[ "$output" != *ecr-token* ]]
    expect_not_found registry.io:9090
    expect_not_found registry.io:8080/other
}

@test "the most specific key wins, then the secret name, then the key" {
    kube_secret default a-glob .dockerconfigjson "$(auths '*.example.com' glob glob-pw)"
    kube_secret default b-host .dockerconfigjson "$(auths r.example.com host host-pw)"
    kube_secret default c-path .dockerconfigjson "$(auths r.example.com/team team team-pw)"
    kube_secret default d-dup .dockerconfigjson "$(auths r.example.com dup dup-pw)"
    expect_cred r.example.com host host-pw          # literal beats glob; b-host < d-dup
    expect_cred r.example.com/team/app team team-pw # longer path wins
    expect_cred r.example.com/other host host-pw
    expect_cred x.example.com glob glob-pw
    rm -rf "$ROOT/default/b-host"
    expect_cred r.example.com dup dup-pw
}

@test "Docker Hub's names are one registry; identity tokens answer as <token>" {
    kube_secret default hub .dockerconfigjson "$(auths 'https://index.docker.io/v1/' hubuser hub-pw)"
    kube_secret default tok .dockerconfigjson \
        '{"auths":{"tok.example.com":{"username":"x","identitytoken":"refresh-123"}}}'
    for url in https://index.docker.io/v1/ docker.io index.docker.io registry-1.docker.io; do
        expect_cred "$url" hubuser hub-pw
    done
    expect_not_found docker.com
    expect_cred tok.example.com '<token>' refresh-123
    get tok.example.com
    [[ "$output" == *'"Username":"\u003ctoken\u003e"'* ]]
}

@test "a broken file is reported with its path and skipped; the others still serve" {
    kube_secret default good .dockerconfigjson "$(auths r.example.com good good-pw)"
    kube_secret default bad-json .dockerconfigjson '{"auths":{"r.example.com":{"password":"leak-me-not" x}}}'
    kube_secret default bad-auth .dockerconfigjson '{"auths":{"r.example.com":{"auth":"!!leak-me-not!!"}}}'
    plain_secret default bad-type .dockercfg '["r.example.com"]'
    get r.example.com
    [ "$status" -eq 0 ]
    [ "$(jq -r .Username <<<"$output")" = good ]
    [[ "$stderr" == *"cannot parse '$ROOT/default/bad-json/.dockerconfigjson': invalid JSON at line 1"*", skipping it"* ]]
    [[ "$stderr" == *"cannot parse '$ROOT/default/bad-auth/.dockerconfigjson': 'auth' of entry 'r.example.com' is not valid base64, skipping it"* ]]
    [[ "$stderr" == *"cannot parse '$ROOT/default/bad-type/.dockercfg': expected a JSON object at the top level, skipping it"* ]]
    [[ "$stderr" != *leak-me-not* ]]
    [ "$(grep -c 'skipping it' <<<"$stderr")" -eq 3 ]
    run --separate-stderr "$DH_HELPER" list
    [ "$status" -eq 0 ]
    [ "$output" = '{"r.example.com":"good"}' ]
    [ "$(grep -c 'skipping it' <<<"$stderr")" -eq 3 ]
    # a file that cannot be read is skipped too
    mkdir "$ROOT/default/dir-not-file"
    mkdir "$ROOT/default/dir-not-file/.dockerconfigjson"
    get r.example.com
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"cannot read '$ROOT/default/dir-not-file/.dockerconfigjson': Is a directory, skipping it"* ]]
    # a visible name whose target stays missing (not a "..data" swap): retried, then skipped
    mkdir "$ROOT/default/dangling"
    ln -s ..data/.dockerconfigjson "$ROOT/default/dangling/.dockerconfigjson"
    get r.example.com
    [ "$status" -eq 0 ]
    [ "$(jq -r .Username <<<"$output")" = good ]
    [[ "$stderr" == *"cannot open '$ROOT/default/dangling/.dockerconfigjson': No such file or directory, skipping it"* ]]
}

@test "store and erase fail: the dir store is read-only" {
    kube_secret default pull .dockerconfigjson "$(auths r.example.com u p)"
    run "$DH_HELPER" store <<<'{"ServerURL":"r.example.com","Username":"x","Secret":"y"}'
    [ "$status" -eq 1 ]
    [ "$output" = "$READ_ONLY" ]
    run "$DH_HELPER" erase <<<r.example.com
    [ "$status" -eq 1 ]
    [ "$output" = "$READ_ONLY" ]
    expect_cred r.example.com u p
}

@test "the root must be an absolute path to a directory" {
    DOCKHAND_STORE=dir:relative/path run "$DH_HELPER" get <<<r.example.com
    [ "$status" -eq 1 ]
    [ "$output" = "the dir store root 'relative/path' is not an absolute path" ]
    DOCKHAND_STORE=dir: run "$DH_HELPER" list
    [ "$status" -eq 1 ]
    [ "$output" = "the dir store needs a root directory: 'dir:<root>'" ]
    DOCKHAND_STORE=dir run "$DH_HELPER" list
    [ "$status" -eq 1 ]
    [ "$output" = "the dir store needs a root directory: 'dir:<root>'" ]
    DOCKHAND_STORE="dir:$BATS_TEST_TMPDIR/missing" run "$DH_HELPER" get <<<r.example.com
    [ "$status" -eq 1 ]
    [ "$output" = "cannot open the dir store root '$BATS_TEST_TMPDIR/missing': No such file or directory" ]
    # a trailing slash is fine
    kube_secret default pull .dockerconfigjson "$(auths r.example.com u p)"
    DOCKHAND_STORE="dir:$ROOT/" expect_cred r.example.com u p
}

@test "a ..data swap racing 1,000 reads: each get sees one complete version" {
    local dir="$ROOT/default/pull" stop="$BATS_TEST_TMPDIR/stop" swaps="$BATS_TEST_TMPDIR/swaps"
    local v1="$BATS_TEST_TMPDIR/v1.json" v2="$BATS_TEST_TMPDIR/v2.json"
    # v2 is larger than one read, with padding before and after its entry
    auths race.example.com user-v1 secret-v1 >"$v1"
    jq -c --arg pad "$(head -c 40000 /dev/zero | tr '\0' x)" \
        '{HttpHeaders: {"X-Pad": $pad}} + . + {pad2: $pad}' \
        <<<"$(auths race.example.com user-v2 secret-v2)" >"$v2"
    [ "$(stat -c %s "$v2")" -gt 80000 ]
    mkdir -p "$dir/..2026_init"
    cp "$v1" "$dir/..2026_init/.dockerconfigjson"
    ln -s ..2026_init "$dir/..data"
    ln -s ..data/.dockerconfigjson "$dir/.dockerconfigjson"

    # The kubelet's atomic writer: a new timestamped directory, "..data" swapped to it
    # with ln -sfn + mv -T (rename(2)), then the old directory removed.
    (
        old=..2026_init i=0
        while [ ! -e "$stop" ]; do
            i=$((i + 1))
            ts="..2026_11_23_12_00_00.$i"
            mkdir "$dir/$ts"
            if ((i % 2)); then cp "$v2" "$dir/$ts/.dockerconfigjson"; else cp "$v1" "$dir/$ts/.dockerconfigjson"; fi
            ln -sfn "$ts" "$dir/..data_tmp"
            mv -T "$dir/..data_tmp" "$dir/..data"
            rm -rf "${dir:?}/$old"
            old=$ts
            echo "$i" >"$swaps"
        done
    ) </dev/null >/dev/null 2>&1 3>&- &
    SWAP_PID=$!

    local want1 want2 out err="$BATS_TEST_TMPDIR/err" n1=0 n2=0 bad=0
    want1='{"ServerURL":"race.example.com","Username":"user-v1","Secret":"secret-v1"}'
    want2='{"ServerURL":"race.example.com","Username":"user-v2","Secret":"secret-v2"}'
    for _ in $(seq 1000); do
        if ! out=$("$DH_HELPER" get <<<race.example.com 2>"$err"); then
            echo "get failed: $out $(cat "$err")"
            bad=$((bad + 1))
            continue
        fi
        if [ -s "$err" ]; then
            echo "stderr: $(cat "$err")"
            bad=$((bad + 1))
        fi
        case $out in
        "$want1") n1=$((n1 + 1)) ;;
        "$want2") n2=$((n2 + 1)) ;;
        *) echo "mixed or wrong answer: $out"; bad=$((bad + 1)) ;;
        esac
    done
    touch "$stop"
    wait "$SWAP_PID"
    SWAP_PID=
    echo "v1: $n1, v2: $n2, bad: $bad, swaps: $(cat "$swaps")"
    [ "$bad" -eq 0 ]
    [ $((n1 + n2)) -eq 1000 ]
    [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]
    [ "$(cat "$swaps")" -ge 20 ]
}

# skopeo_inspect: skopeo inspect of the test image, with credHelpers -> dockhand.
skopeo_inspect() {
    jq -n --arg h "$DH_REG_HOST" '{credHelpers: {($h): "dockhand"}}' >"$DOCKER_CONFIG/config.json"
    run --separate-stderr skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
}

@test "skopeo inspect authenticates through the dir store (literal key and glob)" {
    kube_secret default reg .dockerconfigjson "$(auths "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS")"
    skopeo_inspect
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]

    rm -rf "$ROOT/default/reg"
    kube_secret default reg-glob .dockerconfigjson \
        "$(auths "127.0.*.*:$DH_REG_PORT" "$DH_REG_USER" "$DH_REG_PASS")"
    skopeo_inspect
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
}

@test "skopeo inspect fails with the registry's error when the dir store has the wrong password" {
    kube_secret default reg .dockerconfigjson "$(auths "$DH_REG_HOST" "$DH_REG_USER" "not-$DH_REG_PASS")"
    skopeo_inspect
    echo "$output $stderr"
    [ "$status" -ne 0 ]
    [[ "$output $stderr" =~ [Uu]nauthorized|authentication ]]
}
