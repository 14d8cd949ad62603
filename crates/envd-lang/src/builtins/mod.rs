//! The functions build.envd calls, one module per namespace.
//!
//! Each builtin validates its arguments, then pushes a plan node stamped
//! with the span of the call into the [`Store`]. None does any work.
//! Errors are `anyhow` errors: starlark attaches the call's span to them,
//! so every message here says only what was expected.

mod base;
pub(crate) mod call;
mod config;
mod install;
mod io;
mod runtime;
mod unsupported;

pub(crate) use install::KNOWN_CUDA;

use starlark::environment::GlobalsBuilder;

/// Registers every builtin of the dialect.
pub(crate) fn register(builder: &mut GlobalsBuilder) {
    base::register(builder);
    io::register_globals(builder);
    unsupported::register(builder, unsupported::GLOBAL);
    builder.namespace("install", |b| {
        install::register(b);
        unsupported::register(b, "install");
    });
    builder.namespace("io", |b| {
        io::register(b);
        unsupported::register(b, "io");
    });
    builder.namespace("config", |b| {
        config::register(b);
        unsupported::register(b, "config");
    });
    builder.namespace("runtime", |b| {
        runtime::register(b);
        unsupported::register(b, "runtime");
    });
}
