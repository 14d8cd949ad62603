//! The install records an image holds, read as their tools wrote them:
//! conda's `conda-meta/*.json`, a python distribution's `.dist-info`, and
//! dpkg's status file. Plain parsing, no I/O: [`super::gather`] reads the
//! files from the solved result.

use std::collections::BTreeMap;

use envd_conda::credentials;

/// One package, as the SBOM names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Which package manager: its purl type.
    pub kind: Kind,
    /// The name as the manager knows it.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The sha256 of the archive that was installed, where it is known.
    pub sha256: Option<String>,
    /// The license as the package declares it.
    pub license: Option<String>,
    /// Where it was downloaded from, credentials stripped.
    pub download: Option<String>,
    /// The package URL (purl).
    pub purl: String,
    /// What installed it (`uv`, `pip`, `conda`), where the record says.
    pub installer: Option<String>,
    /// A python distribution's wheel tags (its `WHEEL` file): which of
    /// the lock's wheels it was installed from.
    pub wheel_tags: Vec<String>,
}

/// A package manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A conda package in a prefix.
    Conda,
    /// A python distribution in a site-packages directory.
    Python,
    /// A Debian package, in dpkg's status.
    Deb,
}

/// A `conda-meta/<name>-<version>-<build>.json` record, as the installer
/// (and conda) writes it.
pub fn conda_record(text: &str) -> Result<Package, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let name = field("name").ok_or("no name")?;
    let version = field("version").ok_or("no version")?;
    let build = field("build").unwrap_or_default();
    let subdir = field("subdir").unwrap_or_default();
    let channel = field("channel").map(|c| credentials::strip(&c)).unwrap_or_default();
    let mut qualifiers = vec![("build", build.as_str()), ("channel", channel.as_str()), ("subdir", subdir.as_str())];
    qualifiers.retain(|(_, v)| !v.is_empty());
    Ok(Package {
        kind: Kind::Conda,
        purl: purl("conda", &name, &version, &qualifiers),
        sha256: field("sha256"),
        license: field("license").filter(|l| !l.is_empty()),
        download: field("url").map(|u| credentials::strip(&u)),
        installer: Some("conda".into()),
        wheel_tags: Vec::new(),
        name,
        version,
    })
}

/// A distribution's `METADATA` (email-header style): its name, version and
/// license; `installer` is its `INSTALLER` file, `wheel` its `WHEEL` file.
pub fn python_metadata(metadata: &str, installer: Option<&str>, wheel: Option<&str>) -> Result<Package, String> {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in metadata.lines() {
        if line.is_empty() {
            break; // the body (the long description) follows the headers
        }
        if let Some((k, v)) = line.split_once(": ") {
            fields.entry(k).or_insert(v.trim());
        }
    }
    let name = fields.get("Name").ok_or("METADATA has no Name")?.to_string();
    let version = fields.get("Version").ok_or("METADATA has no Version")?.to_string();
    let license = fields
        .get("License-Expression")
        .or_else(|| fields.get("License"))
        .filter(|l| !l.is_empty() && l.len() <= 200 && **l != "UNKNOWN")
        .map(|l| l.to_string());
    let normalized = envd_lower::lock::normalize(&name);
    Ok(Package {
        kind: Kind::Python,
        purl: purl("pypi", &normalized, &version, &[]),
        sha256: None,
        license,
        download: None,
        installer: installer.map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned),
        wheel_tags: wheel
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("Tag:"))
            .map(|t| t.trim().to_owned())
            .collect(),
        name: normalized,
        version,
    })
}

/// The installed packages of dpkg's `status` file, for `distro` (the
/// purl's namespace: `debian`, `ubuntu`).
pub fn dpkg_status(text: &str, distro: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim());
            }
        }
        let installed = fields.get("Status").is_some_and(|s| s.ends_with(" installed"));
        let (Some(name), Some(version)) = (fields.get("Package"), fields.get("Version")) else { continue };
        if !installed {
            continue;
        }
        let arch = fields.get("Architecture").copied().unwrap_or_default();
        let qualifiers = [("arch", arch)];
        out.push(Package {
            kind: Kind::Deb,
            purl: purl(&format!("deb/{distro}"), name, version, &qualifiers),
            sha256: None,
            license: None,
            download: None,
            installer: Some("apt".into()),
            wheel_tags: Vec::new(),
            name: name.to_string(),
            version: version.to_string(),
        });
    }
    out.sort();
    out
}

/// `ID=` of `/etc/os-release`, the purl namespace of its Debian packages.
pub fn os_id(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// A package URL: `pkg:<type>/<name>@<version>?<qualifiers>`, percent-
/// encoding what the purl spec says must be.
pub fn purl(kind: &str, name: &str, version: &str, qualifiers: &[(&str, &str)]) -> String {
    let mut out = format!("pkg:{kind}/{}@{}", encode(name), encode(version));
    let q: Vec<String> = qualifiers.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conda_record_gives_its_purl_with_build_channel_and_subdir_and_no_credentials() {
        let record = r#"{"name": "python", "version": "3.11.7", "build": "h0_0", "subdir": "linux-64",
            "channel": "https://me:secret@conda.test/t/tk-1/main", "url": "https://me:secret@conda.test/t/tk-1/main/linux-64/python-3.11.7-h0_0.conda",
            "sha256": "ab12", "license": "PSF-2.0", "files": []}"#;
        let p = conda_record(record).unwrap();
        assert_eq!(
            p.purl,
            "pkg:conda/python@3.11.7?build=h0_0&channel=https%3A%2F%2Fconda.test%2Fmain&subdir=linux-64"
        );
        assert_eq!(p.sha256.as_deref(), Some("ab12"));
        assert_eq!(p.license.as_deref(), Some("PSF-2.0"));
        assert_eq!(p.download.as_deref(), Some("https://conda.test/main/linux-64/python-3.11.7-h0_0.conda"));
        assert!(!format!("{p:?}").contains("secret") && !format!("{p:?}").contains("tk-1"));
        assert_eq!(conda_record("{}").unwrap_err(), "no name");
        assert!(conda_record("[").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn python_metadata_gives_the_normalised_name_version_license_and_installer() {
        let m = "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nLicense: MIT\n\nName: not a header\n";
        let p = python_metadata(m, Some("uv\n"), Some("Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n"))
            .unwrap();
        assert_eq!(p.wheel_tags, ["py2-none-any", "py3-none-any"]);
        assert_eq!((p.name.as_str(), p.version.as_str()), ("pyyaml", "6.0.1"));
        assert_eq!(p.purl, "pkg:pypi/pyyaml@6.0.1");
        assert_eq!((p.license.as_deref(), p.installer.as_deref()), (Some("MIT"), Some("uv")));
        let p = python_metadata("Name: six\nVersion: 1.16.0\nLicense: UNKNOWN\n", None, None).unwrap();
        assert_eq!((p.license, p.installer), (None, None));
        assert_eq!(python_metadata("Name: six\n", None, None).unwrap_err(), "METADATA has no Version");
    }

    #[test]
    fn dpkg_status_lists_installed_packages_with_their_arch() {
        let status = "Package: libgomp1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";
        let p = dpkg_status(status, "debian");
        let purls: Vec<&str> = p.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            ["pkg:deb/debian/libgomp1@12.2.0-14?arch=amd64", "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"]
        );
        assert_eq!(os_id("NAME=\"Debian\"\nID=debian\n").as_deref(), Some("debian"));
        assert_eq!(os_id("ID=\"ubuntu\"\n").as_deref(), Some("ubuntu"));
        assert_eq!(os_id("NAME=x\n"), None);
    }
}
