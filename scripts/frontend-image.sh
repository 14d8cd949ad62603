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

say "building the static frontend binary (cargo build --release --target $target)"
# crt-static with an explicit --target links the binary statically without
# touching build scripts and proc macros.
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" -p envd-frontend
bin="target/$target/release/envd-frontend"
# ldd exits 0 on a static-pie binary too; read what it says.
linkage=$(ldd "$bin" 2>&1 || true)
case "$linkage" in
    *"statically linked"*|*"not a dynamic executable"*) ;;
    *) echo "frontend-image.sh: $bin is dynamically linked:" >&2; echo "$linkage" >&2; exit 1 ;;
esac

say "building $image from Dockerfile.frontend (target prebuilt)"
docker buildx build --progress=quiet -f Dockerfile.frontend --target prebuilt -t "$image" . >/dev/null
say "$image: $(docker image inspect -f '{{.Size}}' "$image") bytes"
