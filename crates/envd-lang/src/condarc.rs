//! The condarc YAML of `config.conda_channel(channel=...)`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

/// The parts of a condarc that decide where packages come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondaRc {
    /// `channels`, in order.
    pub channels: Vec<String>,
    /// `default_channels`: what `defaults` stands for.
    pub default_channels: Vec<String>,
    /// `custom_channels`: channel name to base URL.
    pub custom_channels: BTreeMap<String, String>,
    /// `channel_alias`: the base URL of plain channel names.
    pub channel_alias: Option<String>,
    /// Top-level keys that look like custom channel entries (a `name: url`
    /// pair outside `custom_channels`, as an indentation slip gives).
    pub stray_channel_keys: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    default_channels: Option<Vec<String>>,
    #[serde(default)]
    custom_channels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    channel_alias: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// Removes the indentation common to all non-blank lines, so that a YAML
/// block written inside a Starlark string parses as written.
pub fn dedent(text: &str) -> String {
    let indent =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out: Vec<&str> =
        text.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect();
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

impl CondaRc {
    /// Parses condarc YAML; the error is one sentence.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let value: Value = serde_yaml_ng::from_str(yaml).map_err(|e| format!("is not valid YAML: {e}"))?;
        if !value.is_mapping() {
            return Err(
                "is not a condarc: expected a YAML mapping with keys such as channels and custom_channels".into()
            );
        }
        let raw: Raw = serde_yaml_ng::from_value(value).map_err(|e| format!("is not a valid condarc: {e}"))?;
        let looks_like_url = |v: &Value| v.as_str().is_some_and(|s| s.contains("://"));
        let stray_channel_keys = raw.rest.iter().filter(|(_, v)| looks_like_url(v)).map(|(k, _)| k.clone()).collect();
        Ok(Self {
            channels: raw.channels.unwrap_or_default(),
            default_channels: raw.default_channels.unwrap_or_default(),
            custom_channels: raw.custom_channels.unwrap_or_default(),
            channel_alias: raw.channel_alias,
            stray_channel_keys,
        })
    }
}
