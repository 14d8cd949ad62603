//! The installer's one error type and the two ways to make one, in a
//! module of their own so that every part of the installer uses them
//! without importing the crate root.

use envd_conda::credentials;

/// An installer failure: one message, printed as the step's last words.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Messages go to the build's progress output: a channel URL in them
/// loses its credentials.
pub(crate) fn err(context: &str, e: impl std::fmt::Display) -> Error {
    Error(credentials::strip(&format!("{context}: {e}")))
}

/// `context: error: its cause: ...`: network errors say what went wrong
/// (DNS, TLS, HTTP status) only in their causes.
pub(crate) fn err_chain(context: &str, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut s = format!("{context}: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    Error(credentials::strip(&s))
}
