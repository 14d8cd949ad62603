//! `envd-frontend check FILE [TARGET] [--llb]`: a build.envd checked on
//! this machine, without BuildKit, through the same analysis a build
//! takes, with context files read from the file's directory. `--llb` also
//! lowers onto a stand-in base and prints the readable LLB, then the
//! digest of the result's op, which names the whole graph: the same file
//! gives the same digest on any machine (the arm64 image's test compares
//! it with the amd64 one's). The fuzzer and pre-commit hooks drive it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use envd_lang::{ContextPath, Diagnostic, EvalOptions, Plan};
use envd_lower::{Inputs, LowerConfig, Needs, ResolvedBase};

use crate::analysis::{self, ContextFiles, ReadFiles, Subject};
use crate::failure::Failure;
use crate::isolate::INTERNAL;
use crate::report;

/// The first argument that makes the binary check a local file.
pub const CHECK_ARG: &str = "check";

/// The name the checked file is known by in messages.
const FILENAME: &str = "build.envd";

/// The file has no error.
const CLEAN: u8 = 0;
/// The file has an error: it does not read, evaluate or lower, or its
/// `# check=error=true` makes a finding an error.
const HAS_ERRORS: u8 = 1;
/// The checker itself failed (a bug; the fuzzer's triage relies on this),
/// or it was called wrongly.
const BROKEN: u8 = 2;

/// Checks `file`: the plan (or the LLB) on stderr with the warnings and
/// findings; errors on stderr and an exit status of 1 (2 when the
/// checker itself fails).
pub fn check_main(file: &Path, target: Option<String>, llb: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("envd-frontend: cannot start the async runtime: {e}");
            return ExitCode::from(BROKEN);
        }
    };
    match runtime.block_on(check(file, target, llb)) {
        Ok(()) => ExitCode::from(CLEAN),
        Err(Failure::Diagnostic(d, _)) if d.message.starts_with(INTERNAL) => {
            eprintln!("envd-frontend: {d}");
            ExitCode::from(BROKEN)
        }
        Err(Failure::Diagnostic(d, _)) => {
            eprintln!("error: {d}");
            ExitCode::from(HAS_ERRORS)
        }
        Err(Failure::Upstream(status)) => {
            eprintln!("envd-frontend: {}", status.message);
            ExitCode::from(BROKEN)
        }
    }
}

async fn check(file: &Path, target: Option<String>, llb: bool) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", file.display())))?;
    let text = envd_lang::source_text(FILENAME, &bytes)?;
    let overrides = Default::default();
    let subject = Subject {
        filename: FILENAME,
        text: &text,
        check: None,
        eval: EvalOptions { target, ..Default::default() },
        base_overrides: &overrides,
    };
    let analysis = analysis::analyse(subject, &mut Beside::of(file), None).await?;
    if llb {
        eprintln!("{}", lower_locally(&analysis.evaluated.plan, &analysis.needs, &analysis.files, &text)?);
        return Ok(());
    }
    eprintln!("{}", serde_json::to_string_pretty(&analysis.evaluated.plan).expect("plans serialise"));
    for w in analysis.evaluated.warnings.iter().filter(|w| w.rule.is_none()) {
        eprintln!("warning: {}: {}", w.span, w.message);
    }
    for f in &analysis.findings {
        eprintln!("warning: {}", report::short(f, FILENAME));
    }
    match analysis.checked_error(FILENAME) {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// Context files read from the build file's directory.
struct Beside {
    dir: PathBuf,
}

impl Beside {
    fn of(file: &Path) -> Self {
        Self { dir: file.parent().unwrap_or(Path::new(".")).to_owned() }
    }
}

impl ReadFiles for Beside {
    async fn read(&mut self, _needs: &Needs, paths: &[ContextPath]) -> Result<ContextFiles, Failure> {
        let mut files = ContextFiles::default();
        for path in paths {
            if let Ok(bytes) = std::fs::read(self.dir.join(path.as_str())) {
                files.insert(path.as_str().to_owned(), &bytes);
            }
        }
        Ok(files)
    }
}

/// Lowers `plan` without BuildKit: on a stand-in of its base (the usual
/// PATH, no other config), with the context files `files`, and returns
/// the readable LLB dump.
pub fn lower_locally(
    plan: &Plan,
    needs: &Needs,
    files: &BTreeMap<String, String>,
    source: &str,
) -> Result<String, Diagnostic> {
    let base = ResolvedBase::stand_in(&needs.base.reference);
    let inputs = Inputs { context_files: files.clone(), ..Inputs::local(source, base) };
    let lowered = envd_lower::lower(plan, &LowerConfig::local(), &inputs)?;
    let marshalled = lowered.state.marshal().map_err(|e| Diagnostic::nowhere(format!("internal error: {e}")))?;
    let root = marshalled.root.as_deref().unwrap_or("none (an empty image)");
    Ok(format!("{}digest {root}", envd_llb::dump::dump(&marshalled.definition)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> (PathBuf, String) {
        let file = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed/build.envd"));
        let text = std::fs::read_to_string(&file).unwrap();
        (file, text)
    }

    fn analyse(file: &Path, text: &str) -> analysis::Analysis {
        let plan = envd_lang::evaluate(FILENAME, text, &Default::default()).unwrap();
        let needs = envd_lower::needs(&plan.plan, &Default::default()).unwrap();
        let mut paths = needs.context_files.clone();
        paths.extend(envd_check::files_to_read(&plan));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let files = rt.block_on(Beside::of(file).read(&needs, &paths)).unwrap().text;
        analysis::Analysis { check: Default::default(), evaluated: plan, needs, files, findings: Vec::new() }
    }

    #[test]
    fn check_llb_lowers_the_seed_example_with_its_env_file() {
        let (file, text) = seed();
        let a = analyse(&file, &text);
        let dump = lower_locally(&a.evaluated.plan, &a.needs, &a.files, &text).unwrap();
        assert!(dump.contains("name \"[3/8] install.conda_packages -f env.yaml -c pytorch\""), "{dump}");
        assert!(dump.contains("idna==3.7"), "the env file's pip section: {dump}");
        let digest = dump.lines().last().and_then(|l| l.strip_prefix("digest sha256:")).expect("a digest line last");
        assert_eq!(digest.len(), 64, "{dump}");
        let elsewhere = analyse(Path::new("/nonexistent/build.envd"), &text);
        let missing = lower_locally(&elsewhere.evaluated.plan, &elsewhere.needs, &elsewhere.files, &text).unwrap_err();
        assert_eq!(missing.message, "install.conda_packages: env_file \"env.yaml\" was not found in the build context");
    }
}
