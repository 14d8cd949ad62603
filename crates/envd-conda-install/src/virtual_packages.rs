//! The virtual packages (`__linux`, `__glibc`, `__unix`, `__archspec`,
//! `__cuda`) the solve may depend on.
//!
//! rattler's own detection loads `libc.so.6` with dlopen, which a static
//! binary must not do (and which would report the binary's glibc, not the
//! image's). So: the kernel from `/proc`, glibc from the image's
//! `getconf GNU_LIBC_VERSION` (or `ldd --version`), CUDA from the request,
//! since a build has no GPU to look at. conda's `CONDA_OVERRIDE_*`
//! variables win, as with conda.

use std::process::Command;

use rattler_conda_types::{GenericVirtualPackage, PackageName, Version};

use crate::error::{err, Error};

fn package(name: &str, version: &str, build: &str) -> Result<GenericVirtualPackage, Error> {
    Ok(GenericVirtualPackage {
        name: PackageName::new_unchecked(name),
        version: version.parse::<Version>().map_err(|e| err(&format!("{name} version `{version}`"), e))?,
        build_string: build.parse().map_err(|e| err(&format!("{name} build `{build}`"), e))?,
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned())
}

/// The image's glibc version, if it has one.
fn glibc() -> Option<String> {
    let run = |cmd: &str, args: &[&str]| Command::new(cmd).args(args).output().ok().filter(|o| o.status.success());
    if let Some(o) = run("getconf", &["GNU_LIBC_VERSION"]) {
        // "glibc 2.36"
        let text = String::from_utf8_lossy(&o.stdout);
        if let Some(v) = text.split_whitespace().nth(1) {
            return Some(v.to_owned());
        }
    }
    let o = run("ldd", &["--version"])?;
    // "ldd (Ubuntu GLIBC 2.27-3ubuntu1) 2.27"
    let text = String::from_utf8_lossy(&o.stdout);
    let first = text.lines().next()?;
    first.contains("GLIBC").then(|| first.split_whitespace().last().map(str::to_owned)).flatten()
}

fn kernel() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // "6.1.0-18-amd64": the leading dotted digits
    let v: String = release.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let v = v.trim_end_matches('.');
    if v.is_empty() {
        "0".into()
    } else {
        v.into()
    }
}

/// The generic microarchitecture of a conda subdir, as `__archspec`
/// names it: the platform the build targets, not the machine the
/// installer runs on (an x86_64 installer serves arm64 steps).
fn archspec(subdir: &str) -> &'static str {
    match subdir {
        "linux-aarch64" => "aarch64",
        "linux-ppc64le" => "ppc64le",
        "linux-s390x" => "s390x",
        _ => "x86_64",
    }
}

/// Detects the virtual packages of the image the installer runs in, for
/// the conda subdir `subdir`.
pub fn detect(subdir: &str, cuda: Option<&str>) -> Result<Vec<GenericVirtualPackage>, Error> {
    let mut out = vec![
        package("__unix", "0", "0")?,
        package("__linux", &env("CONDA_OVERRIDE_LINUX").unwrap_or_else(kernel), "0")?,
        package("__archspec", "1", archspec(subdir))?,
    ];
    match env("CONDA_OVERRIDE_GLIBC").or_else(glibc) {
        Some(v) if !v.is_empty() => out.push(package("__glibc", &v, "0")?),
        _ => {}
    }
    match env("CONDA_OVERRIDE_CUDA").or_else(|| cuda.map(str::to_owned)) {
        Some(v) if !v.is_empty() => out.push(package("__cuda", &v, "0")?),
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archspec_follows_the_target_subdir() {
        let arch = |subdir: &str| {
            let all = detect(subdir, None).unwrap();
            all.into_iter().find(|p| p.name.as_normalized() == "__archspec").unwrap().build_string
        };
        assert_eq!(arch("linux-64"), "x86_64");
        assert_eq!(arch("linux-aarch64"), "aarch64");
    }
}
