//! The one error type of evaluation.

use crate::span::Span;

/// What went wrong, in one sentence, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{}{message}", span.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct Error {
    /// The sentence, without the location.
    pub message: String,
    /// Where, when the mistake has a place in the file.
    pub span: Option<Span>,
}

impl Error {
    pub(crate) fn at(span: Span, message: impl Into<String>) -> Self {
        Self { message: message.into(), span: Some(span) }
    }

    pub(crate) fn nowhere(message: impl Into<String>) -> Self {
        Self { message: message.into(), span: None }
    }

    /// Converts a Starlark error, keeping its span and dropping the
    /// rendered code snippet (buildx prints the lines itself).
    pub(crate) fn from_starlark(e: starlark::Error) -> Self {
        let span = e.span().map(Span::from_file_span);
        let message = e.without_diagnostic().to_string();
        // starlark prefixes some messages with their kind; keep the text
        // after it short and on one line.
        let message = message.lines().next().unwrap_or_default().trim();
        Self { message: explain(message), span }
    }
}

/// Rewords starlark's terse messages for limits and frozen values into
/// sentences that say what to do.
fn explain(message: &str) -> String {
    if message == "Immutable" {
        return "this value cannot be changed (build args and module-level values are read-only); copy it first, e.g. dict(args)".into();
    }
    if message.contains("call stack overflow") {
        return format!(
            "calls nest more than {} deep; build.envd must not recurse",
            crate::eval::Limits::default().call_depth
        );
    }
    if message.contains("Heap memory limit") {
        return format!(
            "evaluating build.envd used more than {} MiB of memory; it must describe a build, not compute one",
            crate::eval::Limits::default().heap_bytes >> 20
        );
    }
    if message.to_ascii_lowercase().contains("tick") {
        return format!(
            "evaluating build.envd took more than {} calls and loop iterations; look for a loop that does not end",
            crate::eval::Limits::default().ticks
        );
    }
    message.to_owned()
}

/// A non-fatal issue, shown by buildx as a warning with its line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// One sentence.
    pub message: String,
    /// Where.
    pub span: Span,
}
