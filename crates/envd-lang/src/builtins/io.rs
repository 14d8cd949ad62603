//! `io.copy()` and `run()`: files and commands, in call order.

use crate::rules::Rule;
use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::{NoneOr, NoneType};

use super::call::{caller, context_path, one_of, store};
use crate::plan::{Step, StepKind};

pub(crate) fn register(builder: &mut GlobalsBuilder) {
    members(builder)
}

pub(crate) fn register_globals(builder: &mut GlobalsBuilder) {
    globals(builder)
}

#[starlark_module]
fn members(builder: &mut GlobalsBuilder) {
    /// `io.copy(src=, dest=)`: copies a file or directory of the build
    /// context into the image. `host_path=`/`envd_path=` (envd) and
    /// `source=`/`target=` (envd v1) are accepted too.
    fn copy<'v>(
        #[starlark(default = NoneOr::None)] src: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] dest: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] host_path: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] envd_path: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] source: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] target: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let src = src.into_option();
        let dest = dest.into_option();
        let host_path = host_path.into_option();
        let envd_path = envd_path.into_option();
        let source = source.into_option();
        let target = target.into_option();
        let call = "io.copy";
        let span = caller(eval);
        let from = one_of(call, vec![("src", src), ("host_path", host_path), ("source", source)])?;
        let to = one_of(call, vec![("dest", dest), ("envd_path", envd_path), ("target", target)])?;
        let Some((src_arg, src)) = from else { bail!("{call}() needs src=, the path in the build context to copy") };
        let Some((dest_arg, dest)) = to else { bail!("{call}() needs dest=, the path in the image to copy to") };
        for arg in [&src_arg, &dest_arg] {
            if arg == "host_path" || arg == "envd_path" {
                store(eval).warn(
                    &span,
                    Rule::DeprecatedAlias,
                    format!("{call}({arg}=) is envd's deprecated spelling; write src= and dest="),
                );
            }
        }
        let src = context_path(call, &src_arg, src)?;
        if !dest.starts_with('/') {
            bail!(
                "{call}({dest_arg}={dest:?}) is not an absolute path in the image; write it from /, e.g. \"/{dest}\""
            );
        }
        store(eval).0.borrow_mut().steps.push(Step { kind: StepKind::Copy { src, dest: dest.to_owned() }, span });
        Ok(NoneType)
    }
}

#[starlark_module]
fn globals(builder: &mut GlobalsBuilder) {
    /// `run(commands=[...], mount_host=False)`: shell commands run in
    /// order, stopping at the first that fails, as one step.
    fn run<'v>(
        commands: UnpackListOrTuple<String>,
        #[starlark(default = false)] mount_host: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        if commands.items.is_empty() {
            bail!("run(commands=) is empty; expected at least one command");
        }
        if let Some(i) = commands.items.iter().position(|c| c.trim().is_empty()) {
            bail!("run(commands=) has an empty command at index {i}; remove it");
        }
        let step = Step { kind: StepKind::Run { commands: commands.items, mount_host }, span };
        store(eval).0.borrow_mut().steps.push(step);
        Ok(NoneType)
    }
}
