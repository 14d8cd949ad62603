//! The bare installer on an environment of 300 fixture packages (this
//! machine's CPython with pip and setuptools, the standard set's app and
//! pyfixture with their dependencies, and a chain of 292 more): cold
//! (empty package cache) and warm (every archive cached), each into a new
//! prefix, from a `file://` channel. `make bench` also measures it in a
//! real build, solved and from a lock file.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use envd_conda::{InstallRequest, REQUEST_VERSION};

/// The packages the benchmark asks for.
pub const SPECS: &[&str] = &["python", "app", "pyfixture", "fill-000"];

/// The filler chain; with the eight others, 300 packages.
const FILLER: usize = 292;

fn request(root: &Path, channel: &Path, pkgs: &Path) -> InstallRequest {
    InstallRequest {
        version: REQUEST_VERSION,
        prefix: root.join("prefix").display().to_string(),
        subdir: "linux-64".into(),
        channels: vec![format!("file://{}", channel.display())],
        specs: SPECS.iter().map(|s| (*s).to_owned()).collect(),
        locked: Vec::new(),
        cuda: None,
        add_pip_as_python_dependency: true,
        condarc: None,
        pkgs_dir: pkgs.display().to_string(),
        repodata_dir: root.join("repodata").display().to_string(),
        stage: Default::default(),
    }
}

fn bench(c: &mut Criterion) {
    let channel = tempfile::tempdir().expect("tempdir");
    let mut packages = envd_conda_fixture::with_python().expect("package this machine's python");
    packages.extend(envd_conda_fixture::filler(FILLER));
    envd_conda_fixture::write_channel(channel.path(), &packages).expect("channel");
    let warm_pkgs = tempfile::tempdir().expect("tempdir");
    {
        let root = tempfile::tempdir().expect("tempdir");
        let s = envd_conda_install::run(&request(root.path(), channel.path(), warm_pkgs.path())).expect("installs");
        assert_eq!(s.environment.len(), FILLER + 8, "{:?}", s.environment);
    }
    let mut group = c.benchmark_group("conda-install/300-packages");
    group.sample_size(10);
    group.bench_function("cold", |b| {
        b.iter_batched(
            || (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir")),
            |(root, pkgs)| {
                let s = envd_conda_install::run(&request(root.path(), channel.path(), pkgs.path())).expect("installs");
                assert_eq!(s.fetched.len(), FILLER + 8);
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("warm", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |root| {
                let s =
                    envd_conda_install::run(&request(root.path(), channel.path(), warm_pkgs.path())).expect("installs");
                assert!(s.fetched.is_empty());
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
