#!/usr/bin/env bats
# dockhand prune end to end: fixture configs for every rule (real-shaped ECR tokens
# made here with base64, fake docker-credential-* helpers on PATH answering found /
# not found / error, unknown fields at every level, docker's tab formatting), the
# docker CLI's own {} entries (credsStore dockhand, no daemon, a real registry),
# dockhand's file store, usage records, the minted-token ledger (strict fake ECR),
# file handling (dry run, no rewrite when clean, invalid JSON, mode, owner,
# symlinks, lock) and --watch.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/registry

FIX="$DH_ROOT/test/cli/fixtures/prune"
ACCOUNT=123456789012
AKID=AKIDDOCKHANDPRUNE1

setup_file() {
    dh_require jq base64 docker docker-registry htpasswd python3 curl flock
    dh_suite_registry_start
}

teardown_file() {
    dh_suite_registry_stop
}

setup() {
    dh_isolate
    [ -x "$DH_CLI" ] || { echo "dockhand not built: $DH_CLI" >&2; return 1; }
    export XDG_STATE_HOME="$HOME/.local/state"
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    cp "$FIX/docker-credential-fakestore" "$BATS_TEST_TMPDIR/bin/"
    export PATH="$BATS_TEST_TMPDIR/bin:$DOCKHAND_BIN_DIR:$PATH"
    export FAKESTORE_LOG="$BATS_TEST_TMPDIR/fakestore.log"
    unset DOCKER_AUTH_CONFIG
    export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-docker-daemon.sock"
    CFG="$DOCKER_CONFIG/config.json"
    NOW=$(date +%s)
    EXPIRED=$(ecr_auth $((NOW - 3600)))
    VALID=$(ecr_auth $((NOW + 43200)))
    EXPIRED_MIRROR=$(ecr_auth $((NOW - 60)))
    EXPIRED_PW=$(ecr_password $((NOW - 7200)))
}

# ecr_password EXPIRATION: an ECR registry password shaped like a real one: base64 of
# JSON {payload, datakey, version, type, expiration} (about 2.5 KB).
ecr_password() {
    local payload datakey
    payload=$(head -c 1050 /dev/urandom | base64 -w0)
    datakey=$(head -c 300 /dev/urandom | base64 -w0)
    printf '{"payload":"%s","datakey":"%s","version":"2","type":"DATA_KEY","expiration":%s}' \
        "$payload" "$datakey" "$1" | base64 -w0
}

# ecr_auth EXPIRATION: the config.json "auth" of an ECR token: base64("AWS:" + password).
ecr_auth() {
    printf 'AWS:%s' "$(ecr_password "$1")" | base64 -w0
}

# fill FIXTURE DEST: the fixture with this test's tokens in place of @NAME@.
fill() {
    sed -e "s|@EXPIRED@|$EXPIRED|g" -e "s|@VALID@|$VALID|g" \
        -e "s|@EXPIRED_MIRROR@|$EXPIRED_MIRROR|g" -e "s|@EXPIRED_PW@|$EXPIRED_PW|g" \
        "$FIX/$1" >"$2"
}

# same_file A B: byte-identical, else show the difference.
same_file() {
    cmp "$1" "$2" || { diff <(cat "$1"; echo) <(cat "$2"; echo) | head -40; return 1; }
}

# ident FILE: inode, mtime (ns) and size, to tell that a file was not rewritten.
ident() {
    stat -c '%i %y %s' "$1"
}

@test "every rule on a docker-formatted file: the rest is kept byte for byte" {
    fill rules.json "$CFG"
    fill rules.expected.json "$BATS_TEST_TMPDIR/expected"
    chmod 0644 "$CFG"
    run --separate-stderr "$DH_CLI" prune
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "hint: credHelpers 'nothere.example': docker-credential-nosuchhelper is not on PATH (--helpers removes it)
kept auths 'flaky.example': cannot check it: 'docker-credential-fakestore get' failed (exit 1): backend unavailable
pruned 4 entries from ~/.docker/config.json: 2 expired tokens, 1 empty entry, 1 duplicate" ]
    same_file "$BATS_TEST_TMPDIR/expected" "$CFG"
    # as parsed JSON too, and the mode is kept
    [ "$(jq -S . "$CFG")" = "$(jq -S . "$BATS_TEST_TMPDIR/expected")" ]
    [ "$(stat -c %a "$CFG")" = 644 ]
    # entries with credentials never ask a helper; {} entries ask theirs once
    [ "$(sort "$FAKESTORE_LOG" | tr '\n' ' ')" = "flaky.example ghcr.io gone.example kept-empty.example " ]
    # no secret in the output
    [[ "$output" != *s3cret* && "$output" != *AWS:* && "$output" != *"$VALID"* ]]
    # a second run finds nothing and does not rewrite the file
    local before
    before=$(ident "$CFG")
    run "$DH_CLI" prune
    [ "$status" -eq 0 ]
    [[ "$output" == *"nothing to prune in ~/.docker/config.json" ]]
    [ "$(ident "$CFG")" = "$before" ]
}

