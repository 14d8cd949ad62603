//! Frontend options, parsed once into a typed [`Config`].
//!
//! The keys are the ones BuildKit's `dockerui` reads, so that buildx flags
//! mean here what they mean for a Dockerfile. Each key has one parse
//! function, and every error names the key.

use std::collections::BTreeMap;

use envd_check::{CheckConfig, ENVD_CHECK_ARG, PROXY_ARGS};
use envd_gateway::{CacheImport, FrontendEnv};
use envd_llb::{Limits, NetMode, Platform, ProxyEnv, ResolveMode, Ulimit};
use envd_lower::{
    BaseOverrides, LlbCaps, LowerConfig, PackageLayers, PythonInstaller, BREAK_SYSTEM_PACKAGES_ARG, CONDA_LAYERS_ARG,
    HTTP_TIMEOUT_ARG, MAX_LAYERS_ARG, PYTHON_INSTALLER_ARG, PYTHON_LAYERS_ARG, TORCH_BACKEND_ARG, TORCH_INDEX_ARG,
};

pub mod contexts;
mod error;
mod sbom;
pub use sbom::Sbom;

pub use contexts::{MainContext, NamedContexts};
pub use error::ConfigError;

use crate::request::Request;
use contexts::ARG_KEEP_GIT_DIR;
use error::bad;

/// The file name read when `filename` is not given.
pub const DEFAULT_FILENAME: &str = "build.envd";

const KEY_FILENAME: &str = "filename";
const KEY_DOCKERFILE_LOCAL: &str = "dockerfilekey";
const KEY_CONTEXT_LOCAL: &str = "contextkey";
const KEY_TARGET: &str = "target";
const KEY_PLATFORM: &str = "platform";
const KEY_MULTI_PLATFORM: &str = "multi-platform";
const KEY_NO_CACHE: &str = "no-cache";
const KEY_CACHE_IMPORTS: &str = "cache-imports";
const KEY_CACHE_FROM: &str = "cache-from";
const KEY_IMAGE_RESOLVE_MODE: &str = "image-resolve-mode";
const KEY_REQUEST_ID: &str = "requestid";
const KEY_ADD_HOSTS: &str = "add-hosts";
const KEY_NETWORK: &str = "force-network-mode";
const KEY_SHM_SIZE: &str = "shm-size";
const KEY_ULIMIT: &str = "ulimit";
const KEY_CGROUP_PARENT: &str = "cgroup-parent";
const KEY_SBOM: &str = "attest:sbom";
const ARG_CACHE_NS: &str = "BUILDKIT_CACHE_MOUNT_NS";
const ARG_MULTI_PLATFORM: &str = "BUILDKIT_MULTI_PLATFORM";
const ARG_SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// conda's own override of `__cuda`, as a build arg.
const ARG_CONDA_OVERRIDE_CUDA: &str = "CONDA_OVERRIDE_CUDA";
const PREFIX_BUILD_ARG: &str = "build-arg:";
const PREFIX_LABEL: &str = "label:";

/// The options this frontend reads, each parsed by one function below or
/// in [`crate::contexts`]: `(key, or prefix when it ends with ':')`.
const READ: &[&str] = &[
    KEY_FILENAME,
    KEY_DOCKERFILE_LOCAL,
    KEY_CONTEXT_LOCAL,
    KEY_TARGET,
    KEY_PLATFORM,
    KEY_MULTI_PLATFORM,
    KEY_NO_CACHE,
    KEY_CACHE_IMPORTS,
    KEY_CACHE_FROM,
    KEY_IMAGE_RESOLVE_MODE,
    KEY_REQUEST_ID,
    KEY_ADD_HOSTS,
    KEY_NETWORK,
    KEY_SHM_SIZE,
    KEY_ULIMIT,
    KEY_CGROUP_PARENT,
    KEY_SBOM,
    "context",
    "context:",
    "local-sessionid:",
    "sharedkey:localdir:",
    PREFIX_BUILD_ARG,
    PREFIX_LABEL,
];

/// Options that are someone else's to act on, and harmless to leave:
/// BuildKit checks `frontend.caps`, records `vcs:*`, `input:context` and
/// `attest:provenance` in provenance itself; `source` and `cmdline` name
/// this frontend.
const IGNORED: &[&str] = &["frontend.caps", "source", "cmdline", "vcs:", "input:context", "attest:provenance"];

