//! Several platforms through real buildx: `--platform linux/amd64,linux/arm64`
//! pushes an index to the local registry; the arm64 image's steps ran
//! under qemu-user-static (registered by `scripts/setup.sh`), on the arm64
//! stand-in, with conda packages of the `linux-aarch64` subdir.

use envd_e2e::{bases_env, docker_ok, ensure_env, Context, FRONTEND};

fn in_image(reference: &str, platform: &str, script: &str) -> String {
    docker_ok(&[
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        platform,
        "--entrypoint",
        "/bin/sh",
        reference,
        "-c",
        script,
    ])
}

#[test]
fn two_platforms_push_an_index_whose_arm64_image_is_arm64_throughout() {
    let _engine = ensure_env();
    let ctx = Context::new("platforms");
    ctx.archmark_channel("channel").write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [defaults]\\ndefault_channels: [./channel]\\n\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"archmark\"])\n    run(commands=[\"uname -m > /home/aiges/uname\"])\n",
            bases_env("BASE_MULTI_IMAGE")
        ),
    );
    let pushed = format!("{}/envd-e2e/platforms:{}", bases_env("REGISTRY"), std::process::id());
    // Not Context::build: its own -t names a docker.io image, which
    // --push would send there.
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let file = ctx.dir().join("build.envd");
    let out = std::process::Command::new("docker")
        .args(["buildx", "build", "--progress=plain", "--build-arg", &syntax, "--platform", "linux/amd64,linux/arm64"])
        .args(["-t", &pushed, "--push", "-f"])
        .arg(&file)
        .arg(ctx.dir())
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let index = docker_ok(&["buildx", "imagetools", "inspect", "--raw", &pushed]);
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            m["platform"]["architecture"].as_str().map(|a| format!("{}/{a}", m["platform"]["os"].as_str().unwrap()))
        })
        .filter(|p| p != "unknown/unknown") // attestation manifests
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{index}");
    assert_eq!(
        in_image(&pushed, "linux/arm64", "cat /home/aiges/uname /opt/conda/share/archmark"),
        "aarch64\naarch64\n"
    );
    assert_eq!(in_image(&pushed, "linux/amd64", "cat /home/aiges/uname /opt/conda/share/archmark"), "x86_64\nx86_64\n");
    let _ = docker_ok(&["image", "rm", "-f", &pushed]);
}
