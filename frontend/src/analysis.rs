//! The analysis path, written once: the `# check=` configuration, the
//! isolated evaluation, what the plan needs, the context files it and the
//! linter read, their encodings, and the lint.
//!
//! A build, `--call check` and `envd-frontend check FILE` all take it;
//! they differ only in how files are read — through BuildKit, with the
//! base images fetched alongside, or from the disk — which is the
//! [`ReadFiles`] they pass.

use std::collections::BTreeMap;
use std::path::PathBuf;

use envd_check::{CheckConfig, Finding};
use envd_lang::{ContextPath, Diagnostic, EvalOptions, Evaluated, Plan, StepKind};
use envd_lower::{BaseOverrides, Needs};

use crate::config::Config;
use crate::failure::Failure;
use crate::isolate::Child;

/// What to analyse: the build file's text and the options that shape its
/// evaluation.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The build file's name.
    pub filename: &'a str,
    /// Its text.
    pub text: &'a str,
    /// `ENVD_CHECK`, which replaces the file's `# check=`.
    pub check: Option<&'a CheckConfig>,
    /// `--target` and the build args.
    pub eval: EvalOptions,
    /// What the `AIGES_*` build args say about the base.
    pub base_overrides: &'a BaseOverrides,
}

impl<'a> Subject<'a> {
    /// The build file `text` as `config` builds it.
    pub fn of(config: &'a Config, text: &'a str) -> Self {
        Self {
            filename: &config.filename,
            text,
            check: config.check.as_ref(),
            eval: eval_options(config, false),
            base_overrides: &config.base_overrides,
        }
    }
}

/// How a caller reads the files of the build context.
pub trait ReadFiles {
    /// Reads `paths` (the files `needs` lists and the ones the linter
    /// reads); a file that cannot be read is left out, and lowering or
    /// the linter says so at the call that names it.
    fn read(
        &mut self,
        needs: &Needs,
        paths: &[ContextPath],
    ) -> impl std::future::Future<Output = Result<ContextFiles, Failure>>;
}

/// What the analysis found.
#[derive(Debug)]
pub struct Analysis {
    /// The `# check=` (or `ENVD_CHECK`) configuration.
    pub check: CheckConfig,
    /// The evaluated build file.
    pub evaluated: Evaluated,
    /// What the plan needs fetched.
    pub needs: Needs,
    /// The context files that were read and are text, by path.
    pub files: BTreeMap<String, String>,
    /// The findings of the rules `check` keeps.
    pub findings: Vec<Finding>,
}

impl Analysis {
    /// The error that ends a build whose findings break rules that
    /// `check=error=true` makes errors; `None` otherwise.
    pub fn checked_error(&self, filename: &str) -> Option<Diagnostic> {
        if !self.check.error || self.findings.is_empty() {
            return None;
        }
        let mut rules: Vec<&str> = self.findings.iter().map(|f| f.rule.name()).collect();
        rules.dedup();
        Some(Diagnostic::nowhere(format!(
            "{filename} breaks checked rules ({}) and its check= says error=true; see the warnings above",
            rules.join(", ")
        )))
    }
}

/// Analyses `subject`, reading context files through `files`; `child`
/// evaluates it if the caller started one already.
pub async fn analyse(
    subject: Subject<'_>,
    files: &mut impl ReadFiles,
    child: Option<Child>,
) -> Result<Analysis, Failure> {
    let check = CheckConfig::for_build(subject.check, subject.filename, subject.text)?;
    let build_args = subject.eval.build_args.clone();
    let evaluated = evaluate(subject.filename, subject.text, subject.eval, child).await?;
    let needs = envd_lower::needs(&evaluated.plan, subject.base_overrides)?;
    let mut paths = needs.context_files.clone();
    paths.extend(envd_check::files_to_read(&evaluated).into_iter().filter(|p| !needs.context_files.contains(p)));
    let read = files.read(&needs, &paths).await?;
    read.check_encodings(&evaluated.plan)?;
    let files = read.text;
    let input = envd_check::Input {
        evaluated: &evaluated,
        build_args: &build_args,
        files: &files,
        base_cuda: base_cuda(&needs),
    };
    let findings = check.apply(envd_check::lint(&input));
    Ok(Analysis { check, evaluated, needs, files, findings })
}

