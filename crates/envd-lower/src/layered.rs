//! Python packages in layers that follow the packages: resolve, then one
//! cached layer per package or small group, merged.
//!
//! A CI runner keeps only a registry cache, and BuildKit never exports
//! cache mounts, so on such a runner the cost of a requirements edit is
//! whatever the edit invalidates. Installed in one step, that is every
//! wheel, downloaded, installed, compressed and pushed again. Here it is
//! one layer:
//!
//! 1. **Resolve.** A step runs `uv pip compile --format pylock.toml`
//!    against the step's python, indexes and secrets, and writes the lock
//!    (PEP 751) to an output of its own. It is keyed by its inputs only;
//!    the frontend solves it, reads the small file, and lowers again with
//!    the lock ([`crate::Inputs::locks`]).
//! 2. **One layer per package or group** ([`crate::layers`]). Each group is
//!    installed from a lock of just its packages (`pylock.envd.toml`, with
//!    their files' URLs and hashes; uv resolves nothing), on the state the
//!    step starts from. Its cache key is that state, the group's lock and
//!    the command, and nothing of the other groups or of the order of the
//!    requirements. Its files become their own layer: the DiffOp over the
//!    state it was installed on.
//! 3. **Reproducible bytes.** Every file and directory the group wrote is
//!    dated `SOURCE_DATE_EPOCH`, or [`FIXED_EPOCH`] without one, before and
//!    after its `.pyc` files are written (their headers carry the source's
//!    date), and `REQUESTED` markers, which depend on the rest of the
//!    requirements, are left out; `/tmp` is a tmpfs. The same packages on
//!    the same base and python give the same layer, byte for byte.
//! 4. **Merged**, base first, then the groups in the planner's order; the
//!    step itself then runs as it always did, on the merged state: every
//!    pinned package is already there, so it installs what could not be
//!    pinned (VCS, URL and path requirements, sdist-only packages), writes
//!    what `.pyc` files are missing, and keeps pip's fallback, hash
//!    checking and the log. Its layer is the small last one.
//!
//! A requirements file that is a lock already (every requirement
//! `name==version --hash=…`) needs no resolve: it is read as the lock
//! (`Locked::Hashed`).
//!
//! The linear path stays where layers cannot be made: an image store
//! without MergeOp/DiffOp (the step says so), pip as the installer, a pip
//! fallback known before the build, a requirements file in hash-checking
//! mode that is not such a lock, a conda environment's python, or
//! `ENVD_PYTHON_LAYERS=single`.

use envd_llb::{diff, merge, Exec, FileAction, Mount, State};

use crate::ctx::Ctx;
use crate::layers::{Budget, Group};
use crate::lock::{PythonLock, PythonLockText, Resolve};
use crate::requirements::HashedLock;
use crate::schedule::Numbered;
use crate::shell::{quote, EXIT_UNAUTHORIZED};

/// The date of a layer's files without `SOURCE_DATE_EPOCH`:
/// 1980-01-01T00:00:00Z, the earliest a zip (a wheel) can record.
pub const FIXED_EPOCH: i64 = 315_532_800;

/// Where a resolve step writes its lock, and where a group step reads
/// its own.
pub(crate) const LOCK_DIR: &str = "/run/envd/lock";

/// The directories a wheel installs into, for the python that runs it:
/// its packages, scripts and headers, and the `share` and `etc` of its
/// data directory, those that exist. Only they are searched for what an
/// install wrote, not the whole prefix (a CUDA base's /usr/local is big).
const INSTALL_ROOTS: &str = r#"import os, sysconfig
p = sysconfig.get_paths()
roots = {p[k] for k in ("purelib", "platlib", "scripts", "include")}
roots |= {os.path.join(p["data"], d) for d in ("share", "etc")}
print(" ".join(sorted(r for r in roots if os.path.isdir(r))))"#;

/// The lock a resolve step writes, in its output.
pub const LOCK_FILE: &str = "pylock.toml";

/// A python step as its resolve and group steps see it.
pub(crate) struct PythonStep<'a> {
    /// The plan step.
    pub(crate) step: Numbered<'a>,
    /// The state it starts from.
    pub(crate) state: &'a State,
    /// The first lines of its scripts, which set `$py`.
    pub(crate) prelude: String,
    /// What progress calls its steps: `install.python_packages`, or
    /// `install.conda_packages: pip` for an env file's `pip:` section.
    pub(crate) call: &'static str,
    /// The exit codes its prelude may stop a group's step with, each with
    /// its sentence (see [`crate::shell::ScriptStep::reasons`]).
    pub(crate) reasons: Vec<(u32, String)>,
}

