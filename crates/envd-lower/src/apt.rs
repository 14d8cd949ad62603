//! `install.system_packages`: apt-get with its caches in cache mounts.
//!
//! `/var/cache/apt` (downloaded .debs) and `/var/lib/apt` (package lists)
//! are cache mounts shared by every build, LOCKED because apt locks them
//! anyway. Debian and Ubuntu images carry a `docker-clean` apt hook that
//! deletes downloaded .debs; for the step it is hidden under an empty file,
//! so the cache keeps them, and the image itself is not changed. Neither
//! directory's contents end up in the image.

use envd_lang::Span;
use envd_llb::{CacheSharing, FileAction, Mount, State};

use crate::shell::sh;
use crate::Ctx;

const CLEAN_HOOK: &str = "/etc/apt/apt.conf.d/docker-clean";

pub(crate) fn lower(ctx: &Ctx, n: usize, state: &State, names: &[String], span: &Span) -> State {
    let script = format!(
        "apt-get update\napt-get install -y --no-install-recommends -o Binary::apt::APT::Keep-Downloaded-Packages=true {}\n",
        names.join(" ")
    );
    let empty = State::scratch().file(vec![FileAction::mkfile("/empty", "", 0o644)], ctx.internal("empty file"));
    sh(state, &script)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .user("root")
        .mount(Mount::cache("/var/cache/apt", "envd-apt-archives", CacheSharing::Locked))
        .mount(Mount::cache("/var/lib/apt", "envd-apt-lists", CacheSharing::Locked))
        .mount(Mount::Bind { dest: CLEAN_HOOK.into(), source: empty, selector: "/empty".into(), readonly: true })
        .constraints(ctx.step(n, &format!("install.system_packages {}", names.join(" ")), span))
        .root()
}
