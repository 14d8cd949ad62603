//! Table tests: what each function and alias of the dialect puts in the
//! plan, and the warnings it raises. Errors are covered by the golden
//! cases in `testdata-negative/` (message and line).

use std::collections::BTreeMap;

use envd_lang::{evaluate, BaseImage, EvalOptions, Evaluated, Limits, Plan, StepKind};

fn eval_with(src: &str, opts: &EvalOptions) -> Evaluated {
    evaluate("build.envd", src, opts).unwrap_or_else(|e| panic!("{e}\n--- source ---\n{src}"))
}

/// Evaluates `body` as the body of build(), after a base() call.
fn build(body: &str) -> Evaluated {
    let mut src = String::from("def build():\n    base(image=\"aiges_cpu\")\n");
    for line in body.lines() {
        src.push_str("    ");
        src.push_str(line);
        src.push('\n');
    }
    eval_with(&src, &EvalOptions::default())
}

fn steps(body: &str) -> Vec<StepKind> {
    build(body).plan.steps.into_iter().map(|s| s.kind).collect()
}

fn plan(src: &str) -> Plan {
    eval_with(src, &EvalOptions::default()).plan
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn base_reads_envd_v0_arguments() {
    let p = plan("def build():\n    base(language=\"python3.8\", os=\"ubuntu20.04\")\n");
    assert_eq!(p.base.image, BaseImage::AigesCpu);
    assert!(!p.base.image_explicit);
    assert_eq!(p.base.python.as_deref(), Some("3.8"));
    assert_eq!(p.base.os.as_deref(), Some("ubuntu20.04"));
    // Positional, in envd v0's order: os, language, image.
    let p = plan("def build():\n    base(\"ubuntu18.04\", \"python3\", \"aiges_gpu\")\n");
    assert_eq!((p.base.os.as_deref(), p.base.python.as_deref()), (Some("ubuntu18.04"), None));
    assert_eq!(p.base.image, BaseImage::AigesGpu);
    assert!(p.base.image_explicit);
    let p = plan("def build():\n    base(image=\"127.0.0.1:5000/x:1\", language=\"python\", os=None)\n");
    assert_eq!(p.base.image, BaseImage::Reference("127.0.0.1:5000/x:1".into()));
    assert_eq!(p.base.os, None);
}

#[test]
fn base_warns_about_an_os_the_aiges_base_ignores_and_a_misspelt_one() {
    let out = eval_with("def build():\n    base(language=\"python3.8\", os=\"ubuntu20.4\")\n", &EvalOptions::default());
    let msgs: Vec<&str> = out.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "base(os=\"ubuntu20.4\") is read as \"ubuntu20.04\"",
            "base(os=\"ubuntu20.04\") has no effect: the AIGES base image decides the OS"
        ]
    );
    assert!(out.warnings.iter().all(|w| w.span.line == 2));
}

#[test]
fn install_cuda_is_recorded() {
    let p = build("install.cuda(version=\"11.6\", cudnn=\"8\")").plan;
    let cuda = p.cuda.unwrap();
    assert_eq!((cuda.version.as_str(), cuda.cudnn.as_str(), cuda.span.line), ("11.6", "8", 3));
    assert_eq!(build("install.cuda(\"11.7\")").plan.cuda.unwrap().cudnn, "8");
}

#[test]
fn system_packages_and_its_alias() {
    let want = StepKind::SystemPackages { names: s(&["curl", "libgl1-mesa-glx"]) };
    assert_eq!(steps("install.system_packages(name=[\"curl\", \" libgl1-mesa-glx \"])"), vec![want.clone()]);
    assert_eq!(steps("install.apt_packages(name=[\"curl\", \"libgl1-mesa-glx\"])"), vec![want.clone()]);
    assert_eq!(steps("install.system_packages([\"curl\", \"libgl1-mesa-glx\"])"), vec![want]);
}

#[test]
fn python_packages_is_one_step_per_call_in_order() {
    let got = steps(
        "install.python_packages(name=[\"torch==1.10\", \"openmim\"])\ninstall.python_packages(requirements=\"./build.txt\")\ninstall.python_packages(local_wheels=[\"dist/a-1.0-py3-none-any.whl\"])",
    );
    assert_eq!(
        got,
        [
            StepKind::PythonPackages {
                names: s(&["torch==1.10", "openmim"]),
                requirements: None,
                local_wheels: vec![]
            },
            StepKind::PythonPackages {
                names: vec![],
                requirements: Some(envd_lang::ContextPath::parse("build.txt").unwrap()),
                local_wheels: vec![]
            },
            StepKind::PythonPackages {
                names: vec![],
                requirements: None,
                local_wheels: vec![envd_lang::ContextPath::parse("dist/a-1.0-py3-none-any.whl").unwrap()]
            },
        ]
    );
}

