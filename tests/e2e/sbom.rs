//! `--sbom=true` (issue 25): the frontend's own SPDX document, from the
//! build's install records, in the image's attestation manifest of an
//! OCI layout (`--output type=oci`): no scanner image, no registry.

use std::path::Path;

use envd_e2e::{bases_env, cpu_base, ensure_env, wheels, Context, HostServer};

/// The password of the index, handed to the build with `--secret id=netrc`.
const PASSWORD: &str = "s3cret-index-pw";

/// Each platform's in-toto statements of an OCI layout tar, by platform
/// (`linux/amd64`), as `(predicate type, statement)`.
fn attestations(tar: &Path) -> Vec<(String, String, serde_json::Value)> {
    let dir = tar.with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("tar").arg("xf").arg(tar).arg("-C").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let blob = |digest: &str| -> serde_json::Value {
        let path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let top = blob(index["manifests"][0]["digest"].as_str().unwrap());
    let manifests = top["manifests"].as_array().unwrap();
    let platform_of = |digest: &str| {
        let m = manifests.iter().find(|m| m["digest"] == digest).expect("the image the attestation names");
        format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap())
    };
    let mut out = Vec::new();
    for m in manifests {
        if m["annotations"]["vnd.docker.reference.type"] != "attestation-manifest" {
            continue;
        }
        let platform = platform_of(m["annotations"]["vnd.docker.reference.digest"].as_str().unwrap());
        for layer in blob(m["digest"].as_str().unwrap())["layers"].as_array().unwrap() {
            let statement = blob(layer["digest"].as_str().unwrap());
            out.push((platform.clone(), statement["predicateType"].as_str().unwrap().to_owned(), statement));
        }
    }
    out
}

/// The purls of an SPDX document's packages.
fn purls(spdx: &serde_json::Value) -> Vec<String> {
    spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["referenceLocator"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn an_sbom_names_every_conda_pip_and_apt_package_from_the_records_and_no_credential() {
    let _engine = ensure_env();
    let python = envd_conda_fixture::machine_python().expect("package this machine's python");
    let ctx = Context::new("sbom");
    let served = ctx.dir().join("served");
    let hashes = wheels(&served, &["one:envd-e2e-one:1.0"]);
    let server = HostServer::basic_auth(&served, "envd", PASSWORD, ctx.dir().join("http.log"));
    ctx.channel_with_python("channel", Vec::new()).write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [defaults]\\ndefault_channels: [./channel]\\n\")\n    config.pip_index(url=\"http://pypi.test:{}/one/simple\", trust=True)\n    base(image=\"{}\", language=\"python{}\")\n    install.system_packages(name=[\"libgomp1\"])\n    install.conda_packages(name=[\"pyfixture\"])\n    install.python_packages(name=[\"envd-e2e-one==1.0\"])\n",
            server.port,
            cpu_base(),
            python.minor
        ),
    );
    let netrc = ctx.dir().join("netrc");
    std::fs::write(&netrc, format!("machine pypi.test login envd password {PASSWORD}\n")).unwrap();
    let secret = format!("id=netrc,src={}", netrc.display());
    let tar = ctx.dir().join("image.tar");
    let output = format!("type=oci,dest={}", tar.display());
    let r = ctx.build_envd(&[
        "--add-host",
        "pypi.test:host-gateway",
        "--secret",
        &secret,
        "--sbom=true",
        "--provenance=mode=max",
        "--output",
        &output,
    ]);
    assert!(r.ok, "{}", r.stderr);
    assert!(!r.stderr.contains("buildkit-syft-scanner"), "BuildKit ran no scanner: {}", r.stderr);

    let all = attestations(&tar);
    let sbom: Vec<&serde_json::Value> =
        all.iter().filter(|(_, t, _)| t == "https://spdx.dev/Document").map(|(_, _, s)| &s["predicate"]).collect();
    assert_eq!(sbom.len(), 1, "one SBOM for the one platform");
    let spdx = sbom[0];
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let purls = purls(spdx);
    let has = |prefix: &str| purls.iter().any(|p| p.starts_with(prefix));
    // conda, with build, channel and subdir; the channel a context directory
    for name in ["python", "pip", "pyfixture"] {
        assert!(has(&format!("pkg:conda/{name}@")), "{name} in {purls:?}");
    }
    let pyfixture = purls.iter().find(|p| p.starts_with("pkg:conda/pyfixture@0.1?")).expect("pyfixture");
    assert!(pyfixture.contains("build=py_0") && pyfixture.contains("subdir=noarch"), "{pyfixture}");
    // the pip package from the index, and the apt package
    assert!(has("pkg:pypi/envd-e2e-one@1.0"), "{purls:?}");
    // with the wheel uv installed and the hash it checked, from the lock
    let one =
        spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "envd-e2e-one").expect("the pip package");
    assert_eq!(one["checksums"][0]["checksumValue"], hashes["envd_e2e_one-1.0-py3-none-any.whl"].as_str(), "{one}");
    assert!(one["downloadLocation"].as_str().unwrap().ends_with("/envd_e2e_one-1.0-py3-none-any.whl"), "{one}");
    assert!(
        has("pkg:deb/debian/libgomp1@") && purls.iter().any(|p| p.contains("libgomp1@") && p.ends_with("arch=amd64"))
    );
    // nothing the base had already
    assert!(!has("pkg:deb/debian/bash@"), "{purls:?}");
    // the step that installed each, by its line
    let text = spdx.to_string();
    assert!(text.contains("build.envd:6 install.conda_packages"), "{text}");
    assert!(text.contains("build.envd:7 install.python_packages"), "{text}");
    assert!(text.contains("build.envd:5 install.system_packages"), "{text}");

    // The secret is in neither the SBOM nor the provenance (mode=max
    // holds the build's LLB and its options).
    assert!(!text.contains(PASSWORD), "the SBOM names the index's password");
    let provenance: Vec<&serde_json::Value> =
        all.iter().filter(|(_, t, _)| t.starts_with("https://slsa.dev/provenance")).map(|(_, _, s)| s).collect();
    assert_eq!(provenance.len(), 1);
    assert!(provenance[0].to_string().contains("llbDefinition"), "mode=max records the LLB");
    let provenance = provenance[0].to_string();
    let leaks: Vec<&str> =
        provenance.match_indices(PASSWORD).map(|(i, _)| &provenance[i.saturating_sub(300)..i + 40]).collect();
    assert!(leaks.is_empty(), "the provenance names the index's password: {leaks:#?}");
}

