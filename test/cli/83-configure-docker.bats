#!/usr/bin/env bats
# dockhand configure-docker: credHelpers / credsStore set in config.json and undone,
# everything else in the file kept (fields, key order, docker's tab formatting).

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common

setup() {
    dh_isolate
    dh_require jq
    CFG="$DOCKER_CONFIG/config.json"
}

# A config.json as the docker CLI writes it (tabs, no final newline), with fields
# dockhand does not know at several levels.
docker_style_config() {
    printf '{\n\t"auths": {\n\t\t"r.example": {\n\t\t\t"auth": "dTpw",\n\t\t\t"x-note": "keep"\n\t\t}\n\t},\n\t"credsStore": "desktop",\n\t"credHelpers": {\n\t\t"gcr.io": "gcr"\n\t},\n\t"x-top": {\n\t\t"n": 1.5\n\t}\n}' >"$CFG"
}

@test "configure-docker: every selection flag gives the right credHelpers keys" {
    run --separate-stderr "$DH_CLI" configure-docker --gcr --ecr 123456789012:us-east-1 \
        --ecr 210987654321:cn-north-1 --ecr public --artifact-registry 'us-central1, europe-west4' \
        --registries 'my.reg:5000,docker.io'
    [ "$status" -eq 0 ]
    run jq -c '.credHelpers | to_entries | map(select(.value == "dockhand")) | map(.key)' "$CFG"
    [ "$output" = '["gcr.io","us.gcr.io","eu.gcr.io","asia.gcr.io","marketplace.gcr.io","123456789012.dkr.ecr.us-east-1.amazonaws.com","210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn","public.ecr.aws","us-central1-docker.pkg.dev","europe-west4-docker.pkg.dev","my.reg:5000","https://index.docker.io/v1/"]' ]
    # docker's own formatting for a new file: tabs, no final newline, mode 0600.
    [ "$(head -n 1 "$CFG")" = "{" ]
    [ "$(sed -n 2p "$CFG")" = $'\t"credHelpers": {' ]
    [ "$(tail -c 1 "$CFG")" = "}" ]
    [ "$(stat -c %a "$CFG")" = 600 ]
    # 12 entries: over the threshold, so the docker build warning is printed.
    [[ "$stderr" == *"12 credHelpers entries"* ]]
}

@test "configure-docker: idempotent, a second run writes nothing" {
    "$DH_CLI" configure-docker --registries a.example,b.example >/dev/null
    before=$(stat -c '%i %Y %s' "$CFG")
    sleep 1
    run "$DH_CLI" configure-docker --registries b.example,a.example
    [ "$status" -eq 0 ]
    [[ "$output" == *"a.example already uses dockhand"* ]]
    [[ "$output" == *"nothing to change"* ]]
    [ "$(stat -c '%i %Y %s' "$CFG")" = "$before" ]
}

@test "configure-docker: unknown fields, key order and formatting are kept; --undo restores the file byte for byte" {
    docker_style_config
    cp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
    run "$DH_CLI" configure-docker --gcr --store
    [ "$status" -eq 0 ]
    [[ "$output" == *"credsStore: desktop -> dockhand"* ]]
    [[ "$output" == *"credHelpers: gcr.io: gcr -> dockhand"* ]]
    [ "$(jq -r '.credsStore' "$CFG")" = dockhand ]
    [ "$(jq -r '.auths["r.example"]["x-note"]' "$CFG")" = keep ]
    [ "$(jq -c '."x-top"' "$CFG")" = '{"n":1.5}' ]
    [ "$(jq -c 'keys_unsorted' "$CFG")" = '["auths","credsStore","credHelpers","x-top"]' ]
    grep -q $'^\t\t"us.gcr.io": "dockhand",$' "$CFG"
    run "$DH_CLI" configure-docker --undo
    [ "$status" -eq 0 ]
    [[ "$output" == *"gcr.io: dockhand -> gcr (restored)"* ]]
    [[ "$output" == *"credsStore: dockhand -> desktop (restored)"* ]]
    cmp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
}

@test "configure-docker: --undo of one selection leaves the others" {
    "$DH_CLI" configure-docker --gcr --registries keep.example >/dev/null
    run "$DH_CLI" configure-docker --undo --gcr
    [ "$status" -eq 0 ]
    [ "$(jq -c '.credHelpers' "$CFG")" = '{"keep.example":"dockhand"}' ]
    # An entry naming dockhand that configure-docker did not record is removed too.
    jq -c '.credHelpers["hand.example"] = "dockhand"' "$CFG" >"$CFG.new" && mv "$CFG.new" "$CFG"
    run "$DH_CLI" configure-docker --undo
    [ "$status" -eq 0 ]
    [ "$(jq -c '.' "$CFG")" = '{}' ]
    # Other helpers are never touched by --undo.
    echo '{"credHelpers":{"x.example":"ecr-login"}}' >"$CFG"
    run "$DH_CLI" configure-docker --undo
    [[ "$output" == *"nothing to change"* ]]
    [ "$(jq -c '.' "$CFG")" = '{"credHelpers":{"x.example":"ecr-login"}}' ]
}

