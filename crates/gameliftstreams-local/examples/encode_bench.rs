//! What a frame costs the video pipeline by how much of the picture changes, in this process,
//! with nothing else running: BGRX → I420 conversion of the whole picture and of a 80-row band,
//! and H.264 encoding (the server's encoder and settings) of three kinds of picture at
//! WIDTHxHEIGHT: still (nothing changes), a bar (a 24×80 block moves, as the sample game's
//! `--animate`), and everything (every pixel changes every frame, as a 3D game's picture does).
//! Encoding times are also given as ratios to the still picture's, measured in the same run.
//!
//! Usage: encode_bench [WIDTHxHEIGHT] [frames]
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

use gameliftstreams_local::media::{bgrx_to_i420, H264};
use std::time::Instant;

/// Frame `t` of a picture of kind `kind` (0 still, 1 bar, 2 everything), BGRX.
fn picture(w: usize, h: usize, t: usize, kind: u8) -> Vec<u8> {
    let mut bgrx = vec![0u8; w * h * 4];
    for (y, row) in bgrx.chunks_exact_mut(w * 4).enumerate() {
        for (x, px) in row.chunks_exact_mut(4).enumerate() {
            let c: [u8; 4] = match kind {
                2 => [
                    ((x + t * 3) % 256) as u8,
                    ((y * 2 + t) % 256) as u8,
                    ((x ^ (y + t)) % 256) as u8,
                    0,
                ],
                _ => [120, 40, 20, 0],
            };
            px.copy_from_slice(&c);
            if x < 64 && y < 64 {
                px.copy_from_slice(&[0, 0, 255, 0]);
            }
            let bx = (t * 8) % w;
            if kind == 1 && (bx..bx + 24).contains(&x) && (h - 160..h - 80).contains(&y) {
                px.copy_from_slice(&[255, 255, 255, 0]);
            }
        }
    }
    bgrx
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (w, h) = args
        .get(1)
        .and_then(|s| s.split_once('x'))
        .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
        .unwrap_or((1280usize, 720usize));
    let n: usize = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(300);
    println!("{w}x{h}, {n} frames a measurement");
    let p = picture(w, h, 1, 1);
    let mut i420 = Vec::new();
    for (what, rows) in [("whole picture", 0..h), ("80-row band", h - 160..h - 80)] {
        let t0 = Instant::now();
        for _ in 0..n {
            bgrx_to_i420(&p, w * 4, w, h, rows.clone(), &mut i420).unwrap();
        }
        println!(
            "conversion, {what}: {:.3} ms a frame",
            t0.elapsed().as_secs_f64() * 1000.0 / n as f64
        );
    }
    let mut still = None;
    for (kind, what) in [(0u8, "still"), (1, "a bar moves"), (2, "everything changes")] {
        // 60 distinct frames, converted beforehand: only the encoder is timed.
        let frames: Vec<Vec<u8>> = (0..60)
            .map(|t| {
                let mut out = Vec::new();
                bgrx_to_i420(&picture(w, h, t, kind), w * 4, w, h, 0..h, &mut out).unwrap();
                out
            })
            .collect();
        let mut enc = H264::new(w, h, 60, 2, 120).unwrap();
        enc.encode(&frames[0], true).unwrap();
        let (mut bytes, t0) = (0, Instant::now());
        for i in 0..n {
            bytes += enc.encode(&frames[i % 60], false).unwrap().len();
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let base = *still.get_or_insert(ms);
        println!(
            "encoding, {what:<20} {ms:>6.2} ms a frame ({:>4.1}× still), {:>7} bytes a frame",
            ms / base,
            bytes / n
        );
    }
}
