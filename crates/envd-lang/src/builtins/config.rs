//! `config.*`: where packages come from, and the image's entrypoint.

use crate::rules::Rule;
use anyhow::bail;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list_or_tuple::UnpackListOrTuple;
use starlark::values::none::{NoneOr, NoneType};

use super::call::{caller, set_once, store};
use envd_conda::CondaRc;

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

/// Removes the indentation common to all non-blank lines, so that a YAML
/// block written inside a Starlark string parses as written.
fn dedent(text: &str) -> String {
    let indent =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out: Vec<&str> =
        text.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect();
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
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
        set_once(call, &mut store(eval).0.borrow_mut().pip_index, PipIndex { url, extra_url, trust, span })?;
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
        if !condarc.stray_channel_keys.is_empty() {
            store.warn(
                &span,
                Rule::CondaChannelKeyMisplaced,
                format!(
                    "{call}(channel=) has {} at the top level of the YAML; indent them under custom_channels: to make them custom channels",
                    condarc.stray_channel_keys.join(", ")
                ),
            );
        }
        set_once(call, &mut store.0.borrow_mut().conda_channel, CondaChannel { yaml, condarc, span })?;
        Ok(NoneType)
    }

    /// `config.entrypoint(args=[...])`: the image's entrypoint.
    fn entrypoint<'v>(args: UnpackListOrTuple<String>, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<NoneType> {
        let span = caller(eval);
        if args.items.is_empty() {
            bail!("config.entrypoint(args=) is empty; expected the program and its arguments");
        }
        set_once(
            "config.entrypoint",
            &mut store(eval).0.borrow_mut().image.entrypoint,
            Spanned { value: args.items, span },
        )?;
        Ok(NoneType)
    }
}
