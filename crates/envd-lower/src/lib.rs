//! The second stage: an envd [`Plan`](envd_lang::Plan) plus fetched
//! [`Inputs`] becomes LLB and an OCI image config.
//!
//! Lowering is pure: it never talks to BuildKit and never sees a Starlark
//! value. Before it runs, the frontend asks [`needs`] what the plan needs
//! (the base reference, context files, the installer image), fetches all
//! of it, and hands [`lower`] plain data: a [`LowerConfig`] parsed from
//! the options and the fetched [`Inputs`]. [`schedule`] decides the order
//! of the steps, with no LLB in sight; each kind of step then has its own
//! module. [`LlbCaps`] carries what the daemon supports, checked once by
//! the frontend. Every error is an [`envd_lang::Diagnostic`] at the
//! build.envd call at fault.
//!
//! The image config starts from the base's, so Env (PATH included),
//! WorkingDir, User, Entrypoint, Cmd, Labels and ExposedPorts survive:
//! AIGES images depend on them, and upstream envd loses them.

mod apt;
mod base;
mod conda;
mod context;
mod copy;
mod frontend_image;
mod image_config;
mod needs;
mod pip;
mod requirements;
mod run;
mod schedule;
pub mod secrets;
mod shell;
mod uv;
pub mod well_known;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use envd_lang::{Diagnostic, Plan, Span, StepKind};
use envd_llb::{diff, merge, Constraints, Exec, Limits, NetMode, Platform, ProxyEnv, ResolveMode, SourceMap, State};

pub use base::{BaseChoice, BaseOverrides, Device, AIGES_CPU_IMAGE_ARG, AIGES_DEVICE_ARG, AIGES_GPU_IMAGE_ARG};
pub use conda::{DEFAULT_PREFIX as DEFAULT_CONDA_PREFIX, INSTALLER_PATH};
pub use image_config::ImageConfig;
pub use needs::{needs, Needs};
pub use schedule::{schedule, Numbered, Python, Stage};
pub use shell::{explain_failure, ScriptStep};
pub use uv::{PythonInstaller, PYTHON_INSTALLER_ARG};

use crate::well_known::DEFAULT_PATH;

/// What the daemon supports, as far as lowering cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LlbCaps {
    /// MergeOp and DiffOp are available.
    pub merge_diff: bool,
}

/// Where the base's file system comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BaseSource {
    /// An image of a registry or of the worker's store: the reference.
    #[default]
    Image,
    /// An image in an OCI layout the client serves
    /// (`--build-context NAME=oci-layout://…`).
    OciLayout {
        /// The client's session.
        session: String,
        /// The layout's content store in that session.
        store: String,
    },
    /// A directory of the client's, as the root file system
    /// (`--build-context NAME=./dir`).
    Local {
        /// The local's name.
        name: String,
        /// The client's session.
        session: String,
        /// buildx's key for sharing transfers of it.
        shared_key: String,
    },
}

/// The base image as the daemon resolved it.
#[derive(Debug, Clone)]
pub struct ResolvedBase {
    /// The reference, pinned to its digest where one is known; for a
    /// directory, the context's name.
    pub reference: String,
    /// The base's image config JSON.
    pub config: ImageConfig,
    /// Where its file system comes from.
    pub source: BaseSource,
    /// The named context that replaced the plan's base, if one did.
    pub named_context: Option<String>,
    /// The CUDA version of an AIGES GPU base (`aiges_gpu`, by the file,
    /// `AIGES_DEVICE` or `install.cuda`).
    pub aiges_cuda: Option<String>,
}

impl ResolvedBase {
    /// A base with nothing in its config but the usual PATH, for lowering
    /// without a daemon.
    pub fn stand_in(reference: &str) -> Self {
        let config = serde_json::json!({ "config": { "Env": [format!("PATH={DEFAULT_PATH}")] } });
        Self {
            reference: reference.to_owned(),
            config: ImageConfig::parse(config.to_string().as_bytes()).expect("a valid config"),
            source: BaseSource::Image,
            named_context: None,
            aiges_cuda: None,
        }
    }
}

