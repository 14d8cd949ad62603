# The two commands a newcomer needs are `make demo` and `make test`.
# Everything else is a step of those, callable on its own.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help demo test test-build checks setup bases image image-native arm64-builder unit e2e lint lint-source fmt golden bench fuzz fuzz-short

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

demo: bases image-native ## install what is missing, build the frontend image (this machine's platform), build and run examples/hello and examples/seed
	bash scripts/demo.sh

test: ## every test: formatting, clippy, unit, a short fuzz run and end-to-end, in two lanes (below)
	$(MAKE) -j2 --output-sync=target setup test-build
	$(MAKE) -j2 --output-sync=target e2e checks

# clippy's lints ride on the test build: clippy-driver as the workspace's
# rustc wrapper, with `-D warnings`, is what `cargo clippy` itself runs,
# only with code generated too, so every target is linted (`--all-targets`)
# without a second compile of the dependencies in check mode (about 170 s
# of both cores). Every cargo command of `make test` sees the same wrapper,
# so none of them rebuilds what another built.
test: export RUSTC_WORKSPACE_WRAPPER = $(shell rustup which clippy-driver)
test: export CLIPPY_ARGS = -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

# The lanes of `make test` on 2 cores: first setup (apt, debootstrap,
# docker import: mostly I/O) beside the compile of what the end-to-end
# tests run (`test-build`: the release binaries, then the e2e test
# binary); then the end-to-end tests beside `checks`: the arm64
# cross-compile (which only the frontend index's test needs, and waits
# for), the unit tests' build and run, the fuzz run and the source checks.
# Alone, the end-to-end tests leave about a third of both cores idle (they
# wait on servers, retries and timeouts: 567 CPU-s in 408 s), so they
# start as early as they can and compiles fill their gaps. Both cores stay
# busy: vmstat saw 2 % idle through a CI run here (4 % with the unit
# tests' build before the end-to-end tests), so what makes `make test`
# shorter is less CPU, not another order.
test-build:
	bash scripts/release-binaries.sh --quiet
	$(CARGO) test -p envd-e2e --all-targets --locked --no-run

checks:
	bash scripts/release-binaries.sh --arm64 --quiet
	$(CARGO) test --workspace --exclude envd-e2e --all-targets --locked --no-run
	$(MAKE) unit
	$(MAKE) fuzz-short
	$(MAKE) lint-source

setup: ## install and start dockerd, buildx and the registry; make the local base images (amd64, arm64 under qemu); install the arm64 cross-compiler
	bash scripts/setup.sh all

bases: ## what the demo needs of setup: dockerd, buildx, the registry and the amd64 base images
	bash scripts/setup.sh bases

image: ## build the static binaries (amd64, and arm64 cross-compiled) and the aiges/envd-frontend:latest index of both; push it to the local registry
	bash scripts/setup.sh engine
	bash scripts/setup.sh registry
	bash scripts/setup.sh cross
	bash scripts/frontend-image.sh

image-native: ## the aiges/envd-frontend:latest image of this machine's platform only (linux/amd64): half the compile
	bash scripts/setup.sh engine
	bash scripts/frontend-image.sh --platforms linux/amd64

arm64-builder: image ## a real build through an arm64 BuildKit: an emulated arm64 VM's dockerd builds through the index's arm64 image (slow; not part of make test)
	bash scripts/setup.sh platforms
	bash scripts/arm64-builder.sh

unit: ## unit and in-process tests of every crate
	$(CARGO) test --workspace --exclude envd-e2e --locked

# Three at a time on 2 cores: a build mostly waits (on docker, the test
# servers, timeouts), and the tests that must run alone say so
# (tests/e2e/main.rs). image-native has just built the amd64 binaries, so
# the tests' image builds take them as they are (ENVD_BINARIES_BUILT, see
# scripts/frontend-image.sh) instead of waiting on cargo's lock while
# `make test` cross-compiles arm64 beside them; the arm64 image's test
# compiles (or waits for) the arm64 binary itself.
e2e: setup image-native ## end-to-end tests: real docker buildx builds through the frontend image
	ENVD_BINARIES_BUILT=1 $(CARGO) test -p envd-e2e --locked -- --test-threads=3

golden: ## regenerate the golden files (plans, LLB dumps); review the diff after
	ENVD_UPDATE_GOLDEN=1 $(CARGO) test --workspace --exclude envd-e2e --locked golden

fuzz: ## fuzz the build.envd evaluator, coverage-guided (cargo-fuzz), for 10 minutes (FUZZ_SECONDS to change)
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-600}

fuzz-short: ## mutated build.envd files through the release binary's isolated evaluator for 30 seconds (part of make test)
	bash scripts/release-binaries.sh --quiet
	ENVD_FUZZ_SECONDS=$${FUZZ_SECONDS:-30} ENVD_FUZZ_BINARY=$(CURDIR)/target/x86_64-unknown-linux-gnu/release/envd-frontend \
		$(CARGO) test --workspace --exclude envd-e2e --locked --test fuzz_short -- --ignored --nocapture

bench: setup image-native ## benchmarks: criterion in process, then real builds beside the Dockerfile path; writes BENCHMARKS.md
	$(CARGO) bench --workspace --exclude envd-e2e --locked
	$(CARGO) run -p envd-e2e --bin envd-bench --locked

lint: lint-source ## rustfmt, clippy (warnings are errors), and no import cycle between a crate's files
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

lint-source: ## rustfmt and no import cycle between a crate's files (lint without clippy)
	python3 scripts/module-cycles.py --self-test
	python3 scripts/module-cycles.py
	$(CARGO) fmt --all --check

fmt: ## format the code
	$(CARGO) fmt --all
