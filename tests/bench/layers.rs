//! Python packages in layers that follow the packages (issue 24), at ML
//! scale: an environment of real PyPI wheels (numpy, scipy, pandas,
//! pyarrow, scikit-learn, matplotlib and their dependencies; over 500 MB
//! installed), served from the host by a mirror that logs each download.
//!
//! Three ways, on the same dockerd, alternating: build.envd with a layer
//! per package (A, the default), build.envd with one layer
//! (`ENVD_PYTHON_LAYERS=single`, S), and a Dockerfile with `RUN
//! --mount=type=cache … pip install -r` (D).
//!
//! - *Cold*: `buildx prune -af` first, nothing cached anywhere.
//! - *Fresh-runner edit*: the first requirements built and pushed with a
//!   registry cache (`mode=max`), the builder pruned (a fresh CI runner),
//!   then one package added and built with `--cache-from`, pushed: its
//!   wall time, the wheels the mirror served, and the bytes of the layers
//!   the new image has and the first had not (from the two manifests).
//! - *Warm edit*: one package added on a warm builder.
//! - *Second service*: another service with the same packages and one
//!   more, on a fresh builder with no cache: the bytes of its layers the
//!   registry did not have from the first.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use envd_e2e::{bases_env, cpu_base, image_layers, Context, PypiMirror, FRONTEND};

use crate::{build, prune, stats};

/// The environment: six pins that resolve to over 500 MB installed.
const REQUIREMENTS: &str =
    "numpy==1.26.4\nscipy==1.13.1\npandas==2.2.2\npyarrow==16.1.0\nscikit-learn==1.5.1\nmatplotlib==3.9.1\n";

/// A package each edit adds, a different one each run.
const ADDED: &[&str] = &["attrs==23.2.0", "tabulate==0.9.0", "termcolor==2.4.0", "toml==0.10.2", "zipp==3.19.2"];

/// A package each warm edit adds: one no earlier build of the run had.
const WARM: &[&str] = &["wcwidth==0.2.13", "decorator==5.1.1", "colorama==0.4.6", "jmespath==1.0.1", "cycler==0.12.1"];

/// The second service's own package.
const OTHER: &str = "requests==2.32.3";

/// One way of building the service.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Layers,
    Single,
    Dockerfile,
}

impl Way {
    const ALL: [Way; 3] = [Way::Layers, Way::Single, Way::Dockerfile];

    fn name(self) -> &'static str {
        match self {
            Way::Layers => "A: build.envd, a layer per package",
            Way::Single => "S: build.envd, one layer",
            Way::Dockerfile => "D: Dockerfile, pip with a cache mount",
        }
    }
}

/// A service built one way.
struct Service {
    ctx: Context,
    args: Vec<String>,
}

impl Service {
    fn new(mirror: &PypiMirror, way: Way, name: &str) -> Self {
        let ctx = Context::new(name);
        let mut args: Vec<String> = PypiMirror::add_host().iter().map(|s| (*s).to_owned()).collect();
        if way == Way::Dockerfile {
            ctx.write("Dockerfile", &mirror.pip_dockerfile());
        } else {
            ctx.write("build.envd", &mirror.build_envd());
            let file = ctx.dir().join("build.envd").display().to_string();
            args.extend(["--build-arg".into(), format!("BUILDKIT_SYNTAX={FRONTEND}"), "-f".into(), file]);
            if way == Way::Single {
                args.extend(["--build-arg".into(), "ENVD_PYTHON_LAYERS=single".into()]);
            }
        }
        ctx.write("requirements.txt", REQUIREMENTS);
        Self { ctx, args }
    }

    /// Wall time of a build with `extra` flags.
    fn build(&self, extra: &[String]) -> f64 {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend(extra.iter().map(String::as_str));
        build(&self.ctx, &args).wall
    }
}

