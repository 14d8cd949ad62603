//! Evaluation time of build.envd: the seed's example, and a generated file
//! of 1,000 steps (the size where a slow evaluator would start to show in
//! a build's start-up).

use criterion::{criterion_group, criterion_main, Criterion};
use envd_lang::{evaluate, EvalOptions};

/// A build.envd with `n` steps of every kind, spread over helper functions.
pub fn generated(n: usize) -> String {
    let mut s = String::from("def setup():\n    config.pip_index(url=\"https://pypi.org/simple\")\n\ndef build():\n    setup()\n    base(image=\"aiges_cpu\", language=\"python3.9\")\n");
    for i in 0..n {
        let line = match i % 5 {
            0 => format!("    install.python_packages(name=[\"pkg{i}==1.{i}\"])\n"),
            1 => format!("    install.system_packages(name=[\"lib{i}\"])\n"),
            2 => format!("    io.copy(src=\"src/m{i}\", dest=\"/home/aiges/m{i}\")\n"),
            3 => format!("    run(commands=[\"echo {i} > /tmp/{i}\"])\n"),
            _ => format!("    install.conda_packages(name=[\"c{i}\"])\n"),
        };
        s.push_str(&line);
    }
    s
}

fn seed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed/build.envd")).expect("seed case")
}

fn bench(c: &mut Criterion) {
    let opts = EvalOptions::default();
    let seed = seed();
    c.bench_function("evaluate/seed", |b| b.iter(|| evaluate("build.envd", &seed, &opts).unwrap()));
    let big = generated(1000);
    assert_eq!(evaluate("build.envd", &big, &opts).unwrap().plan.steps.len(), 1000);
    c.bench_function("evaluate/1000-steps", |b| b.iter(|| evaluate("build.envd", &big, &opts).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
