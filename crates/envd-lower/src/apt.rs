//! `install.system_packages`: apt-get with its caches in cache mounts.
//!
//! `/var/cache/apt` (downloaded .debs) and `/var/lib/apt` (package lists)
//! are cache mounts shared by every build, LOCKED because apt locks them
//! anyway. Debian and Ubuntu images carry a `docker-clean` apt hook that
//! deletes downloaded .debs; for the step it is hidden under an empty file,
//! so the cache keeps them, and the image itself is not changed. Neither
//! directory's contents end up in the image.

use envd_llb::{FileAction, Mount, State};

use crate::ctx::Ctx;
use crate::schedule::Numbered;
use crate::secrets;
use crate::well_known::{APT_ARCHIVES, APT_CLEAN_HOOK, APT_LISTS};

pub(crate) fn lower(ctx: &Ctx, step: Numbered, state: &State, names: &[String]) -> State {
    let script = format!(
        "apt-get update\napt-get install -y --no-install-recommends -o Binary::apt::APT::Keep-Downloaded-Packages=true {}\n",
        names.join(" ")
    );
    let empty = State::scratch().file(vec![FileAction::mkfile("/empty", "", 0o644)], ctx.internal("empty file"));
    let name = format!("install.system_packages {}", names.join(" "));
    let exec = ctx.script(state, &[step], &name, &script);
    secrets::apt(exec)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .user("root")
        .mount(APT_ARCHIVES.mount())
        .mount(APT_LISTS.mount())
        .mount(Mount::Bind { dest: APT_CLEAN_HOOK.into(), source: empty, selector: "/empty".into(), readonly: true })
        .root()
}
