//! The AIGES runtime, for real: images built on the loader stand-in start
//! with their CMD, and the loader reaches the conda environment's python
//! in both of its modes.
//!
//! The stand-in (`scripts/aiges-standin/`) does what the AIGES loader
//! does: in `c` mode `AIservice` `dlopen`s `libwrapper.so` through
//! `LD_LIBRARY_PATH`, which embeds the first `python3` on PATH and calls
//! `wrapper.Wrapper().wrapperInit()`; in `python` mode it runs
//! `/usr/bin/env python -m aiges.serve`.

use envd_conda_fixture::{machine_python, Content, Package};
use envd_e2e::{cpu_base, docker_ok, ensure_env, Context};

/// The channel settings: `defaults` is the context's `channel` directory.
const CONDARC: &str = "    config.conda_channel(channel=\"channels: [defaults]\\ndefault_channels: [./channel]\")\n";

/// The wrapper a service ships: it imports a package of the environment.
const WRAPPER: &str = "import pyfixture\n\nclass Wrapper:\n    def wrapperInit(self, config):\n        return \"pyfixture %s from %s\" % (pyfixture.VERSION, pyfixture.__file__)\n";

/// A stand-in for the `aiges` SDK's plugin server, which the loader's
/// python mode starts as `python -m aiges.serve` in the working directory.
fn aiges_sdk() -> Package {
    let serve = "import sys\nimport wrapper\n\nprint(\"aiges.serve stand-in: python %s at %s: wrapperInit returned %r\" % (sys.version.split()[0], sys.prefix, wrapper.Wrapper().wrapperInit({})))\n";
    Package::new("aiges", "0.1", "py_0")
        .noarch_python()
        .depends(&["python >=3.6"])
        .file("site-packages/aiges/__init__.py", Content::File(String::new()))
        .file("site-packages/aiges/serve.py", Content::File(serve.into()))
}

#[test]
fn the_loader_serves_the_conda_environment_in_c_and_python_mode() {
    let _engine = ensure_env();
    let m = machine_python().expect("package this machine's python");
    let ctx = Context::new("loader");
    ctx.channel_with_python("channel", vec![aiges_sdk()]).write("wrapper.py", WRAPPER);
    let build = |environ: &str| {
        ctx.write(
            "build.envd",
            &format!(
                "def build():\n{CONDARC}    base(image=\"{}\", language=\"python{}\")\n    install.conda_packages(name=[\"pyfixture\", \"aiges\"])\n    io.copy(src=\"wrapper.py\", dest=\"/home/aiges/wrapper.py\")\n{environ}",
                cpu_base(),
                m.minor
            ),
        );
        let r = ctx.build_envd(&[]);
        assert!(r.ok, "{}", r.stderr);
        // the image's own CMD: the demos' ./AIservice start command
        docker_ok(&["run", "--rm", &ctx.tag])
    };
    let returned = format!("'pyfixture 0.1 from /opt/conda/lib/python{}/site-packages/pyfixture/__init__.py'", m.minor);

    // c mode: libwrapper.so embeds the environment's python (first on PATH)
    // with the environment's libpython (LD_LIBRARY_PATH)
    let out = build("");
    assert!(out.starts_with(&format!("aiges stand-in: c mode: python {} ", m.version)), "{out}");
    assert!(out.trim_end().ends_with(&format!(" at /opt/conda: wrapperInit returned {returned}")), "{out}");

    // python mode: the loader starts the environment's python as a child
    let out = build("    runtime.environ(env={\"AIGES_PLUGIN_MODE\": \"python\"})\n");
    assert_eq!(
        out,
        format!("aiges.serve stand-in: python {} at /opt/conda: wrapperInit returned {returned}\n", m.version)
    );
}
