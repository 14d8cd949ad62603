//! The end-to-end harness: it makes sure dockerd, the registry, the base
//! images and the frontend image are there (through the same scripts as
//! `make demo`), then drives real `docker buildx` builds in throw-away
//! build contexts and looks at what came out.

mod mirror;
pub mod overlap;
pub use mirror::PypiMirror;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The frontend image the tests build with.
pub const FRONTEND: &str = "aiges/envd-frontend:latest";

/// A value of `scripts/bases.env`, where the base image names live.
pub fn bases_env(key: &str) -> String {
    let text = std::fs::read_to_string(repo().join("scripts/bases.env")).expect("scripts/bases.env");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{key} is not in scripts/bases.env"))
}

/// The local stand-in for the AIGES CPU base.
pub fn cpu_base() -> String {
    bases_env("BASE_CPU_IMAGE")
}

/// The local stand-in for the AIGES GPU base: the CPU one with
/// `CUDA_VERSION=11.6.2` in its config (no CUDA libraries).
pub fn gpu_base() -> String {
    bases_env("BASE_GPU_IMAGE")
}

/// The Ubuntu 18.04 stand-in (glibc 2.27, no python).
pub fn ubuntu_base() -> String {
    bases_env("BASE_UBUNTU_IMAGE")
}

/// The bases the tests build on.
fn bases() -> [String; 3] {
    [cpu_base(), gpu_base(), ubuntu_base()]
}

fn run_script(script: &str, args: &[&str], env: &[(&str, &str)]) {
    let status = Command::new("bash")
        .arg(repo().join("scripts").join(script))
        .args(args)
        .envs(env.iter().copied())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(status.success(), "{script} {args:?} failed");
}

/// The platforms of the frontend image most tests build with: this
/// machine's only. The arm64 half of the index is built where a test needs
/// it ([`frontend_index`]): its cross-compile is minutes of CPU.
pub const FRONTEND_PLATFORMS: &str = "linux/amd64";

/// Sets up everything once per test binary ([`set_up_engine`]).
fn ready() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(set_up_engine);
}

/// The engine as every test expects it: dockerd on the containerd store,
/// the registry, the bases (each with a cache record, [`cache_bases`]) and
/// the frontend image. Idempotent and quick when all is there; a test that
/// changed dockerd calls it to put it back.
pub fn set_up_engine() {
    run_script("setup.sh", &["all"], &[]);
    run_script("frontend-image.sh", &["--platforms", FRONTEND_PLATFORMS], &[]);
    cache_bases();
}

/// The frontend image as `make image` makes it, an index of linux/amd64
/// and linux/arm64, pushed to the local registry; its name there. Returns
/// with the engine shared, as [`ensure_env`] does.
///
/// Under a tag of its own, not [`FRONTEND`]: the tests beside it build
/// through that, and a build whose frontend image changed digest between
/// two builds would not be cached as they expect.
///
/// The arm64 binary is compiled first, without the engine: `make test`
/// compiles it beside the end-to-end lane, and cargo waits here for that
/// compile instead of repeating it; until it is done, the tests that
/// prune or restart the engine go on.
pub fn frontend_index() -> (RwLockReadGuard<'static, ()>, String) {
    static COMPILED: OnceLock<()> = OnceLock::new();
    static BUILT: OnceLock<()> = OnceLock::new();
    COMPILED.get_or_init(|| {
        ready();
        run_script("release-binaries.sh", &["--arm64", "--quiet"], &[]);
    });
    let engine = ensure_env();
    const TAG: &str = "aiges/envd-frontend:e2e-index";
    BUILT.get_or_init(|| {
        run_script("frontend-image.sh", &["--platforms", "linux/amd64,linux/arm64"], &[("ENVD_FRONTEND_IMAGE", TAG)])
    });
    (engine, format!("{}/{TAG}", bases_env("REGISTRY")))
}