/// Where the build context comes from.
#[derive(Debug, Clone)]
pub enum ContextSource {
    /// The client's directory, the local of this name (`context`).
    Local(String),
    /// A repository or tarball BuildKit fetches: the files, whole; a
    /// remote context has no `.dockerignore`, as for a Dockerfile.
    Remote(State),
}

/// How to lower: the frontend options that shape the LLB, parsed once.
#[derive(Debug, Clone)]
pub struct LowerConfig {
    /// The platform to build for.
    pub platform: Platform,
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
    /// The build context.
    pub context: ContextSource,
    /// `--add-host` entries (host, IP) for every step's `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// `--network`: every step's network.
    pub network: NetMode,
    /// `--shm-size`, `--ulimit` and `--cgroup-parent`, for every step.
    pub limits: Limits,
    /// The `HTTP_PROXY`-style build args, for every step; BuildKit keeps
    /// them out of the cache key and the image.
    pub proxy: Option<ProxyEnv>,
    /// `BUILDKIT_CACHE_MOUNT_NS`: the namespace of every cache mount id.
    pub cache_namespace: String,
    /// The `CONDA_OVERRIDE_CUDA` build arg: `__cuda` for the conda solve,
    /// before any other source (conda's own convention).
    pub conda_override_cuda: Option<String>,
    /// `ENVD_PYTHON_INSTALLER`: uv (the default) or pip for python packages.
    pub python_installer: PythonInstaller,
    /// The image's `created`, seconds since the Unix epoch: the build's
    /// time, or `SOURCE_DATE_EPOCH`.
    pub created: i64,
}

/// What the frontend fetched for the plan, as [`needs`] asked.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The build file, for source locations.
    pub source: Arc<SourceMap>,
    /// `.dockerignore` patterns of the context.
    pub dockerignore: Vec<String>,
    /// The base image, resolved.
    pub base: ResolvedBase,
    /// The context files [`Needs::context_files`] named, by path, as
    /// read; a file missing here is missing from the context.
    pub context_files: BTreeMap<String, String>,
    /// The frontend's own image, pinned, whose binary installs conda
    /// environments in the build; `None` when BuildKit did not say.
    pub installer_image: Option<String>,
}

/// The frontend image a local lowering names as the installer.
pub const LOCAL_INSTALLER_IMAGE: &str = "docker.io/aiges/envd-frontend:latest";

impl LowerConfig {
    /// The configuration of a lowering without BuildKit (`envd-frontend
    /// check --llb`, tests, benchmarks): linux/amd64, merge and diff
    /// available, session `local`, context `context`.
    pub fn local() -> Self {
        Self {
            platform: Platform::parse("linux/amd64").expect("a platform"),
            caps: LlbCaps { merge_diff: true },
            no_cache: false,
            labels: Vec::new(),
            resolve_mode: ResolveMode::Default,
            session_id: "local".into(),
            context: ContextSource::Local("context".into()),
            extra_hosts: Vec::new(),
            network: NetMode::Unset,
            limits: Limits::default(),
            proxy: None,
            cache_namespace: String::new(),
            conda_override_cuda: None,
            python_installer: PythonInstaller::Uv,
            created: 0,
        }
    }
}

impl Inputs {
    /// Inputs of a lowering without BuildKit: `source` as `build.envd`,
    /// `base`, no `.dockerignore`, no context files, and
    /// [`LOCAL_INSTALLER_IMAGE`] as the installer.
    pub fn local(source: &str, base: ResolvedBase) -> Self {
        Self {
            source: SourceMap::new("build.envd", source.as_bytes().to_vec(), "starlark"),
            dockerignore: Vec::new(),
            base,
            context_files: BTreeMap::new(),
            installer_image: Some(LOCAL_INSTALLER_IMAGE.into()),
        }
    }
}

