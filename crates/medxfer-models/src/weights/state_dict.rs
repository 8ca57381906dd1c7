//! Named f32 arrays read from weight files (PyTorch `.pth`, `.safetensors`, burnpack) and written
//! to burnpack, independent of any module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::burn_pack::{self, Bytes};
use burn::store::pytorch_reader::{DType as TorchDType, PytorchReader};

use crate::ModelError;

/// A dense row-major f32 array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The float tensors of one weights file, by name; `path` is kept for error messages.
#[derive(Debug, Clone)]
pub struct StateDict {
    pub path: PathBuf,
    pub tensors: BTreeMap<String, Array>,
}

/// Prefixes training scripts wrap state dicts in (`torch.save({"state_dict": ...})`,
/// `nn.DataParallel`'s `module.`); stripped when every key carries one.
const WRAPPER_PREFIXES: [&str; 3] = ["state_dict.", "model.", "module."];

impl StateDict {
    /// Read a `.pth`/`.pt` (zip or legacy pickle), `.safetensors` or burnpack (`.bpk`) file,
    /// chosen by extension.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "weights file not found"),
            ));
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut state = match extension.as_str() {
            "safetensors" => Self::read_safetensors(path)?,
            "bpk" | "burnpack" => Self::read_burnpack(path)?,
            "pth" | "pt" | "bin" | "ckpt" => Self::read_pth(path)?,
            _ => {
                return Err(ModelError::format(
                    path,
                    "unknown weights format (expected .pth, .pt, .safetensors or .bpk)",
                ));
            }
        };
        state.strip_wrapper_prefixes();
        Ok(state)
    }

    /// PyTorch checkpoint; tensors are gathered into row-major order honouring their strides
    /// and storage offsets (pytorch-reader's `Tensor::read`). Integer buffers such as
    /// `num_batches_tracked` are left out.
    pub fn read_pth(path: &Path) -> Result<Self, ModelError> {
        let reader = PytorchReader::new(path)
            .map_err(|e| ModelError::format(path, format!("not a readable PyTorch file: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, tensor) in reader.into_tensors() {
            let dtype = tensor.dtype();
            let shape = tensor.shape().to_vec();
            let bytes = tensor
                .read()
                .map_err(|e| ModelError::format(path, format!("tensor `{name}`: {e}")))?;
            let data = match dtype {
                TorchDType::F32 => le_f32(&bytes),
                TorchDType::F64 => bytes
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
                TorchDType::F16 => le_f16(&bytes),
                TorchDType::BF16 => le_bf16(&bytes),
                _ => continue,
            };
            tensors.insert(name, Array { shape, data });
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    pub fn read_safetensors(path: &Path) -> Result<Self, ModelError> {
        use safetensors::Dtype;
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
        let file = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| ModelError::format(path, format!("not a valid safetensors file: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => le_f32(raw),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
                Dtype::F16 => le_f16(raw),
                Dtype::BF16 => le_bf16(raw),
                _ => continue,
            };
            tensors.insert(
                name,
                Array {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    pub fn read_burnpack(path: &Path) -> Result<Self, ModelError> {
        let reader = burn_pack::Reader::from_file(path)
            .map_err(|e| ModelError::format(path, format!("not a valid burnpack file: {e}")))?;
        let packed = reader
            .into_tensors()
            .map_err(|e| ModelError::format(path, format!("unreadable burnpack: {e}")))?;
        let mut tensors = BTreeMap::new();
        for tensor in packed {
            let (name, dtype, shape, _, bytes) = tensor
                .into_parts()
                .map_err(|e| ModelError::format(path, format!("unreadable tensor: {e}")))?;
            if dtype != burn_pack::DType::F32 {
                continue;
            }
            tensors.insert(
                name,
                Array {
                    shape: shape.to_vec(),
                    data: le_f32(&bytes),
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// Write every tensor as f32 to a burnpack file, atomically (temp file + rename).
    pub fn write_burnpack(&self, path: &Path) -> Result<(), ModelError> {
        let tensors = self
            .tensors
            .iter()
            .map(|(name, array)| {
                burn_pack::Tensor::new(
                    name.clone(),
                    burn_pack::DType::F32,
                    array.shape.clone(),
                    None,
                    Bytes::from_elems(array.data.clone()),
                )
            })
            .collect();
        burn_pack::Writer::new(tensors)
            .auto_extension(false)
            .write_to_file(path)
            .map_err(|e| ModelError::format(path, format!("cannot write burnpack: {e}")))
    }

    /// Drop a wrapper prefix (`state_dict.`, `model.`, `module.`) shared by every key.
    fn strip_wrapper_prefixes(&mut self) {
        loop {
            let shared = WRAPPER_PREFIXES.into_iter().find(|prefix| {
                !self.tensors.is_empty() && self.tensors.keys().all(|k| k.starts_with(prefix))
            });
            let Some(prefix) = shared else { return };
            self.tensors = std::mem::take(&mut self.tensors)
                .into_iter()
                .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                .collect();
        }
    }
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// bfloat16 is the upper half of an f32.
fn le_bf16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
        .collect()
}

/// IEEE half precision to f32 (subnormals, infinities and NaN included).
fn le_f16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| {
            let h = u16::from_le_bytes([c[0], c[1]]);
            let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
            let exponent = ((h >> 10) & 0x1f) as i32;
            let mantissa = (h & 0x3ff) as f32;
            match exponent {
                0 => sign * mantissa * 2f32.powi(-24),
                31 if mantissa == 0.0 => sign * f32::INFINITY,
                31 => f32::NAN,
                _ => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes_exactly() {
        // 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 0.333251953125
        let f16: Vec<u8> = [0x3c00u16, 0xc000, 0x7bff, 0x0001, 0x3555]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            le_f16(&f16),
            [1.0, -2.0, 65504.0, 2f32.powi(-24), 0.333_251_95]
        );
        let bf16: Vec<u8> = [0x3f80u16, 0xc040]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(le_bf16(&bf16), [1.0, -3.0]);
    }

    #[test]
    fn burnpack_round_trip_keeps_names_shapes_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bpk");
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "a.weight".to_string(),
            Array {
                shape: vec![2, 3],
                data: vec![0.5, -1.0, 2.0, 3.25, 4.0, -5.5],
            },
        );
        let state = StateDict {
            path: path.clone(),
            tensors,
        };
        state.write_burnpack(&path).unwrap();
        let back = StateDict::read(&path).unwrap();
        assert_eq!(back.tensors, state.tensors);
    }

    #[test]
    fn wrapper_prefixes_are_stripped_only_when_shared() {
        let array = Array {
            shape: vec![1],
            data: vec![1.0],
        };
        let mut state = StateDict {
            path: PathBuf::from("x"),
            tensors: [
                ("state_dict.module.conv1.weight".to_string(), array.clone()),
                ("state_dict.module.fc.bias".to_string(), array.clone()),
            ]
            .into(),
        };
        state.strip_wrapper_prefixes();
        let keys: Vec<_> = state.tensors.keys().cloned().collect();
        assert_eq!(keys, ["conv1.weight", "fc.bias"]);
        state.strip_wrapper_prefixes();
        assert_eq!(state.tensors.len(), 2);
    }

    #[test]
    fn unknown_extension_and_missing_file_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("weights.h5");
        std::fs::write(&odd, b"x").unwrap();
        let err = StateDict::read(&odd).unwrap_err().to_string();
        assert!(
            err.contains("weights.h5") && err.contains("format"),
            "{err}"
        );
        let missing = dir.path().join("nope.pth");
        let err = StateDict::read(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.pth"), "{err}");
        let garbage = dir.path().join("garbage.pth");
        std::fs::write(&garbage, b"not a pickle").unwrap();
        let err = StateDict::read(&garbage).unwrap_err().to_string();
        assert!(err.contains("garbage.pth"), "{err}");
    }
}
