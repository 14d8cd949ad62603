//! Evaluation in a child process: results and errors come back intact, and
//! a file that would exhaust memory or never end is stopped with a sentence.

use std::path::Path;

use envd_frontend::isolate::evaluate;
use envd_lang::{EvalOptions, StepKind};

fn program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_envd-frontend"))
}

#[test]
fn plans_and_warnings_come_back_intact() {
    let src = "def build():\n    base(image=\"aiges_cpu\", os=\"ubuntu20.4\")\n    run(commands=[args[\"X\"]])\n    io.copy(src=\"a\", dest=\"/a\")\n";
    let opts = EvalOptions { build_args: [("X".to_owned(), "echo x".to_owned())].into(), ..Default::default() };
    let child = evaluate(program(), "build.envd", src, &opts).unwrap();
    let local = envd_lang::evaluate("build.envd", src, &opts).unwrap();
    assert_eq!(child, local);
    assert_eq!(child.plan.steps[0].kind, StepKind::Run { commands: vec!["echo x".into()], mount_host: false });
    assert_eq!(child.warnings.len(), 2);
}

#[test]
fn errors_keep_their_span() {
    let err =
        evaluate(program(), "build.envd", "def build():\n    base(image=\"a\")\n    runn()\n", &EvalOptions::default())
            .unwrap_err();
    assert_eq!(err.span.map(|s| s.line), Some(3));
    assert_eq!(err.message, "Variable `runn` not found, did you mean `run`?");
}

#[test]
fn one_huge_allocation_ends_in_a_memory_error() {
    // A single expression that asks for ~4 GiB: the in-process heap check
    // never gets a chance; the child's address-space limit does.
    let src = "def build():\n    base(image=\"aiges_cpu\")\n    s = \"x\" * 2000000000\n    t = s + s\n";
    let err = evaluate(program(), "build.envd", src, &EvalOptions::default()).unwrap_err();
    assert_eq!(
        err.message,
        "evaluating build.envd used more than 1024 MiB of memory; it must describe a build, not compute one"
    );
}

#[test]
fn fast_growth_between_heap_checks_ends_in_a_memory_error() {
    // Found by the fuzzer: 20 MB strings kept in a list, 1,000 per heap check.
    let src = "def build():\n    base(image=\"aiges_cpu\")\n    s = [\"x\" * 20000000]\n    for i in range(1999):\n        s.append(s[-1] + \"y\")\n";
    let err = evaluate(program(), "build.envd", src, &EvalOptions::default()).unwrap_err();
    assert!(err.message.contains("used more than"), "{}", err.message);
}
