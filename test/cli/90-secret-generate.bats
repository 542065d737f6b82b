#!/usr/bin/env bats
# dockhand secret generate against kubectl as the oracle: for many generated and crafted
# credentials (':' in usernames and passwords, quotes, backslashes, & < >, non-ASCII,
# emoji, spaces, tabs, U+2028, long values), stored with docker-credential-dockhand into
# an isolated file store, the decoded .dockerconfigjson equals what
# `kubectl create secret docker-registry --dry-run=client` makes for the same values, as
# parsed JSON and byte for byte; the YAML output is read back by kubectl itself.  ECR
# tokens come from the strict fake ECR (reached through AWS_ENDPOINT_URL_ECR only);
# --from-docker-config runs a fake docker-credential-x helper from PATH.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC1003  # a backslash at the end of a single-quoted test password is meant
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common

ACCOUNT=123456789012
AKID=AKIDDOCKHANDTEST90
ECR_REG=$ACCOUNT.dkr.ecr.us-east-1.amazonaws.com

setup_file() {
    dh_require python3 jq kubectl base64 cmp
    export SK="sk-$RANDOM$RANDOM-secret" ECR_PW="ecr-pw-&<>-$RANDOM$RANDOM"
    local dir="$BATS_FILE_TMPDIR/ecr-fake"
    mkdir -p "$dir"
    python3 "$DH_ROOT/test/fake/aws-ecr.py" --access-key-id "$AKID" --secret-access-key "$SK" \
        --region us-east-1 --account "$ACCOUNT" --password "$ECR_PW" --expires-in 43200 \
        --state-dir "$dir" >"$dir/out.log" 2>&1 3>&- &
    export ECR_FAKE_PID=$!
    for _ in $(seq 1 200); do
        [ -s "$dir/port" ] && break
        sleep 0.05
    done
    [ -s "$dir/port" ] || { cat "$dir/out.log" >&2; return 1; }
    ECR_FAKE_PORT=$(tr -d '\n' <"$dir/port")
    export ECR_FAKE_PORT
}

teardown_file() {
    if [ -n "${ECR_FAKE_PID:-}" ]; then
        kill "$ECR_FAKE_PID" 2>/dev/null || true
        wait "$ECR_FAKE_PID" 2>/dev/null || true
    fi
}

setup() {
    dh_isolate
    [ -x "$DH_CLI" ] || { echo "dockhand not built: $DH_CLI" >&2; return 1; }
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    export KUBECONFIG="$BATS_TEST_TMPDIR/no-kubeconfig"
    export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_FAKE_PORT"
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
}

# store SERVER USER PASSWORD: into dockhand's (isolated) file store, through the helper.
store() {
    jq -n --arg s "$1" --arg u "$2" --arg p "$3" '{ServerURL: $s, Username: $u, Secret: $p}' |
        "$DH_HELPER" store
}

# payload: reads a Secret (JSON) on stdin, prints its decoded .dockerconfigjson.
payload() {
    jq -j '.data[".dockerconfigjson"]' | base64 -d
}

# kubectl_payload SERVER USER PASSWORD [EMAIL]: kubectl's decoded .dockerconfigjson.
kubectl_payload() {
    local args=(create secret docker-registry oracle "--docker-server=$1" "--docker-username=$2"
        "--docker-password=$3")
    [ -n "${4:-}" ] && args+=("--docker-email=$4")
    kubectl "${args[@]}" --dry-run=client -o json | payload
}

# kubectl_read_yaml: kubectl's own YAML reader (sigs.k8s.io/yaml, no server needed:
# `label --local`) turns the object on stdin into JSON; the probe label is removed again.
kubectl_read_yaml() {
    kubectl label --local -f - -o json dockhand-yaml-probe=1 |
        jq 'del(.metadata.labels["dockhand-yaml-probe"])'
}

# gen_cases FILE N SEED: N random cases after the crafted ones, as a JSON array of
# {r, u, p, e}.  No value ends in a newline (bash $(...) would strip it).
gen_cases() {
    python3 - "$@" <<'EOF'
import json, random, sys
out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + list(':"\\&<>/ \'$`%=+#{}[]!?*@,;|~^().-_') + ["\t", "\u2028", "\u2029"]
        + list("éßüñ中文字") + ["\U0001F433", "\U0001F600", "\u00a0", "\x7f", "\x01"])
def word(lo, hi):
    return "".join(rnd.choice(pool) for _ in range(rnd.randint(lo, hi)))
