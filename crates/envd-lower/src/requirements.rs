//! What the frontend reads in a requirements file before the build, from
//! the copy it fetched: the files it names (mounted beside it, so `-r` and
//! `-c` work), whether uv reads it as pip does, and whether pip would be
//! in hash-checking mode.
//!
//! Only the file `install.python_packages` names is read; a file it names
//! with `-r` is mounted but not read in turn, so a third level of `-r` is
//! not found.

/// Requirements-file options uv reads as pip does. Any other option line
/// makes the step use pip: uv ignores `--pre`, `--trusted-host` and
/// `--prefer-binary` with only a warning, and refuses `--global-option`.
const UV_OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--no-index",
    "--no-binary",
    "--only-binary",
    "--require-hashes",
];

/// A requirements file's lines as pip reads them: comments dropped,
/// backslash continuations joined; each with its first line's number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut pending: Option<(usize, String)> = None;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = if raw.trim_start().starts_with('#') { "" } else { raw.split(" #").next().unwrap_or(raw) };
        let (number, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                pending = Some((number, joined));
            }
            None => {
                joined.push_str(line);
                let joined = joined.trim().to_owned();
                if !joined.is_empty() {
                    out.push((number, joined));
                }
            }
        }
    }
    out
}

/// A requirements file's logical lines (see [`logical_lines`]), without
/// their numbers.
pub(crate) fn lines(text: &str) -> Vec<String> {
    logical_lines(text).into_iter().map(|(_, l)| l).collect()
}

/// A line's option (`-r`, `--index-url`) and its value, if it is one.
pub(crate) fn option(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with('-') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let value = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=').trim();
    // `-rbase.txt`: a short option glued to its value
    match name.len() > 2 && !name.starts_with("--") {
        true => Some((&name[..2], name[2..].trim())),
        false => Some((name, value)),
    }
}

/// Why uv may not install the requirements file `name` as pip would, if
/// it may not: its first option line uv does not read as pip does.
pub(crate) fn pip_only(name: &str, text: &str) -> Option<String> {
    logical_lines(text).into_iter().find_map(|(i, line)| {
        let (opt, _) = option(&line)?;
        (!UV_OPTIONS.contains(&opt)).then(|| format!("{name}:{i}: uv does not read {opt} as pip does"))
    })
}

/// Whether any requirement carries a `--hash`: pip's hash-checking mode.
pub(crate) fn has_hashes(text: &str) -> bool {
    logical_lines(text).iter().any(|(_, l)| l.contains("--hash"))
}

/// Options a requirements file that is a lock may carry: they say where
/// the pinned files come from, and each group's file repeats them.
const LOCK_OPTIONS: &[&str] =
    &["-i", "--index-url", "--extra-index-url", "--no-index", "--require-hashes", "--only-binary", "--no-binary"];

/// A requirements file that is a lock already: every requirement
/// `name==version` with its `--hash`es (`pip-compile --generate-hashes`,
/// `uv pip compile --generate-hashes`), markers allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashedLock {
    /// Its option lines, as written: indexes and binary choices.
    pub(crate) options: Vec<String>,
    /// Its pins, for the layer planner (sizes unknown: 0).
    pub(crate) lock: crate::lock::PythonLock,
    /// Each pin's line as written (continuations joined), by normalised name.
    pub(crate) lines: std::collections::BTreeMap<String, String>,
}

