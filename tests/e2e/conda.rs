//! conda through real builds, offline: every test's context carries a
//! generated channel (`envd_conda_fixture`), which `config.conda_channel`
//! or `channel=` names as a `./dir` of the context. The installer is the
//! frontend image's own binary, run inside the build on the CPU stand-in
//! (which has no conda) and on a base that already has a conda prefix.

use envd_conda_fixture::{machine_python, Content, MachinePython, Package};
use envd_e2e::{
    cpu_base, docker_ok, engine_alone, ensure_env, git, git_daemon, image_config, repo, steps, ubuntu_base, Context,
    HostServer, Scratch,
};

/// The python of the fixture channel: this machine's CPython.
fn python() -> &'static MachinePython {
    machine_python().expect("package this machine's python")
}

/// What `ls /opt/conda/conda-meta` lists for `names` (`name-version-build`)
/// plus the python, pip and setuptools of the fixture, sorted.
fn meta_with_python(names: &[&str]) -> String {
    let m = python();
    let mut all: Vec<String> = names.iter().map(|n| format!("{n}.json")).collect();
    all.push(format!("python-{}-h0_0.json", m.version));
    all.push(format!("pip-{}-pyh0_0.json", m.pip_version));
    all.push(format!("setuptools-{}-pyh0_0.json", m.setuptools.version));
    all.push("history".into());
    all.sort();
    all.iter().map(|n| format!("{n}\n")).collect()
}

fn sh(tag: &str, script: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script])
}

