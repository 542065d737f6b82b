#!/usr/bin/env bats
# config.json under concurrent writers and writers killed with SIGKILL: no update is
# ever lost, no reader ever sees invalid JSON, a killed writer leaves the old or the
# new file, and its temporary file is cleaned up by the next writer.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

setup_file() {
    dh_require jq python3 docker-registry htpasswd
    dh_suite_registry_start
}

teardown_file() {
    dh_suite_registry_stop
}

setup() {
    dh_isolate
    CFG="$DOCKER_CONFIG/config.json"
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    ln -s "$DH_HELPER" "$BATS_TEST_TMPDIR/bin/docker-credential-dockhand"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

# ecr_auth EXPIRATION: the base64 "auth" of a real-shaped ECR token expiring then.
ecr_auth() {
    local payload
    payload=$(printf '{"payload":"%s","datakey":"%s","version":"2","type":"DATA_KEY","expiration":%s}' \
        "$(head -c 600 /dev/urandom | base64 -w0)" "$(head -c 200 /dev/urandom | base64 -w0)" "$1" |
        base64 -w0)
    printf 'AWS:%s' "$payload" | base64 -w0
}

@test "100 concurrent login, logout, prune, configure-docker and helper store writers lose no update" {
    local i now expired pids=()
    now=$(date +%s)
    expired=$(ecr_auth $((now - 3600)))
    # 25 hosts to log out of, 25 expired ECR tokens to prune, fields to keep.
    {
        printf '{\n\t"auths": {\n'
        for i in $(seq 1 25); do
            printf '\t\t"l%d.example": {\n\t\t\t"auth": "dTpw"\n\t\t},\n' "$i"
            printf '\t\t"1111111111%02d.dkr.ecr.us-east-1.amazonaws.com": {\n\t\t\t"auth": "%s"\n\t\t},\n' "$i" "$expired"
        done
        printf '\t\t"keep.example": {\n\t\t\t"auth": "dTpw",\n\t\t\t"x-field": [1, 2]\n\t\t}\n\t},\n'
        printf '\t"x-top": "kept"\n}'
    } >"$CFG"
    jq -e . "$CFG" >/dev/null

    for i in $(seq 1 25); do
        "$DH_CLI" configure-docker --registries "c$i.example" >/dev/null 2>&1 &
        pids+=($!)
        "$DH_CLI" logout "l$i.example" >/dev/null 2>&1 &
        pids+=($!)
        "$DH_CLI" prune >/dev/null 2>&1 &
        pids+=($!)
        if [ $((i % 2)) -eq 0 ]; then
            printf '%s' "$DH_REG_PASS" |
                "$DH_CLI" login "$DH_REG_HOST" -u "$DH_REG_USER" --password-stdin --insecure >/dev/null 2>&1 &
        else
            printf '{"ServerURL":"s%d.example","Username":"u%d","Secret":"p%d"}' "$i" "$i" "$i" |
                "$DH_HELPER" store &
        fi
        pids+=($!)
    done
    local failed=0
    for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
    [ "$failed" -eq 0 ]

    # Every writer's update is there.
    jq -e . "$CFG" >/dev/null
    for i in $(seq 1 25); do
        [ "$(jq -r --arg k "c$i.example" '.credHelpers[$k]' "$CFG")" = dockhand ]
        [ "$(jq -r --arg k "l$i.example" '.auths | has($k)' "$CFG")" = false ]
    done
    [ "$(jq '[.auths | keys[] | select(test("dkr.ecr"))] | length' "$CFG")" -eq 0 ]
    [ "$(jq -r --arg k "$DH_REG_HOST" '.credHelpers[$k]' "$CFG")" = dockhand ]
    [ "$(jq -c '.auths["keep.example"]' "$CFG")" = '{"auth":"dTpw","x-field":[1,2]}' ]
    [ "$(jq -r '."x-top"' "$CFG")" = kept ]
    run "$DH_HELPER" list
    [ "$status" -eq 0 ]
    for i in $(seq 1 2 25); do
        [ "$(jq -r --arg k "s$i.example" '.[$k]' <<<"$output")" = "u$i" ]
    done
    [ "$(jq -r --arg k "$DH_REG_HOST" '.[$k]' <<<"$output")" = "$DH_REG_USER" ]
    # No temporary file left behind.
    [ -z "$(find "$DOCKER_CONFIG" -name '.config.json.tmp.*')" ]
}

@test "a writer killed with SIGKILL at random points leaves the old or the new file" {
    local i pid n_before n_after pad
    # A large file (about 4 MiB) so that a kill often lands mid-write.
    pad=$(head -c 3000 /dev/zero | tr '\0' 'x')
    python3 - "$CFG" "$pad" <<'EOF'
import json, sys
auths = {"h%d.example" % i: {"auth": "dTpw", "x": sys.argv[2]} for i in range(1300)}
with open(sys.argv[1], "w") as f:
    json.dump({"auths": auths, "credHelpers": {}}, f, indent="\t")
EOF
    n_before=0
    for i in $(seq 1 40); do
        "$DH_CLI" configure-docker --registries "k$i.example" >/dev/null 2>&1 &
        pid=$!
        sleep "0.$((RANDOM % 15))$((RANDOM % 10))"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        # The file is always valid and complete: the old one or the new one.
        jq -e '.auths | length == 1300' "$CFG" >/dev/null
        n_after=$(jq '.credHelpers | length' "$CFG")
        [ "$n_after" -eq "$n_before" ] || [ "$n_after" -eq $((n_before + 1)) ]
        if [ "$n_after" -gt "$n_before" ]; then
            [ "$(jq -r --arg k "k$i.example" '.credHelpers[$k]' "$CFG")" = dockhand ]
        fi
        n_before=$n_after
    done
    # The next writer removes what killed writers left behind, under the lock.
    "$DH_CLI" configure-docker --registries final.example >/dev/null
    [ -z "$(find "$DOCKER_CONFIG" -name '.config.json.tmp.*')" ]
    [ "$(jq -r '.credHelpers["final.example"]' "$CFG")" = dockhand ]
}
