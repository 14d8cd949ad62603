//! dockerd's classic image store has no MergeOp/DiffOp; builds must work
//! there too. This test restarts dockerd with the containerd snapshotter
//! off, builds a service, and puts the snapshotter back, so it runs alone:
//! nothing else may build while dockerd restarts.

use std::process::Command;

use envd_e2e::{cpu_base, docker_ok, engine_alone, repo, Context};

fn script(name: &str, classic: bool) -> bool {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts").join(name));
    if name == "setup.sh" {
        cmd.arg("all");
    } else {
        cmd.args(["--platforms", envd_e2e::FRONTEND_PLATFORMS]);
    }
    if classic {
        cmd.env("ENVD_CLASSIC_STORE", "1");
    }
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

/// Puts dockerd back on the containerd snapshotter, however the test ends:
/// the engine every other test expects.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        envd_e2e::set_up_engine();
    }
}

#[test]
fn a_service_builds_on_the_classic_image_store() {
    let _alone = engine_alone();
    let _restore = Restore;
    assert!(script("setup.sh", true), "could not switch dockerd to the classic store");
    let driver = docker_ok(&["info", "-f", "{{json .DriverStatus}}"]);
    assert!(!driver.contains("io.containerd.snapshotter"), "still on the snapshotter: {driver}");
    assert!(script("frontend-image.sh", false), "frontend image on the classic store");

    let ctx = Context::new("classic");
    // apt and conda in one segment: two branches, which this store cannot
    // merge, so they must become one chain.
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.system_packages(name=[\"hello\"])\n    install.conda_packages(name=[\"app\"], channel=[\"./channel\"])\n    install.python_packages(name=[\"six==1.16.0\"])\n    io.copy(src=\"app\", dest=\"/app\")\n    run(commands=[\"hello > /greeting\"])\n    config.conda_channel(channel=\"channels: [./channel]\")\n",
            cpu_base()
        ),
    )
    .write("app/main.py", "print('hi')\n")
    .channel("channel", vec![]);
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(!r.stderr.contains("[internal] merge"), "no MergeOp on the classic store: {}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/opt/conda/share/app/app.txt"]), "app 2.0\n");
    let out = docker_ok(&[
        "run",
        "--rm",
        &ctx.tag,
        "sh",
        "-c",
        "cat /greeting /app/main.py && python -c 'import six; print(six.__version__)'",
    ]);
    assert_eq!(out, "Hello, world!\nprint('hi')\n1.16.0\n");
}
