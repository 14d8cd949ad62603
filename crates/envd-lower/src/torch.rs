//! The PyTorch index a python step adds, so that the torch family comes
//! in the variant the base's CUDA can run (see [`envd_gpu`] for the table
//! and the rule for "nearest").
//!
//! A step whose requirements name torch, torchvision, torchaudio or
//! xformers gets `--extra-index-url <ENVD_TORCH_INDEX>/<variant>`. uv
//! (with `unsafe-best-match`, as pip) then takes the highest version of
//! any index, and `1.13.1+cu116` is higher than PyPI's `1.13.1`: the
//! variant's build wins, and PyPI's with its `nvidia-*` wheels is never
//! fetched. The step's log says which index and why. What the user names
//! wins: a `+cuXYZ`/`+cpu` local version adds that variant's index, and a
//! PyTorch index in the requirements or in `config.pip_index` means none
//! is added; `ENVD_TORCH_BACKEND` forces a variant or turns this off.

use envd_gpu::{Backend, Requirement};
use envd_lang::Plan;

use crate::ctx::Ctx;
use crate::shell::quote;

/// What a step adds for its torch family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TorchIndex {
    /// The variant's index, if one is added.
    pub(crate) url: Option<String>,
    /// The step's first line of log, `echo`ed.
    pub(crate) note: String,
}

impl TorchIndex {
    /// `args` (quoted) with the index's argument, `--extra-index-url=URL`
    /// (one word: the resolve step writes each word as a requirements line).
    pub(crate) fn extend(&self, args: &str) -> String {
        match &self.url {
            Some(url) => format!("{args} {}", quote(&format!("--extra-index-url={url}"))),
            None => args.to_owned(),
        }
    }

    /// The index as a requirements-file line, if one is added.
    pub(crate) fn option_line(&self) -> Option<String> {
        self.url.as_ref().map(|url| format!("--extra-index-url {url}"))
    }

    /// The shell line that logs the choice.
    pub(crate) fn echo(&self) -> String {
        format!("echo {}\n", quote(&self.note))
    }
}

/// The base's CUDA version as the base says it: its config's
/// `CUDA_VERSION` (`11.6.2`), else `install.cuda(version=)` or the AIGES
/// GPU tag's; `None` on a base with none.
pub(crate) fn base_cuda(ctx: &Ctx, plan: &Plan) -> Option<String> {
    crate::base::config_cuda(&ctx.inputs.base)
        .or_else(|| plan.cuda.as_ref().map(|c| c.version.clone()))
        .or_else(|| ctx.inputs.base.aiges_cuda.clone())
}

/// The index a step that installs `requirements` (requirement strings and
/// requirements-file lines) adds for its torch family, or `None` when it
/// names none, or names its own PyTorch index.
pub(crate) fn index(ctx: &Ctx, plan: &Plan, requirements: &[String]) -> Option<TorchIndex> {
    let named: Vec<(Requirement, &str)> =
        requirements.iter().filter_map(|l| Requirement::parse(l).map(|r| (r, l.as_str()))).collect();
    let family: Vec<&(Requirement, &str)> = named.iter().filter(|(r, _)| r.is_torch_family()).collect();
    if family.is_empty() || ctx.config.torch_backend == Backend::Off {
        return None;
    }
    let own_index = requirements.iter().filter_map(|l| crate::requirements::option(l)).any(|(opt, url)| {
        ["-i", "--index-url", "--extra-index-url", "-f", "--find-links"].contains(&opt)
            && envd_gpu::index_variant(url).is_some()
    });
    let configured = plan.pip_index.iter().flat_map(|p| std::iter::once(&p.url).chain(p.extra_url.as_ref()));
    if own_index || configured.into_iter().any(|u| envd_gpu::index_variant(u).is_some()) {
        return None;
    }
    let explicit = family.iter().find_map(|(r, line)| r.variant().map(|v| (v, line.trim())));
    let torch = family.iter().find(|(r, _)| r.name == "torch").and_then(|(r, _)| r.version.as_deref());
    let base = base_cuda(ctx, plan);
    match envd_gpu::choose(ctx.config.torch_backend, explicit, base.as_deref(), torch) {
        Some(choice) => {
            let url = format!("{}/{}", ctx.config.torch_index.trim_end_matches('/'), choice.variant);
            let note = format!("envd: torch from {} ({})", envd_conda::credentials::redact(&url), choice.reason());
            Some(TorchIndex { url: Some(url), note })
        }
        None => Some(TorchIndex {
            url: None,
            note: format!(
                "envd: torch {} has no PyTorch build for CUDA {} or older; installing from the build's indexes (ENVD_TORCH_BACKEND=cuXYZ forces a variant)",
                torch.unwrap_or_default(),
                base.unwrap_or_default()
            ),
        }),
    }
}
