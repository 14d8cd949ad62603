//! Real conda channels for tests that have no network.
//!
//! No conda channel is reachable from this project's CI, so the tests make
//! their own: real `.tar.bz2` and `.conda` archives, each with
//! `info/index.json` and `info/paths.json`, indexed by `repodata.json` in
//! `linux-64/` and `noarch/`. The archives are written with a fixed
//! timestamp, so writing the same channel twice gives the same bytes and
//! BuildKit's cache keys stay put.
//!
//! [`standard`] is the set the tests use:
//!
//! | package | versions / builds | what for |
//! |---|---|---|
//! | `libzlib`, `zlib` | 1.3.1 | a dependency chain, one `.conda` and one `.tar.bz2` |
//! | `tool` | 1.0 builds `h0_0` and `h1_1` | pinned builds (`tool=1.0=h0_0`), a text file with a prefix placeholder |
//! | `app` | 2.0 | depends on `zlib` and `tool` |
//! | `pyfixture` | 0.1 (noarch: python) | a noarch python package, imported from the environment's python |
//! | `left`, `right`, `shared` | | `left` needs `shared 1.*`, `right` needs `shared 2.*`: an unsolvable pair |
//! | `extra` | 1.0 | the package a rebuild adds |
//! | `newlibc` | 1.0 | needs `__glibc >=2.28`: installable on Debian 12, not on Ubuntu 18.04 |
//!
//! [`with_python`] adds a real `python`, `pip` and `setuptools` made from this machine's
//! CPython (see [`machine_python`]): big archives, so only the tests that
//! need a python write them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod package;
mod python;

pub use package::{Content, FileMode, Format, Package, PREFIX_PLACEHOLDER};
pub use python::{machine_python, MachinePython};
use rattler_conda_types::compression_level::CompressionLevel;
use sha2::{Digest, Sha256};

use crate::package::TIMESTAMP_MS;

/// The packages the tests use; see the crate docs.
pub fn standard() -> Vec<Package> {
    let tool = |build: &str| {
        Package::new("tool", "1.0", build)
            .file("bin/tool", Content::Text(format!("#!/bin/sh\necho \"tool 1.0 {build} in {PREFIX_PLACEHOLDER}\"\n")))
    };
    vec![
        Package::new("libzlib", "1.3.1", "h0_0").conda().file("lib/libz.fixture", Content::File("libzlib\n".into())),
        Package::new("zlib", "1.3.1", "h0_0")
            .depends(&["libzlib ==1.3.1 h0_0"])
            .file("include/zlib.fixture.h", Content::File("/* zlib */\n".into())),
        tool("h0_0"),
        tool("h1_1"),
        Package::new("app", "2.0", "h0_0")
            .depends(&["zlib >=1.2", "tool 1.0.*"])
            .file("share/app/app.txt", Content::File("app 2.0\n".into())),
        Package::new("pyfixture", "0.1", "py_0")
            .noarch_python()
            .conda()
            .depends(&["python >=3.9"])
            .file("site-packages/pyfixture/__init__.py", Content::File("VERSION = \"0.1\"\n".into())),
        Package::new("shared", "1.0", "h0_0"),
        Package::new("shared", "2.0", "h0_0"),
        Package::new("left", "1.0", "h0_0").depends(&["shared 1.*"]),
        Package::new("right", "1.0", "h0_0").depends(&["shared 2.*"]),
        Package::new("extra", "1.0", "h0_0").file("share/extra.txt", Content::File("extra\n".into())),
        Package::new("newlibc", "1.0", "h0_0")
            .depends(&["__glibc >=2.28"])
            .file("share/newlibc.txt", Content::File("newlibc\n".into())),
    ]
}

/// [`standard`] with the machine's python, pip and setuptools.
pub fn with_python() -> io::Result<Vec<Package>> {
    let m = machine_python()?;
    let mut packages = standard();
    packages.extend([m.python.clone(), m.pip.clone(), m.setuptools.clone()]);
    Ok(packages)
}

