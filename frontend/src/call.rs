//! `docker buildx build --call targets|outline|check`: BuildKit's
//! subrequests, answered for build.envd.
//!
//! buildx puts the request in the `requestid` option and reads the answer
//! from the result's metadata: `result.json` in the JSON shapes of
//! BuildKit's `frontend/subrequests/{targets,outline,lint}` (buildx prints
//! it itself), `result.txt` (printed as is when buildx knows an older
//! version of the shape), `version`, and for `check` the exit code in
//! `result.statuscode`. Places in the build file are `sources` plus a
//! `location` of a source index and line ranges.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use envd_check::Finding;
use envd_gateway::Client;
use envd_lang::{Diagnostic, ReadKind, Span};
use envd_llb::SourceMap;
use envd_lower::{AIGES_CPU_IMAGE_ARG, AIGES_DEVICE_ARG, AIGES_GPU_IMAGE_ARG};
use serde_json::{json, Value};

use crate::analysis::{self, Subject};
use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{self, ContextReader, Entrypoint};
use crate::report::{self, source_text};
use crate::request::{DESCRIBE, LINT, OUTLINE, TARGETS};

/// The version of every answer's shape: BuildKit's 1.0.0 of each.
const VERSION: &str = "1.0.0";

/// The result metadata of an answer.
pub type Answer = HashMap<String, Vec<u8>>;

fn answer(json: &Value, text: String) -> Answer {
    HashMap::from([
        ("result.json".to_owned(), serde_json::to_vec_pretty(json).expect("JSON values serialise")),
        ("result.txt".to_owned(), text.into_bytes()),
        ("version".to_owned(), VERSION.as_bytes().to_vec()),
    ])
}

/// `frontend.subrequests.describe`: the requests this frontend answers.
pub fn describe() -> Answer {
    let request = |name: &str, description: &str, opts: Value, metadata: &[&str]| {
        json!({
            "name": name,
            "version": VERSION,
            "type": "rpc",
            "description": description,
            "opts": opts,
            "inputs": [],
            "metadata": metadata.iter().map(|m| json!({ "name": m, "description": "" })).collect::<Vec<_>>(),
            "refs": [],
        })
    };
    let meta = ["result.json", "result.txt"];
    let all = json!([
        request(
            OUTLINE,
            "List all parameters current build target supports",
            json!([{ "name": "target", "description": "Target build stage" }]),
            &meta
        ),
        request(TARGETS, "List all targets current build supports", json!([]), &meta),
        request(LINT, "Lint a build.envd", json!([]), &["result.json", "result.txt", "result.statuscode"]),
        request(DESCRIBE, "List available subrequest types", json!([]), &meta),
    ]);
    let rows: Vec<Vec<String>> = std::iter::once(vec!["NAME".into(), "VERSION".into(), "DESCRIPTION".into()])
        .chain(all.as_array().into_iter().flatten().map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            vec![field("name").trim_start_matches("frontend.").to_owned(), field("version"), field("description")]
        }))
        .collect();
    answer(&all, table(&rows, 1))
}

