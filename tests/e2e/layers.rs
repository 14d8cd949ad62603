//! Layers that follow the packages (issue 24), on a simulated fresh CI
//! runner: `docker buildx prune -af` drops every cache mount and cache
//! record, and the only memory left is a registry cache in the local
//! registry. Real PyPI wheels, downloaded once on the host and served by a
//! mirror whose log counts every wheel a build fetched. Each test prunes
//! the builder, so it runs alone ([`engine_alone`]): a prune would pull the
//! rug from under a build beside it.

use std::collections::BTreeSet;

use envd_e2e::{bases_env, cpu_base, docker, docker_ok, engine_alone, image_layers, substeps, Context, PypiMirror};

const FIRST: &str = "numpy==1.26.4\nsix==1.16.0\npackaging==24.1\npyyaml==6.0.1\nidna==3.7\n";
const ADDED: &str = "attrs==23.2.0";

fn mirror() -> PypiMirror {
    PypiMirror::start("e2e-pypi", &format!("{FIRST}{ADDED}\nrequests==2.32.3\n"))
}

/// A service that installs `requirements` from the mirror.
fn service(name: &str, mirror: &PypiMirror, requirements: &str) -> Context {
    let ctx = Context::new(name);
    ctx.write("build.envd", &mirror.build_envd()).write("requirements.txt", requirements);
    ctx
}

/// Pushes `ctx`'s image as `reference`, with `extra` flags.
fn push(ctx: &Context, reference: &str, extra: &[&str]) -> envd_e2e::Run {
    let mut args: Vec<&str> = PypiMirror::add_host().to_vec();
    args.extend_from_slice(extra);
    let r = ctx.build_envd_pushed(reference, &args);
    assert!(r.ok, "{}", r.stderr);
    r
}

/// What the push of `second` added: the environment's bytes (the first
/// image's own layers, the base's left out), and the bytes of the layers
/// of `second` that `first` has not.
fn pushed_again(first: &str, second: &str) -> (u64, u64) {
    let base: BTreeSet<String> = image_layers(&cpu_base()).into_iter().map(|(d, _)| d).collect();
    let one = image_layers(first);
    let env_bytes: u64 = one.iter().filter(|(d, _)| !base.contains(d)).map(|(_, s)| s).sum();
    let known: BTreeSet<&String> = one.iter().map(|(d, _)| d).collect();
    let new_bytes: u64 = image_layers(second).iter().filter(|(d, _)| !known.contains(d)).map(|(_, s)| s).sum();
    (env_bytes, new_bytes)
}

#[test]
fn a_one_package_edit_on_a_fresh_runner_fetches_one_wheel_and_pushes_one_small_layer() {
    let _alone = engine_alone();
    let mirror = mirror();
    let registry = bases_env("REGISTRY");
    let pid = std::process::id();
    let cache = format!("{registry}/envd-e2e/layers-cache:{pid}");
    let to = format!("type=registry,ref={cache},mode=max,registry.insecure=true");
    let from = format!("type=registry,ref={cache},registry.insecure=true");
    let ctx = service("layers", &mirror, FIRST);
    let first_image = format!("{registry}/envd-e2e/layers:{pid}-1");
    let first = push(&ctx, &first_image, &["--cache-to", &to]);
    let groups = substeps(&first.stderr);
    assert!(groups.iter().any(|(n, _)| n.contains("install.python_packages: numpy==1.26.4")), "{groups:?}");

    // A fresh runner: no cache mount, no cache record, the registry cache.
    envd_e2e::prune_builder();
    let before = mirror.wheel_requests().len();
    ctx.write("requirements.txt", &format!("{FIRST}{ADDED}\n"));
    let second_image = format!("{registry}/envd-e2e/layers:{pid}-2");
    let second = push(&ctx, &second_image, &["--cache-to", &to, "--cache-from", &from]);
    let fetched: Vec<String> = mirror.wheel_requests().split_off(before);
    assert_eq!(fetched, ["attrs-23.2.0-py3-none-any.whl"], "{}", second.stderr);
    // Only attrs' step installed anything; the other packages' layers came
    // from the registry cache (a step whose layer is found is not run: its
    // vertex shows no output, and not always CACHED).
    let installed: Vec<&str> = second.stderr.lines().filter_map(|l| l.split_once(" + ").map(|(_, p)| p)).collect();
    assert_eq!(installed, ["attrs==23.2.0"], "{}", second.stderr);

    let (env_bytes, new_bytes) = pushed_again(&first_image, &second_image);
    assert!(env_bytes > 10 << 20, "numpy alone is over 10 MB compressed: {env_bytes}");
    assert!(new_bytes * 10 <= env_bytes, "pushed {new_bytes} new bytes of a {env_bytes}-byte environment");

    // The image sees the whole environment, and pip agrees with it.
    let check = "import numpy, six, packaging, yaml, idna, attr; print(numpy.__version__, attr.__version__)";
    assert_eq!(docker_ok(&["run", "--rm", &second_image, "python3", "-c", check]), "1.26.4 23.2.0\n");
    let pip = docker(&["run", "--rm", &second_image, "python3", "-m", "pip", "check"]);
    assert!(pip.ok && pip.stdout.contains("No broken requirements found"), "{}{}", pip.stdout, pip.stderr);
}

