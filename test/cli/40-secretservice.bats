#!/usr/bin/env bats
# The `secretservice` store (src/store_secretservice.c, docs/secretservice.md) against a
# real gnome-keyring-daemon in a private D-Bus session (lib/peers.bash), cross-checked
# with docker-credential-secretservice (Debian 0.6.4) in both directions, plus the
# failure modes: no session bus, no Secret Service, one that never answers, a locked
# keyring, a missing libsecret.  Ends with skopeo pulling through the store.

# shellcheck disable=SC2154  # $stderr is set by bats `run --separate-stderr`

bats_require_minimum_version 1.5.0

load lib/common
load lib/peers
load lib/keyring-extra
load lib/registry

NOT_FOUND='credentials not found in native keychain'
NO_BUS='no D-Bus session bus: the secretservice store needs a desktop session (DBUS_SESSION_BUS_ADDRESS is not set)'
R=https://reg.example.com:5000

setup_file() {
    dh_require jq dbus-run-session dbus-send dbus-test-tool gnome-keyring-daemon secret-tool \
        docker-credential-secretservice strace unshare python3 docker-registry htpasswd skopeo
    dh_suite_registry_start
}

teardown_file() {
    dh_suite_registry_stop
}

setup() {
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    # No display: a prompt the keyring might show (unlock) fails at once instead of waiting.
    unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
    export DH_HELPER DOCKHAND_STORE=secretservice
    dh_keyring_start
}

teardown() {
    dh_dead_bus_stop || true
    dh_keyring_stop
}

# --- helpers ----------------------------------------------------------------------------

# payload URL USER SECRET: the `store` JSON.
payload() {
    jq -cn --arg u "$1" --arg n "$2" --arg s "$3" '{ServerURL: $u, Username: $n, Secret: $s}'
}

# ours_store / docker_store URL USER SECRET [NAMESPACE]
ours_store() {
    payload "$1" "$2" "$3" | DOCKHAND_NAMESPACE=${4:-} "$DH_HELPER" store
}
docker_store() {
    payload "$1" "$2" "$3" | docker-credential-secretservice store
}

# ours VERB [NAMESPACE] <<< INPUT: runs our helper (sets status/output through `run`).
ours() {
    DOCKHAND_NAMESPACE=${2:-} "$DH_HELPER" "$1"
}

# expect_cred URL USER SECRET: the last `run` printed this get answer, on one line
# (the exact bytes, Go's escaping included, are checked by 10-protocol.bats).
expect_cred() {
    [ "$status" -eq 0 ] || { echo "status $status: $output" >&2; return 1; }
    [ "${#lines[@]}" -eq 1 ] || { echo "got: $output" >&2; return 1; }
    [ "$(jq -c . <<<"$output")" = "$(payload "$1" "$2" "$3")" ] ||
        { echo "got: $output" >&2; return 1; }
}

expect_not_found() {
    [ "$status" -eq 1 ] || { echo "status $status: $output" >&2; return 1; }
    [ "$output" = "$NOT_FOUND" ] || { echo "got: $output" >&2; return 1; }
}

# items SERVER: every keyring item whose `server` attribute is SERVER, as secret-tool
# prints them ("[/path]" then "key = value" lines).
items() {
    secret-tool search --all server "$1" 2>&1
}

# item_count SERVER
item_count() {
    items "$1" | grep -c '^attribute.server = ' || true
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N).
elapsed_ms() {
    echo $((($(date +%s%N) - $1) / 1000000))
}

# timed_get URL: (for the bare-bus recipes) runs our `get`, then prints "rc=N ms=M".
timed_get() {
    local t0 rc=0
    t0=$(date +%s%N)
    printf '%s' "$1" | "$DH_HELPER" get || rc=$?
    echo "rc=$rc ms=$((($(date +%s%N) - t0) / 1000000))"
}
export -f timed_get

