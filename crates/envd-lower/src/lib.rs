//! The second stage: an envd [`Plan`](envd_lang::Plan) plus the resolved
//! base image becomes LLB and an OCI image config.
//!
//! Lowering is pure: it never talks to BuildKit and never sees a Starlark
//! value. The frontend resolves the base image first (that needs the
//! daemon), then hands [`lower`] plain data. Each kind of step has its own
//! module; [`LlbCaps`] carries what the daemon supports, checked once by
//! the frontend.
//!
//! The image config starts from the base's, so Env (PATH included),
//! WorkingDir, User, Entrypoint, Cmd, Labels and ExposedPorts survive:
//! AIGES images depend on them, and upstream envd loses them.

mod base;
mod image_config;
mod run;

use std::sync::Arc;

use envd_lang::{Plan, Span, StepKind};
use envd_llb::{Constraints, Platform, SourceMap, State};

pub use base::{base_reference, BaseChoice, AIGES_CPU_IMAGE_ARG, AIGES_GPU_IMAGE_ARG};
pub use image_config::ImageConfig;

/// What the daemon supports, as far as lowering cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LlbCaps {
    /// MergeOp and DiffOp are available.
    pub merge_diff: bool,
}

/// The base image as the daemon resolved it.
#[derive(Debug, Clone)]
pub struct ResolvedBase {
    /// The reference, pinned to its digest where one is known.
    pub reference: String,
    /// The base's image config JSON.
    pub config: ImageConfig,
}

/// Everything lowering needs besides the plan.
#[derive(Debug, Clone)]
pub struct LowerOptions {
    /// The platform to build for.
    pub platform: Platform,
    /// The build file, for source locations.
    pub source: Arc<SourceMap>,
    /// Daemon capabilities.
    pub caps: LlbCaps,
    /// Run every step even if cached (`--no-cache`).
    pub no_cache: bool,
    /// Labels to add to the image (`--label`).
    pub labels: Vec<(String, String)>,
}

/// The result of lowering.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The image's root file system.
    pub state: State,
    /// The image config to return with it.
    pub config: ImageConfig,
}

/// A lowering failure, with the place in build.envd it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// One sentence.
    pub message: String,
    /// The call at fault.
    pub span: Option<Span>,
}

/// Shared context of the per-step lowerings.
pub(crate) struct Ctx<'a> {
    opts: &'a LowerOptions,
    total: usize,
}

impl Ctx<'_> {
    /// Constraints for step `n` (1-based): its progress name, its place in
    /// build.envd, and `--no-cache`.
    pub(crate) fn step(&self, n: usize, name: &str, span: &Span) -> Constraints {
        Constraints::named(format!("[{n}/{}] {name}", self.total))
            .with_location(self.opts.source.location(span.line, span.end_line))
            .with_ignore_cache(self.opts.no_cache)
    }
}

/// Lowers `plan` onto `base`.
pub fn lower(plan: &Plan, base: &ResolvedBase, opts: &LowerOptions) -> Result<Lowered, Error> {
    let ctx = Ctx { opts, total: plan.steps.len() + 1 };
    let mut state = base::state(&ctx, plan, base);
    for (i, step) in plan.steps.iter().enumerate() {
        state = match &step.kind {
            StepKind::Run { commands, mount_host: false } => run::lower(&ctx, i + 2, &state, commands, &step.span),
            _ => {
                return Err(Error {
                    message: "this step is understood but cannot be built by this version of envd-frontend yet".into(),
                    span: Some(step.span.clone()),
                })
            }
        };
    }
    let mut config = base.config.clone();
    config.set_platform(&opts.platform);
    for (k, v) in &opts.labels {
        config.set_label(k, v);
    }
    Ok(Lowered { state, config })
}
