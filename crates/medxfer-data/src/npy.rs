//! A minimal reader for NumPy `.npy` arrays (the members of an `.npz` zip): integer dtypes,
//! C order, little endian. Enough for MedMNIST images and labels.

use std::io::Read;

/// Element type of an array, from the header's `descr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
}

impl NpyDtype {
    fn parse(descr: &str) -> Result<Self, String> {
        // The first character is the byte order; it may be any character in a corrupt file.
        let order_len = descr.chars().next().map_or(0, char::len_utf8);
        let (order, code) = descr.split_at(order_len);
        if order == ">" && !code.ends_with('1') {
            return Err(format!("big-endian dtype '{descr}' is not supported"));
        }
        if !matches!(order, "<" | ">" | "|" | "=") {
            return Err(format!("dtype '{descr}' has no byte order (<, >, | or =)"));
        }
        Ok(match code {
            "b1" => NpyDtype::Bool,
            "u1" => NpyDtype::U8,
            "i1" => NpyDtype::I8,
            "u2" => NpyDtype::U16,
            "i2" => NpyDtype::I16,
            "u4" => NpyDtype::U32,
            "i4" => NpyDtype::I32,
            "u8" => NpyDtype::U64,
            "i8" => NpyDtype::I64,
            _ => {
                return Err(format!(
                    "dtype '{descr}' is not supported (integer arrays only)"
                ));
            }
        })
    }

