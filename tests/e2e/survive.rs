//! Builds that survive each other and the network (issue 27): four targets whose installs
//! overlap, built at once on cold shared caches, all come out whole; and
//! the buildx client interrupted while the conda installer or uv is
//! fetching a package leaves nothing half made: the next build of the
//! same file, and of another that shares the package, comes out whole.
//!
//! The moment is taken from what the server saw, not from a sleep: the
//! package's file stalls once (`tests/servers/fault_http.py`), and the
//! client gets SIGINT as soon as the server logs that request.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use envd_e2e::{
    cpu_base, docker_ok, engine_alone, ensure_env, overlap, prune_builder, wheels, Context, HostServer, FRONTEND,
};

/// Starts `docker buildx build` of `ctx`'s build.envd with `extra`, waits
/// until `log` has a line that contains `seen`, then sends the client
/// SIGINT; returns once the client has exited, with whether it failed.
/// buildx's own output goes to [`progress`], which may be the `log`.
fn interrupted_when(ctx: &Context, extra: &[&str], log: &std::path::Path, seen: &str) -> bool {
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let file = ctx.dir().join("build.envd");
    let output = std::fs::File::create(progress(ctx)).expect("create the progress log");
    let mut child = Command::new("docker")
        .args(["buildx", "build", "--progress=plain", "-t", &ctx.tag, "--build-arg", &syntax, "-f"])
        .arg(&file)
        .args(extra)
        .arg(ctx.dir())
        .stdout(Stdio::null())
        .stderr(output)
        .spawn()
        .expect("docker runs");
    let started = Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default().contains(seen) {
        assert!(started.elapsed() < Duration::from_secs(120), "the build never reached {seen}");
        assert!(child.try_wait().unwrap().is_none(), "the build ended before it reached {seen}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let waited = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return !status.success();
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "buildx did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where [`interrupted_when`] writes what buildx prints.
fn progress(ctx: &Context) -> std::path::PathBuf {
    ctx.dir().join("progress.log")
}

fn sh(tag: &str, script: &str) -> String {
    docker_ok(&["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script])
}

/// A name no cache of an earlier run has.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis())
}

/// Serves `served` as `files.test`, `file` stalling on its first request;
/// and the server's log.
fn stalling_once(ctx: &Context, served: &std::path::Path, file: &str) -> (HostServer, std::path::PathBuf) {
    let log = ctx.dir().join("faults.log");
    let fault = format!("{{\"{file}\": {{\"kind\": \"stall\", \"seconds\": 20, \"times\": 1}}}}");
    (HostServer::faulty(served, log.clone(), &fault), log)
}

/// Writes build.envd: `config` (the line that names the served channel or
/// index), the CPU stand-in, then `install`.
fn write_build(ctx: &Context, config: &str, install: &str) {
    ctx.write(
        "build.envd",
        &format!("def build():\n    {config}\n    base(image=\"{}\")\n    {install}\n", cpu_base()),
    );
}

const HOST: [&str; 2] = ["--add-host", "files.test:host-gateway"];

/// The build interrupted when the server logs `seen`, then built again.
fn cancelled_then_built(ctx: &Context, log: &std::path::Path, seen: &str) {
    assert!(interrupted_when(ctx, &HOST, log, seen), "SIGINT fails the build");
    let r = ctx.build_envd(&HOST);
    assert!(r.ok, "{}", r.stderr);
}

#[test]
fn a_build_cancelled_during_the_conda_fetch_leaves_nothing_half_made() {
    let _engine = ensure_env();
    let ctx = Context::new("cancel-conda");
    let name = unique("cancelled");
    let package = envd_conda_fixture::Package::new(&name, "1.0", "h0_0")
        .file("share/cancelled.txt", envd_conda_fixture::Content::File("whole\n".repeat(20000)));
    let file = package.filename();
    let served = ctx.dir().join("served");
    let other = envd_conda_fixture::Package::new("other", "1.0", "h0_0")
        .file("share/other.txt", envd_conda_fixture::Content::File("other\n".into()));
    envd_conda_fixture::write_channel(&served.join("channel"), &[package, other]).expect("write the channel");
    let (server, log) = stalling_once(&ctx, &served, &file);
    let channel = format!("config.conda_channel(channel=\"channels: [http://files.test:{}/channel]\")", server.port);
    write_build(&ctx, &channel, &format!("install.conda_packages(name=[\"{name}\"])"));
    // the same file again: the fetch that was cut off is not reused half made
    cancelled_then_built(&ctx, &log, &format!("stall /channel/linux-64/{file}"));
    assert_eq!(sh(&ctx.tag, "wc -l < /opt/conda/share/cancelled.txt").trim(), "20000");
    let meta = sh(&ctx.tag, &format!("ls /opt/conda/conda-meta/{name}-1.0-h0_0.json"));
    assert!(meta.contains(&name), "{meta}");

    // another file that shares the package
    write_build(&ctx, &channel, &format!("install.conda_packages(name=[\"{name}\", \"other\"])"));
    let r = ctx.build_envd(&HOST);
    assert!(r.ok, "{}", r.stderr);
    let both = sh(
        &ctx.tag,
        "wc -l < /opt/conda/share/cancelled.txt; cat /opt/conda/share/other.txt; ls /opt/conda/conda-meta",
    );
    assert!(both.starts_with("20000\nother\n") && both.contains(&format!("{name}-1.0-h0_0.json")), "{both}");
}

#[test]
fn a_build_cancelled_during_the_uv_fetch_leaves_nothing_half_made() {
    let _engine = ensure_env();
    let ctx = Context::new("cancel-uv");
    let name = unique("envd-e2e-cancelled");
    let served = ctx.dir().join("served");
    wheels(&served, &[&format!("one:{name}:1.0"), "one:envd-e2e-two:1.0"]);
    let file = format!("{}-1.0-py3-none-any.whl", name.replace('-', "_"));
    let (server, log) = stalling_once(&ctx, &served, &file);
    let index = format!("config.pip_index(url=\"http://files.test:{}/one/simple\", trust=True)", server.port);
    write_build(&ctx, &index, &format!("install.python_packages(name=[\"{name}==1.0\"])"));
    cancelled_then_built(&ctx, &log, &format!("stall /one/files/{file}"));
    let module = name.replace('-', "_");
    let check = format!("python3 -c 'import {module} as m; print(m.VERSION)' && python3 -m pip check");
    let out = sh(&ctx.tag, &check);
    assert!(out.starts_with("1.0\n") && out.contains("No broken requirements found"), "{out}");

    // another file that shares the package
    write_build(&ctx, &index, &format!("install.python_packages(name=[\"{name}==1.0\", \"envd-e2e-two==1.0\"])"));
    let r = ctx.build_envd(&HOST);
    assert!(r.ok, "{}", r.stderr);
    assert!(sh(&ctx.tag, &check).contains("No broken requirements found"));
}

/// Interrupted while `bytecode.py` writes the .pyc files of a wheel of
/// 2,000 modules (it says so before it starts): the .pyc cache mount, which
/// outlives the cancelled step, holds no half-written entry, so the next
/// build writes whole .pyc files and every module imports from them.
#[test]
fn a_build_cancelled_while_writing_pyc_files_leaves_none_half_written() {
    let _engine = ensure_env();
    let ctx = Context::new("cancel-pyc");
    let name = unique("envd-e2e-pyc");
    let served = ctx.dir().join("served");
    wheels(&served, &[&format!("one:{name}:1.0::2000")]);
    let server = HostServer::files(&served, ctx.dir().join("http.log"));
    let index = format!("config.pip_index(url=\"http://files.test:{}/one/simple\", trust=True)", server.port);
    write_build(&ctx, &index, &format!("install.python_packages(name=[\"{name}==1.0\"])"));
    cancelled_then_built(&ctx, &progress(&ctx), "envd: compiling");
    let module = name.replace('-', "_");
    // every submodule from its .pyc (a truncated one fails marshal), and
    // no temporary file left beside them
    let check = format!(
        "import importlib, os, {module} as p\nd = os.path.dirname(p.__file__)\nfor i in range(2000):\n    m = importlib.import_module('{module}.m%d' % i)\n    assert m.__cached__ and os.path.exists(m.__cached__), m\nleft = [f for f in os.listdir(os.path.join(d, '__pycache__')) if not f.endswith('.pyc')]\nassert not left, left\nprint('whole')\n"
    );
    let out = docker_ok(&["run", "--rm", "--entrypoint", "python3", &ctx.tag, "-B", "-c", &check]);
    assert_eq!(out.trim(), "whole");
}

#[test]
fn four_overlapping_targets_built_at_once_on_cold_caches_all_come_out_whole() {
    // It prunes the builder: nothing builds beside it.
    let _alone = engine_alone();
    let ctx = Context::new("parallel");
    overlap::write(&ctx);
    prune_builder();
    let parallel = overlap::bake(&ctx, &overlap::names());
    for (target, import) in overlap::TARGETS {
        docker_ok(&["run", "--rm", &overlap::tag(&ctx, target), "python3", "-c", import]);
    }
    eprintln!("four targets on cold caches at once: {parallel:.1}s (make bench has the figures)");
    overlap::remove_images(&ctx);
}
