//! The one trait every op implements, and references to op outputs.

use std::fmt;
use std::sync::Arc;

use crate::constraints::Constraints;
use crate::error::Result;
use crate::pb;

/// An LLB operation in the build graph.
///
/// The marshaller asks each op for its [`inputs`](Vertex::inputs), marshals
/// those first, then hands the op their resolved `pb::Input`s (same order)
/// and gets back the op and the caps it needs.
pub trait Vertex: Send + Sync + fmt::Debug {
    /// The outputs of other ops that this op reads, in a stable order.
    fn inputs(&self) -> Vec<Output>;
    /// Rejects an op that BuildKit would reject.
    fn validate(&self) -> Result<()>;
    /// The op as BuildKit receives it, given its inputs' digests (in the
    /// order of [`inputs`](Vertex::inputs)), and the caps it relies on.
    fn marshal(&self, inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)>;
    /// Progress name, cache control and source locations of the op.
    fn constraints(&self) -> &Constraints;
}

/// One output of an op: what a [`State`](crate::State) points at.
#[derive(Clone)]
pub struct Output {
    pub(crate) vertex: Arc<dyn Vertex>,
    pub(crate) index: i64,
}

impl Output {
    pub(crate) fn new(vertex: Arc<dyn Vertex>, index: i64) -> Self {
        Self { vertex, index }
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Output({:?}#{})", self.vertex, self.index)
    }
}

/// Appends `input` to `list` unless an equal one is there, returning its
/// index. Ops that read one state twice (an exec's root and a mount of the
/// same state) list it once, as BuildKit does.
pub(crate) fn input_index(list: &mut Vec<pb::Input>, input: &pb::Input) -> i64 {
    if let Some(i) = list.iter().position(|x| x == input) {
        return i as i64;
    }
    list.push(input.clone());
    (list.len() - 1) as i64
}
