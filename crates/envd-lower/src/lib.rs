//! The second stage: an envd [`Plan`](envd_lang::Plan) plus the resolved
//! base image becomes LLB and an OCI image config.
//!
//! Lowering is pure: it never talks to BuildKit and never sees a Starlark
//! value. The frontend resolves the base image first (that needs the
//! daemon), then hands [`lower`] plain data. Each kind of step has its own
//! module; [`LlbCaps`] carries what the daemon supports, checked once by
//! the frontend.
//!
//! Steps keep build() call order with one exception, which is envd's: the
//! installs between two `io.copy`/`run` calls form a segment in which apt
//! and conda do not depend on each other — they become parallel branches
//! joined by MergeOp where the daemon has merge and diff, and one chain
//! where it does not — while pip comes after both, since it needs conda's
//! python and apt's compilers.
//!
//! The image config starts from the base's, so Env (PATH included),
//! WorkingDir, User, Entrypoint, Cmd, Labels and ExposedPorts survive:
//! AIGES images depend on them, and upstream envd loses them.

mod apt;
mod base;
mod conda;
mod context;
mod copy;
mod image_config;
mod pip;
mod run;
mod shell;

use std::collections::BTreeMap;
use std::sync::Arc;

use envd_lang::{Plan, Span, Step, StepKind};
use envd_llb::{diff, merge, Constraints, Platform, ResolveMode, SourceMap, State};

pub use base::{base_reference, BaseChoice, AIGES_CPU_IMAGE_ARG, AIGES_DEVICE_ARG, AIGES_GPU_IMAGE_ARG};
pub use conda::{DEFAULT_PREFIX as DEFAULT_CONDA_PREFIX, INSTALLER_PATH};
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
    /// How BuildKit resolves the base image (`--image-resolve-mode`).
    pub resolve_mode: ResolveMode,
    /// The client session that serves the context.
    pub session_id: String,
    /// The name of the context local (`context`).
    pub context_local: String,
    /// `.dockerignore` patterns of the context.
    pub dockerignore: Vec<String>,
    /// `--add-host` entries (host, IP) for every step's `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// The env files conda calls name, by context path, as the frontend
    /// read them; a file missing here is missing from the context.
    pub env_files: BTreeMap<String, String>,
    /// The frontend's own image, pinned, whose binary installs conda
    /// environments in the build; `None` when BuildKit did not say.
    pub installer_image: Option<String>,
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
    /// Constraints for step `n` (1-based, in call order): its progress
    /// name, its place in build.envd, and `--no-cache`.
    pub(crate) fn step(&self, n: usize, name: &str, span: &Span) -> Constraints {
        self.named(&format!("[{n}/{}] {name}", self.total), span)
    }

    /// Constraints for an op that belongs to a call but is not a step.
    pub(crate) fn named(&self, name: &str, span: &Span) -> Constraints {
        Constraints::named(name)
            .with_location(self.opts.source.location(span.line, span.end_line))
            .with_ignore_cache(self.opts.no_cache)
    }

    /// Constraints for a helper op no user wrote.
    pub(crate) fn internal(&self, name: &str) -> Constraints {
        Constraints::named(format!("[internal] {name}"))
    }
}

/// The installs between two ordering steps.
#[derive(Default)]
struct Segment<'p> {
    apt: Vec<(usize, &'p Step)>,
    conda: Vec<(usize, &'p Step)>,
    pip: Vec<(usize, &'p Step)>,
}

impl Segment<'_> {
    fn is_empty(&self) -> bool {
        self.apt.is_empty() && self.conda.is_empty() && self.pip.is_empty()
    }
}

struct Lowering<'a> {
    ctx: Ctx<'a>,
    plan: &'a Plan,
    context: Option<State>,
    pip_conf_written: bool,
    conda: Option<conda::Conda>,
    /// Whether a conda environment exists by now: pip then uses its python.
    conda_built: bool,
}

