# The two commands a newcomer needs are `make demo` and `make test`.
# Everything else is a step of those, callable on its own.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help demo test test-build checks setup bases image unit e2e lint fmt golden bench fuzz fuzz-short

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

demo: bases image ## install what is missing, build the frontend image, build and run examples/hello and examples/seed
	bash scripts/demo.sh

test: ## every test: formatting, clippy, unit, a short fuzz run and end-to-end, in two lanes (below)
	$(MAKE) -j2 --output-sync=target setup test-build
	$(MAKE) -j2 --output-sync=target e2e checks

# The lanes of `make test` on 2 cores. The end-to-end builds spend much of
# their time waiting on docker, the network and timeouts, so lint, unit
# and the fuzz run go beside them (`checks`); before that, setup (apt,
# debootstrap, docker import: mostly I/O) goes beside the compile of every
# binary the tests run (`test-build`: CPU; the release binaries and the test
# binaries one after the other, since compiling them at once took 75 s
# longer on 2 cores). `checks` runs clippy last, so that it holds
# target/debug's lock after the end-to-end lane's cargo has found its test
# binary built (cargo holds no lock while tests run).
test-build:
	bash scripts/release-binaries.sh --quiet
	$(CARGO) test --workspace --exclude envd-e2e --locked --no-run
	$(CARGO) test -p envd-e2e --locked --no-run

checks:
	$(MAKE) unit
	$(MAKE) fuzz-short
	$(MAKE) lint

setup: ## install and start dockerd, buildx and the registry; make the local base images (amd64, arm64 under qemu)
	bash scripts/setup.sh all

bases: ## what the demo needs of setup: dockerd, buildx, the registry and the amd64 base images
	bash scripts/setup.sh bases

image: ## build the static binary and the aiges/envd-frontend:latest image
	bash scripts/setup.sh engine
	bash scripts/frontend-image.sh

unit: ## unit and in-process tests of every crate
	$(CARGO) test --workspace --exclude envd-e2e --locked

# Three at a time on 2 cores: a build mostly waits (on docker, the test
# servers, timeouts), and the tests that must run alone say so
# (tests/e2e/main.rs).
e2e: setup image ## end-to-end tests: real docker buildx builds through the frontend image
	$(CARGO) test -p envd-e2e --locked -- --test-threads=3

golden: ## regenerate the golden files (plans, LLB dumps); review the diff after
	ENVD_UPDATE_GOLDEN=1 $(CARGO) test --workspace --exclude envd-e2e --locked golden

fuzz: ## fuzz the build.envd evaluator, coverage-guided (cargo-fuzz), for 10 minutes (FUZZ_SECONDS to change)
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-600}

fuzz-short: ## mutated build.envd files through the release binary's isolated evaluator for 30 seconds (part of make test)
	bash scripts/release-binaries.sh --quiet
	ENVD_FUZZ_SECONDS=$${FUZZ_SECONDS:-30} ENVD_FUZZ_BINARY=$(CURDIR)/target/x86_64-unknown-linux-gnu/release/envd-frontend \
		$(CARGO) test --workspace --exclude envd-e2e --locked --test fuzz_short -- --ignored --nocapture

bench: setup image ## benchmarks: criterion in process, then real builds beside the Dockerfile path; writes BENCHMARKS.md
	$(CARGO) bench --workspace --exclude envd-e2e --locked
	$(CARGO) run -p envd-e2e --bin envd-bench --locked

lint: ## rustfmt, clippy (warnings are errors), and no import cycle between a crate's files
	python3 scripts/module-cycles.py --self-test
	python3 scripts/module-cycles.py
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all
