//! What conda does after linking and rattler leaves to its caller.
//!
//! For `noarch: python` packages: compile their `.py` files with the
//! environment's own python, record the `.pyc` files in `conda-meta` (so
//! that conda removes them with the package), and make sure every entry
//! point in `bin/` can start. Without the `.pyc` files every start of the
//! service compiles the packages again, into a layer that is thrown away;
//! conda compiles at install time for the same reason.
//!
//! Post-link scripts (`bin/.<name>-post-link.sh`) are not run: they are
//! arbitrary shell that expects conda's environment. Each one installed is
//! named in the step's log, so a package that needs it is not a mystery;
//! the README lists the packages known to.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rattler_conda_types::package::{LinkJson, NoArchLinks, PackageFile};
use rattler_conda_types::prefix_record::{PathType, PathsEntry};
use rattler_conda_types::PrefixRecord;

use crate::error::{err, Error};

/// Compiles and checks the `noarch: python` packages of `installed` (the
/// names linked by this install) in `prefix`; returns the log lines.
pub(crate) fn after_link(prefix: &Path, installed: &[String]) -> Result<Vec<String>, Error> {
    let records = PrefixRecord::collect_from_prefix::<PrefixRecord>(prefix)
        .map_err(|e| err(&format!("cannot read {}/conda-meta", prefix.display()), e))?;
    let mut log = post_link_scripts(&records, installed);
    let mut noarch: Vec<PrefixRecord> = records
        .iter()
        .filter(|r| r.repodata_record.package_record.noarch.is_python())
        .filter(|r| installed.contains(&crate::dist::dist_name(&r.repodata_record.package_record)))
        .cloned()
        .collect();
    if noarch.is_empty() {
        return Ok(log);
    }
    // rattler refuses to link a noarch: python package without a python.
    let Some(python) = records.iter().find(|r| r.repodata_record.package_record.name.as_normalized() == "python")
    else {
        return Ok(log);
    };
    let version = python.repodata_record.package_record.version.as_major_minor();
    let Some((major, minor)) = version else {
        return Err(Error(format!("python {} has no minor version", python.repodata_record.package_record.version)));
    };
    let exe = prefix.join(format!("bin/python{major}.{minor}"));
    log.push(compile(prefix, &exe, &format!("cpython-{major}{minor}"), &mut noarch)?);
    for record in &noarch {
        check_entry_points(prefix, record)?;
    }
    let points: Vec<String> = noarch
        .iter()
        .flat_map(|r| &r.paths_data.paths)
        .filter(|p| p.path_type == PathType::UnixPythonEntryPoint)
        .filter_map(|p| p.relative_path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if !points.is_empty() {
        log.push(format!("envd: entry points checked: {}", points.join(" ")));
    }
    Ok(log)
}

/// Whether `record` is a `noarch: python` package with no `.pyc` file
/// recorded: one that no install has compiled yet.
pub(crate) fn uncompiled(record: &PrefixRecord) -> bool {
    record.repodata_record.package_record.noarch.is_python()
        && !record.paths_data.paths.iter().any(|p| p.path_type == PathType::PycFile)
}

/// A warning for each post-link script among the files of `installed`.
fn post_link_scripts(records: &[PrefixRecord], installed: &[String]) -> Vec<String> {
    records
        .iter()
        .filter(|r| installed.contains(&crate::dist::dist_name(&r.repodata_record.package_record)))
        .flat_map(|r| {
            let name = r.repodata_record.package_record.name.as_normalized();
            let script = PathBuf::from(format!("bin/.{name}-post-link.sh"));
            r.files.contains(&script).then(|| {
                format!(
                    "envd: warning: {name} has a post-link script ({}), which is not run; run it with run() if the package needs it",
                    script.display()
                )
            })
        })
        .collect()
}

fn names(records: &[PrefixRecord]) -> String {
    let names: Vec<&str> = records.iter().map(|r| r.repodata_record.package_record.name.as_normalized()).collect();
    names.join(", ")
}

/// Runs `python -m compileall` over the packages' `.py` files, as conda
/// does (`-Wi -m compileall -q -l -i -`), and records each `.pyc` it
/// wrote in the package's `conda-meta` record.
fn compile(prefix: &Path, exe: &Path, cache_tag: &str, records: &mut [PrefixRecord]) -> Result<String, Error> {
    let sources: Vec<PathBuf> = records
        .iter()
        .flat_map(|r| &r.files)
        .filter(|f| f.extension().is_some_and(|e| e == "py") && f.starts_with("lib"))
        .cloned()
        .collect();
    if sources.is_empty() {
        return Ok(format!("envd: no .py files to compile in {}", names(records)));
    }
    let list: String = sources.iter().map(|f| format!("{}\n", prefix.join(f).display())).collect();
    let mut child = Command::new(exe)
        .args(["-Wi", "-m", "compileall", "-q", "-l", "-j", "0", "-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(&format!("cannot run {} to compile {}", exe.display(), names(records)), e))?;
    child.stdin.take().expect("piped").write_all(list.as_bytes()).map_err(|e| err("cannot pass the file list", e))?;
    let out = child.wait_with_output().map_err(|e| err(&format!("{} did not finish", exe.display()), e))?;
    // compileall exits 1 when a file does not compile, as conda tolerates
    // (packages ship py2-only test files); anything else is a broken python.
    let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(Error(format!(
            "{} cannot compile {}: {}\n{}",
            exe.display(),
            names(records),
            out.status,
            printed.trim_end()
        )));
    }
    let mut compiled = 0;
    for record in records.iter_mut() {
        let mut pycs = Vec::new();
        for source in record.files.iter().filter(|f| f.extension().is_some_and(|e| e == "py")) {
            let (Some(dir), Some(stem)) = (source.parent(), source.file_stem()) else { continue };
            let pyc = dir.join("__pycache__").join(format!("{}.{cache_tag}.pyc", stem.to_string_lossy()));
            if prefix.join(&pyc).is_file() && !record.files.contains(&pyc) {
                pycs.push(pyc);
            }
        }
        if pycs.is_empty() {
            continue;
        }
        compiled += pycs.len();
        for pyc in pycs {
            record.paths_data.paths.push(PathsEntry {
                relative_path: pyc.clone(),
                original_path: None,
                path_type: PathType::PycFile,
                no_link: false,
                sha256: None,
                sha256_in_prefix: None,
                size_in_bytes: None,
                file_mode: None,
                prefix_placeholder: None,
            });
            record.files.push(pyc);
        }
        let path = prefix.join("conda-meta").join(record.file_name());
        record.write_to_path(&path, true).map_err(|e| err(&format!("cannot write {}", path.display()), e))?;
    }
    let mut line = format!("envd: compiled {compiled} .pyc files of {} with {}", names(records), exe.display());
    if out.status.code() == Some(1) {
        line.push_str(&format!(" (some files did not compile: {})", printed.trim_end().replace('\n', "; ")));
    }
    Ok(line)
}

/// Every entry point the package declares is an executable script in the
/// prefix whose interpreter exists and whose module is installed.
fn check_entry_points(prefix: &Path, record: &PrefixRecord) -> Result<(), Error> {
    let name = record.repodata_record.package_record.name.as_normalized();
    let Some(dir) = &record.extracted_package_dir else { return Ok(()) };
    let Ok(link) = LinkJson::from_package_directory(dir) else { return Ok(()) };
    let NoArchLinks::Python(links) = link.noarch else { return Ok(()) };
    let site = record
        .files
        .iter()
        .find_map(|f| {
            let s = f.to_string_lossy();
            s.find("/site-packages/").map(|i| PathBuf::from(&s[..i + "/site-packages".len()]))
        })
        .map(|s| prefix.join(s));
    for point in &links.entry_points {
        let script = prefix.join("bin").join(&point.command);
        let broken = |why: String| {
            Error(format!("the entry point {} of {name} ({}:{}) {why}", script.display(), point.module, point.function))
        };
        let meta = std::fs::metadata(&script).map_err(|_| broken("was not created".into()))?;
        if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 == 0 {
            return Err(broken("is not executable".into()));
        }
        let text = std::fs::read_to_string(&script).map_err(|e| broken(format!("cannot be read: {e}")))?;
        let interpreter =
            text.lines().next().and_then(|l| l.strip_prefix("#!")).and_then(|l| l.split_whitespace().next());
        match interpreter {
            Some(i) if Path::new(i).is_file() => {}
            Some(i) => return Err(broken(format!("starts {i}, which does not exist"))),
            None => return Err(broken("has no #! line".into())),
        }
        if let Some(site) = &site {
            let top = point.module.split('.').next().unwrap_or_default();
            if !site.join(top).is_dir() && !site.join(format!("{top}.py")).is_file() {
                return Err(broken(format!("names module {top}, which is not in {}", site.display())));
            }
        }
    }
    Ok(())
}
