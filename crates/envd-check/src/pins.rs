//! `ConflictingPins`: one package pinned to two versions.
//!
//! The pins come from every place a build names packages: the pip and
//! conda calls, requirements files, and env files' dependencies and `pip:`
//! sections. pip installs calls one after another, so a later pin quietly
//! replaces an earlier one (and a pip pin replaces conda's copy of the same
//! package); within one conda solve, two pins make the solve fail far from
//! the line that caused it.

use envd_lang::{Rule, Span};

use crate::finding::{Finding, Input};
use crate::named::Installer;

/// An exact version asked for.
#[derive(Debug, Clone)]
struct Pin {
    /// The normalised name (lower case, `-` for `_` and `.`).
    name: String,
    /// The version as written.
    version: String,
    /// conda's `name=1.21`, which means `1.21.*`.
    prefix: bool,
    span: Span,
}

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let pins: Vec<Pin> = crate::named::packages(input)
        .iter()
        .filter_map(|n| match n.installer {
            Installer::Pip => pip_pin(&n.spec, &n.span),
            Installer::Conda => conda_pin(&n.spec, &n.span),
        })
        .collect();
    for (i, later) in pins.iter().enumerate() {
        let Some(first) = pins[..i].iter().find(|p| p.name == later.name && !compatible(p, later)) else { continue };
        out.push(Finding::at(
            Rule::ConflictingPins,
            &later.span,
            format!(
                "{} is pinned to {} here and to {} at {}; only one can be installed, so pin it once",
                later.name, later.version, first.version, first.span
            ),
        ));
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

/// `name==1.2` or `name[extra]===1.2`, before any `;` marker.
fn pip_pin(spec: &str, span: &Span) -> Option<Pin> {
    let spec = spec.split(';').next()?.trim();
    if spec.starts_with('-') || spec.contains("://") {
        return None;
    }
    let (name, version) = spec.split_once("==")?;
    let name = name.split('[').next()?;
    let version = version.trim_start_matches('=').trim();
    if version.contains([',', '*']) || version.is_empty() {
        return None;
    }
    Some(Pin { name: normalise(name), version: version.to_owned(), prefix: false, span: span.clone() })
}

/// conda's `name=1.2`, `name==1.2`, `name=1.2=build` or `name 1.2`.
fn conda_pin(spec: &str, span: &Span) -> Option<Pin> {
    let spec = spec.trim();
    let cut = spec.find(['=', ' '])?;
    let (name, rest) = spec.split_at(cut);
    let (exact, rest) = match rest.strip_prefix("==") {
        Some(r) => (true, r),
        None => (false, rest[1..].trim_start()),
    };
    let version = rest.split(['=', ' ']).next()?.trim_end_matches(".*");
    if version.is_empty()
        || !version.starts_with(|c: char| c.is_ascii_digit())
        || version.contains(['<', '>', ',', '|', '*'])
    {
        return None;
    }
    Some(Pin { name: normalise(name), version: version.to_owned(), prefix: !exact, span: span.clone() })
}

/// Whether both pins can hold: the same version (trailing `.0`s aside),
/// or, for conda's `=1.21`, one that starts the other.
fn compatible(a: &Pin, b: &Pin) -> bool {
    let trim = |v: &str| {
        let mut parts: Vec<&str> = v.split('.').collect();
        while parts.len() > 1 && parts.last() == Some(&"0") {
            parts.pop();
        }
        parts.join(".")
    };
    let (va, vb) = (trim(&a.version), trim(&b.version));
    if va == vb {
        return true;
    }
    let starts = |long: &str, short: &str| long.starts_with(short) && long[short.len()..].starts_with('.');
    (a.prefix && starts(&vb, &va)) || (b.prefix && starts(&va, &vb))
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::lines;

    #[test]
    fn the_same_package_at_two_versions_across_calls_and_files() {
        let src = "def build():\n    base()\n    install.python_packages(name=[\"six==1.16.0\", \"Torch==1.10\"])\n    install.conda_packages(name=[\"numpy=1.21\"], env_file=\"env.yaml\")\n    install.python_packages(requirements=\"requirements.txt\")\n";
        let env = "dependencies:\n  - numpy=1.22.0=py39h_0\n  - pip:\n    - six==1.15.0\n";
        let reqs = "# pinned\ntorch==1.10.0\nnumpy==1.21.5  # fits conda's 1.21, not the env file's 1.22.0\n";
        let l = lines(Rule::ConflictingPins, src, &[("env.yaml", env), ("requirements.txt", reqs)], &[]);
        let places: Vec<u32> = l.iter().map(|(line, _)| *line).collect();
        assert_eq!(places, [2, 4, 3], "{l:?}");
        assert!(l[0].1.starts_with("numpy is pinned to 1.22.0 here and to 1.21 at build.envd:4:5"), "{}", l[0].1);
        assert!(l[1].1.starts_with("six is pinned to 1.15.0 here and to 1.16.0 at build.envd:3:5"), "{}", l[1].1);
        assert!(l[2].1.starts_with("numpy is pinned to 1.21.5 here and to 1.22.0 at env.yaml:2:1"), "{}", l[2].1);
    }

    #[test]
    fn the_same_pin_twice_and_ranges_are_fine() {
        let src = "def build():\n    base()\n    install.python_packages(name=[\"six==1.16.0\", \"numpy>=1.20\"])\n    install.python_packages(name=[\"six==1.16\", \"numpy==1.22\"])\n    install.conda_packages(name=[\"python=3.9\", \"python==3.9.16\"])\n";
        assert!(lines(Rule::ConflictingPins, src, &[], &[]).is_empty());
    }
}
