//! A real CPython and pip, as conda packages made from this machine's own
//! python.
//!
//! A conda `python` has no system site-packages and no pip of its own:
//! pip is a separate `noarch: python` package that conda adds to every
//! python (`add_pip_as_python_dependency`). A stand-in that borrows the
//! system's python hides exactly the bugs that matter (a pip step that
//! runs the wrong python, a missing pip), so the fixture packages the
//! machine's CPython build instead: `sys.base_prefix` of the `python3` on
//! PATH (or of `ENVD_FIXTURE_PYTHON`), a relocatable `--enable-shared`
//! build whose executable finds `libpython` through a RUNPATH of its build
//! prefix. That prefix is recorded as each file's placeholder, in binary
//! mode for the ELF files' RUNPATHs, as conda-build does, so the
//! installer's binary prefix replacement is what makes the python start
//! (see [`copied`] for the one ELF file that keeps its prefix).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::package::{Content, FileMode, Package};

/// The machine's python, packaged.
#[derive(Debug, Clone)]
pub struct MachinePython {
    /// `3.11.7`.
    pub version: String,
    /// `3.11`.
    pub minor: String,
    /// The build prefix, the placeholder in the package's files.
    pub build_prefix: String,
    /// The `python` package.
    pub python: Package,
    /// The `pip` package, from the wheel the python bundles for `ensurepip`;
    /// it depends on `setuptools`, as conda-forge's pip did until 2024.
    pub pip: Package,
    /// pip's version.
    pub pip_version: String,
    /// The `setuptools` package, from its bundled wheel too.
    pub setuptools: Package,
}

/// The python the fixture packages, found and read once per process.
pub fn machine_python() -> io::Result<&'static MachinePython> {
    static ONCE: OnceLock<Result<MachinePython, String>> = OnceLock::new();
    ONCE.get_or_init(|| discover().map_err(|e| e.to_string())).as_ref().map_err(|e| io::Error::other(e.clone()))
}

fn discover() -> io::Result<MachinePython> {
    let exe = std::env::var("ENVD_FIXTURE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&exe)
        .args(["-c", "import sys; print(sys.base_prefix); print('%d.%d.%d' % sys.version_info[:3])"])
        .output()
        .map_err(|e| io::Error::other(format!("cannot run {exe}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!("{exe} failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let (Some(prefix), Some(version)) = (lines.next(), lines.next()) else {
        return Err(io::Error::other(format!("{exe} printed {text:?}")));
    };
    let prefix = PathBuf::from(prefix);
    let minor = version.rsplit_once('.').map_or(version, |(m, _)| m).to_owned();
    let python = python_package(&prefix, version, &minor)?;
    let (pip, pip_version) = wheel_package(&exe, &prefix, &minor, "pip", &["python >=3.7", "setuptools"])?;
    let (setuptools, _) = wheel_package(&exe, &prefix, &minor, "setuptools", &["python >=3.7"])?;
    Ok(MachinePython {
        version: version.to_owned(),
        minor,
        build_prefix: prefix.display().to_string(),
        python,
        pip,
        pip_version,
        setuptools,
    })
}

/// The host's CA bundle, which the fixture's pip trusts.
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Directories of the standard library that a runtime does not need.
const SKIPPED_DIRS: &[&str] =
    &["site-packages", "test", "tests", "idle_test", "__pycache__", "idlelib", "tkinter", "turtledemo", "_bundled"];

fn python_package(prefix: &Path, version: &str, minor: &str) -> io::Result<Package> {
    let mut p = Package::new("python", version, "h0_0").conda();
    p.cached = true;
    let placeholder = prefix.display().to_string();
    let exe = format!("bin/python{minor}");
    p = p
        .file(&exe, copied(&prefix.join(&exe), &placeholder)?)
        .file("bin/python3", Content::Symlink(format!("python{minor}")))
        .file("bin/python", Content::Symlink(format!("python{minor}")));
    for lib in [format!("libpython{minor}.so.1.0"), "libpython3.so".to_owned()] {
        let path = format!("lib/{lib}");
        p = p.file(&path, copied(&prefix.join(&path), &placeholder)?);
    }
    p = p.file(&format!("lib/libpython{minor}.so"), Content::Symlink(format!("libpython{minor}.so.1.0")));
    let stdlib = format!("lib/python{minor}");
    let mut files = Vec::new();
    walk(&prefix.join(&stdlib), &mut files)?;
    files.sort();
    for file in files {
        let rel = file.strip_prefix(prefix).expect("walked under the prefix").display().to_string();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".a") || name.ends_with(".pyc") || name.starts_with("_tkinter") {
            continue;
        }
        p = p.file(&rel, copied(&file, &placeholder)?);
    }
    // The directory conda's python has, where noarch packages go.
    Ok(p.file(
        &format!("{stdlib}/site-packages/README.txt"),
        Content::File("site-packages of the conda python\n".into()),
    ))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&entry.file_name().to_str().unwrap_or_default()) {
                walk(&path, out)?;
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// A copied file, with `prefix` as its placeholder if it holds it: text
/// mode for UTF-8 text without NULs, binary mode otherwise.
///
/// Binary mode only where every occurrence is followed by `/` (an ELF
/// RUNPATH such as `<prefix>/lib`). Binary replacement pads the shorter
/// new prefix with NULs, which also cuts any string the linker merged into
/// the old one's tail: libpython keeps `PREFIX` as a string of its own,
/// and its version string `3.11.7` is the tail of `…/versions/3.11.7`, so
/// replacing it would leave `sys.version` without its version. conda-build
/// avoids that with a 255-character placeholder; this build's prefix is
/// short, so such a file keeps its build prefix, which CPython only uses
/// when it cannot find its standard library beside the executable.
fn copied(from: &Path, prefix: &str) -> io::Result<Content> {
    let bytes = std::fs::read(from)?;
    let needle = prefix.as_bytes();
    let mut after = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| bytes.get(i + needle.len()).copied());
    let (holds, only_paths) = match after.next() {
        None => (false, false),
        Some(first) => (true, first == Some(b'/') && after.all(|b| b == Some(b'/'))),
    };
    let text = !bytes.contains(&0) && std::str::from_utf8(&bytes).is_ok();
    let placeholder = match (holds, text, only_paths) {
        (false, _, _) | (true, false, false) => None,
        (true, true, _) => Some((prefix.to_owned(), FileMode::Text)),
        (true, false, true) => Some((prefix.to_owned(), FileMode::Binary)),
    };
    Ok(Content::Copied { from: from.to_owned(), placeholder })
}

/// A wheel that `ensurepip` bundles as conda-forge packages it: the
/// wheel's files under `site-packages/`, its console scripts as entry
/// points in `info/link.json`.
fn wheel_package(
    exe: &str,
    prefix: &Path,
    minor: &str,
    project: &str,
    depends: &[&str],
) -> io::Result<(Package, String)> {
    let bundled = prefix.join(format!("lib/python{minor}/ensurepip/_bundled"));
    let start = format!("{project}-");
    let wheel = std::fs::read_dir(&bundled)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&start) && n.ends_with(".whl")))
        .ok_or_else(|| io::Error::other(format!("no {project} wheel in {}", bundled.display())))?;
    let name = wheel.file_name().and_then(|n| n.to_str()).expect("a wheel's name is text").to_owned();
    let version = name.split('-').nth(1).expect("NAME-VERSION-…whl").to_owned();
    // Unpacked once next to the archive cache, by the python itself.
    let dir = std::env::temp_dir().join("envd-conda-fixture-cache").join(name.trim_end_matches(".whl"));
    if !dir.join(".complete").exists() {
        std::fs::create_dir_all(&dir)?;
        let status = Command::new(exe).args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&dir).status()?;
        if !status.success() {
            return Err(io::Error::other(format!("cannot unpack {}", wheel.display())));
        }
        std::fs::write(dir.join(".complete"), "")?;
    }
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    files.sort();
    let mut p = Package::new(project, &version, "pyh0_0").noarch_python().conda().depends(depends);
    p.cached = true;
    for file in files {
        let rel = file.strip_prefix(&dir).expect("walked under it").display().to_string();
        if rel == ".complete" {
            continue;
        }
        // pip trusts its vendored CA bundle, not the system's; this
        // network's proxy re-signs TLS with a CA only the host's bundle has.
        // A company behind such a proxy ships pip that bundle (or sets
        // PIP_CERT); the fixture does the same.
        let from = match rel.as_str() {
            "pip/_vendor/certifi/cacert.pem" if Path::new(HOST_CA_BUNDLE).is_file() => PathBuf::from(HOST_CA_BUNDLE),
            _ => file.clone(),
        };
        p = p.file(&format!("site-packages/{rel}"), Content::Copied { from, placeholder: None });
        if rel.ends_with(".dist-info/entry_points.txt") {
            p.entry_points = console_scripts(&std::fs::read_to_string(&file)?);
        }
    }
    Ok((p, version))
}