/// The one engine every test builds on. Most tests only add to its cache
/// and build side by side (they hold it for reading); a test that prunes
/// the builder, restarts dockerd or counts what a shared cache mount
/// fetched holds it for writing, so that nothing builds beside it. All the
/// end-to-end tests are one binary, so this lock sees every one of them.
static ENGINE: RwLock<()> = RwLock::new(());

/// Sets up the engine (once) and shares it with the tests that run beside
/// this one. Hold the guard for the whole test.
#[must_use = "hold the guard for the whole test: `let _engine = ensure_env();`"]
pub fn ensure_env() -> RwLockReadGuard<'static, ()> {
    ready();
    ENGINE.read().unwrap_or_else(PoisonError::into_inner)
}

/// Sets up the engine (once) and waits until no other test builds on it:
/// for tests that prune the builder, restart dockerd, or count fetches
/// through a cache mount that a build beside them could also fill. Hold
/// the guard for the whole test; never call [`ensure_env`] while holding
/// it.
#[must_use = "hold the guard for the whole test: `let _alone = engine_alone();`"]
pub fn engine_alone() -> RwLockWriteGuard<'static, ()> {
    ready();
    ENGINE.write().unwrap_or_else(PoisonError::into_inner)
}

/// The result of a command, with its output as text.
#[derive(Debug)]
pub struct Run {
    /// Whether it exited 0.
    pub ok: bool,
    /// stdout.
    pub stdout: String,
    /// stderr (where buildx writes progress and errors).
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `docker` with `args`.
pub fn docker(args: &[&str]) -> Run {
    Command::new("docker").args(args).output().expect("docker runs").into()
}

/// Runs `docker` and insists that it succeeds.
pub fn docker_ok(args: &[&str]) -> String {
    let r = docker(args);
    assert!(r.ok, "docker {args:?} failed:\n{}\n{}", r.stdout, r.stderr);
    r.stdout
}

/// The image's config (`docker image inspect`'s `.Config`).
pub fn image_config(tag: &str) -> serde_json::Value {
    let out = docker_ok(&["image", "inspect", "--format", "{{json .Config}}", tag]);
    serde_json::from_str(&out).expect("inspect prints JSON")
}

/// A directory of the host's own for one test, removed when dropped, also
/// when the test fails, so that no run leaves files (some of them test
/// passwords) in the temporary directory: a build context ([`Context`]),
/// or what a test keeps outside every context (served files, secrets, a
/// git remote).
pub struct Scratch {
    dir: PathBuf,
    /// Unique among the scratch directories of this process.
    n: u32,
}

impl Scratch {
    /// `envd-e2e-{name}-{pid}-{n}` under the temporary directory, empty.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("envd-e2e-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch dir");
        Self { dir, n }
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throw-away build context directory.
pub struct Context {
    dir: Scratch,
    /// A tag unique to this context.
    pub tag: String,
    /// What [`Context::build_envd_pushed`] pushed: the docker driver keeps
    /// a local copy of each too, which is removed with the tag.
    pushed: std::sync::Mutex<Vec<String>>,
}

impl Context {
    /// A new empty context; `name` keeps tags and directories readable.
    pub fn new(name: &str) -> Self {
        let dir = Scratch::new(name);
        let tag = format!("envd-e2e/{name}:{}", dir.n);
        Self { dir, tag, pushed: Default::default() }
    }

    /// Writes a file (parents created).
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    /// Writes the test conda channel (see `envd_conda_fixture`) to `dir`,
    /// with `extra` packages besides the standard ones.
    pub fn channel(&self, dir: &str, extra: Vec<envd_conda_fixture::Package>) -> &Self {
        let mut packages = envd_conda_fixture::standard();
        packages.extend(extra);
        envd_conda_fixture::write_channel(&self.dir.join(dir), &packages).expect("write the fixture channel");
        self
    }

