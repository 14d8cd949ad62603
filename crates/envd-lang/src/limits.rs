//! How far one evaluation may go. Its own module: evaluation enforces the
//! limits and diagnostics explain them, and neither imports the other.

/// Bounds on one evaluation, so that a hostile or buggy file ends in an
/// error rather than a hang or an out-of-memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Function calls plus loop iterations.
    pub ticks: u64,
    /// Bytes of the Starlark heap.
    pub heap_bytes: usize,
    /// Nested calls. Starlark forbids recursion; this is what stops it.
    pub call_depth: usize,
    /// Steps in the plan.
    pub steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { ticks: 1_000_000, heap_bytes: 64 << 20, call_depth: 64, steps: 10_000 }
    }
}
