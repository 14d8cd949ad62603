//! Several platforms through real buildx: `--platform linux/amd64,linux/arm64`
//! pushes an index to the local registry; the arm64 image's steps ran
//! under qemu-user-static (registered by `scripts/setup.sh`), on the arm64
//! stand-in, with conda packages of the `linux-aarch64` subdir.
//!
//! And the frontend itself for arm64 builders: `make image`'s index of a
//! linux/amd64 and a linux/arm64 image, whose arm64 binaries run here under
//! the same emulation.

use std::path::Path;
use std::process::Command;

use envd_e2e::{bases_env, docker, docker_ok, ensure_env, frontend_index, repo, Context, FRONTEND};

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

/// The platforms of the index's images (not its attestations), each with
/// the size of its compressed config and layers, as the registry has them.
fn images_of(index: &str) -> Vec<(String, u64)> {
    let raw: serde_json::Value =
        serde_json::from_str(&docker_ok(&["buildx", "imagetools", "inspect", "--raw", index])).expect("an index");
    let name = index.rsplit_once(':').map_or(index, |(name, _)| name);
    let mut out = Vec::new();
    for m in raw["manifests"].as_array().expect("an index lists manifests") {
        let platform =
            format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap());
        if platform == "unknown/unknown" {
            continue; // an attestation manifest
        }
        let at = format!("{name}@{}", m["digest"].as_str().unwrap());
        let manifest: serde_json::Value =
            serde_json::from_str(&docker_ok(&["buildx", "imagetools", "inspect", "--raw", &at])).expect("a manifest");
        let layers: u64 = manifest["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).sum();
        out.push((platform, layers + manifest["config"]["size"].as_u64().unwrap()));
    }
    out.sort();
    out
}

/// An ELF file's machine (`e_machine`) and whether it names a program
/// interpreter, as a dynamically linked executable does.
fn elf_machine_and_interpreter(bytes: &[u8]) -> (u16, bool) {
    assert_eq!(&bytes[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (entry_size, entries) = (usize::from(u16_at(0x36)), usize::from(u16_at(0x38)));
    const PT_INTERP: u32 = 3;
    let interpreter = (0..entries).any(|i| u32_at(phoff + i * entry_size) == PT_INTERP);
    (u16_at(18), interpreter)
}

/// The files `paths` of `image`'s `platform` image, copied out.
fn files_of(image: &str, platform: &str, paths: &[&str], into: &Path) -> Vec<Vec<u8>> {
    let id = docker_ok(&["create", "--platform", platform, image]).trim().to_owned();
    let files = paths
        .iter()
        .map(|path| {
            let to = into.join(format!("{}{}", platform.replace('/', "-"), path.replace('/', "-")));
            docker_ok(&["cp", &format!("{id}:{path}"), &to.to_string_lossy()]);
            std::fs::read(&to).expect("copied out")
        })
        .collect();
    docker_ok(&["rm", &id]);
    files
}

/// `envd-frontend check build.envd --llb` on the seed example, run by the
/// frontend of `image`'s `platform` image: the LLB dump, which ends with
/// the digest of the result's op.
fn seed_llb(image: &str, platform: &str) -> String {
    let seed = repo().join("examples/seed");
    let out = Command::new("docker")
        .args(["run", "--rm", "--platform", platform, "-v", &format!("{}:/seed:ro", seed.display()), image])
        .args(["check", "/seed/build.envd", "--llb"])
        .output()
        .expect("docker runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "check --llb on {platform}: {stderr}");
    stderr
}

#[test]
fn the_frontend_image_is_an_index_whose_arm64_half_lowers_and_solves_as_the_amd64_one() {
    let (_engine, index) = frontend_index();
    let ctx = Context::new("frontend-index");

    // Two images, each within 64 MiB as the registry stores it.
    let images = images_of(&index);
    let platforms: Vec<&str> = images.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{images:?}");
    for (platform, size) in &images {
        assert!(*size <= 64 << 20, "{platform}: {size} bytes in the registry, more than 64 MiB");
    }
    // A mirror made as the README says copies both.
    let mirror = format!("{}/envd-e2e/frontend-mirror:{}", bases_env("REGISTRY"), std::process::id());
    docker_ok(&["buildx", "imagetools", "create", "--tag", &mirror, &index]);
    assert_eq!(images_of(&mirror), images, "the mirror of {index}");

    // Each image's binaries are static ones of its own architecture.
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    for (platform, machine) in [("linux/amd64", EM_X86_64), ("linux/arm64", EM_AARCH64)] {
        for (path, bytes) in ["/bin/envd-frontend", "/bin/uv"].iter().zip(files_of(
            &index,
            platform,
            &["/bin/envd-frontend", "/bin/uv"],
            ctx.dir(),
        )) {
            assert_eq!(elf_machine_and_interpreter(&bytes), (machine, false), "{platform} {path}: machine, dynamic");
        }
    }

    // The arm64 frontend (under qemu here) lowers the seed example to the
    // very LLB the amd64 one does: same dump, same digest.
    let amd64 = seed_llb(&index, "linux/amd64");
    let arm64 = seed_llb(&index, "linux/arm64");
    let digest = |dump: &str| dump.lines().last().unwrap_or_default().to_owned();
    assert!(digest(&amd64).starts_with("digest sha256:"), "{amd64}");
    assert_eq!(digest(&arm64), digest(&amd64));
    assert_eq!(arm64, amd64);

    // The arm64 conda installer solves a fixture channel's linux-aarch64
    // packages: the package whose file says its architecture.
    ctx.archmark_channel("channel").write(
        "request.json",
        r#"{"version": 1, "prefix": "/work/env", "subdir": "linux-aarch64", "channels": ["file:///work/channel"],
            "specs": ["archmark"], "pkgs_dir": "/work/pkgs", "repodata_dir": "/work/repodata"}"#,
    );
    let work = format!("{}:/work", ctx.dir().display());
    let run = docker(&[
        "run",
        "--rm",
        "--platform",
        "linux/arm64",
        "--tmpfs",
        "/tmp",
        "-v",
        &work,
        &index,
        "conda-install",
        "/work/request.json",
    ]);
    assert!(run.ok, "the arm64 conda installer: {}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(ctx.dir().join("env/share/archmark")).unwrap(), "aarch64\n");
    let record = std::fs::read_to_string(ctx.dir().join("env/conda-meta/archmark-1.0-h0_0.json")).unwrap();
    assert!(record.contains("\"subdir\": \"linux-aarch64\""), "{record}");
}
