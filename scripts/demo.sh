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

# The seed example needs conda channels; none is reachable here, so the
# test fixture generator writes them into its context. It was built with
# the frontend (scripts/release-binaries.sh), in the same compile.
say "writing the conda channels of examples/seed (envd-conda-fixture)"
write_channel=target/x86_64-unknown-linux-gnu/release/examples/write-channel
[ -x "$write_channel" ] || bash scripts/release-binaries.sh --quiet
"$write_channel" examples/seed/channels/main
"$write_channel" examples/seed/channels/pytorch 0 empty
seed=envd-demo/seed:latest
say "docker buildx build --build-arg BUILDKIT_SYNTAX=$frontend -f examples/seed/build.envd -t $seed examples/seed"
docker buildx build --build-arg BUILDKIT_SYNTAX="$frontend" \
    -f examples/seed/build.envd -t "$seed" examples/seed
say "docker run --rm $seed: the conda environment, its pip section and the editable install"
docker run --rm "$seed" sh -c 'cat /home/aiges/conda-check.txt; ls /opt/conda/conda-meta; python -c "import idna, certifi, detectron2; print(detectron2.VERSION)"'
