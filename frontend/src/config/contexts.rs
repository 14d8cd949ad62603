//! Where the build's files and its base come from, parsed once with the
//! other options.
//!
//! The main context is the client's directory (the `context` local), or,
//! when buildx is given a URL, a git repository or a tarball that BuildKit
//! fetches itself: dockerui's `DetectGitContext` and `DetectHTTPContext`.
//!
//! Named contexts (`--build-context NAME=…`, options `context:NAME` and
//! `context:NAME::os/arch`) stand in for a base reference, as they stand
//! in for a Dockerfile's `FROM`: `aiges_cpu`, `aiges_gpu` or the literal
//! `base(image=…)`. Names are compared in BuildKit's short form, so
//! `alpine` and `docker.io/library/alpine:latest` are one name.

use std::collections::BTreeMap;

use envd_llb::{familiar_reference, Platform};

use super::error::{bad, ConfigError};

const KEY_CONTEXT: &str = "context";
const PREFIX_CONTEXT: &str = "context:";
const PREFIX_LOCAL_SESSION: &str = "local-sessionid:";
const PREFIX_SHARED_KEY: &str = "sharedkey:localdir:";
/// Build arg that keeps `.git` in a git context, as for a Dockerfile.
pub const ARG_KEEP_GIT_DIR: &str = "BUILDKIT_CONTEXT_KEEP_GIT_DIR";

/// The build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainContext {
    /// The client's directory, sent over the session under `name`.
    Local {
        /// The local's name (`context`).
        name: String,
    },
    /// A git repository, cloned by BuildKit.
    Git {
        /// The URL without its `#fragment`.
        url: String,
        /// The branch, tag or commit after `#`; "" for the default branch.
        reference: String,
        /// The directory after `#ref:`; "" for the whole repository.
        subdir: String,
        /// `BUILDKIT_CONTEXT_KEEP_GIT_DIR`.
        keep_git_dir: bool,
    },
    /// A tar archive (plain or compressed) over HTTP(S), unpacked.
    Tarball {
        /// Its URL.
        url: String,
    },
}

impl MainContext {
    /// The context buildx names: a URL in `context`, else the local
    /// `local_name`.
    pub fn parse(opts: &BTreeMap<String, String>, local_name: String) -> Result<Self, ConfigError> {
        let Some(url) = opts.get(KEY_CONTEXT).map(|u| u.trim()).filter(|u| !u.is_empty()) else {
            return Ok(Self::Local { name: local_name });
        };
        let keep_git_dir = opts.get(&format!("build-arg:{ARG_KEEP_GIT_DIR}")).is_some_and(|v| truthy(v));
        if let Some((url, reference, subdir)) = git_url(url) {
            if subdir.split('/').any(|part| part == "..") {
                return Err(bad(KEY_CONTEXT, format!("the subdirectory {subdir:?} of {url} leaves the repository")));
            }
            return Ok(Self::Git { url, reference, subdir, keep_git_dir });
        }
        if url.starts_with("https://") || url.starts_with("http://") {
            return Ok(Self::Tarball { url: url.to_owned() });
        }
        Err(bad(KEY_CONTEXT, format!("{url:?} is neither a git repository nor an http(s) URL of a tarball")))
    }

    /// The local's name, for the client's directory.
    pub fn local_name(&self) -> Option<&str> {
        match self {
            Self::Local { name } => Some(name),
            _ => None,
        }
    }

