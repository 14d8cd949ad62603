//! The LICENSE file is the license Cargo.toml names.

#[test]
fn the_license_file_is_the_license_cargo_toml_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"Apache-2.0\""), "the workspace's license is Apache-2.0");
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE file at the top level");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(license.contains("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
}
