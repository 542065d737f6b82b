#!/usr/bin/env bats
# dockhand secret sync end to end: the real dockhand against the strict fake API server
# (test/fake/kube-apiserver.py, one per test, HTTPS with a test CA) and, for minted
# tokens, the strict fake ECR (test/fake/aws-ecr.py, reached through
# AWS_ENDPOINT_URL_ECR).  The fake records every request; the tests check what was
# written (server-side apply, ServiceAccount PUTs with resourceVersion), what was not
# (second runs, failed token fetches), and what the report says per namespace.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/kubefake

ACCOUNT=123456789012
AKID=AKIDDOCKHANDSYNC01
REG=reg.example.com:5000
ECR_HOST=$ACCOUNT.dkr.ecr.us-east-1.amazonaws.com

setup_file() {
    dh_require python3 openssl jq curl base64
    export PKI="$BATS_FILE_TMPDIR/pki"
    export TOKEN="tok-$RANDOM$RANDOM-sync"
    export BASIC_PW="pw-$RANDOM"
    make_pki "$PKI"
    export SK="sk-$RANDOM$RANDOM" ECR_PW="ecr-pw-$RANDOM$RANDOM"
    local d="$BATS_FILE_TMPDIR/ecr"
    mkdir -p "$d"
    python3 "$DH_ROOT/test/fake/aws-ecr.py" --state-dir "$d" --access-key-id "$AKID" \
        --secret-access-key "$SK" --region us-east-1 --account "$ACCOUNT" \
        --password "$ECR_PW" --expires-in 43200 --idle 600 >"$d/out.log" 2>&1 3>&- &
    export ECR_PID=$!
    for _ in $(seq 1 200); do [ -s "$d/port" ] && break; sleep 0.05; done
    ECR_PORT=$(tr -d '\n' <"$d/port")
    export ECR_PORT
}

teardown_file() {
    [ -z "${ECR_PID:-}" ] || { kill "$ECR_PID" 2>/dev/null || true; wait "$ECR_PID" 2>/dev/null || true; }
}

setup() {
    dh_isolate
    export FAKE_DIR="$BATS_TEST_TMPDIR/fake"
    start_fake "$FAKE_DIR" 127.0.0.1
    export FAKE_PID
    fake_kubeconfig "$BATS_TEST_TMPDIR/kubeconfig"
    export KUBECONFIG="$BATS_TEST_TMPDIR/kubeconfig"
    unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT POD_NAMESPACE DOCKHAND_STORE
    export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_PORT"
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
    rm -f "$BATS_FILE_TMPDIR/ecr/scenario"
    curl -fsS -X POST "http://127.0.0.1:$ECR_PORT/_fake/reset" >/dev/null
    # A static credential in the file store, and an ECR registry minted from the fake.
    printf '%s' "{\"ServerURL\":\"$REG\",\"Username\":\"bob\",\"Secret\":\"s3cret<&>\"}" |
        "$DH_HELPER" store
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    printf 'ecr:\n  - registry: "%s"\n    region: us-east-1\n' "$ECR_HOST" \
        >"$XDG_CONFIG_HOME/dockhand/config.yaml"
}

teardown() {
    [ -z "${SYNC_PID:-}" ] || { kill "$SYNC_PID" 2>/dev/null || true; wait "$SYNC_PID" 2>/dev/null || true; }
    stop_fake "${FAKE_PID:-}"
}

requests() { fake_ctl GET /_fake/requests | jq -c "$1"; }
scenario() { fake_ctl POST /_fake/scenario "$1" >/dev/null; }
ecr_calls() { curl -fsS "http://127.0.0.1:$ECR_PORT/_fake/calls" | jq -r .calls; }
secret() { fake_ctl GET "/_fake/secret/$1/$2"; }
sa() { fake_ctl GET "/_fake/serviceaccount/$1/$2"; }
doc() { secret "$1" "$2" | jq -r '.data[".dockerconfigjson"]' | base64 -d; }

sync_once() {
    run --separate-stderr "$DH_CLI" secret sync --name regcred --once "$@"
}

# The report's lines of one kind.
ns_lines() { grep '"namespace"' <<<"$output"; }
summary() { grep '"cycle"' <<<"$output" | tail -n 1; }