    /// How messages name the context.
    pub fn describe(&self) -> String {
        match self {
            Self::Local { name } => format!("the {name} directory"),
            Self::Git { url, reference, subdir, .. } => match (reference.is_empty(), subdir.is_empty()) {
                (true, true) => url.clone(),
                (_, true) => format!("{url}#{reference}"),
                _ => format!("{url}#{reference}:{subdir}"),
            },
            Self::Tarball { url } => url.clone(),
        }
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// A git URL as dockerui recognises one, split into (URL, ref, subdir):
/// `git://…`, `ssh://…`, `user@host:path`, `github.com/…`, or an http(s)
/// URL whose path ends in `.git`; `#ref:subdir` after it.
fn git_url(input: &str) -> Option<(String, String, String)> {
    let (url, fragment) = input.split_once('#').unwrap_or((input, ""));
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    let is_git = url.starts_with("git://")
        || url.starts_with("ssh://")
        || url.starts_with("git@")
        || url.starts_with("github.com/")
        || ((url.starts_with("https://") || url.starts_with("http://"))
            && path.trim_end_matches('/').ends_with(".git"));
    if !is_git {
        return None;
    }
    let url = if url.starts_with("github.com/") { format!("https://{url}") } else { url.to_owned() };
    let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
    Some((url, reference.to_owned(), subdir.trim_matches('/').to_owned()))
}

/// What a named context is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// `docker-image://REF`: an image of a registry or of the worker's
    /// store.
    Image(String),
    /// `oci-layout://STORE[:tag]@DIGEST`: an image in an OCI layout
    /// directory of the client's, which buildx serves as content store
    /// `STORE`.
    OciLayout {
        /// The store's id in the client's session.
        store: String,
        /// The image's manifest (or index) digest.
        digest: String,
    },
    /// `local:NAME`: a directory of the client's, as the root file system.
    Local {
        /// The local's name.
        name: String,
        /// The session that serves it.
        session: String,
        /// buildx's key for sharing the transfer between builds.
        shared_key: String,
    },
}

/// One named context, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The option it came from (`context:aiges_gpu`).
    pub key: String,
    /// The name in its short form.
    pub name: String,
    /// The platform it is for (`NAME::os/arch`), if one was given.
    pub platform: Option<String>,
    /// What it is.
    pub context: NamedContext,
}

/// Every named context of the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedContexts(Vec<Named>);

impl NamedContexts {
    /// Reads every `context:` option. `session` serves `local:` contexts
    /// unless `local-sessionid:NAME` names another.
    pub fn parse(opts: &BTreeMap<String, String>, session: &str) -> Result<Self, ConfigError> {
        let mut out = Vec::new();
        for (key, value) in opts.iter().filter(|(k, _)| k.starts_with(PREFIX_CONTEXT)) {
            let raw = &key[PREFIX_CONTEXT.len()..];
            let (name, platform) = match raw.split_once("::") {
                Some((n, p)) => (n, Some(p.to_owned())),
                None => (raw, None),
            };
            if name.is_empty() {
                return Err(bad(key, "names no context"));
            }
            let context = named_context(opts, key, value, session)?;
            out.push(Named { key: key.clone(), name: familiar_reference(name), platform, context });
        }
        Ok(Self(out))
    }

    /// The context that stands for the first of `names` that has one, on
    /// `platform`: a `NAME::platform` context before a `NAME` one.
    pub fn lookup(&self, names: &[&str], platform: &Platform) -> Option<&Named> {
        let id = platform.export_id();
        names.iter().map(|n| familiar_reference(n)).find_map(|name| {
            let mut of_name = self.0.iter().filter(|c| c.name == name);
            of_name
                .clone()
                .find(|c| c.platform.as_deref() == Some(&id))
                .or_else(|| of_name.find(|c| c.platform.is_none()))
        })
    }

    /// The contexts none of `names` uses.
    pub fn unused<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = &'a Named> + 'a {
        self.0.iter().filter(move |c| !names.iter().any(|n| familiar_reference(n) == c.name))
    }
}