/// Options buildx can send that mean something this frontend cannot do:
/// each is refused with its reason rather than dropped.
const REFUSED: &[(&str, &str)] = &[
    ("memory", "--memory and the other resource limits belong to the legacy builder; build without them"),
    ("memswap", "--memory-swap belongs to the legacy builder; build without it"),
    ("cpushares", "--cpu-shares belongs to the legacy builder; build without it"),
    ("cpuperiod", "--cpu-period belongs to the legacy builder; build without it"),
    ("cpuquota", "--cpu-quota belongs to the legacy builder; build without it"),
    ("cpusetcpus", "--cpuset-cpus belongs to the legacy builder; build without it"),
    ("cpusetmems", "--cpuset-mems belongs to the legacy builder; build without it"),
    ("hostname", "a step hostname is not applied to build.envd steps; build without it"),
    ("build-arg:BUILDKIT_SANDBOX_HOSTNAME", "a step hostname is not applied to build.envd steps; build without it"),
    (
        "build-arg:BUILDKIT_DOCKERFILE_CHECK",
        "configures the Dockerfile linter; build.envd's is configured by the build arg ENVD_CHECK or a # check= line",
    ),
    (
        "build-arg:BUILDKIT_SBOM_SCAN_CONTEXT",
        "scans the build context for a Dockerfile's SBOM; build.envd's SBOM names the packages the build installed, from its own records",
    ),
    (
        "build-arg:BUILDKIT_SBOM_SCAN_STAGE",
        "scans a Dockerfile's stages for its SBOM; build.envd has no stages, and its SBOM names the packages the build installed",
    ),
    ("contextsubdir", "a context subdirectory is given in the context URL here, as #ref:subdir"),
    ("input:", "another build's result (a bake target: context) cannot be a build.envd input yet"),
    ("input-metadata:", "another build's result (a bake target: context) cannot be a build.envd input yet"),
];

/// The `BUILDKIT_*` build args this frontend or BuildKit acts on; any
/// other is refused, as a misspelt switch would otherwise do nothing.
const BUILDKIT_ARGS: &[&str] = &[
    "BUILDKIT_SYNTAX",
    "BUILDKIT_INLINE_CACHE",
    ARG_CACHE_NS,
    ARG_MULTI_PLATFORM,
    ARG_KEEP_GIT_DIR,
    "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_DOCKERFILE_CHECK",
];

/// Everything the build needs from the options and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The build file's name inside its local.
    pub filename: String,
    /// The local holding the build file (`dockerfile`); `None` when it is
    /// read from a remote context (buildx sends no `dockerfilekey` then).
    pub definition_local: Option<String>,
    /// The build context: the client's directory, a git repository or a
    /// tarball.
    pub context: MainContext,
    /// `--build-context`s.
    pub named: NamedContexts,
    /// A build or a `--call` subrequest.
    pub request: Request,
    /// `ENVD_CHECK`, which replaces build.envd's `# check=` directive.
    pub check: Option<CheckConfig>,
    /// The client session serving the locals.
    pub session_id: String,
    /// `--target`: the build.envd function to evaluate.
    pub target: Option<String>,
    /// `--platform`s, or the worker's: one image each.
    pub platforms: Vec<Platform>,
    /// The builder's own platform (its worker's first), if BuildKit said.
    pub builder_platform: Option<Platform>,
    /// Whether buildx asked for an index even of one platform
    /// (`multi-platform`, `BUILDKIT_MULTI_PLATFORM`, several platforms).
    pub multi_platform: bool,
    /// `--build-arg`s, without BuildKit's own `BUILDKIT_*` and the
    /// linter's `ENVD_CHECK`: build.envd's `args`. Nothing else reads them
    /// raw.
    pub build_args: BTreeMap<String, String>,
    /// What the `AIGES_*` build args say about the base.
    pub base_overrides: BaseOverrides,
    /// `ENVD_PYTHON_INSTALLER`: uv (the default) or pip.
    pub python_installer: PythonInstaller,
    /// `ENVD_PYTHON_LAYERS`: a layer per package or group (the default),
    /// or one per step.
    pub python_layers: PackageLayers,
    /// `ENVD_CONDA_LAYERS`: the same for the conda environment.
    pub conda_layers: PackageLayers,
    /// `ENVD_MAX_LAYERS`: the most layers of the image, the base's included.
    pub max_layers: usize,
    /// `ENVD_TORCH_BACKEND`: the torch family's variant, from the base's
    /// CUDA (the default), forced, or not chosen at all.
    pub torch_backend: envd_gpu::Backend,
    /// `ENVD_TORCH_INDEX`: where PyTorch's variant indexes are.
    pub torch_index: String,
    /// `ENVD_BREAK_SYSTEM_PACKAGES`: install into an externally managed
    /// python (PEP 668).
    pub break_system_packages: bool,
    /// `ENVD_HTTP_TIMEOUT`: the installers' network timeout, in seconds.
    pub http_timeout: Option<u32>,
    /// `--label`s.
    pub labels: Vec<(String, String)>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--cache-from`.
    pub cache_imports: Vec<CacheImport>,
    /// How to resolve the base image: `default`, `pull` or `local`.
    pub image_resolve_mode: ResolveMode,
    /// `--add-host`: (host, IP) pairs for every step's `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// `--network`: every step's network.
    pub network: NetMode,
    /// `--shm-size`, `--ulimit` and `--cgroup-parent`, for every step.
    pub limits: Limits,
    /// The proxy build args, for every step.
    pub proxy: Option<ProxyEnv>,
    /// `BUILDKIT_CACHE_MOUNT_NS`.
    pub cache_namespace: String,
    /// `SOURCE_DATE_EPOCH` (buildx passes the environment variable as this
    /// build arg): the image's dates, for reproducible builds.
    pub source_date_epoch: Option<i64>,
    /// `attest:sbom` (`--sbom`, `--attest type=sbom`).
    pub sbom: Sbom,
}