#[test]
fn conda_packages_may_combine_names_and_env_file() {
    let got = steps("install.conda_packages(name=[\"numpy=1.24\"], channel=[\"pytorch\"], env_file=\"env.yaml\")");
    assert_eq!(
        got,
        [StepKind::CondaPackages {
            names: s(&["numpy=1.24"]),
            channels: s(&["pytorch"]),
            env_file: Some(envd_lang::ContextPath::parse("env.yaml").unwrap()),
        }]
    );
}

#[test]
fn io_copy_and_its_aliases() {
    let want = StepKind::Copy { src: envd_lang::ContextPath::parse("detectron2").unwrap(), dest: "/".into() };
    assert_eq!(steps("io.copy(src=\"./detectron2\", dest=\"/\")"), vec![want.clone()]);
    assert_eq!(steps("io.copy(\"./detectron2\", \"/\")"), vec![want.clone()]);
    assert_eq!(steps("io.copy(source=\"./detectron2\", target=\"/\")"), vec![want.clone()]);
    let out = build("io.copy(host_path=\"./detectron2\", envd_path=\"/\")");
    assert_eq!(out.plan.steps[0].kind, want);
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    assert_eq!(out.warnings[0].message, "io.copy(host_path=) is envd's deprecated spelling; write src= and dest=");
}

#[test]
fn run_keeps_commands_and_mount_host() {
    assert_eq!(
        steps("run(commands=[\"pip install -e /detectron2\"], mount_host=True)\nrun([\"a\", \"b\"])"),
        [
            StepKind::Run { commands: s(&["pip install -e /detectron2"]), mount_host: true },
            StepKind::Run { commands: s(&["a", "b"]), mount_host: false },
        ]
    );
}

#[test]
fn steps_keep_call_order_across_kinds() {
    let got = steps(
        "run(commands=[\"1\"])\ninstall.system_packages(name=[\"a\"])\nio.copy(src=\"x\", dest=\"/x\")\nrun(commands=[\"2\"])",
    );
    let kinds: Vec<&str> = got
        .iter()
        .map(|k| match k {
            StepKind::Run { .. } => "run",
            StepKind::SystemPackages { .. } => "apt",
            StepKind::Copy { .. } => "copy",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["run", "apt", "copy", "run"]);
}

#[test]
fn config_pip_index_and_conda_channel() {
    let p = build(
        "config.pip_index(url=\"https://pypi.org/simple\", extra_url=\"https://x.org/simple\", trust=True)\nconfig.conda_channel(channel=\"\"\"\n    channels:\n      - conda-forge\n    custom_channels:\n      pytorch: https://conda.anaconda.org\n    channel_alias: https://mirror.example/conda\n    \"\"\")",
    )
    .plan;
    let pip = p.pip_index.unwrap();
    assert_eq!(
        (pip.url.as_str(), pip.extra_url.as_deref(), pip.trust),
        ("https://pypi.org/simple", Some("https://x.org/simple"), true)
    );
    let conda = p.conda_channel.unwrap();
    assert_eq!(conda.condarc.channels, ["conda-forge"]);
    assert_eq!(conda.condarc.channel_config.custom_channels["pytorch"], "https://conda.anaconda.org");
    assert_eq!(conda.condarc.channel_config.channel_alias.as_deref(), Some("https://mirror.example/conda"));
    assert!(conda.yaml.starts_with("channels:\n  - conda-forge\n"), "dedented: {:?}", conda.yaml);
}

#[test]
fn conda_channel_warns_about_top_level_channel_urls() {
    let out = build("config.conda_channel(channel=\"custom_channels:\\nconda-forge: https://m.example/cloud\\n\")");
    assert_eq!(
        out.warnings[0].message,
        "config.conda_channel(channel=) has conda-forge at the top level of the YAML; indent them under custom_channels: to make them custom channels"
    );
}

#[test]
fn image_config_edits() {
    let p = build(
        "config.entrypoint(args=[\"/bin/bash\", \"-c\"])\nruntime.environ(env={\"A\": \"1\", \"B\": \"2\"}, extra_path=[\"/opt/bin\"])\nruntime.expose(port=5090, service_name=\"aiges\")\nruntime.expose(envd_port=8080)\nruntime.command(commands={\"serve\": \"./AIservice\"})",
    )
    .plan;
    assert_eq!(p.image.entrypoint.unwrap().value, s(&["/bin/bash", "-c"]));
    let env: Vec<(String, String)> = p.image.env.iter().map(|e| e.value.clone()).collect();
    assert_eq!(env, [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "2".to_owned())]);
    assert_eq!(p.image.extra_path[0].value, "/opt/bin");
    let ports: Vec<(u16, Option<&str>)> = p.image.expose.iter().map(|e| (e.port, e.service_name.as_deref())).collect();
    assert_eq!(ports, [(5090, Some("aiges")), (8080, None)]);
    assert_eq!(p.image.command.unwrap().value, BTreeMap::from([("serve".to_owned(), "./AIservice".to_owned())]));
}

