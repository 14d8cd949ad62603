//! The in-build conda installer: `envd-frontend conda-install REQUEST`.
//!
//! It runs inside a build step, on whatever base the build uses, mounted
//! read-only from the frontend's own image, so it must not depend on
//! anything the base has or lacks: it is one static binary, it resolves
//! names with hickory (glibc's getaddrinfo does not work from a static
//! binary), it trusts the base's CA store, and it honours
//! `HTTP(S)_PROXY`/`NO_PROXY`.
//!
//! It carries out one [`InstallRequest`]: fetch repodata for the channels
//! (cached in a cache mount), solve every spec together with resolvo,
//! keeping what the prefix already has, and install into the prefix with
//! rattler, which writes `conda-meta` records that conda itself reads.
//! Packages are cached in a second cache mount; each one that was not
//! there already is logged as `envd: fetched <file>`, so a rebuild shows
//! what it had to download.
//!
//! pip comes with python, as conda, mamba and micromamba install it
//! (`add_pip_as_python_dependency`, on unless the condarc turns it off):
//! every python record is given a dependency on `pip` before the solve.
//! After linking, the `noarch: python` packages are compiled and their
//! entry points checked, and post-link scripts named (see `after_link.rs`).
//!
//! A request from a lock file (`locked`) skips repodata and the solve: it
//! fetches exactly the listed archives, each checked against its hash by
//! the package cache, reads each one's record from its `info/index.json`,
//! and installs those.

mod after_link;
mod client;
mod dist;
mod error;
mod virtual_packages;

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use envd_conda::{credentials, InstallRequest, LockedPackage, ResolvedLock, Stage};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rattler::install::Installer;
use rattler::package_cache::PackageCache;
use rattler_cache::package_cache::{CacheIndex, CacheKey};
use rattler_conda_types::package::{CondaArchiveIdentifier, IndexJson, PackageFile};
use rattler_conda_types::{
    Channel, MatchSpec, PackageName, PackageRecord, ParseMatchSpecOptions, PrefixRecord, RepoDataRecord, Subdir,
    VersionWithSource,
};
use rattler_digest::{parse_digest_from_hex, Md5, Sha256};
use rattler_networking::LazyClient;
use rattler_repodata_gateway::Gateway;
use rattler_solve::{resolvo, ChannelPriority, SolveError, SolverImpl, SolverTask};

pub use error::Error;
pub use virtual_packages::detect as detect_virtual_packages;

use crate::dist::dist_name;
use crate::error::{err, err_chain};

/// What an install did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every package of the environment after the install, as `name-version-build`.
    pub environment: Vec<String>,
    /// Packages linked into the prefix by this install.
    pub installed: Vec<String>,
    /// Archives that were not in the package cache and were fetched
    /// (downloaded, or read from a `file://` channel) into it.
    pub fetched: Vec<String>,
    /// What was done after linking: `.pyc` files compiled, entry points
    /// checked, post-link scripts not run; as logged.
    pub after_link: Vec<String>,
}

/// Reads the request at `path` and carries it out.
pub fn run_file(path: &Path) -> Result<Summary, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| err(&format!("cannot read {}", path.display()), e))?;
    let request = InstallRequest::from_json(&text).map_err(Error)?;
    run(&request)
}

/// Carries out `request` on a runtime of its own.
pub fn run(request: &InstallRequest) -> Result<Summary, Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| err("cannot start the installer's runtime", e))?;
    rt.block_on(install(request))
}

fn parse_specs(specs: &[String]) -> Result<Vec<MatchSpec>, Error> {
    specs
        .iter()
        .map(|s| {
            MatchSpec::from_str(s, ParseMatchSpecOptions::lenient())
                .map_err(|e| Error(format!("`{s}` is not a valid conda package spec: {e}")))
        })
        .collect()
}

