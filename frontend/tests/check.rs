//! `envd-frontend check FILE`, as a script or a pre-commit hook runs it:
//! exit 0 for a clean file, 1 with the error at its line for a file that
//! does not evaluate or lower, 2 for a wrong call.

use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_envd-frontend")).arg("check").args(args).current_dir(dir).output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_clean_file_exits_zero_with_its_plan_and_findings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "build.envd",
        "def build():\n    base(image=\"aiges_cpu\")\n    run(commands=[\"pip install six\"])\n",
    );
    let out = check(dir.path(), &["build.envd"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("\"steps\""), "the plan: {err}");
    assert!(err.contains("warning: PipInstallInRun:"), "a finding is a warning, not an error: {err}");
}

#[test]
fn an_evaluation_error_exits_one_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "build.envd", "def build():\n    base(image=\"aiges_cpu\")\n    runn()\n");
    let out = check(dir.path(), &["build.envd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: build.envd:3"), "{}", stderr(&out));
}

#[test]
fn a_lowering_error_exits_one_with_llb_and_without() {
    let dir = tempfile::tempdir().unwrap();
    let src = "def build():\n    base(image=\"aiges_cpu\")\n    install.conda_packages(env_file=\"env.yaml\")\n";
    write(dir.path(), "build.envd", src);
    let out = check(dir.path(), &["build.envd", "--llb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("env_file \"env.yaml\" was not found in the build context"), "{}", stderr(&out));
    write(dir.path(), "env.yaml", "dependencies:\n  - numpy\n");
    let ok = check(dir.path(), &["build.envd", "--llb"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("install.conda_packages"), "the LLB: {}", stderr(&ok));
}

#[test]
fn error_true_makes_findings_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        "# check=error=true\ndef build():\n    base(image=\"aiges_cpu\")\n    run(commands=[\"pip install six\"])\n";
    write(dir.path(), "build.envd", src);
    let out = check(dir.path(), &["build.envd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("breaks checked rules (PipInstallInRun)"), "{}", stderr(&out));
}

#[test]
fn a_missing_file_exits_one_and_no_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), &["nothing.envd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read nothing.envd"), "{}", stderr(&out));
    let usage = check(dir.path(), &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("usage: envd-frontend check FILE"), "{}", stderr(&usage));
}
