//! GPU wheels that match the base (issue 26), through real builds: the
//! torch family comes from the PyTorch index of the variant the base's
//! CUDA can run, a pinned local version is kept and warned about, and
//! `ENVD_TORCH_BACKEND=off` leaves the build's indexes alone.
//!
//! The indexes are small wheels that `tests/servers/wheel_index.py`
//! writes: a PyPI-like `one/simple` whose `torch 1.13.1` depends on a
//! fake `nvidia-cublas`, and PyTorch-layout `whl/<variant>` indexes with
//! `torch 1.13.1+<variant>`, served on the bridge gateway as `pypi.test`.

use envd_e2e::{cpu_base, docker_ok, ensure_env, gpu_base, wheels, Context, HostServer, Run};

/// The fixture indexes, served.
fn indexes(ctx: &Context) -> HostServer {
    let served = ctx.dir().join("served");
    wheels(
        &served,
        &[
            "one:torch:1.13.1:nvidia-cublas",
            "one:nvidia-cublas:11.10.3.66",
            "whl/cu116:torch:1.13.1+cu116",
            "whl/cu117:torch:1.13.1+cu117",
            "whl/cu118:torch:1.13.1+cu118",
            "whl/cpu:torch:1.13.1+cpu",
        ],
    );
    HostServer::files(&served, ctx.dir().join("http.log"))
}

/// A build.envd on `base` (a `base()` argument list) that installs
/// `torch` and writes the torch it got to /home/aiges/torch.txt.
fn build_file(port: u16, base: &str, torch: &str) -> String {
    format!(
        "def build():\n    config.pip_index(url=\"http://pypi.test:{port}/one/simple\", trust=True)\n    base({base})\n    install.python_packages(name=[\"{torch}\"])\n    run(commands=[\"python3 -c 'import torch; print(torch.VERSION)' > /home/aiges/torch.txt\"])\n"
    )
}

fn build(ctx: &Context, port: u16, extra: &[&str]) -> Run {
    let index = format!("ENVD_TORCH_INDEX=http://pypi.test:{port}/whl");
    let mut args = vec!["--add-host", "pypi.test:host-gateway", "--build-arg", &index];
    args.extend_from_slice(extra);
    ctx.build_envd(&args)
}

fn torch_of(ctx: &Context) -> String {
    docker_ok(&["run", "--rm", &ctx.tag, "cat", "/home/aiges/torch.txt"]).trim().to_owned()
}

#[test]
fn torch_comes_in_the_variant_the_bases_cuda_runs_and_a_pin_is_kept_and_warned_about() {
    let _engine = ensure_env();
    let ctx = Context::new("gpu-torch");
    let server = indexes(&ctx);
    let port = server.port;
    // aiges_gpu, on the GPU stand-in (CUDA_VERSION=11.6.2)
    let gpu_image = format!("AIGES_GPU_IMAGE={}", gpu_base());
    let on_gpu = ["--build-arg", gpu_image.as_str()];
    let aiges_gpu = "image=\"aiges_gpu\"";

    ctx.write("build.envd", &build_file(port, aiges_gpu, "torch==1.13.1"));
    let r = build(&ctx, port, &on_gpu);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("envd: torch from http://pypi.test:{port}/whl/cu116 (base CUDA 11.6.2)")),
        "{}",
        r.stderr
    );
    assert_eq!(torch_of(&ctx), "1.13.1+cu116");
    let log = server.requests();
    assert!(log.contains("/whl/cu116/torch/torch-1.13.1"), "{log}");
    assert!(!log.contains("nvidia") && !log.contains("/one/files/torch"), "PyPI's torch was fetched: {log}");
    assert!(!r.stderr.contains("TorchCudaMismatch"), "{}", r.stderr);

    // the CPU stand-in: the CPU build
    ctx.write("build.envd", &build_file(port, &format!("image=\"{}\"", cpu_base()), "torch==1.13.1"));
    let r = build(&ctx, port, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("whl/cpu (the base has no CUDA)"), "{}", r.stderr);
    assert_eq!(torch_of(&ctx), "1.13.1+cpu");

    // a pinned local version is kept, and the linter says the base cannot run it
    ctx.write("build.envd", &build_file(port, aiges_gpu, "torch==1.13.1+cu118"));
    let r = build(&ctx, port, &on_gpu);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(torch_of(&ctx), "1.13.1+cu118");
    assert!(r.stderr.contains("(torch==1.13.1+cu118 names it)"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("TorchCudaMismatch: torch==1.13.1+cu118 is built for CUDA 11.8, newer than the base's CUDA 11.6"),
        "{}",
        r.stderr
    );
    let check = ctx.build_envd(&["--call", "check", "--build-arg", &gpu_image]);
    assert!(!check.ok, "a finding fails --call check");
    let at_line = check.stdout.lines().chain(check.stderr.lines()).any(|l| l.contains("build.envd:4"));
    assert!(check.stdout.contains("TorchCudaMismatch") && at_line, "{}\n{}", check.stdout, check.stderr);

    // ENVD_TORCH_BACKEND=off: the build's own indexes, as before
    ctx.write("build.envd", &build_file(port, aiges_gpu, "torch==1.13.1"));
    let r = build(&ctx, port, &[&on_gpu[..], &["--build-arg", "ENVD_TORCH_BACKEND=off"]].concat());
    assert!(r.ok, "{}", r.stderr);
    assert!(!r.stderr.contains("envd: torch from"), "{}", r.stderr);
    assert_eq!(torch_of(&ctx), "1.13.1");
    assert!(server.requests().contains("nvidia_cublas-11.10.3.66"), "PyPI's torch brings its nvidia-* wheel");
}

#[test]
fn the_outline_names_the_variant_and_bad_torch_args_are_refused() {
    let _engine = ensure_env();
    let ctx = Context::new("gpu-outline");
    ctx.write(
        "build.envd",
        "def build():\n    base(image=\"aiges_gpu\")\n    install.python_packages(name=[\"torch==1.13.1\"])\n",
    );
    let gpu_image = format!("AIGES_GPU_IMAGE={}", gpu_base());
    let r = ctx.build_envd(&["--call", "outline", "--build-arg", &gpu_image]);
    assert!(r.ok, "{}", r.stderr);
    let row = r.stdout.lines().find(|l| l.starts_with("ENVD_TORCH_BACKEND")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(row.contains("from https://download.pytorch.org/whl/cu116"), "{row}");
    for (arg, error) in [
        (
            "ENVD_TORCH_BACKEND=cuda",
            "ENVD_TORCH_BACKEND: \"cuda\" is not auto, off, cpu or a CUDA variant such as cu116",
        ),
        (
            "ENVD_TORCH_INDEX=mirror/whl",
            "ENVD_TORCH_INDEX: \"mirror/whl\" is not an http(s) URL of PyTorch's indexes, such as https://download.pytorch.org/whl",
        ),
    ] {
        let r = ctx.build_envd(&["--build-arg", arg]);
        assert!(!r.ok);
        assert!(r.stderr.contains(error), "{arg}: {}", r.stderr);
    }
}
