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

use envd_e2e::{cpu_base, docker_ok, ensure_env, prune_builder, wheels, Context, HostServer, FRONTEND};

/// Faults of the network and of the base: in this binary, so that their
/// builds run beside these (`make test`'s time).
#[path = "faults.rs"]
mod faults;

/// Starts `docker buildx build` of `ctx`'s build.envd with `extra`, waits
/// until `log` has a line that contains `seen`, then sends the client
/// SIGINT; returns once the client has exited, with whether it failed.
fn interrupted_when(ctx: &Context, extra: &[&str], log: &std::path::Path, seen: &str) -> bool {
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let file = ctx.dir().join("build.envd");
    let mut child = Command::new("docker")
        .args(["buildx", "build", "--progress=plain", "-t", &ctx.tag, "--build-arg", &syntax, "-f"])
        .arg(&file)
        .args(extra)
        .arg(ctx.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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
    ensure_env();
    let _guard = beside_others();
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
    ensure_env();
    let _guard = beside_others();
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

/// The four targets of the parallel builds, with what each must import.
const TARGETS: [(&str, &str); 4] = [
    ("conda_python", "import sys; assert sys.prefix == '/opt/conda', sys.prefix"),
    ("conda_packages", "import pyfixture"),
    ("pip_base", "import envd_e2e_par, sys; assert sys.prefix != '/opt/conda'"),
    ("pip_conda", "import envd_e2e_par, sys; assert sys.prefix == '/opt/conda', sys.prefix"),
];

/// A build.envd whose targets overlap in what they install: conda's
/// python alone, conda packages, pip on the base's python, and pip on
/// conda's python, from a channel and a wheel directory in the context.
fn overlapping_targets(ctx: &Context) {
    ctx.channel_with_python("channel", Vec::new());
    wheels(&ctx.dir().join("wheels"), &["local:envd-e2e-par:1.0"]);
    ctx.write("requirements.txt", "--no-index\n--find-links ./wheels/local\nenvd-e2e-par==1.0\n");
    let python = envd_conda_fixture::machine_python().expect("package this machine's python");
    let channel = "    config.conda_channel(channel=\"channels: [defaults]\\ndefault_channels: [./channel]\\n\")\n";
    let conda_base = format!("    base(image=\"{}\", language=\"python{}\")\n", cpu_base(), python.minor);
    let base = format!("    base(image=\"{}\")\n", cpu_base());
    ctx.write(
        "build.envd",
        &format!(
            "def conda_python():\n{channel}{conda_base}    install.conda_packages(name=[\"python\"])\n\n\
             def conda_packages():\n{channel}{conda_base}    install.conda_packages(name=[\"pyfixture\", \"zlib\"])\n\n\
             def pip_base():\n{base}    install.python_packages(requirements=\"requirements.txt\")\n\n\
             def pip_conda():\n{channel}{conda_base}    install.conda_packages(name=[\"python\"])\n    install.python_packages(requirements=\"requirements.txt\")\n"
        ),
    );
    let mut hcl = String::from("group \"default\" {\n  targets = [");
    hcl.push_str(&TARGETS.iter().map(|(t, _)| format!("\"{t}\"")).collect::<Vec<_>>().join(", "));
    hcl.push_str("]\n}\n");
    for (target, _) in TARGETS {
        hcl.push_str(&format!(
            "target \"{target}\" {{\n  context = \".\"\n  dockerfile = \"build.envd\"\n  target = \"{target}\"\n  args = {{ BUILDKIT_SYNTAX = \"{FRONTEND}\" }}\n  tags = [\"{}-{target}\"]\n  output = [\"type=docker\"]\n}}\n",
            ctx.tag.replace(':', "-"),
        ));
    }
    ctx.write("docker-bake.hcl", &hcl);
}

/// The parallel test prunes the builder; the others build beside each other.
static PRUNE: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub(crate) fn beside_others() -> std::sync::RwLockReadGuard<'static, ()> {
    PRUNE.read().unwrap_or_else(|e| e.into_inner())
}

/// `docker buildx bake` of `targets`; the seconds it took, for the log.
fn bake(ctx: &Context, targets: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new("docker")
        .args(["buildx", "bake", "--progress=plain", "-f", "docker-bake.hcl"])
        .args(targets)
        // the context is the bake file's directory, which buildx reads
        // without asking for file-system entitlements
        .current_dir(ctx.dir())
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "{targets:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed().as_secs_f64()
}

#[test]
fn four_overlapping_targets_built_at_once_on_cold_caches_all_come_out_whole() {
    ensure_env();
    let ctx = Context::new("parallel");
    overlapping_targets(&ctx);
    let _alone = PRUNE.write().unwrap_or_else(|e| e.into_inner());
    prune_builder();
    let all: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    let parallel = bake(&ctx, &all);
    for (target, import) in TARGETS {
        let tag = format!("{}-{target}", ctx.tag.replace(':', "-"));
        docker_ok(&["run", "--rm", &tag, "python3", "-c", import]);
    }
    eprintln!("four targets on cold caches at once: {parallel:.1}s");
    for (target, _) in TARGETS {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &format!("{}-{target}", ctx.tag.replace(':', "-"))])
            .output();
    }
}
