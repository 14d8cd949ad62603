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
use envd_lang::{Diagnostic, Plan};
use envd_llb::{dump::dump, Platform};
use envd_lower::{lower, needs, BaseOverrides, ImageConfig, Inputs, LlbCaps, LowerConfig, Lowered, ResolvedBase};

const BASE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LD_LIBRARY_PATH=/home/aiges/library"],"WorkingDir":"/home/aiges","Cmd":["/bin/sh","-c","./AIservice"],"Labels":{"org.aiges.base":"cpu"}}}"#;

/// `v` with every object's keys sorted, whatever serde_json's
/// `preserve_order` feature (which the workspace's rattler crates turn on)
/// makes of key order: the goldens must not depend on what else is built.
fn canonical(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn check(path: &Path, actual: &str) {
    if std::env::var_os("ENVD_UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).unwrap();
        return;
    }
    let expected =
        fs::read_to_string(path).unwrap_or_else(|_| panic!("{} is missing; run `make golden`", path.display()));
    assert_eq!(expected, actual, "{} differs; if intended, run `make golden` and review", path.display());
}

/// The lowering configuration of every case: the local one (amd64, merge
/// and diff available) with session `SESSION`; tests change what they
/// look at.
fn config() -> LowerConfig {
    LowerConfig { session_id: "SESSION".into(), ..LowerConfig::local() }
}

/// The inputs of `src` on the fixed base `reference`, with the pinned
/// installer.
fn inputs(src: &str, reference: &str, base_config: &str) -> Inputs {
    let base = ResolvedBase {
        config: ImageConfig::parse(base_config.as_bytes()).unwrap(),
        ..ResolvedBase::stand_in(reference)
    };
    Inputs { installer_image: Some(INSTALLER.into()), ..Inputs::local(src, base) }
}

fn plan(src: &str) -> Plan {
    evaluate("build.envd", src, &EvalOptions::default()).unwrap().plan
}

/// The frontend image as BuildKit pins it in `frontend.bin`.
const INSTALLER: &str =
    "docker.io/aiges/envd-frontend:latest@sha256:1111111111111111111111111111111111111111111111111111111111111111";

#[test]
fn golden_llb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut cases: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let src = fs::read_to_string(case.join("build.envd")).unwrap();
        let plan = plan(&src);
        let args = [("AIGES_CPU_IMAGE".to_owned(), "127.0.0.1:5000/aiges/base-cpu:bookworm".to_owned())].into();
        let needs = needs(&plan, &BaseOverrides::from_build_args(&args).unwrap()).unwrap();
        let reference = format!("{}@sha256:{}", needs.base.reference, "0".repeat(64));
        // Context files of a case are the YAML files (env files) and
        // requirements*.txt beside its build.envd.
        let env_files = fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.ends_with(".yaml") || (name.starts_with("requirements") && name.ends_with(".txt"))
            })
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&p).unwrap()))
            .collect();
        let inputs = Inputs {
            dockerignore: vec!["*.pyc".into()],
            context_files: env_files,
            ..inputs(&src, &reference, BASE_CONFIG)
        };
        let mut lowered = lower(&plan, &config(), &inputs).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        // A case with the locks resolve steps write (pylock.toml,
        // conda-lock.json) is lowered as the frontend does: the resolve
        // steps (their LLB in resolve.txt), then again with their locks,
        // round after round (an env file's pip: section resolves on its
        // conda environment).
        let mut inputs = inputs.clone();
        let mut resolves = String::new();
        loop {
            let mut found = false;
            for resolve in &lowered.resolves {
                if inputs.locks.contains_key(&resolve.key()) {
                    continue;
                }
                if let Ok(lock) = fs::read_to_string(case.join(resolve.file)) {
                    resolves.push_str(&dump(&resolve.state.marshal().unwrap().definition));
                    inputs.locks.insert(resolve.key(), lock);
                    found = true;
                }
            }
            if !found {
                break;
            }
            lowered = lower(&plan, &config(), &inputs).unwrap();
        }
        if !resolves.is_empty() {
            check(&case.join("resolve.txt"), &resolves);
        }
        let def = lowered.state.marshal().unwrap().definition;
        check(&case.join("llb.txt"), &dump(&def));
        let config = serde_json::to_string_pretty(&canonical(lowered.config.as_json().clone())).unwrap() + "\n";
        check(&case.join("config.json"), &config);
    }
}

