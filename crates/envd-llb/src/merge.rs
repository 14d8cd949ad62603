//! MergeOp and DiffOp: layer-wise union and difference of states.
//!
//! They let independent branches (say, apt and conda) build in parallel and
//! be joined without one re-running when the other changes. BuildKit only
//! accepts them when the worker supports them (the `mergeop`/`diffop` caps);
//! callers check that once and fall back to a linear chain.

use std::sync::Arc;

use crate::constraints::Constraints;
use crate::error::{Error, Result};
use crate::state::State;
use crate::vertex::{input_index, Output, Vertex};
use crate::{caps, pb};

/// The union of `states`, later ones winning on conflicts. The result keeps
/// the exec settings of the first state.
pub fn merge(states: &[State], constraints: Constraints) -> State {
    let inputs = states.iter().filter_map(|s| s.output().cloned()).collect();
    let first = states.first().cloned().unwrap_or_default();
    first.with_output(Some(Output::new(Arc::new(MergeOp { inputs, constraints }), 0)))
}

/// What `upper` adds to `lower`, as a state of its own.
pub fn diff(lower: &State, upper: &State, constraints: Constraints) -> State {
    let op = DiffOp { lower: lower.output().cloned(), upper: upper.output().cloned(), constraints };
    upper.with_output(Some(Output::new(Arc::new(op), 0)))
}

#[derive(Debug)]
struct MergeOp {
    inputs: Vec<Output>,
    constraints: Constraints,
}

impl Vertex for MergeOp {
    fn inputs(&self) -> Vec<Output> {
        self.inputs.clone()
    }

    fn validate(&self) -> Result<()> {
        if self.inputs.len() < 2 {
            return Err(Error::Invalid { op: "merge", reason: "needs at least two non-scratch inputs".into() });
        }
        Ok(())
    }

    fn marshal(&self, inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        // Unlike other ops, a merge lists a repeated input each time: the
        // order of layers is the meaning of the op.
        let merge_inputs = (0..inputs.len() as i64).map(|input| pb::MergeInput { input }).collect();
        let op = pb::Op {
            inputs: inputs.to_vec(),
            op: Some(pb::op::Op::Merge(pb::MergeOp { inputs: merge_inputs })),
            ..Default::default()
        };
        Ok((op, vec![caps::MERGE_OP]))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

#[derive(Debug)]
struct DiffOp {
    lower: Option<Output>,
    upper: Option<Output>,
    constraints: Constraints,
}

impl Vertex for DiffOp {
    fn inputs(&self) -> Vec<Output> {
        self.lower.iter().chain(self.upper.iter()).cloned().collect()
    }

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn marshal(&self, inputs: &[pb::Input]) -> Result<(pb::Op, Vec<&'static str>)> {
        let mut op_inputs = Vec::new();
        let mut resolved = inputs.iter();
        let mut index = |present: bool| match present {
            true => input_index(&mut op_inputs, resolved.next().expect("diff input resolved")),
            false => -1,
        };
        let lower = index(self.lower.is_some());
        let upper = index(self.upper.is_some());
        let op = pb::Op {
            inputs: op_inputs,
            op: Some(pb::op::Op::Diff(pb::DiffOp {
                lower: Some(pb::LowerDiffInput { input: lower }),
                upper: Some(pb::UpperDiffInput { input: upper }),
            })),
            ..Default::default()
        };
        Ok((op, vec![caps::DIFF_OP]))
    }

    fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}
