//! `UndefinedBuildArg` and `UnusedBuildArg`: build args read and given.
//!
//! `args.get("X")` with no default gives `None` when X is not given, and
//! the build goes on with it; a `--build-arg` that build.envd never reads
//! is most often a misspelt name. The args that steer the frontend or
//! BuildKit rather than the file (`AIGES_*`, `ENVD_*`, `BUILDKIT_*`,
//! `SOURCE_DATE_EPOCH`, `CONDA_OVERRIDE_CUDA`, the proxies) are read by
//! them.

use std::collections::BTreeSet;

use envd_lang::{ReadKind, Rule};

use crate::config::ENVD_CHECK_ARG;

/// The proxy build args (either case), which the frontend hands to every
/// step as BuildKit's proxy settings.
pub const PROXY_ARGS: [&str; 5] = ["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"];

/// Other build args the frontend or BuildKit reads: the dates of a
/// reproducible build and conda's `__cuda` override.
pub const FRONTEND_ARGS: [&str; 2] = ["SOURCE_DATE_EPOCH", "CONDA_OVERRIDE_CUDA"];

/// Prefixes of build args the frontend (`AIGES_*` choose the base,
/// `ENVD_*` steer the build) or BuildKit (`BUILDKIT_*`) reads.
pub const FRONTEND_PREFIXES: [&str; 3] = ["AIGES_", "ENVD_", "BUILDKIT_"];
use crate::finding::{Finding, Input};

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let reads = &input.evaluated.reads;
    let mut reported = BTreeSet::new();
    for r in reads {
        if r.how == ReadKind::Get && r.default.is_none() && !r.given && reported.insert(&r.name) {
            out.push(Finding {
                rule: Rule::UndefinedBuildArg,
                message: format!(
                    "build arg {:?} is read with no default and was not given, so it is None; pass --build-arg {}=... or give args.get a default",
                    r.name, r.name
                ),
                span: r.span.clone(),
            });
        }
    }
    let read: BTreeSet<&str> = reads.iter().map(|r| r.name.as_str()).collect();
    for name in input.build_args.keys() {
        let proxy = PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name));
        let frontend = FRONTEND_PREFIXES.iter().any(|p| name.starts_with(p))
            || name == ENVD_CHECK_ARG
            || FRONTEND_ARGS.contains(&name.as_str());
        if read.contains(name.as_str()) || frontend || proxy {
            continue;
        }
        out.push(Finding {
            rule: Rule::UnusedBuildArg,
            message: format!("--build-arg {name} is given but {}() never reads it", input.evaluated.plan.target),
            span: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::{findings, lines};

    const SRC: &str = "def build():\n    base()\n    v = args.get(\"VERSION\")\n    w = args.get(\"WEIGHTS\", \"s3://m\")\n    if \"DEBUG\" in args:\n        pass\n";

    #[test]
    fn a_read_with_no_default_that_was_not_given() {
        let l = lines(Rule::UndefinedBuildArg, SRC, &[], &[]);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, 3);
        assert!(l[0].1.starts_with("build arg \"VERSION\" is read with no default and was not given"), "{}", l[0].1);
        assert!(lines(Rule::UndefinedBuildArg, SRC, &[], &[("VERSION", "1")]).is_empty());
    }

    #[test]
    fn an_arg_nothing_reads() {
        let f = findings(
            Rule::UnusedBuildArg,
            SRC,
            &[],
            &[
                ("VERSOIN", "1"),
                ("DEBUG", "1"),
                ("AIGES_DEVICE", "cpu"),
                ("https_proxy", "http://p:3128"),
                ("ENVD_PYTHON_INSTALLER", "pip"),
                ("ENVD_PYTHON_LAYERS", "single"),
                ("CONDA_OVERRIDE_CUDA", "11.8"),
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("BUILDKIT_INLINE_CACHE", "1"),
            ],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].message, "--build-arg VERSOIN is given but build() never reads it");
        assert!(f[0].span.is_none());
        assert!(findings(Rule::UnusedBuildArg, SRC, &[], &[("VERSION", "1"), ("WEIGHTS", "x")]).is_empty());
    }
}
