//! Keras 3 models (`.keras`) as named arrays, through the documented Python step
//! `keras_to_safetensors.py` (h5py reads the HDF5 weights; no system libhdf5 is linked here).
//!
//! The Python interpreter is `$MEDXFER_PYTHON` when set (used as given). Otherwise the first of
//! `$MEDXFER_CACHE/venv` (where `.ci/setup.d/45-h5py.sh` installs h5py), the weights cache's
//! own `keras-python` environment, and `python3` on the PATH that imports h5py and numpy; when
//! none does, medxfer creates `keras-python` in the weights cache once (`python3 -m venv`,
//! then pip installs the pinned h5py and its numpy) and uses it from then on.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::state_dict::{Array, StateDict};
use crate::ModelError;

/// The converter script, written next to the model in the fetch's scratch folder.
const SCRIPT: &str = include_str!("keras_to_safetensors.py");

/// The h5py release the converter is checked with (the same pin as `.ci/setup.d/45-h5py.sh`).
pub const H5PY_REQUIREMENT: &str = "h5py==3.16.0";

/// The Python environment medxfer makes for the converter inside the weights cache.
pub const CONVERTER_ENVIRONMENT: &str = "keras-python";

/// Every variable of the Keras model at `model`, named `<layer name>/<variable index>`, with
/// convolution kernels turned from Keras's H x W x in x out into PyTorch's out x in x H x W.
/// `cache_dir` is the weights cache, where the converter's Python environment lives.
pub(crate) fn read_keras_model(
    model: &Path,
    scratch: &Path,
    cache_dir: &Path,
) -> Result<StateDict, ModelError> {
    let script = scratch.join("keras_to_safetensors.py");
    std::fs::write(&script, SCRIPT).map_err(|e| ModelError::io(&script, e))?;
    let converted = scratch.join("keras-variables.safetensors");
    let python = python_interpreter(model, cache_dir)?;
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
        return Err(ModelError::format(
            model,
            format!(
                "Keras conversion with {} failed: {}",
                python.display(),
                last_line(&output.stderr)
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

fn last_line(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

/// The Python that runs the converter (see the module documentation for the order).
fn python_interpreter(model: &Path, cache_dir: &Path) -> Result<PathBuf, ModelError> {
    if let Some(python) = std::env::var_os("MEDXFER_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let own = environment_python(&cache_dir.join(CONVERTER_ENVIRONMENT));
    let candidates = std::env::var_os("MEDXFER_CACHE")
        .map(|cache| environment_python(&PathBuf::from(cache).join("venv")))
        .into_iter()
        .chain([own.clone(), PathBuf::from("python3")]);
    for python in candidates {
        if has_converter_modules(&python) {
            return Ok(python);
        }
    }
    create_converter_environment(cache_dir).map_err(|message| {
        ModelError::format(
            model,
            format!(
                "the Keras conversion needs Python 3 with h5py and numpy: {message} (set MEDXFER_PYTHON to such a Python)"
            ),
        )
    })?;
    Ok(own)
}

fn environment_python(environment: &Path) -> PathBuf {
    environment.join("bin").join("python")
}

fn has_converter_modules(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import h5py, numpy"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// `python3 -m venv` into a scratch folder of the cache, pip install of the pinned h5py,
/// then a rename into place, so a failed or interrupted attempt leaves no half environment.
fn create_converter_environment(cache_dir: &Path) -> Result<(), String> {
    let scratch = tempfile::tempdir_in(cache_dir)
        .map_err(|e| format!("cannot create a folder in {}: {e}", cache_dir.display()))?;
    let environment = scratch.path().join(CONVERTER_ENVIRONMENT);
    let run = |program: &Path, args: &[&str], what: &str| -> Result<(), String> {
        let output = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {} to {what}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed: {}", last_line(&output.stderr)))
        }
    };
    let target = environment.to_string_lossy().to_string();
    run(
        Path::new("python3"),
        &["-m", "venv", &target],
        "create a Python environment",
    )?;
    run(
        &environment_python(&environment),
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            H5PY_REQUIREMENT,
        ],
        &format!("pip install {H5PY_REQUIREMENT}"),
    )?;
    let destination = cache_dir.join(CONVERTER_ENVIRONMENT);
    if destination.exists() {
        // A broken environment from elsewhere: replace it with the working one.
        std::fs::remove_dir_all(&destination)
            .map_err(|e| format!("cannot replace {}: {e}", destination.display()))?;
    }
    std::fs::rename(&environment, &destination).map_err(|e| {
        format!(
            "cannot move the environment to {}: {e}",
            destination.display()
        )
    })
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
