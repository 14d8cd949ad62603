//! Paths into the build context, checked where they are written.

use serde::{Deserialize, Serialize};

/// A relative path inside the build context, normalised (`./a//b/` is
/// `a/b`; `.` is the context itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContextPath(String);

impl ContextPath {
    /// Checks and normalises `raw`; the error says what is wrong in words
    /// that fit after "`<argument>`".
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("is empty; expected a path inside the build context".into());
        }
        if raw.starts_with('/') {
            return Err(format!(
                "is absolute ({raw:?}); expected a path relative to the build context, such as \"./{}\"",
                raw.trim_start_matches('/')
            ));
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(format!("({raw:?}) leaves the build context; only files inside it can be used"));
                    }
                }
                p => parts.push(p),
            }
        }
        Ok(Self(if parts.is_empty() { ".".to_owned() } else { parts.join("/") }))
    }

    /// The normalised path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component (`a/b` gives `b`; `.` gives `.`).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl std::fmt::Display for ContextPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ContextPath;

    #[test]
    fn normalises_relative_paths() {
        for (raw, want) in [("./a//b/", "a/b"), ("a/../b", "b"), (".", "."), ("./", "."), ("env.yaml", "env.yaml")] {
            assert_eq!(ContextPath::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        assert_eq!(ContextPath::parse("./detectron2").unwrap().file_name(), "detectron2");
    }

    #[test]
    fn refuses_paths_outside_the_context() {
        assert_eq!(
            ContextPath::parse("../x").unwrap_err(),
            "(\"../x\") leaves the build context; only files inside it can be used"
        );
        assert_eq!(
            ContextPath::parse("a/../../x").unwrap_err(),
            "(\"a/../../x\") leaves the build context; only files inside it can be used"
        );
        assert_eq!(
            ContextPath::parse("/etc/passwd").unwrap_err(),
            "is absolute (\"/etc/passwd\"); expected a path relative to the build context, such as \"./etc/passwd\""
        );
        assert!(ContextPath::parse("").is_err());
    }
}
