//! `config.*`: where packages come from, and the image's entrypoint.

use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::{NoneOr, NoneType};

use super::{caller, store};
use crate::condarc::{dedent, CondaRc};
use crate::plan::{CondaChannel, PipIndex, Spanned};

pub(crate) fn register(builder: &mut GlobalsBuilder) {
    members(builder)
}

fn check_url(call: &str, arg: &str, url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://") || url.starts_with("file://");
    if !scheme_ok || url.len() <= "https://".len() {
        bail!("{call}({arg}={url:?}) is not a URL; expected one starting with https:// or http://");
    }
    Ok(url.to_owned())
}

#[starlark_module]
fn members(builder: &mut GlobalsBuilder) {
    /// `config.pip_index(url=, extra_url=, trust=False)`: pip's index, in
    /// `/etc/pip.conf` before the first pip step.
    fn pip_index<'v>(
        url: &str,
        #[starlark(default = NoneOr::None)] extra_url: NoneOr<&str>,
        #[starlark(default = false)] trust: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let extra_url = extra_url.into_option();
        let call = "config.pip_index";
        let span = caller(eval);
        let url = check_url(call, "url", url)?;
        let extra_url =
            extra_url.filter(|u| !u.trim().is_empty()).map(|u| check_url(call, "extra_url", u)).transpose()?;
        let store = store(eval);
        if let Some(first) = &store.0.borrow().pip_index {
            bail!("{call}() is called twice; the first call is at line {}", first.span.line);
        }
        store.0.borrow_mut().pip_index = Some(PipIndex { url, extra_url, trust, span });
        Ok(NoneType)
    }

    /// `config.conda_channel(channel="<condarc YAML>")`: conda's channels
    /// and mirrors.
    fn conda_channel<'v>(channel: &str, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<NoneType> {
        let call = "config.conda_channel";
        let span = caller(eval);
        let yaml = dedent(channel);
        let condarc = CondaRc::parse(&yaml).map_err(|why| anyhow::anyhow!("{call}(channel=) {why}"))?;
        let store = store(eval);
        if let Some(first) = &store.0.borrow().conda_channel {
            bail!("{call}() is called twice; the first call is at line {}", first.span.line);
        }
        if !condarc.stray_channel_keys.is_empty() {
            store.warn(
                &span,
                format!(
                    "{call}(channel=) has {} at the top level of the YAML; indent them under custom_channels: to make them custom channels",
                    condarc.stray_channel_keys.join(", ")
                ),
            );
        }
        store.0.borrow_mut().conda_channel = Some(CondaChannel { yaml, condarc, span });
        Ok(NoneType)
    }

    /// `config.entrypoint(args=[...])`: the image's entrypoint.
    fn entrypoint<'v>(args: UnpackListOrTuple<String>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        if args.items.is_empty() {
            bail!("config.entrypoint(args=) is empty; expected the program and its arguments");
        }
        let store = store(eval);
        if let Some(first) = &store.0.borrow().image.entrypoint {
            bail!("config.entrypoint() is called twice; the first call is at line {}", first.span.line);
        }
        store.0.borrow_mut().image.entrypoint = Some(Spanned { value: args.items, span });
        Ok(NoneType)
    }
}
