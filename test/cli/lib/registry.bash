# A real registry for the client suites and the demo: Debian's docker-registry
# (distribution registry:2) on 127.0.0.1, plain HTTP, htpasswd (bcrypt) auth,
# storage in a private directory.  Works in bats (load lib/registry) and in plain
# bash (source test/cli/lib/registry.bash); it uses no BATS_* variable.
#
#   dh_registry_start [--tls] [--auth htpasswd|token|none] WORKDIR [USER [PASS]]
#                                             start it; exports DH_REG_* below
#   dh_registry_push_test_image [REPO:TAG]    push a tiny image built offline
#   dh_registry_stop [WORKDIR]                kill it (and its token server) and
#                                             wait until they are gone
#   dh_test_pki DIR                           a test CA and a server certificate
#
# Exported after dh_registry_start: DH_REG_DIR, DH_REG_PORT, DH_REG_HOST
# (127.0.0.1:PORT), DH_REG_PID, DH_REG_USER, DH_REG_PASS, DH_REG_SCHEME (http or
# https).  After a push: DH_REG_IMAGE (HOST/REPO:TAG) and DH_REG_IMAGE_DIGEST
# (its manifest digest).
#
# Modes (default: plain HTTP with htpasswd, as before):
#   --tls          HTTPS with a certificate for 127.0.0.1 signed by a test CA
#                  (dh_test_pki WORKDIR/pki); DH_REG_CA is the CA's PEM file, to be
#                  trusted through SSL_CERT_FILE (or docker's certs.d).
#   --auth token   token auth behind test/fake/registry-token.py (a strict
#                  distribution token server; HTTPS with the test CA when --tls,
#                  else HTTP), signing with an RSA key from `openssl genrsa`
#                  whose self-signed certificate is the registry's
#                  rootcertbundle.  USER may push; every user of the users file
#                  ($DH_TOKEN_USERS, "NAME PASSWORD [push]") may pull.  Exports
#                  DH_TOKEN_PORT, DH_TOKEN_URL (scheme://127.0.0.1:PORT),
#                  DH_TOKEN_REALM, DH_TOKEN_SERVICE, DH_TOKEN_ISSUER,
#                  DH_TOKEN_USERS, DH_TOKEN_PID.  Extra arguments for the token
#                  server go in DH_TOKEN_ARGS (e.g. "--fields token").
#   --auth none    no authentication at all.
#
# How skopeo 1.9.3 (Debian, containers/image 5.23) finds credentials, checked
# against this registry with a logging fake helper:
#   * it reads, in order: --authfile or $REGISTRY_AUTH_FILE (else
#     $XDG_RUNTIME_DIR/containers/auth.json), $XDG_CONFIG_HOME/containers/auth.json,
#     then $DOCKER_CONFIG/config.json (or ~/.docker/config.json when DOCKER_CONFIG
#     is unset), then ~/.dockercfg;
#   * in each of those files it honours "auths" and "credHelpers" (per-registry
#     helper, run as docker-credential-NAME from PATH with skopeo's environment,
#     `get` with the bare "host:port" on stdin);
#   * it ignores "credsStore" everywhere: its config struct has only auths and
#     credHelpers, so a credsStore-only config.json yields an anonymous request
#     and "unauthorized: authentication required".  The containers equivalent is
#     `credential-helpers` in registries.conf.
# So the suites give skopeo a config.json with "credHelpers" in $DOCKER_CONFIG,
# the docker ecosystem's own setting; no --authfile is needed.
# --dest-creds/--creds bypass every file and helper (used for the push below).

# shellcheck source=test/cli/lib/common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

# dh_test_pki DIR: DIR/ca.pem (a test CA), DIR/server.pem and DIR/server.key (for
# 127.0.0.1, ::1 and localhost, signed by the CA).  Kept when already there.
dh_test_pki() {
    local dir=${1:?dh_test_pki: directory required}
    [ -f "$dir/server.pem" ] && return 0
    dh_require openssl || return 1
    mkdir -p "$dir" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" -subj "/CN=dockhand test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null || return 1
    printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null || return 1
}

