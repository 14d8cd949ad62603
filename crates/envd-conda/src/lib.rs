//! conda as plain data, shared by the language crate, lowering and the
//! in-build installer.
//!
//! The language crate parses `config.conda_channel`'s condarc into a
//! [`CondaRc`] at the call; lowering reads the env files the frontend
//! fetched and resolves channels with the condarc's [`ChannelConfig`], so
//! that a malformed file, a bad match spec or an
//! unknown channel is an error at its build.envd line before anything
//! runs. What it learns becomes one [`InstallRequest`], written into the
//! build as JSON; the installer (`envd-frontend conda-install`, crate
//! `envd-conda-install`) only carries it out. The request's bytes are the
//! conda step's cache key, so the step reruns exactly when what it would
//! install changes.

mod channels;
mod condarc;
pub mod credentials;
mod env_file;
mod lockfile;
mod request;
mod spec;
pub mod text;

pub use channels::{resolve_channels, ChannelConfig, ChannelSource, DEFAULT_CHANNELS, DEFAULT_CHANNEL_ALIAS};
pub use condarc::CondaRc;
pub use env_file::EnvFile;
pub use lockfile::{parse_conda_lock, parse_explicit, EnvFileKind, Locked, LockedPackage, ResolvedLock};
pub use request::{InstallRequest, Stage, REQUEST_VERSION};
pub use spec::{check_spec, python_spec};
