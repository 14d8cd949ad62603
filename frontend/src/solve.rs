//! Solving a lowered build, and what its failure says.
//!
//! A step runs its commands through a shell wrapper, and BuildKit names a
//! failed process by all of its arguments, wrapper included. Lowering
//! recorded each script step ([`ScriptStep`]): the arguments BuildKit will
//! name, what to show in their place, and the exit codes the script uses
//! to say why it failed. Reading the failure is part of handling the
//! solve's result, so it lives here, with the solve.

use envd_gateway::{CacheImport, Client};
use envd_lang::Diagnostic;
use envd_llb::pb::Definition;
use envd_lower::ScriptStep;

use crate::failure::Failure;

/// Solves `definition`; a failed step's message names the step as the
/// user wrote it.
pub async fn solve(
    client: &Client,
    definition: Definition,
    cache_imports: &[CacheImport],
    scripts: &[ScriptStep],
) -> Result<String, Failure> {
    client.clone().solve(definition, cache_imports).await.map_err(|e| match Failure::from(e) {
        Failure::Upstream(mut status) => match explain_failure(scripts, &status.message) {
            // The step said why: that sentence, at its call. BuildKit's
            // own status would carry the call's location too, but it loses
            // it when the step's script makes its details too big to pass.
            Some(Explained { message, reason_at: Some(span) }) => Failure::from(Diagnostic::at(span, message)),
            Some(Explained { message, reason_at: None }) => {
                status.message = message;
                Failure::Upstream(status)
            }
            None => Failure::Upstream(status),
        },
        other => other,
    })
}

/// A failed step's message, as [`explain_failure`] rewords it.
#[derive(Debug, PartialEq)]
pub struct Explained {
    /// The message.
    pub message: String,
    /// The step's build.envd call, when the script said why it failed (an
    /// exit code of its [`ScriptStep::reasons`]).
    pub reason_at: Option<envd_lang::Span>,
}

/// BuildKit's message for a failed step (`process "<args>" did not
/// complete successfully: exit code: N`, the arguments quoted as Go's
/// `%q` does), with the step's progress name in front and the user's
/// commands in place of the arguments. `None` when no step of `steps` is
/// the one named.
pub fn explain_failure(steps: &[ScriptStep], message: &str) -> Option<Explained> {
    steps.iter().find_map(|step| {
        let needle = format!("process {}", go_quote(&step.args.join(" ")));
        let at = message.find(&needle)?;
        let rest = &message[at + needle.len()..];
        let code = rest.rsplit("exit code: ").next().and_then(|c| c.trim().parse::<u32>().ok());
        if let Some((_, reason)) = step.reasons.iter().find(|(c, _)| Some(*c) == code) {
            return Some(Explained { message: format!("{}: {reason}", step.name), reason_at: step.at.clone() });
        }
        let shown = go_quote(step.script.trim_end());
        Some(Explained { message: format!("{}: {}process {shown}{rest}", step.name, &message[..at]), reason_at: None })
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
        // A step as lowering records it: the wrapper's arguments, then the
        // script.
        let wrapper = [
            "/bin/sh",
            "-c",
            "if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\"",
            "envd",
            "echo \"hi\"\nfalse\n",
        ];
        let step = ScriptStep {
            name: "[3/3] run echo \"hi\" && false".into(),
            args: wrapper.iter().map(|a| a.to_string()).collect(),
            script: "echo \"hi\"\nfalse\n".into(),
            reasons: vec![(41, "the index said no".into())],
            at: Some(envd_lang::Span::line("build.envd", 3)),
        };
        // As BuildKit writes it: the arguments joined by spaces, then %q.
        let message = r#"process "/bin/sh -c if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\" envd echo \"hi\"\nfalse\n" did not complete successfully: exit code: 1"#;
        assert_eq!(
            explain_failure(std::slice::from_ref(&step), message).unwrap(),
            Explained {
                message: r#"[3/3] run echo "hi" && false: process "echo \"hi\"\nfalse" did not complete successfully: exit code: 1"#.into(),
                reason_at: None
            }
        );
        let refused = message.replace("exit code: 1", "exit code: 41");
        assert_eq!(
            explain_failure(std::slice::from_ref(&step), &refused).unwrap(),
            Explained {
                message: "[3/3] run echo \"hi\" && false: the index said no".into(),
                reason_at: Some(envd_lang::Span::line("build.envd", 3))
            }
        );
        assert_eq!(explain_failure(&[step], "process \"/bin/false\" did not complete successfully"), None);
    }

    #[test]
    fn lowering_records_the_arguments_buildkit_names() {
        let src = "def build():\n    base(os=\"ubuntu20.04\", language=\"python3\")\n    run(commands=[\"false\"])\n";
        let plan = envd_lang::evaluate("build.envd", src, &Default::default()).unwrap().plan;
        let inputs = envd_lower::Inputs::local(src, envd_lower::ResolvedBase::stand_in("x:1"));
        let lowered = envd_lower::lower(&plan, &envd_lower::LowerConfig::local(), &inputs).unwrap();
        let step = lowered.scripts.last().unwrap();
        let message = format!("process {} did not complete successfully: exit code: 1", go_quote(&step.args.join(" ")));
        assert_eq!(
            explain_failure(&lowered.scripts, &message).unwrap().message,
            format!("{}: process \"false\" did not complete successfully: exit code: 1", step.name)
        );
    }
}
