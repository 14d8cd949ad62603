//! `EnvFileFieldIgnored`: an env file's `name:` and `prefix:`.
//!
//! `conda env export` writes both, and both are ignored: the packages go
//! into the image's conda prefix, which is on PATH. A service that runs
//! `conda activate <name>` or a path under the exported prefix (often a
//! Windows or home-directory path) does not find it.

use envd_lang::{Rule, Span, StepKind};

use crate::{Finding, Input};

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
    fn a_file_without_them_is_fine() {
        let env = "channels:\n  - pytorch\ndependencies:\n  - name_of_pkg\n";
        assert!(lines(Rule::EnvFileFieldIgnored, SRC, &[("env.yaml", env)], &[]).is_empty());
    }
}
