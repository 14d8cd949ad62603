//! `run(commands=[...])`: one exec per call, in the image's working
//! directory, as the image's user.

use envd_llb::{Mount, State};

use crate::schedule::Numbered;
use crate::shell::script;
use crate::Ctx;

pub(crate) fn lower(
    ctx: &Ctx,
    step: Numbered,
    state: &State,
    commands: &[String],
    mount_host: bool,
    context: Option<&State>,
) -> State {
    let name = format!("run {}", commands.join(" && "));
    let script = script(commands);
    let mut exec = crate::secrets::run(ctx.script(state, &[step], &name, &script));
    if let (true, Some(context)) = (mount_host, context) {
        // envd's mount_host: the context at the working directory, here
        // read-only so that the step cannot change the user's files.
        let dir = if state.get_dir().is_empty() { "/" } else { state.get_dir() };
        exec = exec.mount(Mount::readonly(dir, context.clone()));
    }
    exec.root()
}
