//! `base()`: the image a build starts from.

use crate::rules::Rule;
use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::none::{NoneOr, NoneType};

use super::call::{caller, set_once, store};
use crate::plan::{Base, BaseImage};

/// The OS names envd v0 knew. AIGES bases decide their OS themselves; the
/// value is recorded and checked so a typo is caught.
pub(crate) const KNOWN_OS: &[&str] = &["ubuntu18.04", "ubuntu20.04", "ubuntu22.04", "debian11", "debian12"];

/// Spellings seen in the wild, read as the OS they mean.
const OS_ALIASES: &[(&str, &str)] = &[("ubuntu20.4", "ubuntu20.04"), ("ubuntu18.4", "ubuntu18.04")];

pub(crate) fn register(builder: &mut GlobalsBuilder) {
    globals(builder)
}

/// `python`, `python3` or `pythonX.Y`; returns the `X.Y` when given.
fn parse_language(language: &str) -> anyhow::Result<Option<String>> {
    let Some(rest) = language.strip_prefix("python") else {
        bail!(
            "base(language={language:?}) is not supported; this frontend builds Python services: use \"python\" or \"python3.X\""
        );
    };
    match rest {
        "" | "3" => Ok(None),
        v if v.split('.').count() == 2 && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) => {
            if !v.starts_with("3.") {
                bail!("base(language={language:?}) asks for Python {v}; only Python 3 is supported");
            }
            Ok(Some(v.to_owned()))
        }
        _ => bail!("base(language={language:?}) is not a Python version; expected \"python\" or \"python3.X\", e.g. \"python3.8\""),
    }
}

#[starlark_module]
fn globals(builder: &mut GlobalsBuilder) {
    /// `base(os=, language=, image=)`: the image the build starts from.
    /// Positional arguments follow envd v0's order: os, language, image.
    fn base<'v>(
        #[starlark(default = NoneOr::None)] os: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] language: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] image: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let os = os.into_option();
        let language = language.into_option();
        let image = image.into_option();
        let span = caller(eval);
        let store = store(eval);
        let python = match language {
            Some(l) => parse_language(l)?,
            None => None,
        };
        let (image, image_explicit) = match image {
            None => (BaseImage::AigesCpu, false),
            Some("aiges_cpu") => (BaseImage::AigesCpu, true),
            Some("aiges_gpu") => (BaseImage::AigesGpu, true),
            Some(r) if r.trim().is_empty() => {
                bail!("base(image=) is empty; expected \"aiges_cpu\", \"aiges_gpu\" or an image reference")
            }
            Some(r) if r.contains(char::is_whitespace) => bail!("base(image={r:?}) is not an image reference"),
            Some(r) => (BaseImage::Reference(r.to_owned()), true),
        };
        let os = match os {
            None => None,
            Some(o) => {
                let normal = OS_ALIASES.iter().find(|(a, _)| *a == o).map(|(_, n)| *n).unwrap_or(o);
                if !KNOWN_OS.contains(&normal) {
                    bail!("base(os={o:?}) is not a known OS; expected one of {}", KNOWN_OS.join(", "));
                }
                if normal != o {
                    store.warn(&span, Rule::DeprecatedAlias, format!("base(os={o:?}) is read as {normal:?}"));
                }
                if matches!(image, BaseImage::AigesCpu | BaseImage::AigesGpu) {
                    store.warn(
                        &span,
                        Rule::BaseOsIgnored,
                        format!("base(os={normal:?}) has no effect: the AIGES base image decides the OS"),
                    );
                }
                Some(normal.to_owned())
            }
        };
        set_once("base", &mut store.0.borrow_mut().base, Base { image, image_explicit, python, os, span })?;
        Ok(NoneType)
    }
}
