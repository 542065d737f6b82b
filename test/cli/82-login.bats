#!/usr/bin/env bats
# dockhand login / logout against real docker-registry instances: htpasswd (Basic)
# over plain http, token auth over TLS behind test/fake/registry-token.py, and
# the clients that use the result (docker-credential-dockhand, skopeo through
# credHelpers, the docker CLI's logout).  No docker daemon anywhere.

# shellcheck disable=SC2154  # $stderr is set by bats `run --separate-stderr`
# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

NOT_FOUND='credentials not found in native keychain'

setup_file() {
    dh_require docker-registry htpasswd skopeo jq docker openssl python3 curl
    # 1. htpasswd, plain http (the suite's image is pushed here)
    dh_registry_start "$BATS_FILE_TMPDIR/basic" alice "basic-pw-$RANDOM$RANDOM"
    dh_registry_push_test_image test/hello:latest
    export BASIC_HOST=$DH_REG_HOST BASIC_USER=$DH_REG_USER BASIC_PASS=$DH_REG_PASS \
        BASIC_IMAGE=$DH_REG_IMAGE BASIC_DIR=$DH_REG_DIR
    # 2. token auth, TLS (registry and token server) with a test CA
    dh_registry_start --tls --auth token "$BATS_FILE_TMPDIR/tok" bob "token-pw-$RANDOM$RANDOM"
    dh_registry_push_test_image test/tok:latest
    export TOK_HOST=$DH_REG_HOST TOK_USER=$DH_REG_USER TOK_PASS=$DH_REG_PASS TOK_CA=$DH_REG_CA \
        TOK_URL=$DH_TOKEN_URL TOK_DIR=$DH_REG_DIR
}

teardown_file() {
    local d
    for d in basic tok tokhttp none fields httprealm mtls; do
        dh_registry_stop "$BATS_FILE_TMPDIR/$d"
        if dh_registry_running "$BATS_FILE_TMPDIR/$d"; then
            echo "registry $d still runs after teardown" >&2
            return 1
        fi
    done
}

setup() {
    dh_isolate
    [ -x "$DH_CLI" ] || { echo "dockhand not built: $DH_CLI" >&2; return 1; }
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    unset DOCKER_AUTH_CONFIG REGISTRY_AUTH_FILE SSL_CERT_FILE SSL_CERT_DIR ROOTLESSKIT_STATE_DIR
    export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-docker-daemon.sock"
}

# login PASSWORD ARGS...: dockhand login with PASSWORD on stdin.
login() {
    local pw=$1
    shift
    printf '%s' "$pw" | "$DH_CLI" login "$@"
}

# helper_get HOST: what docker-credential-dockhand answers for HOST.
helper_get() {
    printf '%s' "$1" | docker-credential-dockhand get
}

# token_requests: the token server's request log.
token_requests() {
    curl -sf --cacert "$TOK_CA" "$TOK_URL/_fake/requests"
}

@test "a password on the command line is refused and nothing is stored" {
    local a
    for a in -p -psecret-on-argv --password --password=secret-on-argv; do
        run --separate-stderr "$DH_CLI" login "$BASIC_HOST" -u alice "$a" secret-on-argv --insecure
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"refusing a password on the command line"*"--password-stdin"* ]]
        [[ "$stderr$output" != *secret-on-argv* ]]
    done
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
    [ ! -e "$DOCKER_CONFIG/config.json" ]
}

@test "login needs -u and --password-stdin, and a non-empty password" {
    run --separate-stderr login x "$BASIC_HOST" --password-stdin --insecure
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"a user name is needed (-u USER)"* ]]
    run --separate-stderr login x "$BASIC_HOST" -u alice --insecure
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"--password-stdin"* ]]
    run --separate-stderr login $'\n' "$BASIC_HOST" -u alice --password-stdin --insecure
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"the password on stdin is empty"* ]]
    run --separate-stderr "$DH_CLI" login "$BASIC_HOST" "$TOK_HOST" -u alice --password-stdin
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"too many arguments"* ]]
}

