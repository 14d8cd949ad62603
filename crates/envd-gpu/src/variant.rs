//! CUDA versions, PyTorch's variants of them, and the choice of one.

use std::fmt;

/// Where PyTorch publishes its wheels, one PEP 503 index per variant
/// (`…/whl/cu116`, `…/whl/cpu`). Company mirrors serve the same layout.
pub const DEFAULT_TORCH_INDEX: &str = "https://download.pytorch.org/whl";

/// The packages PyTorch builds per variant and serves from its variant
/// indexes, with the variant as the local version (`1.13.1+cu116`).
pub const TORCH_FAMILY: [&str; 4] = ["torch", "torchvision", "torchaudio", "xformers"];

/// A CUDA version, major and minor: `11.6.2` reads as 11.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cuda {
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
}

impl Cuda {
    /// Reads `11.6`, `11.6.2` or `11`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().trim_start_matches(['v', 'V']).split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = match parts.next() {
            None | Some("*") => 0,
            Some(m) => m.parse().ok()?,
        };
        Some(Self { major, minor })
    }
}

impl fmt::Display for Cuda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A build of the torch family: for the CPU, or for one CUDA version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// `cpu`: no CUDA, and no `nvidia-*` wheels.
    Cpu,
    /// `cuXYZ`: built for CUDA X.Y… (`cu116` is 11.6, `cu92` is 9.2).
    Cuda(Cuda),
}

impl Variant {
    /// Reads `cpu` or `cuXYZ`, whose last digit is the minor version.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        if text == "cpu" {
            return Some(Self::Cpu);
        }
        let digits = text.strip_prefix("cu")?;
        if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (major, minor) = digits.split_at(digits.len() - 1);
        Some(Self::Cuda(Cuda { major: major.parse().ok()?, minor: minor.parse().ok()? }))
    }

    /// The CUDA it was built for, if any.
    pub fn cuda(self) -> Option<Cuda> {
        match self {
            Self::Cpu => None,
            Self::Cuda(c) => Some(c),
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(c) => write!(f, "cu{}{}", c.major, c.minor),
        }
    }
}

/// PyTorch's CUDA variants: the variant, and the first and last torch
/// release built for it (`None`: still built when the table was written,
/// at torch 2.9). From <https://pytorch.org/get-started/previous-versions/>.
pub const VARIANTS: &[(&str, &str, Option<&str>)] = &[
    ("cu92", "1.4.0", Some("1.7.1")),
    ("cu101", "1.4.0", Some("1.8.1")),
    ("cu102", "1.5.0", Some("1.12.1")),
    ("cu110", "1.7.0", Some("1.7.1")),
    ("cu111", "1.8.0", Some("1.10.2")),
    ("cu113", "1.10.0", Some("1.12.1")),
    ("cu115", "1.11.0", Some("1.11.0")),
    ("cu116", "1.12.0", Some("1.13.1")),
    ("cu117", "1.13.0", Some("2.0.1")),
    ("cu118", "2.0.0", Some("2.7.1")),
    ("cu121", "2.1.0", Some("2.5.1")),
    ("cu124", "2.4.0", Some("2.6.0")),
    ("cu126", "2.6.0", None),
    ("cu128", "2.7.0", None),
    ("cu129", "2.8.0", Some("2.8.0")),
    ("cu130", "2.9.0", None),
];

/// The build arg that chooses the torch family's variant ([`Backend`]).
pub const TORCH_BACKEND_ARG: &str = "ENVD_TORCH_BACKEND";

/// `ENVD_TORCH_BACKEND`: how a build picks the torch family's variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// From the base's CUDA (the default).
    #[default]
    Auto,
    /// No PyTorch index is added: the indexes of the build alone.
    Off,
    /// This variant, whatever the base.
    Force(Variant),
}

