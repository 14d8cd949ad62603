//! `envd-bench`: the figures of BENCHMARKS.md, measured in one run on one
//! dockerd (`make bench`).
//!
//! The same AIGES-style service (CPU base, apt, pip requirements, wrapper
//! code, a `run` step) is built as build.envd through this frontend (A)
//! and as the Dockerfile a competent user writes, cache mounts included,
//! through BuildKit's built-in Dockerfile frontend (B), alternating A B A B.
//! Then: conda in a build (300 packages; solved and from a lock file),
//! cold and warm; python packages with uv beside pip (`python.rs`); the
//! frontend image's size, with and without uv; the
//! frontend's peak memory on a 1,000-step file; and the criterion medians
//! `cargo bench` left in `target/criterion`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use envd_e2e::{cpu_base, docker, engine_alone, repo, Context, FRONTEND};

mod layers;
mod noop;
mod parallel;
mod python;

/// Runs of each figure (`ENVD_BENCH_RUNS`, default 5).
fn runs() -> usize {
    std::env::var("ENVD_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5)
}

/// One build's figures.
struct Build {
    /// Wall time of the `docker buildx build` command, in seconds.
    wall: f64,
    /// From the first vertex's start to the first build step's start (`[1/`):
    /// everything the frontend does before the build proper.
    to_first_step: f64,
    /// The frontend's own time: from its first request (the vertex that
    /// loads the build definition) to the first build step's start, which
    /// follows its final Solve.
    frontend_own: f64,
    /// Durations of vertices by name prefix, from rawjson progress.
    progress: Vec<(String, f64)>,
    /// Every vertex: its name, and when it started and completed, in
    /// seconds after the first vertex started.
    timeline: Vec<(String, f64, f64)>,
}

fn timestamp(v: &serde_json::Value) -> Option<f64> {
    let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
    Some(t.as_nanosecond() as f64 / 1e9)
}

/// Builds `ctx` with `--progress=rawjson` and reads its timings.
fn build(ctx: &Context, args: &[&str]) -> Build {
    let dir = ctx.dir().to_string_lossy().into_owned();
    let mut all = vec!["buildx", "build", "--progress=rawjson"];
    // an --output names the image itself (a push to the local registry)
    if !args.contains(&"--output") {
        all.extend(["-t", ctx.tag.as_str()]);
    }
    all.extend_from_slice(args);
    all.push(&dir);
    let cold = PRUNED.swap(false, std::sync::atomic::Ordering::SeqCst);
    let mut start = Instant::now();
    let mut r = docker(&all);
    if !r.ok && r.stderr.contains(envd_e2e::ENGINE_LOST_SNAPSHOT) {
        // the engine's, not the build's: measured again from the same
        // state (pruned again for a cold build), and said in the log
        eprintln!("bench: the engine lost a base snapshot; building {} again", ctx.tag);
        if cold {
            envd_e2e::prune_builder();
        } else {
            envd_e2e::unpack_bases();
        }
        start = Instant::now();
        r = docker(&all);
    }
    let wall = start.elapsed().as_secs_f64();
    assert!(r.ok, "build failed:\n{}", r.stderr);
    let mut vertices: std::collections::BTreeMap<String, (String, Option<f64>, Option<f64>)> = Default::default();
    for line in r.stderr.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        for vx in v["vertexes"].as_array().into_iter().flatten() {
            let e = vertices.entry(vx["digest"].as_str().unwrap_or_default().to_owned()).or_default();
            e.0 = vx["name"].as_str().unwrap_or_default().to_owned();
            if let Some(s) = timestamp(&vx["started"]) {
                e.1 = Some(e.1.map_or(s, |old: f64| old.min(s)));
            }
            if let Some(c) = timestamp(&vx["completed"]) {
                e.2 = Some(e.2.map_or(c, |old: f64| old.max(c)));
            }
        }
    }
    let first = vertices.values().filter_map(|v| v.1).fold(f64::INFINITY, f64::min);
    // `[1/5] base ...` here, `[stage-0 1/5] FROM ...` from the Dockerfile frontend
    let first_step = |name: &str| name.starts_with("[1/") || name.starts_with("[stage-0 1/");
    let step = vertices.values().filter(|v| first_step(&v.0)).filter_map(|v| v.1).fold(f64::INFINITY, f64::min);
    let load = vertices
        .values()
        .filter(|v| v.0.starts_with("[internal] load build definition"))
        .filter_map(|v| v.1)
        .fold(f64::INFINITY, f64::min);
    let progress = vertices.values().filter_map(|(n, s, c)| Some((n.clone(), c.as_ref()? - s.as_ref()?))).collect();
    let mut timeline: Vec<(String, f64, f64)> =
        vertices.values().filter_map(|(n, s, c)| Some((n.clone(), s.as_ref()? - first, c.as_ref()? - first))).collect();
    timeline.sort_by(|x, y| x.1.total_cmp(&y.1));
    let since = |t: f64| if step.is_finite() && t.is_finite() { step - t } else { f64::NAN };
    Build { wall, to_first_step: since(first), frontend_own: since(load), progress, timeline }
}

