//! The no-op rebuild of the bench service beside the Dockerfile frontends:
//! the built-in one (no frontend image to start) and, where
//! `ENVD_BENCH_GATEWAY_IMAGE` names one, BuildKit's official Dockerfile
//! frontend run as a gateway image (`BUILDKIT_SYNTAX`), which pays what
//! this frontend pays to start. Nothing here builds that image: it is
//! built by hand from BuildKit's source, and the run says which one it
//! was given.
//!
//! Besides the wall time, the vertex timeline from `--progress=rawjson`
//! of each gateway build, as medians: when each vertex started and
//! completed after the first one started, which says where the
//! milliseconds go.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use envd_e2e::Context;

use super::{service, stats, Build, Path2};

/// The image of the official gateway frontend to compare with.
const GATEWAY_IMAGE_VAR: &str = "ENVD_BENCH_GATEWAY_IMAGE";

/// At least this many no-op rebuilds of each path: the differences are
/// tens of milliseconds.
const MIN_RUNS: usize = 9;

/// Appends the section to `md`; `envd` is the bench's build.envd path (A).
pub fn run(md: &mut String, runs: usize, envd: &Path2) {
    let runs = runs.max(MIN_RUNS);
    let builtin = Path2 { ctx: Context::new("bench-noop-dockerfile"), args: Vec::new() };
    service(&builtin.ctx, true);
    let gateway = std::env::var(GATEWAY_IMAGE_VAR).ok().filter(|v| !v.is_empty()).map(|image| {
        let ctx = Context::new("bench-noop-gateway");
        service(&ctx, true);
        (image.clone(), Path2 { ctx, args: vec!["--build-arg".into(), format!("BUILDKIT_SYNTAX={image}")] })
    });
    let mut paths: Vec<(&str, &Path2)> = vec![("build.envd", envd), ("Dockerfile, built-in frontend", &builtin)];
    if let Some((_, p)) = &gateway {
        paths.push(("Dockerfile, official gateway image", p));
    }
    for (_, p) in &paths {
        p.build();
    }
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut timelines: Vec<Vec<Build>> = (0..paths.len()).map(|_| Vec::new()).collect();
    for i in 0..runs {
        for (k, (_, p)) in paths.iter().enumerate() {
            let b = p.build();
            walls[k].push(b.wall);
            timelines[k].push(b);
        }
        eprintln!("envd-bench: no-op beside the Dockerfile frontends {}/{runs}", i + 1);
    }

    let _ = writeln!(md, "## The no-op rebuild beside the Dockerfile frontends\n");
    let _ = writeln!(
        md,
        "The bench service above, unchanged, rebuilt with every step cached; alternating, wall time of `docker buildx build`, seconds, median (min–max). The built-in frontend starts no image. The official gateway image is BuildKit's `frontend/dockerfile/cmd/dockerfile-frontend` built from source by hand and named by `{GATEWAY_IMAGE_VAR}`; nothing in this repository builds it.\n"
    );
    match &gateway {
        Some((image, _)) => {
            let _ = writeln!(md, "Official gateway image: `{image}`.\n");
        }
        None => {
            let _ = writeln!(md, "`{GATEWAY_IMAGE_VAR}` was not set: no official gateway image in this run.\n");
        }
    }
    let _ = writeln!(md, "| path | runs | no-op rebuild | build.envd / this |\n| --- | --- | --- | --- |");
    let (ours, _, _) = stats(&walls[0]);
    for (k, (name, _)) in paths.iter().enumerate() {
        let (m, min, max) = stats(&walls[k]);
        let _ = writeln!(md, "| {name} | {runs} | {m:.3} s ({min:.3}–{max:.3}) | {:.2}× |", ours / m);
    }
    let _ = writeln!(md);
    for (k, (name, _)) in paths.iter().enumerate().filter(|(k, _)| *k != 1) {
        let _ = writeln!(
            md,
            "Vertex timeline of the no-op rebuild, {name} (ms after the first vertex started; medians):\n"
        );
        let _ = writeln!(md, "| vertex | started | completed |\n| --- | --- | --- |");
        for (vertex, start, end) in median_timeline(&timelines[k]) {
            let _ = writeln!(md, "| {} | {:.0} | {:.0} |", vertex.replace('|', "\\|"), start * 1e3, end * 1e3);
        }
        let _ = writeln!(md);
    }
}

/// Each vertex name's median start and completion over `builds`, in the
/// order they start; only names every build has.
fn median_timeline(builds: &[Build]) -> Vec<(String, f64, f64)> {
    let mut by_name: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for b in builds {
        for (name, start, end) in &b.timeline {
            let e = by_name.entry(name.as_str()).or_default();
            e.0.push(*start);
            e.1.push(*end);
        }
    }
    let mut out: Vec<(String, f64, f64)> = by_name
        .into_iter()
        .filter(|(_, (s, _))| s.len() == builds.len())
        .map(|(name, (s, e))| (name.to_owned(), stats(&s).0, stats(&e).0))
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out
}
