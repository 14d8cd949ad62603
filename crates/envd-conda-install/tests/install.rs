//! The installer against a generated channel on disk: real archives, real
//! repodata, real rattler installs into a temporary prefix.

use std::path::{Path, PathBuf};

use envd_conda::{InstallRequest, LockedPackage, REQUEST_VERSION};
use envd_conda_fixture::{machine_python, standard, with_python, write_channel};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        Self::of(&standard())
    }

    /// With the machine's CPython and pip as conda packages.
    fn with_python() -> Self {
        Self::of(&with_python().unwrap())
    }

    fn of(packages: &[envd_conda_fixture::Package]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        write_channel(&root.join("channel"), packages).unwrap();
        Self { _dir: dir, root }
    }

    fn prefix(&self) -> PathBuf {
        self.root.join("prefix")
    }

    fn request(&self, specs: &[&str]) -> InstallRequest {
        InstallRequest {
            version: REQUEST_VERSION,
            prefix: self.prefix().display().to_string(),
            subdir: "linux-64".into(),
            channels: vec![format!("file://{}", self.root.join("channel").display())],
            specs: specs.iter().map(|s| (*s).to_owned()).collect(),
            locked: Vec::new(),
            cuda: None,
            add_pip_as_python_dependency: true,
            condarc: None,
            pkgs_dir: self.root.join("pkgs").display().to_string(),
            repodata_dir: self.root.join("repodata").display().to_string(),
            stage: Default::default(),
        }
    }
}

/// Every file and symlink under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn conda_meta(prefix: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(prefix.join("conda-meta"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn installs_dependencies_noarch_python_and_records_into_a_new_prefix() {
    let f = Fixture::with_python();
    let m = machine_python().unwrap();
    let mut req = f.request(&[&format!("python {}.*", m.minor), "app", "pyfixture"]);
    req.condarc = Some("channels:\n  - defaults\n".into());
    let summary = envd_conda_install::run(&req).unwrap();
    let prefix = f.prefix();
    let python = format!("python-{}-h0_0", m.version);
    let pip = format!("pip-{}-pyh0_0", m.pip_version);
    let setuptools = format!("setuptools-{}-pyh0_0", m.setuptools.version);
    let mut expected = vec![
        "app-2.0-h0_0",
        "libzlib-1.3.1-h0_0",
        &pip,
        "pyfixture-0.1-py_0",
        &python,
        &setuptools,
        "tool-1.0-h1_1",
        "zlib-1.3.1-h0_0",
    ];
    expected.sort();
    assert_eq!(summary.environment, expected, "pip comes with python");
    assert_eq!(summary.installed, summary.environment);
    assert_eq!(read(&prefix.join("share/app/app.txt")), "app 2.0\n");
    // noarch: python lands in the site-packages of the python that was solved
    let site = prefix.join(format!("lib/python{}/site-packages", m.minor));
    assert_eq!(read(&site.join("pyfixture/__init__.py")), "VERSION = \"0.1\"\n");
    // text files get the real prefix in place of the placeholder
    assert!(read(&prefix.join("bin/tool")).contains(&format!("tool 1.0 h1_1 in {}", prefix.display())));
    assert_eq!(read(&prefix.join(".condarc")), "channels:\n  - defaults\n");
    let meta: Vec<String> = expected.iter().map(|n| format!("{n}.json")).collect();
    assert_eq!(conda_meta(&prefix), meta);
    let record: serde_json::Value =
        serde_json::from_str(&read(&prefix.join("conda-meta/zlib-1.3.1-h0_0.json"))).unwrap();
    assert_eq!(record["name"], "zlib");
    assert!(record["files"].as_array().unwrap().iter().any(|f| f == "include/zlib.fixture.h"), "{record}");

    // The python runs from the prefix: its RUNPATH was a binary prefix
    // placeholder, and libpython is the prefix's own.
    let run = |exe: &str, args: &[&str]| {
        let out = std::process::Command::new(prefix.join(exe)).args(args).env_clear().output().unwrap();
        assert!(out.status.success(), "{exe} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let maps = run(
        "bin/python",
        &["-c", "import sys, platform; print(sys.prefix, platform.python_version()); print(any('libpython' in l and sys.prefix + '/lib/' in l for l in open('/proc/self/maps')))"],
    );
    assert_eq!(maps, format!("{} {}\nTrue\n", prefix.display(), m.version));
    // The noarch packages were compiled by that python, and the .pyc files
    // are recorded as conda records them.
    let tag = format!("cpython-{}", m.minor.replace('.', ""));
    assert!(site.join(format!("pyfixture/__pycache__/__init__.{tag}.pyc")).is_file());
    let record: serde_json::Value =
        serde_json::from_str(&read(&prefix.join("conda-meta/pyfixture-0.1-py_0.json"))).unwrap();
    let pyc = format!("lib/python{}/site-packages/pyfixture/__pycache__/__init__.{tag}.pyc", m.minor);
    assert!(record["files"].as_array().unwrap().iter().any(|f| f == pyc.as_str()), "{record}");
    assert!(record["paths_data"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["_path"] == pyc.as_str() && p["path_type"] == "pyc_file"));
    assert!(
        summary.after_link.iter().any(|l| l.starts_with("envd: compiled ") && l.contains("pip")),
        "{:?}",
        summary.after_link
    );
    assert!(
        summary.after_link.iter().any(|l| l.starts_with("envd: entry points checked: pip")),
        "{:?}",
        summary.after_link
    );
    // pip's entry point starts the environment's pip.
    let version = run("bin/pip", &["--version"]);
    assert!(version.starts_with(&format!("pip {} from {}", m.pip_version, site.display())), "{version}");
}

