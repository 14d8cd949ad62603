#!/usr/bin/env bash
# A real build through an arm64 BuildKit on this amd64 machine, as an Apple
# silicon Mac or a Graviton runner would run one: an arm64 Debian VM
# (qemu-system-aarch64, the whole machine emulated) runs sid's dockerd, and
# its BuildKit pulls the frontend index from the host's registry.
#
# The VM has no binfmt_misc and no qemu-user, so an amd64 binary cannot run
# in it at all: the build succeeding means the index's linux/arm64 image
# served it, both as the frontend and as the conda installer it mounts into
# the step. The build installs a conda package that the channel has for
# both architectures and runs a step; the script also checks in the build's
# progress that the VM pulled the arm64 image's layer and not the amd64
# one, and fails unless the image's files say aarch64.
#
# Slow, so not part of `make test` (`make arm64-builder` runs it): the first
# run installs a kernel and docker into an arm64 root file system under
# qemu-user (a few minutes), and every run boots the emulated VM, starts
# dockerd in it and builds (many minutes more on 2 cores).
#
# ENVD_FRONTEND_IMAGE names the index in the registry (as for
# frontend-image.sh; default aiges/envd-frontend:latest, which `make image`
# pushes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bases.env
source scripts/bases.env

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "arm64-builder.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (chroot, mkfs)"

