//! Source ops: images from a registry and directories from the client.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::constraints::Constraints;
use crate::state::{Platform, State};
use crate::vertex::{Output, Vertex};
use crate::{caps, pb, Result};

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
        let state = State::from_output(Output::new(Arc::new(self), 0));
        match platform {
            Some(p) => state.with_platform(p),
            None => state,
        }
    }
}

impl Vertex for Image {
    fn inputs(&self) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self) -> Result<()> {
        if self.reference.is_empty() {
            return Err(crate::Error::Invalid { op: "image source", reason: "empty reference".into() });
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
            return Err(crate::Error::Invalid { op: "local source", reason: "empty name".into() });
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

#[cfg(test)]
mod tests {
    use super::normalize_reference as n;

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