/// `text` as a lock, if it is one: every requirement pinned with `==`
/// and at least one sha256 `--hash`, each name once, and no option that
/// names another file (`-r`, `-c`, `-e`, a local `-f`). Anything else is
/// `None`, and the step resolves as pip would.
pub(crate) fn hashed_lock(text: &str) -> Option<HashedLock> {
    let mut options = Vec::new();
    let mut packages = Vec::new();
    let mut lines = std::collections::BTreeMap::new();
    for (_, line) in logical_lines(text) {
        if let Some((opt, value)) = option(&line) {
            let remote_links = matches!(opt, "-f" | "--find-links") && value.contains("://");
            if !LOCK_OPTIONS.contains(&opt) && !remote_links {
                return None;
            }
            options.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
            continue;
        }
        let (spec, hashes) = line.find(" --").map_or((line.as_str(), ""), |i| line.split_at(i));
        let requirement = spec.split(';').next().unwrap_or(spec);
        let (name, version) = requirement.split_once("==")?;
        let (name, version) = (name.split('[').next().unwrap_or(name).trim(), version.trim());
        let valid_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid_name || version.is_empty() || version.contains(|c: char| "=*,@ ".contains(c)) {
            return None;
        }
        // `--hash=sha256:…` or `--hash sha256:…`; other algorithms are
        // not sha256, which the planner keys on
        let mut tokens = hashes.split_whitespace();
        let mut hashes = Vec::new();
        while let Some(token) = tokens.next() {
            let value = match token {
                "--hash" => tokens.next().unwrap_or_default(),
                _ => token.strip_prefix("--hash=").unwrap_or_default(),
            };
            hashes.extend(value.strip_prefix("sha256:").map(str::to_owned));
        }
        let name = crate::lock::normalize(name);
        if hashes.is_empty() || lines.contains_key(&name) {
            return None;
        }
        lines.insert(name.clone(), line.split_whitespace().collect::<Vec<_>>().join(" "));
        packages.push(crate::lock::LockedPackage {
            name,
            version: version.to_owned(),
            hashes,
            wheel_size: 0,
            sdist_only: false,
            direct: false,
            wheels: Vec::new(),
        });
    }
    if packages.is_empty() {
        return None;
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Some(HashedLock { options, lock: crate::lock::PythonLock { packages }, lines })
}

/// The context paths the requirements file at context path `file` names
/// with `-r`/`-c`, `-f` (a local directory) and as local paths (`./wheels/x.whl`, `../pkg`),
/// relative to its directory, as pip reads them. An editable local
/// project (`-e ./pkg`) is an error: the install would link to the build
/// context, which the image does not keep.
pub(crate) fn references(file: &str, text: &str) -> Result<Vec<String>, String> {
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = Vec::new();
    for (i, line) in logical_lines(text) {
        let path = match option(&line) {
            Some(("-r" | "--requirement" | "-c" | "--constraint", value)) => value,
            // a directory of wheels, which pip and uv read relative to the
            // working directory (the file's own, for the step)
            Some(("-f" | "--find-links", value)) if !value.contains("://") => value,
            Some(("-e" | "--editable", value)) if is_local(value) => {
                return Err(format!(
                    "{file}:{i}: -e {value} would install an editable link into the build context, which the image does not keep; drop -e, or io.copy the project into the image and install it from there"
                ))
            }
            Some(_) => continue,
            None if is_local(&line) => line.split([';', ' ']).next().unwrap_or_default(),
            None => continue,
        };
        if path.contains("://") {
            continue;
        }
        if path.starts_with('/') {
            return Err(format!("{file}:{i}: {path} is not a path inside the build context"));
        }
        let path = path.split('[').next().unwrap_or(path);
        let relative = if dir.is_empty() { path.to_owned() } else { format!("{dir}/{path}") };
        let joined = envd_lang::ContextPath::parse(&relative)
            .map_err(|_| format!("{file}:{i}: {path} is outside the build context"))?
            .as_str()
            .to_owned();
        if !out.contains(&joined) {
            out.push(joined);
        }
    }
    Ok(out)
}

/// Whether a requirement is a local path rather than a name or a URL.
fn is_local(requirement: &str) -> bool {
    requirement.starts_with("./")
        || requirement.starts_with("../")
        || requirement.starts_with('/')
        || requirement == "."
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "# deps\n-r base.txt\n-c constraints.txt\n--index-url https://m/simple\n--extra-index-url=https://x/simple\n-f ./wheels\nsix==1.16.0 --hash=sha256:aa \\\n    --hash=sha256:bb\nnumpy; python_version >= \"3.8\"\n-e git+https://h/r.git#egg=r\n./wheels/demo-0.1-py3-none-any.whl\n";

    #[test]
    fn options_uv_reads_differently_send_the_file_to_pip() {
        assert_eq!(pip_only("requirements.txt", OK), None);
        assert!(has_hashes(OK));
        assert_eq!(
            pip_only("requirements.txt", "six\n--pre\n"),
            Some("requirements.txt:2: uv does not read --pre as pip does".into())
        );
        assert_eq!(
            pip_only("r.txt", "--trusted-host=mirror\nsix\n"),
            Some("r.txt:1: uv does not read --trusted-host as pip does".into())
        );
        assert_eq!(pip_only("r.txt", "six  # --pre in a comment\n-rbase.txt\n"), None);
        assert!(!has_hashes("six==1.16.0\n"));
    }

    #[test]
    fn a_file_with_every_requirement_pinned_and_hashed_is_a_lock() {
        let text = "--index-url https://m/simple\n-f https://m/links/\n# via x\nSix==1.16.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\nnumpy[extra]==1.26.4 ; python_version >= \"3.8\" --hash sha256:cc\n";
        let lock = hashed_lock(text).expect("a lock");
        assert_eq!(lock.options, ["--index-url https://m/simple", "-f https://m/links/"]);
        let names: Vec<(&str, &str, Vec<&str>)> = lock
            .lock
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.hashes.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(names, [("numpy", "1.26.4", vec!["cc"]), ("six", "1.16.0", vec!["aa", "bb"])]);
        assert_eq!(lock.lines["six"], "Six==1.16.0 --hash=sha256:aa --hash=sha256:bb");
        assert_eq!(lock.lines["numpy"], "numpy[extra]==1.26.4 ; python_version >= \"3.8\" --hash sha256:cc");
    }

    #[test]
    fn anything_short_of_a_lock_is_resolved_as_pip_would() {
        let not_locks = [
            ("", "no requirement"),
            ("six==1.16.0\n", "no hash"),
            ("six==1.16.0 --hash=sha256:aa\nnumpy\n", "one unpinned"),
            ("six>=1.16 --hash=sha256:aa\n", "a range"),
            ("six==1.* --hash=sha256:aa\n", "a wildcard"),
            ("six===1.16.0 --hash=sha256:aa\n", "arbitrary equality"),
            ("six==1.16.0 --hash=md5:aa\n", "no sha256"),
            ("six==1.16.0 --hash=sha256:aa\nsix==1.16.0 --hash=sha256:aa\n", "a name twice"),
            ("-r base.txt\nsix==1.16.0 --hash=sha256:aa\n", "another file"),
            ("-f ./wheels\nsix==1.16.0 --hash=sha256:aa\n", "a local find-links"),
            ("demo @ https://h/demo.whl --hash=sha256:aa\n", "a URL"),
        ];
        for (text, why) in not_locks {
            assert_eq!(hashed_lock(text), None, "{why}: {text:?}");
        }
    }

    #[test]
    fn named_files_are_found_relative_to_the_requirements_file() {
        assert_eq!(
            references("svc/requirements.txt", OK).unwrap(),
            ["svc/base.txt", "svc/constraints.txt", "svc/wheels", "svc/wheels/demo-0.1-py3-none-any.whl"]
        );
        assert_eq!(references("r.txt", "-r ../x.txt\n").unwrap_err(), "r.txt:1: ../x.txt is outside the build context");
        assert_eq!(
            references("r.txt", "-c/etc/c.txt\n").unwrap_err(),
            "r.txt:1: /etc/c.txt is not a path inside the build context"
        );
        assert_eq!(
            references("svc/requirements.txt", "--find-links ./wheels/local\n-f https://h/links\nsix\n").unwrap(),
            ["svc/wheels/local"]
        );
        let e = references("r.txt", "six\n-e ./pkg\n").unwrap_err();
        assert!(e.starts_with("r.txt:2: -e ./pkg would install an editable link into the build context"), "{e}");
    }
}
