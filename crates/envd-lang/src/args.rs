//! `args`: the `--build-arg`s, read-only, as build.envd sees them.
//!
//! It behaves as the dict it always was (`args["X"]`, `args.get("X", "1")`,
//! `"X" in args`, `keys()`, iteration), and it records every read. The
//! reads are what `--call outline` lists — the target's own code path
//! decides which args it reads — and what the linter checks: an arg read
//! with no default that was not given, and an arg given that nothing
//! reads.

// The `ProvidesStaticType` derive implements an `unsafe` marker trait of
// starlark's for this plain struct; nothing here is unsafe in itself.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use allocative::Allocative;
use serde::{Deserialize, Serialize};
use starlark::environment::{Methods, MethodsBuilder, MethodsStatic};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::starlark_simple_value;
use starlark::values::list::AllocList;
use starlark::values::none::NoneType;
use starlark::values::{starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkValue, Value, ValueLike};

use crate::builtins::call::caller;
use crate::span::Span;

/// One read of a build arg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgRead {
    /// The arg's name.
    pub name: String,
    /// The default given to `args.get`, as text; `None` for `args["X"]`,
    /// `"X" in args` and `args.get("X")`.
    pub default: Option<String>,
    /// Whether a `--build-arg` gave it.
    pub given: bool,
    /// How it was read.
    pub how: ReadKind,
    /// Where, when known: always for `args.get`; for the other forms, the
    /// statement, when evaluation was asked to locate reads.
    pub span: Option<Span>,
}

/// The form of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadKind {
    /// `args.get("X", default)`.
    Get,
    /// `args["X"]`.
    Index,
    /// `"X" in args`.
    Contains,
    /// `keys()`, `items()`, `values()` or iteration: every given arg.
    Each,
}

/// Where the reads of one evaluation go. Shared with the `args` value,
/// which lives in the frozen globals and so cannot reach the evaluator.
#[derive(Debug, Default)]
pub(crate) struct ReadLog {
    reads: Mutex<Vec<ArgRead>>,
    /// The statement running, kept up to date only when reads are located.
    statement: Mutex<Option<Span>>,
}

impl ReadLog {
    pub(crate) fn set_statement(&self, span: Span) {
        *self.statement.lock().expect("not poisoned") = Some(span);
    }

    fn record(&self, name: &str, default: Option<String>, given: bool, how: ReadKind, span: Option<Span>) {
        let span = span.or_else(|| self.statement.lock().expect("not poisoned").clone());
        self.reads.lock().expect("not poisoned").push(ArgRead { name: name.to_owned(), default, given, how, span });
    }

    pub(crate) fn take(&self) -> Vec<ArgRead> {
        std::mem::take(&mut self.reads.lock().expect("not poisoned"))
    }
}

/// The `args` value.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub(crate) struct BuildArgs {
    #[allocative(skip)]
    given: BTreeMap<String, String>,
    #[allocative(skip)]
    log: Arc<ReadLog>,
}
starlark_simple_value!(BuildArgs);

impl BuildArgs {
    pub(crate) fn new(given: BTreeMap<String, String>, log: Arc<ReadLog>) -> Self {
        Self { given, log }
    }

    fn each(&self) {
        for name in self.given.keys() {
            self.log.record(name, None, true, ReadKind::Each, None);
        }
    }
}

impl fmt::Display for BuildArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.given.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        write!(f, "{{{}}}", items.join(", "))
    }
}

static METHODS: MethodsStatic = MethodsStatic::new("BuildArgs", methods);

