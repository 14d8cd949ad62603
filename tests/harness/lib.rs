//! The end-to-end harness: it makes sure dockerd, the registry, the base
//! images and the frontend image are there (through the same scripts as
//! `make demo`), then drives real `docker buildx` builds in throw-away
//! build contexts and looks at what came out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

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

/// The Ubuntu 18.04 stand-in (glibc 2.27, no python).
pub fn ubuntu_base() -> String {
    bases_env("BASE_UBUNTU_IMAGE")
}

fn run_script(script: &str, args: &[&str]) {
    let status = Command::new("bash")
        .arg(repo().join("scripts").join(script))
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(status.success(), "{script} {args:?} failed");
}

/// Sets up everything once per test binary: engine, registry, bases and
/// the frontend image. Idempotent and quick when all is there.
pub fn ensure_env() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        run_script("setup.sh", &["all"]);
        run_script("frontend-image.sh", &[]);
    });
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

/// A throw-away build context directory.
pub struct Context {
    dir: PathBuf,
    /// A tag unique to this context.
    pub tag: String,
}

impl Context {
    /// A new empty context; `name` keeps tags and directories readable.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("envd-e2e-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create context dir");
        Self { dir, tag: format!("envd-e2e/{name}:{n}") }
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

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `docker buildx build --progress=plain -t <tag> <extra> <dir>`.
    pub fn build(&self, extra: &[&str]) -> Run {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut args = vec!["buildx", "build", "--progress=plain", "-t", self.tag.as_str()];
        args.extend_from_slice(extra);
        args.push(dir.as_str());
        docker(&args)
    }

    /// Builds `build.envd` with `BUILDKIT_SYNTAX` pointing at the frontend.
    pub fn build_envd(&self, extra: &[&str]) -> Run {
        let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
        let file = self.dir.join("build.envd").to_string_lossy().into_owned();
        let mut args = vec!["--build-arg", syntax.as_str(), "-f", file.as_str()];
        args.extend_from_slice(extra);
        self.build(&args)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.tag]).output();
    }
}

/// The build steps buildx's plain progress reports (`#N [i/n] ...`), each
/// with whether it was CACHED.
pub fn steps(progress: &str) -> Vec<(String, bool)> {
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
            let cached = progress.lines().any(|l| l == format!("#{id} CACHED"));
            (name, cached)
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
