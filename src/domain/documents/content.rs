//! What an uploaded file is, told from its content (never from its name or the type the
//! browser claims), and the thumbnail of an image.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// The kinds of file a chart takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
}

impl MediaType {
    /// From the file's first bytes.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pdf, Self::Jpeg, Self::Png]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn is_image(self) -> bool {
        self != Self::Pdf
    }

    /// The file name ending that matches the content.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;

/// A decoded image's size and its thumbnail (JPEG).
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Decodes an image (turned upright as the camera recorded) and makes its thumbnail; `None`
/// when the bytes are not a readable image of that type or are implausibly large (a
/// decompression bomb).
pub fn thumbnail(bytes: &[u8], kind: MediaType) -> Option<Thumbnail> {
    let format = match kind {
        MediaType::Jpeg => image::ImageFormat::Jpeg,
        MediaType::Png => image::ImageFormat::Png,
        MediaType::Pdf => return None,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_000);
    limits.max_image_height = Some(16_000);
    limits.max_alloc = Some(400 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().ok()?;
    let mut img = DynamicImage::from_decoder(decoder).ok()?;
    img.apply_orientation(orientation);
    let small = DynamicImage::ImageRgb8(img.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8());
    let mut jpeg = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80);
    small.write_with_encoder(enc).ok()?;
    Some(Thumbnail {
        width: img.width(),
        height: img.height(),
        jpeg,
    })
}

/// A name safe to offer back on download: the uploaded name's last path part, without control
/// or quoting characters, at most 200 characters, ending as the content says.
pub fn clean_file_name(name: &str, kind: MediaType) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut base: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '\\'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned();
    let ext = kind.extension();
    let has_ext = base.rsplit_once('.').is_some_and(|(_, e)| {
        e.eq_ignore_ascii_case(ext) || (ext == "jpg" && e.eq_ignore_ascii_case("jpeg"))
    });
    if base.is_empty() {
        base = "document".to_owned();
    }
    if !has_ext {
        base = format!("{base}.{ext}");
    }
    if base.chars().count() > 200 {
        let keep: String = base.chars().take(195).collect();
        base = format!("{keep}.{ext}");
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(MediaType::sniff(b"%PDF-1.4\n..."), Some(MediaType::Pdf));
        assert_eq!(
            MediaType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(MediaType::sniff(&png(2, 2)), Some(MediaType::Png));
        assert_eq!(MediaType::sniff(b"<html><script>"), None);
        assert_eq!(MediaType::sniff(b"MZ\x90\x00"), None);
        assert_eq!(MediaType::sniff(b""), None);
    }

    #[test]
    fn thumbnails_keep_the_shape_and_refuse_what_does_not_decode() {
        let t = thumbnail(&png(1000, 500), MediaType::Png).unwrap();
        assert_eq!((t.width, t.height), (1000, 500));
        let small = image::load_from_memory(&t.jpeg).unwrap();
        assert_eq!((small.width(), small.height()), (320, 160));
        // A PNG signature followed by garbage.
        assert!(thumbnail(b"\x89PNG\r\n\x1a\ngarbage", MediaType::Png).is_none());
        assert!(thumbnail(b"%PDF-1.4", MediaType::Pdf).is_none());
    }

    #[test]
    fn file_names_are_cleaned_and_end_as_the_content_says() {
        assert_eq!(
            clean_file_name("C:\\scans\\cbc.pdf", MediaType::Pdf),
            "cbc.pdf"
        );
        assert_eq!(clean_file_name("../../x\".png", MediaType::Png), "x.png");
        assert_eq!(
            clean_file_name("report.exe", MediaType::Pdf),
            "report.exe.pdf"
        );
        assert_eq!(clean_file_name("IMG_1.JPEG", MediaType::Jpeg), "IMG_1.JPEG");
        assert_eq!(clean_file_name("", MediaType::Jpeg), "document.jpg");
        assert_eq!(
            clean_file_name(&"a".repeat(300), MediaType::Pdf)
                .chars()
                .count(),
            199
        );
    }
}
