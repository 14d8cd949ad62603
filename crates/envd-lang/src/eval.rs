//! Evaluation of a build.envd into a plan, sandboxed and bounded.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use starlark::codemap::FileSpanRef;
use starlark::environment::{GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::{BeforeStmtFunc, Evaluator};
use starlark::syntax::{AstModule, Dialect};
use starlark::PrintHandler;

use crate::args::{ArgRead, BuildArgs, ReadLog};
use crate::builtins;
use crate::diagnostic::{Diagnostic, Warning};
use crate::limits::Limits;
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
    /// `--build-arg`s, readable in build.envd as the dict `args`.
    pub build_args: BTreeMap<String, String>,
    /// Bounds; the defaults suit any real build.envd.
    pub limits: Limits,
    /// Give every read of `args` a place, not only `args.get`'s: what
    /// `--call outline` asks. It follows each statement, which ordinary
    /// builds need not pay for.
    pub locate_reads: bool,
}

/// A plan and the warnings met on the way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evaluated {
    /// The plan.
    pub plan: Plan,
    /// Non-fatal issues, in the order met.
    pub warnings: Vec<Warning>,
    /// Every read of a build arg, in the order made.
    pub reads: Vec<ArgRead>,
}

/// The v0 dialect: Python-like definitions and top-level statements; no
/// `load()` (a build.envd is self-contained), no type annotations.
pub(crate) fn dialect() -> Dialect {
    Dialect { enable_load: false, enable_top_level_stmt: true, ..Dialect::Standard }
}

/// Checks a `# syntax=` first line: an image reference (for BuildKit) or
/// envd's own `v0` are comments; `v1` is a dialect this frontend does not
/// speak.
fn check_syntax_line(filename: &str, source: &str) -> Result<(), Diagnostic> {
    let first = source.lines().next().unwrap_or_default().trim();
    if let Some(value) = first.strip_prefix('#').map(str::trim).and_then(|r| r.strip_prefix("syntax=")) {
        if value.trim() == "v1" {
            return Err(Diagnostic::at(
                Span::line(filename, 1),
                "this frontend speaks envd's v0 dialect; remove \"# syntax=v1\" or write the file in v0",
            ));
        }
    }
    Ok(())
}

/// `print()` output becomes warnings instead of going to a stream.
#[derive(Default)]
struct Prints(RefCell<Vec<String>>);

impl PrintHandler for Prints {
    fn println(&self, text: &str) -> starlark::Result<()> {
        self.0.borrow_mut().push(text.to_owned());
        Ok(())
    }
}

/// Evaluates `source` (named `filename` in spans) and returns its plan.
pub fn evaluate(filename: &str, source: &str, opts: &EvalOptions) -> Result<Evaluated, Diagnostic> {
    match run(filename, source, opts, None) {
        Err(d) if d.span.is_none() && d.is_limit(&opts.limits) => {
            // starlark stops between two instructions and says nowhere.
            // Evaluation is deterministic, so a second run with a hook on
            // every statement stops at the same place and says which
            // statement was running; normal runs pay nothing for it.
            let last = RefCell::new(None);
            let _ = run(filename, source, opts, Some(&last));
            Err(Diagnostic { span: last.into_inner(), ..d })
        }
        other => other,
    }
}

/// One evaluation; with `trace`, the span of each statement is recorded
/// there before it runs.
fn run(
    filename: &str,
    source: &str,
    opts: &EvalOptions,
    trace: Option<&RefCell<Option<Span>>>,
) -> Result<Evaluated, Diagnostic> {
    check_syntax_line(filename, source)?;
    let limits = opts.limits;
    let from_starlark = |e| Diagnostic::from_starlark(e, &limits);
    let ast = AstModule::parse(filename, source.to_owned(), &dialect()).map_err(from_starlark)?;
    let mut globals = GlobalsBuilder::extended_by(&[LibraryExtension::Print]).with(builtins::register);
    let log = Arc::new(ReadLog::default());
    globals.set("args", BuildArgs::new(opts.build_args.clone(), log.clone()));
    let globals = globals.build();
    let target = opts.target.as_deref().unwrap_or(DEFAULT_TARGET);
    let store = Store::default();
    let prints = Prints::default();
    let record = |span: FileSpanRef, _: bool, _: &mut Evaluator| {
        let span = Span::from_file_span(&span.to_file_span());
        if opts.locate_reads {
            log.set_statement(span.clone());
        }
        if let Some(t) = trace {
            *t.borrow_mut() = Some(span);
        }
    };
    Module::with_temp_heap(|module| {
        let mut eval = Evaluator::new(&module);
        eval.extra = Some(&store);
        eval.set_print_handler(&prints);
        if trace.is_some() || opts.locate_reads {
            eval.before_stmt_for_dap(BeforeStmtFunc::Fn(&record));
        }
        let limit = |e: anyhow::Error| Diagnostic::nowhere(format!("cannot set evaluation limits: {e}"));
        eval.set_max_tick_count(limits.ticks).map_err(limit)?;
        eval.set_max_heap_size(limits.heap_bytes).map_err(limit)?;
        eval.set_max_callstack_size(limits.call_depth).map_err(limit)?;
        eval.eval_module(ast, &globals).map_err(from_starlark)?;
        let function = module.get(target).filter(|f| f.parameters_spec().is_some());
        let Some(function) = function else {
            let mut targets: Vec<String> = module
                .names()
                .filter(|n| {
                    module
                        .get(n.as_str())
                        .and_then(|v| v.parameters_spec())
                        .is_some_and(|p| p.can_fill_with_args(0, &[]))
                })
                .map(|n| n.as_str().to_owned())
                .collect();
            targets.sort();
            let list = if targets.is_empty() { "none".to_owned() } else { targets.join(", ") };
            return Err(Diagnostic::nowhere(format!(
                "{filename} has no function {target}(); the functions that can be built are: {list}"
            )));
        };
        if !function.parameters_spec().is_some_and(|p| p.can_fill_with_args(0, &[])) {
            return Err(Diagnostic::nowhere(format!(
                "{filename}'s {target}() takes parameters; a build target must take none"
            )));
        }
        eval.eval_function(function, &[], &[]).map_err(from_starlark)?;
        Ok(())
    })?;
    let draft = store.0.into_inner();
    if draft.steps.len() > limits.steps {
        return Err(Diagnostic::nowhere(format!(
            "{target}() asks for {} steps; the limit is {}",
            draft.steps.len(),
            limits.steps
        )));
    }
    let base = draft.base.ok_or_else(|| {
        Diagnostic::nowhere(format!("{target}() never calls base(); expected base(image=\"aiges_cpu\") or similar"))
    })?;
    let mut warnings = draft.warnings;
    warnings.extend(prints.0.into_inner().into_iter().map(|text| Warning {
        message: format!("print: {text}"),
        span: Span::line(filename, 1),
        rule: None,
    }));
    let plan = Plan {
        dialect: "v0".to_owned(),
        target: target.to_owned(),
        base,
        cuda: draft.cuda,
        steps: draft.steps,
        pip_index: draft.pip_index,
        conda_channel: draft.conda_channel,
        image: draft.image,
    };
    Ok(Evaluated { plan, warnings, reads: log.take() })
}
