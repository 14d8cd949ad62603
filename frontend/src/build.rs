//! One build, stage by stage: read the entrypoint, evaluate, ask what the
//! plan needs, fetch it, lower, solve. Each stage hands the next plain
//! data and none goes back to an earlier one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use envd_check::{CheckConfig, Finding};
use envd_gateway::{Client, Located, SourceRange, Warning};
use envd_lang::{Diagnostic, EvalOptions, Evaluated, Span};
use envd_llb::SourceMap;
use envd_lower::LlbCaps;

use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{self, Entrypoint};

/// The result metadata that hands `SOURCE_DATE_EPOCH` to the exporter.
const EPOCH_KEY: &str = "source.date.epoch";

/// A finished build, ready to return.
#[derive(Debug)]
pub struct Outcome {
    /// The solved result.
    pub ref_id: String,
    /// Its definition.
    pub definition: envd_llb::pb::Definition,
    /// Result metadata (`containerimage.config`).
    pub metadata: HashMap<String, Vec<u8>>,
}

/// Runs the build described by `config` against `client`.
pub async fn build(config: &Config, client: &Client) -> Result<Outcome, Failure> {
    let entry = inputs::read_entrypoint(config, client).await?;
    from_entrypoint(config, client, &entry).await.map_err(|f| f.in_file(&entry.source))
}

/// Everything after the build file is read.
async fn from_entrypoint(config: &Config, client: &Client, entry: &Entrypoint) -> Result<Outcome, Failure> {
    let text = source_text(config, &entry.source)?;
    let check = CheckConfig::for_build(config.check.as_ref(), &config.filename, &text)?;
    let evaluated = evaluate(config, &text, false).await?;
    let plan = &evaluated.plan;
    let needs = envd_lower::needs(plan, &config.base_overrides)?;
    let inputs = inputs::fetch(config, client, &needs, &envd_check::files_to_read(&evaluated), entry).await?;
    let findings = lint(config, &check, &evaluated, &inputs.context_files);
    warn(client, entry, &inputs.context_files, &evaluated, &findings).await?;
    if check.error && !findings.is_empty() {
        let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.name()).collect();
        rules.dedup();
        return Err(Diagnostic::nowhere(format!(
            "{} breaks checked rules ({}) and its check= says error=true; see the warnings above",
            config.filename,
            rules.join(", ")
        ))
        .into());
    }
    let caps = LlbCaps {
        merge_diff: client.caps().llb(envd_llb::caps::MERGE_OP) && client.caps().llb(envd_llb::caps::DIFF_OP),
    };
    let lowered = envd_lower::lower(plan, &config.lower_config(caps), &inputs)?;
    let marshalled = lowered.state.marshal().map_err(Failure::internal)?;
    let ref_id = client.clone().solve(marshalled.definition.clone(), &config.cache_imports).await.map_err(|e| {
        match Failure::from(e) {
            // A failed step: BuildKit names the process by its arguments,
            // wrapper and all; name it as the user wrote it.
            Failure::Upstream(mut status) => {
                if let Some(m) = envd_lower::explain_failure(&lowered.scripts, &status.message) {
                    status.message = m;
                }
                Failure::Upstream(status)
            }
            other => other,
        }
    })?;
    let mut metadata = HashMap::from([("containerimage.config".to_owned(), lowered.config.to_bytes())]);
    if let Some(epoch) = config.source_date_epoch {
        // The exporter dates the history (and with rewrite-timestamp=true,
        // the layers) by it, as for a Dockerfile.
        metadata.insert(EPOCH_KEY.to_owned(), epoch.to_string().into_bytes());
    }
    Ok(Outcome { ref_id, definition: marshalled.definition, metadata })
}

/// The build file as text.
pub fn source_text(config: &Config, source: &SourceMap) -> Result<String, Failure> {
    Ok(std::str::from_utf8(&source.data)
        .map_err(|_| Diagnostic::nowhere(format!("{} is not UTF-8 text", config.filename)))?
        .to_owned())
}