    pub fn item_size(self) -> usize {
        match self {
            NpyDtype::Bool | NpyDtype::U8 | NpyDtype::I8 => 1,
            NpyDtype::U16 | NpyDtype::I16 => 2,
            NpyDtype::U32 | NpyDtype::I32 => 4,
            NpyDtype::U64 | NpyDtype::I64 => 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: NpyDtype,
    pub shape: Vec<usize>,
}

impl NpyHeader {
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A whole array: header plus its raw little-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyArray {
    pub header: NpyHeader,
    pub bytes: Vec<u8>,
}

impl NpyArray {
    /// Elements as i64 (labels). Values beyond i64 range are an error.
    pub fn to_i64(&self) -> Result<Vec<i64>, String> {
        let size = self.header.dtype.item_size();
        self.bytes
            .chunks_exact(size)
            .map(|c| {
                Ok(match self.header.dtype {
                    NpyDtype::Bool | NpyDtype::U8 => c[0] as i64,
                    NpyDtype::I8 => c[0] as i8 as i64,
                    NpyDtype::U16 => u16::from_le_bytes([c[0], c[1]]) as i64,
                    NpyDtype::I16 => i16::from_le_bytes([c[0], c[1]]) as i64,
                    NpyDtype::U32 => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                    NpyDtype::I32 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                    NpyDtype::U64 => {
                        let v = u64::from_le_bytes(c.try_into().map_err(|_| "bad item")?);
                        i64::try_from(v).map_err(|_| format!("label {v} is too large"))?
                    }
                    NpyDtype::I64 => i64::from_le_bytes(c.try_into().map_err(|_| "bad item")?),
                })
            })
            .collect()
    }
}

/// Reads only the header; the reader is left at the start of the data.
pub fn read_header(reader: &mut impl Read) -> Result<NpyHeader, String> {
    let mut preamble = [0u8; 8];
    reader
        .read_exact(&mut preamble)
        .map_err(|e| format!("cannot read .npy preamble: {e}"))?;
    if &preamble[..6] != b"\x93NUMPY" {
        return Err("not a .npy array (bad magic)".into());
    }
    let header_len = match preamble[6] {
        1 => {
            let mut len = [0u8; 2];
            reader.read_exact(&mut len).map_err(|e| e.to_string())?;
            u16::from_le_bytes(len) as usize
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).map_err(|e| e.to_string())?;
            u32::from_le_bytes(len) as usize
        }
        v => return Err(format!(".npy format version {v} is not supported")),
    };
    if header_len > 1 << 20 {
        return Err(format!(".npy header of {header_len} bytes is implausible"));
    }
    let mut text = vec![0u8; header_len];
    reader
        .read_exact(&mut text)
        .map_err(|e| format!("truncated .npy header: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    parse_header_dict(&text)
}

pub fn read_array(reader: &mut impl Read) -> Result<NpyArray, String> {
    let header = read_header(reader)?;
    let len = header
        .element_count()
        .checked_mul(header.dtype.item_size())
        .ok_or("array size overflows")?;
    let mut bytes = Vec::with_capacity(len.min(1 << 30));
    reader
        .take(len as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read array data: {e}"))?;
    if bytes.len() != len {
        return Err(format!(
            "truncated array: expected {len} data bytes, found {}",
            bytes.len()
        ));
    }
    Ok(NpyArray { header, bytes })
}

/// Parses `{'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, 28), }`.
fn parse_header_dict(text: &str) -> Result<NpyHeader, String> {
    let value_after = |key: &str| -> Result<&str, String> {
        let quoted = format!("'{key}'");
        let start = text
            .find(&quoted)
            .ok_or_else(|| format!(".npy header lacks '{key}'"))?;
        let rest = &text[start + quoted.len()..];
        let colon = rest.find(':').ok_or("malformed .npy header")?;
        Ok(rest[colon + 1..].trim_start())
    };
    let descr_text = value_after("descr")?;
    let descr = descr_text
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or("malformed 'descr' in .npy header")?;
    let dtype = NpyDtype::parse(descr)?;

    let shape_text = value_after("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("malformed 'shape' in .npy header")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}' in shape"))
        })
        .collect::<Result<Vec<_>, _>>()?;

    // Every later size computation multiplies the dimensions: refuse shapes that overflow.
    if shape
        .iter()
        .try_fold(1usize, |count, &d| count.checked_mul(d))
        .is_none()
    {
        return Err(format!(
            "shape {shape:?} has more elements than memory can hold"
        ));
    }

    let fortran = value_after("fortran_order")?.starts_with("True");
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    Ok(NpyHeader { dtype, shape })
}

/// Writes a C-order `.npy` (version 1) array; used by tests to build fixtures.
pub fn write_npy(dtype_descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [single] => format!("({single},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{dtype_descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts at a multiple of 64 bytes, ending the header with '\n'.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_shapes_and_dtypes() {
        let bytes = write_npy("|u1", &[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(bytes.len() % 64, 12, "data starts at a 64-byte boundary");
        let array = read_array(&mut bytes.as_slice()).unwrap();
        assert_eq!(array.header.shape, vec![2, 2, 3]);
        assert_eq!(array.header.dtype, NpyDtype::U8);
        assert_eq!(array.bytes[11], 11);

        let labels: Vec<u8> = [3i64, -1, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = write_npy("<i8", &[3, 1], &labels);
        let array = read_array(&mut bytes.as_slice()).unwrap();
        assert_eq!(array.header.shape, vec![3, 1]);
        assert_eq!(array.to_i64().unwrap(), vec![3, -1, 7]);
    }

    #[test]
    fn numpy_written_header_parses() {
        // Header text exactly as numpy 1.x/2.x writes it.
        let header = parse_header_dict(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (546,), }          \n",
        )
        .unwrap();
        assert_eq!(header.shape, vec![546]);
        assert_eq!(header.dtype, NpyDtype::I64);
        let scalar =
            parse_header_dict("{'descr': '|u1', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(scalar.shape.is_empty());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(read_array(&mut &b"PK\x03\x04garbage"[..]).is_err());
        let bytes = write_npy("<f4", &[1], &[0, 0, 0, 0]);
        assert!(
            read_array(&mut bytes.as_slice())
                .unwrap_err()
                .contains("f4")
        );
        let mut bytes = write_npy("|u1", &[4], &[1, 2, 3, 4]);
        bytes.truncate(bytes.len() - 1);
        assert!(
            read_array(&mut bytes.as_slice())
                .unwrap_err()
                .contains("truncated")
        );
    }
}
