//! A mirror of PyPI's wheels on the host, as PyPI serves them: PEP 503
//! pages whose links carry the file's sha256 and, as PEP 658 says, the
//! hash of its METADATA, served beside it as `<wheel>.metadata`. A
//! resolver then reads metadata without fetching a wheel, as it does on
//! PyPI, and the server's log counts every wheel a build fetched.
//!
//! The wheels are downloaded once, by the host's pip, into `target/DIR`
//! (`.complete` marks a finished download); tests and benchmarks serve them
//! from there with `tests/servers/files_http.py`.

use std::path::PathBuf;

use crate::{repo, HostServer};

/// Writes the pages and `.metadata` files of `ROOT/files/*.whl`.
const PAGES: &str = r#"
import hashlib, html, os, re, sys, zipfile
root = sys.argv[1]
pages = {}
for wheel in sorted(os.listdir(os.path.join(root, "files"))):
    if not wheel.endswith(".whl"):
        continue
    path = os.path.join(root, "files", wheel)
    name = re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with zipfile.ZipFile(path) as z:
        meta = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        data = z.read(meta[0])
    open(path + ".metadata", "wb").write(data)
    meta_hash = hashlib.sha256(data).hexdigest()
    pages.setdefault(name, []).append(
        '<a href="../../files/%s#sha256=%s" data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s">%s</a>'
        % (html.escape(wheel), digest, meta_hash, meta_hash, html.escape(wheel)))
for name, links in pages.items():
    os.makedirs(os.path.join(root, "simple", name), exist_ok=True)
    with open(os.path.join(root, "simple", name, "index.html"), "w") as f:
        f.write("<html><body>\n%s\n</body></html>\n" % "\n".join(links))
"#;

/// The mirror, served on the docker bridge's gateway.
pub struct PypiMirror {
    /// Its server.
    pub server: HostServer,
    /// Its directory: `files/`, `simple/`.
    pub dir: PathBuf,
}

/// The request log is per process, in the temporary directory; the wheels
/// stay in `target/DIR` for the next run.
impl Drop for PypiMirror {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.server.log);
    }
}

impl PypiMirror {
    /// Serves the binary wheels of `requirements` (one a line) and their
    /// dependencies, downloaded into `target/<dir>` the first time.
    pub fn start(dir: &str, requirements: &str) -> Self {
        let dir = repo().join("target").join(dir);
        if !dir.join(".complete").exists() {
            std::fs::create_dir_all(dir.join("files")).unwrap();
            std::fs::write(dir.join("requirements.txt"), requirements).unwrap();
            let ok = std::process::Command::new("python3")
                .args(["-m", "pip", "download", "-q", "--only-binary=:all:", "-d"])
                .arg(dir.join("files"))
                .arg("-r")
                .arg(dir.join("requirements.txt"))
                .status()
                .expect("python3 runs")
                .success();
            assert!(ok, "pip download of the mirror's wheels failed");
            let ok = std::process::Command::new("python3").args(["-c", PAGES]).arg(&dir).status().unwrap().success();
            assert!(ok, "could not write the mirror's pages");
            std::fs::write(dir.join(".complete"), "").unwrap();
        }
        let log = std::env::temp_dir().join(format!(
            "envd-mirror-{}-{}.log",
            dir.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        let server = HostServer::files(&dir, log);
        Self { server, dir }
    }

    /// Its simple index, as a build reaches it (`--add-host pypi.test:host-gateway`).
    pub fn url(&self) -> String {
        format!("http://pypi.test:{}/simple", self.server.port)
    }

    /// A build.envd that installs `requirements.txt` from the mirror on
    /// the CPU stand-in.
    pub fn build_envd(&self) -> String {
        format!(
            "def build():\n    base(image=\"{}\")\n    config.pip_index(url=\"{}\", trust=True)\n    install.python_packages(requirements=\"requirements.txt\")\n",
            crate::cpu_base(),
            self.url()
        )
    }

    /// The Dockerfile a user writes for the same install: `pip install -r
    /// requirements.txt` from the mirror, with a pip cache mount, on the
    /// CPU stand-in.
    pub fn pip_dockerfile(&self) -> String {
        format!(
            "FROM {}\nRUN --mount=type=cache,target=/root/.cache/pip \\\n    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\\n    python3 -m pip install --index-url {} --trusted-host pypi.test:{} -r /tmp/requirements.txt\n",
            crate::cpu_base(),
            self.url(),
            self.server.port
        )
    }

    /// The `--add-host` flag a build needs to reach it.
    pub fn add_host() -> [&'static str; 2] {
        ["--add-host", "pypi.test:host-gateway"]
    }

    /// The wheel files of each request so far, in order (`.metadata`
    /// reads are not wheels).
    pub fn wheel_requests(&self) -> Vec<String> {
        self.server
            .requests()
            .lines()
            .filter_map(|l| l.split("GET /files/").nth(1)?.split(' ').next().filter(|f| f.ends_with(".whl")))
            .map(str::to_owned)
            .collect()
    }

    /// How many wheels it holds.
    pub fn packages(&self) -> usize {
        std::fs::read_dir(self.dir.join("files"))
            .map(|d| d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "whl"))).count())
            .unwrap_or(0)
    }
}