#[test]
fn post_link_scripts_are_named_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\ntouch \"$PREFIX/ran\"\n";
    let package = envd_conda_fixture::Package::new("hooked", "1.0", "h0_0")
        .file("bin/.hooked-post-link.sh", envd_conda_fixture::Content::File(script.into()));
    write_channel(&dir.path().join("channel"), &[package]).unwrap();
    let f = Fixture { root: dir.path().to_owned(), _dir: dir };
    let summary = envd_conda_install::run(&f.request(&["hooked"])).unwrap();
    assert_eq!(
        summary.after_link,
        ["envd: warning: hooked has a post-link script (bin/.hooked-post-link.sh), which is not run; run it with run() if the package needs it"]
    );
    assert!(f.prefix().join("bin/.hooked-post-link.sh").exists() && !f.prefix().join("ran").exists());
}

#[test]
fn a_condarc_can_keep_pip_out() {
    let f = Fixture::with_python();
    let m = machine_python().unwrap();
    let mut req = f.request(&["python"]);
    req.add_pip_as_python_dependency = false;
    let summary = envd_conda_install::run(&req).unwrap();
    assert_eq!(summary.environment, [format!("python-{}-h0_0", m.version)]);
    assert!(!f.prefix().join("bin/pip").exists());
}

#[test]
fn noarch_python_without_a_python_is_refused() {
    let f = Fixture::new();
    let mut req = f.request(&[]);
    req.channels.clear();
    req.locked = locked(&f, &["pyfixture"]);
    let e = envd_conda_install::run(&req).unwrap_err().0;
    assert!(e.contains("pyfixture") && e.contains("no python"), "{e}");
}

#[test]
fn an_exact_build_pin_from_conda_env_export_is_honoured() {
    let f = Fixture::new();
    let summary = envd_conda_install::run(&f.request(&["tool=1.0=h0_0"])).unwrap();
    assert_eq!(summary.environment, ["tool-1.0-h0_0"]);
    assert!(read(&f.prefix().join("bin/tool")).contains("tool 1.0 h0_0"));
}

#[test]
fn a_second_install_keeps_the_prefix_and_downloads_only_what_is_new() {
    let f = Fixture::new();
    let first = envd_conda_install::run(&f.request(&["app"])).unwrap();
    assert_eq!(first.fetched.len(), first.environment.len(), "a cold cache fetches every archive: {first:?}");
    // the prefix now is a conda environment; add one package to it
    std::fs::remove_dir_all(f.root.join("prefix/share/app")).unwrap();
    let before = conda_meta(&f.prefix());
    let second = envd_conda_install::run(&f.request(&["extra"])).unwrap();
    assert_eq!(second.fetched, ["extra-1.0-h0_0.tar.bz2"]);
    assert_eq!(second.installed, ["extra-1.0-h0_0"]);
    let mut after = before.clone();
    after.push("extra-1.0-h0_0.json".into());
    after.sort();
    assert_eq!(conda_meta(&f.prefix()), after, "the installed packages stay recorded");
}

#[test]
fn an_unsolvable_pair_is_explained_with_its_specs() {
    let f = Fixture::new();
    let e = envd_conda_install::run(&f.request(&["left", "right"])).unwrap_err().to_string();
    assert!(e.starts_with("the conda environment cannot be solved:\n"), "{e}");
    assert!(e.contains("shared 1.*") && e.contains("shared 2.*"), "{e}");
    assert!(e.ends_with("(specs: left, right)"), "{e}");
    assert!(!f.prefix().join("conda-meta").exists(), "nothing is installed");
}

