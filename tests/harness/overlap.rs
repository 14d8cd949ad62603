//! Four bake targets whose installs overlap, for the parallel-build test
//! (`e2e/survive.rs`) and its figures in `make bench`: conda's python
//! alone, conda packages, pip on the base's python, and pip on conda's
//! python, from a fixture channel and a wheel directory in the context.

use std::process::Command;
use std::time::Instant;

use crate::{cpu_base, wheels, Context, FRONTEND};

/// The targets, with what each image must import.
pub const TARGETS: [(&str, &str); 4] = [
    ("conda_python", "import sys; assert sys.prefix == '/opt/conda', sys.prefix"),
    ("conda_packages", "import pyfixture"),
    ("pip_base", "import envd_e2e_par, sys; assert sys.prefix != '/opt/conda'"),
    ("pip_conda", "import envd_e2e_par, sys; assert sys.prefix == '/opt/conda', sys.prefix"),
];

/// The targets' names.
pub fn names() -> Vec<&'static str> {
    TARGETS.iter().map(|(t, _)| *t).collect()
}

/// Writes build.envd (a function per target), its channel, wheels and
/// requirements, and `docker-bake.hcl` into `ctx`.
pub fn write(ctx: &Context) {
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
    hcl.push_str(&names().iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", "));
    hcl.push_str("]\n}\n");
    for (target, _) in TARGETS {
        hcl.push_str(&format!(
            "target \"{target}\" {{\n  context = \".\"\n  dockerfile = \"build.envd\"\n  target = \"{target}\"\n  args = {{ BUILDKIT_SYNTAX = \"{FRONTEND}\" }}\n  tags = [\"{}\"]\n  output = [\"type=docker\"]\n}}\n",
            tag(ctx, target),
        ));
    }
    ctx.write("docker-bake.hcl", &hcl);
}

/// The image tag of `target`.
pub fn tag(ctx: &Context, target: &str) -> String {
    format!("{}-{target}", ctx.tag.replace(':', "-"))
}

/// `docker buildx bake` of `targets` (at once when several); the seconds
/// it took.
pub fn bake(ctx: &Context, targets: &[&str]) -> f64 {
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

/// Removes the targets' images.
pub fn remove_images(ctx: &Context) {
    for (target, _) in TARGETS {
        let _ = Command::new("docker").args(["image", "rm", "-f", &tag(ctx, target)]).output();
    }
}