impl Config {
    /// Parses the options of one run.
    pub fn from_env(env: &FrontendEnv) -> Result<Self, ConfigError> {
        let opts = &env.opts;
        refuse_unknown(opts)?;
        let mut build_args = parse_build_args(opts);
        let check = build_args
            .remove(ENVD_CHECK_ARG)
            .map(|v| CheckConfig::parse(&v))
            .transpose()
            .map_err(|why| bad(&format!("{PREFIX_BUILD_ARG}{ENVD_CHECK_ARG}"), why))?;
        let base_overrides = BaseOverrides::from_build_args(&build_args)
            .map_err(|(arg, reason)| bad(&format!("{PREFIX_BUILD_ARG}{arg}"), reason))?;
        let python_installer =
            PythonInstaller::from_build_arg(build_args.get(PYTHON_INSTALLER_ARG).map(String::as_str))
                .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{PYTHON_INSTALLER_ARG}"), reason))?;
        let python_layers = PackageLayers::from_build_arg(build_args.get(PYTHON_LAYERS_ARG).map(String::as_str))
            .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{PYTHON_LAYERS_ARG}"), reason))?;
        let conda_layers = PackageLayers::from_build_arg(build_args.get(CONDA_LAYERS_ARG).map(String::as_str))
            .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{CONDA_LAYERS_ARG}"), reason))?;
        let max_layers = envd_lower::max_layers_from_build_arg(build_args.get(MAX_LAYERS_ARG).map(String::as_str))
            .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{MAX_LAYERS_ARG}"), reason))?;
        let torch_backend = envd_gpu::Backend::from_build_arg(build_args.get(TORCH_BACKEND_ARG).map(String::as_str))
            .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{TORCH_BACKEND_ARG}"), reason))?;
        let torch_index = envd_lower::torch_index_from_build_arg(build_args.get(TORCH_INDEX_ARG).map(String::as_str))
            .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{TORCH_INDEX_ARG}"), reason))?;
        let break_system_packages =
            envd_lower::flag_from_build_arg(build_args.get(BREAK_SYSTEM_PACKAGES_ARG).map(String::as_str))
                .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{BREAK_SYSTEM_PACKAGES_ARG}"), reason))?;
        let http_timeout =
            envd_lower::http_timeout_from_build_arg(build_args.get(HTTP_TIMEOUT_ARG).map(String::as_str))
                .map_err(|reason| bad(&format!("{PREFIX_BUILD_ARG}{HTTP_TIMEOUT_ARG}"), reason))?;
        Ok(Self {
            request: Request::from_id(opts.get(KEY_REQUEST_ID).map(String::as_str)),
            check,
            filename: parse_filename(opts)?,
            definition_local: match (opts.get(KEY_DOCKERFILE_LOCAL), opts.contains_key("context")) {
                (Some(local), _) => Some(local.clone()),
                (None, false) => Some("dockerfile".into()),
                (None, true) => None,
            },
            context: MainContext::parse(
                opts,
                opts.get(KEY_CONTEXT_LOCAL).cloned().unwrap_or_else(|| "context".into()),
            )?,
            named: NamedContexts::parse(opts, &env.session_id)?,
            session_id: env.session_id.clone(),
            target: opts.get(KEY_TARGET).filter(|t| !t.is_empty()).cloned(),
            platforms: parse_platforms(opts, &env.worker_platforms)?,
            builder_platform: env.worker_platforms.first().and_then(|p| Platform::parse(p)),
            multi_platform: parse_multi_platform(opts),
            build_args,
            base_overrides,
            python_installer,
            python_layers,
            conda_layers,
            max_layers,
            torch_backend,
            torch_index,
            break_system_packages,
            http_timeout,
            labels: prefixed(opts, PREFIX_LABEL).collect(),
            no_cache: parse_no_cache(opts)?,
            cache_imports: parse_cache_imports(opts)?,
            image_resolve_mode: parse_resolve_mode(opts)?,
            extra_hosts: parse_extra_hosts(opts)?,
            network: parse_network(opts)?,
            limits: parse_limits(opts)?,
            proxy: parse_proxy(opts),
            cache_namespace: opts.get(&format!("{PREFIX_BUILD_ARG}{ARG_CACHE_NS}")).cloned().unwrap_or_default(),
            source_date_epoch: parse_source_date_epoch(opts)?,
            sbom: match opts.get(KEY_SBOM) {
                None => Sbom::Off,
                Some(v) => Sbom::parse(v).map_err(|why| bad(KEY_SBOM, why))?,
            },
        })
    }

    /// The options that shape lowering for `platform`, given what the
    /// daemon supports.
    pub fn lower_config(&self, platform: &Platform, caps: LlbCaps) -> LowerConfig {
        LowerConfig {
            platform: platform.clone(),
            tools_platform: tools_platform(platform, self.builder_platform.as_ref()),
            caps,
            no_cache: self.no_cache,
            labels: self.labels.clone(),
            resolve_mode: self.image_resolve_mode,
            session_id: self.session_id.clone(),
            extra_hosts: self.extra_hosts.clone(),
            network: self.network,
            limits: self.limits.clone(),
            proxy: self.proxy.clone(),
            cache_namespace: self.cache_namespace.clone(),
            conda_override_cuda: self.build_args.get(ARG_CONDA_OVERRIDE_CUDA).filter(|v| !v.trim().is_empty()).cloned(),
            python_installer: self.python_installer,
            created: self.source_date_epoch.unwrap_or_else(|| {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
            }),
            source_date_epoch: self.source_date_epoch,
            python_layers: self.python_layers,
            conda_layers: self.conda_layers,
            max_layers: self.max_layers,
            torch_backend: self.torch_backend,
            torch_index: self.torch_index.clone(),
            break_system_packages: self.break_system_packages,
            http_timeout: self.http_timeout,
        }
    }
}

