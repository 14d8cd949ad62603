#!/usr/bin/env bash
# Builds the static frontend binaries on the host and puts the image in the
# local engine as aiges/envd-frontend:latest (Dockerfile.frontend, target
# `prebuilt`), which needs no registry. Shared by `make image`, `make demo`
# and the end-to-end tests.
#
#   frontend-image.sh [--platforms LIST]
#
# LIST is linux/amd64,linux/arm64 (the default: an index of both, which is
# also pushed to the local registry, as $REGISTRY/aiges/envd-frontend:latest
# for builders of either platform) or one of them. ENVD_FRONTEND_IMAGE names
# the image otherwise (the registry's copy then has that name too). dockerd's classic image
# store holds one platform per tag, so there only this machine's (amd64) is
# built and loaded.
#
# ENVD_BINARIES_BUILT=1 says the caller has just built the binaries from
# this tree (the Makefile's e2e recipe, after image-native), so they are
# taken as they are, without cargo: `make test` cross-compiles arm64 in
# another lane, and cargo's lock on target/release would hold every
# amd64 image build of the end-to-end tests until that compile is done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bases.env
source scripts/bases.env

image=${ENVD_FRONTEND_IMAGE:-aiges/envd-frontend:latest}
platforms=linux/amd64,linux/arm64
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "frontend-image.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --platforms) platforms=${2:?--platforms needs a list}; shift 2 ;;
        *) die "unknown argument $1 (usage: frontend-image.sh [--platforms linux/amd64,linux/arm64])" ;;
    esac
done
if ! docker info -f '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter; then
    [ "$platforms" = linux/amd64 ] || say "the classic image store holds one platform: building linux/amd64 only"
    platforms=linux/amd64
fi

# uv from PyPI's wheel for the platform, at the version and hash
# Dockerfile.frontend pins; downloaded once into target/uv/linux-<arch>/.
pin() { sed -n "s/^ARG $1=//p" Dockerfile.frontend; }
fetch_uv() {
    local arch=$1 dir=target/uv/linux-$1 suffix
    suffix=$(tr a-z A-Z <<<"$arch")
    local version url sha
    version=$(pin UV_VERSION) url=$(pin "UV_WHEEL_URL_$suffix") sha=$(pin "UV_WHEEL_SHA256_$suffix")
    [ -n "$url" ] && [ -n "$sha" ] || die "Dockerfile.frontend pins no uv wheel for $arch"
    mkdir -p "$dir"
    if [ "$(cat "$dir/version" 2>/dev/null)" != "$version $sha" ] || [ ! -x "$dir/uv" ]; then
        say "fetching uv $version for linux/$arch (PyPI wheel, sha256 $sha)"
        curl -fsSL --retry 3 -o "$dir/uv.whl.part" "$url"
        echo "$sha  $dir/uv.whl.part" | sha256sum -c --quiet - \
            || die "the uv wheel for $arch does not have the pinned sha256"
        python3 -c "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))" \
            "$dir/uv.whl.part" "uv-$version.data/scripts/uv" "$dir/uv"
        chmod 0755 "$dir/uv"
        rm -f "$dir/uv.whl.part"
        echo "$version $sha" >"$dir/version"
    fi
}

# Builds, checks and stages one platform's binaries in target/image/.
stage() {
    local arch=$1 triple flags=()
    case "$arch" in
        amd64) triple=x86_64-unknown-linux-gnu ;;
        arm64) triple=aarch64-unknown-linux-gnu flags=(--arm64) ;;
        *) die "no frontend build for linux/$arch (linux/amd64 and linux/arm64 are built)" ;;
    esac
    local bin=target/$triple/release/envd-frontend
    if [ "${ENVD_BINARIES_BUILT:-}" = 1 ]; then
        [ -x "$bin" ] || die "ENVD_BINARIES_BUILT=1, but there is no $bin (scripts/release-binaries.sh ${flags[*]} builds it)"
        say "taking the static frontend binary for linux/$arch as built ($bin)"
    else
        say "building the static frontend binary for linux/$arch (scripts/release-binaries.sh ${flags[*]})"
        bash scripts/release-binaries.sh "${flags[@]}"
    fi
    # A dynamic executable names its interpreter (ld.so); readelf reads
    # either architecture's ELF.
    if readelf -lW "$bin" | grep -q 'program interpreter'; then
        die "$bin is dynamically linked"
    fi
    fetch_uv "$arch"
    local dir=target/image/linux-$arch
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$bin" "$dir/envd-frontend"
    cp "target/uv/linux-$arch/uv" "$dir/uv"
}

IFS=, read -r -a list <<<"$platforms"
for platform in "${list[@]}"; do
    case "$platform" in
        linux/*) stage "${platform#linux/}" ;;
        *) die "no frontend build for $platform" ;;
    esac
done

say "building $image for $platforms from Dockerfile.frontend (target prebuilt)"
docker buildx build --progress=quiet -f Dockerfile.frontend --target prebuilt --platform "$platforms" \
    -t "$image" --load . >/dev/null
for platform in "${list[@]}"; do
    say "$image $platform: $(docker image inspect --platform "$platform" -f '{{.Size}}' "$image") bytes"
done
if [ "${#list[@]}" -gt 1 ]; then
    pushed=$REGISTRY/${image#docker.io/}
    say "pushing the index to $pushed"
    docker tag "$image" "$pushed"
    docker push --quiet "$pushed" >/dev/null
fi
