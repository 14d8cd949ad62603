//! envd functions this frontend does not support. Each is defined, so that
//! calling it is an error at the call that says so and why, rather than
//! "not found" or, as upstream envd did with some, silence.
//!
//! One table holds them all: each row is a namespace, a name and the
//! reason, and each becomes an [`Unsupported`] value that takes any
//! arguments and fails with the reason.

// The `ProvidesStaticType` derive implements an `unsafe` marker trait of
// starlark's for this plain struct; nothing here is unsafe in itself.
#![allow(unsafe_code)]

use std::fmt;

use allocative::Allocative;
use starlark::environment::GlobalsBuilder;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_simple_value;
use starlark::values::{starlark_value, NoSerialize, ProvidesStaticType, StarlarkValue, Value};

/// The namespace of a global function.
pub(crate) const GLOBAL: &str = "";

/// (namespace, name, why), in the order envd documents them.
const TABLE: &[(&str, &str, &str)] = &[
    (GLOBAL, "shell", "picks the interactive shell of an envd development environment; a service image has no use for it"),
    (GLOBAL, "include", "loads modules from remote repositories; keep helper functions in build.envd itself"),
    (GLOBAL, "git_config", "configures git for interactive use; a service image has no use for it"),
    ("install", "r_lang", "sets up R; this frontend builds Python services"),
    ("install", "r_packages", "installs R packages; this frontend builds Python services"),
    ("install", "julia", "sets up Julia; this frontend builds Python services"),
    ("install", "julia_packages", "installs Julia packages; this frontend builds Python services"),
    ("install", "vscode_extensions", "sets up an editor; a service image does not run one"),
    ("io", "mount", "mounts host directories when envd runs the environment; mount them with docker run -v instead"),
    ("config", "jupyter", "starts a notebook server; a service image does not run one"),
    ("config", "jupyter_extension", "sets up a notebook server; a service image does not run one"),
    ("config", "rstudio_server", "starts RStudio; a service image does not run one"),
    ("config", "cran_mirror", "configures R; this frontend builds Python services"),
    ("config", "julia_pkg_server", "configures Julia; this frontend builds Python services"),
    (
        "config",
        "gpu",
        "asks envd for GPUs at run time; build on a GPU base with install.cuda() or base(image=\"aiges_gpu\") and run with docker run --gpus",
    ),
    (
        "runtime",
        "daemon",
        "runs background processes in an envd environment; a service image has one command, set with runtime.command()",
    ),
    ("runtime", "mount", "mounts host directories when envd runs the environment; mount them with docker run -v instead"),
];

/// Registers the unsupported functions of `namespace` ([`GLOBAL`] for the
/// global ones).
pub(crate) fn register(builder: &mut GlobalsBuilder, namespace: &'static str) {
    for (ns, name, why) in TABLE.iter().filter(|(ns, _, _)| *ns == namespace) {
        builder.set(name, Unsupported { namespace: ns, name, why });
    }
}

/// A function that fails with its reason, whatever it is given.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
struct Unsupported {
    namespace: &'static str,
    name: &'static str,
    why: &'static str,
}
starlark_simple_value!(Unsupported);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace {
            GLOBAL => write!(f, "{}", self.name),
            ns => write!(f, "{ns}.{}", self.name),
        }
    }
}

#[starlark_value(type = "function")]
impl<'v> StarlarkValue<'v> for Unsupported {
    fn invoke(
        &self,
        _me: Value<'v>,
        _args: &Arguments<'v, '_>,
        _eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        Err(starlark::Error::new_other(anyhow::anyhow!("{self}() {} (not supported by envd-frontend)", self.why)))
    }
}
