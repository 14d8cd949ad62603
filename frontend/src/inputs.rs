//! The one place that asks BuildKit for anything before lowering, in the
//! manner of dockerui's `ReadEntrypoint` and `MainContext`.
//!
//! [`read_entrypoint`] reads the build file and `.dockerignore` together;
//! from a remote context (git, tarball) it builds the context's state,
//! solves it once and reads the build file from it, with no
//! `.dockerignore`, as dockerui does. That state is the context lowering
//! gets: the main context is decided here, once. During the analysis,
//! [`Fetch`] reads the context files and, at the same time, gets the rest
//! of what [`envd_lower::needs`] listed — the base image's config for
//! each platform (or the named context that replaces it), the frontend's
//! own image — and then gives lowering's [`Inputs`], one per platform.
//! Requests that do not depend on each other go out at once over the one
//! HTTP/2 connection (each on its own clone of the client).

use std::collections::BTreeMap;
use std::sync::Arc;

use envd_gateway::Client;
use envd_lang::{ContextPath, Diagnostic};
use envd_llb::{Constraints, Git, Local, Platform, SourceMap, State};
use envd_lower::{BaseSource, ContextSource, ImageConfig, Inputs, Needs, ResolvedBase};

use crate::analysis::{ContextFiles, ReadFiles};
use crate::config::contexts::{Named, NamedContext};
use crate::config::{Config, MainContext};
use crate::failure::Failure;

/// The language tag recorded with the build file's source info.
pub const LANGUAGE: &str = "starlark";

/// What is read before evaluation.
#[derive(Debug, Clone)]
pub struct Entrypoint {
    /// The build file.
    pub source: Arc<SourceMap>,
    /// The digest of the op that loaded it: warnings attach to it.
    pub digest: String,
    /// The context's `.dockerignore` patterns.
    pub dockerignore: Vec<String>,
    /// The build context as lowering takes it: the client's local, or the
    /// remote context's state, built once here.
    pub context: ContextSource,
    /// The solved remote context, which context files are read from.
    pub remote: Option<String>,
}

/// Reads the build file and `.dockerignore`, concurrently; or, for a
/// remote context, solves it once and reads the build file from it.
pub async fn read_entrypoint(config: &Config, client: &Client) -> Result<Entrypoint, Failure> {
    let name = match &config.context {
        MainContext::Local { name } => name,
        remote => return read_remote_entrypoint(config, client, remote).await,
    };
    let (definition, dockerignore) =
        tokio::join!(read_definition(config, client.clone()), read_dockerignore(config, client.clone()));
    let (source, digest) = definition?;
    let context = ContextSource::Local(name.clone());
    Ok(Entrypoint { source, digest, dockerignore: dockerignore?, context, remote: None })
}

/// The entrypoint of a git or tarball context: the build file from the
/// context itself unless buildx sent it as a local, and no
/// `.dockerignore`, as dockerui does.
async fn read_remote_entrypoint(
    config: &Config,
    client: &Client,
    context: &MainContext,
) -> Result<Entrypoint, Failure> {
    let state = remote_state(context);
    let def = state.marshal().map_err(Failure::internal)?;
    let digest = def.root.clone().unwrap_or_default();
    let remote = client.clone().solve(def.definition, &[]).await?;
    let source = match &config.definition_local {
        Some(_) => read_definition(config, client.clone()).await?.0,
        None => {
            let data = client.clone().read_file(&remote, &config.filename).await.map_err(|e| {
                Diagnostic::nowhere(format!("cannot read {} from {}: {e}", config.filename, context.describe()))
            })?;
            SourceMap::new(&config.filename, data, LANGUAGE)
        }
    };
    let context = ContextSource::Remote(state);
    Ok(Entrypoint { source, digest, dockerignore: Vec::new(), context, remote: Some(remote) })
}

/// A git repository or a tarball as a state BuildKit fetches: dockerui's
/// `DetectGitContext` and `DetectHTTPContext`.
fn remote_state(context: &MainContext) -> State {
    match context {
        MainContext::Git { url, reference, subdir, keep_git_dir } => Git::new(url)
            .reference(reference)
            .subdir(subdir)
            .keep_git_dir(*keep_git_dir)
            .constraints(Constraints::named(format!("[internal] load git source {}", context.describe())))
            .into_state(),
        MainContext::Tarball { url } => {
            let file = envd_llb::http(
                url,
                "context",
                Constraints::named(format!("[internal] load remote build context {url}")),
            );
            let opts = envd_llb::CopyOptions { attempt_unpack: true, create_dest_path: true, ..Default::default() };
            State::scratch().file(
                vec![envd_llb::FileAction::copy(&file, "/context", "/", opts)],
                Constraints::named("[internal] unpack the build context"),
            )
        }
        MainContext::Local { .. } => unreachable!("read_entrypoint reads a local context itself"),
    }
}

