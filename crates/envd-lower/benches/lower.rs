//! What the frontend does between reading build.envd and asking BuildKit to
//! solve: evaluate and lower, for the seed's example and a generated file
//! of 1,000 steps.

use criterion::{criterion_group, criterion_main, Criterion};
use envd_lang::{evaluate, generated_build_file, EvalOptions};
use envd_llb::{Platform, SourceMap};
use envd_lower::{base_reference, lower, ImageConfig, LlbCaps, LowerOptions, ResolvedBase};

fn evaluate_and_lower(src: &str) -> usize {
    let plan = evaluate("build.envd", src, &EvalOptions::default()).expect("evaluates").plan;
    let choice = base_reference(&plan, &Default::default()).expect("a base");
    let base = ResolvedBase {
        reference: choice.reference,
        config: ImageConfig::parse(br#"{"config":{"Env":["PATH=/usr/bin:/bin"],"WorkingDir":"/home/aiges"}}"#)
            .expect("config"),
    };
    let opts = LowerOptions {
        platform: Platform::parse("linux/amd64").expect("platform"),
        source: SourceMap::new("build.envd", src.as_bytes().to_vec(), "starlark"),
        caps: LlbCaps { merge_diff: true },
        no_cache: false,
        labels: vec![],
        resolve_mode: Default::default(),
        session_id: "bench".into(),
        context_local: "context".into(),
        dockerignore: vec![],
        extra_hosts: vec![],
        env_files: [("env.yaml".to_owned(), "dependencies: [numpy]\n".to_owned())].into(),
        installer_image: Some("docker.io/aiges/envd-frontend:latest".into()),
    };
    let lowered = lower(&plan, &base, &opts).expect("lowers");
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
