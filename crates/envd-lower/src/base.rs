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

use envd_lang::{BaseImage, Diagnostic, Plan, Span};
use envd_llb::{Image, Local, State};

use crate::ctx::Ctx;
use crate::inputs::{BaseSource, ResolvedBase};
use crate::well_known::DEFAULT_PATH;

/// Build arg that replaces the image behind `aiges_cpu`.
pub const AIGES_CPU_IMAGE_ARG: &str = "AIGES_CPU_IMAGE";
/// Build arg that replaces the image behind `aiges_gpu`.
pub const AIGES_GPU_IMAGE_ARG: &str = "AIGES_GPU_IMAGE";
/// Build arg that picks the device of a file that names no image.
pub const AIGES_DEVICE_ARG: &str = "AIGES_DEVICE";

const AIGES_CPU_DEFAULT: &str = "iflyopensource/aiges-gpu:10.1-1.17-3.9.13-ubuntu1804-v3.4.4";
const AIGES_GPU_TEMPLATE: &str = "iflyopensource/aiges-gpu:{cuda}-1.17-3.9.13-ubuntu1804-v3.4.4";
const DEFAULT_CUDA: &str = "11.6";

/// The device `AIGES_DEVICE` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// `cpu`: the AIGES CPU base.
    Cpu,
    /// `gpu`: the AIGES GPU base.
    Gpu,
}

/// What the build args say about the base, parsed once with the other
/// frontend options: the `AIGES_*` args.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseOverrides {
    /// `AIGES_CPU_IMAGE`: the image behind `aiges_cpu`.
    pub cpu_image: Option<String>,
    /// `AIGES_GPU_IMAGE`: the image behind `aiges_gpu`; `{cuda}` in it
    /// becomes the CUDA version.
    pub gpu_image: Option<String>,
    /// `AIGES_DEVICE`: the device of a file whose `base()` names no image.
    pub device: Option<Device>,
}

impl BaseOverrides {
    /// Reads the `AIGES_*` build args. The error names the arg and says
    /// what is wrong with its value.
    pub fn from_build_args(args: &BTreeMap<String, String>) -> Result<Self, (&'static str, String)> {
        let device = match args.get(AIGES_DEVICE_ARG).map(|d| d.trim().to_ascii_lowercase()) {
            None => None,
            Some(d) if d == "cpu" => Some(Device::Cpu),
            Some(d) if d == "gpu" => Some(Device::Gpu),
            Some(d) => return Err((AIGES_DEVICE_ARG, format!("{d:?} is not cpu or gpu"))),
        };
        // Empty is "not given", as a bake variable left at "" passes it.
        let image = |arg: &'static str| match args.get(arg).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(v) if v.contains(char::is_whitespace) => Err((arg, format!("{v:?} is not an image reference"))),
            other => Ok(other.map(str::to_owned)),
        };
        Ok(Self { cpu_image: image(AIGES_CPU_IMAGE_ARG)?, gpu_image: image(AIGES_GPU_IMAGE_ARG)?, device })
    }
}

/// The reference behind a plan's base, and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChoice {
    /// The reference to resolve and build on.
    pub reference: String,
    /// `aiges_cpu` or `aiges_gpu` when the plan names an AIGES base: a
    /// named context of that name replaces it.
    pub alias: Option<&'static str>,
    /// The CUDA version of an AIGES GPU base.
    pub cuda: Option<String>,
    /// `aiges_cpu`, `aiges_gpu (CUDA 11.6)` or the reference itself.
    pub label: String,
    /// The `base()` call, where a failure to resolve it is reported.
    pub span: Span,
}

/// The image reference a plan's base stands for, given the overrides.
pub(crate) fn choose(plan: &Plan, overrides: &BaseOverrides) -> Result<BaseChoice, Diagnostic> {
    let mut image = plan.base.image.clone();
    if !plan.base.image_explicit {
        match overrides.device {
            None => {}
            Some(Device::Cpu) => image = BaseImage::AigesCpu,
            Some(Device::Gpu) => image = BaseImage::AigesGpu,
        }
        if plan.cuda.is_some() {
            image = BaseImage::AigesGpu;
        }
    }
    if let (Some(cuda), BaseImage::AigesCpu) = (&plan.cuda, &image) {
        return Err(Diagnostic::at(
            cuda.span.clone(),
            "install.cuda() asks for a GPU base, but base(image=\"aiges_cpu\") names the CPU one",
        ));
    }
    let (reference, label, alias, cuda) = match image {
        BaseImage::AigesCpu => (
            overrides.cpu_image.clone().unwrap_or_else(|| AIGES_CPU_DEFAULT.to_owned()),
            "aiges_cpu".to_owned(),
            Some("aiges_cpu"),
            None,
        ),
        BaseImage::AigesGpu => {
            let cuda = plan.cuda.as_ref().map_or(DEFAULT_CUDA, |c| c.version.as_str());
            let template = overrides.gpu_image.as_deref().unwrap_or(AIGES_GPU_TEMPLATE);
            (
                template.replace("{cuda}", cuda),
                format!("aiges_gpu (CUDA {cuda})"),
                Some("aiges_gpu"),
                Some(cuda.to_owned()),
            )
        }
        BaseImage::Reference(r) => (r.clone(), r, None, None),
    };
    Ok(BaseChoice { reference, alias, cuda, label, span: plan.base.span.clone() })
}