/// Wall time of `docker buildx build --call check` on the seed example.
fn call_check_seed() -> f64 {
    let seed = repo().join("examples/seed");
    let file = seed.join("build.envd").display().to_string();
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let dir = seed.display().to_string();
    let start = Instant::now();
    let r = docker(&["buildx", "build", "--call", "check", "--build-arg", &syntax, "-f", &file, &dir]);
    let wall = start.elapsed().as_secs_f64();
    assert!(r.stdout.contains("Check complete"), "--call check did not answer:\n{}\n{}", r.stdout, r.stderr);
    wall
}

/// Set by [`prune`], cleared by [`build`]: the next build is a cold one.
static PRUNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn prune() {
    envd_e2e::prune_builder();
    PRUNED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// median, min, max
fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (median, v[0], v[n - 1])
}

fn service(ctx: &Context, dockerfile: bool) {
    ctx.write("requirements.txt", "six==1.16.0\n")
        .write("wrapper/__init__.py", "VERSION = 0\n")
        .write("wrapper/__main__.py", "import six\nprint('serving', six.__version__)\n");
    if dockerfile {
        ctx.write(
            "Dockerfile",
            &format!(
                r#"FROM {base}
RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends hello
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    python3 -m pip install -r /tmp/requirements.txt
COPY wrapper /home/aiges/wrapper
RUN echo built > /home/aiges/built.txt
"#,
                base = cpu_base()
            ),
        );
    } else {
        ctx.write(
            "build.envd",
            &format!(
                r#"def build():
    base(image="{base}")
    install.system_packages(name=["hello"])
    install.python_packages(requirements="requirements.txt")
    io.copy(src="wrapper", dest="/home/aiges/wrapper")
    run(commands=["echo built > /home/aiges/built.txt"])
"#,
                base = cpu_base()
            ),
        );
    }
}

struct Path2 {
    ctx: Context,
    args: Vec<String>,
}

impl Path2 {
    fn build(&self) -> Build {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        build(&self.ctx, &args)
    }
}

#[derive(Default)]
struct Figure {
    a: Vec<f64>,
    b: Vec<f64>,
}

fn row(out: &mut String, name: &str, f: &Figure, unit: &str) {
    let (am, amin, amax) = stats(&f.a);
    let (bm, bmin, bmax) = stats(&f.b);
    let _ = writeln!(
        out,
        "| {name} | {} | {am:.2} {unit} ({amin:.2}–{amax:.2}) | {bm:.2} {unit} ({bmin:.2}–{bmax:.2}) | {:.2}× |",
        f.a.len(),
        am / bm
    );
}

