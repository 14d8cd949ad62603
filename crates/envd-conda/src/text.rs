//! Text files as Windows writes them: UTF-8 with or without a byte-order
//! mark, and UTF-16 with one, which Windows PowerShell 5.1 writes for
//! `conda env export > env.yaml` and `pip freeze > requirements.txt`.
//!
//! Python, pip and BuildKit's Dockerfile parser accept a UTF-8 BOM; pip
//! also reads UTF-16 with a BOM. So the frontend reads every text file it
//! is given through [`decode`], and anything else that is not UTF-8 is one
//! sentence with the byte offset, not a parser's complaint about an
//! invisible character.

use std::borrow::Cow;

/// The encodings a file can be read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with no byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (Notepad's "UTF-8 with BOM").
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark (PowerShell 5.1's
    /// `>` and `Out-File`).
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    Utf16Be,
}

impl Encoding {
    /// How a sentence names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Utf8Bom => "UTF-8 with a byte-order mark",
            Self::Utf16Le => "UTF-16 (little-endian)",
            Self::Utf16Be => "UTF-16 (big-endian)",
        }
    }

    /// The encoding a byte-order mark at the start of `bytes` announces.
    pub fn sniff(bytes: &[u8]) -> Self {
        match bytes {
            [0xEF, 0xBB, 0xBF, ..] => Self::Utf8Bom,
            [0xFF, 0xFE, ..] => Self::Utf16Le,
            [0xFE, 0xFF, ..] => Self::Utf16Be,
            _ => Self::Utf8,
        }
    }
}

/// Why a file is not text the frontend can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Bytes that are not UTF-8, and no byte-order mark said otherwise.
    #[error(
        "is not UTF-8 text: the byte 0x{byte:02X} at offset {offset} does not belong there (Latin-1 or a Windows code page?); save the file as UTF-8"
    )]
    NotUtf8 {
        /// Where, counted from the start of the file.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A UTF-16 file with an odd number of bytes.
    #[error("is {} text cut short: it ends in the middle of a character at offset {offset}", encoding.name())]
    Truncated {
        /// Its encoding.
        encoding: Encoding,
        /// Where the half character starts.
        offset: usize,
    },
    /// A UTF-16 file with an unpaired surrogate.
    #[error("is {} text with a broken character at offset {offset}; save the file as UTF-8", encoding.name())]
    BadUtf16 {
        /// Its encoding.
        encoding: Encoding,
        /// Where the broken character starts.
        offset: usize,
    },
}

/// `bytes` as text: UTF-8 with or without a BOM, or UTF-16 with a BOM.
/// The BOM is not part of the text; line endings are left as they are.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    let encoding = Encoding::sniff(bytes);
    match encoding {
        Encoding::Utf8 => utf8(bytes, 0).map(Cow::Borrowed),
        Encoding::Utf8Bom => utf8(&bytes[3..], 3).map(Cow::Borrowed),
        Encoding::Utf16Le | Encoding::Utf16Be => utf16(&bytes[2..], encoding).map(Cow::Owned),
    }
}

fn utf8(bytes: &[u8], skipped: usize) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        DecodeError::NotUtf8 { offset: offset + skipped, byte: bytes[offset] }
    })
}

fn utf16(bytes: &[u8], encoding: Encoding) -> Result<String, DecodeError> {
    if bytes.len() % 2 == 1 {
        return Err(DecodeError::Truncated { encoding, offset: bytes.len() + 1 });
    }
    let units = bytes.chunks_exact(2).map(|pair| match encoding {
        Encoding::Utf16Be => u16::from_be_bytes([pair[0], pair[1]]),
        _ => u16::from_le_bytes([pair[0], pair[1]]),
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut offset = 2;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => {
                out.push(c);
                offset += 2 * c.len_utf16();
            }
            Err(_) => return Err(DecodeError::BadUtf16 { encoding, offset }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, be: bool) -> Vec<u8> {
        let mut out = if be { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
        for u in text.encode_utf16() {
            out.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        out
    }

    const EXPORT: &str = "name: 服务\r\nchannels:\r\n  - defaults\r\nprefix: C:\\Users\\me\\envs\\svc\r\n";

    #[test]
    fn utf8_with_and_without_a_bom() {
        assert_eq!(decode(b"a: 1\n").unwrap(), "a: 1\n");
        assert_eq!(decode(b"\xEF\xBB\xBFa: 1\n").unwrap(), "a: 1\n");
        assert_eq!(decode(EXPORT.as_bytes()).unwrap(), EXPORT, "CRLF and Chinese stay as they are");
        assert_eq!(decode(b"").unwrap(), "");
    }

    #[test]
    fn utf16_le_and_be_with_a_bom() {
        assert_eq!(decode(&utf16(EXPORT, false)).unwrap(), EXPORT);
        assert_eq!(decode(&utf16(EXPORT, true)).unwrap(), EXPORT);
        assert_eq!(decode(&utf16("𝄞 beyond the BMP\n", false)).unwrap(), "𝄞 beyond the BMP\n");
    }

    #[test]
    fn a_truncated_utf16_file_says_where_it_stops() {
        let mut bytes = utf16("six\n", false);
        bytes.pop();
        let e = decode(&bytes).unwrap_err();
        assert_eq!(e, DecodeError::Truncated { encoding: Encoding::Utf16Le, offset: 8 });
        assert_eq!(
            e.to_string(),
            "is UTF-16 (little-endian) text cut short: it ends in the middle of a character at offset 8"
        );
        let mut lone = vec![0xFF, 0xFE, b'a', 0];
        lone.extend(0xD800u16.to_le_bytes());
        lone.extend([b'b', 0]);
        assert_eq!(decode(&lone).unwrap_err(), DecodeError::BadUtf16 { encoding: Encoding::Utf16Le, offset: 4 });
    }

    #[test]
    fn invalid_utf8_in_the_middle_names_the_byte_and_its_offset() {
        let latin1 = b"six==1.16.0\ncaf\xE9==1.0\n";
        let e = decode(latin1).unwrap_err();
        assert_eq!(e, DecodeError::NotUtf8 { offset: 15, byte: 0xE9 });
        assert_eq!(
            e.to_string(),
            "is not UTF-8 text: the byte 0xE9 at offset 15 does not belong there (Latin-1 or a Windows code page?); save the file as UTF-8"
        );
        let after_bom = b"\xEF\xBB\xBFx\xFF";
        assert_eq!(decode(after_bom).unwrap_err(), DecodeError::NotUtf8 { offset: 4, byte: 0xFF });
    }
}
