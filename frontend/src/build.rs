//! One build: load build.envd, evaluate it, resolve the base, lower, solve.

use std::collections::HashMap;
use std::sync::Arc;

use envd_gateway::{Client, SourceRange, Status, Warning};
use envd_lang::{EvalOptions, Plan, Span, StepKind};
use envd_llb::{Constraints, Local, SourceMap};
use envd_lower::{ImageConfig, LlbCaps, LowerOptions, ResolvedBase};

use crate::config::Config;

/// The language tag recorded with the build file's source info.
const LANGUAGE: &str = "starlark";

/// Why a build failed, and where in build.envd if anywhere.
#[derive(Debug)]
pub struct Failure {
    /// One sentence.
    pub message: String,
    /// The place in the build file.
    pub span: Option<Span>,
    /// The build file, once it was read.
    pub source: Option<Arc<SourceMap>>,
    /// BuildKit's own error, to be returned unchanged: a failed step's
    /// status carries that step's build.envd location.
    pub upstream: Option<Status>,
}

impl Failure {
    fn plain(message: impl Into<String>) -> Self {
        Self { message: message.into(), span: None, source: None, upstream: None }
    }
}

impl From<envd_gateway::Error> for Failure {
    fn from(e: envd_gateway::Error) -> Self {
        Self { upstream: e.upstream_status(), ..Self::plain(e.to_string()) }
    }
}

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
pub async fn build(config: &Config, client: &mut Client) -> Result<Outcome, Failure> {
    let (source, source_digest) = load_definition(config, client).await?;
    let with_source =
        |message: String, span: Option<Span>| Failure { message, span, source: Some(source.clone()), upstream: None };

    let text = std::str::from_utf8(&source.data)
        .map_err(|_| with_source(format!("{} is not UTF-8 text", config.filename), None))?;
    let opts =
        EvalOptions { target: config.target.clone(), build_args: config.build_args.clone(), ..Default::default() };
    let evaluated =
        evaluate_isolated(&config.filename, text, opts).await.map_err(|e| with_source(e.to_string(), e.span))?;
    for w in &evaluated.warnings {
        let warning = Warning {
            digest: source_digest.clone(),
            short: format!("{}: {}", w.span, w.message),
            source: Some((source.to_pb(), SourceRange { start: w.span.line, end: w.span.end_line })),
        };
        client.warn(warning).await?;
    }
    let plan = evaluated.plan;

    let choice = envd_lower::base_reference(&plan, &config.build_args).map_err(|e| with_source(e.message, e.span))?;
    let reference = envd_llb::source::normalize_reference(&choice.reference);
    let resolved = client
        .resolve_image(
            &reference,
            Some(config.platform.to_pb()),
            config.image_resolve_mode.as_str(),
            &format!("[internal] load metadata for {reference}"),
        )
        .await
        .map_err(|e| {
            with_source(format!("cannot resolve base image {reference}: {e}"), Some(plan.base.span.clone()))
        })?;
    let base_config = ImageConfig::parse(&resolved.config)
        .map_err(|e| with_source(format!("base image {reference}: {e}"), Some(plan.base.span.clone())))?;
    let pinned = match (resolved.digest.is_empty(), resolved.reference.contains('@')) {
        (false, false) => format!("{}@{}", resolved.reference, resolved.digest),
        _ => resolved.reference.clone(),
    };

    let env_files = load_env_files(config, client, &plan).await?;
    let installer_image = if plan.steps.iter().any(|s| matches!(s.kind, StepKind::CondaPackages { .. })) {
        crate::own_image::detect().ok()
    } else {
        None
    };
    let lower_opts = LowerOptions {
        platform: config.platform.clone(),
        source: source.clone(),
        caps: LlbCaps {
            merge_diff: client.caps().llb(envd_llb::caps::MERGE_OP) && client.caps().llb(envd_llb::caps::DIFF_OP),
        },
        no_cache: config.no_cache,
        labels: config.labels.clone(),
        resolve_mode: config.image_resolve_mode,
        session_id: config.session_id.clone(),
        context_local: config.context_local.clone(),
        dockerignore: load_dockerignore(config, client).await?,
        extra_hosts: config.extra_hosts.clone(),
        env_files,
        installer_image,
    };
    let lowered = envd_lower::lower(&plan, &ResolvedBase { reference: pinned, config: base_config }, &lower_opts)
        .map_err(|e| with_source(e.message, e.span))?;
    let marshalled = lowered.state.marshal().map_err(|e| with_source(format!("internal error: {e}"), None))?;
    let ref_id = client.solve(marshalled.definition.clone(), &config.cache_imports).await?;
    let metadata = HashMap::from([("containerimage.config".to_owned(), lowered.config.to_bytes())]);
    Ok(Outcome { ref_id, definition: marshalled.definition, metadata })
}