/// The architectures `aiges/envd-frontend` is published for: its index
/// has a linux image of each.
const PUBLISHED_ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

/// Which platform's frontend image a step of `step` mounts its tools from
/// (the conda installer and uv, static binaries):
/// - the builder's own, where the index has it: the host runs those
///   natively even in a step of another platform, which the step's own
///   would run under emulation (an arm64 step on an amd64 builder, an
///   amd64 one on Apple silicon);
/// - else the step's, where the index has it;
/// - else the running frontend's, which is there, since it runs.
///
/// Without BuildKit's word on the builder, the running frontend's is the
/// builder's: BuildKit starts a frontend image for its own platform.
fn tools_platform(step: &Platform, builder: Option<&Platform>) -> Platform {
    let published = |p: &Platform| p.os == "linux" && PUBLISHED_ARCHITECTURES.contains(&p.architecture.as_str());
    let own = Platform::native();
    let builder = builder.unwrap_or(&own);
    let chosen = [builder, step].into_iter().find(|p| published(p)).unwrap_or(&own);
    // The index names linux/arm64 without arm64's default variant (v8).
    Platform { os: "linux".into(), architecture: chosen.architecture.clone(), variant: String::new() }
}

fn prefixed<'a>(opts: &'a BTreeMap<String, String>, prefix: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
    opts.iter().filter_map(move |(k, v)| k.strip_prefix(prefix).map(|name| (name.to_owned(), v.clone())))
}

/// Refuses every option that is neither read, nor harmless to leave,
/// by name: an option dropped in silence is a build that differs from the
/// one asked for.
fn refuse_unknown(opts: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let matches = |key: &str, known: &str| match known.strip_suffix(':') {
        Some(_) => key.starts_with(known),
        None => key == known,
    };
    for key in opts.keys() {
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| matches(key, k)) {
            if opts[key].is_empty() && !key.contains(':') {
                continue; // buildx sends some of these empty when unset
            }
            return Err(bad(key, *why));
        }
        if let Some(arg) = key.strip_prefix(PREFIX_BUILD_ARG).filter(|a| a.starts_with("BUILDKIT_")) {
            if !BUILDKIT_ARGS.contains(&arg) {
                return Err(bad(
                    key,
                    format!("{arg} is not a BuildKit switch this frontend or BuildKit knows; check its spelling"),
                ));
            }
            continue;
        }
        if !READ.iter().chain(IGNORED).any(|k| matches(key, k)) {
            return Err(bad(key, "is not an option envd-frontend knows, and it would be dropped; build without it"));
        }
    }
    Ok(())
}

/// `--shm-size` (bytes), `--ulimit` (`name=soft[:hard],…`) and
/// `--cgroup-parent`, as buildx sends them.
fn parse_limits(opts: &BTreeMap<String, String>) -> Result<Limits, ConfigError> {
    let shm_size = match opts.get(KEY_SHM_SIZE).map(|v| v.trim()).filter(|v| !v.is_empty() && *v != "0") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(KEY_SHM_SIZE, format!("{v:?} is not a size in bytes")))?,
        ),
    };
    let mut ulimits = Vec::new();
    for field in opts.get(KEY_ULIMIT).into_iter().flat_map(|l| l.split(',')).map(str::trim).filter(|f| !f.is_empty()) {
        let malformed = || bad(KEY_ULIMIT, format!("{field:?} is not of the form name=soft[:hard]"));
        let (name, values) = field.split_once('=').ok_or_else(malformed)?;
        let (soft, hard) = values.split_once(':').unwrap_or((values, values));
        let (soft, hard) =
            (soft.parse::<i64>().map_err(|_| malformed())?, hard.parse::<i64>().map_err(|_| malformed())?);
        if soft > hard {
            return Err(bad(KEY_ULIMIT, format!("{field:?}: the soft limit is above the hard one")));
        }
        ulimits.push(Ulimit { name: name.trim().to_owned(), soft, hard });
    }
    let cgroup_parent = opts.get(KEY_CGROUP_PARENT).map(|v| v.trim().to_owned()).unwrap_or_default();
    Ok(Limits { shm_size, ulimits, cgroup_parent })
}

/// `--no-cache` (no value: every step) or `--no-cache-filter` (stage
/// names). build.envd has no stages to name, and widening a filter to
/// every step would be silently wrong.
fn parse_no_cache(opts: &BTreeMap<String, String>) -> Result<bool, ConfigError> {
    match opts.get(KEY_NO_CACHE).map(String::as_str) {
        None => Ok(false),
        Some("") => Ok(true),
        Some(filter) => Err(bad(
            KEY_NO_CACHE,
            format!("--no-cache-filter {filter} names Dockerfile stages, and build.envd has none; use --no-cache to re-run every step"),
        )),
    }
}