/// Writes BENCHMARKS.md with what has been measured so far.
fn written(md: &str) {
    std::fs::write(repo().join("BENCHMARKS.md"), md).expect("write BENCHMARKS.md");
}

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().expect("sh runs");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// The criterion medians under `target/criterion`, by benchmark id, in ns.
fn criterion_medians(root: &Path) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.ends_with("new/benchmark.json") {
                let read = |f: &str| -> Option<serde_json::Value> {
                    serde_json::from_str(&std::fs::read_to_string(p.parent()?.join(f)).ok()?).ok()
                };
                if let (Some(b), Some(e)) = (read("benchmark.json"), read("estimates.json")) {
                    if let (Some(id), Some(m)) = (b["full_id"].as_str(), e["median"]["point_estimate"].as_f64()) {
                        out.push((id.to_owned(), m));
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// Filler packages in the conda benchmark's environment, besides the eight
/// of the standard fixture (python, pip, setuptools, app, tool, zlib,
/// libzlib, pyfixture): 300 in all.
const FILLER: usize = 292;

/// The conda benchmark: one context, its channel served over HTTP.
struct CondaBench {
    ctx: Context,
    server: envd_e2e::HostServer,
    /// The environment's size, from the first solve.
    packages: usize,
}

impl CondaBench {
    const ENV: &'static str = "dependencies:\n  - app\n  - pyfixture\n  - fill-000\n";

    fn new() -> Self {
        let ctx = Context::new("bench-conda");
        ctx.channel_with_python("channel", envd_conda_fixture::filler(FILLER));
        let server = envd_e2e::HostServer::files(&ctx.dir().join("channel"), ctx.dir().join("http.log"));
        let mut bench = Self { ctx, server, packages: 0 };
        bench.solve(false);
        let meta = envd_e2e::docker_ok(&["run", "--rm", "--entrypoint", "ls", &bench.ctx.tag, "/opt/conda/conda-meta"]);
        bench.packages = meta.lines().filter(|l| l.ends_with(".json")).count();
        assert_eq!(bench.packages, FILLER + 8, "{meta}");
        // the lock file of that environment, in the channel's URLs
        let mut lines = vec!["# platform: linux-64".to_owned(), "@EXPLICIT".to_owned()];
        for record in meta.lines().filter_map(|l| l.strip_suffix(".json")) {
            lines.push(bench.archive_line(record));
        }
        bench.ctx.write("spec.txt", &(lines.join("\n") + "\n"));
        bench
    }

    /// `URL#sha256:HEX` of the channel's archive of `record` (`name-version-build`).
    fn archive_line(&self, record: &str) -> String {
        for subdir in ["linux-64", "noarch"] {
            let path = self.ctx.dir().join("channel").join(subdir).join("repodata.json");
            let repodata: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            for key in ["packages", "packages.conda"] {
                for (file, r) in repodata[key].as_object().unwrap() {
                    if file.strip_suffix(".conda").or_else(|| file.strip_suffix(".tar.bz2")) == Some(record) {
                        let (url, sha) = (self.url(), r["sha256"].as_str().unwrap());
                        return format!("{url}/{subdir}/{file}#sha256:{sha}");
                    }
                }
            }
        }
        panic!("{record} is not in the channel")
    }

    fn url(&self) -> String {
        format!("http://conda.test:{}", self.server.port)
    }

    fn step(&self, env_file: &str) -> f64 {
        let file = self.ctx.dir().join("build.envd");
        self.ctx.write(
            "build.envd",
            &format!(
                "def build():\n    config.conda_channel(channel=\"channels: [{}]\")\n    base(image=\"{}\")\n    install.conda_packages(env_file=\"{env_file}\")\n",
                self.url(),
                cpu_base()
            ),
        );
        let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
        let file = file.display().to_string();
        let b = build(&self.ctx, &["--build-arg", &syntax, "-f", &file, "--add-host", "conda.test:host-gateway"]);
        b.progress.iter().find(|(name, _)| name.contains("install.conda_packages")).map(|x| x.1).unwrap_or(f64::NAN)
    }

    /// The env.yaml build, python pinned to the fixture's minor version.
    fn solve(&self, warm: bool) -> f64 {
        let env = format!("{}  - python={}\n", Self::ENV, envd_conda_fixture::machine_python().unwrap().minor);
        // one more spec the environment already has: the step runs again
        // (--no-cache would not do: BuildKit starts cache mounts empty under it)
        let env = if warm { format!("{env}  - fill-{:03}\n", FILLER - 1) } else { env };
        self.ctx.write("env.yaml", &env);
        self.step("env.yaml")
    }

    /// The lock file build; warm reverses its archive lines.
    fn locked(&self, warm: bool) -> f64 {
        let text = std::fs::read_to_string(self.ctx.dir().join("spec.txt")).unwrap();
        let (head, archives) = text.split_once("@EXPLICIT\n").unwrap();
        let mut lines: Vec<&str> = archives.lines().collect();
        if warm {
            lines.reverse();
        }
        self.ctx.write("spec-run.txt", &format!("{head}@EXPLICIT\n{}\n", lines.join("\n")));
        self.step("spec-run.txt")
    }
}

/// The heading of the ML-scale section, which `ENVD_BENCH_ONLY=layers`
/// measures again and puts in place in BENCHMARKS.md.
const LAYERS_HEADING: &str = "## Python packages in layers, at ML scale";

/// Runs of each ML-scale figure (`ENVD_BENCH_ML_RUNS`, default 3).
fn ml_runs() -> usize {
    std::env::var("ENVD_BENCH_ML_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// `section` in place of the one under `heading` in BENCHMARKS.md, or
/// at its end when it has none.
fn replace_section(heading: &str, section: &str) {
    let path = repo().join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).expect("BENCHMARKS.md from an earlier `make bench`");
    let Some(start) = old.find(heading) else {
        return written(&format!("{}\n\n{}\n", old.trim_end(), section.trim()));
    };
    let end = old[start + heading.len()..].find("\n## ").map_or(old.len(), |i| start + heading.len() + i + 1);
    written(&format!("{}{}\n\n{}", &old[..start], section.trim(), &old[end..]));
}

/// `ENVD_BENCH_ONLY=layers,parallel` (either or both): only those
/// sections, each written over its own in BENCHMARKS.md.
fn only(sections: &str) {
    for name in sections.split(',').map(str::trim) {
        let mut section = String::new();
        match name {
            "layers" => {
                layers::run(&mut section, ml_runs());
                replace_section(LAYERS_HEADING, &section);
            }
            "parallel" => {
                parallel::run(&mut section, runs());
                replace_section(parallel::HEADING, &section);
            }
            other => panic!("ENVD_BENCH_ONLY: no section {other:?} (layers, parallel)"),
        }
    }
}

fn main() {
    let _alone = engine_alone();
    if let Ok(sections) = std::env::var("ENVD_BENCH_ONLY") {
        return only(&sections);
    }
    let n = runs();
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n\nWritten by `make bench` on {}. Regenerate with `make bench` (`ENVD_BENCH_RUNS` runs of each figure, default 5).\n", sh("date -u +%Y-%m-%d"));
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "- CPU: {} cores, {}", sh("nproc"), sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"));
    let _ = writeln!(md, "- Memory: {}", sh("free -h | awk '/Mem:/ {print $2}'"));
    let _ = writeln!(md, "- Kernel: {}", sh("uname -r"));
    let _ = writeln!(md, "- dockerd: {}", sh("docker version -f '{{.Server.Version}}'"));
    let _ = writeln!(md, "- buildx: {}", sh("docker buildx version"));
    let _ = writeln!(
        md,
        "- BuildKit: the one built into that dockerd (docker driver); `buildx inspect` reports `{}`",
        sh("docker buildx inspect | awk -F': *' '/BuildKit version/ {print $2}'")
    );
    let _ = writeln!(md, "- Image store: {}", sh("docker info -f '{{json .DriverStatus}}'"));
    let _ = writeln!(md);

    // --- A/B: build.envd through the frontend vs the Dockerfile path ---
    let a = Path2 {
        ctx: Context::new("bench-envd"),
        args: vec!["--build-arg".into(), format!("BUILDKIT_SYNTAX={FRONTEND}"), "-f".into(), String::new()],
    };
    let mut a = a;
    a.args[3] = a.ctx.dir().join("build.envd").display().to_string();
    service(&a.ctx, false);
    let b = Path2 { ctx: Context::new("bench-dockerfile"), args: vec![] };
    service(&b.ctx, true);
    let paths = [&a, &b];

    let mut cold = Figure::default();
    let mut noop = Figure::default();
    let mut code = Figure::default();
    let mut reqs = Figure::default();
    let mut front = Figure::default();
    let mut own = Figure::default();
    let mut check = Figure::default();
    for i in 0..n {
        for (k, p) in paths.iter().enumerate() {
            prune();
            let t = p.build().wall;
            if k == 0 {
                cold.a.push(t)
            } else {
                cold.b.push(t)
            }
        }
        eprintln!("envd-bench: cold {}/{n}", i + 1);
    }
    for p in paths {
        p.build();
    }
    for i in 0..n {
        for (k, p) in paths.iter().enumerate() {
            let r = p.build();
            if k == 0 {
                noop.a.push(r.wall);
                front.a.push(r.to_first_step);
                own.a.push(r.frontend_own);
            } else {
                noop.b.push(r.wall);
                front.b.push(r.to_first_step);
                own.b.push(r.frontend_own);
            }
        }
        check.a.push(call_check_seed());
        check.b.push(a.build().wall);
        eprintln!("envd-bench: no-op {}/{n}", i + 1);
    }
    for i in 0..n {
        for (k, p) in paths.iter().enumerate() {
            p.ctx.write("wrapper/__init__.py", &format!("VERSION = {}\n", i + 1));
            let t = p.build().wall;
            if k == 0 {
                code.a.push(t)
            } else {
                code.b.push(t)
            }
        }
        eprintln!("envd-bench: code edit {}/{n}", i + 1);
    }
    // A package neither path has built with before, each run: adding one
    // that an earlier run added would be a cache hit, not a rebuild.
    const ADDED: &[&str] = &[
        "idna==3.7",
        "certifi==2024.7.4",
        "urllib3==2.2.2",
        "packaging==24.1",
        "attrs==23.2.0",
        "charset-normalizer==3.3.2",
        "pyparsing==3.1.2",
        "wcwidth==0.2.13",
        "toml==0.10.2",
        "zipp==3.19.2",
    ];
    assert!(n <= ADDED.len(), "ENVD_BENCH_RUNS may be at most {}", ADDED.len());
    for (i, added) in ADDED.iter().take(n).enumerate() {
        for (k, p) in paths.iter().enumerate() {
            p.ctx.write("requirements.txt", &format!("six==1.16.0\n{added}\n"));
            let t = p.build().wall;
            if k == 0 {
                reqs.a.push(t)
            } else {
                reqs.b.push(t)
            }
            // back to the first requirements, unmeasured (a cache hit)
            p.ctx.write("requirements.txt", "six==1.16.0\n");
            p.build();
        }
        eprintln!("envd-bench: requirements {}/{n}", i + 1);
    }
    let _ = writeln!(md, "## build.envd (A) beside the Dockerfile path (B)\n");
    let _ = writeln!(md, "The same service — the CPU base stand-in, `apt-get install hello`, `pip install -r requirements.txt` (six), wrapper code copied to `/home/aiges`, one `run` step — as build.envd through `aiges/envd-frontend` (`BUILDKIT_SYNTAX`) and as a Dockerfile with `RUN --mount=type=cache` for apt and pip through the built-in Dockerfile frontend (the Dockerfile is in `tests/bench/main.rs`). Both on the same dockerd, alternating A B A B; wall time of `docker buildx build`, seconds, median (min–max).\n");
    let _ = writeln!(md, "| figure | runs | A: build.envd | B: Dockerfile | A/B |\n| --- | --- | --- | --- | --- |");
    row(&mut md, "cold build (`buildx prune -af` first)", &cold, "s");
    row(&mut md, "no-op rebuild", &noop, "s");
    row(&mut md, "rebuild after editing one wrapper file", &code, "s");
    row(&mut md, "rebuild after adding a package to requirements.txt (a different one each run)", &reqs, "s");
    row(&mut md, "frontend time: first vertex started → first build step started (no-op rebuild)", &front, "s");
    row(
        &mut md,
        "frontend's own time: `[internal] load build definition` started → first build step started (no-op rebuild)",
        &own,
        "s",
    );
    let _ = writeln!(md, "\n`docker buildx build --call check` of `examples/seed` (build.envd, env.yaml and build.txt; it has findings, so buildx exits 1), alternating with a no-op rebuild of A:\n");
    let _ = writeln!(
        md,
        "| figure | runs | `--call check` (seed) | no-op rebuild (A) | ratio |\n| --- | --- | --- | --- | --- |"
    );
    row(&mut md, "wall time of `docker buildx build`", &check, "s");
    let _ = writeln!(md, "\nThe frontend time is taken from `--progress=rawjson`: for A it covers resolving the frontend image, starting its container, reading build.envd and .dockerignore, evaluating, resolving the base and lowering; for B, loading the Dockerfile and resolving the base. The frontend's own time starts at its first request to BuildKit, so it leaves out resolving and starting the frontend image.\n");
    noop::run(&mut md, n, &a);
    // What is measured so far, in case a later section fails.
    written(&md);
    if let Ok(before) = std::env::var("ENVD_BENCH_BEFORE_IMAGE") {
        // The same no-op rebuild through another frontend image (an
        // earlier commit's), alternating with this one.
        let syntax = |image: &str| {
            vec!["--build-arg".to_owned(), format!("BUILDKIT_SYNTAX={image}"), "-f".to_owned(), a.args[3].clone()]
        };
        let then = Path2 { ctx: Context::new("bench-before"), args: Vec::new() };
        service(&then.ctx, false);
        let then = Path2 {
            args: {
                let mut v = syntax(&before);
                v[3] = then.ctx.dir().join("build.envd").display().to_string();
                v
            },
            ..then
        };
        then.build();
        let mut cmp = Figure::default();
        for _ in 0..n {
            cmp.a.push(a.build().frontend_own);
            cmp.b.push(then.build().frontend_own);
        }
        let _ = writeln!(
            md,
            "The frontend's own time against `{before}` (`ENVD_BENCH_BEFORE_IMAGE`), no-op rebuilds alternating:\n"
        );
        let _ = writeln!(md, "| figure | runs | this frontend | `{before}` | ratio |\n| --- | --- | --- | --- | --- |");
        row(&mut md, "frontend's own time (no-op rebuild)", &cmp, "s");
        let _ = writeln!(md);
    }

    // --- conda in a build ---
    let conda = CondaBench::new();
    let mut solve_cold = Vec::new();
    let mut solve_warm = Vec::new();
    let mut lock_cold = Vec::new();
    let mut lock_warm = Vec::new();
    for i in 0..n {
        prune();
        solve_cold.push(conda.solve(false));
        solve_warm.push(conda.solve(true));
        prune();
        lock_cold.push(conda.locked(false));
        lock_warm.push(conda.locked(true));
        eprintln!("envd-bench: conda {}/{n}", i + 1);
    }
    let _ = writeln!(md, "## conda in a build\n");
    let _ = writeln!(md, "A generated channel served over HTTP from the host, and an environment of {} packages from it: this machine's CPython with pip and setuptools (as conda packages), `app`, `pyfixture` and their dependencies, and a chain of {FILLER} filler packages of a few kilobytes each. Duration of the `install.conda_packages` step, from rawjson, seconds. *Solve*: an env.yaml; repodata, solve, fetch, link, `.pyc` compilation. *Lock file*: the same environment as a `conda list --explicit` file; fetch and link with no repodata and no solve. *Warm*: the step runs again with every archive in the cache mount (the env.yaml with one more spec the environment already has; the lock file with its lines in reverse order).\n", conda.packages);
    let _ = writeln!(md, "| figure | runs | median | min | max |\n| --- | --- | --- | --- | --- |");
    for (name, xs) in [
        ("solve, cold: caches pruned", &solve_cold),
        ("solve, warm", &solve_warm),
        ("lock file, cold: caches pruned", &lock_cold),
        ("lock file, warm", &lock_warm),
    ] {
        let (m, min, max) = stats(xs);
        let _ = writeln!(md, "| {name} | {n} | {m:.2} | {min:.2} | {max:.2} |");
    }
    let _ = writeln!(md, "\nTarget: a warm install under 3 s in a build.\n");

    python::run(&mut md, n);
    written(&md);
    layers::run(&mut md, ml_runs());
    written(&md);
    parallel::run(&mut md, n);
    written(&md);

    // --- size and memory ---
    let binary = repo().join("target/x86_64-unknown-linux-gnu/release/envd-frontend");
    let binary_size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    // uncompressed: the image's file system as a tar; compressed: what a
    // registry stores (gzip of that)
    let fs_tar =
        "c=$(docker create aiges/envd-frontend:latest) && docker export \"$c\"; docker rm -f \"$c\" >/dev/null";
    let save_size: u64 = sh(&format!("({fs_tar}) | wc -c")).parse().unwrap_or(0);
    let gzip_size: u64 = sh(&format!("({fs_tar}) | gzip -c | wc -c")).parse().unwrap_or(0);
    let big = Context::new("bench-big");
    big.write("build.envd", &envd_lang::generated_build_file(1000));
    let file = big.dir().join("build.envd");
    let time = Command::new("/usr/bin/time")
        .args(["-f", "%M %e"])
        .arg(&binary)
        .args(["check", &file.display().to_string(), "--llb"])
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&time.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    let mut it = last.split_whitespace();
    let rss_kb: f64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let _ = writeln!(md, "## Size and memory\n");
    let _ = writeln!(md, "| figure | value |\n| --- | --- |");
    let _ = writeln!(md, "| `envd-frontend` binary (static) | {:.1} MB |", binary_size as f64 / 1e6);
    let _ = writeln!(
        md,
        "| `{FRONTEND}` image, uncompressed (its file system as a tar) | {:.1} MB |",
        save_size as f64 / 1e6
    );
    let _ = writeln!(md, "| `{FRONTEND}` image, gzip-compressed | {:.1} MB |", gzip_size as f64 / 1e6);
    let _ = writeln!(md, "| peak memory (max RSS) of `envd-frontend check --llb` on a 1,000-step file: evaluation child and lowering | {:.1} MB |\n", rss_kb / 1024.0);

    python::image_cost(&mut md, n, &a.ctx);

    // --- criterion ---
    let _ = writeln!(md, "## In process (criterion medians)\n");
    let _ = writeln!(md, "| benchmark | median |\n| --- | --- |");
    for (id, m) in criterion_medians(&repo().join("target/criterion")) {
        let _ = writeln!(md, "| {id} | {} |", human_ns(m));
    }
    std::fs::write(repo().join("BENCHMARKS.md"), &md).expect("write BENCHMARKS.md");
    eprintln!("{md}");
}