def host(i):
    return rnd.choice([f"reg-{i}.example.com", f"reg-{i}.example.com:5000",
                       f"https://reg-{i}.example.com/v2/", f"localhost:{5000 + i}",
                       f"10.1.{i // 250}.{i % 250 + 1}:5000", f"reg-{i}.example.com/team/app"])
crafted = [
    ("user", "pa:ss:word", ""), ("us:er", "x", ""), ("u", 'quote"back\\slash', ""),
    ("u", "&<>", "mail&<>@example.com"), ("ünï", "ünïcödé 中文 🐳 😀", "é@example.com"),
    ("u", " leading and trailing ", ""), ("u", "tab\there", ""), ("u", "line\nbreak", ""),
    ("u", "sep\u2028\u2029", ""), ("u", "x" * 4096, ""), ("u", "=", ""), ("u", "-", ""),
    ("-u", "--docker-password", ""), ("u", "{\"auths\":{}}", ""), ("u", "null", ""),
    ("AWS", "eyJwYXlsb2FkIjoi" + "A" * 2000 + "==", ""), ("u@example.com", "p'$(id)`id`", "a@b"),
]
cases = []
for i, (u, p, e) in enumerate(crafted):
    cases.append({"r": host(i), "u": u, "p": p, "e": e})
for i in range(len(crafted), len(crafted) + n):
    u = word(1, 12)
    p = word(1, 80)
    while u.endswith("\n") or p.endswith("\n"):
        u, p = word(1, 12), word(1, 80)
    cases.append({"r": host(i), "u": u, "p": p, "e": rnd.choice(["", "", word(1, 20)])})
json.dump(cases, open(out, "w"), ensure_ascii=False)
EOF
}

@test "kubectl oracle: for 77 generated and crafted credentials the payload equals kubectl's, parsed and byte for byte" {
    local seed=${DH_TEST_SEED:-$RANDOM} cases="$BATS_TEST_TMPDIR/cases.json" n i r u p e
    echo "# seed $seed (DH_TEST_SEED=$seed reproduces it)"
    gen_cases "$cases" 60 "$seed"
    n=$(jq length "$cases")
    [ "$n" -eq 77 ]
    for ((i = 0; i < n; i++)); do
        r=$(jq -r ".[$i].r" "$cases")
        u=$(jq -r ".[$i].u" "$cases")
        p=$(jq -r ".[$i].p" "$cases")
        e=$(jq -r ".[$i].e" "$cases")
        store "$r" "$u" "$p"
        local args=(secret generate "sec-$i" -n team-a --registry "$r" -o json)
        [ -n "$e" ] && args+=(--email "$e")
        "$DH_CLI" "${args[@]}" >"$BATS_TEST_TMPDIR/ours.json" 2>"$BATS_TEST_TMPDIR/err"
        # Nothing on stderr, and certainly not the password.
        [ ! -s "$BATS_TEST_TMPDIR/err" ] || { echo "case $i: stderr: $(cat "$BATS_TEST_TMPDIR/err")"; false; }
        payload <"$BATS_TEST_TMPDIR/ours.json" >"$BATS_TEST_TMPDIR/ours"
        kubectl_payload "$r" "$u" "$p" "$e" >"$BATS_TEST_TMPDIR/theirs"
        # As parsed JSON ...
        if [ "$(jq -S . "$BATS_TEST_TMPDIR/ours")" != "$(jq -S . "$BATS_TEST_TMPDIR/theirs")" ]; then
            echo "case $i differs as JSON: $(jq -c ".[$i]" "$cases")"
            false
        fi
        # ... and byte for byte (one registry: Go's encoding is fully determined).
        cmp "$BATS_TEST_TMPDIR/ours" "$BATS_TEST_TMPDIR/theirs" || {
            echo "case $i differs in bytes: $(jq -c ".[$i]" "$cases")"
            false
        }
        # The decoded values are the ones stored (not just equal to kubectl's).
        [ "$(jq -r --arg r "$r" '.auths[$r].password' "$BATS_TEST_TMPDIR/ours")" = "$p" ]
        [ "$(jq -r --arg r "$r" '.auths[$r].auth' "$BATS_TEST_TMPDIR/ours" | base64 -d)" = "$u:$p" ]
        if [ -n "$e" ]; then
            [ "$(jq -r --arg r "$r" '.auths[$r].email' "$BATS_TEST_TMPDIR/ours")" = "$e" ]
        else
            [ "$(jq --arg r "$r" '.auths[$r] | has("email")' "$BATS_TEST_TMPDIR/ours")" = false ]
        fi
    done
}

