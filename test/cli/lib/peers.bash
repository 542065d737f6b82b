# shellcheck shell=bash
# Runs the real peer credential helpers (Debian package golang-docker-credential-helpers)
# in throw-away environments, for the bats suites and hack/bench.sh.
# Source with `load lib/peers` (bats) or `. test/cli/lib/peers.bash`.  Linux only (/proc).
#
# Keyring, for docker-credential-secretservice:
#   dh_keyring_run CMD [ARG...]   runs CMD inside a fresh `dbus-run-session` in which an
#       unlocked gnome-keyring-daemon (secrets component only) owns org.freedesktop.secrets,
#       then kills the daemon; returns CMD's status.  stdin/stdout/stderr pass through.
#       CMD may be a shell function if it is exported (`export -f fn`).
#   dh_keyring_start / dh_keyring_stop   the same session kept open for the calling shell
#       (bats setup/teardown): start exports DBUS_SESSION_BUS_ADDRESS; stop ends the session
#       and fails if any process it started is still alive.
# pass, for docker-credential-pass:
#   dh_pass_run CMD [ARG...]      runs CMD (in a subshell) with a private GNUPGHOME holding a
#       passphrase-less key and an initialised private PASSWORD_STORE_DIR, then kills gpg-agent.
#   dh_pass_start / dh_pass_stop  the same, exported into the calling shell.
#
# Both recipes work as root, with no X display, no terminal and stdin closed: the keyring
# password and the empty key passphrase are fed by pipe / --batch, and every daemon gets its
# own HOME/XDG_RUNTIME_DIR (or GNUPGHOME) so it can never attach to the caller's daemons.
# Each stop function waits for the processes it started and returns 1 if one survives.
# Everything here is safe under `set -e` (bats): expected failures are handled.

DH_PEERS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
DH_KEYRING_PASSWORD=dockhand-test-keyring

# _dh_alive PID: true when PID exists and is not a zombie.
_dh_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# _dh_wait_gone PID...: waits up to 3 s for every PID to exit, then SIGKILLs survivors and
# returns 1 (a leak worth reporting).
_dh_wait_gone() {
    local pid i left
    for ((i = 0; i < 60; i++)); do
        left=0
        for pid in "$@"; do _dh_alive "$pid" && left=1; done
        [ $left = 0 ] && return 0
        sleep 0.05
    done
    for pid in "$@"; do
        if _dh_alive "$pid"; then
            echo "peers: process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) outlived its session; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    return 1
}

_dh_peer_tmpdir() {
    # Short paths: gpg-agent puts its sockets in GNUPGHOME when /run/user/UID is absent,
    # and a unix socket path must fit in 108 bytes.
    mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX"
}

# _dh_bus_call METHOD ARG: calls an org.freedesktop.DBus method on the session bus and
# prints the literal reply.
_dh_bus_call() {
    dbus-send --session --print-reply=literal --reply-timeout=2000 --dest=org.freedesktop.DBus \
            /org/freedesktop/DBus "org.freedesktop.DBus.$1" "$2" 2>/dev/null
}

