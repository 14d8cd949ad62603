//! `--sbom`: an SPDX document written by the frontend from the build's own
//! install records, returned as each platform's SBOM attestation, so that
//! BuildKit runs no scanner.
//!
//! A scanner looks at files afterwards; the records say exactly what was
//! installed and from where. After the solve, and only when an SBOM is
//! asked for, the frontend reads from the image and from its base:
//! conda's `conda-meta/*.json` (name, version, build, subdir, channel,
//! sha256, license), each python distribution's `.dist-info` (`METADATA`,
//! `INSTALLER`) under `/usr/local/lib/python3*` and the conda prefix, and
//! dpkg's status. What the image has and its base has not is what the build
//! added ([`records`]); [`spdx`] writes the document; it is put in a
//! scratch state of its own, solved, and returned with the result.

pub mod records;
pub mod spdx;

use std::collections::BTreeSet;

use envd_gateway::Client;
use envd_lang::{Plan, StepKind};
use envd_llb::{FileAction, State};

use crate::failure::Failure;
use records::{Kind, Package};

/// The path of the document in its result.
pub const PATH: &str = "/sbom.spdx.json";

/// One platform's image, as the SBOM reads it.
pub struct Subject<'a> {
    /// The solved image.
    pub ref_id: &'a str,
    /// Its base, as the steps start from it.
    pub base: &'a State,
    /// The base's reference, pinned by digest.
    pub base_reference: &'a str,
    /// The conda prefix, where the build has one.
    pub conda_prefix: Option<&'a str>,
    /// The platform, for the document's name.
    pub platform: &'a envd_llb::Platform,
    /// The locks of the build's python steps, by plan step.
    pub python_locks: Vec<(usize, envd_lower::lock::PythonLock)>,
}

/// Reads the records of `subject` and its base, writes the document, and
/// returns the solved ref that holds it at [`PATH`], and its definition.
pub async fn attest(
    client: &Client,
    plan: &Plan,
    filename: &str,
    created: &str,
    subject: &Subject<'_>,
    cache_imports: &[envd_gateway::CacheImport],
) -> Result<(String, envd_llb::pb::Definition), Failure> {
    let base_def = subject.base.marshal().map_err(Failure::internal)?.definition;
    let base_ref = crate::solve::solve(client, base_def, cache_imports, &[]).await?;
    let before: BTreeSet<Package> = read(client, &base_ref, subject.conda_prefix).await?.into_iter().collect();
    let after = read(client, subject.ref_id, subject.conda_prefix).await?;
    let index = plan.pip_index.as_ref().map(|i| envd_conda::credentials::strip(&i.url));
    let added: Vec<(Package, Option<String>)> = after
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|mut p| {
            let step = step_of(plan, filename, &p, &subject.python_locks);
            if p.kind == Kind::Python {
                complete_python(&mut p, &subject.python_locks, index.as_deref());
            }
            (p, step)
        })
        .collect();
    let name = format!("{filename} {}", subject.platform.export_id());
    let image = spdx::Image {
        name: &name,
        base: subject.base_reference,
        frontend_version: env!("CARGO_PKG_VERSION"),
        created,
        packages: &added,
    };
    let text = serde_json::to_string_pretty(&spdx::document(&image)).map_err(Failure::internal)?;
    let state = State::scratch().file(
        vec![FileAction::mkfile(PATH, text, 0o644)],
        envd_llb::Constraints::named(format!("[internal] SBOM of {}", subject.platform.export_id())),
    );
    let def = state.marshal().map_err(Failure::internal)?.definition;
    Ok((crate::solve::solve(client, def.clone(), &[], &[]).await?, def))
}

