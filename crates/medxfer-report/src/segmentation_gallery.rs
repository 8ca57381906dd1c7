//! `gallery.png` of a segmentation run: the test images ranked by Dice, a few rows from the
//! best 20%, the middle 60% and the worst 20% (evenly spaced within each band), each row the
//! input image | truth mask | predicted mask | overlay (truth outline green, prediction outline
//! red, yellow where they coincide), captioned with rank, image id, fold, class and Dice.

use std::path::Path;

use image::{GrayImage, RgbImage};
use medxfer_eval::mask_io::read_mask_png;
use medxfer_eval::segmentation::mask_surface;
use medxfer_eval::segmentation_run::{EmptyMasks, ImageSegmentation};

use crate::ReportError;
use crate::canvas::{BLACK, Canvas};

/// Rows per band.
pub const ROWS_PER_BAND: usize = 4;
/// Longest side of a tile in pixels (images are scaled to it, nearest neighbour).
const TILE: u32 = 144;
const GAP: i64 = 10;
const CAPTION: i64 = 14;
const GREEN: [u8; 3] = [0, 220, 0];
const RED: [u8; 3] = [255, 40, 40];
const YELLOW: [u8; 3] = [255, 230, 0];
const GREY: [u8; 3] = [90, 90, 90];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Best,
    Middle,
    Worst,
}

impl Band {
    fn heading(self) -> &'static str {
        match self {
            Band::Best => "best 20% by Dice",
            Band::Middle => "middle 60%",
            Band::Worst => "worst 20%",
        }
    }
}

/// One gallery row: the band, the image's 0-based rank by Dice (best first), the image.
#[derive(Debug, Clone, Copy)]
pub struct GalleryPick<'a> {
    pub band: Band,
    pub rank: usize,
    pub image: &'a ImageSegmentation,
}

/// Ranks by Dice (best first; ties by fold, then image id, for a stable picture) and picks up
/// to `per_band` evenly spaced rows from each band. Bands: the first and last ceil(20%) ranks.
pub fn select(images: &[ImageSegmentation], per_band: usize) -> Vec<GalleryPick<'_>> {
    let mut ranked: Vec<&ImageSegmentation> = images.iter().collect();
    ranked.sort_by(|a, b| {
        b.dice()
            .total_cmp(&a.dice())
            .then(a.fold.cmp(&b.fold))
            .then(a.image_id.cmp(&b.image_id))
    });
    let n = ranked.len();
    let edge = (n as f64 * 0.2).ceil() as usize;
    let worst_start = n.saturating_sub(edge).max(edge);
    let mut picks = Vec::new();
    for (band, start, end) in [
        (Band::Best, 0, edge.min(n)),
        (Band::Middle, edge.min(n), worst_start),
        (Band::Worst, worst_start, n),
    ] {
        let m = end.saturating_sub(start);
        let count = per_band.min(m);
        for i in 0..count {
            let offset = if count == 1 {
                (m - 1) / 2
            } else {
                (i as f64 * (m - 1) as f64 / (count - 1) as f64).round() as usize
            };
            let rank = start + offset;
            picks.push(GalleryPick {
                band,
                rank,
                image: ranked[rank],
            });
        }
    }
    picks
}

/// Nearest-neighbour scaling so the longer side is `TILE` pixels.
fn tile_size(shape: [usize; 2]) -> (u32, u32) {
    let (h, w) = (shape[0].max(1) as f64, shape[1].max(1) as f64);
    let f = TILE as f64 / h.max(w);
    (
        ((w * f).round() as u32).max(1),
        ((h * f).round() as u32).max(1),
    )
}

fn scale<T: Copy>(data: &[T], shape: [usize; 2], size: (u32, u32)) -> Vec<T> {
    let (w, h) = size;
    let mut out = Vec::with_capacity((w * h) as usize);
    for y in 0..h as usize {
        let sy = (y * shape[0] / h as usize).min(shape[0] - 1);
        for x in 0..w as usize {
            let sx = (x * shape[1] / w as usize).min(shape[1] - 1);
            out.push(data[sy * shape[1] + sx]);
        }
    }
    out
}

fn to_rgb(values: &[u8], size: (u32, u32)) -> RgbImage {
    RgbImage::from_fn(size.0, size.1, |x, y| {
        let v = values[(y * size.0 + x) as usize];
        image::Rgb([v, v, v])
    })
}

/// The outline two pixels wide (inwards), so it stays visible on a textured image.
fn thicken(edge: &[bool], mask: &[bool], width: usize) -> Vec<bool> {
    (0..edge.len())
        .map(|i| {
            let (x, n) = (i % width, edge.len());
            edge[i]
                || (mask[i]
                    && ((x > 0 && edge[i - 1])
                        || (x + 1 < width && edge[i + 1])
                        || (i >= width && edge[i - width])
                        || (i + width < n && edge[i + width])))
        })
        .collect()
}