/// The channel settings the tests use: `defaults` is the context's
/// `channel` directory, as a mirror would be.
const CONDARC: &str = r#"    config.conda_channel(channel="""
    channels:
      - defaults
    default_channels:
      - ./channel
    """)
"#;

/// The seed's flow: an env.yaml from `conda env export` with exact pins,
/// a noarch python package and a `pip:` section, plus a name in build.envd.
const ENV_YAML: &str = "name: service\nchannels:\n  - defaults\ndependencies:\n  - tool=1.0=h0_0\n  - pyfixture\n  - pip:\n    - idna==3.7\nprefix: /opt/conda/envs/service\n";

#[test]
fn an_env_yaml_installs_on_a_base_without_conda() {
    let _engine = ensure_env();
    let ctx = Context::new("conda-plain");
    let m = python();
    ctx.channel_with_python("channel", vec![])
        .write(
            "build.envd",
            &format!(
                "def build():\n{CONDARC}    base(image=\"{}\", language=\"python{}\")\n    install.system_packages(name=[\"hello\"])\n    install.conda_packages(name=[\"app\"], env_file=\"env.yaml\")\n    install.python_packages(name=[\"six==1.16.0\"])\n    run(commands=[\"python -c 'import sys, pyfixture, idna, six; print(sys.prefix, pyfixture.VERSION)' > /check\"])\n",
                cpu_base(),
                m.minor
            ),
        )
        .write("env.yaml", ENV_YAML);
    assert!(!sh(&cpu_base(), "ls -d /opt/conda 2>/dev/null || true").contains("conda"), "the base has no conda");
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let t = ctx.tag.as_str();
    // files of the solved packages, the pin honoured, the prefix put into text files
    assert_eq!(sh(t, "cat /opt/conda/share/app/app.txt"), "app 2.0\n");
    assert_eq!(sh(t, "/opt/conda/bin/tool"), "tool 1.0 h0_0 in /opt/conda\n");
    // the pip step and the env file's pip: section ran uv, into the
    // environment's python
    assert_eq!(
        sh(t, "for f in six-1.16.0 idna-3.7; do cat /opt/conda/lib/python*/site-packages/$f.dist-info/INSTALLER; echo; done"),
        "uv\nuv\n"
    );
    // conda-meta records for every package, pip and setuptools with python
    assert_eq!(
        sh(t, "ls /opt/conda/conda-meta"),
        meta_with_python(&[
            "app-2.0-h0_0",
            "libzlib-1.3.1-h0_0",
            "pyfixture-0.1-py_0",
            "tool-1.0-h0_0",
            "zlib-1.3.1-h0_0"
        ])
    );
    // later steps and the image find the environment first on PATH; the
    // pip section and the pip step went into it, with its own pip
    assert_eq!(sh(t, "cat /check"), "/opt/conda 0.1\n");
    let site = format!("/opt/conda/lib/python{}/site-packages", m.minor);
    assert_eq!(
        sh(t, "python -c 'import idna, six; print(idna.__file__); print(six.__file__)'"),
        format!("{site}/idna/__init__.py\n{site}/six.py\n")
    );
    // a real CPython: its libpython is the environment's (the RUNPATH was a
    // binary prefix placeholder), the base's /usr/local python is another
    // and does not see the environment's packages
    assert_eq!(
        sh(t, "python -c \"import sys; print(sys.executable); print(any('/opt/conda/lib/libpython' in l for l in open('/proc/self/maps')))\""),
        "/opt/conda/bin/python\nTrue\n"
    );
    assert!(sh(t, "pip --version").starts_with(&format!("pip {} from {site}/pip", m.pip_version)));
    assert_eq!(
        sh(t, "/usr/local/bin/python3 -c 'import six' 2>&1 | tail -1"),
        "ModuleNotFoundError: No module named 'six'\n"
    );
    // noarch packages were compiled at install time, as conda does
    let tag = format!("cpython-{}", m.minor.replace('.', ""));
    assert_eq!(sh(t, &format!("ls {site}/pyfixture/__pycache__")), format!("__init__.{tag}.pyc\n"));
    // the condarc, for whoever runs conda in the image later
    assert_eq!(sh(t, "cat /opt/conda/.condarc"), "channels:\n  - defaults\ndefault_channels:\n  - ./channel\n");
    // apt ran beside conda, and the caches stayed out of the image
    assert!(sh(t, "dpkg -s hello").contains("Status: install ok installed"));
    assert_eq!(sh(t, "ls -d /var/cache/envd /run/envd /root/.cache 2>/dev/null | wc -l"), "0\n");
    let cfg = image_config(t);
    let base = image_config(&cpu_base());
    assert_eq!(cfg["Env"][0], "PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    assert_eq!((&cfg["WorkingDir"], &cfg["Cmd"]), (&base["WorkingDir"], &base["Cmd"]));
    assert_eq!(cfg["Labels"]["org.aiges.envd.conda-packages"], "app tool=1.0=h0_0 pyfixture");
    // with merge/diff, apt and conda were parallel branches
    assert!(r.stderr.contains("[internal] merge"), "{}", r.stderr);
}

/// A package only this test's channel has, so the shared package cache
/// cannot already hold it: named for the test (`which`) and this run.
fn marker(which: &str) -> (String, Package) {
    let name = format!("marker-{which}-{}", std::process::id());
    let p = Package::new(&name, "1.0", "h0_0").file("share/marker.txt", Content::File(format!("{name}\n")));
    (name, p)
}

#[test]
fn adding_one_package_fetches_only_that_package() {
    // The conda package cache is one BuildKit cache mount for all builds.
    // Under concurrent builds BuildKit was seen to hand a step a different
    // copy of it (a fresh one), so this test, which counts fetches, runs
    // alone.
    let _alone = engine_alone();
    let ctx = Context::new("conda-add");
    let (name, package) = marker("add");
    let build = |specs: &str| {
        format!(
            "def build():\n{CONDARC}    base(image=\"{}\")\n    install.conda_packages(name=[{specs}])\n    run(commands=[\"ls /opt/conda/conda-meta > /meta\"])\n",
            cpu_base()
        )
    };
    ctx.channel("channel", vec![package]).write("build.envd", &build("\"app\""));
    let first = ctx.build_envd(&[]);
    assert!(first.ok, "{}", first.stderr);
    ctx.write("build.envd", &build(&format!("\"app\", \"{name}\"")));
    let second = ctx.build_envd(&[]);
    assert!(second.ok, "{}", second.stderr);
    let fetched: Vec<&str> =
        second.stderr.lines().filter_map(|l| l.split_once("envd: fetched ").map(|(_, f)| f)).collect();
    let envd_lines = |s: &str| s.lines().filter(|l| l.contains("envd: ")).collect::<Vec<_>>().join("\n");
    assert_eq!(
        fetched,
        [format!("{name}-1.0-h0_0.tar.bz2")],
        "first build:\n{}\nsecond build:\n{}",
        envd_lines(&first.stderr),
        second.stderr
    );
    assert!(sh(&ctx.tag, "cat /meta").contains(&format!("{name}-1.0-h0_0.json")));
}

#[test]
fn a_conda_base_keeps_its_environment_and_records() {
    let _engine = ensure_env();
    // No conda can be installed here, so the conda base is made the way a
    // user of this frontend would make one: a build with an environment
    // (python, zlib), pushed to the local registry.
    let base_ctx = Context::new("conda-base");
    let m = python();
    base_ctx.channel_with_python("channel", vec![]).write(
        "build.envd",
        &format!(
            "def build():\n{CONDARC}    base(image=\"{}\", language=\"python{}\")\n    install.conda_packages(name=[\"zlib\"])\n    runtime.environ(env={{\"CONDA_DIR\": \"/opt/conda\"}})\n",
            cpu_base(),
            m.minor
        ),
    );
    let r = base_ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let base = format!("127.0.0.1:5000/envd-e2e/conda-base:{}", std::process::id());
    docker_ok(&["tag", &base_ctx.tag, &base]);
    docker_ok(&["push", "-q", &base]);
    let before = sh(&base, "ls /opt/conda/conda-meta");
    assert_eq!(before, meta_with_python(&["libzlib-1.3.1-h0_0", "zlib-1.3.1-h0_0"]));

    let ctx = Context::new("conda-on-conda");
    ctx.channel_with_python("channel", vec![])
        .write(
            "build.envd",
            &format!(
                "def build():\n{CONDARC}    base(image=\"{base}\", language=\"python{}\")\n    install.conda_packages(env_file=\"env.yaml\")\n",
                m.minor
            ),
        )
        .write("env.yaml", ENV_YAML);
    // --no-cache: the base is the same image on every run, so the step
    // would otherwise be a cache hit and show no installer output
    let r = ctx.build_envd(&["--no-cache"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("envd: /opt/conda keeps its 5 installed packages"), "{}", r.stderr);
    let t = ctx.tag.as_str();
    assert_eq!(
        sh(t, "ls /opt/conda/conda-meta"),
        meta_with_python(&["libzlib-1.3.1-h0_0", "pyfixture-0.1-py_0", "tool-1.0-h0_0", "zlib-1.3.1-h0_0"])
    );
    // the records stay conda's: each lists its files, which exist
    let files = sh(
        t,
        "python3 -c \"import json,glob,os; print(all(os.path.lexists('/opt/conda/'+f) for p in glob.glob('/opt/conda/conda-meta/*.json') for f in json.load(open(p))['files']))\"",
    );
    assert_eq!(files, "True\n");
    assert_eq!(sh(t, "/opt/conda/bin/python -c 'import pyfixture, idna; print(pyfixture.VERSION)'"), "0.1\n");
    let _ = docker_ok(&["image", "rm", "-f", &base]);
}

#[test]
fn an_unsolvable_environment_fails_at_its_line_with_the_explanation() {
    let _engine = ensure_env();
    let ctx = Context::new("conda-unsolvable");
    ctx.channel("channel", vec![]).write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.conda_packages(name=[\"left\", \"right\"], channel=[\"./channel\"])\n{CONDARC}",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&[]);
    assert!(!r.ok, "the build should fail");
    let e = &r.stderr;
    assert!(e.contains("envd: the conda environment cannot be solved:"), "{e}");
    assert!(e.contains("shared 1.*") && e.contains("shared 2.*"), "{e}");
    assert!(e.contains("build.envd:3"), "{e}");
    assert!(e.contains(">>>     install.conda_packages(name=[\"left\", \"right\"]"), "{e}");
}

#[test]
fn cuda_packages_solve_on_the_gpu_base_without_install_cuda_and_not_on_the_cpu_one() {
    let _engine = ensure_env();
    let ctx = Context::new("conda-cuda");
    let cudapkg = Package::new("cudapkg", "1.0", "cuda11_0")
        .depends(&["__cuda >=11"])
        .file("share/cudapkg", Content::File("built for CUDA 11\n".into()));
    ctx.channel("channel", vec![cudapkg]);
    let build = |device: &str| {
        ctx.write(
            "build.envd",
            &format!("def build():\n    base(image=\"aiges_{device}\")\n    install.conda_packages(name=[\"cudapkg\"])\n{CONDARC}"),
        );
        let images = [
            "--build-arg",
            &format!("AIGES_CPU_IMAGE={}", cpu_base()),
            "--build-arg",
            &format!("AIGES_GPU_IMAGE={}", envd_e2e::gpu_base()),
        ]
        .map(|s| s.to_owned());
        let args: Vec<&str> = images.iter().map(String::as_str).collect();
        ctx.build_envd(&args)
    };
    let r = build("gpu");
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("__cuda=11.6=0"), "the step says which __cuda it used: {}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/cudapkg"), "built for CUDA 11\n");
    // the AIGES loader finds the environment's libraries after its own
    let env = image_config(&ctx.tag)["Env"].to_string();
    assert!(
        env.contains("\"LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64:/home/aiges:/home/aiges/library:/opt/conda/lib\""),
        "{env}"
    );
    let r = build("cpu");
    assert!(!r.ok, "no GPU, no CUDA build");
    assert!(r.stderr.contains("envd: the conda environment cannot be solved:"), "{}", r.stderr);
    assert!(r.stderr.contains("__cuda"), "resolvo names the missing virtual package: {}", r.stderr);
}

#[test]
fn bad_env_files_and_specs_are_errors_at_their_line_before_anything_runs() {
    let _engine = ensure_env();
    let cases = [
        (None, "env_file=\"env.yaml\"", "env_file \"env.yaml\" was not found in the build context"),
        (Some("dependencies: [a\n"), "env_file=\"env.yaml\"", "env_file \"env.yaml\" is not valid YAML"),
        (
            Some("dependencies:\n  - numpy>>=1\n"),
            "env_file=\"env.yaml\"",
            "`numpy>>=1` is not a valid conda package spec",
        ),
        (None, "name=[\"zlib==\"]", "`zlib==` is not a valid conda package spec"),
        (
            None,
            "name=[\"zlib\"], channel=[\"/srv/channel\"]",
            "channel `/srv/channel` is a path outside the build context",
        ),
    ];
    for (env, args, expected) in cases {
        let ctx = Context::new("conda-bad");
        ctx.write(
            "build.envd",
            &format!("def build():\n    base(image=\"{}\")\n    install.conda_packages({args})\n", cpu_base()),
        );
        if let Some(env) = env {
            ctx.write("env.yaml", env);
        }
        let r = ctx.build_envd(&[]);
        assert!(!r.ok, "{args}: the build should fail");
        assert!(r.stderr.contains(expected), "{args}: {}", r.stderr);
        assert!(r.stderr.contains("build.envd:3"), "{args}: {}", r.stderr);
        assert!(!r.stderr.contains("conda-install"), "{args}: nothing ran: {}", r.stderr);
    }
}

#[test]
fn the_seed_example_builds() {
    let _engine = ensure_env();
    let ctx = Context::new("seed");
    let example = repo().join("examples/seed");
    for f in ["build.envd", "env.yaml", "build.txt", "detectron2/setup.py", "detectron2/detectron2.py"] {
        ctx.write(f, &std::fs::read_to_string(example.join(f)).unwrap());
    }
    ctx.channel_with_python("channels/main", vec![]);
    envd_conda_fixture::write_channel(&ctx.dir().join("channels/pytorch"), &[]).unwrap();
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let names: Vec<String> = steps(&r.stderr).into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().any(|n| n == "[3/8] install.conda_packages -f env.yaml -c pytorch"), "{names:?}");
    let t = ctx.tag.as_str();
    assert_eq!(sh(t, "cat /home/aiges/conda-check.txt"), "0.1\n");
    assert_eq!(
        sh(t, "python -c 'import six, packaging, idna, certifi, detectron2; print(six.__file__, detectron2.VERSION)'"),
        format!("/opt/conda/lib/python{}/site-packages/six.py 0.0.1\n", python().minor)
    );
    assert_eq!(sh(t, "cat /opt/conda/lib/python*/site-packages/six-1.16.0.dist-info/INSTALLER; echo"), "uv\n");
    assert!(sh(t, "dpkg -s libgl1").contains("Status: install ok installed"));
    assert_eq!(sh(t, "cat /etc/pip.conf"), "[global]\nindex-url = https://pypi.org/simple\n");
}

#[test]
fn an_http_channel_is_reached_by_name_from_inside_the_build() {
    let _engine = ensure_env();
    let ctx = Context::new("conda-http");
    let (name, package) = marker("http");
    ctx.channel("served", vec![package]);
    let server = HostServer::files(&ctx.dir().join("served"), ctx.dir().join("http.log"));
    // The name resolves through the step's /etc/hosts (--add-host), read by
    // the installer's own resolver: glibc's is not used.
    let url = format!("http://conda.test:{}", server.port);
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [{url}]\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"app\", \"{name}\"])\n",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--add-host", "conda.test:host-gateway"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("envd: fetched {name}-1.0-h0_0.tar.bz2")), "{}", r.stderr);
    let log = server.requests();
    assert!(log.contains("GET /linux-64/repodata.json"), "{log}");
    assert!(log.contains(&format!("GET /linux-64/{name}-1.0-h0_0.tar.bz2")), "{log}");
    assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/marker.txt"), format!("{name}\n"));
}

#[test]
fn https_channels_use_dns_and_the_base_images_ca_store() {
    let _engine = ensure_env();
    // pypi.org is reachable here but is no conda channel: getting as far
    // as "no such subdir" means the name resolved and TLS verified against
    // the CA bundle of the base. A name that does not exist says so.
    for (channel, expected) in [
        ("https://pypi.org/simple/six", "could not find subdir 'noarch' in channel 'https://pypi.org/simple/six/'"),
        ("https://no-such-host.invalid/channel", "dns error"),
    ] {
        let ctx = Context::new("conda-https");
        ctx.write(
            "build.envd",
            &format!(
                "def build():\n    config.conda_channel(channel=\"channels: [{channel}]\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"app\"])\n",
                cpu_base()
            ),
        );
        let r = ctx.build_envd(&[]);
        assert!(!r.ok, "{channel}: the build should fail");
        assert!(r.stderr.contains("envd: cannot load the channels' repodata"), "{channel}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{channel}: {}", r.stderr);
        assert!(!r.stderr.to_lowercase().contains("certificate"), "{channel}: {}", r.stderr);
    }
}

#[test]
fn the_installer_runs_on_ubuntu_18_04_and_sees_its_glibc() {
    let _engine = ensure_env();
    assert!(sh(&ubuntu_base(), "ldd --version | head -1").contains("2.27"), "the stand-in is glibc 2.27");
    let build = |base: &str, names: &str| {
        let ctx = Context::new("conda-ubuntu");
        ctx.channel("channel", vec![]).write(
            "build.envd",
            &format!(
                "def build():\n{CONDARC}    base(image=\"{base}\")\n    install.conda_packages(name=[{names}])\n    run(commands=[\"/opt/conda/bin/tool > /tool.txt\"])\n"
            ),
        );
        let r = ctx.build_envd(&[]);
        (ctx, r)
    };
    let (ctx, r) = build(&ubuntu_base(), "\"app\"");
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /tool.txt"), "tool 1.0 h1_1 in /opt/conda\n");
    assert!(sh(&ctx.tag, "ls /opt/conda/conda-meta").contains("app-2.0-h0_0.json"));
    // __glibc comes from the image (2.27 here), not from the static binary
    let (_, r) = build(&ubuntu_base(), "\"app\", \"newlibc\"");
    assert!(!r.ok, "newlibc needs glibc 2.28");
    assert!(r.stderr.contains("envd: the conda environment cannot be solved:"), "{}", r.stderr);
    assert!(r.stderr.contains("__glibc >=2.28"), "{}", r.stderr);
    let (ctx, r) = build(&cpu_base(), "\"app\", \"newlibc\"");
    assert!(r.ok, "Debian 12 has glibc 2.36: {}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/newlibc.txt"), "newlibc\n");
    // this minimal Ubuntu has no CA certificates: an https channel says so
    let ctx = Context::new("conda-ubuntu-https");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [https://pypi.org/simple/six]\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"app\"])\n",
            ubuntu_base()
        ),
    );
    let r = ctx.build_envd(&[]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("envd: cannot verify https channels: the image has no usable CA certificates (install ca-certificates in the base image first)"),
        "{}",
        r.stderr
    );
}

/// The served channel's archive of `name`, as a lock file's URL and hash.
fn archive(ctx: &Context, url: &str, name: &str) -> (String, String) {
    let repodata: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.dir().join("served/linux-64/repodata.json")).unwrap())
            .unwrap();
    let (file, record) = ["packages", "packages.conda"]
        .iter()
        .flat_map(|k| repodata[k].as_object().unwrap().iter())
        .find(|(f, _)| f.starts_with(&format!("{name}-")))
        .unwrap_or_else(|| panic!("{name} is in the channel"));
    (format!("{url}/linux-64/{file}"), record["sha256"].as_str().unwrap().to_owned())
}

#[test]
fn explicit_and_conda_lock_files_install_exactly_their_archives_with_no_solve() {
    let _engine = ensure_env();
    let ctx = Context::new("conda-lock");
    let (name, package) = marker("locked");
    ctx.channel("served", vec![package]);
    let server = HostServer::files(&ctx.dir().join("served"), ctx.dir().join("http.log"));
    let url = format!("http://conda.test:{}", server.port);
    let (marker_url, marker_sha) = archive(&ctx, &url, &name);
    let (zlib_url, zlib_sha) = archive(&ctx, &url, "zlib");
    let (libzlib_url, libzlib_sha) = archive(&ctx, &url, "libzlib");
    let build = |file: &str| {
        ctx.write(
            "build.envd",
            &format!(
                "def build():\n    base(image=\"{}\")\n    install.conda_packages(env_file=\"{file}\")\n",
                cpu_base()
            ),
        );
        ctx.build_envd(&["--add-host", "conda.test:host-gateway"])
    };
    let explicit = format!(
        "# This file may be used to create an environment using:\n# $ conda create --name <env> --file <this file>\n# platform: linux-64\n@EXPLICIT\n{libzlib_url}#sha256:{libzlib_sha}\n{zlib_url}#sha256:{zlib_sha}\n{marker_url}#sha256:{marker_sha}\n"
    );
    ctx.write("spec.txt", &explicit);
    let r = build("spec.txt");
    assert!(r.ok, "{}", r.stderr);
    // A lock file needs no resolve step: a layer per archive, then the
    // last step finds all three.
    assert!(r.stderr.contains("envd: 3 packages in /opt/conda from their layers"), "{}", r.stderr);
    assert!(!r.stderr.contains("install.conda_packages: resolve"), "{}", r.stderr);
    assert!(!r.stderr.contains("package records from"), "no repodata was read: {}", r.stderr);
    assert!(!server.requests().contains("repodata.json"), "{}", server.requests());
    assert_eq!(sh(&ctx.tag, "cat /opt/conda/share/marker.txt"), format!("{name}\n"));
    assert_eq!(sh(&ctx.tag, "ls /opt/conda/conda-meta | grep -c json"), "3\n");

    let lock = format!(
        "version: 1\nmetadata:\n  content_hash: {{linux-64: x}}\n  channels: [{{url: {url}, used_env_vars: []}}]\n  platforms: [linux-64]\n  sources: [environment.yml]\npackage:\n- name: {name}\n  version: '1.0'\n  manager: conda\n  platform: linux-64\n  dependencies: {{}}\n  url: {marker_url}\n  hash: {{sha256: {marker_sha}}}\n  category: main\n  optional: false\n"
    );
    ctx.write("conda-lock.yml", &lock);
    let r = build("conda-lock.yml");
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("envd: 1 packages in /opt/conda from their layers"), "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "ls /opt/conda/conda-meta | grep -c json"), "1\n", "exactly the lock file's one package");

    ctx.write("spec.txt", &explicit.replace(&marker_sha, &"0".repeat(64)));
    let r = build("spec.txt");
    assert!(!r.ok, "a tampered hash fails");
    assert!(r.stderr.contains(&format!("cannot fetch {marker_url} as the lock file pins it")), "{}", r.stderr);
    assert!(r.stderr.contains("build.envd:3"), "at the line: {}", r.stderr);
}

/// A `setup.py` project named `name`, one module of the same name.
fn python_project(dir: &std::path::Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("setup.py"),
        format!("from setuptools import setup\nsetup(name={name:?}, version={version:?}, py_modules=[{name:?}])\n"),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{name}.py")), format!("NAME = {name:?}\n")).unwrap();
}

#[test]
fn a_conda_env_export_file_with_editable_pip_entries_builds() {
    let _engine = ensure_env();
    let m = python();
    // The project the developer installed with `pip install -e git+...`,
    // served by a git daemon on the host.
    let root = Scratch::new("conda-export-git");
    let work = root.join("work");
    python_project(&work, "gitdemo", "1.0");
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    git(&work, &["tag", "v1"]);
    git(&root, &["clone", "-q", "--bare", "work", "gitdemo.git"]);
    let daemon = git_daemon(&root);

    // What `conda env export` wrote on a Windows laptop, beside the
    // project it had installed with `pip install -e .`.
    let ctx = Context::new("conda-export");
    ctx.channel_with_python("channel", vec![]);
    python_project(&ctx.dir().join("svc"), "localdemo", "0.2");
    let env = format!(
        "name: detectron2\nchannels:\n  - defaults\ndependencies:\n  - libzlib=1.3.1=h0_0\n  - pip={}=pyh0_0\n  - python={}=h0_0\n  - setuptools={}=pyh0_0\n  - zlib=1.3.1=h0_0\n  - pip:\n    - six==1.16.0\n    - -e git+git://git.test:{}/gitdemo.git@v1#egg=gitdemo\n    - -e .\nprefix: C:\\Users\\me\\miniconda3\\envs\\detectron2\n",
        m.pip_version, m.version, m.setuptools.version, daemon.port
    );
    ctx.write("svc/env.yaml", &env).write(
        "build.envd",
        &format!(
            "def build():\n{CONDARC}    base(image=\"{}\")\n    install.conda_packages(env_file=\"svc/env.yaml\")\n",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--add-host", "git.test:host-gateway"]);
    assert!(r.ok, "{}", r.stderr);
    // name, prefix and -e are warnings at their lines of the env file
    for warning in [
        "name: detectron2 is ignored",
        "prefix: C:\\Users\\me\\miniconda3\\envs\\detectron2 is ignored",
        "-e . is installed as a package, not editable",
        "-e git+git://git.test:",
    ] {
        assert!(r.stderr.contains(warning), "{warning}: {}", r.stderr);
    }
    let t = ctx.tag.as_str();
    assert_eq!(
        sh(t, "ls /opt/conda/conda-meta"),
        meta_with_python(&["libzlib-1.3.1-h0_0", "zlib-1.3.1-h0_0"]),
        "exactly the pinned builds"
    );
    // both projects are installed as packages in the environment: the
    // git one at its tag, the local one from the env file's directory
    let site = format!("/opt/conda/lib/python{}/site-packages", m.minor);
    assert_eq!(
        sh(t, "python -c 'import gitdemo, localdemo, six; print(gitdemo.__file__); print(localdemo.__file__); print(six.__file__)'"),
        format!("{site}/gitdemo.py\n{site}/localdemo.py\n{site}/six.py\n")
    );
    assert_eq!(sh(t, "ls -d /run/envd 2>/dev/null | wc -l"), "0\n", "the sources were mounted, not copied");
}
