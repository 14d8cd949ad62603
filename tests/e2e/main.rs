//! The end-to-end tests: real `docker buildx` builds through the frontend
//! image, on the engine, registry and bases that `scripts/setup.sh` makes.
//!
//! One test binary, one module per subject. One binary lets `cargo test
//! --test-threads=3` (the Makefile's) keep its threads busy across subjects
//! and links once;
//! the tests that must not share the engine (a prune, a dockerd restart, a
//! count of fetches through a shared cache mount) say so with
//! [`envd_e2e::engine_alone`], every other one shares it through
//! [`envd_e2e::ensure_env`].

mod call;
mod classic_store;
mod conda;
mod contexts;
mod encodings;
mod faults;
mod gpu;
mod language;
mod layers;
mod loader;
mod lowering;
mod options;
mod platforms;
mod python;
mod quickstart;
mod registry_cache;
mod sbom;
mod secrets;
mod skeleton;
mod survive;
