//! `LoaderCommandReplaced`: `runtime.command` on an AIGES base.
//!
//! The AIGES images start the loader with their CMD (`./AIservice` in
//! `/home/aiges`); `runtime.command` sets the image's CMD, so on such a
//! base the image no longer starts the loader, and serves nothing unless
//! the command starts it itself.

use envd_lang::{BaseImage, Rule};

use crate::finding::{Finding, Input};

pub(crate) fn check(input: &Input, out: &mut Vec<Finding>) {
    let plan = &input.evaluated.plan;
    let Some(command) = &plan.image.command else { return };
    if matches!(plan.base.image, BaseImage::Reference(_)) {
        return;
    }
    let starts_loader = command.value.values().any(|c| c.contains("AIservice"));
    if starts_loader {
        return;
    }
    out.push(Finding::at(
        Rule::LoaderCommandReplaced,
        &command.span,
        "runtime.command replaces the AIGES image's command, which starts the loader (./AIservice): the image then runs only this; leave it out to serve with the loader, or start ./AIservice from it".to_owned(),
    ));
}

#[cfg(test)]
mod tests {
    use envd_lang::Rule;

    use crate::testing::lines;

    #[test]
    fn a_command_on_an_aiges_base_replaces_the_loader() {
        let src = "def build():\n    base(image=\"aiges_cpu\")\n    runtime.command(commands={\"serve\": \"python serve.py\"})\n";
        let l = lines(Rule::LoaderCommandReplaced, src, &[], &[]);
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].0, 3);
        assert!(l[0].1.starts_with("runtime.command replaces the AIGES image's command"), "{}", l[0].1);
    }

    #[test]
    fn a_command_on_another_image_or_one_that_starts_the_loader_is_fine() {
        let other = "def build():\n    base(image=\"python:3.11\")\n    runtime.command(commands={\"serve\": \"python serve.py\"})\n";
        assert!(lines(Rule::LoaderCommandReplaced, other, &[], &[]).is_empty());
        let loader = "def build():\n    base(image=\"aiges_gpu\")\n    runtime.command(commands={\"serve\": \"prepare.sh && ./AIservice -m=0\"})\n";
        assert!(lines(Rule::LoaderCommandReplaced, loader, &[], &[]).is_empty());
        let none = "def build():\n    base(image=\"aiges_cpu\")\n";
        assert!(lines(Rule::LoaderCommandReplaced, none, &[], &[]).is_empty());
    }

    #[test]
    fn install_cuda_cudnn_is_said_to_have_no_effect_at_its_line() {
        let src = "def build():\n    base(image=\"aiges_gpu\")\n    install.cuda(version=\"11.6\", cudnn=\"7\")\n";
        let l = lines(Rule::ArgumentIgnored, src, &[], &[]);
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].0, 3);
        assert!(l[0].1.starts_with("install.cuda(cudnn=\"7\") has no effect"), "{}", l[0].1);
        let plain = "def build():\n    base(image=\"aiges_gpu\")\n    install.cuda(version=\"11.6\")\n";
        assert!(lines(Rule::ArgumentIgnored, plain, &[], &[]).is_empty());
    }
}