#[test]
fn two_services_on_two_fresh_builders_share_the_layers_of_their_shared_packages() {
    let _alone = engine_alone();
    let mirror = mirror();
    let registry = bases_env("REGISTRY");
    let pid = std::process::id();
    let a = service("layers-a", &mirror, "numpy==1.26.4\nsix==1.16.0\n");
    let b = service("layers-b", &mirror, "pyyaml==6.0.1\nnumpy==1.26.4\n");
    let (image_a, image_b) =
        (format!("{registry}/envd-e2e/layers-a:{pid}"), format!("{registry}/envd-e2e/layers-b:{pid}"));
    envd_e2e::prune_builder();
    push(&a, &image_a, &[]);
    envd_e2e::prune_builder();
    push(&b, &image_b, &[]);
    let base: BTreeSet<String> = image_layers(&cpu_base()).into_iter().map(|(d, _)| d).collect();
    let of_a: BTreeSet<(String, u64)> = image_layers(&image_a).into_iter().filter(|(d, _)| !base.contains(d)).collect();
    let of_b: BTreeSet<(String, u64)> = image_layers(&image_b).into_iter().filter(|(d, _)| !base.contains(d)).collect();
    // numpy's layer, byte for byte the same, and nothing else of weight:
    // six is A's alone, pyyaml B's.
    let shared: Vec<&(String, u64)> = of_a.intersection(&of_b).filter(|(_, size)| *size > 1 << 20).collect();
    assert_eq!(shared.len(), 1, "shared layers {shared:?}\nA {of_a:?}\nB {of_b:?}");
    assert!(shared[0].1 > 10 << 20, "the shared layer is numpy's: {shared:?}");
}

