//! What the frontend fetched for a plan, as [`needs`](crate::needs) asked:
//! the resolved base, the build context, the context files and the
//! frontend's own image. Plain data; lowering reads it and fetches nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use envd_llb::{SourceMap, State};

use crate::image_config::ImageConfig;
use crate::well_known::DEFAULT_PATH;

/// Where the base's file system comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BaseSource {
    /// An image of a registry or of the worker's store: the reference.
    #[default]
    Image,
    /// An image in an OCI layout the client serves
    /// (`--build-context NAME=oci-layout://…`).
    OciLayout {
        /// The client's session.
        session: String,
        /// The layout's content store in that session.
        store: String,
    },
    /// A directory of the client's, as the root file system
    /// (`--build-context NAME=./dir`).
    Local {
        /// The local's name.
        name: String,
        /// The client's session.
        session: String,
        /// buildx's key for sharing transfers of it.
        shared_key: String,
    },
}

/// The base image as the daemon resolved it.
#[derive(Debug, Clone)]
pub struct ResolvedBase {
    /// The reference, pinned to its digest where one is known; for a
    /// directory, the context's name.
    pub reference: String,
    /// The base's image config JSON.
    pub config: ImageConfig,
    /// Where its file system comes from.
    pub source: BaseSource,
    /// The named context that replaced the plan's base, if one did.
    pub named_context: Option<String>,
    /// The CUDA version of an AIGES GPU base (`aiges_gpu`, by the file,
    /// `AIGES_DEVICE` or `install.cuda`).
    pub aiges_cuda: Option<String>,
}

impl ResolvedBase {
    /// A base with nothing in its config but the usual PATH, for lowering
    /// without a daemon.
    pub fn stand_in(reference: &str) -> Self {
        let config = serde_json::json!({ "config": { "Env": [format!("PATH={DEFAULT_PATH}")] } });
        Self {
            reference: reference.to_owned(),
            config: ImageConfig::parse(config.to_string().as_bytes()).expect("a valid config"),
            source: BaseSource::Image,
            named_context: None,
            aiges_cuda: None,
        }
    }
}

/// Where the build context comes from.
#[derive(Debug, Clone)]
pub enum ContextSource {
    /// The client's directory, the local of this name (`context`).
    Local(String),
    /// A repository or tarball BuildKit fetches: the files, whole; a
    /// remote context has no `.dockerignore`, as for a Dockerfile.
    Remote(State),
}

/// What the frontend fetched for the plan, as [`needs`](crate::needs) asked.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The build file, for source locations.
    pub source: Arc<SourceMap>,
    /// The build context, decided once by the frontend's inputs layer.
    pub context: ContextSource,
    /// `.dockerignore` patterns of the context.
    pub dockerignore: Vec<String>,
    /// The base image, resolved.
    pub base: ResolvedBase,
    /// The context files [`Needs::context_files`](crate::Needs::context_files) named, by path, as
    /// read; a file missing here is missing from the context.
    pub context_files: BTreeMap<String, String>,
    /// The frontend's own image, pinned, whose binary installs conda
    /// environments in the build; `None` when BuildKit did not say.
    pub installer_image: Option<String>,
    /// The text of the lock each resolve the frontend solved wrote, by
    /// [`Resolve::key`](crate::Resolve::key): plan step index and file
    /// (see [`crate::Lowered::resolves`]).
    pub locks: BTreeMap<(usize, &'static str), String>,
}

/// The frontend image a local lowering names as the installer.
pub const LOCAL_INSTALLER_IMAGE: &str = "docker.io/aiges/envd-frontend:latest";

impl Inputs {
    /// Inputs of a lowering without BuildKit: `source` as `build.envd`,
    /// `base`, the local `context`, no `.dockerignore`, no context files, and
    /// [`LOCAL_INSTALLER_IMAGE`] as the installer.
    pub fn local(source: &str, base: ResolvedBase) -> Self {
        Self {
            source: SourceMap::new("build.envd", source.as_bytes().to_vec(), "starlark"),
            context: ContextSource::Local("context".into()),
            dockerignore: Vec::new(),
            base,
            context_files: BTreeMap::new(),
            installer_image: Some(LOCAL_INSTALLER_IMAGE.into()),
            locks: BTreeMap::new(),
        }
    }
}
