//! Python packages with uv: what `install.python_packages` and an env
//! file's `pip:` section run by default.
//!
//! uv resolves in parallel and links from a content-addressed cache, so the
//! rebuild people wait for most (after editing requirements.txt) takes a
//! fraction of pip's time. It must still mean what pip means:
//!
//! - **The binary** is the frontend image's `/bin/uv` (from PyPI's `uv`
//!   wheel, pinned in Dockerfile.frontend), mounted read-only with the conda
//!   installer; nothing of it stays in the image.
//! - **The target** is exactly the python pip would have used
//!   (`--python`): the base's `python3` or the conda environment's.
//! - **pip's settings.** uv reads neither `pip.conf` nor `PIP_*`. The step
//!   translates them with the target python before uv starts (index,
//!   extra indexes, trusted hosts, CA bundle; [`PIP_SETTINGS`]), so
//!   `config.pip_index`, a base image's own pip configuration and the
//!   `pip.conf`/`PIP_INDEX_URL` secrets keep working. pip searches every
//!   index for the best version, uv the first index that has the package:
//!   `UV_INDEX_STRATEGY=unsafe-best-match` keeps pip's meaning. A
//!   requirements file with hashes puts pip into hash-checking mode;
//!   uv gets `--require-hashes` for the same.
//! - **Where uv would differ**, the step installs with pip instead and its
//!   log says why (`envd: installing with pip: …`): a requirements-file
//!   option uv ignores or refuses ([`crate::requirements::pip_only`], known
//!   before the build), a
//!   pip setting with no uv equivalent, or uv refusing the input when it
//!   runs (exit 2 with a parse error). And when uv finds a requirement in
//!   no index: with pip's index strategy uv takes an index's 401 for "not
//!   here", so pip, which says which index refused, has the last word.
//! - **`.pyc` files** are written after uv by [`BYTECODE`], as pip would
//!   leave them, from a cache mount of code compiled before.
//! - `ENVD_PYTHON_INSTALLER=pip` chooses pip for every step.

use envd_llb::{Exec, FileAction, Mount, State};

use crate::ctx::Ctx;
use crate::shell::EXIT_UNAUTHORIZED;
use crate::well_known::{INSTALLER_DIR, PYC_CACHE, UV_CACHE};

/// Where the step sees its scripts: [`PIP_SETTINGS`] and [`BYTECODE`].
const SCRIPTS_DIR: &str = "/run/envd/uv";

/// Writes the `.pyc` files after uv has installed, from a cache of the
/// code compiled before: a requirements edit reinstalls every package
/// into a fresh layer, and compiling them all again took most of that
/// rebuild (see BENCHMARKS.md). pip compiles as it installs, so a step
/// that falls back to pip does not run it.
pub(crate) const BYTECODE: &str = include_str!("bytecode.py");

/// uv in the step.
fn uv() -> String {
    format!("{INSTALLER_DIR}/uv")
}

/// uv in the step, for the other modules that run it.
pub(crate) fn binary() -> String {
    uv()
}

/// The lines that turn pip's settings into uv's environment for the
/// python in `$py`, or set `pip_only` to the reason uv cannot take them.
pub(crate) fn settings() -> String {
    format!(
        r#"py=$(command -v "$py" || echo "$py")
settings=$("$py" {SCRIPTS_DIR}/pip-settings.py || echo "pip_only='$py cannot read pip settings'")
eval "$settings"
"#
    )
}

/// The line that writes the `.pyc` files uv left out, for the python in
/// `$py`.
pub(crate) fn bytecode() -> String {
    format!("\"$py\" {SCRIPTS_DIR}/bytecode.py {}", PYC_CACHE.target)
}

/// pip's index settings as uv's environment, run with the target python
/// (any CPython 3): pip's configuration files in pip's order, `[global]`
/// then `[install]`, then `PIP_*` variables, each later one winning. It
/// prints `export` lines, or `pip_only=<reason>` for a setting uv has no
/// equivalent for.
pub(crate) const PIP_SETTINGS: &str = r#"import configparser, os, shlex, sys
dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
files = [os.path.join(d, "pip", "pip.conf") for d in dirs] + ["/etc/pip.conf", os.path.expanduser("~/.pip/pip.conf"),
    os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "pip", "pip.conf"),
    os.path.join(sys.prefix, "pip.conf")]