impl Backend {
    /// Reads the build arg; the error says what it may be.
    pub fn from_build_arg(value: Option<&str>) -> Result<Self, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("auto") => Ok(Self::Auto),
            Some("off") => Ok(Self::Off),
            Some(other) => Variant::parse(other)
                .map(Self::Force)
                .ok_or_else(|| format!("{other:?} is not auto, off, cpu or a CUDA variant such as cu116")),
        }
    }
}

/// Why a variant was chosen, for the step's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A requirement names it as its local version (`torch==1.13.1+cu118`).
    Pinned(String),
    /// `ENVD_TORCH_BACKEND` names it.
    Forced,
    /// The nearest the base's CUDA (as the base says it) can run.
    BaseCuda(String),
    /// The base has no CUDA.
    NoCuda,
}

/// The variant a step's torch family installs from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The variant.
    pub variant: Variant,
    /// Why.
    pub why: Why,
}

impl Choice {
    /// What the step's log says, after `torch from <index>`.
    pub fn reason(&self) -> String {
        match &self.why {
            Why::Pinned(req) => format!("{req} names it"),
            Why::Forced => format!("ENVD_TORCH_BACKEND={}", self.variant),
            Why::BaseCuda(v) => format!("base CUDA {v}"),
            Why::NoCuda => "the base has no CUDA".to_owned(),
        }
    }
}

/// A torch version as numbers, for the table's ranges: `1.13.1` and
/// `1.13.*` are (1, 13, 1) and (1, 13, 0).
fn version(text: &str) -> Option<(u32, u32, u32)> {
    let release = text.split(['+', 'a', 'b', 'r']).next()?;
    let mut n = release.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    Some((n.next()?, n.next().unwrap_or(0), n.next().unwrap_or(0)))
}

/// The variants whose torch range holds `torch` (every one without a pin).
fn published(torch: Option<&str>) -> impl Iterator<Item = Variant> + '_ {
    VARIANTS.iter().filter_map(move |(name, first, last)| {
        let holds = match torch.and_then(version) {
            None => true,
            Some(v) => version(first).is_some_and(|f| f <= v) && last.and_then(version).is_none_or(|l| v <= l),
        };
        holds.then(|| Variant::parse(name).expect("the table's names parse"))
    })
}

/// The nearest variant for a base with CUDA `cuda`: the newest the base
/// can run (its CUDA no newer than the base's) among those PyTorch built
/// `torch` for, when torch is pinned. `None` when there is none.
pub fn nearest(cuda: Cuda, torch: Option<&str>) -> Option<Variant> {
    published(torch).filter(|v| v.cuda().is_some_and(|c| c <= cuda)).max()
}

