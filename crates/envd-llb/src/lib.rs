//! An LLB builder in the spirit of BuildKit's `client/llb`.
//!
//! A [`State`] is an immutable value: every method returns a new `State`
//! that shares its history through `Arc`s, so a build graph can branch and
//! join freely and cloning is cheap. Each kind of operation (source, exec,
//! file, merge, diff) implements one trait, [`Vertex`], with three duties:
//! name its inputs, validate itself, and turn itself into a `pb::Op`.
//!
//! [`State::marshal`] walks the graph children first, de-duplicates ops by
//! the sha256 digest of their exact bytes and ends with the input-only
//! terminal op BuildKit expects. Every map in the protocol types is a
//! `BTreeMap` and prost writes fields in tag order, so the same graph always
//! marshals to byte-identical definitions — and so to the same cache keys on
//! every machine.
//!
//! Where a step came from is just another op option: a [`SourceLocation`]
//! in an op's [`Constraints`] becomes a `pb::Locations` entry for that op's
//! digest, which is how a failing step points back at its line.

pub mod caps;
mod constraints;
pub mod decode;
pub mod dump;
mod error;
mod exec;
mod file;
mod marshal;
mod merge;
pub mod source;
mod state;
mod vertex;

pub use bollard_buildkit_proto::pb;
pub use constraints::{Constraints, SourceLocation, SourceMap, CUSTOM_NAME};
pub use error::{Error, Result};
pub use exec::{CacheSharing, Exec, Limits, Mount, NetMode, ProxyEnv, SecretEnv, Ulimit};
pub use file::{ChownOpt, CopyOptions, FileAction, MkdirOptions, MkfileOptions};
pub use marshal::{digest_of, encode_op, Marshalled};
pub use merge::{diff, merge};
pub use source::{familiar_reference, http, oci_layout, Git, Image, Local, ResolveMode};
pub use state::{Platform, State};
pub use vertex::{Output, Vertex};
