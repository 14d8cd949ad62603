//! How commands run: a script under `set -e`, with bash where the image
//! has it and sh otherwise. The choice is made in the step itself, so the
//! LLB does not depend on looking inside the base image first.

use envd_llb::{Exec, State};

/// Runs `script` with `bash -e`, or `sh -e` on images without bash.
pub(crate) fn sh(state: &State, script: &str) -> Exec {
    state.run([
        "/bin/sh",
        "-c",
        "if [ -x /bin/bash ]; then exec /bin/bash -e -c \"$1\"; fi; exec /bin/sh -e -c \"$1\"",
        "envd",
        script,
    ])
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
