//! The one place that asks BuildKit for anything before lowering, in the
//! manner of dockerui's `ReadEntrypoint` and `MainContext`.
//!
//! [`read_entrypoint`] reads the build file and `.dockerignore` together.
//! After evaluation, [`fetch`] gets what [`envd_lower::needs`] listed —
//! the base image's config, the context files, the frontend's own image —
//! concurrently, and returns lowering's [`Inputs`]. Requests that do not
//! depend on each other go out at once over the one HTTP/2 connection
//! (each on its own clone of the client).

use std::collections::BTreeMap;
use std::sync::Arc;

use envd_gateway::Client;
use envd_lang::{ContextPath, Diagnostic};
use envd_llb::{Constraints, Local, SourceMap};
use envd_lower::{ImageConfig, Inputs, Needs, ResolvedBase};

use crate::config::Config;
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
}

/// Reads the build file and `.dockerignore`, concurrently.
pub async fn read_entrypoint(config: &Config, client: &Client) -> Result<Entrypoint, Failure> {
    let (definition, dockerignore) =
        tokio::join!(read_definition(config, client.clone()), read_dockerignore(config, client.clone()));
    let (source, digest) = definition?;
    Ok(Entrypoint { source, digest, dockerignore: dockerignore? })
}

/// Fetches what `needs` lists, concurrently: the base image's config with
/// the context files, and the `extra` files the linter reads; the own image
/// is a file of this container.
pub async fn fetch(
    config: &Config,
    client: &Client,
    needs: &Needs,
    extra: &[ContextPath],
    entry: &Entrypoint,
) -> Result<Inputs, Failure> {
    let mut files = needs.context_files.clone();
    files.extend(extra.iter().filter(|p| !needs.context_files.contains(p)).cloned());
    let (base, context_files) =
        tokio::join!(resolve_base(config, client.clone(), needs), read_context_files(config, client, &files));
    let installer_image = if needs.installer { crate::own_image::detect().ok() } else { None };
    Ok(Inputs {
        source: entry.source.clone(),
        dockerignore: entry.dockerignore.clone(),
        base: base?,
        context_files: context_files?,
        installer_image,
    })
}

/// Resolves the base image's digest and config for the build's platform.
async fn resolve_base(config: &Config, mut client: Client, needs: &Needs) -> Result<ResolvedBase, Failure> {
    let reference = envd_llb::source::normalize_reference(&needs.base.reference);
    let at_base = |message: String| Failure::from(Diagnostic::at(needs.base.span.clone(), message));
    let resolved = client
        .resolve_image(
            &reference,
            Some(config.platform.to_pb()),
            config.image_resolve_mode.as_str(),
            &format!("[internal] load metadata for {reference}"),
        )
        .await
        .map_err(|e| at_base(format!("cannot resolve base image {reference}: {e}")))?;
    let image = ImageConfig::parse(&resolved.config).map_err(|e| at_base(format!("base image {reference}: {e}")))?;
    let pinned = match (resolved.digest.is_empty(), resolved.reference.contains('@')) {
        (false, false) => format!("{}@{}", resolved.reference, resolved.digest),
        _ => resolved.reference.clone(),
    };
    Ok(ResolvedBase { reference: pinned, config: image })
}

/// Reads the build file from its local, the way the Dockerfile frontend
/// reads a Dockerfile: only that file is transferred, with no content
/// comparison, under the progress name buildx users know.
async fn read_definition(config: &Config, client: Client) -> Result<(Arc<SourceMap>, String), Failure> {
    let progress = format!("[internal] load build definition from {}", config.filename);
    let local = &config.definition_local;
    let (digest, read) = read_local_file(client, config, local, local.clone(), &config.filename, progress).await?;
    let data = read.map_err(|e| {
        Failure::from(Diagnostic::nowhere(format!(
            "cannot read {} from the build's {} directory: {e}",
            config.filename, config.definition_local
        )))
    })?;
    Ok((SourceMap::new(&config.filename, data, LANGUAGE), digest))
}

/// The context's `.dockerignore` patterns, read the way the Dockerfile
/// frontend reads them: only that file is transferred.
async fn read_dockerignore(config: &Config, client: Client) -> Result<Vec<String>, Failure> {
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

/// Context files the plan names, each read from the context on its own,
/// like the build file, and all at once: the frontend checks them (env
/// files become the conda request; the linter reads requirements files),
/// so no step depends on the rest of the context. A file that cannot be
/// read is left out; lowering reports it at its call.
pub async fn read_context_files(
    config: &Config,
    client: &Client,
    paths: &[ContextPath],
) -> Result<BTreeMap<String, String>, Failure> {
    let reads = paths.iter().map(|path| {
        let path = path.as_str();
        let key_hint = format!("{}-{path}", config.context_local);
        let progress = format!("[internal] load {path}");
        async move {
            let (_, read) =
                read_local_file(client.clone(), config, &config.context_local, key_hint, path, progress).await?;
            Ok::<_, Failure>(read.ok().map(|bytes| (path.to_owned(), String::from_utf8_lossy(&bytes).into_owned())))
        }
    });
    let mut files = BTreeMap::new();
    for read in futures_util::future::join_all(reads).await {
        files.extend(read?);
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
