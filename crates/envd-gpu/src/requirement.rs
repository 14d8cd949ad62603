//! What a requirement says about CUDA: a pip requirement's local version
//! (`torch==1.13.1+cu116`) or CUDA-specific name (`cupy-cuda116`,
//! `onnxruntime-gpu`), a conda spec's `pytorch-cuda=11.8`, and an index
//! URL that is one of PyTorch's variant indexes.

use crate::variant::{Cuda, Variant, TORCH_FAMILY};

/// A pip requirement, as far as GPU builds care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The normalised name (lower case, `-` for `_` and `.`).
    pub name: String,
    /// The version of an `==` pin, without its local part.
    pub version: Option<String>,
    /// The local version of an `==` pin: `cu116` in `1.13.1+cu116`.
    pub local: Option<String>,
}

impl Requirement {
    /// Reads `name[extras]==1.2+local ; marker` (a comment after ` #` is
    /// dropped); `None` for options, URLs and paths.
    pub fn parse(line: &str) -> Option<Self> {
        let spec = line.split(" #").next()?.split(';').next()?.trim();
        if spec.is_empty() || spec.starts_with(['-', '#', '.', '/']) || spec.contains("://") || spec.contains(" @ ") {
            return None;
        }
        let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(spec.len());
        let name = spec[..end].to_ascii_lowercase().replace(['_', '.'], "-");
        if name.is_empty() {
            return None;
        }
        let rest = spec[end..].trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, after)| after).trim_start(),
            None => rest,
        };
        let pinned = rest.strip_prefix("===").or_else(|| rest.strip_prefix("==")).map(str::trim);
        let pinned = pinned.filter(|v| !v.is_empty() && !v.contains(','));
        let (version, local) = match pinned.map(|v| v.split_once('+').unwrap_or((v, ""))) {
            None => (None, None),
            Some((v, l)) => (Some(v.to_owned()), (!l.is_empty()).then(|| l.to_ascii_lowercase())),
        };
        Some(Self { name, version, local })
    }

    /// Whether it is one of [`TORCH_FAMILY`].
    pub fn is_torch_family(&self) -> bool {
        TORCH_FAMILY.contains(&self.name.as_str())
    }

    /// The variant its local version names: `+cu116`, `+cpu`.
    pub fn variant(&self) -> Option<Variant> {
        self.local.as_deref().and_then(Variant::parse)
    }
}

/// What a python requirement is built for, where its name or version says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// For the CPU alone: a torch family `+cpu`.
    Cpu,
    /// For this CUDA: `+cu116`, `cupy-cuda116`.
    Cuda(Cuda),
    /// For any CUDA of this major version: `cupy-cuda11x`.
    CudaMajor(u32),
    /// For a GPU, with the CUDA it finds: `onnxruntime-gpu`.
    Gpu,
}

/// What `req` is built for, if its name or local version says.
pub fn python_cuda(req: &Requirement) -> Option<Built> {
    if req.is_torch_family() {
        return match req.variant()? {
            Variant::Cpu => Some(Built::Cpu),
            Variant::Cuda(c) => Some(Built::Cuda(c)),
        };
    }
    if req.name == "onnxruntime-gpu" {
        return Some(Built::Gpu);
    }
    let cupy = req.name.strip_prefix("cupy-cuda")?;
    match cupy.strip_suffix('x') {
        Some(major) => major.parse().ok().map(Built::CudaMajor),
        None => Variant::parse(&format!("cu{cupy}")).and_then(Variant::cuda).map(Built::Cuda),
    }
}

/// The CUDA a conda spec asks for: `pytorch-cuda=11.8`,
/// `cudatoolkit=11.3`, `cuda-version=11.8` (and `==`, ` `, `.*` forms).
pub fn conda_cuda(spec: &str) -> Option<(String, Cuda)> {
    let spec = spec.trim();
    let cut = spec.find(['=', ' ', '>', '<'])?;
    let (name, rest) = spec.split_at(cut);
    if !["pytorch-cuda", "cudatoolkit", "cuda-version"].contains(&name.trim()) {
        return None;
    }
    let version = rest.trim_start_matches(['=', ' ']).split(['=', ' ', ',']).next()?.trim_end_matches(".*");
    Some((name.trim().to_owned(), Cuda::parse(version)?))
}

/// The variant of a PyTorch-style index URL: its last path segment,
/// `…/whl/cu116` or `…/whl/cpu/`.
pub fn index_variant(url: &str) -> Option<Variant> {
    let path = url.split(['?', '#']).next()?.trim_end_matches('/');
    let last = path.rsplit('/').next()?;
    path.contains("://").then_some(())?;
    Variant::parse(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_read_their_pin_and_local_version() {
        let r = Requirement::parse("Torch==1.13.1+CU116 ; python_version >= '3.8'  # gpu").unwrap();
        assert_eq!(
            r,
            Requirement { name: "torch".into(), version: Some("1.13.1".into()), local: Some("cu116".into()) }
        );
        assert_eq!(r.variant(), Variant::parse("cu116"));
        let plain = Requirement::parse("torchvision[scipy]==0.14.1").unwrap();
        assert_eq!((plain.version.as_deref(), plain.local), (Some("0.14.1"), None));
        assert_eq!(Requirement::parse("torch>=1.12").unwrap().version, None);
        assert_eq!(Requirement::parse("--extra-index-url https://x/whl/cu116"), None);
        assert_eq!(Requirement::parse("torch @ https://x/torch.whl"), None);
        assert_eq!(Requirement::parse("./wheels/torch.whl"), None);
    }

    #[test]
    fn what_a_requirement_is_built_for() {
        let built = |line| python_cuda(&Requirement::parse(line).unwrap());
        let cuda = |v| Cuda::parse(v).unwrap();
        assert_eq!(built("torch==1.13.1+cu117"), Some(Built::Cuda(cuda("11.7"))));
        assert_eq!(built("xformers==0.0.22+cu118"), Some(Built::Cuda(cuda("11.8"))));
        assert_eq!(built("torch==1.13.1+cpu"), Some(Built::Cpu));
        assert_eq!(built("torch==1.13.1"), None);
        assert_eq!(built("onnxruntime-gpu==1.16.0"), Some(Built::Gpu));
        assert_eq!(built("cupy-cuda116"), Some(Built::Cuda(cuda("11.6"))));
        assert_eq!(built("cupy_cuda11x>=12"), Some(Built::CudaMajor(11)));
        assert_eq!(built("numpy==1.24.0+local"), None);
    }

    #[test]
    fn conda_specs_and_indexes() {
        let cuda = |v| Cuda::parse(v).unwrap();
        assert_eq!(conda_cuda("pytorch-cuda=11.8"), Some(("pytorch-cuda".into(), cuda("11.8"))));
        assert_eq!(conda_cuda("cudatoolkit==11.3.1"), Some(("cudatoolkit".into(), cuda("11.3"))));
        assert_eq!(conda_cuda("cuda-version 12.1.*"), Some(("cuda-version".into(), cuda("12.1"))));
        assert_eq!(conda_cuda("pytorch=1.13"), None);
        assert_eq!(index_variant("https://download.pytorch.org/whl/cu116"), Variant::parse("cu116"));
        assert_eq!(index_variant("http://mirror:8080/pytorch/whl/cpu/"), Some(Variant::Cpu));
        assert_eq!(index_variant("https://pypi.org/simple"), None);
        assert_eq!(index_variant("cu116"), None);
    }
}
