#!/usr/bin/env bash
# The release binaries that the demo, the fuzz run's triage, the end-to-end
# tests and the benchmarks run, built by one cargo command so that every
# caller shares one compile (one profile, one target, one set of features):
#
#   target/x86_64-unknown-linux-gnu/release/envd-frontend
#       the static frontend (and in-build conda installer) of the image
#   target/x86_64-unknown-linux-gnu/release/examples/write-channel
#       the conda channel writer of envd-conda-fixture (the demo's channels)
#
# crt-static with an explicit --target links statically without touching
# build scripts and proc macros. Any other cargo invocation of these two
# packages with other flags or another package set would compile the
# shared dependencies a second time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
    -p envd-frontend -p envd-conda-fixture --bin envd-frontend --example write-channel "$@"
