//! A python lock as lowering reads it: the packages a resolve step chose,
//! each with its version, its files and their hashes.
//!
//! The resolve step writes PEP 751's `pylock.toml` (`uv pip compile
//! --format pylock.toml`, against the step's own python and indexes); the
//! frontend reads that small file after solving the step, and
//! [`PythonLock::parse`] keeps what lowering needs: enough to install one
//! package with no resolution (`name==version` and every hash of its
//! files) and to size it for the layer planner (its largest wheel).

use std::collections::BTreeMap;

use envd_lang::Span;
use envd_llb::State;

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The name, normalised as PEP 503 does (`Foo_Bar` is `foo-bar`).
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The sha256 of every file the lock lists for it (wheels and sdist),
    /// sorted: any of them may be the one the installer picks.
    pub hashes: Vec<String>,
    /// The size of its largest wheel in bytes; 0 when it has none.
    pub wheel_size: u64,
    /// It has no wheel: it is built from its sdist where it is installed,
    /// which may need what earlier steps installed (compilers, headers).
    pub sdist_only: bool,
    /// A requirement with no version and hash to pin (a VCS or URL
    /// requirement, a directory): installed as the user wrote it.
    pub direct: bool,
    /// Its wheels, each with its URL (credentials stripped) and sha256:
    /// which of them was installed, the SBOM reads from the
    /// distribution's tags.
    pub wheels: Vec<WheelFile>,
}

/// One wheel a lock lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFile {
    /// Where it is downloaded from, without credentials.
    pub url: String,
    /// Its sha256.
    pub sha256: String,
}

impl WheelFile {
    /// The tags its file name says it is for (`cp311-cp311-manylinux_2_17_x86_64`),
    /// compressed tag sets (`py2.py3`) expanded.
    pub fn tags(&self) -> Vec<String> {
        let name = self.url.rsplit('/').next().unwrap_or_default();
        let name = name.split(['?', '#']).next().unwrap_or_default();
        let Some(stem) = name.strip_suffix(".whl") else { return Vec::new() };
        let parts: Vec<&str> = stem.split('-').collect();
        let [.., py, abi, plat] = parts.as_slice() else { return Vec::new() };
        let mut out = Vec::new();
        for py in py.split('.') {
            for abi in abi.split('.') {
                for plat in plat.split('.') {
                    out.push(format!("{py}-{abi}-{plat}"));
                }
            }
        }
        out
    }
}

impl LockedPackage {
    /// The requirement that installs exactly this package, hashes and
    /// all, as a line of a requirements file.
    pub fn pinned(&self) -> String {
        let mut line = format!("{}=={}", self.name, self.version);
        for h in &self.hashes {
            line.push_str(&format!(" --hash=sha256:{h}"));
        }
        line
    }
}

/// Every package of a lock, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonLock {
    /// The packages, sorted by name.
    pub packages: Vec<LockedPackage>,
}

/// PEP 503's normal form of a project name.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
            continue;
        }
        if dash && !out.is_empty() {
            out.push('-');
        }
        dash = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl PythonLock {
    /// Reads a `pylock.toml`; the error says what is missing where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("pylock.toml is not TOML: {e}"))?;
        let Some(packages) = doc.get("packages") else { return Ok(Self::default()) };
        let packages = packages.as_array_of_tables().ok_or("pylock.toml: `packages` is not an array of tables")?;
        let mut by_name: BTreeMap<String, LockedPackage> = BTreeMap::new();
        for (i, p) in packages.iter().enumerate() {
            let name = p
                .get("name")
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("pylock.toml: package {} has no name", i + 1))?;
            let version = p.get("version").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let mut hashes = Vec::new();
            let mut wheel_size = 0;
            let mut wheels = Vec::new();
            let file = |t: &dyn toml_edit::TableLike| {
                let hash = t.get("hashes").and_then(|h| h.as_table_like()).and_then(|h| h.get("sha256"))?.as_str()?;
                let size = t.get("size").and_then(|s| s.as_integer()).unwrap_or(0).max(0) as u64;
                Some((hash.to_owned(), size))
            };
            if let Some(list) = p.get("wheels").and_then(|w| w.as_array()) {
                for w in list.iter().filter_map(|w| w.as_inline_table()) {
                    let url = w.get("url").and_then(|u| u.as_str()).map(envd_conda::credentials::strip);
                    match file(w) {
                        Some((hash, size)) => {
                            wheels.push(WheelFile { url: url.unwrap_or_default(), sha256: hash.clone() });
                            hashes.push(hash);
                            wheel_size = wheel_size.max(size);
                        }
                        None => wheels.push(WheelFile { url: url.unwrap_or_default(), sha256: String::new() }),
                    }
                }
            }
            if let Some(sdist) = p.get("sdist").and_then(|s| s.as_table_like()) {
                if let Some((hash, _)) = file(sdist) {
                    hashes.push(hash);
                }
            }
            // A wheel of a local directory (`--find-links ./wheels`) has a
            // path, or a file: URL: only the step that mounts the context
            // can install it, as a direct reference.
            let local_wheel = p.get("wheels").and_then(|w| w.as_array()).is_some_and(|list| {
                list.iter().filter_map(|w| w.as_inline_table()).any(|w| match w.get("url").and_then(|u| u.as_str()) {
                    None => true,
                    Some(url) => url.starts_with("file:"),
                })
            });
            let direct =
                ["vcs", "directory", "archive"].iter().any(|k| p.get(k).is_some()) || version.is_empty() || local_wheel;
            hashes.sort();
            hashes.dedup();
            let package = LockedPackage {
                name: normalize(name),
                version,
                sdist_only: wheels.is_empty() && !direct,
                hashes,
                wheel_size,
                direct,
                wheels,
            };
            by_name.insert(package.name.clone(), package);
        }
        Ok(Self { packages: by_name.into_values().collect() })
    }
}

