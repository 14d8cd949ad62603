//! The plan: what a build.envd asks for, as plain data.
//!
//! Every node carries the [`Span`] of the call that made it. Paths into the
//! build context are [`ContextPath`]s, checked at the call; whether they
//! exist is checked later, against the context, by lowering.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use envd_conda::CondaRc;

use crate::paths::ContextPath;
use crate::span::Span;

/// Everything a build needs from build.envd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The envd dialect, always `v0`.
    pub dialect: String,
    /// The function that was evaluated (`build` by default).
    pub target: String,
    /// The base image. Every build has one.
    pub base: Base,
    /// `install.cuda()`: asks for the GPU base.
    pub cuda: Option<Cuda>,
    /// The steps, in the order build() called them.
    pub steps: Vec<Step>,
    /// `config.pip_index()`.
    pub pip_index: Option<PipIndex>,
    /// `config.conda_channel()`.
    pub conda_channel: Option<CondaChannel>,
    /// Edits to the image config (`config.entrypoint`, `runtime.*`).
    pub image: ImageEdits,
}

/// Which image a build starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reference")]
pub enum BaseImage {
    /// The AIGES CPU loader image; also the default.
    AigesCpu,
    /// The AIGES GPU loader image.
    AigesGpu,
    /// Any image reference, used as is.
    Reference(String),
}

/// The `base()` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// The image.
    pub image: BaseImage,
    /// Whether `image=` was given. A file that names no image follows
    /// `AIGES_DEVICE` (and `install.cuda`).
    pub image_explicit: bool,
    /// The Python version asked for (`language="python3.8"` gives `3.8`);
    /// `None` for plain `python`/`python3`.
    pub python: Option<String>,
    /// `os=`, normalised (`ubuntu20.4` reads as `ubuntu20.04`).
    pub os: Option<String>,
    /// The call.
    pub span: Span,
}

/// `install.cuda(version=, cudnn=)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cuda {
    /// The CUDA version, e.g. `11.6`.
    pub version: String,
    /// The cuDNN major version, e.g. `8`.
    pub cudnn: String,
    /// The call.
    pub span: Span,
}

/// One step of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What the step does.
    #[serde(flatten)]
    pub kind: StepKind,
    /// The call that asked for it.
    pub span: Span,
}

/// The kinds of step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum StepKind {
    /// `install.system_packages(name=[...])`: Debian/Ubuntu packages.
    SystemPackages {
        /// Package names, as apt takes them.
        names: Vec<String>,
    },
    /// `install.python_packages(...)`: one pip step per call.
    PythonPackages {
        /// Requirement specifiers.
        names: Vec<String>,
        /// A requirements file in the context.
        requirements: Option<ContextPath>,
        /// Wheel files in the context.
        local_wheels: Vec<ContextPath>,
    },
    /// `install.conda_packages(...)`: all such calls share one solve.
    CondaPackages {
        /// Match specs.
        names: Vec<String>,
        /// Channels to search, in order.
        channels: Vec<String>,
        /// An environment file (`conda env export`) in the context.
        env_file: Option<ContextPath>,
    },
    /// `io.copy(src=, dest=)`: context files into the image.
    Copy {
        /// The source in the context.
        src: ContextPath,
        /// The destination in the image.
        dest: String,
    },
    /// `run(commands=[...])`: shell commands, in order, as one step.
    Run {
        /// The commands.
        commands: Vec<String>,
        /// Mount the context read-only at the working directory.
        mount_host: bool,
    },
}

/// `config.pip_index()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipIndex {
    /// The index URL.
    pub url: String,
    /// An extra index URL.
    pub extra_url: Option<String>,
    /// Trust the hosts of both URLs (pip's `trusted-host`).
    pub trust: bool,
    /// The call.
    pub span: Span,
}

/// `config.conda_channel(channel="<condarc YAML>")`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondaChannel {
    /// The YAML as written (dedented), for `/opt/conda/.condarc`.
    pub yaml: String,
    /// What it says.
    pub condarc: CondaRc,
    /// The call.
    pub span: Span,
}

/// A value with the span of the call that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// The call.
    pub span: Span,
}

/// A port to expose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expose {
    /// The container port.
    pub port: u16,
    /// A name for the service behind it.
    pub service_name: Option<String>,
    /// The call.
    pub span: Span,
}

/// Edits to the image config, applied over the base image's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEdits {
    /// `config.entrypoint(args=[...])`.
    pub entrypoint: Option<Spanned<Vec<String>>>,
    /// `runtime.command(commands={...})`: the image's command.
    pub command: Option<Spanned<BTreeMap<String, String>>>,
    /// `runtime.environ(env={...})`, in call order.
    pub env: Vec<Spanned<(String, String)>>,
    /// `runtime.environ(extra_path=[...])`: prepended to PATH.
    pub extra_path: Vec<Spanned<String>>,
    /// `runtime.expose(...)`.
    pub expose: Vec<Expose>,
}
