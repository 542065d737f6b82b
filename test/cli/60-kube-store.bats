#!/usr/bin/env bats
# The kube: store end to end: the real docker-credential-dockhand against the strict
# fake API server test/fake/kube-apiserver.py (HTTPS on loopback, a test CA made here
# with openssl).  The fake records every request; the tests assert on what was sent
# (server-side apply bodies, resourceVersion preconditions, PUT bodies, credentials)
# as well as on what the helper prints.  Connections: kubeconfig with a token, a
# client certificate, basic auth and an exec plugin, and the in-cluster service
# account inside a private mount namespace (unshare -m), over IPv4 and IPv6.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common
load lib/kubefake

SA_PATH=/var/run/secrets/kubernetes.io/serviceaccount

setup_file() {
    dh_require python3 openssl jq unshare mount base64
    export PKI="$BATS_FILE_TMPDIR/pki"
    export TOKEN="tok-$RANDOM$RANDOM-sup3rs3cret"
    export BASIC_PW="pw-$RANDOM-s3cret"
    make_pki "$PKI"
    export FAKE_DIR="$BATS_FILE_TMPDIR/fake"
    start_fake "$FAKE_DIR" 127.0.0.1
    export FAKE_PID
    FAKE_PORT=$(cat "$FAKE_DIR/port")
    export FAKE_PORT
}

teardown_file() {
    stop_fake "${FAKE_PID:-}"
}

# requests JQ: runs JQ over the list of recorded API requests.
requests() {
    fake_ctl GET /_fake/requests | jq -c "$1"
}

scenario() {
    fake_ctl POST /_fake/scenario "$1" >/dev/null
}

# seed NAME TYPE DATAKEY DOC [LABELS-JSON]: a Secret in $NS holding DOC (JSON text).
seed() {
    local doc64
    doc64=$(printf '%s' "$4" | base64 -w0)
    fake_ctl POST /_fake/secret "$(jq -nc --arg n "$1" --arg ns "$NS" --arg t "$2" --arg k "$3" \
        --arg d "$doc64" --argjson l "${5:-{\}}" \
        '{metadata:{name:$n, namespace:$ns, labels:$l}, type:$t, data:{($k):$d}}')" >/dev/null
}

# secret_doc NAME: the decoded credential document of Secret NAME in $NS ("" when absent).
secret_doc() {
    local obj
    obj=$(fake_ctl GET "/_fake/secret/$NS/$1") || { echo ""; return 0; }
    jq -r '.data[".dockerconfigjson"] // .data[".dockercfg"]' <<<"$obj" | base64 -d
}

