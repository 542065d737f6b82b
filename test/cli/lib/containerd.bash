# A real container runtime for the CRI suites: Debian's containerd (1.6, package
# `containerd`) started as root with everything under a temporary directory.
# Works in bats (load lib/containerd) and in plain bash.
#
#   dh_containerd_start WORKDIR     start it; exports DH_CTRD_* below
#   dh_containerd_add_registry HOST plain-HTTP access to HOST (127.0.0.1:PORT)
#                                   through the CRI registry config_path (hosts.toml,
#                                   read at every pull: no restart needed)
#   dh_ctr ARGS...                  ctr against it, namespace k8s.io (the CRI's)
#   dh_containerd_stop [WORKDIR]    stop it, unmount what it left, remove WORKDIR
#
# Exported: DH_CTRD_DIR, DH_CTRD_SOCK (the gRPC socket), DH_CTRD_ENDPOINT
# (unix://SOCK), DH_CTRD_PID.
#
# Isolation (checked by test/cli/87-cri.bats): root, state, the gRPC and ttrpc
# sockets, the "opt" plugin directory, the CRI registry hosts directory and the
# CNI directories all live under WORKDIR (the sockets in a short /tmp directory
# of their own: a unix socket path must stay under 108 bytes); the debug and
# metrics listeners are off; the CRI streaming server binds 127.0.0.1 on a
# random port (it cannot be turned off; nothing connects to it).  Snapshotter
# `native` (plain copies: no overlay mounts needed); the snapshotters that
# cannot work here (btrfs, zfs, devmapper, aufs, overlayfs) are disabled.  No
# CNI config: the CRI plugin logs that pod networking is not ready and serves
# image calls anyway.  The sandbox (pause) image is only pulled by
# RunPodSandbox, which the suites never call.

# shellcheck source=test/cli/lib/common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

dh_containerd_start() {
    local dir=${1:?dh_containerd_start: work directory required} sockdir pid
    dh_require containerd ctr || return 1
    if [ "$(id -u)" -ne 0 ]; then
        echo "dh_containerd_start: containerd needs root" >&2
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    mkdir -p "$dir/root" "$dir/state" "$dir/opt" "$dir/certs.d" "$dir/cni/bin" "$dir/cni/conf" || return 1
    sockdir=$(mktemp -d /tmp/dh-ctrd.XXXXXX) || return 1
    echo "$sockdir" >"$dir/sockdir"
    cat >"$dir/config.toml" <<EOT
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.overlayfs",
]

[grpc]
  address = "$sockdir/containerd.sock"

[ttrpc]
  address = "$sockdir/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$dir/cni/bin"
    conf_dir = "$dir/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
EOT
    # 3>&- : bats waits for fd 3; a daemon must not hold it.
    containerd --config "$dir/config.toml" --log-level info >"$dir/containerd.log" 2>&1 </dev/null 3>&- &
    pid=$!
    echo "$pid" >"$dir/containerd.pid"
    for _ in $(seq 1 200); do
        if [ -S "$sockdir/containerd.sock" ] && grep -q 'containerd successfully booted' "$dir/containerd.log"; then
            export DH_CTRD_DIR="$dir" DH_CTRD_SOCK="$sockdir/containerd.sock" \
                DH_CTRD_ENDPOINT="unix://$sockdir/containerd.sock" DH_CTRD_PID="$pid"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "containerd did not start:" >&2
    tail -n 20 "$dir/containerd.log" >&2
    dh_containerd_stop "$dir"
    return 1
}

# dh_containerd_add_registry HOST: pull from http://HOST (no TLS) for images named HOST/...
dh_containerd_add_registry() {
    local host=${1:?dh_containerd_add_registry: host required}
    [ -n "${DH_CTRD_DIR:-}" ] || { echo "dh_containerd_add_registry: containerd not started" >&2; return 1; }
    mkdir -p "$DH_CTRD_DIR/certs.d/$host" || return 1
    cat >"$DH_CTRD_DIR/certs.d/$host/hosts.toml" <<EOT
server = "http://$host"

[host."http://$host"]
  capabilities = ["pull", "resolve"]
EOT
}

dh_ctr() {
    ctr --address "${DH_CTRD_SOCK:?containerd not started}" --namespace k8s.io "$@"
}

# dh_containerd_stop [WORKDIR]: TERM (KILL after 5 s), wait, unmount anything left
# under WORKDIR, remove WORKDIR and the socket directory.  Safe to call twice.
dh_containerd_stop() {
    local dir=${1:-${DH_CTRD_DIR:-}} sockdir="" pid mnt
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    [ -f "$dir/sockdir" ] && sockdir=$(cat "$dir/sockdir")
    if [ -f "$dir/containerd.pid" ]; then
        pid=$(cat "$dir/containerd.pid")
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
        rm -f "$dir/containerd.pid"
    fi
    # The native snapshotter mounts nothing, but a bind mount left by a crash would make
    # rm -rf descend into the host: unmount, deepest first.
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$dir" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    if awk -v d="$dir" 'index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        echo "dh_containerd_stop: mounts remain under $dir; not removing it" >&2
        return 1
    fi
    rm -rf "$dir"
    [ -n "$sockdir" ] && case $sockdir in /tmp/dh-ctrd.*) rm -rf "$sockdir" ;; esac
    if [ "${DH_CTRD_DIR:-}" = "$dir" ]; then
        unset DH_CTRD_DIR DH_CTRD_SOCK DH_CTRD_ENDPOINT DH_CTRD_PID
    fi
    return 0
}

# dh_containerd_running [WORKDIR]: true while the containerd of WORKDIR runs.
dh_containerd_running() {
    local dir=${1:-${DH_CTRD_DIR:-}}
    pgrep -f -- "containerd --config $dir/config.toml" >/dev/null
}
