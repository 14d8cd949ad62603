//! Evaluation of a build.envd into a plan.

use starlark::environment::{GlobalsBuilder, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect};

use crate::builtins;
use crate::error::Error;
use crate::plan::Plan;
use crate::span::Span;
use crate::store::Store;

/// The function evaluated when no target is chosen.
pub const DEFAULT_TARGET: &str = "build";

/// How to evaluate.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// The function to evaluate; [`DEFAULT_TARGET`] when `None`.
    pub target: Option<String>,
}

/// The v0 dialect: Python-like definitions, no `load()`.
fn dialect() -> Dialect {
    Dialect { enable_load: false, enable_top_level_stmt: true, ..Dialect::Standard }
}

/// Checks a `# syntax=` first line: an image reference (for BuildKit) or
/// envd's own `v0` are comments; `v1` is a dialect this frontend does not
/// speak.
fn check_syntax_line(filename: &str, source: &str) -> Result<(), Error> {
    let first = source.lines().next().unwrap_or_default().trim();
    if let Some(value) = first.strip_prefix('#').map(str::trim).and_then(|r| r.strip_prefix("syntax=")) {
        if value.trim() == "v1" {
            return Err(Error::at(
                Span::line(filename, 1),
                "this frontend speaks envd's v0 dialect; remove \"# syntax=v1\" or write the file in v0",
            ));
        }
    }
    Ok(())
}

/// Evaluates `source` (named `filename` in errors) and returns its plan.
pub fn evaluate(filename: &str, source: &str, opts: &EvalOptions) -> Result<Plan, Error> {
    check_syntax_line(filename, source)?;
    let ast = AstModule::parse(filename, source.to_owned(), &dialect()).map_err(Error::from_starlark)?;
    let globals = GlobalsBuilder::standard().with(builtins::globals).build();
    let target = opts.target.as_deref().unwrap_or(DEFAULT_TARGET);
    let store = Store::default();
    Module::with_temp_heap(|module| {
        let mut eval = Evaluator::new(&module);
        eval.extra = Some(&store);
        eval.eval_module(ast, &globals).map_err(Error::from_starlark)?;
        let Some(function) = module.get(target) else {
            let mut targets: Vec<String> = module.names().map(|n| n.as_str().to_owned()).collect();
            targets.sort();
            return Err(Error::nowhere(format!(
                "{filename} has no function {target}(); it defines: {}",
                if targets.is_empty() { "nothing".to_owned() } else { targets.join(", ") }
            )));
        };
        eval.eval_function(function, &[], &[]).map_err(Error::from_starlark)?;
        Ok(())
    })?;
    let base = store.base.into_inner().ok_or_else(|| {
        Error::nowhere(format!("{target}() never calls base(); expected base(image=\"aiges_cpu\") or similar"))
    })?;
    Ok(Plan { target: target.to_owned(), base, steps: store.steps.into_inner() })
}
