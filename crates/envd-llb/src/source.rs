//! Source ops: images from a registry or an OCI layout of the client's,
//! directories from the client, git repositories and files over HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::constraints::Constraints;
use crate::error::Result;
use crate::state::{Platform, State};
use crate::vertex::{Output, Vertex};
use crate::{caps, pb};

/// How BuildKit resolves an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolveMode {
    /// BuildKit's default: the worker decides.
    #[default]
    Default,
    /// Always ask the registry.
    ForcePull,
    /// Use a local image when the worker has one.
    PreferLocal,
}

impl ResolveMode {
    /// The value BuildKit uses in `image.resolvemode` and in resolve requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::ForcePull => "pull",
            Self::PreferLocal => "local",
        }
    }
}

/// A `docker-image://` source.
#[derive(Debug, Clone)]
pub struct Image {
    reference: String,
    resolve_mode: ResolveMode,
    platform: Option<Platform>,
    constraints: Constraints,
}

impl Image {
    /// An image source for `reference`, normalised the way BuildKit does:
    /// a bare `name` becomes `docker.io/library/name:latest`.
    pub fn new(reference: &str) -> Self {
        Self {
            reference: normalize_reference(reference),
            resolve_mode: ResolveMode::Default,
            platform: None,
            constraints: Constraints::default(),
        }
    }

    /// Sets the resolve mode.
    pub fn resolve_mode(mut self, mode: ResolveMode) -> Self {
        self.resolve_mode = mode;
        self
    }

    /// Sets the platform to pull.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Sets the op's constraints (progress name, location).
    pub fn constraints(mut self, c: Constraints) -> Self {
        self.constraints = c;
        self
    }

    /// The normalised reference.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// A state whose root is this image.
    pub fn into_state(self) -> State {
        let platform = self.platform.clone();
        on_platform(Arc::new(self), platform)
    }
}

/// A state whose root is `source`'s output, built for `platform` if one is
/// given, so that later ops inherit it.
fn on_platform(source: Arc<dyn Vertex>, platform: Option<Platform>) -> State {
    let state = State::from_output(Output::new(source, 0));
    match platform {
        Some(p) => state.with_platform(p),
        None => state,
    }
}

impl Vertex for Image {
    fn inputs(&self) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self) -> Result<()> {
        if self.reference.is_empty() {
            return Err(crate::error::Error::Invalid { op: "image source", reason: "empty reference".into() });
        }
        Ok(())
    }

    fn marshal(&self, _inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        let mut attrs = BTreeMap::new();
        let mut used = vec![caps::SOURCE_IMAGE];
        if self.resolve_mode != ResolveMode::Default {
            attrs.insert("image.resolvemode".to_owned(), self.resolve_mode.as_str().to_owned());
            used.push(caps::SOURCE_IMAGE_RESOLVE_MODE);
        }
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: format!("docker-image://{}", self.reference),
                attrs,
            })),
            platform: self.platform.as_ref().map(Platform::to_pb),
            ..Default::default()
        };
        Ok((op, used))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

/// Expands a short image reference to the fully qualified form BuildKit
/// uses in cache keys, so `alpine` and `docker.io/library/alpine:latest`
/// give the same op.
pub fn normalize_reference(reference: &str) -> String {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let has_tag = last.contains(':');
    let first = name.split('/').next().unwrap_or(name);
    let has_domain = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut out = String::new();
    if !has_domain {
        out.push_str("docker.io/");
        if !name.contains('/') {
            out.push_str("library/");
        }
    }
    out.push_str(name);
    if !has_tag && digest.is_none() {
        out.push_str(":latest");
    }
    if let Some(d) = digest {
        out.push('@');
        out.push_str(d);
    }
    out
}

/// A `local://` source: files the client (buildx) sends over its session.
#[derive(Debug, Clone)]
pub struct Local {
    name: String,
    session_id: Option<String>,
    shared_key_hint: Option<String>,
    include_patterns: Vec<String>,
    exclude_patterns: Vec<String>,
    follow_paths: Vec<String>,
    differ: Option<String>,
    constraints: Constraints,
}

impl Local {
    /// The local directory buildx calls `name` (`context`, `dockerfile`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            session_id: None,
            shared_key_hint: None,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            follow_paths: Vec::new(),
            differ: None,
            constraints: Constraints::default(),
        }
    }

    /// The session that serves the files.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Lets transfers of the same directory share state across builds.
    pub fn shared_key_hint(mut self, hint: impl Into<String>) -> Self {
        self.shared_key_hint = Some(hint.into());
        self
    }

    /// Only these paths (gitignore-style patterns) are sent.
    pub fn include_patterns(mut self, p: Vec<String>) -> Self {
        self.include_patterns = p;
        self
    }

    /// These paths are never sent (`.dockerignore`).
    pub fn exclude_patterns(mut self, p: Vec<String>) -> Self {
        self.exclude_patterns = p;
        self
    }

    /// Symlinks on these paths are followed when sending.
    pub fn follow_paths(mut self, p: Vec<String>) -> Self {
        self.follow_paths = p;
        self
    }

    /// How changed files are detected: `metadata` (default) or `none`.
    pub fn differ(mut self, d: impl Into<String>) -> Self {
        self.differ = Some(d.into());
        self
    }

    /// Sets the op's constraints.
    pub fn constraints(mut self, c: Constraints) -> Self {
        self.constraints = c;
        self
    }

    /// A state whose root is this directory.
    pub fn into_state(self) -> State {
        State::from_output(Output::new(Arc::new(self), 0))
    }
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("a list of strings always serialises")
}