/// Each `[[packages]]` table of a `pylock.toml` as TOML text, by
/// normalised name: what a lock of some of the packages is made of.
pub fn package_tables(text: &str) -> Result<BTreeMap<String, String>, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("pylock.toml is not TOML: {e}"))?;
    let Some(packages) = doc.get("packages").and_then(|p| p.as_array_of_tables()) else { return Ok(BTreeMap::new()) };
    Ok(packages.iter().filter_map(|t| Some((normalize(t.get("name")?.as_str()?), t.to_string()))).collect())
}

/// A resolve the frontend solves before lowering can finish: the state
/// of the resolve step's output, which holds the lock `file`. The
/// frontend reads that file and hands its text back, by `step`, in
/// [`crate::Inputs::locks`]; what the lock says is lowering's to read.
#[derive(Debug, Clone)]
pub struct Resolve {
    /// The plan step it resolves ([`envd_lang::Plan::steps`] index): a
    /// python call, or the first conda call of a segment.
    pub step: usize,
    /// That step's call, for errors about the lock.
    pub span: Span,
    /// The output holding the lock.
    pub state: State,
    /// The lock's file name in that output: `pylock.toml`
    /// ([`crate::layered::LOCK_FILE`]) or `conda-lock.json`
    /// ([`envd_conda::ResolvedLock::FILE`]).
    pub file: &'static str,
}

impl Resolve {
    /// Its lock's key in [`crate::Inputs::locks`]: the step and the file,
    /// as a conda step resolves its environment and its env file's `pip:`
    /// section apart.
    pub fn key(&self) -> (usize, &'static str) {
        (self.step, self.file)
    }
}

/// A lock and the text of each of its packages' tables, as the resolve
/// step wrote them, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonLockText {
    /// What lowering reads of the lock.
    pub lock: PythonLock,
    /// `[[packages]]` tables as TOML text, by normalised name.
    pub tables: std::collections::BTreeMap<String, String>,
}

