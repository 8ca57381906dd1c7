//! Studies: a grid of `medxfer train` runs over any configuration keys (backbone, init,
//! strategy, head, seed, data source...), run in shards on any scheduler, gathered into a
//! SQLite store and reported as one self-contained HTML page.
//!
//! - [`definition`]: the study file; [`grid`]: its cells and shards;
//! - [`runner`]: each cell as a normal run folder, trained in-process (skip finished, resume
//!   unfinished); [`progress`]: lines across the grid;
//! - [`folder`]: the study folder; [`store`]: SQLite, rebuilt from the cell folders;
//! - [`report`]: tables, statistics (all from `medxfer-eval`), plots and learning curves in
//!   one HTML file;
//!   cells can also be validated on external datasets (`[[external]]`, as `medxfer validate`).

pub mod definition;
mod embeddings;
mod error;
pub mod folder;
pub mod grid;
mod learning_curves;
pub mod progress;
pub mod report;
mod report_pairwise;
pub mod runner;
pub mod store;
mod svg;

pub use error::StudyError;

use std::path::Path;

/// `medxfer study merge`: (re)build the store of the study folder `study_dir` from its cell
/// run folders, wherever they were trained. Returns the manifest and how many cells are
/// finished.
pub fn merge(study_dir: &Path) -> Result<(folder::StudyManifest, usize), StudyError> {
    let study = folder::StudyFolder::new(study_dir);
    let manifest = study.read_manifest()?;
    let mut store = store::Store::open(&study.store_path())?;
    store.rebuild(&manifest, &study)?;
    let finished = manifest
        .cells
        .iter()
        .filter(|c| store::CellStatus::of(&study.cell_dir(&c.name)) == store::CellStatus::Finished)
        .count();
    Ok((manifest, finished))
}

/// `medxfer study query`: one SQL statement on the store, read-only.
pub fn query(study_dir: &Path, sql: &str) -> Result<store::QueryRows, StudyError> {
    let study = folder::StudyFolder::new(study_dir);
    store::Store::open_read_only(&study.store_path())?.query(sql)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_shipped_example_study_plans_its_four_cells() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/study-busi-strategies.toml");
        let definition = crate::definition::StudyDefinition::load(&path).unwrap();
        let plan = crate::runner::plan(&definition).unwrap();
        let names: Vec<&str> = plan.cells.iter().map(|c| c.cell.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "init-scratch__strategy-full",
                "init-imagenet__strategy-probe",
                "init-imagenet__strategy-two_phase",
                "init-imagenet__strategy-full"
            ]
        );
        let cell = &plan.cells[3];
        assert_eq!(cell.config.train.epochs, 15);
        assert!(
            cell.config
                .out_dir
                .ends_with("cells/init-imagenet__strategy-full")
        );
        assert_eq!(definition.externals.len(), 1);
        assert!(
            definition.externals[0]
                .data_path
                .ends_with("examples/busbra-data.toml")
        );
    }
}