/// What BuildKit cannot keep out of the provenance, the build says: a
/// password written in build.envd is in the steps' LLB, which mode=max
/// records, and every build arg is in any provenance.
#[test]
fn credentials_the_provenance_would_record_are_warned_about() {
    let _engine = ensure_env();
    let ctx = Context::new("sbom-credentials");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    config.pip_index(url=\"http://envd:{PASSWORD}@pypi.test/simple\")\n    base(image=\"{}\")\n",
            cpu_base()
        ),
    );
    let arg = format!("PIP_INDEX_URL=http://envd:{PASSWORD}@pypi.test/simple");
    let r = ctx.build_envd(&["--build-arg", &arg]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("config.pip_index(url=) has credentials in http://***@pypi.test/simple; anyone with the file, the build cache or a --provenance=mode=max attestation can read them, pass them with docker buildx build --secret instead"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--build-arg PIP_INDEX_URL has credentials in http://***@pypi.test/simple; BuildKit records build args in the image's provenance attestation (--provenance, on by default with --push), pass them with docker buildx build --secret instead"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(PASSWORD), "the warnings show no password");
}

#[test]
fn each_platform_carries_its_own_sbom_with_its_conda_subdir() {
    let _engine = ensure_env();
    let ctx = Context::new("sbom-platforms");
    ctx.archmark_channel("channel").write(
        "build.envd",
        &format!(
            "def build():\n    config.conda_channel(channel=\"channels: [defaults]\\ndefault_channels: [./channel]\\n\")\n    base(image=\"{}\")\n    install.conda_packages(name=[\"archmark\"])\n",
            bases_env("BASE_MULTI_IMAGE")
        ),
    );
    let tar = ctx.dir().join("image.tar");
    let output = format!("type=oci,dest={}", tar.display());
    let r = ctx.build_envd(&["--platform", "linux/amd64,linux/arm64", "--sbom=true", "--output", &output]);
    assert!(r.ok, "{}", r.stderr);
    let mut subdirs: Vec<(String, String)> = attestations(&tar)
        .into_iter()
        .filter(|(_, t, _)| t == "https://spdx.dev/Document")
        .map(|(platform, _, s)| {
            let archmark = purls(&s["predicate"]).into_iter().find(|p| p.starts_with("pkg:conda/archmark@"));
            (platform, archmark.expect("archmark in each SBOM"))
        })
        .collect();
    subdirs.sort();
    assert_eq!(subdirs.len(), 2, "{subdirs:?}");
    assert!(subdirs[0].0 == "linux/amd64" && subdirs[0].1.ends_with("subdir=linux-64"), "{subdirs:?}");
    assert!(subdirs[1].0 == "linux/arm64" && subdirs[1].1.ends_with("subdir=linux-aarch64"), "{subdirs:?}");
}

/// Pushed to a registry, the SBOM is what `imagetools inspect` shows.
#[test]
fn imagetools_inspect_shows_the_sbom_of_a_pushed_image() {
    let _engine = ensure_env();
    let ctx = Context::new("sbom-pushed");
    ctx.write(
        "build.envd",
        &format!(
            "def build():\n    base(image=\"{}\")\n    install.system_packages(name=[\"libgomp1\"])\n",
            cpu_base()
        ),
    );
    let pushed = format!("{}/envd-e2e/sbom:{}", bases_env("REGISTRY"), std::process::id());
    let r = ctx.build_envd_pushed(&pushed, &["--attest", "type=sbom"]);
    assert!(r.ok, "{}", r.stderr);
    let sbom = envd_e2e::docker_ok(&["buildx", "imagetools", "inspect", &pushed, "--format", "{{ json .SBOM }}"]);
    let sbom: serde_json::Value = serde_json::from_str(&sbom).unwrap();
    assert_eq!(sbom["SPDX"]["spdxVersion"], "SPDX-2.3", "{sbom}");
    assert!(purls(&sbom["SPDX"]).iter().any(|p| p.starts_with("pkg:deb/debian/libgomp1@")), "{sbom}");
}

#[test]
fn sbom_options_the_frontend_cannot_honour_are_refused_with_the_reason() {
    let _engine = ensure_env();
    let ctx = Context::new("sbom-refused");
    ctx.write("build.envd", &format!("def build():\n    base(image=\"{}\")\n", cpu_base()));
    let r = ctx.build_envd(&["--build-arg", "BUILDKIT_SBOM_SCAN_STAGE=true", "--sbom=true"]);
    assert!(!r.ok);
    assert!(
        r.stderr
            .contains("BUILDKIT_SBOM_SCAN_STAGE: scans a Dockerfile's stages for its SBOM; build.envd has no stages"),
        "{}",
        r.stderr
    );
}
