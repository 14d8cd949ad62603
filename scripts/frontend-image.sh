#!/usr/bin/env bash
# Builds the static frontend binary on the host and puts it in the local
# engine as aiges/envd-frontend:latest (Dockerfile.frontend, target
# `prebuilt`), which needs no registry. Shared by `make image` and the
# end-to-end tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

image=${ENVD_FRONTEND_IMAGE:-aiges/envd-frontend:latest}
target=x86_64-unknown-linux-gnu
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

say "building the static frontend binary (scripts/release-binaries.sh)"
bash scripts/release-binaries.sh
bin="target/$target/release/envd-frontend"
# ldd exits 0 on a static-pie binary too; read what it says.
linkage=$(ldd "$bin" 2>&1 || true)
case "$linkage" in
    *"statically linked"*|*"not a dynamic executable"*) ;;
    *) echo "frontend-image.sh: $bin is dynamically linked:" >&2; echo "$linkage" >&2; exit 1 ;;
esac

# uv from PyPI's wheel, at the version and hash Dockerfile.frontend pins;
# downloaded once into target/uv.
pin() { sed -n "s/^ARG $1=//p" Dockerfile.frontend; }
uv_version=$(pin UV_VERSION) uv_url=$(pin UV_WHEEL_URL) uv_sha=$(pin UV_WHEEL_SHA256)
mkdir -p target/uv
if [ "$(cat target/uv/version 2>/dev/null)" != "$uv_version $uv_sha" ] || [ ! -x target/uv/uv ]; then
    say "fetching uv $uv_version (PyPI wheel, sha256 $uv_sha)"
    curl -fsSL --retry 3 -o target/uv/uv.whl.part "$uv_url"
    echo "$uv_sha  target/uv/uv.whl.part" | sha256sum -c --quiet - \
        || { echo "frontend-image.sh: the uv wheel does not have the pinned sha256" >&2; exit 1; }
    python3 -c "import sys, zipfile; open('target/uv/uv', 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))" \
        target/uv/uv.whl.part "uv-$uv_version.data/scripts/uv"
    chmod 0755 target/uv/uv
    rm -f target/uv/uv.whl.part
    echo "$uv_version $uv_sha" >target/uv/version
fi

say "building $image from Dockerfile.frontend (target prebuilt)"
docker buildx build --progress=quiet -f Dockerfile.frontend --target prebuilt -t "$image" . >/dev/null
say "$image: $(docker image inspect -f '{{.Size}}' "$image") bytes"