impl Lowering<'_> {
    fn flush(&mut self, seg: Segment, state: State) -> Result<State, Error> {
        // apt and conda build independently from the segment's start and
        // are joined; without merge/diff they form one chain, apt first.
        let linear = !self.ctx.opts.caps.merge_diff;
        let mut branches: Vec<State> = Vec::new();
        let mut chain = state.clone();
        if !seg.apt.is_empty() {
            let mut apt_state = state.clone();
            for (n, step) in &seg.apt {
                if let StepKind::SystemPackages { names } = &step.kind {
                    apt_state = apt::lower(&self.ctx, *n, &apt_state, names, &step.span);
                }
            }
            if linear {
                chain = apt_state;
            } else {
                branches.push(apt_state);
            }
        }
        if !seg.conda.is_empty() {
            let conda = self.conda.as_ref().expect("conda calls were prepared");
            let steps: Vec<(usize, usize, &Step)> = seg.conda.iter().map(|(n, s)| (*n, n - 2, *s)).collect();
            let start = if linear { &chain } else { &state };
            let conda_state = conda.lower(&self.ctx, self.plan, start, self.context.as_ref(), &steps)?;
            if linear {
                chain = conda_state;
            } else {
                branches.push(conda_state);
            }
        }
        let mut state = if linear { chain } else { join(&self.ctx, state, branches) };
        if let (false, false, Some(conda)) = (seg.conda.is_empty(), self.conda_built, &self.conda) {
            // Later steps, like the image, find the environment first on PATH.
            let old = state.env().iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone()).unwrap_or_default();
            state = state.add_env("PATH", prepend_path(&format!("{}/bin", conda.prefix()), &old));
            self.conda_built = true;
        }
        let python = match (&self.conda, self.conda_built) {
            (Some(conda), true) => format!("{}/bin/python", conda.prefix()),
            _ => pip::BASE_PYTHON.to_owned(),
        };
        for (n, step) in &seg.pip {
            if let StepKind::PythonPackages { names, requirements, local_wheels } = &step.kind {
                if let (false, Some(p)) = (self.pip_conf_written, &self.plan.pip_index) {
                    state = pip::write_conf(&self.ctx, &state, p);
                    self.pip_conf_written = true;
                }
                state = pip::lower(
                    &self.ctx,
                    *n,
                    &state,
                    &python,
                    self.context.as_ref(),
                    names,
                    requirements.as_ref(),
                    local_wheels,
                    &step.span,
                );
            }
        }
        Ok(state)
    }
}

/// Joins branches that each grew from `base`: one is taken as it is;
/// several become `merge(base, diff(base, b1), diff(base, b2), ...)`.
/// Callers only form several branches when the daemon has merge and diff.
fn join(ctx: &Ctx, base: State, mut branches: Vec<State>) -> State {
    match branches.len() {
        0 => base,
        1 => branches.pop().expect("one branch"),
        _ => {
            let mut layers = vec![base.clone()];
            layers.extend(branches.iter().map(|b| diff(&base, b, ctx.internal("diff"))));
            merge(&layers, ctx.internal("merge"))
        }
    }
}

/// Lowers `plan` onto `base`.
pub fn lower(plan: &Plan, base: &ResolvedBase, opts: &LowerOptions) -> Result<Lowered, Error> {
    let ctx = Ctx { opts, total: plan.steps.len() + 1 };
    let conda = conda::Conda::prepare(plan, &base.config.env(), &opts.env_files, opts.installer_image.as_deref())?;
    let channel_dirs = conda.as_ref().map(|c| c.context_dirs()).unwrap_or_default();
    let mut state = base::state(&ctx, plan, base);
    let context = context::state(plan, opts, &channel_dirs);
    let mut l = Lowering { ctx, plan, context, pip_conf_written: false, conda, conda_built: false };
    let mut seg = Segment::default();
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 2;
        match &step.kind {
            StepKind::SystemPackages { .. } => seg.apt.push((n, step)),
            StepKind::CondaPackages { .. } => seg.conda.push((n, step)),
            StepKind::PythonPackages { .. } => seg.pip.push((n, step)),
            StepKind::Copy { src, dest } => {
                state = l.flush(std::mem::take(&mut seg), state)?;
                let context = l.context.as_ref().expect("a copy puts its source in the context");
                state = copy::lower(&l.ctx, n, &state, context, src, dest, &step.span);
            }
            StepKind::Run { commands, mount_host } => {
                state = l.flush(std::mem::take(&mut seg), state)?;
                state = run::lower(&l.ctx, n, &state, commands, *mount_host, l.context.as_ref(), &step.span);
            }
        }
    }
    if !seg.is_empty() {
        state = l.flush(seg, state)?;
    }
    let mut config = base.config.clone();
    config.set_platform(&opts.platform);
    if let Some(conda) = &l.conda {
        config.prepend_path(&format!("{}/bin", conda.prefix()));
        config.set_label("org.aiges.envd.conda-packages", &conda.all_specs().join(" "));
    }
    image_config::apply_edits(&mut config, plan);
    record_installs(&mut config, plan);
    for (k, v) in &opts.labels {
        config.set_label(k, v);
    }
    Ok(Lowered { state, config })
}

/// `dir` first on a PATH, and not again later.
pub(crate) fn prepend_path(dir: &str, path: &str) -> String {
    let rest: Vec<&str> = path.split(':').filter(|p| !p.is_empty() && *p != dir).collect();
    if rest.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}:{}", rest.join(":"))
    }
}

/// Labels that say what the build installed, for whoever inspects the image.
fn record_installs(config: &mut ImageConfig, plan: &Plan) {
    let mut apt = Vec::new();
    let mut pip = Vec::new();
    for step in &plan.steps {
        match &step.kind {
            StepKind::SystemPackages { names } => apt.extend(names.iter().cloned()),
            StepKind::PythonPackages { names, requirements, local_wheels } => {
                pip.extend(names.iter().cloned());
                pip.extend(requirements.iter().map(|r| format!("-r {r}")));
                pip.extend(local_wheels.iter().map(|w| w.to_string()));
            }
            _ => {}
        }
    }
    if !apt.is_empty() {
        config.set_label("org.aiges.envd.system-packages", &apt.join(" "));
    }
    if !pip.is_empty() {
        config.set_label("org.aiges.envd.python-packages", &pip.join(" "));
    }
}