    /// [`Context::channel`] with this machine's CPython, pip and
    /// setuptools as conda packages (`envd_conda_fixture::with_python`).
    pub fn channel_with_python(&self, dir: &str, extra: Vec<envd_conda_fixture::Package>) -> &Self {
        let mut packages = envd_conda_fixture::with_python().expect("package this machine's python");
        packages.extend(extra);
        envd_conda_fixture::write_channel(&self.dir.join(dir), &packages).expect("write the fixture channel");
        self
    }

    /// [`Context::channel`] with [`envd_conda_fixture::archmark`]: a build
    /// of one package for each subdir, whose `share/archmark` says its
    /// architecture.
    pub fn archmark_channel(&self, dir: &str) -> &Self {
        self.channel(dir, envd_conda_fixture::archmark())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `docker buildx build --progress=plain -t <tag> <extra> <dir>`.
    pub fn build(&self, extra: &[&str]) -> Run {
        self.build_with_env(extra, &[])
    }

    /// [`Context::build`] with `env` set for buildx (for
    /// `--secret id=...,env=...`).
    ///
    /// A build the engine fails because it lost a base's snapshot
    /// ([`ENGINE_LOST_SNAPSHOT`], dockerd 28 on the containerd store) is the
    /// engine's failure, not the build's: the bases are unpacked again and
    /// the build runs once more, and the log says so. The [`Run`] then holds
    /// both attempts' progress (see [`BUILT_AGAIN`]).
    pub fn build_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        self.build_as(Some(&self.tag), extra, env)
    }

    /// Builds `build.envd` and pushes the image as `reference` (to the
    /// local registry), with no local tag.
    pub fn build_envd_pushed(&self, reference: &str, extra: &[&str]) -> Run {
        self.pushed.lock().unwrap_or_else(|e| e.into_inner()).push(reference.to_owned());
        let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
        let file = self.dir.join("build.envd").to_string_lossy().into_owned();
        let output = format!("type=image,name={reference},push=true,registry.insecure=true");
        let mut args = vec!["--build-arg", syntax.as_str(), "-f", file.as_str(), "--output", output.as_str()];
        args.extend_from_slice(extra);
        self.build_as(None, &args, &[])
    }

    /// `docker buildx build --progress=plain [-t tag] <extra> <dir>`, built
    /// again once if the engine lost a base snapshot.
    fn build_as(&self, tag: Option<&str>, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut args = vec!["buildx", "build", "--progress=plain"];
        if let Some(tag) = tag {
            args.extend(["-t", tag]);
        }
        args.extend_from_slice(extra);
        args.push(dir.as_str());
        let run = || -> Run {
            Command::new("docker").args(&args).envs(env.iter().copied()).output().expect("docker runs").into()
        };
        let first = run();
        if first.ok || !first.stderr.contains(ENGINE_LOST_SNAPSHOT) {
            return first;
        }
        eprintln!("e2e: the engine lost a base snapshot building {}; unpacking the bases and building again", self.tag);
        unpack_bases();
        let again = run();
        Run { stderr: format!("{}\n{BUILT_AGAIN}\n{}", first.stderr, again.stderr), ..again }
    }

    /// Builds `build.envd` with `BUILDKIT_SYNTAX` pointing at the frontend.
    pub fn build_envd(&self, extra: &[&str]) -> Run {
        self.build_envd_with_env(extra, &[])
    }

    /// [`Context::build_envd`] with `env` set for buildx.
    pub fn build_envd_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
        let file = self.dir.join("build.envd").to_string_lossy().into_owned();
        let mut args = vec!["--build-arg", syntax.as_str(), "-f", file.as_str()];
        args.extend_from_slice(extra);
        self.build_with_env(&args, env)
    }
}

impl Drop for Context {
    /// The directory goes with the field ([`Scratch`]).
    fn drop(&mut self) {
        let pushed = std::mem::take(self.pushed.get_mut().unwrap_or_else(|e| e.into_inner()));
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.tag]).args(&pushed).output();
    }
}