# _dh_gkd_start DIR: on the current session bus, starts gnome-keyring-daemon in the
# foreground as a background job of this shell (so this shell reaps it), with HOME and
# XDG dirs under DIR, unlocking (creating) its login keyring with a fixed password fed on
# stdin.  Waits until it owns org.freedesktop.secrets.  Sets _DH_GKD_PID.
_dh_gkd_start() {
    local dir=$1 i owner
    mkdir -p "$dir/home/.local/share" "$dir/home/.config" "$dir/home/.cache" || return 1
    mkdir -m 0700 "$dir/run" || return 1
    printf '%s' "$DH_KEYRING_PASSWORD" |
        env -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK -u DISPLAY -u WAYLAND_DISPLAY \
            HOME="$dir/home" XDG_DATA_HOME="$dir/home/.local/share" \
            XDG_CONFIG_HOME="$dir/home/.config" XDG_CACHE_HOME="$dir/home/.cache" \
            XDG_RUNTIME_DIR="$dir/run" \
            gnome-keyring-daemon --foreground --unlock --components=secrets \
            >"$dir/gnome-keyring.log" 2>&1 &
    _DH_GKD_PID=$!
    # --unlock returns before the daemon has claimed its bus name; poll for it.  (Nothing
    # asks for the name meanwhile, so D-Bus never activates a second, locked daemon.)
    for ((i = 0; i < 200; i++)); do
        if ! _dh_alive "$_DH_GKD_PID"; then
            echo "peers: gnome-keyring-daemon exited during start-up:" >&2
            sed 's/^/peers:   /' "$dir/gnome-keyring.log" >&2
            wait "$_DH_GKD_PID" 2>/dev/null || true
            return 1
        fi
        case $(_dh_bus_call NameHasOwner string:org.freedesktop.secrets) in
            *true*) break ;;
        esac
        sleep 0.05
    done
    owner=$(_dh_bus_call GetConnectionUnixProcessID string:org.freedesktop.secrets) || owner=
    owner=${owner##* }
    if [ "$owner" != "$_DH_GKD_PID" ]; then
        echo "peers: org.freedesktop.secrets is owned by pid '${owner}', not by our gnome-keyring-daemon ($_DH_GKD_PID)" >&2
        _dh_gkd_stop
        return 1
    fi
    echo "$_DH_GKD_PID" >"$dir/gnome-keyring.pid"
}

# _dh_gkd_stop: kills and reaps the daemon started by _dh_gkd_start.
_dh_gkd_stop() {
    [ -n "${_DH_GKD_PID:-}" ] || return 0
    local rc=0
    kill -TERM "$_DH_GKD_PID" 2>/dev/null || true
    _dh_wait_gone "$_DH_GKD_PID" || rc=1
    wait "$_DH_GKD_PID" 2>/dev/null || true
    _DH_GKD_PID=
    return $rc
}

# _dh_bus_stop: (inside dbus-run-session) stops the session's dbus-daemon and waits until
# dbus-run-session has reaped it.  Left to dbus-run-session, the daemon is SIGTERMed when
# the session command exits but never waited for: it lingers as a zombie of init.
_dh_bus_stop() {
    local pid i
    pid=$(_dh_bus_call GetConnectionUnixProcessID string:org.freedesktop.DBus) || return 0
    pid=${pid##* }
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 60; i++)); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.05
    done
    echo "peers: dbus-daemon $pid was not reaped" >&2
    return 1
}

# _dh_keyring_session CMD...: runs inside dbus-run-session (see dh_keyring_run).
_dh_keyring_session() {
    local rc
    if [ -n "${DH_KEYRING_STDERR_FD:-}" ]; then
        # Back to the caller's stderr (dbus-daemon's own chatter stays in the log).
        exec 2>&"$DH_KEYRING_STDERR_FD"
        eval "exec ${DH_KEYRING_STDERR_FD}>&-"
        unset DH_KEYRING_STDERR_FD
    fi
    _dh_gkd_start "$DH_KEYRING_DIR" || return 1
    trap '_dh_gkd_stop; _dh_bus_stop; exit 143' TERM
    trap '_dh_gkd_stop; _dh_bus_stop; exit 130' INT
    trap '_dh_gkd_stop; _dh_bus_stop; exit 129' HUP
    "$@"
    rc=$?
    trap - TERM INT HUP
    _dh_gkd_stop || { [ $rc = 0 ] && rc=1; }
    _dh_bus_stop || { [ $rc = 0 ] && rc=1; }
    return $rc
}

# _dh_show_dbus_log FILE: prints the log minus the harmless warning dbus-daemon emits
# when it runs as root without CAP_SYS_RESOURCE, and minus the note of dbus-run-session
# when _dh_bus_stop ends the daemon.
_dh_show_dbus_log() {
    [ -s "$1" ] || return 0
    grep -v -e 'Failed to set fd limit' -e 'dbus-daemon exited with code 0' "$1" >&2 || true
}

