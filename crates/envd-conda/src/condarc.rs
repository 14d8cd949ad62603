//! A condarc: the YAML of `config.conda_channel(channel=...)`, and the
//! channel settings in it that [`resolve_channels`](crate::resolve_channels)
//! follows. The language crate parses it at the call, so a malformed
//! condarc is an error at its line; lowering reads the same type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::channels::ChannelConfig;

/// The parts of a condarc that decide where packages come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondaRc {
    /// `channels`, in order.
    pub channels: Vec<String>,
    /// `default_channels`, `custom_channels` and `channel_alias`.
    #[serde(flatten)]
    pub channel_config: ChannelConfig,
    /// `add_pip_as_python_dependency`: `Some(false)` keeps pip out of an
    /// environment with python.
    pub add_pip_as_python_dependency: Option<bool>,
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
    #[serde(default)]
    add_pip_as_python_dependency: Option<bool>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
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
            channel_config: ChannelConfig {
                default_channels: raw.default_channels.unwrap_or_default(),
                custom_channels: raw.custom_channels.unwrap_or_default(),
                channel_alias: raw.channel_alias,
            },
            add_pip_as_python_dependency: raw.add_pip_as_python_dependency,
            stray_channel_keys,
        })
    }
}
