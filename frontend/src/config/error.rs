//! The error of an option that cannot be used. Its own module, so that
//! the option parsers ([`super`] and [`super::contexts`]) share it and
//! neither imports the other.

/// A frontend option that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frontend option {key}: {reason}")]
pub struct ConfigError {
    /// The option key, e.g. `platform`.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The error for option `key`.
pub(crate) fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_owned(), reason: reason.into() }
}
