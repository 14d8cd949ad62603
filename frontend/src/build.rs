//! One build, stage by stage: read the entrypoint, evaluate, ask what the
//! plan needs, fetch it, lower, solve. Each stage hands the next plain
//! data and none goes back to an earlier one. With several platforms,
//! evaluation, the context files and the checks happen once; each
//! platform has its own base, lowering and solve, all at once, and the
//! result is one ref per platform, which the exporter makes an index of.

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
/// The result metadata that holds an image's config.
const CONFIG_KEY: &str = "containerimage.config";
/// The result metadata that maps refs to platforms.
const PLATFORMS_KEY: &str = "refs.platforms";

/// One platform's solved image.
#[derive(Debug)]
pub struct Built {
    /// Its platform.
    pub platform: envd_llb::Platform,
    /// The solved result.
    pub ref_id: String,
    /// Its definition.
    pub definition: envd_llb::pb::Definition,
    /// Its image config.
    pub config: Vec<u8>,
}

/// A finished build, ready to return.
#[derive(Debug)]
pub struct Outcome {
    /// One image per platform, in the order of `--platform`.
    pub built: Vec<Built>,
    /// Whether to return them as an index (`refs`) even if there is one.
    pub multi_platform: bool,
    /// `SOURCE_DATE_EPOCH`, for the exporter.
    pub source_date_epoch: Option<i64>,
}

impl Outcome {
    /// The result metadata, as dockerui's result builder writes it:
    /// `containerimage.config` (suffixed `/<platform>` for an index) and
    /// `refs.platforms`.
    pub fn metadata(&self) -> HashMap<String, Vec<u8>> {
        let mut metadata = HashMap::new();
        for b in &self.built {
            let key = if self.multi_platform {
                format!("{CONFIG_KEY}/{}", b.platform.export_id())
            } else {
                CONFIG_KEY.to_owned()
            };
            metadata.insert(key, b.config.clone());
        }
        let platforms: Vec<serde_json::Value> = self
            .built
            .iter()
            .map(|b| {
                let mut p = serde_json::json!({ "os": b.platform.os, "architecture": b.platform.architecture });
                if !b.platform.variant.is_empty() {
                    p["variant"] = b.platform.variant.clone().into();
                }
                serde_json::json!({ "ID": b.platform.export_id(), "Platform": p })
            })
            .collect();
        metadata
            .insert(PLATFORMS_KEY.to_owned(), serde_json::json!({ "Platforms": platforms }).to_string().into_bytes());
        if let Some(epoch) = self.source_date_epoch {
            // The exporter dates the history (and with rewrite-timestamp=true,
            // the layers) by it, as for a Dockerfile.
            metadata.insert(EPOCH_KEY.to_owned(), epoch.to_string().into_bytes());
        }
        metadata
    }
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
    let inputs = inputs::fetch(config, client, plan, &needs, &envd_check::files_to_read(&evaluated), entry).await?;
    let files = &inputs[0].context_files;
    let findings = lint(config, &check, &evaluated, files);
    warn(client, entry, files, &evaluated, &findings).await?;
    warn_unused_contexts(config, client, entry, &needs).await?;
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
    let builds = config.platforms.iter().zip(&inputs).map(|(platform, inputs)| async move {
        let lowered = envd_lower::lower(plan, &config.lower_config(platform, caps), inputs)?;
        let marshalled = lowered.state.marshal().map_err(Failure::internal)?;
        let ref_id = client.clone().solve(marshalled.definition.clone(), &config.cache_imports).await.map_err(|e| {
            match Failure::from(e) {
                // A failed step: BuildKit names the process by its
                // arguments, wrapper and all; name it as the user wrote it.
                Failure::Upstream(mut status) => {
                    if let Some(m) = envd_lower::explain_failure(&lowered.scripts, &status.message) {
                        status.message = m;
                    }
                    Failure::Upstream(status)
                }
                other => other,
            }
        })?;
        Ok::<_, Failure>(Built {
            platform: platform.clone(),
            ref_id,
            definition: marshalled.definition,
            config: lowered.config.to_bytes(),
        })
    });
    let built = futures_util::future::join_all(builds).await.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome { built, multi_platform: config.multi_platform, source_date_epoch: config.source_date_epoch })
}

/// Says which `--build-context`s the build does not use: build.envd
/// takes a named context only as its base.
async fn warn_unused_contexts(
    config: &Config,
    client: &Client,
    entry: &Entrypoint,
    needs: &envd_lower::Needs,
) -> Result<(), Failure> {
    let names = inputs::base_names(needs);
    for named in config.named.unused(&names) {
        let warning = Warning {
            digest: entry.digest.clone(),
            short: format!(
                "--build-context {} is not used: a named context replaces build.envd's base, which is {}",
                named.name,
                names.join(" or ")
            ),
            detail: Vec::new(),
            url: String::new(),
            at: None,
        };
        client.clone().warn(warning).await?;
    }
    Ok(())
}

/// The build file as text (see [`envd_lang::source_text`]).
pub fn source_text(config: &Config, source: &SourceMap) -> Result<String, Failure> {
    Ok(envd_lang::source_text(&config.filename, &source.data)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn built(platform: &str) -> Built {
        Built {
            platform: envd_llb::Platform::parse(platform).unwrap(),
            ref_id: format!("ref-{platform}"),
            definition: Default::default(),
            config: platform.as_bytes().to_vec(),
        }
    }

    #[test]
    fn several_platforms_give_an_index_with_a_config_each() {
        let out = Outcome {
            built: vec![built("linux/amd64"), built("linux/arm64/v8")],
            multi_platform: true,
            source_date_epoch: Some(1),
        };
        let m = out.metadata();
        assert_eq!(m["containerimage.config/linux/amd64"], b"linux/amd64");
        assert_eq!(m["containerimage.config/linux/arm64"], b"linux/arm64/v8");
        assert!(!m.contains_key("containerimage.config"));
        let platforms: serde_json::Value = serde_json::from_slice(&m["refs.platforms"]).unwrap();
        assert_eq!(
            platforms,
            serde_json::json!({"Platforms": [
                {"ID": "linux/amd64", "Platform": {"os": "linux", "architecture": "amd64"}},
                {"ID": "linux/arm64", "Platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            ]})
        );
        assert_eq!(m["source.date.epoch"], b"1");
    }

    #[test]
    fn one_platform_gives_one_config() {
        let out = Outcome { built: vec![built("linux/amd64")], multi_platform: false, source_date_epoch: None };
        let m = out.metadata();
        assert_eq!(m["containerimage.config"], b"linux/amd64");
        assert!(m.contains_key("refs.platforms") && !m.contains_key("source.date.epoch"));
    }
}
