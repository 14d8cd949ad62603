//! Plan to image, through real builds: apt, pip, copy, run, the image
//! config, what is left behind, and what a rebuild re-runs.

use envd_e2e::{
    bake, cpu_base, docker_ok, engine_alone, ensure_env, failing_build, image_config, steps, substeps, Context,
};

/// A service like the AIGES ones, on the local CPU stand-in. `marker`
/// makes the steps this test's own, so no other test's cache answers them.
fn service(ctx: &Context, marker: &str) {
    ctx.write(
        "build.envd",
        &format!(
            r#"def build():
    config.pip_index(url="https://pypi.org/simple", trust=True)
    base(image="{base}")
    install.system_packages(name=["hello"])
    install.python_packages(requirements="requirements.txt")
    io.copy(src="wrapper", dest="/home/aiges/wrapper")
    io.copy(src="./pkg", dest="/")
    run(commands=["echo {marker} one >> /order", "echo two >> /order"])
    runtime.environ(env={{"AIGES_MODE": "python"}}, extra_path=["/opt/aiges/bin"])
    runtime.expose(port=5090, service_name="aiges")
    runtime.command(commands={{"aiges": "python3 -m wrapper"}})
"#,
            base = cpu_base()
        ),
    )
    .write("requirements.txt", "six==1.16.0\n")
    .write("wrapper/__init__.py", &format!("NAME = '{marker}'\n"))
    .write("wrapper/__main__.py", "import six\nprint('serving', six.__version__)\n")
    .write("pkg/data.txt", "data\n")
    .write("notes.txt", "not used by the build\n");
}

fn sh(tag: &str, script: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script])
}

