//! Where builtins put what they are asked for, reached through the
//! evaluator's `extra` slot.

// The `ProvidesStaticType` derive implements an `unsafe` marker trait of
// starlark's for this plain struct; nothing here is unsafe in itself.
#![allow(unsafe_code)]

use std::cell::RefCell;

use starlark::any::ProvidesStaticType;

use crate::plan::{Base, Step};

/// The plan under construction.
#[derive(Debug, Default, ProvidesStaticType)]
pub(crate) struct Store {
    pub(crate) base: RefCell<Option<Base>>,
    pub(crate) steps: RefCell<Vec<Step>>,
}
