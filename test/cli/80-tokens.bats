#!/usr/bin/env bats
# Minted tokens end to end: docker-credential-dockhand mints ECR tokens from the strict
# fake ECR (SigV4 verified with the secret key) and Google tokens from the strict fake
# token endpoint (RS256 JWT verified with the key's public half), caches them across
# processes, and skopeo pulls from real docker-registry instances whose htpasswd holds
# the passwords the fakes hand out.  dockhand is pointed at the fakes only through the
# ecosystem's settings: AWS_ENDPOINT_URL_ECR and the key file's token_uri; the
# registries are mapped to an ECR account and to Google tokens by the config file.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

ACCOUNT=123456789012
AKID=AKIDDOCKHANDTEST01
EMAIL=puller@dockhand-test.iam.gserviceaccount.com

# start_py NAME ARGS...: a python fake with --state-dir $BATS_FILE_TMPDIR/NAME; waits for
# its port file; exports <NAME>_PORT and <NAME>_PID.
start_py() {
    local name=$1 dir="$BATS_FILE_TMPDIR/$1" var
    shift
    mkdir -p "$dir"
    python3 "$@" --state-dir "$dir" >"$dir/out.log" 2>&1 3>&- &
    var=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
    export "${var}_PID=$!"
    for _ in $(seq 1 200); do
        [ -s "$dir/port" ] && { export "${var}_PORT=$(tr -d '\n' <"$dir/port")"; return 0; }
        sleep 0.05
    done
    cat "$dir/out.log" >&2
    return 1
}

setup_file() {
    dh_require python3 openssl jq curl skopeo docker-registry htpasswd
    export SK="sk-$RANDOM$RANDOM-secret" ECR_PW="ecr-pw-$RANDOM$RANDOM" GCR_PW="ya29.gcr-$RANDOM$RANDOM"
    start_py ecr-fake "$DH_ROOT/test/fake/aws-ecr.py" --access-key-id "$AKID" \
        --secret-access-key "$SK" --region us-east-1 --account "$ACCOUNT" --password "$ECR_PW" \
        --expires-in 43200
    # A service-account key whose token_uri is the fake Google token endpoint.
    local g="$BATS_FILE_TMPDIR/google"
    mkdir -p "$g"
    openssl genrsa -out "$g/key.pem" 2048 2>/dev/null
    openssl rsa -in "$g/key.pem" -pubout -out "$g/pub.pem" 2>/dev/null
    start_py google-fake "$DH_ROOT/test/fake/google.py" --pubkey "$g/pub.pem" --kid k1 \
        --email "$EMAIL" --access-token "$GCR_PW"
    jq -n --rawfile k "$g/key.pem" --arg e "$EMAIL" \
        --arg u "http://127.0.0.1:$GOOGLE_FAKE_PORT/token" \
        '{type:"service_account", project_id:"dockhand-test", private_key_id:"k1",
          private_key:$k, client_email:$e, token_uri:$u}' >"$g/sa.json"
    export SA_JSON="$g/sa.json"
    # Two registries: one takes ECR tokens (user AWS), one Google tokens.
    dh_registry_start "$BATS_FILE_TMPDIR/reg-gcr" oauth2accesstoken "$GCR_PW"
    dh_registry_push_test_image test/hello:latest
    export GCR_HOST=$DH_REG_HOST GCR_IMAGE=$DH_REG_IMAGE GCR_DIGEST=$DH_REG_IMAGE_DIGEST
    dh_registry_start "$BATS_FILE_TMPDIR/reg-ecr" AWS "$ECR_PW"
    dh_registry_push_test_image test/hello:latest
    export ECR_HOST=$DH_REG_HOST ECR_IMAGE=$DH_REG_IMAGE ECR_DIGEST=$DH_REG_IMAGE_DIGEST
}