/// Carries out `request`.
pub async fn install(request: &InstallRequest) -> Result<Summary, Error> {
    let started = Instant::now();
    let prefix = Path::new(&request.prefix);
    let subdir: Subdir = request.subdir.parse().map_err(|e| err("the request's subdir", e))?;
    std::fs::create_dir_all(prefix).map_err(|e| err(&format!("cannot create {}", prefix.display()), e))?;
    // The caches are cache mounts where the step uses them; a layer's step
    // mounts no repodata cache, and must not leave its directory behind.
    create_dir(&request.pkgs_dir)?;

    let installed: Vec<PrefixRecord> = PrefixRecord::collect_from_prefix(prefix)
        .map_err(|e| err(&format!("cannot read {}/conda-meta", prefix.display()), e))?;
    match &request.stage {
        Stage::Whole => {}
        Stage::Resolve(lock) => return resolve(request, subdir, installed, Path::new(lock), started).await,
        // A layer is the group's files alone: the prefix is taken as
        // empty, whatever the state it is installed on has, but for the
        // environment's python, when its layer is there: left as it is.
        Stage::Layer { python } => {
            let python = python.as_deref().map(python_record).transpose()?;
            let keep: Vec<PrefixRecord> = installed
                .into_iter()
                .filter(|r| {
                    python.as_ref().is_some_and(|p| p.package_record.name == r.repodata_record.package_record.name)
                })
                .collect();
            return install_locked(request, prefix, subdir, keep, python, started).await;
        }
        Stage::Finish => return finish_layers(request, prefix, &installed, started),
    }
    if !request.locked.is_empty() {
        return install_locked(request, prefix, subdir, installed, None, started).await;
    }
    let solved = solve(request, subdir, &installed, started).await?;
    let environment = sorted(solved.records.iter().map(|r| dist_name(&r.package_record)));
    // What the install will have to fetch: not in the prefix, not in the cache.
    let cached = solved.package_cache.index().await.map_err(|e| err("cannot read the package cache", e))?;
    let present: HashSet<String> = installed.iter().map(|r| dist_name(&r.repodata_record.package_record)).collect();
    let mut fetched: Vec<String> = solved
        .records
        .iter()
        .filter(|r| !present.contains(&dist_name(&r.package_record)) && !cached.contains_record(r))
        .map(|r| r.identifier.to_string())
        .collect();
    fetched.sort();
    let result = Installer::new()
        .with_download_client(solved.client)
        .with_target_platform(subdir)
        .with_installed_packages(installed)
        .with_package_cache(solved.package_cache)
        .with_requested_specs(solved.specs)
        .install(prefix, solved.records)
        .await
        .map_err(|e| err_chain(&format!("cannot install into {}", prefix.display()), &e))?;
    let installed = sorted(result.transaction.installed_packages().map(|r| dist_name(&r.package_record)));
    finish(request, prefix, Summary { environment, installed, fetched, after_link: Vec::new() }, started)
}

/// A solve, and what installing it takes.
struct Solved {
    records: Vec<RepoDataRecord>,
    specs: Vec<MatchSpec>,
    client: reqwest_middleware::ClientWithMiddleware,
    package_cache: PackageCache,
}

/// Solves the request's specs with the channels' repodata, keeping what
/// `installed` has.
async fn solve(
    request: &InstallRequest,
    subdir: Subdir,
    installed: &[PrefixRecord],
    started: Instant,
) -> Result<Solved, Error> {
    let prefix = Path::new(&request.prefix);
    let mut specs = parse_specs(&request.specs)?;
    // Keep what the prefix has, as `conda install` does: every installed
    // package stays asked for (by name only), and its installed build is
    // preferred unless a spec needs another.
    let asked: HashSet<PackageName> = specs.iter().filter_map(|s| s.name.as_exact().cloned()).collect();
    for record in installed {
        let name = &record.repodata_record.package_record.name;
        if !asked.contains(name) {
            specs.push(MatchSpec::from(name.clone()));
        }
    }
    if !installed.is_empty() {
        eprintln!("envd: {} keeps its {} installed packages", prefix.display(), installed.len());
    }

    create_dir(&request.repodata_dir)?;
    let client = client::build(&request.channels)?;
    let package_cache = PackageCache::new(&request.pkgs_dir);
    let gateway = Gateway::builder()
        .with_cache_dir(&request.repodata_dir)
        .with_package_cache(package_cache.clone())
        .with_client(client.clone())
        .finish();
    let channels: Vec<Channel> = request
        .channels
        .iter()
        .map(|c| url::Url::parse(c).map(Channel::from_url).map_err(|e| err(&format!("channel `{c}` is not a URL"), e)))
        .collect::<Result<_, _>>()?;
    let mut query = specs.clone();
    if request.add_pip_as_python_dependency {
        query.push(MatchSpec::from(PackageName::new_unchecked("pip")));
    }
    let repodata = gateway
        .query(channels, [subdir, Subdir::NoArch], query)
        .recursive(true)
        .execute()
        .await
        .map_err(|e| err_chain("cannot load the channels' repodata", &e))?;
    for warning in &repodata.warnings {
        eprintln!("envd: warning: {}", credentials::strip(&warning.to_string()));
    }
    let records: usize = repodata.repodata.iter().map(|r| r.len()).sum();
    eprintln!("envd: {records} package records from {} channels in {:.2?}", request.channels.len(), started.elapsed());

    let virtual_packages = virtual_packages::detect(&request.subdir, request.cuda.as_deref())?;
    let shown: Vec<String> = virtual_packages
        .iter()
        .map(|p| format!("{}={}={}", p.name.as_normalized(), p.version, p.build_string))
        .collect();
    eprintln!("envd: virtual packages: {}", shown.join(" "));
    let solve_started = Instant::now();
    let locked: Vec<&RepoDataRecord> = installed.iter().map(|r| &r.repodata_record).collect();
    let available = with_pip(&repodata.repodata, request.add_pip_as_python_dependency);
    let task = SolverTask {
        locked_packages: locked,
        virtual_packages,
        specs: specs.clone(),
        channel_priority: ChannelPriority::Strict,
        ..SolverTask::from_iter(&available)
    };
    let solution = resolvo::Solver.solve(task).map_err(|e| match e {
        SolveError::Unsolvable(reasons) => Error(format!(
            "the conda environment cannot be solved:\n{}\n(specs: {})",
            reasons.join("\n"),
            request.specs.join(", ")
        )),
        other => err("the conda solve failed", other),
    })?;
    eprintln!("envd: solved {} packages in {:.2?}", solution.records.len(), solve_started.elapsed());
    Ok(Solved { records: solution.records, specs, client, package_cache })
}

