//! `CredentialsInUrl`: a user, password or token written into a URL of
//! build.envd or of a file it names.
//!
//! Whatever build.envd says ends up in the build cache, in progress
//! output, in the LLB that a `--provenance=mode=max` attestation holds
//! and, for pip and conda configuration, in image layers; the build file
//! itself is usually in version control. Build args are in every
//! provenance attestation. buildx's `--secret`
//! is the way to hand credentials to a build. The message shows the URL
//! with the secret part replaced, never the secret.

use envd_conda::{credentials, EnvFile};
use envd_lang::{Rule, Span, StepKind};

use crate::finding::{line_containing, Finding, Input};

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let plan = &input.evaluated.plan;
    // BuildKit records every build arg in the provenance attestation, in
    // mode=min too, and buildx asks for one by default when it pushes.
    for (name, value) in input.build_args {
        for shown in credentials::redacted_urls(value) {
            out.push(Finding {
                rule: Rule::CredentialsInUrl,
                message: format!("--build-arg {name} has credentials in {shown}; BuildKit records build args in the image's provenance attestation (--provenance, on by default with --push), pass them with docker buildx build --secret instead"),
                span: None,
            });
        }
    }
    let mut found = |what: &str, text: &str, span: &Span| {
        for shown in credentials::redacted_urls(text) {
            out.push(Finding::at(
                Rule::CredentialsInUrl,
                span,
                format!("{what} has credentials in {shown}; anyone with the file, the build cache or a --provenance=mode=max attestation can read them, pass them with docker buildx build --secret instead"),
            ));
        }
    };
    if let Some(p) = &plan.pip_index {
        found("config.pip_index(url=)", &p.url, &p.span);
        if let Some(extra) = &p.extra_url {
            found("config.pip_index(extra_url=)", extra, &p.span);
        }
    }
    if let Some(c) = &plan.conda_channel {
        found("config.conda_channel(channel=)", &c.yaml, &c.span);
    }
    for step in &plan.steps {
        match &step.kind {
            StepKind::PythonPackages { names, requirements, .. } => {
                for n in names {
                    found("install.python_packages(name=)", n, &step.span);
                }
                if let Some(path) = requirements {
                    in_file(input, path.as_str(), &mut found);
                }
            }
            StepKind::CondaPackages { names, channels, env_file } => {
                for c in channels.iter().chain(names) {
                    found("install.conda_packages", c, &step.span);
                }
                if let Some(path) = env_file {
                    in_file(input, path.as_str(), &mut found);
                }
            }
            _ => {}
        }
    }
}

/// Each line of a named file, reported at its own line.
fn in_file(input: &Input, path: &str, found: &mut impl FnMut(&str, &str, &Span)) {
    let Some(text) = input.files.get(path) else { return };
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        // Only what conda reads of an env file, not its comments.
        let Ok(file) = EnvFile::parse(text) else { return };
        for item in file.channels.iter().chain(&file.dependencies).chain(&file.pip) {
            let line = line_containing(text, item).unwrap_or(1);
            found(path, item, &Span::line(path, line));
        }
        return;
    }
    for (i, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        if !code.trim_start().starts_with('#') {
            found(path, code, &Span::line(path, i as u32 + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::{findings, lines};

    #[test]
    fn credentials_in_build_envd_and_its_files_are_found_and_never_repeated() {
        let src = "def build():\n    base()\n    config.pip_index(url=\"https://alice:s3cret@pypi.corp.example/simple\")\n    install.python_packages(requirements=\"requirements.txt\")\n    install.conda_packages(env_file=\"env.yaml\")\n";
        let reqs = "six\n--extra-index-url https://tok3n@pypi.corp.example/simple\n";
        let env = "channels:\n  - https://conda.corp.example/t/tk-123/main\ndependencies:\n  - numpy\n";
        let l = lines(Rule::CredentialsInUrl, src, &[("requirements.txt", reqs), ("env.yaml", env)], &[]);
        let places: Vec<u32> = l.iter().map(|(line, _)| *line).collect();
        assert_eq!(places, [3, 2, 2], "{l:?}");
        assert!(
            l[0].1.starts_with("config.pip_index(url=) has credentials in https://***@pypi.corp.example/simple"),
            "{}",
            l[0].1
        );
        assert!(l.iter().any(|(_, m)| m.contains("https://conda.corp.example/t/***/main")), "{l:?}");
        for (_, m) in &l {
            assert!(!m.contains("s3cret") && !m.contains("tok3n") && !m.contains("tk-123"), "{m}");
        }
    }

    #[test]
    fn a_build_arg_with_credentials_is_named_for_the_provenance_that_records_it() {
        let src = "def build():\n    base()\n";
        let args = [("PIP_INDEX_URL", "https://alice:s3cret@pypi.corp.example/simple"), ("VERSION", "1")];
        let f = findings(Rule::CredentialsInUrl, src, &[], &args);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].message,
            "--build-arg PIP_INDEX_URL has credentials in https://***@pypi.corp.example/simple; BuildKit records build args in the image's provenance attestation (--provenance, on by default with --push), pass them with docker buildx build --secret instead"
        );
        assert!(f[0].span.is_none());
    }

    #[test]
    fn urls_without_credentials_are_fine() {
        let src = "def build():\n    base()\n    config.pip_index(url=\"https://pypi.org/simple\")\n    install.python_packages(name=[\"git+https://github.com/a/b@v1\"])\n";
        assert!(lines(Rule::CredentialsInUrl, src, &[], &[]).is_empty());
    }
}
