//! `install.python_packages`: uv (see [`crate::uv`]) or pip, with their
//! caches in cache mounts.
//!
//! Requirements files and wheels are read through read-only mounts of just
//! those files, so the step's cache key follows their contents and nothing
//! else of the context. pip's cache, and a wheelhouse of every file pip
//! downloaded, are in a cache mount outside any home directory, so nothing
//! of them lands in the image and no file is downloaded twice. `config.pip_index`
//! becomes `/etc/pip.conf` before the first pip step.

use envd_conda::credentials::strip;
use envd_lang::{ContextPath, Diagnostic, PipIndex, Plan};
use envd_llb::{FileAction, Mount, State};

use crate::config::{PackageLayers, PythonInstaller};
use crate::ctx::Ctx;
use crate::schedule::Numbered;
use crate::secrets;
use crate::shell::{quote, EXIT_EXTERNALLY_MANAGED, EXIT_HASH_MISMATCH, EXIT_UNAUTHORIZED};
use crate::well_known::{CONTEXT_MOUNT, PIP_CACHE, PIP_WHEELHOUSE as WHEELHOUSE};

/// How progress names the call.
const CALL: &str = "install.python_packages";

/// The python that pip steps use without a conda environment: the base's.
pub(crate) const BASE_PYTHON: &str = "python3";

