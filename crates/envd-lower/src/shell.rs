//! How commands run: a script under `set -e`, with bash where the image
//! has it and sh otherwise. The choice is made in the step itself, so the
//! LLB does not depend on looking inside the base image first.
//!
//! The price is that BuildKit names a failed process by all of its
//! arguments, wrapper included. [`explain_failure`] puts the user's own
//! commands and the step's progress name back into that message.

use envd_llb::{Exec, State};

/// The program and the first arguments of every script step; the script
/// itself is the last argument.
const WRAPPER: [&str; 4] =
    ["/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\"", "envd"];

/// Runs `script` with `bash -e`, or `sh -e` on images without bash.
pub(crate) fn sh(state: &State, script: &str) -> Exec {
    state.run(WRAPPER.iter().copied().chain([script]))
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
    /// The script, the last argument of the process, and what a failure
    /// shows in its place: the commands of a `run()`, one a line, or the
    /// install commands of an install step.
    pub script: String,
    /// Exit codes the script uses to say why it failed, each with the
    /// sentence a failure with it reads as.
    pub reasons: Vec<(u32, String)>,
}

/// The exit code of a pip step whose index answered 401 Unauthorized.
pub(crate) const EXIT_UNAUTHORIZED: u32 = 41;

/// BuildKit's message for a failed step (`process "<args>" did not
/// complete successfully: exit code: N`, the arguments quoted as Go's
/// `%q` does), with the step's progress name in front and the user's
/// commands in place of the wrapper. `None` when no step of `steps` is
/// the one named.
pub fn explain_failure(steps: &[ScriptStep], message: &str) -> Option<String> {
    steps.iter().find_map(|step| {
        let args: Vec<&str> = WRAPPER.iter().copied().chain([step.script.as_str()]).collect();
        let needle = format!("process {}", go_quote(&args.join(" ")));
        let at = message.find(&needle)?;
        let rest = &message[at + needle.len()..];
        let code = rest.rsplit("exit code: ").next().and_then(|c| c.trim().parse::<u32>().ok());
        if let Some((_, reason)) = step.reasons.iter().find(|(c, _)| Some(*c) == code) {
            return Some(format!("{}: {reason}", step.name));
        }
        let shown = go_quote(step.script.trim_end());
        Some(format!("{}: {}process {shown}{rest}", step.name, &message[..at]))
    })
}

/// `s` quoted as Go's `strconv.Quote` quotes it, for the characters a
/// script holds.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_reads_as_its_commands_under_its_progress_name() {
        let step = ScriptStep {
            name: "[3/3] run echo \"hi\" && false".into(),
            script: "echo \"hi\"\nfalse\n".into(),
            reasons: vec![(41, "the index said no".into())],
        };
        // As BuildKit writes it: the arguments joined by spaces, then %q.
        let message = r#"process "/bin/sh -c if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\" envd echo \"hi\"\nfalse\n" did not complete successfully: exit code: 1"#;
        assert_eq!(
            explain_failure(std::slice::from_ref(&step), message).unwrap(),
            r#"[3/3] run echo "hi" && false: process "echo \"hi\"\nfalse" did not complete successfully: exit code: 1"#
        );
        let refused = message.replace("exit code: 1", "exit code: 41");
        assert_eq!(
            explain_failure(std::slice::from_ref(&step), &refused).unwrap(),
            "[3/3] run echo \"hi\" && false: the index said no"
        );
        assert_eq!(explain_failure(&[step], "process \"/bin/false\" did not complete successfully"), None);
    }
}