/// A location in source `index` at lines `start..=end`, as `pb.Location`.
fn location(index: i64, start: u32, end: u32) -> Value {
    let pos = |l: u32| json!({ "line": l.max(1) });
    json!({ "sourceIndex": index, "ranges": [{ "start": pos(start), "end": pos(end.max(start)) }] })
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `frontend.targets`: the functions `--target` can name.
pub async fn targets(config: &Config, client: &Client) -> Result<Answer, Failure> {
    let entry = inputs::read_entrypoint(config, client).await?;
    let text = source_text(&config.filename, &entry.source).map_err(|f| f.in_file(&entry.source))?;
    let targets = envd_lang::targets(&config.filename, &text).map_err(|d| Failure::from(d).in_file(&entry.source))?;
    let json = json!({
        "targets": targets.iter().map(|t| json!({
            "name": t.name,
            "default": t.default,
            "description": t.description.clone().unwrap_or_default(),
            "location": location(0, t.span.line, t.span.line),
        })).collect::<Vec<_>>(),
        "sources": [b64(&entry.source.data)],
    });
    let mut rows = vec![vec!["TARGET".to_owned(), "DESCRIPTION".to_owned()]];
    for t in &targets {
        let name = if t.default { format!("{} (default)", t.name) } else { t.name.clone() };
        rows.push(vec![name, t.description.clone().unwrap_or_default()]);
    }
    Ok(answer(&json, table(&rows, 1)))
}

/// `frontend.outline`: the build args the target reads (its own code path
/// decides), the `AIGES_*` args that choose its base, and its cache
/// mounts.
pub async fn outline(config: &Config, client: &Client) -> Result<Answer, Failure> {
    let entry = inputs::read_entrypoint(config, client).await?;
    outline_of(config, &entry).await.map_err(|f| f.in_file(&entry.source))
}

async fn outline_of(config: &Config, entry: &Entrypoint) -> Result<Answer, Failure> {
    let text = source_text(&config.filename, &entry.source)?;
    let (targets, comments) = envd_lang::targets_and_comments(&config.filename, &text)?;
    let evaluated = analysis::evaluate(&config.filename, &text, analysis::eval_options(config, true), None).await?;
    let plan = &evaluated.plan;
    let description = targets.iter().find(|t| t.name == plan.target).and_then(|t| t.description.clone());

    let mut args: Vec<Value> = Vec::new();
    let mut rows = vec![vec!["BUILD ARG".to_owned(), "VALUE".to_owned(), "DESCRIPTION".to_owned()]];
    let mut seen: Vec<&str> = Vec::new();
    for read in evaluated.reads.iter().filter(|r| r.how != ReadKind::Each) {
        if seen.contains(&read.name.as_str()) {
            continue;
        }
        seen.push(&read.name);
        // The first read with a default says what the default is.
        let default = evaluated.reads.iter().filter(|r| r.name == read.name).find_map(|r| r.default.clone());
        let value = config.build_args.get(&read.name).cloned().or(default).unwrap_or_default();
        let described = read.span.as_ref().and_then(|s| comments.describing(s.line)).unwrap_or_default();
        let mut arg = json!({ "name": read.name, "value": value, "description": described });
        if let Some(s) = &read.span {
            arg["location"] = location(0, s.line, s.end_line);
        }
        rows.push(vec![read.name.clone(), value, described]);
        args.push(arg);
    }
    for (name, value, meaning) in base_args(config, plan)? {
        rows.push(vec![name.to_owned(), value.clone(), meaning.clone()]);
        args.push(json!({ "name": name, "value": value, "description": meaning }));
    }

    let cache: Vec<Value> = envd_lower::well_known::cache_mounts_of(plan)
        .into_iter()
        .map(|(m, s)| json!({ "ID": m.id, "location": location(0, s.line, s.end_line) }))
        .collect();
    let used = envd_lower::secrets::used_by(plan);
    let named = |ssh: bool| -> Vec<Value> {
        used.iter().filter(|s| s.ssh == ssh).map(|s| json!({ "name": s.id, "required": false })).collect()
    };
    let (secrets, ssh) = (named(false), named(true));
    let sbom = sbom_outline(plan);
    let json = json!({
        "name": plan.target,
        "description": description.clone().unwrap_or_default(),
        "args": args,
        "secrets": secrets,
        "ssh": ssh,
        "cache": cache,
        "sources": [b64(&entry.source.data)],
        "sbom": sbom,
    });
    let mut text = String::new();
    let mut head = vec![vec!["TARGET:".to_owned(), plan.target.clone()]];
    if let Some(d) = &description {
        head.push(vec!["DESCRIPTION:".to_owned(), d.clone()]);
    }
    head.push(vec!["SBOM:".to_owned(), sbom.as_str().unwrap_or_default().to_owned()]);
    let _ = writeln!(text, "{}", table(&head, 1));
    let _ = writeln!(text, "{}", table(&rows, 3));
    for (title, list) in [("SECRET", &secrets), ("SSH", &ssh)] {
        if !list.is_empty() {
            let mut rows = vec![vec![title.to_owned(), "REQUIRED".to_owned()]];
            rows.extend(list.iter().map(|s| vec![s["name"].as_str().unwrap_or_default().to_owned(), String::new()]));
            let _ = writeln!(text, "{}", table(&rows, 3));
        }
    }
    Ok(answer(&json, text))
}

/// What `--sbom=true` gives for this target: the frontend's own SPDX
/// document, and which install records it reads.
fn sbom_outline(plan: &envd_lang::Plan) -> Value {
    let mut kinds = Vec::new();
    for (kind, name) in [
        (|k: &envd_lang::StepKind| matches!(k, envd_lang::StepKind::SystemPackages { .. })) as fn(&_) -> bool,
        |k| matches!(k, envd_lang::StepKind::CondaPackages { .. }),
        |k| matches!(k, envd_lang::StepKind::PythonPackages { .. }),
    ]
    .into_iter()
    .zip(["apt (dpkg's status)", "conda (conda-meta)", "python (.dist-info)"])
    {
        if plan.steps.iter().any(|s| kind(&s.kind)) {
            kinds.push(name);
        }
    }
    let installs = if kinds.is_empty() { "none; it names the base".to_owned() } else { kinds.join(", ") };
    format!("available: --sbom=true writes an SPDX document from the install records of {installs}").into()
}

/// The `AIGES_*` args with their value and what they do for this target.
fn base_args(config: &Config, plan: &envd_lang::Plan) -> Result<Vec<(&'static str, String, String)>, Diagnostic> {
    let chosen = envd_lower::needs(plan, &config.base_overrides)?.base;
    let given = |name: &str| config.build_args.get(name).cloned().unwrap_or_default();
    let device = if plan.base.image_explicit {
        "has no effect: base(image=) names the image".to_owned()
    } else {
        format!("cpu or gpu, for a base() that names no image; the base is {}", chosen.label)
    };
    let image = |which: &str| match &plan.base.image {
        envd_lang::BaseImage::Reference(_) => {
            format!("replaces {which}; has no effect: base(image=) names another image")
        }
        _ => format!("replaces {which}; the base is {}", chosen.reference),
    };
    let mut args = vec![
        (AIGES_DEVICE_ARG, given(AIGES_DEVICE_ARG), device),
        (AIGES_CPU_IMAGE_ARG, given(AIGES_CPU_IMAGE_ARG), image("aiges_cpu")),
        (AIGES_GPU_IMAGE_ARG, given(AIGES_GPU_IMAGE_ARG), image("aiges_gpu ({cuda} is the CUDA version)")),
    ];
    let installs_python = plan.steps.iter().any(|s| {
        matches!(s.kind, envd_lang::StepKind::PythonPackages { .. } | envd_lang::StepKind::CondaPackages { .. })
    });
    if installs_python {
        let torch = torch_outline(config, plan, &chosen);
        args.push((envd_lower::TORCH_BACKEND_ARG, given(envd_lower::TORCH_BACKEND_ARG), torch));
        args.push((
            envd_lower::TORCH_INDEX_ARG,
            given(envd_lower::TORCH_INDEX_ARG),
            format!("where PyTorch's variant indexes are; now {}", config.torch_index),
        ));
    }
    Ok(args)
}

/// Which build of the torch family a python step that names it installs
/// (see README's GPU packages): the variant and why, as far as the
/// outline knows the base and the pins (build.envd's, not the files').
fn torch_outline(config: &Config, plan: &envd_lang::Plan, chosen: &envd_lower::BaseChoice) -> String {
    use envd_gpu::Backend;
    let index = &config.torch_index;
    let torch = plan.steps.iter().find_map(|s| match &s.kind {
        envd_lang::StepKind::PythonPackages { names, .. } => names
            .iter()
            .filter_map(|n| envd_gpu::Requirement::parse(n))
            .find(|r| r.name == "torch")
            .and_then(|r| r.version),
        _ => None,
    });
    let prefix = "auto, off, cpu or cuXYZ: the build of torch, torchvision, torchaudio and xformers";
    match (config.torch_backend, &chosen.cuda, chosen.alias) {
        (Backend::Off, ..) => format!("{prefix}; off: no PyTorch index is added"),
        (Backend::Force(v), ..) => format!("{prefix}; from {index}/{v}"),
        (Backend::Auto, Some(cuda), _) => {
            let variant = envd_gpu::Cuda::parse(cuda).and_then(|c| envd_gpu::nearest(c, torch.as_deref()));
            match variant {
                Some(v) => format!("{prefix}; from {index}/{v} (the base's CUDA {cuda} or its config's CUDA_VERSION)"),
                None => format!("{prefix}; none: PyTorch built no torch for CUDA {cuda} or older"),
            }
        }
        (Backend::Auto, None, Some("aiges_cpu")) => format!("{prefix}; from {index}/cpu (aiges_cpu has no CUDA)"),
        (Backend::Auto, None, _) => {
            format!("{prefix}; from the variant of the base's CUDA_VERSION, read when the build runs (its log says)")
        }
    }
}

/// `frontend.lint`: the findings, with `result.statuscode` 1 if there is
/// any; a build file that does not evaluate is a `buildError` at its line.
pub async fn lint(config: &Config, client: &Client) -> Result<Answer, Failure> {
    let entry = inputs::read_entrypoint(config, client).await?;
    let text = source_text(&config.filename, &entry.source).map_err(|f| f.in_file(&entry.source))?;
    let mut sources = Sources::new(&entry.source);
    let checked = async {
        let analysis =
            analysis::analyse(Subject::of(config, &text), &mut ContextReader::new(config, client, &entry), None)
                .await?;
        Ok::<_, Failure>((analysis.findings, analysis.files))
    };
    let json = match checked.await {
        Ok((findings, files)) => {
            let warnings: Vec<Value> = findings.iter().map(|f| sources.warning(f, &files)).collect();
            json!({ "warnings": warnings, "sources": sources.json() })
        }
        Err(Failure::Diagnostic(d, _)) => {
            let at = d.span.as_ref().map_or_else(|| json!({ "sourceIndex": 0 }), |s| location(0, s.line, s.end_line));
            json!({ "warnings": [], "sources": sources.json(), "buildError": { "message": d.text(), "location": at } })
        }
        Err(upstream) => return Err(upstream),
    };
    let failed = json["buildError"].is_object() || json["warnings"].as_array().is_some_and(|w| !w.is_empty());
    let mut out = answer(&json, lint_text(&json));
    out.insert("result.statuscode".to_owned(), if failed { b"1".to_vec() } else { b"0".to_vec() });
    Ok(out)
}

/// The `sources` of a lint answer: the build file first, then each file a
/// finding points into.
struct Sources {
    list: Vec<Arc<SourceMap>>,
}

impl Sources {
    fn new(build_file: &Arc<SourceMap>) -> Self {
        Self { list: vec![build_file.clone()] }
    }

    fn index(&mut self, span: &Span, files: &BTreeMap<String, String>) -> Option<i64> {
        if let Some(i) = self.list.iter().position(|s| s.filename == span.file) {
            return Some(i as i64);
        }
        self.list.push(report::context_source(files, &span.file)?);
        Some(self.list.len() as i64 - 1)
    }

    fn warning(&mut self, f: &Finding, files: &BTreeMap<String, String>) -> Value {
        let at = f
            .span
            .as_ref()
            .and_then(|s| self.index(s, files).map(|i| location(i, s.line, s.end_line)))
            // No place in any file (an unused --build-arg): buildx prints
            // no lines for a negative index.
            .unwrap_or_else(|| json!({ "sourceIndex": -1 }));
        json!({
            "ruleName": f.rule.name(),
            "description": f.rule.description(),
            "url": f.rule.url(),
            "detail": f.message,
            "location": at,
        })
    }

    fn json(&self) -> Value {
        Value::Array(
            self.list
                .iter()
                .map(|s| json!({ "filename": s.filename, "data": b64(&s.data), "language": s.language }))
                .collect(),
        )
    }
}

/// The lint answer as text, for a buildx that prints `result.txt`.
fn lint_text(json: &Value) -> String {
    let mut out = String::new();
    let names: Vec<&str> =
        json["sources"].as_array().into_iter().flatten().map(|s| s["filename"].as_str().unwrap_or_default()).collect();
    let place = |loc: &Value| {
        let i = loc["sourceIndex"].as_i64().unwrap_or(-1);
        let line = loc["ranges"][0]["start"]["line"].as_i64();
        match (usize::try_from(i).ok().and_then(|i| names.get(i)), line) {
            (Some(name), Some(line)) => format!("{name}:{line}\n"),
            _ => String::new(),
        }
    };
    for w in json["warnings"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "\nWARNING: {} - {}\n{}\n{}",
            w["ruleName"].as_str().unwrap_or_default(),
            w["url"].as_str().unwrap_or_default(),
            w["detail"].as_str().unwrap_or_default(),
            place(&w["location"])
        );
    }
    if let Some(e) = json["buildError"].as_object() {
        let _ = write!(out, "{}\n{}", e["message"].as_str().unwrap_or_default(), place(&e["location"]));
    }
    out
}

