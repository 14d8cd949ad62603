//! Which findings count, and whether they fail the build: the
//! `# check=` directive of build.envd and the `ENVD_CHECK` build arg, in
//! the grammar of the Dockerfile's `# check=` and
//! `BUILDKIT_DOCKERFILE_CHECK`: `skip=RuleA,RuleB` or `skip=all`, and
//! `error=true`, joined by `;`. The build arg, when given, replaces the
//! directive, as the Dockerfile's does.

use std::collections::BTreeSet;

use envd_lang::{Diagnostic, Rule, Span};

use crate::finding::Finding;

/// The build arg that replaces the file's `# check=` directive.
pub const ENVD_CHECK_ARG: &str = "ENVD_CHECK";

/// What `# check=` or `ENVD_CHECK` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// `skip=all`: no rule is checked.
    pub skip_all: bool,
    /// The rules not checked.
    pub skip: BTreeSet<Rule>,
    /// `error=true`: a build with findings fails.
    pub error: bool,
}

impl CheckConfig {
    /// Parses `skip=...;error=...`. The error is a sentence that reads
    /// after the name of where the value came from.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value; expected skip=RuleA,RuleB or error=true"))?;
            match key.trim().to_ascii_lowercase().as_str() {
                "skip" => {
                    for name in val.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        if name.eq_ignore_ascii_case("all") {
                            out.skip_all = true;
                            continue;
                        }
                        let rule = Rule::from_name(name).ok_or_else(|| {
                            let all: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
                            format!("skip names {name:?}, which is no rule; the rules are {}", all.join(", "))
                        })?;
                        out.skip.insert(rule);
                    }
                }
                "error" => {
                    out.error = match val.trim().to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        other => return Err(format!("error={other:?} is not true or false")),
                    }
                }
                other => return Err(format!("{other:?} is not skip or error")),
            }
        }
        Ok(out)
    }

    /// The `# check=` directive of `source` and its line: a comment among
    /// the comment lines that open the file, as for a Dockerfile.
    pub fn directive(source: &str) -> Option<(String, u32)> {
        for (i, line) in source.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let comment = line.strip_prefix('#')?.trim();
            if let Some(value) = comment.strip_prefix("check=") {
                return Some((value.trim().to_owned(), i as u32 + 1));
            }
        }
        None
    }

    /// The configuration of a build: `arg` (already parsed from
    /// `ENVD_CHECK`) if given, else the file's directive. A bad directive
    /// is an error at its line.
    pub fn for_build(arg: Option<&CheckConfig>, filename: &str, source: &str) -> Result<Self, Diagnostic> {
        if let Some(c) = arg {
            return Ok(c.clone());
        }
        match Self::directive(source) {
            None => Ok(Self::default()),
            Some((value, line)) => Self::parse(&value)
                .map_err(|why| Diagnostic::at(Span::line(filename, line), format!("# check= directive: {why}"))),
        }
    }

    /// Whether `rule` is checked.
    pub fn checks(&self, rule: Rule) -> bool {
        !self.skip_all && !self.skip.contains(&rule)
    }

    /// The findings of rules that are checked.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings.into_iter().filter(|f| self.checks(f.rule)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_dockerfile_grammar() {
        let c = CheckConfig::parse("skip=PipInstallInRun, aptinstallinrun;error=true").unwrap();
        assert_eq!(c.skip, BTreeSet::from([Rule::PipInstallInRun, Rule::AptInstallInRun]));
        assert!(c.error && !c.skip_all);
        assert!(!c.checks(Rule::PipInstallInRun) && c.checks(Rule::ConflictingPins));
        let all = CheckConfig::parse("skip=all").unwrap();
        assert!(all.skip_all && !all.checks(Rule::ConflictingPins));
        assert_eq!(CheckConfig::parse("").unwrap(), CheckConfig::default());
    }

    #[test]
    fn bad_values_are_one_sentence() {
        let e = CheckConfig::parse("skip=PipInstalInRun").unwrap_err();
        assert!(
            e.starts_with("skip names \"PipInstalInRun\", which is no rule; the rules are PipInstallInRun, "),
            "{e}"
        );
        assert_eq!(CheckConfig::parse("error=maybe").unwrap_err(), "error=\"maybe\" is not true or false");
        assert_eq!(CheckConfig::parse("warn=all").unwrap_err(), "\"warn\" is not skip or error");
        assert_eq!(
            CheckConfig::parse("strict").unwrap_err(),
            "\"strict\" is not key=value; expected skip=RuleA,RuleB or error=true"
        );
    }

    #[test]
    fn the_directive_is_among_the_opening_comments_and_the_arg_wins() {
        let src = "# syntax=aiges/envd-frontend\n# check=skip=UnusedBuildArg;error=true\n\ndef build():\n    base()\n";
        assert_eq!(CheckConfig::directive(src), Some(("skip=UnusedBuildArg;error=true".into(), 2)));
        let c = CheckConfig::for_build(None, "build.envd", src).unwrap();
        assert!(c.error && c.skip.contains(&Rule::UnusedBuildArg));
        let arg = CheckConfig::default();
        assert_eq!(CheckConfig::for_build(Some(&arg), "build.envd", src).unwrap(), arg);
        let late = "def build():\n    base()\n# check=error=true\n";
        assert_eq!(CheckConfig::directive(late), None, "a directive after code is a comment");
        let bad = "# check=error=yes\ndef build():\n    base()\n";
        let e = CheckConfig::for_build(None, "build.envd", bad).unwrap_err();
        assert_eq!(e.to_string(), "build.envd:1:1: # check= directive: error=\"yes\" is not true or false");
    }
}
