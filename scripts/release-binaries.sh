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
# With --arm64 first, the arm64 image's frontend instead:
#
#   target/aarch64-unknown-linux-gnu/release/envd-frontend
#       cross-compiled with what `scripts/setup.sh cross` installs; its
#       build scripts and proc macros are the amd64 build's (target/release)
#
# crt-static with an explicit --target links statically without touching
# build scripts and proc macros. Any other cargo invocation of these two
# packages with other flags or another package set would compile the
# shared dependencies a second time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One environment, whoever calls, so that no call compiles anew what
# another compiled: plain rustc (`make test` lints its test build through
# clippy-driver), and none of the variables cargo sets for a test that
# runs this script (ring's build script reruns when CARGO_MANIFEST_DIR
# changes, and with it everything that links ring).
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
for var in $(compgen -e); do
    case "$var" in
        CARGO_MANIFEST_* | CARGO_PKG_* | CARGO_CRATE_NAME | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | CARGO_BIN_* | OUT_DIR) unset "$var" ;;
    esac
done
export RUSTFLAGS="-C target-feature=+crt-static"
if [ "${1:-}" = --arm64 ]; then
    shift
    # The linker and the C compiler of the -sys crates (zstd, ring):
    # Debian's cross gcc, whose sysroot has the static glibc.
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
        cargo build --release --locked --target aarch64-unknown-linux-gnu \
        -p envd-frontend --bin envd-frontend "$@"
    exit
fi
cargo build --release --locked --target x86_64-unknown-linux-gnu \
    -p envd-frontend -p envd-conda-fixture --bin envd-frontend --example write-channel "$@"
