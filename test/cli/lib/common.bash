# Shared setup for the bats suites.  Source with: load lib/common
# Every test gets a private HOME and XDG tree under $BATS_TEST_TMPDIR, so no test
# touches the caller's credentials.

DH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
: "${BUILDDIR:=build}"
: "${DOCKHAND_BIN_DIR:=$DH_ROOT/$BUILDDIR/bin}"
: "${DOCKHAND_TEST_TOOLS:=$DH_ROOT/$BUILDDIR/test/tools}"
DH_HELPER="$DOCKHAND_BIN_DIR/docker-credential-dockhand"
DH_CLI="$DOCKHAND_BIN_DIR/dockhand"

# dh_isolate: private HOME, XDG dirs and DOCKER_CONFIG for this test.
dh_isolate() {
    export HOME="$BATS_TEST_TMPDIR/home"
    export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share"
    export XDG_CACHE_HOME="$HOME/.cache" XDG_STATE_HOME="$HOME/.local/state"
    export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/run"
    export DOCKER_CONFIG="$HOME/.docker"
    mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$DOCKER_CONFIG"
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
    unset DOCKHAND_NAMESPACE DOCKHAND_STORE DOCKHAND_CONFIG DOCKHAND_LOG_LEVEL DOCKHAND_LOG_FORMAT
}

# dh_free_port: prints a TCP port that is free on 127.0.0.1 right now.
dh_free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# dh_wait_port PORT [SECONDS]: waits until something listens on 127.0.0.1:PORT.
dh_wait_port() {
    local port=$1 limit=${2:-10} i
    for i in $(seq 1 $((limit * 20))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
    return 1
}

# dh_require CMD...: fails the test (never skips) when a required tool is missing:
# `make test` installs them all, so a missing tool is a broken set-up.
dh_require() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { echo "required tool '$c' is not installed (run hack/install-deps.sh)" >&2; return 1; }
    done
}
