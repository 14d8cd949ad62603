//! build.envd's language through buildx: errors point at their line,
//! warnings are shown, build args and targets steer the build.

use envd_e2e::{cpu_base, docker_ok, ensure_env, failing_build, Context};

#[test]
fn a_wrong_call_shows_its_line_and_a_suggestion() {
    let _engine = ensure_env();
    let stderr = failing_build("lang-error", "    install.pythn_packages(name=[\"numpy\"])\n");
    assert!(stderr.contains("build.envd:3"), "{stderr}");
    assert!(stderr.contains(">>>     install.pythn_packages(name=[\"numpy\"])"), "{stderr}");
    assert!(stderr.contains("did you mean `python_packages`?"), "{stderr}");
}

#[test]
fn a_path_outside_the_context_is_refused_at_its_line() {
    let _engine = ensure_env();
    let stderr = failing_build("lang-path", "\n    io.copy(src=\"../x\", dest=\"/x\")\n");
    assert!(stderr.contains("build.envd:4"), "{stderr}");
    assert!(stderr.contains("io.copy(src=) (\"../x\") leaves the build context"), "{stderr}");
}

#[test]
fn warnings_are_shown_by_buildx() {
    let _engine = ensure_env();
    let ctx = Context::new("lang-warn");
    ctx.write(
        "build.envd",
        &format!("def build():\n    base(image=\"{}\", os=\"ubuntu20.4\")\n    run(commands=[\"true\"])\n", cpu_base()),
    );
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("base(os=\"ubuntu20.4\") is read as \"ubuntu20.04\""), "{}", r.stderr);
}

#[test]
fn build_args_and_targets_steer_the_build() {
    let _engine = ensure_env();
    let ctx = Context::new("lang-args");
    ctx.write(
        "build.envd",
        &format!(
            "def common(flavour):\n    base(image=\"{}\")\n    run(commands=[\"echo %s-%s > /flavour\" % (flavour, args.get(\"VERSION\", \"0\"))])\n\ndef build():\n    common(\"cpu\")\n\ndef gpu():\n    common(\"gpu\")\n",
            cpu_base()
        ),
    );
    let r = ctx.build_envd(&["--target", "gpu", "--build-arg", "VERSION=2.1"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/flavour"]), "gpu-2.1\n");
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(docker_ok(&["run", "--rm", &ctx.tag, "cat", "/flavour"]), "cpu-0\n");
}

#[test]
fn a_loop_that_does_not_end_names_its_line() {
    let _engine = ensure_env();
    let stderr = failing_build("lang-loop", "    for i in range(100000000):\n        pass\n");
    assert!(stderr.contains("build.envd:3"), "{stderr}");
    assert!(stderr.contains(">>>     for i in range(100000000):"), "{stderr}");
    assert!(
        stderr.contains(
            "evaluating build.envd took more than 1000000 calls and loop iterations; look for a loop that does not end"
        ),
        "{stderr}"
    );
}

#[test]
fn a_bad_aiges_device_names_the_build_arg_before_anything_runs() {
    let _engine = ensure_env();
    let ctx = Context::new("lang-device");
    ctx.write("build.envd", "def build():\n    base(language=\"python3.9\")\n    run(commands=[\"true\"])\n");
    let r = ctx.build_envd(&["--build-arg", "AIGES_DEVICE=tpu"]);
    assert!(!r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("frontend option build-arg:AIGES_DEVICE: \"tpu\" is not cpu or gpu"), "{}", r.stderr);
    assert!(!r.stderr.contains("[1/"), "no step ran:\n{}", r.stderr);
}
