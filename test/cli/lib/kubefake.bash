# The strict fake Kubernetes API server (test/fake/kube-apiserver.py) for the bats
# suites: a test PKI made with openssl, start/stop, and its control endpoint.
# Load with: load lib/kubefake.  start_fake reads PKI, TOKEN and BASIC_PW.

# shellcheck source=test/cli/lib/common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

FAKE="$DH_ROOT/test/fake/kube-apiserver.py"

# make_pki DIR: a CA, a server certificate for 127.0.0.1/::1/localhost, a client certificate.
make_pki() {
    local d=$1
    mkdir -p "$d"
    (
        cd "$d" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
            -out ca.crt -days 2 -subj /CN=dockhand-test-ca
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
            -out server.csr -subj /CN=localhost
        printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out server.crt -days 2 -extfile server.ext
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key \
            -out client.csr -subj /CN=dockhand-client
        printf 'extendedKeyUsage=clientAuth\n' >client.ext
        openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out client.crt -days 2 -extfile client.ext
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; return 1; }
}

# start_fake DIR HOST: starts a fake in DIR listening on HOST; sets FAKE_PID.
start_fake() {
    local dir=$1 host=$2
    mkdir -p "$dir"
    python3 "$FAKE" serve --dir "$dir" --host "$host" --cert "$PKI/server.crt" \
        --key "$PKI/server.key" --client-ca "$PKI/ca.crt" --token "$TOKEN" \
        --basic "admin:$BASIC_PW" --idle-timeout 120 3>&- &
    FAKE_PID=$!
    for _ in $(seq 1 200); do
        [ -s "$dir/port" ] && return 0
        kill -0 "$FAKE_PID" 2>/dev/null || { echo "the fake API server exited" >&2; return 1; }
        sleep 0.05
    done
    echo "the fake API server did not start (no $dir/port)" >&2
    return 1
}

stop_fake() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# fake_ctl METHOD PATH [JSON]: talks to the fake's control endpoints.
# shellcheck disable=SC2153 # FAKE_DIR is set by the suite before it calls fake_ctl
fake_ctl() {
    python3 "$FAKE" ctl --dir "$FAKE_DIR" --ca "$PKI/ca.crt" "$@"
}


# fake_kubeconfig FILE: a kubeconfig with a bearer token ($TOKEN) for the fake in $FAKE_DIR.
fake_kubeconfig() {
    cat >"$1" <<EOK
apiVersion: v1
kind: Config
current-context: fake
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$(cat "$FAKE_DIR/port")
    certificate-authority: $PKI/ca.crt
users:
- name: tester
  user:
    token: $TOKEN
contexts:
- name: fake
  context: {cluster: fake, user: tester}
EOK
}

# fake_namespaces LABELS-JSON NAME...: creates namespaces with these labels (a `default`
# ServiceAccount comes with each, as the ServiceAccount controller makes it).
fake_namespaces() {
    local labels=$1
    shift
    printf '%s\n' "$@" | jq -R . | jq -sc --argjson l "$labels" 'map({name: ., labels: $l})' |
        fake_ctl POST /_fake/namespace "$(cat)" >/dev/null
}

# fake_counters: {"requests", "writes", "watches", "by_method"} of the recorded API requests.
fake_counters() {
    fake_ctl GET /_fake/counters
}
