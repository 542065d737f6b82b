#!/usr/bin/env bats
# Real clients through docker-credential-dockhand: skopeo (credHelpers) against a
# real htpasswd registry, and the docker CLI (credsStore) for login/logout with
# no daemon.  See lib/registry.bash for how skopeo 1.9 finds credentials.

# shellcheck disable=SC2154  # $stderr is set by bats `run --separate-stderr`

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

NOT_FOUND='credentials not found in native keychain'

setup_file() {
    dh_require docker-registry htpasswd skopeo jq docker
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
    # Nothing listens here: a client that wanted a daemon would fail loudly.
    export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-docker-daemon.sock"
}

# helper_store URL USER SECRET: stores through the helper found on PATH.
helper_store() {
    jq -cn --arg url "$1" --arg user "$2" --arg secret "$3" \
        '{ServerURL: $url, Username: $user, Secret: $secret}' |
        docker-credential-dockhand store
}

# write_docker_config JSON: the client config in $DOCKER_CONFIG.
write_docker_config() {
    printf '%s\n' "$1" >"$DOCKER_CONFIG/config.json"
}

cred_helpers_config() {
    write_docker_config "$(jq -n --arg h "$DH_REG_HOST" '{credHelpers: {($h): "dockhand"}}')"
}

inspect() {
    skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
}

# expect_inspect_unauthorized: skopeo inspect fails with the registry's auth error.
expect_inspect_unauthorized() {
    run inspect
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" =~ [Uu]nauthorized|authentication ]]
}

@test "skopeo inspect authenticates with the login stored in dockhand (credHelpers)" {
    helper_store "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    cred_helpers_config
    run --separate-stderr inspect
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
    [ "$(jq -r .Name <<<"$output")" = "$DH_REG_HOST/test/hello" ]
}

@test "skopeo inspect fails with an authentication error when the stored password is wrong" {
    helper_store "$DH_REG_HOST" "$DH_REG_USER" "not-$DH_REG_PASS"
    cred_helpers_config
    expect_inspect_unauthorized
}

@test "skopeo inspect fails when dockhand holds no credential for the registry" {
    helper_store "other.example.com" "$DH_REG_USER" "$DH_REG_PASS"
    cred_helpers_config
    run docker-credential-dockhand get <<<"$DH_REG_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
    expect_inspect_unauthorized
}

@test "docker logout erases the credential from dockhand (credsStore, no daemon)" {
    helper_store "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    helper_store "keep.example.com" "keeper" "kept-secret"
    write_docker_config "$(jq -n --arg h "$DH_REG_HOST" '{auths: {($h): {}}, credsStore: "dockhand"}')"

    run docker logout "$DH_REG_HOST"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Removing login credentials for $DH_REG_HOST"* ]]

    run docker-credential-dockhand get <<<"$DH_REG_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
    run docker-credential-dockhand list </dev/null
    [ "$status" -eq 0 ]
    [ "$(jq -c --arg h "$DH_REG_HOST" 'has($h)' <<<"$output")" = false ]
    [ "$(jq -r '."keep.example.com"' <<<"$output")" = keeper ]
    # The CLI also drops its own (empty) auths entry.
    [ "$(jq -c --arg h "$DH_REG_HOST" '.auths | has($h)' "$DOCKER_CONFIG/config.json")" = false ]
}

@test "docker login --password-stdin stores into dockhand (credsStore, no daemon)" {
    write_docker_config '{"credsStore": "dockhand"}'
    run bash -c 'printf "%s\n" "$DH_REG_PASS" | docker login -u "$DH_REG_USER" --password-stdin "$DH_REG_HOST"'
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Login Succeeded"* ]]

    run --separate-stderr docker-credential-dockhand get <<<"$DH_REG_HOST"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Username <<<"$output")" = "$DH_REG_USER" ]
    [ "$(jq -r .Secret <<<"$output")" = "$DH_REG_PASS" ]
    # The CLI keeps only an empty marker in config.json, never the secret.
    [ "$(jq -c --arg h "$DH_REG_HOST" '.auths[$h]' "$DOCKER_CONFIG/config.json")" = '{}' ]
    run grep -F -- "$DH_REG_PASS" "$DOCKER_CONFIG/config.json"
    [ "$status" -ne 0 ]

    # What docker stored, skopeo uses.
    cred_helpers_config
    run --separate-stderr inspect
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
}

@test "docker login with a wrong password stores nothing in dockhand" {
    write_docker_config '{"credsStore": "dockhand"}'
    run bash -c 'printf "wrong\n" | docker login -u "$DH_REG_USER" --password-stdin "$DH_REG_HOST"'
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" =~ 401|[Uu]nauthorized ]]
    run docker-credential-dockhand get <<<"$DH_REG_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
}

@test "DOCKHAND_NAMESPACE reaches the helper through skopeo's environment" {
    DOCKHAND_NAMESPACE=ci helper_store "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    cred_helpers_config

    run docker-credential-dockhand get <<<"$DH_REG_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
    expect_inspect_unauthorized

    export DOCKHAND_NAMESPACE=ci
    run --separate-stderr inspect
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
}