/// Every package whose records `reference` holds: conda's in the prefix,
/// python distributions not conda's, and dpkg's.
async fn read(client: &Client, reference: &str, conda_prefix: Option<&str>) -> Result<Vec<Package>, Failure> {
    let mut out = Vec::new();
    let mut client = client.clone();
    let mut roots = vec!["/usr/local/lib".to_owned()];
    if let Some(prefix) = conda_prefix {
        let meta = format!("{prefix}/conda-meta");
        for f in list(&mut client, reference, &meta, "*.json").await {
            let text = file(&mut client, reference, &format!("{meta}/{}", f)).await;
            if let Some(p) = text.and_then(|t| records::conda_record(&t).ok()) {
                out.push(p);
            }
        }
        roots.push(format!("{prefix}/lib"));
    }
    for root in roots {
        for python in list(&mut client, reference, &root, "python3*").await {
            for packages in ["site-packages", "dist-packages"] {
                let dir = format!("{root}/{python}/{packages}");
                for dist in list(&mut client, reference, &dir, "*.dist-info").await {
                    let installer = file(&mut client, reference, &format!("{dir}/{dist}/INSTALLER")).await;
                    if installer.as_deref().is_some_and(|i| i.trim() == "conda") {
                        continue; // its conda record names it
                    }
                    let Some(metadata) = file(&mut client, reference, &format!("{dir}/{dist}/METADATA")).await else {
                        continue;
                    };
                    let wheel = file(&mut client, reference, &format!("{dir}/{dist}/WHEEL")).await;
                    if let Ok(p) = records::python_metadata(&metadata, installer.as_deref(), wheel.as_deref()) {
                        out.push(p);
                    }
                }
            }
        }
    }
    if let Some(status) = file(&mut client, reference, "/var/lib/dpkg/status").await {
        let os = file(&mut client, reference, "/etc/os-release").await;
        let distro = os.as_deref().and_then(records::os_id).unwrap_or_else(|| "debian".into());
        out.extend(records::dpkg_status(&status, &distro));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The names in `dir` that match `pattern`; none where it is absent.
async fn list(client: &mut Client, reference: &str, dir: &str, pattern: &str) -> Vec<String> {
    let entries = client.read_dir(reference, dir, pattern).await.unwrap_or_default();
    entries.into_iter().map(|e| e.path).collect()
}

/// A text file of `reference`; `None` where it is absent.
async fn file(client: &mut Client, reference: &str, path: &str) -> Option<String> {
    client.read_file(reference, path).await.ok().and_then(|b| String::from_utf8(b).ok())
}

/// The build.envd step that installed `p`: the python step whose lock has
/// it, else the only step of its kind; `build.envd:12 install.x`.
fn step_of(
    plan: &Plan,
    filename: &str,
    p: &Package,
    python_locks: &[(usize, envd_lower::lock::PythonLock)],
) -> Option<String> {
    let label = |i: usize| {
        let step = &plan.steps[i];
        let call = match step.kind {
            StepKind::CondaPackages { .. } => "install.conda_packages",
            StepKind::SystemPackages { .. } => "install.system_packages",
            _ => "install.python_packages",
        };
        format!("{filename}:{} {call}", step.span.line)
    };
    let of_kind = |want: fn(&StepKind) -> bool| {
        let steps: Vec<usize> = (0..plan.steps.len()).filter(|&i| want(&plan.steps[i].kind)).collect();
        match steps.as_slice() {
            [one] => Some(label(*one)),
            _ => None,
        }
    };
    match p.kind {
        Kind::Conda => of_kind(|k| matches!(k, StepKind::CondaPackages { .. })),
        Kind::Deb => of_kind(|k| matches!(k, StepKind::SystemPackages { .. })),
        Kind::Python => python_locks
            .iter()
            .find(|(_, lock)| lock.packages.iter().any(|l| l.name == p.name && l.version == p.version))
            .map(|(i, _)| label(*i))
            .or_else(|| of_kind(|k| matches!(k, StepKind::PythonPackages { .. }))),
    }
}

/// A python package's file and hash, from the lock that pinned it: the
/// wheel whose file name has the distribution's tags (the hash uv checked
/// it against), or the one file the lock lists; else the index it came
/// from.
fn complete_python(p: &mut Package, locks: &[(usize, envd_lower::lock::PythonLock)], index: Option<&str>) {
    let locked = locks.iter().flat_map(|(_, l)| &l.packages).find(|l| l.name == p.name && l.version == p.version);
    let wheel = locked.and_then(|l| {
        let mut matching = l.wheels.iter().filter(|w| w.tags().iter().any(|t| p.wheel_tags.contains(t)));
        match (matching.next(), matching.next()) {
            (Some(w), None) if !w.sha256.is_empty() => Some(w.clone()),
            _ => None,
        }
    });
    match (wheel, locked.map(|l| l.hashes.as_slice())) {
        (Some(w), _) => {
            p.sha256 = Some(w.sha256);
            p.download = Some(w.url);
        }
        (None, Some([one])) => p.sha256 = Some(one.clone()),
        _ => {}
    }
    if p.download.is_none() {
        p.download = index.map(str::to_owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_lower::lock::{LockedPackage, PythonLock, WheelFile};

    #[test]
    fn a_python_package_takes_the_hash_and_url_of_the_wheel_with_its_tags() {
        let wheel =
            |file: &str, sha: &str| WheelFile { url: format!("https://files.example/{file}"), sha256: sha.into() };
        let lock = PythonLock {
            packages: vec![LockedPackage {
                name: "charset-normalizer".into(),
                version: "3.5.3".into(),
                hashes: vec!["2a".into(), "96".into(), "a2".into()],
                wheel_size: 0,
                sdist_only: false,
                direct: false,
                wheels: vec![
                    wheel("charset_normalizer-3.5.3-cp311-cp311-manylinux_2_28_x86_64.whl", "2a"),
                    wheel("charset_normalizer-3.5.3-py3-none-any.whl", "96"),
                ],
            }],
        };
        let metadata = "Name: charset-normalizer\nVersion: 3.5.3\n";
        let mut p = records::python_metadata(metadata, Some("uv"), Some("Tag: py3-none-any\n")).unwrap();
        complete_python(&mut p, &[(2, lock.clone())], Some("https://pypi.org/simple"));
        assert_eq!(p.sha256.as_deref(), Some("96"));
        assert_eq!(p.download.as_deref(), Some("https://files.example/charset_normalizer-3.5.3-py3-none-any.whl"));
        // no tag to tell: no hash, and the index it came from
        let mut p = records::python_metadata(metadata, Some("uv"), None).unwrap();
        complete_python(&mut p, &[(2, lock)], Some("https://pypi.org/simple"));
        assert_eq!((p.sha256, p.download.as_deref()), (None, Some("https://pypi.org/simple")));
    }
}
