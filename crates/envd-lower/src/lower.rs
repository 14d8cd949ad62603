//! The walk over a plan's schedule: each stage handed to its step's
//! module, apt and conda joined with merge/diff where the daemon has them,
//! and the image config finished from the base's.

use std::cell::RefCell;

use envd_lang::{Diagnostic, Plan, StepKind};
use envd_llb::{diff, merge, State};

use crate::config::LowerConfig;
use crate::ctx::Ctx;
use crate::image_config::{prepend_path, ImageConfig};
use crate::inputs::Inputs;
use crate::schedule::{schedule, Python, Stage};
use crate::shell::ScriptStep;
use crate::{apt, base, conda, context, copy, image_config, pip, run};

/// The result of lowering.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The image's root file system.
    pub state: State,
    /// The image config to return with it.
    pub config: ImageConfig,
    /// The steps that run scripts, for explaining a failed solve.
    pub scripts: Vec<ScriptStep>,
    /// The resolves of python and conda steps whose lock [`Inputs::locks`]
    /// lacks. When there are any, `state` installs those steps' packages
    /// in one layer each; the frontend solves the resolves, reads their
    /// locks and lowers again.
    pub resolves: Vec<crate::lock::Resolve>,
    /// The base as the steps start from it: what an SBOM compares the
    /// image with, to name what the build added.
    pub base: State,
    /// The conda environment's prefix, where the build has one.
    pub conda_prefix: Option<String>,
}

/// Lowers `plan` onto the resolved base of `inputs`.
pub fn lower(plan: &Plan, config: &LowerConfig, inputs: &Inputs) -> Result<Lowered, Diagnostic> {
    let ctx =
        Ctx { config, inputs, total: plan.steps.len() + 1, scripts: RefCell::default(), resolves: RefCell::default() };
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
    let base_state = state.clone();
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
                pip::lower(&ctx, plan, step, &state, &python, context.as_ref(), &what)?
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
    Ok(Lowered {
        state,
        config: image,
        scripts: ctx.scripts.into_inner(),
        resolves: ctx.resolves.into_inner(),
        base: base_state,
        conda_prefix: conda.as_ref().map(|c| c.prefix().to_owned()),
    })
}

/// Joins branches that each grew from `base` as
/// `merge(base, diff(base, b1), diff(base, b2), ...)`. Only used where the
/// daemon has merge and diff.
fn join(ctx: &Ctx, base: State, branches: Vec<State>) -> State {
    let mut layers = vec![base.clone()];
    layers.extend(branches.iter().map(|b| diff(&base, b, ctx.internal("diff"))));
    merge(&layers, ctx.internal("merge"))
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
