//! The linter's rules: one list, so that a warning met while evaluating
//! and one found afterwards by `envd-check` have the same names, the same
//! descriptions and the same anchors in docs/rules.md.
//!
//! The names are CamelCase, as the Dockerfile linter's are, because
//! buildx, `# check=skip=` and `ENVD_CHECK` use them as they are.

use serde::{Deserialize, Serialize};

/// Where the rule list lives; each rule is an anchor in it.
pub const RULES_URL: &str = "https://github.com/aiges/envd-frontend/blob/main/docs/rules.md";

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// `pip install` of index packages inside `run()`.
    PipInstallInRun,
    /// `apt-get install` inside `run()`.
    AptInstallInRun,
    /// conda, mamba or micromamba installing inside `run()`.
    CondaInstallInRun,
    /// `base(language="python3.X")` in a build with no conda step.
    PythonVersionIgnored,
    /// A conda python the AIGES loader's default `c` mode cannot embed.
    LoaderPythonMismatch,
    /// user:password or a conda token in a URL.
    CredentialsInUrl,
    /// One package pinned to two versions.
    ConflictingPins,
    /// `name:` or `prefix:` of an env file, or an editable `pip:` entry.
    EnvFileFieldIgnored,
    /// `args.get("X")` with no default, and X not given.
    UndefinedBuildArg,
    /// A `--build-arg` that build.envd never reads.
    UnusedBuildArg,
    /// An old spelling of an argument or value.
    DeprecatedAlias,
    /// `base(os=)` with an AIGES image.
    BaseOsIgnored,
    /// Channel keys at the top level of `config.conda_channel`'s YAML.
    CondaChannelKeyMisplaced,
    /// A torch family build the base's CUDA cannot run, or a CPU one on a GPU base.
    TorchCudaMismatch,
    /// Packages of one build built for different CUDA versions.
    CudaVariantMismatch,
    /// A package built for a GPU on a base without CUDA.
    GpuPackageOnCpuBase,
    /// An argument accepted for envd's sake that has no effect here.
    ArgumentIgnored,
    /// `runtime.command` on an AIGES base, which replaces the loader's start.
    LoaderCommandReplaced,
}

impl Rule {
    /// Every rule, in the order of docs/rules.md.
    pub const ALL: &'static [Rule] = &[
        Rule::PipInstallInRun,
        Rule::AptInstallInRun,
        Rule::CondaInstallInRun,
        Rule::PythonVersionIgnored,
        Rule::LoaderPythonMismatch,
        Rule::CredentialsInUrl,
        Rule::ConflictingPins,
        Rule::EnvFileFieldIgnored,
        Rule::UndefinedBuildArg,
        Rule::UnusedBuildArg,
        Rule::DeprecatedAlias,
        Rule::BaseOsIgnored,
        Rule::CondaChannelKeyMisplaced,
        Rule::TorchCudaMismatch,
        Rule::CudaVariantMismatch,
        Rule::GpuPackageOnCpuBase,
        Rule::ArgumentIgnored,
        Rule::LoaderCommandReplaced,
    ];

    /// The CamelCase name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::PipInstallInRun => "PipInstallInRun",
            Rule::AptInstallInRun => "AptInstallInRun",
            Rule::CondaInstallInRun => "CondaInstallInRun",
            Rule::PythonVersionIgnored => "PythonVersionIgnored",
            Rule::LoaderPythonMismatch => "LoaderPythonMismatch",
            Rule::CredentialsInUrl => "CredentialsInUrl",
            Rule::ConflictingPins => "ConflictingPins",
            Rule::EnvFileFieldIgnored => "EnvFileFieldIgnored",
            Rule::UndefinedBuildArg => "UndefinedBuildArg",
            Rule::UnusedBuildArg => "UnusedBuildArg",
            Rule::DeprecatedAlias => "DeprecatedAlias",
            Rule::BaseOsIgnored => "BaseOsIgnored",
            Rule::CondaChannelKeyMisplaced => "CondaChannelKeyMisplaced",
            Rule::TorchCudaMismatch => "TorchCudaMismatch",
            Rule::CudaVariantMismatch => "CudaVariantMismatch",
            Rule::GpuPackageOnCpuBase => "GpuPackageOnCpuBase",
            Rule::ArgumentIgnored => "ArgumentIgnored",
            Rule::LoaderCommandReplaced => "LoaderCommandReplaced",
        }
    }

    /// The rule named `name`, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.name().eq_ignore_ascii_case(name))
    }

    /// One line: what the rule looks for and why it matters.
    pub fn description(self) -> &'static str {
        match self {
            Rule::PipInstallInRun => {
                "pip install in run() bypasses the pip cache mount and config.pip_index; use install.python_packages"
            }
            Rule::AptInstallInRun => {
                "apt-get install in run() bypasses the apt cache mounts; use install.system_packages"
            }
            Rule::CondaInstallInRun => {
                "conda install in run() bypasses the conda solve and its cache; use install.conda_packages"
            }
            Rule::PythonVersionIgnored => {
                "base(language=) picks the conda python; without a conda step the image's python is the base's"
            }
            Rule::LoaderPythonMismatch => {
                "the AIGES loader's default c mode embeds python 3.9; a conda python of another version cannot serve"
            }
            Rule::CredentialsInUrl => {
                "credentials written in build.envd or its files can be read by anyone with the file or the build cache"
            }
            Rule::ConflictingPins => "the same package is asked for at two different versions",
            Rule::EnvFileFieldIgnored => {
                "an env file's name: and prefix: are ignored, and its -e pip entries are installed as packages"
            }
            Rule::UndefinedBuildArg => "a build arg is read with no default and was not given",
            Rule::UnusedBuildArg => "a --build-arg was given that build.envd never reads",
            Rule::DeprecatedAlias => "an old spelling of an argument or value",
            Rule::BaseOsIgnored => "base(os=) has no effect on an AIGES base; the image decides the OS",
            Rule::CondaChannelKeyMisplaced => {
                "channel names at the top level of config.conda_channel's YAML are not custom channels"
            }
            Rule::TorchCudaMismatch => {
                "a torch build for a newer CUDA than the base's fails on its GPU, and a +cpu one never uses it"
            }
            Rule::CudaVariantMismatch => {
                "packages built for different CUDA versions fail together at import, or on the base's CUDA"
            }
            Rule::GpuPackageOnCpuBase => "a package built for a GPU on a base without CUDA cannot use it",
            Rule::ArgumentIgnored => "an argument envd accepts has no effect on this build",
            Rule::LoaderCommandReplaced => {
                "runtime.command replaces the image's command, which on an AIGES base starts the loader"
            }
        }
    }

    /// The anchor of the rule in docs/rules.md, with its bad and good example.
    pub fn url(self) -> String {
        format!("{RULES_URL}#{}", self.name().to_ascii_lowercase())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        for r in Rule::ALL {
            assert_eq!(Rule::from_name(&r.name().to_lowercase()), Some(*r));
            assert!(r.name().chars().next().unwrap().is_ascii_uppercase());
            assert!(!r.description().contains('\n'));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
        assert_eq!(Rule::from_name("NoSuchRule"), None);
        assert_eq!(
            Rule::PipInstallInRun.url(),
            "https://github.com/aiges/envd-frontend/blob/main/docs/rules.md#pipinstallinrun"
        );
    }
}
