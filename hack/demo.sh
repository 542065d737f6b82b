#!/usr/bin/env bash
# `make demo`: docker-credential-dockhand end to end against a real local
# registry.  Starts docker-registry with htpasswd auth on a free 127.0.0.1 port,
# pushes a small image built offline, stores the login in dockhand, lets skopeo
# read it through a docker config.json (credHelpers), erases it and shows that
# the registry then refuses.  Everything lives in a temporary directory with a
# private HOME and XDG tree: your own credentials and configuration are never read
# or written.  Cleans up (registry included) on success, failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILDDIR=${BUILDDIR:-build}
export BUILDDIR
export DOCKHAND_BIN_DIR="$PWD/$BUILDDIR/bin"
# shellcheck source=test/cli/lib/registry.bash
. test/cli/lib/registry.bash

step=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
header() {
    step=$((step + 1))
    printf '\n%s==> %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
# show ARGS...: prints a command line as it would be typed.
show() { printf '$ %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

helper=docker-credential-dockhand
[ -x "$DOCKHAND_BIN_DIR/$helper" ] || die "$DOCKHAND_BIN_DIR/$helper is missing (run make)"
dh_require docker-registry htpasswd skopeo jq || die "missing tools (run hack/install-deps.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dockhand-demo.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    header "Clean up"
    dh_registry_stop "$work/registry"
    rm -rf "$work"
    echo "registry stopped, $work removed"
    if [ "$rc" -eq 0 ]; then echo "demo finished"; else echo "demo FAILED (status $rc)" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private world for the demo, like the tests' dh_isolate.
export HOME="$work/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$work/run" DOCKER_CONFIG="$work/docker-config"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$DOCKER_CONFIG"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
unset DOCKHAND_NAMESPACE DOCKHAND_STORE DOCKHAND_CONFIG DOCKER_AUTH_CONFIG REGISTRY_AUTH_FILE
export PATH="$DOCKHAND_BIN_DIR:$PATH"

header "Start a registry with htpasswd (bcrypt) auth"
dh_registry_start "$work/registry" demo
echo "docker-registry (pid $DH_REG_PID) listens on http://$DH_REG_HOST, user '$DH_REG_USER'"

header "Push a test image built offline"
dh_registry_push_test_image demo/hello:latest
show skopeo copy --dest-tls-verify=false --dest-creds "$DH_REG_USER:****" oci:… "docker://$DH_REG_IMAGE"
echo "pushed $DH_REG_IMAGE ($DH_REG_IMAGE_DIGEST)"

header "Store the login in dockhand"
show "printf '{\"ServerURL\":\"$DH_REG_HOST\",\"Username\":\"$DH_REG_USER\",\"Secret\":\"****\"}' | $helper store"
jq -cn --arg url "$DH_REG_HOST" --arg user "$DH_REG_USER" --arg secret "$DH_REG_PASS" \
    '{ServerURL: $url, Username: $user, Secret: $secret}' | "$helper" store
echo "stored (file store under $XDG_DATA_HOME/dockhand/)"

header "Point a docker config at dockhand"
jq -n --arg h "$DH_REG_HOST" '{credHelpers: {($h): "dockhand"}}' >"$DOCKER_CONFIG/config.json"
show cat "\$DOCKER_CONFIG/config.json"
cat "$DOCKER_CONFIG/config.json"

header "skopeo inspect reads the login through docker-credential-dockhand"
show skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
out=$(skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE") || die "skopeo inspect failed"
digest=$(jq -r .Digest <<<"$out")
echo "Digest: $digest"
[ "$digest" = "$DH_REG_IMAGE_DIGEST" ] || die "digest $digest is not the pushed $DH_REG_IMAGE_DIGEST"

header "List what dockhand holds"
show "$helper list"
"$helper" list </dev/null

header "Erase the login"
show "echo $DH_REG_HOST | $helper erase"
echo "$DH_REG_HOST" | "$helper" erase
show "echo $DH_REG_HOST | $helper get"
if out=$(echo "$DH_REG_HOST" | "$helper" get); then die "get still finds the credential: $out"; fi
echo "$out"

header "skopeo inspect now fails"
show skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE"
if out=$(skopeo inspect --tls-verify=false "docker://$DH_REG_IMAGE" 2>&1); then
    die "skopeo inspect still succeeds after the erase"
fi
printf '%s\n' "$out" | tail -n 1
echo "(as expected: without the stored login the registry refuses the request)"
