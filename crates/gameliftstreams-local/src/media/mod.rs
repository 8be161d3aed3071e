//! Video that the stream and host layers share: the H.264 encoder (OpenH264 built from its
//! bundled source, Annex B output) and the conversion of a captured BGRX picture to the I420
//! the encoder takes (SIMD, through dcv-color-primitives). A leaf: it uses no other layer.

use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

/// An H.264 encoder for pictures of one size.
pub struct H264 {
    encoder: Encoder,
    width: usize,
    height: usize,
    frames: u64,
}

impl H264 {
    /// An encoder for `width` x `height` (even numbers) at up to `fps` frames a second, at
    /// `bits_per_pixel` bits per pixel and second (within 300 kbit/s and 12 Mbit/s), a keyframe
    /// every `keyframe_every` frames.
    pub fn new(
        width: usize,
        height: usize,
        fps: u32,
        bits_per_pixel: u32,
        keyframe_every: u32,
    ) -> Result<H264, String> {
        let pixels = (width * height) as u32;
        let bitrate = pixels.saturating_mul(bits_per_pixel).clamp(300_000, 12_000_000);
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // The cheapest settings that keep a picture sharp: camera mode at low complexity
            // costs ~1.5 ms a 720p frame here, screen-content mode ~7.5 ms.
            .rate_control_mode(RateControlMode::Bufferbased)
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            .scene_change_detect(false)
            .adaptive_quantization(false)
            .background_detection(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(keyframe_every))
            .skip_frames(false);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| e.to_string())?;
        Ok(H264 {
            encoder,
            width,
            height,
            frames: 0,
        })
    }

    /// Encode one I420 picture (`width * height * 3 / 2` bytes); `keyframe` forces an IDR
    /// frame (the first one is). Annex B bytes.
    pub fn encode(&mut self, i420: &[u8], keyframe: bool) -> Result<Vec<u8>, String> {
        let (w, h) = (self.width, self.height);
        if i420.len() < w * h * 3 / 2 {
            return Err("the picture is smaller than the encoder's size".into());
        }
        if keyframe || self.frames == 0 {
            self.encoder.force_intra_frame();
        }
        self.frames += 1;
        let (y, uv) = i420.split_at(w * h);
        let (u, v) = uv.split_at(w * h / 4);
        let slices = YUVSlices::new((y, &u[..w * h / 4], &v[..w * h / 4]), (w, h), (w, w / 2, w / 2));
        self.encoder
            .encode(&slices)
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }
}

/// Convert `rows` of a BGRX picture (4 bytes a pixel, `stride` bytes a row; X11's 24-bit depth
/// in a 32-bit ZPixmap) of `width` x `height` (even) into the same rows of the I420 picture in
/// `out` (sized to the whole picture; its other rows are left as they are). The rows widen to
/// even bounds, as chroma covers two rows.
pub fn bgrx_to_i420(
    bgrx: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    rows: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    use dcv_color_primitives::{convert_image, ColorSpace, ImageFormat, PixelFormat};
    out.resize(width * height * 3 / 2, 0);
    let (top, bottom) = (rows.start & !1, (rows.end + 1).min(height) & !1);
    if top >= bottom {
        return Ok(());
    }
    if bgrx.len() < (bottom - 1) * stride + width * 4 {
        return Err("the picture is smaller than its size".into());
    }
    let (y, uv) = out.split_at_mut(width * height);
    let (u, v) = uv.split_at_mut(width * height / 4);
    let (y, u, v) = (
        &mut y[top * width..bottom * width],
        &mut u[top / 2 * width / 2..bottom / 2 * width / 2],
        &mut v[top / 2 * width / 2..bottom / 2 * width / 2],
    );
    let bgrx = &bgrx[top * stride..];
    let src = ImageFormat {
        pixel_format: PixelFormat::Bgra,
        color_space: ColorSpace::Rgb,
        num_planes: 1,
    };
    let dst = ImageFormat {
        pixel_format: PixelFormat::I420,
        color_space: ColorSpace::Bt601,
        num_planes: 3,
    };
    convert_image(
        width as u32,
        (bottom - top) as u32,
        &src,
        Some(&[stride]),
        &[bgrx],
        &dst,
        Some(&[width, width / 2, width / 2]),
        &mut [y, u, v],
    )
    .map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bgrx_picture_converts_and_encodes() {
        let (w, h) = (64, 48);
        // Left half red, right half blue.
        let mut bgrx = vec![0u8; w * h * 4];
        for row in bgrx.chunks_exact_mut(w * 4) {
            for (x, px) in row.chunks_exact_mut(4).enumerate() {
                px.copy_from_slice(if x < w / 2 { &[0, 0, 255, 0] } else { &[255, 0, 0, 0] });
            }
        }
        let mut i420 = Vec::new();
        bgrx_to_i420(&bgrx, w * 4, w, h, 0..h, &mut i420).unwrap();
        assert_eq!(i420.len(), w * h * 3 / 2);
        // BT.601: red has a high V (Cr), blue a high U (Cb).
        let (u, v) = (&i420[w * h..w * h + w * h / 4], &i420[w * h + w * h / 4..]);
        assert!(v[0] > 200 && u[0] < 128, "red: u={} v={}", u[0], v[0]);
        assert!(u[w / 2 - 1] > 200 && v[w / 2 - 1] < 128, "blue");
        // Rows 11..20 (widened to 10..20) turn white; the rest keep what they were.
        bgrx[11 * w * 4..20 * w * 4].fill(255);
        i420[30 * w] = 7; // outside the rows: left alone
        bgrx_to_i420(&bgrx, w * 4, w, h, 11..20, &mut i420).unwrap();
        let luma = |row: usize| i420[row * w];
        assert!(luma(10) < 100 && luma(11) > 230 && luma(19) > 230 && luma(20) < 100);
        assert_eq!(luma(30), 7);
        let v = &i420[w * h + w * h / 4..];
        assert!(
            v[4 * w / 2] > 200 && v[9 * w / 2] < 140 && v[10 * w / 2] > 200,
            "chroma rows 5..10 only"
        );
        assert!(bgrx_to_i420(&bgrx[..100], w * 4, w, h, 0..h, &mut i420).is_err());
        let mut enc = H264::new(w, h, 30, 2, 60).unwrap();
        let first = enc.encode(&i420, false).unwrap();
        assert!(
            first.windows(5).any(|x| x[..4] == [0, 0, 0, 1] && x[4] & 0x1f == 7),
            "an SPS first"
        );
        assert!(enc.encode(&i420[..10], false).is_err());
    }
}