if os.environ.get("PIP_CONFIG_FILE") == os.devnull:
    files = []
elif os.environ.get("PIP_CONFIG_FILE"):
    files.append(os.environ["PIP_CONFIG_FILE"])
settings = {}
for path in files:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (configparser.Error, UnicodeDecodeError) as e:
        print("pip_only=%s" % shlex.quote("uv cannot take the settings of %s (%s)" % (path, e)))
        sys.exit(0)
    for section in ("global", "install"):
        if parser.has_section(section):
            for key, value in parser.items(section):
                settings[key.replace("_", "-")] = (value, path)
for name, value in os.environ.items():
    if name.startswith("PIP_") and value:
        settings[name[4:].lower().replace("_", "-")] = (value, "$" + name)
harmless = {"timeout", "default-timeout", "retries", "disable-pip-version-check", "no-cache-dir", "cache-dir",
    "root-user-action", "no-input", "progress-bar", "no-warn-script-location", "quiet", "verbose", "config-file",
    "no-color", "break-system-packages"}
out = {}
for key, (value, where) in sorted(settings.items()):
    if key in ("index-url", "i"):
        out["UV_DEFAULT_INDEX"] = value.strip()
    elif key == "extra-index-url":
        out["UV_INDEX"] = " ".join(value.split())
    elif key == "trusted-host":
        out["UV_INSECURE_HOST"] = " ".join(value.split())
    elif key == "cert":
        out["SSL_CERT_FILE"] = value.strip()
    elif key not in harmless:
        print("pip_only=%s" % shlex.quote("%s sets %s, which uv does not read" % (where, key)))
        sys.exit(0)
for name, value in sorted(out.items()):
    print("export %s=%s" % (name, shlex.quote(value)))
"#;

/// What uv prints when it refuses input that pip accepts (it exits 2 then;
/// exit 2 alone also means a network error): an option where a hash or a
/// requirement should be, and a requirement it cannot parse, in a file or
/// on its command line, such as a `git+git://` URL, which uv does not take,
/// and an editable git requirement (`-e git+…`), which uv cannot install. A requirement neither can
/// parse fails in pip then, with pip's message.
pub(crate) const REFUSALS: &str =
    "unexpected argument|Unexpected '-', expected|Expected `--hash`|is unsupported|is not supported|Couldn't parse requirement|Failed to parse: |Unsupported editable requirement";

/// What uv prints when an index answers its `HEAD` request (sent before
/// a ranged read of a wheel) with 501, as servers that implement only GET
/// do (Python's `http.server`, some artifact stores); pip sends none, and
/// uv takes 405 in its stride. uv exits 2, after its bounded retries.
pub(crate) const HEAD_REFUSED: &str = "HTTP status server error (501";

/// Why a step falls back to pip when [`HEAD_REFUSED`] shows.
pub(crate) const HEAD_REFUSED_REASON: &str =
    "the index answers HEAD with 501 Not Implemented, which uv asks before a ranged read and pip never sends";