#[test]
fn the_service_image_has_what_build_envd_asked_for() {
    let _engine = ensure_env();
    let ctx = Context::new("service");
    service(&ctx, "service");
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    let t = ctx.tag.as_str();
    // apt
    assert!(sh(t, "dpkg -s hello").contains("Status: install ok installed"));
    // python packages, with uv (as the dist-info says), into the base's python3
    assert_eq!(sh(t, "python3 -c 'import six; print(six.__version__)'"), "1.16.0\n");
    // (uv writes no newline)
    assert_eq!(sh(t, "cat /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/INSTALLER; echo"), "uv\n");
    assert_eq!(sh(t, "cat /etc/pip.conf"), "[global]\nindex-url = https://pypi.org/simple\ntrusted-host = pypi.org\n");
    // copy: a directory to a new path, and a directory to / keeps its name
    assert_eq!(sh(t, "cat /home/aiges/wrapper/__init__.py"), "NAME = 'service'\n");
    assert_eq!(sh(t, "cat /pkg/data.txt"), "data\n");
    // run, in order
    assert_eq!(sh(t, "cat /order"), "service one\ntwo\n");
    // the command runs the service
    assert_eq!(docker_ok(&["run", "--rm", t]), "serving 1.16.0\n");
    // nothing left behind: no apt lists or .debs, no pip cache, no stubs
    assert_eq!(sh(t, "ls /var/lib/apt/lists | grep -v -e '^lock$' -e '^partial$' | wc -l"), "0\n");
    assert_eq!(sh(t, "ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l"), "0\n");
    assert_eq!(sh(t, "ls -d /root/.cache /var/cache/envd /run/envd 2>/dev/null | wc -l"), "0\n");
    // the image config: the base's, plus the runtime edits
    let base = image_config(&cpu_base());
    let cfg = image_config(t);
    assert_eq!(cfg["WorkingDir"], base["WorkingDir"]);
    let env: Vec<&str> = cfg["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"LD_LIBRARY_PATH=/home/aiges:/home/aiges/library"), "{env:?}");
    assert!(env.contains(&"AIGES_MODE=python"), "{env:?}");
    assert!(
        env.contains(&"PATH=/opt/aiges/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{env:?}"
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["/bin/sh", "-c", "python3 -m wrapper"]));
    assert!(cfg["ExposedPorts"]["5090/tcp"].is_object());
    assert_eq!(cfg["Labels"]["org.aiges.base"], "cpu");
    assert_eq!(cfg["Labels"]["org.aiges.envd.system-packages"], "hello");
    assert_eq!(cfg["Labels"]["org.aiges.envd.service.5090"], "aiges");
}

#[test]
fn rebuilds_rerun_only_what_changed() {
    // Alone: the service test beside it shares its apt step, and every
    // build with python packages the frontend's helper files; BuildKit
    // (before v0.32) runs a step again whose input a build beside it holds
    // after executing it (see `envd_e2e::cache_bases`), and this test
    // counts exactly what runs.
    let _alone = engine_alone();
    let ctx = Context::new("rebuild");
    service(&ctx, "rebuild");
    let first = ctx.build_envd(&[]);
    assert!(first.ok, "{}", first.stderr);

    // No-op: every step that does work is CACHED.
    let noop = ctx.build_envd(&[]);
    assert!(noop.ok, "{}", noop.stderr);
    let s = steps(&noop.stderr);
    assert_eq!(s.len(), 6, "{s:?}");
    assert!(s[1..].iter().all(|(_, cached)| *cached), "no-op rebuild ran steps: {s:?}\n{}", noop.stderr);

    // An unrelated file of the context: still nothing runs.
    ctx.write("notes.txt", "edited\n");
    let unrelated = ctx.build_envd(&[]);
    assert!(unrelated.ok, "{}", unrelated.stderr);
    let s = steps(&unrelated.stderr);
    assert!(s[1..].iter().all(|(_, cached)| *cached), "unrelated edit ran steps: {s:?}");

    // One more requirement: the pip step and what follows it re-run, what
    // comes before does not. Each package has a layer of its own: six's
    // is not installed, downloaded or compiled again (its step is CACHED),
    // idna's is new.
    ctx.write("requirements.txt", "six==1.16.0\nidna==3.7\n");
    let edited = ctx.build_envd(&[]);
    assert!(edited.ok, "{}", edited.stderr);
    let s = steps(&edited.stderr);
    let cached: Vec<(&str, bool)> = s.iter().map(|(n, c)| (n.split(' ').next().unwrap(), *c)).collect();
    assert_eq!(
        cached[1..],
        [("[2/6]", true), ("[3/6]", false), ("[4/6]", false), ("[5/6]", false), ("[6/6]", false)],
        "{s:?}"
    );
    assert!(s[2].0.contains("install.python_packages -r requirements.txt"), "{s:?}");
    let parts = substeps(&edited.stderr);
    let part = |name: &str| parts.iter().find(|(n, _)| n.ends_with(name)).map(|(_, cached)| *cached);
    assert_eq!(part("install.python_packages: six==1.16.0"), Some(true), "{parts:?}\n{}", edited.stderr);
    assert_eq!(part("install.python_packages: idna==3.7"), Some(false), "{parts:?}");
    assert!(edited.stderr.contains(" + idna==3.7"), "{}", edited.stderr);
    assert!(!edited.stderr.contains("Downloading six"), "six was downloaded again:\n{}", edited.stderr);
    // six's .pyc is in its layer, dated as its source, so python takes it
    // as it is
    assert!(
        sh(&ctx.tag, "python3 -v -c 'import six' 2>&1").contains("__pycache__/six.cpython-311.pyc matches"),
        "six's .pyc is not up to date"
    );
    assert_eq!(sh(&ctx.tag, "python3 -c 'import idna, six; print(idna.__version__)'"), "3.7\n");
}

#[test]
fn a_missing_copy_source_fails_at_its_line() {
    let _engine = ensure_env();
    let stderr = failing_build("missing-src", "    io.copy(src=\"nope\", dest=\"/nope\")\n");
    assert!(stderr.contains("build.envd:3"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
}

#[test]
fn bake_builds_cpu_and_gpu_from_one_build_envd() {
    let _engine = ensure_env();
    let r = bake("examples/aiges-service/docker-bake.hcl");
    assert!(r.ok, "bake failed:\n{}", r.stderr);
    for device in ["cpu", "gpu"] {
        let tag = format!("envd-demo/aiges-service:{device}");
        assert_eq!(image_config(&tag)["Labels"]["org.aiges.base"], device);
        assert_eq!(docker_ok(&["run", "--rm", &tag]), "demo-wrapper serving (six 1.16.0)\n");
        assert_eq!(docker_ok(&["run", "--rm", &tag, "cat", "/home/aiges/wrapper.txt"]), "demo-wrapper\n");
        docker_ok(&["image", "rm", &tag]);
    }
}

#[test]
fn run_uses_bash_and_mount_host_sees_the_context_read_only() {
    let _engine = ensure_env();
    let ctx = Context::new("mount-host");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    run(commands=[\"test -n \\\"$BASH_VERSION\\\" && echo bash > /shell\", \"cat notes.txt > /seen\", \"touch notes.txt 2>/dev/null && echo writable > /rw || echo read-only > /rw\", \"pwd > /pwd\", \"ls /home/aiges /home/aiges/library > /loader\"], mount_host=True)\n",
            cpu_base()
        ),
    )
    .write("notes.txt", "from the context\n");
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "cat /shell /seen /rw"), "bash\nfrom the context\nread-only\n");
    // The commands ran in the context, mounted at its own path: the base's
    // working directory, with the AIGES loader, stayed in sight.
    assert_eq!(sh(&ctx.tag, "cat /pwd"), "/run/envd/context\n");
    assert_eq!(
        sh(&ctx.tag, "cat /loader"),
        "/home/aiges:\nAIservice\nlibrary\n\n/home/aiges/library:\nlibwrapper.so\n"
    );
    // It was mounted, not copied: the image holds none of it.
    assert_eq!(sh(&ctx.tag, "ls /home/aiges"), "AIservice\nlibrary\n");
    assert_eq!(sh(&ctx.tag, "ls /run/envd 2>/dev/null | wc -l"), "0\n", "no mount stubs");
}

/// Writes a minimal pure-Python wheel into the context.
fn write_wheel(ctx: &Context, path: &str) {
    let full = ctx.dir().join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("demo_pkg/__init__.py", "VALUE = 42\n")
    z.writestr("demo_pkg-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 0.1\n")
    z.writestr("demo_pkg-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: envd-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("demo_pkg-0.1.dist-info/RECORD", "demo_pkg/__init__.py,,\ndemo_pkg-0.1.dist-info/METADATA,,\ndemo_pkg-0.1.dist-info/WHEEL,,\ndemo_pkg-0.1.dist-info/RECORD,,\n")
"#;
    let ok = std::process::Command::new("python3").args(["-c", script]).arg(&full).status().unwrap().success();
    assert!(ok, "could not write the wheel fixture");
}

#[test]
fn local_wheels_install_from_the_context() {
    let _engine = ensure_env();
    let ctx = Context::new("wheels");
    write_wheel(&ctx, "dist/demo_pkg-0.1-py3-none-any.whl");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.python_packages(local_wheels=[\"dist/demo_pkg-0.1-py3-none-any.whl\"])\n",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(sh(&ctx.tag, "python3 -c 'import demo_pkg; print(demo_pkg.VALUE)'"), "42\n");
    assert_eq!(sh(&ctx.tag, "ls /run/envd 2>/dev/null | wc -l"), "0\n", "the wheel was mounted, not copied");
}
