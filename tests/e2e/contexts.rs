//! Where a build's files and base come from, through real buildx: named
//! contexts (`--build-context`) in place of the AIGES base, and a git
//! repository as the whole context.

use std::process::Command;

use envd_e2e::{cpu_base, docker_ok, ensure_env, git, git_daemon, gpu_base, Context, HostServer, Scratch, FRONTEND};

/// An image like the GPU stand-in with a marker file, built by buildx
/// from a Dockerfile: another local image, or (with `output`) an OCI
/// layout directory.
fn marked_gpu_base(marker: &str, output: &[&str]) -> Context {
    let ctx = Context::new(&format!("alt-{marker}"));
    ctx.write("Dockerfile", &format!("FROM {}\nRUN echo {marker} > /alt-base\n", gpu_base()));
    let r = ctx.build(output);
    assert!(r.ok, "{}", r.stderr);
    ctx
}

fn gpu_service(name: &str) -> Context {
    let ctx = Context::new(name);
    ctx.write(
        "build.envd",
        "def build():\n    base(image=\"aiges_gpu\")\n    run(commands=[\"cat /alt-base > /home/aiges/seen\"])\n",
    );
    ctx
}

#[test]
fn a_named_context_replaces_aiges_gpu_before_the_build_arg() {
    let _engine = ensure_env();
    let alt = marked_gpu_base("local-image", &[]);
    let ctx = gpu_service("named-image");
    let named = format!("aiges_gpu=docker-image://{}", alt.tag);
    // The build arg names the plain GPU stand-in, which has no /alt-base:
    // the named context wins over it.
    let arg = format!("AIGES_GPU_IMAGE={}", gpu_base());
    let r = ctx.build_envd(&["--build-context", &named, "--build-arg", &arg]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("(--build-context context:aiges_gpu)"), "progress names the context: {}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/home/aiges/seen"]), "local-image\n");
    let env = docker_ok(&["image", "inspect", "-f", "{{json .Config.Env}}", &ctx.tag]);
    assert!(env.contains("AIGES_DEVICE=gpu"), "the context's config is the base config: {env}");
}

#[test]
fn a_named_context_from_an_oci_layout_directory() {
    let _engine = ensure_env();
    let scratch = Scratch::new("oci-layout");
    let layout = scratch.join("layout");
    let dest = format!("type=oci,tar=false,dest={}", layout.display());
    let _alt = marked_gpu_base("oci-layout", &["--output", &dest]);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let ctx = gpu_service("named-oci");
    let named = format!("aiges_gpu=oci-layout://{}@{digest}", layout.display());
    let r = ctx.build_envd(&["--build-context", &named]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/home/aiges/seen"]), "oci-layout\n");
}

#[test]
fn named_contexts_that_cannot_be_a_base_are_refused_and_unused_ones_are_named() {
    let _engine = ensure_env();
    let ctx = gpu_service("named-bad");
    let r = ctx.build_envd(&["--build-context", "aiges_gpu=https://example.invalid/repo.git"]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains(
            "frontend option context:aiges_gpu: \"https://example.invalid/repo.git\" is a repository or a file, and a named context stands for build.envd's base image"
        ),
        "{}",
        r.stderr
    );
    let alt = marked_gpu_base("unused", &[]);
    let named = format!("aiges_cpu=docker-image://{}", alt.tag);
    let r = ctx.build_envd(&["--build-context", &named, "--build-arg", &format!("AIGES_GPU_IMAGE={}", alt.tag)]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--build-context aiges_cpu is not used: a named context replaces build.envd's base, which is aiges_gpu or"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_git_repository_at_a_ref_and_subdirectory_is_the_context() {
    let _engine = ensure_env();
    let root = Scratch::new("git");
    let work = root.join("work");
    std::fs::create_dir_all(work.join("svc")).unwrap();
    let service = |model: &str| {
        std::fs::write(
            work.join("svc/build.envd"),
            format!(
                "def build():\n    base(image=\"{}\")\n    io.copy(src=\"model.txt\", dest=\"/home/aiges/model.txt\")\n",
                cpu_base()
            ),
        )
        .unwrap();
        std::fs::write(work.join("svc/model.txt"), model).unwrap();
    };
    service("model v1\n");
    std::fs::write(work.join("README"), "outside the subdirectory\n").unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    git(&work, &["tag", "v1"]);
    service("model v2\n");
    git(&work, &["commit", "-q", "-am", "v2"]);
    git(&root, &["clone", "-q", "--bare", "work", "svc.git"]);
    let daemon = git_daemon(&root);
    let url = format!("git://{}:{}/svc.git#v1:svc", envd_e2e::bridge_gateway(), daemon.port);
    let tag = format!("envd-e2e/git-context:{}", std::process::id());
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let run = |url: &str| {
        let out = Command::new("docker")
            .args(["buildx", "build", "--progress=plain", "-t", &tag, "--build-arg", &syntax, "-f", "build.envd", url])
            .output()
            .expect("docker runs");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, stderr) = run(&url);
    assert!(ok, "{stderr}");
    assert_eq!(docker_ok(&["run", "--rm", &tag, "cat", "/home/aiges/model.txt"]), "model v1\n", "the tag, not main");
    let (ok, stderr) = run(&format!("git://{}:{}/svc.git#main:svc", envd_e2e::bridge_gateway(), daemon.port));
    assert!(ok, "{stderr}");
    assert_eq!(docker_ok(&["run", "--rm", &tag, "cat", "/home/aiges/model.txt"]), "model v2\n");
    let (ok, stderr) = run(&format!("git://{}:{}/svc.git#v1", envd_e2e::bridge_gateway(), daemon.port));
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "cannot read build.envd from git://{}:{}/svc.git#v1",
            envd_e2e::bridge_gateway(),
            daemon.port
        )),
        "without the subdirectory there is no build.envd at the root: {stderr}"
    );
    let _ = docker_ok(&["image", "rm", "-f", &tag]);
}

#[test]
fn a_tarball_over_http_is_the_context() {
    let _engine = ensure_env();
    let root = Scratch::new("tarball");
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("build.envd"),
        format!(
            "def build():\n    base(image=\"{}\")\n    io.copy(src=\"model.txt\", dest=\"/home/aiges/model.txt\")\n",
            cpu_base()
        ),
    )
    .unwrap();
    std::fs::write(src.join("model.txt"), "from the tarball\n").unwrap();
    let served = root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    let tar = Command::new("tar").arg("-czf").arg(served.join("svc.tar.gz")).arg("-C").arg(&src).arg(".").status();
    assert!(tar.unwrap().success());
    let server = HostServer::files(&served, root.join("http.log"));
    let url = format!("http://{}:{}/svc.tar.gz", envd_e2e::bridge_gateway(), server.port);
    let tag = format!("envd-e2e/tarball-context:{}", std::process::id());
    let syntax = format!("BUILDKIT_SYNTAX={FRONTEND}");
    let out = Command::new("docker")
        .args(["buildx", "build", "--progress=plain", "-t", &tag, "--build-arg", &syntax, "-f", "build.envd", &url])
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.requests().contains("GET /svc.tar.gz"), "BuildKit fetched it: {}", server.requests());
    assert_eq!(docker_ok(&["run", "--rm", &tag, "cat", "/home/aiges/model.txt"]), "from the tarball\n");
    let _ = docker_ok(&["image", "rm", "-f", &tag]);
}
