//! build.envd, envd's v0 Starlark dialect, evaluated into a [`Plan`].
//!
//! This crate is the first of three typed stages (build.envd → [`Plan`] →
//! LLB). Builtins do no work: each pushes a plain-data node, stamped with
//! the [`Span`] of the call, into a store the evaluator carries. After
//! evaluation the store becomes the plan, and nothing of Starlark survives
//! into it — lowering never sees a Starlark value, and this crate never sees
//! protobuf.
//!
//! Every error is an [`Error`] with a span when the mistake has a place in
//! the file, so that the frontend can hand buildx the offending line.

mod builtins;
mod error;
mod eval;
mod plan;
mod span;
mod store;

pub use error::Error;
pub use eval::{evaluate, EvalOptions, DEFAULT_TARGET};
pub use plan::{Base, BaseImage, Plan, Step, StepKind};
pub use span::Span;
