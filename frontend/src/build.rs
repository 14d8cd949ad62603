//! One build, stage by stage: read the entrypoint, evaluate, ask what the
//! plan needs, fetch it, lower, solve. Each stage hands the next plain
//! data and none goes back to an earlier one.

use std::collections::HashMap;

use envd_gateway::{Client, Located, SourceRange, Warning};
use envd_lang::{EvalOptions, Evaluated};
use envd_llb::SourceMap;
use envd_lower::LlbCaps;

use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{self, Entrypoint};

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
    let evaluated = evaluate(config, &entry.source).await?;
    warn(client, entry, &evaluated).await?;
    let plan = evaluated.plan;
    let needs = envd_lower::needs(&plan, &config.base_overrides)?;
    let inputs = inputs::fetch(config, client, &needs, entry).await?;
    let caps = LlbCaps {
        merge_diff: client.caps().llb(envd_llb::caps::MERGE_OP) && client.caps().llb(envd_llb::caps::DIFF_OP),
    };
    let lowered = envd_lower::lower(&plan, &config.lower_config(caps), &inputs)?;
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
    let metadata = HashMap::from([("containerimage.config".to_owned(), lowered.config.to_bytes())]);
    Ok(Outcome { ref_id, definition: marshalled.definition, metadata })
}

/// Evaluates the build file in a child process with hard limits (see
/// [`crate::isolate`]), off the async runtime's thread.
async fn evaluate(config: &Config, source: &SourceMap) -> Result<Evaluated, Failure> {
    let text = std::str::from_utf8(&source.data)
        .map_err(|_| envd_lang::Diagnostic::nowhere(format!("{} is not UTF-8 text", config.filename)))?
        .to_owned();
    let opts =
        EvalOptions { target: config.target.clone(), build_args: config.build_args.clone(), ..Default::default() };
    let program =
        std::env::current_exe().map_err(|e| Failure::internal(format!("cannot find the frontend binary: {e}")))?;
    let filename = config.filename.clone();
    let evaluated = tokio::task::spawn_blocking(move || crate::isolate::evaluate(&program, &filename, &text, &opts))
        .await
        .map_err(|e| Failure::internal(format!("the build.envd evaluator stopped: {e}")))?;
    Ok(evaluated?)
}

/// Sends the evaluation's warnings, all at once, on the build file's op.
async fn warn(client: &Client, entry: &Entrypoint, evaluated: &Evaluated) -> Result<(), Failure> {
    let sends = evaluated.warnings.iter().map(|w| {
        let warning = Warning {
            digest: entry.digest.clone(),
            short: format!("{}: {}", w.span, w.message),
            at: Some(located(&entry.source, w.span.line, w.span.end_line)),
        };
        let mut client = client.clone();
        async move { client.warn(warning).await }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent?;
    }
    Ok(())
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