# wait_for CMD...: retries CMD for up to 15 s.
wait_for() {
    local i
    for i in $(seq 1 150); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

has_secret() { secret "$1" regcred | jq -e '.metadata.name == "regcred"'; }
no_secret() { ! fake_ctl GET "/_fake/secret/$1/regcred" >/dev/null; }

@test "50 namespaces: one apply each, default ServiceAccounts patched keeping other pull secrets; a second run writes nothing" {
    local names=() i
    for i in $(seq 1 50); do names+=("team-a-$i"); done
    fake_namespaces '{"team":"a"}' "${names[@]}"
    fake_namespaces '{"team":"b"}' other-1 other-2
    fake_namespaces '{}' kube-system
    # Half the default ServiceAccounts already carry someone else's pull secret.
    for i in $(seq 1 25); do
        fake_ctl POST /_fake/serviceaccount "{\"metadata\":{\"name\":\"default\",\"namespace\":\"team-a-$i\"},\"imagePullSecrets\":[{\"name\":\"theirs\"}]}" >/dev/null
    done
    fake_ctl POST /_fake/requests/reset >/dev/null
    sync_once --registry "$REG" --selector team=a --service-accounts default
    echo "$output" "$stderr"
    [ "$status" -eq 0 ]
    [ "$(ns_lines | wc -l)" -eq 50 ]
    [ "$(ns_lines | jq -s 'map(select(.outcome == "ok" and .secret == "created" and .serviceaccounts_patched == ["default"])) | length')" -eq 50 ]
    summary | jq -e '.created == 50 and .failed == 0 and .namespaces == 50 and .serviceaccounts_patched == 50 and .writes == 100'
    # Server-side apply, field manager dockhand, data not stringData.
    [ "$(requests '[.[] | select(.method == "PATCH")] | length')" -eq 50 ]
    requests '[.[] | select(.method == "PATCH")] | all(.content_type == "application/apply-patch+yaml" and .query.fieldManager == "dockhand" and .query.force == "true" and (.body | has("stringData") | not) and .body.type == "kubernetes.io/dockerconfigjson" and .status == 201)' | grep -qx true
    # The Secret is what kubectl would make.
    local auth
    auth=$(printf '%s' 'bob:s3cret<&>' | base64 -w0)
    [ "$(doc team-a-7 regcred)" = "{\"auths\":{\"$REG\":{\"username\":\"bob\",\"password\":\"s3cret\\u003c\\u0026\\u003e\",\"auth\":\"$auth\"}}}" ]
    secret team-a-7 regcred | jq -e '.metadata.labels["app.kubernetes.io/managed-by"] == "dockhand"'
    # Other pull secrets are kept, in order.
    [ "$(sa team-a-3 default | jq -c .imagePullSecrets)" = '[{"name":"theirs"},{"name":"regcred"}]' ]
    [ "$(sa team-a-40 default | jq -c .imagePullSecrets)" = '[{"name":"regcred"}]' ]
    requests '[.[] | select(.method == "PUT")] | all(.path | test("/serviceaccounts/default$")) and all(.body.metadata.resourceVersion != null) and length == 50' | grep -qx true
    # Not selected: untouched.
    no_secret other-1
    no_secret kube-system
    # Nothing changed: the second run only reads (three lists), and writes nothing.
    fake_ctl POST /_fake/requests/reset >/dev/null
    sync_once --registry "$REG" --selector team=a --service-accounts default
    [ "$status" -eq 0 ]
    fake_counters | jq -e '.writes == 0 and .requests == 3'
    summary | jq -e '.unchanged == 50 and .writes == 0 and .api_calls == 3'
}

@test "--all-namespaces skips kube-system and dockhand's own namespace; --exclude replaces that list" {
    fake_namespaces '{}' app-1 app-2 kube-system dockhand-system
    POD_NAMESPACE=dockhand-system sync_once --registry "$REG" --all-namespaces
    [ "$status" -eq 0 ]
    [ "$(ns_lines | jq -r .namespace | sort | tr '\n' ' ')" = "app-1 app-2 " ]
    sync_once --registry "$REG" --all-namespaces --exclude app-2
    [ "$status" -eq 0 ]
    [ "$(ns_lines | jq -r '.namespace + ":" + .secret' | sort | tr '\n' ' ')" = "app-1:unchanged dockhand-system:created kube-system:created " ]
}

@test "a forbidden namespace is reported and --once exits non-zero naming it; the others are synced" {
    fake_namespaces '{"team":"a"}' ok-1 ok-2 locked ok-3
    scenario '{"forbid":["locked"]}'
    sync_once --registry "$REG" --selector team=a --service-accounts default
    echo "$output" "$stderr"
    [ "$status" -eq 1 ]
    [[ $stderr == *"secret sync failed in 1 of 4 namespaces: 'locked'"* ]]
    ns_lines | jq -se 'map(select(.namespace == "locked"))[0] | .outcome == "failed" and (.reason | test("forbidden"))'
    [ "$(ns_lines | jq -s 'map(select(.outcome == "ok")) | length')" -eq 3 ]
    for n in ok-1 ok-2 ok-3; do has_secret "$n"; done
    [[ $output != *s3cret* && $stderr != *s3cret* && $stderr != *"$TOKEN"* ]]
}

@test "a 409 on a ServiceAccount PUT re-reads it and retries" {
    fake_namespaces '{"team":"a"}' busy
    fake_ctl POST /_fake/serviceaccount '{"metadata":{"name":"default","namespace":"busy"},"imagePullSecrets":[{"name":"mine"}]}' >/dev/null
    scenario '{"sa_conflicts":{"busy/default":2}}'
    fake_ctl POST /_fake/requests/reset >/dev/null
    sync_once --registry "$REG" --namespaces busy --service-accounts default
    echo "$output" "$stderr"
    [ "$status" -eq 0 ]
    [ "$(requests '[.[] | select(.path == "/api/v1/namespaces/busy/serviceaccounts/default") | .method + " " + (.status | tostring)] | join(",")')" = '"PUT 409,GET 200,PUT 409,GET 200,PUT 200"' ]
    [ "$(sa busy default | jq -c .imagePullSecrets)" = '[{"name":"mine"},{"name":"regcred"}]' ]
}

@test "ECR: one token fetch per registry per cycle; a failed fetch writes nothing and keeps the Secrets" {
    fake_namespaces '{"team":"a"}' e-1 e-2 e-3 e-4 e-5
    sync_once --registry "$ECR_HOST" --registry "$REG" --selector team=a
    echo "$output" "$stderr"
    [ "$status" -eq 0 ]
    [ "$(ecr_calls)" -eq 1 ]
    [ "$(doc e-3 regcred | jq -r --arg h "$ECR_HOST" '.auths[$h].password')" = "$ECR_PW" ]
    secret e-3 regcred | jq -e '.metadata.annotations["dockhand.io/expires-at"] | test("Z$")'
    local before
    before=$(secret e-3 regcred | jq -c .)
    # The token cache is emptied and ECR fails: nothing may be written.
    rm -rf "$XDG_CACHE_HOME/dockhand"
    echo 500 >"$BATS_FILE_TMPDIR/ecr/scenario"
    fake_ctl POST /_fake/requests/reset >/dev/null
    sync_once --registry "$ECR_HOST" --registry "$REG" --selector team=a
    echo "$output" "$stderr"
    [ "$status" -eq 1 ]
    [[ $stderr == *"no Secret was written"* ]]
    summary | jq -e '.outcome == "failed"'
    fake_counters | jq -e '.writes == 0'
    [ "$(secret e-3 regcred | jq -c .)" = "$before" ]
    [[ $output != *"$ECR_PW"* && $stderr != *"$ECR_PW"* ]]
}

@test "a Secret of the same name not managed by dockhand is left alone and reported" {
    fake_namespaces '{"team":"a"}' mine theirs
    fake_ctl POST /_fake/secret '{"metadata":{"name":"regcred","namespace":"theirs"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"e30="}}' >/dev/null
    sync_once --registry "$REG" --selector team=a
    [ "$status" -eq 1 ]
    ns_lines | jq -se 'map(select(.namespace == "theirs"))[0].reason | test("not managed by dockhand")'
    [ "$(doc theirs regcred)" = "{}" ]
    has_secret mine
}

@test "cluster-wide lists forbidden: each namespace is read on its own, still no write the second time" {
    fake_namespaces '{"team":"a"}' p-1 p-2 p-3
    scenario '{"forbid_cluster":["secrets","serviceaccounts"]}'
    sync_once --registry "$REG" --selector team=a --service-accounts default,builder
    echo "$output" "$stderr"
    [ "$status" -eq 0 ]
    ns_lines | jq -se 'all(.secret == "created" and .serviceaccounts_missing == ["builder"])'
    fake_ctl POST /_fake/requests/reset >/dev/null
    sync_once --registry "$REG" --selector team=a --service-accounts default,builder
    [ "$status" -eq 0 ]
    fake_counters | jq -e '.writes == 0'
    [ "$(requests '[.[] | select(.path == "/api/v1/namespaces/p-2/secrets/regcred") | .method] | join(",")')" = '"GET"' ]
}

@test "--service-accounts all patches every ServiceAccount of the namespace" {
    fake_namespaces '{"team":"a"}' s-1
    fake_ctl POST /_fake/serviceaccount '[{"metadata":{"name":"builder","namespace":"s-1"}},{"metadata":{"name":"deployer","namespace":"s-1"},"imagePullSecrets":[{"name":"x"}]}]' >/dev/null
    sync_once --registry "$REG" --namespaces s-1 --service-accounts all
    [ "$status" -eq 0 ]
    ns_lines | jq -e '.serviceaccounts_patched == ["builder","default","deployer"]'
    [ "$(sa s-1 deployer | jq -c .imagePullSecrets)" = '[{"name":"x"},{"name":"regcred"}]' ]
}

@test "loop: a namespace added mid-watch gets the Secret; a 410 re-lists; SIGTERM ends it with status 0" {
    fake_namespaces '{"team":"a"}' l-1 l-2
    scenario '{"bookmark_interval":0.3}'
    "$DH_CLI" secret sync --name regcred --registry "$REG" --selector team=a \
        --service-accounts default >"$BATS_TEST_TMPDIR/report" 2>"$BATS_TEST_TMPDIR/log" 3>&- &
    SYNC_PID=$!
    wait_for grep -q '"cycle":1' "$BATS_TEST_TMPDIR/report"
    has_secret l-1
    # A new namespace, seen by the watch.
    fake_namespaces '{"team":"a"}' l-new
    wait_for has_secret l-new
    wait_for sh -c "$(declare -f sa fake_ctl); sa l-new default | jq -e '.imagePullSecrets == [{\"name\":\"regcred\"}]'"
    # Not selected: ignored.
    fake_namespaces '{"team":"b"}' l-other
    # Watches resume from bookmarks, with allowWatchBookmarks.
    requests '[.[] | select(.query.watch == "1")] | all(.query.allowWatchBookmarks == "true" and (.query.resourceVersion | test("^[0-9]+$")) and .query.labelSelector == "team=a")' | grep -qx true
    # The history expires: the open watch ends with an ERROR 410, dockhand lists again.
    local lists
    lists=$(requests '[.[] | select(.path == "/api/v1/namespaces" and .query.watch == null)] | length')
    scenario '{"expire_watches":true}'
    wait_for sh -c "[ \$(python3 '$FAKE' ctl --dir '$FAKE_DIR' --ca '$PKI/ca.crt' GET /_fake/requests | jq '[.[] | select(.path == \"/api/v1/namespaces\" and .query.watch == null)] | length') -gt $lists ]"
    fake_namespaces '{"team":"a"}' l-after-410
    wait_for has_secret l-after-410
    # The watch ends; the next one is answered 410 Gone at once: dockhand lists again.
    lists=$(requests '[.[] | select(.path == "/api/v1/namespaces" and .query.watch == null)] | length')
    scenario '{"gone_next_watches":1,"end_watches":true}'
    wait_for sh -c "[ \$(python3 '$FAKE' ctl --dir '$FAKE_DIR' --ca '$PKI/ca.crt' GET /_fake/requests | jq '[.[] | select(.path == \"/api/v1/namespaces\" and .query.watch == null)] | length') -gt $lists ]"
    requests '[.[] | select(.query.watch == "1" and .status == 410)] | length == 1' | grep -qx true
    fake_namespaces '{"team":"a"}' l-after-http-410
    wait_for has_secret l-after-http-410
    no_secret l-other
    grep -q '"namespace":"l-new","outcome":"ok","secret":"created"' "$BATS_TEST_TMPDIR/report"
    # SIGTERM: a quick, clean exit.
    local t0=$SECONDS
    local st=0
    kill -TERM "$SYNC_PID"
    wait "$SYNC_PID" || st=$?
    SYNC_PID=
    cat "$BATS_TEST_TMPDIR/log"
    [ "$st" -eq 0 ]
    [ $((SECONDS - t0)) -le 3 ]
    run ! grep -q s3cret "$BATS_TEST_TMPDIR/report" "$BATS_TEST_TMPDIR/log"
}

@test "bad arguments are one-line errors" {
    run --separate-stderr "$DH_CLI" secret sync --registry "$REG" --all-namespaces --once
    [ "$status" -eq 1 ] && [[ $stderr == *"--name and --registry are required"* ]]
    run --separate-stderr "$DH_CLI" secret sync --name regcred --registry "$REG" --once
    [ "$status" -eq 1 ] && [[ $stderr == *"exactly one of --namespaces, --selector and --all-namespaces"* ]]
    run --separate-stderr "$DH_CLI" secret sync --name Bad_Name --registry "$REG" --all-namespaces
    [ "$status" -eq 1 ] && [[ $stderr == *"'Bad_Name' is not a valid Secret name"* ]]
    run --separate-stderr "$DH_CLI" secret sync --name r --registry "$REG" --registry "$REG" --all-namespaces
    [ "$status" -eq 1 ] && [[ $stderr == *"--registry '$REG' is given twice"* ]]
    run --separate-stderr "$DH_CLI" secret sync --name r --registry "$REG" --namespaces a --exclude b
    [ "$status" -eq 1 ] && [[ $stderr == *"--exclude does not go with --namespaces"* ]]
    run --separate-stderr "$DH_CLI" secret sync --name r --registry "$REG" --all-namespaces --min-interval 2h --max-interval 1h
    [ "$status" -eq 1 ] && [[ $stderr == *"--min-interval is longer than --max-interval"* ]]
}
