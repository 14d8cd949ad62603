//! The one error type of evaluation.

use crate::span::Span;

/// What went wrong, in one sentence, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
        let message = message.lines().next().unwrap_or_default().trim().to_owned();
        Self { message, span }
    }
}
