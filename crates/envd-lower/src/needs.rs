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
    /// checks and turns into the install request.
    pub context_files: Vec<ContextPath>,
    /// Whether a step runs the frontend's own binary (the conda
    /// installer), so its image reference must be known.
    pub installer: bool,
}

/// What `plan` needs, given the `AIGES_*` overrides.
pub fn needs(plan: &Plan, overrides: &BaseOverrides) -> Result<Needs, Diagnostic> {
    let mut seen = BTreeSet::new();
    let mut context_files = Vec::new();
    let mut installer = false;
    for step in &plan.steps {
        if let StepKind::CondaPackages { env_file, .. } = &step.kind {
            installer = true;
            if let Some(p) = env_file.as_ref().filter(|p| seen.insert(p.as_str())) {
                context_files.push(p.clone());
            }
        }
    }
    Ok(Needs { base: choose(plan, overrides)?, context_files, installer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    #[test]
    fn env_files_once_in_call_order_and_the_installer_only_for_conda() {
        let src = "def build():\n    base(image=\"x:1\")\n    install.conda_packages(env_file=\"b.yaml\")\n    install.conda_packages(env_file=\"a.yaml\")\n    install.conda_packages(env_file=\"b.yaml\")\n";
        let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
        let n = needs(&plan, &BaseOverrides::default()).unwrap();
        assert_eq!(n.base.reference, "x:1");
        assert_eq!(n.context_files.iter().map(ContextPath::as_str).collect::<Vec<_>>(), ["b.yaml", "a.yaml"]);
        assert!(n.installer);
        let plain = "def build():\n    base(image=\"x:1\")\n    install.python_packages(name=[\"six\"])\n";
        let plan = evaluate("build.envd", plain, &EvalOptions::default()).unwrap().plan;
        let n = needs(&plan, &BaseOverrides::default()).unwrap();
        assert!(n.context_files.is_empty() && !n.installer);
    }
}