/// The variant for a step: `explicit` (a requirement's `+cuXYZ` or
/// `+cpu`, as written) wins, then `backend` when it forces one, then
/// the base's CUDA (`base`, as its config or tag says it; `None` when it
/// has none) with `torch` the pinned torch version. `None` when the
/// backend is off, or the base's CUDA is older than every variant built
/// for `torch` (the step installs from the build's indexes alone).
pub fn choose(
    backend: Backend,
    explicit: Option<(Variant, &str)>,
    base: Option<&str>,
    torch: Option<&str>,
) -> Option<Choice> {
    if backend == Backend::Off {
        return None;
    }
    if let Some((variant, req)) = explicit {
        return Some(Choice { variant, why: Why::Pinned(req.to_owned()) });
    }
    if let Backend::Force(variant) = backend {
        return Some(Choice { variant, why: Why::Forced });
    }
    match base.and_then(|b| Cuda::parse(b).map(|c| (b, c))) {
        None => Some(Choice { variant: Variant::Cpu, why: Why::NoCuda }),
        Some((text, cuda)) => {
            nearest(cuda, torch).map(|variant| Choice { variant, why: Why::BaseCuda(text.trim().to_owned()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cu(text: &str) -> Variant {
        Variant::parse(text).unwrap()
    }

    #[test]
    fn variants_and_cuda_versions_read_and_print() {
        assert_eq!(cu("cu116"), Variant::Cuda(Cuda { major: 11, minor: 6 }));
        assert_eq!(cu("cu92").to_string(), "cu92");
        assert_eq!(cu("CU130").cuda(), Cuda::parse("13.0"));
        assert_eq!(cu("cpu"), Variant::Cpu);
        assert_eq!(Variant::parse("cu"), None);
        assert_eq!(Variant::parse("rocm5.2"), None);
        assert_eq!(Cuda::parse("11.6.2"), Some(Cuda { major: 11, minor: 6 }));
        assert_eq!(Cuda::parse("12"), Some(Cuda { major: 12, minor: 0 }));
        assert_eq!(Cuda::parse("eleven"), None);
        for (name, ..) in VARIANTS {
            assert_eq!(cu(name).to_string(), *name);
        }
    }

    #[test]
    fn the_nearest_variant_is_the_newest_the_base_can_run_for_the_pinned_torch() {
        let cuda = |v| Cuda::parse(v).unwrap();
        assert_eq!(nearest(cuda("11.6.2"), Some("1.13.1")), Some(cu("cu116")));
        assert_eq!(nearest(cuda("11.7"), Some("1.13.1")), Some(cu("cu117")));
        assert_eq!(nearest(cuda("11.4"), Some("1.12.1")), Some(cu("cu113")));
        assert_eq!(nearest(cuda("11.6"), Some("1.11.0")), Some(cu("cu115")));
        assert_eq!(nearest(cuda("12.0"), Some("2.0.1")), Some(cu("cu118")), "12.0 runs 11.8's build");
        assert_eq!(nearest(cuda("12.2"), None), Some(cu("cu121")));
        assert_eq!(nearest(cuda("12.8"), Some("2.9.1")), Some(cu("cu128")));
        assert_eq!(nearest(cuda("11.6"), Some("2.5.1")), None, "torch 2.5 has no build for 11.6 or older");
        assert_eq!(nearest(cuda("8.0"), None), None);
    }

    #[test]
    fn what_wins_the_choice() {
        let choose = |backend, explicit, base, torch| choose(backend, explicit, base, torch);
        let auto = Backend::Auto;
        let on_116 = choose(auto, None, Some("11.6.2"), Some("1.13.1")).unwrap();
        assert_eq!((on_116.variant, on_116.reason()), (cu("cu116"), "base CUDA 11.6.2".to_owned()));
        assert_eq!(choose(auto, None, None, None).unwrap().variant, Variant::Cpu);
        let pinned = choose(auto, Some((cu("cu118"), "torch==1.13.1+cu118")), Some("11.6"), Some("1.13.1")).unwrap();
        assert_eq!(pinned.reason(), "torch==1.13.1+cu118 names it");
        let forced = choose(Backend::Force(cu("cu117")), None, Some("11.6"), None).unwrap();
        assert_eq!((forced.variant, forced.reason()), (cu("cu117"), "ENVD_TORCH_BACKEND=cu117".to_owned()));
        assert_eq!(choose(Backend::Off, Some((cu("cu118"), "x")), Some("11.6"), None), None);
        assert_eq!(choose(auto, None, Some("11.6"), Some("2.5.1")), None);
    }

    #[test]
    fn the_backend_arg() {
        assert_eq!(Backend::from_build_arg(None), Ok(Backend::Auto));
        assert_eq!(Backend::from_build_arg(Some(" OFF ")), Ok(Backend::Off));
        assert_eq!(Backend::from_build_arg(Some("cpu")), Ok(Backend::Force(Variant::Cpu)));
        assert_eq!(Backend::from_build_arg(Some("cu116")), Ok(Backend::Force(cu("cu116"))));
        assert_eq!(
            Backend::from_build_arg(Some("cuda11.6")),
            Err("\"cuda11.6\" is not auto, off, cpu or a CUDA variant such as cu116".into())
        );
    }
}