/// The resolve step: `uv pip compile` of the step's requirements (`args`,
/// quoted; `what` names them in progress) against its python, written to
/// a scratch output; `log` is shell lines it runs first (the torch index
/// it was given, and why: see [`crate::torch`]). `prepare`
/// adds what every uv step of this call mounts (settings, secrets, the
/// requirements files), as for the install itself.
pub(crate) fn resolve(
    ctx: &Ctx,
    py: &PythonStep,
    args: &str,
    what: &str,
    log: &str,
    reasons: Vec<(u32, String)>,
    prepare: impl Fn(Exec) -> Exec,
) -> Resolve {
    let (step, state, prelude) = (py.step, py.state, &py.prelude);
    let uv = crate::uv::binary();
    let settings = crate::uv::settings();
    // Where uv would differ from pip (a pip setting uv cannot take, input
    // uv refuses, a requirement uv finds in no index): an empty lock, and
    // the step installs everything itself, in one layer, falling back to
    // pip as it always did. Any other failure is the step's.
    let refusals = quote(crate::uv::REFUSALS);
    let (head_refused, head_reason) = (quote(crate::uv::HEAD_REFUSED), quote(crate::uv::HEAD_REFUSED_REASON));
    let script = format!(
        r#"{log}{prelude}pip_only=
{settings}lock={LOCK_DIR}/{LOCK_FILE}
if [ -z "$pip_only" ]; then
  # uv pip compile reads requirements from files only: the step's
  # arguments, a line each (`-r FILE` stays one line)
  in=$(mktemp) log=$(mktemp) s=0
  set -- {args}
  while [ $# -gt 0 ]; do
    if [ "$1" = -r ]; then printf -- '-r %s\n' "$2"; shift 2; else printf '%s\n' "$1"; shift; fi
  done >"$in"
  {uv} pip compile --quiet --python "$py" --format pylock.toml --output-file "$lock" "$in" >"$log" 2>&1 || s=$?
  cat "$log"
  if [ "$s" = 2 ] && grep -qE {refusals} "$log"; then
    pip_only="uv refuses what pip accepts"
  elif [ "$s" = 2 ] && grep -qF {head_refused} "$log"; then
    pip_only={head_reason}
  elif [ "$s" = 1 ] && grep -q 'was not found in the package registry' "$log"; then
    pip_only="uv found a requirement in no index"
  elif [ "$s" != 0 ]; then
    if grep -q '401 Unauthorized' "$log"; then s={EXIT_UNAUTHORIZED}; fi
    exit "$s"
  fi
fi
if [ -n "$pip_only" ]; then
  echo "envd: python packages in one layer: $pip_only"
  echo 'lock-version = "1.0"' >"$lock"
fi
"#
    );
    let name = format!("{}: resolve {what}", py.call);
    let exec = ctx.script_with_reasons(state, &[step], &name, &script, reasons);
    resolve_output(prepare(exec), step, LOCK_FILE)
}

/// The resolve of `exec`, a step that writes the lock `file` for `step`
/// into [`LOCK_DIR`], an output of its own: all the frontend reads.
pub(crate) fn resolve_output(exec: Exec, step: Numbered, file: &'static str) -> Resolve {
    let exec = exec.mount(Mount::Bind {
        dest: LOCK_DIR.into(),
        source: State::scratch(),
        selector: String::new(),
        readonly: false,
    });
    let (_, outputs) = exec.outputs();
    let output = outputs.into_iter().find(|(dest, _)| dest == LOCK_DIR).map(|(_, s)| s).expect("the lock mount");
    Resolve { step: step.index, span: step.step.span.clone(), state: output, file }
}

/// The resolve's output, read-only where a group step reads its lock.
pub(crate) fn lock_mount(resolve: &Resolve) -> Mount {
    lock_mount_at(resolve, LOCK_DIR)
}

/// The resolve's output, read-only at `dest`: for a step that mounts two.
pub(crate) fn lock_mount_at(resolve: &Resolve, dest: &str) -> Mount {
    Mount::Bind { dest: dest.into(), source: resolve.state.clone(), selector: "/".into(), readonly: true }
}

/// The lock a step's groups install from.
pub(crate) enum Locked<'a> {
    /// A resolve step's `pylock.toml`: a group installs its packages'
    /// tables, with their files' URLs and hashes; uv resolves nothing.
    Resolved(&'a PythonLockText),
    /// The user's requirements file, every requirement pinned and hashed:
    /// read as the lock, with no resolve step. A group installs its pins,
    /// their hashes and the file's index options, without dependencies
    /// (every one is pinned in its own group).
    Hashed(&'a HashedLock),
}

impl Locked<'_> {
    fn lock(&self) -> &PythonLock {
        match self {
            Locked::Resolved(text) => &text.lock,
            Locked::Hashed(hashed) => &hashed.lock,
        }
    }

    /// The file a group's step installs from, its text, and the flags
    /// uv installs it with.
    fn group_file(&self, group: &Group) -> (&'static str, String, &'static str) {
        match self {
            Locked::Resolved(text) => ("pylock.envd.toml", lock_of(text, group), "--preview-features pylock"),
            Locked::Hashed(hashed) => {
                let mut lines = hashed.options.clone();
                lines.extend(group.packages.iter().filter_map(|p| hashed.lines.get(&p.name).cloned()));
                ("requirements.envd.txt", lines.join("\n") + "\n", "--no-deps --require-hashes")
            }
        }
    }
}

/// The state the step's own install runs on: `state` merged with a layer
/// per group of `lock`'s packages, within `budget`.
pub(crate) fn install_groups(
    ctx: &Ctx,
    py: &PythonStep,
    lock: Locked,
    budget: &Budget,
    prepare: impl Fn(Exec) -> Exec,
) -> State {
    merge_layers(ctx, py.state, layers(ctx, py, lock, budget, prepare))
}

/// The layer of each group of `lock`'s packages, within `budget`: the
/// DiffOp of its install over the step's state.
pub(crate) fn layers(
    ctx: &Ctx,
    py: &PythonStep,
    lock: Locked,
    budget: &Budget,
    prepare: impl Fn(Exec) -> Exec,
) -> Vec<State> {
    let plan = crate::layers::plan(lock.lock(), budget);
    let epoch = ctx.config.source_date_epoch.unwrap_or(FIXED_EPOCH);
    plan.groups
        .iter()
        .map(|group| {
            let installed = group_step(ctx, py, group, &lock, epoch, &prepare);
            diff(py.state, &installed, ctx.internal(&format!("layer of {}", group.name)))
        })
        .collect()
}

/// `state` with `layers` merged onto it, in order.
pub(crate) fn merge_layers(ctx: &Ctx, state: &State, layers: Vec<State>) -> State {
    if layers.is_empty() {
        return state.clone();
    }
    let name = ctx.internal(&format!("{} python package layers", layers.len()));
    merge(&[vec![state.clone()], layers].concat(), name)
}

/// A lock of `group`'s packages alone, in name order.
fn lock_of(lock: &PythonLockText, group: &Group) -> String {
    let mut out = String::from("lock-version = \"1.0\"\ncreated-by = \"envd\"\n");
    for p in &group.packages {
        if let Some(table) = lock.tables.get(&p.name) {
            out.push_str("\n[[packages]]\n");
            out.push_str(table.trim_end());
            out.push('\n');
        }
    }
    out
}

/// One group's step, on `state`: install, date, compile, date again.
fn group_step(
    ctx: &Ctx,
    py: &PythonStep,
    group: &Group,
    lock: &Locked,
    epoch: i64,
    prepare: &impl Fn(Exec) -> Exec,
) -> State {
    let (step, state, prelude) = (py.step, py.state, &py.prelude);
    let uv = crate::uv::binary();
    let settings = crate::uv::settings();
    let bytecode = crate::uv::bytecode();
    let (path, text, flags) = lock.group_file(group);
    let file = State::scratch().file(
        vec![FileAction::mkfile(format!("/{path}"), text, 0o644)],
        ctx.internal(&format!("lock of {}", group.name)),
    );
    let versions: Vec<String> = group.packages.iter().map(|p| format!("{}=={}", p.name, p.version)).collect();
    // Everything the install wrote is newer than the marker: the group's
    // files, and the directories it added to. They are dated twice:
    // before the .pyc files are written, whose headers carry the
    // source's date, and after, for the .pyc files and __pycache__.
    let script = format!(
        r#"{prelude}{settings}marker=/tmp/envd-layer-start
touch "$marker"
{uv} pip install {flags} --python "$py" -r {LOCK_DIR}/{path}
roots=$("$py" -c {INSTALL_ROOTS})
find $roots -xdev -newer "$marker" -path '*.dist-info/REQUESTED' -delete
find $roots -xdev -newer "$marker" -path '*.dist-info/RECORD' -exec sed -i '/\.dist-info\/REQUESTED,/d' {{}} +
find $roots -xdev -newer "$marker" -exec touch -h -d @{epoch} {{}} +
{bytecode}
find $roots -xdev -newer "$marker" -exec touch -h -d @{epoch} {{}} +
"#,
        INSTALL_ROOTS = quote(INSTALL_ROOTS),
    );
    let name = match versions.as_slice() {
        [one] => format!("{}: {one}", py.call),
        all => format!("{}: {} ({})", py.call, group.name, all.join(" ")),
    };
    let exec = ctx
        .script_with_reasons(state, &[step], &name, &script, py.reasons.clone())
        .mount(Mount::Bind { dest: LOCK_DIR.into(), source: file, selector: "/".into(), readonly: true })
        .mount(Mount::Tmpfs { dest: "/tmp".into(), size: 0 });
    prepare(exec).root()
}