@test "the Secret object: kubectl's shape, managed-by label, -n optional, YAML read back by kubectl" {
    store reg.example.com ci-bot 'pa:ss "&<>" ü 🐳'
    run --separate-stderr "$DH_CLI" secret generate regcred -n team-a --registry reg.example.com -o json
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    jq -e '.kind == "Secret" and .apiVersion == "v1" and .type == "kubernetes.io/dockerconfigjson"
        and .metadata.name == "regcred" and .metadata.namespace == "team-a"
        and .metadata.labels == {"app.kubernetes.io/managed-by": "dockhand"}
        and (.metadata | has("annotations") | not) and (.data | keys) == [".dockerconfigjson"]' \
        <<<"$output"
    # Keys in kubectl's -o json order.
    [ "$(jq -c 'keys_unsorted' <<<"$output")" = '["kind","apiVersion","metadata","data","type"]' ]
    local json=$output
    # YAML is the default; kubectl parses it back to the same object.
    run --separate-stderr "$DH_CLI" secret generate regcred -n team-a --registry reg.example.com
    [ "$status" -eq 0 ]
    local yaml=$output
    kubectl_read_yaml <<<"$yaml" >"$BATS_TEST_TMPDIR/back.json"
    [ "$(jq -S . "$BATS_TEST_TMPDIR/back.json")" = "$(jq -S . <<<"$json")" ]
    # Line for line what kubectl -o yaml prints, apart from its creationTimestamp: null
    # and our label.
    kubectl create secret docker-registry regcred -n team-a --docker-server=reg.example.com \
        --docker-username=ci-bot '--docker-password=pa:ss "&<>" ü 🐳' --dry-run=client -o yaml |
        grep -v '^  creationTimestamp: null$' >"$BATS_TEST_TMPDIR/theirs.yaml"
    grep -v -e '^  labels:$' -e '^    app.kubernetes.io/managed-by: dockhand$' <<<"$yaml" >"$BATS_TEST_TMPDIR/ours.yaml"
    diff -u "$BATS_TEST_TMPDIR/theirs.yaml" "$BATS_TEST_TMPDIR/ours.yaml"
    # Without -n there is no namespace (kubectl's behaviour without -n).
    run --separate-stderr "$DH_CLI" secret generate regcred --registry reg.example.com -o json
    [ "$status" -eq 0 ]
    [ "$(jq '.metadata | has("namespace")' <<<"$output")" = false ]
    # Option spellings.
    run --separate-stderr "$DH_CLI" secret generate --output=json --namespace=ns2 regcred --registry=reg.example.com
    [ "$status" -eq 0 ]
    [ "$(jq -r .metadata.namespace <<<"$output")" = ns2 ]
    run --separate-stderr "$DH_CLI" secret generate -ojson -nns3 regcred --registry reg.example.com
    [ "$status" -eq 0 ]
    [ "$(jq -r .metadata.namespace <<<"$output")" = ns3 ]
}

@test "-o yaml of generated credentials is read back by kubectl to the same Secret as -o json" {
    local seed=${DH_TEST_SEED:-$RANDOM} cases="$BATS_TEST_TMPDIR/cases.json" i r u p e
    echo "# seed $seed"
    gen_cases "$cases" 20 "$seed"
    for ((i = 0; i < 37; i += 3)); do
        r=$(jq -r ".[$i].r" "$cases")
        u=$(jq -r ".[$i].u" "$cases")
        p=$(jq -r ".[$i].p" "$cases")
        e=$(jq -r ".[$i].e" "$cases")
        store "$r" "$u" "$p"
        "$DH_CLI" secret generate "s-$i" -n ns --registry "$r" --email "$e" -o yaml >"$BATS_TEST_TMPDIR/y"
        "$DH_CLI" secret generate "s-$i" -n ns --registry "$r" --email "$e" -o json >"$BATS_TEST_TMPDIR/j"
        kubectl_read_yaml <"$BATS_TEST_TMPDIR/y" >"$BATS_TEST_TMPDIR/back"
        [ "$(jq -S . "$BATS_TEST_TMPDIR/back")" = "$(jq -S . "$BATS_TEST_TMPDIR/j")" ]
    done
}

