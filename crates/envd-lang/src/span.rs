//! Source spans: where in build.envd a plan node came from.

use serde::{Deserialize, Serialize};
use starlark::codemap::FileSpan;

/// A range of a source file. Lines are 1-based (as editors and BuildKit
/// count them), columns 1-based too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The file name, as given to [`evaluate`](crate::evaluate).
    pub file: String,
    /// First line.
    pub line: u32,
    /// First column.
    pub column: u32,
    /// Last line.
    pub end_line: u32,
    /// Column just past the end.
    pub end_column: u32,
}

impl Span {
    pub(crate) fn from_file_span(s: &FileSpan) -> Self {
        let r = s.resolve_span();
        Self {
            file: s.filename().to_owned(),
            line: r.begin.line as u32 + 1,
            column: r.begin.column as u32 + 1,
            end_line: r.end.line as u32 + 1,
            end_column: r.end.column as u32 + 1,
        }
    }

    /// A span covering one whole line, for errors found before parsing.
    pub fn line(file: &str, line: u32) -> Self {
        Self { file: file.to_owned(), line, column: 1, end_line: line, end_column: 1 }
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
