//! What a plan needs fetched before it can be lowered, asked once.
//!
//! The frontend's inputs layer calls [`needs`] right after evaluation and
//! fetches everything it lists, concurrently, in one place (as dockerui's
//! `MainContext` does for a Dockerfile); lowering then gets plain data and
//! never goes back to BuildKit or to the plan for more.

use std::collections::BTreeSet;

use envd_lang::{ContextPath, Diagnostic, Plan, StepKind};

use crate::base::{choose, BaseChoice, BaseOverrides};

/// Everything lowering needs from outside the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// The base image to resolve (its config and digest).
    pub base: BaseChoice,
    /// Context files to read before lowering, in call order without
    /// repeats: the env files of the conda calls, which the frontend
    /// checks and turns into the install request, and the requirements
    /// files, which decide between uv and pip and name more files.
    pub context_files: Vec<ContextPath>,
    /// Whether a step runs a binary of the frontend's own image (the conda
    /// installer, uv), so its image reference must be known.
    pub installer: bool,
}

/// What `plan` needs, given the `AIGES_*` overrides.
pub fn needs(plan: &Plan, overrides: &BaseOverrides) -> Result<Needs, Diagnostic> {
    let mut seen = BTreeSet::new();
    let mut context_files = Vec::new();
    let mut installer = false;
    for step in &plan.steps {
        let file = match &step.kind {
            StepKind::CondaPackages { env_file, .. } => env_file,
            StepKind::PythonPackages { requirements, .. } => requirements,
            _ => continue,
        };
        installer = true;
        if let Some(p) = file.as_ref().filter(|p| seen.insert(p.as_str())) {
            context_files.push(p.clone());
        }
    }
    Ok(Needs { base: choose(plan, overrides)?, context_files, installer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    #[test]
    fn env_and_requirements_files_once_in_call_order_and_the_installer_for_conda_and_pip() {
        let src = "def build():\n    base(image=\"x:1\")\n    install.conda_packages(env_file=\"b.yaml\")\n    install.conda_packages(env_file=\"a.yaml\")\n    install.conda_packages(env_file=\"b.yaml\")\n";
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        let n = needs(&plan, &BaseOverrides::default()).unwrap();
        assert_eq!(n.base.reference, "x:1");
        assert_eq!(n.context_files.iter().map(ContextPath::as_str).collect::<Vec<_>>(), ["b.yaml", "a.yaml"]);
        assert!(n.installer);
        let pip = "def build():\n    base(image=\"x:1\")\n    install.python_packages(requirements=\"r.txt\")\n";
        let plan = evaluate("build.envd", pip, &EvalOptions::default()).unwrap().plan;
        let n = needs(&plan, &BaseOverrides::default()).unwrap();
        assert_eq!(n.context_files.iter().map(ContextPath::as_str).collect::<Vec<_>>(), ["r.txt"]);
        assert!(n.installer, "uv is in the frontend's image");
        let plain = "def build():\n    base(image=\"x:1\")\n    run(commands=[\"true\"])\n";
        let plan = evaluate("build.envd", plain, &EvalOptions::default()).unwrap().plan;
        let n = needs(&plan, &BaseOverrides::default()).unwrap();
        assert!(n.context_files.is_empty() && !n.installer);
    }
}
