//! The walking skeleton, end to end: buildx starts the frontend image,
//! which reads build.envd and returns LLB and an image config.

use envd_e2e::{bake, cpu_base, docker_ok, ensure_env, failing_build, image_config, repo, steps, Context};

fn hello(base: &str) -> String {
    format!("def build():\n    base(image=\"{base}\")\n    run(commands=[\"echo hi > /hi\", \"pwd > /pwd\", \"echo $LD_LIBRARY_PATH > /ld\"])\n")
}

/// Asserts that `tag` was built from the CPU base with the hello steps.
fn assert_hello_image(tag: &str) {
    assert_eq!(docker_ok(&["run", "--rm", tag, "cat", "/hi"]), "hi\n");
    // The step ran in the base's WorkingDir, with its Env.
    assert_eq!(docker_ok(&["run", "--rm", tag, "cat", "/pwd"]), "/home/aiges\n");
    assert_eq!(docker_ok(&["run", "--rm", tag, "cat", "/ld"]), "/home/aiges:/home/aiges/library\n");
    let base = image_config(&cpu_base());
    let built = image_config(tag);
    for key in ["WorkingDir", "Env", "Cmd", "Entrypoint", "User"] {
        assert_eq!(built[key], base[key], "{key} comes from the base");
    }
    assert_eq!(built["Labels"]["org.aiges.base"], "cpu");
}

#[test]
fn builds_with_buildkit_syntax_build_arg() {
    let _engine = ensure_env();
    let ctx = Context::new("syntax-arg");
    ctx.write("build.envd", &hello(&cpu_base()));
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "build failed:\n{}", r.stderr);
    assert_hello_image(&ctx.tag);
}

#[test]
fn builds_with_a_syntax_first_line() {
    let _engine = ensure_env();
    let ctx = Context::new("syntax-line");
    ctx.write("build.envd", &format!("# syntax={}\n{}", envd_e2e::FRONTEND, hello(&cpu_base())));
    let file = ctx.dir().join("build.envd").to_string_lossy().into_owned();
    let r = ctx.build(&["-f", &file]);
    assert!(r.ok, "build failed:\n{}", r.stderr);
    assert_hello_image(&ctx.tag);
}

#[test]
fn a_second_identical_build_is_all_cached() {
    let _engine = ensure_env();
    let ctx = Context::new("cached");
    // A run step of this test's own: BuildKit makes a step that another
    // test builds beside this one the same vertex, reported as that build
    // ran it (not CACHED), and names a shared vertex as the build that
    // asked first did (the base as `[1/3] base`, from a three-step file).
    // The base is all it shares, and the builder has a record of it
    // (`envd_e2e::cache_bases`), so a build beside it cannot make its
    // step run again.
    let id = format!("echo {} {} > /id", ctx.tag, std::process::id());
    ctx.write(
        "build.envd",
        &format!("def build():\n    base(image=\"{}\")\n    run(commands=[\"{id}\"])\n", cpu_base()),
    );
    let first = ctx.build_envd(&[]);
    assert!(first.ok, "build failed:\n{}", first.stderr);
    let second = ctx.build_envd(&[]);
    assert!(second.ok, "rebuild failed:\n{}", second.stderr);
    let steps = steps(&second.stderr);
    assert_eq!(steps.len(), 2, "base and run steps in:\n{}", second.stderr);
    assert!(steps[1].0.starts_with(&format!("[2/2] run {id}")), "{steps:?}");
    assert!(steps[0].0.contains("] base "), "{steps:?}");
    // BuildKit reports an image source whose dependants are all cached as
    // DONE, not CACHED, exactly as it does for a Dockerfile's FROM; every
    // step that does work must be CACHED.
    for (name, cached) in &steps[1..] {
        assert!(cached, "step {name} was not CACHED:\n{}", second.stderr);
    }
}

#[test]
fn a_syntax_error_names_build_envd_and_the_line() {
    let _engine = ensure_env();
    let stderr = failing_build("syntax-error", "    run(commands=[\"true\"]))\n");
    // buildx prints the file name and line, then the offending lines.
    assert!(stderr.contains("build.envd:3"), "no build.envd:3 in:\n{stderr}");
    assert!(stderr.contains(">>>"), "buildx did not show the source lines:\n{stderr}");
    assert!(stderr.contains("Parse error"), "{stderr}");
}

#[test]
fn a_failing_run_step_points_at_its_line() {
    let _engine = ensure_env();
    let stderr = failing_build("failing-run", "\n    run(commands=[\"echo about to fail\", \"exit 7\"])\n");
    assert!(stderr.contains("build.envd:4"), "no build.envd:4 in:\n{stderr}");
    assert!(stderr.contains("exit code: 7"), "{stderr}");
    // As a Dockerfile's RUN reads: the step and the user's own commands,
    // not the shell wrapper that picks bash.
    assert!(
        stderr.contains(
            "[2/2] run echo about to fail && exit 7: process \"echo about to fail\\nexit 7\" did not complete successfully: exit code: 7"
        ),
        "{stderr}"
    );
    // (The progress line of the vertex is BuildKit's own and keeps the
    // process as it ran; the build's error is the frontend's to word.)
    let error = stderr.lines().rfind(|l| l.starts_with("ERROR: failed to build")).unwrap_or_default();
    assert!(!error.contains("if [ -x /bin/bash ]"), "{error}");
}

#[test]
fn an_unknown_target_lists_the_ones_that_exist() {
    let _engine = ensure_env();
    let ctx = Context::new("target");
    ctx.write("build.envd", &hello(&cpu_base()));
    let r = ctx.build_envd(&["--target", "gpu"]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("build.envd has no function gpu(); the functions that can be built are: build"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_frontend_binary_is_static() {
    let _engine = ensure_env();
    let bin = repo().join("target/x86_64-unknown-linux-gnu/release/envd-frontend");
    let out = std::process::Command::new("ldd").arg(&bin).output().expect("ldd runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("not a dynamic executable") || text.contains("statically linked"), "ldd says: {text}");
}

#[test]
fn bake_builds_the_hello_example() {
    let _engine = ensure_env();
    let r = bake("examples/hello/docker-bake.hcl");
    assert!(r.ok, "bake failed:\n{}", r.stderr);
    let text = docker_ok(&["run", "--rm", "envd-demo/hello:bake", "cat", "/home/aiges/hello.txt"]);
    assert!(text.starts_with("hello from build.envd\nPython 3."), "{text}");
    docker_ok(&["image", "rm", "envd-demo/hello:bake"]);
}