dh_keyring_run() {
    local dir rc errfd
    [ $# -gt 0 ] || { echo "usage: dh_keyring_run CMD [ARG...]" >&2; return 2; }
    dir=$(_dh_peer_tmpdir dh-keyring) || return 1
    exec {errfd}>&2
    # shellcheck disable=SC2016 # expanded by the inner bash
    DH_KEYRING_DIR=$dir DH_KEYRING_STDERR_FD=$errfd \
        dbus-run-session -- bash -c '. "$1" || exit 125; shift; _dh_keyring_session "$@"' \
        dh-keyring "$DH_PEERS_LIB" "$@" 2>"$dir/dbus.log"
    rc=$?
    exec {errfd}>&-
    _dh_show_dbus_log "$dir/dbus.log"
    rm -rf "$dir"
    return $rc
}

# _dh_keyring_hold: body of the session kept open by dh_keyring_start.  Publishes the bus
# address, then waits for "stop" on the control FIFO, or for the owner shell to die.
_dh_keyring_hold() {
    local bus_pid cmd ctl
    # Held open for the whole session, so a "stop" written between two reads is kept.
    exec {ctl}<>"$DH_KEYRING_DIR/ctl" || exit 1
    _dh_gkd_start "$DH_KEYRING_DIR" || exit 1
    trap '_dh_gkd_stop; _dh_bus_stop; exit 143' TERM
    bus_pid=$(_dh_bus_call GetConnectionUnixProcessID string:org.freedesktop.DBus)
    bus_pid=${bus_pid##* }
    printf '%s\n%s\n%s\n' "$DBUS_SESSION_BUS_ADDRESS" "$_DH_GKD_PID" "$bus_pid" \
            >"$DH_KEYRING_DIR/ready.tmp"
    mv "$DH_KEYRING_DIR/ready.tmp" "$DH_KEYRING_DIR/ready"
    while _dh_alive "$DH_KEYRING_OWNER"; do
        # read -t is a builtin: no helper process to leak, and the TERM trap runs at once.
        if read -r -t 1 cmd <&"$ctl" && [ "$cmd" = stop ]; then break; fi
    done
    _dh_gkd_stop
    _dh_bus_stop
    # Orphaned (the owner died without dh_keyring_stop): nobody else will clean up.
    _dh_alive "$DH_KEYRING_OWNER" || rm -rf "$DH_KEYRING_DIR"
}

dh_keyring_start() {
    local dir i fd owner=$BASHPID # this shell, even when it is a subshell (unlike $$)
    if [ -n "${DH_KEYRING_DIR:-}" ]; then
        echo "dh_keyring_start: a keyring session is already running ($DH_KEYRING_DIR)" >&2
        return 1
    fi
    dir=$(_dh_peer_tmpdir dh-keyring) || return 1
    mkfifo "$dir/ctl" || return 1
    (
        # Close every inherited descriptor above stderr: bats waits for its fd 3 to close.
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
        done
        # shellcheck disable=SC2016 # expanded by the inner bash
        DH_KEYRING_DIR=$dir DH_KEYRING_OWNER=$owner exec dbus-run-session -- \
            bash -c '. "$1" || exit 125; _dh_keyring_hold' dh-keyring "$DH_PEERS_LIB"
    ) </dev/null >"$dir/session.log" 2>&1 &
    DH_KEYRING_SESSION_PID=$!
    for ((i = 0; i < 200; i++)); do
        [ -f "$dir/ready" ] && break
        _dh_alive "$DH_KEYRING_SESSION_PID" || break
        sleep 0.05
    done
    if [ ! -f "$dir/ready" ]; then
        echo "dh_keyring_start: the keyring session did not come up:" >&2
        _dh_show_dbus_log "$dir/session.log"
        kill -TERM "$DH_KEYRING_SESSION_PID" 2>/dev/null || true
        _dh_wait_gone "$DH_KEYRING_SESSION_PID" || true
        wait "$DH_KEYRING_SESSION_PID" 2>/dev/null || true
        rm -rf "$dir"
        unset DH_KEYRING_SESSION_PID
        return 1
    fi
    {
        read -r DBUS_SESSION_BUS_ADDRESS
        read -r DH_KEYRING_GKD_PID
        read -r DH_KEYRING_BUS_PID
    } <"$dir/ready"
    export DBUS_SESSION_BUS_ADDRESS DH_KEYRING_DIR=$dir DH_KEYRING_SESSION_PID
    export DH_KEYRING_GKD_PID DH_KEYRING_BUS_PID
}

dh_keyring_stop() {
    local dir=${DH_KEYRING_DIR:-} rc=0
    [ -n "$dir" ] || return 0
    echo stop 1<>"$dir/ctl"
    _dh_wait_gone "$DH_KEYRING_SESSION_PID" "$DH_KEYRING_GKD_PID" "$DH_KEYRING_BUS_PID" || rc=1
    wait "$DH_KEYRING_SESSION_PID" 2>/dev/null || true
    _dh_show_dbus_log "$dir/session.log"
    rm -rf "$dir"
    unset DH_KEYRING_DIR DH_KEYRING_SESSION_PID DH_KEYRING_GKD_PID DH_KEYRING_BUS_PID
    unset DBUS_SESSION_BUS_ADDRESS
    return $rc
}

# --- pass -------------------------------------------------------------------------------

dh_pass_start() {
    local dir fpr
    if [ -n "${DH_PASS_DIR:-}" ]; then
        echo "dh_pass_start: a pass environment is already set up ($DH_PASS_DIR)" >&2
        return 1
    fi
    dir=$(_dh_peer_tmpdir dh-pass) || return 1
    mkdir -m 0700 "$dir/gnupg" || return 1
    export DH_PASS_DIR=$dir GNUPGHOME=$dir/gnupg PASSWORD_STORE_DIR=$dir/store
    unset PASSWORD_STORE_KEY PASSWORD_STORE_GPG_OPTS PASSWORD_STORE_SIGNING_KEY \
        PASSWORD_STORE_EXTENSIONS_DIR PASSWORD_STORE_ENABLE_EXTENSIONS GPG_AGENT_INFO
    if ! gpg --batch --no-tty --passphrase '' \
            --quick-gen-key 'dockhand test <dockhand-test@example.invalid>' \
            future-default default never </dev/null >"$dir/setup.log" 2>&1; then
        echo "dh_pass_start: gpg key generation failed:" >&2
        sed 's/^/dh_pass_start:   /' "$dir/setup.log" >&2
        dh_pass_stop
        return 1
    fi
    fpr=$(gpg --batch --no-tty --with-colons --list-secret-keys 2>/dev/null |
            awk -F: '$1 == "fpr" { print $10; exit }')
    if [ -z "$fpr" ] || ! pass init "$fpr" </dev/null >>"$dir/setup.log" 2>&1; then
        echo "dh_pass_start: pass init failed:" >&2
        sed 's/^/dh_pass_start:   /' "$dir/setup.log" >&2
        dh_pass_stop
        return 1
    fi
    export DH_PASS_KEY=$fpr
}

dh_pass_stop() {
    local dir=${DH_PASS_DIR:-} rc=0 pids
    [ -n "$dir" ] || return 0
    gpgconf --kill all >/dev/null 2>&1 || true
    # The agent re-parents itself away from us: find it by its (unique) home directory.
    pids=$(pgrep -f -- "--homedir $GNUPGHOME( |\$)" 2>/dev/null) || pids=
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086 # one pid per word
        _dh_wait_gone $pids || rc=1
    fi
    gpgconf --remove-socketdir >/dev/null 2>&1 || true
    rm -rf "$dir"
    unset DH_PASS_DIR DH_PASS_KEY GNUPGHOME PASSWORD_STORE_DIR
    return $rc
}

dh_pass_run() {
    [ $# -gt 0 ] || { echo "usage: dh_pass_run CMD [ARG...]" >&2; return 2; }
    (
        unset DH_PASS_DIR
        dh_pass_start || exit 1
        trap 'dh_pass_stop; exit 143' TERM
        trap 'dh_pass_stop; exit 130' INT
        "$@"
        rc=$?
        trap - TERM INT
        dh_pass_stop || { [ $rc = 0 ] && rc=1; }
        exit $rc
    )
}