/// Rows as Go's tabwriter lays them out: every cell but a row's last is
/// padded to its column's width plus `padding`.
fn table(rows: &[Vec<String>], padding: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter(|r| c + 1 < r.len()).map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 < row.len() {
                let _ = write!(out, "{cell:<width$}", width = widths[c] + padding);
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_all_but_the_last_cell() {
        let rows =
            vec![vec!["TARGET".to_owned(), "DESCRIPTION".to_owned()], vec!["build (default)".into(), "CPU".into()]];
        assert_eq!(table(&rows, 1), "TARGET          DESCRIPTION\nbuild (default) CPU\n");
    }

    #[test]
    fn describe_lists_the_requests_answered() {
        let a = describe();
        let v: Value = serde_json::from_slice(&a["result.json"]).unwrap();
        let names: Vec<&str> = v.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, [OUTLINE, TARGETS, LINT, DESCRIBE]);
        assert_eq!(a["version"], b"1.0.0");
        let text = String::from_utf8_lossy(&a["result.txt"]).into_owned();
        assert!(text.contains(&format!("{:<21}{:<8}Lint a build.envd\n", "lint", "1.0.0")), "{text}");
    }

    #[test]
    fn lint_text_names_rule_url_and_place() {
        let json = json!({
            "warnings": [{ "ruleName": "PipInstallInRun", "url": "u", "detail": "d", "location": location(0, 3, 3) }],
            "sources": [{ "filename": "build.envd" }],
        });
        assert_eq!(lint_text(&json), "\nWARNING: PipInstallInRun - u\nd\nbuild.envd:3\n");
    }
}