# expect_timed_error REGEX MIN_MS MAX_MS: the last `run` of timed_get printed one error
# line matching REGEX, exited 1, and took between MIN_MS and MAX_MS.
expect_timed_error() {
    local last ms
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ ${lines[0]} =~ $1 ]]
    last=${lines[1]}
    [[ $last == rc=1\ ms=* ]]
    ms=${last#*ms=}
    [ "$ms" -ge "$2" ] && [ "$ms" -le "$3" ]
}

# --- our helper alone ---------------------------------------------------------------------

@test "secretservice: store, get, list, erase round trip through our helper" {
    ours_store "$R" alice 's3cret<&>'
    run --separate-stderr ours get <<<"$R"
    expect_cred "$R" alice 's3cret<&>'
    [ -z "$stderr" ] # GLib says nothing on stderr
    run --separate-stderr ours list </dev/null
    [ "$status" -eq 0 ]
    [ "$output" = "{\"$R\":\"alice\"}" ]
    run ours erase <<<"$R"
    [ "$status" -eq 0 ] && [ -z "$output" ]
    run ours get <<<"$R"
    expect_not_found
    run ours list </dev/null
    [ "$output" = '{}' ]
    # Erasing what is not there succeeds.
    run ours erase <<<"$R"
    [ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "secretservice: selected with 'store: secretservice' in the config file" {
    unset DOCKHAND_STORE
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    printf 'store: secretservice\n' >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    ours_store "$R" alice pw
    [ "$(item_count "$R")" -eq 1 ]
    run ours get <<<"$R"
    expect_cred "$R" alice pw
}

@test "secretservice: the item looks exactly like docker-credential-secretservice's" {
    ours_store "$R" alice pw
    run items "$R"
    echo "$output"
    [ "$(grep -c '^attribute\.' <<<"$output")" -eq 4 ]
    grep -qx 'label = Registry credentials for https://reg.example.com:5000' <<<"$output"
    grep -qx 'schema = io.docker.Credentials' <<<"$output"
    grep -qx 'attribute.label = Docker Credentials' <<<"$output"
    grep -qx "attribute.server = $R" <<<"$output"
    grep -qx 'attribute.username = alice' <<<"$output"
    grep -qx 'attribute.docker_cli = 1' <<<"$output"
}

@test "secretservice: an empty secret reads as not found but is listed" {
    ours_store "$R" alice ''
    run ours get <<<"$R"
    expect_not_found
    run ours list </dev/null
    [ "$output" = "{\"$R\":\"alice\"}" ]
}

# --- interoperability with docker-credential-secretservice ----------------------------

@test "secretservice: what docker-credential-secretservice stores, we get and list" {
    docker_store "$R" dockeruser 'docker-pw'
    docker_store other.example.com bob 'bob-pw'
    run ours get <<<"$R"
    expect_cred "$R" dockeruser docker-pw
    # Docker's matching rules, not docker's exact string compare.
    run ours get <<<reg.example.com:5000
    expect_cred reg.example.com:5000 dockeruser docker-pw
    run ours get <<<https://other.example.com/
    expect_cred https://other.example.com/ bob bob-pw
    # list is keyed by the `server` attribute (0.6.4 keys by its display label).
    run ours list </dev/null
    [ "$status" -eq 0 ]
    [ "$output" = "{\"$R\":\"dockeruser\",\"other.example.com\":\"bob\"}" ]
}

@test "secretservice: what we store, docker-credential-secretservice gets; what we erase, it no longer gets" {
    ours_store "$R" alice 'pw-<1>'
    ours_store other.example.com bob bob-pw
    run docker-credential-secretservice get <<<"$R"
    expect_cred "$R" alice 'pw-<1>'
    run docker-credential-secretservice get <<<other.example.com
    expect_cred other.example.com bob bob-pw
    # docker's v0.9 display label, which 0.6.4 lists as the key.
    run docker-credential-secretservice list </dev/null
    [ "$status" -eq 0 ]
    [ "$(jq -r --arg k "Registry credentials for $R" '.[$k]' <<<"$output")" = alice ]

    run ours erase <<<reg.example.com:5000 # another spelling of the same registry
    [ "$status" -eq 0 ]
    run docker-credential-secretservice get <<<"$R"
    expect_not_found
    [ "$(item_count "$R")" -eq 0 ]
    run docker-credential-secretservice get <<<other.example.com
    expect_cred other.example.com bob bob-pw
}

@test "secretservice: erase removes every item of the registry docker's helper left behind" {
    # docker's helper keeps one item per username for the same server.
    docker_store "$R" first pw1
    docker_store "$R" second pw2
    [ "$(item_count "$R")" -eq 2 ]
    run ours erase <<<"$R"
    [ "$status" -eq 0 ]
    [ "$(item_count "$R")" -eq 0 ]
    run docker-credential-secretservice get <<<"$R"
    expect_not_found
}

# --- namespaces -------------------------------------------------------------------------

@test "secretservice: namespaces are separate, and docker's helper sees only the default one" {
    ours_store "$R" default-user default-pw
    ours_store "$R" ci-user ci-pw ci
    ours_store ci-only.example.com ci-only ci-only-pw ci

    run ours get <<<"$R"
    expect_cred "$R" default-user default-pw
    run ours get ci <<<"$R"
    expect_cred "$R" ci-user ci-pw
    run ours get <<<ci-only.example.com
    expect_not_found
    run ours list </dev/null
    [ "$output" = "{\"$R\":\"default-user\"}" ]
    run ours list ci </dev/null
    [ "$output" = "{\"ci-only.example.com\":\"ci-only\",\"$R\":\"ci-user\"}" ]

    # The ci items carry dockhand_namespace and none of docker's markers.
    run items ci-only.example.com
    echo "$output"
    grep -qx 'attribute.dockhand_namespace = ci' <<<"$output"
    [[ $output != *attribute.docker_cli* ]]
    [[ $output != *attribute.label* ]]

    run docker-credential-secretservice get <<<"$R"
    expect_cred "$R" default-user default-pw
    run docker-credential-secretservice get <<<ci-only.example.com
    expect_not_found
    run docker-credential-secretservice list </dev/null
    [ "$(jq -c 'keys' <<<"$output")" = "[\"Registry credentials for $R\"]" ]

    # Erasing in ci leaves the default namespace alone, and the other way round.
    run ours erase ci <<<"$R"
    [ "$status" -eq 0 ]
    run ours get ci <<<"$R"
    expect_not_found
    run ours get <<<"$R"
    expect_cred "$R" default-user default-pw
    run ours erase <<<ci-only.example.com
    run ours get ci <<<ci-only.example.com
    expect_cred ci-only.example.com ci-only ci-only-pw
}

# --- replace and matching -----------------------------------------------------------------

@test "secretservice: storing a registry again replaces it (any spelling, any username)" {
    ours_store "$R" alice pw1
    ours_store "$R" alice pw2
    [ "$(item_count "$R")" -eq 1 ]
    run ours get <<<"$R"
    expect_cred "$R" alice pw2

    ours_store reg.example.com:5000 bob pw3
    [ "$(item_count "$R")" -eq 0 ]
    [ "$(item_count reg.example.com:5000)" -eq 1 ]
    run ours get <<<"$R"
    expect_cred "$R" bob pw3
    run ours list </dev/null
    [ "$output" = '{"reg.example.com:5000":"bob"}' ]

    # Duplicates docker's helper made are replaced too.
    docker_store "$R" x1 p1
    docker_store "$R" x2 p2
    ours_store "$R" carol pw4
    [ "$(item_count "$R")" -eq 1 ]
    [ "$(item_count reg.example.com:5000)" -eq 0 ]
    run docker-credential-secretservice get <<<"$R"
    expect_cred "$R" carol pw4
}

@test "secretservice: matching follows docker's rules (host:port, scheme, Hub aliases, paths)" {
    ours_store reg.example.com:5000 alice pw
    run ours get <<<https://reg.example.com:5000/v2/
    expect_cred https://reg.example.com:5000/v2/ alice pw
    run ours get <<<reg.example.com
    expect_not_found
    run ours get <<<reg.example.com:5001
    expect_not_found
    run ours get <<<http://reg.example.com:5000
    expect_not_found

    # docker login stores the Hub as https://index.docker.io/v1/.
    docker_store https://index.docker.io/v1/ hubuser hubpw
    for alias in docker.io index.docker.io registry-1.docker.io https://index.docker.io/v1/; do
        run ours get <<<"$alias"
        expect_cred "$alias" hubuser hubpw
    done

    # Two spellings of one registry (docker's helper keeps both): the exact spelling of
    # the query wins, else the newest item.
    docker_store https://two.example.com:5000 older-user older-pw
    sleep 1.1 # the Secret Service keeps times in seconds
    docker_store two.example.com:5000 newer-user newer-pw
    run ours get <<<https://two.example.com:5000
    expect_cred https://two.example.com:5000 older-user older-pw
    run ours get <<<two.example.com:5000
    expect_cred two.example.com:5000 newer-user newer-pw
    run ours get <<<https://two.example.com:5000/v2/
    expect_cred https://two.example.com:5000/v2/ newer-user newer-pw

    # A stored path is a prefix; the most specific entry wins.
    ours_store https://paths.example.com/team alice team-pw
    ours_store https://paths.example.com alice root-pw
    run ours get <<<paths.example.com/team/app
    expect_cred paths.example.com/team/app alice team-pw
    run ours get <<<paths.example.com/other
    expect_cred paths.example.com/other alice root-pw
    run ours erase <<<paths.example.com/team/app
    run ours get <<<paths.example.com/team/app
    expect_cred paths.example.com/team/app alice root-pw
}

# --- failures -----------------------------------------------------------------------------

@test "secretservice: no D-Bus session bus gives one clear line within 1 second" {
    local t0 ms
    t0=$(date +%s%N)
    run env -u DBUS_SESSION_BUS_ADDRESS "$DH_HELPER" get <<<"$R"
    ms=$(elapsed_ms "$t0")
    echo "$ms ms: $output"
    [ "$status" -eq 1 ]
    [ "$output" = "$NO_BUS" ]
    [ "$ms" -lt 1000 ]

    t0=$(date +%s%N)
    run env DBUS_SESSION_BUS_ADDRESS= "$DH_HELPER" store < <(payload "$R" alice 'never-shown')
    ms=$(elapsed_ms "$t0")
    [ "$status" -eq 1 ]
    [ "$output" = "$NO_BUS" ]
    [ "$ms" -lt 1000 ]
}

@test "secretservice: a bus without a Secret Service gives an error naming it, at once" {
    run --separate-stderr dh_bare_bus_run timed_get "$R"
    expect_timed_error "^cannot look up '$R' in the keyring: no Secret Service on the D-Bus session bus .*org\.freedesktop\.secrets.*not provided by any \.service files" 0 2000
}

@test "secretservice: a Secret Service that never answers fails after 5 seconds" {
    run --separate-stderr dh_black_hole_run timed_get "$R"
    expect_timed_error "^cannot look up '$R' in the keyring: .*org\.freedesktop\.secrets.* within 5 s$" 4500 8000
}

@test "secretservice: a session bus that never answers fails after 5 seconds" {
    dh_dead_bus_start "$BATS_TEST_TMPDIR"
    # shellcheck disable=SC2016 # expanded by the inner bash
    run --separate-stderr env DBUS_SESSION_BUS_ADDRESS="$(dh_dead_bus_address "$BATS_TEST_TMPDIR")" \
        bash -c 'timed_get "$1"' _ "$R"
    expect_timed_error "^cannot look up '$R' in the keyring: no answer from the D-Bus session bus or the Secret Service .* within 5 s$" 4500 8000
}

@test "secretservice: a session bus address that cannot be reached is reported" {
    run env DBUS_SESSION_BUS_ADDRESS="unix:path=$BATS_TEST_TMPDIR/nothing-here" "$DH_HELPER" get <<<"$R"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == "cannot look up '$R' in the keyring: cannot connect to the D-Bus session bus: "* ]]
}

