//! The short fuzz run of `make test` (`make fuzz-short`): mutated
//! build.envd files through the frontend's real, isolated evaluation, for
//! `ENVD_FUZZ_SECONDS` (default 30). Ignored by a plain `cargo test`.
//!
//! `make fuzz` runs the coverage-guided fuzzer (cargo-fuzz, libFuzzer) on
//! the evaluator in process for ten minutes; that needs every crate built
//! again with coverage instrumentation on nightly, minutes that `make test`
//! cannot spend. This run takes the test build and the release binary
//! `make test` builds anyway, and asks of every input what a build relies
//! on: evaluation ends in a plan or in a one-line error about the file,
//! within the evaluator's limits, never in the evaluator itself failing.
//!
//! Inputs are the golden build.envd files and the fuzzer's corpus, if
//! any, mutated by a seeded generator (byte flips, insertions, deletions,
//! splices of other seeds and Starlark fragments chosen to hit limits);
//! a failing input is written to `target/fuzz-short-failures/` with its
//! seed in the name. `ENVD_FUZZ_SEED` replays a run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envd_frontend::isolate::{evaluate, INTERNAL};
use envd_lang::EvalOptions;

/// Fragments that reach the evaluator's corners: limits, deep nesting,
/// the dialect's calls with odd arguments, text that is not Starlark.
const FRAGMENTS: &[&str] = &[
    "\"x\" * 10**9",
    "list(range(10**8))",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{k: k for k in range(10**7)}",
    "def f(x):\n    return f(x)\n",
    "for i in range(10**9):\n    pass\n",
    "install.python_packages(name=[",
    "install.conda_packages(env_file=\"../../etc/passwd\")\n",
    "base(image=None)\n",
    "run(commands=[args[\"X\"]])\n",
    "io.copy(src=\"\\x00\", dest=\"/\")\n",
    "config.pip_index(url=\"http://u:p@h/simple\")\n",
    "runtime.environ(env={\"A\": 1})\n",
    "args.get(",
    "lambda: ",
    "\n    ",
    ")",
    "]",
    ":",
    "\u{feff}",
    "\u{1f600}",
    "\\",
    "'''",
];

/// xorshift64*: enough randomness for mutations, the same on every
/// machine for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(repo: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dir in ["crates/envd-lang/testdata", "crates/envd-lang/testdata-negative", "crates/envd-lower/testdata"] {
        for case in std::fs::read_dir(repo.join(dir)).into_iter().flatten().flatten() {
            files.push(case.path().join("build.envd"));
        }
    }
    files
        .extend(std::fs::read_dir(repo.join("fuzz/corpus/evaluate")).into_iter().flatten().flatten().map(|e| e.path()));
    files.sort();
    files.into_iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// One mutation of `input`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let at = rng.below(input.len() + 1);
    match rng.below(6) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 => input.insert(at, (rng.below(95) + 32) as u8),
        2 if !input.is_empty() => {
            let len = rng.below(16).min(input.len() - at.min(input.len()));
            input.drain(at.min(input.len())..at.min(input.len()) + len);
        }
        3 => {
            let other = &seeds[rng.below(seeds.len())];
            if !other.is_empty() {
                let from = rng.below(other.len());
                let len = rng.below(200).min(other.len() - from);
                input.splice(at..at, other[from..from + len].iter().copied());
            }
        }
        _ => {
            let f = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
            input.splice(at..at, f.iter().copied());
        }
    }
}

#[test]
#[ignore = "the short fuzz run of `make test`: make fuzz-short"]
fn mutated_build_files_end_in_a_plan_or_an_error_about_the_file() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let program = std::env::var_os("ENVD_FUZZ_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_envd-frontend")));
    let seconds: u64 = std::env::var("ENVD_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let seed: u64 = std::env::var("ENVD_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    let seeds = seeds(&repo);
    assert!(seeds.len() >= 5, "the golden build.envd files are the seeds: found {}", seeds.len());
    let failures = repo.join("target/fuzz-short-failures");
    let mut rng = Rng(seed);
    let (mut runs, mut plans, mut errors, mut bad) = (0u64, 0u64, 0u64, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(8) {
            mutate(&mut rng, &mut input, &seeds);
        }
        let Ok(text) = String::from_utf8(input.clone()) else { continue };
        runs += 1;
        let why = match evaluate(&program, "build.envd", &text, &EvalOptions::default()) {
            Ok(_) => {
                plans += 1;
                None
            }
            Err(e) if e.message.starts_with(INTERNAL) => Some(format!("the evaluator itself failed: {}", e.message)),
            Err(e) if e.message.contains('\n') => Some(format!("a multi-line error: {:?}", e.message)),
            Err(_) => {
                errors += 1;
                None
            }
        };
        if let Some(why) = why {
            std::fs::create_dir_all(&failures).unwrap();
            let file = failures.join(format!("seed-{seed}-run-{runs}.envd"));
            std::fs::write(&file, &input).unwrap();
            bad.push(format!("{}: {why}", file.display()));
        }
    }
    eprintln!(
        "fuzz-short: {seconds}s, seed {seed}, {} seeds, {runs} inputs: {plans} plans, {errors} errors about the file, {} failures",
        seeds.len(),
        bad.len()
    );
    assert!(runs > 0, "no input was evaluated");
    assert!(bad.is_empty(), "inputs the evaluator did not contain:\n{}", bad.join("\n"));
}