/// Writes the wheels of `specs` (`PLACE:NAME:VERSION[:REQUIRES]`) under
/// `root`, as PEP 503 pages of each place (`tests/servers/wheel_index.py`);
/// their sha256 by file name.
pub fn wheels(root: &Path, specs: &[&str]) -> std::collections::BTreeMap<String, String> {
    let out = Command::new("python3")
        .arg(repo().join("tests/servers/wheel_index.py"))
        .arg(root)
        .args(specs)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[3].to_owned(), f[4].to_owned())
        })
        .collect()
}

/// Whether a progress name is a part of a step rather than a step: the
/// resolve and the per-package installs of `install.python_packages` are
/// named `[i/n] install.python_packages: ...`.
pub fn is_substep(name: &str) -> bool {
    name.split_once("] ").is_some_and(|(_, rest)| {
        rest.split_once(':').is_some_and(|(call, _)| {
            !call.is_empty() && call.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        })
    })
}

/// The python sub-steps (see [`is_substep`]) buildx's plain progress
/// reports, each with whether it was CACHED.
pub fn substeps(progress: &str) -> Vec<(String, bool)> {
    vertices(progress).into_iter().filter(|(name, _)| is_substep(name)).collect()
}

/// The build steps buildx's plain progress reports (`#N [i/n] ...`), each
/// with whether it was CACHED; the parts of a step are left out.
pub fn steps(progress: &str) -> Vec<(String, bool)> {
    vertices(progress).into_iter().filter(|(name, _)| !is_substep(name)).collect()
}

/// Every `#N [...]` vertex buildx's plain progress reports but the
/// `[internal]` ones, with whether it was CACHED. A vertex CANCELED in a
/// build that succeeded did not run either: BuildKit found a later step
/// in the cache (a registry cache, say) and stopped checking this one.
///
/// A build run again after the engine lost a snapshot ([`BUILT_AGAIN`])
/// is one build: the vertices are the last attempt's, and one that an
/// earlier attempt ran (DONE, not CACHED) did not come from the cache,
/// although the last attempt found it there.
fn vertices(progress: &str) -> Vec<(String, bool)> {
    let mut attempts: Vec<Vec<(String, bool, bool)>> = progress.split(BUILT_AGAIN).map(attempt_vertices).collect();
    let last = attempts.pop().unwrap_or_default();
    last.into_iter()
        .map(|(name, cached, _)| {
            let ran_before = attempts.iter().flatten().any(|(n, c, done)| *n == name && *done && !c);
            (name, cached && !ran_before)
        })
        .collect()
}

/// The vertices of one build's progress: (name, CACHED or CANCELED, DONE).
fn attempt_vertices(progress: &str) -> Vec<(String, bool, bool)> {
    let mut names: Vec<(String, String)> = Vec::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((id, text)) = rest.split_once(' ') else {
            continue;
        };
        if text.starts_with('[') && !text.starts_with("[internal]") && !names.iter().any(|(i, _)| i == id) {
            names.push((id.to_owned(), text.to_owned()));
        }
    }
    names
        .into_iter()
        .map(|(id, name)| {
            let said = |what: &str| progress.lines().any(|l| l == format!("#{id} {what}"));
            let done = progress.lines().any(|l| l.starts_with(&format!("#{id} DONE")));
            (name, said("CACHED") || said("CANCELED"), done)
        })
        .collect()
}

/// Builds a build.envd whose `build()` is `base(<CPU stand-in>)` followed
/// by `body` (lines indented by four spaces, starting on line 3), expects
/// the build to fail, and returns buildx's stderr.
pub fn failing_build(name: &str, body: &str) -> String {
    let ctx = Context::new(name);
    ctx.write("build.envd", &format!("def build():\n    base(image=\"{}\")\n{body}", cpu_base()));
    let r = ctx.build_envd(&[]);
    assert!(!r.ok, "the build should fail:\n{}", r.stderr);
    r.stderr
}

/// `docker buildx bake --progress=plain -f <file>` from the repository root.
pub fn bake(file: &str) -> Run {
    bake_with(&[], file)
}