/// The conda side: an env.yaml solved from a fixture channel served over
/// HTTP (this machine's CPython as a real conda `python`, pip, and the
/// fixture's packages), whose server logs every archive a build fetched.
#[test]
fn a_conda_package_added_on_a_fresh_runner_fetches_its_archive_alone_and_layers_are_reproducible() {
    let _alone = engine_alone();
    let python = envd_conda_fixture::machine_python().expect("package this machine's python");
    // The channel lives outside the build context, as a real one would.
    let served = Context::new("conda-layers-channel");
    let packages = envd_conda_fixture::with_python().expect("the fixture channel with python");
    envd_conda_fixture::write_channel(&served.dir().join("channel"), &packages).unwrap();
    let server = envd_e2e::HostServer::files(served.dir(), served.dir().join("http.log"));
    // The env file's pip: section from the PyPI mirror.
    let mirror = mirror();
    let build_envd = format!(
        "def build():\n    config.conda_channel(channel=\"channels: [http://conda.test:{}/channel]\")\n    config.pip_index(url=\"{}\", trust=True)\n    base(image=\"{}\", language=\"python{}\")\n    install.conda_packages(env_file=\"env.yaml\")\n",
        server.port,
        mirror.url(),
        cpu_base(),
        python.minor
    );
    let env_yaml = |deps: &[&str], pip: &[&str]| {
        let lines: String = deps.iter().map(|d| format!("  - {d}\n")).collect();
        let pip: String = pip.iter().map(|p| format!("    - {p}\n")).collect();
        format!("name: service\ndependencies:\n{lines}  - pip:\n{pip}")
    };
    let archives = |log: &str| -> Vec<String> {
        log.lines()
            .filter_map(|l| l.split("GET /channel/").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|path| path.ends_with(".conda") || path.ends_with(".tar.bz2"))
            .filter_map(|path| path.rsplit('/').next().map(str::to_owned))
            .collect()
    };
    let registry = bases_env("REGISTRY");
    let pid = std::process::id();
    let cache = format!("{registry}/envd-e2e/conda-layers-cache:{pid}");
    let to = format!("type=registry,ref={cache},mode=max,registry.insecure=true");
    let from = format!("type=registry,ref={cache},registry.insecure=true");
    let host = ["--add-host", "conda.test:host-gateway", PypiMirror::add_host()[0], PypiMirror::add_host()[1]];
    let push = |ctx: &Context, reference: &str, extra: &[&str]| {
        let mut args = host.to_vec();
        args.extend_from_slice(extra);
        let r = ctx.build_envd_pushed(reference, &args);
        assert!(r.ok, "{}", r.stderr);
        r
    };

    envd_e2e::prune_builder();
    let ctx = Context::new("conda-layers");
    ctx.write("build.envd", &build_envd).write("env.yaml", &env_yaml(&["pyfixture", "zlib"], &["six==1.16.0"]));
    let first_image = format!("{registry}/envd-e2e/conda-layers:{pid}-1");
    let first = push(&ctx, &first_image, &["--cache-to", &to]);
    let groups = substeps(&first.stderr);
    assert!(groups.iter().any(|(n, _)| n.contains("install.conda_packages: pyfixture-0.1-py_0")), "{groups:?}");
    assert!(groups.iter().any(|(n, _)| n.contains("install.conda_packages: resolve")), "{groups:?}");
    // the pip: section: resolved against the environment, a layer per wheel
    assert!(groups.iter().any(|(n, _)| n.contains("install.conda_packages: pip: resolve six==1.16.0")), "{groups:?}");
    assert!(groups.iter().any(|(n, _)| n.contains("install.conda_packages: pip: six==1.16.0")), "{groups:?}");

    // A fresh runner: no cache mount, no cache record, the registry cache.
    envd_e2e::prune_builder();
    let before = archives(&server.requests()).len();
    let wheels_before = mirror.wheel_requests().len();
    ctx.write("env.yaml", &env_yaml(&["pyfixture", "zlib", "tool"], &["six==1.16.0", "idna==3.7"]));
    let second_image = format!("{registry}/envd-e2e/conda-layers:{pid}-2");
    let second = push(&ctx, &second_image, &["--cache-to", &to, "--cache-from", &from]);
    let fetched: Vec<String> = archives(&server.requests()).split_off(before);
    assert_eq!(fetched, ["tool-1.0-h1_1.tar.bz2"], "{}", second.stderr);
    let wheels: Vec<String> = mirror.wheel_requests().split_off(wheels_before);
    assert_eq!(wheels, ["idna-3.7-py3-none-any.whl"], "{}", second.stderr);

    let (env_bytes, new_bytes) = pushed_again(&first_image, &second_image);
    assert!(new_bytes * 10 <= env_bytes, "pushed {new_bytes} new bytes of a {env_bytes}-byte environment");

    // The image and run() see the whole environment, conda-meta lists
    // every package, and the noarch package was compiled.
    let meta = docker_ok(&["run", "--rm", &second_image, "ls", "/opt/conda/conda-meta"]);
    for name in ["python-", "pip-", "setuptools-", "pyfixture-0.1-py_0", "zlib-1.3.1", "libzlib-1.3.1", "tool-1.0-h1_1"]
    {
        assert!(meta.lines().any(|l| l.starts_with(name)), "{name} in conda-meta:\n{meta}");
    }
    let check = "import pyfixture, pip, six, idna; print(pyfixture.VERSION, pyfixture.__cached__, six.__file__)";
    let out = docker_ok(&["run", "--rm", &second_image, "python", "-c", check]);
    assert!(out.starts_with("0.1 /opt/conda/lib/python"), "{out}");
    assert!(out.contains("/opt/conda/lib/python") && out.trim_end().ends_with("site-packages/six.py"), "{out}");
    let pip = docker(&["run", "--rm", &second_image, "python", "-m", "pip", "check"]);
    assert!(pip.ok && pip.stdout.contains("No broken requirements found"), "{}{}", pip.stdout, pip.stderr);

    // Byte for byte: another service on a fresh builder with no cache to
    // import gets the same layers for the packages it shares.
    envd_e2e::prune_builder();
    let other = Context::new("conda-layers-b");
    other.write("build.envd", &build_envd).write("env.yaml", &env_yaml(&["pyfixture", "app"], &["six==1.16.0"]));
    let other_image = format!("{registry}/envd-e2e/conda-layers-b:{pid}");
    push(&other, &other_image, &[]);
    let base: BTreeSet<String> = image_layers(&cpu_base()).into_iter().map(|(d, _)| d).collect();
    let of = |image: &str| -> BTreeSet<String> {
        image_layers(image).into_iter().map(|(d, _)| d).filter(|d| !base.contains(d)).collect()
    };
    let shared = of(&first_image).intersection(&of(&other_image)).count();
    // python, pip, setuptools, pyfixture, zlib and libzlib (app needs
    // zlib), and six of the pip: section.
    assert_eq!(shared, 7, "layers shared by two services built apart");
}
