//! Lock files: environments that install exactly the packages they list,
//! with no solve, each archive checked against its hash.
//!
//! Two formats, told apart from an env.yaml by their content:
//! - `conda list --explicit --md5` (an `@EXPLICIT` line, then one URL a
//!   line, each with `#<md5>` or `#sha256:<hex>`);
//! - `conda-lock.yml` (version 1: a `package:` list of `name`, `manager`,
//!   `platform`, `url` and `hash`).

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

/// One archive a lock file pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Where the archive is.
    pub url: String,
    /// Its MD5, as lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Its SHA-256, as lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The archive's size in bytes, where a resolve knew it (for the
    /// layer planner); a lock file says nothing of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl LockedPackage {
    /// The archive's file name: `name-version-build.conda` or `.tar.bz2`.
    pub fn file_name(&self) -> &str {
        let path = self.url.split(['#', '?']).next().unwrap_or(&self.url);
        path.rsplit('/').next().unwrap_or(path)
    }

    /// The package's name, version and build, from its file name; `None`
    /// when the name is not `name-version-build` with a conda extension.
    pub fn dist(&self) -> Option<(&str, &str, &str)> {
        let file = self.file_name();
        let stem = file.strip_suffix(".conda").or_else(|| file.strip_suffix(".tar.bz2"))?;
        let mut parts = stem.rsplitn(3, '-');
        let build = parts.next()?;
        let version = parts.next()?;
        let name = parts.next().filter(|n| !n.is_empty())?;
        Some((name, version, build))
    }
}

/// What a conda resolve step writes for the frontend to read
/// (`envd-frontend conda-install` with [`crate::Stage::Resolve`]): the
/// solve's packages, as a lock file would pin them, with their sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolvedLock {
    /// The subdir it was solved for.
    pub subdir: String,
    /// Every package of the environment, sorted by URL.
    pub packages: Vec<LockedPackage>,
}

impl ResolvedLock {
    /// The file a resolve step writes in its output.
    pub const FILE: &'static str = "conda-lock.json";

    /// The JSON the resolve step writes.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a lock always serializes");
        s.push('\n');
        s
    }

    /// Reads what a resolve step wrote; the error says what is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let lock: Self =
            serde_json::from_str(text).map_err(|e| format!("the resolved conda lock is not valid: {e}"))?;
        if let Some(p) = lock.packages.iter().find(|p| p.dist().is_none()) {
            return Err(format!("the resolved conda lock names `{}`, which is not a conda archive", p.url));
        }
        Ok(lock)
    }
}

/// The packages of a lock file for one subdir.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locked {
    /// The conda archives, in the file's order.
    pub conda: Vec<LockedPackage>,
    /// pip's packages (conda-lock's `manager: pip`), as requirements pip
    /// checks the hash of (`URL#sha256=…`).
    pub pip: Vec<String>,
}

/// What kind of environment file `text` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFileKind {
    /// A `conda env export` environment, solved.
    Environment,
    /// `conda list --explicit`: installed as listed.
    Explicit,
    /// A `conda-lock.yml`: installed as listed.
    CondaLock,
}

