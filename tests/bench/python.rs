//! Python packages, uv beside pip (issue 15): a realistic requirements file
//! (41 packages, pure-python and binary wheels) built as build.envd through
//! this frontend, which installs with uv (A), and as a Dockerfile with
//! `pip install` and a pip cache mount (B), alternating A B A B.
//!
//! Both install from one mirror of PyPI's wheels served from the host (the
//! wheels `pip download` fetched once into `target/bench-pypi`, with their
//! PEP 658 metadata as PyPI serves it; see `envd_e2e::PypiMirror`), so the
//! figures measure the installers, not PyPI, and its log counts every wheel
//! each build fetched. Its server sends `Last-Modified` and no
//! `Cache-Control`, as this network's proxy leaves PyPI's responses.

use std::fmt::Write as _;

use envd_e2e::{repo, Context, PypiMirror, FRONTEND};

use crate::{build, prune, row, stats, Figure};

/// 24 pins that resolve to 41 packages on Python 3.11.
const REQUIREMENTS: &str = "numpy==1.26.4
pandas==2.2.2
pillow==10.4.0
pyyaml==6.0.1
requests==2.32.3
flask==3.0.3
pydantic==2.8.2
protobuf==4.25.4
psutil==6.0.0
tqdm==4.66.4
packaging==24.1
attrs==23.2.0
toml==0.10.2
filelock==3.15.4
fsspec==2024.6.1
jmespath==1.0.1
networkx==3.3
sympy==1.13.0
pyparsing==3.1.2
cycler==0.12.1
wcwidth==0.2.13
decorator==5.1.1
zipp==3.19.2
colorama==0.4.6
";

/// The package each requirements edit adds: a different one every run, so
/// that no run is a cache hit of an earlier one.
const ADDED: &[&str] = &[
    "tabulate==0.9.0",
    "termcolor==2.4.0",
    "more-itertools==10.3.0",
    "platformdirs==4.2.2",
    "distro==1.9.0",
    "tomli==2.0.1",
    "soupsieve==2.5",
    "pycparser==2.22",
    "iniconfig==2.0.0",
    "pluggy==1.5.0",
];

/// The mirror of the requirements and the added packages.
fn mirror() -> PypiMirror {
    PypiMirror::start("bench-pypi", &format!("{REQUIREMENTS}{}\n", ADDED.join("\n")))
}

struct Service {
    ctx: Context,
    args: Vec<String>,
}

impl Service {
    fn new(mirror: &PypiMirror, envd: bool) -> Self {
        let ctx = Context::new(if envd { "bench-uv" } else { "bench-pip" });
        ctx.write("requirements.txt", REQUIREMENTS);
        let mut args: Vec<String> = PypiMirror::add_host().iter().map(|s| (*s).to_owned()).collect();
        if envd {
            ctx.write("build.envd", &mirror.build_envd());
            let file = ctx.dir().join("build.envd").display().to_string();
            args.extend(["--build-arg".into(), format!("BUILDKIT_SYNTAX={FRONTEND}"), "-f".into(), file]);
        } else {
            ctx.write("Dockerfile", &mirror.pip_dockerfile());
        }
        Self { ctx, args }
    }

    fn build(&self) -> f64 {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        build(&self.ctx, &args).wall
    }
}

