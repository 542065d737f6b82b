# shellcheck shell=bash
# Session buses without a working Secret Service, for test/cli/40-secretservice.bats.
# Builds on lib/peers.bash (source that first).  Linux only (/proc).
#
#   dh_bare_bus_run CMD [ARG...]   runs CMD inside a private `dbus-run-session` whose bus
#       has no activatable services at all, so nothing provides org.freedesktop.secrets
#       ("The name org.freedesktop.secrets was not provided by any .service files").
#   dh_black_hole_run CMD [ARG...] the same bus, with `dbus-test-tool black-hole` owning
#       org.freedesktop.secrets: it receives every method call and never replies.
#   dh_dead_bus_address DIR        prints a D-Bus address whose socket accepts connections
#       and never speaks (started with dh_dead_bus_start DIR, stopped by dh_dead_bus_stop).
# Each returns CMD's status, stops every process it started and fails if one survives.
# CMD may be a shell function if it is exported (`export -f fn`).

DH_KEYRING_EXTRA_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

# _dh_bare_bus_config DIR: writes DIR/session.conf, a session bus listening in DIR with
# no service directories.
_dh_bare_bus_config() {
    cat >"$1/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$1</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$1/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    mkdir -p "$1/services"
}

# _dh_bare_session MODE CMD...: runs inside dbus-run-session.  MODE is "bare" or
# "black-hole".
_dh_bare_session() {
    local mode=$1 rc hole='' i
    shift
    if [ -n "${DH_BARE_STDERR_FD:-}" ]; then
        exec 2>&"$DH_BARE_STDERR_FD"
        eval "exec ${DH_BARE_STDERR_FD}>&-"
        unset DH_BARE_STDERR_FD
    fi
    if [ "$mode" = black-hole ]; then
        dbus-test-tool black-hole --session --name=org.freedesktop.secrets \
            >"$DH_BARE_DIR/black-hole.log" 2>&1 </dev/null &
        hole=$!
        for ((i = 0; i < 200; i++)); do
            case $(_dh_bus_call NameHasOwner string:org.freedesktop.secrets) in
                *true*) break ;;
            esac
            _dh_alive "$hole" || break
            sleep 0.05
        done
        case $(_dh_bus_call NameHasOwner string:org.freedesktop.secrets) in
            *true*) ;;
            *)
                echo "keyring-extra: dbus-test-tool black-hole did not claim org.freedesktop.secrets" >&2
                cat "$DH_BARE_DIR/black-hole.log" >&2
                kill -TERM "$hole" 2>/dev/null || true
                wait "$hole" 2>/dev/null || true
                _dh_bus_stop || true
                return 1
                ;;
        esac
    fi
    "$@"
    rc=$?
    if [ -n "$hole" ]; then
        kill -TERM "$hole" 2>/dev/null || true
        _dh_wait_gone "$hole" || { [ $rc = 0 ] && rc=1; }
        wait "$hole" 2>/dev/null || true
    fi
    _dh_bus_stop || { [ $rc = 0 ] && rc=1; }
    return $rc
}

_dh_bare_run() {
    local mode=$1 dir rc errfd
    shift
    [ $# -gt 0 ] || { echo "usage: dh_${mode//-/_}_run CMD [ARG...]" >&2; return 2; }
    dir=$(_dh_peer_tmpdir dh-bus) || return 1
    _dh_bare_bus_config "$dir" || return 1
    exec {errfd}>&2
    # shellcheck disable=SC2016 # expanded by the inner bash
    DH_BARE_DIR=$dir DH_BARE_STDERR_FD=$errfd \
        dbus-run-session --config-file="$dir/session.conf" -- \
        bash -c '. "$1" && . "$2" || exit 125; shift 2; _dh_bare_session "$@"' \
        dh-bus "$DH_PEERS_LIB" "$DH_KEYRING_EXTRA_LIB" "$mode" "$@" 2>"$dir/dbus.log"
    rc=$?
    exec {errfd}>&-
    _dh_show_dbus_log "$dir/dbus.log"
    rm -rf "$dir"
    return $rc
}

dh_bare_bus_run() { _dh_bare_run bare "$@"; }
dh_black_hole_run() { _dh_bare_run black-hole "$@"; }

# dh_dead_bus_start DIR: a unix socket DIR/bus that accepts connections and never answers
# (python3), standing in for a hung dbus-daemon.  Sets DH_DEAD_BUS_PID.
dh_dead_bus_start() {
    local dir=$1 i
    rm -f "$dir/bus"
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$dir/bus" </dev/null >/dev/null 2>&1 3>&- &
    DH_DEAD_BUS_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -S "$dir/bus" ] && return 0
        sleep 0.05
    done
    echo "keyring-extra: the dead bus socket did not appear" >&2
    dh_dead_bus_stop
    return 1
}

dh_dead_bus_address() {
    printf 'unix:path=%s/bus\n' "$1"
}

dh_dead_bus_stop() {
    [ -n "${DH_DEAD_BUS_PID:-}" ] || return 0
    local rc=0
    kill -TERM "$DH_DEAD_BUS_PID" 2>/dev/null || true
    _dh_wait_gone "$DH_DEAD_BUS_PID" || rc=1
    wait "$DH_DEAD_BUS_PID" 2>/dev/null || true
    unset DH_DEAD_BUS_PID
    return $rc
}