/// The build's way of reading context files: with them, concurrently,
/// it resolves the base image's config for each platform (or the named
/// context that replaces it), and keeps those for [`Fetch::inputs`].
pub struct Fetch<'a> {
    config: &'a Config,
    client: &'a Client,
    entry: &'a Entrypoint,
    bases: Vec<Result<ResolvedBase, Failure>>,
    installer_image: Option<String>,
}

impl<'a> Fetch<'a> {
    /// Fetches for a build of `config` from `entry`.
    pub fn new(config: &'a Config, client: &'a Client, entry: &'a Entrypoint) -> Self {
        Self { config, client, entry, bases: Vec::new(), installer_image: None }
    }

    /// Lowering's [`Inputs`], one per platform of the config, in its
    /// order, with the context files the analysis read.
    pub fn inputs(self, context_files: &BTreeMap<String, String>) -> Result<Vec<Inputs>, Failure> {
        let entry = self.entry;
        let installer_image = self.installer_image;
        self.bases
            .into_iter()
            .map(|base| {
                Ok(Inputs {
                    source: entry.source.clone(),
                    dockerignore: entry.dockerignore.clone(),
                    base: base?,
                    context: entry.context.clone(),
                    context_files: context_files.clone(),
                    installer_image: installer_image.clone(),
                    locks: BTreeMap::new(),
                })
            })
            .collect()
    }
}

impl ReadFiles for Fetch<'_> {
    async fn read(&mut self, needs: &Needs, paths: &[ContextPath]) -> Result<ContextFiles, Failure> {
        let (config, client) = (self.config, self.client);
        let bases = futures_util::future::join_all(
            config.platforms.iter().map(|p| resolve_base(config, client.clone(), needs, p)),
        );
        let (bases, files) = tokio::join!(bases, read_context_files(config, client, self.entry, paths));
        self.bases = bases;
        // The frontend's own image, whose /bin carries the conda installer
        // and uv: a file of this container.
        self.installer_image = if needs.installer { crate::own_image::detect().ok() } else { None };
        files
    }
}

/// The way `--call check` reads context files: those alone, no base.
pub struct ContextReader<'a> {
    config: &'a Config,
    client: &'a Client,
    entry: &'a Entrypoint,
}

impl<'a> ContextReader<'a> {
    /// Reads for `config` from `entry`.
    pub fn new(config: &'a Config, client: &'a Client, entry: &'a Entrypoint) -> Self {
        Self { config, client, entry }
    }
}

impl ReadFiles for ContextReader<'_> {
    async fn read(&mut self, _needs: &Needs, paths: &[ContextPath]) -> Result<ContextFiles, Failure> {
        read_context_files(self.config, self.client, self.entry, paths).await
    }
}

/// The lock text of every step `lowered` resolves, by plan step: each
/// resolve step solved (with the build's cache imports, so a fresh runner
/// finds it in the registry cache), all at once, and its lock file read.
/// A failed resolve fails as the step that made it; what the lock says is
/// lowering's to read.
pub async fn resolve_locks(
    client: &Client,
    lowered: &envd_lower::Lowered,
    cache_imports: &[envd_gateway::CacheImport],
) -> Result<BTreeMap<(usize, &'static str), String>, Failure> {
    let reads = lowered.resolves.iter().map(|r| async move {
        let def = r.state.marshal().map_err(Failure::internal)?;
        let output = crate::solve::solve(client, def.definition, cache_imports, &lowered.scripts).await?;
        let at = |e: String| Failure::from(Diagnostic::at(r.span.clone(), e));
        let bytes = client
            .clone()
            .read_file(&output, r.file)
            .await
            .map_err(|e| at(format!("the resolve step wrote no {}: {e}", r.file)))?;
        let text = String::from_utf8(bytes).map_err(|_| at(format!("the resolved {} is not UTF-8", r.file)))?;
        Ok::<_, Failure>((r.key(), text))
    });
    futures_util::future::join_all(reads).await.into_iter().collect()
}

/// The names a named context may replace the plan's base by: `aiges_cpu`
/// or `aiges_gpu`, then the reference itself, as a Dockerfile's `FROM`.
pub fn base_names(needs: &Needs) -> Vec<&str> {
    needs.base.alias.into_iter().chain([needs.base.reference.as_str()]).collect()
}