/// The bytes of `image`'s layers that none of `known` has.
fn new_bytes(image: &str, known: &[&str]) -> u64 {
    let seen: BTreeSet<String> = known.iter().flat_map(|k| image_layers(k)).map(|(d, _)| d).collect();
    image_layers(image).into_iter().filter(|(d, _)| !seen.contains(d)).map(|(_, s)| s).sum()
}

fn push_flags(reference: &str) -> Vec<String> {
    vec!["--output".into(), format!("type=image,name={reference},push=true,registry.insecure=true")]
}

/// Runs the comparison and writes its section.
pub(crate) fn run(md: &mut String, n: usize) {
    let n = n.min(ADDED.len()).min(WARM.len());
    let mirror = PypiMirror::start(
        "bench-ml-pypi",
        &format!("{REQUIREMENTS}{}\n{}\n{OTHER}\n", ADDED.join("\n"), WARM.join("\n")),
    );
    let registry = bases_env("REGISTRY");
    let pid = std::process::id();
    let services: Vec<Service> =
        Way::ALL.iter().enumerate().map(|(i, w)| Service::new(&mirror, *w, &format!("bench-ml-{i}"))).collect();
    let mut cold = vec![Vec::new(); 3];
    let mut fresh = vec![Vec::new(); 3];
    let mut fetched = vec![Vec::new(); 3];
    let mut pushed = vec![Vec::new(); 3];
    let mut warm = vec![Vec::new(); 3];
    let mut env_bytes = [0u64; 3];
    let mut layer_count = [0usize; 3];
    let base = cpu_base();
    for (i, added) in ADDED.iter().take(n).enumerate() {
        for (k, s) in services.iter().enumerate() {
            s.ctx.write("requirements.txt", REQUIREMENTS);
            prune();
            cold[k].push(s.build(&[]));
        }
        for (k, s) in services.iter().enumerate() {
            // The first push, with a registry cache; then a fresh runner.
            let cache = format!("{registry}/envd-bench/ml-cache-{k}:{pid}-{i}");
            let to =
                vec!["--cache-to".to_owned(), format!("type=registry,ref={cache},mode=max,registry.insecure=true")];
            let from = vec!["--cache-from".to_owned(), format!("type=registry,ref={cache},registry.insecure=true")];
            let first = format!("{registry}/envd-bench/ml-{k}:{pid}-{i}-first");
            s.ctx.write("requirements.txt", REQUIREMENTS);
            s.build(&[to.clone(), push_flags(&first)].concat());
            env_bytes[k] = new_bytes(&first, &[&base]);
            layer_count[k] = image_layers(&first).len();
            prune();
            let before = mirror.wheel_requests().len();
            s.ctx.write("requirements.txt", &format!("{REQUIREMENTS}{added}\n"));
            let second = format!("{registry}/envd-bench/ml-{k}:{pid}-{i}-second");
            fresh[k].push(s.build(&[from, to, push_flags(&second)].concat()));
            let mut wheels = mirror.wheel_requests().split_off(before);
            wheels.sort();
            wheels.dedup();
            fetched[k].push(wheels.len() as f64);
            pushed[k].push(new_bytes(&second, &[&first]) as f64);
            // A warm edit on this builder: a package no build of the run
            // has had (re-adding the fresh-runner edit's would be a cache
            // hit).
            s.ctx.write("requirements.txt", &format!("{REQUIREMENTS}{added}\n{}\n", WARM[i]));
            warm[k].push(s.build(&[]));
        }
        eprintln!("envd-bench: python layers {}/{n}", i + 1);
    }
    // A second service with the same packages and one more, on a fresh
    // builder with no cache, after the first was pushed.
    let mut second_service = [0u64; 3];
    for (k, way) in Way::ALL.iter().enumerate() {
        let first = format!("{registry}/envd-bench/ml-{k}:{pid}-0-first");
        let other = Service::new(&mirror, *way, &format!("bench-ml-other-{k}"));
        other.ctx.write("requirements.txt", &format!("{REQUIREMENTS}{OTHER}\n"));
        prune();
        let image = format!("{registry}/envd-bench/ml-other-{k}:{pid}");
        other.build(&push_flags(&image));
        second_service[k] = new_bytes(&image, &[&first, &base]);
    }

    let _ = writeln!(md, "## Python packages in layers, at ML scale\n");
    let _ = writeln!(md, "`{}` from a mirror of PyPI's wheels on the host ({} wheels; see `tests/bench/layers.rs`), on the CPU stand-in. A: build.envd, a layer per package (the default); S: build.envd with `ENVD_PYTHON_LAYERS=single`; D: a Dockerfile with `RUN --mount=type=cache … pip install -r`. Alternating; seconds, median (min–max). A *fresh runner* is `docker buildx prune -af` with only a registry cache (`mode=max`) of the first requirements; the edit adds one package (a different one each run) and pushes.\n", REQUIREMENTS.trim().replace('\n', " "), mirror.packages());
    let _ = writeln!(
        md,
        "| figure | runs | {} | {} | {} | target |\n| --- | --- | --- | --- | --- | --- |",
        Way::ALL[0].name(),
        Way::ALL[1].name(),
        Way::ALL[2].name()
    );
    let cell = |xs: &[f64], unit: &str, scale: f64| {
        let (m, min, max) = stats(xs);
        format!("{:.2}{unit} ({:.2}–{:.2})", m / scale, min / scale, max / scale)
    };
    let row = |md: &mut String, name: &str, xs: &[Vec<f64>], unit: &str, scale: f64, target: &str| {
        let _ = writeln!(
            md,
            "| {name} | {n} | {} | {} | {} | {target} |",
            cell(&xs[0], unit, scale),
            cell(&xs[1], unit, scale),
            cell(&xs[2], unit, scale)
        );
    };
    row(md, "cold build (`buildx prune -af` first)", &cold, " s", 1.0, "A ≤ 1.1 × S");
    row(md, "fresh-runner edit: wall time (build and push)", &fresh, " s", 1.0, "A ≤ 0.3 × D");
    row(md, "fresh-runner edit: distinct wheels fetched", &fetched, "", 1.0, "A ≤ 1");
    row(md, "fresh-runner edit: MB of new layers pushed", &pushed, " MB", 1e6, "A ≤ 10 % of the environment");
    row(md, "warm edit (one package added)", &warm, " s", 1.0, "A ≤ 0.5 × D");
    let _ = writeln!(
        md,
        "| the environment's layers (MB, compressed) | | {:.1} | {:.1} | {:.1} | |",
        env_bytes[0] as f64 / 1e6,
        env_bytes[1] as f64 / 1e6,
        env_bytes[2] as f64 / 1e6
    );
    let _ = writeln!(
        md,
        "| layers of the image, the base's included | | {} | {} | {} | ≤ 100 |",
        layer_count[0], layer_count[1], layer_count[2]
    );
    let _ = writeln!(
        md,
        "| a second service (the same packages and `{OTHER}`) on a fresh builder: MB of layers the registry did not have | 1 | {:.2} | {:.2} | {:.2} | A: 0 of the shared packages |",
        second_service[0] as f64 / 1e6,
        second_service[1] as f64 / 1e6,
        second_service[2] as f64 / 1e6
    );
    let (a, _, _) = stats(&fresh[0]);
    let (d, _, _) = stats(&fresh[2]);
    let (ca, _, _) = stats(&cold[0]);
    let (cs, _, _) = stats(&cold[1]);
    let (wa, _, _) = stats(&warm[0]);
    let (wd, _, _) = stats(&warm[2]);
    let (pa, _, _) = stats(&pushed[0]);
    let _ = writeln!(
        md,
        "\nRatios: fresh-runner edit A/D {:.2}×; cold A/S {:.2}×; warm edit A/D {:.2}×; pushed by A's edit {:.1} % of its environment.\n",
        a / d,
        ca / cs,
        wa / wd,
        100.0 * pa / env_bytes[0].max(1) as f64
    );
}