@test "configure-docker: --dry-run prints the changes and writes nothing" {
    docker_style_config
    cp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
    run "$DH_CLI" configure-docker --store --registries q.example --dry-run
    [ "$status" -eq 0 ]
    [[ "$output" == *"credsStore: desktop -> dockhand"* ]]
    [[ "$output" == *"q.example -> dockhand"* ]]
    [[ "$output" == *"dry run: nothing written"* ]]
    cmp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
    [ ! -e "$XDG_DATA_HOME/dockhand/configure-docker.json" ]
}

@test "configure-docker: --file edits another file; a symlinked config stays a symlink" {
    mkdir -p "$HOME/dotfiles"
    echo '{"auths":{}}' >"$HOME/dotfiles/docker.json"
    ln -s "$HOME/dotfiles/docker.json" "$BATS_TEST_TMPDIR/link.json"
    run "$DH_CLI" configure-docker --file "$BATS_TEST_TMPDIR/link.json" --registries z.example
    [ "$status" -eq 0 ]
    [ -L "$BATS_TEST_TMPDIR/link.json" ]
    # One-line file: stays one line, with its final newline.
    [ "$(cat "$HOME/dotfiles/docker.json")" = '{"auths":{},"credHelpers":{"z.example":"dockhand"}}' ]
    [ "$(wc -l <"$HOME/dotfiles/docker.json")" = 1 ]
    [ ! -e "$CFG" ]
}

@test "configure-docker: with no selection, the registries named in dockhand's config" {
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    cat >"$XDG_CONFIG_HOME/dockhand/config.yaml" <<'EOF'
routes:
  - registry: harbor.corp.example
    store: file
  - registry: "*.wild.example"
    store: file
gcr:
  registries: [mirror.gcr.example]
EOF
    run "$DH_CLI" configure-docker
    [ "$status" -eq 0 ]
    [ "$(jq -c '.credHelpers' "$CFG")" = '{"harbor.corp.example":"dockhand","mirror.gcr.example":"dockhand"}' ]
    rm "$XDG_CONFIG_HOME/dockhand/config.yaml"
    rm "$CFG"
    run "$DH_CLI" configure-docker
    [ "$status" -eq 1 ]
    [[ "$output" == *"nothing to configure"* ]]
    [ ! -e "$CFG" ]
}

@test "configure-docker: bad input is refused with one line and nothing written" {
    run "$DH_CLI" configure-docker --ecr 12345:us-east-1
    [ "$status" -eq 1 ]
    [[ "$output" == *"12-digit account"* ]]
    run "$DH_CLI" configure-docker --ecr 123456789012:nowhere
    [ "$status" -eq 1 ]
    [[ "$output" == *"'nowhere' is not an AWS region"* ]]
    run "$DH_CLI" configure-docker --registries 'bad host'
    [ "$status" -eq 1 ]
    run "$DH_CLI" configure-docker --bogus
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ ! -e "$CFG" ]
    printf '{"auths": {"r": {"auth": "SECRET"}' >"$CFG"
    cp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
    run "$DH_CLI" configure-docker --store
    [ "$status" -eq 1 ]
    [[ "$output" == *"not valid JSON"* ]]
    [[ "$output" != *SECRET* ]]
    cmp "$CFG" "$BATS_TEST_TMPDIR/orig.json"
}

@test "configure-docker: the docker CLI then runs dockhand for the configured registry" {
    dh_require docker
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    ln -s "$DH_HELPER" "$BATS_TEST_TMPDIR/bin/docker-credential-dockhand"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
    "$DH_CLI" configure-docker --registries cli.example:5000 >/dev/null
    printf '{"ServerURL":"cli.example:5000","Username":"u","Secret":"s"}' | "$DH_HELPER" store
    # docker logout needs no daemon: it erases through the configured helper.
    run docker logout cli.example:5000
    [ "$status" -eq 0 ]
    run "$DH_HELPER" get <<<"cli.example:5000"
    [ "$status" -eq 1 ]
    [ "$output" = "credentials not found in native keychain" ]
}
