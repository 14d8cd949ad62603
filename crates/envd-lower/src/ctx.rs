//! What every step's lowering shares: the options, the inputs, the step
//! count for progress names, and the script steps made so far. Its own
//! module, so that step modules import it and not the crate root.

use std::cell::RefCell;

use envd_lang::{Plan, Span, StepKind};
use envd_llb::{Constraints, Exec, State};

use crate::config::LowerConfig;
use crate::inputs::Inputs;
use crate::layers::Budget;
use crate::schedule::Numbered;
use crate::shell::{self, ScriptStep};

/// Shared context of the per-step lowerings.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a LowerConfig,
    pub(crate) inputs: &'a Inputs,
    /// The number of progress steps: the plan's and the base's.
    pub(crate) total: usize,
    /// The script steps made so far, for [`Lowered::scripts`].
    pub(crate) scripts: RefCell<Vec<ScriptStep>>,
    /// The resolves of python steps whose lock the inputs lack.
    pub(crate) resolves: RefCell<Vec<crate::lock::Resolve>>,
}

impl Ctx<'_> {
    /// An exec that runs `script` for the plan steps `steps` (one call,
    /// or the conda calls of a segment, which share one step): numbered
    /// and named `name` in progress after the first, located at every
    /// call, and remembered as a [`ScriptStep`].
    pub(crate) fn script(&self, state: &State, steps: &[Numbered], name: &str, script: &str) -> Exec {
        self.script_with_reasons(state, steps, name, script, Vec::new())
    }

    /// [`Ctx::script`] for a script that says why it failed with its exit
    /// code (see [`ScriptStep::reasons`]).
    pub(crate) fn script_with_reasons(
        &self,
        state: &State,
        steps: &[Numbered],
        name: &str,
        script: &str,
        reasons: Vec<(u32, String)>,
    ) -> Exec {
        let (first, later) = steps.split_first().expect("a script step belongs to a call");
        let mut constraints = self.step(*first, name);
        for call in later {
            let span = &call.step.span;
            constraints = constraints.with_location(self.inputs.source.location(span.line, span.end_line));
        }
        let name = self.progress(first.number(), name);
        self.scripts.borrow_mut().push(ScriptStep::new(name, script, reasons, Some(first.step.span.clone())));
        shell::sh(state, script).constraints(constraints)
    }

    /// `exec` with the installers' network timeout, if the build sets one
    /// (`ENVD_HTTP_TIMEOUT`): uv's, pip's and the conda installer's own
    /// variables, for every step that installs packages.
    pub(crate) fn network_timeouts(&self, exec: Exec) -> Exec {
        match self.config.http_timeout {
            Some(seconds) => {
                let s = seconds.to_string();
                exec.env("UV_HTTP_TIMEOUT", &s).env("PIP_TIMEOUT", &s).env(crate::config::HTTP_TIMEOUT_ARG, &s)
            }
            None => exec,
        }
    }

    /// The layers each step whose packages go in layers of their own may
    /// take (see [`Budget::share`]): every python step and the conda
    /// environment share the image's limit.
    pub(crate) fn layer_budget(&self, plan: &Plan) -> Budget {
        let base = self.inputs.base.config.as_json()["rootfs"]["diff_ids"].as_array().map_or(0, Vec::len);
        let python = plan.steps.iter().filter(|s| matches!(s.kind, StepKind::PythonPackages { .. })).count();
        let conda = plan.steps.iter().any(|s| matches!(s.kind, StepKind::CondaPackages { .. }));
        // A conda environment shares twice: its packages, and its env
        // file's `pip:` section.
        Budget::share(self.config.max_layers, base, plan.steps.len(), python + 2 * usize::from(conda))
    }

    /// `[n/total] name`, as progress shows step `n`.
    fn progress(&self, n: usize, name: &str) -> String {
        format!("[{n}/{}] {name}", self.total)
    }

    /// Constraints for a plan step: its progress name (`[n/total] name`),
    /// its place in build.envd, and `--no-cache`.
    pub(crate) fn step(&self, step: Numbered, name: &str) -> Constraints {
        self.numbered(step.number(), name, &step.step.span)
    }

    /// Constraints for step `n` of the progress count.
    pub(crate) fn numbered(&self, n: usize, name: &str, span: &Span) -> Constraints {
        self.named(&self.progress(n, name), span)
    }

    /// Constraints for an op that belongs to a call but is not a step.
    pub(crate) fn named(&self, name: &str, span: &Span) -> Constraints {
        Constraints::named(name)
            .with_location(self.inputs.source.location(span.line, span.end_line))
            .with_ignore_cache(self.config.no_cache)
    }

    /// Constraints for a helper op no user wrote.
    pub(crate) fn internal(&self, name: &str) -> Constraints {
        Constraints::named(format!("[internal] {name}"))
    }
}
