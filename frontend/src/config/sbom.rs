//! `attest:sbom`: whether the frontend writes the image's SBOM, or leaves
//! it to BuildKit's scanner.

/// What `attest:sbom` asks of the build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sbom {
    /// No SBOM.
    #[default]
    Off,
    /// The frontend writes it from the install records.
    Records,
    /// BuildKit scans the image with this generator image, as the user
    /// asked (`--sbom=generator=IMAGE`): the frontend returns none (see [`crate::sbom`]).
    Generator(String),
}

impl Sbom {
    /// Reads the value of the `attest:sbom` option: buildx sends
    /// `type=sbom` for `--sbom=true`, with `,generator=IMAGE` when one is
    /// named; `buildctl --opt attest:sbom=` sends nothing.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut generator = None;
        let mut unknown = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("type", "sbom")) => {}
                Some(("generator", image)) if !image.is_empty() => generator = Some(image.to_owned()),
                _ => unknown.push(part),
            }
        }
        match (generator, unknown.as_slice()) {
            // the scanner takes its own parameters (BUILDKIT_SCAN_<key>)
            (Some(image), _) => Ok(Self::Generator(image)),
            (None, []) => Ok(Self::Records),
            (None, [first, ..]) => Err(format!(
                "{first} is a scanner's parameter, and the frontend writes the SBOM itself; name the scanner with generator=IMAGE, or drop it"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sbom_option_as_buildx_and_buildctl_send_it() {
        assert_eq!(Sbom::parse("type=sbom"), Ok(Sbom::Records));
        assert_eq!(Sbom::parse(""), Ok(Sbom::Records));
        assert_eq!(
            Sbom::parse("type=sbom,generator=docker/buildkit-syft-scanner:stable-1,mode=all"),
            Ok(Sbom::Generator("docker/buildkit-syft-scanner:stable-1".into()))
        );
        assert_eq!(
            Sbom::parse("type=sbom,mode=all").unwrap_err(),
            "mode=all is a scanner's parameter, and the frontend writes the SBOM itself; name the scanner with generator=IMAGE, or drop it"
        );
    }
}