@test "-o yaml quotes names that YAML would read as numbers, bools, nulls or dates, as kubectl does" {
    local name ns i=0
    store reg.example.com u p
    for name in 123 0x1f 1.5 1e3 2026-11-23 true yes null on no y n 0o17 1-2 a.b 7up 10.0.0.1; do
        ns=$(echo 456 true null yes 0x1f 1e3 off y 12 n | tr ' ' '\n' | sed -n "$((i % 10 + 1))p")
        i=$((i + 1))
        "$DH_CLI" secret generate "$name" -n "$ns" --registry reg.example.com >"$BATS_TEST_TMPDIR/ours.yaml"
        # Read back by kubectl: still strings.
        kubectl_read_yaml <"$BATS_TEST_TMPDIR/ours.yaml" >"$BATS_TEST_TMPDIR/back"
        [ "$(jq -r '.metadata.name | type + ":" + .' "$BATS_TEST_TMPDIR/back")" = "string:$name" ]
        [ "$(jq -r '.metadata.namespace | type + ":" + .' "$BATS_TEST_TMPDIR/back")" = "string:$ns" ]
        # And written exactly as kubectl -o yaml writes them.
        kubectl create secret docker-registry "$name" -n "$ns" --docker-server=reg.example.com \
            --docker-username=u --docker-password=p --dry-run=client -o yaml |
            grep -v '^  creationTimestamp: null$' >"$BATS_TEST_TMPDIR/theirs.yaml"
        grep -v -e '^  labels:$' -e '^    app.kubernetes.io/managed-by: dockhand$' \
            "$BATS_TEST_TMPDIR/ours.yaml" | diff -u "$BATS_TEST_TMPDIR/theirs.yaml" -
    done
}

