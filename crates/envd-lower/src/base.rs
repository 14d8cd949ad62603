//! Choosing and starting from the base image.

use std::collections::BTreeMap;

use envd_lang::{BaseImage, Plan};
use envd_llb::{Image, State};

use crate::{Ctx, ResolvedBase};

/// Build arg that overrides the image behind `image="aiges_cpu"`.
pub const AIGES_CPU_IMAGE_ARG: &str = "AIGES_CPU_IMAGE";
/// Build arg that overrides the image behind `image="aiges_gpu"`.
pub const AIGES_GPU_IMAGE_ARG: &str = "AIGES_GPU_IMAGE";

/// The published AIGES loader images. Build args override them, which is
/// how a registry mirror or a local stand-in is used.
const AIGES_CPU_DEFAULT: &str = "iflyopensource/aiges-cpu:latest";
const AIGES_GPU_DEFAULT: &str = "iflyopensource/aiges-gpu:11.6-1.17-3.9.13-ubuntu1804-v2.0.0";

/// The reference behind a plan's base, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChoice {
    /// The reference to resolve and build on.
    pub reference: String,
    /// A short description for progress names, e.g. `aiges_cpu`.
    pub label: String,
}

/// The image reference a plan's base stands for, given the build args.
pub fn base_reference(plan: &Plan, build_args: &BTreeMap<String, String>) -> BaseChoice {
    let pick = |arg: &str, default: &str| build_args.get(arg).cloned().unwrap_or_else(|| default.to_owned());
    match &plan.base.image {
        BaseImage::AigesCpu => {
            BaseChoice { reference: pick(AIGES_CPU_IMAGE_ARG, AIGES_CPU_DEFAULT), label: "aiges_cpu".into() }
        }
        BaseImage::AigesGpu => {
            BaseChoice { reference: pick(AIGES_GPU_IMAGE_ARG, AIGES_GPU_DEFAULT), label: "aiges_gpu".into() }
        }
        BaseImage::Reference(r) => BaseChoice { reference: r.clone(), label: r.clone() },
    }
}

/// The base image as the first step, carrying its env, working directory
/// and user into every later exec.
pub(crate) fn state(ctx: &Ctx, plan: &Plan, base: &ResolvedBase) -> State {
    let image = Image::new(&base.reference).platform(ctx.opts.platform.clone()).constraints(ctx.step(
        1,
        &format!("base {}", base.reference),
        &plan.base.span,
    ));
    let mut state = image.into_state();
    let cfg = &base.config;
    for (k, v) in cfg.env() {
        state = state.add_env(k, v);
    }
    if !cfg.env().iter().any(|(k, _)| k == "PATH") {
        // What a Dockerfile RUN gets on an image without PATH.
        state = state.add_env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
    if let Some(dir) = cfg.working_dir() {
        state = state.dir(dir);
    }
    if let Some(user) = cfg.user() {
        state = state.user(user);
    }
    state
}
