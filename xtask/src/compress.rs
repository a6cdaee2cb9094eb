//! Precompressing the built front end: a Brotli (`.br`) and a gzip (`.gz`) copy beside every text
//! and WebAssembly asset, at the strongest settings (once per build, so time does not matter). The
//! server picks the one a browser accepts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// What is worth compressing: text and WebAssembly (images and fonts are compressed already).
const COMPRESSIBLE: &[&str] = &["wasm", "js", "css", "html", "svg", "json"];

/// Writes `FILE.br` and `FILE.gz` beside every compressible file in `dir` (not recursively: trunk
/// puts everything at the top), unless the copy would not be smaller.
pub fn precompress(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !path.is_file() || !compressible {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        for (suffix, compressed) in [("br", brotli(&bytes)?), ("gz", gzip(&bytes)?)] {
            let mut target = path.clone().into_os_string();
            target.push(format!(".{suffix}"));
            if compressed.len() < bytes.len() {
                std::fs::write(&target, compressed)?;
            }
        }
    }
    Ok(())
}

pub fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

pub fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        // Quality 11 (the best), a 4 MiB window (lgwin 22).
        let mut encoder = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        encoder.write_all(bytes)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn each_asset_gets_smaller_brotli_and_gzip_copies_that_decode_to_it() {
        let dir = std::env::temp_dir().join(format!("tasktick-compress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = "export function greet() { return 'hello'; }\n".repeat(200);
        std::fs::write(dir.join("app-0123456789abcdef.js"), &script).unwrap();
        std::fs::write(dir.join("photo.png"), [0u8; 1000]).unwrap();

        precompress(&dir).unwrap();

        let br = std::fs::read(dir.join("app-0123456789abcdef.js.br")).unwrap();
        let gz = std::fs::read(dir.join("app-0123456789abcdef.js.gz")).unwrap();
        let mut from_br = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut from_br)
            .unwrap();
        let mut from_gz = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut from_gz)
            .unwrap();
        assert_eq!(
            (from_br.as_str(), from_gz.as_str()),
            (script.as_str(), script.as_str())
        );
        assert!(br.len() < script.len() && gz.len() < script.len());
        assert!(!dir.join("photo.png.br").exists(), "images are left alone");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