/// `n` more packages, `fill-000` onwards, each depending on the next, with
/// a few kilobytes of files each: the bulk of a realistic environment.
pub fn filler(n: usize) -> Vec<Package> {
    (0..n)
        .map(|i| {
            let mut p = Package::new(&format!("fill-{i:03}"), "1.0", "h0_0");
            if i + 1 < n {
                p = p.depends(&[&format!("fill-{:03} 1.*", i + 1)]);
            }
            if i % 2 == 0 {
                p = p.conda();
            }
            for f in 0..4 {
                p = p.file(&format!("share/fill-{i:03}/data-{f}.txt"), Content::File(format!("{i} {f}\n").repeat(256)));
            }
            p
        })
        .collect()
}

/// `archmark`, one package name with a build for each subdir (`linux-64`,
/// `linux-aarch64`) whose `share/archmark` says its architecture: each
/// platform's solve must take its own, and the file shows which it took.
pub fn archmark() -> Vec<Package> {
    let marker =
        |arch: &str| Package::new("archmark", "1.0", "h0_0").file("share/archmark", Content::File(format!("{arch}\n")));
    vec![marker("x86_64"), marker("aarch64").aarch64()]
}

/// Writes `packages` as a channel at `dir` (`dir/linux-64`,
/// `dir/linux-aarch64`, `dir/noarch`, each with its archives and
/// `repodata.json`, empty where no package belongs).
pub fn write_channel(dir: &Path, packages: &[Package]) -> io::Result<()> {
    let mut repodata = std::collections::BTreeMap::<&str, serde_json::Value>::new();
    for subdir in ["linux-64", "linux-aarch64", "noarch"] {
        std::fs::create_dir_all(dir.join(subdir))?;
        repodata.insert(
            subdir,
            serde_json::json!({"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}, "repodata_version": 1}),
        );
    }
    for p in packages {
        let archive = dir.join(p.subdir()).join(p.filename());
        if p.cached {
            write_cached(p, &archive)?;
        } else {
            write_package(p, &archive)?;
        }
        let bytes = std::fs::read(&archive)?;
        let mut record = p.index_json();
        record["sha256"] = hex(&Sha256::digest(&bytes)).into();
        record["size"] = bytes.len().into();
        let key = match p.format {
            Format::TarBz2 => "packages",
            Format::Conda => "packages.conda",
        };
        repodata.get_mut(p.subdir()).expect("subdir")[key][p.filename()] = record;
    }
    for (subdir, value) in repodata {
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        std::fs::write(dir.join(subdir).join("repodata.json"), text)?;
    }
    Ok(())
}

/// Writes `p` once per machine and copies it afterwards: the archive of a
/// real CPython takes seconds to compress, and every conda test writes a
/// channel. The cache key covers the package's metadata and each source
/// file's path, size and modification time, so a changed file is a new
/// archive; the cache lives in the temporary directory.
fn write_cached(p: &Package, archive: &Path) -> io::Result<()> {
    let mut key = Sha256::new();
    key.update(CACHE_FORMAT.to_le_bytes());
    key.update(p.index_json().to_string());
    key.update(p.entry_points.join("\n"));
    for (path, content) in &p.files {
        key.update(path);
        match content {
            Content::File(t) | Content::Text(t) | Content::Symlink(t) => key.update(t),
            Content::Copied { from, placeholder } => {
                let meta = std::fs::metadata(from)?;
                key.update(format!("{} {} {:?} {placeholder:?}", from.display(), meta.len(), meta.modified()?));
            }
        }
    }
    let dir = std::env::temp_dir().join("envd-conda-fixture-cache");
    std::fs::create_dir_all(&dir)?;
    let cached = dir.join(format!("{}-{}", &hex(&key.finalize())[..16], p.filename()));
    if !cached.exists() {
        // Tests write channels concurrently: write aside, then rename.
        let partial = tempfile::NamedTempFile::new_in(&dir)?;
        write_package(p, partial.path())?;
        set_mode(partial.path(), 0o644)?;
        partial.persist(&cached).map_err(|e| e.error)?;
    }
    std::fs::copy(&cached, archive).map(|_| ())
}

/// Bumped when [`write_package`] writes different bytes for the same package.
const CACHE_FORMAT: u32 = 1;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one package archive.
pub fn write_package(p: &Package, archive: &Path) -> io::Result<()> {
    let staging = tempfile::tempdir()?;
    let root = staging.path();
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut entries = Vec::new();
    for (path, content) in &p.files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("a file has a parent"))?;
        let entry = match content {
            Content::File(text) | Content::Text(text) => {
                std::fs::write(&full, text)?;
                let mut e = serde_json::json!({
                    "_path": path,
                    "path_type": "hardlink",
                    "sha256": hex(&Sha256::digest(text.as_bytes())),
                    "size_in_bytes": text.len(),
                });
                if let Content::Text(_) = content {
                    e["file_mode"] = "text".into();
                    e["prefix_placeholder"] = PREFIX_PLACEHOLDER.into();
                    set_mode(&full, 0o755)?;
                }
                e
            }
            Content::Symlink(target) => {
                std::os::unix::fs::symlink(target, &full)?;
                serde_json::json!({"_path": path, "path_type": "softlink", "size_in_bytes": 0})
            }
            Content::Copied { from, placeholder } => {
                let bytes = std::fs::read(from)?;
                std::fs::write(&full, &bytes)?;
                std::fs::set_permissions(&full, std::fs::metadata(from)?.permissions())?;
                let mut e = serde_json::json!({
                    "_path": path,
                    "path_type": "hardlink",
                    "sha256": hex(&Sha256::digest(&bytes)),
                    "size_in_bytes": bytes.len(),
                });
                if let Some((prefix, mode)) = placeholder {
                    e["prefix_placeholder"] = prefix.as_str().into();
                    e["file_mode"] = match mode {
                        FileMode::Text => "text",
                        FileMode::Binary => "binary",
                    }
                    .into();
                }
                e
            }
        };
        entries.push(entry);
        paths.push(PathBuf::from(path));
    }
    std::fs::create_dir_all(root.join("info"))?;
    let info = [
        ("info/index.json", p.index_json()),
        ("info/paths.json", serde_json::json!({"paths": entries, "paths_version": 1})),
        ("info/about.json", serde_json::json!({"summary": format!("{} (envd-frontend test fixture)", p.name)})),
    ];
    for (path, value) in info {
        std::fs::write(root.join(path), serde_json::to_string_pretty(&value)?)?;
        paths.push(PathBuf::from(path));
    }
    if p.noarch_python {
        let link = serde_json::json!({
            "noarch": {"type": "python", "entry_points": p.entry_points},
            "package_metadata_version": 1,
        });
        std::fs::write(root.join("info/link.json"), serde_json::to_string_pretty(&link)?)?;
        paths.push(PathBuf::from("info/link.json"));
    }
    // The writers take paths under `root`, and store them relative to it.
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    let stamp = jiff::Timestamp::from_millisecond(TIMESTAMP_MS).expect("a valid timestamp");
    let mut out = std::fs::File::create(archive)?;
    match p.format {
        Format::TarBz2 => rattler_package_streaming::write::write_tar_bz2_package(
            &mut out,
            root,
            &paths,
            CompressionLevel::Default,
            Some(&stamp),
            None,
        )?,
        Format::Conda => {
            let stem = p.filename().trim_end_matches(".conda").to_owned();
            rattler_package_streaming::write::write_conda_package(
                &mut out,
                root,
                &paths,
                CompressionLevel::Default,
                Some(1),
                &stem,
                Some(&stamp),
                None,
            )?
        }
    }
    out.flush()
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_indexed_and_reproducible() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write_channel(a.path(), &standard()).unwrap();
        write_channel(b.path(), &standard()).unwrap();
        let linux: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(a.path().join("linux-64/repodata.json")).unwrap()).unwrap();
        assert_eq!(linux["packages"]["zlib-1.3.1-h0_0.tar.bz2"]["depends"][0], "libzlib ==1.3.1 h0_0");
        assert!(linux["packages.conda"]["libzlib-1.3.1-h0_0.conda"]["sha256"].is_string());
        let noarch: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(a.path().join("noarch/repodata.json")).unwrap()).unwrap();
        assert_eq!(noarch["packages.conda"]["pyfixture-0.1-py_0.conda"]["noarch"], "python");
        for p in standard() {
            let rel = Path::new(p.subdir()).join(p.filename());
            assert_eq!(
                std::fs::read(a.path().join(&rel)).unwrap(),
                std::fs::read(b.path().join(&rel)).unwrap(),
                "{} differs between two writes",
                rel.display()
            );
        }
    }
}
