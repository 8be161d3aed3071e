//! The test card a session streams instead of a game: an I420 picture with the session id,
//! its status, the service time, a moving bar, and the last input and application message,
//! encoded to H.264 (Annex B) with OpenH264 built from its bundled source.

use crate::media::H264;
use font8x8::{UnicodeFonts, BASIC_FONTS};

/// Frames per second of every stream.
pub const FPS: u32 = 15;

/// What the card shows.
#[derive(Debug, Clone, Default)]
pub struct CardText {
    /// One line each, top to bottom.
    pub lines: Vec<String>,
}

/// A test card and its encoder.
pub struct Card {
    width: usize,
    height: usize,
    yuv: Vec<u8>,
    encoder: H264,
}

impl Card {
    /// A card of `width` x `height` (even numbers) and an encoder for it.
    pub fn new(width: u32, height: u32) -> Result<Card, String> {
        let (width, height) = ((width as usize) & !1, (height as usize) & !1);
        // Roughly 2 bits per pixel per second: a clean 720p card at 1.8 Mbit/s.
        let encoder = H264::new(width, height, FPS, 2, FPS * 2)?;
        Ok(Card {
            width,
            height,
            yuv: vec![0; width * height * 3 / 2],
            encoder,
        })
    }

    /// Draw the card for time `t` (seconds since the stream started).
    pub fn render(&mut self, text: &CardText, t: f64) {
        let (w, h) = (self.width, self.height);
        let (y, uv) = self.yuv.split_at_mut(w * h);
        y.fill(48);
        // A tinted background (blue-ish) so the picture is clearly not black.
        let (u, v) = uv.split_at_mut(w * h / 4);
        u.fill(150);
        v.fill(118);
        // The moving bar: a full-height white stripe sweeping across every 4 seconds.
        let bar = (w / 24).max(4);
        let x0 = (((t / 4.0).fract()) * (w - bar) as f64) as usize;
        for row in y.chunks_exact_mut(w).skip(h * 7 / 8) {
            row[x0..x0 + bar].fill(235);
        }
        let scale = (h / 180).max(1);
        let line_h = 8 * scale + 4 * scale;
        for (i, line) in text.lines.iter().enumerate() {
            let top = 2 * scale + i * line_h;
            if top + 8 * scale > h * 7 / 8 {
                break;
            }
            draw_text(y, w, 2 * scale * 4, top, scale, line);
        }
    }

    /// Encode the current picture; `keyframe` forces an IDR frame. Annex B bytes.
    pub fn encode(&mut self, keyframe: bool) -> Result<Vec<u8>, String> {
        self.encoder.encode(&self.yuv, keyframe)
    }

    /// The encoded size.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
}

/// Draw `text` in white into the luma plane at (x, y), each font pixel `scale` pixels square.
fn draw_text(luma: &mut [u8], stride: usize, x: usize, y: usize, scale: usize, text: &str) {
    let rows = luma.len() / stride;
    for (ci, ch) in text.chars().enumerate() {
        let Some(glyph) = BASIC_FONTS.get(ch).or_else(|| BASIC_FONTS.get('?')) else {
            continue;
        };
        let cx = x + ci * 8 * scale;
        if cx + 8 * scale > stride {
            break;
        }
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..8 {
                if bits & (1 << gx) == 0 {
                    continue;
                }
                for sy in 0..scale {
                    let py = y + gy * scale + sy;
                    if py >= rows {
                        continue;
                    }
                    let start = py * stride + cx + gx * scale;
                    luma[start..start + scale].fill(235);
                }
            }
        }
    }
}

/// A session's card on a thread of its own: drawn and encoded at [`FPS`] while the feed's
/// receiver is held, showing the text the peer keeps current in `text`. The peer only sends
/// what arrives (the card costs the peer thread nothing).
pub fn feed(
    width: u32,
    height: u32,
    text: std::sync::Arc<std::sync::Mutex<CardText>>,
    thread: String,
) -> std::io::Result<crate::ops::engine::apps::VideoFeed> {
    use crate::ops::engine::apps::{EncodedFrame, VideoFeed};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{sync_channel, TrySendError};
    use std::time::{Duration, Instant};
    let (tx, rx) = sync_channel(2);
    let keyframe = std::sync::Arc::new(AtomicBool::new(true));
    let wants_key = keyframe.clone();
    std::thread::Builder::new().name(thread).spawn(move || {
        let mut card = match Card::new(width, height) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the H.264 encoder could not start; no video");
                return;
            }
        };
        let started = Instant::now();
        let period = Duration::from_secs(1) / FPS;
        let mut next = started;
        loop {
            let lines = text.lock().unwrap_or_else(|p| p.into_inner()).clone();
            card.render(&lines, started.elapsed().as_secs_f64());
            let captured = Instant::now();
            match card.encode(wants_key.swap(false, Ordering::SeqCst)) {
                Ok(data) if !data.is_empty() => match tx.try_send(EncodedFrame { data, captured }) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => wants_key.store(true, Ordering::SeqCst),
                    Err(TrySendError::Disconnected(_)) => return,
                },
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "encoding a frame failed"),
            }
            next += period;
            let now = Instant::now();
            if next < now {
                next = now;
            }
            std::thread::sleep(next - now);
        }
    })?;
    Ok(VideoFeed {
        frames: rx,
        keyframe,
        width: width & !1,
        height: height & !1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_encodes_to_h264_with_a_keyframe_first() {
        let mut card = Card::new(320, 240).unwrap();
        let text = CardText {
            lines: vec!["session ABC".into(), "status CONNECTED".into()],
        };
        card.render(&text, 0.5);
        let first = card.encode(false).unwrap();
        assert!(first.starts_with(&[0, 0, 0, 1]), "Annex B start code");
        // An SPS (NAL type 7) comes with the first frame.
        assert!(first.windows(5).any(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 7));
        card.render(&text, 0.6);
        let second = card.encode(false).unwrap();
        assert!(!second.is_empty() && second.len() < first.len());
        assert_eq!(card.size(), (320, 240));
    }
}
