//! The build context: one `local://context` source carrying only the files
//! the plan names, so that editing any other file changes nothing; or the
//! repository or tarball BuildKit fetched, whole.

use std::collections::BTreeSet;

use envd_lang::{Plan, StepKind};
use envd_llb::{Constraints, Local, State};

use crate::config::LowerConfig;
use crate::inputs::{ContextSource, Inputs};

/// The context paths the plan reads, and whether a step needs all of it.
fn used_paths(plan: &Plan) -> (BTreeSet<String>, bool) {
    let mut paths = BTreeSet::new();
    let mut whole = false;
    for step in &plan.steps {
        match &step.kind {
            StepKind::Copy { src, .. } => {
                paths.insert(src.as_str().to_owned());
            }
            StepKind::PythonPackages { requirements, local_wheels, .. } => {
                paths.extend(requirements.iter().chain(local_wheels).map(|p| p.as_str().to_owned()));
            }
            StepKind::Run { mount_host: true, .. } => whole = true,
            _ => {}
        }
    }
    if paths.contains(".") {
        whole = true;
    }
    (paths, whole)
}

/// The context state, or `None` when the plan reads no context file.
/// `extra` are more paths steps read (conda channel directories); env
/// files are not among them: the frontend reads those itself.
pub(crate) fn state(plan: &Plan, config: &LowerConfig, inputs: &Inputs, extra: &[String]) -> Option<State> {
    let (mut paths, mut whole) = used_paths(plan);
    paths.extend(extra.iter().cloned());
    whole |= paths.contains(".");
    if paths.is_empty() && !whole {
        return None;
    }
    let name = match &inputs.context {
        ContextSource::Remote(state) => return Some(state.clone()),
        ContextSource::Local(name) => name,
    };
    let mut local = Local::new(name)
        .session_id(&config.session_id)
        .shared_key_hint(name)
        .constraints(Constraints::named("[internal] load build context"));
    if !whole {
        let list: Vec<String> = paths.into_iter().collect();
        local = local.include_patterns(list.clone()).follow_paths(list);
    }
    if !inputs.dockerignore.is_empty() {
        local = local.exclude_patterns(inputs.dockerignore.clone());
    }
    Some(local.into_state())
}