@test "htpasswd registry: a right password is checked, stored and configured" {
    run --separate-stderr login "$BASIC_PASS"$'\r\n' "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    echo "$output / $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    [[ "$stderr" == *"Configured credHelpers[\"$BASIC_HOST\"] = \"dockhand\""* ]]
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Username <<<"$output")" = "$BASIC_USER" ]
    [ "$(jq -r .Secret <<<"$output")" = "$BASIC_PASS" ] # "\r\n" trimmed, as docker does
    [ "$(jq -r .ServerURL <<<"$output")" = "$BASIC_HOST" ]
    [ "$(jq -c . "$DOCKER_CONFIG/config.json")" = "{\"credHelpers\":{\"$BASIC_HOST\":\"dockhand\"}}" ]
    [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ]
    # skopeo finds it through credHelpers
    run skopeo inspect --tls-verify=false "docker://$BASIC_IMAGE"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Name <<<"$output")" = "${BASIC_IMAGE%:*}" ]
}

@test "htpasswd registry: a wrong password stores nothing and leaves config.json alone" {
    printf '{\n\t"auths": {\n\t\t"%s": {}\n\t},\n\t"x-unknown": [1, 2]\n}' "$BASIC_HOST" >"$DOCKER_CONFIG/config.json"
    cp "$DOCKER_CONFIG/config.json" "$BATS_TEST_TMPDIR/before.json"
    run --separate-stderr login wrong-password "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    echo "$output / $stderr"
    [ "$status" -eq 1 ]
    [ "$stderr" = "dockhand: error: login to '$BASIC_HOST' failed: unauthorized: authentication required" ]
    [ -z "$output" ]
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 1 ]
    cmp "$DOCKER_CONFIG/config.json" "$BATS_TEST_TMPDIR/before.json"
}

@test "a plain http registry needs --insecure" {
    run --separate-stderr login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"login to '$BASIC_HOST' failed: cannot reach registry"*"TLS error"*"needs --insecure"* ]]
    run login "$BASIC_PASS" "http://$BASIC_HOST" -u "$BASIC_USER" --password-stdin
    [ "$status" -eq 1 ]
    [[ "$output" == *"refusing plain http to '$BASIC_HOST' without --insecure"* ]]
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 1 ]
    # an explicit http:// with --insecure goes straight to http
    run login "$BASIC_PASS" "http://$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure --no-configure
    [ "$status" -eq 0 ]
    [ ! -e "$DOCKER_CONFIG/config.json" ] # --no-configure
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 0 ]
}

@test "token auth over TLS: the token server sees account, service and Basic credentials" {
    export SSL_CERT_FILE=$TOK_CA
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    echo "$output / $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    run helper_get "$TOK_HOST"
    [ "$(jq -r .Secret <<<"$output")" = "$TOK_PASS" ]
    # the last request to the token server is dockhand's, with docker login's parameters
    run token_requests
    [ "$status" -eq 0 ]
    jq -e --arg u "$TOK_USER" '.[-1] | .status == 200 and .authenticated and .user == $u
        and (.query | map(.[0]) == ["account", "client_id", "offline_token", "service"])
        and (.query | map({key: .[0], value: .[1]}) | from_entries | .account == $u and .client_id == "dockhand"
             and .offline_token == "true" and .service == "dockhand-test-registry")' <<<"$output"
    # and the registry accepted the token it issued: skopeo pulls through dockhand
    run skopeo inspect "docker://$TOK_HOST/test/tok:latest"
    echo "$output"
    [ "$status" -eq 0 ]
    jq -e --arg u "$TOK_USER" '[.[] | select(.query | map({key: .[0], value: .[1]}) | from_entries | .scope == "repository:test/tok:pull")] | length >= 1' <<<"$(token_requests)"
}

@test "token auth: a wrong password is refused by the token endpoint, nothing stored" {
    export SSL_CERT_FILE=$TOK_CA
    run --separate-stderr login not-the-password "$TOK_HOST" -u "$TOK_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 1 ]
    [ "$stderr" = "dockhand: error: login to '$TOK_HOST' failed: unauthorized: incorrect username or password" ]
    run token_requests
    jq -e '.[-1] | .status == 401 and (.authenticated | not)' <<<"$output"
    run helper_get "$TOK_HOST"
    [ "$status" -eq 1 ]
    [ ! -e "$DOCKER_CONFIG/config.json" ]
    # an unknown user too
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u mallory --password-stdin
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"unauthorized: incorrect username or password" ]]
}