teardown_file() {
    dh_registry_stop "$BATS_FILE_TMPDIR/reg-ecr" || true
    dh_registry_stop "$BATS_FILE_TMPDIR/reg-gcr" || true
    local pid
    for pid in "${ECR_FAKE_PID:-}" "${GOOGLE_FAKE_PID:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

setup() {
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_FAKE_PORT"
    export GOOGLE_APPLICATION_CREDENTIALS=$SA_JSON
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
    jq -n --arg e "$ECR_HOST" --arg g "$GCR_HOST" \
        '{credHelpers: {($e): "dockhand", ($g): "dockhand"}}' >"$DOCKER_CONFIG/config.json"
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    cat >"$XDG_CONFIG_HOME/dockhand/config.yaml" <<EOF2
ecr:
  - registry: "$ECR_HOST"
    account: "$ACCOUNT"
    region: us-east-1
gcr:
  registries: ["$GCR_HOST"]
EOF2
    curl -fsS -X POST "http://127.0.0.1:$ECR_FAKE_PORT/_fake/reset" >/dev/null
    rm -f "$BATS_FILE_TMPDIR/ecr-fake/scenario"
}

ecr_calls() {
    curl -fsS "http://127.0.0.1:$ECR_FAKE_PORT/_fake/calls" | jq -r .calls
}

google_calls() {
    local f="$BATS_FILE_TMPDIR/google-fake/calls.json"
    if [ -f "$f" ]; then jq -r '.token // 0' "$f"; else echo 0; fi
}

@test "skopeo pulls with an ECR token minted by dockhand, and the second pull uses the cache" {
    run skopeo inspect --tls-verify=false "docker://$ECR_IMAGE"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Digest <<<"$output")" = "$ECR_DIGEST" ]
    [ "$(ecr_calls)" -eq 1 ]
    run skopeo inspect --tls-verify=false "docker://$ECR_IMAGE"
    [ "$status" -eq 0 ]
    [ "$(ecr_calls)" -eq 1 ]
    # The cache is private.
    [ "$(stat -c %a "$XDG_CACHE_HOME/dockhand/tokens")" = 700 ]
    for f in "$XDG_CACHE_HOME"/dockhand/tokens/*.json; do [ "$(stat -c %a "$f")" = 600 ]; done
}

@test "64 concurrent gets with an empty cache cause exactly one upstream call, and all answer" {
    local i pids=()
    for i in $(seq 1 64); do
        "$DH_HELPER" get <<<"$ECR_HOST" >"$BATS_TEST_TMPDIR/out.$i" 2>/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    [ "$(ecr_calls)" -eq 1 ]
    for i in $(seq 1 64); do
        [ "$(jq -r .Username "$BATS_TEST_TMPDIR/out.$i")" = AWS ]
        [ "$(jq -r .Secret "$BATS_TEST_TMPDIR/out.$i")" = "$ECR_PW" ]
    done
}

@test "dockhand token shows registry, username and expiry; the secret only when asked" {
    run --separate-stderr "$DH_CLI" token "$ECR_HOST"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"username: AWS"* ]]
    [[ "$output" =~ expires:\ +[0-9]{4}-[0-9]{2}-[0-9]{2}T.*\(in\ 1[12]h ]]
    [[ "$output" == *"ECR GetAuthorizationToken at http://127.0.0.1:$ECR_FAKE_PORT"* ]]
    [[ "$output" != *"$ECR_PW"* ]]
    run "$DH_CLI" token "$ECR_HOST" --show-secret
    [[ "$output" == *"secret:   $ECR_PW"* ]]
    run "$DH_CLI" token other.example
    [ "$status" -eq 1 ]
}

@test "an upstream failure is a clear error naming the endpoint and status, not 'not found'" {
    echo 500 >"$BATS_FILE_TMPDIR/ecr-fake/scenario"
    run --separate-stderr "$DH_HELPER" get <<<"$ECR_HOST"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"ECR GetAuthorizationToken at http://127.0.0.1:$ECR_FAKE_PORT"*"500"* ]]
    [[ "$output" != *"credentials not found"* ]]
    [[ "$output" != *"$SK"* ]]
}

@test "without any AWS credentials the error says which sources were tried" {
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    export AWS_CONFIG_FILE="$BATS_TEST_TMPDIR/none" AWS_SHARED_CREDENTIALS_FILE="$BATS_TEST_TMPDIR/none"
    run --separate-stderr "$DH_HELPER" get <<<"$ECR_HOST"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no AWS credentials: tried environment"* ]]
    [ "$(ecr_calls)" -eq 0 ]
}

@test "skopeo pulls with a Google token minted from a service-account key" {
    local before
    before=$(google_calls)
    run skopeo inspect --tls-verify=false "docker://$GCR_IMAGE"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Digest <<<"$output")" = "$GCR_DIGEST" ]
    [ "$(google_calls)" -eq $((before + 1)) ]
    run "$DH_HELPER" get <<<"$GCR_HOST"
    [ "$(jq -r .Username <<<"$output")" = oauth2accesstoken ]
    [ "$(google_calls)" -eq $((before + 1)) ]
}

# ecr_password EXPIRATION: a password shaped like ECR's (base64 JSON with "expiration").
ecr_password() {
    printf '{"payload":"p","datakey":"d","version":"2","type":"DATA_KEY","expiration":%s}' "$1" |
        base64 -w0
}

store_cred() { # URL USER SECRET
    jq -cn --arg u "$1" --arg n "$2" --arg s "$3" '{ServerURL: $u, Username: $n, Secret: $s}' |
        "$DH_HELPER" store
}

@test "an ECR host: a stored credential wins, unless it is an expired ECR token" {
    local host=$ACCOUNT.dkr.ecr.us-east-1.amazonaws.com
    store_cred "$host" AWS "$(ecr_password $(($(date +%s) + 3600)))"
    run "$DH_HELPER" get <<<"$host"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Secret <<<"$output")" != "$ECR_PW" ]
    [ "$(ecr_calls)" -eq 0 ]
    store_cred "$host" AWS "$(ecr_password $(($(date +%s) - 60)))"
    run "$DH_HELPER" get <<<"$host"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Secret <<<"$output")" = "$ECR_PW" ]
    [ "$(ecr_calls)" -eq 1 ]
}

@test "a registry the config maps is always minted; the stored credential is the fallback" {
    store_cred "$ECR_HOST" AWS stored-password
    run "$DH_HELPER" get <<<"$ECR_HOST"
    [ "$(jq -r .Secret <<<"$output")" = "$ECR_PW" ]
    [ "$(ecr_calls)" -eq 1 ]
    # With the endpoint failing and no cached token, the stored one serves, with a warning.
    rm -rf "$XDG_CACHE_HOME/dockhand/tokens"
    echo 500 >"$BATS_FILE_TMPDIR/ecr-fake/scenario"
    run --separate-stderr "$DH_HELPER" get <<<"$ECR_HOST"
    [ "$status" -eq 0 ]
    [ "$(jq -r .Secret <<<"$output")" = stored-password ]
    [[ "$stderr" == *"500"*"using the credential stored for"* ]]
}
