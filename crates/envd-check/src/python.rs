//! `PythonVersionIgnored` and `LoaderPythonMismatch`: which python the
//! image serves with.
//!
//! `base(language="python3.X")` becomes the conda environment's python;
//! a build with no conda step keeps the base image's python, whatever the
//! file says. With conda, the environment's python is first on PATH, and
//! the AIGES loader's default `c` mode embeds that python through
//! `libwrapper.so`, which the AIGES images link against their own CPython
//! 3.9: an environment of another minor version does not load. `python`
//! mode (`AIGES_PLUGIN_MODE=python`) runs any python ≥ 3.6 as a child and
//! is the way out.

use envd_conda::EnvFile;
use envd_lang::{BaseImage, Rule, Span, StepKind};

use crate::finding::{line_containing, Finding, Input};

/// The python minor version the AIGES images' `libwrapper.so` embeds.
pub const LOADER_PYTHON: &str = "3.9";

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let plan = &input.evaluated.plan;
    let conda_steps: Vec<_> = plan.steps.iter().filter(|s| matches!(s.kind, StepKind::CondaPackages { .. })).collect();
    if conda_steps.is_empty() {
        if let Some(v) = &plan.base.python {
            out.push(Finding::at(
                Rule::PythonVersionIgnored,
                &plan.base.span,
                format!("base(language=\"python{v}\") has no effect without a conda step: the image runs the base image's python; drop language= or add install.conda_packages"),
            ));
        }
        return;
    }
    if matches!(plan.base.image, BaseImage::Reference(_)) || python_mode(input) {
        return;
    }
    let mut pins: Vec<(String, Span, &str)> = Vec::new();
    if let Some(v) = &plan.base.python {
        pins.push((v.clone(), plan.base.span.clone(), "base(language=)"));
    }
    for step in conda_steps {
        let StepKind::CondaPackages { names, env_file, .. } = &step.kind else { continue };
        for spec in names {
            if let Some(v) = python_pin(spec) {
                pins.push((v, step.span.clone(), "install.conda_packages"));
            }
        }
        let Some(path) = env_file else { continue };
        let Some(text) = input.files.get(path.as_str()) else { continue };
        let Ok(file) = EnvFile::parse(text) else { continue };
        for dep in &file.dependencies {
            if let Some(v) = python_pin(dep) {
                let line = line_containing(text, dep).unwrap_or(1);
                pins.push((v, Span::line(path.as_str(), line), "the env file"));
            }
        }
    }
    for (version, span, source) in pins {
        let minor: Vec<&str> = version.split('.').take(2).collect();
        if minor.len() == 2 && minor.join(".") != LOADER_PYTHON {
            out.push(Finding::at(
                Rule::LoaderPythonMismatch,
                &span,
                format!(
                    "{source} asks for python {version}, which the AIGES loader's default c mode cannot embed (its libwrapper.so is built for python {LOADER_PYTHON}); use python {LOADER_PYTHON}, or serve in python mode with runtime.environ(env={{\"AIGES_PLUGIN_MODE\": \"python\"}})"
                ),
            ));
        }
    }
}

/// Whether the image asks the loader for its `python` mode.
fn python_mode(input: &Input) -> bool {
    input.evaluated.plan.image.env.iter().any(|e| e.value.0 == "AIGES_PLUGIN_MODE" && e.value.1.trim() == "python")
}

/// The version of an exact python match spec: `python=3.8`,
/// `python==3.8.13`, `python=3.8.13=h12_0`, `python 3.8.*`.
fn python_pin(spec: &str) -> Option<String> {
    let rest = spec.trim().strip_prefix("python")?;
    let rest = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')).or_else(|| rest.strip_prefix(' '))?;
    let version = rest.trim().split(['=', ' ']).next()?.trim_end_matches(".*");
    version.starts_with(|c: char| c.is_ascii_digit()).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::lines;

    #[test]
    fn a_python_version_without_conda_changes_nothing() {
        let src = "def build():\n    base(language=\"python3.8\")\n    install.python_packages(name=[\"six\"])\n";
        let l = lines(Rule::PythonVersionIgnored, src, &[], &[]);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, 2);
        assert!(l[0].1.starts_with("base(language=\"python3.8\") has no effect without a conda step"), "{}", l[0].1);
        let with_conda =
            "def build():\n    base(language=\"python3.9\")\n    install.conda_packages(name=[\"numpy\"])\n";
        assert!(lines(Rule::PythonVersionIgnored, with_conda, &[], &[]).is_empty());
        assert!(lines(Rule::PythonVersionIgnored, "def build():\n    base()\n", &[], &[]).is_empty());
    }

    #[test]
    fn a_conda_python_other_than_the_loaders_is_found_where_it_is_asked() {
        let src = "def build():\n    base(image=\"aiges_gpu\", language=\"python3.8\")\n    install.conda_packages(name=[\"python=3.10\"], env_file=\"env.yaml\")\n";
        let env = "name: x\ndependencies:\n  - numpy=1.21\n  - python=3.7.13=h12debd9_0\n";
        let l = lines(Rule::LoaderPythonMismatch, src, &[("env.yaml", env)], &[]);
        let places: Vec<u32> = l.iter().map(|(line, _)| *line).collect();
        assert_eq!(places, [2, 3, 4], "{l:?}");
        assert!(
            l[0].1.starts_with(
                "base(language=) asks for python 3.8, which the AIGES loader's default c mode cannot embed"
            ),
            "{}",
            l[0].1
        );
    }

    #[test]
    fn the_loaders_python_python_mode_and_other_bases_are_fine() {
        let ok =
            "def build():\n    base(language=\"python3.9\")\n    install.conda_packages(name=[\"python=3.9.16\"])\n";
        assert!(lines(Rule::LoaderPythonMismatch, ok, &[], &[]).is_empty());
        let python_mode = "def build():\n    base(language=\"python3.11\")\n    install.conda_packages(name=[\"numpy\"])\n    runtime.environ(env={\"AIGES_PLUGIN_MODE\": \"python\"})\n";
        assert!(lines(Rule::LoaderPythonMismatch, python_mode, &[], &[]).is_empty());
        let other = "def build():\n    base(image=\"python:3.11\", language=\"python3.11\")\n    install.conda_packages(name=[\"numpy\"])\n";
        assert!(lines(Rule::LoaderPythonMismatch, other, &[], &[]).is_empty());
    }
}
