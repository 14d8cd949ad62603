//! Golden LLB: each `testdata/<case>/build.envd` lowers, on a fixed stand-in
//! base, to the definition dumped in `llb.txt` (ops, mounts, cache ids and
//! sharing, progress names, build.envd locations) and the image config in
//! `config.json`.
//!
//! Regenerate after an intended change with `make golden`
//! (`ENVD_UPDATE_GOLDEN=1 cargo test -p envd-lower --test golden`), then
//! read the diff.

use std::fs;
use std::path::Path;

use envd_lang::{evaluate, EvalOptions};
use envd_llb::{dump::dump, Platform, SourceMap};
use envd_lower::{base_reference, lower, ImageConfig, LlbCaps, LowerOptions, ResolvedBase};

const BASE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LD_LIBRARY_PATH=/home/aiges/library"],"WorkingDir":"/home/aiges","Cmd":["/bin/sh","-c","./AIservice"],"Labels":{"org.aiges.base":"cpu"}}}"#;

fn check(path: &Path, actual: &str) {
    if std::env::var_os("ENVD_UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).unwrap();
        return;
    }
    let expected =
        fs::read_to_string(path).unwrap_or_else(|_| panic!("{} is missing; run `make golden`", path.display()));
    assert_eq!(expected, actual, "{} differs; if intended, run `make golden` and review", path.display());
}

/// Lowering options for `src` on the fixed base: amd64, merge and diff
/// available, session `SESSION`; tests change what they look at.
fn options(src: &str) -> LowerOptions {
    LowerOptions {
        platform: Platform::parse("linux/amd64").unwrap(),
        source: SourceMap::new("build.envd", src.to_owned(), "starlark"),
        caps: LlbCaps { merge_diff: true },
        no_cache: false,
        labels: vec![],
        resolve_mode: Default::default(),
        session_id: "SESSION".into(),
        context_local: "context".into(),
        dockerignore: vec![],
    }
}

#[test]
fn golden_llb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut cases: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let src = fs::read_to_string(case.join("build.envd")).unwrap();
        let plan = evaluate("build.envd", &src, &EvalOptions::default()).unwrap().plan;
        let args = [("AIGES_CPU_IMAGE".to_owned(), "127.0.0.1:5000/aiges/base-cpu:bookworm".to_owned())].into();
        let choice = base_reference(&plan, &args).unwrap();
        let base = ResolvedBase {
            reference: format!("{}@sha256:{}", choice.reference, "0".repeat(64)),
            config: ImageConfig::parse(BASE_CONFIG.as_bytes()).unwrap(),
        };
        let opts = LowerOptions { dockerignore: vec!["*.pyc".into()], ..options(&src) };
        let lowered = lower(&plan, &base, &opts).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let def = lowered.state.marshal().unwrap().definition;
        check(&case.join("llb.txt"), &dump(&def));
        let config = serde_json::to_string_pretty(lowered.config.as_json()).unwrap() + "\n";
        check(&case.join("config.json"), &config);
    }
}

#[test]
fn the_platform_reaches_every_op_and_the_config() {
    let src = "def build():\n    base(image=\"x:1\")\n    install.system_packages(name=[\"curl\"])\n    run(commands=[\"true\"])\n";
    let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
    let base = ResolvedBase { reference: "x:1".into(), config: ImageConfig::parse(BASE_CONFIG.as_bytes()).unwrap() };
    let opts = LowerOptions {
        platform: Platform::parse("linux/arm64/v8").unwrap(),
        caps: LlbCaps::default(),
        no_cache: true,
        labels: vec![("team".into(), "ml".into())],
        ..options(src)
    };
    let lowered = lower(&plan, &base, &opts).unwrap();
    let def = lowered.state.marshal().unwrap().definition;
    let ops: Vec<envd_llb::pb::Op> =
        def.def.iter().map(|b| <envd_llb::pb::Op as prost::Message>::decode(b.as_slice()).unwrap()).collect();
    use envd_llb::pb::op::Op as Kind;
    let built: Vec<&envd_llb::pb::Op> = ops
        .iter()
        .filter(|o| {
            matches!(&o.op, Some(Kind::Exec(_)))
                || matches!(&o.op, Some(Kind::Source(s)) if s.identifier.starts_with("docker-image://"))
        })
        .collect();
    assert_eq!(built.len(), 3, "base, apt, run");
    for op in built {
        let p = op.platform.as_ref().expect("image sources and execs carry the platform");
        assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_str()), ("linux", "arm64", "v8"));
    }
    let cfg = lowered.config.as_json();
    assert_eq!((cfg["architecture"].as_str(), cfg["variant"].as_str()), (Some("arm64"), Some("v8")));
    assert_eq!(cfg["config"]["Labels"]["team"], "ml");
    // --no-cache marks every step.
    assert!(def
        .metadata
        .values()
        .filter(|m| m.description.contains_key("llb.customname"))
        .all(|m| m.ignore_cache || m.description["llb.customname"].starts_with("[internal]")));
}

#[test]
fn conda_steps_are_refused_at_their_line_until_the_installer_exists() {
    let src = "def build():\n    base(image=\"x:1\")\n    install.system_packages(name=[\"curl\"])\n    install.conda_packages(name=[\"numpy\"])\n";
    let plan = evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan;
    let base = ResolvedBase { reference: "x:1".into(), config: ImageConfig::parse(BASE_CONFIG.as_bytes()).unwrap() };
    let opts = options(src);
    let err = lower(&plan, &base, &opts).unwrap_err();
    assert_eq!(err.message, "install.conda_packages cannot be built by this version of envd-frontend yet");
    assert_eq!(err.span.map(|s| s.line), Some(4));
}
