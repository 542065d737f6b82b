#!/usr/bin/env bats
# Routing end to end: skopeo pulls from the local docker-registry through
# docker-credential-dockhand, whose config routes the registry to each store in turn:
# a file-store namespace, dir:, secretservice (a real gnome-keyring) and kube: (the
# strict fake API server).  The default file store holds a WRONG password for the
# registry, so a pull succeeds only when routing reached the right store.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr
# shellcheck disable=SC2209  # VAR=value function: the variable is set for that call only

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry
load lib/peers
load lib/kubefake

setup_file() {
    dh_require jq skopeo docker-registry htpasswd python3 openssl dbus-run-session \
        gnome-keyring-daemon
    dh_suite_registry_start
    export PKI="$BATS_FILE_TMPDIR/pki"
    export TOKEN="tok-$RANDOM$RANDOM-routing"
    export BASIC_PW="pw-$RANDOM-routing"
    make_pki "$PKI"
    export FAKE_DIR="$BATS_FILE_TMPDIR/fake"
    start_fake "$FAKE_DIR" 127.0.0.1
    export FAKE_PID
    FAKE_PORT=$(cat "$FAKE_DIR/port")
    export FAKE_PORT
}

teardown_file() {
    stop_fake "${FAKE_PID:-}"
    dh_suite_registry_stop
}

setup() {
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    printf '%s\n' "$(jq -n --arg h "$DH_REG_HOST" '{credHelpers: {($h): "dockhand"}}')" \
        >"$DOCKER_CONFIG/config.json"
    mkdir -p "$HOME/.kube"
    cat >"$HOME/.kube/config" <<EOF2
apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster: {server: "https://127.0.0.1:$FAKE_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: tester
  user: {token: "$TOKEN"}
contexts:
- name: fake
  context: {cluster: fake, user: tester}
EOF2
    NS="route-$BATS_TEST_NUMBER-$RANDOM"
    fake_ctl POST /_fake/scenario "{\"namespaces\":[\"$NS\"]}" >/dev/null
    # The default store has a wrong password: only a routed store can make the pull work.
    store_into file default "$DH_REG_HOST" "$DH_REG_USER" "wrong-$RANDOM"
}

teardown() {
    dh_keyring_stop || true
}

# store_into STORE NAMESPACE URL USER SECRET: stores directly into one store.
store_into() {
    jq -cn --arg u "$3" --arg n "$4" --arg s "$5" '{ServerURL: $u, Username: $n, Secret: $s}' |
        DOCKHAND_STORE=$1 DOCKHAND_NAMESPACE=$2 "$DH_HELPER" store
}

# route STORE [NAMESPACE] [PATTERN]: a config whose only route sends the registry there.
route() {
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    {
        echo "store: file"
        echo "routes:"
        echo "  - registry: \"${3:-$DH_REG_HOST}\""
        echo "    store: $1"
        [ -z "${2:-}" ] || echo "    namespace: $2"
    } >"$XDG_CONFIG_HOME/dockhand/config.yaml"
}

inspect_ok() {
    run skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
}

inspect_unauthorized() {
    run skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" =~ [Uu]nauthorized|authentication ]]
}

@test "without a route the default store answers (wrong password: the pull fails)" {
    store_into file team "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    inspect_unauthorized
}

@test "a route to another namespace of the file store" {
    store_into file team "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    route file team
    inspect_ok
    # DOCKHAND_NAMESPACE overrides the route's namespace for one call.
    DOCKHAND_NAMESPACE=default inspect_unauthorized
}

@test "a route to dir: with a glob pattern (mounted pull secret)" {
    local root="$BATS_TEST_TMPDIR/secrets" auth
    auth=$(printf '%s:%s' "$DH_REG_USER" "$DH_REG_PASS" | base64 -w0)
    mkdir -p "$root/default/regcred"
    jq -cn --arg h "$DH_REG_HOST" --arg a "$auth" '{auths: {($h): {auth: $a}}}' \
        >"$root/default/regcred/.dockerconfigjson"
    route "dir:$root" "" "127.0.0.*:$DH_REG_PORT"
    inspect_ok
    # '*' never crosses a dot: a pattern with too few labels does not route here.
    route "dir:$root" "" "127.0.*:$DH_REG_PORT"
    inspect_unauthorized
}

@test "a route to the desktop keyring (secretservice)" {
    dh_keyring_start
    store_into secretservice default "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    route secretservice
    inspect_ok
}

@test "a route to Kubernetes Secrets (kube:) through KUBECONFIG" {
    store_into "kube:$NS" default "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    route "kube:$NS"
    inspect_ok
    # DOCKHAND_STORE turns routing off for one call.
    DOCKHAND_STORE=file inspect_unauthorized
}

@test "list is the union of what get can reach, and skips a store it cannot reach" {
    local root="$BATS_TEST_TMPDIR/secrets"
    mkdir -p "$root/default/a"
    printf '{"auths":{"dir.example":{"username":"d","password":"p"}}}' \
        >"$root/default/a/.dockerconfigjson"
    store_into file default other.example o p
    store_into "kube:$NS" default kube.example k p
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    cat >"$XDG_CONFIG_HOME/dockhand/config.yaml" <<EOF2
store: file
routes:
  - registry: dir.example
    store: "dir:$root"
  - registry: kube.example
    store: "kube:$NS"
  - registry: keyring.example
    store: secretservice
EOF2
    run --separate-stderr "$DH_HELPER" list
    [ "$status" -eq 0 ]
    [ "$(jq -r '."dir.example"' <<<"$output")" = d ]
    [ "$(jq -r '."kube.example"' <<<"$output")" = k ]
    [ "$(jq -r '."other.example"' <<<"$output")" = o ]
    [ "$(jq -r --arg h "$DH_REG_HOST" '.[$h]' <<<"$output")" = "$DH_REG_USER" ]
    [ "$(jq length <<<"$output")" -eq 4 ]
    # No D-Bus session here: the keyring route is skipped with a warning.
    [[ "$stderr" == *"cannot list store 'secretservice'"*"skipping it"* ]]
}
