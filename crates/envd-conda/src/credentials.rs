//! Credentials written into URLs: `user:password@` (or `token@`) in the
//! authority, and conda's `/t/<token>/` path segment.
//!
//! A URL in build.envd, a requirements file or an env file may carry
//! them. The step that fetches needs them; nothing that is kept may hold
//! them: `/etc/pip.conf`, the condarc, conda-meta records, labels,
//! progress names. [`strip`] is what those get, [`redact`] is what
//! messages show.

/// `text` with the credentials of every URL in it removed.
pub fn strip(text: &str) -> String {
    rewrite(text, "")
}

/// `text` with the credentials of every URL in it shown as `***`.
pub fn redact(text: &str) -> String {
    rewrite(text, "***")
}

/// Whether any URL in `text` carries credentials.
pub fn has_credentials(text: &str) -> bool {
    strip(text) != text
}

/// Each URL that carries credentials, as [`redact`] shows it: what a
/// message about them may quote.
pub fn redacted_urls(text: &str) -> Vec<String> {
    urls(text).map(|(start, end)| &text[start..end]).filter(|u| has_credentials(u)).map(redact).collect()
}

/// Where the URLs of `text` are: from the scheme to white space, a quote,
/// a bracket or a separator.
fn urls(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let i = from + text[from..].find("://")?;
        let start = text[..i].rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c))).map_or(0, |j| j + 1);
        let after = i + 3;
        let end = text[after..]
            .find(|c: char| c.is_whitespace() || "\"'<>,;[](){}".contains(c))
            .map_or(text.len(), |j| after + j);
        from = end;
        Some((start, end))
    })
}

/// Each URL's credentials replaced by `with`: a user part becomes
/// `with@` (nothing when `with` is empty), a token segment `/t/with`
/// (nothing when empty).
fn rewrite(text: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (_, end) in urls(text) {
        let after = copied + text[copied..].find("://").expect("a URL has its ://") + 3;
        out.push_str(&text[copied..after]);
        let url = &text[after..end];
        let (authority, path) = url.split_at(url.find(['/', '?', '#']).unwrap_or(url.len()));
        match authority.rfind('@') {
            Some(at) if !with.is_empty() => {
                out.push_str(with);
                out.push_str(&authority[at..]);
            }
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        // A token lives on a server; `file:///t/x` is a directory.
        if authority.is_empty() {
            out.push_str(path);
        } else {
            out.push_str(&strip_token(path, with));
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// A path with conda's `/t/<token>` segment replaced.
fn strip_token(path: &str, with: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        if i > 0 && parts[i] == "t" && parts.get(i + 1).is_some_and(|t| !t.is_empty()) && i + 2 < parts.len() {
            if !with.is_empty() {
                out.push("t");
                out.push(with);
            }
            i += 2;
            continue;
        }
        out.push(parts[i]);
        i += 1;
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_passwords_and_tokens_go() {
        assert_eq!(strip("https://alice:s3cret@pypi.corp.example/simple"), "https://pypi.corp.example/simple");
        assert_eq!(redact("https://alice:s3cret@pypi.corp.example/simple"), "https://***@pypi.corp.example/simple");
        assert_eq!(strip("git+https://tok3n@git.example/a/b.git@v1"), "git+https://git.example/a/b.git@v1");
        assert_eq!(
            strip("https://conda.example/t/tk-123/main/linux-64/x.conda"),
            "https://conda.example/main/linux-64/x.conda"
        );
        assert_eq!(redact("https://conda.example/t/tk-123/main"), "https://conda.example/t/***/main");
        assert_eq!(
            strip("index-url = https://a:b@x.example/simple\nextra-index-url = http://y.example/simple\n"),
            "index-url = https://x.example/simple\nextra-index-url = http://y.example/simple\n"
        );
    }

    #[test]
    fn urls_without_credentials_stay() {
        for s in [
            "https://pypi.org/simple",
            "numpy==1.21",
            "git+https://github.com/a/b@v1",
            "https://x.example/t/",
            "file:///t/x/y",
        ] {
            assert_eq!(strip(s), s);
            assert!(!has_credentials(s), "{s}");
        }
        assert!(has_credentials("see https://u:p@h.example/"));
    }

    #[test]
    fn the_urls_with_credentials_are_quoted_redacted() {
        let text = "channels: [http://u:p@conda.example/ch, https://pypi.org/simple]\n--index-url https://t0k@x.example/simple";
        assert_eq!(redacted_urls(text), ["http://***@conda.example/ch", "https://***@x.example/simple"]);
        assert!(redacted_urls("numpy==1.21 https://pypi.org/simple").is_empty());
    }
}