/// The `CUDA_VERSION` of the base's config (the nvidia/cuda images'
/// convention, and the AIGES GPU images'), as written: `11.6.2`.
pub(crate) fn config_cuda(base: &ResolvedBase) -> Option<String> {
    let env = base.config.env();
    let v = env.iter().find(|(k, _)| k == "CUDA_VERSION").map(|(_, v)| v.trim().to_owned())?;
    (!v.is_empty()).then_some(v)
}

/// The base image as the first step, carrying its env, working directory
/// and user into every later exec.
pub(crate) fn state(ctx: &Ctx, plan: &Plan, base: &ResolvedBase) -> State {
    let name = match &base.named_context {
        Some(key) => format!("base {} (--build-context {key})", base.reference),
        None => format!("base {}", base.reference),
    };
    let constraints = ctx.numbered(1, &name, &plan.base.span);
    let platform = ctx.config.platform.clone();
    let mut state = match &base.source {
        BaseSource::Image => Image::new(&base.reference)
            .platform(platform)
            .resolve_mode(ctx.config.resolve_mode)
            .constraints(constraints)
            .into_state(),
        BaseSource::OciLayout { session, store } => {
            envd_llb::oci_layout(&base.reference, session, store, platform, constraints)
        }
        BaseSource::Local { name, session, shared_key } => Local::new(name)
            .session_id(session)
            .shared_key_hint(format!("context:{name}-{shared_key}"))
            .constraints(constraints)
            .into_state()
            .with_platform(platform),
    };
    let cfg = &base.config;
    for (k, v) in cfg.env() {
        state = state.add_env(k, v);
    }
    if !cfg.env().iter().any(|(k, _)| k == "PATH") {
        // What a Dockerfile RUN gets on an image without PATH.
        state = state.add_env("PATH", DEFAULT_PATH);
    }
    if let Some(dir) = cfg.working_dir() {
        state = state.dir(dir);
    }
    if let Some(user) = cfg.user() {
        state = state.user(user);
    }
    for (host, ip) in &ctx.config.extra_hosts {
        state = state.add_extra_host(host, ip);
    }
    state
        .network(ctx.config.network)
        .proxy(ctx.config.proxy.clone())
        .cache_namespace(&ctx.config.cache_namespace)
        .limits(ctx.config.limits.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn choose_with(src: &str, pairs: &[(&str, &str)]) -> Result<BaseChoice, Diagnostic> {
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        choose(&plan, &BaseOverrides::from_build_args(&args(pairs)).unwrap())
    }

    #[test]
    fn defaults_and_build_arg_overrides() {
        let cpu = "def build():\n    base(image=\"aiges_cpu\")\n";
        assert_eq!(choose_with(cpu, &[]).unwrap().reference, AIGES_CPU_DEFAULT);
        assert_eq!(choose_with(cpu, &[(AIGES_CPU_IMAGE_ARG, "mirror/cpu:1")]).unwrap().reference, "mirror/cpu:1");
        let gpu = "def build():\n    base(image=\"aiges_gpu\")\n    install.cuda(version=\"11.2\")\n";
        assert_eq!(
            choose_with(gpu, &[]).unwrap().reference,
            "iflyopensource/aiges-gpu:11.2-1.17-3.9.13-ubuntu1804-v3.4.4"
        );
        assert_eq!(choose_with(gpu, &[(AIGES_GPU_IMAGE_ARG, "m/gpu:{cuda}")]).unwrap().reference, "m/gpu:11.2");
        let any = "def build():\n    base(image=\"python:3.11\")\n";
        assert_eq!(
            choose_with(any, &[(AIGES_DEVICE_ARG, "gpu")]).unwrap().reference,
            "python:3.11",
            "explicit images stay"
        );
    }

    #[test]
    fn aiges_device_flips_a_file_that_names_no_image() {
        let src = "def build():\n    base(language=\"python3.9\")\n";
        assert_eq!(choose_with(src, &[]).unwrap().label, "aiges_cpu");
        assert_eq!(choose_with(src, &[(AIGES_DEVICE_ARG, "GPU")]).unwrap().label, "aiges_gpu (CUDA 11.6)");
        let cuda = "def build():\n    base()\n    install.cuda(version=\"10.1\")\n";
        assert_eq!(choose_with(cuda, &[]).unwrap().label, "aiges_gpu (CUDA 10.1)", "install.cuda implies the GPU base");
    }

    #[test]
    fn bad_aiges_args_name_the_arg() {
        let err = |pairs: &[(&str, &str)]| BaseOverrides::from_build_args(&args(pairs)).unwrap_err();
        assert_eq!(err(&[(AIGES_DEVICE_ARG, "tpu")]), (AIGES_DEVICE_ARG, "\"tpu\" is not cpu or gpu".to_owned()));
        let empty = BaseOverrides::from_build_args(&args(&[(AIGES_CPU_IMAGE_ARG, " ")])).unwrap();
        assert_eq!(empty.cpu_image, None, "an empty arg is one not given");
        assert_eq!(err(&[(AIGES_GPU_IMAGE_ARG, "a b")]).1, "\"a b\" is not an image reference");
    }

    #[test]
    fn cuda_on_an_explicit_cpu_base_is_an_error_at_the_cuda_line() {
        let src = "def build():\n    base(image=\"aiges_cpu\")\n    install.cuda(version=\"11.6\")\n";
        let err = choose_with(src, &[]).unwrap_err();
        assert_eq!(err.message, "install.cuda() asks for a GPU base, but base(image=\"aiges_cpu\") names the CPU one");
        assert_eq!(err.span.map(|s| s.line), Some(3));
    }
}