/// Evaluates the build file in a child process with hard limits (see
/// [`crate::isolate`]), off the async runtime's thread. `locate_reads`
/// gives every read of `args` a line, for `--call outline`.
pub async fn evaluate(config: &Config, text: &str, locate_reads: bool) -> Result<Evaluated, Failure> {
    let opts = EvalOptions {
        target: config.target.clone(),
        build_args: config.build_args.clone(),
        locate_reads,
        ..Default::default()
    };
    let program =
        std::env::current_exe().map_err(|e| Failure::internal(format!("cannot find the frontend binary: {e}")))?;
    let filename = config.filename.clone();
    let text = text.to_owned();
    let evaluated = tokio::task::spawn_blocking(move || crate::isolate::evaluate(&program, &filename, &text, &opts))
        .await
        .map_err(|e| Failure::internal(format!("the build.envd evaluator stopped: {e}")))?;
    Ok(evaluated?)
}

/// The findings of the rules `check` keeps.
pub fn lint(
    config: &Config,
    check: &CheckConfig,
    evaluated: &Evaluated,
    files: &BTreeMap<String, String>,
) -> Vec<Finding> {
    check.apply(envd_check::lint(&envd_check::Input { evaluated, build_args: &config.build_args, files }))
}

/// Sends `print()` output and the findings as warnings, all at once, on
/// the build file's op; a finding's place may be in a file build.envd
/// names.
async fn warn(
    client: &Client,
    entry: &Entrypoint,
    files: &BTreeMap<String, String>,
    evaluated: &Evaluated,
    findings: &[Finding],
) -> Result<(), Failure> {
    let prints = evaluated.warnings.iter().filter(|w| w.rule.is_none()).map(|w| Warning {
        digest: entry.digest.clone(),
        short: format!("{}: {}", w.span, w.message),
        detail: Vec::new(),
        url: String::new(),
        at: Some(located(&entry.source, w.span.line, w.span.end_line)),
    });
    let rules = findings.iter().map(|f| Warning {
        digest: entry.digest.clone(),
        short: short(f, &entry.source.filename),
        detail: vec![f.rule.description().to_owned()],
        url: f.rule.url(),
        at: f.span.as_ref().and_then(|s| place(&entry.source, files, s)),
    });
    let sends = prints.chain(rules).map(|warning| {
        let mut client = client.clone();
        async move { client.warn(warning).await }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent?;
    }
    Ok(())
}

/// A finding in one line, as the Dockerfile linter writes them:
/// `Rule: message (line N)`.
pub fn short(f: &Finding, build_file: &str) -> String {
    match &f.span {
        Some(s) if s.file == build_file => format!("{}: {} (line {})", f.rule, f.message, s.line),
        Some(s) => format!("{}: {} ({} line {})", f.rule, f.message, s.file, s.line),
        None => format!("{}: {}", f.rule, f.message),
    }
}

/// Where `span` is: lines of the build file, or of a context file the
/// linter read.
pub fn place(source: &SourceMap, files: &BTreeMap<String, String>, span: &Span) -> Option<Located> {
    if span.file == source.filename {
        return Some(located(source, span.line, span.end_line));
    }
    let file = context_source(files, &span.file)?;
    Some(located(&file, span.line, span.end_line))
}

/// A context file the linter read, as a source buildx can print lines of.
pub fn context_source(files: &BTreeMap<String, String>, path: &str) -> Option<Arc<SourceMap>> {
    let text = files.get(path)?;
    let language = if path.ends_with(".yaml") || path.ends_with(".yml") { "yaml" } else { "text" };
    Some(SourceMap::new(path, text.as_bytes().to_vec(), language))
}

/// Lines `start..=end` of the build file, as the gateway sends places.
pub fn located(source: &SourceMap, start: u32, end: u32) -> Located {
    Located {
        filename: source.filename.clone(),
        data: source.data.clone(),
        language: source.language.clone(),
        ranges: vec![SourceRange { start, end: end.max(start) }],
    }
}