/// `/etc/pip.conf` for `config.pip_index`.
/// URLs are written without credentials: the file stays in the image,
/// and pip steps get the URLs with them as `PIP_INDEX_URL` and
/// `PIP_EXTRA_INDEX_URL` (see [`crate::secrets::pip`]).
pub(crate) fn pip_conf(p: &PipIndex) -> String {
    let mut s = format!("[global]\nindex-url = {}\n", strip(&p.url));
    if let Some(extra) = &p.extra_url {
        s.push_str(&format!("extra-index-url = {}\n", strip(extra)));
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

/// How a step installs python packages: what the frontend knows before
/// the build about the requirements it was given.
pub(crate) struct Install {
    /// The pip arguments, quoted.
    pub(crate) args: String,
    /// A VCS, URL or directory requirement (see [`is_direct`]).
    pub(crate) direct: bool,
    /// Why uv may not install this (see [`crate::requirements::pip_only`]).
    pub(crate) pip_only: Option<String>,
    /// A requirement has a `--hash`: pip's hash-checking mode.
    pub(crate) hashes: bool,
}

/// The script that installs into the python `prelude` sets (see
/// [`python_prelude`]), and the frontend image whose uv it runs, if it runs uv: with
/// `ENVD_PYTHON_INSTALLER=pip`, or when BuildKit did not name the
/// frontend's image, pip does it all.
///
/// A conda environment's python (any `python` other than
/// [`BASE_PYTHON`]) is there only if the in-build solve brought one, by a
/// spec or as a dependency, which is known only when the step runs: the
/// script falls back to the base's python then.
pub(crate) fn install_script(ctx: &Ctx, prelude: String, install: &Install) -> (String, Option<String>) {
    let script = prelude;
    let pip = with_python("\"$py\"", &install.args, install.direct);
    match (ctx.config.python_installer, ctx.inputs.installer_image.as_deref()) {
        (PythonInstaller::Pip, _) => (script + &pip, None),
        (PythonInstaller::Uv, None) => {
            let why = quote("envd: installing with pip: BuildKit did not name the frontend's image, which carries uv");
            (script + &format!("echo {why}\n") + &pip, None)
        }
        (PythonInstaller::Uv, Some(image)) => {
            let indented: String =
                pip.lines().map(|l| if l.is_empty() { "\n".to_owned() } else { format!("  {l}\n") }).collect();
            let uv = crate::uv::script(&install.args, install.pip_only.as_deref(), install.hashes, &indented);
            (script + &uv, Some(image.to_owned()))
        }
    }
}

/// What a step that installs python packages mounts and sets: pip's cache
/// and settings always (pip may do it), uv's and uv itself when it runs.
pub(crate) fn install_env(ctx: &Ctx, exec: envd_llb::Exec, uv_image: Option<&str>) -> envd_llb::Exec {
    let mut exec = ctx.network_timeouts(cache_env(exec));
    if ctx.config.break_system_packages {
        exec = exec.env("UV_BREAK_SYSTEM_PACKAGES", "1").env("PIP_BREAK_SYSTEM_PACKAGES", "1");
    }
    match uv_image {
        Some(image) => crate::uv::env(ctx, exec).mount(crate::frontend_image::bin_mount(ctx, image, "uv")),
        None => exec,
    }
}

/// pip's part of [`install_script`], for a python that is sure to be there.
fn with_python(python: &str, args: &str, direct: bool) -> String {
    // A VCS or URL requirement is built where it is installed, with build
    // dependencies from the index; a wheelhouse cannot stand in for that.
    let (fetch, install) = if direct {
        ("install --no-warn-script-location".to_owned(), None)
    } else {
        (
            format!("download --dest {WHEELHOUSE}"),
            Some(format!(
                "{python} -m pip install --no-warn-script-location --no-index --find-links {WHEELHOUSE} {args}\n"
            )),
        )
    };
    // pip tells why an index refused only in its debug log. pip never
    // fetches a file again: a download cut short by a proxy fails as a
    // hash mismatch (the index's `#sha256=`), which a second try mends;
    // a file that is wrong twice is the server's.
    format!(
        r#"mkdir -p {WHEELHOUSE}
log=$(mktemp) s=0 try=0
while :; do
  try=$((try + 1)) s=0
  : >"$log"
  {python} -m pip {fetch} --log "$log" {args} || s=$?
  if [ "$s" = 0 ] || ! grep -q 'DO NOT MATCH THE HASHES' "$log"; then break; fi
  if [ "$try" -ge 2 ]; then s={EXIT_HASH_MISMATCH}; break; fi
  echo "envd: a download does not have the hash its index gives (cut short on the way?); pip does not fetch a file again, so envd runs pip once more"
done
if [ "$s" != 0 ]; then
  if grep -qE '401 (Client Error|Error|Unauthorized)|HTTP error 401' "$log"; then s={EXIT_UNAUTHORIZED}; fi
  rm -f "$log"
  exit "$s"
fi
rm -f "$log"
{}"#,
        install.unwrap_or_default()
    )
}

/// Whether a requirement names a URL (VCS or archive) or a directory
/// rather than an index package: `git+ssh://...`, `demo @ https://...`,
/// `/run/envd/pip-src`.
pub(crate) fn is_direct(requirement: &str) -> bool {
    // A path is a project built where it is installed, too.
    let r = requirement.trim_start();
    r.contains("://") || r.starts_with('/') || r.starts_with("./") || r.starts_with("../")
}

/// What a pip step refused with 401 says: which index (the one build.envd
/// names, without credentials) and how to give credentials.
pub(crate) fn unauthorized(plan: &Plan) -> (u32, String) {
    let index = plan
        .pip_index
        .as_ref()
        .map_or_else(|| "the package index".to_owned(), |p| format!("the package index {}", strip(&p.url)));
    (
        EXIT_UNAUTHORIZED,
        format!(
            "{index} answered 401 Unauthorized; give pip credentials with docker buildx build --secret id=netrc,src=$HOME/.netrc (or id=pip.conf, or id=PIP_INDEX_URL,env=PIP_INDEX_URL)"
        ),
    )
}

/// Why an `install.python_packages` step failed, by its exit code.
pub(crate) fn reasons(plan: &Plan) -> Vec<(u32, String)> {
    vec![unauthorized(plan), externally_managed(), hash_mismatch()]
}

/// The sentence of a pip step whose download had the wrong hash twice
/// (see [`with_python`]).
pub(crate) fn hash_mismatch() -> (u32, String) {
    (
        EXIT_HASH_MISMATCH,
        "a file pip downloaded did not have the sha256 its index (or the requirement's --hash) gives, on two tries: the server, or a proxy on the way, sends it damaged or cut short; pip's output above names the file and its URL".to_owned(),
    )
}

/// The build arg that lets python steps install into an externally
/// managed python.
pub const BREAK_SYSTEM_PACKAGES_ARG: &str = "ENVD_BREAK_SYSTEM_PACKAGES";

/// The lines after [`python_prelude`] that stop a step whose python is
/// externally managed (PEP 668: the `EXTERNALLY-MANAGED` file in its
/// standard library, as Debian 12's and Ubuntu 23.04's pythons have),
/// unless `ENVD_BREAK_SYSTEM_PACKAGES` allows it: with the sentence of
/// [`externally_managed`] at the call, not uv's paragraph about apt.
pub(crate) fn system_python_check(ctx: &Ctx) -> String {
    if ctx.config.break_system_packages {
        return String::new();
    }
    let marker = quote(
        "import os, sys, sysconfig; sys.exit(0 if os.path.isfile(os.path.join(sysconfig.get_path(\"stdlib\"), \"EXTERNALLY-MANAGED\")) else 1)",
    );
    format!(
        "if \"$py\" -c {marker} 2>/dev/null; then echo \"envd: $py is externally managed (PEP 668)\" >&2; exit {EXIT_EXTERNALLY_MANAGED}; fi\n"
    )
}

/// The sentence of a step that stopped at [`system_python_check`].
pub(crate) fn externally_managed() -> (u32, String) {
    (
        EXIT_EXTERNALLY_MANAGED,
        format!(
            "the base's python is externally managed (PEP 668, as on Debian 12 and Ubuntu 23.04 or later), so python packages cannot go into it; install them into a conda environment (base(language=\"python3.X\") with install.conda_packages brings its own python), or pass --build-arg {BREAK_SYSTEM_PACKAGES_ARG}=1 to install into the base's python anyway"
        ),
    )
}

/// pip's cache mount and the settings that keep pip quiet, its cache out
/// of the image, and it from asking for a password that no one can type
/// (a 401 is then an error that says so).
pub(crate) fn cache_env(exec: envd_llb::Exec) -> envd_llb::Exec {
    exec.env("PIP_CACHE_DIR", PIP_CACHE.target)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .mount(PIP_CACHE.mount())
}

/// The context paths the plan's requirements files name (`-r`, `-c`,
/// local wheels and projects), for the context to carry; a name that
/// cannot be mounted is an error at its `install.python_packages` line.
pub(crate) fn referenced(plan: &Plan, inputs: &crate::Inputs) -> Result<Vec<String>, Diagnostic> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let envd_lang::StepKind::PythonPackages { requirements: Some(r), .. } = &step.kind else { continue };
        let Some(text) = inputs.context_files.get(r.as_str()) else { continue };
        let paths = crate::requirements::references(r.as_str(), text)
            .map_err(|e| Diagnostic::at(step.span.clone(), format!("install.python_packages: {e}")))?;
        out.extend(paths);
    }
    Ok(out)
}

