//! Time of the linter itself, after evaluation: the seed example (with
//! its env.yaml and requirements file) and a generated file of 1,000
//! steps. What `--call check` and every build add to evaluation.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion};
use envd_check::{files_to_read, lint, Input};
use envd_lang::{evaluate, generated_build_file, EvalOptions};

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed");
    let seed = std::fs::read_to_string(format!("{dir}/build.envd")).expect("the seed example");
    let evaluated = evaluate("build.envd", &seed, &EvalOptions::default()).unwrap();
    let files: BTreeMap<String, String> = files_to_read(&evaluated)
        .iter()
        .map(|p| (p.as_str().to_owned(), std::fs::read_to_string(format!("{dir}/{}", p.as_str())).unwrap()))
        .collect();
    assert_eq!(files.len(), 2, "env.yaml and build.txt");
    let args = BTreeMap::new();
    let input =
        Input { evaluated: &evaluated, build_args: &args, files: &files, base_cuda: envd_gpu::BaseCuda::Unknown };
    assert!(!lint(&input).is_empty(), "the seed has findings");
    c.bench_function("lint/seed", |b| b.iter(|| lint(&input)));

    let big = evaluate("build.envd", &generated_build_file(1000), &EvalOptions::default()).unwrap();
    let none = BTreeMap::new();
    let input = Input { evaluated: &big, build_args: &args, files: &none, base_cuda: envd_gpu::BaseCuda::Unknown };
    c.bench_function("lint/1000-steps", |b| b.iter(|| lint(&input)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
