//! The builder's one error type, in a module of its own so that every op
//! module can use it without importing the crate root.

/// Errors the builder reports. They are programming errors of the caller
/// (an op that BuildKit would reject), caught before anything is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// An op failed its own validation.
    #[error("invalid {op}: {reason}")]
    Invalid {
        /// The kind of op, e.g. `exec`.
        op: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