/// `SOURCE_DATE_EPOCH`: whole seconds since the Unix epoch.
fn parse_source_date_epoch(opts: &BTreeMap<String, String>) -> Result<Option<i64>, ConfigError> {
    let key = format!("{PREFIX_BUILD_ARG}{ARG_SOURCE_DATE_EPOCH}");
    match opts.get(&key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(&key, format!("{v:?} is not a number of seconds since 1970-01-01"))),
    }
}

/// `--network`: `default` (or none given), `none` or `host`.
fn parse_network(opts: &BTreeMap<String, String>) -> Result<NetMode, ConfigError> {
    match opts.get(KEY_NETWORK).map(String::as_str) {
        None | Some("") | Some("default") | Some("sandbox") => Ok(NetMode::Unset),
        Some("none") => Ok(NetMode::None),
        Some("host") => Ok(NetMode::Host),
        Some(other) => Err(bad(KEY_NETWORK, format!("{other:?} is not default, none or host"))),
    }
}

/// The proxy build args (upper or lower case), as Dockerfiles take them.
fn parse_proxy(opts: &BTreeMap<String, String>) -> Option<ProxyEnv> {
    let arg = |name: &str| {
        opts.get(&format!("{PREFIX_BUILD_ARG}{name}"))
            .or_else(|| opts.get(&format!("{PREFIX_BUILD_ARG}{}", name.to_lowercase())))
            .cloned()
            .unwrap_or_default()
    };
    let p = ProxyEnv {
        http: arg(PROXY_ARGS[0]),
        https: arg(PROXY_ARGS[1]),
        ftp: arg(PROXY_ARGS[2]),
        no: arg(PROXY_ARGS[3]),
        all: arg(PROXY_ARGS[4]),
    };
    (p != ProxyEnv::default()).then_some(p)
}

fn parse_filename(opts: &BTreeMap<String, String>) -> Result<String, ConfigError> {
    let name = opts.get(KEY_FILENAME).map(String::as_str).unwrap_or(DEFAULT_FILENAME);
    // buildx passes only the base name; the directory is the local's root.
    let base = name.rsplit('/').next().unwrap_or(name);
    if base.is_empty() || base == "." || base == ".." {
        return Err(bad(KEY_FILENAME, format!("{name:?} is not a file name")));
    }
    Ok(base.to_owned())
}

/// `--platform a,b`: one image each, in the order given, without
/// repeats; none given is the worker's.
fn parse_platforms(opts: &BTreeMap<String, String>, worker: &[String]) -> Result<Vec<Platform>, ConfigError> {
    if let Some(list) = opts.get(KEY_PLATFORM).filter(|v| !v.trim().is_empty()) {
        let mut out: Vec<Platform> = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let p = Platform::parse(item)
                .ok_or_else(|| bad(KEY_PLATFORM, format!("{item:?} is not of the form os/arch[/variant]")))?;
            if p.os != "linux" {
                return Err(bad(KEY_PLATFORM, format!("{item:?}: build.envd steps run on linux only")));
            }
            if !out.iter().any(|o| o.export_id() == p.export_id()) {
                out.push(p);
            }
        }
        return Ok(out);
    }
    Ok(vec![worker.first().and_then(|p| Platform::parse(p)).unwrap_or_else(Platform::native)])
}

/// Whether buildx asked for an index, as dockerui decides it.
fn parse_multi_platform(opts: &BTreeMap<String, String>) -> bool {
    let set = |k: &str| opts.get(k).is_some_and(|v| matches!(v.trim(), "1" | "true"));
    let several = opts.get(KEY_PLATFORM).is_some_and(|l| l.split(',').filter(|s| !s.trim().is_empty()).count() > 1);
    several || set(KEY_MULTI_PLATFORM) || set(&format!("{PREFIX_BUILD_ARG}{ARG_MULTI_PLATFORM}"))
}

fn parse_build_args(opts: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    // BuildKit's own switches (BUILDKIT_SYNTAX, BUILDKIT_INLINE_CACHE, ...)
    // steer BuildKit, not the build.
    prefixed(opts, PREFIX_BUILD_ARG).filter(|(k, _)| !k.starts_with("BUILDKIT_")).collect()
}

fn parse_cache_imports(opts: &BTreeMap<String, String>) -> Result<Vec<CacheImport>, ConfigError> {
    let mut imports = match opts.get(KEY_CACHE_IMPORTS).filter(|v| !v.is_empty()) {
        Some(json) => serde_json::from_str::<Vec<CacheImport>>(json)
            .map_err(|e| bad(KEY_CACHE_IMPORTS, format!("is not a JSON list of {{Type, Attrs}}: {e}")))?,
        None => Vec::new(),
    };
    if let Some(list) = opts.get(KEY_CACHE_FROM) {
        for r in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            imports.push(CacheImport { kind: "registry".into(), attrs: BTreeMap::from([("ref".into(), r.into())]) });
        }
    }
    Ok(imports)
}

