//! Python packages with uv (issue 15), through real builds: the options
//! of a requirements file, pip's settings, the fall back to pip where uv
//! would read the file differently, and `ENVD_PYTHON_INSTALLER=pip`.
//!
//! The indexes are PEP 503 pages and wheels that `tests/servers/wheel_index.py`
//! writes, served from the host on the bridge gateway and reached from the
//! steps as `pypi.test` (`--add-host`).

use std::path::Path;

use envd_e2e::{cpu_base, docker_ok, ensure_env, git, git_daemon, wheels, Context, HostServer, Run};

/// uv's summary line for an installed package; pip says `Successfully installed`.
const UV_INSTALLED: &str = " + ";

fn sh(tag: &str, script: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script])
}

/// The build with `pypi.test` and `git.test` on the host.
fn build(ctx: &Context, extra: &[&str]) -> Run {
    let mut args = vec!["--add-host", "pypi.test:host-gateway", "--add-host", "git.test:host-gateway"];
    args.extend_from_slice(extra);
    ctx.build_envd(&args)
}

/// A bare git repository `root/NAME.git` of a setuptools project with one
/// module NAME, tagged `v1`, ready for git's dumb HTTP protocol and for
/// `git daemon`.
fn git_project(root: &Path, name: &str) {
    let work = root.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("setup.py"),
        format!("from setuptools import setup\nsetup(name={name:?}, version='1.0', py_modules=[{name:?}])\n"),
    )
    .unwrap();
    std::fs::write(work.join(format!("{name}.py")), format!("NAME = {name:?}\n")).unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    git(&work, &["tag", "v1"]);
    git(root, &["clone", "-q", "--bare", &format!("{name}-work"), &format!("{name}.git")]);
    git(&root.join(format!("{name}.git")), &["update-server-info"]);
}

fn service(requirements: &str) -> String {
    format!(
        "def build():\n    base(image=\"{}\")\n    install.python_packages(requirements=\"{requirements}\")\n",
        cpu_base()
    )
}

