//! Choosing the base image and starting from it.
//!
//! `image="aiges_cpu"` and `"aiges_gpu"` stand for the AIGES loader images.
//! AIGES publishes its loaders as
//! `iflyopensource/aiges-gpu:<cuda>-1.17-3.9.13-ubuntu1804-<release>` and no
//! CPU-only image (its own demos run the CUDA 10.1 image without a GPU), so:
//!
//! | base | default reference |
//! | --- | --- |
//! | `aiges_cpu` | `iflyopensource/aiges-gpu:10.1-1.17-3.9.13-ubuntu1804-v3.4.4` |
//! | `aiges_gpu` | `iflyopensource/aiges-gpu:11.6-1.17-3.9.13-ubuntu1804-v3.4.4` |
//! | `aiges_gpu` + `install.cuda(version=V)` | the same with `V` for `11.6` |
//!
//! The build args `AIGES_CPU_IMAGE` and `AIGES_GPU_IMAGE` replace them (a
//! `{cuda}` in the GPU one is replaced by the CUDA version). `AIGES_DEVICE`
//! (`cpu` or `gpu`) picks the device of a file whose `base()` names no
//! image, so one build.envd serves a CPU and a GPU bake target.

use std::collections::BTreeMap;

use envd_lang::{BaseImage, Plan};
use envd_llb::{Image, State};

use crate::{Ctx, Error, ResolvedBase};

/// Build arg that replaces the image behind `aiges_cpu`.
pub const AIGES_CPU_IMAGE_ARG: &str = "AIGES_CPU_IMAGE";
/// Build arg that replaces the image behind `aiges_gpu`.
pub const AIGES_GPU_IMAGE_ARG: &str = "AIGES_GPU_IMAGE";
/// Build arg that picks the device of a file that names no image.
pub const AIGES_DEVICE_ARG: &str = "AIGES_DEVICE";

const AIGES_CPU_DEFAULT: &str = "iflyopensource/aiges-gpu:10.1-1.17-3.9.13-ubuntu1804-v3.4.4";
const AIGES_GPU_TEMPLATE: &str = "iflyopensource/aiges-gpu:{cuda}-1.17-3.9.13-ubuntu1804-v3.4.4";
const DEFAULT_CUDA: &str = "11.6";

/// The reference behind a plan's base, and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChoice {
    /// The reference to resolve and build on.
    pub reference: String,
    /// `aiges_cpu`, `aiges_gpu (CUDA 11.6)` or the reference itself.
    pub label: String,
}

/// The image reference a plan's base stands for, given the build args.
pub fn base_reference(plan: &Plan, build_args: &BTreeMap<String, String>) -> Result<BaseChoice, Error> {
    let at_base = |message: String| Error { message, span: Some(plan.base.span.clone()) };
    let mut image = plan.base.image.clone();
    if !plan.base.image_explicit {
        match build_args.get(AIGES_DEVICE_ARG).map(|d| d.trim().to_ascii_lowercase()) {
            None => {}
            Some(d) if d == "cpu" => image = BaseImage::AigesCpu,
            Some(d) if d == "gpu" => image = BaseImage::AigesGpu,
            Some(d) => return Err(at_base(format!("build arg {AIGES_DEVICE_ARG}={d:?} is not cpu or gpu"))),
        }
        if plan.cuda.is_some() {
            image = BaseImage::AigesGpu;
        }
    }
    if let (Some(cuda), BaseImage::AigesCpu) = (&plan.cuda, &image) {
        return Err(Error {
            message: "install.cuda() asks for a GPU base, but base(image=\"aiges_cpu\") names the CPU one".into(),
            span: Some(cuda.span.clone()),
        });
    }
    let pick = |arg: &str, default: &str| build_args.get(arg).cloned().unwrap_or_else(|| default.to_owned());
    Ok(match image {
        BaseImage::AigesCpu => {
            BaseChoice { reference: pick(AIGES_CPU_IMAGE_ARG, AIGES_CPU_DEFAULT), label: "aiges_cpu".into() }
        }
        BaseImage::AigesGpu => {
            let cuda = plan.cuda.as_ref().map_or(DEFAULT_CUDA, |c| c.version.as_str());
            let reference = pick(AIGES_GPU_IMAGE_ARG, AIGES_GPU_TEMPLATE).replace("{cuda}", cuda);
            BaseChoice { reference, label: format!("aiges_gpu (CUDA {cuda})") }
        }
        BaseImage::Reference(r) => BaseChoice { label: r.clone(), reference: r },
    })
}

