//! `env.yaml` as `conda env export` writes it.

use serde::Deserialize;
use serde_yaml_ng::Value;

/// What an environment file asks for. `name` and `prefix` are read and
/// ignored: the environment is always the image's conda prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    /// `channels`, in order.
    pub channels: Vec<String>,
    /// conda match specs from `dependencies`, such as `numpy=1.21.5=py39h7a5d4dd_0`.
    pub dependencies: Vec<String>,
    /// The requirements of the `- pip:` entry of `dependencies`.
    pub pip: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    prefix: Option<Value>,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    dependencies: Option<Vec<Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    variables: Option<Value>,
}

impl EnvFile {
    /// Parses an environment file as read from disk: UTF-8 with or
    /// without a BOM, or UTF-16 with one (see [`crate::text`]); the error
    /// is one sentence that reads after "env.yaml ".
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, String> {
        Self::parse(&crate::text::decode(bytes).map_err(|e| e.to_string())?)
    }

    /// Parses an environment file; the error is one sentence that reads
    /// after "env.yaml ".
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("is not valid YAML: {e}"))?;
        if value.is_null() {
            return Err("is empty; expected the output of `conda env export`".into());
        }
        if !value.is_mapping() {
            return Err("is not an environment file: expected a mapping with `channels` and `dependencies`".into());
        }
        let raw: Raw = serde_yaml_ng::from_value(value).map_err(|e| format!("is not an environment file: {e}"))?;
        let mut out = EnvFile { channels: raw.channels.unwrap_or_default(), ..Default::default() };
        for dep in raw.dependencies.unwrap_or_default() {
            match dep {
                Value::String(s) => out.dependencies.push(s),
                Value::Mapping(m) => {
                    for (k, v) in m {
                        match (k.as_str(), v) {
                            (Some("pip"), Value::Sequence(reqs)) => {
                                for r in reqs {
                                    match r {
                                        Value::String(s) => out.pip.push(s),
                                        other => {
                                            return Err(format!(
                                                "has a pip requirement that is not a string: {}",
                                                short(&other)
                                            ))
                                        }
                                    }
                                }
                            }
                            (Some("pip"), other) => {
                                return Err(format!("has a `pip` entry that is not a list: {}", short(&other)))
                            }
                            (key, _) => {
                                return Err(format!(
                                "has a dependency entry `{}` that conda does not know; only `pip:` may be a mapping",
                                key.unwrap_or("?")
                            ))
                            }
                        }
                    }
                }
                Value::Number(n) => out.dependencies.push(n.to_string()),
                other => return Err(format!("has a dependency that is not a string: {}", short(&other))),
            }
        }
        Ok(out)
    }
}

fn short(v: &Value) -> String {
    let s = serde_yaml_ng::to_string(v).unwrap_or_default();
    let s = s.trim();
    if s.len() > 60 {
        format!("{}…", &s[..s.char_indices().nth(60).map_or(s.len(), |(i, _)| i)])
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_powershell_export_in_utf16_with_crlf_and_a_windows_prefix() {
        let text = "name: 服务\r\nchannels:\r\n  - defaults\r\ndependencies:\r\n  - python=3.9.13=h0_0\r\n  - pip:\r\n    - six==1.16.0\r\nprefix: C:\\Users\\me\\miniconda3\\envs\\服务\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
        }
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(text.as_bytes());
        for bytes in [le, be, bom, text.as_bytes().to_vec()] {
            let f = EnvFile::parse_bytes(&bytes).unwrap();
            assert_eq!(f.dependencies, ["python=3.9.13=h0_0"]);
            assert_eq!(f.pip, ["six==1.16.0"]);
        }
        let e = EnvFile::parse_bytes(b"dependencies:\n  - caf\xE9\n").unwrap_err();
        assert!(e.starts_with("is not UTF-8 text: the byte 0xE9 at offset 21"), "{e}");
    }

    #[test]
    fn reads_conda_env_export_output() {
        let f = EnvFile::parse(
            "name: detectron\nchannels:\n  - pytorch\n  - defaults\ndependencies:\n  - _libgcc_mutex=0.1=main\n  - python=3.8.13=h12debd9_0\n  - pip:\n    - six==1.16.0\n    - mmcv-full==1.6.0\nprefix: /opt/conda/envs/detectron\n",
        )
        .unwrap();
        assert_eq!(f.channels, ["pytorch", "defaults"]);
        assert_eq!(f.dependencies, ["_libgcc_mutex=0.1=main", "python=3.8.13=h12debd9_0"]);
        assert_eq!(f.pip, ["six==1.16.0", "mmcv-full==1.6.0"]);
    }

    #[test]
    fn bad_files_are_one_sentence() {
        let err = |t: &str| EnvFile::parse(t).unwrap_err();
        assert!(err("dependencies: [a\n").starts_with("is not valid YAML"), "{}", err("dependencies: [a\n"));
        assert_eq!(err(""), "is empty; expected the output of `conda env export`");
        assert_eq!(err("- a\n"), "is not an environment file: expected a mapping with `channels` and `dependencies`");
        assert!(err("dependencies:\n  - foo: [bar]\n").contains("`foo` that conda does not know"));
        assert!(err("dependencies:\n  - pip: six\n").contains("`pip` entry that is not a list: six"));
        assert!(err("dependenceis: []\n").starts_with("is not an environment file: unknown field `dependenceis`"));
    }
}
