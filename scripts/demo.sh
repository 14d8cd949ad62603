#!/usr/bin/env bash
# The demo: builds examples/hello/build.envd into an image with docker
# buildx through the frontend image, then runs it. Expects `make setup` and
# `make image` to have run (the Makefile's demo target does both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

frontend=${ENVD_FRONTEND_IMAGE:-aiges/envd-frontend:latest}
tag=envd-demo/hello:latest

say "docker buildx build --build-arg BUILDKIT_SYNTAX=$frontend -f examples/hello/build.envd -t $tag examples/hello"
docker buildx build --build-arg BUILDKIT_SYNTAX="$frontend" \
    -f examples/hello/build.envd -t "$tag" examples/hello

say "docker run --rm $tag cat /home/aiges/hello.txt"
docker run --rm "$tag" cat /home/aiges/hello.txt
say "the image keeps its base's config:"
docker image inspect -f 'WorkingDir={{.Config.WorkingDir}} Cmd={{json .Config.Cmd}}' "$tag"