image=${ENVD_FRONTEND_IMAGE:-aiges/envd-frontend:latest}
vm=/var/lib/envd-frontend/vm-arm64
root=$vm/root
# The VM reaches the host as 10.0.2.2 (qemu's user network), so the
# registry is 10.0.2.2:5000 in there.
host_registry=10.0.2.2:${REGISTRY##*:}
frontend=$host_registry/$image
base=$host_registry/${BASE_ARM64_IMAGE#*/}

command -v qemu-system-aarch64 >/dev/null || {
    say "installing qemu-system-arm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
}
[ -d "/var/lib/envd-frontend/rootfs-$BASE_SUITE-arm64" ] || die "no arm64 root file system: run scripts/setup.sh platforms first"
# The layer of each of the index's two images, to tell from the build's
# progress which one the VM pulled.
index=$(docker buildx imagetools inspect --raw "$REGISTRY/$image") \
    || die "$REGISTRY/$image is not in the registry: run make image first"
layer_of() {
    local manifest
    manifest=$(python3 -c 'import json,sys; print(next((m["digest"] for m in json.load(sys.stdin).get("manifests", []) if m.get("platform", {}).get("architecture") == sys.argv[1]), ""))' "$1" <<<"$index")
    [ -n "$manifest" ] || return 0
    docker buildx imagetools inspect --raw "$REGISTRY/${image%:*}@$manifest" \
        | python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'
}
arm64_layer=$(layer_of arm64)
amd64_layer=$(layer_of amd64)
[ -n "$arm64_layer" ] || die "$REGISTRY/$image has no linux/arm64 image: run make image (not image-native)"

# The VM's root: a copy of the arm64 stand-in's debootstrap, with a kernel,
# iptables and sid's docker (as scripts/setup.sh installs them on the host).
in_root() { chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
if [ ! -f "$vm/ready" ]; then
    rm -rf "$vm" && mkdir -p "$vm"
    say "copying the arm64 root file system (scripts/setup.sh platforms made it)"
    cp -a "/var/lib/envd-frontend/rootfs-$BASE_SUITE-arm64" "$root"
    # setup.sh unpacks the stand-in with debootstrap's first stage only;
    # apt needs the packages configured.
    if [ -d "$root/debootstrap" ]; then
        say "configuring its packages: debootstrap's second stage (under qemu-user: about two minutes)"
        chroot "$root" /debootstrap/debootstrap --second-stage >"$vm/debootstrap.log" 2>&1 \
            || { tail -n 30 "$vm/debootstrap.log" >&2; die "debootstrap's second stage failed (log: $vm/debootstrap.log)"; }
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    cat >"$root/etc/apt/sources.list.d/sid.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
SRC
    printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' >"$root/etc/apt/preferences.d/sid"
    # The host's apt settings: the mirror this machine reaches serves
    # Release files past their Valid-Until, which the host's apt accepts.
    cp /etc/apt/apt.conf.d/* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true
    # An initramfs of the few modules the VM boots from (virtio disk,
    # ext4): Debian's default puts in most of the kernel's modules, and
    # compressing those under qemu-user takes over ten minutes.
    mkdir -p "$root/etc/initramfs-tools/conf.d"
    echo MODULES=list >"$root/etc/initramfs-tools/conf.d/envd-vm"
    printf '%s\n' virtio_pci virtio_mmio virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
    mount -t proc proc "$root/proc"
    trap 'umount "$root/proc" 2>/dev/null || true' EXIT
    say "installing a kernel and sid's docker into it (under qemu-user: minutes)"
    in_root apt-get update -qq
    in_root apt-get install -y -qq --no-install-recommends linux-image-arm64 kmod iproute2 iptables ca-certificates >/dev/null
    in_root apt-get install -y -qq --no-install-recommends runc/bookworm docker.io/sid docker-cli/sid \
        docker-buildx/sid containerd/sid >/dev/null
    umount "$root/proc"
    trap - EXIT
    cp "$root"/boot/vmlinuz-* "$vm/vmlinuz"
    cp "$root"/boot/initrd.img-* "$vm/initrd.img"
    touch "$vm/ready"
fi

# The build: `archmark` from a channel with a build of it for each
# architecture, whose one file says which (envd_conda_fixture::archmark,
# written by the channel writer `make image` built), and a run step.
write_channel=target/x86_64-unknown-linux-gnu/release/examples/write-channel
[ -x "$write_channel" ] || die "no $write_channel: run make image first"
ctx=$root/ctx
rm -rf "$ctx" && mkdir -p "$ctx"
"$write_channel" "$ctx/channel" 0 archmark
cat >"$ctx/build.envd" <<EOF
# syntax=$frontend
def build():
    config.conda_channel(channel="channels: [defaults]\ndefault_channels: [./channel]\n")
    base(image="$base")
    install.conda_packages(name=["archmark"])
    run(commands=["uname -m > /arch"])
EOF
mkdir -p "$root/etc/docker"
cat >"$root/etc/docker/daemon.json" <<EOF
{"features": {"containerd-snapshotter": true}, "insecure-registries": ["$host_registry"]}
EOF
cat >"$root/envd-init" <<'INIT'
#!/bin/sh
# PID 1 of the VM: mounts, modules, network, containerd and dockerd, the
# build, power off. Every line for the host starts with
# ENVD-ARM64.
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in virtio_net overlay bridge br_netfilter veth nf_tables nft_chain_nat nft_compat xt_addrtype \
    xt_conntrack xt_MASQUERADE iptable_nat iptable_filter; do modprobe "$m" 2>/dev/null; done
ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" >/etc/resolv.conf
containerd >/var/log/containerd.log 2>&1 &
dockerd >/var/log/dockerd.log 2>&1 &
i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 900 ] && break; sleep 1; done
echo "ENVD-ARM64 dockerd: $(docker info -f '{{.Architecture}} {{.ServerVersion}} {{.Driver}}' 2>&1)"
echo "ENVD-ARM64 binfmt: $(ls /proc/sys/fs/binfmt_misc 2>/dev/null | tr '\n' ' ')"
start=$(date +%s)
if docker buildx build --progress=plain -f /ctx/build.envd -t envd-arm64-check /ctx 2>&1 | sed 's/^/ENVD-ARM64 | /'; then
    echo "ENVD-ARM64 build took $(( $(date +%s) - start )) s"
    echo "ENVD-ARM64 result: $(docker run --rm envd-arm64-check sh -c 'cat /arch /opt/conda/share/archmark' | tr '\n' ' ')"
else
    echo "ENVD-ARM64 build failed"; tail -n 30 /var/log/dockerd.log | sed 's/^/ENVD-ARM64 dockerd | /'
fi
sync; echo o >/proc/sysrq-trigger; sleep 10
INIT
chmod 0755 "$root/envd-init"

say "making the VM's disk"
rm -f "$vm/disk.img"
mkfs.ext4 -q -F -d "$root" "$vm/disk.img" 8G
say "booting the arm64 VM (emulated): dockerd, then the build through $frontend"
log=$vm/console.log
timeout 3600 qemu-system-aarch64 -M virt -cpu max -smp 2 -m 4096 -nographic -no-reboot \
    -kernel "$vm/vmlinuz" -initrd "$vm/initrd.img" \
    -append "root=/dev/vda rw init=/envd-init console=ttyAMA0 panic=-1" \
    -drive "file=$vm/disk.img,if=virtio,format=raw" \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= >"$log" 2>&1 || true
rm -f "$vm/disk.img"
grep -a 'ENVD-ARM64' "$log" | grep -av ' [0-9.]*[kM]B / ' | tail -n 60
grep -aq 'ENVD-ARM64 dockerd: aarch64' "$log" || die "dockerd did not come up on aarch64 (console: $log)"
grep -aq 'ENVD-ARM64 result: aarch64 aarch64' "$log" || die "the arm64 build did not give aarch64 files (console: $log)"
for layer in $arm64_layer; do
    grep -aq "ENVD-ARM64 | #[0-9]* extracting $layer" "$log" || die "the VM did not pull the arm64 image's layer $layer (console: $log)"
done
for layer in $amd64_layer; do
    if grep -aq "$layer" "$log"; then die "the VM pulled the amd64 image's layer $layer (console: $log)"; fi
done
say "an arm64 BuildKit built through the index's linux/arm64 image (layer $arm64_layer)"