#[test]
fn a_package_no_channel_has_is_named() {
    let f = Fixture::new();
    let e = envd_conda_install::run(&f.request(&["nosuch >=1"])).unwrap_err().to_string();
    assert!(e.contains("nosuch"), "{e}");
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let f = Fixture::new();
    let e = envd_conda_install::run(&f.request(&["numpy>>=1"])).unwrap_err().to_string();
    assert!(e.starts_with("`numpy>>=1` is not a valid conda package spec"), "{e}");
    let mut req = f.request(&["app"]);
    req.channels = vec!["not a url".into()];
    let e = envd_conda_install::run(&req).unwrap_err().to_string();
    assert!(e.starts_with("channel `not a url` is not a URL"), "{e}");
    let path = f.root.join("request.json");
    std::fs::write(&path, "{}").unwrap();
    let e = envd_conda_install::run_file(&path).unwrap_err().to_string();
    assert!(e.starts_with("the conda request is not valid: missing field"), "{e}");
}

/// The fixture channel's archives of `names`, as a lock file lists them.
fn locked(f: &Fixture, names: &[&str]) -> Vec<LockedPackage> {
    let mut out = Vec::new();
    for subdir in ["linux-64", "noarch"] {
        let dir = f.root.join("channel").join(subdir);
        let repodata: serde_json::Value = serde_json::from_str(&read(&dir.join("repodata.json"))).unwrap();
        for key in ["packages", "packages.conda"] {
            for (file, record) in repodata[key].as_object().unwrap() {
                if names.iter().any(|n| file.starts_with(&format!("{n}-"))) {
                    out.push(LockedPackage {
                        url: format!("file://{}", dir.join(file).display()),
                        md5: None,
                        sha256: record["sha256"].as_str().map(str::to_owned),
                        size: None,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn a_lock_file_installs_exactly_its_archives_without_repodata() {
    let f = Fixture::new();
    let mut req = f.request(&[]);
    req.channels.clear();
    req.locked = locked(&f, &["zlib", "libzlib"]);
    assert_eq!(req.locked.len(), 2);
    let summary = envd_conda_install::run(&req).unwrap();
    assert_eq!(summary.environment, ["libzlib-1.3.1-h0_0", "zlib-1.3.1-h0_0"], "no dependency was added");
    assert_eq!(conda_meta(&f.prefix()), ["libzlib-1.3.1-h0_0.json", "zlib-1.3.1-h0_0.json"]);
    let repodata = f.root.join("repodata");
    let cached = std::fs::read_dir(&repodata).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0, "no repodata was fetched");
}

#[test]
fn a_lock_file_with_a_wrong_hash_fails_and_installs_nothing() {
    let f = Fixture::new();
    let mut req = f.request(&[]);
    req.channels.clear();
    req.locked = locked(&f, &["zlib"]);
    req.locked[0].sha256 = Some("00".repeat(32));
    let e = envd_conda_install::run(&req).unwrap_err().0;
    assert!(e.contains("cannot fetch") && e.contains("zlib-1.3.1-h0_0"), "{e}");
    assert!(e.to_lowercase().contains("hash"), "the error says why: {e}");
    assert!(!f.prefix().join("conda-meta/zlib-1.3.1-h0_0.json").exists());
}

/// An environment in layers, as the build does it: resolve to a lock, each
/// package into a prefix of its own (its layer), the prefixes merged, then
/// the last step. The merge here is a copy of every layer into one prefix,
/// as overlayfs would show them.
#[test]
fn resolve_then_a_layer_per_package_then_finish_gives_the_whole_environment() {
    use envd_conda::{ResolvedLock, Stage};
    let f = Fixture::with_python();
    let m = machine_python().unwrap();
    let lock_path = f.root.join("conda-lock.json");
    let resolve = InstallRequest {
        stage: Stage::Resolve(lock_path.display().to_string()),
        ..f.request(&[&format!("python {}.*", m.minor), "pyfixture", "app"])
    };
    let summary = envd_conda_install::run(&resolve).unwrap();
    assert!(!f.prefix().join("conda-meta/pyfixture-0.1-py_0.json").exists(), "a resolve installs nothing");
    let lock = ResolvedLock::from_json(&read(&lock_path)).unwrap();
    let names: Vec<&str> = lock.packages.iter().filter_map(|p| p.dist()).map(|d| d.0).collect();
    assert_eq!(names.len(), summary.environment.len(), "{names:?}");
    assert!(names.contains(&"pyfixture") && names.contains(&"pip"), "{names:?}");
    assert!(lock.packages.iter().all(|p| p.sha256.is_some() && p.size.is_some_and(|s| s > 0)), "{lock:?}");

    let python = lock.packages.iter().find(|p| p.dist().is_some_and(|d| d.0 == "python")).unwrap().url.clone();
    let layer = |prefix: &Path, package: &LockedPackage| {
        let request = InstallRequest {
            prefix: prefix.display().to_string(),
            locked: vec![package.clone()],
            stage: Stage::Layer { python: Some(python.clone()) },
            ..f.request(&[])
        };
        envd_conda_install::run(&request).unwrap()
    };
    // One layer alone: pyfixture's files and record, no python, no .pyc.
    let alone = f.root.join("alone");
    let pyfixture = lock.packages.iter().find(|p| p.dist().is_some_and(|d| d.0 == "pyfixture")).unwrap();
    assert_eq!(layer(&alone, pyfixture).installed, ["pyfixture-0.1-py_0"]);
    assert_eq!(conda_meta(&alone), ["pyfixture-0.1-py_0.json"]);
    let site = format!("lib/python{}/site-packages", m.minor);
    assert!(alone.join(&site).join("pyfixture/__init__.py").is_file());
    assert!(!alone.join("bin/python").exists() && !alone.join(&site).join("pyfixture/__pycache__").exists());

    // As the build does it: the python's layer into an empty prefix; every
    // other layer into a prefix with only the python's, at the same path;
    // each layer is what its install added; then all of them copied into
    // one prefix, which is what merging the layers gives.
    let layers = f.root.join("layers");
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        let from = format!("{}/.", from.display());
        assert!(std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap().success());
    };
    let python_pkg = lock.packages.iter().find(|p| p.url == python).unwrap();
    layer(&f.prefix(), python_pkg);
    std::fs::create_dir_all(&layers).unwrap();
    std::fs::rename(f.prefix(), layers.join("python")).unwrap();
    let files = |dir: &Path| -> std::collections::BTreeSet<PathBuf> {
        walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().to_owned()).collect()
    };
    let python_files = files(&layers.join("python"));
    for (i, package) in lock.packages.iter().enumerate().filter(|(_, p)| p.url != python) {
        copy(&layers.join("python"), &f.prefix());
        let s = layer(&f.prefix(), package);
        assert_eq!(s.installed.len(), 1, "only its own package: {s:?}");
        // Keep only what the install added.
        let added = f.root.join("added").join(i.to_string());
        for file in files(&f.prefix()).difference(&python_files) {
            let to = added.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let from = f.prefix().join(file);
            if from.is_file() || from.is_symlink() {
                std::fs::rename(&from, &to).unwrap();
            }
        }
        std::fs::remove_dir_all(f.prefix()).unwrap();
    }
    copy(&layers.join("python"), &f.prefix());
    for dir in std::fs::read_dir(f.root.join("added")).unwrap() {
        copy(&dir.unwrap().path(), &f.prefix());
    }
    // pyfixture's layer holds its .pyc, compiled by the python under it.
    let tag = format!("cpython-{}", m.minor.replace('.', ""));
    let pyc = format!("{site}/pyfixture/__pycache__/__init__.{tag}.pyc");
    assert!(walk(&f.root.join("added")).iter().any(|p| p.ends_with(&pyc)), "pyfixture's layer has {pyc}");
    let finish = InstallRequest { locked: lock.packages.clone(), stage: Stage::Finish, ..f.request(&[]) };
    let done = envd_conda_install::run(&finish).unwrap();
    assert_eq!(done.environment, summary.environment);
    assert!(done.installed.is_empty(), "the layers compiled every noarch package: {done:?}");
    assert!(f.prefix().join(&pyc).is_file());
    let out = std::process::Command::new(f.prefix().join("bin/python"))
        .args(["-c", "import pyfixture, pip; print(pyfixture.VERSION)"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0.1\n", "{}", String::from_utf8_lossy(&out.stderr));

    // A lock the layers do not all hold is refused with the names.
    let more = InstallRequest {
        locked: vec![LockedPackage {
            url: "file:///c/linux-64/absent-1-h0_0.conda".into(),
            md5: None,
            sha256: None,
            size: None,
        }],
        ..finish
    };
    let e = envd_conda_install::run(&more).unwrap_err().to_string();
    assert!(e.contains("lack absent-1-h0_0"), "{e}");
}
