//! One build, stage by stage: read the entrypoint, analyse (evaluate, ask
//! what the plan needs, fetch it, lint), lower, solve. Each stage hands the next plain
//! data and none goes back to an earlier one. With several platforms,
//! evaluation, the context files and the checks happen once; each
//! platform has its own base, lowering and solve, all at once, and the
//! result is one ref per platform, which the exporter makes an index of.

use std::collections::HashMap;

use envd_gateway::{Client, Warning};
use envd_lower::LlbCaps;

use crate::analysis::{self, Subject};
use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{self, Entrypoint, Fetch};
use crate::isolate::Child;
use crate::{report, solve};

/// The result metadata that hands `SOURCE_DATE_EPOCH` to the exporter.
const EPOCH_KEY: &str = "source.date.epoch";

/// The most rounds of resolve steps a build takes: a conda environment's,
/// then its env file's pip: section's (python steps resolve in the first).
const RESOLVE_ROUNDS: usize = 3;
/// The result metadata that holds an image's config.
const CONFIG_KEY: &str = "containerimage.config";
/// The result metadata that maps refs to platforms.
const PLATFORMS_KEY: &str = "refs.platforms";

/// One platform's solved image.
#[derive(Debug)]
pub struct Built {
    /// Its platform.
    pub platform: envd_llb::Platform,
    /// The solved result.
    pub ref_id: String,
    /// Its definition.
    pub definition: envd_llb::pb::Definition,
    /// Its image config.
    pub config: Vec<u8>,
    /// Its SBOM, when `--sbom` asked the frontend for one: the solved
    /// ref holding the document at [`crate::sbom::PATH`], and its
    /// definition.
    pub sbom: Option<(String, envd_llb::pb::Definition)>,
}

/// A finished build, ready to return.
#[derive(Debug)]
pub struct Outcome {
    /// One image per platform, in the order of `--platform`.
    pub built: Vec<Built>,
    /// Whether to return them as an index (`refs`) even if there is one.
    pub multi_platform: bool,
    /// `SOURCE_DATE_EPOCH`, for the exporter.
    pub source_date_epoch: Option<i64>,
}

impl Outcome {
    /// Each platform's SBOM, as an in-toto SPDX predicate keyed by the
    /// platform id `refs.platforms` gives it; `sbom-core` names the file,
    /// so that BuildKit adds the layers to its comments.
    pub fn attestations(&self) -> Vec<envd_gateway::InToto> {
        self.built
            .iter()
            .filter_map(|b| {
                let (ref_id, definition) = b.sbom.clone()?;
                Some(envd_gateway::InToto {
                    platform: b.platform.export_id(),
                    ref_id,
                    definition,
                    path: crate::sbom::PATH.into(),
                    predicate_type: crate::sbom::spdx::PREDICATE_TYPE.into(),
                    metadata: HashMap::from([
                        ("reason".to_owned(), b"sbom".to_vec()),
                        ("sbom-core".to_owned(), b"sbom".to_vec()),
                    ]),
                })
            })
            .collect()
    }

    /// The result metadata, as dockerui's result builder writes it:
    /// `containerimage.config` (suffixed `/<platform>` for an index) and
    /// `refs.platforms`.
    pub fn metadata(&self) -> HashMap<String, Vec<u8>> {
        let mut metadata = HashMap::new();
        for b in &self.built {
            let key = if self.multi_platform {
                format!("{CONFIG_KEY}/{}", b.platform.export_id())
            } else {
                CONFIG_KEY.to_owned()
            };
            metadata.insert(key, b.config.clone());
        }
        let platforms: Vec<serde_json::Value> = self
            .built
            .iter()
            .map(|b| {
                let mut p = serde_json::json!({ "os": b.platform.os, "architecture": b.platform.architecture });
                if !b.platform.variant.is_empty() {
                    p["variant"] = b.platform.variant.clone().into();
                }
                serde_json::json!({ "ID": b.platform.export_id(), "Platform": p })
            })
            .collect();
        metadata
            .insert(PLATFORMS_KEY.to_owned(), serde_json::json!({ "Platforms": platforms }).to_string().into_bytes());
        if let Some(epoch) = self.source_date_epoch {
            // The exporter dates the history (and with rewrite-timestamp=true,
            // the layers) by it, as for a Dockerfile.
            metadata.insert(EPOCH_KEY.to_owned(), epoch.to_string().into_bytes());
        }
        metadata
    }
}

/// Runs the build described by `config` against `client`.
pub async fn build(config: &Config, client: &Client) -> Result<Outcome, Failure> {
    // The evaluator starts while build.envd is read: its start is then
    // off the build's path.
    let child = analysis::start_child()?;
    let entry = inputs::read_entrypoint(config, client).await?;
    from_entrypoint(config, client, &entry, child).await.map_err(|f| f.in_file(&entry.source))
}