#[test]
fn the_platform_reaches_every_op_and_the_config() {
    let src = "def build():\n    base(image=\"x:1\")\n    install.system_packages(name=[\"curl\"])\n    run(commands=[\"true\"])\n";
    let config = LowerConfig {
        platform: Platform::parse("linux/arm64/v8").unwrap(),
        caps: LlbCaps::default(),
        no_cache: true,
        labels: vec![("team".into(), "ml".into())],
        ..config()
    };
    let lowered = lower(&plan(src), &config, &inputs(src, "x:1", BASE_CONFIG)).unwrap();
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

/// Lowers `src` on the fixed base with `env_files`; the base's config
/// can be changed with `base_config`.
fn lower_with(
    src: &str,
    env_files: &[(&str, &str)],
    base_config: &str,
    merge_diff: bool,
) -> Result<Lowered, Diagnostic> {
    let inputs = Inputs {
        context_files: env_files.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..inputs(src, "x:1", base_config)
    };
    lower(&plan(src), &LowerConfig { caps: LlbCaps { merge_diff }, ..config() }, &inputs)
}

fn conda_error(src: &str, env_files: &[(&str, &str)]) -> (String, u32) {
    let e = lower_with(src, env_files, BASE_CONFIG, true).unwrap_err();
    (e.message, e.span.expect("a conda error has a line").line)
}

const CONDA_BUILD: &str = "def build():\n    base(os=\"ubuntu20.04\", language=\"python3.11\")\n    install.system_packages(name=[\"curl\"])\n    install.conda_packages(env_file=\"env.yaml\")\n    install.python_packages(name=[\"six\"])\n";

fn dump_of(l: &Lowered) -> String {
    dump(&l.state.marshal().unwrap().definition)
}

#[test]
fn conda_and_apt_are_merged_branches_or_one_chain_without_merge_op() {
    let env = [("env.yaml", "channels: [./channel]\ndependencies:\n  - app\n")];
    let merged = dump_of(&lower_with(CONDA_BUILD, &env, BASE_CONFIG, true).unwrap());
    assert!(merged.contains("merge") && merged.contains("diff"), "{merged}");
    let linear = dump_of(&lower_with(CONDA_BUILD, &env, BASE_CONFIG, false).unwrap());
    assert!(!linear.contains("merge") && !linear.contains("diff"), "{linear}");
    for d in [&merged, &linear] {
        // pip runs after conda, with the environment's python if the
        // solve brought one, else the base's
        assert!(d.contains("py=/opt/conda/bin/python\\n[ -x \\\"$py\\\" ] || py=python3\\n"), "{d}");
        assert!(d.contains("\\\"$py\\\" -m pip install"), "{d}");
        assert!(d.contains("file:///run/envd/context/channel"), "{d}");
        assert!(d.contains("python 3.11.*"), "{d}");
    }
}

#[test]
fn the_image_finds_conda_first_on_path_and_a_conda_base_keeps_its_prefix() {
    let env = [("env.yaml", "dependencies: [app]\n")];
    let l = lower_with(CONDA_BUILD, &env, BASE_CONFIG, true).unwrap();
    let cfg = l.config.as_json();
    assert_eq!(
        cfg["config"]["Env"][0],
        "PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    assert_eq!(cfg["config"]["Labels"]["org.aiges.envd.conda-packages"], "app");
    let conda_base = r#"{"config":{"Env":["PATH=/opt/miniconda/bin:/usr/bin:/bin","CONDA_DIR=/opt/miniconda"]}}"#;
    let l = lower_with(CONDA_BUILD, &env, conda_base, true).unwrap();
    assert_eq!(l.config.as_json()["config"]["Env"][0], "PATH=/opt/miniconda/bin:/usr/bin:/bin");
    assert!(dump_of(&l).contains(r#"\"prefix\": \"/opt/miniconda\""#), "{}", dump_of(&l));
}

#[test]
fn env_file_and_spec_mistakes_are_errors_at_the_conda_line() {
    let src = |extra: &str| {
        format!("def build():\n    base(os=\"ubuntu20.04\", language=\"python3.11\")\n    install.conda_packages({extra})\n")
    };
    let file = src("env_file=\"env.yaml\"");
    assert_eq!(
        conda_error(&file, &[]),
        ("install.conda_packages: env_file \"env.yaml\" was not found in the build context".into(), 3)
    );
    let (m, line) = conda_error(&file, &[("env.yaml", "dependencies: [a\n")]);
    assert!(m.starts_with("install.conda_packages: env_file \"env.yaml\" is not valid YAML: "), "{m}");
    assert_eq!(line, 3);
    assert_eq!(
        conda_error(&file, &[("env.yaml", "dependencies:\n  - numpy>>=1\n")]).0,
        "install.conda_packages: env_file \"env.yaml\": `numpy>>=1` is not a valid conda package spec: \
         unable to parse version spec: >>=1"
    );
    assert!(conda_error(&src("name=[\"numpy>>=1\"]"), &[])
        .0
        .starts_with("install.conda_packages: `numpy>>=1` is not a valid conda package spec"));
    assert_eq!(
        conda_error(&src("name=[\"app\"], channel=[\"ftp://x\"]"), &[]),
        ("install.conda_packages: channel `ftp://x` has a URL scheme other than https, http and file".into(), 3)
    );
    let rc = "def build():\n    base(os=\"ubuntu20.04\", language=\"python3.11\")\n    config.conda_channel(channel=\"channels: [/srv/ch]\")\n    install.conda_packages(name=[\"app\"])\n";
    let (m, line) = conda_error(rc, &[]);
    assert!(m.starts_with("config.conda_channel: channel `/srv/ch` is a path outside the build context"), "{m}");
    assert_eq!(line, 3);
}

#[test]
fn without_its_own_image_the_frontend_says_why_conda_cannot_run() {
    let src = "def build():\n    base(image=\"x:1\")\n    install.conda_packages(name=[\"app\"])\n";
    let inputs = Inputs { installer_image: None, ..inputs(src, "x:1", BASE_CONFIG) };
    let err = lower(&plan(src), &config(), &inputs).unwrap_err();
    assert!(err.message.contains("needs the frontend's own image"), "{}", err.message);
    assert_eq!(err.span.map(|s| s.line), Some(3));
}

/// The script of the step named `install.python_packages …` when `src`
/// lowers on a base whose config has `env`, with `backend`.
fn torch_script(src: &str, files: &[(&str, &str)], env: &str, backend: envd_gpu::Backend) -> String {
    let base_config = BASE_CONFIG.replace("\"Env\":[", &format!("\"Env\":[{env}"));
    let inputs = Inputs {
        context_files: files.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..inputs(src, "x:1", &base_config)
    };
    let config = LowerConfig { torch_backend: backend, torch_index: "http://mirror.test/whl".into(), ..config() };
    let lowered = lower(&plan(src), &config, &inputs).unwrap();
    let step = lowered.scripts.iter().find(|s| s.name.contains("install.python_packages")).expect("a python step");
    step.script.clone()
}

#[test]
fn the_torch_family_comes_from_the_variant_the_base_can_run() {
    use envd_gpu::{Backend, Variant};
    let gpu = "\"CUDA_VERSION=11.6.2\",";
    let torch =
        "def build():\n    base(image=\"x:1\")\n    install.python_packages(name=[\"torch==1.13.1\", \"six\"])\n";
    let s = torch_script(torch, &[], gpu, Backend::Auto);
    assert!(s.contains("'--extra-index-url=http://mirror.test/whl/cu116'"), "{s}");
    assert!(s.contains("echo 'envd: torch from http://mirror.test/whl/cu116 (base CUDA 11.6.2)'"), "{s}");
    let s = torch_script(torch, &[], "", Backend::Auto);
    assert!(s.contains("--extra-index-url=http://mirror.test/whl/cpu") && s.contains("(the base has no CUDA)"), "{s}");

    // What the user names wins: a local version, an index of their own.
    let reqs = "torch==1.13.1+cu118\ntorchvision==0.14.1\n";
    let from_file =
        "def build():\n    base(image=\"x:1\")\n    install.python_packages(requirements=\"requirements.txt\")\n";
    let s = torch_script(from_file, &[("requirements.txt", reqs)], gpu, Backend::Auto);
    assert!(s.contains("whl/cu118'") && s.contains("(torch==1.13.1+cu118 names it)"), "{s}");
    let own = "--extra-index-url https://download.pytorch.org/whl/cu117\ntorch==1.13.1\n";
    let s = torch_script(from_file, &[("requirements.txt", own)], gpu, Backend::Auto);
    assert!(!s.contains("envd: torch") && !s.contains("mirror.test"), "{s}");
    let configured = "def build():\n    base(image=\"x:1\")\n    config.pip_index(url=\"https://pypi.org/simple\", extra_url=\"https://m.test/whl/cu117\")\n    install.python_packages(name=[\"torch==1.13.1\"])\n";
    assert!(!torch_script(configured, &[], gpu, Backend::Auto).contains("mirror.test"));

    // The build arg forces a variant or turns the choice off.
    let s = torch_script(torch, &[], gpu, Backend::Force(Variant::Cpu));
    assert!(s.contains("whl/cpu'") && s.contains("(ENVD_TORCH_BACKEND=cpu)"), "{s}");
    let s = torch_script(torch, &[], gpu, Backend::Off);
    assert!(!s.contains("envd: torch") && !s.contains("mirror.test"), "{s}");

    // No torch, no index; a torch with no build for the base says so.
    let six = "def build():\n    base(image=\"x:1\")\n    install.python_packages(name=[\"six\"])\n";
    assert!(!torch_script(six, &[], gpu, Backend::Auto).contains("envd: torch"));
    let new = "def build():\n    base(image=\"x:1\")\n    install.python_packages(name=[\"torch==2.5.1\"])\n";
    let s = torch_script(new, &[], gpu, Backend::Auto);
    assert!(
        s.contains("envd: torch 2.5.1 has no PyTorch build for CUDA 11.6.2 or older") && !s.contains("mirror.test"),
        "{s}"
    );
}