/// `docker buildx bake --progress=plain <extra> -f <file>` from the
/// repository root.
pub fn bake_with(extra: &[&str], file: &str) -> Run {
    Command::new("docker")
        .args(["buildx", "bake", "--progress=plain"])
        .args(extra)
        .args(["-f", file])
        .current_dir(repo())
        .output()
        .expect("docker runs")
        .into()
}

/// The docker bridge's gateway address: test servers listen there, and
/// build steps reach them with `--add-host <name>:host-gateway`.
pub fn bridge_gateway() -> String {
    docker_ok(&["network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}"]).trim().to_owned()
}

/// Runs `git` in `dir` as a test user, with `main` as the first branch.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `git daemon` serving the bare repositories under `root` on the
/// bridge's gateway, as `git://GATEWAY:PORT/NAME.git`.
///
/// `git-daemon` itself, from git's exec path, not `git daemon`: that runs
/// it as a child, which killing `git` leaves running after the test.
pub fn git_daemon(root: &Path) -> HostServer {
    let base = root.to_owned();
    let exec_path = Command::new("git").arg("--exec-path").output().expect("git runs");
    let daemon = PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    HostServer::start(root.join("git-daemon.log"), move |gateway, port| {
        let mut c = Command::new(daemon);
        c.args(["--export-all", "--reuseaddr", "--informative-errors"])
            .arg(format!("--base-path={}", base.display()))
            .arg(format!("--listen={gateway}"))
            .arg(format!("--port={port}"))
            .arg(&base);
        c
    })
}

/// A server process on the bridge's gateway address; stopped when dropped.
pub struct HostServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
    /// Where it logs the requests it served.
    pub log: PathBuf,
}