/// Lowers `plan` without BuildKit, for `envd-frontend check --llb`: on a
/// stand-in base (the usual PATH, no other config), with env files read
/// from the build file's directory, and returns the readable LLB dump.
pub fn lower_locally(plan: &Plan, file: &std::path::Path, source: &str) -> Result<String, envd_lower::Error> {
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    let env_files = plan
        .env_files()
        .filter_map(|p| std::fs::read_to_string(dir.join(p.as_str())).ok().map(|t| (p.as_str().to_owned(), t)))
        .collect();
    let opts = LowerOptions {
        platform: envd_llb::Platform::parse("linux/amd64").expect("a platform"),
        source: SourceMap::new("build.envd", source.as_bytes().to_vec(), LANGUAGE),
        caps: LlbCaps { merge_diff: true },
        no_cache: false,
        labels: Vec::new(),
        resolve_mode: Default::default(),
        session_id: "local".into(),
        context_local: "context".into(),
        dockerignore: Vec::new(),
        extra_hosts: Vec::new(),
        env_files,
        installer_image: Some("docker.io/aiges/envd-frontend:latest".into()),
    };
    let choice = envd_lower::base_reference(plan, &Default::default())?;
    let base = ResolvedBase {
        reference: choice.reference,
        config: ImageConfig::parse(
            br#"{"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}}"#,
        )
        .expect("a valid config"),
    };
    let lowered = envd_lower::lower(plan, &base, &opts)?;
    let marshalled = lowered
        .state
        .marshal()
        .map_err(|e| envd_lower::Error { message: format!("internal error: {e}"), span: None })?;
    Ok(envd_llb::dump::dump(&marshalled.definition))
}

/// Evaluates in a child process with hard limits (see [`crate::isolate`]),
/// off the async runtime's thread.
async fn evaluate_isolated(
    filename: &str,
    source: &str,
    opts: EvalOptions,
) -> Result<envd_lang::Evaluated, envd_lang::Error> {
    let fail = |m: String| envd_lang::Error { message: m, span: None };
    let program = std::env::current_exe().map_err(|e| fail(format!("cannot find the frontend binary: {e}")))?;
    let (filename, source) = (filename.to_owned(), source.to_owned());
    tokio::task::spawn_blocking(move || crate::isolate::evaluate(&program, &filename, &source, &opts))
        .await
        .map_err(|e| fail(format!("the build.envd evaluator stopped: {e}")))?
}

/// Reads the build file from its local, the way the Dockerfile frontend
/// reads a Dockerfile: only that file is transferred, with no content
/// comparison, under the progress name buildx users know.
async fn load_definition(config: &Config, client: &mut Client) -> Result<(Arc<SourceMap>, String), Failure> {
    let progress = format!("[internal] load build definition from {}", config.filename);
    let (digest, read) = read_local_file(
        client,
        config,
        &config.definition_local,
        config.definition_local.clone(),
        &config.filename,
        progress,
    )
    .await?;
    let data = read.map_err(|e| {
        Failure::plain(format!(
            "cannot read {} from the build's {} directory: {e}",
            config.filename, config.definition_local
        ))
    })?;
    Ok((SourceMap::new(&config.filename, data, LANGUAGE), digest))
}

/// Solves a local of the client's (`local_name`) that transfers only
/// `path`, with no content comparison, as dockerui reads a Dockerfile or a
/// `.dockerignore`, and reads `path` from it. Returns the digest of the
/// local's op (warnings attach to it) and the read's own result, which
/// callers judge differently: a missing build.envd is an error, a missing
/// `.dockerignore` is not.
async fn read_local_file(
    client: &mut Client,
    config: &Config,
    local_name: &str,
    shared_key_hint: String,
    path: &str,
    progress: String,
) -> Result<(String, Result<Vec<u8>, envd_gateway::Error>), Failure> {
    let local = Local::new(local_name)
        .session_id(&config.session_id)
        .shared_key_hint(shared_key_hint)
        .follow_paths(vec![path.to_owned()])
        .differ("none")
        .constraints(Constraints::named(progress));
    let def = local.into_state().marshal().map_err(|e| Failure::plain(format!("internal error: {e}")))?;
    let digest = def.root.clone().unwrap_or_default();
    let r = client.solve(def.definition, &[]).await?;
    Ok((digest, client.read_file(&r, path).await))
}

/// The env files of the plan's conda calls, read from the context one file
/// at a time, like the build file: the frontend checks them and turns them
/// into the conda request, so no step depends on the rest of the context.
/// A file that cannot be read is left out; lowering reports it at its call.
async fn load_env_files(
    config: &Config,
    client: &mut Client,
    plan: &Plan,
) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut files = std::collections::BTreeMap::new();
    for path in plan.env_files() {
        let path = path.as_str();
        let key_hint = format!("{}-{path}", config.context_local);
        let progress = format!("[internal] load {path}");
        if let (_, Ok(bytes)) = read_local_file(client, config, &config.context_local, key_hint, path, progress).await?
        {
            files.insert(path.to_owned(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(files)
}

/// The context's `.dockerignore` patterns, read the way the Dockerfile
/// frontend reads them: only that file is transferred.
async fn load_dockerignore(config: &Config, client: &mut Client) -> Result<Vec<String>, Failure> {
    let key_hint = format!("{}-.dockerignore", config.context_local);
    let progress = "[internal] load .dockerignore".to_owned();
    let (_, read) = read_local_file(client, config, &config.context_local, key_hint, ".dockerignore", progress).await?;
    let text = match read {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.code() == Some(envd_gateway::Code::NotFound) => return Ok(Vec::new()),
        Err(e) if e.to_string().contains("no such file") => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(dockerignore_patterns(&text))
}

/// The patterns of a `.dockerignore`: one a line, `#` comments and blank
/// lines skipped, surrounding space and a leading `/` dropped.
pub fn dockerignore_patterns(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('!') {
            Some(rest) => format!("!{}", rest.trim().trim_start_matches('/')),
            None => l.trim_start_matches('/').to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{dockerignore_patterns, lower_locally};

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

    #[test]
    fn dockerignore_lines_become_exclude_patterns() {
        let text = "# build output\n\n  /target  \n*.pyc\n! /keep.pyc\n";
        assert_eq!(dockerignore_patterns(text), ["target", "*.pyc", "!keep.pyc"]);
    }
}
