//! The README's quick start, run as a reader with docker and buildx would
//! run it (issue 29): its files written from the README, its commands run
//! in order with bash, against the local registry's copy of the frontend.
//!
//! The README marks what it wants run: a fenced block right after
//! `<!-- quickstart: FILENAME -->` is a file to write, one right after
//! `<!-- quickstart: run -->` holds commands (a line each), and one right
//! after `<!-- quickstart: prints -->` is what the last command prints.
//! Two things cannot be as written on this machine, so the test changes
//! exactly those: every `aiges/envd-frontend` reference becomes the local
//! registry's copy, and each `docker buildx build` gets
//! `--build-arg AIGES_CPU_IMAGE=` the CPU stand-in, since the real AIGES
//! image cannot be pulled here.

use std::process::Command;

use envd_e2e::{bases_env, cpu_base, docker_ok, ensure_env, repo, Context, FRONTEND};

/// What the quick start asks for, in the README's order.
#[derive(Debug, PartialEq)]
enum Part {
    File { name: String, content: String },
    Run(Vec<String>),
    Prints(String),
}

/// The marked blocks of `readme` (see the module's doc).
fn quick_start(readme: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(what) = line.trim().strip_prefix("<!-- quickstart:").and_then(|l| l.strip_suffix("-->")) else {
            continue;
        };
        let what = what.trim();
        let fence = lines.next().map(|(_, l)| l.trim_start()).unwrap_or_default();
        if !fence.starts_with("```") {
            return Err(format!(
                "README.md:{}: `<!-- quickstart: {what} -->` is not followed by a fenced block",
                n + 1
            ));
        }
        let mut body = String::new();
        loop {
            match lines.next() {
                Some((_, l)) if l.trim_start().starts_with("```") => break,
                Some((_, l)) => {
                    body.push_str(l);
                    body.push('\n');
                }
                None => return Err(format!("README.md:{}: the block never ends", n + 2)),
            }
        }
        parts.push(match what {
            "run" => Part::Run(
                body.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect(),
            ),
            "prints" => Part::Prints(body),
            name => Part::File { name: name.to_owned(), content: body },
        });
    }
    Ok(parts)
}

/// Every `aiges/envd-frontend` reference (with a tag or digest, or none)
/// in `text`, as `to`.
fn frontend_as(text: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("aiges/envd-frontend") {
        out.push_str(&rest[..at]);
        out.push_str(to);
        rest = &rest[at + "aiges/envd-frontend".len()..];
        if rest.starts_with(':') || rest.starts_with('@') {
            let end = rest.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(rest.len());
            rest = &rest[end..];
        }
    }
    out + rest
}

#[test]
fn the_quick_start_finds_its_blocks_and_says_where_one_is_broken() {
    let ok = "x\n<!-- quickstart: build.envd -->\n```python\n# syntax=aiges/envd-frontend\n```\n<!-- quickstart: run -->\n```sh\n# a comment\ndocker buildx build .\n\ndocker run x\n```\n<!-- quickstart: prints -->\n```text\n1.16.0\n```\n";
    assert_eq!(
        quick_start(ok).unwrap(),
        [
            Part::File { name: "build.envd".into(), content: "# syntax=aiges/envd-frontend\n".into() },
            Part::Run(vec!["docker buildx build .".into(), "docker run x".into()]),
            Part::Prints("1.16.0\n".into()),
        ]
    );
    assert_eq!(
        quick_start("a\n<!-- quickstart: run -->\ntext\n").unwrap_err(),
        "README.md:2: `<!-- quickstart: run -->` is not followed by a fenced block"
    );
    assert_eq!(quick_start("<!-- quickstart: run -->\n```sh\nls\n").unwrap_err(), "README.md:2: the block never ends");
    assert_eq!(
        frontend_as("# syntax=aiges/envd-frontend:1.0\nBUILDKIT_SYNTAX=aiges/envd-frontend@sha256:ab x", "r/f:q"),
        "# syntax=r/f:q\nBUILDKIT_SYNTAX=r/f:q x"
    );
}

#[test]
fn the_readme_quick_start_builds_and_runs_as_written() {
    let _engine = ensure_env();
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let parts = quick_start(&readme).unwrap_or_else(|e| panic!("{e}"));
    let files = parts.iter().filter(|p| matches!(p, Part::File { .. })).count();
    let runs = parts.iter().filter(|p| matches!(p, Part::Run(_))).count();
    assert!(files >= 2 && runs >= 1, "the README's quick start marks its files and commands: {parts:?}");

    // the local registry's copy of the frontend, as a reader's mirror
    let copy = format!("{}/aiges/envd-frontend:quickstart", bases_env("REGISTRY"));
    docker_ok(&["tag", FRONTEND, &copy]);
    docker_ok(&["push", "--quiet", &copy]);

    let ctx = Context::new("quickstart");
    let mut last = String::new();
    for part in &parts {
        match part {
            Part::File { name, content } => {
                ctx.write(name, &frontend_as(content, &copy));
            }
            Part::Run(commands) => {
                for command in commands {
                    let mut command = frontend_as(command, &copy);
                    if command.starts_with("docker buildx build ") {
                        command = command.replacen(
                            "docker buildx build ",
                            &format!("docker buildx build --build-arg AIGES_CPU_IMAGE={} ", cpu_base()),
                            1,
                        );
                    }
                    let out = Command::new("bash").args(["-c", &command]).current_dir(ctx.dir()).output().unwrap();
                    assert!(
                        out.status.success(),
                        "`{command}` failed:\n{}\n{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    last = String::from_utf8_lossy(&out.stdout).into_owned();
                }
            }
            Part::Prints(expected) => assert_eq!(last.trim(), expected.trim(), "what the README says it prints"),
        }
    }
    assert!(parts.iter().any(|p| matches!(p, Part::Prints(_))), "the README says what the last command prints");
    let _ = Command::new("docker").args(["image", "rm", "quickstart"]).output();
}