@test "several registries: one entry each, each equal to kubectl's for that registry" {
    store a.example.com ua 'pa:1&'
    store b.example.com:5000 ub 'pb"2\'
    store https://c.example.com/v2/ uc 'pc ü'
    run --separate-stderr "$DH_CLI" secret generate multi -n ns --registry b.example.com:5000 \
        --registry https://c.example.com/v2/ --registry a.example.com --email ops@example.com -o json
    [ "$status" -eq 0 ]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    {
        kubectl_payload a.example.com ua 'pa:1&' ops@example.com
        kubectl_payload b.example.com:5000 ub 'pb"2\' ops@example.com
        kubectl_payload https://c.example.com/v2/ uc 'pc ü' ops@example.com
    } | jq -s 'reduce .[] as $x ({auths: {}}; .auths += $x.auths)' >"$BATS_TEST_TMPDIR/theirs"
    [ "$(jq -S . "$BATS_TEST_TMPDIR/ours")" = "$(jq -S . "$BATS_TEST_TMPDIR/theirs")" ]
    # Compact, registries in Go's map order (sorted), as Go's json.Marshal writes a map.
    [ "$(jq -c '.auths | keys_unsorted' "$BATS_TEST_TMPDIR/ours")" = '["a.example.com","b.example.com:5000","https://c.example.com/v2/"]' ]
    # Byte for byte what Go's json.Marshal makes of kubectl's three entries in one map:
    # '{"auths":{' + the entries in key order, comma-separated + '}}'.
    local want='{"auths":{' sep='' one
    for one in "a.example.com ua pa:1&" "b.example.com:5000 ub pb\"2\\" "https://c.example.com/v2/ uc pc ü"; do
        read -r r u p <<<"$one"
        local k
        k=$(kubectl_payload "$r" "$u" "$p" ops@example.com)
        k=${k#'{"auths":{'}
        want+="$sep${k%'}}'}"
        sep=,
    done
    want+='}}'
    [ "$(cat "$BATS_TEST_TMPDIR/ours")" = "$want" ]
    # No minted token: no expiry annotation.
    [ "$(jq '.metadata | has("annotations")' <<<"$output")" = false ]
}

@test "an ECR registry gets a minted token; the expiry annotation is the token's expiry" {
    store static.example.com su sp
    run --separate-stderr "$DH_CLI" secret generate ecr -n ns --registry "$ECR_REG" --registry static.example.com -o json
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$stderr" != *"$ECR_PW"* ]]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    {
        kubectl_payload "$ECR_REG" AWS "$ECR_PW"
        kubectl_payload static.example.com su sp
    } | jq -s 'reduce .[] as $x ({auths: {}}; .auths += $x.auths)' >"$BATS_TEST_TMPDIR/theirs"
    [ "$(jq -S . "$BATS_TEST_TMPDIR/ours")" = "$(jq -S . "$BATS_TEST_TMPDIR/theirs")" ]
    local ann
    ann=$(jq -r '.metadata.annotations["dockhand.io/expires-at"]' <<<"$output")
    [[ "$ann" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
    # The same (cached) token as `dockhand token` reports, about 12 hours ahead.
    run "$DH_CLI" token "$ECR_REG"
    [ "$status" -eq 0 ]
    [[ "$output" == *"expires:  $ann "* ]]
    local left=$(($(date -u -d "$ann" +%s) - $(date -u +%s)))
    [ "$left" -gt 43000 ] && [ "$left" -le 43201 ]
    # In YAML the timestamp is quoted, as kubectl quotes timestamps.
    run "$DH_CLI" secret generate ecr -n ns --registry "$ECR_REG"
    [ "$status" -eq 0 ]
    [[ "$output" == *"    dockhand.io/expires-at: \"$ann\""* ]]
    [ "$(kubectl_read_yaml <<<"$output" | jq -r '.metadata.annotations["dockhand.io/expires-at"]')" = "$ann" ]
}

# A fake credential helper: answers get for the servers in $BATS_TEST_TMPDIR/x-creds.json.
make_helper_x() {
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    cat >"$BATS_TEST_TMPDIR/bin/docker-credential-x" <<EOF
#!/bin/bash
[ "\$1" = get ] || exit 2
server=\$(cat)
echo "\$server" >>"$BATS_TEST_TMPDIR/x-calls"
if jq -e --arg s "\$server" 'has(\$s)' "$BATS_TEST_TMPDIR/x-creds.json" >/dev/null; then
    jq -c --arg s "\$server" '.[\$s] + {ServerURL: \$s}' "$BATS_TEST_TMPDIR/x-creds.json"
else
    echo "credentials not found in native keychain"
    exit 1
fi
EOF
    chmod +x "$BATS_TEST_TMPDIR/bin/docker-credential-x"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

@test "--from-docker-config: inline auths, credHelpers, dockhand itself, identity tokens skipped" {
    make_helper_x
    jq -n '{"helper.example": {Username: "hu", Secret: "hp&<>:1"},
            "extra.example:5000": {Username: "xu", Secret: "xp ü"},
            "idt-helper.example": {Username: "<token>", Secret: "refresh-tok-x"}}' \
        >"$BATS_TEST_TMPDIR/x-creds.json"
    store dh.example dhu 'dh:p"w'
    jq -n --arg a "$(printf '%s' 'iu:ip:x' | base64)" '{
        auths: {
            "https://inline.example/v1/": {auth: $a},
            "userpass.example": {username: "pu", password: "pp<", email: "p@example.com"},
            "helper.example": {},
            "dh.example": {},
            "idt.example": {identitytoken: "id-tok-secret"},
            "idt-helper.example": {}
        },
        credHelpers: {
            "helper.example": "x", "dh.example": "dockhand", "extra.example:5000": "x",
            "idt-helper.example": "x", "missing.example": "x"
        },
        HttpHeaders: {"User-Agent": "kept"}
    }' >"$BATS_TEST_TMPDIR/config.json"
    run --separate-stderr "$DH_CLI" secret generate from-file -n ns --from-docker-config "$BATS_TEST_TMPDIR/config.json" -o json
    echo "$stderr"
    [ "$status" -eq 0 ]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    {
        kubectl_payload https://inline.example/v1/ iu ip:x
        kubectl_payload userpass.example pu 'pp<' p@example.com
        kubectl_payload helper.example hu 'hp&<>:1'
        kubectl_payload dh.example dhu 'dh:p"w'
        kubectl_payload extra.example:5000 xu 'xp ü'
    } | jq -s 'reduce .[] as $x ({auths: {}}; .auths += $x.auths)' >"$BATS_TEST_TMPDIR/theirs"
    [ "$(jq -S . "$BATS_TEST_TMPDIR/ours")" = "$(jq -S . "$BATS_TEST_TMPDIR/theirs")" ]
    # Warnings name the skipped registries and hold no secret.
    [[ "$stderr" == *"skipping 'idt.example'"*"identity token"* ]]
    [[ "$stderr" == *"skipping 'idt-helper.example'"*"identity token"* ]]
    [[ "$stderr" == *"skipping 'missing.example'"* ]]
    [[ "$stderr" != *id-tok-secret* && "$stderr" != *refresh-tok-x* && "$stderr" != *hp\&* ]]
    # The helper was asked for its registries only (not for dockhand's or inline ones).
    [ "$(sort "$BATS_TEST_TMPDIR/x-calls" | tr '\n' ' ')" = "extra.example:5000 helper.example idt-helper.example missing.example " ]
}

@test "--from-docker-config: credsStore answers for auths entries; a store miss falls back to the inline auth" {
    make_helper_x
    jq -n '{"store.example": {Username: "su", Secret: "sp"},
            "https://index.docker.io/v1/": {Username: "hubuser", Secret: "hub:pw"}}' \
        >"$BATS_TEST_TMPDIR/x-creds.json"
    jq -n --arg a "$(printf '%s' 'old:inline' | base64)" '{
        auths: {"store.example": {}, "https://index.docker.io/v1/": {}, "inline.example": {auth: $a}},
        credsStore: "x"}' >"$BATS_TEST_TMPDIR/config.json"
    run --separate-stderr "$DH_CLI" secret generate hub --from-docker-config "$BATS_TEST_TMPDIR/config.json" -o json
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    {
        kubectl_payload store.example su sp
        kubectl_payload https://index.docker.io/v1/ hubuser hub:pw
        kubectl_payload inline.example old inline
    } | jq -s 'reduce .[] as $x ({auths: {}}; .auths += $x.auths)' >"$BATS_TEST_TMPDIR/theirs"
    [ "$(jq -S . "$BATS_TEST_TMPDIR/ours")" = "$(jq -S . "$BATS_TEST_TMPDIR/theirs")" ]
    # dockhand as credsStore, resolved in process (no docker-credential-dockhand run).
    store store.example dsu dsp
    jq -n '{auths: {"store.example": {}}, credsStore: "dockhand"}' >"$BATS_TEST_TMPDIR/config2.json"
    run --separate-stderr env PATH=/usr/bin:/bin "$DH_CLI" secret generate hub --from-docker-config "$BATS_TEST_TMPDIR/config2.json" -o json
    [ "$status" -eq 0 ]
    [ "$(payload <<<"$output" | jq -r '.auths["store.example"].password')" = dsp ]
}

