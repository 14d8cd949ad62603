//! `TorchCudaMismatch`, `CudaVariantMismatch` and `GpuPackageOnCpuBase`:
//! GPU packages that the base's CUDA cannot run, or that cannot run
//! together.
//!
//! What a package is built for comes from [`envd_gpu`], the table the
//! build's own choice of a PyTorch index stands on: a `+cuXYZ` or `+cpu`
//! local version of the torch family, `cupy-cudaXYZ`, `onnxruntime-gpu`,
//! conda's `pytorch-cuda=`, `cudatoolkit=` and `cuda-version=`, and the
//! PyTorch indexes a requirements file or `config.pip_index` names. The
//! base's CUDA is what build.envd says of it ([`Input::base_cuda`]); an
//! image named by reference is known only to the build, so these rules
//! stay quiet about it.

use envd_gpu::{BaseCuda, Built, Cuda, Requirement, Variant};
use envd_lang::{Rule, Span};

use crate::finding::{Finding, Input};
use crate::named::{Installer, Named};

/// What one package or index asks of CUDA, and where.
struct Ask {
    built: Built,
    /// The requirement or spec as written, or `the index <url>`.
    what: String,
    /// Whether it is the torch family (or a PyTorch index).
    torch: bool,
    span: Span,
}

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let named = crate::named::packages(input);
    let asks = asks(input, &named);
    match input.base_cuda {
        BaseCuda::None => on_cpu(&asks, out),
        BaseCuda::Version(cuda) => on_gpu(input, &named, cuda, &asks, out),
        BaseCuda::Unknown => {}
    }
    mixed(&asks, out);
}

fn asks(input: &Input, packages: &[Named]) -> Vec<Ask> {
    let mut out = Vec::new();
    for named in packages {
        let spec = named.spec.trim();
        let span = named.span.clone();
        match named.installer {
            Installer::Conda => {
                // conda's CUDA packages are CudaVariantMismatch's, as the
                // base's CUDA is conda's `__cuda` too.
                if let Some((_, cuda)) = envd_gpu::conda_cuda(spec) {
                    out.push(Ask { built: Built::Cuda(cuda), what: spec.to_owned(), torch: false, span });
                }
            }
            Installer::Pip if spec.starts_with('-') => {
                let url = spec.split([' ', '=']).rfind(|w| w.contains("://")).unwrap_or_default();
                if let Some(variant) = envd_gpu::index_variant(url) {
                    out.push(index_ask(variant, url, span));
                }
            }
            Installer::Pip => {
                let Some(req) = Requirement::parse(spec) else { continue };
                if let Some(built) = envd_gpu::python_cuda(&req) {
                    out.push(Ask { built, what: spec.to_owned(), torch: req.is_torch_family(), span });
                }
            }
        }
    }
    if let Some(index) = &input.evaluated.plan.pip_index {
        for url in std::iter::once(&index.url).chain(index.extra_url.as_ref()) {
            if let Some(variant) = envd_gpu::index_variant(url) {
                out.push(index_ask(variant, url, index.span.clone()));
            }
        }
    }
    out
}

fn index_ask(variant: Variant, url: &str, span: Span) -> Ask {
    let built = variant.cuda().map_or(Built::Cpu, Built::Cuda);
    Ask { built, what: format!("the index {}", envd_conda::credentials::redact(url)), torch: true, span }
}

fn on_cpu(asks: &[Ask], out: &mut Vec<Finding>) {
    for ask in asks {
        let built_for = match ask.built {
            Built::Cpu => continue,
            Built::Cuda(c) => format!("CUDA {c}"),
            Built::CudaMajor(m) => format!("CUDA {m}"),
            Built::Gpu => "a GPU".to_owned(),
        };
        let instead = if ask.what.starts_with("onnxruntime") {
            "onnxruntime"
        } else if ask.torch {
            "the +cpu build (or no local version: the build then picks it)"
        } else {
            "a CPU package"
        };
        out.push(Finding::at(
            Rule::GpuPackageOnCpuBase,
            &ask.span,
            format!(
                "{} is built for {built_for}, and the base has no CUDA; build on aiges_gpu (base(image=\"aiges_gpu\") or install.cuda()), or install {instead}",
                ask.what
            ),
        ));
    }
}

