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

/// A line's option (`-r`, `--index-url`) and its value, if it is one.
fn option(line: &str) -> Option<(&str, &str)> {
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

/// The context paths the requirements file at context path `file` names
/// with `-r`/`-c` and as local paths (`./wheels/x.whl`, `../pkg`),
/// relative to its directory, as pip reads them. An editable local
/// project (`-e ./pkg`) is an error: the install would link to the build
/// context, which the image does not keep.
pub(crate) fn references(file: &str, text: &str) -> Result<Vec<String>, String> {
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = Vec::new();
    for (i, line) in logical_lines(text) {
        let path = match option(&line) {
            Some(("-r" | "--requirement" | "-c" | "--constraint", value)) => value,
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
    fn named_files_are_found_relative_to_the_requirements_file() {
        assert_eq!(
            references("svc/requirements.txt", OK).unwrap(),
            ["svc/base.txt", "svc/constraints.txt", "svc/wheels/demo-0.1-py3-none-any.whl"]
        );
        assert_eq!(references("r.txt", "-r ../x.txt\n").unwrap_err(), "r.txt:1: ../x.txt is outside the build context");
        assert_eq!(
            references("r.txt", "-c/etc/c.txt\n").unwrap_err(),
            "r.txt:1: /etc/c.txt is not a path inside the build context"
        );
        let e = references("r.txt", "six\n-e ./pkg\n").unwrap_err();
        assert!(e.starts_with("r.txt:2: -e ./pkg would install an editable link into the build context"), "{e}");
    }
}