/// Resolves the base image's digest and config for `platform`, from the
/// named context that replaces it if there is one.
async fn resolve_base(
    config: &Config,
    mut client: Client,
    needs: &Needs,
    platform: &Platform,
) -> Result<ResolvedBase, Failure> {
    if let Some(named) = config.named.lookup(&base_names(needs), platform) {
        return resolve_named(config, client, needs, platform, named).await;
    }
    let reference = envd_llb::source::normalize_reference(&needs.base.reference);
    let at_base = |message: String| Failure::from(Diagnostic::at(needs.base.span.clone(), message));
    let resolved = client
        .resolve_image(
            &reference,
            Some(platform.to_pb()),
            config.image_resolve_mode.as_str(),
            &format!("{} load metadata for {reference}", internal(config, platform)),
        )
        .await
        .map_err(|e| at_base(format!("cannot resolve base image {reference} for {platform}: {e}")))?;
    image_base(needs, resolved, BaseSource::Image, None)
}

/// The base a named context stands for.
async fn resolve_named(
    config: &Config,
    mut client: Client,
    needs: &Needs,
    platform: &Platform,
    named: &Named,
) -> Result<ResolvedBase, Failure> {
    let span = &needs.base.span;
    let key = Some(named.key.clone());
    let cannot = |what: &str, e: envd_gateway::Error| {
        Failure::from(Diagnostic::at(
            span.clone(),
            format!("cannot resolve {what} of --build-context {} for {platform}: {e}", named.key),
        ))
    };
    match &named.context {
        NamedContext::Image(reference) => {
            let reference = envd_llb::source::normalize_reference(reference);
            let log = format!("{} load metadata for {reference} ({})", internal(config, platform), named.key);
            let resolved = client
                .resolve_image(&reference, Some(platform.to_pb()), config.image_resolve_mode.as_str(), &log)
                .await
                .map_err(|e| cannot(&reference, e))?;
            image_base(needs, resolved, BaseSource::Image, key)
        }
        NamedContext::OciLayout { store, digest } => {
            // As dockerui: the context's name with the digest; only the
            // digest selects the image in the client's store.
            let reference = format!("{}@{digest}", untagged(&envd_llb::source::normalize_reference(&named.name)));
            let log = format!("{} load metadata for the OCI layout of {}", internal(config, platform), named.key);
            let resolved = client
                .resolve_oci_layout(&reference, &config.session_id, store, Some(platform.to_pb()), &log)
                .await
                .map_err(|e| cannot("the OCI layout", e))?;
            let source = BaseSource::OciLayout { session: config.session_id.clone(), store: store.clone() };
            image_base(needs, resolved, source, key)
        }
        NamedContext::Local { name, session, shared_key } => {
            // A directory has no image config: the empty image's, as a
            // Dockerfile `FROM` of a local context gets.
            let empty = serde_json::json!({
                "architecture": platform.architecture,
                "os": platform.os,
                "config": { "Env": [format!("PATH={}", envd_lower::well_known::DEFAULT_PATH)], "WorkingDir": "/" },
                "rootfs": { "type": "layers", "diff_ids": [] },
            });
            Ok(ResolvedBase {
                reference: named.key.clone(),
                config: ImageConfig::parse(empty.to_string().as_bytes()).map_err(Failure::internal)?,
                source: BaseSource::Local {
                    name: name.clone(),
                    session: session.clone(),
                    shared_key: shared_key.clone(),
                },
                named_context: key,
                aiges_cuda: needs.base.cuda.clone(),
            })
        }
    }
}

/// The progress prefix of a helper vertex, as the Dockerfile frontend
/// writes it: `[internal]`, or `[linux/arm64 internal]` when a build has
/// several platforms.
fn internal(config: &Config, platform: &Platform) -> String {
    if config.platforms.len() > 1 {
        format!("[{} internal]", platform.export_id())
    } else {
        "[internal]".to_owned()
    }
}

/// A reference without its tag.
fn untagged(reference: &str) -> &str {
    let last = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last..].find(':') {
        Some(i) => &reference[..last + i],
        None => reference,
    }
}