# _dh_token_start DIR SCHEME USER PASS: starts test/fake/registry-token.py; exports DH_TOKEN_*.
_dh_token_start() {
    local dir=$1 scheme=$2 user=$3 pass=$4 tdir=$1/token port pid
    local -a tls_args=() extra=()
    dh_require python3 openssl || return 1
    mkdir -p "$tdir" || return 1
    if [ ! -f "$tdir/signer.pem" ]; then
        openssl genrsa -out "$tdir/signer.key" 2048 2>/dev/null || return 1
        openssl req -x509 -key "$tdir/signer.key" -out "$tdir/signer.pem" -days 2 \
            -subj "/CN=dockhand token signer" 2>/dev/null || return 1
    fi
    printf '%s %s push\n' "$user" "$pass" >"$tdir/users"
    [ "$scheme" = https ] && tls_args=(--tls-cert "$dir/pki/server.pem" --tls-key "$dir/pki/server.key")
    read -r -a extra <<<"${DH_TOKEN_ARGS:-}"
    rm -f "$tdir/port"
    python3 "$DH_ROOT/test/fake/registry-token.py" --key "$tdir/signer.key" \
        --service dockhand-test-registry --issuer dockhand-test-issuer --users "$tdir/users" \
        --port-file "$tdir/port" "${tls_args[@]}" "${extra[@]}" \
        >"$tdir/server.log" 2>&1 </dev/null 3>&- &
    pid=$!
    echo "$pid" >"$tdir/pid"
    for _ in $(seq 1 200); do
        [ -s "$tdir/port" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "token server died:" >&2; cat "$tdir/server.log" >&2; return 1; }
        sleep 0.05
    done
    port=$(cat "$tdir/port" 2>/dev/null) || port=""
    if [ -z "$port" ]; then
        echo "token server did not start" >&2
        return 1
    fi
    export DH_TOKEN_PORT="$port" DH_TOKEN_URL="$scheme://127.0.0.1:$port" DH_TOKEN_PID="$pid" \
        DH_TOKEN_REALM="$scheme://127.0.0.1:$port/token" DH_TOKEN_SERVICE=dockhand-test-registry \
        DH_TOKEN_ISSUER=dockhand-test-issuer DH_TOKEN_USERS="$tdir/users"
}

# dh_registry_start [--tls] [--auth MODE] WORKDIR [USER [PASS]]: starts the
# registry (and its token server), waits for its port.
dh_registry_start() {
    local tls=0 auth=htpasswd
    while [ $# -gt 0 ]; do
        case $1 in
        --tls) tls=1; shift ;;
        --auth) auth=${2:?dh_registry_start: --auth needs a mode}; shift 2 ;;
        --) shift; break ;;
        -*) echo "dh_registry_start: unknown option '$1'" >&2; return 1 ;;
        *) break ;;
        esac
    done
    local dir=${1:?dh_registry_start: work directory required} user=${2:-dockhand} pass=${3:-}
    local port pid attempt scheme=http auth_yml="" tls_yml=""
    dh_require docker-registry htpasswd || return 1
    [ -n "$pass" ] || pass="pw-$RANDOM$RANDOM$RANDOM"
    mkdir -p "$dir/storage" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    if [ "$tls" = 1 ]; then
        dh_test_pki "$dir/pki" || return 1
        scheme=https
        tls_yml="  tls:
    certificate: $dir/pki/server.pem
    key: $dir/pki/server.key"
        export DH_REG_CA="$dir/pki/ca.pem"
    fi
    case $auth in
    htpasswd)
        htpasswd -Bbn "$user" "$pass" >"$dir/htpasswd" 2>/dev/null || {
            echo "htpasswd failed" >&2
            return 1
        }
        auth_yml="auth:
  htpasswd:
    realm: dockhand-test
    path: $dir/htpasswd"
        ;;
    token)
        _dh_token_start "$dir" "$scheme" "$user" "$pass" || return 1
        auth_yml="auth:
  token:
    realm: $DH_TOKEN_REALM
    service: $DH_TOKEN_SERVICE
    issuer: $DH_TOKEN_ISSUER
    rootcertbundle: $dir/token/signer.pem"
        ;;
    none) ;;
    *) echo "dh_registry_start: unknown auth mode '$auth'" >&2; return 1 ;;
    esac
    # A free port can be taken before the registry binds it: retry with another.
    for attempt in 1 2 3; do
        port=$(dh_free_port) || return 1
        cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: dockhand-test-$RANDOM$RANDOM
$tls_yml
$auth_yml
health:
  storagedriver:
    enabled: false
EOF
        # 3>&- : bats waits for fd 3; a daemon must not hold it.
        docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null 3>&- &
        pid=$!
        echo "$pid" >"$dir/registry.pid"
        if _dh_registry_wait "$dir" "$pid" "$port"; then
            export DH_REG_DIR="$dir" DH_REG_PORT="$port" DH_REG_HOST="127.0.0.1:$port" \
                DH_REG_PID="$pid" DH_REG_USER="$user" DH_REG_PASS="$pass" DH_REG_SCHEME="$scheme"
            return 0
        fi
        _dh_kill_wait "$dir/registry.pid" # the token server, if any, keeps running
        echo "registry did not start on port $port (attempt $attempt):" >&2
        tail -n 5 "$dir/registry.log" >&2
    done
    return 1
}

# _dh_registry_wait DIR PID PORT: true once PID logs that it listens on PORT and
# the port answers (so a foreign listener on a stolen port does not count).
_dh_registry_wait() {
    local dir=$1 pid=$2 port=$3
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || return 1
        if grep -q "listening on 127.0.0.1:$port" "$dir/registry.log" 2>/dev/null; then
            dh_wait_port "$port" 5
            return
        fi
        sleep 0.05
    done
    return 1
}