/// The part of a step's script that installs `args` (quoted) into the
/// python in `$py`: uv, or pip (`pip_script`, the same install with pip)
/// when `pip_only` gives a reason or uv refuses.
pub(crate) fn script(args: &str, pip_only: Option<&str>, require_hashes: bool, pip_script: &str) -> String {
    let settings = settings().lines().map(|l| format!("  {l}\n")).collect::<String>();
    let uv = uv();
    let reason = pip_only.map(crate::shell::quote).unwrap_or_default();
    let hashes = if require_hashes { " --require-hashes" } else { "" };
    let refusals = crate::shell::quote(REFUSALS);
    let pyc_cache = PYC_CACHE.target;
    let (head_refused, head_reason) = (crate::shell::quote(HEAD_REFUSED), crate::shell::quote(HEAD_REFUSED_REASON));
    format!(
        r#"pip_only={reason}
if [ -z "$pip_only" ]; then
{settings}fi
if [ -z "$pip_only" ]; then
  log=$(mktemp) s=0 refusals={refusals}
  {{ {uv} pip install --python "$py"{hashes} {args} 2>&1 || echo "$?" >"$log.rc"; }} | tee "$log"
  if [ -f "$log.rc" ]; then s=$(cat "$log.rc"); fi
  if [ "$s" = 2 ] && grep -qE "$refusals" "$log"; then
    pip_only="uv refuses what pip accepts: $(grep -m1 -E "$refusals" "$log")"
  elif [ "$s" = 2 ] && grep -qF {head_refused} "$log"; then
    pip_only={head_reason}
  elif [ "$s" = 1 ] && grep -q 'was not found in the package registry' "$log"; then
    pip_only="uv found a requirement in no index, which is also what an index that refuses the credentials looks like to uv; pip says which"
  elif [ "$s" != 0 ]; then
    if grep -q '401 Unauthorized' "$log"; then s={EXIT_UNAUTHORIZED}; fi
    rm -f "$log" "$log.rc"
    exit "$s"
  fi
  rm -f "$log" "$log.rc"
  [ -n "$pip_only" ] || "$py" {SCRIPTS_DIR}/bytecode.py {pyc_cache}
fi
if [ -n "$pip_only" ]; then
  echo "envd: installing with pip: $pip_only"
{pip_script}fi
"#
    )
}

/// uv's settings, its cache mount and its scripts: its cache out of the
/// image, no python downloads, the base's CA store (this is where a
/// company's CA is), no `uv.toml` of the base's, pip's choice among
/// several indexes, and no `.pyc` files: [`BYTECODE`] writes those, as
/// pip writes them, with its own cache mount.
pub(crate) fn env(ctx: &Ctx, exec: Exec) -> Exec {
    let scripts = State::scratch().file(
        vec![
            FileAction::mkfile("/pip-settings.py", PIP_SETTINGS, 0o644),
            FileAction::mkfile("/bytecode.py", BYTECODE, 0o644),
        ],
        ctx.internal("scripts for uv"),
    );
    exec.mount(Mount::Bind { dest: SCRIPTS_DIR.into(), source: scripts, selector: "/".into(), readonly: true })
        .env("UV_CACHE_DIR", UV_CACHE.target)
        .env("UV_LINK_MODE", "copy")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_NO_PROGRESS", "1")
        .env("UV_SYSTEM_CERTS", "1")
        .env("UV_NO_CONFIG", "1")
        .env("UV_INDEX_STRATEGY", "unsafe-best-match")
        .mount(UV_CACHE.mount())
        .mount(PYC_CACHE.mount())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_falls_back_to_pip_with_the_reason() {
        let s = script("'six'", Some("r.txt:2: uv does not read --pre as pip does"), false, "  PIP\n");
        assert!(s.starts_with("pip_only='r.txt:2: uv does not read --pre as pip does'\n"), "{s}");
        assert!(s.contains("echo \"envd: installing with pip: $pip_only\"\n  PIP\nfi\n"), "{s}");
        let s = script("'six'", None, true, "  PIP\n");
        assert!(s.contains("/run/envd/frontend/uv pip install --python \"$py\" --require-hashes 'six'"), "{s}");
    }

    #[test]
    fn the_script_writes_bytecode_only_after_uv_installed() {
        let s = script("'six'", None, false, "  PIP\n");
        let uv_done = s.find("rm -f \"$log\" \"$log.rc\"\n  [ -n \"$pip_only\" ] || \"$py\" /run/envd/uv/bytecode.py /var/cache/envd/pyc\nfi\n");
        assert!(uv_done.is_some_and(|at| at < s.find("envd: installing with pip").unwrap()), "{s}");
    }

    /// Two writers into one shared cache whose pids are the same (two
    /// build containers, each with its own pid namespace): every write
    /// lands whole, and no writer loses its temporary file to the other.
    #[test]
    fn bytecode_writes_are_atomic_across_writers_with_the_same_pid() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bytecode.py"), BYTECODE).unwrap();
        let writer = r#"
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("bytecode", sys.argv[1])
bytecode = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bytecode)
os.getpid = lambda: 42
data = sys.argv[3].encode() * 50000
for _ in range(300):
    bytecode.write(sys.argv[2], data)