/// The four tiles of one row.
fn row_tiles(run_dir: &Path, pick: &ImageSegmentation) -> Result<[RgbImage; 4], ReportError> {
    let image_path = run_dir.join(&pick.image);
    let gray: GrayImage = image::open(&image_path)
        .map_err(|e| ReportError::format(&image_path, format!("cannot read the image: {e}")))?
        .to_luma8();
    let shape = [gray.height() as usize, gray.width() as usize];
    let truth = read_mask_png(&run_dir.join(&pick.truth))?;
    let pred = read_mask_png(&run_dir.join(&pick.prediction))?;
    for (path, mask_shape) in [(&pick.truth, truth.shape), (&pick.prediction, pred.shape)] {
        if mask_shape != shape {
            let path = run_dir.join(path);
            return Err(ReportError::format(
                &path,
                format!(
                    "is {}x{} but the image {} is {}x{}",
                    mask_shape[0],
                    mask_shape[1],
                    image_path.display(),
                    shape[0],
                    shape[1]
                ),
            ));
        }
    }
    let size = tile_size(shape);
    let pixels = scale(gray.as_raw(), shape, size);
    let truth = scale(&truth.data, shape, size);
    let pred = scale(&pred.data, shape, size);
    let as_gray = |m: &[bool]| {
        m.iter()
            .map(|&on| if on { 255 } else { 0 })
            .collect::<Vec<u8>>()
    };
    // Outlines at display resolution stay one pixel wide whatever the input size.
    let grid = [size.1 as usize, size.0 as usize];
    let truth_edge = thicken(&mask_surface(&truth, &grid), &truth, size.0 as usize);
    let pred_edge = thicken(&mask_surface(&pred, &grid), &pred, size.0 as usize);
    let mut overlay = to_rgb(&pixels, size);
    for (i, p) in overlay.pixels_mut().enumerate() {
        match (truth_edge[i], pred_edge[i]) {
            (true, true) => p.0 = YELLOW,
            (true, false) => p.0 = GREEN,
            (false, true) => p.0 = RED,
            (false, false) => {}
        }
    }
    Ok([
        to_rgb(&pixels, size),
        to_rgb(&as_gray(&truth), size),
        to_rgb(&as_gray(&pred), size),
        overlay,
    ])
}

/// Cuts `text` to `max_chars`, marking the cut.
fn fit(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max_chars.saturating_sub(2)).collect();
        cut.push_str("..");
        cut
    }
}

