//! How to lower: the options that shape the LLB, parsed once by the
//! frontend, and what the daemon supports.

use envd_llb::{Limits, NetMode, Platform, ProxyEnv, ResolveMode};

/// What the daemon supports, as far as lowering cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LlbCaps {
    /// MergeOp and DiffOp are available.
    pub merge_diff: bool,
}

/// How to lower: the frontend options that shape the LLB, parsed once.
#[derive(Debug, Clone)]
pub struct LowerConfig {
    /// The platform to build for.
    pub platform: Platform,
    /// Daemon capabilities.
    pub caps: LlbCaps,
    /// Run every step even if cached (`--no-cache`).
    pub no_cache: bool,
    /// Labels to add to the image (`--label`).
    pub labels: Vec<(String, String)>,
    /// How BuildKit resolves the base image (`--image-resolve-mode`).
    pub resolve_mode: ResolveMode,
    /// The client session that serves the context.
    pub session_id: String,
    /// `--add-host` entries (host, IP) for every step's `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// `--network`: every step's network.
    pub network: NetMode,
    /// `--shm-size`, `--ulimit` and `--cgroup-parent`, for every step.
    pub limits: Limits,
    /// The `HTTP_PROXY`-style build args, for every step; BuildKit keeps
    /// them out of the cache key and the image.
    pub proxy: Option<ProxyEnv>,
    /// `BUILDKIT_CACHE_MOUNT_NS`: the namespace of every cache mount id.
    pub cache_namespace: String,
    /// The `CONDA_OVERRIDE_CUDA` build arg: `__cuda` for the conda solve,
    /// before any other source (conda's own convention).
    pub conda_override_cuda: Option<String>,
    /// `ENVD_PYTHON_INSTALLER`: uv (the default) or pip for python packages.
    pub python_installer: PythonInstaller,
    /// The image's `created`, seconds since the Unix epoch: the build's
    /// time, or `SOURCE_DATE_EPOCH`.
    pub created: i64,
}

impl LowerConfig {
    /// The configuration of a lowering without BuildKit (`envd-frontend
    /// check --llb`, tests, benchmarks): linux/amd64, merge and diff
    /// available, session `local`.
    pub fn local() -> Self {
        Self {
            platform: Platform::parse("linux/amd64").expect("a platform"),
            caps: LlbCaps { merge_diff: true },
            no_cache: false,
            labels: Vec::new(),
            resolve_mode: ResolveMode::Default,
            session_id: "local".into(),
            extra_hosts: Vec::new(),
            network: NetMode::Unset,
            limits: Limits::default(),
            proxy: None,
            cache_namespace: String::new(),
            conda_override_cuda: None,
            python_installer: PythonInstaller::Uv,
            created: 0,
        }
    }
}

/// The build arg that chooses the installer of python packages.
pub const PYTHON_INSTALLER_ARG: &str = "ENVD_PYTHON_INSTALLER";

/// What installs python packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PythonInstaller {
    /// uv, falling back to pip where uv would differ.
    #[default]
    Uv,
    /// pip, for every step.
    Pip,
}

impl PythonInstaller {
    /// Reads [`PYTHON_INSTALLER_ARG`]; the error says what the value may be.
    pub fn from_build_arg(value: Option<&str>) -> Result<Self, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("uv") => Ok(Self::Uv),
            Some("pip") => Ok(Self::Pip),
            Some(other) => Err(format!("{other:?} is not uv or pip")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installer_arg_is_uv_or_pip() {
        assert_eq!(PythonInstaller::from_build_arg(None), Ok(PythonInstaller::Uv));
        assert_eq!(PythonInstaller::from_build_arg(Some(" PIP ")), Ok(PythonInstaller::Pip));
        assert_eq!(PythonInstaller::from_build_arg(Some("")), Ok(PythonInstaller::Uv));
        assert_eq!(PythonInstaller::from_build_arg(Some("poetry")), Err("\"poetry\" is not uv or pip".into()));
    }
}
