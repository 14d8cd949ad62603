//! envd functions this frontend does not support. Each is defined so that
//! calling it is an error at the call that says so and why, rather than
//! "not found" or, as upstream envd did with some, silence.

use starlark::environment::GlobalsBuilder;
use starlark::starlark_module;
use starlark::values::dict::DictRef;
use starlark::values::none::NoneType;
use starlark::values::Value;

fn refuse(why: &str) -> anyhow::Result<NoneType> {
    Err(anyhow::anyhow!("{why} (not supported by envd-frontend)"))
}

pub(crate) fn register_globals(builder: &mut GlobalsBuilder) {
    globals_fns(builder)
}

#[starlark_module]
fn globals_fns(builder: &mut GlobalsBuilder) {
    /// Not supported: a service image has no use for it.
    fn shell<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse(
            "shell() picks the interactive shell of an envd development environment; a service image has no use for it",
        )
    }

    /// Not supported: keep helper functions in build.envd itself.
    fn include<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("include() loads modules from remote repositories; keep helper functions in build.envd itself")
    }

    /// Not supported: a service image has no use for it.
    fn git_config<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("git_config() configures git for interactive use; a service image has no use for it")
    }
}

pub(crate) fn register_install(builder: &mut GlobalsBuilder) {
    install_fns(builder)
}

#[starlark_module]
fn install_fns(builder: &mut GlobalsBuilder) {
    /// Not supported: this frontend builds Python services.
    fn r_lang<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("install.r_lang() sets up R; this frontend builds Python services")
    }

    /// Not supported: this frontend builds Python services.
    fn r_packages<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("install.r_packages() installs R packages; this frontend builds Python services")
    }

    /// Not supported: this frontend builds Python services.
    fn julia<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("install.julia() sets up Julia; this frontend builds Python services")
    }

    /// Not supported: this frontend builds Python services.
    fn julia_packages<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("install.julia_packages() installs Julia packages; this frontend builds Python services")
    }

    /// Not supported: a service image does not run one.
    fn vscode_extensions<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("install.vscode_extensions() sets up an editor; a service image does not run one")
    }
}

pub(crate) fn register_io(builder: &mut GlobalsBuilder) {
    io_fns(builder)
}

#[starlark_module]
fn io_fns(builder: &mut GlobalsBuilder) {
    /// Not supported: mount them with docker run -v instead.
    fn mount<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse(
            "io.mount() mounts host directories when envd runs the environment; mount them with docker run -v instead",
        )
    }
}

pub(crate) fn register_config(builder: &mut GlobalsBuilder) {
    config_fns(builder)
}

#[starlark_module]
fn config_fns(builder: &mut GlobalsBuilder) {
    /// Not supported: a service image does not run one.
    fn jupyter<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.jupyter() starts a notebook server; a service image does not run one")
    }

    /// Not supported: a service image does not run one.
    fn jupyter_extension<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.jupyter_extension() sets up a notebook server; a service image does not run one")
    }

    /// Not supported: a service image does not run one.
    fn rstudio_server<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.rstudio_server() starts RStudio; a service image does not run one")
    }

    /// Not supported: this frontend builds Python services.
    fn cran_mirror<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.cran_mirror() configures R; this frontend builds Python services")
    }

    /// Not supported: this frontend builds Python services.
    fn julia_pkg_server<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.julia_pkg_server() configures Julia; this frontend builds Python services")
    }

    /// Not supported: build on a GPU base with install.cuda() or base(image="aiges_gpu") and run with docker run --gpus.
    fn gpu<'v>(#[starlark(args)] args: Value<'v>, #[starlark(kwargs)] kwargs: DictRef<'v>) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("config.gpu() asks envd for GPUs at run time; build on a GPU base with install.cuda() or base(image=\"aiges_gpu\") and run with docker run --gpus")
    }
}

pub(crate) fn register_runtime(builder: &mut GlobalsBuilder) {
    runtime_fns(builder)
}

#[starlark_module]
fn runtime_fns(builder: &mut GlobalsBuilder) {
    /// Not supported: a service image has one command, set with runtime.command().
    fn daemon<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("runtime.daemon() runs background processes in an envd environment; a service image has one command, set with runtime.command()")
    }

    /// Not supported: mount them with docker run -v instead.
    fn mount<'v>(
        #[starlark(args)] args: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
    ) -> anyhow::Result<NoneType> {
        let _ = (args, kwargs);
        refuse("runtime.mount() mounts host directories when envd runs the environment; mount them with docker run -v instead")
    }
}
