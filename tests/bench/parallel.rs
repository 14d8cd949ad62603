//! Builds at once beside builds one after another (issue 27): the four
//! overlapping bake targets of `envd_e2e::overlap` (conda's python, conda
//! packages, pip on the base's python, pip on conda's python), each time on
//! cold caches (`buildx prune -af` first), as one `docker buildx bake` of
//! all four and as four bakes of one target each, alternating.
//!
//! The conda caches are `sharing=locked`, so builds that install conda
//! packages wait for each other's install; with `shared` the parallel bake
//! failed (`crates/envd-lower/src/well_known.rs` says why), so there is
//! no `shared` figure to give.

use std::fmt::Write as _;

use envd_e2e::{overlap, Context};

use crate::{prune, row, Figure};

/// The heading of this section in BENCHMARKS.md.
pub const HEADING: &str = "## Builds at once on shared caches";

/// Measures `n` runs of each and writes the section to `md`.
pub fn run(md: &mut String, n: usize) {
    let ctx = Context::new("bench-parallel");
    overlap::write(&ctx);
    let all = overlap::names();
    let mut wall = Figure::default();
    for i in 0..n {
        prune();
        wall.a.push(overlap::bake(&ctx, &all));
        prune();
        wall.b.push(all.iter().map(|t| overlap::bake(&ctx, &[t])).sum());
        eprintln!("envd-bench: parallel {}/{n}", i + 1);
    }
    overlap::remove_images(&ctx);
    let _ = writeln!(md, "{HEADING}\n");
    let _ = writeln!(md, "Four bake targets whose installs overlap — conda's python alone, conda packages, pip on the base's python, pip on conda's python (`tests/harness/overlap.rs`) — on cold caches (`buildx prune -af` before each), built by one `docker buildx bake` (A) and by four bakes of one target each, one after another (B); wall time, seconds, median (min–max). The conda package and repodata caches are `sharing=locked`.\n");
    let _ =
        writeln!(md, "| figure | runs | A: at once | B: one after another | A/B |\n| --- | --- | --- | --- | --- |");
    row(md, "four targets, cold caches", &wall, "s");
    let _ = writeln!(md);
}