#[starlark_value(type = "dict")]
impl<'v> StarlarkValue<'v> for BuildArgs {
    fn get_methods() -> Option<&'static Methods> {
        Some(METHODS.methods())
    }

    fn to_bool(&self) -> bool {
        !self.given.is_empty()
    }

    fn length(&self) -> starlark::Result<i32> {
        Ok(self.given.len() as i32)
    }

    fn at(&self, index: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        let Some(name) = index.unpack_str() else {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "args[{}]: build arg names are strings",
                index.to_repr()
            )));
        };
        let value = self.given.get(name);
        self.log.record(name, None, value.is_some(), ReadKind::Index, None);
        match value {
            Some(v) => Ok(heap.alloc(v.as_str())),
            None => Err(starlark::Error::new_other(anyhow::anyhow!(
                "build arg {name:?} was not given; pass --build-arg {name}=..., or read it with args.get({name:?}, \"default\")"
            ))),
        }
    }

    fn is_in(&self, other: Value<'v>) -> starlark::Result<bool> {
        let Some(name) = other.unpack_str() else { return Ok(false) };
        let given = self.given.contains_key(name);
        self.log.record(name, None, given, ReadKind::Contains, None);
        Ok(given)
    }

    fn iterate_collect(&self, heap: Heap<'v>) -> starlark::Result<Vec<Value<'v>>> {
        self.each();
        Ok(self.given.keys().map(|k| heap.alloc(k.as_str())).collect())
    }
}

#[starlark_module]
fn methods(builder: &mut MethodsBuilder) {
    /// `args.get(name, default=None)`.
    fn get<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] name: &str,
        #[starlark(require = pos, default = NoneType)] default: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let this = this.downcast_ref::<BuildArgs>().expect("a method of BuildArgs");
        let text = if default.is_none() {
            None
        } else {
            Some(default.unpack_str().map_or_else(|| default.to_repr(), str::to_owned))
        };
        let value = this.given.get(name);
        this.log.record(name, text, value.is_some(), ReadKind::Get, Some(caller(eval)));
        Ok(match value {
            Some(v) => eval.heap().alloc(v.as_str()),
            None => default,
        })
    }

    /// `args.keys()`.
    fn keys<'v>(this: Value<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
        let this = this.downcast_ref::<BuildArgs>().expect("a method of BuildArgs");
        this.each();
        Ok(heap.alloc(AllocList(this.given.keys().map(String::as_str))))
    }

    /// `args.values()`.
    fn values<'v>(this: Value<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
        let this = this.downcast_ref::<BuildArgs>().expect("a method of BuildArgs");
        this.each();
        Ok(heap.alloc(AllocList(this.given.values().map(String::as_str))))
    }

    /// `args.items()`.
    fn items<'v>(this: Value<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
        let this = this.downcast_ref::<BuildArgs>().expect("a method of BuildArgs");
        this.each();
        Ok(heap.alloc(AllocList(this.given.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
    }
}

#[cfg(test)]
mod tests {
    use crate::{evaluate, EvalOptions, ReadKind};

    const SRC: &str = "def build():\n    base()\n    v = args[\"VERSION\"]\n    if \"CUDA\" in args:\n        pass\n    w = args.get(\"W\", 3)\n    for k in args:\n        pass\n";

    fn reads(locate: bool) -> Vec<(String, ReadKind, Option<String>, Option<u32>)> {
        let opts = EvalOptions {
            build_args: [("VERSION".to_owned(), "2".to_owned())].into(),
            locate_reads: locate,
            ..Default::default()
        };
        let ev = evaluate("build.envd", SRC, &opts).unwrap();
        ev.reads.into_iter().map(|r| (r.name, r.how, r.default, r.span.map(|s| s.line))).collect()
    }

    #[test]
    fn every_read_is_recorded_and_located_when_asked() {
        let s = |v: &str| v.to_owned();
        assert_eq!(
            reads(true),
            [
                (s("VERSION"), ReadKind::Index, None, Some(3)),
                (s("CUDA"), ReadKind::Contains, None, Some(4)),
                (s("W"), ReadKind::Get, Some(s("3")), Some(6)),
                (s("VERSION"), ReadKind::Each, None, Some(7)),
            ]
        );
        let unlocated = reads(false);
        assert_eq!(unlocated[0].3, None, "index reads have a place only when asked");
        assert_eq!(unlocated[2].3, Some(6), "args.get always has its call");
    }

    #[test]
    fn a_missing_arg_is_an_error_that_says_how_to_give_it() {
        let e = evaluate("build.envd", "def build():\n    base()\n    v = args[\"MODEL\"]\n", &Default::default())
            .unwrap_err();
        assert_eq!(e.span.as_ref().map(|s| s.line), Some(3));
        assert!(e.message.contains("build arg \"MODEL\" was not given; pass --build-arg MODEL=..., or read it with args.get(\"MODEL\", \"default\")"), "{}", e.message);
    }
}