impl EnvFileKind {
    /// Tells the formats apart by content, as conda does: an `@EXPLICIT`
    /// line, or a YAML mapping with a `package` list and `metadata`.
    pub fn of(text: &str) -> Self {
        if text.lines().any(|l| l.trim() == "@EXPLICIT") {
            return Self::Explicit;
        }
        let lockish = serde_yaml_ng::from_str::<Value>(text)
            .ok()
            .is_some_and(|v| v.get("package").is_some_and(Value::is_sequence) && v.get("metadata").is_some());
        if lockish {
            Self::CondaLock
        } else {
            Self::Environment
        }
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The packages of an `@EXPLICIT` file; the error names the line. Such a
/// file is for one platform (`# platform: linux-64`); a different one than
/// `subdir` is an error.
pub fn parse_explicit(text: &str, subdir: &str) -> Result<Locked, String> {
    let mut out = Locked::default();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if let Some(platform) = line.strip_prefix("# platform:").map(str::trim) {
            if platform != subdir {
                return Err(format!("is a lock file for {platform}, and this build is for {subdir} (line {n})"));
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line == "@EXPLICIT" {
            continue;
        }
        let (url, hash) = line.split_once('#').unwrap_or((line, ""));
        if !url.contains("://") {
            return Err(format!("line {n}: {url:?} is not a package URL"));
        }
        let (md5, sha256) = match hash.strip_prefix("sha256:") {
            Some(h) if is_hex(h, 64) => (None, Some(h.to_ascii_lowercase())),
            None if is_hex(hash, 32) => (Some(hash.to_ascii_lowercase()), None),
            _ if hash.is_empty() => {
                return Err(format!(
                    "line {n}: {url} has no hash; write the file with `conda list --explicit --md5`, so that every archive is checked"
                ))
            }
            _ => return Err(format!("line {n}: {hash:?} is neither an MD5 nor sha256:<hex>")),
        };
        out.conda.push(LockedPackage { url: url.to_owned(), md5, sha256, size: None });
    }
    if out.conda.is_empty() {
        return Err("lists no package after @EXPLICIT".into());
    }
    Ok(out)
}

#[derive(Deserialize)]
struct LockFile {
    version: Option<u64>,
    package: Vec<LockEntry>,
}

#[derive(Deserialize)]
struct LockEntry {
    name: String,
    manager: String,
    platform: String,
    url: String,
    #[serde(default)]
    hash: LockHash,
}

#[derive(Deserialize, Default)]
struct LockHash {
    md5: Option<String>,
    sha256: Option<String>,
}

/// The packages of a `conda-lock.yml` for `subdir`.
pub fn parse_conda_lock(text: &str, subdir: &str) -> Result<Locked, String> {
    let file: LockFile = serde_yaml_ng::from_str(text).map_err(|e| format!("is not a conda-lock file: {e}"))?;
    if file.version.is_some_and(|v| v != 1) {
        return Err(format!("is a conda-lock file of version {}; version 1 is read", file.version.unwrap_or(0)));
    }
    let mut out = Locked::default();
    let mut platforms: Vec<&str> = Vec::new();
    for p in &file.package {
        if !platforms.contains(&p.platform.as_str()) {
            platforms.push(&p.platform);
        }
        if p.platform != subdir {
            continue;
        }
        let md5 = p.hash.md5.as_ref().filter(|h| is_hex(h, 32)).map(|h| h.to_ascii_lowercase());
        let sha256 = p.hash.sha256.as_ref().filter(|h| is_hex(h, 64)).map(|h| h.to_ascii_lowercase());
        match p.manager.as_str() {
            "conda" if md5.is_none() && sha256.is_none() => {
                return Err(format!("package {} has no md5 or sha256 hash", p.name));
            }
            "conda" => out.conda.push(LockedPackage { url: p.url.clone(), md5, sha256, size: None }),
            "pip" => match sha256 {
                Some(h) => {
                    out.pip.push(format!("{} @ {}#sha256={h}", p.name, p.url.split('#').next().unwrap_or(&p.url)))
                }
                None => return Err(format!("pip package {} has no sha256 hash", p.name)),
            },
            other => return Err(format!("package {} has manager {other:?}, neither conda nor pip", p.name)),
        }
    }
    if out.conda.is_empty() && out.pip.is_empty() {
        return Err(format!("has no package for {subdir}; it locks {}", platforms.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "0123456789abcdef0123456789abcdef";
    const SHA: &str = "aa00000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn formats_are_told_apart_by_content() {
        assert_eq!(
            EnvFileKind::of("# This file may be used\n@EXPLICIT\nhttps://x/a.conda#00\n"),
            EnvFileKind::Explicit
        );
        assert_eq!(EnvFileKind::of("version: 1\nmetadata: {}\npackage: []\n"), EnvFileKind::CondaLock);
        assert_eq!(EnvFileKind::of("name: x\ndependencies: [python]\n"), EnvFileKind::Environment);
    }

    #[test]
    fn explicit_files_list_urls_with_their_hashes() {
        let text = format!(
            "# platform: linux-64\n@EXPLICIT\nhttps://c.test/main/linux-64/a-1-h0_0.tar.bz2#{MD5}\nhttps://c.test/main/noarch/b-2-py_0.conda#sha256:{SHA}\n"
        );
        let locked = parse_explicit(&text, "linux-64").unwrap();
        assert_eq!(
            locked.conda,
            [
                LockedPackage {
                    url: "https://c.test/main/linux-64/a-1-h0_0.tar.bz2".into(),
                    md5: Some(MD5.into()),
                    sha256: None,
                    size: None
                },
                LockedPackage {
                    url: "https://c.test/main/noarch/b-2-py_0.conda".into(),
                    md5: None,
                    sha256: Some(SHA.into()),
                    size: None
                },
            ]
        );
        assert_eq!(
            parse_explicit(&text, "linux-aarch64").unwrap_err(),
            "is a lock file for linux-64, and this build is for linux-aarch64 (line 1)"
        );
        assert!(parse_explicit("@EXPLICIT\nhttps://c.test/a-1-0.conda\n", "linux-64")
            .unwrap_err()
            .starts_with("line 2: https://c.test/a-1-0.conda has no hash"));
        assert_eq!(parse_explicit("@EXPLICIT\n", "linux-64").unwrap_err(), "lists no package after @EXPLICIT");
    }

    #[test]
    fn conda_lock_files_give_the_subdirs_conda_and_pip_packages() {
        let text = format!(
            "version: 1\nmetadata:\n  platforms: [linux-64, linux-aarch64]\npackage:\n- name: a\n  version: '1'\n  manager: conda\n  platform: linux-64\n  url: https://c.test/linux-64/a-1-h0_0.conda\n  hash: {{md5: {MD5}, sha256: {SHA}}}\n- name: a\n  version: '1'\n  manager: conda\n  platform: linux-aarch64\n  url: https://c.test/linux-aarch64/a-1-h0_0.conda\n  hash: {{md5: {MD5}}}\n- name: six\n  version: 1.16.0\n  manager: pip\n  platform: linux-64\n  url: https://files.test/six-1.16.0-py2.py3-none-any.whl\n  hash: {{sha256: {SHA}}}\n"
        );
        let locked = parse_conda_lock(&text, "linux-64").unwrap();
        assert_eq!(locked.conda.len(), 1);
        assert_eq!(locked.conda[0].sha256.as_deref(), Some(SHA));
        assert_eq!(locked.pip, [format!("six @ https://files.test/six-1.16.0-py2.py3-none-any.whl#sha256={SHA}")]);
        assert_eq!(parse_conda_lock(&text, "linux-aarch64").unwrap().conda[0].md5.as_deref(), Some(MD5));
        assert_eq!(
            parse_conda_lock(&text, "linux-ppc64le").unwrap_err(),
            "has no package for linux-ppc64le; it locks linux-64, linux-aarch64"
        );
    }

    #[test]
    fn an_archive_names_its_package_and_a_resolved_lock_reads_back() {
        let p = |url: &str| LockedPackage { url: url.into(), md5: None, sha256: None, size: None };
        let a = p("https://u:p@c.test/main/linux-64/libzlib-1.3.1-h0_0.conda#abc");
        assert_eq!(a.file_name(), "libzlib-1.3.1-h0_0.conda");
        assert_eq!(a.dist(), Some(("libzlib", "1.3.1", "h0_0")));
        assert_eq!(
            p("file:///c/noarch/python-dateutil-2.9-pyhd_0.tar.bz2").dist(),
            Some(("python-dateutil", "2.9", "pyhd_0"))
        );
        assert_eq!(p("https://c.test/x/readme.txt").dist(), None);
        assert_eq!(p("https://c.test/x/1-h0.conda").dist(), None, "no name");
        let lock = ResolvedLock { subdir: "linux-64".into(), packages: vec![LockedPackage { size: Some(12), ..a }] };
        assert_eq!(ResolvedLock::from_json(&lock.to_json()).unwrap(), lock);
        let bad = ResolvedLock { packages: vec![p("https://c.test/x/readme.txt")], ..lock };
        assert_eq!(
            ResolvedLock::from_json(&bad.to_json()).unwrap_err(),
            "the resolved conda lock names `https://c.test/x/readme.txt`, which is not a conda archive"
        );
        assert!(ResolvedLock::from_json("{").unwrap_err().starts_with("the resolved conda lock is not valid"));
    }
}
