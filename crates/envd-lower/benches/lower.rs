//! What the frontend does between reading build.envd and asking BuildKit to
//! solve: evaluate and lower, for the seed's example and a generated file
//! of 1,000 steps.

use criterion::{criterion_group, criterion_main, Criterion};
use envd_lang::{evaluate, generated_build_file, EvalOptions};
use envd_lower::{lower, needs, ImageConfig, Inputs, LowerConfig, ResolvedBase};

fn evaluate_and_lower(src: &str) -> usize {
    let plan = evaluate("build.envd", src, &EvalOptions::default()).expect("evaluates").plan;
    let needs = needs(&plan, &Default::default()).expect("a base");
    let base = ResolvedBase {
        config: ImageConfig::parse(br#"{"config":{"Env":["PATH=/usr/bin:/bin"],"WorkingDir":"/home/aiges"}}"#)
            .expect("config"),
        ..ResolvedBase::stand_in(&needs.base.reference)
    };
    let inputs = Inputs {
        context_files: [("env.yaml".to_owned(), "dependencies: [numpy]\n".to_owned())].into(),
        ..Inputs::local(src, base)
    };
    let lowered = lower(&plan, &LowerConfig::local(), &inputs).expect("lowers");
    lowered.state.marshal().expect("marshals").definition.def.len()
}

fn bench(c: &mut Criterion) {
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed/build.envd")).expect("seed");
    assert!(evaluate_and_lower(&seed) > 5);
    c.bench_function("evaluate+lower/seed", |b| b.iter(|| evaluate_and_lower(&seed)));
    let big = generated_build_file(1000);
    assert!(evaluate_and_lower(&big) > 1000);
    c.bench_function("evaluate+lower/1000-steps", |b| b.iter(|| evaluate_and_lower(&big)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
