//! What the daemon said it can do, from `Ping`.

use std::collections::BTreeSet;

use bollard_buildkit_proto::moby::buildkit::v1::apicaps::ApiCap;

/// The enabled frontend-API and LLB capabilities of the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    frontend: BTreeSet<String>,
    llb: BTreeSet<String>,
}

fn enabled(caps: &[ApiCap]) -> BTreeSet<String> {
    caps.iter().filter(|c| c.enabled).map(|c| c.id.clone()).collect()
}

impl Caps {
    pub(crate) fn from_pong(frontend: &[ApiCap], llb: &[ApiCap]) -> Self {
        Self { frontend: enabled(frontend), llb: enabled(llb) }
    }

    /// Caps from plain lists, for tests and callers that fake a daemon.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(frontend: I, llb: I) -> Self {
        Self {
            frontend: frontend.into_iter().map(Into::into).collect(),
            llb: llb.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the frontend API has cap `id` (e.g. `source.metaresolver`).
    pub fn frontend(&self, id: &str) -> bool {
        self.frontend.contains(id)
    }

    /// Whether LLB has cap `id` (e.g. `mergeop`).
    pub fn llb(&self, id: &str) -> bool {
        self.llb.contains(id)
    }
}
