//! The order a plan's steps are built in, decided before any LLB exists.
//!
//! Steps keep build() call order with one exception, which is envd's: the
//! installs between two `io.copy`/`run` calls form a segment in which apt
//! and conda do not depend on each other, so they are one
//! [`Stage::Install`] whose branches grow from the same state and are
//! joined; pip comes after both, since it needs conda's python and apt's
//! compilers. The stages that happen once — conda's prefix going first on
//! PATH, `/etc/pip.conf` before the first pip step — are stages of their
//! own, so lowering follows this list and keeps no flags.

use envd_lang::{Plan, Step, StepKind};

/// A step of the plan and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbered<'p> {
    /// Its index in [`Plan::steps`].
    pub index: usize,
    /// The step.
    pub step: &'p Step,
}

impl Numbered<'_> {
    /// Its number in progress names (`[n/total]`): the base is step 1, so
    /// the plan's steps count from 2.
    pub fn number(&self) -> usize {
        self.index + 2
    }
}

/// Which python a pip step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    /// The base image's `python3`.
    Base,
    /// The conda environment's, built by an earlier stage.
    Conda,
}

/// One stage of the build, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage<'p> {
    /// The apt and conda installs of one segment. Each kind is a branch
    /// from the stage's starting state (apt steps chained in call order,
    /// conda's calls one solve); the branches are joined.
    Install {
        /// `install.system_packages` calls.
        apt: Vec<Numbered<'p>>,
        /// `install.conda_packages` calls.
        conda: Vec<Numbered<'p>>,
    },
    /// The conda environment goes first on PATH for every later step.
    CondaOnPath,
    /// `config.pip_index` becomes `/etc/pip.conf`.
    PipConf,
    /// One `install.python_packages` call.
    Pip {
        /// The call.
        step: Numbered<'p>,
        /// The python it installs into.
        python: Python,
    },
    /// One `io.copy` call.
    Copy(Numbered<'p>),
    /// One `run` call.
    Run(Numbered<'p>),
}

/// The stages of `plan`, in build order.
pub fn schedule(plan: &Plan) -> Vec<Stage<'_>> {
    let mut out = Vec::new();
    let mut segment = Segment::default();
    let mut conda_built = false;
    let mut pip_conf = plan.pip_index.is_some();
    for (index, step) in plan.steps.iter().enumerate() {
        let at = Numbered { index, step };
        match &step.kind {
            StepKind::SystemPackages { .. } => segment.apt.push(at),
            StepKind::CondaPackages { .. } => segment.conda.push(at),
            StepKind::PythonPackages { .. } => segment.pip.push(at),
            StepKind::Copy { .. } | StepKind::Run { .. } => {
                std::mem::take(&mut segment).close(&mut out, &mut conda_built, &mut pip_conf);
                out.push(if matches!(step.kind, StepKind::Copy { .. }) { Stage::Copy(at) } else { Stage::Run(at) });
            }
        }
    }
    segment.close(&mut out, &mut conda_built, &mut pip_conf);
    out
}

/// The installs between two ordering steps.
#[derive(Default)]
struct Segment<'p> {
    apt: Vec<Numbered<'p>>,
    conda: Vec<Numbered<'p>>,
    pip: Vec<Numbered<'p>>,
}

impl<'p> Segment<'p> {
    /// Appends the segment's stages: apt ∥ conda, then pip.
    fn close(self, out: &mut Vec<Stage<'p>>, conda_built: &mut bool, pip_conf: &mut bool) {
        let has_conda = !self.conda.is_empty();
        if !self.apt.is_empty() || has_conda {
            out.push(Stage::Install { apt: self.apt, conda: self.conda });
        }
        if has_conda && !*conda_built {
            out.push(Stage::CondaOnPath);
            *conda_built = true;
        }
        let python = if *conda_built { Python::Conda } else { Python::Base };
        for step in self.pip {
            if std::mem::take(pip_conf) {
                out.push(Stage::PipConf);
            }
            out.push(Stage::Pip { step, python });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lang::{evaluate, EvalOptions};

    /// The stages of `body` (the lines of build() after `base()`), one
    /// short word each: `apt+conda`, `conda-path`, `pip.conf`, `pip:base`,
    /// `copy`, `run`, with the step numbers.
    fn stages(body: &str) -> Vec<String> {
        let src = format!("def build():\n    base(image=\"x\")\n{body}");
        let plan = evaluate("build.envd", &src, &EvalOptions::default()).unwrap().plan;
        let nums = |v: &[Numbered]| v.iter().map(|n| n.number().to_string()).collect::<Vec<_>>().join(",");
        schedule(&plan)
            .iter()
            .map(|s| match s {
                Stage::Install { apt, conda } => format!("apt[{}]+conda[{}]", nums(apt), nums(conda)),
                Stage::CondaOnPath => "conda-path".into(),
                Stage::PipConf => "pip.conf".into(),
                Stage::Pip { step, python } => format!("pip:{python:?}[{}]", step.number()),
                Stage::Copy(n) => format!("copy[{}]", n.number()),
                Stage::Run(n) => format!("run[{}]", n.number()),
            })
            .collect()
    }

    const APT: &str = "    install.system_packages(name=[\"curl\"])\n";
    const CONDA: &str = "    install.conda_packages(name=[\"numpy\"])\n";
    const PIP: &str = "    install.python_packages(name=[\"six\"])\n";
    const RUN: &str = "    run(commands=[\"true\"])\n";
    const COPY: &str = "    io.copy(src=\"a\", dest=\"/a\")\n";

    #[test]
    fn pip_waits_for_apt_and_conda_of_its_segment_whatever_the_call_order() {
        let body = [PIP, CONDA, APT, APT].concat();
        assert_eq!(stages(&body), ["apt[4,5]+conda[3]", "conda-path", "pip:Conda[2]"]);
    }

    #[test]
    fn copy_and_run_close_a_segment_and_keep_their_place() {
        let body = [APT, RUN, PIP, COPY, APT].concat();
        assert_eq!(stages(&body), ["apt[2]+conda[]", "run[3]", "pip:Base[4]", "copy[5]", "apt[6]+conda[]"]);
    }

    #[test]
    fn conda_goes_on_path_once_and_later_pip_steps_use_its_python() {
        let body = [PIP, RUN, CONDA, RUN, CONDA, PIP].concat();
        assert_eq!(
            stages(&body),
            ["pip:Base[2]", "run[3]", "apt[]+conda[4]", "conda-path", "run[5]", "apt[]+conda[6]", "pip:Conda[7]"]
        );
    }

    #[test]
    fn pip_conf_comes_once_before_the_first_pip_step_and_only_with_a_pip_index() {
        let index = "    config.pip_index(url=\"https://mirror.example/simple\")\n";
        let body = [index, APT, RUN, PIP, PIP].concat();
        assert_eq!(stages(&body), ["apt[2]+conda[]", "run[3]", "pip.conf", "pip:Base[4]", "pip:Base[5]"]);
        assert_eq!(stages(&[APT, PIP].concat()), ["apt[2]+conda[]", "pip:Base[3]"]);
        assert_eq!(stages(index), Vec::<String>::new(), "no pip step, no pip.conf");
    }
}
