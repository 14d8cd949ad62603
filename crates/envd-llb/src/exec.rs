//! ExecOp: run a process on a state, with extra mounts.

use std::sync::Arc;

use crate::constraints::Constraints;
use crate::error::{Error, Result};
use crate::state::State;
use crate::vertex::{input_index, Output, Vertex};
use crate::{caps, pb};

/// Where `--shm-size` mounts its tmpfs.
const SHM: &str = "/dev/shm";

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSharing {
    /// Any number of writers at once.
    Shared,
    /// A writer gets its own copy when another holds the cache.
    Private,
    /// Writers take turns. Right for package managers that lock anyway.
    Locked,
}

impl CacheSharing {
    fn to_pb(self) -> pb::CacheSharingOpt {
        match self {
            Self::Shared => pb::CacheSharingOpt::Shared,
            Self::Private => pb::CacheSharingOpt::Private,
            Self::Locked => pb::CacheSharingOpt::Locked,
        }
    }
}

/// The network an exec sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetMode {
    /// BuildKit's default (the sandbox network).
    #[default]
    Unset,
    /// The host's network (needs an entitlement).
    Host,
    /// No network.
    None,
}

/// Proxies for an exec, from the build's `HTTP_PROXY`-style args.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `HTTP_PROXY`.
    pub http: String,
    /// `HTTPS_PROXY`.
    pub https: String,
    /// `FTP_PROXY`.
    pub ftp: String,
    /// `NO_PROXY`.
    pub no: String,
    /// `ALL_PROXY`.
    pub all: String,
}

/// One resource limit of a process (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// The limit's name as `ulimit` knows it: `nofile`, `nproc`, `memlock`...
    pub name: String,
    /// The soft limit.
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

/// What `--shm-size`, `--ulimit` and `--cgroup-parent` ask of every step,
/// as the Dockerfile frontend applies them to each `RUN`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// The size of `/dev/shm` in bytes; `None` for the runtime's 64 MiB.
    pub shm_size: Option<i64>,
    /// Resource limits, in the order given.
    pub ulimits: Vec<Ulimit>,
    /// The cgroup the steps run under; "" for BuildKit's.
    pub cgroup_parent: String,
}

/// A mount of an exec besides its root file system.
#[derive(Debug, Clone)]
pub enum Mount {
    /// A state's file system, or a path of it, at `dest`.
    Bind {
        /// Where it appears.
        dest: String,
        /// What is mounted.
        source: State,
        /// A path inside `source`; "" for all of it.
        selector: String,
        /// Read-only mounts produce no output.
        readonly: bool,
    },
    /// A persistent cache directory, kept across builds by id.
    Cache {
        /// Where it appears.
        dest: String,
        /// Builds that use the same id share the cache.
        id: String,
        /// How concurrent users share it.
        sharing: CacheSharing,
    },
    /// An in-memory file system.
    Tmpfs {
        /// Where it appears.
        dest: String,
        /// Size limit in bytes; 0 for the default.
        size: i64,
    },
    /// A secret file from the client, never stored in a layer.
    Secret {
        /// Where it appears.
        dest: String,
        /// The secret's id in the client's store.
        id: String,
        /// Owner uid.
        uid: u32,
        /// Owner gid.
        gid: u32,
        /// File mode.
        mode: u32,
        /// Whether a missing secret is an error.
        optional: bool,
    },
    /// A socket forwarding to the client's SSH agent (`--ssh`).
    Ssh {
        /// Where the socket appears.
        dest: String,
        /// The agent's id in the client's session (`default`).
        id: String,
        /// Whether a missing agent is an error.
        optional: bool,
    },
}

impl Mount {
    /// A read-only bind of `source` at `dest`.
    pub fn readonly(dest: impl Into<String>, source: State) -> Self {
        Self::Bind { dest: dest.into(), source, selector: String::new(), readonly: true }
    }

