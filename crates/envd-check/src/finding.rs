//! What every rule takes and gives: the [`Input`] of a lint and the
//! [`Finding`]s it reports. Its own module, so that the rule modules and
//! the crate root both import it and neither imports the other.

use std::collections::BTreeMap;

use envd_lang::{Evaluated, Rule, Span};

/// One broken rule, at a place in build.envd or in a file it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// One sentence about this case. It never repeats a credential.
    pub message: String,
    /// Where; the file is build.envd or a context path such as `env.yaml`.
    /// `None` for what has no place in any file (an unused `--build-arg`).
    pub span: Option<Span>,
}

impl Finding {
    pub(crate) fn at(rule: Rule, span: &Span, message: impl Into<String>) -> Self {
        Self { rule, message: message.into(), span: Some(span.clone()) }
    }
}

/// What the linter looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The evaluated build.
    pub evaluated: &'a Evaluated,
    /// The `--build-arg`s given (build.envd's `args`).
    pub build_args: &'a BTreeMap<String, String>,
    /// The files of [`files_to_read`](crate::files_to_read) that could be read, by context path.
    pub files: &'a BTreeMap<String, String>,
    /// What build.envd says of the base's CUDA: `aiges_cpu` has none,
    /// `aiges_gpu` its version; another image's is not known before the
    /// build reads its config.
    pub base_cuda: envd_gpu::BaseCuda,
}

/// The 1-based number of the first line of `text` that contains `needle`.
pub(crate) fn line_containing(text: &str, needle: &str) -> Option<u32> {
    text.lines().position(|l| l.contains(needle)).map(|i| i as u32 + 1)
}
