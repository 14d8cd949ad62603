//! Golden plans: each `testdata/<case>/build.envd` evaluates to the plan,
//! warnings and build-arg reads in `plan.json` beside it; each `testdata-negative/<case>/build.envd`
//! fails with the line and message in `error.txt`.
//!
//! Regenerate after an intended change with `make golden`
//! (`ENVD_UPDATE_GOLDEN=1 cargo test -p envd-lang --test golden`), then
//! read the diff.

use std::fs;
use std::path::{Path, PathBuf};

use envd_lang::{evaluate, EvalOptions};

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("build.envd").is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in {}", root.display());
    v
}

fn updating() -> bool {
    std::env::var_os("ENVD_UPDATE_GOLDEN").is_some()
}

fn check(expected_file: &Path, actual: &str) {
    if updating() {
        fs::write(expected_file, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(expected_file)
        .unwrap_or_else(|_| panic!("{} is missing; run `make golden`", expected_file.display()));
    assert_eq!(expected, actual, "{} differs; if intended, run `make golden` and review", expected_file.display());
}

fn options() -> EvalOptions {
    EvalOptions { build_args: [("VERSION".to_owned(), "2.0".to_owned())].into_iter().collect(), ..Default::default() }
}

#[test]
fn golden_plans() {
    for case in cases("testdata") {
        let src = fs::read_to_string(case.join("build.envd")).unwrap();
        let out = evaluate("build.envd", &src, &options()).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        // Serialized from the types, not through serde_json::Value, whose
        // key order depends on a feature other crates of the workspace set.
        #[derive(serde::Serialize)]
        struct Golden<'a> {
            plan: &'a envd_lang::Plan,
            warnings: &'a [envd_lang::Warning],
            reads: &'a [envd_lang::ArgRead],
        }
        let golden = Golden { plan: &out.plan, warnings: &out.warnings, reads: &out.reads };
        check(&case.join("plan.json"), &(serde_json::to_string_pretty(&golden).unwrap() + "\n"));
    }
}

#[test]
fn golden_errors() {
    for case in cases("testdata-negative") {
        let src = fs::read_to_string(case.join("build.envd")).unwrap();
        let err = match evaluate("build.envd", &src, &options()) {
            Ok(_) => panic!("{} evaluated, but should fail", case.display()),
            Err(e) => e,
        };
        let line = err.span.as_ref().map_or("-".to_owned(), |s| s.line.to_string());
        check(&case.join("error.txt"), &format!("line {line}: {}\n", err.text()));
    }
}
