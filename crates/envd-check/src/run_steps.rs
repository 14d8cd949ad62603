//! `PipInstallInRun`, `AptInstallInRun`, `CondaInstallInRun`: installing
//! packages in `run()`.
//!
//! `install.*` steps run with cache mounts (pip's cache, apt's archives
//! and lists, conda's packages) and with `config.pip_index` and the
//! condarc; a `run()` step has none of them, so the same install is slow on
//! every cache miss and goes to the public index instead of the mirror.

use envd_lang::{Rule, StepKind};

use crate::finding::{Finding, Input};
use crate::shell::{commands, program};

/// pip options that take a value, which is not a package.
const PIP_VALUE_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--cache-dir",
    "--log",
    "--proxy",
    "--retries",
    "--timeout",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--global-option",
    "--config-settings",
    "-C",
    "-e",
    "--editable",
];

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    for step in &input.evaluated.plan.steps {
        let StepKind::Run { commands: lines, .. } = &step.kind else { continue };
        for line in lines {
            for words in commands(line) {
                if let Some(what) = pip_install(&words) {
                    out.push(Finding::at(
                        Rule::PipInstallInRun,
                        &step.span,
                        format!("run() installs {what} with pip; install.python_packages does it with the pip cache and config.pip_index"),
                    ));
                } else if let Some(what) = apt_install(&words) {
                    out.push(Finding::at(
                        Rule::AptInstallInRun,
                        &step.span,
                        format!("run() installs {what} with apt; install.system_packages does it with apt's caches"),
                    ));
                } else if let Some(what) = conda_install(&words) {
                    out.push(Finding::at(
                        Rule::CondaInstallInRun,
                        &step.span,
                        format!("run() installs {what} with conda; install.conda_packages solves it with the rest of the environment and caches it"),
                    ));
                }
            }
        }
    }
}

/// The index packages of a `pip install`, if these words are one: by
/// name, or through `-r`. Local paths and `-e <path>` are not.
fn pip_install(words: &[String]) -> Option<String> {
    let prog = program(words);
    let rest: &[String] = if is_pip(prog) {
        &words[1..]
    } else if prog.starts_with("python")
        && words.get(1).is_some_and(|w| w == "-m")
        && words.get(2).is_some_and(|w| is_pip(w))
    {
        &words[3..]
    } else if prog == "uv" && words.get(1).is_some_and(|w| w == "pip") {
        &words[2..]
    } else {
        return None;
    };
    let args = rest.strip_prefix(&["install".to_owned()][..])?;
    let mut packages = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-r" || a == "--requirement" {
            if let Some(f) = args.get(i + 1) {
                packages.push(format!("-r {f}"));
            }
            i += 2;
            continue;
        }
        if PIP_VALUE_OPTIONS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') && !is_local(a) {
            packages.push(a.clone());
        }
        i += 1;
    }
    (!packages.is_empty()).then(|| packages.join(" "))
}

fn is_pip(word: &str) -> bool {
    let w = word.rsplit('/').next().unwrap_or(word);
    w == "pip" || w.strip_prefix("pip").is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// A path on the image's file system rather than a package.
fn is_local(arg: &str) -> bool {
    arg.starts_with(['.', '/', '~', '$'])
        || arg.ends_with(".whl")
        || arg.ends_with(".tar.gz")
        || arg.ends_with(".zip")
        || arg.starts_with("file:")
}

fn apt_install(words: &[String]) -> Option<String> {
    let prog = program(words);
    if !matches!(prog, "apt-get" | "apt" | "aptitude") {
        return None;
    }
    let pos = words.iter().position(|w| w == "install")?;
    let names: Vec<&str> = words[pos + 1..].iter().filter(|w| !w.starts_with('-')).map(String::as_str).collect();
    (!names.is_empty()).then(|| names.join(" "))
}

fn conda_install(words: &[String]) -> Option<String> {
    let prog = program(words);
    if !matches!(prog, "conda" | "mamba" | "micromamba") {
        return None;
    }
    match words.get(1).map(String::as_str) {
        Some("install" | "create") => {
            let names: Vec<&str> = words[2..].iter().filter(|w| !w.starts_with('-')).map(String::as_str).collect();
            Some(if names.is_empty() { "packages".to_owned() } else { names.join(" ") })
        }
        Some("env") if matches!(words.get(2).map(String::as_str), Some("create" | "update")) => {
            Some("an environment file".to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::lines;

    fn run(cmd: &str) -> String {
        format!("def build():\n    base()\n    run(commands=[{cmd:?}])\n")
    }

    #[test]
    fn pip_install_of_index_packages_in_run() {
        let l = lines(
            Rule::PipInstallInRun,
            &run("cd /x && pip install -U torch==1.10 --index-url https://m/simple"),
            &[],
            &[],
        );
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, 3);
        assert!(l[0].1.starts_with("run() installs torch==1.10 with pip"), "{}", l[0].1);
        assert_eq!(lines(Rule::PipInstallInRun, &run("python3 -m pip install -r requirements.txt"), &[], &[]).len(), 1);
        assert_eq!(lines(Rule::PipInstallInRun, &run("uv pip install numpy"), &[], &[]).len(), 1);
    }

    #[test]
    fn local_pip_installs_and_other_programs_are_fine() {
        for cmd in [
            "pip install --no-deps -e /detectron2",
            "pip install ./dist/model-1.0-py3-none-any.whl",
            "pip download six",
            "echo pip install six",
            "pip list",
        ] {
            assert!(lines(Rule::PipInstallInRun, &run(cmd), &[], &[]).is_empty(), "{cmd}");
        }
    }

    #[test]
    fn apt_install_in_run() {
        let l = lines(
            Rule::AptInstallInRun,
            &run("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y curl"),
            &[],
            &[],
        );
        assert_eq!(l.len(), 1);
        assert!(l[0].1.contains("installs curl with apt"), "{}", l[0].1);
        assert!(lines(Rule::AptInstallInRun, &run("apt-get update && apt-cache policy curl"), &[], &[]).is_empty());
    }

    #[test]
    fn conda_install_in_run() {
        assert_eq!(lines(Rule::CondaInstallInRun, &run("conda install -y -c pytorch pytorch"), &[], &[]).len(), 1);
        assert_eq!(lines(Rule::CondaInstallInRun, &run("conda env update -f env.yaml"), &[], &[]).len(), 1);
        assert!(lines(Rule::CondaInstallInRun, &run("conda list && conda info"), &[], &[]).is_empty());
    }
}