# dh_registry_stop [WORKDIR]: kills the registry started in WORKDIR (default
# $DH_REG_DIR) and waits until the process is gone.  Safe to call twice.
dh_registry_stop() {
    local dir=${1:-${DH_REG_DIR:-}}
    [ -n "$dir" ] || return 0
    _dh_kill_wait "$dir/registry.pid"
    _dh_kill_wait "$dir/token/pid"
    return 0
}

# _dh_kill_wait PIDFILE: kills the process of PIDFILE, waits until it is gone (reaping
# it when it is a child of this shell: a zombie still answers kill -0), removes the file.
_dh_kill_wait() {
    local pid
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            wait "$pid" 2>/dev/null || true
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$1"
}

# dh_registry_running [WORKDIR]: true while the registry of WORKDIR runs (pgrep
# matches its own config path, so other registries on the machine do not count).
dh_registry_running() {
    local dir=${1:-${DH_REG_DIR:-}}
    pgrep -f -- "docker-registry serve $dir/config.yml" >/dev/null
}

# _dh_blob FILE LAYOUT: moves FILE into LAYOUT/blobs/sha256, prints "sha256:HEX SIZE".
_dh_blob() {
    local file=$1 layout=$2 hex size
    hex=$(sha256sum "$file") && hex=${hex%% *}
    size=$(stat -c %s "$file")
    mv "$file" "$layout/blobs/sha256/$hex"
    echo "sha256:$hex $size"
}

# dh_build_test_image LAYOUT: writes a one-layer OCI image layout tagged
# "latest" into LAYOUT with tar, gzip and sha256sum only (no network, no root).
# Reproducible: the same bytes, hence the same digest, on every run.
dh_build_test_image() {
    local layout=${1:?dh_build_test_image: layout directory required}
    local src="$layout.src" diffid layer config manifest
    rm -rf "$layout" "$src"
    mkdir -p "$layout/blobs/sha256" "$src/rootfs" || return 1
    printf 'hello from dockhand\n' >"$src/rootfs/hello.txt"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -C "$src/rootfs" -cf "$src/layer.tar" hello.txt || return 1
    diffid=$(sha256sum "$src/layer.tar") && diffid=${diffid%% *}
    gzip -n -9 "$src/layer.tar" || return 1
    layer=$(_dh_blob "$src/layer.tar.gz" "$layout") || return 1
    printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$diffid" >"$src/config.json"
    config=$(_dh_blob "$src/config.json" "$layout") || return 1
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
        "${config% *}" "${config#* }" "${layer% *}" "${layer#* }" >"$src/manifest.json"
    manifest=$(_dh_blob "$src/manifest.json" "$layout") || return 1
    printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "${manifest% *}" "${manifest#* }" >"$layout/index.json"
    rm -rf "$src"
    echo "${manifest% *}"
}

# dh_registry_push_test_image [REPO:TAG]: builds the test image offline and
# pushes it with skopeo and the registry's own credentials (default test/hello:latest).
# skopeo runs with a private HOME and config under $DH_REG_DIR so neither the
# caller's files nor a helper take part.
dh_registry_push_test_image() {
    local ref=${1:-test/hello:latest} digest out
    [ -n "${DH_REG_DIR:-}" ] || { echo "dh_registry_push_test_image: no registry started" >&2; return 1; }
    dh_require skopeo || return 1
    digest=$(dh_build_test_image "$DH_REG_DIR/oci") || return 1
    mkdir -p "$DH_REG_DIR/home/.config" "$DH_REG_DIR/home/.docker" || return 1
    mkdir -p "$DH_REG_DIR/run" && chmod 0700 "$DH_REG_DIR/run" || return 1
    if ! out=$(env -u REGISTRY_AUTH_FILE HOME="$DH_REG_DIR/home" XDG_CONFIG_HOME="$DH_REG_DIR/home/.config" \
        XDG_RUNTIME_DIR="$DH_REG_DIR/run" DOCKER_CONFIG="$DH_REG_DIR/home/.docker" \
        skopeo --insecure-policy copy --retry-times 2 --dest-tls-verify=false \
        --dest-creds "$DH_REG_USER:$DH_REG_PASS" \
        "oci:$DH_REG_DIR/oci:latest" "docker://$DH_REG_HOST/$ref" 2>&1); then
        echo "push of $ref to $DH_REG_HOST failed: $out" >&2
        return 1
    fi
    export DH_REG_IMAGE="$DH_REG_HOST/$ref" DH_REG_IMAGE_DIGEST="$digest"
}

# dh_suite_registry_start: a registry with a pushed test image for one bats file
# (setup_file); dh_suite_registry_stop stops it (teardown_file) and fails when it still runs.
dh_suite_registry_start() {
    dh_registry_start "$BATS_FILE_TMPDIR/registry"
    dh_registry_push_test_image test/hello:latest
}

dh_suite_registry_stop() {
    dh_registry_stop "$BATS_FILE_TMPDIR/registry"
    if dh_registry_running "$BATS_FILE_TMPDIR/registry"; then
        echo "the registry of this suite still runs after teardown" >&2
        return 1
    fi
}
