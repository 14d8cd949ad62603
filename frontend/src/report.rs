//! How places and findings reach the user: lines of the build file or of a
//! context file as BuildKit's source ranges, findings in one line, and the
//! warnings of a build. Shared by a build, `--call` and the local check,
//! so none of them imports another.

use std::collections::BTreeMap;
use std::sync::Arc;

use envd_check::Finding;
use envd_gateway::{Client, Located, SourceRange, Warning};
use envd_lang::{Evaluated, Span};
use envd_llb::SourceMap;

use crate::failure::Failure;

/// The build file as text (see [`envd_lang::source_text`]).
pub fn source_text(filename: &str, source: &SourceMap) -> Result<String, Failure> {
    Ok(envd_lang::source_text(filename, &source.data)?)
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

/// Sends `print()` output and the findings as warnings, all at once, on
/// the build file's op (`digest`); a finding's place may be in a file
/// build.envd names.
pub async fn warn(
    client: &Client,
    source: &SourceMap,
    digest: &str,
    files: &BTreeMap<String, String>,
    evaluated: &Evaluated,
    findings: &[Finding],
) -> Result<(), Failure> {
    let prints = evaluated.warnings.iter().filter(|w| w.rule.is_none()).map(|w| Warning {
        digest: digest.to_owned(),
        short: format!("{}: {}", w.span, w.message),
        detail: Vec::new(),
        url: String::new(),
        at: Some(located(source, w.span.line, w.span.end_line)),
    });
    let rules = findings.iter().map(|f| Warning {
        digest: digest.to_owned(),
        short: short(f, &source.filename),
        detail: vec![f.rule.description().to_owned()],
        url: f.rule.url(),
        at: f.span.as_ref().and_then(|s| place(source, files, s)),
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