/// The `[console_scripts]` of an `entry_points.txt`, as `name = module:func`.
fn console_scripts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[console_scripts]";
        } else if inside && line.contains('=') {
            let (name, target) = line.split_once('=').expect("checked");
            out.push(format!("{} = {}", name.trim(), target.trim()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_scripts_are_read_from_their_section_only() {
        let text = "[console_scripts]\npip = pip._internal.cli.main:main\npip3=pip._internal.cli.main:main\n\n[gui_scripts]\nx = y:z\n";
        assert_eq!(console_scripts(text), ["pip = pip._internal.cli.main:main", "pip3 = pip._internal.cli.main:main"]);
    }

    #[test]
    fn the_machine_python_is_packaged_with_its_prefix_as_placeholder() {
        let m = machine_python().unwrap();
        let find = |path: &str| m.python.files.iter().find(|(p, _)| p == path).map(|(_, c)| c.clone());
        let Some(Content::Copied { placeholder: Some((prefix, mode)), .. }) = find(&format!("bin/python{}", m.minor))
        else {
            panic!("the executable holds its build prefix in its RUNPATH");
        };
        assert_eq!((prefix.as_str(), mode), (m.build_prefix.as_str(), FileMode::Binary));
        assert!(matches!(find("bin/python"), Some(Content::Symlink(_))));
        assert!(find(&format!("lib/python{}/os.py", m.minor)).is_some());
        let libpython = find(&format!("lib/libpython{}.so.1.0", m.minor));
        assert!(
            matches!(libpython, Some(Content::Copied { placeholder: None, .. })),
            "libpython's PREFIX string shares its tail with the version string: {libpython:?}"
        );
        assert!(m.python.files.iter().all(|(p, _)| !p.contains("/test/") && !p.contains("__pycache__")));
        assert!(m.pip.noarch_python && m.pip.entry_points.iter().any(|e| e.starts_with("pip = ")), "{:?}", m.pip);
        assert!(m.pip.files.iter().any(|(p, _)| p == "site-packages/pip/__init__.py"));
    }
}
