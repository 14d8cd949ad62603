//! Every place a build names packages, with the line that names them:
//! the pip and conda calls, requirements files (every line, options
//! too), and env files' dependencies and `pip:` sections. The rules that
//! compare packages across a build (`ConflictingPins`, the GPU rules)
//! read them from here.

use envd_conda::EnvFile;
use envd_lang::{Span, StepKind};

use crate::finding::{line_containing, Input};

/// Who installs a named package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Installer {
    /// pip or uv: a requirement, or a requirements file's line.
    Pip,
    /// conda: a match spec.
    Conda,
}

/// One package (or requirements-file line) as a build names it.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub(crate) installer: Installer,
    /// As written, a requirements file's comment after ` #` dropped.
    pub(crate) spec: String,
    pub(crate) span: Span,
}

/// Every package the build names, in call order.
pub(crate) fn packages(input: &Input) -> Vec<Named> {
    let mut out = Vec::new();
    let mut push = |installer, spec: &str, span: Span| out.push(Named { installer, spec: spec.to_owned(), span });
    for step in &input.evaluated.plan.steps {
        match &step.kind {
            StepKind::PythonPackages { names, requirements, .. } => {
                names.iter().for_each(|n| push(Installer::Pip, n, step.span.clone()));
                let Some(path) = requirements else { continue };
                let Some(text) = input.files.get(path.as_str()) else { continue };
                for (i, line) in text.lines().enumerate() {
                    let spec = line.split(" #").next().unwrap_or(line);
                    push(Installer::Pip, spec, Span::line(path.as_str(), i as u32 + 1));
                }
            }
            StepKind::CondaPackages { names, env_file, .. } => {
                names.iter().for_each(|n| push(Installer::Conda, n, step.span.clone()));
                let Some(path) = env_file else { continue };
                let Some(text) = input.files.get(path.as_str()) else { continue };
                let Ok(file) = EnvFile::parse(text) else { continue };
                let at = |item: &str| Span::line(path.as_str(), line_containing(text, item).unwrap_or(1));
                file.dependencies.iter().for_each(|d| push(Installer::Conda, d, at(d)));
                file.pip.iter().for_each(|p| push(Installer::Pip, p, at(p)));
            }
            _ => {}
        }
    }
    out
}
