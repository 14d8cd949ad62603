//! `EnvFileFieldIgnored`: an env file's `name:` and `prefix:`, and the
//! `-e` of its `pip:` entries.
//!
//! `conda env export` writes both fields, and both are ignored: the
//! packages go into the image's conda prefix, which is on PATH. A service
//! that runs `conda activate <name>` or a path under the exported prefix
//! (often a Windows or home-directory path) does not find it. A project
//! the developer installed editable (`-e .`, `-e git+URL`) is installed as
//! a package: an editable install would point into the build context,
//! which the image does not keep.

use envd_lang::{Rule, Span, StepKind};

use crate::finding::{Finding, Input};

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let mut seen = Vec::new();
    for step in &input.evaluated.plan.steps {
        let StepKind::CondaPackages { env_file: Some(path), .. } = &step.kind else { continue };
        if seen.contains(&path) {
            continue;
        }
        seen.push(path);
        let Some(text) = input.files.get(path.as_str()) else { continue };
        for (i, line) in text.lines().enumerate() {
            let entry = line.trim_start().strip_prefix("- ").map(str::trim);
            if let Some(editable) = entry.and_then(|e| e.strip_prefix("-e ").or_else(|| e.strip_prefix("--editable"))) {
                let target = editable.trim_start_matches('=').trim();
                out.push(Finding::at(
                    Rule::EnvFileFieldIgnored,
                    &Span::line(path.as_str(), i as u32 + 1),
                    format!("-e {target} is installed as a package, not editable: an editable install would point into the build context, which the image does not keep; a local path is read relative to {path}"),
                ));
            }
            for field in ["name", "prefix"] {
                let Some(value) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) else { continue };
                let value = value.split(" #").next().unwrap_or(value).trim();
                let consequence = if field == "name" {
                    format!("`conda activate {value}` will not find them")
                } else {
                    "nothing is installed there".to_owned()
                };
                out.push(Finding::at(
                    Rule::EnvFileFieldIgnored,
                    &Span::line(path.as_str(), i as u32 + 1),
                    format!("{field}: {value} is ignored; the packages go into the image's conda environment, which is on PATH, and {consequence}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::lines;

    const SRC: &str = "def build():\n    base()\n    install.conda_packages(env_file=\"env.yaml\")\n";

    #[test]
    fn name_and_prefix_are_found_at_their_lines() {
        let env = "name: detectron2\nchannels:\n  - pytorch\ndependencies:\n  - numpy\nprefix: C:\\Users\\me\\envs\\detectron2\n";
        let l = lines(Rule::EnvFileFieldIgnored, SRC, &[("env.yaml", env)], &[]);
        assert_eq!(l.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [1, 6]);
        assert!(l[0].1.starts_with("name: detectron2 is ignored"), "{}", l[0].1);
    }

    #[test]
    fn editable_pip_entries_are_found_at_their_lines() {
        let env = "dependencies:\n  - python=3.9\n  - pip:\n    - six==1.16.0\n    - -e git+https://example.com/x.git@v1#egg=x\n    - -e .\n";
        let l = lines(Rule::EnvFileFieldIgnored, SRC, &[("env.yaml", env)], &[]);
        assert_eq!(l.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [5, 6]);
        assert!(l[1].1.starts_with("-e . is installed as a package, not editable"), "{}", l[1].1);
    }

    #[test]
    fn a_file_without_them_is_fine() {
        let env = "channels:\n  - pytorch\ndependencies:\n  - name_of_pkg\n";
        assert!(lines(Rule::EnvFileFieldIgnored, SRC, &[("env.yaml", env)], &[]).is_empty());
    }
}
