//! Why a build failed: a [`Diagnostic`] about build.envd, or BuildKit's
//! own error. [`crate::serve`] turns either into the `Return` status, in
//! one place.

use std::sync::Arc;

use envd_gateway::Status;
use envd_lang::Diagnostic;
use envd_llb::SourceMap;

/// Why a build failed.
#[derive(Debug)]
pub enum Failure {
    /// A mistake of the user's, at a place in the build file when it has
    /// one; the file once it was read.
    Diagnostic(Diagnostic, Option<Arc<SourceMap>>),
    /// BuildKit's error, returned unchanged but for its message: a failed
    /// step's status carries that step's build.envd location.
    Upstream(Status),
}

impl Failure {
    /// A failure of this frontend itself, not of the user's file.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Diagnostic(Diagnostic::nowhere(format!("internal error: {e}")), None)
    }

    /// The same failure, told about the build file it concerns.
    pub fn in_file(self, source: &Arc<SourceMap>) -> Self {
        match self {
            Self::Diagnostic(d, None) => Self::Diagnostic(d, Some(source.clone())),
            other => other,
        }
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Self {
        Self::Diagnostic(d, None)
    }
}

impl From<crate::config::ConfigError> for Failure {
    /// An option that cannot be used has no place in the build file.
    fn from(e: crate::config::ConfigError) -> Self {
        Self::Diagnostic(Diagnostic::nowhere(e.to_string()), None)
    }
}

impl From<envd_gateway::Error> for Failure {
    fn from(e: envd_gateway::Error) -> Self {
        match e.upstream_status() {
            Some(status) => Self::Upstream(status),
            None => Self::Diagnostic(Diagnostic::nowhere(e.to_string()), None),
        }
    }
}
