//! `run(commands=[...])`: one exec per call, in the image's working
//! directory (in the context with `mount_host=True`), as the image's user.

use envd_llb::{Mount, State};

use crate::ctx::Ctx;
use crate::schedule::Numbered;
use crate::shell::script;
use crate::well_known::CONTEXT_MOUNT;

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
        // envd's mount_host: the commands run in the context, read-only so
        // that the step cannot change the user's files. It is mounted at
        // its own path, not over the working directory: on the AIGES
        // images that is /home/aiges, which holds the loader and its
        // libraries, and a command that copies a model there must see them.
        exec = exec.mount(Mount::readonly(CONTEXT_MOUNT, context.clone())).cwd(CONTEXT_MOUNT);
    }
    exec.root()
}
