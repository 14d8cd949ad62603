//! What buildx asks of one run: a build, or a `--call` subrequest, named
//! by the `requestid` option. The ids live beside the [`Request`] they
//! name; [`crate::call`] answers them.

/// `requestid` of `--call subrequests.describe`.
pub const DESCRIBE: &str = "frontend.subrequests.describe";
/// `requestid` of `--call targets`.
pub const TARGETS: &str = "frontend.targets";
/// `requestid` of `--call outline`.
pub const OUTLINE: &str = "frontend.outline";
/// `requestid` of `--call check` (buildx calls it lint).
pub const LINT: &str = "frontend.lint";

/// What buildx asks of this run: a build, or one of the subrequests of
/// `--call` (the `requestid` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An image.
    Build,
    /// `frontend.subrequests.describe`: which requests are answered.
    Describe,
    /// `frontend.targets` (`--call targets`).
    Targets,
    /// `frontend.outline` (`--call outline`).
    Outline,
    /// `frontend.lint` (`--call check`).
    Lint,
    /// Any other request, answered with BuildKit's typed "unsupported
    /// request" error.
    Unsupported(String),
}

impl Request {
    /// The request that `requestid` names.
    pub fn from_id(id: Option<&str>) -> Self {
        match id {
            None | Some("") => Self::Build,
            Some(DESCRIBE) => Self::Describe,
            Some(TARGETS) => Self::Targets,
            Some(OUTLINE) => Self::Outline,
            Some(LINT) => Self::Lint,
            Some(other) => Self::Unsupported(other.to_owned()),
        }
    }
}