/// The base image as the first step, carrying its env, working directory
/// and user into every later exec.
pub(crate) fn state(ctx: &Ctx, plan: &Plan, base: &ResolvedBase) -> State {
    let image = Image::new(&base.reference)
        .platform(ctx.opts.platform.clone())
        .resolve_mode(ctx.opts.resolve_mode)
        .constraints(ctx.step(1, &format!("base {}", base.reference), &plan.base.span));
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
    for (host, ip) in &ctx.opts.extra_hosts {
        state = state.add_extra_host(host, ip);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    fn choose(src: &str, args: &[(&str, &str)]) -> Result<BaseChoice, Error> {
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        let args = args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        base_reference(&plan, &args)
    }

    #[test]
    fn defaults_and_build_arg_overrides() {
        let cpu = "def build():\n    base(image=\"aiges_cpu\")\n";
        assert_eq!(choose(cpu, &[]).unwrap().reference, AIGES_CPU_DEFAULT);
        assert_eq!(choose(cpu, &[(AIGES_CPU_IMAGE_ARG, "mirror/cpu:1")]).unwrap().reference, "mirror/cpu:1");
        let gpu = "def build():\n    base(image=\"aiges_gpu\")\n    install.cuda(version=\"11.2\")\n";
        assert_eq!(choose(gpu, &[]).unwrap().reference, "iflyopensource/aiges-gpu:11.2-1.17-3.9.13-ubuntu1804-v3.4.4");
        assert_eq!(choose(gpu, &[(AIGES_GPU_IMAGE_ARG, "m/gpu:{cuda}")]).unwrap().reference, "m/gpu:11.2");
        let any = "def build():\n    base(image=\"python:3.11\")\n";
        assert_eq!(choose(any, &[(AIGES_DEVICE_ARG, "gpu")]).unwrap().reference, "python:3.11", "explicit images stay");
    }

    #[test]
    fn aiges_device_flips_a_file_that_names_no_image() {
        let src = "def build():\n    base(language=\"python3.9\")\n";
        assert_eq!(choose(src, &[]).unwrap().label, "aiges_cpu");
        assert_eq!(choose(src, &[(AIGES_DEVICE_ARG, "GPU")]).unwrap().label, "aiges_gpu (CUDA 11.6)");
        let err = choose(src, &[(AIGES_DEVICE_ARG, "tpu")]).unwrap_err();
        assert_eq!(err.message, "build arg AIGES_DEVICE=\"tpu\" is not cpu or gpu");
        assert_eq!(err.span.map(|s| s.line), Some(2));
        let cuda = "def build():\n    base()\n    install.cuda(version=\"10.1\")\n";
        assert_eq!(choose(cuda, &[]).unwrap().label, "aiges_gpu (CUDA 10.1)", "install.cuda implies the GPU base");
    }

    #[test]
    fn cuda_on_an_explicit_cpu_base_is_an_error_at_the_cuda_line() {
        let src = "def build():\n    base(image=\"aiges_cpu\")\n    install.cuda(version=\"11.6\")\n";
        let err = choose(src, &[]).unwrap_err();
        assert_eq!(err.message, "install.cuda() asks for a GPU base, but base(image=\"aiges_cpu\") names the CPU one");
        assert_eq!(err.span.map(|s| s.line), Some(3));
    }
}