    /// A cache mount.
    pub fn cache(dest: impl Into<String>, id: impl Into<String>, sharing: CacheSharing) -> Self {
        Self::Cache { dest: dest.into(), id: id.into(), sharing }
    }

    /// The mount point.
    pub fn dest(&self) -> &str {
        match self {
            Self::Bind { dest, .. }
            | Self::Cache { dest, .. }
            | Self::Tmpfs { dest, .. }
            | Self::Secret { dest, .. }
            | Self::Ssh { dest, .. } => dest,
        }
    }

    fn source(&self) -> Option<&Output> {
        match self {
            Self::Bind { source, .. } => source.output(),
            _ => None,
        }
    }

    fn has_output(&self) -> bool {
        matches!(self, Self::Bind { readonly: false, .. })
    }
}

/// A process to run on a state: build it up, then take its
/// [`root`](Exec::root) or a writable mount's result.
#[derive(Debug, Clone)]
pub struct Exec {
    base: State,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: String,
    user: String,
    extra_hosts: Vec<(String, String)>,
    mounts: Vec<Mount>,
    secret_env: Vec<SecretEnv>,
    network: NetMode,
    proxy: Option<ProxyEnv>,
    cache_ns: String,
    limits: Limits,
    constraints: Constraints,
}

/// An environment variable whose value is a secret of the client's: the
/// value never appears in the definition or the cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    /// The variable's name.
    pub name: String,
    /// The secret's id in the client's store.
    pub id: String,
    /// Whether a missing secret is an error; a missing optional one leaves
    /// the variable unset.
    pub optional: bool,
}

impl Exec {
    pub(crate) fn new(base: State, args: Vec<String>) -> Self {
        Self {
            env: base.env().to_vec(),
            cwd: base.get_dir().to_owned(),
            user: base.get_user().to_owned(),
            extra_hosts: base.extra_hosts().to_vec(),
            network: base.get_network(),
            proxy: base.get_proxy().cloned(),
            cache_ns: base.get_cache_namespace().to_owned(),
            limits: base.get_limits().clone(),
            base,
            args,
            mounts: Vec::new(),
            secret_env: Vec::new(),
            constraints: Constraints::default(),
        }
    }

    /// Sets an environment variable for this process only.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.env.push((key, value)),
        }
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = cwd.into();
        self
    }

    /// Sets the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Adds a mount.
    pub fn mount(mut self, m: Mount) -> Self {
        self.mounts.push(m);
        self
    }

    /// Sets `name` to the client's secret `id`, if it has one
    /// (`optional`) or failing without it.
    pub fn secret_env(mut self, name: impl Into<String>, id: impl Into<String>, optional: bool) -> Self {
        self.secret_env.push(SecretEnv { name: name.into(), id: id.into(), optional });
        self
    }

    /// Sets the network mode.
    pub fn network(mut self, n: NetMode) -> Self {
        self.network = n;
        self
    }

    /// Sets the op's constraints.
    pub fn constraints(mut self, c: Constraints) -> Self {
        self.constraints = c;
        self
    }

    /// The root file system after the process ran.
    pub fn root(self) -> State {
        let base = self.base.clone();
        base.with_output(Some(Output::new(Arc::new(ExecOp::from(self)), 0)))
    }

    /// The root and the result of every writable bind mount, keyed by mount
    /// point, in mount order.
    pub fn outputs(self) -> (State, Vec<(String, State)>) {
        let base = self.base.clone();
        let writable: Vec<String> =
            self.mounts.iter().filter(|m| m.has_output()).map(|m| m.dest().to_owned()).collect();
        let op: Arc<dyn Vertex> = Arc::new(ExecOp::from(self));
        let root = base.with_output(Some(Output::new(Arc::clone(&op), 0)));
        let mounts = writable
            .into_iter()
            .enumerate()
            .map(|(i, dest)| (dest, State::scratch().with_output(Some(Output::new(Arc::clone(&op), i as i64 + 1)))))
            .collect();
        (root, mounts)
    }
}