/// The result of lowering.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The image's root file system.
    pub state: State,
    /// The image config to return with it.
    pub config: ImageConfig,
    /// The steps that run scripts, for [`explain_failure`].
    pub scripts: Vec<ScriptStep>,
}

/// Shared context of the per-step lowerings.
pub(crate) struct Ctx<'a> {
    config: &'a LowerConfig,
    inputs: &'a Inputs,
    total: usize,
    /// The script steps made so far, for [`Lowered::scripts`].
    scripts: RefCell<Vec<ScriptStep>>,
}

impl Ctx<'_> {
    /// An exec that runs `script` for the plan steps `steps` (one call,
    /// or the conda calls of a segment, which share one step): numbered
    /// and named `name` in progress after the first, located at every
    /// call, and remembered for [`explain_failure`].
    pub(crate) fn script(&self, state: &State, steps: &[Numbered], name: &str, script: &str) -> Exec {
        self.script_with_reasons(state, steps, name, script, Vec::new())
    }

    /// [`Ctx::script`] for a script that says why it failed with its exit
    /// code (see [`ScriptStep::reasons`]).
    pub(crate) fn script_with_reasons(
        &self,
        state: &State,
        steps: &[Numbered],
        name: &str,
        script: &str,
        reasons: Vec<(u32, String)>,
    ) -> Exec {
        let (first, later) = steps.split_first().expect("a script step belongs to a call");
        let mut constraints = self.step(*first, name);
        for call in later {
            let span = &call.step.span;
            constraints = constraints.with_location(self.inputs.source.location(span.line, span.end_line));
        }
        let name = self.progress(first.number(), name);
        self.scripts.borrow_mut().push(ScriptStep { name, script: script.into(), reasons });
        shell::sh(state, script).constraints(constraints)
    }

    /// `[n/total] name`, as progress shows step `n`.
    fn progress(&self, n: usize, name: &str) -> String {
        format!("[{n}/{}] {name}", self.total)
    }

    /// Constraints for a plan step: its progress name (`[n/total] name`),
    /// its place in build.envd, and `--no-cache`.
    pub(crate) fn step(&self, step: Numbered, name: &str) -> Constraints {
        self.numbered(step.number(), name, &step.step.span)
    }

    /// Constraints for step `n` of the progress count.
    pub(crate) fn numbered(&self, n: usize, name: &str, span: &Span) -> Constraints {
        self.named(&self.progress(n, name), span)
    }

    /// Constraints for an op that belongs to a call but is not a step.
    pub(crate) fn named(&self, name: &str, span: &Span) -> Constraints {
        Constraints::named(name)
            .with_location(self.inputs.source.location(span.line, span.end_line))
            .with_ignore_cache(self.config.no_cache)
    }

    /// Constraints for a helper op no user wrote.
    pub(crate) fn internal(&self, name: &str) -> Constraints {
        Constraints::named(format!("[internal] {name}"))
    }
}

