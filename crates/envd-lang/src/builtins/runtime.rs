//! `runtime.*`: how the service image runs — its env, ports and command.

use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::dict::UnpackDictEntries;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::{NoneOr, NoneType};

use super::call::{caller, one_of, set_once, store};
use crate::plan::{Expose, Spanned};

pub(crate) fn register(builder: &mut GlobalsBuilder) {
    members(builder)
}

fn env_name_ok(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[starlark_module]
fn members(builder: &mut GlobalsBuilder) {
    /// `runtime.environ(env={...}, extra_path=[...])`: environment of the
    /// running image.
    fn environ<'v>(
        #[starlark(default = UnpackDictEntries::default())] env: UnpackDictEntries<String, String>,
        #[starlark(default = UnpackListOrTuple::default())] extra_path: UnpackListOrTuple<String>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        for (k, _) in &env.entries {
            if !env_name_ok(k) {
                bail!("runtime.environ(env=) has {k:?}, which is not an environment variable name");
            }
            if k == "PATH" {
                bail!(
                    "runtime.environ(env=) sets PATH, which would hide the base image's; use extra_path=[...] instead"
                );
            }
        }
        if let Some(p) = extra_path.items.iter().find(|p| !p.starts_with('/')) {
            bail!("runtime.environ(extra_path=) has {p:?}, which is not an absolute directory");
        }
        if env.entries.is_empty() && extra_path.items.is_empty() {
            bail!("runtime.environ() sets nothing; give env={{...}} or extra_path=[...]");
        }
        let mut draft = store(eval).0.borrow_mut();
        draft.image.env.extend(env.entries.into_iter().map(|kv| Spanned { value: kv, span: span.clone() }));
        draft.image.extra_path.extend(extra_path.items.into_iter().map(|p| Spanned { value: p, span: span.clone() }));
        Ok(NoneType)
    }

    /// `runtime.expose(port=, service_name=)`: a port the service listens on.
    fn expose<'v>(
        #[starlark(default = NoneOr::None)] port: NoneOr<i32>,
        #[starlark(default = NoneOr::None)] service_name: NoneOr<&str>,
        #[starlark(require = named, default = NoneOr::None)] envd_port: NoneOr<i32>,
        #[starlark(require = named, default = NoneOr::None)] service: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let port = port.into_option();
        let service_name = service_name.into_option();
        let envd_port = envd_port.into_option();
        let service = service.into_option();
        let call = "runtime.expose";
        let span = caller(eval);
        let Some((arg, port)) = one_of(call, vec![("port", port), ("envd_port", envd_port)])? else {
            bail!("{call}() needs port=, the port the service listens on");
        };
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| anyhow::anyhow!("{call}({arg}={port}) is not a port; expected 1 to 65535"))?;
        let service_name =
            one_of(call, vec![("service_name", service_name), ("service", service)])?.map(|(_, s)| s.to_owned());
        store(eval).0.borrow_mut().image.expose.push(Expose { port, service_name, span });
        Ok(NoneType)
    }

    /// `runtime.command(commands={name: command})`: the command the image
    /// runs. The image has one command, so the dict has one entry.
    fn command<'v>(
        commands: UnpackDictEntries<String, String>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let call = "runtime.command";
        let span = caller(eval);
        match commands.entries.len() {
            0 => bail!("{call}(commands=) is empty; expected {{\"name\": \"command\"}}"),
            1 => {}
            n => bail!("{call}(commands=) has {n} commands; the image runs one, so give exactly one"),
        }
        if commands.entries.iter().any(|(_, c)| c.trim().is_empty()) {
            bail!("{call}(commands=) has an empty command");
        }
        let node = Spanned { value: commands.entries.into_iter().collect(), span };
        set_once(call, &mut store(eval).0.borrow_mut().image.command, node)?;
        Ok(NoneType)
    }
}
