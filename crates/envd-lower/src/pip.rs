//! `install.python_packages`: pip with its cache in a cache mount.
//!
//! Requirements files and wheels are read through read-only mounts of just
//! those files, so the step's cache key follows their contents and nothing
//! else of the context. pip's cache, and a wheelhouse of every file pip
//! downloaded, are in a cache mount outside any home directory, so nothing
//! of them lands in the image and no file is downloaded twice. `config.pip_index`
//! becomes `/etc/pip.conf` before the first pip step.

use envd_lang::{ContextPath, PipIndex};
use envd_llb::{FileAction, Mount, State};

use crate::schedule::Numbered;
use crate::well_known::{CONTEXT_MOUNT, PIP_CACHE, PIP_WHEELHOUSE as WHEELHOUSE};
use crate::Ctx;

/// The python that pip steps use without a conda environment: the base's.
pub(crate) const BASE_PYTHON: &str = "python3";

/// `/etc/pip.conf` for `config.pip_index`.
pub(crate) fn pip_conf(p: &PipIndex) -> String {
    let mut s = format!("[global]\nindex-url = {}\n", p.url);
    if let Some(extra) = &p.extra_url {
        s.push_str(&format!("extra-index-url = {extra}\n"));
    }
    if p.trust {
        let hosts: Vec<&str> = std::iter::once(p.url.as_str()).chain(p.extra_url.as_deref()).filter_map(host).collect();
        s.push_str(&format!("trusted-host = {}\n", hosts.join(" ")));
    }
    s
}

fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    Some(authority.rsplit('@').next().unwrap_or(authority))
}

pub(crate) fn write_conf(ctx: &Ctx, state: &State, p: &PipIndex) -> State {
    state.file(
        vec![FileAction::mkfile("/etc/pip.conf", pip_conf(p), 0o644)],
        ctx.named("config.pip_index /etc/pip.conf", &p.span),
    )
}

/// Single-quotes `s` for the shell.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Installs `args` (already quoted) with `python`'s pip.
///
/// pip's own HTTP cache only keeps what the index lets it (a proxy that
/// strips Cache-Control defeats it). A wheelhouse in the cache mount does
/// not depend on that: `pip download` skips files it already has ("File
/// was already downloaded"), and the install reads only the wheelhouse.
pub(crate) fn script(python: &str, args: &str) -> String {
    format!(
        "mkdir -p {WHEELHOUSE}\n{python} -m pip download --dest {WHEELHOUSE} {args}\n{python} -m pip install --no-warn-script-location --no-index --find-links {WHEELHOUSE} {args}\n"
    )
}

/// pip's cache mount and the settings that keep pip quiet and its cache
/// out of the image.
pub(crate) fn cache_env(exec: envd_llb::Exec) -> envd_llb::Exec {
    exec.env("PIP_CACHE_DIR", PIP_CACHE.target)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .mount(PIP_CACHE.mount())
}

/// What one `install.python_packages` call installs.
pub(crate) struct Packages<'p> {
    pub(crate) names: &'p [String],
    pub(crate) requirements: Option<&'p ContextPath>,
    pub(crate) wheels: &'p [ContextPath],
}

pub(crate) fn lower(
    ctx: &Ctx,
    step: Numbered,
    state: &State,
    python: &str,
    context: Option<&State>,
    what: &Packages,
) -> State {
    let mut args: Vec<String> = what.names.iter().map(|n| quote(n)).collect();
    let mounted = |p: &ContextPath| format!("{CONTEXT_MOUNT}/{}", p.as_str());
    if let Some(r) = what.requirements {
        args.push("-r".into());
        args.push(quote(&mounted(r)));
    }
    args.extend(what.wheels.iter().map(|w| quote(&mounted(w))));
    let mut title: Vec<String> = what.names.to_vec();
    title.extend(what.requirements.map(|r| format!("-r {r}")));
    title.extend(what.wheels.iter().map(|w| w.to_string()));
    let name = format!("install.python_packages {}", title.join(" "));
    let script = script(python, &args.join(" "));
    let mut exec = cache_env(ctx.script(state, &[step], &name, &script).user("root"));
    if let Some(context) = context {
        for p in what.requirements.into_iter().chain(what.wheels) {
            exec = exec.mount(Mount::Bind {
                dest: mounted(p),
                source: context.clone(),
                selector: format!("/{}", p.as_str()),
                readonly: true,
            });
        }
    }
    exec.root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_conf_has_index_extra_and_trusted_hosts() {
        let span = envd_lang::Span::line("build.envd", 1);
        let p = PipIndex {
            url: "https://mirror.example:8443/simple".into(),
            extra_url: Some("http://user@extra.example/simple".into()),
            trust: true,
            span,
        };
        assert_eq!(
            pip_conf(&p),
            "[global]\nindex-url = https://mirror.example:8443/simple\nextra-index-url = http://user@extra.example/simple\ntrusted-host = mirror.example:8443 extra.example\n"
        );
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
        assert_eq!(quote("numpy>=1.2"), "'numpy>=1.2'");
    }
}
