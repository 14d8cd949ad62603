//! A conda package as the fixture writes it: plain data, in a module of
//! its own so that the writer (the crate root) and the CPython packager
//! (`python.rs`) both use it and neither imports the other.

use std::path::PathBuf;

/// When every fixture package was built: fixed, so archives are the same
/// bytes on every run.
pub(crate) const TIMESTAMP_MS: i64 = 1_700_000_000_000;

/// What conda packages record as their build prefix; rattler replaces it
/// with the real prefix in text files.
pub const PREFIX_PLACEHOLDER: &str = "/opt/anaconda1anaconda2anaconda3";

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.tar.bz2`, conda's first format.
    TarBz2,
    /// `.conda`, a zip of zstd tarballs.
    Conda,
}

/// A file of a package.
#[derive(Debug, Clone)]
pub enum Content {
    /// A file, copied as is.
    File(String),
    /// A text file whose [`PREFIX_PLACEHOLDER`] is replaced on install.
    Text(String),
    /// A symbolic link to the given target.
    Symlink(String),
    /// A file of this machine, copied byte for byte with its mode; if it
    /// holds its build prefix, the prefix is recorded as the file's
    /// placeholder, in text or binary mode, as conda-build does.
    Copied {
        /// Where the file is on this machine.
        from: PathBuf,
        /// The build prefix in it, and how it is to be replaced.
        placeholder: Option<(String, FileMode)>,
    },
}

/// How the installer replaces a file's prefix placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Every occurrence, in a text file.
    Text,
    /// Each NUL-terminated string that holds it, padded with NULs to its
    /// old length: an ELF file's RUNPATH, for example.
    Binary,
}

/// A conda package to write.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package name.
    pub name: String,
    /// The version.
    pub version: String,
    /// The build string.
    pub build: String,
    /// The build number.
    pub build_number: u64,
    /// Dependencies, as match specs.
    pub depends: Vec<String>,
    /// `noarch: python` (installed under the python's site-packages).
    pub noarch_python: bool,
    /// The files, by path inside the package.
    pub files: Vec<(String, Content)>,
    /// The archive format.
    pub format: Format,
    /// `linux-aarch64` for an arm64 package; `linux-64` otherwise.
    pub aarch64: bool,
    /// `console_scripts` of a `noarch: python` package (`pip =
    /// pip._internal.cli.main:main`), written to `info/link.json`.
    pub entry_points: Vec<String>,
    /// Cache the archive between writes (see [`write_channel`](crate::write_channel)): for big
    /// packages made from files of this machine.
    pub cached: bool,
}

impl Package {
    /// A `linux-64` package with no files and no dependencies.
    pub fn new(name: &str, version: &str, build: &str) -> Self {
        let build_number = build.rsplit('_').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        Self {
            name: name.into(),
            version: version.into(),
            build: build.into(),
            build_number,
            depends: Vec::new(),
            noarch_python: false,
            files: Vec::new(),
            format: Format::TarBz2,
            aarch64: false,
            entry_points: Vec::new(),
            cached: false,
        }
    }

    /// Adds dependencies.
    pub fn depends(mut self, specs: &[&str]) -> Self {
        self.depends.extend(specs.iter().map(|s| (*s).to_owned()));
        self
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, content: Content) -> Self {
        self.files.push((path.into(), content));
        self
    }

    /// Makes it a `.conda` archive.
    pub fn conda(mut self) -> Self {
        self.format = Format::Conda;
        self
    }

    /// Makes it `noarch: python`.
    pub fn noarch_python(mut self) -> Self {
        self.noarch_python = true;
        self
    }

    /// Makes it a `linux-aarch64` package.
    pub fn aarch64(mut self) -> Self {
        self.aarch64 = true;
        self
    }

    /// The subdir it belongs in.
    pub fn subdir(&self) -> &'static str {
        match (self.noarch_python, self.aarch64) {
            (true, _) => "noarch",
            (false, true) => "linux-aarch64",
            (false, false) => "linux-64",
        }
    }

    /// The archive's file name.
    pub fn filename(&self) -> String {
        let ext = match self.format {
            Format::TarBz2 => "tar.bz2",
            Format::Conda => "conda",
        };
        format!("{}-{}-{}.{ext}", self.name, self.version, self.build)
    }

    pub(crate) fn index_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "build_number": self.build_number,
            "depends": self.depends,
            "license": "Apache-2.0",
            "subdir": self.subdir(),
            "timestamp": TIMESTAMP_MS,
        });
        if self.noarch_python {
            v["noarch"] = "python".into();
        } else {
            v["arch"] = if self.aarch64 { "aarch64" } else { "x86_64" }.into();
            v["platform"] = "linux".into();
        }
        v
    }
}