#[test]
fn index_options_hashes_and_markers_install_with_uv() {
    let _engine = ensure_env();
    let ctx = Context::new("uv-options");
    let served = ctx.dir().join("served");
    let hashes = wheels(
        &served,
        &[
            "one:envd-e2e-one:1.0",
            "two:envd-e2e-two:1.0:envd-e2e-one",
            "links:envd-e2e-links:1.0",
            "one:envd-e2e-marker:1.0",
        ],
    );
    let server = HostServer::files(&served, ctx.dir().join("http.log"));
    let url = format!("http://pypi.test:{}", server.port);
    let hash = |file: &str| hashes[file].clone();
    let requirements = |two: &str| {
        format!(
            "--index-url {url}/one/simple\n--extra-index-url {url}/two/simple\n-f {url}/links/\nenvd-e2e-one==1.0 --hash=sha256:{}\nenvd-e2e-two==1.0 \\\n    --hash=sha256:{two}\nenvd-e2e-links==1.0 --hash=sha256:{}\nenvd-e2e-marker==1.0 ; python_version < \"3\" --hash=sha256:{}\n",
            hash("envd_e2e_one-1.0-py3-none-any.whl"),
            hash("envd_e2e_links-1.0-py3-none-any.whl"),
            hash("envd_e2e_marker-1.0-py3-none-any.whl"),
        )
    };
    ctx.write("requirements.txt", &requirements(&hash("envd_e2e_two-1.0-py3-none-any.whl")))
        .write("build.envd", &service("requirements.txt"));
    let r = build(&ctx, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{UV_INSTALLED}envd-e2e-two==1.0")), "uv installed it: {}", r.stderr);
    assert!(!r.stderr.contains("envd: installing with pip"), "{}", r.stderr);
    // the file is a lock already: no resolve step, a layer per pin
    assert!(!r.stderr.contains("install.python_packages: resolve"), "{}", r.stderr);
    for pin in ["envd-e2e-one==1.0", "envd-e2e-two==1.0", "envd-e2e-links==1.0", "envd-e2e-marker==1.0"] {
        assert!(r.stderr.contains(&format!("install.python_packages: {pin}\n")), "{pin} has its layer: {}", r.stderr);
    }
    let t = ctx.tag.as_str();
    // each from its place: the index, the extra index, the find-links page;
    // the marker kept one out, into the image's /usr/local python
    assert_eq!(
        sh(t, "python3 -c 'import envd_e2e_one as a, envd_e2e_two as b, envd_e2e_links as c; print(a.PLACE, b.PLACE, c.PLACE, a.__file__)'"),
        "one two links /usr/local/lib/python3.11/site-packages/envd_e2e_one/__init__.py\n"
    );
    assert_eq!(
        sh(t, "python3 -c 'import envd_e2e_marker' 2>&1 | tail -1"),
        "ModuleNotFoundError: No module named 'envd_e2e_marker'\n"
    );
    // compiled as pip would have (python takes the .pyc as it is), and
    // nothing of uv in the image
    assert!(
        sh(t, "python3 -v -c 'import envd_e2e_one' 2>&1").contains(
            "/usr/local/lib/python3.11/site-packages/envd_e2e_one/__pycache__/__init__.cpython-311.pyc matches"
        ),
        "the .pyc is not up to date"
    );
    assert_eq!(sh(t, "ls -d /var/cache/envd /run/envd /root/.cache 2>/dev/null | wc -l"), "0\n");
    assert_eq!(sh(t, "find / -xdev -name uv -type f 2>/dev/null | wc -l"), "0\n");

    // a hash that does not match fails the step at its line
    ctx.write("requirements.txt", &requirements(&"0".repeat(64)));
    let r = build(&ctx, &[]);
    assert!(!r.ok, "a wrong hash fails");
    assert!(r.stderr.to_lowercase().contains("hash mismatch"), "{}", r.stderr);
    assert!(r.stderr.contains("build.envd:3"), "{}", r.stderr);
}

#[test]
fn nested_files_git_urls_and_local_wheels_install_with_uv() {
    let _engine = ensure_env();
    let ctx = Context::new("uv-nested");
    let served = ctx.dir().join("served");
    wheels(&served, &["one:envd-e2e-one:1.0", "one:envd-e2e-one:2.0"]);
    wheels(&ctx.dir().join("svc/wheels"), &["local:envd-e2e-local:0.1"]);
    let server = HostServer::files(&served, ctx.dir().join("http.log"));
    // a project in a git repository on the host, over git's dumb HTTP
    git_project(&served, "gitdemo");
    // -r and -c name files beside the requirements file; the constraint
    // keeps envd-e2e-one at 1.0; setuptools for the git project's build
    // comes from pypi.org
    ctx.write(
        "svc/requirements.txt",
        &format!(
            "--index-url http://pypi.test:{port}/one/simple\n--extra-index-url https://pypi.org/simple\n-r base.txt\n-c constraints.txt\ngit+http://pypi.test:{port}/gitdemo.git@v1#egg=gitdemo\n./wheels/local/envd_e2e_local-0.1-py3-none-any.whl\n",
            port = server.port
        ),
    )
    .write("svc/base.txt", "envd-e2e-one\n")
    .write("svc/constraints.txt", "envd-e2e-one==1.0\n")
    .write("build.envd", &service("svc/requirements.txt"));
    let r = build(&ctx, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{UV_INSTALLED}envd-e2e-one==1.0")), "{}", r.stderr);
    assert!(!r.stderr.contains("envd: installing with pip"), "{}", r.stderr);
    assert_eq!(
        sh(&ctx.tag, "python3 -c 'import envd_e2e_one, envd_e2e_local, gitdemo; print(envd_e2e_one.VERSION, envd_e2e_local.VERSION, gitdemo.NAME)'"),
        "1.0 0.1 gitdemo\n"
    );

    // an editable local project is refused at the line, before anything runs
    ctx.write("svc/requirements.txt", "envd-e2e-one\n-e ./pkg\n");
    let r = build(&ctx, &[]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("install.python_packages: svc/requirements.txt:2: -e ./pkg would install an editable link into the build context"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("build.envd:3"), "{}", r.stderr);
}

#[test]
fn what_uv_reads_differently_installs_with_pip_and_says_why() {
    let _engine = ensure_env();
    // known before the build: an option line uv would ignore
    let ctx = Context::new("uv-fallback");
    ctx.write("requirements.txt", "--pre\nsix==1.16.0\n").write("build.envd", &service("requirements.txt"));
    // --no-cache: the step's log is asserted, and an earlier run's cached
    // step would show none
    let r = build(&ctx, &["--no-cache"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("envd: installing with pip: requirements.txt:1: uv does not read --pre as pip does"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Successfully installed six-1.16.0"), "{}", r.stderr);
    // found when uv runs: a git:// URL, which uv cannot parse and pip takes
    let root = ctx.dir().join("git");
    std::fs::create_dir_all(&root).unwrap();
    git_project(&root, "gitdemo");
    let daemon = git_daemon(&root);
    ctx.write("requirements.txt", &format!("git+git://git.test:{}/gitdemo.git@v1#egg=gitdemo\n", daemon.port));
    let r = build(&ctx, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("envd: installing with pip: uv refuses what pip accepts: error: Couldn't parse requirement"),
        "{}",
        r.stderr
    );
    assert_eq!(sh(&ctx.tag, "python3 -c 'import gitdemo; print(gitdemo.NAME)'"), "gitdemo\n");
    // an editable git requirement, which uv refuses ("Git sources cannot be
    // editable"): pip clones it into ./src of the working directory, in
    // the image
    let server = HostServer::files(&root, ctx.dir().join("http.log"));
    ctx.write("requirements.txt", &format!("-e git+http://pypi.test:{}/gitdemo.git@v1#egg=gitdemo\n", server.port));
    let r = build(&ctx, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "envd: installing with pip: uv refuses what pip accepts: error: Unsupported editable requirement"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(
        sh(&ctx.tag, "python3 -c 'import gitdemo; print(gitdemo.__file__)'"),
        "/home/aiges/src/gitdemo/gitdemo.py\n"
    );
    // a base's own pip configuration uv has no equivalent for
    let ctx = Context::new("uv-pip-conf");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    run(commands=[\"mkdir -p /root/.config/pip && printf '[install]\\\\nprefer-binary = true\\\\n' > /root/.config/pip/pip.conf\"])\n    install.python_packages(name=[\"six==1.16.0\"])\n",
            cpu_base()
        ),
    );
    let r = build(&ctx, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "envd: installing with pip: /root/.config/pip/pip.conf sets prefer-binary, which uv does not read"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn envd_python_installer_pip_is_todays_pip_path() {
    let _engine = ensure_env();
    let ctx = Context::new("uv-off");
    ctx.write("requirements.txt", "six==1.16.0\n").write("build.envd", &service("requirements.txt"));
    let r = build(&ctx, &["--no-cache", "--build-arg", "ENVD_PYTHON_INSTALLER=pip"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("Successfully installed six-1.16.0"), "{}", r.stderr);
    assert!(!r.stderr.contains("/run/envd/frontend/uv"), "no uv in the step: {}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/INSTALLER"), "pip\n");
    assert!(!r.stderr.contains("UnusedBuildArg"), "the frontend reads the arg: {}", r.stderr);
    let r = build(&ctx, &["--build-arg", "ENVD_PYTHON_INSTALLER=poetry"]);
    assert!(!r.ok);
    assert!(r.stderr.contains("build-arg:ENVD_PYTHON_INSTALLER: \"poetry\" is not uv or pip"), "{}", r.stderr);
}