@test "TLS: without the test CA the certificate is refused; --insecure skips verification" {
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"TLS error with '$TOK_HOST'"*"certificate"* ]]
    run helper_get "$TOK_HOST"
    [ "$status" -eq 1 ]
    # a CA that signed nothing here does not help either
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$BATS_TEST_TMPDIR/o.key" -out "$BATS_TEST_TMPDIR/other-ca.pem" -subj /CN=other 2>/dev/null
    SSL_CERT_FILE=$BATS_TEST_TMPDIR/other-ca.pem run login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    [ "$status" -eq 1 ]
    [[ "$output" == *"TLS error"* ]]
    # --insecure: no verification, for this registry and its realm
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin --insecure
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
}

@test "TLS: docker's certs.d/HOST/ca.crt is trusted (rootless docker's location)" {
    export ROOTLESSKIT_STATE_DIR=$BATS_TEST_TMPDIR/rootlesskit
    mkdir -p "$XDG_CONFIG_HOME/docker/certs.d/$TOK_HOST"
    cp "$TOK_CA" "$XDG_CONFIG_HOME/docker/certs.d/$TOK_HOST/ca.crt"
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 0 ]
    # a client key without its certificate is an error, as in docker
    touch "$XDG_CONFIG_HOME/docker/certs.d/$TOK_HOST/client.key"
    run --separate-stderr login "$TOK_PASS" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"missing client certificate"*"client.cert"* ]]
}

@test "TLS: a client certificate from certs.d for a registry that requires one" {
    local dir=$BATS_FILE_TMPDIR/mtls pki=$TOK_DIR/pki certs port
    mkdir -p "$dir/storage"
    # a client certificate signed by the test CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dockhand-client \
        -keyout "$dir/client.key" -out "$dir/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
    openssl x509 -req -in "$dir/client.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 1 -extfile "$dir/client.ext" -out "$dir/client.cert" 2>/dev/null
    # the htpasswd registry's config over TLS, requiring a client certificate
    port=$(dh_free_port)
    sed -e "s|addr: 127.0.0.1:[0-9]*|addr: 127.0.0.1:$port\n  tls:\n    certificate: $pki/server.pem\n    key: $pki/server.key\n    clientcas:\n      - $pki/ca.pem|" \
        -e "s|rootdirectory: .*|rootdirectory: $dir/storage|" "$BASIC_DIR/config.yml" >"$dir/config.yml"
    grep -q clientcas "$dir/config.yml"
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null 3>&- &
    echo $! >"$dir/registry.pid"
    _dh_registry_wait "$dir" "$(cat "$dir/registry.pid")" "$port"
    export ROOTLESSKIT_STATE_DIR=$BATS_TEST_TMPDIR/rootlesskit
    certs=$XDG_CONFIG_HOME/docker/certs.d/127.0.0.1:$port
    mkdir -p "$certs"
    cp "$pki/ca.pem" "$certs/ca.crt"
    # without a client certificate the server drops the connection (in the handshake,
    # or right after it with TLS 1.3: curl then reports a TLS or a connection error)
    run --separate-stderr login "$BASIC_PASS" "127.0.0.1:$port" -u "$BASIC_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"login to '127.0.0.1:$port' failed: cannot reach registry"* ]]
    run helper_get "127.0.0.1:$port"
    [ "$status" -eq 1 ]
    # with client.cert + client.key in certs.d it works
    cp "$dir/client.cert" "$dir/client.key" "$certs/"
    run --separate-stderr login "$BASIC_PASS" "127.0.0.1:$port" -u "$BASIC_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    dh_registry_stop "$dir"
}

@test "a TLS registry naming a plain http token realm is refused without --insecure" {
    local dir=$BATS_FILE_TMPDIR/httprealm port
    mkdir -p "$dir/storage"
    port=$(dh_free_port)
    # the token registry's own config, with the realm turned into plain http
    sed -e "s|addr: 127.0.0.1:[0-9]*|addr: 127.0.0.1:$port|" -e "s|realm: https://|realm: http://|" \
        -e "s|rootdirectory: .*|rootdirectory: $dir/storage|" "$TOK_DIR/config.yml" >"$dir/config.yml"
    grep -q "realm: http://127.0.0.1" "$dir/config.yml"
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null 3>&- &
    echo $! >"$dir/registry.pid"
    _dh_registry_wait "$dir" "$(cat "$dir/registry.pid")" "$port"
    export SSL_CERT_FILE=$TOK_CA
    run --separate-stderr login "$TOK_PASS" "127.0.0.1:$port" -u "$TOK_USER" --password-stdin
    echo "$stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"registry '127.0.0.1:$port' names a plain http token realm 'http://127.0.0.1:"*"/token': refused without --insecure" ]]
    run helper_get "127.0.0.1:$port"
    [ "$status" -eq 1 ]
    dh_registry_stop "$dir"
}

