#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to the state the demo and the end-to-end
# tests need, and does nothing where that state is already there:
#
#   engine    dockerd (sid's docker.io, buildx, containerd; bookworm's runc)
#             with the containerd snapshotter, started in the background
#   registry  Debian's docker-registry serving 127.0.0.1:5000
#   bases     local stand-ins for the AIGES base images (debootstrap + import)
#   platforms qemu-user-static in binfmt_misc, an arm64 stand-in and an
#             amd64+arm64 index of the CPU stand-in in the registry
#   all       all of the above, in that order
#
# Every step says what it does on stderr. The machine has no init system, so
# the daemons are started here with their logs under /var/log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/bases.env
source "$here/bases.env"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (apt-get and dockerd need it)" >&2; exit 1; }; }

apt_updated=
apt_update_once() {
    if [ -z "$apt_updated" ]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
}

# Debian sid carries a docker.io new enough for BuildKit's merge/diff ops;
# bookworm's is too old. sid is pinned below bookworm so that nothing else is
# upgraded from it, and bookworm's runc is kept.
add_sid_source() {
    if [ ! -f /etc/apt/sources.list.d/envd-frontend-sid.sources ]; then
        say "adding Debian sid as a low-priority apt source for docker.io"
        cat >/etc/apt/sources.list.d/envd-frontend-sid.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        cat >/etc/apt/preferences.d/envd-frontend-sid <<'PIN'
Package: *
Pin: release n=sid
Pin-Priority: 100
PIN
        apt_updated=
    fi
}

engine_installed() {
    command -v dockerd >/dev/null && [ -x /usr/bin/docker ] \
        && [ -x /usr/libexec/docker/cli-plugins/docker-buildx ] \
        && command -v containerd >/dev/null && command -v runc >/dev/null
}

docker_up() { docker info >/dev/null 2>&1; }

install_engine() {
    if engine_installed; then return; fi
    need_root
    add_sid_source
    apt_update_once
    say "installing runc (bookworm), docker.io, docker-buildx, containerd (sid)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        runc/bookworm docker.io/sid docker-cli/sid docker-buildx/sid containerd/sid \
        iptables ca-certificates >/dev/null
}

# The containerd image store is what makes BuildKit in dockerd accept
# MergeOp/DiffOp and export a registry cache with the docker driver.
write_daemon_json() {
    local want='{"features":{"containerd-snapshotter":true}}'
    if [ "${ENVD_CLASSIC_STORE:-}" = 1 ]; then want='{"features":{"containerd-snapshotter":false}}'; fi
    mkdir -p /etc/docker
    if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$want" ]; then
        say "writing /etc/docker/daemon.json: $want"
        echo "$want" >/etc/docker/daemon.json
        return 0
    fi
    return 1
}

stop_dockerd() {
    if pgrep -x dockerd >/dev/null; then
        say "stopping dockerd"
        pkill -x dockerd || true
        for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null || break; sleep 0.5; done
    fi
}

start_engine() {
    install_engine
    local changed=0
    write_daemon_json && changed=1
    if [ "$changed" = 1 ]; then stop_dockerd; fi
    if docker_up; then say "dockerd is running"; return; fi
    need_root
    say "starting dockerd (log: /var/log/dockerd.log)"
    nohup "$(command -v dockerd)" >/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
    if ! docker_up; then
        echo "setup.sh: dockerd did not come up; last log lines:" >&2
        tail -n 30 /var/log/dockerd.log >&2
        exit 1
    fi
    say "dockerd is up: $(docker version --format '{{.Server.Version}}'), buildx $(docker buildx version | awk '{print $2}')"
}

registry_up() { curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; }