impl PythonLockText {
    /// Reads a `pylock.toml`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lock = PythonLock::parse(text)?;
        // A URL with credentials in it would be in the build's LLB: the
        // group steps get them the way the resolve did (netrc, the index
        // settings), by host.
        let tables = package_tables(text)?.into_iter().map(|(k, v)| (k, envd_conda::credentials::strip(&v))).collect();
        Ok(Self { lock, tables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `uv pip compile --format pylock.toml` writes it.
    const PYLOCK: &str = r#"# This file was autogenerated by uv via the following command:
#    uv pip compile req.in --format pylock.toml -o pylock.toml
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "Charset_Normalizer"
version = "3.5.3"
sdist = { url = "https://files.example/charset_normalizer-3.5.3.tar.gz", upload-time = 2026-11-23T02:46:51Z, size = 189359, hashes = { sha256 = "a2" } }
wheels = [
    { url = "https://files.example/charset_normalizer-3.5.3-cp311-cp311-manylinux_2_28_x86_64.whl", upload-time = 2026-11-23T02:43:37Z, size = 263382, hashes = { sha256 = "2a" } },
    { url = "https://files.example/charset_normalizer-3.5.3-py3-none-any.whl", upload-time = 2026-11-23T02:46:50Z, size = 68878, hashes = { sha256 = "96" } },
]

[[packages]]
name = "six"
version = "1.16.0"
wheels = [{ url = "https://files.example/six-1.16.0-py2.py3-none-any.whl", size = 11053, hashes = { sha256 = "8a" } }]

[[packages]]
name = "legacy"
version = "0.1"
sdist = { url = "https://files.example/legacy-0.1.tar.gz", size = 1000, hashes = { sha256 = "11" } }

[[packages]]
name = "demo"
vcs = { type = "git", url = "https://git.example/demo.git", commit-id = "abc" }
"#;

    #[test]
    fn a_uv_pylock_gives_names_versions_hashes_and_sizes() {
        let lock = PythonLock::parse(PYLOCK).unwrap();
        let names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["charset-normalizer", "demo", "legacy", "six"], "normalised, sorted");
        let c = &lock.packages[0];
        assert_eq!((c.version.as_str(), c.wheel_size, c.sdist_only, c.direct), ("3.5.3", 263382, false, false));
        assert_eq!(c.hashes, ["2a", "96", "a2"]);
        assert_eq!(c.pinned(), "charset-normalizer==3.5.3 --hash=sha256:2a --hash=sha256:96 --hash=sha256:a2");
        assert!(lock.packages[1].direct, "a VCS requirement has no version to pin");
        assert!(lock.packages[2].sdist_only);
        assert_eq!(lock.packages[3].wheel_size, 11053);
        let local = "[[packages]]\nname = \"par\"\nversion = \"1.0\"\nwheels = [{ path = \"wheels/par-1.0-py3-none-any.whl\", hashes = { sha256 = \"aa\" } }]\n";
        assert!(PythonLock::parse(local).unwrap().packages[0].direct, "a wheel of a local directory is the step's own");
        let file_url = local.replace("path = \"wheels/", "url = \"file:///run/envd/context/wheels/");
        assert!(PythonLock::parse(&file_url).unwrap().packages[0].direct);
    }

    #[test]
    fn a_wheel_says_its_tags_from_its_file_name() {
        let lock = PythonLock::parse(PYLOCK).unwrap();
        let charset = &lock.packages[0];
        assert_eq!(charset.wheels.len(), 2);
        assert_eq!(charset.wheels[0].tags(), ["cp311-cp311-manylinux_2_28_x86_64"]);
        assert_eq!(charset.wheels[1].sha256, "96");
        let six = lock.packages.iter().find(|p| p.name == "six").unwrap();
        assert_eq!(six.wheels[0].tags(), ["py2-none-any", "py3-none-any"]);
        let many = WheelFile {
            url: "https://h/n-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".into(),
            sha256: String::new(),
        };
        assert_eq!(many.tags(), ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"]);
    }

    #[test]
    fn bad_locks_say_what_is_wrong() {
        assert!(PythonLock::parse("packages = 1").unwrap_err().contains("not an array of tables"));
        assert!(PythonLock::parse("[[packages]]\nversion = \"1\"\n").unwrap_err().contains("package 1 has no name"));
        assert!(PythonLock::parse("[[packages").unwrap_err().starts_with("pylock.toml is not TOML"));
        assert_eq!(PythonLock::parse("lock-version = \"1.0\"\n").unwrap(), PythonLock::default());
    }

    #[test]
    fn each_package_table_reads_back_as_the_same_package() {
        let tables = package_tables(PYLOCK).unwrap();
        let six = &tables["six"];
        assert!(six.contains("name = \"six\"") && six.contains("sha256 = \"8a\""), "{six}");
        let alone = PythonLock::parse(&format!("lock-version = \"1.0\"\n[[packages]]\n{six}")).unwrap();
        assert_eq!(alone.packages, vec![PythonLock::parse(PYLOCK).unwrap().packages[3].clone()]);
        let charset = &tables["charset-normalizer"];
        assert_eq!(charset.matches("url = ").count(), 3, "the sdist and both wheels: {charset}");
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(normalize("Foo_Bar.baz--Qux"), "foo-bar-baz-qux");
        assert_eq!(normalize("six"), "six");
    }
}
