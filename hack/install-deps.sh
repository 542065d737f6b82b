#!/usr/bin/env bash
# Installs every package dockhand needs to build, test, fuzz, bench and demo on
# Debian 12.  Idempotent: installs only what is missing, and does nothing (no
# apt-get call at all) when everything is present.
set -euo pipefail

PKGS=(
    # build
    build-essential pkg-config libcurl4-openssl-dev libjansson-dev libssl-dev libyaml-dev libsecret-1-dev
    # fuzzing and format
    clang libclang-rt-14-dev clang-format
    # tests: real registry, real clients, peers, keyring
    bats jq skopeo docker-registry apache2-utils umoci golang-docker-credential-helpers pass gnupg
    containerd protobuf-compiler iproute2 curl
    gnome-keyring dbus dbus-x11 libsecret-tools dbus-tests strace
    # test fakes (AWS, Google, Kubernetes API servers), test certificates, deploy/ validation
    python3 python3-yaml openssl util-linux mount
    # prune: systemd-analyze checks the units in deploy/prune/
    systemd
    # benchmarks
    time hyperfine amazon-ecr-credential-helper
)

missing=()
for p in "${PKGS[@]}"; do
    case "$p" in \#*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the lists when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