@test "token auth over plain http needs --insecure for the registry and its realm" {
    dh_registry_start --auth token "$BATS_FILE_TMPDIR/tokhttp" carol "carol-pw-$RANDOM"
    run --separate-stderr login "$DH_REG_PASS" "$DH_REG_HOST" -u carol --password-stdin
    [ "$status" -eq 1 ]
    run --separate-stderr login "$DH_REG_PASS" "$DH_REG_HOST" -u carol --password-stdin --insecure
    echo "$stderr"
    [ "$status" -eq 0 ]
    run helper_get "$DH_REG_HOST"
    [ "$(jq -r .Username <<<"$output")" = carol ]
    dh_registry_stop "$BATS_FILE_TMPDIR/tokhttp"
}

@test "token answers with access_token only and no expires_in or issued_at are accepted" {
    DH_TOKEN_ARGS="--fields access_token --no-expires-in --no-issued-at" \
        dh_registry_start --auth token "$BATS_FILE_TMPDIR/fields" dave "dave-pw-$RANDOM"
    run --separate-stderr login "$DH_REG_PASS" "$DH_REG_HOST" -u dave --password-stdin --insecure
    echo "$stderr"
    [ "$status" -eq 0 ]
    run curl -sf "$DH_TOKEN_URL/_fake/requests"
    jq -e '.[-1].status == 200' <<<"$output"
    dh_registry_stop "$BATS_FILE_TMPDIR/fields"
}

@test "a registry that asks for no credentials: stored, with a warning" {
    dh_registry_start --auth none "$BATS_FILE_TMPDIR/none" erin "erin-pw"
    run --separate-stderr login erin-pw "$DH_REG_HOST" -u erin --password-stdin --insecure
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"WARNING! registry '$DH_REG_HOST' did not ask for credentials"* ]]
    run helper_get "$DH_REG_HOST"
    [ "$status" -eq 0 ]
    dh_registry_stop "$BATS_FILE_TMPDIR/none"
}

@test "login keeps unknown config.json fields and removes the registry's inline credentials" {
    local inline other
    inline=$(printf '%s' "$BASIC_USER:old-password" | base64)
    other=$(printf 'someone:else' | base64)
    jq -n --arg h "$BASIC_HOST" --arg a "$inline" --arg o "$other" '{
        auths: {($h): {auth: $a}, ("http://" + $h): {auth: $a}, "other.example": {auth: $o}},
        HttpHeaders: {"User-Agent": "x"}, credHelpers: {"ghcr.io": "gh"}, "x-future": {"k": [1]}}' \
        >"$DOCKER_CONFIG/config.json"
    run --separate-stderr login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"Removed the inline credentials of \"$BASIC_HOST\""* ]]
    [[ "$stderr" == *"Removed the inline credentials of \"http://$BASIC_HOST\""* ]]
    jq -e --arg h "$BASIC_HOST" --arg o "$other" '
        .auths == {"other.example": {auth: $o}} and .HttpHeaders == {"User-Agent": "x"}
        and .credHelpers == {"ghcr.io": "gh", ($h): "dockhand"} and .["x-future"] == {"k": [1]}' \
        "$DOCKER_CONFIG/config.json"
    # a second login changes nothing in config.json
    cp "$DOCKER_CONFIG/config.json" "$BATS_TEST_TMPDIR/after.json"
    run --separate-stderr login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    [ "$status" -eq 0 ]
    [[ "$stderr" != *Configured* ]]
    cmp "$DOCKER_CONFIG/config.json" "$BATS_TEST_TMPDIR/after.json"
}

