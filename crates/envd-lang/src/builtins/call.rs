//! What every builtin does with its call: find the evaluation's store and
//! the caller's span, check package names, paths and aliased arguments,
//! and set a node that may be set once. Its own module, so that the
//! builtins (and `args`, which locates reads of `args`) use it without
//! importing the module that registers them.

use anyhow::bail;
use starlark::eval::Evaluator;

use crate::paths::ContextPath;
use crate::plan::{Base, CondaChannel, Cuda, PipIndex, Spanned};
use crate::span::Span;
use crate::store::Store;

/// The store of the running evaluation.
pub(crate) fn store<'a>(eval: &'a Evaluator) -> &'a Store {
    eval.extra.and_then(|e| e.downcast_ref::<Store>()).expect("evaluate() always installs the store")
}

/// The span of the build.envd call being evaluated.
pub(crate) fn caller(eval: &Evaluator) -> Span {
    eval.call_stack_top_location().map(|s| Span::from_file_span(&s)).unwrap_or_else(|| Span::line("build.envd", 1))
}

/// Checks a list of package names: none empty, none that is several
/// names in one string (a common slip is `"numpy pandas"`). With
/// `requirements`, the items are pip requirements, where white space is
/// fine around an operator, a marker or a direct reference:
/// `"numpy >= 1.2"`, `"demo @ git+ssh://host/repo.git"`.
pub(crate) fn package_names(
    call: &str,
    arg: &str,
    items: Vec<String>,
    requirements: bool,
) -> anyhow::Result<Vec<String>> {
    items
        .into_iter()
        .map(|raw| {
            let name = raw.trim();
            if name.is_empty() {
                bail!("{call}({arg}=) has an empty package name; remove it or name the package");
            }
            let spec_syntax = requirements && name.contains(['@', ';', '<', '>', '=', '!', '~', ',', '[']);
            if name.contains(char::is_whitespace) && !spec_syntax {
                bail!("{call}({arg}=) has {raw:?}, which is several names in one string; write one name per item");
            }
            Ok(name.to_owned())
        })
        .collect()
}

/// Checks a path into the build context.
pub(crate) fn context_path(call: &str, arg: &str, raw: &str) -> anyhow::Result<ContextPath> {
    ContextPath::parse(raw).map_err(|why| anyhow::anyhow!("{call}({arg}=) {why}"))
}

/// Picks the one of an argument's spellings that was given. Using an
/// alias is fine; giving two spellings is an error.
pub(crate) fn one_of<T>(call: &str, given: Vec<(&str, Option<T>)>) -> anyhow::Result<Option<(String, T)>> {
    let mut found: Option<(String, T)> = None;
    for (name, value) in given {
        if let Some(v) = value {
            if let Some((first, _)) = &found {
                bail!("{call}() got both {first}= and {name}=, which mean the same; keep one");
            }
            found = Some((name.to_owned(), v));
        }
    }
    Ok(found)
}

/// A plan node that a call which may be made once per build sets.
pub(crate) trait Once {
    /// The call that set it.
    fn span(&self) -> &Span;
}

macro_rules! once_by_span {
    ($($t:ty),*) => { $(impl Once for $t { fn span(&self) -> &Span { &self.span } })* };
}
once_by_span!(Base, Cuda, PipIndex, CondaChannel);

impl<T> Once for Spanned<T> {
    fn span(&self) -> &Span {
        &self.span
    }
}

/// Puts the node of `call` into `slot`, which a second call must not
/// overwrite: that is an error naming the first call's line.
pub(crate) fn set_once<T: Once>(call: &str, slot: &mut Option<T>, node: T) -> anyhow::Result<()> {
    if let Some(first) = slot {
        bail!("{call}() is called twice; the first call is at line {}", first.span().line);
    }
    *slot = Some(node);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::package_names;

    #[test]
    fn requirements_may_have_spaces_around_their_syntax_names_may_not() {
        let req = |s: &str| package_names("install.python_packages", "name", vec![s.to_owned()], true);
        assert!(req("demo-ssh @ git+ssh://git@host/repo.git").is_ok());
        assert!(req("numpy >= 1.2; python_version > '3.8'").is_ok());
        let e = req("numpy pandas").unwrap_err().to_string();
        assert!(e.contains("several names in one string"), "{e}");
        let apt = package_names("install.system_packages", "name", vec!["curl=7.88 wget".into()], false);
        assert!(apt.unwrap_err().to_string().contains("several names in one string"));
    }
}