@test "--from-docker-config reads a legacy ~/.dockercfg, and --email overrides every entry's" {
    jq -n --arg a "$(printf '%s' 'hu:h:p' | base64)" \
        '{"https://index.docker.io/v1/": {auth: $a, email: "old@example.com"}}' >"$BATS_TEST_TMPDIR/dockercfg"
    run --separate-stderr "$DH_CLI" secret generate legacy --from-docker-config "$BATS_TEST_TMPDIR/dockercfg" -o json
    [ "$status" -eq 0 ]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    kubectl_payload https://index.docker.io/v1/ hu h:p old@example.com | cmp - "$BATS_TEST_TMPDIR/ours"
    run --separate-stderr "$DH_CLI" secret generate legacy --from-docker-config "$BATS_TEST_TMPDIR/dockercfg" --email new@example.com -o json
    [ "$status" -eq 0 ]
    payload <<<"$output" >"$BATS_TEST_TMPDIR/ours"
    kubectl_payload https://index.docker.io/v1/ hu h:p new@example.com | cmp - "$BATS_TEST_TMPDIR/ours"
}

@test "--from-docker-config - reads a decoded .dockerconfigjson from stdin (re-keying an existing Secret)" {
    store r.example.com u 'p&<>:1'
    "$DH_CLI" secret generate old -n a --registry r.example.com -o json | payload >"$BATS_TEST_TMPDIR/old"
    run --separate-stderr "$DH_CLI" secret generate new -n b --from-docker-config - -o json <"$BATS_TEST_TMPDIR/old"
    [ "$status" -eq 0 ]
    [ "$(jq -r .metadata.name <<<"$output")" = new ]
    payload <<<"$output" | cmp - "$BATS_TEST_TMPDIR/old"
    run --separate-stderr "$DH_CLI" secret generate new --from-docker-config - <<<'{"auths": {"r": {"auth": secretvalue}}}'
    fails_one_line
    [[ "$stderr" == "<stdin>: not valid JSON"* || "$stderr" == *"<stdin>: not valid JSON"* ]]
    [[ "$stderr" != *secretvalue* ]]
}