impl Vertex for Local {
    fn inputs(&self) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(crate::error::Error::Invalid { op: "local source", reason: "empty name".into() });
        }
        Ok(())
    }

    fn marshal(&self, _inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        let mut attrs = BTreeMap::new();
        let mut used = vec![caps::SOURCE_LOCAL];
        if let Some(s) = &self.session_id {
            attrs.insert("local.session".to_owned(), s.clone());
            used.push(caps::SOURCE_LOCAL_SESSION_ID);
        }
        if let Some(h) = &self.shared_key_hint {
            attrs.insert("local.sharedkeyhint".to_owned(), h.clone());
            used.push(caps::SOURCE_LOCAL_SHARED_KEY_HINT);
        }
        if !self.include_patterns.is_empty() {
            attrs.insert("local.includepattern".to_owned(), json_list(&self.include_patterns));
            used.push(caps::SOURCE_LOCAL_INCLUDE_PATTERNS);
        }
        if !self.exclude_patterns.is_empty() {
            attrs.insert("local.excludepatterns".to_owned(), json_list(&self.exclude_patterns));
            used.push(caps::SOURCE_LOCAL_EXCLUDE_PATTERNS);
        }
        if !self.follow_paths.is_empty() {
            attrs.insert("local.followpaths".to_owned(), json_list(&self.follow_paths));
            used.push(caps::SOURCE_LOCAL_FOLLOW_PATHS);
        }
        if let Some(d) = &self.differ {
            attrs.insert("local.differ".to_owned(), d.clone());
            used.push(caps::SOURCE_LOCAL_DIFFER);
        }
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp { identifier: format!("local://{}", self.name), attrs })),
            ..Default::default()
        };
        Ok((op, used))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

/// A source op that is its identifier and attributes, and nothing else to
/// build: git, HTTP and OCI layout sources.
#[derive(Debug, Clone)]
struct Plain {
    identifier: String,
    attrs: BTreeMap<String, String>,
    caps: Vec<&'static str>,
    platform: Option<Platform>,
    constraints: Constraints,
}

impl Plain {
    fn into_state(self) -> State {
        let platform = self.platform.clone();
        on_platform(Arc::new(self), platform)
    }
}

impl Vertex for Plain {
    fn inputs(&self) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn marshal(&self, _inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: self.identifier.clone(),
                attrs: self.attrs.clone(),
            })),
            platform: self.platform.as_ref().map(Platform::to_pb),
            ..Default::default()
        };
        Ok((op, self.caps.clone()))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

/// A git repository at a ref, or one directory of it: BuildKit clones it
/// on the daemon's side.
#[derive(Debug, Clone)]
pub struct Git {
    url: String,
    reference: String,
    subdir: String,
    keep_git_dir: bool,
    constraints: Constraints,
}

/// The secrets BuildKit's git source reads for HTTP authentication, as
/// for a Dockerfile's git context: `--secret id=GIT_AUTH_TOKEN`.
const GIT_AUTH_TOKEN: &str = "GIT_AUTH_TOKEN";
const GIT_AUTH_HEADER: &str = "GIT_AUTH_HEADER";

impl Git {
    /// The repository at `url` (`https://`, `git://`, `ssh://` or
    /// `user@host:path`), without a `#fragment`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            reference: String::new(),
            subdir: String::new(),
            keep_git_dir: false,
            constraints: Constraints::default(),
        }
    }

    /// A branch, tag or commit; "" for the default branch.
    pub fn reference(mut self, r: impl Into<String>) -> Self {
        self.reference = r.into();
        self
    }

    /// Only this directory of the repository, as the root.
    pub fn subdir(mut self, d: impl Into<String>) -> Self {
        self.subdir = d.into();
        self
    }

    /// Keeps the `.git` directory (`BUILDKIT_CONTEXT_KEEP_GIT_DIR`).
    pub fn keep_git_dir(mut self, keep: bool) -> Self {
        self.keep_git_dir = keep;
        self
    }

    /// Sets the op's constraints.
    pub fn constraints(mut self, c: Constraints) -> Self {
        self.constraints = c;
        self
    }

    /// The identifier BuildKit expects: `git://host/path#ref:subdir`,
    /// the scheme and any user dropped (the full URL is an attribute).
    fn identifier(&self) -> String {
        let rest = match self.url.split_once("://") {
            Some((_, rest)) => rest.to_owned(),
            // scp-like `git@host:path`
            None => self.url.replacen(':', "/", 1),
        };
        let rest = match rest.split_once('/') {
            Some((host, path)) => {
                format!("{}/{}", host.rsplit('@').next().unwrap_or(host), path.trim_start_matches('/'))
            }
            None => rest.rsplit('@').next().unwrap_or(&rest).to_owned(),
        };
        let mut id = format!("git://{rest}");
        if !self.reference.is_empty() || !self.subdir.is_empty() {
            id.push('#');
            id.push_str(&self.reference);
            if !self.subdir.is_empty() {
                id.push(':');
                id.push_str(&self.subdir);
            }
        }
        id
    }

    /// A state whose root is the checkout.
    pub fn into_state(self) -> State {
        let mut attrs = BTreeMap::from([
            ("git.fullurl".to_owned(), self.url.clone()),
            ("git.authtokensecret".to_owned(), GIT_AUTH_TOKEN.to_owned()),
            ("git.authheadersecret".to_owned(), GIT_AUTH_HEADER.to_owned()),
        ]);
        let mut caps = vec![caps::SOURCE_GIT, caps::SOURCE_GIT_FULL_URL];
        if self.keep_git_dir {
            attrs.insert("git.keepgitdir".to_owned(), "true".to_owned());
            caps.push(caps::SOURCE_GIT_KEEP_DIR);
        }
        Plain { identifier: self.identifier(), attrs, caps, platform: None, constraints: self.constraints }.into_state()
    }
}