/// Solves and writes the solve as a lock, installing nothing: the resolve
/// step of an environment in layers.
async fn resolve(
    request: &InstallRequest,
    subdir: Subdir,
    installed: Vec<PrefixRecord>,
    lock: &Path,
    started: Instant,
) -> Result<Summary, Error> {
    let solved = solve(request, subdir, &installed, started).await?;
    let mut packages: Vec<LockedPackage> = solved
        .records
        .iter()
        .map(|r| {
            let p = &r.package_record;
            LockedPackage {
                url: credentials::strip(r.url.as_str()),
                md5: p.md5.map(|h| hex(&h)),
                sha256: p.sha256.map(|h| hex(&h)),
                size: p.size,
            }
        })
        .collect();
    packages.sort_by(|a, b| a.url.cmp(&b.url));
    let text = ResolvedLock { subdir: request.subdir.clone(), packages }.to_json();
    std::fs::write(lock, text).map_err(|e| err(&format!("cannot write {}", lock.display()), e))?;
    let environment = sorted(solved.records.iter().map(|r| dist_name(&r.package_record)));
    eprintln!("envd: locked {} packages in {:.2?}", environment.len(), started.elapsed());
    Ok(Summary { environment, ..Summary::default() })
}

/// The record of the environment's python from its archive's URL alone:
/// what a layer of `noarch: python` packages needs to know where they go.
fn python_record(url: &str) -> Result<RepoDataRecord, Error> {
    let shown = credentials::strip(url);
    let parsed = url::Url::parse(url).map_err(|e| err(&format!("`{shown}` is not a URL"), e))?;
    let id = CondaArchiveIdentifier::try_from_url(&parsed)
        .ok_or_else(|| Error(format!("`{shown}` does not name a conda archive (.conda or .tar.bz2)")))?;
    let name = PackageName::try_from(id.identifier.name.as_str())
        .map_err(|e| err(&format!("the package name of {shown}"), e))?;
    let version: rattler_conda_types::Version =
        id.identifier.version.parse().map_err(|e| err(&format!("the version of {shown}"), e))?;
    let build = id.identifier.build_string.parse().map_err(|e| err(&format!("the build string of {shown}"), e))?;
    let record = PackageRecord::new(name, VersionWithSource::from(version), build);
    Ok(RepoDataRecord { package_record: record, identifier: id.into(), url: parsed, channel: None })
}

/// The last step of an environment in layers: every package of the lock
/// must be in the prefix (from the merged layers); then what follows
/// linking, for all of them.
fn finish_layers(
    request: &InstallRequest,
    prefix: &Path,
    installed: &[PrefixRecord],
    started: Instant,
) -> Result<Summary, Error> {
    let present: HashSet<String> = installed.iter().map(|r| dist_name(&r.repodata_record.package_record)).collect();
    let missing: Vec<String> = request
        .locked
        .iter()
        .filter_map(|p| p.dist().map(|(n, v, b)| format!("{n}-{v}-{b}")))
        .filter(|d| !present.contains(d))
        .collect();
    if !missing.is_empty() {
        return Err(Error(format!(
            "the layers of {} lack {}; build with --build-arg ENVD_CONDA_LAYERS=single and report this",
            prefix.display(),
            missing.join(", ")
        )));
    }
    let environment = sorted(present.into_iter());
    eprintln!("envd: {} packages in {} from their layers", environment.len(), prefix.display());
    // What follows linking, for the packages whose layer could not do it:
    // `noarch: python` ones installed without the python (in its layer).
    let uncompiled = sorted(
        installed.iter().filter(|r| after_link::uncompiled(r)).map(|r| dist_name(&r.repodata_record.package_record)),
    );
    finish(request, prefix, Summary { installed: uncompiled, environment, ..Summary::default() }, started)
}