# fails_one_line: the last `run` failed, printed one line on stderr and nothing on stdout.
fails_one_line() {
    echo "status=$status stdout=[$output] stderr=[$stderr]"
    [ "$status" -ne 0 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
}

@test "errors: one line, non-zero exit, nothing on stdout, no secret" {
    store ok.example u 'secret-pw-123'
    run --separate-stderr "$DH_CLI" secret generate s --registry nothing.example
    fails_one_line
    [[ "$stderr" == *"no credentials for 'nothing.example'"* ]]
    run --separate-stderr "$DH_CLI" secret generate s --registry ok.example --registry nothing.example
    fails_one_line
    [[ "$stderr" == *"'nothing.example'"* && "$stderr" != *secret-pw-123* ]]
    run --separate-stderr "$DH_CLI" secret generate Bad_Name --registry ok.example
    fails_one_line
    [[ "$stderr" == *'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of'* ]]
    run --separate-stderr "$DH_CLI" secret generate "$(printf 'a%.0s' {1..254})" --registry ok.example
    fails_one_line
    [[ "$stderr" == *"must be no more than 253 characters"* ]]
    run --separate-stderr "$DH_CLI" secret generate ok -n Team.A --registry ok.example
    fails_one_line
    [[ "$stderr" == *'metadata.namespace: Invalid value: "Team.A": a lowercase RFC 1123 label must consist of'* ]]
    run --separate-stderr "$DH_CLI" secret generate ok -n "$(printf 'n%.0s' {1..64})" --registry ok.example
    fails_one_line
    [[ "$stderr" == *"must be no more than 63 characters"* ]]
    run --separate-stderr "$DH_CLI" secret generate ok --registry ok.example -o xml
    fails_one_line
    run --separate-stderr "$DH_CLI" secret generate ok
    fails_one_line
    run --separate-stderr "$DH_CLI" secret generate --registry ok.example
    fails_one_line
    run --separate-stderr "$DH_CLI" secret generate ok --registry
    fails_one_line
    run --separate-stderr "$DH_CLI" secret generate ok --bogus
    fails_one_line
    run --separate-stderr "$DH_CLI" secret generate ok --registry ok.example --from-docker-config /dev/null
    fails_one_line
    run --separate-stderr "$DH_CLI" secret frobnicate
    fails_one_line
    # Bad files.
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/missing.json"
    fails_one_line
    [[ "$stderr" == *missing.json* ]]
    printf '{"auths": ' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    fails_one_line
    [[ "$stderr" == *bad.json* ]]
    echo '{"auths": []}' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    fails_one_line
    echo '{"auths": {"r.example": {"auth": "bm90LWJhc2U2NA==="}}}' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    fails_one_line
    [[ "$stderr" == *"'r.example'"* ]]
    echo '{"auths": {"r.example": {}}}' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    fails_one_line
    [[ "$stderr" == *"no credentials for 'r.example'"* ]]
    echo '{"auths": {"r.example": {}}, "credHelpers": {"r.example": "no-such-helper"}}' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    fails_one_line
    [[ "$stderr" == *"no-such-helper"* ]]
    echo '{"auths": {"r.example": {"identitytoken": "t"}}}' >"$BATS_TEST_TMPDIR/bad.json"
    run --separate-stderr "$DH_CLI" secret generate ok --from-docker-config "$BATS_TEST_TMPDIR/bad.json"
    echo "status=$status stderr=[$stderr]"
    [ "$status" -ne 0 ] && [ -z "$output" ]
    [[ "$stderr" == *"no registry with credentials"* ]]
    # An identity token stored in dockhand is refused for --registry (the kubelet cannot use it).
    store idt.example '<token>' refresh-token-value
    run --separate-stderr "$DH_CLI" secret generate ok --registry idt.example
    fails_one_line
    [[ "$stderr" == *"identity token"* && "$stderr" != *refresh-token-value* ]]
}

@test "secret alone and --help print the usage; secret sync is handed on" {
    run "$DH_CLI" secret
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: dockhand secret generate NAME"* ]]
    run "$DH_CLI" secret --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--from-docker-config FILE"* ]]
    run "$DH_CLI" secret generate --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: dockhand secret generate NAME"* ]]
    # dispatched to dh_cmd_secret_sync (its own file), whatever it answers to --help
    run --separate-stderr "$DH_CLI" secret sync --help
    [[ "$stderr" != *"unknown command"* ]]
}