start_registry() {
    if registry_up; then say "registry is serving $REGISTRY"; return; fi
    need_root
    if ! command -v docker-registry >/dev/null; then
        apt_update_once
        say "installing docker-registry"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry curl >/dev/null
    fi
    mkdir -p /var/lib/envd-frontend/registry
    cat >/var/lib/envd-frontend/registry/config.yml <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/envd-frontend/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
CFG
    say "starting docker-registry on $REGISTRY (log: /var/log/envd-registry.log)"
    nohup docker-registry serve /var/lib/envd-frontend/registry/config.yml \
        >/var/log/envd-registry.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do registry_up && break; sleep 0.5; done
    registry_up || { echo "setup.sh: registry did not come up" >&2; tail -n 20 /var/log/envd-registry.log >&2; exit 1; }
}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# One debootstrapped root file system serves both stand-ins. They differ in
# their image config, which is what the frontend must carry through: the
# AIGES loader images work in /home/aiges, put their libraries on
# LD_LIBRARY_PATH and start the loader by default.
build_rootfs() {
    local root=/var/lib/envd-frontend/rootfs-$BASE_SUITE
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    need_root
    if ! command -v debootstrap >/dev/null; then
        apt_update_once
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    rm -rf "$root"
    say "debootstrap $BASE_SUITE into $root (a few minutes, once)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$root" \
        http://deb.debian.org/debian >/var/log/envd-debootstrap.log 2>&1 \
        || { tail -n 30 /var/log/envd-debootstrap.log >&2; exit 1; }
    # Without the host's CA bundle nothing inside a build step can reach the
    # package registries through this network.
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    # AIGES images ship a pip that installs system-wide; Debian's marker file
    # would refuse that.
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$root/home/aiges"
    touch "$root/.complete"
    echo "$root"
}