/// A resolved image as the base: pinned to its digest, with its config.
fn image_base(
    needs: &Needs,
    resolved: envd_gateway::ResolvedImage,
    source: BaseSource,
    named_context: Option<String>,
) -> Result<ResolvedBase, Failure> {
    let reference = &resolved.reference;
    let image = ImageConfig::parse(&resolved.config)
        .map_err(|e| Failure::from(Diagnostic::at(needs.base.span.clone(), format!("base image {reference}: {e}"))))?;
    let pinned = match (resolved.digest.is_empty(), reference.contains('@')) {
        (false, false) => format!("{reference}@{}", resolved.digest),
        _ => reference.clone(),
    };
    Ok(ResolvedBase { reference: pinned, config: image, source, named_context, aiges_cuda: needs.base.cuda.clone() })
}

/// Reads the build file from its local, the way the Dockerfile frontend
/// reads a Dockerfile: only that file is transferred, with no content
/// comparison, under the progress name buildx users know.
async fn read_definition(config: &Config, client: Client) -> Result<(Arc<SourceMap>, String), Failure> {
    let progress = format!("[internal] load build definition from {}", config.filename);
    let local = config.definition_local.as_deref().unwrap_or("dockerfile");
    let (digest, read) = read_local_file(client, config, local, local.to_owned(), &config.filename, progress).await?;
    let data = read.map_err(|e| {
        Failure::from(Diagnostic::nowhere(format!(
            "cannot read {} from the build's {local} directory: {e}",
            config.filename
        )))
    })?;
    Ok((SourceMap::new(&config.filename, data, LANGUAGE), digest))
}

/// The context's `.dockerignore` patterns, read the way the Dockerfile
/// frontend reads them: only that file is transferred.
async fn read_dockerignore(config: &Config, client: Client) -> Result<Vec<String>, Failure> {
    let Some(local) = config.context.local_name() else { return Ok(Vec::new()) };
    let key_hint = format!("{local}-.dockerignore");
    let progress = "[internal] load .dockerignore".to_owned();
    let (_, read) = read_local_file(client, config, local, key_hint, ".dockerignore", progress).await?;
    let text = match read {
        Ok(bytes) => envd_conda::text::decode(&bytes)
            .map_err(|e| Diagnostic::nowhere(format!(".dockerignore {e}")))?
            .into_owned(),
        Err(e) if e.code() == Some(envd_gateway::Code::NotFound) => return Ok(Vec::new()),
        Err(e) if e.to_string().contains("no such file") => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(dockerignore_patterns(&text))
}

/// Context files the plan names, each read from the context on its own,
/// like the build file, and all at once: the frontend checks them (env
/// files become the conda request; the linter reads requirements files),
/// so no step depends on the rest of the context. From a remote context
/// they are read from its one solved ref. A file that cannot be read is
/// left out; lowering reports it at its call.
async fn read_context_files(
    config: &Config,
    client: &Client,
    entry: &Entrypoint,
    paths: &[ContextPath],
) -> Result<ContextFiles, Failure> {
    let reads = paths.iter().map(|path| {
        let path = path.as_str();
        async move {
            let read = match (&entry.remote, config.context.local_name()) {
                (Some(remote), _) => client.clone().read_file(remote, path).await,
                (None, Some(local)) => {
                    let key_hint = format!("{local}-{path}");
                    let progress = format!("[internal] load {path}");
                    read_local_file(client.clone(), config, local, key_hint, path, progress).await?.1
                }
                (None, None) => unreachable!("a remote context was solved when the entrypoint was read"),
            };
            Ok::<_, Failure>(read.ok().map(|bytes| (path.to_owned(), bytes)))
        }
    });
    let mut files = ContextFiles::default();
    for read in futures_util::future::join_all(reads).await {
        if let Some((path, bytes)) = read? {
            files.insert(path, &bytes);
        }
    }
    Ok(files)
}

/// Solves a local of the client's (`local_name`) that transfers only
/// `path`, with no content comparison, as dockerui reads a Dockerfile or a
/// `.dockerignore`, and reads `path` from it. Returns the digest of the
/// local's op (warnings attach to it) and the read's own result, which
/// callers judge differently: a missing build.envd is an error, a missing
/// `.dockerignore` is not.
async fn read_local_file(
    mut client: Client,
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
    let def = local.into_state().marshal().map_err(Failure::internal)?;
    let digest = def.root.clone().unwrap_or_default();
    let r = client.solve(def.definition, &[]).await?;
    Ok((digest, client.read_file(&r, path).await))
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
    use super::dockerignore_patterns;

    #[test]
    fn dockerignore_lines_become_exclude_patterns() {
        let text = "# build output\n\n  /target  \n*.pyc\n! /keep.pyc\n";
        assert_eq!(dockerignore_patterns(text), ["target", "*.pyc", "!keep.pyc"]);
    }
}