fn parse_resolve_mode(opts: &BTreeMap<String, String>) -> Result<ResolveMode, ConfigError> {
    match opts.get(KEY_IMAGE_RESOLVE_MODE).map(String::as_str) {
        None | Some("") | Some("default") => Ok(ResolveMode::Default),
        Some("pull") => Ok(ResolveMode::ForcePull),
        Some("local") => Ok(ResolveMode::PreferLocal),
        Some(other) => Err(bad(KEY_IMAGE_RESOLVE_MODE, format!("{other:?} is not one of default, pull, local"))),
    }
}

/// `add-hosts`: `host=ip,host=ip`, as buildx sends `--add-host` (it has
/// already turned `host-gateway` into an address).
fn parse_extra_hosts(opts: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(list) = opts.get(KEY_ADD_HOSTS) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for field in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (host, ip) =
            field.split_once('=').ok_or_else(|| bad(KEY_ADD_HOSTS, format!("{field:?} is not of the form host=ip")))?;
        let ip: std::net::IpAddr =
            ip.parse().map_err(|_| bad(KEY_ADD_HOSTS, format!("{ip:?} in {field:?} is not an IP address")))?;
        out.push((host.to_lowercase(), ip.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(opts: &[(&str, &str)]) -> FrontendEnv {
        FrontendEnv {
            opts: opts.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            session_id: "s".into(),
            worker_platforms: vec!["linux/arm64".into()],
        }
    }

    #[test]
    fn steps_mount_the_tools_of_the_builders_own_platform() {
        let p = |s: &str| Platform::parse(s).unwrap();
        // An arm64 step on an amd64 builder: amd64 tools, run natively.
        assert_eq!(tools_platform(&p("linux/arm64"), Some(&p("linux/amd64"))), p("linux/amd64"));
        // An amd64 step on Apple silicon (the worker says linux/arm64/v8).
        assert_eq!(tools_platform(&p("linux/amd64"), Some(&p("linux/arm64/v8"))), p("linux/arm64"));
        assert_eq!(tools_platform(&p("linux/arm64"), Some(&p("linux/arm64"))), p("linux/arm64"));
        // A builder the index has no image for: the step's platform.
        assert_eq!(tools_platform(&p("linux/arm64"), Some(&p("linux/riscv64"))), p("linux/arm64"));
        // Neither: the running frontend's own, which exists.
        assert_eq!(tools_platform(&p("linux/s390x"), Some(&p("linux/riscv64"))), Platform::native());
        // BuildKit did not say: the running frontend's platform is the builder's.
        assert_eq!(tools_platform(&p("linux/arm64"), None), Platform::native());
    }

    #[test]
    fn lowering_takes_the_tools_platform_from_the_worker() {
        let c = Config::from_env(&env(&[("platform", "linux/amd64,linux/arm64")])).unwrap();
        let caps = LlbCaps::default();
        for platform in &c.platforms {
            let lower = c.lower_config(platform, caps);
            assert_eq!(lower.tools_platform, Platform::parse("linux/arm64").unwrap(), "{platform}: the worker's");
        }
    }

    #[test]
    fn defaults_follow_buildx() {
        let c = Config::from_env(&env(&[])).unwrap();
        assert_eq!(c.filename, "build.envd");
        assert_eq!(c.definition_local.as_deref(), Some("dockerfile"));
        assert_eq!(c.context, MainContext::Local { name: "context".into() });
        assert_eq!(c.platforms, [Platform::parse("linux/arm64").unwrap()], "the worker's platform");
        assert!(!c.multi_platform);
        assert_eq!(c.limits, Limits::default());
        assert!(!c.no_cache);
        assert_eq!(c.image_resolve_mode, ResolveMode::Default);
        assert_eq!(c.request, Request::Build);
        assert_eq!(c.check, None);
        assert_eq!((c.network, c.proxy.clone(), c.cache_namespace.as_str()), (NetMode::Unset, None, ""));
    }

    #[test]
    fn network_proxies_and_the_cache_namespace_reach_lowering() {
        let c = Config::from_env(&env(&[
            ("force-network-mode", "none"),
            ("build-arg:http_proxy", "http://proxy.test:3128"),
            ("build-arg:NO_PROXY", "localhost"),
            ("build-arg:BUILDKIT_CACHE_MOUNT_NS", "team-a"),
        ]))
        .unwrap();
        let l = c.lower_config(&c.platforms[0], LlbCaps { merge_diff: true });
        assert_eq!(l.network, NetMode::None);
        let p = l.proxy.unwrap();
        assert_eq!((p.http.as_str(), p.no.as_str(), p.https.as_str()), ("http://proxy.test:3128", "localhost", ""));
        assert_eq!(l.cache_namespace, "team-a");
        let epoch = Config::from_env(&env(&[("build-arg:SOURCE_DATE_EPOCH", "1700000000")])).unwrap();
        assert_eq!(epoch.lower_config(&epoch.platforms[0], LlbCaps { merge_diff: true }).created, 1_700_000_000);
        assert_eq!(Config::from_env(&env(&[("force-network-mode", "host")])).unwrap().network, NetMode::Host);
    }

    #[test]
    fn platforms_limits_and_harmless_options() {
        let c = Config::from_env(&env(&[
            ("platform", "linux/amd64,linux/arm64/v8,linux/amd64"),
            ("shm-size", "134217728"),
            ("ulimit", "nofile=1024:2048,nproc=512"),
            ("cgroup-parent", "ci.slice"),
            ("frontend.caps", "moby.buildkit.frontend.contexts+forward"),
            ("vcs:source", "https://example.com/r.git"),
            ("attest:provenance", "mode=min,inline-only=true"),
            ("build-arg:BUILDKIT_INLINE_CACHE", "1"),
        ]))
        .unwrap();
        let ids: Vec<String> = c.platforms.iter().map(Platform::export_id).collect();
        assert_eq!(ids, ["linux/amd64", "linux/arm64"], "in order, once each, arm64's v8 implied");
        assert!(c.multi_platform);
        assert_eq!(c.limits.shm_size, Some(128 << 20));
        assert_eq!(
            c.limits.ulimits,
            [
                Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 },
                Ulimit { name: "nproc".into(), soft: 512, hard: 512 }
            ]
        );
        assert_eq!(c.limits.cgroup_parent, "ci.slice");
        let one = Config::from_env(&env(&[("platform", "linux/arm64"), ("multi-platform", "true")])).unwrap();
        assert!(one.multi_platform, "buildx's multi-platform asks for an index of one");
        let git = Config::from_env(&env(&[("context", "git://h/r.git#main:svc")])).unwrap();
        assert_eq!(git.definition_local, None, "the build file comes from the repository");
        assert!(matches!(git.context, MainContext::Git { .. }));
    }

    #[test]
    fn requestid_names_the_subrequest_and_envd_check_is_the_linters() {
        let id = |v: &str| Config::from_env(&env(&[("requestid", v)])).unwrap().request;
        assert_eq!(id("frontend.outline"), Request::Outline);
        assert_eq!(id("frontend.targets"), Request::Targets);
        assert_eq!(id("frontend.lint"), Request::Lint);
        assert_eq!(id("frontend.subrequests.describe"), Request::Describe);
        assert_eq!(id("frontend.convertllb"), Request::Unsupported("frontend.convertllb".into()));
        let c = Config::from_env(&env(&[("build-arg:ENVD_CHECK", "skip=UnusedBuildArg;error=true")])).unwrap();
        let check = c.check.unwrap();
        assert!(check.error && check.skip.contains(&envd_lang::Rule::UnusedBuildArg));
        assert!(!c.build_args.contains_key("ENVD_CHECK"), "the linter's switch is not build.envd's arg");
    }

    #[test]
    fn options_parse_into_their_fields() {
        let c = Config::from_env(&env(&[
            ("filename", "sub/my.envd"),
            ("target", "gpu"),
            ("platform", "linux/amd64"),
            ("build-arg:VERSION", "1.2"),
            ("build-arg:BUILDKIT_SYNTAX", "aiges/envd-frontend"),
            ("label:team", "ml"),
            ("no-cache", ""),
            ("cache-imports", r#"[{"Type":"registry","Attrs":{"ref":"127.0.0.1:5000/c"}}]"#),
            ("cache-from", "127.0.0.1:5000/d"),
            ("image-resolve-mode", "pull"),
            ("add-hosts", "conda.test=172.17.0.1,v6.test=::1"),
            ("build-arg:AIGES_DEVICE", "gpu"),
            ("build-arg:AIGES_CPU_IMAGE", "127.0.0.1:5000/cpu"),
        ]))
        .unwrap();
        assert_eq!(c.base_overrides.device, Some(envd_lower::Device::Gpu));
        assert_eq!(c.base_overrides.cpu_image.as_deref(), Some("127.0.0.1:5000/cpu"));
        assert_eq!(c.build_args["AIGES_DEVICE"], "gpu", "build.envd still sees every arg in args");
        assert_eq!(
            c.extra_hosts,
            [("conda.test".to_owned(), "172.17.0.1".to_owned()), ("v6.test".to_owned(), "::1".to_owned())]
        );
        assert_eq!(c.filename, "my.envd");
        assert_eq!(c.target.as_deref(), Some("gpu"));
        assert_eq!(c.platforms, [Platform::parse("linux/amd64").unwrap()]);
        assert_eq!(c.build_args["VERSION"], "1.2");
        assert!(!c.build_args.contains_key("BUILDKIT_SYNTAX"));
        assert_eq!(c.labels, [("team".to_owned(), "ml".to_owned())]);
        assert!(c.no_cache);
        let refs: Vec<&str> = c.cache_imports.iter().map(|i| i.attrs["ref"].as_str()).collect();
        assert_eq!(refs, ["127.0.0.1:5000/c", "127.0.0.1:5000/d"]);
        assert_eq!(c.image_resolve_mode, ResolveMode::ForcePull);
    }

    #[test]
    fn bad_options_name_their_key() {
        let cases = [
            (("platform", "linux"), "frontend option platform: \"linux\" is not of the form os/arch[/variant]"),
            (("platform", "windows/amd64"), "frontend option platform: \"windows/amd64\": build.envd steps run on linux only"),
            (("image-resolve-mode", "sometimes"), "frontend option image-resolve-mode: \"sometimes\" is not one of default, pull, local"),
            (("filename", ".."), "frontend option filename: \"..\" is not a file name"),
            (("add-hosts", "conda.test"), "frontend option add-hosts: \"conda.test\" is not of the form host=ip"),
            (("add-hosts", "a=1.2.3"), "frontend option add-hosts: \"1.2.3\" in \"a=1.2.3\" is not an IP address"),
            (("force-network-mode", "bridge"), "frontend option force-network-mode: \"bridge\" is not default, none or host"),
            (
                ("no-cache", "build,gpu"),
                "frontend option no-cache: --no-cache-filter build,gpu names Dockerfile stages, and build.envd has none; use --no-cache to re-run every step",
            ),
            (
                ("build-arg:SOURCE_DATE_EPOCH", "yesterday"),
                "frontend option build-arg:SOURCE_DATE_EPOCH: \"yesterday\" is not a number of seconds since 1970-01-01",
            ),
            (("shm-size", "1g"), "frontend option shm-size: \"1g\" is not a size in bytes"),
            (("ulimit", "nofile"), "frontend option ulimit: \"nofile\" is not of the form name=soft[:hard]"),
            (("ulimit", "nofile=10:5"), "frontend option ulimit: \"nofile=10:5\": the soft limit is above the hard one"),
            (("hostname", "svc"), "frontend option hostname: a step hostname is not applied to build.envd steps; build without it"),
            (
                ("attest:sbom", "type=sbom,mode=all"),
                "frontend option attest:sbom: mode=all is a scanner's parameter, and the frontend writes the SBOM itself; name the scanner with generator=IMAGE, or drop it",
            ),
            (
                ("build-arg:BUILDKIT_SBOM_SCAN_STAGE", "true"),
                "frontend option build-arg:BUILDKIT_SBOM_SCAN_STAGE: scans a Dockerfile's stages for its SBOM; build.envd has no stages, and its SBOM names the packages the build installed",
            ),
            (
                ("build-arg:BUILDKIT_DOCKERFILE_CHECK", "skip=all"),
                "frontend option build-arg:BUILDKIT_DOCKERFILE_CHECK: configures the Dockerfile linter; build.envd's is configured by the build arg ENVD_CHECK or a # check= line",
            ),
            (
                ("build-arg:BUILDKIT_CACHE_MOUNTNS", "x"),
                "frontend option build-arg:BUILDKIT_CACHE_MOUNTNS: BUILDKIT_CACHE_MOUNTNS is not a BuildKit switch this frontend or BuildKit knows; check its spelling",
            ),
            (
                ("squash", "true"),
                "frontend option squash: is not an option envd-frontend knows, and it would be dropped; build without it",
            ),
            (
                ("input:base", "x"),
                "frontend option input:base: another build's result (a bake target: context) cannot be a build.envd input yet",
            ),
            (("build-arg:AIGES_DEVICE", "tpu"), "frontend option build-arg:AIGES_DEVICE: \"tpu\" is not cpu or gpu"),
            (
                ("build-arg:ENVD_PYTHON_INSTALLER", "poetry"),
                "frontend option build-arg:ENVD_PYTHON_INSTALLER: \"poetry\" is not uv or pip",
            ),
            (
                ("build-arg:ENVD_PYTHON_LAYERS", "each"),
                "frontend option build-arg:ENVD_PYTHON_LAYERS: \"each\" is not packages or single",
            ),
            (
                ("build-arg:ENVD_CONDA_LAYERS", "yes"),
                "frontend option build-arg:ENVD_CONDA_LAYERS: \"yes\" is not packages or single",
            ),
            (
                ("build-arg:ENVD_HTTP_TIMEOUT", "forever"),
                "frontend option build-arg:ENVD_HTTP_TIMEOUT: \"forever\" is not a number of seconds from 1 to 3600",
            ),
            (
                ("build-arg:ENVD_BREAK_SYSTEM_PACKAGES", "yes"),
                "frontend option build-arg:ENVD_BREAK_SYSTEM_PACKAGES: \"yes\" is not 1, true, 0 or false",
            ),
            (
                ("build-arg:ENVD_TORCH_BACKEND", "cuda"),
                "frontend option build-arg:ENVD_TORCH_BACKEND: \"cuda\" is not auto, off, cpu or a CUDA variant such as cu116",
            ),
            (
                ("build-arg:ENVD_TORCH_INDEX", "mirror/whl"),
                "frontend option build-arg:ENVD_TORCH_INDEX: \"mirror/whl\" is not an http(s) URL of PyTorch's indexes, such as https://download.pytorch.org/whl",
            ),
            (
                ("build-arg:ENVD_MAX_LAYERS", "500"),
                "frontend option build-arg:ENVD_MAX_LAYERS: \"500\" is not a number of layers from 2 to 127",
            ),
            (("context:base", "ftp://x"), "frontend option context:base: \"ftp://x\" is not docker-image://, oci-layout:// or a directory"),
            (
                ("build-arg:ENVD_CHECK", "skip=all;error=maybe"),
                "frontend option build-arg:ENVD_CHECK: error=\"maybe\" is not true or false",
            ),
        ];
        for ((k, v), want) in cases {
            assert_eq!(Config::from_env(&env(&[(k, v)])).unwrap_err().to_string(), want);
        }
        let e = Config::from_env(&env(&[("cache-imports", "{")])).unwrap_err();
        assert!(e.to_string().starts_with("frontend option cache-imports: is not a JSON list"), "{e}");
    }
}