@test "secretservice: a locked keyring that stays locked is reported, without the secret" {
    ours_store "$R" alice 'locked-away-pw'
    dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
        org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null
    # The unlock prompt cannot be shown here (no display): it is dismissed.
    run ours get <<<"$R"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "cannot look up '$R' in the keyring: the keyring is locked" ]
    run ours store < <(payload "$R" alice 'new-locked-pw')
    [ "$status" -eq 1 ]
    [ "$output" = "cannot store '$R' in the keyring: the keyring is locked" ]
    [[ $output != *-pw* ]]
    run ours erase <<<"$R"
    [ "$status" -eq 1 ]
    [ "$output" = "cannot erase '$R' from the keyring: the keyring is locked" ]
    run --separate-stderr ours list </dev/null
    [ "$status" -eq 0 ]
    [ "$output" = '{}' ]
    [[ $stderr == *"the keyring is locked: 1 item(s) are not listed"* ]]
}

@test "secretservice: a missing libsecret gives one clear line" {
    local lib ns=(unshare -m)
    lib=$(ldconfig -p | awk '$1 == "libsecret-1.so.0" && /x86-64|64bit/ { print $NF; exit }')
    [ -n "$lib" ]
    lib=$(readlink -f "$lib")
    [ "$(id -u)" -eq 0 ] || ns=(unshare -r -m)
    # In a private mount namespace, the library is an empty file.
    # shellcheck disable=SC2016 # expanded by sh
    run "${ns[@]}" sh -c 'mount --bind /dev/null "$1" && printf %s "$2" | "$3" get' _ \
        "$lib" "$R" "$DH_HELPER"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == "cannot load libsecret (libsecret-1.so.0): "*"; install libsecret-1-0" ]]
    [ "${#lines[@]}" -eq 1 ]
}

