//! What a build.envd offers, read from its syntax without running it: the
//! targets `--call targets` lists, and the comments that describe targets
//! and build args.
//!
//! A target is a top-level `def` that takes no arguments, as `--target`
//! can only call such a function. Its description is its docstring, or
//! else the comment lines just above the `def`.

use std::collections::BTreeMap;

use starlark::syntax::ast::{AstLiteral, AstStmt, ExprP, StmtP};
use starlark::syntax::AstModule;

use crate::diagnostic::Diagnostic;
use crate::eval::{dialect, DEFAULT_TARGET};
use crate::span::Span;

/// A function `--target` can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The function's name.
    pub name: String,
    /// Its docstring's first paragraph, or the comment above it.
    pub description: Option<String>,
    /// Whether a build without `--target` builds it.
    pub default: bool,
    /// The `def` line.
    pub span: Span,
}

/// The comments of a file, by line: what describes a target or a build
/// arg.
#[derive(Debug, Clone, Default)]
pub struct Comments {
    /// Line → (comment text without `#`, whether the line holds nothing else).
    lines: BTreeMap<u32, (String, bool)>,
}

impl Comments {
    fn of(ast: &AstModule, source: &str) -> Self {
        let text_lines: Vec<&str> = source.lines().collect();
        let mut lines = BTreeMap::new();
        for span in ast.comments() {
            let fs = ast.file_span(*span);
            let at = fs.resolve_span();
            let line = at.begin.line as u32 + 1;
            let before = text_lines.get(at.begin.line).map_or("", |l| l.get(..at.begin.column).unwrap_or(""));
            let text = fs.source_span().trim_start_matches('#').trim().to_owned();
            lines.insert(line, (text, before.trim().is_empty()));
        }
        Self { lines }
    }

    /// The comment that describes what is on `line`: a comment at the end
    /// of that line, or else the comment-only lines just above it, joined.
    /// Directives (`# syntax=`, `# check=`) describe nothing.
    pub fn describing(&self, line: u32) -> Option<String> {
        if let Some((text, false)) = self.lines.get(&line) {
            return Some(text.clone()).filter(|t| !t.is_empty());
        }
        let mut above = Vec::new();
        let mut l = line.saturating_sub(1);
        while let Some((text, true)) = self.lines.get(&l) {
            if is_directive(text) {
                break;
            }
            above.push(text.as_str());
            l = l.saturating_sub(1);
        }
        above.reverse();
        let joined = above.join(" ").trim().to_owned();
        Some(joined).filter(|t| !t.is_empty())
    }
}

fn is_directive(comment: &str) -> bool {
    ["syntax=", "check="].iter().any(|d| comment.trim_start().starts_with(d))
}

fn parse(filename: &str, source: &str) -> Result<AstModule, Diagnostic> {
    AstModule::parse(filename, source.to_owned(), &dialect())
        .map_err(|e| Diagnostic::from_starlark(e, &Default::default()))
}

/// The targets of `source`, in file order.
pub fn targets(filename: &str, source: &str) -> Result<Vec<Target>, Diagnostic> {
    Ok(targets_and_comments(filename, source)?.0)
}

/// The targets of `source` and its comments, from one parse.
pub fn targets_and_comments(filename: &str, source: &str) -> Result<(Vec<Target>, Comments), Diagnostic> {
    let ast = parse(filename, source)?;
    let comments = Comments::of(&ast, source);
    let top: Vec<&AstStmt> = match &ast.statement().node {
        StmtP::Statements(v) => v.iter().collect(),
        _ => vec![ast.statement()],
    };
    let mut out = Vec::new();
    for stmt in top {
        let StmtP::Def(def) = &stmt.node else { continue };
        if !def.params.is_empty() {
            continue;
        }
        let span = Span::from_file_span(&ast.file_span(def.name.span));
        let description = docstring(&def.body).or_else(|| comments.describing(span.line));
        let name = def.name.node.ident.clone();
        out.push(Target { default: name == DEFAULT_TARGET, name, description, span: Span::line(filename, span.line) });
    }
    Ok((out, comments))
}

/// The first paragraph of a function's docstring, on one line.
fn docstring(body: &AstStmt) -> Option<String> {
    let first = match &body.node {
        StmtP::Statements(v) => v.first()?,
        _ => body,
    };
    let StmtP::Expression(e) = &first.node else { return None };
    let ExprP::Literal(AstLiteral::String(s)) = &e.node else { return None };
    let paragraph: Vec<&str> = s.node.trim().lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    Some(paragraph.join(" ")).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"# syntax=aiges/envd-frontend
# check=skip=UnusedBuildArg

# The CPU service.
# Built by default.
def build():
    base(image="aiges_cpu")

def gpu():
    """The GPU service.

    Needs CUDA 11.6.
    """
    base(image="aiges_gpu")

def helper(x):
    return x

def bare():
    version = args.get("VERSION", "1.0")  # the model's version
    # where the weights come from
    url = args.get("URL", "")
"#;

    #[test]
    fn lists_functions_without_parameters_with_their_descriptions() {
        let t = targets("build.envd", SRC).unwrap();
        let view: Vec<(&str, Option<&str>, bool, u32)> =
            t.iter().map(|t| (t.name.as_str(), t.description.as_deref(), t.default, t.span.line)).collect();
        assert_eq!(
            view,
            [
                ("build", Some("The CPU service. Built by default."), true, 6),
                ("gpu", Some("The GPU service."), false, 9),
                ("bare", None, false, 19),
            ]
        );
    }

    #[test]
    fn comments_describe_the_line_they_end_or_the_lines_below() {
        let (_, c) = targets_and_comments("build.envd", SRC).unwrap();
        assert_eq!(c.describing(20).as_deref(), Some("the model's version"));
        assert_eq!(c.describing(22).as_deref(), Some("where the weights come from"));
        assert_eq!(c.describing(7), None);
        assert_eq!(c.describing(3), None, "the directives above describe nothing");
    }

    #[test]
    fn a_syntax_error_is_a_diagnostic_at_its_line() {
        let e = targets("build.envd", "def build(:\n").unwrap_err();
        assert_eq!(e.span.map(|s| s.line), Some(1));
    }
}
