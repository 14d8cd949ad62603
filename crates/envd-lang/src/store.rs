//! Where builtins put what they are asked for, reached through the
//! evaluator's `extra` slot.

// The `ProvidesStaticType` derive implements an `unsafe` marker trait of
// starlark's for this plain struct; nothing here is unsafe in itself.
#![allow(unsafe_code)]

use std::cell::RefCell;

use starlark::any::ProvidesStaticType;

use crate::diagnostic::Warning;
use crate::plan::{Base, CondaChannel, Cuda, ImageEdits, PipIndex, Step};
use crate::rules::Rule;
use crate::span::Span;

/// The plan under construction.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub(crate) base: Option<Base>,
    pub(crate) cuda: Option<Cuda>,
    pub(crate) steps: Vec<Step>,
    pub(crate) pip_index: Option<PipIndex>,
    pub(crate) conda_channel: Option<CondaChannel>,
    pub(crate) image: ImageEdits,
    pub(crate) warnings: Vec<Warning>,
}

/// The draft behind a `RefCell`, as builtins only get `&self`.
#[derive(Debug, Default, ProvidesStaticType)]
pub(crate) struct Store(pub(crate) RefCell<Draft>);

impl Store {
    /// Records a finding of `rule` at `span`.
    pub(crate) fn warn(&self, span: &Span, rule: Rule, message: impl Into<String>) {
        self.0.borrow_mut().warnings.push(Warning { message: message.into(), span: span.clone(), rule: Some(rule) });
    }
}
