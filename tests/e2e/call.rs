//! `docker buildx build --call targets|outline|check` and the linter's
//! warnings, through real buildx and the frontend image.

use envd_e2e::{bake_with, cpu_base, ensure_env, Context, Run};

/// A build.envd with three targets: `build` described by the comment
/// above it, `gpu` by its docstring, `debug` by nothing; `helper` takes
/// a parameter and is no target.
fn three_targets() -> String {
    format!(
        r#"# syntax=aiges/envd-frontend

# The CPU service.
def build():
    base(image="{base}")
    version = args.get("MODEL_VERSION", "1.0")  # the model's version

def gpu():
    """The GPU service, on CUDA."""
    base(image="{base}")
    # where the weights come from
    weights = args.get("WEIGHTS_URL", "https://models.example/w")
    cuda = args["CUDA"] if "CUDA" in args else "11.6"

def debug():
    base(image="{base}")

def helper(x):
    return x
"#,
        base = cpu_base()
    )
}

fn call(ctx: &Context, call: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--call", call];
    args.extend_from_slice(extra);
    ctx.build_envd(&args)
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

#[test]
fn call_targets_lists_the_functions_with_their_descriptions() {
    let _engine = ensure_env();
    let ctx = Context::new("call-targets");
    ctx.write("build.envd", &three_targets());
    let r = call(&ctx, "targets", &[]);
    assert!(r.ok, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            "TARGET          DESCRIPTION",
            "build (default) The CPU service.",
            "gpu             The GPU service, on CUDA.",
            "debug"
        ],
        "{}",
        r.stdout
    );

    let r = call(&ctx, "targets,format=json", &[]);
    assert!(r.ok, "{}", r.stderr);
    let v = json(&r);
    let at: Vec<(String, i64)> = v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (t["name"].as_str().unwrap().to_owned(), t["location"]["ranges"][0]["start"]["line"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(at, [("build".to_owned(), 4), ("gpu".to_owned(), 8), ("debug".to_owned(), 15)]);
    assert_eq!(v["targets"][0]["default"], true);
}

#[test]
fn call_outline_of_a_target_lists_the_args_it_reads() {
    let _engine = ensure_env();
    let ctx = Context::new("call-outline");
    ctx.write("build.envd", &three_targets());
    let r = call(&ctx, "outline", &["--target", "gpu"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("TARGET:      gpu"), "{}", r.stdout);
    assert!(r.stdout.contains("DESCRIPTION: The GPU service, on CUDA."), "{}", r.stdout);
    let row = r.stdout.lines().find(|l| l.starts_with("WEIGHTS_URL")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(row.contains("https://models.example/w") && row.contains("where the weights come from"), "{row}");
    assert!(!r.stdout.contains("MODEL_VERSION"), "build()'s arg is not gpu()'s: {}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.starts_with("AIGES_DEVICE") && l.contains("has no effect")), "{}", r.stdout);

    let r = call(&ctx, "outline,format=json", &["--target", "gpu", "--build-arg", "CUDA=12.1"]);
    assert!(r.ok, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["name"], "gpu");
    // buildx prints the outline from its own fields; the JSON says more
    assert_eq!(
        v["sbom"],
        "available: --sbom=true writes an SPDX document from the install records of none; it names the base"
    );
    let args: Vec<(String, String, i64)> = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.get("location").is_some())
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["value"].as_str().unwrap_or_default().to_owned(),
                a["location"]["ranges"][0]["start"]["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        args,
        [
            ("WEIGHTS_URL".to_owned(), "https://models.example/w".to_owned(), 12),
            ("CUDA".to_owned(), "12.1".to_owned(), 13)
        ]
    );
}

/// A build.envd that breaks two rules, on lines 3 and 4.
fn with_findings() -> String {
    format!(
        "def build():\n    base(image=\"{}\")\n    run(commands=[\"pip install requests==2.31.0\"])\n    run(commands=[\"apt-get update && apt-get install -y curl\"])\n",
        cpu_base()
    )
}

#[test]
fn call_check_is_clean_or_exits_1_with_the_findings() {
    let _engine = ensure_env();
    let clean = Context::new("check-clean");
    clean.write("build.envd", &format!("def build():\n    base(image=\"{}\")\n", cpu_base()));
    let r = call(&clean, "check", &[]);
    assert!(r.ok, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Check complete, no warnings found."), "{}", r.stdout);

    let ctx = Context::new("check-findings");
    ctx.write("build.envd", &with_findings());
    let r = call(&ctx, "check", &[]);
    assert!(!r.ok, "findings exit 1:\n{}", r.stdout);
    assert!(r.stdout.contains("Check complete, 2 warnings have been found!"), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "WARNING: PipInstallInRun - https://github.com/aiges/envd-frontend/blob/main/docs/rules.md#pipinstallinrun"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("run() installs requests==2.31.0 with pip"), "{}", r.stdout);
    assert!(r.stdout.contains("build.envd:3"), "the lines are shown: {}", r.stdout);

    let r = call(&ctx, "check,format=json", &[]);
    assert!(!r.ok);
    let v = json(&r);
    let found: Vec<(String, i64)> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (w["ruleName"].as_str().unwrap().to_owned(), w["location"]["ranges"][0]["start"]["line"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(found, [("PipInstallInRun".to_owned(), 3), ("AptInstallInRun".to_owned(), 4)]);
    assert_eq!(v["sources"][0]["filename"], "build.envd");

    let r = call(&ctx, "check", &["--build-arg", "ENVD_CHECK=skip=PipInstallInRun,AptInstallInRun"]);
    assert!(r.ok, "ENVD_CHECK skips both rules:\n{}\n{}", r.stdout, r.stderr);
}

#[test]
fn call_check_of_a_file_that_does_not_parse_is_a_build_error_at_its_line() {
    let _engine = ensure_env();
    let ctx = Context::new("check-syntax");
    ctx.write("build.envd", "def build():\n    base(image=\"x\"\n    run(commands=[])\n");
    let r = call(&ctx, "check", &[]);
    assert!(!r.ok, "{}", r.stdout);
    let text = format!("{}{}", r.stdout, r.stderr);
    assert!(text.contains("build.envd:3"), "{text}");
    assert!(text.to_lowercase().contains("parse error") || text.contains("unexpected"), "{text}");
}

#[test]
fn a_build_prints_its_warnings_and_error_true_fails_it() {
    let _engine = ensure_env();
    let ctx = Context::new("warn-build");
    ctx.write("build.envd", &with_findings());
    let r = ctx.build_envd(&[]);
    assert!(r.ok, "warnings do not fail a build:\n{}", r.stderr);
    assert!(r.stderr.contains("2 warnings found"), "{}", r.stderr);
    assert!(r.stderr.contains("PipInstallInRun: run() installs requests==2.31.0 with pip"), "{}", r.stderr);
    assert!(r.stderr.contains("(line 3)"), "{}", r.stderr);

    let strict = Context::new("warn-error");
    strict.write("build.envd", &format!("# check=error=true\n{}", with_findings()));
    let r = strict.build_envd(&[]);
    assert!(!r.ok, "error=true fails the build:\n{}", r.stderr);
    assert!(
        r.stderr.contains(
            "build.envd breaks checked rules (PipInstallInRun, AptInstallInRun) and its check= says error=true"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("pip install requests"), "nothing ran: {}", r.stderr);
}

#[test]
fn bake_call_check_checks_every_target_of_the_example() {
    let _engine = ensure_env();
    let r = bake_with(&["--call", "check"], "examples/aiges-service/docker-bake.hcl");
    assert!(r.ok, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.matches("Check complete, no warnings found.").count(), 2, "cpu and gpu: {}", r.stdout);
}

#[test]
fn describe_lists_the_calls_answered_and_others_are_refused_by_name() {
    let _engine = ensure_env();
    let ctx = Context::new("call-describe");
    ctx.write("build.envd", &format!("def build():\n    base(image=\"{}\")\n", cpu_base()));
    let r = call(&ctx, "subrequests.describe", &[]);
    assert!(r.ok, "{}", r.stderr);
    for name in ["outline", "targets", "lint", "subrequests.describe"] {
        assert!(r.stdout.lines().any(|l| l.split_whitespace().next() == Some(name)), "{name}: {}", r.stdout);
    }
    let r = call(&ctx, "convertllb", &[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("unsupported request frontend.convertllb"), "{}", r.stderr);
}

#[test]
fn a_bad_envd_check_is_refused_naming_the_build_arg() {
    let _engine = ensure_env();
    let ctx = Context::new("check-bad-arg");
    ctx.write("build.envd", &format!("def build():\n    base(image=\"{}\")\n", cpu_base()));
    let r = ctx.build_envd(&["--build-arg", "ENVD_CHECK=skip=PipInstalInRun"]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("frontend option build-arg:ENVD_CHECK: skip names \"PipInstalInRun\", which is no rule; the rules are PipInstallInRun,"),
        "{}",
        r.stderr
    );
    let bad = Context::new("check-bad-directive");
    bad.write("build.envd", &format!("# check=error=yes\ndef build():\n    base(image=\"{}\")\n", cpu_base()));
    let r = bad.build_envd(&[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("# check= directive: error=\"yes\" is not true or false"), "{}", r.stderr);
    assert!(r.stderr.contains("build.envd:1"), "at its line: {}", r.stderr);
}