@test "secretservice: the file store never loads libsecret or GLib; this store does" {
    # LeakSanitizer cannot run under ptrace (ASan builds).
    export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    DOCKHAND_STORE="file" ours_store "$R" alice pw
    run strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/file.trace" \
        env DOCKHAND_STORE=file "$DH_HELPER" get <<<"$R"
    expect_cred "$R" alice pw
    grep -q 'docker-credential-dockhand\|libc\.so' "$BATS_TEST_TMPDIR/file.trace"
    run grep -E 'libsecret|libglib|libgobject|libgio' "$BATS_TEST_TMPDIR/file.trace"
    [ "$status" -eq 1 ]

    # The check sees a dlopen: the secretservice store opens both.
    ours_store "$R" alice pw
    run strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/ss.trace" "$DH_HELPER" get <<<"$R"
    expect_cred "$R" alice pw
    grep -q 'libsecret-1\.so\.0' "$BATS_TEST_TMPDIR/ss.trace"
    grep -q 'libglib-2\.0\.so\.0' "$BATS_TEST_TMPDIR/ss.trace"
}

# --- a real client ----------------------------------------------------------------------

@test "secretservice: skopeo inspect authenticates through the keyring (credHelpers)" {
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    unset DOCKER_AUTH_CONFIG REGISTRY_AUTH_FILE
    jq -n --arg h "$DH_REG_HOST" '{credHelpers: {($h): "dockhand"}}' >"$DOCKER_CONFIG/config.json"

    # Stored by docker's helper, read by skopeo through dockhand.
    docker_store "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS"
    run --separate-stderr skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]

    # A wrong password stored by dockhand replaces it: now skopeo is refused.
    ours_store "https://$DH_REG_HOST" "$DH_REG_USER" "not-$DH_REG_PASS"
    run skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
    [ "$status" -ne 0 ]
    [[ "$output" =~ [Uu]nauthorized|authentication ]]

    # The right one in namespace ci, picked by skopeo's environment.
    ours_store "$DH_REG_HOST" "$DH_REG_USER" "$DH_REG_PASS" ci
    export DOCKHAND_NAMESPACE=ci
    run --separate-stderr skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
    [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
    [ "$(jq -r .Digest <<<"$output")" = "$DH_REG_IMAGE_DIGEST" ]
}
