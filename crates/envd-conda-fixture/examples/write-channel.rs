//! Writes the test channel to a directory, for trying conda builds by hand:
//! `cargo run -p envd-conda-fixture --example write-channel -- DIR [FILLER] [empty|archmark]`
//! (`empty`: a channel with no packages; `archmark`: only
//! `envd_conda_fixture::archmark`, a build for each architecture, as
//! `scripts/arm64-builder.sh` installs it). The channel has the standard
//! packages and this machine's CPython, pip and setuptools as conda
//! packages (see `envd_conda_fixture::machine_python`).

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: write-channel DIR [FILLER] [empty|archmark]");
        std::process::exit(2);
    };
    let filler: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let only = args.next();
    let mut packages = if only.as_deref() == Some("empty") {
        Vec::new()
    } else if only.as_deref() == Some("archmark") {
        envd_conda_fixture::archmark()
    } else {
        envd_conda_fixture::with_python().unwrap_or_else(|e| {
            eprintln!("write-channel: cannot package this machine's python: {e}");
            std::process::exit(1);
        })
    };
    packages.extend(envd_conda_fixture::filler(filler));
    if let Err(e) = envd_conda_fixture::write_channel(std::path::Path::new(&dir), &packages) {
        eprintln!("write-channel: {e}");
        std::process::exit(1);
    }
}