impl HostServer {
    /// Runs what `command` makes of (address, port) and waits until it
    /// listens.
    pub fn start(log: PathBuf, command: impl FnOnce(&str, u16) -> Command) -> Self {
        let gateway = bridge_gateway();
        let port = std::net::TcpListener::bind((gateway.as_str(), 0)).unwrap().local_addr().unwrap().port();
        let child = command(&gateway, port).spawn().expect("the test server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect((gateway.as_str(), port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { child, port, log }
    }

    /// Serves `dir` over plain HTTP (`tests/servers/files_http.py`); the
    /// log is the server's request lines.
    pub fn files(dir: &Path, log: PathBuf) -> Self {
        Self::files_with(dir, log, &[])
    }

    /// [`HostServer::files`], answering HEAD with 501 as a server that
    /// implements only GET does.
    pub fn files_without_head(dir: &Path, log: PathBuf) -> Self {
        Self::files_with(dir, log, &["no-head"])
    }

    fn files_with(dir: &Path, log: PathBuf, extra: &[&str]) -> Self {
        let stderr = std::fs::File::create(&log).expect("create the server log");
        let script = repo().join("tests/servers/files_http.py");
        Self::start(log, |gateway, port| {
            let mut c = Command::new("python3");
            c.arg(script).args([gateway, &port.to_string()]).arg(dir).args(extra).stderr(stderr);
            c
        })
    }

    /// Serves `dir` with the faults `faults` (JSON, see
    /// `tests/servers/fault_http.py`); the log is `<seconds> <what> <path>`
    /// lines.
    pub fn faulty(dir: &Path, log: PathBuf, faults: &str) -> Self {
        std::fs::write(&log, "").expect("create the server log");
        let script = repo().join("tests/servers/fault_http.py");
        let (log_arg, faults) = (log.clone(), faults.to_owned());
        Self::start(log, move |gateway, port| {
            let mut c = Command::new("python3");
            c.arg(script).args([gateway, &port.to_string()]).arg(dir).arg(log_arg).arg(faults);
            c
        })
    }

    /// Serves `dir` only to requests with HTTP basic auth `user:password`
    /// (`tests/servers/auth_http.py`); the log is `<status> <path>` lines.
    pub fn basic_auth(dir: &Path, user: &str, password: &str, log: PathBuf) -> Self {
        std::fs::write(&log, "").expect("create the server log");
        let script = repo().join("tests/servers/auth_http.py");
        let log_arg = log.clone();
        Self::start(log, move |gateway, port| {
            let mut c = Command::new("python3");
            c.arg(script).args([gateway, &port.to_string()]).arg(dir).args([user, password]).arg(log_arg);
            c
        })
    }

    /// What it logged.
    pub fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HostServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where image `tag` holds `needle`: every file of every layer of
/// `docker save` (gzip layers decompressed), the image config and
/// manifests, `docker history --no-trunc` and `docker inspect`. Empty when
/// nowhere.
pub fn image_leaks(tag: &str, needle: &str) -> Vec<String> {
    // One file per call: tests of a binary run in parallel.
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let saved = std::env::temp_dir().join(format!("envd-e2e-save-{}-{n}.tar", std::process::id()));
    docker_ok(&["save", "-o", &saved.to_string_lossy(), tag]);
    // Each blob of the saved archive, decompressed when it is gzip, and
    // each file inside a blob that is a layer tar.
    let scan = r#"
import gzip, io, sys, tarfile
needle = sys.argv[2].encode()
def walk(name, data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for m in t.getmembers():
                f = t.extractfile(m) if m.isfile() else None
                if f is not None:
                    walk(name + ":" + m.name, f.read())
                elif needle in (m.name + m.linkname).encode():
                    print(name + ":" + m.name)
            return
    except tarfile.TarError:
        pass
    if needle in data:
        print(name)
with open(sys.argv[1], "rb") as f:
    walk("save", f.read())
"#;
    let out = Command::new("python3").args(["-c", scan]).arg(&saved).arg(needle).output().expect("python3 runs");
    let _ = std::fs::remove_file(&saved);
    assert!(out.status.success(), "the layer scan failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    for (what, args) in [("history", vec!["history", "--no-trunc", tag]), ("inspect", vec!["inspect", tag])] {
        if docker_ok(&args).contains(needle) {
            found.push(what.to_owned());
        }
    }
    found
}

/// `docker buildx prune -af`, then the stand-in bases unpacked again.
///
/// On this dockerd (28.5, containerd store) a prune can remove the
/// snapshots of an image's lower layers while the image stays, and the
/// next build that unpacks it fails with "parent snapshot ... does not
/// exist" (seen twice in `make bench`, right after a prune). Running each
/// base once unpacks it again; what the builder caches is still gone.
pub fn prune_builder() {
    docker_ok(&["buildx", "prune", "-af"]);
    unpack_bases();
    cache_bases();
}

/// Starts each base once, so that its snapshots are unpacked again: after
/// a prune, dockerd 28 on the containerd store may have collected them
/// while the image still names them, and an export then fails with
/// "failed to prepare extraction snapshot … parent snapshot … does not
/// exist" ([`ENGINE_LOST_SNAPSHOT`]).
pub fn unpack_bases() {
    for base in bases() {
        docker_ok(&["run", "--rm", "--entrypoint", "/bin/true", &base]);
    }
}

/// Builds each base alone (`FROM` it, cache only), so that the builder
/// holds a cache record of it before tests build on it side by side. Call
/// it with nothing else building: on a fresh engine ([`ready`]) and after
/// a prune.
///
/// BuildKit before v0.32, dockerd 28.5's built-in one included, runs a
/// cached step again when its base is shared with a build beside it
/// (moby/buildkit pull 6954, fixed by commit 12d4b63 "solver: advertise
/// committed cache keys after exec"). A base that a build *executed*,
/// because the builder had no record of it, gives the builds that share
/// it no cache key for as long as any build holds it, so the step on top
/// finds no match. With three test threads some build nearly always holds
/// the CPU base, and after a prune a second identical build ran its step
/// again (CI: `skeleton::a_second_identical_build_is_all_cached`).
/// Reproduced here with a base never built before: a long build on it,
/// and beside it the same short build twice; the second ran its step every
/// time, and was cached once the base had been built alone first (a base
/// loaded from its record carries its key). Steps that tests share (an
/// apt step, the frontend's helper files) can be held the same way, so a
/// test that counts what a rebuild runs builds alone or shares nothing
/// but a base.
pub fn cache_bases() {
    let builds: Vec<(String, std::process::Child)> = bases()
        .into_iter()
        .map(|base| {
            let mut child = Command::new("docker")
                .args(["buildx", "build", "--progress=plain", "--output", "type=cacheonly", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("docker runs");
            let mut stdin = child.stdin.take().expect("piped stdin");
            std::io::Write::write_all(&mut stdin, format!("FROM {base}\n").as_bytes()).expect("a Dockerfile on stdin");
            (base, child)
        })
        .collect();
    for (base, child) in builds {
        let out = child.wait_with_output().expect("docker runs");
        assert!(out.status.success(), "building {base} alone failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The layers of the image `reference` in the registry, (digest, size),
/// from its manifest (the amd64 one of an index).
pub fn image_layers(reference: &str) -> Vec<(String, u64)> {
    let raw = docker_ok(&["buildx", "imagetools", "inspect", "--raw", reference]);
    let mut manifest: serde_json::Value = serde_json::from_str(&raw).expect("a manifest");
    if let Some(list) = manifest["manifests"].as_array() {
        let digest = list
            .iter()
            .find(|m| m["platform"]["architecture"] == "amd64")
            .and_then(|m| m["digest"].as_str())
            .expect("an amd64 manifest")
            .to_owned();
        let repo = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
        let raw = docker_ok(&["buildx", "imagetools", "inspect", "--raw", &format!("{repo}@{digest}")]);
        manifest = serde_json::from_str(&raw).expect("a manifest");
    }
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| (l["digest"].as_str().unwrap_or_default().to_owned(), l["size"].as_u64().unwrap_or(0)))
        .collect()
}

/// What the engine says when it lost a snapshot that [`unpack_bases`]
/// brings back.
pub const ENGINE_LOST_SNAPSHOT: &str = "failed to prepare extraction snapshot";

/// The line between a build's two attempts in [`Run::stderr`] when the
/// engine lost a snapshot the first time ([`Context::build`]).
pub const BUILT_AGAIN: &str = "e2e: the engine lost a snapshot in the build above; it ran again:";

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: &str = "#1 [internal] load build definition\n#1 DONE 0.0s\n\n#5 [1/3] base x\n#5 DONE 0.1s\n\n#6 [2/3] install.system_packages hello\n#6 CACHED\n\n#7 [3/3] run echo one\n#7 0.2 one\n#7 DONE 0.3s\n\n#8 exporting to image\n#8 ERROR: failed to prepare extraction snapshot\n";
    const SECOND: &str = "#1 [internal] load build definition\n#1 DONE 0.0s\n\n#4 [1/3] base x\n#4 DONE 0.1s\n\n#5 [2/3] install.system_packages hello\n#5 CACHED\n\n#6 [3/3] run echo one\n#6 CACHED\n\n#7 exporting to image\n#7 DONE 1.0s\n";

    #[test]
    fn a_step_is_cached_when_progress_says_so() {
        assert_eq!(
            steps(SECOND),
            [
                ("[1/3] base x".to_owned(), false),
                ("[2/3] install.system_packages hello".to_owned(), true),
                ("[3/3] run echo one".to_owned(), true)
            ]
        );
    }

    #[test]
    fn a_step_that_ran_before_the_engine_lost_a_snapshot_is_not_cached() {
        let both = format!("{FIRST}\n{BUILT_AGAIN}\n{SECOND}");
        assert_eq!(
            steps(&both),
            [
                ("[1/3] base x".to_owned(), false),
                ("[2/3] install.system_packages hello".to_owned(), true),
                ("[3/3] run echo one".to_owned(), false)
            ]
        );
    }
}
