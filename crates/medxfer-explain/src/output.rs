//! Where explanations are written, checked before any work: per image `<stem>_<method>.png`
//! (overlay) and `<stem>_<method>.npy` (raw map), and `contact_sheet_<method>.png`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::localisation::Localisation;
use crate::method::ExplainMethod;
use crate::npy::npy_f32;
use crate::render::{caption, captioned, contact_sheet, overlay};
use crate::{ExplainError, Explanation};
use medxfer_atomic::run_files::CONTACT_SHEET_PREFIX;

/// Longest side of a contact-sheet thumbnail.
const THUMBNAIL: u32 = 160;

#[derive(Debug, Clone, PartialEq)]
pub struct OutputPlan {
    pub out_dir: PathBuf,
    pub overlays: Vec<PathBuf>,
    pub maps: Vec<PathBuf>,
    pub contact_sheet: PathBuf,
    /// Per-image localisation scores, written only when masks are scored.
    pub localisation: PathBuf,
}

impl OutputPlan {
    /// The files for `inputs`, refusing a file as `out_dir`, two inputs with one output name,
    /// and an output that is one of the inputs (it would be overwritten).
    pub fn new(
        inputs: &[PathBuf],
        out_dir: &Path,
        method: ExplainMethod,
    ) -> Result<Self, ExplainError> {
        if out_dir.exists() && !out_dir.is_dir() {
            return Err(ExplainError::output(
                out_dir,
                "exists and is not a folder: --out needs a folder",
            ));
        }
        let tag = method.file_tag();
        let canonical: HashSet<PathBuf> = inputs
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        let mut seen = HashSet::new();
        let (mut overlays, mut maps) = (Vec::new(), Vec::new());
        for input in inputs {
            let Some(stem) = input.file_stem() else {
                return Err(ExplainError::output(input, "has no file name"));
            };
            let stem = stem.to_string_lossy();
            if !seen.insert(stem.to_string()) {
                return Err(ExplainError::output(
                    input,
                    format!("another input has the same name {stem:?}: its outputs would collide"),
                ));
            }
            overlays.push(out_dir.join(format!("{stem}_{tag}.png")));
            maps.push(out_dir.join(format!("{stem}_{tag}.npy")));
        }
        let contact_sheet = out_dir.join(format!("{CONTACT_SHEET_PREFIX}{tag}.png"));
        let plan = OutputPlan {
            out_dir: out_dir.to_path_buf(),
            overlays,
            maps,
            contact_sheet,
            localisation: out_dir.join(format!("localisation_{tag}.csv")),
        };
        for output in plan.all() {
            if output.canonicalize().is_ok_and(|p| canonical.contains(&p)) {
                return Err(ExplainError::output(
                    output,
                    "is one of the input images: refusing to overwrite it",
                ));
            }
        }
        Ok(plan)
    }

    fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.overlays
            .iter()
            .chain(&self.maps)
            .chain([&self.contact_sheet, &self.localisation])
    }

    /// Write every file (each atomically), creating `out_dir` if missing.
    pub fn write(
        &self,
        explanations: &[Explanation],
        method: ExplainMethod,
        alpha: f32,
    ) -> Result<(), ExplainError> {
        std::fs::create_dir_all(&self.out_dir).map_err(|source| ExplainError::Io {
            path: self.out_dir.clone(),
            source,
        })?;
        let mut sheet = Vec::with_capacity(explanations.len());
        let items = explanations.iter().zip(&self.overlays).zip(&self.maps);
        for ((explanation, overlay_path), map_path) in items {
            let picture = overlay(explanation, alpha);
            captioned(&picture, &caption(explanation, method.name())).save_png(overlay_path)?;
            let shape = [
                explanation.image.height as usize,
                explanation.image.width as usize,
            ];
            medxfer_atomic::write_atomic(map_path, &npy_f32(&explanation.map, &shape)).map_err(
                |source| ExplainError::Io {
                    path: map_path.clone(),
                    source,
                },
            )?;
            let name = explanation
                .path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            let label = format!(
                "{name}\n{} {:.2}",
                explanation.class_name, explanation.probability
            );
            sheet.push((label, picture));
        }
        contact_sheet(&sheet, THUMBNAIL).save_png(&self.contact_sheet)?;
        Ok(())
    }
}

impl OutputPlan {
    /// `localisation_<method>.csv`: image, class, energy in mask, pointing hit, IoU.
    pub fn write_localisation(
        &self,
        explanations: &[Explanation],
        scores: &[Localisation],
    ) -> Result<(), ExplainError> {
        let mut text = String::from("image,class,energy_in_mask,pointing_hit,iou\n");
        for (e, s) in explanations.iter().zip(scores) {
            // Image paths may hold commas (BUSI names do not, others might): quote them.
            let image = e.path.display().to_string().replace('"', "\"\"");
            text.push_str(&format!(
                "\"{image}\",{},{:.6},{},{:.6}\n",
                e.class_name, s.energy_in_mask, s.pointing_hit, s.iou
            ));
        }
        medxfer_atomic::write_atomic(&self.localisation, text.as_bytes()).map_err(|source| {
            ExplainError::Io {
                path: self.localisation.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::CamKind;

    #[test]
    fn refuses_a_file_as_out_and_colliding_or_overwriting_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let method = ExplainMethod::Cam(CamKind::GradCam);
        let file = dir.path().join("file.txt");
        std::fs::write(&file, "x").unwrap();
        let a = dir.path().join("a.png");
        assert!(OutputPlan::new(std::slice::from_ref(&a), &file, method).is_err());
        let same_stem = [a.clone(), dir.path().join("sub").join("a.png")];
        assert!(OutputPlan::new(&same_stem, dir.path(), method).is_err());
        // An input already named like an output of this method, in the output folder.
        let input = dir.path().join("b_gradcam.png");
        std::fs::write(&input, "x").unwrap();
        let inputs = [dir.path().join("b.png"), input];
        std::fs::write(&inputs[0], "x").unwrap();
        let err = OutputPlan::new(&inputs, dir.path(), method).unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        let plan = OutputPlan::new(&[a], &dir.path().join("out"), method).unwrap();
        assert!(plan.overlays[0].ends_with("out/a_gradcam.png"));
        assert!(plan.maps[0].ends_with("out/a_gradcam.npy"));
    }
}