write_kubeconfig() { # USER-YAML [SERVER]
    cat >"$BATS_TEST_TMPDIR/kube/config" <<EOF
apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: ${2:-https://127.0.0.1:$FAKE_PORT}
    certificate-authority: pki/ca.crt
users:
- name: tester
  user:
$1
contexts:
- name: fake
  context: {cluster: fake, user: tester, namespace: elsewhere}
EOF
}

setup() {
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    NS="t$BATS_TEST_NUMBER-$RANDOM"
    scenario "{\"namespaces\":[\"$NS\"]}"
    fake_ctl POST /_fake/requests/reset >/dev/null
    mkdir -p "$BATS_TEST_TMPDIR/kube/pki"
    cp "$PKI/ca.crt" "$BATS_TEST_TMPDIR/kube/pki/ca.crt"
    write_kubeconfig "    token: $TOKEN"
    export KUBECONFIG="$BATS_TEST_TMPDIR/kube/config"
    export DOCKHAND_STORE="kube:$NS"
    unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT POD_NAMESPACE
}

teardown() {
    scenario "{\"delay\":0,\"allow\":[\"$NS\"],\"conflicts\":{\"$NS/regcred\":0}}" || true
}

# h VERB [STDIN]: runs the helper; stdout in $output.
h() {
    if [ $# -gt 1 ]; then
        run --separate-stderr "$DH_HELPER" "$1" <<<"$2"
    else
        run --separate-stderr "$DH_HELPER" "$1" </dev/null
    fi
}

store() { # URL USER SECRET
    h store "$(jq -nc --arg u "$1" --arg n "$2" --arg s "$3" '{ServerURL:$u,Username:$n,Secret:$s}')"
}

# one_line_error WANT...: the helper failed with one line on stdout holding every WANT and
# no credential.
one_line_error() {
    local w
    [ "$status" -eq 1 ] || { echo "status $status, output: $output" >&2; return 1; }
    [ "${#lines[@]}" -eq 1 ] || { echo "not one line: $output" >&2; return 1; }
    for w in "$@"; do
        [[ $output == *"$w"* ]] || { echo "'$output' lacks '$w'" >&2; return 1; }
    done
    [[ $output != *"$TOKEN"* && $output != *"$BASIC_PW"* && $stderr != *"$TOKEN"* ]] ||
        { echo "a credential leaked: $output" >&2; return 1; }
}

# --- tests --------------------------------------------------------------------------------

@test "token kubeconfig: store applies one Secret per registry with server-side apply" {
    store reg.example.com:5000 bob 's3cret<&>'
    [ "$status" -eq 0 ] && [ -z "$output" ]
    run requests 'length'
    [ "$output" = 1 ]
    run requests ".[0] | [.method, .path, .query.fieldManager, .query.force, .content_type, .auth, .token == env.TOKEN, .status]"
    [ "$output" = "[\"PATCH\",\"/api/v1/namespaces/$NS/secrets/dockhand-reg.example.com-5000\",\"dockhand\",\"true\",\"application/apply-patch+yaml\",\"bearer\",true,201]" ]
    run requests '.[0].body | [.apiVersion, .kind, .metadata.name, .metadata.namespace, .metadata.labels, .type, (.data | keys), has("stringData")]'
    [ "$output" = "[\"v1\",\"Secret\",\"dockhand-reg.example.com-5000\",\"$NS\",{\"app.kubernetes.io/managed-by\":\"dockhand\"},\"kubernetes.io/dockerconfigjson\",[\".dockerconfigjson\"],false]" ]
    run secret_doc dockhand-reg.example.com-5000
    auth=$(printf '%s' 'bob:s3cret<&>' | base64 -w0)
    [ "$output" = "{\"auths\":{\"reg.example.com:5000\":{\"username\":\"bob\",\"password\":\"s3cret<&>\",\"auth\":\"$auth\"}}}" ]

    # get and list round-trip; a second store replaces the entry in the same Secret.
    h get reg.example.com:5000
    [ "$status" -eq 0 ]
    [ "$output" = '{"ServerURL":"reg.example.com:5000","Username":"bob","Secret":"s3cret\u003c\u0026\u003e"}' ]
    store https://reg.example.com:5000/v2/ alice second
    [ "$status" -eq 0 ]
    run requests '[.[] | select(.method == "PATCH") | .path] | unique | length'
    [ "$output" = 1 ]
    h get reg.example.com:5000
    [ "$output" = '{"ServerURL":"reg.example.com:5000","Username":"alice","Secret":"second"}' ]
    h list
    [ "$output" = '{"https://reg.example.com:5000/v2/":"alice"}' ]
}

@test "get and list see every dockerconfigjson and dockercfg Secret of the namespace" {
    gh=$(printf 'gh-user:gh-pass' | base64 -w0)
    seed regcred kubernetes.io/dockerconfigjson .dockerconfigjson \
        "{\"auths\":{\"ghcr.io\":{\"auth\":\"$gh\"},\"https://quay.io\":{\"username\":\"q\",\"password\":\"qp\"}}}"
    seed idtok kubernetes.io/dockerconfigjson .dockerconfigjson \
        '{"auths":{"id.example.com":{"identitytoken":"id-token-value"},"*.glob.example.com":{"username":"gl","password":"gp"}}}'
    seed legacy kubernetes.io/dockercfg .dockercfg \
        '{"legacy.example.com":{"username":"old","password":"oldpw","email":"a@b"}}'
    seed opaque Opaque .dockerconfigjson '{"auths":{"hidden.example.com":{"username":"x","password":"y"}}}'
    seed broken kubernetes.io/dockerconfigjson .dockerconfigjson '{"auths":[]}'
    store reg.example.com bob pw
    [ "$status" -eq 0 ]

    h get ghcr.io
    [ "$output" = '{"ServerURL":"ghcr.io","Username":"gh-user","Secret":"gh-pass"}' ]
    h get quay.io
    [ "$output" = '{"ServerURL":"quay.io","Username":"q","Secret":"qp"}' ]
    h get https://legacy.example.com
    [ "$output" = '{"ServerURL":"https://legacy.example.com","Username":"old","Secret":"oldpw"}' ]
    h get id.example.com
    [ "$output" = '{"ServerURL":"id.example.com","Username":"\u003ctoken\u003e","Secret":"id-token-value"}' ]
    # kubelet keyring matching: a glob matches one host label.
    h get a.glob.example.com
    [ "$output" = '{"ServerURL":"a.glob.example.com","Username":"gl","Secret":"gp"}' ]
    h get a.b.glob.example.com
    [ "$status" -eq 1 ]
    h get hidden.example.com
    [ "$status" -eq 1 ] && [ "$output" = 'credentials not found in native keychain' ]
    h list
    [ "$status" -eq 0 ]
    [ "$output" = '{"*.glob.example.com":"gl","ghcr.io":"gh-user","https://quay.io":"q","id.example.com":"\u003ctoken\u003e","legacy.example.com":"old","reg.example.com":"bob"}' ]
    # Every read was a list of the namespace's Secrets, with a page size.
    run requests "[.[] | select(.method == \"GET\") | [.path, .query.limit]] | unique"
    [ "$output" = "[[\"/api/v1/namespaces/$NS/secrets\",\"100\"]]" ]
    # The broken Secret is reported by name on stderr, never its data.
    [[ $stderr == *"'broken'"* ]]
}

@test "get follows list pages with continue" {
    local items
    items=$(jq -nc --arg ns "$NS" '[range(0; 230) | {metadata:{name:("s\(1000 + .)"), namespace:$ns},
        type:"kubernetes.io/dockerconfigjson",
        data:{".dockerconfigjson": ({auths:{("r\(.).example.com"):{username:"u\(.)",password:"p"}}} | tojson | @base64)}}]')
    fake_ctl POST /_fake/secret "$items" >/dev/null
    h get r229.example.com
    [ "$status" -eq 0 ]
    [ "$output" = '{"ServerURL":"r229.example.com","Username":"u229","Secret":"p"}' ]
    run requests '[.[] | select(.method == "GET") | .query.continue != null]'
    [ "$output" = '[false,true,true]' ]
    h list
    [ "$(jq length <<<"$output")" = 230 ]
}

@test "labelSelector in the spec filters reads and labels stored Secrets" {
    seed team-a kubernetes.io/dockerconfigjson .dockerconfigjson \
        '{"auths":{"a.example.com":{"username":"a","password":"pa"}}}' '{"team":"ci"}'
    seed team-b kubernetes.io/dockerconfigjson .dockerconfigjson \
        '{"auths":{"b.example.com":{"username":"b","password":"pb"}}}' '{"team":"web"}'
    export DOCKHAND_STORE="kube:$NS?labelSelector=team%3Dci&timeout=5s"
    h list
    [ "$status" -eq 0 ] && [ "$output" = '{"a.example.com":"a"}' ]
    run requests '.[0].query.labelSelector'
    [ "$output" = '"team=ci"' ]
    store c.example.com c pc
    [ "$status" -eq 0 ]
    run requests '[.[] | select(.method == "PATCH")][0].body.metadata.labels'
    [ "$output" = '{"team":"ci","app.kubernetes.io/managed-by":"dockhand"}' ]
    h list
    [ "$output" = '{"a.example.com":"a","c.example.com":"c"}' ]
    # Bad specs are one-line errors.
    DOCKHAND_STORE="kube:$NS?colour=blue" h list
    one_line_error "unknown parameter 'colour'"
    DOCKHAND_STORE="kube:$NS?timeout=soon" h list
    one_line_error "timeout must be a duration"
    DOCKHAND_STORE="kube:Not_A_Namespace" h list
    one_line_error "invalid Kubernetes namespace 'Not_A_Namespace'"
}

@test "kube without a namespace uses the dockhand namespace" {
    export DOCKHAND_STORE=kube DOCKHAND_NAMESPACE="$NS"
    store reg.example.com bob pw
    [ "$status" -eq 0 ]
    run requests '.[0].path'
    [ "$output" = "\"/api/v1/namespaces/$NS/secrets/dockhand-reg.example.com\"" ]
}

@test "erase deletes dockhand's own Secret with a resourceVersion precondition" {
    store reg.example.com bob pw
    rv=$(fake_ctl GET "/_fake/secret/$NS/dockhand-reg.example.com" | jq -r .metadata.resourceVersion)
    fake_ctl POST /_fake/requests/reset >/dev/null
    h erase https://reg.example.com/
    [ "$status" -eq 0 ] && [ -z "$output" ]
    run requests '[.[] | [.method, .path, .status]]'
    [ "$output" = "[[\"GET\",\"/api/v1/namespaces/$NS/secrets\",200],[\"GET\",\"/api/v1/namespaces/$NS/secrets/dockhand-reg.example.com\",200],[\"DELETE\",\"/api/v1/namespaces/$NS/secrets/dockhand-reg.example.com\",200]]" ]
    run requests '.[2] | [.content_type, .body.kind, .body.preconditions.resourceVersion]'
    [ "$output" = "[\"application/json\",\"DeleteOptions\",\"$rv\"]" ]
    run fake_ctl GET "/_fake/secret/$NS/dockhand-reg.example.com"
    [ "$status" -eq 1 ]
    # Erasing again, or something never stored, succeeds and sends no write.
    fake_ctl POST /_fake/requests/reset >/dev/null
    h erase reg.example.com
    [ "$status" -eq 0 ]
    h erase never.example.com
    [ "$status" -eq 0 ]
    run requests '[.[] | .method] | unique'
    [ "$output" = '["GET"]' ]
}

@test "erase edits a foreign Secret with PUT and resourceVersion, surviving one 409" {
    seed regcred kubernetes.io/dockerconfigjson .dockerconfigjson \
        '{"auths":{"ghcr.io":{"username":"g","password":"gp"},"quay.io":{"username":"q","password":"qp"}},"HttpHeaders":{"X-Keep":"1"}}' \
        '{"owner":"someone-else"}'
    scenario "{\"conflicts\":{\"$NS/regcred\":1}}"
    h erase ghcr.io
    [ "$status" -eq 0 ] && [ -z "$output" ]
    run requests '[.[] | [.method, .status]]'
    [ "$output" = '[["GET",200],["GET",200],["PUT",409],["GET",200],["PUT",200]]' ]
    run requests '[.[] | select(.method == "PUT")] | [.[0].body.metadata.resourceVersion < .[1].body.metadata.resourceVersion, .[1].content_type, (.[1].body.metadata | has("managedFields")), .[1].body.metadata.labels]'
    [ "$output" = '[true,"application/json",false,{"owner":"someone-else"}]' ]
    run secret_doc regcred
    [ "$output" = '{"auths":{"quay.io":{"username":"q","password":"qp"}},"HttpHeaders":{"X-Keep":"1"}}' ]
    h list
    [ "$output" = '{"quay.io":"q"}' ]

    # A dockhand Secret that holds a second entry is edited too, not deleted.
    store reg.example.com bob pw
    doc=$(secret_doc dockhand-reg.example.com | jq -c '.auths["other.example.com"] = {username:"o",password:"op"}')
    seed dockhand-reg.example.com kubernetes.io/dockerconfigjson .dockerconfigjson "$doc" \
        '{"app.kubernetes.io/managed-by":"dockhand"}'
    h erase reg.example.com
    [ "$status" -eq 0 ]
    run secret_doc dockhand-reg.example.com
    [ "$output" = '{"auths":{"other.example.com":{"username":"o","password":"op"}}}' ]
}

@test "client certificate and basic auth kubeconfigs" {
    cp "$PKI/client.crt" "$PKI/client.key" "$BATS_TEST_TMPDIR/kube/pki/"
    write_kubeconfig "    client-certificate: pki/client.crt
    client-key: pki/client.key"
    store reg.example.com bob pw
    [ "$status" -eq 0 ]
    h get reg.example.com
    [ "$output" = '{"ServerURL":"reg.example.com","Username":"bob","Secret":"pw"}' ]
    run requests '[.[] | [.auth, .user]] | unique'
    [ "$output" = '[["cert","dockhand-client"]]' ]

    fake_ctl POST /_fake/requests/reset >/dev/null
    write_kubeconfig "    username: admin
    password: $BASIC_PW"
    h get reg.example.com
    [ "$status" -eq 0 ]
    run requests '[.[] | [.auth, .user, .status]] | unique'
    [ "$output" = '[["basic","admin",200]]' ]
    write_kubeconfig "    username: admin
    password: wrong-$BASIC_PW"
    h get reg.example.com
    one_line_error "cannot list secrets in namespace '$NS'" "unauthorized: check the credentials for cluster 'fake'"
    [[ $output != *"wrong-"* ]]
}

@test "exec plugin: v1 ExecCredential, KUBERNETES_EXEC_INFO, re-run once on 401" {
    plugin="$BATS_TEST_TMPDIR/kube/bin/get-token"
    mkdir -p "${plugin%/*}"
    # First run: a token the server refuses; then the real one.  Records its argv, env
    # and KUBERNETES_EXEC_INFO.
    cat >"$plugin" <<EOF
#!/bin/sh
n=\$(cat "$BATS_TEST_TMPDIR/runs" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$BATS_TEST_TMPDIR/runs"
printf '%s\n' "\$*" >>"$BATS_TEST_TMPDIR/argv"
printf '%s|%s\n' "\$PLUGIN_MODE" "\$KUBERNETES_EXEC_INFO" >>"$BATS_TEST_TMPDIR/env"
if [ \$n -eq 1 ]; then tok=stale-token-000; else tok=$TOKEN; fi
printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\n' "\$tok"
EOF
    chmod 0755 "$plugin"
    write_kubeconfig "    exec:
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: IfAvailable
      command: bin/get-token
      args: [--cluster, fake]
      env: [{name: PLUGIN_MODE, value: test}]
      provideClusterInfo: true"
    store reg.example.com bob pw
    [ "$status" -eq 0 ]
    [ "$(cat "$BATS_TEST_TMPDIR/runs")" = 2 ]
    run requests '[.[] | [.method, .status, .token == env.TOKEN]]'
    [ "$output" = '[["PATCH",401,false],["PATCH",201,true]]' ]
    [ "$(sort -u "$BATS_TEST_TMPDIR/argv")" = "--cluster fake" ]
    run sed -n 1p "$BATS_TEST_TMPDIR/env"
    [[ $output == 'test|{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false,"cluster":{"server":"https://127.0.0.1:'* ]]
    [[ $output == *'"certificate-authority-data":"'* ]]
    # A plugin that fails is a clear error; its stderr is passed through (as kubectl does).
    printf '#!/bin/sh\necho "plugin says boom" >&2\nexit 7\n' >"$plugin"
    h get reg.example.com
    one_line_error "cannot list secrets in namespace '$NS'" "exec plugin" "bin/get-token' of user 'tester' failed with exit status 7"
    [[ $stderr == *"plugin says boom"* ]]
}

@test "in-cluster: service account token, CA and namespace in a private mount namespace" {
    local sa="$BATS_TEST_TMPDIR/sa" script="$BATS_TEST_TMPDIR/incluster.sh"
    mkdir -p "$sa"
    printf '%s\n' "$TOKEN" >"$sa/token"
    cp "$PKI/ca.crt" "$sa/ca.crt"
    printf '%s' "$NS" >"$sa/namespace"
    # Inside a private mount namespace: put the service account where a pod has it
    # (/var/run/secrets/kubernetes.io/serviceaccount), then run the command.  Nothing
    # outside this process tree sees the mounts.
    cat >"$script" <<'EOF'
#!/bin/sh
set -e
sa=$1; shift
if [ -d /var/run/secrets ]; then
    mount -t tmpfs tmpfs /var/run/secrets
else
    mount -t tmpfs tmpfs /var/run
fi
mkdir -p /var/run/secrets/kubernetes.io/serviceaccount
mount --bind "$sa" /var/run/secrets/kubernetes.io/serviceaccount
exec "$@"
EOF
    chmod 0755 "$script"
    unset KUBECONFIG
    export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$FAKE_PORT"
    export DOCKHAND_STORE=kube DOCKHAND_NAMESPACE="$NS"
    [ ! -e "$HOME/.kube/config" ]
    incluster() { # VERB [STDIN]
        run --separate-stderr unshare -m --propagation private "$script" "$sa" "$DH_HELPER" "$1" <<<"${2:-}"
    }
    incluster store '{"ServerURL":"reg.example.com","Username":"pod","Secret":"from-sa"}'
    [ "$status" -eq 0 ] && [ -z "$output" ]
    incluster get reg.example.com
    [ "$output" = '{"ServerURL":"reg.example.com","Username":"pod","Secret":"from-sa"}' ]
    incluster list
    [ "$output" = '{"reg.example.com":"pod"}' ]
    incluster erase reg.example.com
    [ "$status" -eq 0 ]
    run requests '[.[] | [.method, .auth, .token == env.TOKEN]] | unique'
    [ "$output" = '[["DELETE","bearer",true],["GET","bearer",true],["PATCH","bearer",true]]' ]
    # The mounts stayed inside: this side has no service account.
    [ ! -e "$SA_PATH/token" ] || [ "$(cat "$SA_PATH/token")" != "$TOKEN" ]

    # A revoked token: a clear 401 naming the in-cluster connection.
    printf 'revoked-token-1234\n' >"$sa/token"
    incluster list
    one_line_error "cannot list secrets in namespace '$NS'" "unauthorized: check the credentials for cluster 'in-cluster'"
    [[ $output != *revoked-token-1234* ]]

    # IPv6: KUBERNETES_SERVICE_HOST=::1 becomes https://[::1]:port.
    printf '%s\n' "$TOKEN" >"$sa/token"
    start_fake "$BATS_TEST_TMPDIR/fake6" ::1
    local pid6=$FAKE_PID
    export KUBERNETES_SERVICE_PORT
    KUBERNETES_SERVICE_HOST=::1 KUBERNETES_SERVICE_PORT=$(cat "$BATS_TEST_TMPDIR/fake6/port")
    python3 "$FAKE" ctl --dir "$BATS_TEST_TMPDIR/fake6" --ca "$PKI/ca.crt" --host ::1 \
        POST /_fake/scenario "{\"namespaces\":[\"$NS\"]}" >/dev/null
    incluster store '{"ServerURL":"v6.example.com","Username":"six","Secret":"pw6"}'
    [ "$status" -eq 0 ]
    incluster get v6.example.com
    [ "$output" = '{"ServerURL":"v6.example.com","Username":"six","Secret":"pw6"}' ]
    stop_fake "$pid6"
}

@test "401, 403, 404, 409 and time-outs are one-line errors naming namespace and Secret" {
    # 401: a token the server does not know.
    write_kubeconfig "    token: wrong-$TOKEN"
    h get reg.example.com
    one_line_error "cannot list secrets in namespace '$NS': unauthorized: check the credentials for cluster 'fake'"
    [[ $output != *"wrong-"* ]]
    write_kubeconfig "    token: $TOKEN"

    # 403 on list and on apply, with the server's Status message.
    scenario "{\"forbid\":[\"$NS\"]}"
    h list
    one_line_error "cannot list secrets in namespace '$NS': forbidden: secrets is forbidden: User" "cannot list resource \"secrets\""
    store reg.example.com bob pw
    one_line_error "cannot write secret 'dockhand-reg.example.com' in namespace '$NS': forbidden:" "cannot patch resource"
    scenario "{\"allow\":[\"$NS\"]}"

    # 404: the namespace does not exist.
    DOCKHAND_STORE=kube:no-such-ns store reg.example.com bob pw
    one_line_error "cannot write secret 'dockhand-reg.example.com' in namespace 'no-such-ns': not found: namespaces \"no-such-ns\" not found"

    # 409 on every attempt: erase gives up after a bounded number of retries.
    seed regcred kubernetes.io/dockerconfigjson .dockerconfigjson '{"auths":{"ghcr.io":{"username":"g","password":"gp"},"quay.io":{"username":"q","password":"qp"}}}'
    scenario "{\"conflicts\":{\"$NS/regcred\":99}}"
    h erase ghcr.io
    one_line_error "cannot update secret 'regcred' in namespace '$NS' after 5 attempts: conflict: Operation cannot be fulfilled on secrets \"regcred\""
    run requests '[.[] | select(.method == "PUT")] | length'
    [ "$output" = 5 ]
    scenario "{\"conflicts\":{\"$NS/regcred\":0}}"

    # Time-out: the server answers after 3 s, the spec allows 1 s.
    scenario '{"delay":3}'
    start=$(date +%s%N)
    DOCKHAND_STORE="kube:$NS?timeout=1s" h get reg.example.com
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    scenario '{"delay":0}'
    one_line_error "cannot list secrets in namespace '$NS': cluster 'fake' did not answer" "timed out"
    [ "$elapsed_ms" -lt 2800 ]

    # No cluster at all.
    unset KUBECONFIG
    h list
    one_line_error "cannot connect to Kubernetes: no Kubernetes connection" "KUBERNETES_SERVICE_HOST is not set"
}