/// Everything after the build file is read: the analysis (which fetches
/// the bases with the context files), its warnings, then for every
/// platform at once, lowering and the solve.
async fn from_entrypoint(
    config: &Config,
    client: &Client,
    entry: &Entrypoint,
    child: Child,
) -> Result<Outcome, Failure> {
    let text = report::source_text(&config.filename, &entry.source)?;
    let mut fetch = Fetch::new(config, client, entry);
    let analysis = analysis::analyse(Subject::of(config, &text), &mut fetch, Some(child)).await?;
    let plan = &analysis.evaluated.plan;
    let inputs = fetch.inputs(&analysis.files)?;
    report::warn(client, &entry.source, &entry.digest, &analysis.files, &analysis.evaluated, &analysis.findings)
        .await?;
    warn_unused_contexts(config, client, entry, &analysis.needs).await?;
    if let Some(error) = analysis.checked_error(&config.filename) {
        return Err(error.into());
    }
    let caps = LlbCaps {
        merge_diff: client.caps().llb(envd_llb::caps::MERGE_OP) && client.caps().llb(envd_llb::caps::DIFF_OP),
    };
    let builds = config.platforms.iter().zip(&inputs).map(|(platform, inputs)| async move {
        let lower_config = config.lower_config(platform, caps);
        let mut lowered = envd_lower::lower(plan, &lower_config, inputs)?;
        // Python and conda steps whose packages go in layers of their own:
        // their locks, then the plan lowered again with them. An env
        // file's pip: section resolves against its conda environment, so
        // a round after it.
        let mut inputs = inputs.clone();
        for _ in 0..RESOLVE_ROUNDS {
            if lowered.resolves.is_empty() {
                break;
            }
            let locks = inputs::resolve_locks(client, &lowered, &config.cache_imports).await?;
            inputs.locks.extend(locks);
            lowered = envd_lower::lower(plan, &lower_config, &inputs)?;
        }
        if !lowered.resolves.is_empty() {
            return Err(Failure::internal(format!(
                "{} resolve steps are left after {RESOLVE_ROUNDS} rounds",
                lowered.resolves.len()
            )));
        }
        let marshalled = lowered.state.marshal().map_err(Failure::internal)?;
        let definition = marshalled.definition;
        let ref_id = solve::solve(client, definition.clone(), &config.cache_imports, &lowered.scripts).await?;
        let sbom = match config.sbom {
            crate::config::Sbom::Records => {
                let subject = crate::sbom::Subject {
                    ref_id: &ref_id,
                    base: &lowered.base,
                    base_reference: &inputs.base.reference,
                    conda_prefix: lowered.conda_prefix.as_deref(),
                    platform,
                    python_locks: python_locks(&inputs.locks),
                };
                let created = lowered.config.created().unwrap_or_default().to_owned();
                let attested =
                    crate::sbom::attest(client, plan, &config.filename, &created, &subject, &config.cache_imports)
                        .await?;
                Some(attested)
            }
            _ => None,
        };
        Ok::<_, Failure>(Built {
            platform: platform.clone(),
            ref_id,
            definition,
            config: lowered.config.to_bytes(),
            sbom,
        })
    });
    let built = futures_util::future::join_all(builds).await.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome { built, multi_platform: config.multi_platform, source_date_epoch: config.source_date_epoch })
}

/// Says which `--build-context`s the build does not use: build.envd
/// takes a named context only as its base.
async fn warn_unused_contexts(
    config: &Config,
    client: &Client,
    entry: &Entrypoint,
    needs: &envd_lower::Needs,
) -> Result<(), Failure> {
    let names = inputs::base_names(needs);
    for named in config.named.unused(&names) {
        let warning = Warning {
            digest: entry.digest.clone(),
            short: format!(
                "--build-context {} is not used: a named context replaces build.envd's base, which is {}",
                named.name,
                names.join(" or ")
            ),
            detail: Vec::new(),
            url: String::new(),
            at: None,
        };
        client.clone().warn(warning).await?;
    }
    Ok(())
}

/// The python locks of a build's resolve steps, by plan step: what the
/// SBOM reads a python package's step and hash from.
fn python_locks(
    locks: &std::collections::BTreeMap<(usize, &'static str), String>,
) -> Vec<(usize, envd_lower::lock::PythonLock)> {
    locks
        .iter()
        .filter(|((_, file), _)| *file == envd_lower::layered::LOCK_FILE)
        .filter_map(|((step, _), text)| Some((*step, envd_lower::lock::PythonLock::parse(text).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(platform: &str) -> Built {
        Built {
            platform: envd_llb::Platform::parse(platform).unwrap(),
            ref_id: format!("ref-{platform}"),
            definition: Default::default(),
            config: platform.as_bytes().to_vec(),
            sbom: Some((format!("sbom-{platform}"), Default::default())),
        }
    }

    #[test]
    fn each_platform_gets_its_sbom_under_its_id() {
        let out = Outcome {
            built: vec![built("linux/amd64"), Built { sbom: None, ..built("linux/arm64") }],
            multi_platform: true,
            source_date_epoch: None,
        };
        let a = out.attestations();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].platform.as_str(), a[0].ref_id.as_str()), ("linux/amd64", "sbom-linux/amd64"));
        assert_eq!(a[0].predicate_type, "https://spdx.dev/Document");
        assert_eq!(a[0].metadata["sbom-core"], b"sbom");
    }

    #[test]
    fn several_platforms_give_an_index_with_a_config_each() {
        let out = Outcome {
            built: vec![built("linux/amd64"), built("linux/arm64/v8")],
            multi_platform: true,
            source_date_epoch: Some(1),
        };
        let m = out.metadata();
        assert_eq!(m["containerimage.config/linux/amd64"], b"linux/amd64");
        assert_eq!(m["containerimage.config/linux/arm64"], b"linux/arm64/v8");
        assert!(!m.contains_key("containerimage.config"));
        let platforms: serde_json::Value = serde_json::from_slice(&m["refs.platforms"]).unwrap();
        assert_eq!(
            platforms,
            serde_json::json!({"Platforms": [
                {"ID": "linux/amd64", "Platform": {"os": "linux", "architecture": "amd64"}},
                {"ID": "linux/arm64", "Platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            ]})
        );
        assert_eq!(m["source.date.epoch"], b"1");
    }

    #[test]
    fn one_platform_gives_one_config() {
        let out = Outcome { built: vec![built("linux/amd64")], multi_platform: false, source_date_epoch: None };
        let m = out.metadata();
        assert_eq!(m["containerimage.config"], b"linux/amd64");
        assert!(m.contains_key("refs.platforms") && !m.contains_key("source.date.epoch"));
    }
}
