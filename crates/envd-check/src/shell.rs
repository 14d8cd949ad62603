//! Just enough shell to find the programs a `run()` command starts: split
//! on `&&`, `||`, `;`, `|` and new lines, unquote words, and drop what
//! comes before the program (`sudo`, `env`, `VAR=value`).
//!
//! It is a reader for warnings, not a shell: a command it misreads gets a
//! missing or a needless warning, never a changed build.

/// The simple commands of `script`, each as its words, program first.
pub(crate) fn commands(script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for piece in split_commands(script) {
        let mut words = words(&piece);
        while let Some(first) = words.first() {
            if matches!(first.as_str(), "sudo" | "env" | "exec" | "time" | "nohup" | "command") {
                words.remove(0);
                // The wrapper's own options: `sudo -E pip ...`.
                while words.first().is_some_and(|w| w.starts_with('-')) {
                    words.remove(0);
                }
            } else if first.contains('=') && !first.starts_with(['=', '-']) {
                words.remove(0);
            } else {
                break;
            }
        }
        if !words.is_empty() {
            out.push(words);
        }
    }
    out
}

fn split_commands(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, ';' | '\n' | '(' | ')') => out.push(std::mem::take(&mut cur)),
            (None, '&' | '|') => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            (None, c) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if started || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The program's name without its directory: `/usr/bin/pip3` is `pip3`.
pub(crate) fn program(words: &[String]) -> &str {
    words.first().map_or("", |w| w.rsplit('/').next().unwrap_or(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_programs_and_drops_what_precedes_them() {
        let c = commands("cd /src && DEBIAN_FRONTEND=noninteractive sudo -E apt-get install -y 'a b'; ls | wc -l\npython -m pip install x");
        let progs: Vec<&str> = c.iter().map(|w| program(w)).collect();
        assert_eq!(progs, ["cd", "apt-get", "ls", "wc", "python"]);
        assert_eq!(c[1], ["apt-get", "install", "-y", "a b"]);
    }
}
