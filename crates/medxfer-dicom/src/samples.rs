//! Stored sample values in their narrowest integer type (a 120-frame RGB cine stays bytes).

/// Applies a generic function to the vector inside any variant, keeping the variant.
macro_rules! map_samples {
    ($samples:expr, |$v:ident| $body:expr) => {
        match $samples {
            Samples::U8($v) => Samples::U8($body),
            Samples::U16($v) => Samples::U16($body),
            Samples::I16($v) => Samples::I16($body),
            Samples::U32($v) => Samples::U32($body),
            Samples::I32($v) => Samples::I32($body),
        }
    };
}

/// Interleaved stored values of one or more frames.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
}

impl Samples {
    /// Reads native-endian samples of `bits_allocated` bits; signed values are sign-extended
    /// from `bits_stored` bits. Extra trailing bytes (padding) are ignored.
    pub fn from_bytes(
        data: &[u8],
        bits_allocated: u16,
        signed: bool,
        bits_stored: u16,
        expected: usize,
    ) -> Result<Samples, String> {
        let bytes_per_sample = match bits_allocated {
            8 => 1,
            16 => 2,
            32 => 4,
            other => {
                return Err(format!(
                    "Bits Allocated {other} is not supported (8, 16 or 32)"
                ));
            }
        };
        let need = expected * bytes_per_sample;
        if data.len() < need {
            return Err(format!(
                "pixel data is truncated: {} bytes, expected {need}",
                data.len()
            ));
        }
        let data = &data[..need];
        let shift = |bits: u16| bits_allocated.saturating_sub(bits_stored.min(bits).max(1));
        Ok(match (bytes_per_sample, signed) {
            (1, false) => Samples::U8(data.to_vec()),
            (1, true) => {
                let s = shift(8) as u32;
                Samples::I16(
                    data.iter()
                        .map(|&b| (((b as i8) << s) >> s) as i16)
                        .collect(),
                )
            }
            (2, false) => Samples::U16(
                data.chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect(),
            ),
            (2, true) => {
                let s = shift(16) as u32;
                Samples::I16(
                    data.chunks_exact(2)
                        .map(|c| (i16::from_ne_bytes([c[0], c[1]]) << s) >> s)
                        .collect(),
                )
            }
            (4, false) => Samples::U32(
                data.chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            _ => {
                let s = shift(32) as u32;
                Samples::I32(
                    data.chunks_exact(4)
                        .map(|c| (i32::from_ne_bytes([c[0], c[1], c[2], c[3]]) << s) >> s)
                        .collect(),
                )
            }
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::I16(v) => v.len(),
            Samples::U32(v) => v.len(),
            Samples::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match self {
            Samples::U8(v) => v[i] as i64,
            Samples::U16(v) => v[i] as i64,
            Samples::I16(v) => v[i] as i64,
            Samples::U32(v) => v[i] as i64,
            Samples::I32(v) => v[i] as i64,
        }
    }

    /// Reorders `RRR..GGG..BBB..` frames into `RGBRGB...`.
    pub fn planar_to_interleaved(self, frames: usize, pixels_per_frame: usize) -> Samples {
        fn reorder<T: Copy>(v: Vec<T>, frames: usize, n: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(v.len());
            for f in 0..frames {
                let frame = &v[f * 3 * n..(f + 1) * 3 * n];
                for p in 0..n {
                    out.extend([frame[p], frame[n + p], frame[2 * n + p]]);
                }
            }
            out
        }
        map_samples!(self, |v| reorder(v, frames, pixels_per_frame))
    }

    /// Expands native YBR_FULL_422 (`Y0 Y1 Cb Cr` per pixel pair) into `Y Cb Cr` per pixel.
    pub fn expand_ybr422(self, pixels: usize) -> Samples {
        fn expand<T: Copy>(v: Vec<T>, pixels: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(pixels * 3);
            for pair in v.chunks_exact(4) {
                out.extend([pair[0], pair[2], pair[3], pair[1], pair[2], pair[3]]);
            }
            out.truncate(pixels * 3);
            out
        }
        map_samples!(self, |v| expand(v, pixels))
    }

    /// YBR_FULL to RGB (PS3.3 C.7.6.3.1.2), rounding to nearest and clamping to 0..=255
    /// like pydicom. Only defined for 8-bit samples.
    pub fn ybr_full_to_rgb(&mut self) -> Result<(), &'static str> {
        let Samples::U8(v) = self else {
            return Err("YBR colour data with more than 8 bits per sample is not supported");
        };
        for px in v.chunks_exact_mut(3) {
            let y = px[0] as f32;
            let cb = px[1] as f32 - 128.0;
            let cr = px[2] as f32 - 128.0;
            let r = y + 1.402 * cr;
            let g = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
            let b = y + 1.772 * cb;
            let to_u8 = |x: f32| (x + 0.5).floor().clamp(0.0, 255.0) as u8;
            px[0] = to_u8(r);
            px[1] = to_u8(g);
            px[2] = to_u8(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_12_bit_values_are_sign_extended() {
        // 0x0FFF in 12 bits is -1; 0x0800 is -2048; 0x07FF is 2047.
        let bytes: Vec<u8> = [0x0FFFu16, 0x0800, 0x07FF]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let s = Samples::from_bytes(&bytes, 16, true, 12, 3).unwrap();
        assert_eq!((s.get(0), s.get(1), s.get(2)), (-1, -2048, 2047));
    }

    #[test]
    fn truncated_data_is_an_error() {
        let err = Samples::from_bytes(&[1, 2, 3], 16, false, 16, 2).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn planar_frames_are_interleaved() {
        let s = Samples::U8(vec![1, 2, 10, 20, 100, 200]).planar_to_interleaved(1, 2);
        assert_eq!(s, Samples::U8(vec![1, 10, 100, 2, 20, 200]));
    }

    #[test]
    fn ybr_grey_maps_to_equal_rgb() {
        let mut s = Samples::U8(vec![77, 128, 128]);
        s.ybr_full_to_rgb().unwrap();
        assert_eq!(s, Samples::U8(vec![77, 77, 77]));
    }
}
