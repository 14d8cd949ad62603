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
    /// Which platform's frontend image the installing steps mount their
    /// tools from (the conda installer, uv); the frontend decides it from
    /// the builder (see `frontend_image`).
    pub tools_platform: Platform,
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
    /// `SOURCE_DATE_EPOCH`, which dates the files of python package
    /// layers (a fixed date without it).
    pub source_date_epoch: Option<i64>,
    /// `ENVD_PYTHON_LAYERS`: a layer per package or group (the default),
    /// or one layer per step.
    pub python_layers: PackageLayers,
    /// `ENVD_CONDA_LAYERS`: the same for the conda environment.
    pub conda_layers: PackageLayers,
    /// `ENVD_MAX_LAYERS`: the most layers the image may have, the base's
    /// included.
    pub max_layers: usize,
    /// `ENVD_TORCH_BACKEND`: how the torch family's variant is chosen.
    pub torch_backend: envd_gpu::Backend,
    /// `ENVD_TORCH_INDEX`: where PyTorch's variant indexes are
    /// (`<index>/cu116`).
    pub torch_index: String,
    /// `ENVD_BREAK_SYSTEM_PACKAGES`: python steps install into a python
    /// that is externally managed (PEP 668) instead of stopping.
    pub break_system_packages: bool,
    /// `ENVD_HTTP_TIMEOUT`: how many seconds uv, pip and the conda
    /// installer wait on an index or channel; their own defaults (30, 15
    /// and 60) without it.
    pub http_timeout: Option<u32>,
}

impl LowerConfig {
    /// The configuration of a lowering without BuildKit (`envd-frontend
    /// check --llb`, tests, benchmarks): linux/amd64 on an amd64 builder,
    /// whatever machine lowers it, merge and diff available, session
    /// `local`.
    pub fn local() -> Self {
        Self {
            platform: Platform::parse("linux/amd64").expect("a platform"),
            tools_platform: Platform::parse("linux/amd64").expect("a platform"),
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
            source_date_epoch: None,
            python_layers: PackageLayers::Packages,
            conda_layers: PackageLayers::Packages,
            max_layers: DEFAULT_MAX_LAYERS,
            torch_backend: envd_gpu::Backend::Auto,
            torch_index: envd_gpu::DEFAULT_TORCH_INDEX.to_owned(),
            break_system_packages: false,
            http_timeout: None,
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

/// The build arg that chooses how python packages become layers.
pub const PYTHON_LAYERS_ARG: &str = "ENVD_PYTHON_LAYERS";

/// The build arg that chooses how conda packages become layers.
pub const CONDA_LAYERS_ARG: &str = "ENVD_CONDA_LAYERS";

/// How python or conda packages become layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PackageLayers {
    /// Resolve, then a layer per package or small group, merged (see
    /// [`crate::layered`] and `conda_layers`), where the daemon
    /// has MergeOp and DiffOp.
    #[default]
    Packages,
    /// One layer for all of a step's packages (of a segment's, for conda).
    Single,
}

impl PackageLayers {
    /// Reads [`PYTHON_LAYERS_ARG`] or [`CONDA_LAYERS_ARG`]; the error says
    /// what the value may be.
    pub fn from_build_arg(value: Option<&str>) -> Result<Self, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("packages") => Ok(Self::Packages),
            Some("single") => Ok(Self::Single),
            Some(other) => Err(format!("{other:?} is not packages or single")),
        }
    }
}

/// The build arg that limits the image's layers.
pub const MAX_LAYERS_ARG: &str = "ENVD_MAX_LAYERS";

/// The most layers an image gets by default, the base's included: well
/// under what overlay stores (128 lower directories) and registries
/// accept.
pub const DEFAULT_MAX_LAYERS: usize = 100;

/// Reads [`MAX_LAYERS_ARG`]: a whole number from 2 to 127.
pub fn max_layers_from_build_arg(value: Option<&str>) -> Result<usize, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_MAX_LAYERS),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=127).contains(n))
            .ok_or_else(|| format!("{v:?} is not a number of layers from 2 to 127")),
    }
}

/// The build arg that chooses the torch family's variant.
pub const TORCH_BACKEND_ARG: &str = envd_gpu::TORCH_BACKEND_ARG;

/// The build arg that names where PyTorch's variant indexes are.
pub const TORCH_INDEX_ARG: &str = "ENVD_TORCH_INDEX";

/// Reads a yes-or-no build arg such as `ENVD_BREAK_SYSTEM_PACKAGES`:
/// `1`/`true`, or `0`/`false`/empty (the default).
pub fn flag_from_build_arg(value: Option<&str>) -> Result<bool, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(format!("{other:?} is not 1, true, 0 or false")),
    }
}

/// The build arg that sets the installers' network timeout.
pub const HTTP_TIMEOUT_ARG: &str = "ENVD_HTTP_TIMEOUT";

/// Reads [`HTTP_TIMEOUT_ARG`]: whole seconds from 1 to 3600.
pub fn http_timeout_from_build_arg(value: Option<&str>) -> Result<Option<u32>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=3600).contains(n))
            .map(Some)
            .ok_or_else(|| format!("{v:?} is not a number of seconds from 1 to 3600")),
    }
}

/// Reads [`TORCH_INDEX_ARG`]: an http(s) URL, PyTorch's without one.
pub fn torch_index_from_build_arg(value: Option<&str>) -> Result<String, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(envd_gpu::DEFAULT_TORCH_INDEX.to_owned()),
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => Ok(v.trim_end_matches('/').to_owned()),
        Some(v) => Err(format!(
            "{:?} is not an http(s) URL of PyTorch's indexes, such as {}",
            envd_conda::credentials::redact(v),
            envd_gpu::DEFAULT_TORCH_INDEX
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_args_parse_and_say_what_they_take() {
        assert_eq!(PackageLayers::from_build_arg(None), Ok(PackageLayers::Packages));
        assert_eq!(PackageLayers::from_build_arg(Some(" Single ")), Ok(PackageLayers::Single));
        assert_eq!(PackageLayers::from_build_arg(Some("many")), Err("\"many\" is not packages or single".into()));
        assert_eq!(max_layers_from_build_arg(None), Ok(100));
        assert_eq!(max_layers_from_build_arg(Some("40")), Ok(40));
        assert_eq!(max_layers_from_build_arg(Some("1")), Err("\"1\" is not a number of layers from 2 to 127".into()));
        assert!(max_layers_from_build_arg(Some("lots")).is_err());
    }

    #[test]
    fn the_torch_index_arg_is_a_url() {
        assert_eq!(torch_index_from_build_arg(None).unwrap(), "https://download.pytorch.org/whl");
        assert_eq!(torch_index_from_build_arg(Some("http://mirror:8080/whl/")).unwrap(), "http://mirror:8080/whl");
        assert_eq!(
            torch_index_from_build_arg(Some("mirror/whl")).unwrap_err(),
            "\"mirror/whl\" is not an http(s) URL of PyTorch's indexes, such as https://download.pytorch.org/whl"
        );
    }

    #[test]
    fn the_installer_arg_is_uv_or_pip() {
        assert_eq!(PythonInstaller::from_build_arg(None), Ok(PythonInstaller::Uv));
        assert_eq!(PythonInstaller::from_build_arg(Some(" PIP ")), Ok(PythonInstaller::Pip));
        assert_eq!(PythonInstaller::from_build_arg(Some("")), Ok(PythonInstaller::Uv));
        assert_eq!(PythonInstaller::from_build_arg(Some("poetry")), Err("\"poetry\" is not uv or pip".into()));
    }
}