/// A file fetched over HTTP(S), saved as `filename` at the root.
pub fn http(url: &str, filename: &str, constraints: Constraints) -> State {
    let attrs = BTreeMap::from([("http.filename".to_owned(), filename.to_owned())]);
    Plain { identifier: url.to_owned(), attrs, caps: vec![caps::SOURCE_HTTP], platform: None, constraints }.into_state()
}

/// An image from an OCI layout the client serves over its session
/// (`--build-context name=oci-layout://dir`). `reference` carries the
/// digest; only the digest selects the image in the store.
pub fn oci_layout(reference: &str, session_id: &str, store_id: &str, platform: Platform, c: Constraints) -> State {
    let attrs = BTreeMap::from([
        ("oci.session".to_owned(), session_id.to_owned()),
        ("oci.store".to_owned(), store_id.to_owned()),
    ]);
    Plain {
        identifier: format!("oci-layout://{reference}"),
        attrs,
        caps: vec![caps::SOURCE_OCI_LAYOUT],
        platform: Some(platform),
        constraints: c,
    }
    .into_state()
}

/// The short name a reference goes by, as BuildKit names named contexts:
/// `docker.io/library/alpine:latest` is `alpine`, and a `:latest` tag is
/// dropped.
pub fn familiar_reference(reference: &str) -> String {
    let full = normalize_reference(reference);
    let short = full.strip_prefix("docker.io/library/").or_else(|| full.strip_prefix("docker.io/")).unwrap_or(&full);
    short.strip_suffix(":latest").unwrap_or(short).to_owned()
}

#[cfg(test)]
mod tests {
    use super::normalize_reference as n;
    use super::*;

    #[test]
    fn git_identifiers_drop_scheme_and_user_and_carry_ref_and_subdir() {
        let id = |g: Git| g.identifier();
        assert_eq!(id(Git::new("https://example.com/org/repo.git")), "git://example.com/org/repo.git");
        assert_eq!(
            id(Git::new("http://172.17.0.1:8080/r.git").reference("v1").subdir("svc")),
            "git://172.17.0.1:8080/r.git#v1:svc"
        );
        assert_eq!(id(Git::new("git@github.com:org/repo.git").reference("main")), "git://github.com/org/repo.git#main");
        assert_eq!(id(Git::new("ssh://git@host/repo").subdir("a/b")), "git://host/repo#:a/b");
    }

    #[test]
    fn familiar_names_are_what_named_contexts_are_keyed_by() {
        assert_eq!(familiar_reference("alpine"), "alpine");
        assert_eq!(familiar_reference("docker.io/library/alpine:latest"), "alpine");
        assert_eq!(familiar_reference("aiges_gpu"), "aiges_gpu");
        assert_eq!(familiar_reference("iflyopensource/aiges-gpu:11.6"), "iflyopensource/aiges-gpu:11.6");
        assert_eq!(
            familiar_reference("127.0.0.1:5000/aiges/base-cpu:bookworm"),
            "127.0.0.1:5000/aiges/base-cpu:bookworm"
        );
    }

    #[test]
    fn normalises_references_like_buildkit() {
        assert_eq!(n("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(n("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(n("aiges/envd-frontend"), "docker.io/aiges/envd-frontend:latest");
        assert_eq!(n("127.0.0.1:5000/aiges/base:1"), "127.0.0.1:5000/aiges/base:1");
        assert_eq!(n("localhost/x"), "localhost/x:latest");
        assert_eq!(n("ghcr.io/a/b@sha256:ab"), "ghcr.io/a/b@sha256:ab");
        assert_eq!(n("127.0.0.1:5000/base"), "127.0.0.1:5000/base:latest");
    }
}
