//! `install.*`: packages from apt, pip and conda, and CUDA.

use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::{NoneOr, NoneType};

use super::call::{caller, context_path, package_names, set_once, store};
use crate::plan::{Cuda, Step, StepKind};
use crate::rules::Rule;

/// CUDA versions with an AIGES GPU loader image.
pub(crate) const KNOWN_CUDA: &[&str] = &["10.1", "11.2", "11.6", "11.7"];

pub(crate) fn register(builder: &mut GlobalsBuilder) {
    members(builder)
}

fn push(eval: &Evaluator, kind: StepKind) {
    let span = caller(eval);
    store(eval).0.borrow_mut().steps.push(Step { kind, span });
}

fn system_packages(eval: &Evaluator, call: &str, name: Vec<String>) -> anyhow::Result<NoneType> {
    let names = package_names(call, "name", name, false)?;
    if names.is_empty() {
        bail!("{call}(name=) is empty; expected at least one package name");
    }
    push(eval, StepKind::SystemPackages { names });
    Ok(NoneType)
}

#[starlark_module]
fn members(builder: &mut GlobalsBuilder) {
    /// `install.system_packages(name=[...])`: Debian/Ubuntu packages.
    fn system_packages<'v>(
        #[starlark(default = UnpackListOrTuple::default())] name: UnpackListOrTuple<String>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        self::system_packages(eval, "install.system_packages", name.items)
    }

    /// `install.apt_packages(name=[...])`: later envd's name for
    /// `install.system_packages`.
    fn apt_packages<'v>(
        #[starlark(default = UnpackListOrTuple::default())] name: UnpackListOrTuple<String>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        self::system_packages(eval, "install.apt_packages", name.items)
    }

    /// `install.python_packages(name=[...], requirements=, local_wheels=[...])`.
    fn python_packages<'v>(
        #[starlark(default = UnpackListOrTuple::default())] name: UnpackListOrTuple<String>,
        #[starlark(default = NoneOr::None)] requirements: NoneOr<&str>,
        #[starlark(default = UnpackListOrTuple::default())] local_wheels: UnpackListOrTuple<String>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let requirements = requirements.into_option();
        let call = "install.python_packages";
        let names = package_names(call, "name", name.items, true)?;
        let requirements = requirements.map(|r| context_path(call, "requirements", r)).transpose()?;
        let local_wheels = local_wheels
            .items
            .iter()
            .map(|w| context_path(call, "local_wheels", w))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Some(w) = local_wheels.iter().find(|w| !w.as_str().ends_with(".whl")) {
            bail!("{call}(local_wheels=) has {:?}, which is not a .whl file", w.as_str());
        }
        if names.is_empty() && requirements.is_none() && local_wheels.is_empty() {
            bail!("{call}() installs nothing; give name=[...], requirements= or local_wheels=[...]");
        }
        push(eval, StepKind::PythonPackages { names, requirements, local_wheels });
        Ok(NoneType)
    }

    /// `install.conda_packages(name=[...], channel=[...], env_file=)`.
    fn conda_packages<'v>(
        #[starlark(default = UnpackListOrTuple::default())] name: UnpackListOrTuple<String>,
        #[starlark(default = UnpackListOrTuple::default())] channel: UnpackListOrTuple<String>,
        #[starlark(default = NoneOr::None)] env_file: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let env_file = env_file.into_option();
        let call = "install.conda_packages";
        let names = package_names(call, "name", name.items, false)?;
        let channels = package_names(call, "channel", channel.items, false)?;
        let env_file = env_file.map(|f| context_path(call, "env_file", f)).transpose()?;
        if names.is_empty() && env_file.is_none() {
            bail!("{call}() installs nothing; give name=[...] or env_file=");
        }
        push(eval, StepKind::CondaPackages { names, channels, env_file });
        Ok(NoneType)
    }

    /// `install.cuda(version=, cudnn=)`: build on the AIGES GPU image for
    /// that CUDA version.
    fn cuda<'v>(version: &str, cudnn: Option<&str>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        if let Some(cudnn) = cudnn {
            store(eval).warn(
                &span,
                Rule::ArgumentIgnored,
                format!("install.cuda(cudnn={cudnn:?}) has no effect: the AIGES GPU image of each CUDA version comes with its own cuDNN, and no other is installed; drop cudnn="),
            );
        }
        let cudnn = cudnn.unwrap_or("8");
        let version = version.trim();
        if !KNOWN_CUDA.contains(&version) {
            bail!(
                "install.cuda(version={version:?}) has no AIGES GPU image; known versions are {}",
                KNOWN_CUDA.join(", ")
            );
        }
        let node = Cuda { version: version.to_owned(), cudnn: cudnn.trim().to_owned(), span };
        set_once("install.cuda", &mut store(eval).0.borrow_mut().cuda, node)?;
        Ok(NoneType)
    }
}
