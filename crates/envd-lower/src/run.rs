//! `run(commands=[...])`: one exec per call.

use envd_lang::Span;
use envd_llb::State;

use crate::Ctx;

/// The script a `run()` call becomes: its commands in order, stopping at
/// the first failure.
pub(crate) fn script(commands: &[String]) -> String {
    let mut s = String::from("set -e\n");
    for c in commands {
        s.push_str(c);
        s.push('\n');
    }
    s
}

pub(crate) fn lower(ctx: &Ctx, n: usize, state: &State, commands: &[String], span: &Span) -> State {
    let name = format!("run {}", commands.join(" && "));
    state.run(["/bin/sh", "-c", &script(commands)]).constraints(ctx.step(n, &name, span)).root()
}
