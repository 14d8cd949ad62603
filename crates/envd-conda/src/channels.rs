//! From the channel names a build.envd, an env.yaml and a condarc use to
//! the places packages come from, following conda's rules for
//! `defaults`, `custom_channels` and `channel_alias`.

use std::collections::BTreeMap;

/// What `defaults` stands for when the condarc does not say.
pub const DEFAULT_CHANNELS: &[&str] = &["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"];

/// Where plain channel names live when the condarc does not say.
pub const DEFAULT_CHANNEL_ALIAS: &str = "https://conda.anaconda.org";

/// The channel settings of a condarc.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelConfig {
    /// `default_channels`: what `defaults` stands for.
    pub default_channels: Vec<String>,
    /// `custom_channels`: a channel name to the base URL it lives under.
    pub custom_channels: BTreeMap<String, String>,
    /// `channel_alias`: the base URL of other plain names.
    pub channel_alias: Option<String>,
}

/// Where one channel's packages come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelSource {
    /// A URL (`https://`, `http://` or `file://`).
    Url(String),
    /// A directory of the build context (written `./dir`), which the build
    /// mounts read-only: the way to use a channel with no network.
    Context(String),
}

/// Resolves channel names, in priority order, to sources without
/// duplicates. The error is one sentence naming the channel.
pub fn resolve_channels<'a>(
    names: impl IntoIterator<Item = &'a str>,
    config: &ChannelConfig,
) -> Result<Vec<ChannelSource>, String> {
    let mut out: Vec<ChannelSource> = Vec::new();
    let mut push = |s: ChannelSource| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for name in names {
        let name = name.trim();
        if name == "defaults" {
            if config.default_channels.is_empty() {
                DEFAULT_CHANNELS.iter().for_each(|u| push(ChannelSource::Url((*u).to_owned())));
            } else {
                for d in &config.default_channels {
                    if d.trim() == "defaults" {
                        return Err("default_channels lists `defaults` itself".into());
                    }
                    push(one(d, config)?);
                }
            }
        } else {
            push(one(name, config)?);
        }
    }
    Ok(out)
}

fn one(name: &str, config: &ChannelConfig) -> Result<ChannelSource, String> {
    let name = name.trim().trim_end_matches('/');
    if name.is_empty() {
        return Err("a channel name is empty".into());
    }
    if let Some((scheme, rest)) = name.split_once("://") {
        return match scheme {
            "https" | "http" | "file" if !rest.is_empty() => Ok(ChannelSource::Url(name.to_owned())),
            _ => Err(format!("channel `{name}` has a URL scheme other than https, http and file")),
        };
    }
    if let Some(rel) = name.strip_prefix("./") {
        let rel = rel.trim_start_matches("./");
        if rel.is_empty() || rel.split('/').any(|p| p == "..") {
            return Err(format!("channel `{name}` must name a directory inside the build context"));
        }
        return Ok(ChannelSource::Context(rel.to_owned()));
    }
    if name.starts_with('/') || name.starts_with("..") {
        return Err(format!(
            "channel `{name}` is a path outside the build context; write `./dir` for a directory of the context, or a URL"
        ));
    }
    if name.contains(char::is_whitespace) {
        return Err(format!("channel `{name}` contains whitespace"));
    }
    let (first, _) = name.split_once('/').unwrap_or((name, ""));
    let base = match config.custom_channels.get(first) {
        Some(base) => base.as_str(),
        None => config.channel_alias.as_deref().unwrap_or(DEFAULT_CHANNEL_ALIAS),
    };
    if let Some(dir) = base.strip_prefix("./") {
        // a mirror inside the build context
        let dir = dir.trim_matches('/');
        return Ok(ChannelSource::Context(if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }));
    }
    Ok(ChannelSource::Url(format!("{}/{name}", base.trim_end_matches('/'))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(names: &[&str], config: &ChannelConfig) -> Vec<String> {
        resolve_channels(names.iter().copied(), config)
            .unwrap()
            .into_iter()
            .map(|s| match s {
                ChannelSource::Url(u) => u,
                ChannelSource::Context(p) => format!("context:{p}"),
            })
            .collect()
    }

    #[test]
    fn plain_names_use_the_alias_and_custom_channels() {
        let mut config = ChannelConfig::default();
        assert_eq!(urls(&["conda-forge"], &config), ["https://conda.anaconda.org/conda-forge"]);
        assert_eq!(urls(&["defaults"], &config), DEFAULT_CHANNELS);
        config.channel_alias = Some("https://mirror.example/anaconda/".into());
        config.custom_channels.insert("pytorch".into(), "https://tuna.example/cloud".into());
        assert_eq!(
            urls(&["pytorch", "bioconda", "pytorch"], &config),
            ["https://tuna.example/cloud/pytorch", "https://mirror.example/anaconda/bioconda"]
        );
    }

    #[test]
    fn defaults_follow_default_channels_and_context_dirs_stay_relative() {
        let config = ChannelConfig {
            default_channels: vec!["https://m.example/pkgs/main/".into(), "./channel".into()],
            ..Default::default()
        };
        assert_eq!(
            urls(&["defaults", "file:///srv/ch"], &config),
            ["https://m.example/pkgs/main", "context:channel", "file:///srv/ch"]
        );
    }

    #[test]
    fn bad_names_are_one_sentence() {
        let err = |n: &str| resolve_channels([n], &ChannelConfig::default()).unwrap_err();
        assert_eq!(err(""), "a channel name is empty");
        assert_eq!(err("ftp://x/y"), "channel `ftp://x/y` has a URL scheme other than https, http and file");
        assert!(err("/srv/channel").contains("is a path outside the build context"));
        assert_eq!(err("./../x"), "channel `./../x` must name a directory inside the build context");
        let selfref = ChannelConfig { default_channels: vec!["defaults".into()], ..Default::default() };
        assert_eq!(resolve_channels(["defaults"], &selfref).unwrap_err(), "default_channels lists `defaults` itself");
    }
}
