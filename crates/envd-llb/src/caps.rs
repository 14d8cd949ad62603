//! LLB capability identifiers, as BuildKit names them in `solver/pb/caps.go`.
//!
//! An op records the caps it relies on in its metadata; the solver refuses a
//! definition that needs a cap it does not have. The frontend checks the
//! caps that change its lowering (merge and diff) against the ones `Ping`
//! reported, once.

#![allow(missing_docs)]

pub const SOURCE_IMAGE: &str = "source.image";
pub const SOURCE_IMAGE_RESOLVE_MODE: &str = "source.image.resolvemode";
pub const SOURCE_LOCAL: &str = "source.local";
pub const SOURCE_LOCAL_UNIQUE: &str = "source.local.unique";
pub const SOURCE_LOCAL_SESSION_ID: &str = "source.local.sessionid";
pub const SOURCE_LOCAL_INCLUDE_PATTERNS: &str = "source.local.includepatterns";
pub const SOURCE_LOCAL_FOLLOW_PATHS: &str = "source.local.followpaths";
pub const SOURCE_LOCAL_EXCLUDE_PATTERNS: &str = "source.local.excludepatterns";
pub const SOURCE_LOCAL_SHARED_KEY_HINT: &str = "source.local.sharedkeyhint";
pub const SOURCE_LOCAL_DIFFER: &str = "source.local.differ";
pub const SOURCE_GIT: &str = "source.git";
pub const SOURCE_GIT_FULL_URL: &str = "source.git.fullurl";
pub const SOURCE_GIT_KEEP_DIR: &str = "source.git.keepgitdir";
pub const SOURCE_HTTP: &str = "source.http";
pub const SOURCE_OCI_LAYOUT: &str = "source.ocilayout";

pub const EXEC_META_BASE: &str = "exec.meta.base";
pub const EXEC_META_NETWORK: &str = "exec.meta.network";
pub const EXEC_META_PROXY: &str = "exec.meta.proxyenv";
pub const EXEC_MOUNT_BIND: &str = "exec.mount.bind";
pub const EXEC_MOUNT_BIND_READONLY_NON_RECURSIVE: &str = "exec.mount.bind.readonly-non-recursive";
pub const EXEC_MOUNT_CACHE: &str = "exec.mount.cache";
pub const EXEC_MOUNT_CACHE_SHARING: &str = "exec.mount.cache.sharing";
pub const EXEC_MOUNT_SELECTOR: &str = "exec.mount.selector";
pub const EXEC_MOUNT_TMPFS: &str = "exec.mount.tmpfs";
pub const EXEC_MOUNT_TMPFS_SIZE: &str = "exec.mount.tmpfs.size";
pub const EXEC_META_ULIMIT: &str = "exec.meta.ulimit";
pub const EXEC_META_CGROUP_PARENT: &str = "exec.meta.cgroup.parent";
pub const EXEC_MOUNT_SECRET: &str = "exec.mount.secret";
pub const EXEC_MOUNT_SSH: &str = "exec.mount.ssh";
pub const EXEC_SECRET_ENV: &str = "exec.secretenv";

pub const FILE_BASE: &str = "file.base";

pub const MERGE_OP: &str = "mergeop";
pub const DIFF_OP: &str = "diffop";

pub const META_DESCRIPTION: &str = "meta.description";
pub const META_IGNORE_CACHE: &str = "meta.ignorecache";
pub const CONSTRAINTS: &str = "constraints";
pub const PLATFORM: &str = "platform";