fn on_gpu(input: &Input, packages: &[Named], base: Cuda, asks: &[Ask], out: &mut Vec<Finding>) {
    let nearest = |torch: Option<&str>| envd_gpu::nearest(base, torch).map_or("none".to_owned(), |v| v.to_string());
    for ask in asks {
        let (rule, message) = match ask.built {
            Built::Cpu if ask.torch => (
                Rule::TorchCudaMismatch,
                format!(
                    "{} is built for the CPU and never uses this base's GPU (CUDA {base}); drop the +cpu, and the build installs {}",
                    ask.what,
                    nearest(None)
                ),
            ),
            Built::Cuda(c) if c > base => (
                if ask.torch { Rule::TorchCudaMismatch } else { Rule::CudaVariantMismatch },
                format!(
                    "{} is built for CUDA {c}, newer than the base's CUDA {base}, whose driver cannot run it; use a build for CUDA {base} or older{}",
                    ask.what,
                    if ask.torch { format!(" ({} is the nearest)", nearest(None)) } else { String::new() }
                ),
            ),
            Built::CudaMajor(m) if m != base.major => (
                Rule::CudaVariantMismatch,
                format!("{} is built for CUDA {m}, and the base has CUDA {base}", ask.what),
            ),
            _ => continue,
        };
        out.push(Finding::at(rule, &ask.span, message));
    }
    // A pinned torch that PyTorch never built for a CUDA this old: the
    // build installs it from the build's indexes, with PyPI's CUDA.
    if input.build_args.get(envd_gpu::TORCH_BACKEND_ARG).is_some_and(|v| !v.trim().eq_ignore_ascii_case("auto")) {
        return;
    }
    for named in packages.iter().filter(|n| n.installer == Installer::Pip) {
        let Some(req) = Requirement::parse(&named.spec) else { continue };
        let (Some(version), None) = (req.version.as_deref(), req.local.as_deref()) else { continue };
        if req.name == "torch" && envd_gpu::nearest(base, Some(version)).is_none() {
            out.push(Finding::at(
                Rule::TorchCudaMismatch,
                &named.span,
                format!(
                    "PyTorch built torch {version} for no CUDA as old as the base's {base}; the build installs the PyPI build, made for a newer CUDA; pin a torch built for {base} or older, or use a newer base"
                ),
            ));
        }
    }
}

