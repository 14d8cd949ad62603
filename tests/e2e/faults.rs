//! Builds that survive what they meet (issue 27), through real builds: an
//! index that refuses HEAD, and a base whose python is externally managed.

use envd_e2e::{cpu_base, docker_ok, ensure_env, wheels, Context, HostServer};

#[test]
fn an_index_that_answers_head_with_501_is_installed_from_with_pip() {
    ensure_env();
    let ctx = Context::new("no-head");
    let served = ctx.dir().join("served");
    wheels(&served, &["one:envd-e2e-one:1.0"]);
    let server = HostServer::files_without_head(&served, ctx.dir().join("http.log"));
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.pip_index(url=\"http://pypi.test:{}/one/simple\", trust=True)\n    base(image=\"{}\")\n    install.python_packages(name=[\"envd-e2e-one==1.0\"])\n",
            server.port,
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--add-host", "pypi.test:host-gateway"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("envd: installing with pip: the index answers HEAD with 501 Not Implemented"),
        "{}",
        r.stderr
    );
    assert!(server.requests().contains("\"HEAD /one/files/envd_e2e_one-1.0-py3-none-any.whl"), "uv asked HEAD");
    let got = docker_ok(&["run", "--rm", &ctx.tag, "python3", "-c", "import envd_e2e_one as m; print(m.VERSION)"]);
    assert_eq!(got.trim(), "1.0");
}

#[test]
fn an_externally_managed_python_stops_the_step_with_what_to_do() {
    ensure_env();
    // the CPU stand-in with the marker Debian 12's python has
    let managed = Context::new("pep668-base");
    managed.write(
        "Dockerfile",
        &format!(
            "FROM {}\nRUN touch \"$(python3 -c 'import sysconfig; print(sysconfig.get_path(\"stdlib\"))')/EXTERNALLY-MANAGED\"\n",
            cpu_base()
        ),
    );
    let r = managed.build(&[]);
    assert!(r.ok, "{}", r.stderr);
    let base = &managed.tag;
    let ctx = Context::new("pep668");
    let served = ctx.dir().join("served");
    wheels(&served, &["one:envd-e2e-one:1.0"]);
    let server = HostServer::files(&served, ctx.dir().join("http.log"));
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.pip_index(url=\"http://pypi.test:{}/one/simple\", trust=True)\n    base(image=\"{base}\")\n    install.python_packages(name=[\"envd-e2e-one==1.0\"])\n",
            server.port
        ),
    );
    let host = ["--add-host", "pypi.test:host-gateway"];
    let r = ctx.build_envd(&host);
    assert!(!r.ok);
    assert!(r.stderr.contains("build.envd:4"), "at the call: {}", r.stderr);
    assert!(
        r.stderr
            .contains("the base's python is externally managed (PEP 668, as on Debian 12 and Ubuntu 23.04 or later)")
            && r.stderr.contains("--build-arg ENVD_BREAK_SYSTEM_PACKAGES=1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("apt install python3-xyz"), "not uv's paragraph: {}", r.stderr);

    let r = ctx.build_envd(&[&host[..], &["--build-arg", "ENVD_BREAK_SYSTEM_PACKAGES=1"]].concat());
    assert!(r.ok, "{}", r.stderr);
    let got = docker_ok(&["run", "--rm", &ctx.tag, "python3", "-c", "import envd_e2e_one as m; print(m.VERSION)"]);
    assert_eq!(got.trim(), "1.0");
}
