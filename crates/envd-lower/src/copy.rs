//! `io.copy(src, dest)`: context files into the image, with `cp -r`
//! semantics: `./pkg` to `/` gives `/pkg`, and to a path that does not
//! exist yet gives that path.

use envd_lang::ContextPath;
use envd_llb::{CopyOptions, FileAction, State};

use crate::ctx::Ctx;
use crate::schedule::Numbered;

pub(crate) fn lower(ctx: &Ctx, step: Numbered, state: &State, context: &State, src: &ContextPath, dest: &str) -> State {
    let from = format!("/{}", src.as_str().trim_start_matches('.'));
    let opts = CopyOptions { create_dest_path: true, follow_symlink: true, ..Default::default() };
    state.file(
        vec![FileAction::copy(context, from, dest, opts)],
        ctx.step(step, &format!("io.copy {} {dest}", src.as_str())),
    )
}
