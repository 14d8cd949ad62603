//! The immutable build state that every builder method returns anew.

use std::sync::Arc;

use crate::exec::{Limits, NetMode, ProxyEnv};

use crate::exec::Exec;
use crate::file::FileAction;
use crate::file::FileOp;
use crate::vertex::Output;
use crate::{pb, Constraints};

/// An OCI platform, e.g. `linux/amd64`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `v8`, or empty.
    pub variant: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('/');
        let os = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let architecture = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let variant = parts.next().unwrap_or_default().to_owned();
        if parts.next().is_some() {
            return None;
        }
        Some(Self { os, architecture, variant })
    }

    /// The platform this binary was built for: `linux/amd64` on x86_64.
    pub fn native() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        Self { os: "linux".into(), architecture: architecture.into(), variant: String::new() }
    }

    /// The platform as BuildKit's exporter names it in `refs.platforms`
    /// and `containerimage.config/<id>`: `os/arch[/variant]`, with arm64's
    /// default `v8` left out.
    pub fn export_id(&self) -> String {
        if self.architecture == "arm64" && self.variant == "v8" {
            return format!("{}/{}", self.os, self.architecture);
        }
        self.to_string()
    }

    /// The protocol form.
    pub fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// The process settings a state hands to the execs run on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ExecDefaults {
    env: Vec<(String, String)>,
    cwd: String,
    user: String,
    platform: Option<Platform>,
    extra_hosts: Vec<(String, String)>,
    network: NetMode,
    proxy: Option<ProxyEnv>,
    cache_ns: String,
    limits: Limits,
}

/// A file system (the output of an op, or scratch) plus the environment,
/// working directory, user and platform that later execs inherit.
///
/// States are immutable and cheap to clone: methods return new states.
#[derive(Debug, Clone, Default)]
pub struct State {
    output: Option<Output>,
    defaults: Arc<ExecDefaults>,
}

impl State {
    /// The empty file system.
    pub fn scratch() -> Self {
        Self::default()
    }

    pub(crate) fn from_output(output: Output) -> Self {
        Self { output: Some(output), defaults: Arc::default() }
    }

    /// The op output this state stands for; `None` for scratch.
    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    /// The same settings on another file system.
    pub(crate) fn with_output(&self, output: Option<Output>) -> Self {
        Self { output, defaults: Arc::clone(&self.defaults) }
    }

    fn edit(&self, f: impl FnOnce(&mut ExecDefaults)) -> Self {
        let mut d = (*self.defaults).clone();
        f(&mut d);
        Self { output: self.output.clone(), defaults: Arc::new(d) }
    }

    /// Sets (or replaces) an environment variable for later execs.
    pub fn add_env(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.edit(|d| match d.env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => d.env.push((key, value)),
        })
    }

    /// Adds a `host ip` line to `/etc/hosts` of later execs (`--add-host`).
    pub fn add_extra_host(&self, host: impl Into<String>, ip: impl Into<String>) -> Self {
        let (host, ip) = (host.into(), ip.into());
        self.edit(|d| d.extra_hosts.push((host, ip)))
    }

    /// The extra hosts later execs get.
    pub fn extra_hosts(&self) -> &[(String, String)] {
        &self.defaults.extra_hosts
    }

    /// Sets the network mode of later execs (`--network`).
    pub fn network(&self, n: NetMode) -> Self {
        self.edit(|d| d.network = n)
    }

    /// The network mode later execs get.
    pub fn get_network(&self) -> NetMode {
        self.defaults.network
    }

    /// Sets the proxies of later execs: BuildKit hands them to the
    /// process, and keeps them out of the cache key and the image.
    pub fn proxy(&self, p: Option<ProxyEnv>) -> Self {
        self.edit(|d| d.proxy = p)
    }

    /// The proxies later execs get.
    pub fn get_proxy(&self) -> Option<&ProxyEnv> {
        self.defaults.proxy.as_ref()
    }

    /// Puts the cache mounts of later execs in namespace `ns`
    /// (`BUILDKIT_CACHE_MOUNT_NS`): a mount with id `x` gets `ns/x`.
    pub fn cache_namespace(&self, ns: impl Into<String>) -> Self {
        let ns = ns.into();
        self.edit(|d| d.cache_ns = ns)
    }

    /// The cache namespace later execs get.
    pub fn get_cache_namespace(&self) -> &str {
        &self.defaults.cache_ns
    }

    /// Sets the limits of later execs (`--shm-size`, `--ulimit`,
    /// `--cgroup-parent`).
    pub fn limits(&self, limits: Limits) -> Self {
        self.edit(|d| d.limits = limits)
    }

    /// The limits later execs get.
    pub fn get_limits(&self) -> &Limits {
        &self.defaults.limits
    }

    /// Sets the working directory for later execs. A relative path is
    /// joined to the current one, as a Dockerfile `WORKDIR` is.
    pub fn dir(&self, dir: impl AsRef<str>) -> Self {
        let dir = dir.as_ref();
        self.edit(|d| {
            d.cwd = if dir.starts_with('/') || d.cwd.is_empty() {
                dir.to_owned()
            } else {
                format!("{}/{}", d.cwd.trim_end_matches('/'), dir)
            }
        })
    }

    /// Sets the user for later execs.
    pub fn user(&self, user: impl Into<String>) -> Self {
        let user = user.into();
        self.edit(|d| d.user = user)
    }

    /// Sets the platform later ops are built for.
    pub fn with_platform(&self, platform: Platform) -> Self {
        self.edit(|d| d.platform = Some(platform))
    }

    /// The environment later execs get, in insertion order.
    pub fn env(&self) -> &[(String, String)] {
        &self.defaults.env
    }

    /// The working directory later execs get ("" means `/`).
    pub fn get_dir(&self) -> &str {
        &self.defaults.cwd
    }

    /// The user later execs run as ("" means root).
    pub fn get_user(&self) -> &str {
        &self.defaults.user
    }

    /// The platform, if one was set.
    pub fn platform(&self) -> Option<&Platform> {
        self.defaults.platform.as_ref()
    }

    /// Starts an exec of `args` on this state; see [`Exec`].
    pub fn run<I, S>(&self, args: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec::new(self.clone(), args.into_iter().map(Into::into).collect())
    }

    /// Applies file actions, in order, as one FileOp.
    pub fn file(&self, actions: Vec<FileAction>, constraints: Constraints) -> Self {
        FileOp::apply(self, actions, constraints)
    }
}