#[test]
fn build_args_are_the_args_dict() {
    let opts =
        EvalOptions { build_args: BTreeMap::from([("VERSION".to_owned(), "2.0".to_owned())]), ..Default::default() };
    let src = "def build():\n    base(image=\"aiges_cpu\")\n    run(commands=[\"echo %s %s\" % (args.get(\"VERSION\", \"1.0\"), args.get(\"MISSING\", \"dflt\"))])\n";
    let p = eval_with(src, &opts).plan;
    assert_eq!(p.steps[0].kind, StepKind::Run { commands: s(&["echo 2.0 dflt"]), mount_host: false });
}

#[test]
fn targets_are_zero_parameter_functions() {
    let src = "def helper(x):\n    pass\n\ndef gpu():\n    base(image=\"aiges_gpu\")\n\ndef build():\n    base(image=\"aiges_cpu\")\n";
    let opts = EvalOptions { target: Some("gpu".into()), ..Default::default() };
    let p = eval_with(src, &opts).plan;
    assert_eq!((p.target.as_str(), p.base.image), ("gpu", BaseImage::AigesGpu));
    let opts = EvalOptions { target: Some("cpu".into()), ..Default::default() };
    let err = evaluate("build.envd", src, &opts).unwrap_err();
    assert_eq!(err.message, "build.envd has no function cpu(); the functions that can be built are: build, gpu");
}

#[test]
fn helpers_loops_comprehensions_and_formatting_work() {
    let src = r#"
PKGS = ["numpy", "scipy"]

def pinned(pkgs, v):
    return ["%s==%s" % (p, v) for p in pkgs]

def build():
    base(image="aiges_cpu")
    for group in [PKGS, ["torch"]]:
        install.python_packages(name=pinned(group, "1.0"))
    run(commands=["echo {}".format(len(PKGS))])
"#;
    let p = plan(src);
    assert_eq!(p.steps.len(), 3);
    assert_eq!(
        p.steps[0].kind,
        StepKind::PythonPackages { names: s(&["numpy==1.0", "scipy==1.0"]), requirements: None, local_wheels: vec![] }
    );
    assert_eq!(p.steps[0].span.line, 10, "the span is the install call inside the loop");
    assert_eq!(p.steps[2].kind, StepKind::Run { commands: s(&["echo 2"]), mount_host: false });
}

#[test]
fn print_becomes_a_warning_and_first_lines_are_comments() {
    let out = eval_with(
        "# syntax=aiges/envd-frontend\ndef build():\n    print(\"hello\")\n    base(image=\"aiges_cpu\")\n",
        &EvalOptions::default(),
    );
    assert_eq!(out.warnings[0].message, "print: hello");
    assert!(evaluate("build.envd", "# syntax=v0\ndef build():\n    base()\n", &EvalOptions::default()).is_ok());
}

#[test]
fn limit_errors_name_the_limits_in_force_and_the_line_that_was_running() {
    let limits = Limits { ticks: 500, call_depth: 8, ..Limits::default() };
    let opts = EvalOptions { limits, ..Default::default() };
    let looped = "def build():\n    base()\n    for i in range(1000):\n        run(commands=[\"echo\"])\n";
    let e = evaluate("build.envd", looped, &opts).unwrap_err();
    assert_eq!(e.message, "evaluating build.envd took more than 500 calls and loop iterations");
    assert_eq!(e.help.as_deref(), Some("look for a loop that does not end"));
    assert_eq!(e.span.map(|s| s.line), Some(4), "the statement running when the limit hit");
    let nested = "def f(n):\n    return n\ndef g(n):\n    return f(n)\ndef build():\n    base()\n    h = lambda: g(1)\n    [h() for _ in range(1)]\n";
    assert!(evaluate("build.envd", nested, &opts).is_ok(), "under the depth limit");
    let deep = (0..12).map(|i| format!("def f{i}():\n    return f{}()\n", i + 1)).collect::<String>()
        + "def f12():\n    return 1\ndef build():\n    base()\n    f0()\n";
    let e = evaluate("build.envd", &deep, &opts).unwrap_err();
    assert_eq!(e.message, "calls nest more than 8 deep");
}
