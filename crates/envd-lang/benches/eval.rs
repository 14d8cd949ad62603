//! Evaluation time of build.envd: the seed's example, and a generated file
//! of 1,000 steps (the size where a slow evaluator would start to show in
//! a build's start-up).

use criterion::{criterion_group, criterion_main, Criterion};
use envd_lang::{evaluate, generated_build_file, EvalOptions};

fn seed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed/build.envd")).expect("seed case")
}

fn bench(c: &mut Criterion) {
    let opts = EvalOptions::default();
    let seed = seed();
    c.bench_function("evaluate/seed", |b| b.iter(|| evaluate("build.envd", &seed, &opts).unwrap()));
    let big = generated_build_file(1000);
    assert_eq!(evaluate("build.envd", &big, &opts).unwrap().plan.steps.len(), 1000);
    c.bench_function("evaluate/1000-steps", |b| b.iter(|| evaluate("build.envd", &big, &opts).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