/// Runs the comparison and writes its section.
pub(crate) fn run(md: &mut String, n: usize) {
    let mirror = mirror();
    let a = Service::new(&mirror, true);
    let b = Service::new(&mirror, false);
    let mut cold = Figure::default();
    let mut edit = Figure::default();
    let mut again = Figure::default();
    for i in 0..n {
        for (k, s) in [&a, &b].into_iter().enumerate() {
            prune();
            let t = s.build();
            if k == 0 {
                cold.a.push(t)
            } else {
                cold.b.push(t)
            }
        }
        eprintln!("envd-bench: python cold {}/{n}", i + 1);
    }
    for s in [&a, &b] {
        s.build();
    }
    for (i, added) in ADDED.iter().take(n).enumerate() {
        for (k, s) in [&a, &b].into_iter().enumerate() {
            s.ctx.write("requirements.txt", &format!("{REQUIREMENTS}{added}\n"));
            let before = mirror.wheel_requests().len();
            let t = s.build();
            // Every wheel but the added package's was fetched before. uv
            // asks for a new wheel twice when the index serves no
            // `.metadata` file (first for its METADATA, then whole), so
            // distinct files are counted.
            let stem = added.split("==").next().unwrap_or(added).replace('-', "_");
            let mut seen: Vec<String> = mirror
                .wheel_requests()
                .split_off(before)
                .into_iter()
                .filter(|f| !f.starts_with(&format!("{stem}-")))
                .collect();
            seen.sort();
            seen.dedup();
            let refetched = seen.len() as f64;
            if k == 0 {
                edit.a.push(t);
                again.a.push(refetched);
            } else {
                edit.b.push(t);
                again.b.push(refetched);
            }
            s.ctx.write("requirements.txt", REQUIREMENTS);
            s.build();
        }
        eprintln!("envd-bench: python requirements edit {}/{n}", i + 1);
    }
    let _ = writeln!(md, "## Python packages: uv (A) beside pip (B)\n");
    let _ = writeln!(md, "A requirements file of 24 pins that resolve to 41 packages (numpy, pandas, pillow, pydantic-core, psutil and other binary wheels, and pure-python ones; {} wheels in the mirror with the added ones), installed on the CPU stand-in: as build.envd through this frontend, which installs with uv, and as a Dockerfile that runs `pip install` with a pip cache mount. Both from one mirror of PyPI's wheels served from the host (see `tests/bench/python.rs`), alternating A B A B; wall time of `docker buildx build`, seconds, median (min–max).\n", mirror.packages());
    let _ = writeln!(md, "| figure | runs | A: build.envd (uv) | B: Dockerfile (pip) | A/B | target |\n| --- | --- | --- | --- | --- | --- |");
    let mut line = |name: &str, f: &Figure, unit: &str, target: &str| {
        let mut s = String::new();
        row(&mut s, name, f, unit);
        let _ = writeln!(md, "{} {target} |", s.trim_end());
    };
    line("cold build (`buildx prune -af` first)", &cold, "s", "≤ 0.8×");
    line("rebuild after adding a package to requirements.txt (a different one each run)", &edit, "s", "≤ 0.5×");
    let (ra, _, _) = stats(&again.a);
    let (rb, _, _) = stats(&again.b);
    let _ = writeln!(md, "| wheels fetched again by that rebuild, besides the added package's (median) | {n} | {ra:.0} | {rb:.0} | | 0 |\n");
}

/// The frontend image with and without uv: sizes, and the time from the
/// first vertex to the first build step of a no-op rebuild (resolving and
/// starting the frontend, evaluating, lowering), alternating. The rebuild
/// uses `ENVD_PYTHON_INSTALLER=pip`, so that both images lower it to the
/// same, cached, definition.
pub(crate) fn image_cost(md: &mut String, n: usize, service: &Context) {
    const WITHOUT: &str = "aiges/envd-frontend:without-uv";
    let ok = std::process::Command::new("docker")
        .args([
            "buildx",
            "build",
            "--progress=quiet",
            "-f",
            "Dockerfile.frontend",
            "--target",
            "prebuilt-without-uv",
            "-t",
            WITHOUT,
            ".",
        ])
        .current_dir(repo())
        .status()
        .expect("docker runs")
        .success();
    assert!(ok, "could not build {WITHOUT}");
    let size = |image: &str| {
        let tar = format!("c=$(docker create {image}) && docker export \"$c\"; docker rm -f \"$c\" >/dev/null");
        let raw: f64 = crate::sh(&format!("({tar}) | wc -c")).parse().unwrap_or(f64::NAN);
        let gz: f64 = crate::sh(&format!("({tar}) | gzip -c | wc -c")).parse().unwrap_or(f64::NAN);
        (raw / 1e6, gz / 1e6)
    };
    let (with_raw, with_gz) = size(FRONTEND);
    let (without_raw, without_gz) = size(WITHOUT);
    let file = service.dir().join("build.envd").display().to_string();
    let run = |image: &str| {
        let syntax = format!("BUILDKIT_SYNTAX={image}");
        let args = ["--build-arg", &syntax, "--build-arg", "ENVD_PYTHON_INSTALLER=pip", "-f", &file];
        build(service, &args).to_first_step
    };
    run(FRONTEND);
    run(WITHOUT);
    let mut start = Figure::default();
    for _ in 0..n {
        start.a.push(run(FRONTEND));
        start.b.push(run(WITHOUT));
    }
    let _ = writeln!(md, "## What uv costs the frontend image\n");
    let _ = writeln!(md, "| figure | with uv | without uv |\n| --- | --- | --- |");
    let _ = writeln!(
        md,
        "| `{FRONTEND}` image, uncompressed (its file system as a tar) | {with_raw:.1} MB | {without_raw:.1} MB |"
    );
    let _ = writeln!(md, "| gzip-compressed | {with_gz:.1} MB | {without_gz:.1} MB |\n");
    let _ = writeln!(md, "| figure | runs | with uv | without uv | ratio |\n| --- | --- | --- | --- | --- |");
    row(md, "first vertex started → first build step started (no-op rebuild of the service above)", &start, "s");
    let _ = writeln!(md);
}
