#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to the state the demo and the end-to-end
# tests need, and does nothing where that state is already there:
#
#   engine    dockerd (sid's docker.io, buildx, containerd; bookworm's runc)
#             with the containerd snapshotter, started in the background
#   registry  Debian's docker-registry serving 127.0.0.1:5000
#   bases     local stand-ins for the AIGES base images (debootstrap, this
#             machine's CPython in /usr/local, a loader stand-in built from
#             scripts/aiges-standin/, import)
#   platforms qemu-user-static in binfmt_misc, an arm64 stand-in and an
#             amd64+arm64 index of the CPU stand-in in the registry
#   cross     what the arm64 frontend binary is cross-compiled with: Debian's
#             aarch64 gcc and static glibc, and rustup's aarch64 std
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

# The CPython the CPU and GPU stand-ins carry: this machine's own build, as
# AIGES builds its own (--enable-shared, into /usr/local, pip from get-pip),
# so nothing in the image is the distribution's python. It must be a shared
# build of BASE_PYTHON with its headers (libwrapper.so is compiled against
# them). STANDIN_PYTHON names another python3 to copy.
host_python_prefix() {
    local py=${STANDIN_PYTHON:-python3} prefix ver
    prefix=$("$py" -c 'import sys; print(sys.base_prefix)') \
        || { echo "setup.sh: no $py to copy into the stand-ins" >&2; exit 1; }
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$ver" != "$BASE_PYTHON" ]; then
        echo "setup.sh: $py is $ver; the stand-in tags in bases.env say $BASE_PYTHON (set STANDIN_PYTHON)" >&2
        exit 1
    fi
    if [ ! -f "$prefix/lib/libpython$ver.so.1.0" ] || [ ! -f "$prefix/include/python$ver/Python.h" ]; then
        echo "setup.sh: $prefix is not a --enable-shared build with headers (libpython$ver.so.1.0, Python.h)" >&2
        exit 1
    fi
    echo "$prefix"
}

# Copies the interpreter, libpython and the stdlib (without site-packages,
# tests, IDLE and tkinter) into <root>/usr/local, then installs pip there
# from the stdlib's bundled wheel (offline).
install_python() {
    local root=$1 prefix ver log=/var/log/envd-standin-python.log
    prefix=$(host_python_prefix)
    ver=$BASE_PYTHON
    say "copying the CPython $ver of $prefix into $root/usr/local"
    mkdir -p "$root/usr/local/bin" "$root/usr/local/lib" "$root/usr/local/include"
    install -m 0755 "$prefix/bin/python$ver" "$root/usr/local/bin/python$ver"
    ln -sfn "python$ver" "$root/usr/local/bin/python3"
    ln -sfn python3 "$root/usr/local/bin/python"
    install -m 0755 "$prefix/lib/libpython$ver.so.1.0" "$prefix/lib/libpython3.so" "$root/usr/local/lib/"
    ln -sfn "libpython$ver.so.1.0" "$root/usr/local/lib/libpython$ver.so"
    tar -C "$prefix/include" -c "python$ver" | tar -C "$root/usr/local/include" -x
    tar -C "$prefix/lib" -c \
        --anchored \
        --exclude="python$ver/site-packages/*" \
        --exclude="python$ver/test" --exclude="python$ver/*/test" --exclude="python$ver/*/tests" \
        --exclude="python$ver/idlelib" --exclude="python$ver/tkinter" --exclude="python$ver/turtledemo" \
        --exclude="python$ver/lib-dynload/_test*" --exclude="python$ver/lib-dynload/_ctypes_test*" \
        --exclude="python$ver/lib-dynload/_xxtestfuzz*" --exclude="python$ver/lib-dynload/_tkinter*" \
        --exclude="python$ver/config-*/libpython*.a" \
        --no-anchored --exclude=__pycache__ \
        "python$ver" | tar -C "$root/usr/local/lib" -x
    # sysconfig's build variables still name the machine's prefix.
    grep -rlIF "$prefix" "$root/usr/local/lib/python$ver" | xargs -r sed -i "s|$prefix|/usr/local|g"
    # The binary's RUNPATH names $prefix/lib, which the image lacks: ld.so
    # finds libpython through ld.so.cache instead (/usr/local/lib is in
    # Debian's ld.so.conf), as it does for the real images' libwrapper.so.
    chroot "$root" /sbin/ldconfig
    # The stdlib is compiled as `make install` would, so a container does not
    # recompile it on every start.
    say "installing pip into $root/usr/local (ensurepip, offline) and compiling the stdlib"
    {
        chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
            /usr/local/bin/python3 -m ensurepip --default-pip \
        && chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
            /usr/local/bin/python3 -m compileall -q -x site-packages "/usr/local/lib/python$ver"
    } >"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }
    # This pip verifies TLS with its vendored certifi bundle, not the
    # system's (Debian patches its own pip to use the system's); give it the
    # host's bundle too, or no index is reachable through this network.
    install -m 0644 /etc/ssl/certs/ca-certificates.crt \
        "$root/usr/local/lib/python$ver/site-packages/pip/_vendor/certifi/cacert.pem"
    # What the images' python must do, checked before anything is imported.
    if ! chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root sh -c '
            python3 -c "import ssl, sqlite3, ctypes, bz2, lzma, zlib, json, venv, uuid, readline, hashlib, curses, decimal" \
            && python3 -m pip --version && pip3 --version' >"$log" 2>&1; then
        echo "setup.sh: the stand-ins' python does not work; $log:" >&2
        cat "$log" >&2
        exit 1
    fi
}

