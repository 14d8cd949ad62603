//! The plan: what a build.envd asks for, as plain data.

use serde::Serialize;

use crate::span::Span;

/// Everything a build needs from build.envd, in call order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The function that was evaluated (`build` by default).
    pub target: String,
    /// The base image. Every build has one.
    pub base: Base,
    /// The steps, in the order build() called them.
    pub steps: Vec<Step>,
}

/// Which image a build starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reference")]
pub enum BaseImage {
    /// The AIGES CPU loader image.
    AigesCpu,
    /// The AIGES GPU loader image.
    AigesGpu,
    /// Any image reference, used as is.
    Reference(String),
}

/// The `base()` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Base {
    /// The image.
    pub image: BaseImage,
    /// `language=`, e.g. `python3.8`.
    pub language: Option<String>,
    /// `os=`, as envd recorded it.
    pub os: Option<String>,
    /// The call.
    pub span: Span,
}

/// One step of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What the step does.
    #[serde(flatten)]
    pub kind: StepKind,
    /// The call that asked for it.
    pub span: Span,
}

/// The kinds of step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum StepKind {
    /// `run(commands=[...])`: shell commands, in order, as one step.
    Run {
        /// The commands.
        commands: Vec<String>,
    },
}
