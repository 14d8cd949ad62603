//! The OCI image config, edited in place so that fields this frontend does
//! not know about (healthchecks, stop signals, annotations) pass through.

use serde_json::{json, Map, Value};

use envd_llb::Platform;

/// An image config JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig(Value);

impl ImageConfig {
    /// Parses a config as the registry serves it.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("the base image config is not JSON: {e}"))?;
        if !v.is_object() {
            return Err("the base image config is not a JSON object".into());
        }
        Ok(Self(v))
    }

    /// The JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("a JSON value serialises")
    }

    /// The JSON value.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    fn config(&self) -> Option<&Map<String, Value>> {
        self.0.get("config").and_then(Value::as_object)
    }

    fn config_mut(&mut self) -> &mut Map<String, Value> {
        let root = self.0.as_object_mut().expect("checked at parse");
        let cfg = root.entry("config").or_insert_with(|| json!({}));
        if !cfg.is_object() {
            *cfg = json!({});
        }
        cfg.as_object_mut().expect("just made an object")
    }

    /// `config.Env` as pairs, in order.
    pub fn env(&self) -> Vec<(String, String)> {
        self.config()
            .and_then(|c| c.get("Env"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (kv.to_owned(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `config.WorkingDir`, if set.
    pub fn working_dir(&self) -> Option<&str> {
        self.config().and_then(|c| c.get("WorkingDir")).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// `config.User`, if set.
    pub fn user(&self) -> Option<&str> {
        self.config().and_then(|c| c.get("User")).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// Sets `os`, `architecture` and `variant` (BuildKit's exporter needs
    /// the first two).
    pub fn set_platform(&mut self, p: &Platform) {
        let root = self.0.as_object_mut().expect("checked at parse");
        root.insert("os".into(), json!(p.os));
        root.insert("architecture".into(), json!(p.architecture));
        if p.variant.is_empty() {
            root.remove("variant");
        } else {
            root.insert("variant".into(), json!(p.variant));
        }
    }

    /// Sets a label.
    pub fn set_label(&mut self, key: &str, value: &str) {
        let cfg = self.config_mut();
        let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        labels.as_object_mut().expect("just made an object").insert(key.into(), json!(value));
    }
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self(json!({"config": {}}))
    }
}
