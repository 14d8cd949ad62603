//! build.envd, envd's v0 Starlark dialect, evaluated into a [`Plan`].
//!
//! This crate is the first of three typed stages (build.envd → [`Plan`] →
//! LLB). Builtins do no work: each pushes a plain-data node, stamped with
//! the [`Span`] of the call, into a store the evaluator carries. After
//! evaluation the store becomes the plan, and nothing of Starlark survives
//! into it — lowering never sees a Starlark value, and this crate never sees
//! protobuf.
//!
//! Every error is a [`Diagnostic`] with a span when the mistake has a place in
//! the file, so that the frontend can hand buildx the offending line.
//! Evaluation is sandboxed (no file system, network or clock; no `load()`)
//! and bounded in ticks, heap and call depth ([`Limits`]).

mod args;
mod builtins;
mod diagnostic;
mod eval;
mod limits;
mod paths;
mod plan;
mod rules;
mod sample;
mod source;
mod span;
mod store;
mod targets;

pub use args::{ArgRead, ReadKind};
pub use diagnostic::{Diagnostic, Warning};
pub use eval::{evaluate, EvalOptions, Evaluated, DEFAULT_TARGET};
pub use limits::Limits;
pub use paths::ContextPath;
pub use plan::{Base, BaseImage, CondaChannel, Cuda, Expose, ImageEdits, PipIndex, Plan, Spanned, Step, StepKind};
pub use rules::{Rule, RULES_URL};
pub use sample::generated_build_file;
pub use source::source_text;
pub use span::Span;
pub use targets::{targets, targets_and_comments, Comments, Target};

/// CUDA versions that have an AIGES GPU loader image.
pub const KNOWN_CUDA: &[&str] = builtins::KNOWN_CUDA;