"#;
        let script = dir.path().join("bytecode.py");
        let target = dir.path().join("cache/ab/cdef");
        let spawn = |fill: &str| {
            std::process::Command::new("python3")
                .args(["-c", writer])
                .arg(&script)
                .arg(&target)
                .arg(fill)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("a"), spawn("b"));
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let written = std::fs::read(&target).unwrap();
        assert_eq!(written.len(), 50000);
        assert!(written.iter().all(|&c| c == written[0]), "one writer's bytes, whole");
        let left: Vec<_> = std::fs::read_dir(target.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    /// [`BYTECODE`] with this machine's python3, on a virtual environment:
    /// what it writes is what `py_compile` writes, and the second time the
    /// code comes from the cache.
    #[test]
    fn bytecode_writes_what_py_compile_writes_and_then_takes_it_from_its_cache() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new(args[0]).args(&args[1..]).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let venv = dir.path().join("venv");
        run(&["python3", "-m", "venv", "--without-pip", venv.to_str().unwrap()]);
        let python = venv.join("bin/python");
        let python = python.to_str().unwrap();
        let site = run(&[python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]);
        let site = std::path::Path::new(site.trim());
        std::fs::write(site.join("envd_mod.py"), "VALUE = 42\n").unwrap();
        std::fs::write(site.join("envd_broken.py"), "def (:\n").unwrap();
        let script = dir.path().join("bytecode.py");
        std::fs::write(&script, BYTECODE).unwrap();
        let cache = dir.path().join("cache");
        let bytecode = || run(&[python, script.to_str().unwrap(), cache.to_str().unwrap()]);

        let first = bytecode();
        assert!(first.contains(": 0 from the bytecode cache, 1 compiled (1 files did not compile)"), "{first}");
        let pyc = site
            .join("__pycache__")
            .join(run(&[python, "-c", "import sys; print('envd_mod.%s.pyc' % sys.implementation.cache_tag)"]).trim());
        let written = std::fs::read(&pyc).unwrap();
        let expected = dir.path().join("expected.pyc");
        run(&[
            python,
            "-c",
            &format!(
                "import py_compile; py_compile.compile({:?}, cfile={:?}, doraise=True)",
                site.join("envd_mod.py"),
                expected
            ),
        ]);
        assert_eq!(written, std::fs::read(&expected).unwrap());
        assert!(bytecode().contains("wrote 0 .pyc files"), "an up-to-date .pyc is written again");

        std::fs::remove_dir_all(site.join("__pycache__")).unwrap();
        let again = bytecode();
        assert!(again.contains(": 1 from the bytecode cache, 0 compiled (1 files did not compile)"), "{again}");
        assert_eq!(std::fs::read(&pyc).unwrap(), written);
        assert_eq!(run(&[python, "-c", "import envd_mod; print(envd_mod.VALUE)"]), "42\n");

        // A hash-based .pyc (conda's, or py_compile's under
        // SOURCE_DATE_EPOCH) of the source as it is stays; one of other
        // source does not.
        let checked = format!(
            "import py_compile as c; c.compile({:?}, cfile={:?}, doraise=True, invalidation_mode=c.PycInvalidationMode.CHECKED_HASH)",
            site.join("envd_mod.py"),
            pyc
        );
        run(&[python, "-c", &checked]);
        let hashed = std::fs::read(&pyc).unwrap();
        assert_ne!(hashed, written);
        assert!(bytecode().contains("wrote 0 .pyc files"), "a current hash-based .pyc is written again");
        assert_eq!(std::fs::read(&pyc).unwrap(), hashed);
        std::fs::write(site.join("envd_mod.py"), "VALUE = 43\n").unwrap();
        let changed = bytecode();
        assert!(changed.contains("wrote 1 .pyc files"), "{changed}");
        assert_eq!(run(&[python, "-c", "import envd_mod; print(envd_mod.VALUE)"]), "43\n");
    }
}