@test "--dry-run prints every change with its reason and writes nothing" {
    fill rules.json "$CFG"
    cp "$CFG" "$BATS_TEST_TMPDIR/orig"
    local before
    before=$(ident "$CFG")
    run --separate-stderr "$DH_CLI" prune --dry-run
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"would remove auths '111111111111.dkr.ecr.us-east-1.amazonaws.com': ECR token expired at "* ]]
    [[ "$output" == *"would remove auths 'ecr-mirror.example': ECR token expired at "* ]]
    [[ "$output" == *"would remove auths 'gone.example': no credentials, and docker-credential-fakestore holds none for it"* ]]
    [[ "$output" == *"would remove auths 'docker.io': same registry 'index.docker.io' as 'https://index.docker.io/v1/', which is kept"* ]]
    [[ "$output" == *"dry run: would prune 4 entries from ~/.docker/config.json: 2 expired tokens, 1 empty entry, 1 duplicate (nothing written)" ]]
    [ "$(grep -c '^would remove' <<<"$output")" -eq 4 ]
    same_file "$BATS_TEST_TMPDIR/orig" "$CFG"
    [ "$(ident "$CFG")" = "$before" ]
    # no lock file either: a dry run takes no lock
    [ ! -e "$DOCKER_CONFIG/.config.json.lock" ]
}

@test "a key with control characters cannot break the one-line-per-change output" {
    printf '{"auths": {"evil\\nkept auths \\u0027x\\u0027: fake": {}, "a.example": {}}}' >"$CFG"
    run "$DH_CLI" prune --dry-run
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(wc -l <<<"$output")" -eq 3 ]
    [[ "$output" == *"would remove auths 'evil?kept auths 'x': fake': no credentials"* ]]
    run "$DH_CLI" prune -o json
    [ "$(jq -r '.changes[0].key' <<<"$output")" = "evil
kept auths 'x': fake" ]
}

@test "-o json: a machine-readable summary with stable field names" {
    fill rules.json "$CFG"
    run --separate-stderr "$DH_CLI" prune -o json --helpers
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .file <<<"$output")" = "$CFG" ]
    [ "$(jq -c '[.exists, .dry_run, .written, .entries, .removed, .unknown_usage]' <<<"$output")" = '[true,false,true,9,5,0]' ]
    [ "$(jq -c .counts <<<"$output")" = '{"expired":2,"empty":1,"duplicate":1,"missing-helper":1,"unused":0}' ]
    [ "$(jq -c '[.changes[] | [.rule, .section, .key]]' <<<"$output")" = '[["missing-helper","credHelpers","nothere.example"],["expired","auths","111111111111.dkr.ecr.us-east-1.amazonaws.com"],["expired","auths","ecr-mirror.example"],["empty","auths","gone.example"],["duplicate","auths","docker.io"]]' ]
    [ "$(jq -c '[.kept[] | [.rule, .key]]' <<<"$output")" = '[["empty","flaky.example"]]' ]
    [ "$(jq -r '.changes[1].reason' <<<"$output")" = "ECR token expired at $(date -u -d @$((NOW - 3600)) +%Y-%m-%dT%H:%M:%SZ)" ]
    [ "$(jq -c '.credHelpers' "$CFG")" = '{"ghcr.io":"fakestore"}' ]
    # nothing to do: removed 0, written false
    run "$DH_CLI" prune -o json --helpers
    [ "$(jq -c '[.removed, .written, .changes]' <<<"$output")" = '[0,false,[]]' ]
}