/// What one `install.python_packages` call installs.
pub(crate) struct Packages<'p> {
    pub(crate) names: &'p [String],
    pub(crate) requirements: Option<&'p ContextPath>,
    pub(crate) wheels: &'p [ContextPath],
}

pub(crate) fn lower(
    ctx: &Ctx,
    plan: &Plan,
    step: Numbered,
    state: &State,
    python: &str,
    context: Option<&State>,
    what: &Packages,
) -> Result<State, Diagnostic> {
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
    let name = strip(&format!("install.python_packages {}", title.join(" ")));
    let requirements_text = what.requirements.and_then(|r| ctx.inputs.context_files.get(r.as_str()));
    let direct = what.names.iter().any(|n| is_direct(n))
        || requirements_text.is_some_and(|t| t.lines().any(|l| is_direct(l.split(" #").next().unwrap_or(l))));
    let mut requirement_lines: Vec<String> = what.names.to_vec();
    requirement_lines.extend(requirements_text.map(|t| crate::requirements::lines(t)).unwrap_or_default());
    let torch = crate::torch::index(ctx, plan, &requirement_lines);
    let install = Install {
        args: torch.as_ref().map_or_else(|| args.join(" "), |t| t.extend(&args.join(" "))),
        direct,
        pip_only: what
            .requirements
            .zip(requirements_text)
            .and_then(|(r, t)| crate::requirements::pip_only(r.as_str(), t)),
        hashes: requirements_text.is_some_and(|t| crate::requirements::has_hashes(t)),
    };
    let prelude = python_prelude(python) + &system_python_check(ctx);
    let (script, uv_image) = install_script(ctx, prelude.clone(), &install);
    let log = torch.as_ref().map(|t| t.echo()).unwrap_or_default();
    let script = log.clone() + &script;
    let mounts =
        |exec: envd_llb::Exec| with_mounts(ctx, plan, exec, uv_image.as_deref(), context, what, requirements_text);
    // A package's own step sees no requirements file and nothing of the
    // context: its cache key is its lock, the state and the command.
    let package_env =
        |exec: envd_llb::Exec| secrets::pip(install_env(ctx, exec.user("root"), uv_image.as_deref()), plan);
    // A requirements file in hash-checking mode is layered only when it is
    // a lock already, and then it is the lock: nothing to resolve.
    let hashed = match (install.hashes, requirements_text) {
        (true, Some(text)) if what.names.is_empty() && what.wheels.is_empty() => crate::requirements::hashed_lock(text),
        _ => None,
    };
    let hashed = hashed.map(|mut h| {
        h.options.extend(torch.as_ref().and_then(|t| t.option_line()));
        h
    });
    let layered = uv_image.is_some() && install.pip_only.is_none() && (!install.hashes || hashed.is_some());
    let mut lock_mount = None;
    let py = crate::layered::PythonStep {
        step,
        state,
        prelude: prelude.clone(),
        call: CALL,
        reasons: vec![externally_managed()],
    };
    let (on, script) = match (layered, ctx.config.python_layers, ctx.config.caps.merge_diff, hashed.as_ref()) {
        (true, PackageLayers::Packages, true, Some(hashed)) => {
            let lock = crate::layered::Locked::Hashed(hashed);
            (crate::layered::install_groups(ctx, &py, lock, &ctx.layer_budget(plan), package_env), script)
        }
        (true, PackageLayers::Packages, true, None) => {
            let what = name.trim_start_matches(CALL).trim();
            let resolve = crate::layered::resolve(ctx, &py, &install.args, what, &log, reasons(plan), mounts);
            let on = match ctx.inputs.locks.get(&resolve.key()) {
                Some(text) => {
                    let lock = crate::lock::PythonLockText::parse(text).map_err(|e| {
                        Diagnostic::at(
                            step.step.span.clone(),
                            format!("install.python_packages: the resolved lock: {e}"),
                        )
                    })?;
                    let budget = ctx.layer_budget(plan);
                    // The step's own install mounts the lock it was lowered
                    // from: the resolve is then part of the build, and a
                    // registry cache exported with mode=max carries it.
                    lock_mount = Some(crate::layered::lock_mount(&resolve));
                    crate::layered::install_groups(
                        ctx,
                        &py,
                        crate::layered::Locked::Resolved(&lock),
                        &budget,
                        package_env,
                    )
                }
                None => {
                    ctx.resolves.borrow_mut().push(resolve);
                    state.clone()
                }
            };
            (on, script)
        }
        (true, PackageLayers::Packages, false, _) => {
            let why = quote("envd: python packages in one layer: this image store has no MergeOp/DiffOp");
            (state.clone(), format!("echo {why}\n{script}"))
        }
        _ => (state.clone(), script),
    };
    let exec = ctx.script_with_reasons(&on, &[step], &name, &script, reasons(plan));
    let exec = mounts(exec);
    Ok(match lock_mount {
        Some(m) => exec.mount(m).root(),
        None => exec.root(),
    })
}

