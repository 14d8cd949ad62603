//! An SPDX 2.3 JSON document of one image: the image, its base, the
//! frontend that built it, and every package the build added, each
//! contained by the image and tied to the build.envd step that installed
//! it. BuildKit wraps it in an in-toto statement whose subject is the
//! image.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::records::{Kind, Package};

/// The in-toto predicate type of an SPDX document.
pub const PREDICATE_TYPE: &str = "https://spdx.dev/Document";

/// What the document says of one image.
pub struct Image<'a> {
    /// The image's name as the SBOM calls it (the build file and platform).
    pub name: &'a str,
    /// The base image: reference, pinned by digest.
    pub base: &'a str,
    /// The frontend's version.
    pub frontend_version: &'a str,
    /// When it was built (`SOURCE_DATE_EPOCH`, or now), RFC 3339.
    pub created: &'a str,
    /// The packages the build added, each with the step that installed it
    /// (`build.envd:12 install.python_packages`), where it is known.
    pub packages: &'a [(Package, Option<String>)],
}

/// The document.
pub fn document(image: &Image) -> Value {
    let mut packages = vec![
        json!({
            "name": image.name,
            "SPDXID": "SPDXRef-Image",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "CONTAINER",
        }),
        json!({
            "name": image.base,
            "SPDXID": "SPDXRef-Base",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "CONTAINER",
            "externalRefs": oci_purl(image.base).into_iter().collect::<Vec<_>>(),
        }),
        json!({
            "name": "envd-frontend",
            "SPDXID": "SPDXRef-Frontend",
            "versionInfo": image.frontend_version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "APPLICATION",
            "comment": "the BuildKit frontend that built the image from build.envd",
        }),
    ];
    let mut relationships = vec![
        relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"),
        relationship("SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-Base"),
        relationship("SPDXRef-Frontend", "BUILD_TOOL_OF", "SPDXRef-Image"),
    ];
    for (i, (p, step)) in image.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}-{}-{i}", kind_name(p.kind), spdx_id(&p.name));
        let mut package = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": p.download.as_deref().unwrap_or("NOASSERTION"),
            "filesAnalyzed": false,
            "licenseDeclared": p.license.as_deref().map_or("NOASSERTION".to_owned(), license),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
            "primaryPackagePurpose": "LIBRARY",
        });
        if let Some(sha) = &p.sha256 {
            package["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": sha }]);
        }
        let mut comment = Vec::new();
        if let Some(installer) = &p.installer {
            comment.push(format!("installed by {installer}"));
        }
        if let Some(step) = step {
            comment.push(format!("at {step}"));
        }
        if !comment.is_empty() {
            package["comment"] = comment.join(" ").into();
        }
        relationships.push(relationship("SPDXRef-Image", "CONTAINS", &id));
        packages.push(package);
    }
    let body = json!({ "packages": packages, "relationships": relationships });
    let digest = Sha256::digest(serde_json::to_vec(&body).expect("JSON"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": image.name,
        "documentNamespace": format!("https://github.com/aiges/envd-frontend/spdx/{hex}"),
        "creationInfo": {
            "created": image.created,
            "creators": [format!("Tool: envd-frontend-{}", image.frontend_version)],
            "comment": "from the build's own install records: conda-meta, .dist-info, dpkg's status",
        },
        "packages": body["packages"],
        "relationships": body["relationships"],
    })
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Conda => "conda",
        Kind::Python => "pypi",
        Kind::Deb => "deb",
    }
}

/// An SPDX id may hold letters, digits, `.` and `-`.
fn spdx_id(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// A declared license as SPDX takes it: an expression of identifiers
/// joined by `AND`, `OR` or `WITH` (`MIT`, `Apache-2.0 OR MIT`) as is;
/// free text ("BSD License") is no expression, so NOASSERTION.
fn license(declared: &str) -> String {
    let plain = declared.replace(['(', ')'], " ");
    let tokens: Vec<&str> = plain.split_whitespace().collect();
    let identifier = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || "-.+".contains(c));
    let expression = tokens.len() % 2 == 1
        && tokens.iter().enumerate().all(|(i, t)| match i % 2 {
            0 => identifier(t) && !matches!(*t, "AND" | "OR" | "WITH"),
            _ => matches!(*t, "AND" | "OR" | "WITH"),
        });
    if expression {
        declared.to_owned()
    } else {
        "NOASSERTION".to_owned()
    }
}

/// The purl of an image reference pinned by digest: `pkg:oci/<name>@sha256:…?repository_url=…`.
fn oci_purl(reference: &str) -> Option<Value> {
    let (repo, digest) = reference.split_once('@')?;
    let repo = repo.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map_or(repo, |(r, _)| r);
    let name = repo.rsplit('/').next()?;
    let locator = format!("pkg:oci/{name}@{}?repository_url={}", digest.replace(':', "%3A"), repo);
    Some(json!({ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": locator }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::records::purl;

    fn package(kind: Kind, name: &str) -> Package {
        Package {
            kind,
            name: name.into(),
            version: "1.0".into(),
            sha256: Some("ab".into()),
            license: Some("MIT".into()),
            download: None,
            purl: purl("pypi", name, "1.0", &[]),
            installer: Some("uv".into()),
            wheel_tags: Vec::new(),
        }
    }

    #[test]
    fn the_document_describes_the_image_its_base_the_frontend_and_each_package() {
        let packages = [(package(Kind::Python, "six"), Some("build.envd:3 install.python_packages".into()))];
        let image = Image {
            name: "build.envd linux/amd64",
            base: "127.0.0.1:5000/aiges/base-cpu:py3.11@sha256:00aa",
            frontend_version: "0.1.0",
            created: "2026-12-07T00:00:00Z",
            packages: &packages,
        };
        let doc = document(&image);
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["packages"].as_array().unwrap().len(), 4);
        let six = &doc["packages"][3];
        assert_eq!(six["externalRefs"][0]["referenceLocator"], "pkg:pypi/six@1.0");
        assert_eq!(six["checksums"][0]["checksumValue"], "ab");
        assert_eq!(six["comment"], "installed by uv at build.envd:3 install.python_packages");
        assert_eq!(
            doc["packages"][1]["externalRefs"][0]["referenceLocator"],
            "pkg:oci/base-cpu@sha256%3A00aa?repository_url=127.0.0.1:5000/aiges/base-cpu"
        );
        let rel = doc["relationships"].as_array().unwrap();
        assert!(rel.iter().any(|r| r["relationshipType"] == "CONTAINS" && r["relatedSpdxElement"] == six["SPDXID"]));
        // the same input gives the same document
        assert_eq!(document(&image), doc);
    }

    #[test]
    fn licenses_are_kept_where_they_are_expressions() {
        assert_eq!(license("MIT"), "MIT");
        assert_eq!(license("Apache-2.0 OR MIT"), "Apache-2.0 OR MIT");
        assert_eq!(license("(MIT OR Apache-2.0) AND BSD-3-Clause"), "(MIT OR Apache-2.0) AND BSD-3-Clause");
        assert_eq!(license("BSD License, see LICENSE.txt"), "NOASSERTION");
        assert_eq!(license("BSD License"), "NOASSERTION");
    }
}