@test "with credsStore dockhand no credHelpers entry is added" {
    printf '{"credsStore":"dockhand"}' >"$DOCKER_CONFIG/config.json"
    run --separate-stderr login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    [ "$status" -eq 0 ]
    [[ "$stderr" != *Configured* ]]
    [ "$(cat "$DOCKER_CONFIG/config.json")" = '{"credsStore":"dockhand"}' ]
}

@test "logout erases the store entry and every auths entry of the registry" {
    run login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    [ "$status" -eq 0 ]
    # entries docker may have left under other spellings of the same registry
    jq --arg h "$BASIC_HOST" '.auths = {($h): {}, ("https://" + $h + "/v2/"): {auth: "eDp5"}, "keep.example": {}}' \
        "$DOCKER_CONFIG/config.json" >"$BATS_TEST_TMPDIR/c.json"
    mv "$BATS_TEST_TMPDIR/c.json" "$DOCKER_CONFIG/config.json"
    run --separate-stderr "$DH_CLI" logout "$BASIC_HOST"
    [ "$status" -eq 0 ]
    [ "$output" = "Removing login credentials for $BASIC_HOST" ]
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 1 ]
    jq -e --arg h "$BASIC_HOST" '.auths == {"keep.example": {}} and .credHelpers[$h] == "dockhand"' \
        "$DOCKER_CONFIG/config.json"
    run --separate-stderr "$DH_CLI" logout "$BASIC_HOST"
    [ "$status" -eq 0 ]
    [ "$output" = "Not logged in to $BASIC_HOST" ]
    # only an auths entry (docker's own inline login) counts as logged in too
    jq --arg h "$BASIC_HOST" '.auths[$h] = {auth: "eDp5"}' "$DOCKER_CONFIG/config.json" >"$BATS_TEST_TMPDIR/c.json"
    mv "$BATS_TEST_TMPDIR/c.json" "$DOCKER_CONFIG/config.json"
    run "$DH_CLI" logout "$BASIC_HOST"
    [ "$output" = "Removing login credentials for $BASIC_HOST" ]
    jq -e '.auths == {"keep.example": {}}' "$DOCKER_CONFIG/config.json"
    # without config.json at all
    rm "$DOCKER_CONFIG/config.json"
    run "$DH_CLI" logout "$BASIC_HOST"
    [ "$status" -eq 0 ]
    [ "$output" = "Not logged in to $BASIC_HOST" ]
    [ ! -e "$DOCKER_CONFIG/config.json" ]
}

@test "docker logout (the real CLI, no daemon) erases what dockhand login stored" {
    run login "$BASIC_PASS" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    [ "$status" -eq 0 ]
    run docker logout "$BASIC_HOST"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Removing login credentials for $BASIC_HOST"* ]]
    run helper_get "$BASIC_HOST"
    [ "$status" -eq 1 ]
    [ "$output" = "$NOT_FOUND" ]
}

@test "registries dockhand mints tokens for are refused: no login needed" {
    run --separate-stderr login pw 123456789012.dkr.ecr.eu-west-1.amazonaws.com -u AWS --password-stdin
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"'123456789012.dkr.ecr.eu-west-1.amazonaws.com' is a registry dockhand mints tokens for"*"no login is needed"* ]]
    run login pw europe-docker.pkg.dev -u oauth2accesstoken --password-stdin
    [ "$status" -eq 1 ]
    [[ "$output" == *"mints tokens for"* ]]
    # a mirror mapped with ecr: in the config counts too
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    printf 'ecr:\n  - registry: mirror.example:5000\n    account: "123456789012"\n    region: eu-west-1\n' \
        >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    run login pw mirror.example:5000 -u AWS --password-stdin
    [ "$status" -eq 1 ]
    [[ "$output" == *"mints tokens for"* ]]
    [ ! -e "$DOCKER_CONFIG/config.json" ]
}

@test "error messages never echo the password" {
    run --separate-stderr login "$BASIC_PASS-wrong" "$BASIC_HOST" -u "$BASIC_USER" --password-stdin --insecure
    [ "$status" -eq 1 ]
    [[ "$stderr" != *"$BASIC_PASS"* ]]
    export SSL_CERT_FILE=$TOK_CA
    run --separate-stderr login "$TOK_PASS-wrong" "$TOK_HOST" -u "$TOK_USER" --password-stdin
    [ "$status" -eq 1 ]
    [[ "$stderr" != *"$TOK_PASS"* ]]
}