# /home/aiges as in the AIGES images: the loader (AIservice) and library/
# with libwrapper.so, here small C stand-ins from scripts/aiges-standin/
# that reach Python the way the real ones do. libwrapper.so links the
# copied libpython without an rpath, like the real one.
install_loader() {
    local root=$1 prefix ver src=$here/aiges-standin
    prefix=$(host_python_prefix)
    ver=$BASE_PYTHON
    say "compiling the loader stand-in into $root/home/aiges (AIservice, library/libwrapper.so)"
    mkdir -p "$root/home/aiges/library"
    gcc -Wall -Wextra -O2 -o "$root/home/aiges/AIservice" "$src/AIservice.c" -ldl
    gcc -Wall -Wextra -O2 -fPIC -shared -I"$prefix/include/python$ver" \
        -o "$root/home/aiges/library/libwrapper.so" "$src/libwrapper.c" \
        -L"$prefix/lib" -l"python$ver" -ldl
}

# One root file system serves both stand-ins (the GPU one adds the CUDA
# directories when it is imported). They differ in their image config, which
# is what the frontend must carry through: the AIGES loader images work in
# /home/aiges, put their libraries on LD_LIBRARY_PATH and start the loader.
build_rootfs() {
    local root=/var/lib/envd-frontend/rootfs-$BASE_SUITE-py$BASE_PYTHON
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    need_root
    if ! command -v debootstrap >/dev/null; then
        apt_update_once
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    if ! command -v gcc >/dev/null; then
        apt_update_once
        say "installing gcc (for the loader stand-in)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
    fi
    rm -rf "$root"
    say "debootstrap $BASE_SUITE into $root (a few minutes, once)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$root" \
        http://deb.debian.org/debian >/var/log/envd-debootstrap.log 2>&1 \
        || { tail -n 30 /var/log/envd-debootstrap.log >&2; exit 1; }
    if [ -e "$root/usr/bin/python3" ]; then
        echo "setup.sh: a package of BASE_PACKAGES brought Debian's python3; the stand-ins must not have it" >&2
        exit 1
    fi
    # Without the host's CA bundle nothing inside a build step can reach the
    # package registries through this network.
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    install_python "$root"
    install_loader "$root"
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

# The Ubuntu and arm64 stand-ins: plain minbase with a placeholder CMD.
import_base() {
    local ref=$1 device=$2 root=$3
    shift 3
    say "importing $ref from $root"
    tar -C "$root" --exclude=./.complete --exclude=./debootstrap --exclude='./var/cache/apt/archives/*.deb' -c . \
        | docker import "$@" \
        --change 'WORKDIR /home/aiges' \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LD_LIBRARY_PATH=/home/aiges/library" \
        --change "ENV AIGES_DEVICE=$device" \
        --change 'CMD ["/bin/sh","-c","echo aiges loader would start here"]' \
        --change "LABEL org.aiges.base=$device" \
        - "$ref" >/dev/null
}

# What only the GPU stand-in has: nvidia/cuda's /usr/local/cuda-11.6 (with
# an empty lib64/stubs, LIBRARY_PATH's target) and the /usr/local/cuda link.
# Appended to the root file system's tar stream when the image is imported.
gpu_overlay() {
    local dir=/var/lib/envd-frontend/overlay-gpu-cuda-11.6
    mkdir -p "$dir/usr/local/cuda-11.6/lib64/stubs"
    ln -sfn cuda-11.6 "$dir/usr/local/cuda"
    echo "$dir"
}

# The CPU and GPU stand-ins, with the image config of the AIGES images:
# /home/aiges and its library/ on LD_LIBRARY_PATH, nvidia/cuda's environment
# on the GPU one. The real images inherit CMD ["python3"] from their python
# base; the stand-ins use the demos' start command instead, so that a test
# can start the loader with the image's own CMD.
import_aiges_base() {
    local ref=$1 device=$2 root=$3
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local ld=/home/aiges:/home/aiges/library
    local -a extra=() changes=()
    if [ "$device" = gpu ]; then
        path=/usr/local/nvidia/bin:/usr/local/cuda/bin:$path
        ld=/usr/local/nvidia/lib:/usr/local/nvidia/lib64:$ld
        changes=(
            --change "ENV CUDA_VERSION=11.6.2"
            --change "ENV NVIDIA_REQUIRE_CUDA=cuda>=11.6"
            --change "ENV NVIDIA_VISIBLE_DEVICES=all"
            --change "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility"
            --change "ENV LIBRARY_PATH=/usr/local/cuda/lib64/stubs"
        )
        extra=(-C "$(gpu_overlay)" ./usr/local/cuda-11.6 ./usr/local/cuda)
    fi
    say "importing $ref from $root"
    tar -C "$root" --exclude=./.complete -c . "${extra[@]}" | docker import \
        --change 'WORKDIR /home/aiges' \
        --change "ENV PATH=$path" \
        --change "ENV LD_LIBRARY_PATH=$ld" \
        --change "ENV AIGES_DEVICE=$device" \
        "${changes[@]}" \
        --change 'CMD ["sh","-c","./AIservice -m=0 -c=aiges.toml -s=svcName -u=http://companion.test -p=AIaaS -g=dx"]' \
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
        # shellcheck disable=SC2086 # split on purpose: reference, device
        set -- $pair
        if image_present "$1"; then say "base image $1 is present"; continue; fi
        if docker pull -q "$1" >/dev/null 2>&1; then say "pulled base image $1 from the local registry"; continue; fi
        if [ "$1" = "$BASE_UBUNTU_IMAGE" ]; then
            import_base "$1" "$2" "$(build_ubuntu_rootfs)"
            continue
        fi
        [ -n "$root" ] || root=$(build_rootfs)
        import_aiges_base "$1" "$2" "$root"
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

# The arm64 stand-in: minbase bookworm, debootstrap's first stage only,
# with the plain config of import_base. The first stage unpacks the
# required packages on this machine; the second, which runs their
# maintainer scripts, would run arm64 dpkg under emulation: 120 s of CPU
# on a fresh machine (138 s for both stages, 17 s for the first, measured
# here), beside the compile of make test, for nothing the tests use. What
# they need of it is done here: /etc/passwd and /etc/group (base-passwd's
# masters) and the CA bundle. The packages stay unpacked but
# unconfigured; /debootstrap and the downloaded .debs stay in the root for
# scripts/arm64-builder.sh, which runs the second stage in its copy, and
# out of the image (import_base). It has no python and no loader: the
# tests only build across platforms on it, and copying a CPython would
# need an arm64 build of one.
build_arm64_rootfs() {
    local root=/var/lib/envd-frontend/rootfs-$BASE_SUITE-arm64
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    need_root
    rm -rf "$root"
    say "debootstrap $BASE_SUITE arm64 into $root (first stage: nothing runs under emulation)"
    debootstrap --foreign --arch=arm64 --variant=minbase --include=bash,ca-certificates "$BASE_SUITE" "$root" \
        http://deb.debian.org/debian >/var/log/envd-debootstrap-arm64.log 2>&1 \
        || { tail -n 30 /var/log/envd-debootstrap-arm64.log >&2; exit 1; }
    # where it takes the machine for a container, the first stage makes
    # /proc a link to the host's; runc mounts proc only on a directory
    if [ -L "$root/proc" ]; then rm "$root/proc" && mkdir -m 0555 "$root/proc"; fi
    install -m 0644 "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
    install -m 0644 "$root/usr/share/base-passwd/group.master" "$root/etc/group"
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
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
    # amd64 is the CPU stand-in (python, loader); arm64 is the plain one.
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

# The arm64 frontend binary is cross-compiled here, on x86_64: rustc's
# aarch64 backend is built in, rustup's std for aarch64-unknown-linux-gnu
# matches the toolchain exactly, and bookworm's gcc-aarch64-linux-gnu links
# it with libc6-dev-arm64-cross's static glibc (crt-static, as on amd64).
# All three are host packages (no arm64 dpkg architecture), so nothing of
# the host's own libraries changes.
ensure_cross() {
    local missing=()
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
    [ -f /usr/aarch64-linux-gnu/lib/libc.a ] || missing+=(libc6-dev-arm64-cross)
    if [ ${#missing[@]} -gt 0 ]; then
        need_root
        apt_update_once
        say "installing ${missing[*]} (to cross-compile the arm64 frontend)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # (MAKEFLAGS unset: under `make -j` rustc would look for make's
    # jobserver, whose descriptors a recipe's script does not have.)
    if [ ! -d "$(cd "$here/.." && MAKEFLAGS= rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib" ]; then
        say "adding rustup's aarch64-unknown-linux-gnu std to $(cd "$here/.." && rustup show active-toolchain | cut -d' ' -f1)"
        (cd "$here/.." && rustup target add aarch64-unknown-linux-gnu >/dev/null) \
            || { echo "setup.sh: rustup could not add aarch64-unknown-linux-gnu (static.rust-lang.org unreachable?)" >&2; exit 1; }
    fi
}

case "${1:-all}" in
    engine) start_engine ;;
    registry) start_registry ;;
    bases) start_engine; start_registry; ensure_bases ;;
    platforms) start_engine; start_registry; ensure_bases; ensure_platforms ;;
    cross) ensure_cross ;;
    all) start_engine; start_registry; ensure_bases; ensure_platforms; ensure_cross; ensure_test_tools ;;
    *) echo "usage: setup.sh [engine|registry|bases|platforms|cross|all]" >&2; exit 2 ;;
esac
