//! What BuildKit hands the frontend process in its environment.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The environment prefix of each frontend option: the variable's value is
/// `key=value`, split at the first `=`.
const OPT_PREFIX: &str = "BUILDKIT_FRONTEND_OPT_";

/// Options and session of one frontend run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontendEnv {
    /// Every frontend option (`filename`, `build-arg:X`, ...).
    pub opts: BTreeMap<String, String>,
    /// The client session that serves locals and secrets.
    pub session_id: String,
    /// Platforms of the default worker, as `os/arch[/variant]`.
    pub worker_platforms: Vec<String>,
}

#[derive(Deserialize)]
struct Worker {
    #[serde(default)]
    platforms: Vec<WorkerPlatform>,
}

#[derive(Deserialize)]
struct WorkerPlatform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: String,
}

impl FrontendEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Reads `vars` as BuildKit sets them. Unknown variables are ignored;
    /// a malformed option (no `=`) is kept with an empty value, as BuildKit's
    /// own client does.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env = Self::default();
        for (k, v) in vars {
            if k.starts_with(OPT_PREFIX) {
                let (key, value) = v.split_once('=').unwrap_or((v.as_str(), ""));
                env.opts.insert(key.to_owned(), value.to_owned());
            } else if k == "BUILDKIT_SESSION_ID" {
                env.session_id = v;
            } else if k == "BUILDKIT_WORKERS" {
                if let Ok(workers) = serde_json::from_str::<Vec<Worker>>(&v) {
                    if let Some(w) = workers.into_iter().next() {
                        env.worker_platforms = w
                            .platforms
                            .into_iter()
                            .map(|p| match p.variant.as_str() {
                                "" => format!("{}/{}", p.os, p.architecture),
                                v => format!("{}/{}/{}", p.os, p.architecture, v),
                            })
                            .collect();
                    }
                }
            }
        }
        env
    }
}

/// A cache to import, as `Solve` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CacheImport {
    /// `registry`, `local`, `gha`, ...
    #[serde(rename = "Type", alias = "type")]
    pub kind: String,
    /// Type-specific attributes (`ref`, ...).
    #[serde(rename = "Attrs", alias = "attrs", default)]
    pub attrs: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn options_split_at_the_first_equals_sign() {
        let env = FrontendEnv::from_vars(vars(&[
            ("BUILDKIT_FRONTEND_OPT_0", "build-arg:A=b=c"),
            ("BUILDKIT_FRONTEND_OPT_1", "filename=build.envd"),
            ("BUILDKIT_FRONTEND_OPT_2", "no-cache"),
            ("BUILDKIT_SESSION_ID", "sess"),
            ("PATH", "/bin"),
            ("BUILDKIT_WORKERS", r#"[{"id":"w","platforms":[{"os":"linux","architecture":"arm64","variant":"v8"}]}]"#),
        ]));
        assert_eq!(env.opts["build-arg:A"], "b=c");
        assert_eq!(env.opts["filename"], "build.envd");
        assert_eq!(env.opts["no-cache"], "");
        assert_eq!(env.opts.len(), 3);
        assert_eq!(env.session_id, "sess");
        assert_eq!(env.worker_platforms, ["linux/arm64/v8"]);
    }
}