/// Installs exactly the archives of a lock file: no repodata, no solve.
///
/// For a layer, `python` is the environment's python, which the layer does
/// not install: it only says where `noarch: python` packages go.
async fn install_locked(
    request: &InstallRequest,
    prefix: &Path,
    subdir: Subdir,
    installed: Vec<PrefixRecord>,
    python: Option<RepoDataRecord>,
    started: Instant,
) -> Result<Summary, Error> {
    let urls: Vec<String> = request.locked.iter().map(|p| p.url.clone()).collect();
    let client = client::build(&urls)?;
    let package_cache = PackageCache::new(&request.pkgs_dir);
    let cached = package_cache.index().await.map_err(|e| err("cannot read the package cache", e))?;
    // Fetched several at a time, as the solved path's installer does; the
    // lock file's order is kept so the log and the errors are stable.
    let pinned: Vec<(RepoDataRecord, bool)> = stream::iter(&request.locked)
        .map(|locked| fetch_locked(locked, subdir, &package_cache, &cached, &client))
        .buffered(FETCHES_AT_ONCE)
        .try_collect()
        .await?;
    let fetched: Vec<String> =
        pinned.iter().filter(|(_, new)| *new).map(|(r, _)| r.identifier.to_file_name()).collect();
    let mut records: Vec<RepoDataRecord> = pinned.into_iter().map(|(r, _)| r).collect();
    let environment = sorted(records.iter().map(|r| dist_name(&r.package_record)));
    let mut ignored = HashSet::new();
    let layer = python.is_some() || request.stage != Stage::Whole;
    match python {
        Some(python) if !records.iter().any(|r| r.package_record.name == python.package_record.name) => {
            ignored.insert(python.package_record.name.clone());
            records.push(python);
        }
        _ => {}
    }
    if !layer {
        eprintln!("envd: {} packages from the lock file, no solve", records.len());
    }
    let result = Installer::new()
        .with_download_client(client)
        .with_target_platform(subdir)
        .with_installed_packages(installed)
        .with_ignored_packages(ignored)
        .with_package_cache(package_cache)
        .install(prefix, records)
        .await
        .map_err(|e| err_chain(&format!("cannot install into {}", prefix.display()), &e))?;
    let installed = sorted(result.transaction.installed_packages().map(|r| dist_name(&r.package_record)));
    let summary = Summary { environment, installed, fetched, after_link: Vec::new() };
    if layer {
        return finish_layer(prefix, summary, started);
    }
    finish(request, prefix, summary, started)
}

/// How many lock-file archives are fetched at once.
const FETCHES_AT_ONCE: usize = 8;

/// One archive of a lock file, from the package cache or its URL with the
/// lock file's hashes checked, as a record; and whether it had to be fetched.
async fn fetch_locked(
    locked: &LockedPackage,
    subdir: Subdir,
    package_cache: &PackageCache,
    cached: &CacheIndex,
    client: &reqwest_middleware::ClientWithMiddleware,
) -> Result<(RepoDataRecord, bool), Error> {
    let shown = credentials::strip(&locked.url);
    let url = url::Url::parse(&locked.url).map_err(|e| err(&format!("`{shown}` is not a URL"), e))?;
    let id = CondaArchiveIdentifier::try_from_url(&url)
        .ok_or_else(|| Error(format!("`{shown}` does not name a conda archive (.conda or .tar.bz2)")))?;
    let not_hex = |what: &str| Error(format!("the {what} of {shown} is not hex"));
    let sha256 = match &locked.sha256 {
        Some(h) => Some(parse_digest_from_hex::<Sha256>(h).ok_or_else(|| not_hex("sha256"))?),
        None => None,
    };
    let md5 = match &locked.md5 {
        Some(h) => Some(parse_digest_from_hex::<Md5>(h).ok_or_else(|| not_hex("md5"))?),
        None => None,
    };
    let key = CacheKey::from(id.clone()).with_opt_sha256(sha256).with_opt_md5(md5);
    let fetched = !cached.contains_url(key.clone(), &url);
    let entry = package_cache
        .get_or_fetch_from_url_with_retry(
            key,
            url.clone(),
            LazyClient::from(client.clone()),
            rattler_networking::retry_policies::default_retry_policy(),
            None,
            None,
        )
        .await
        .map_err(|e| err_chain(&format!("cannot fetch {shown} as the lock file pins it"), &e))?;
    let index = IndexJson::from_package_directory(entry.path())
        .map_err(|e| err(&format!("{shown} has no readable info/index.json"), e))?;
    let record = PackageRecord::from_index_json(index, None, sha256, md5)
        .map_err(|e| err(&format!("{shown} has an unusable info/index.json"), e))?;
    if record.subdir != subdir.as_str() && record.subdir != "noarch" {
        return Err(Error(format!("{shown} is a package for {}, and this build is for {subdir}", record.subdir)));
    }
    let channel = url.as_str().rsplitn(3, '/').nth(2).map(credentials::strip);
    Ok((RepoDataRecord { package_record: record, identifier: id.into(), url, channel }, fetched))
}