# Ubuntu 18.04 minbase, as the AIGES images' OS: no python, no pip; it
# shows the static installer on the oldest glibc the frontend supports.
build_ubuntu_rootfs() {
    local root=/var/lib/envd-frontend/rootfs-$UBUNTU_SUITE
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    need_root
    if ! command -v debootstrap >/dev/null || [ ! -f /usr/share/keyrings/ubuntu-archive-keyring.gpg ]; then
        apt_update_once
        say "installing debootstrap and ubuntu-keyring"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ubuntu-keyring >/dev/null
    fi
    rm -rf "$root"
    say "debootstrap $UBUNTU_SUITE into $root (a minute or two, once)"
    debootstrap --variant=minbase --keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg \
        "$UBUNTU_SUITE" "$root" "$UBUNTU_MIRROR" >/var/log/envd-debootstrap-ubuntu.log 2>&1 \
        || { tail -n 30 /var/log/envd-debootstrap-ubuntu.log >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$root/home/aiges"
    touch "$root/.complete"
    echo "$root"
}

import_base() {
    local ref=$1 device=$2 root=$3
    shift 3
    say "importing $ref from $root"
    tar -C "$root" --exclude=./.complete -c . | docker import "$@" \
        --change 'WORKDIR /home/aiges' \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LD_LIBRARY_PATH=/home/aiges/library" \
        --change "ENV AIGES_DEVICE=$device" \
        --change 'CMD ["/bin/sh","-c","echo aiges loader would start here"]' \
        --change "LABEL org.aiges.base=$device" \
        - "$ref" >/dev/null
}

manifest_in_registry() {
    local path=${1#"$REGISTRY"/}
    curl -fsS -o /dev/null \
        -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REGISTRY/v2/${path%:*}/manifests/${path##*:}" 2>/dev/null
}

ensure_bases() {
    local root=""
    for pair in "$BASE_CPU_IMAGE cpu" "$BASE_GPU_IMAGE gpu" "$BASE_UBUNTU_IMAGE cpu"; do
        set -- $pair
        if image_present "$1"; then say "base image $1 is present"; continue; fi
        if docker pull -q "$1" >/dev/null 2>&1; then say "pulled base image $1 from the local registry"; continue; fi
        if [ "$1" = "$BASE_UBUNTU_IMAGE" ]; then
            import_base "$1" "$2" "$(build_ubuntu_rootfs)"
            continue
        fi
        [ -n "$root" ] || root=$(build_rootfs)
        import_base "$1" "$2" "$root"
    done
    # The registry copy lets any BuildKit (docker driver or container driver)
    # resolve the bases the way it resolves a published image.
    for ref in "$BASE_CPU_IMAGE" "$BASE_GPU_IMAGE" "$BASE_UBUNTU_IMAGE"; do
        if ! manifest_in_registry "$ref"; then
            say "pushing $ref"
            docker push -q "$ref" >/dev/null
        fi
    done
}

# arm64 programs run here through qemu-user-static. The F flag makes the
# kernel open the interpreter once, at registration, so it also serves
# inside containers, whose file systems have no qemu.
ensure_emulation() {
    local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    if [ -f "$entry" ] && grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry"; then return; fi
    need_root
    if [ ! -x /usr/bin/qemu-aarch64-static ]; then
        apt_update_once
        say "installing qemu-user-static (arm64 steps under emulation)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
    fi
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    [ -f "$entry" ] && echo -1 >"$entry"
    say "registering qemu-aarch64-static in binfmt_misc"
    # magic and mask of an aarch64 ELF executable, as qemu's own
    # scripts/qemu-binfmt-conf.sh registers it
    printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
        >/proc/sys/fs/binfmt_misc/register
}

# The arm64 stand-in: minbase bookworm, debootstrapped under emulation
# (its second stage runs arm64 dpkg), with the amd64 stand-in's config.
build_arm64_rootfs() {
    local root=/var/lib/envd-frontend/rootfs-$BASE_SUITE-arm64
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    need_root
    rm -rf "$root"
    say "debootstrap $BASE_SUITE arm64 into $root (under emulation: several minutes, once)"
    debootstrap --arch=arm64 --variant=minbase --include=bash,ca-certificates "$BASE_SUITE" "$root" \
        http://deb.debian.org/debian >/var/log/envd-debootstrap-arm64.log 2>&1 \
        || { tail -n 30 /var/log/envd-debootstrap-arm64.log >&2; exit 1; }
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$root/home/aiges"
    touch "$root/.complete"
    echo "$root"
}

ensure_platforms() {
    ensure_emulation
    if manifest_in_registry "$BASE_MULTI_IMAGE"; then say "base image $BASE_MULTI_IMAGE is present"; return; fi
    if ! manifest_in_registry "$BASE_ARM64_IMAGE"; then
        if ! image_present "$BASE_ARM64_IMAGE"; then
            import_base "$BASE_ARM64_IMAGE" cpu "$(build_arm64_rootfs)" --platform linux/arm64
        fi
        say "pushing $BASE_ARM64_IMAGE"
        docker push -q "$BASE_ARM64_IMAGE" >/dev/null
    fi
    say "making $BASE_MULTI_IMAGE, an index of $BASE_CPU_IMAGE and $BASE_ARM64_IMAGE"
    docker buildx imagetools create -t "$BASE_MULTI_IMAGE" "$BASE_CPU_IMAGE" "$BASE_ARM64_IMAGE" >/dev/null
}

# What the end-to-end tests of private indexes run on the host: an SSH
# server and agent for git+ssh, gpg to sign a test apt repository.
ensure_test_tools() {
    local missing=()
    command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    command -v ssh-agent >/dev/null || missing+=(openssh-client)
    command -v gpg >/dev/null || missing+=(gpg)
    [ ${#missing[@]} -eq 0 ] && return
    need_root
    apt_update_once
    say "installing ${missing[*]} (for the end-to-end tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

case "${1:-all}" in
    engine) start_engine ;;
    registry) start_registry ;;
    bases) start_engine; start_registry; ensure_bases ;;
    platforms) start_engine; start_registry; ensure_bases; ensure_platforms ;;
    all) start_engine; start_registry; ensure_bases; ensure_platforms; ensure_test_tools ;;
    *) echo "usage: setup.sh [engine|registry|bases|platforms|all]" >&2; exit 2 ;;
esac
