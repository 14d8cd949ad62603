//! The functions build.envd calls. Each validates its arguments and pushes
//! a plan node stamped with the caller's span; none does any work.

use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::NoneType;

use crate::plan::{Base, BaseImage, Step, StepKind};
use crate::span::Span;
use crate::store::Store;

fn store<'a>(eval: &'a Evaluator) -> &'a Store {
    eval.extra.and_then(|e| e.downcast_ref::<Store>()).expect("evaluate() always installs the store")
}

/// The span of the build.envd call being evaluated.
fn caller(eval: &Evaluator) -> Span {
    eval.call_stack_top_location().map(|s| Span::from_file_span(&s)).unwrap_or_else(|| Span::line("build.envd", 1))
}

#[starlark_module]
pub(crate) fn globals(builder: &mut GlobalsBuilder) {
    /// `base(language=, os=, image=)`: the image the build starts from.
    fn base<'v>(
        #[starlark(require = named)] language: Option<&str>,
        #[starlark(require = named)] os: Option<&str>,
        #[starlark(require = named)] image: Option<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        let store = store(eval);
        if let Some(first) = store.base.borrow().as_ref() {
            bail!("base() is called twice; the first call is at line {}", first.span.line);
        }
        let image = match image {
            None | Some("aiges_cpu") => BaseImage::AigesCpu,
            Some("aiges_gpu") => BaseImage::AigesGpu,
            Some("") => bail!("base(image=) is empty; expected \"aiges_cpu\", \"aiges_gpu\" or an image reference"),
            Some(r) => BaseImage::Reference(r.to_owned()),
        };
        *store.base.borrow_mut() =
            Some(Base { image, language: language.map(str::to_owned), os: os.map(str::to_owned), span });
        Ok(NoneType)
    }

    /// `run(commands=[...])`: shell commands run in order as one step.
    fn run<'v>(
        #[starlark(require = named)] commands: UnpackListOrTuple<String>,
        #[starlark(require = named, default = false)] mount_host: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        if commands.items.is_empty() {
            bail!("run(commands=) is empty; expected at least one command");
        }
        if mount_host {
            bail!("run(mount_host=True) is not supported yet");
        }
        store(eval).steps.borrow_mut().push(Step { kind: StepKind::Run { commands: commands.items }, span });
        Ok(NoneType)
    }
}
