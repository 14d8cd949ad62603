#!/usr/bin/env bash
# Fuzzes the build.envd evaluator for $1 seconds (default 600), seeded with
# every golden build.envd, then triages what it found.
#
# The fuzz target (fuzz/fuzz_targets/evaluate.rs) evaluates in process, for
# coverage. In process, one expression can allocate gigabytes before the
# evaluator's own heap check runs; the frontend therefore evaluates in a
# child process under kernel limits (frontend/src/isolate.rs). So the run
# keeps going after a crash, an out-of-memory or a timeout, and each input
# that caused one is replayed through `envd-frontend check`, the frontend's
# real, isolated path. There exit 0 is a clean file and 1 a file with an
# error, both contained; the run fails if any input makes that path fail
# otherwise (exit 2: the evaluator itself broke; a signal) or take more
# than a minute.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-600}
target=x86_64-unknown-linux-gnu
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v cargo-fuzz >/dev/null; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
say "building the frontend binary for triage (scripts/release-binaries.sh)"
bash scripts/release-binaries.sh --quiet
frontend="$PWD/target/$target/release/envd-frontend"

corpus=fuzz/corpus/evaluate
artifacts="$PWD/fuzz/artifacts/evaluate"
mkdir -p "$corpus"
rm -rf "$artifacts" && mkdir -p "$artifacts"
for f in crates/envd-lang/testdata*/*/build.envd; do
    cp "$f" "$corpus/seed-$(basename "$(dirname "$f")").envd"
done

say "fuzzing the evaluator for ${seconds}s"
log=fuzz/last-run.log
set +e
(cd fuzz && cargo fuzz run --sanitizer none evaluate "corpus/evaluate" -- \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/") >"$log" 2>&1
set -e
grep -E '^#[0-9]+: cov' "$log" | tail -n 1 >&2 || true
if ! grep -q "INFO: fuzzed for" "$log"; then
    echo "fuzz.sh: the fuzzer did not run to its time limit; see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
fi

found=$(find "$artifacts" -type f | wc -l)
say "triage: $found input(s) failed in process; replaying each through envd-frontend check"
bad=0
for f in "$artifacts"/*; do
    [ -f "$f" ] || continue
    set +e
    timeout 60 "$frontend" check "$f" >/dev/null 2>"$f.check"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        bad=$((bad + 1))
        echo "UNCONTAINED ($rc): $f" >&2
        tail -n 3 "$f.check" >&2
    else
        echo "contained: $(basename "$f"): $(tail -n 1 "$f.check")" >&2
    fi
done
say "fuzz: ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs, $found in-process failures, $bad uncontained"
[ "$bad" -eq 0 ]
