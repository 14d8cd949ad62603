//! build.envd evaluation: what each call puts in the plan, and the error
//! (message and line) each mistake produces.

use envd_lang::{evaluate, BaseImage, EvalOptions, StepKind};

fn eval(src: &str) -> Result<envd_lang::Plan, envd_lang::Error> {
    evaluate("build.envd", src, &EvalOptions::default())
}

/// The error's line and message.
fn err(src: &str) -> (Option<u32>, String) {
    let e = eval(src).expect_err("evaluation should fail");
    (e.span.as_ref().map(|s| s.line), e.message)
}

#[test]
fn base_and_run_become_a_plan_with_spans() {
    let plan = eval(
        "# syntax=aiges/envd-frontend\ndef build():\n    base(image=\"alpine:3.20\")\n    run(commands=[\"echo hi > /hi\", \"true\"])\n",
    )
    .unwrap();
    assert_eq!(plan.target, "build");
    assert_eq!(plan.base.image, BaseImage::Reference("alpine:3.20".into()));
    assert_eq!((plan.base.span.line, plan.base.span.column), (3, 5));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].kind, StepKind::Run { commands: vec!["echo hi > /hi".into(), "true".into()] });
    assert_eq!(plan.steps[0].span.line, 4);
    assert_eq!(plan.steps[0].span.file, "build.envd");
}

#[test]
fn helpers_and_loops_work_and_spans_name_the_inner_call() {
    let plan = eval(
        "def setup(n):\n    for i in range(n):\n        run(commands=[\"echo %d\" % i])\n\ndef build():\n    base(image=\"aiges_gpu\")\n    setup(2)\n",
    )
    .unwrap();
    assert_eq!(plan.base.image, BaseImage::AigesGpu);
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.steps[1].kind, StepKind::Run { commands: vec!["echo 1".into()] });
    assert_eq!(plan.steps[1].span.line, 3);
}

#[test]
fn a_syntax_error_names_its_line() {
    let (line, msg) = err("def build():\n    base(image=\"x\"\n    run(commands=[])\n");
    assert_eq!(line, Some(3));
    assert!(msg.contains("Parse error"), "{msg}");
}

#[test]
fn an_unknown_function_suggests_the_close_one() {
    let (line, msg) = err("def build():\n    base(image=\"x\")\n    runn(commands=[\"a\"])\n");
    assert_eq!(line, Some(3));
    assert!(msg.contains("runn") && msg.contains("did you mean `run`?"), "{msg}");
}

#[test]
fn calling_base_twice_is_an_error_at_the_second_call() {
    let (line, msg) = err("def build():\n    base(image=\"a\")\n    base(image=\"b\")\n");
    assert_eq!(line, Some(3));
    assert_eq!(msg, "base() is called twice; the first call is at line 2");
}

#[test]
fn a_missing_build_function_lists_what_exists() {
    let (line, msg) = err("def other():\n    pass\n");
    assert_eq!(line, None);
    assert_eq!(msg, "build.envd has no function build(); it defines: other");
}

#[test]
fn a_build_without_base_is_an_error() {
    let (_, msg) = err("def build():\n    run(commands=[\"true\"])\n");
    assert_eq!(msg, "build() never calls base(); expected base(image=\"aiges_cpu\") or similar");
}

#[test]
fn wrong_types_and_empty_lists_are_errors_at_the_call() {
    let (line, msg) = err("def build():\n    base(image=\"a\")\n    run(commands=\"echo\")\n");
    assert_eq!(line, Some(3));
    assert!(msg.contains("commands"), "{msg}");
    let (line, msg) = err("def build():\n    base(image=\"a\")\n    run(commands=[])\n");
    assert_eq!(line, Some(3));
    assert_eq!(msg, "run(commands=) is empty; expected at least one command");
}

#[test]
fn syntax_v1_is_refused_on_line_one() {
    let (line, msg) = err("# syntax=v1\ndef build():\n    base(image=\"a\")\n");
    assert_eq!(line, Some(1));
    assert!(msg.contains("v0"), "{msg}");
    assert!(eval("# syntax=v0\ndef build():\n    base(image=\"a\")\n").is_ok());
}

#[test]
fn load_is_disabled() {
    let (line, _) = err("load(\"x.envd\", \"y\")\ndef build():\n    base(image=\"a\")\n");
    assert_eq!(line, Some(1));
}
