//! The names a build shares with other builds and with the images it makes:
//! cache-mount ids, where steps see mounted files, and the PATH of an image
//! that sets none.
//!
//! They live here, together, because each is a contract: a cache id is
//! shared by every build on a BuildKit (and through a registry cache, by
//! CI), and changing one silently throws that cache away.

use envd_llb::{CacheSharing, Mount};

/// What a Dockerfile `RUN` gets as PATH on an image without one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A cache mount: a directory that outlives the build and never reaches
/// the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheMount {
    /// The cache id, shared by every build that mounts it.
    pub id: &'static str,
    /// Where steps see it.
    pub target: &'static str,
    /// How concurrent builds share it.
    pub sharing: CacheSharing,
}

impl CacheMount {
    /// The mount for an exec.
    pub(crate) fn mount(&self) -> Mount {
        Mount::cache(self.target, self.id, self.sharing)
    }
}

/// Downloaded .debs. LOCKED: apt locks it anyway.
pub const APT_ARCHIVES: CacheMount =
    CacheMount { id: "envd-apt-archives", target: "/var/cache/apt", sharing: CacheSharing::Locked };
/// apt's package lists.
pub const APT_LISTS: CacheMount =
    CacheMount { id: "envd-apt-lists", target: "/var/lib/apt", sharing: CacheSharing::Locked };
/// pip's cache and the wheelhouse (`wheelhouse/`) inside it, outside
/// any home directory so that nothing of it lands in the image.
pub const PIP_CACHE: CacheMount =
    CacheMount { id: "envd-pip-cache", target: "/var/cache/envd/pip", sharing: CacheSharing::Shared };
/// uv's cache: wheels by content, unpacked, linked into the target by copy.
pub const UV_CACHE: CacheMount =
    CacheMount { id: "envd-uv-cache", target: "/var/cache/envd/uv", sharing: CacheSharing::Shared };
/// The code of the `.pyc` files the uv path writes, by interpreter, path
/// and source (see `bytecode.py`).
pub const PYC_CACHE: CacheMount =
    CacheMount { id: "envd-pyc-cache", target: "/var/cache/envd/pyc", sharing: CacheSharing::Shared };
/// conda package archives and their extracted directories. LOCKED:
/// with `shared`, four builds at once on a cold cache failed (one linked
/// `python`'s files from a directory another was still extracting; see
/// the parallel test in `tests/e2e/survive.rs`), and rattler's own file
/// locks did not prevent it across build containers.
pub const CONDA_PKGS: CacheMount =
    CacheMount { id: "envd-conda-pkgs", target: "/var/cache/envd/conda/pkgs", sharing: CacheSharing::Locked };
/// conda repodata.
pub const CONDA_REPODATA: CacheMount =
    CacheMount { id: "envd-conda-repodata", target: "/var/cache/envd/conda/repodata", sharing: CacheSharing::Locked };

/// Every cache mount a build may use.
pub const CACHE_MOUNTS: &[CacheMount] =
    &[APT_ARCHIVES, APT_LISTS, PIP_CACHE, UV_CACHE, PYC_CACHE, CONDA_PKGS, CONDA_REPODATA];

/// The cache mounts `plan` uses, each with the first call that mounts
/// it: what `--call outline` lists.
pub fn cache_mounts_of(plan: &envd_lang::Plan) -> Vec<(CacheMount, envd_lang::Span)> {
    use envd_lang::StepKind;
    let mut out: Vec<(CacheMount, envd_lang::Span)> = Vec::new();
    for step in &plan.steps {
        let mounts: &[CacheMount] = match step.kind {
            StepKind::SystemPackages { .. } => &[APT_ARCHIVES, APT_LISTS],
            StepKind::PythonPackages { .. } => &[UV_CACHE, PYC_CACHE, PIP_CACHE],
            StepKind::CondaPackages { .. } => &[CONDA_PKGS, CONDA_REPODATA],
            _ => &[],
        };
        for m in mounts {
            if !out.iter().any(|(seen, _)| seen.id == m.id) {
                out.push((*m, step.span.clone()));
            }
        }
    }
    out
}

/// Every wheel pip downloaded, in the pip cache mount.
pub(crate) const PIP_WHEELHOUSE: &str = "/var/cache/envd/pip/wheelhouse";

/// Where steps see context files they read without copying them
/// (requirements, wheels, channel directories): read-only mounts.
pub(crate) const CONTEXT_MOUNT: &str = "/run/envd/context";

/// Where a conda step sees the context directories its env files' `pip:`
/// sections install from (`-e .`): writable mounts whose changes are
/// thrown away, since a build backend writes `build/` and `*.egg-info`
/// into the source tree.
pub(crate) const PIP_SOURCES: &str = "/run/envd/pip-src";

/// Where conda and pip steps see the `/bin` of the frontend's own image:
/// the conda installer and uv.
pub(crate) const INSTALLER_DIR: &str = "/run/envd/frontend";

/// Where the conda step sees its install request.
pub(crate) const CONDA_REQUEST: &str = "/run/envd/conda/request.json";

/// The file Debian and Ubuntu images use to delete downloaded .debs; apt
/// steps hide it so that the archive cache keeps them.
pub(crate) const APT_CLEAN_HOOK: &str = "/etc/apt/apt.conf.d/docker-clean";