/// One `context:` value, or the sentence that says why it cannot be a
/// base.
fn named_context(
    opts: &BTreeMap<String, String>,
    key: &str,
    value: &str,
    session: &str,
) -> Result<NamedContext, ConfigError> {
    let value = value.trim();
    if let Some(reference) = value.strip_prefix("docker-image://") {
        if reference.is_empty() {
            return Err(bad(key, "docker-image:// names no image"));
        }
        return Ok(NamedContext::Image(reference.to_owned()));
    }
    if let Some(rest) = value.strip_prefix("oci-layout://") {
        let (store, digest) = rest.split_once('@').ok_or_else(|| {
            bad(key, format!("{value:?} has no @sha256: digest; buildx adds one for a layout it can read"))
        })?;
        let store = store.split_once(':').map_or(store, |(s, _tag)| s);
        return Ok(NamedContext::OciLayout { store: store.to_owned(), digest: digest.to_owned() });
    }
    if let Some(name) = value.strip_prefix("local:") {
        return Ok(NamedContext::Local {
            name: name.to_owned(),
            session: opts.get(&format!("{PREFIX_LOCAL_SESSION}{name}")).cloned().unwrap_or_else(|| session.to_owned()),
            shared_key: opts
                .get(&format!("{PREFIX_SHARED_KEY}{}", &key[PREFIX_CONTEXT.len()..]))
                .cloned()
                .unwrap_or_default(),
        });
    }
    let why = if value.starts_with("input:") || value.starts_with("target:") {
        "another bake target's result cannot be a build.envd base yet; push it and name it with docker-image://"
            .to_owned()
    } else if git_url(value).is_some() || value.starts_with("https://") || value.starts_with("http://") {
        format!("{value:?} is a repository or a file, and a named context stands for build.envd's base image; use docker-image://, oci-layout:// or a directory")
    } else {
        format!("{value:?} is not docker-image://, oci-layout:// or a directory")
    };
    Err(bad(key, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn git_urls_split_into_url_ref_and_subdir() {
        let main = |url: &str| MainContext::parse(&opts(&[("context", url)]), "context".into()).unwrap();
        assert_eq!(
            main("http://172.17.0.1:9418/svc.git#v1:services/ocr"),
            MainContext::Git {
                url: "http://172.17.0.1:9418/svc.git".into(),
                reference: "v1".into(),
                subdir: "services/ocr".into(),
                keep_git_dir: false
            }
        );
        assert_eq!(
            main("git://host/repo"),
            MainContext::Git {
                url: "git://host/repo".into(),
                reference: "".into(),
                subdir: "".into(),
                keep_git_dir: false
            }
        );
        assert!(
            matches!(main("git@github.com:org/r.git#main"), MainContext::Git { reference, .. } if reference == "main")
        );
        assert_eq!(main("https://host/ctx.tar.gz"), MainContext::Tarball { url: "https://host/ctx.tar.gz".into() });
        assert_eq!(
            MainContext::parse(&opts(&[]), "context".into()).unwrap(),
            MainContext::Local { name: "context".into() }
        );
        let keep = opts(&[("context", "git://h/r"), ("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "1")]);
        assert!(matches!(MainContext::parse(&keep, "c".into()).unwrap(), MainContext::Git { keep_git_dir: true, .. }));
    }

    #[test]
    fn bad_contexts_say_why() {
        let err = |o: &[(&str, &str)]| MainContext::parse(&opts(o), "context".into()).unwrap_err().to_string();
        assert_eq!(
            err(&[("context", "ftp://x/y")]),
            "frontend option context: \"ftp://x/y\" is neither a git repository nor an http(s) URL of a tarball"
        );
        assert_eq!(
            err(&[("context", "git://h/r.git#main:../x")]),
            "frontend option context: the subdirectory \"../x\" of git://h/r.git leaves the repository"
        );
        let named = |v: &str| NamedContexts::parse(&opts(&[("context:aiges_gpu", v)]), "s").unwrap_err().to_string();
        assert_eq!(
            named("https://github.com/o/r.git"),
            "frontend option context:aiges_gpu: \"https://github.com/o/r.git\" is a repository or a file, and a named context stands for build.envd's base image; use docker-image://, oci-layout:// or a directory"
        );
        assert!(named("input:t").contains("another bake target's result cannot be a build.envd base yet"));
        assert!(named("oci-layout://abc").contains("has no @sha256: digest"));
    }

    #[test]
    fn named_contexts_match_short_names_and_platform_first() {
        let o = opts(&[
            ("context:aiges_gpu", "docker-image://127.0.0.1:5000/alt:1"),
            ("context:aiges_gpu::linux/arm64", "oci-layout://st:latest@sha256:ab"),
            ("context:docker.io/library/alpine:latest", "local:base"),
            ("local-sessionid:base", "other"),
        ]);
        let n = NamedContexts::parse(&o, "s").unwrap();
        let amd = Platform::parse("linux/amd64").unwrap();
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_eq!(n.lookup(&["aiges_gpu"], &amd).unwrap().context, NamedContext::Image("127.0.0.1:5000/alt:1".into()));
        assert_eq!(
            n.lookup(&["aiges_gpu"], &arm).unwrap().context,
            NamedContext::OciLayout { store: "st".into(), digest: "sha256:ab".into() }
        );
        assert_eq!(
            n.lookup(&["nothing", "alpine"], &amd).unwrap().context,
            NamedContext::Local { name: "base".into(), session: "other".into(), shared_key: String::new() }
        );
        assert!(n.lookup(&["aiges_cpu"], &amd).is_none());
        let unused: Vec<&str> = n.unused(&["aiges_gpu"]).map(|c| c.key.as_str()).collect();
        assert_eq!(unused, ["context:docker.io/library/alpine:latest"]);
    }
}
