//! `run(commands=[...])`: one exec per call, in the image's working
//! directory, as the image's user.

use envd_lang::Span;
use envd_llb::{Mount, State};

use crate::shell::{script, sh};
use crate::Ctx;

pub(crate) fn lower(
    ctx: &Ctx,
    n: usize,
    state: &State,
    commands: &[String],
    mount_host: bool,
    context: Option<&State>,
    span: &Span,
) -> State {
    let mut exec = sh(state, &script(commands));
    if let (true, Some(context)) = (mount_host, context) {
        // envd's mount_host: the context at the working directory, here
        // read-only so that the step cannot change the user's files.
        let dir = if state.get_dir().is_empty() { "/" } else { state.get_dir() };
        exec = exec.mount(Mount::readonly(dir, context.clone()));
    }
    exec.constraints(ctx.step(n, &format!("run {}", commands.join(" && ")), span)).root()
}