/// Draws the gallery of `images` (a run's test images, paths relative to `run_dir`) to `out`.
pub fn write_gallery(
    run_dir: &Path,
    images: &[ImageSegmentation],
    out: &Path,
) -> Result<(), ReportError> {
    let picks = select(images, ROWS_PER_BAND);
    if picks.is_empty() {
        return Err(ReportError::Invalid(format!(
            "{}: no test images for a gallery",
            out.display()
        )));
    }
    let tile = TILE as i64;
    let width = GAP + 4 * (tile + GAP);
    let bands = 1 + picks.windows(2).filter(|w| w[0].band != w[1].band).count() as i64;
    let row_height = CAPTION + tile + GAP;
    let top = 52;
    let height = top + bands * 22 + picks.len() as i64 * row_height;
    let mut canvas = Canvas::new(width as u32, height as u32);
    let chars = ((width - 2 * GAP) / 8) as usize;
    let title = format!("{} test images ranked by Dice", images.len());
    canvas.text(GAP, 6, &fit(&title, chars), BLACK, 1);
    let legend = "overlay: truth outline green, prediction red, both yellow";
    canvas.text(GAP, 20, &fit(legend, chars), GREY, 1);
    for (k, heading) in ["image", "truth", "prediction", "overlay"]
        .iter()
        .enumerate()
    {
        canvas.text(GAP + k as i64 * (tile + GAP), 38, heading, BLACK, 1);
    }
    let mut y = top;
    let mut band = None;
    for pick in &picks {
        if band != Some(pick.band) {
            band = Some(pick.band);
            y += 4;
            canvas.fill_rect(GAP, y + 8, width - 2 * GAP, 1, GREY);
            canvas.text(GAP, y, pick.band.heading(), BLACK, 1);
            canvas.fill_rect(
                GAP,
                y + 8,
                Canvas::text_width(pick.band.heading(), 1),
                1,
                BLACK,
            );
            y += 18;
        }
        let i = pick.image;
        let empty = match i.empty_masks {
            EmptyMasks::Neither => "",
            EmptyMasks::Both => ", both masks empty",
            EmptyMasks::TruthOnly => ", truth empty",
            EmptyMasks::PredictionOnly => ", nothing predicted",
        };
        let caption = format!(
            "#{}/{} Dice {:.3}  {} (fold {}, {}{empty})",
            pick.rank + 1,
            images.len(),
            i.dice(),
            i.image_id,
            i.fold,
            i.label
        );
        canvas.text(GAP, y, &fit(&caption, chars), BLACK, 1);
        y += CAPTION;
        for (k, tile_image) in row_tiles(run_dir, i)?.iter().enumerate() {
            canvas.paste(GAP + k as i64 * (tile + GAP), y, tile_image);
        }
        y += tile + GAP;
    }
    canvas.save_png(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medxfer_eval::segmentation_run::{PerMetric, SegMetric};

    fn image(id: usize, dice: f64) -> ImageSegmentation {
        ImageSegmentation {
            image_id: format!("case {id}"),
            fold: id % 2,
            label: "benign".into(),
            image: format!("{id}_image.png").into(),
            truth: format!("{id}_truth.png").into(),
            prediction: format!("{id}_pred.png").into(),
            shape: [30, 40],
            empty_masks: EmptyMasks::Neither,
            metrics: PerMetric::from_fn(|m| (m == SegMetric::Dice).then_some(dice)),
        }
    }

    fn ranks(images: &[ImageSegmentation], per_band: usize) -> Vec<(Band, usize)> {
        select(images, per_band)
            .iter()
            .map(|p| (p.band, p.rank))
            .collect()
    }

    #[test]
    fn bands_are_best_middle_worst_evenly_spaced() {
        // Dice 0.0, 0.1, ..., 1.9 in shuffled order: rank r has Dice 1.9 - r / 10.
        let images: Vec<ImageSegmentation> = (0..20)
            .map(|i| image(i, ((i * 7) % 20) as f64 / 10.0))
            .collect();
        let picks = select(&images, 4);
        assert!((picks[0].image.dice() - 1.9).abs() < 1e-12);
        // 20 images: bands of 4, 12 and 4 ranks; the middle picks ranks 4 + round(i * 11 / 3).
        let expected: Vec<(Band, usize)> = [0, 1, 2, 3]
            .map(|r| (Band::Best, r))
            .into_iter()
            .chain([4, 8, 11, 15].map(|r| (Band::Middle, r)))
            .chain([16, 17, 18, 19].map(|r| (Band::Worst, r)))
            .collect();
        assert_eq!(ranks(&images, 4), expected);
        // Few images: every band gets what it has, nothing twice.
        assert_eq!(ranks(&images[..1], 4), vec![(Band::Best, 0)]);
        assert_eq!(
            ranks(&images[..2], 4),
            vec![(Band::Best, 0), (Band::Worst, 1)]
        );
        assert_eq!(
            ranks(&images[..5], 4),
            vec![
                (Band::Best, 0),
                (Band::Middle, 1),
                (Band::Middle, 2),
                (Band::Middle, 3),
                (Band::Worst, 4)
            ]
        );
        assert!(select(&[], 4).is_empty());
    }

    #[test]
    fn gallery_draws_outlines_and_names_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let images: Vec<ImageSegmentation> =
            (0..3).map(|i| image(i, 1.0 - i as f64 / 4.0)).collect();
        for i in 0..3u32 {
            let square = |x0: u32| {
                GrayImage::from_fn(40, 30, move |x, y| {
                    image::Luma([if (x0..x0 + 12).contains(&x) && (8..20).contains(&y) {
                        255
                    } else {
                        0
                    }])
                })
            };
            GrayImage::from_fn(40, 30, |x, _| image::Luma([(x * 6) as u8]))
                .save(d.join(format!("{i}_image.png")))
                .unwrap();
            square(10).save(d.join(format!("{i}_truth.png"))).unwrap();
            square(10 + 4 * i)
                .save(d.join(format!("{i}_pred.png")))
                .unwrap();
        }
        let out = d.join("gallery.png");
        write_gallery(d, &images, &out).unwrap();
        let png = image::open(&out).unwrap().to_rgb8();
        assert_eq!(png.width() as i64, GAP + 4 * (TILE as i64 + GAP));
        let count = |c: [u8; 3]| png.pixels().filter(|p| p.0 == c).count();
        // Image 0 matches exactly (yellow outline); the shifted ones show green and red.
        assert!(count(YELLOW) > 50 && count(GREEN) > 50 && count(RED) > 50);
        std::fs::remove_file(d.join("2_pred.png")).unwrap();
        let msg = write_gallery(d, &images, &out).unwrap_err().to_string();
        assert!(msg.contains("2_pred.png"), "{msg}");
        image::GrayImage::new(8, 8)
            .save(d.join("2_pred.png"))
            .unwrap();
        let msg = write_gallery(d, &images, &out).unwrap_err().to_string();
        assert!(msg.contains("2_pred.png") && msg.contains("8x8"), "{msg}");
    }
}