/// Lowers `plan` onto the resolved base of `inputs`.
pub fn lower(plan: &Plan, config: &LowerConfig, inputs: &Inputs) -> Result<Lowered, Diagnostic> {
    let ctx = Ctx { config, inputs, total: plan.steps.len() + 1, scripts: RefCell::default() };
    let base = &inputs.base;
    let cuda = conda::cuda_version(plan, config.conda_override_cuda.as_deref(), base);
    let conda = conda::Conda::prepare(
        plan,
        &base.config.env(),
        &inputs.context_files,
        inputs.installer_image.as_deref(),
        cuda,
        &config.platform.architecture,
    )?;
    let mut channel_dirs = conda.as_ref().map(|c| c.context_dirs()).unwrap_or_default();
    channel_dirs.extend(conda.as_ref().map(|c| c.pip_source_dirs()).unwrap_or_default());
    channel_dirs.extend(pip::referenced(plan, inputs)?);
    let context = context::state(plan, config, inputs, &channel_dirs);
    let mut state = base::state(&ctx, plan, base);
    for stage in schedule(plan) {
        state = match stage {
            Stage::Install { apt, conda: calls } => {
                // apt and conda build independently from the stage's start
                // and are joined; without merge/diff they form one chain,
                // apt first.
                let apt_state = (!apt.is_empty()).then(|| {
                    apt.iter().fold(state.clone(), |s, step| match &step.step.kind {
                        StepKind::SystemPackages { names } => apt::lower(&ctx, *step, &s, names),
                        _ => unreachable!("the schedule puts only apt calls here"),
                    })
                });
                let conda_from = match (&apt_state, config.caps.merge_diff) {
                    (Some(a), false) => a.clone(),
                    _ => state.clone(),
                };
                let conda_state = match (&conda, calls.is_empty()) {
                    (_, true) => None,
                    (Some(c), false) => Some(c.lower(&ctx, plan, &conda_from, context.as_ref(), &calls)?),
                    (None, false) => unreachable!("conda calls were prepared"),
                };
                match (apt_state, conda_state) {
                    (Some(a), Some(c)) if config.caps.merge_diff => join(&ctx, state, vec![a, c]),
                    (_, Some(c)) => c,
                    (Some(a), None) => a,
                    (None, None) => state,
                }
            }
            Stage::CondaOnPath => {
                let prefix = conda.as_ref().expect("a conda stage came first").prefix();
                let old = state.env().iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone()).unwrap_or_default();
                state.add_env("PATH", prepend_path(&format!("{prefix}/bin"), &old))
            }
            Stage::PipConf => {
                let index = plan.pip_index.as_ref().expect("the schedule writes pip.conf for a pip index");
                pip::write_conf(&ctx, &state, index)
            }
            Stage::Pip { step, python } => {
                let python = match (python, &conda) {
                    (Python::Conda, Some(c)) => format!("{}/bin/python", c.prefix()),
                    _ => pip::BASE_PYTHON.to_owned(),
                };
                let StepKind::PythonPackages { names, requirements, local_wheels } = &step.step.kind else {
                    unreachable!("the schedule puts only pip calls here")
                };
                let what = pip::Packages { names, requirements: requirements.as_ref(), wheels: local_wheels };
                pip::lower(&ctx, plan, step, &state, &python, context.as_ref(), &what)
            }
            Stage::Copy(step) => {
                let StepKind::Copy { src, dest } = &step.step.kind else { unreachable!("a copy stage copies") };
                let context = context.as_ref().expect("a copy puts its source in the context");
                copy::lower(&ctx, step, &state, context, src, dest)
            }
            Stage::Run(step) => {
                let StepKind::Run { commands, mount_host } = &step.step.kind else { unreachable!("a run stage runs") };
                run::lower(&ctx, step, &state, commands, *mount_host, context.as_ref())
            }
        };
    }
    let mut image = base.config.clone();
    image.set_platform(&config.platform);
    if let Some(conda) = &conda {
        image.prepend_path(&format!("{}/bin", conda.prefix()));
        // The AIGES loader's c mode embeds the python it finds first on
        // PATH, whose libpython it loads through LD_LIBRARY_PATH.
        image.append_library_path(&format!("{}/lib", conda.prefix()));
        image.set_label("org.aiges.envd.conda-packages", &conda.all_specs().join(" "));
    }
    image.set_created(config.created);
    image_config::apply_edits(&mut image, plan);
    record_installs(&mut image, plan);
    for (k, v) in &config.labels {
        image.set_label(k, v);
    }
    Ok(Lowered { state, config: image, scripts: ctx.scripts.into_inner() })
}

/// Joins branches that each grew from `base` as
/// `merge(base, diff(base, b1), diff(base, b2), ...)`. Only used where the
/// daemon has merge and diff.
fn join(ctx: &Ctx, base: State, branches: Vec<State>) -> State {
    let mut layers = vec![base.clone()];
    layers.extend(branches.iter().map(|b| diff(&base, b, ctx.internal("diff"))));
    merge(&layers, ctx.internal("merge"))
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
        config.set_label("org.aiges.envd.python-packages", &envd_conda::credentials::strip(&pip.join(" ")));
    }
}
