//! Keras 3 models (`.keras`) as named arrays, through the documented Python step
//! `keras_to_safetensors.py` (h5py reads the HDF5 weights; no system libhdf5 is linked here).
//!
//! The Python interpreter is `$MEDXFER_PYTHON` if set, else `$MEDXFER_CACHE/venv/bin/python`
//! or the repository's `.cache/venv/bin/python` when they exist (`.ci/setup.d/45-h5py.sh`
//! installs h5py there), else `python3` on the PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::state_dict::{Array, StateDict};
use crate::ModelError;

/// The converter script, written next to the model in the fetch's scratch folder.
const SCRIPT: &str = include_str!("keras_to_safetensors.py");

/// Every variable of the Keras model at `model`, named `<layer name>/<variable index>`, with
/// convolution kernels turned from Keras's H x W x in x out into PyTorch's out x in x H x W.
pub(crate) fn read_keras_model(model: &Path, scratch: &Path) -> Result<StateDict, ModelError> {
    let script = scratch.join("keras_to_safetensors.py");
    std::fs::write(&script, SCRIPT).map_err(|e| ModelError::io(&script, e))?;
    let converted = scratch.join("keras-variables.safetensors");
    let python = python_interpreter();
    let output = Command::new(&python)
        .arg(&script)
        .arg(model)
        .arg(&converted)
        .output()
        .map_err(|e| {
            ModelError::format(
                model,
                format!(
                    "cannot run {} for the Keras conversion: {e} (set MEDXFER_PYTHON)",
                    python.display()
                ),
            )
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr.lines().last().unwrap_or("no message").trim();
        return Err(ModelError::format(
            model,
            format!(
                "Keras conversion with {} failed: {last_line}",
                python.display()
            ),
        ));
    }
    let mut state = StateDict::read_safetensors(&converted)?;
    state.path = model.to_path_buf();
    for array in state.tensors.values_mut() {
        if array.shape.len() == 4 {
            *array = kernel_hwio_to_oihw(array);
        }
    }
    Ok(state)
}

fn python_interpreter() -> PathBuf {
    if let Some(python) = std::env::var_os("MEDXFER_PYTHON") {
        return PathBuf::from(python);
    }
    let repository_cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let caches = std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .into_iter()
        .chain([repository_cache]);
    for cache in caches {
        let venv_python = cache.join("venv/bin/python");
        if venv_python.is_file() {
            return venv_python;
        }
    }
    PathBuf::from("python3")
}

/// Keras convolution kernel H x W x I x O -> PyTorch O x I x H x W.
pub(crate) fn kernel_hwio_to_oihw(kernel: &Array) -> Array {
    let [h, w, i, o] = [
        kernel.shape[0],
        kernel.shape[1],
        kernel.shape[2],
        kernel.shape[3],
    ];
    let mut data = vec![0.0f32; kernel.data.len()];
    for (index, value) in kernel.data.iter().enumerate() {
        let oc = index % o;
        let ic = (index / o) % i;
        let x = (index / (o * i)) % w;
        let y = index / (o * i * w);
        data[((oc * i + ic) * h + y) * w + x] = *value;
    }
    Array {
        shape: vec![o, i, h, w],
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 x 1 x 2 x 3 kernel whose values encode their Keras indices lands on the PyTorch
    /// position of the same (out, in, y, x).
    #[test]
    fn kernels_move_from_hwio_to_oihw() {
        let (h, w, i, o) = (2, 1, 2, 3);
        let code =
            |y: usize, x: usize, ic: usize, oc: usize| (1000 * y + 100 * x + 10 * ic + oc) as f32;
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                for ic in 0..i {
                    for oc in 0..o {
                        data.push(code(y, x, ic, oc));
                    }
                }
            }
        }
        let torch = kernel_hwio_to_oihw(&Array {
            shape: vec![h, w, i, o],
            data,
        });
        assert_eq!(torch.shape, [o, i, h, w]);
        for oc in 0..o {
            for ic in 0..i {
                for y in 0..h {
                    for x in 0..w {
                        let value = torch.data[((oc * i + ic) * h + y) * w + x];
                        assert_eq!(value, code(y, x, ic, oc));
                    }
                }
            }
        }
    }
}