/// What build.envd says of the base's CUDA, for the GPU rules: none on
/// `aiges_cpu`, the version of `aiges_gpu`; not known of another image
/// until the build reads its config (the step's log then says).
fn base_cuda(needs: &Needs) -> envd_gpu::BaseCuda {
    match (&needs.base.cuda, needs.base.alias) {
        (Some(v), _) => envd_gpu::Cuda::parse(v).map_or(envd_gpu::BaseCuda::Unknown, envd_gpu::BaseCuda::Version),
        (None, Some("aiges_cpu")) => envd_gpu::BaseCuda::None,
        (None, _) => envd_gpu::BaseCuda::Unknown,
    }
}

/// The evaluation options of `config`; `locate_reads` gives every read of
/// `args` a line, for `--call outline`.
pub fn eval_options(config: &Config, locate_reads: bool) -> EvalOptions {
    EvalOptions {
        target: config.target.clone(),
        build_args: config.build_args.clone(),
        locate_reads,
        ..Default::default()
    }
}

/// Evaluates the build file in a child process with hard limits (see
/// [`crate::isolate`]), `child` if one was started, off the async
/// runtime's thread.
pub async fn evaluate(
    filename: &str,
    text: &str,
    opts: EvalOptions,
    child: Option<Child>,
) -> Result<Evaluated, Failure> {
    let child = match child {
        Some(c) => c,
        None => start_child()?,
    };
    let filename = filename.to_owned();
    let text = text.to_owned();
    let evaluated = tokio::task::spawn_blocking(move || child.evaluate(&filename, &text, &opts))
        .await
        .map_err(|e| Failure::internal(format!("the build.envd evaluator stopped: {e}")))?;
    Ok(evaluated?)
}

/// Starts an evaluation child: this binary, run again (see
/// [`crate::isolate`]).
pub fn start_child() -> Result<Child, Failure> {
    let program: PathBuf =
        std::env::current_exe().map_err(|e| Failure::internal(format!("cannot find the frontend binary: {e}")))?;
    Ok(Child::start(&program)?)
}

/// Context files as read.
#[derive(Debug, Clone, Default)]
pub struct ContextFiles {
    /// The ones that are text (UTF-8, with or without a BOM, or UTF-16
    /// with one), decoded.
    pub text: BTreeMap<String, String>,
    /// The ones that are not, and why.
    pub undecodable: BTreeMap<String, envd_conda::text::DecodeError>,
}

impl ContextFiles {
    /// Adds the file at `path` as read: decoded if it is text, else with
    /// why it is not.
    pub fn insert(&mut self, path: String, bytes: &[u8]) {
        match envd_conda::text::decode(bytes) {
            Ok(text) => {
                self.text.insert(path, text.into_owned());
            }
            Err(e) => {
                self.undecodable.insert(path, e);
            }
        }
    }

    /// Fails at the first call of `plan` that names a file that is not
    /// text: before the file reaches YAML, pip or the linter, in one
    /// sentence with its name and the byte offset.
    pub fn check_encodings(&self, plan: &Plan) -> Result<(), Diagnostic> {
        for step in &plan.steps {
            let named: Vec<&ContextPath> = match &step.kind {
                StepKind::CondaPackages { env_file, .. } => env_file.iter().collect(),
                StepKind::PythonPackages { requirements, .. } => requirements.iter().collect(),
                _ => continue,
            };
            if let Some((path, e)) = named.iter().find_map(|p| self.undecodable.get_key_value(p.as_str())) {
                return Err(Diagnostic::at(step.span.clone(), format!("{path} {e}")));
            }
        }
        Ok(())
    }
}