@test "credHelpers and credsStore naming a helper not on PATH: a hint, removed with --helpers" {
    printf '{\n\t"auths": {\n\t\t"a.example": {}\n\t},\n\t"credsStore": "gone",\n\t"credHelpers": {\n\t\t"x.example": "fakestore",\n\t\t"y.example": "missing"\n\t}\n}' >"$CFG"
    cp "$CFG" "$BATS_TEST_TMPDIR/orig"
    run "$DH_CLI" prune
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"hint: credsStore 'gone': docker-credential-gone is not on PATH (--helpers removes it)"* ]]
    [[ "$output" == *"hint: credHelpers 'y.example': docker-credential-missing is not on PATH (--helpers removes it)"* ]]
    [[ "$output" == *"kept auths 'a.example': cannot check it: docker-credential-gone is not on PATH"* ]]
    [[ "$output" == *"nothing to prune"* ]]
    same_file "$BATS_TEST_TMPDIR/orig" "$CFG"
    run "$DH_CLI" prune --helpers
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"pruned 3 entries from ~/.docker/config.json: 1 empty entry, 2 missing helpers" ]]
    printf '{\n\t"auths": {},\n\t"credHelpers": {\n\t\t"x.example": "fakestore"\n\t}\n}' >"$BATS_TEST_TMPDIR/want"
    same_file "$BATS_TEST_TMPDIR/want" "$CFG"
}

@test "the docker CLI's {} entries: prune writes what docker logout writes" {
    # two logins through dockhand (credsStore, no daemon): docker writes {} entries
    printf '{\n\t"credsStore": "dockhand"\n}' >"$CFG"
    local h2="localhost:$DH_REG_PORT"
    printf '%s\n' "$DH_REG_PASS" | docker login -u "$DH_REG_USER" --password-stdin "$DH_REG_HOST"
    printf '%s\n' "$DH_REG_PASS" | docker login -u "$DH_REG_USER" --password-stdin "$h2"
    [ "$(jq -c .auths "$CFG")" = "{\"$DH_REG_HOST\":{},\"$h2\":{}}" ]
    # nothing stale yet: both are in dockhand's store
    local before
    before=$(ident "$CFG")
    run "$DH_CLI" prune
    [ "$status" -eq 0 ]
    [[ "$output" == "nothing to prune"* ]]
    [ "$(ident "$CFG")" = "$before" ]
    # docker logout h2 in a copy: docker's own rewrite, and h2 leaves dockhand's store
    mkdir -p "$BATS_TEST_TMPDIR/docker-view"
    cp "$CFG" "$BATS_TEST_TMPDIR/docker-view/config.json"
    DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-view" docker logout "$h2"
    run docker-credential-dockhand get <<<"$h2"
    [ "$status" -eq 1 ]
    # now the {} entry for h2 in the real file is stale
    run "$DH_CLI" prune
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "pruned 1 entry from ~/.docker/config.json: 1 empty entry" ]
    same_file "$BATS_TEST_TMPDIR/docker-view/config.json" "$CFG"
}

@test "dockhand's own file store: store, erase, prune" {
    printf '%s' '{"ServerURL":"kept.example","Username":"u","Secret":"s3cret-kept"}' |
        docker-credential-dockhand store
    printf '%s' '{"ServerURL":"erased.example","Username":"u","Secret":"s3cret-gone"}' |
        docker-credential-dockhand store
    printf '%s' 'erased.example' | docker-credential-dockhand erase
    printf '{\n\t"auths": {\n\t\t"erased.example": {},\n\t\t"kept.example": {},\n\t\t"https://kept.example/v2/": {}\n\t},\n\t"credsStore": "dockhand"\n}' >"$CFG"
    run --separate-stderr "$DH_CLI" prune --dry-run
    echo "$output"
    [[ "$output" == *"would remove auths 'erased.example': no credentials, and docker-credential-dockhand holds none for it"* ]]
    run --separate-stderr "$DH_CLI" prune
    echo "$output"
    [ "$status" -eq 0 ]
    # the duplicate spelling of kept.example goes too; docker's own key stays
    [ "$output" = "pruned 2 entries from ~/.docker/config.json: 1 empty entry, 1 duplicate" ]
    [ "$(jq -c .auths "$CFG")" = '{"kept.example":{}}' ]
    [[ "$output$stderr" != *s3cret* ]]
}

