//! The OCI image config, edited in place so that fields this frontend does
//! not know about (healthchecks, stop signals, annotations) pass through.

use serde_json::{json, Map, Value};

use envd_llb::Platform;

use crate::well_known::DEFAULT_PATH;

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

    pub(crate) fn config_mut(&mut self) -> &mut Map<String, Value> {
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

    /// The value of `key` in `config.Env`, if it is set.
    fn env_var(&self, key: &str) -> Option<String> {
        self.env().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` in `config.Env`: in its place if it is there, else at
    /// the end.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        let cfg = self.config_mut();
        let mut env: Vec<String> = cfg
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let prefix = format!("{key}=");
        let entry = format!("{prefix}{value}");
        match env.iter_mut().find(|kv| kv.starts_with(&prefix)) {
            Some(kv) => *kv = entry,
            None => env.push(entry),
        }
        cfg.insert("Env".into(), json!(env));
    }

    /// Puts `dir` first on the image's PATH (the base's, or the usual one
    /// where the base has none), as conda's activation would.
    pub fn prepend_path(&mut self, dir: &str) {
        let old = self.env_var("PATH").unwrap_or_else(|| DEFAULT_PATH.to_owned());
        self.set_env("PATH", &prepend_path(dir, &old));
    }

    /// Adds `dir` at the end of `LD_LIBRARY_PATH`, unless it is there:
    /// the image's own library directories keep their precedence.
    pub fn append_library_path(&mut self, dir: &str) {
        let value = match self.env_var("LD_LIBRARY_PATH") {
            Some(old) if old.split(':').any(|d| d == dir) => return,
            Some(old) if !old.is_empty() => format!("{old}:{dir}"),
            _ => dir.to_owned(),
        };
        self.set_env("LD_LIBRARY_PATH", &value);
    }

    /// Sets when the image was made, in seconds since the Unix epoch: the
    /// build's time, or `SOURCE_DATE_EPOCH`. Without it the image would
    /// keep its base's date.
    pub fn set_created(&mut self, unix_seconds: i64) {
        if let Some(top) = self.0.as_object_mut() {
            top.insert("created".into(), json!(rfc3339(unix_seconds)));
        }
    }

    /// When the image was made, as written.
    pub fn created(&self) -> Option<&str> {
        self.0.get("created").and_then(Value::as_str)
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

/// `unix_seconds` as RFC 3339 in UTC (`2023-11-14T22:13:20Z`), by the
/// civil-from-days calculation of the proleptic Gregorian calendar.
pub fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self(json!({"config": {}}))
    }
}

/// What the plan asks of the image config, applied over the base's.
pub(crate) fn apply_edits(config: &mut ImageConfig, plan: &envd_lang::Plan) {
    let edits = &plan.image;
    for e in &edits.env {
        config.set_env(&e.value.0, &e.value.1);
    }
    if !edits.extra_path.is_empty() {
        let extra: Vec<&str> = edits.extra_path.iter().map(|p| p.value.as_str()).collect();
        let old = config.env_var("PATH").unwrap_or_else(|| DEFAULT_PATH.to_owned());
        config.set_env("PATH", &format!("{}:{old}", extra.join(":")));
    }
    let cfg = config.config_mut();
    if let Some(ep) = &edits.entrypoint {
        cfg.insert("Entrypoint".into(), json!(ep.value));
        // As with a Dockerfile ENTRYPOINT, the base's command no longer
        // applies unless the file gives one.
        if edits.command.is_none() {
            cfg.insert("Cmd".into(), Value::Null);
        }
    }
    if let Some(cmd) = &edits.command {
        let line = cmd.value.values().next().cloned().unwrap_or_default();
        cfg.insert("Cmd".into(), json!(["/bin/sh", "-c", line]));
    }
    if !edits.expose.is_empty() {
        let ports = cfg.entry("ExposedPorts").or_insert_with(|| json!({}));
        if !ports.is_object() {
            *ports = json!({});
        }
        let ports = ports.as_object_mut().expect("just made an object");
        for e in &edits.expose {
            ports.insert(format!("{}/tcp", e.port), json!({}));
        }
    }
    for e in &edits.expose {
        if let Some(name) = &e.service_name {
            config.set_label(&format!("org.aiges.envd.service.{}", e.port), name);
        }
    }
}

/// `dir` first on a PATH, and not again later.
pub(crate) fn prepend_path(dir: &str, path: &str) -> String {
    let rest: Vec<&str> = path.split(':').filter(|p| !p.is_empty() && *p != dir).collect();
    if rest.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}:{}", rest.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_083_199), "2026-11-30T23:59:59Z");
        let mut c = ImageConfig::parse(br#"{"created":"2020-01-01T00:00:00Z","config":{}}"#).unwrap();
        c.set_created(1_700_000_000);
        assert_eq!(c.created(), Some("2023-11-14T22:13:20Z"));
    }

    #[test]
    fn a_library_directory_goes_last_and_once() {
        let env = |json: &str, dir: &str| {
            let mut c = ImageConfig::parse(json.as_bytes()).unwrap();
            c.append_library_path(dir);
            c.append_library_path(dir);
            c.env().into_iter().find(|(k, _)| k == "LD_LIBRARY_PATH").map(|(_, v)| v)
        };
        let aiges = r#"{"config":{"Env":["LD_LIBRARY_PATH=/home/aiges/library"]}}"#;
        assert_eq!(env(aiges, "/opt/conda/lib").as_deref(), Some("/home/aiges/library:/opt/conda/lib"));
        assert_eq!(env(r#"{"config":{}}"#, "/opt/conda/lib").as_deref(), Some("/opt/conda/lib"));
        assert_eq!(env(r#"{"config":{"Env":["LD_LIBRARY_PATH="]}}"#, "/x").as_deref(), Some("/x"));
    }
}
