//! The one error type of every stage before LLB: a sentence, the place in
//! build.envd it concerns, and optionally what to do about it.
//!
//! Evaluation and lowering both report a [`Diagnostic`], so the frontend
//! turns exactly one shape into BuildKit's source-annotated error, in one
//! place. Warnings are the same idea without failing the build.

use crate::limits::Limits;
use crate::rules::Rule;
use crate::span::Span;

/// What went wrong, in one sentence, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{}{}", span.as_ref().map(|s| format!("{s}: ")).unwrap_or_default(), self.text())]
pub struct Diagnostic {
    /// The sentence, without the location.
    pub message: String,
    /// Where, when the mistake has a place in the file.
    pub span: Option<Span>,
    /// What to do about it, when that is not already in the sentence.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A mistake at `span`.
    pub fn at(span: Span, message: impl Into<String>) -> Self {
        Self { message: message.into(), span: Some(span), help: None }
    }

    /// A failure with no place in the file.
    pub fn nowhere(message: impl Into<String>) -> Self {
        Self { message: message.into(), span: None, help: None }
    }

    /// The same diagnostic with advice on what to do.
    pub fn with_help(self, help: impl Into<String>) -> Self {
        Self { help: Some(help.into()), ..self }
    }

    /// The message and the help as one text, without the location: what
    /// buildx prints under the lines the span points at.
    pub fn text(&self) -> String {
        match &self.help {
            Some(h) => format!("{}; {h}", self.message),
            None => self.message.clone(),
        }
    }

    /// Converts a Starlark error, keeping its span and dropping the
    /// rendered code snippet (buildx prints the lines itself). An error
    /// with no span of its own (a limit hit between two instructions)
    /// takes the place of the innermost frame that was running, if any.
    pub(crate) fn from_starlark(e: starlark::Error, limits: &Limits) -> Self {
        let span = e
            .span()
            .or_else(|| e.call_stack().frames.iter().rev().find_map(|f| f.location.as_ref()))
            .map(Span::from_file_span);
        let message = e.without_diagnostic().to_string();
        // starlark prefixes some messages with their kind; keep the text
        // after it short and on one line.
        let message = message.lines().next().unwrap_or_default().trim();
        let (message, help) = explain(message, limits);
        Self { message, span, help }
    }
}

/// Rewords starlark's terse messages for limits and frozen values into
/// sentences, with advice on what to do. The limits named are the ones
/// the evaluation ran under.
fn explain(message: &str, limits: &Limits) -> (String, Option<String>) {
    let with = |m: String, h: &str| (m, Some(h.to_owned()));
    if message == "Immutable" {
        return with(
            "this value cannot be changed (build args and module-level values are read-only)".into(),
            "copy it first, e.g. dict(args)",
        );
    }
    if message.contains("call stack overflow") {
        return with(format!("calls nest more than {} deep", limits.call_depth), "build.envd must not recurse");
    }
    if message.contains("Heap memory limit") {
        return with(heap_exceeded(limits), "it must describe a build, not compute one");
    }
    if message.to_ascii_lowercase().contains("tick") {
        return with(ticks_exceeded(limits), "look for a loop that does not end");
    }
    (message.to_owned(), None)
}

fn ticks_exceeded(limits: &Limits) -> String {
    format!("evaluating build.envd took more than {} calls and loop iterations", limits.ticks)
}

fn heap_exceeded(limits: &Limits) -> String {
    format!("evaluating build.envd used more than {} MiB of memory", limits.heap_bytes >> 20)
}

impl Diagnostic {
    /// Whether this is the tick or heap limit of `limits`, which starlark
    /// reports between two instructions, with no place in the file.
    pub(crate) fn is_limit(&self, limits: &Limits) -> bool {
        self.message == ticks_exceeded(limits) || self.message == heap_exceeded(limits)
    }
}

/// A non-fatal issue, shown by buildx as a warning with its line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// One sentence.
    pub message: String,
    /// Where.
    pub span: Span,
    /// The lint rule it breaks; `None` for `print()` output, which is
    /// shown in builds but is no finding.
    pub rule: Option<Rule>,
}