/// The first lines of every script that installs with `python`: `$py`,
/// the base's python when a conda environment brought none.
pub(crate) fn python_prelude(python: &str) -> String {
    let mut script = format!("py={python}\n");
    if python != BASE_PYTHON {
        script.push_str(&format!("[ -x \"$py\" ] || py={BASE_PYTHON}\n"));
    }
    script
}

/// What a python step mounts and sets, for its install and for its
/// resolve and group steps alike: pip's and uv's settings and caches, the
/// secrets, the requirements files and what they name.
fn with_mounts(
    ctx: &Ctx,
    plan: &Plan,
    exec: envd_llb::Exec,
    uv_image: Option<&str>,
    context: Option<&State>,
    what: &Packages,
    requirements_text: Option<&String>,
) -> envd_llb::Exec {
    let mounted = |p: &ContextPath| format!("{CONTEXT_MOUNT}/{}", p.as_str());
    let mut exec = secrets::pip(install_env(ctx, exec.user("root"), uv_image), plan);
    if let Some(context) = context {
        for p in what.requirements.into_iter().chain(what.wheels) {
            exec = exec.mount(Mount::Bind {
                dest: mounted(p),
                source: context.clone(),
                selector: format!("/{}", p.as_str()),
                readonly: true,
            });
        }
        // What the requirements file names, where pip looks for it: a
        // project directory is built in place, so these mounts are
        // writable, their writes thrown away. pip and uv read a local
        // path relative to the working directory, which is the file's own
        // directory when someone runs `pip install -r` beside it: so is
        // the step's.
        let named = what.requirements.zip(requirements_text);
        let paths = named.and_then(|(r, t)| crate::requirements::references(r.as_str(), t).ok()).unwrap_or_default();
        for path in &paths {
            let (dest, selector) = match path.as_str() {
                "." => (CONTEXT_MOUNT.to_owned(), "/".to_owned()),
                p => (format!("{CONTEXT_MOUNT}/{p}"), format!("/{p}")),
            };
            exec = exec.mount(Mount::Bind { dest, source: context.clone(), selector, readonly: false });
        }
        if let (false, Some(r)) = (paths.is_empty(), what.requirements) {
            let dir =
                r.as_str().rsplit_once('/').map_or(CONTEXT_MOUNT.to_owned(), |(d, _)| format!("{CONTEXT_MOUNT}/{d}"));
            exec = exec.cwd(dir);
        }
    }
    exec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_conf_has_index_extra_and_trusted_hosts() {
        let span = envd_lang::Span::line("build.envd", 1);
        let p = PipIndex {
            url: "https://mirror.example:8443/simple".into(),
            extra_url: Some("http://user:pw@extra.example/simple".into()),
            trust: true,
            span,
        };
        assert_eq!(
            pip_conf(&p),
            "[global]\nindex-url = https://mirror.example:8443/simple\nextra-index-url = http://extra.example/simple\ntrusted-host = mirror.example:8443 extra.example\n"
        );
    }

    #[test]
    fn url_requirements_install_directly_index_ones_through_the_wheelhouse() {
        assert!(is_direct("demo @ git+ssh://git@host/repo.git"));
        assert!(is_direct("git+https://github.com/a/b@v1#egg=b"));
        assert!(!is_direct("numpy==1.21"));
        let wheelhouse = with_python("python3", "'six'", false);
        assert!(wheelhouse.contains("pip download --dest") && wheelhouse.contains("--no-index --find-links"));
        let direct = with_python("python3", "'demo @ git+ssh://h/r.git'", true);
        assert!(direct.contains("python3 -m pip install --no-warn-script-location --log"), "{direct}");
        assert!(!direct.contains("--no-index"), "{direct}");
    }
}