@test "--older-than removes entries dockhand has not served for that long; unknown ones are kept" {
    for h in used.example stale.example norecord.example; do
        printf '{"ServerURL":"%s","Username":"u","Secret":"pw"}' "$h" | docker-credential-dockhand store
    done
    printf '{\n\t"auths": {\n\t\t"used.example": {},\n\t\t"stale.example": {},\n\t\t"norecord.example": {}\n\t},\n\t"credsStore": "dockhand",\n\t"credHelpers": {\n\t\t"helper-stale.example": "dockhand"\n\t}\n}' >"$CFG"
    # gets record usage (the helper's successful get only)
    docker-credential-dockhand get <<<"used.example" >/dev/null
    docker-credential-dockhand get <<<"https://stale.example/v2/" >/dev/null
    run docker-credential-dockhand get <<<"helper-stale.example"
    [ "$status" -eq 1 ] # not found: no record
    [ "$(find "$XDG_STATE_HOME/dockhand/seen" -type f | wc -l)" -eq 2 ]
    [ "$(stat -c %a "$XDG_STATE_HOME/dockhand/seen")" = 700 ]
    grep -qx stale.example "$XDG_STATE_HOME"/dockhand/seen/*
    # make stale.example's record 40 days old
    local marker
    marker=$(grep -lx stale.example "$XDG_STATE_HOME"/dockhand/seen/*)
    touch -d "@$((NOW - 40 * 86400))" "$marker"
    run "$DH_CLI" prune --older-than 30d
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"kept 2 entries without a usage record (--older-than)"* ]]
    [[ "$output" == *"pruned 1 entry from ~/.docker/config.json: 1 unused entry" ]]
    [ "$(jq -c '.auths | keys' "$CFG")" = '["norecord.example","used.example"]' ]
    run "$DH_CLI" prune --older-than 1x
    [ "$status" -eq 1 ]
    [ "$output" = "dockhand: error: invalid duration '1x' (e.g. 30d, 12h, 1h30m)" ]
    # Go-style durations: the record is 40 days (960h) and a few seconds old
    printf '%s' "$(jq '.auths["stale.example"] = {}' "$CFG")" >"$CFG"
    run "$DH_CLI" prune --older-than 961h -o json
    [ "$(jq -c '[.removed, .unknown_usage]' <<<"$output")" = '[0,2]' ]
    run "$DH_CLI" prune --older-than 959h -o json
    [ "$(jq -c '[.removed, .changes[0].rule]' <<<"$output")" = '[1,"unused"]' ]
}

@test "a token dockhand minted (fake ECR) is pruned once the ledger says it expired" {
    local dir="$BATS_TEST_TMPDIR/ecr-fake" pw="ecr-opaque-$RANDOM$RANDOM" port pid
    mkdir -p "$dir"
    python3 "$DH_ROOT/test/fake/aws-ecr.py" --state-dir "$dir" --access-key-id "$AKID" \
        --secret-access-key sk-prune --region us-east-1 --account "$ACCOUNT" --password "$pw" \
        --expires-in 3 >"$dir/out.log" 2>&1 3>&- &
    pid=$!
    for _ in $(seq 1 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
    port=$(cat "$dir/port")
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    printf 'ecr:\n  - registry: ecr-mirror.test\n    account: "%s"\n    region: us-east-1\n' \
        "$ACCOUNT" >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=sk-prune AWS_EC2_METADATA_DISABLED=true \
        AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$port" \
        docker-credential-dockhand get <<<"ecr-mirror.test" >"$BATS_TEST_TMPDIR/got"
    kill "$pid"
    wait "$pid" || true
    [ "$(jq -r .Secret "$BATS_TEST_TMPDIR/got")" = "$pw" ]
    # the ledger holds a hash of it, never the token
    [ -s "$XDG_STATE_HOME/dockhand/minted.json" ]
    run ! grep -qF "$pw" "$XDG_STATE_HOME/dockhand/minted.json"
    # someone put the minted token into a config.json (e.g. docker login -p)
    jq -n --arg a "$(printf 'AWS:%s' "$pw" | base64 -w0)" \
        '{auths: {"ecr-mirror.test": {auth: $a}, "plain.example": {auth: "dTpw"}}}' >"$CFG"
    # the token cache is gone: the ledger alone knows
    rm -rf "$XDG_CACHE_HOME/dockhand/tokens"
    sleep 3.2
    run "$DH_CLI" prune --dry-run
    echo "$output"
    [[ "$output" == *"would remove auths 'ecr-mirror.test': ECR token minted by dockhand expired at "* ]]
    run "$DH_CLI" prune
    [ "$(jq -c '.auths | keys' "$CFG")" = '["plain.example"]' ]
}

@test "a decoded Secret (.dockerconfigjson) and a legacy .dockercfg given with --file keep their compact form" {
    fill secret.dockerconfigjson "$BATS_TEST_TMPDIR/.dockerconfigjson"
    fill secret.expected.dockerconfigjson "$BATS_TEST_TMPDIR/want"
    run "$DH_CLI" prune --file "$BATS_TEST_TMPDIR/.dockerconfigjson"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "pruned 1 entry from $BATS_TEST_TMPDIR/.dockerconfigjson: 1 expired token" ]
    same_file "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/.dockerconfigjson"

    fill legacy.dockercfg "$BATS_TEST_TMPDIR/.dockercfg"
    run "$DH_CLI" prune --file="$BATS_TEST_TMPDIR/.dockercfg"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"2 entries"*"1 expired token, 1 empty entry" ]]
    same_file "$FIX/legacy.expected.dockercfg" "$BATS_TEST_TMPDIR/.dockercfg"
    # the default file was not touched (nor created)
    [ ! -e "$CFG" ]
}

@test "a file that needs no change is not rewritten" {
    fill clean.json "$CFG"
    local before
    before=$(ident "$CFG")
    run "$DH_CLI" prune
    [ "$status" -eq 0 ]
    [ "$output" = "nothing to prune in ~/.docker/config.json" ]
    [ "$(ident "$CFG")" = "$before" ]
}

@test "invalid JSON is refused with one line, and the file is left as it was" {
    cp "$FIX/invalid.json" "$CFG"
    local before
    before=$(ident "$CFG")
    run --separate-stderr "$DH_CLI" prune
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    [ "$stderr" = "dockhand: error: $CFG: not valid JSON: line 6 column 2: string or '}' expected" ]
    same_file "$FIX/invalid.json" "$CFG"
    [ "$(ident "$CFG")" = "$before" ]
    # not an object either
    printf '[1]' >"$CFG"
    run "$DH_CLI" prune
    [ "$status" -eq 1 ]
    [[ "$output" == *"not valid JSON: the top level is not an object" ]]
    # an explicit --file that does not exist is an error; a missing default file is not
    run "$DH_CLI" prune --file "$BATS_TEST_TMPDIR/nope.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot open '$BATS_TEST_TMPDIR/nope.json'"* ]]
    rm -rf "$DOCKER_CONFIG"
    run "$DH_CLI" prune
    [ "$status" -eq 0 ]
    [ "$output" = "nothing to prune: no $CFG" ]
    [ ! -e "$DOCKER_CONFIG" ]
    # bad arguments
    run "$DH_CLI" prune --bogus
    [ "$status" -eq 1 ]
    [[ "$output" == *"unknown argument '--bogus'"* ]]
    run "$DH_CLI" prune -o yaml
    [ "$status" -eq 1 ]
    [[ "$output" == *"unknown output format 'yaml'"* ]]
}

@test "mode and owner are kept; a symlinked config.json stays a symlink" {
    fill rules.json "$BATS_TEST_TMPDIR/real-config.json"
    chmod 0640 "$BATS_TEST_TMPDIR/real-config.json"
    local owner
    owner=$(id -u):$(id -g)
    if [ "$(id -u)" -eq 0 ]; then
        chown 65534:65534 "$BATS_TEST_TMPDIR/real-config.json"
        owner=65534:65534
    fi
    ln -s "$BATS_TEST_TMPDIR/real-config.json" "$CFG"
    run "$DH_CLI" prune
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"pruned 4 entries"* ]]
    [ -L "$CFG" ]
    [ "$(readlink "$CFG")" = "$BATS_TEST_TMPDIR/real-config.json" ]
    [ "$(stat -c %a "$BATS_TEST_TMPDIR/real-config.json")" = 640 ]
    [ "$(stat -c %u:%g "$BATS_TEST_TMPDIR/real-config.json")" = "$owner" ]
    fill rules.expected.json "$BATS_TEST_TMPDIR/expected"
    same_file "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/real-config.json"
    # no temporary file left behind
    [ "$(find "$BATS_TEST_TMPDIR" "$DOCKER_CONFIG" -name '*.tmp.*' | wc -l)" -eq 0 ]
}

@test "prune waits for dockhand's lock on config.json" {
    fill rules.json "$CFG"
    cp "$CFG" "$BATS_TEST_TMPDIR/orig"
    local lock="$DOCKER_CONFIG/.config.json.lock" fifo="$BATS_TEST_TMPDIR/hold"
    mkfifo "$fifo"
    # another dockhand writer holds the lock until we write to the fifo
    flock "$lock" -c "cat '$fifo' >/dev/null" 3>&- &
    local holder=$!
    for _ in $(seq 1 100); do flock -n "$lock" true || break; sleep 0.02; done
    run ! flock -n "$lock" true
    "$DH_CLI" prune >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
    local pruner=$!
    sleep 0.5
    kill -0 "$pruner" # still waiting
    same_file "$BATS_TEST_TMPDIR/orig" "$CFG"
    echo go >"$fifo"
    wait "$holder"
    wait "$pruner"
    grep -q '^pruned 4 entries' "$BATS_TEST_TMPDIR/out"
}

@test "--watch prunes at start and when the file changes, and exits cleanly on SIGTERM" {
    printf '{\n\t"auths": {\n\t\t"gone.example": {}\n\t}\n}' >"$CFG"
    "$DH_CLI" prune --watch --interval 1h >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
    local pid=$!
    for _ in $(seq 1 100); do [ "$(jq -c .auths "$CFG")" = '{}' ] && break; sleep 0.05; done
    [ "$(jq -c .auths "$CFG")" = '{}' ]
    # docker writes the file again (temp file + rename): pruned without waiting an hour
    printf '{\n\t"auths": {\n\t\t"again.example": {},\n\t\t"keep.example": {"auth": "dTpw"}\n\t}\n}' >"$DOCKER_CONFIG/config.json.new"
    mv "$DOCKER_CONFIG/config.json.new" "$CFG"
    for _ in $(seq 1 100); do [ "$(jq -c '.auths | keys' "$CFG")" = '["keep.example"]' ] && break; sleep 0.05; done
    [ "$(jq -c '.auths | keys' "$CFG")" = '["keep.example"]' ]
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    cat "$BATS_TEST_TMPDIR/out"
    [ "$rc" -eq 0 ]
    grep -q "^pruned 1 entry from ~/.docker/config.json: 1 empty entry" "$BATS_TEST_TMPDIR/out"
    [ "$(grep -c '^pruned' "$BATS_TEST_TMPDIR/out")" -eq 2 ]
    # SIGINT too
    "$DH_CLI" prune --watch -q >/dev/null 2>&1 3>&- &
    pid=$!
    sleep 0.3
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ]
    run "$DH_CLI" prune --watch --dry-run
    [ "$status" -eq 1 ]
}

@test "deploy/prune: the units verify, and their command and the cron line prune" {
    dh_require systemd-analyze
    local d="$DH_ROOT/deploy/prune" cmd line upath
    local -a argv
    run systemd-analyze verify "$d/dockhand-prune.service" "$d/dockhand-prune.timer" \
        "$d/dockhand-prune-watch.service"
    echo "$output"
    [ "$status" -eq 0 ]
    # dockhand installed in ~/.local/bin, as the README suggests
    mkdir -p "$HOME/.local/bin"
    ln -s "$DH_CLI" "$HOME/.local/bin/dockhand"
    # the oneshot service's command with the unit's PATH (%h is the home directory)
    upath=$(sed -n 's/^Environment=PATH=//p' "$d/dockhand-prune.service")
    upath=${upath//%h/$HOME}
    cmd=$(sed -n 's/^ExecStart=//p' "$d/dockhand-prune.service")
    [ "$cmd" = "/usr/bin/env dockhand prune" ]
    printf '{\n\t"auths": {\n\t\t"gone.example": {}\n\t}\n}' >"$CFG"
    read -r -a argv <<<"$cmd" # systemd splits ExecStart= at spaces
    run env PATH="$upath" "${argv[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = "pruned 1 entry from ~/.docker/config.json: 1 empty entry" ]
    # the cron line, run by sh as cron does: quiet, and it prunes
    line=$(grep -v '^#' "$d/crontab")
    [[ "$line" == "17 * * * * "* ]]
    printf '{\n\t"auths": {\n\t\t"gone.example": {}\n\t}\n}' >"$CFG"
    run env -i HOME="$HOME" DOCKER_CONFIG="$DOCKER_CONFIG" XDG_STATE_HOME="$XDG_STATE_HOME" \
        PATH=/usr/bin:/bin sh -c "${line#17 \* \* \* \* }"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(jq -c .auths "$CFG")" = '{}' ]
    # the watch service stops cleanly on SIGTERM (what systemctl stop sends)
    upath=$(sed -n 's/^Environment=PATH=//p' "$d/dockhand-prune-watch.service")
    cmd=$(sed -n 's/^ExecStart=//p' "$d/dockhand-prune-watch.service")
    read -r -a argv <<<"$cmd"
    env PATH="${upath//%h/$HOME}" "${argv[@]}" >/dev/null 2>&1 3>&- &
    local pid=$! rc=0
    sleep 0.3
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ]
}
