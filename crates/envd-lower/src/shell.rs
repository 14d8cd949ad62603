//! How commands run: a script under `set -e`, with bash where the image
//! has it and sh otherwise. The choice is made in the step itself, so the
//! LLB does not depend on looking inside the base image first.
//!
//! The price is that BuildKit names a failed process by all of its
//! arguments, wrapper included. Each script step is therefore recorded as
//! a [`ScriptStep`]: the arguments BuildKit will name, and what to show in
//! their place. The frontend reads those records when a solve fails; this
//! crate never sees the failure.

use envd_llb::{Exec, State};

/// The program and the first arguments of every script step; the script
/// itself is the last argument.
const WRAPPER: [&str; 4] =
    ["/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\"", "envd"];

/// Runs `script` with `bash -e`, or `sh -e` on images without bash.
pub(crate) fn sh(state: &State, script: &str) -> Exec {
    state.run(args(script))
}

/// The process arguments of a step that runs `script`.
fn args(script: &str) -> impl Iterator<Item = &str> {
    WRAPPER.iter().copied().chain([script])
}

/// Single-quotes `s` for the shell.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A `run()` call's commands as one script, in order.
pub(crate) fn script(commands: &[String]) -> String {
    let mut s = String::new();
    for c in commands {
        s.push_str(c);
        s.push('\n');
    }
    s
}

/// A step that runs a script, as lowering made it: what a failure of it
/// should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStep {
    /// The progress name, `[n/total] run ...`.
    pub name: String,
    /// The process's arguments, wrapper and all, as BuildKit names the
    /// process when it fails.
    pub args: Vec<String>,
    /// What a failure shows in place of the arguments: the script, the
    /// last argument, which is the commands of a `run()`, one a line, or
    /// the install commands of an install step.
    pub script: String,
    /// Exit codes the script uses to say why it failed, each with the
    /// sentence a failure with it reads as.
    pub reasons: Vec<(u32, String)>,
    /// The build.envd call it runs for (the first, for a segment's).
    pub at: Option<envd_lang::Span>,
}

impl ScriptStep {
    /// The record of a step named `name` that runs `script`.
    pub(crate) fn new(name: String, script: &str, reasons: Vec<(u32, String)>, at: Option<envd_lang::Span>) -> Self {
        Self { name, args: args(script).map(str::to_owned).collect(), script: script.to_owned(), reasons, at }
    }
}

/// The exit code of a pip step whose index answered 401 Unauthorized.
pub(crate) const EXIT_UNAUTHORIZED: u32 = 41;

/// The exit code of a python step whose python is externally managed
/// (PEP 668), which it checks before uv or pip says so in a paragraph.
pub(crate) const EXIT_EXTERNALLY_MANAGED: u32 = 42;

/// The exit code of a pip step whose download did not have its hash
/// twice (pip fetches a file once; see `pip::with_python`).
pub(crate) const EXIT_HASH_MISMATCH: u32 = 43;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
        assert_eq!(quote("numpy>=1.2"), "'numpy>=1.2'");
    }

    #[test]
    fn a_script_step_records_the_arguments_buildkit_names() {
        let step = ScriptStep::new("[2/2] run true".into(), "true\n", Vec::new(), None);
        assert_eq!(step.args.first().map(String::as_str), Some("/bin/sh"));
        assert_eq!(step.args.last().map(String::as_str), Some("true\n"));
        assert_eq!(step.args.len(), WRAPPER.len() + 1);
    }
}
