//! The request the frontend writes into the build for the installer.

use serde::{Deserialize, Serialize};

/// Bumped when the fields change meaning, so that an installer never
/// carries out a request it would misread.
pub const REQUEST_VERSION: u32 = 1;

/// One conda solve and install, as plain data. Serialized with sorted,
/// stable fields: its bytes are the step's cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// [`REQUEST_VERSION`].
    pub version: u32,
    /// The environment: created if absent, updated in place (its
    /// `conda-meta` kept consistent) if it is one already.
    pub prefix: String,
    /// The conda subdir to install for, such as `linux-64`.
    pub subdir: String,
    /// Channel URLs in priority order (strict priority: a package is taken
    /// from the first channel that has it).
    pub channels: Vec<String>,
    /// Match specs, all solved together.
    pub specs: Vec<String>,
    /// The archives of a lock file: installed exactly, with no solve and
    /// no repodata, each checked against its hash. `specs` and `channels`
    /// are empty then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked: Vec<crate::LockedPackage>,
    /// The CUDA version the environment is for, which becomes the `__cuda`
    /// virtual package (there is no GPU in a build to detect it from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<String>,
    /// Whether every python brings pip, as conda's
    /// `add_pip_as_python_dependency` (on unless the condarc says `false`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub add_pip_as_python_dependency: bool,
    /// A condarc to write to `<prefix>/.condarc`, as the user wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condarc: Option<String>,
    /// The package cache (a cache mount).
    pub pkgs_dir: String,
    /// The repodata cache (a cache mount).
    pub repodata_dir: String,
    /// Which part of an install this request is: the whole of it (the
    /// default), or one part of an environment installed in layers.
    #[serde(default, skip_serializing_if = "Stage::is_whole")]
    pub stage: Stage,
}

/// Which part of an install a request asks for. An environment in layers
/// of its own is resolved once, each group of its packages installed by a
/// step of its own into an otherwise empty prefix (a layer), and the
/// layers merged and finished by a last step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Stage {
    /// Solve (or take `locked`) and install into the prefix, keeping what
    /// it has, then do what follows linking.
    #[default]
    Whole,
    /// Solve only, and write the solve as a [`crate::ResolvedLock`] to
    /// this path.
    Resolve(String),
    /// Install exactly `locked` into the prefix as if it were empty, and
    /// nothing after linking; the environment's python (its archive URL,
    /// read for its name and version only, never fetched) says where
    /// `noarch: python` packages go.
    Layer {
        /// The URL of the environment's python archive, if it has one.
        python: Option<String>,
    },
    /// Every package of `locked` is in the prefix already (merged from the
    /// layers): check that, and do what follows linking for all of them.
    Finish,
}

impl Stage {
    fn is_whole(&self) -> bool {
        *self == Stage::Whole
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl InstallRequest {
    /// The JSON the build carries.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a request always serializes");
        s.push('\n');
        s
    }

    /// Reads a request; the error names what is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let r: Self = serde_json::from_str(text).map_err(|e| format!("the conda request is not valid: {e}"))?;
        if r.version != REQUEST_VERSION {
            return Err(format!(
                "the conda request has version {} but this installer reads version {REQUEST_VERSION}",
                r.version
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_versions() {
        let r = InstallRequest {
            version: REQUEST_VERSION,
            prefix: "/opt/conda".into(),
            subdir: "linux-64".into(),
            channels: vec!["file:///run/envd/context/channel".into()],
            specs: vec!["python 3.11.*".into()],
            locked: Vec::new(),
            cuda: None,
            add_pip_as_python_dependency: true,
            condarc: Some("channels: [defaults]\n".into()),
            pkgs_dir: "/var/cache/envd/conda/pkgs".into(),
            repodata_dir: "/var/cache/envd/conda/repodata".into(),
            stage: Stage::Whole,
        };
        assert_eq!(InstallRequest::from_json(&r.to_json()).unwrap(), r);
        assert!(!r.to_json().contains("add_pip"), "the default is not written: requests keep their bytes");
        let no_pip = InstallRequest { add_pip_as_python_dependency: false, ..r.clone() };
        assert_eq!(InstallRequest::from_json(&no_pip.to_json()).unwrap(), no_pip);
        assert!(!r.to_json().contains("stage"), "nor is the default stage");
        for stage in [Stage::Resolve("/out/l.json".into()), Stage::Layer { python: Some("u".into()) }, Stage::Finish] {
            let staged = InstallRequest { stage, ..r.clone() };
            assert_eq!(InstallRequest::from_json(&staged.to_json()).unwrap(), staged);
        }
        let old = r.to_json().replace("\"version\": 1", "\"version\": 0");
        assert_eq!(
            InstallRequest::from_json(&old).unwrap_err(),
            "the conda request has version 0 but this installer reads version 1"
        );
    }
}
