//! `envd-frontend check FILE [TARGET] [--llb]`: a build.envd checked on
//! this machine, without BuildKit, the way a build would evaluate it. The
//! fuzzer drives it; `--llb` also lowers onto a stand-in base and prints
//! the readable LLB.

use std::path::Path;
use std::process::ExitCode;

use envd_lang::{Diagnostic, EvalOptions, Plan};
use envd_lower::{Inputs, LowerConfig, ResolvedBase};

use crate::isolate::{self, INTERNAL};

/// The first argument that makes the binary check a local file.
pub const CHECK_ARG: &str = "check";

/// Exit 0 with the plan (or LLB) or the user's error on stderr, 2 if the
/// evaluator itself failed (a bug; the fuzzer's triage relies on this
/// distinction).
pub fn check_main(program: &Path, file: &Path, target: Option<String>, llb: bool) -> ExitCode {
    let source = match std::fs::read(file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("envd-frontend: cannot read {}: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    let opts = EvalOptions { target, ..Default::default() };
    let evaluated = match isolate::evaluate(program, "build.envd", &source, &opts) {
        Ok(ev) => ev,
        Err(e) if e.message.starts_with(INTERNAL) => {
            eprintln!("envd-frontend: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::SUCCESS;
        }
    };
    if llb {
        match lower_locally(&evaluated.plan, file, &source) {
            Ok(dump) => eprintln!("{dump}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return ExitCode::SUCCESS;
    }
    eprintln!("{}", serde_json::to_string_pretty(&evaluated.plan).expect("plans serialise"));
    for w in evaluated.warnings.iter().filter(|w| w.rule.is_none()) {
        eprintln!("warning: {}: {}", w.span, w.message);
    }
    let check = match envd_check::CheckConfig::for_build(None, "build.envd", &source) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::SUCCESS;
        }
    };
    let files = read_beside(file, &envd_check::files_to_read(&evaluated));
    let build_args = Default::default();
    let input = envd_check::Input { evaluated: &evaluated, build_args: &build_args, files: &files };
    for f in check.apply(envd_check::lint(&input)) {
        eprintln!("warning: {}", crate::build::short(&f, "build.envd"));
    }
    ExitCode::SUCCESS
}

/// The context files at `paths`, read from the build file's directory;
/// those that cannot be read are left out.
fn read_beside(file: &Path, paths: &[envd_lang::ContextPath]) -> std::collections::BTreeMap<String, String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(dir.join(p.as_str())).ok().map(|t| (p.as_str().to_owned(), t)))
        .collect()
}

/// Lowers `plan` without BuildKit: on a stand-in of its base (the usual
/// PATH, no other config), with context files read from the build file's
/// directory, and returns the readable LLB dump.
pub fn lower_locally(plan: &Plan, file: &Path, source: &str) -> Result<String, Diagnostic> {
    let needs = envd_lower::needs(plan, &Default::default())?;
    let context_files = read_beside(file, &needs.context_files);
    let inputs = Inputs { context_files, ..Inputs::local(source, ResolvedBase::stand_in(&needs.base.reference)) };
    let lowered = envd_lower::lower(plan, &LowerConfig::local(), &inputs)?;
    let marshalled = lowered.state.marshal().map_err(|e| Diagnostic::nowhere(format!("internal error: {e}")))?;
    Ok(envd_llb::dump::dump(&marshalled.definition))
}

#[cfg(test)]
mod tests {
    use super::lower_locally;

    #[test]
    fn check_llb_lowers_the_seed_example_with_its_env_file() {
        let file = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed/build.envd"));
        let src = std::fs::read_to_string(file).unwrap();
        let plan = envd_lang::evaluate("build.envd", &src, &Default::default()).unwrap().plan;
        let dump = lower_locally(&plan, file, &src).unwrap();
        assert!(dump.contains("name \"[3/8] install.conda_packages -f env.yaml -c pytorch\""), "{dump}");
        assert!(dump.contains("idna==3.7"), "the env file's pip section: {dump}");
        let missing = lower_locally(&plan, std::path::Path::new("/nonexistent/build.envd"), &src).unwrap_err();
        assert_eq!(missing.message, "install.conda_packages: env_file \"env.yaml\" was not found in the build context");
    }
}