/// The channels' records, each python given a dependency on `pip` when
/// `add` says so, as conda does when it loads repodata.
fn with_pip(repodata: &[rattler_repodata_gateway::RepoData], add: bool) -> Vec<Vec<RepoDataRecord>> {
    let pip = "pip".to_owned();
    repodata
        .iter()
        .map(|channel| {
            channel
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    let p = &mut r.package_record;
                    if add
                        && p.name.as_normalized() == "python"
                        && !p.depends.iter().any(|d| d.split(' ').next() == Some("pip"))
                    {
                        p.depends.push(pip.clone());
                    }
                    r
                })
                .collect()
        })
        .collect()
}

/// What every install ends with, solved or locked: the `noarch: python`
/// packages compiled and checked, no credentials in `conda-meta`, the
/// condarc written, and the log of what was fetched and linked.
fn finish(request: &InstallRequest, prefix: &Path, mut summary: Summary, started: Instant) -> Result<Summary, Error> {
    summary.after_link = after_link::after_link(prefix, &summary.installed)?;
    for line in &summary.after_link {
        eprintln!("{line}");
    }
    forget_credentials(prefix)?;
    if let Some(condarc) = &request.condarc {
        let path = prefix.join(".condarc");
        std::fs::write(&path, condarc).map_err(|e| err(&format!("cannot write {}", path.display()), e))?;
    }
    for f in &summary.fetched {
        eprintln!("envd: fetched {f}");
    }
    eprintln!(
        "envd: {} packages in {}: {} linked, {} fetched, in {:.2?}",
        summary.environment.len(),
        prefix.display(),
        summary.installed.len(),
        summary.fetched.len(),
        started.elapsed()
    );
    Ok(summary)
}

/// What a layer ends with: its `noarch: python` packages compiled and
/// checked where the environment's python is in the prefix already (the
/// layer is installed on the python's own), no credentials in
/// `conda-meta`, and the log.
fn finish_layer(prefix: &Path, mut summary: Summary, started: Instant) -> Result<Summary, Error> {
    summary.after_link = after_link::after_link(prefix, &summary.installed)?;
    for line in &summary.after_link {
        eprintln!("{line}");
    }
    forget_credentials(prefix)?;
    for f in &summary.fetched {
        eprintln!("envd: fetched {f}");
    }
    eprintln!(
        "envd: layer of {}: {} linked in {:.2?}",
        summary.installed.join(" "),
        prefix.display(),
        started.elapsed()
    );
    Ok(summary)
}

/// Takes the credentials out of the `url` and `channel` of every
/// `conda-meta` record: they were needed to download, and the records stay
/// in the image.
fn forget_credentials(prefix: &Path) -> Result<(), Error> {
    let dir = prefix.join("conda-meta");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| err(&format!("cannot read {}", path.display()), e))?;
        let Ok(mut record) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        let mut changed = false;
        for key in ["url", "channel"] {
            if let Some(serde_json::Value::String(v)) = record.get_mut(key) {
                if credentials::has_credentials(v) {
                    *v = credentials::strip(v);
                    changed = true;
                }
            }
        }
        if changed {
            let out = serde_json::to_string_pretty(&record).expect("JSON values serialise");
            std::fs::write(&path, out).map_err(|e| err(&format!("cannot write {}", path.display()), e))?;
        }
    }
    Ok(())
}

/// Creates `dir` and its parents.
fn create_dir(dir: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| err(&format!("cannot create {dir}"), e))
}

/// A digest as lower-case hex, as lock files write it.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names, sorted.
fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v
}
