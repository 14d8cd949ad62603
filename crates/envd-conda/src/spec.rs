//! Match specs, checked before the build runs.

use rattler_conda_types::{MatchSpec, ParseMatchSpecOptions};

/// Checks a conda match spec as conda reads it (`numpy`, `numpy>=1.21`,
/// `numpy=1.21.5=py39h7a5d4dd_0`); the error is one sentence.
pub fn check_spec(spec: &str) -> Result<(), String> {
    if spec.trim().is_empty() {
        return Err("a conda package spec is empty".into());
    }
    MatchSpec::from_str(spec, ParseMatchSpecOptions::lenient())
        .map(|_| ())
        .map_err(|e| format!("`{spec}` is not a valid conda package spec: {e}"))
}

/// The spec that `base(language="pythonX.Y")` adds: the interpreter's
/// minor version, any patch.
pub fn python_spec(version: &str) -> String {
    format!("python {version}.*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conda_export_pins_and_ranges_are_specs() {
        for ok in ["numpy", "numpy>=1.21,<2", "numpy=1.21.5=py39h7a5d4dd_0", "_libgcc_mutex=0.1=main", "python 3.8.*"] {
            check_spec(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        check_spec(&python_spec("3.11")).unwrap();
    }

    #[test]
    fn bad_specs_say_which() {
        assert_eq!(check_spec(" ").unwrap_err(), "a conda package spec is empty");
        for bad in ["zlib==", "numpy>>=1"] {
            assert!(check_spec(bad).is_err(), "{bad} passed");
        }
        let e = check_spec("numpy>>=1").unwrap_err();
        assert!(e.starts_with("`numpy>>=1` is not a valid conda package spec: "), "{e}");
    }
}
