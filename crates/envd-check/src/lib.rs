//! The build.envd linter.
//!
//! It looks at an evaluated build — the [`Plan`](envd_lang::Plan), the
//! reads of `args`, the warnings evaluation met — and at the files the
//! plan names (env files and requirements files), and reports what would
//! bite an AIGES service build: packages installed around the caches,
//! pythons the loader cannot embed, credentials written into the build,
//! pins that fight each other.
//!
//! The rules themselves are [`envd_lang::Rule`]: evaluation reports the
//! ones only it can see (a deprecated argument spelling), and this crate
//! the ones that need the whole plan. [`CheckConfig`] is the
//! `# check=` / `ENVD_CHECK` switch. The frontend sends the findings as
//! build warnings and answers `--call check` with them.

mod build_args;
mod config;
mod credentials;
mod env_file;
mod finding;
mod gpu;
mod loader;
mod named;
mod pins;
mod python;
mod run_steps;
mod shell;

use envd_lang::{ContextPath, Evaluated, StepKind};

pub use build_args::PROXY_ARGS;
pub use config::{CheckConfig, ENVD_CHECK_ARG};
pub use finding::{Finding, Input};

/// The context files the linter reads: env files and requirements files,
/// in call order without repeats.
pub fn files_to_read(evaluated: &Evaluated) -> Vec<ContextPath> {
    let mut out: Vec<ContextPath> = Vec::new();
    for step in &evaluated.plan.steps {
        let path = match &step.kind {
            StepKind::CondaPackages { env_file, .. } => env_file.as_ref(),
            StepKind::PythonPackages { requirements, .. } => requirements.as_ref(),
            _ => None,
        };
        if let Some(p) = path.filter(|p| !out.contains(p)) {
            out.push(p.clone());
        }
    }
    out
}

/// Every finding, ordered by file (build.envd first) and line.
pub fn lint(input: &Input) -> Vec<Finding> {
    let mut out: Vec<Finding> = input
        .evaluated
        .warnings
        .iter()
        .filter_map(|w| w.rule.map(|rule| Finding { rule, message: w.message.clone(), span: Some(w.span.clone()) }))
        .collect();
    run_steps::check(input, &mut out);
    python::check(input, &mut out);
    credentials::check(input, &mut out);
    pins::check(input, &mut out);
    gpu::check(input, &mut out);
    loader::check(input, &mut out);
    env_file::check(input, &mut out);
    build_args::check(input, &mut out);
    let build_file = input.evaluated.plan.base.span.file.clone();
    out.sort_by_key(|f| match &f.span {
        Some(s) => (s.file != build_file, s.file.clone(), s.line),
        None => (true, String::new(), 0),
    });
    out
}

#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use envd_gpu::BaseCuda;
    use envd_lang::{evaluate, EvalOptions, Rule};

    use super::*;

    /// The findings of `rule` for `source` with `files` and `args`, on a
    /// base whose CUDA is not known.
    pub(crate) fn findings(rule: Rule, source: &str, files: &[(&str, &str)], args: &[(&str, &str)]) -> Vec<Finding> {
        findings_on(BaseCuda::Unknown, rule, source, files, args)
    }

    /// [`findings`] on a base with `base_cuda`.
    pub(crate) fn findings_on(
        base_cuda: BaseCuda,
        rule: Rule,
        source: &str,
        files: &[(&str, &str)],
        args: &[(&str, &str)],
    ) -> Vec<Finding> {
        let build_args: BTreeMap<String, String> = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let opts = EvalOptions { build_args: build_args.clone(), ..Default::default() };
        let evaluated = evaluate("build.envd", source, &opts).unwrap_or_else(|e| panic!("{e}"));
        let files: BTreeMap<String, String> = files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        lint(&Input { evaluated: &evaluated, build_args: &build_args, files: &files, base_cuda })
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    /// `findings` as (line, message) pairs.
    pub(crate) fn lines(rule: Rule, source: &str, files: &[(&str, &str)], args: &[(&str, &str)]) -> Vec<(u32, String)> {
        lines_on(BaseCuda::Unknown, rule, source, files, args)
    }

    /// [`lines`] on a base with `base_cuda`.
    pub(crate) fn lines_on(
        base_cuda: BaseCuda,
        rule: Rule,
        source: &str,
        files: &[(&str, &str)],
        args: &[(&str, &str)],
    ) -> Vec<(u32, String)> {
        findings_on(base_cuda, rule, source, files, args)
            .into_iter()
            .map(|f| (f.span.map_or(0, |s| s.line), f.message))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use super::testing::findings;
    use super::*;

    #[test]
    fn evaluation_warnings_become_findings_of_their_rule() {
        let src = "def build():\n    base(os=\"ubuntu20.04\")\n    io.copy(host_path=\"a\", envd_path=\"/a\")\n";
        assert_eq!(findings(Rule::BaseOsIgnored, src, &[], &[]).len(), 1);
        let alias = findings(Rule::DeprecatedAlias, src, &[], &[]);
        assert_eq!(alias.len(), 2, "{alias:?}");
        assert_eq!(alias[0].span.as_ref().unwrap().line, 3);
        let clean = "def build():\n    base()\n    io.copy(src=\"a\", dest=\"/a\")\n";
        assert!(findings(Rule::BaseOsIgnored, clean, &[], &[]).is_empty());
        assert!(findings(Rule::DeprecatedAlias, clean, &[], &[]).is_empty());
        let stray = "def build():\n    base()\n    config.conda_channel(channel=\"\"\"\nchannels:\n  - defaults\npytorch: https://m.example/cloud\n\"\"\")\n";
        assert_eq!(findings(Rule::CondaChannelKeyMisplaced, stray, &[], &[]).len(), 1);
        let tidy = "def build():\n    base()\n    config.conda_channel(channel=\"\"\"\nchannels:\n  - defaults\ncustom_channels:\n  pytorch: https://m.example/cloud\n\"\"\")\n";
        assert!(findings(Rule::CondaChannelKeyMisplaced, tidy, &[], &[]).is_empty());
    }

    #[test]
    fn files_to_read_are_env_and_requirements_files_once() {
        let src = "def build():\n    base()\n    install.python_packages(requirements=\"r.txt\")\n    install.conda_packages(env_file=\"env.yaml\")\n    install.python_packages(requirements=\"r.txt\")\n";
        let ev = envd_lang::evaluate("build.envd", src, &Default::default()).unwrap();
        let files = files_to_read(&ev);
        let paths: Vec<&str> = files.iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, ["r.txt", "env.yaml"]);
    }
}

#[cfg(test)]
mod readme {
    use envd_lang::Rule;

    /// Each rule's URL is an anchor of docs/rules.md, where it has a bad
    /// and a good example, and the README's table of rules links there.
    #[test]
    fn every_rule_has_its_section_in_the_rules_doc() {
        let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md")).unwrap();
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        for rule in Rule::ALL {
            let heading = format!("\n## {}\n", rule.name());
            let at = rules.find(&heading).unwrap_or_else(|| panic!("docs/rules.md has no {heading:?}"));
            let section = &rules[at + heading.len()..];
            let section = &section[..section.find("\n## ").unwrap_or(section.len())];
            assert!(section.contains("bad") && section.contains("good"), "{rule}: {section}");
            let anchor = format!("docs/rules.md#{}", rule.name().to_lowercase());
            assert!(rule.url().ends_with(&anchor), "{}", rule.url());
            assert!(readme.contains(&format!("[{rule}]({anchor})")), "README.md's table has no row for {rule}");
        }
    }
}
