//! The build file's bytes as the evaluator's text.
//!
//! A UTF-8 byte-order mark (Notepad's "UTF-8 with BOM") is dropped, as
//! Python and BuildKit's Dockerfile parser drop it; it sits before line 1,
//! so every location stays where it was. UTF-16 is refused with a sentence
//! that says how to save the file: buildx hands build.envd to BuildKit as
//! is, and BuildKit shows its lines to the user as UTF-8.

use envd_conda::text::{decode, DecodeError, Encoding};

use crate::Diagnostic;

/// The text of the build file `filename`.
pub fn source_text(filename: &str, bytes: &[u8]) -> Result<String, Diagnostic> {
    match Encoding::sniff(bytes) {
        e @ (Encoding::Utf16Le | Encoding::Utf16Be) => Err(Diagnostic::nowhere(format!(
            "{filename} is {} text; build.envd must be UTF-8: save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)",
            e.name()
        ))),
        _ => decode(bytes)
            .map(|t| t.into_owned())
            .map_err(|e: DecodeError| Diagnostic::nowhere(format!("{filename} {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, EvalOptions};

    const FILE: &str = "# 服务\r\ndef build():\r\n    base(image=\"aiges_cpu\")\r\n    run(commands=[oops])\r\n";

    #[test]
    fn a_bom_is_dropped_and_errors_keep_their_lines() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(FILE.as_bytes());
        let text = source_text("build.envd", &bytes).unwrap();
        assert_eq!(text, FILE);
        let e = evaluate("build.envd", &text, &EvalOptions::default()).unwrap_err();
        assert_eq!(e.span.as_ref().map(|s| s.line), Some(4), "{e}");
    }

    #[test]
    fn utf16_and_other_encodings_are_refused_with_a_sentence() {
        let mut le = vec![0xFF, 0xFE];
        le.extend(FILE.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            source_text("build.envd", &le).unwrap_err().to_string(),
            "build.envd is UTF-16 (little-endian) text; build.envd must be UTF-8: save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"
        );
        let mut be = vec![0xFE, 0xFF];
        be.extend(FILE.encode_utf16().flat_map(u16::to_be_bytes));
        assert!(source_text("build.envd", &be).unwrap_err().to_string().contains("UTF-16 (big-endian)"));
        assert_eq!(
            source_text("svc.envd", b"# caf\xE9\n").unwrap_err().to_string(),
            "svc.envd is not UTF-8 text: the byte 0xE9 at offset 5 does not belong there (Latin-1 or a Windows code page?); save the file as UTF-8"
        );
    }
}