/// The marshalled form of an [`Exec`].
#[derive(Debug)]
struct ExecOp {
    root: Option<Output>,
    meta: pb::Meta,
    platform: Option<pb::Platform>,
    mounts: Vec<Mount>,
    secret_env: Vec<SecretEnv>,
    network: NetMode,
    cache_ns: String,
    shm_size: Option<i64>,
    constraints: Constraints,
}

impl From<Exec> for ExecOp {
    fn from(e: Exec) -> Self {
        let meta = pb::Meta {
            args: e.args,
            env: e.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            cwd: if e.cwd.is_empty() { "/".to_owned() } else { e.cwd },
            user: e.user,
            extra_hosts: e.extra_hosts.into_iter().map(|(host, ip)| pb::HostIp { host, ip }).collect(),
            proxy_env: e.proxy.map(|p| pb::ProxyEnv {
                http_proxy: p.http,
                https_proxy: p.https,
                ftp_proxy: p.ftp,
                no_proxy: p.no,
                all_proxy: p.all,
            }),
            ulimit: e
                .limits
                .ulimits
                .iter()
                .map(|u| pb::Ulimit { name: u.name.clone(), soft: u.soft, hard: u.hard })
                .collect(),
            cgroup_parent: e.limits.cgroup_parent.clone(),
            ..Default::default()
        };
        Self {
            root: e.base.output().cloned(),
            platform: e.base.platform().map(|p| p.to_pb()),
            meta,
            mounts: e.mounts,
            secret_env: e.secret_env,
            network: e.network,
            cache_ns: e.cache_ns,
            shm_size: e.limits.shm_size,
            constraints: e.constraints,
        }
    }
}

impl Vertex for ExecOp {
    fn inputs(&self) -> Vec<Output> {
        self.root.iter().chain(self.mounts.iter().filter_map(Mount::source)).cloned().collect()
    }

    fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::Invalid { op: "exec", reason });
        if self.meta.args.is_empty() {
            return invalid("no arguments".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.mounts {
            let dest = m.dest();
            if !dest.starts_with('/') {
                return invalid(format!("mount point {dest:?} is not absolute"));
            }
            if dest == "/" || !seen.insert(dest) {
                return invalid(format!("mount point {dest:?} is used twice"));
            }
            match m {
                Mount::Cache { id, .. } if id.is_empty() => return invalid(format!("cache mount at {dest} has no id")),
                Mount::Secret { id, .. } if id.is_empty() => {
                    return invalid(format!("secret mount at {dest} has no id"))
                }
                Mount::Ssh { id, .. } if id.is_empty() => return invalid(format!("ssh mount at {dest} has no id")),
                _ => {}
            }
        }
        Ok(())
    }

    fn marshal(&self, inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        let mut used = vec![caps::EXEC_META_BASE];
        let mut meta = self.meta.clone();
        if !self.mounts.is_empty() {
            // Mount points that did not exist are created for the run; take
            // them out again so the result holds no empty stub directories.
            // (BuildKit defines a cap for this but does not register it, so
            // naming it in the metadata fails the solve; the field alone is
            // what the executor reads.)
            meta.remove_mount_stubs_recursive = true;
        }
        let mut op_inputs = Vec::new();
        let mut resolved = inputs.iter();
        let mut next = |has_source: bool| -> i64 {
            match (has_source, resolved.next()) {
                (true, Some(i)) => input_index(&mut op_inputs, i),
                _ => -1,
            }
        };

        let mut mounts =
            vec![pb::Mount { input: next(self.root.is_some()), dest: "/".to_owned(), output: 0, ..Default::default() }];
        let mut outputs = 1;
        for m in &self.mounts {
            let mut pm = pb::Mount { dest: m.dest().to_owned(), output: -1, ..Default::default() };
            match m {
                Mount::Bind { source, selector, readonly, .. } => {
                    used.push(caps::EXEC_MOUNT_BIND);
                    pm.input = next(source.output().is_some());
                    pm.mount_type = pb::MountType::Bind as i32;
                    pm.readonly = *readonly;
                    if !selector.is_empty() {
                        used.push(caps::EXEC_MOUNT_SELECTOR);
                        pm.selector = selector.clone();
                    }
                    if !readonly {
                        pm.output = outputs;
                        outputs += 1;
                    }
                }
                Mount::Cache { id, sharing, .. } => {
                    used.extend([caps::EXEC_MOUNT_CACHE, caps::EXEC_MOUNT_CACHE_SHARING]);
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Cache as i32;
                    let id = if self.cache_ns.is_empty() { id.clone() } else { format!("{}/{id}", self.cache_ns) };
                    pm.cache_opt = Some(pb::CacheOpt { id, sharing: sharing.to_pb() as i32 });
                }
                Mount::Tmpfs { size, .. } => {
                    used.push(caps::EXEC_MOUNT_TMPFS);
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Tmpfs as i32;
                    pm.tmpfs_opt = Some(pb::TmpfsOpt { size: *size });
                }
                Mount::Secret { id, uid, gid, mode, optional, .. } => {
                    used.push(caps::EXEC_MOUNT_SECRET);
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Secret as i32;
                    pm.secret_opt =
                        Some(pb::SecretOpt { id: id.clone(), uid: *uid, gid: *gid, mode: *mode, optional: *optional });
                }
                Mount::Ssh { id, optional, .. } => {
                    used.push(caps::EXEC_MOUNT_SSH);
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Ssh as i32;
                    // A socket only root can use, as `RUN --mount=type=ssh`.
                    pm.ssh_opt = Some(pb::SshOpt { id: id.clone(), uid: 0, gid: 0, mode: 0o600, optional: *optional });
                }
            }
            mounts.push(pm);
        }
        if let Some(size) = self.shm_size.filter(|_| !self.mounts.iter().any(|m| m.dest() == SHM)) {
            // What `--shm-size` is for a Dockerfile RUN: a tmpfs of that
            // size over the runtime's /dev/shm.
            used.extend([caps::EXEC_MOUNT_TMPFS, caps::EXEC_MOUNT_TMPFS_SIZE]);
            mounts.push(pb::Mount {
                input: -1,
                dest: SHM.to_owned(),
                output: -1,
                mount_type: pb::MountType::Tmpfs as i32,
                tmpfs_opt: Some(pb::TmpfsOpt { size }),
                ..Default::default()
            });
        }
        if !meta.ulimit.is_empty() {
            used.push(caps::EXEC_META_ULIMIT);
        }
        if !meta.cgroup_parent.is_empty() {
            used.push(caps::EXEC_META_CGROUP_PARENT);
        }
        let network = match self.network {
            NetMode::Unset => pb::NetMode::Unset,
            NetMode::Host => pb::NetMode::Host,
            NetMode::None => pb::NetMode::None,
        };
        if self.network != NetMode::Unset {
            used.push(caps::EXEC_META_NETWORK);
        }
        if !self.secret_env.is_empty() {
            used.push(caps::EXEC_SECRET_ENV);
        }
        if meta.proxy_env.is_some() {
            used.push(caps::EXEC_META_PROXY);
        }
        used.sort_unstable();
        used.dedup();
        let op = pb::Op {
            inputs: op_inputs,
            op: Some(pb::op::Op::Exec(pb::ExecOp {
                meta: Some(meta),
                mounts,
                network: network as i32,
                secretenv: self
                    .secret_env
                    .iter()
                    .map(|e| pb::SecretEnv { id: e.id.clone(), name: e.name.clone(), optional: e.optional })
                    .collect(),
                ..Default::default()
            })),
            platform: self.platform.clone(),
            ..Default::default()
        };
        Ok((op, used))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}