/// Two packages of the build built for different CUDA versions: at the
/// later one, naming the first.
fn mixed(asks: &[Ask], out: &mut Vec<Finding>) {
    let cuda = |a: &Ask| match a.built {
        Built::Cuda(c) => Some((c, false)),
        Built::CudaMajor(m) => Some((Cuda { major: m, minor: 0 }, true)),
        _ => None,
    };
    let clash = |(a, a_major): (Cuda, bool), (b, b_major): (Cuda, bool)| {
        if a_major || b_major {
            a.major != b.major
        } else {
            a != b
        }
    };
    for (i, later) in asks.iter().enumerate() {
        let Some(l) = cuda(later) else { continue };
        let Some(first) = asks[..i].iter().find(|a| cuda(a).is_some_and(|f| clash(f, l))) else { continue };
        let shown = |(c, major): (Cuda, bool)| if major { c.major.to_string() } else { c.to_string() };
        out.push(Finding::at(
            Rule::CudaVariantMismatch,
            &later.span,
            format!(
                "{} is built for CUDA {}, and {} at {} for CUDA {}; the packages of one image must share one CUDA",
                later.what,
                shown(l),
                first.what,
                first.span,
                shown(cuda(first).expect("found by its CUDA"))
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use envd_gpu::{BaseCuda, Cuda};
    use envd_lang::Rule;

    use crate::testing::lines_on;

    const GPU: BaseCuda = BaseCuda::Version(Cuda { major: 11, minor: 6 });

    fn build(names: &str) -> String {
        format!("def build():\n    base()\n    install.python_packages(name=[{names}])\n")
    }

    #[test]
    fn torch_builds_the_base_cannot_run_or_never_uses_its_gpu() {
        let l = lines_on(GPU, Rule::TorchCudaMismatch, &build("\"torch==1.13.1+cu118\""), &[], &[]);
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].0, 3);
        assert_eq!(l[0].1, "torch==1.13.1+cu118 is built for CUDA 11.8, newer than the base's CUDA 11.6, whose driver cannot run it; use a build for CUDA 11.6 or older (cu116 is the nearest)");
        let cpu = lines_on(GPU, Rule::TorchCudaMismatch, &build("\"torch==1.13.1+cpu\""), &[], &[]);
        assert!(cpu[0].1.ends_with("drop the +cpu, and the build installs cu116"), "{cpu:?}");
        let reqs = "--extra-index-url https://download.pytorch.org/whl/cu117\ntorch==1.13.1\n";
        let src = "def build():\n    base()\n    install.python_packages(requirements=\"requirements.txt\")\n";
        let index = lines_on(GPU, Rule::TorchCudaMismatch, src, &[("requirements.txt", reqs)], &[]);
        assert_eq!(index.len(), 1);
        assert!(index[0].1.starts_with("the index https://download.pytorch.org/whl/cu117 is built for CUDA 11.7"));
        let old = lines_on(GPU, Rule::TorchCudaMismatch, &build("\"torch==2.5.1\""), &[], &[]);
        assert!(old[0].1.starts_with("PyTorch built torch 2.5.1 for no CUDA as old as the base's 11.6"), "{old:?}");
    }

    #[test]
    fn torch_builds_the_base_runs_are_fine() {
        for names in ["\"torch==1.13.1+cu116\"", "\"torch==1.12.1+cu113\"", "\"torch==1.13.1\"", "\"torch\"", "\"six\""]
        {
            assert!(lines_on(GPU, Rule::TorchCudaMismatch, &build(names), &[], &[]).is_empty(), "{names}");
        }
        let off = [("ENVD_TORCH_BACKEND", "off")];
        assert!(lines_on(GPU, Rule::TorchCudaMismatch, &build("\"torch==2.5.1\""), &[], &off).is_empty());
        assert!(lines_on(BaseCuda::Unknown, Rule::TorchCudaMismatch, &build("\"torch==1.13.1+cu118\""), &[], &[])
            .is_empty());
    }

    #[test]
    fn packages_for_different_cudas() {
        let reqs = "torch==1.13.1+cu117\nxformers==0.0.16+cu118\ncupy-cuda11x\n";
        let src = "def build():\n    base()\n    install.python_packages(requirements=\"requirements.txt\")\n    install.conda_packages(name=[\"pytorch-cuda=11.8\"])\n";
        let unknown = BaseCuda::Unknown;
        let l = lines_on(unknown, Rule::CudaVariantMismatch, src, &[("requirements.txt", reqs)], &[]);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!(l[0], (4, "pytorch-cuda=11.8 is built for CUDA 11.8, and torch==1.13.1+cu117 at requirements.txt:1:1 for CUDA 11.7; the packages of one image must share one CUDA".to_owned()));
        assert_eq!(l[1], (2, "xformers==0.0.16+cu118 is built for CUDA 11.8, and torch==1.13.1+cu117 at requirements.txt:1:1 for CUDA 11.7; the packages of one image must share one CUDA".to_owned()));
        let conda = "def build():\n    base()\n    install.conda_packages(name=[\"pytorch-cuda=11.8\"])\n";
        let on_116 = lines_on(GPU, Rule::CudaVariantMismatch, conda, &[], &[]);
        assert_eq!(on_116.len(), 1, "{on_116:?}");
        assert_eq!(on_116[0].1, "pytorch-cuda=11.8 is built for CUDA 11.8, newer than the base's CUDA 11.6, whose driver cannot run it; use a build for CUDA 11.6 or older");
        let cupy = lines_on(GPU, Rule::CudaVariantMismatch, &build("\"cupy-cuda12x\""), &[], &[]);
        assert_eq!(cupy[0].1, "cupy-cuda12x is built for CUDA 12, and the base has CUDA 11.6");
    }

    #[test]
    fn packages_for_one_cuda_are_fine() {
        let reqs = "torch==1.13.1+cu116\ntorchvision==0.14.1+cu116\ncupy-cuda11x\ncupy-cuda116\n";
        let src = "def build():\n    base()\n    install.python_packages(requirements=\"requirements.txt\")\n";
        assert!(lines_on(GPU, Rule::CudaVariantMismatch, src, &[("requirements.txt", reqs)], &[]).is_empty());
    }

    #[test]
    fn gpu_packages_on_a_base_without_cuda() {
        let names = "\"onnxruntime-gpu==1.16.0\", \"cupy-cuda11x\", \"torch==1.13.1+cu116\"";
        let l = lines_on(BaseCuda::None, Rule::GpuPackageOnCpuBase, &build(names), &[], &[]);
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[0].1, "onnxruntime-gpu==1.16.0 is built for a GPU, and the base has no CUDA; build on aiges_gpu (base(image=\"aiges_gpu\") or install.cuda()), or install onnxruntime");
        assert!(l[2].1.ends_with("install the +cpu build (or no local version: the build then picks it)"));
        let fine = "\"onnxruntime==1.16.0\", \"torch==1.13.1+cpu\", \"torch==1.13.1\"";
        assert!(lines_on(BaseCuda::None, Rule::GpuPackageOnCpuBase, &build(fine), &[], &[]).is_empty());
        assert!(lines_on(GPU, Rule::GpuPackageOnCpuBase, &build(names), &[], &[]).is_empty());
    }
}
