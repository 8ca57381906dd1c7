//! `medxfer study`: a toy grid (2 seeds x 2 heads, two folds, one epoch at 32 px) run as two
//! shards in two processes at once, through the shipped Kubernetes Job's command line
//! (JOB_COMPLETION_INDEX) and the Slurm array script (SLURM_ARRAY_TASK_ID), then merged,
//! queried and reported (and the report opened in headless Chromium); a re-run skips every
//! cell.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{
    assert_success, medxfer, missing_browser, one_line_error, venv_python, write_toy_dataset,
    write_toy_run_config,
};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The toy study: the toy run config crossed with two seeds and two heads (4 cells), each
/// also validated on a second toy dataset.
fn write_toy_study(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    write_toy_dataset(&data, 8);
    write_toy_run_config(dir, &data, false);
    let external = dir.join("external-data");
    write_toy_dataset(&external, 5);
    std::fs::write(
        dir.join("external.toml"),
        format!(
            "[data]\nsource = {{ kind = \"folder\", root = \"{}\" }}\ncache_dir = \"{}\"\n",
            external.display(),
            dir.join("cache").display()
        ),
    )
    .unwrap();
    let study = dir.join("study.toml");
    std::fs::write(
        &study,
        format!(
            r#"
name = "toy"
base = "run.toml"
out_dir = "{}"

[[axis]]
key = "seed"
values = [5, 6]

[[axis]]
key = "model.head"
values = [{{ kind = "linear" }}, {{ kind = "mlp", hidden = 8 }}]

[[external]]
name = "other"
data = "external.toml"
"#,
            dir.join("study").display()
        ),
    )
    .unwrap();
    study
}

/// The `command:` array of the shipped Kubernetes Job, with our binary and study file.
fn kubernetes_command(study: &Path) -> Command {
    let yaml = std::fs::read_to_string(repo_file("examples/study-k8s-job.yaml")).unwrap();
    let line = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("command:"))
        .expect("a command: line");
    let args: Vec<String> = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(args[..3], ["medxfer", "study", "run"]);
    assert!(
        args.windows(2).any(|w| w == ["--shard-count", "2"]),
        "{args:?}"
    );
    let mut command = medxfer();
    command.args(&args[1..3]).arg(study).args(&args[4..]);
    command
}

/// `medxfer study report STUDY_DIR --out REPORT`, checked; the page's text.
fn study_report(study_dir: &Path, report: &Path) -> String {
    let output = medxfer()
        .args(["study", "report"])
        .arg(study_dir)
        .arg("--out")
        .arg(report)
        .output()
        .unwrap();
    assert_success(&output);
    std::fs::read_to_string(report).unwrap()
}

fn spawn_logged(mut command: Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_sharded_grid_runs_merges_queries_reports_and_skips_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let study = write_toy_study(dir.path());
    let study_dir = dir.path().join("study");

    let mut kubernetes = kubernetes_command(&study);
    kubernetes.env("JOB_COMPLETION_INDEX", "0");
    let mut slurm = Command::new("bash");
    slurm
        .arg(repo_file("examples/study-slurm.sh"))
        .arg(&study)
        .env("MEDXFER", env!("CARGO_BIN_EXE_medxfer"))
        .env("RAYON_NUM_THREADS", "1")
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2");
    let shards = [spawn_logged(kubernetes), spawn_logged(slurm)];
    for (shard, child) in shards.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_success(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("shard {shard}/2: 2 cell(s): 2 trained, 0 skipped")),
            "{stdout}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("study: cell 2/2"), "{stderr}");
        assert!(stderr.contains("ETA"), "{stderr}");
    }
    let cells = [
        "seed-5__head-linear",
        "seed-5__head-mlp-hidden8",
        "seed-6__head-linear",
        "seed-6__head-mlp-hidden8",
    ];
    for cell in cells {
        let run = study_dir.join("cells").join(cell);
        assert!(run.join("metrics.json").exists(), "{cell} has no metrics");
        let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
        assert!(
            config.contains(&format!("seed = {}", &cell[5..6])),
            "{config}"
        );
    }

    // The store the two shards wrote at once, then rebuilt from the folders.
    let query = |sql: &str| {
        let output = medxfer()
            .args(["study", "query"])
            .arg(&study_dir)
            .arg(sql)
            .output()
            .unwrap();
        assert_success(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let count_sql = "SELECT COUNT(*) AS n FROM cells WHERE status = 'finished'";
    assert_eq!(query(count_sql), "n\n4\n");
    let output = medxfer()
        .args(["study", "merge"])
        .arg(&study_dir)
        .output()
        .unwrap();
    assert_success(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("4 of 4 cells finished"),
        "{output:?}"
    );
    assert_eq!(query(count_sql), "n\n4\n");
    let csv_rows: usize = cells
        .iter()
        .map(|c| {
            let text =
                std::fs::read_to_string(study_dir.join("cells").join(c).join("predictions.csv"))
                    .unwrap();
            text.lines().count() - 1
        })
        .sum();
    // One row per image, fold, split and class (two classes), no duplicates.
    assert_eq!(
        query("SELECT COUNT(*) FROM predictions"),
        format!("COUNT(*)\n{}\n", 2 * csv_rows)
    );
    let heads = query(
        "SELECT axis_value FROM cell_axes WHERE axis_key = 'model.head' GROUP BY axis_value ORDER BY axis_value",
    );
    assert_eq!(heads.lines().count(), 3, "{heads}");
    let err = one_line_error(
        &medxfer()
            .args(["study", "query"])
            .arg(&study_dir)
            .arg("DROP TABLE cells")
            .output()
            .unwrap(),
    );
    assert!(err.contains("study.sqlite"), "{err}");

    // The report: one self-contained page with every cell's numbers.
    let report = dir.path().join("report.html");
    let html = study_report(&study_dir, &report);
    assert_report_holds_the_cells(&html, &study_dir, &cells);
    assert_report_reads_in_a_browser(&report, &study_dir, &cells);
    // Cross-dataset: every cell's fold models on the external data, in the store and the report.
    assert_eq!(
        query("SELECT COUNT(*) FROM external_fold_metrics WHERE metric = 'auc'"),
        "COUNT(*)\n8\n"
    );
    for cell in cells {
        let external = study_dir.join("external").join(cell).join("other");
        let metrics: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(external.join("metrics.json")).unwrap())
                .unwrap();
        let auc = metrics["pooled"]["auc"].as_f64().unwrap();
        let start = html
            .find(&format!("<tr data-external-cell=\"{cell}\">"))
            .unwrap();
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("{auc:.3}")),
            "{cell}: {auc} not in {row}"
        );
    }

    // Explanations written into a cell's explanations/ folder join the report as a gallery.
    let cell_dir = study_dir.join("cells").join(cells[0]);
    let output = medxfer()
        .arg("explain")
        .arg(&cell_dir)
        .arg(dir.path().join("data/left/left (0).png"))
        .arg(dir.path().join("data/right/right (0).png"))
        .arg("--out")
        .arg(cell_dir.join("explanations"))
        .output()
        .unwrap();
    assert_success(&output);
    let html = study_report(&study_dir, &report);
    let gallery = &html[html.find("<h2>Explanations</h2>").expect("a gallery")..];
    assert_eq!(
        gallery.matches("<img src=\"data:image/png;base64,").count(),
        1
    );
    assert!(
        gallery.contains(&format!("{}: gradcam", cells[0])),
        "{gallery}"
    );

    // `medxfer embed` over every cell: each fold model's features of its own test images,
    // laid out by t-SNE into the cell's embedding/ folder, drawn by the report.
    let cell_dirs: Vec<PathBuf> = cells
        .iter()
        .map(|c| study_dir.join("cells").join(c))
        .collect();
    let output = medxfer()
        .args(["embed", "--no-progress", "--iterations", "300"])
        .args(&cell_dirs)
        .output()
        .unwrap();
    assert_success(&output);
    for cell_dir in &cell_dirs {
        let csv = std::fs::read_to_string(cell_dir.join("embedding/tsne.csv")).unwrap();
        // Every image once (16 images, two folds of 8 test images).
        assert_eq!(csv.lines().count(), 1 + 16, "{csv}");
        assert!(csv.starts_with("fold,image_id,source,class,predicted,x,y\n"));
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(cell_dir.join("embedding/embedding.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(summary["folds"].as_array().unwrap().len(), 2, "{summary}");
        assert!(cell_dir.join("embedding/tsne.png").exists());
    }
    let html = study_report(&study_dir, &report);
    let panels = &html[html
        .find("<h2>Feature embeddings (t-SNE)</h2>")
        .expect("t-SNE panels")..];
    assert_eq!(panels.matches("<figure><svg").count(), cells.len());
    // Each panel draws its fold's 8 test images (plus one legend marker per figure).
    assert_eq!(panels.matches("<circle").count(), cells.len() * (16 + 1));
    let output = medxfer()
        .arg("embed")
        .args(&cell_dirs[..2])
        .args(["--out", "elsewhere"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--out takes one run folder"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A re-run of the whole grid finds every cell finished.
    let output = medxfer()
        .args(["study", "run", "--no-progress"])
        .arg(&study)
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("shard 0/1: 4 cell(s): 0 trained, 4 skipped"),
        "{stdout}"
    );
}

/// Every cell's row carries its pooled AUC from metrics.json; the page needs nothing from
/// outside (no scripts, links or remote images) and has its plots inline.
fn assert_report_holds_the_cells(html: &str, study_dir: &Path, cells: &[&str]) {
    for cell in cells {
        let metrics: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(study_dir.join("cells").join(cell).join("metrics.json"))
                .unwrap(),
        )
        .unwrap();
        let auc = metrics["pooled"]["auc"].as_f64().unwrap();
        let row_start = html
            .find(&format!("<tr data-cell=\"{cell}\">"))
            .unwrap_or_else(|| panic!("no row for {cell}"));
        let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("{auc:.3} [")),
            "{cell}: {auc} not in {row}"
        );
    }
    for id in [
        "id=\"results\"",
        "id=\"delong\"",
        "id=\"friedman\"",
        "id=\"wilcoxon\"",
        "id=\"calibration\"",
        "class=\"confusion\"",
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    assert!(html.matches("<svg").count() >= 4);
    // Learning curves: a loss plot per cell and one validation-AUC plot over the cells.
    let curves = &html[html.find("Learning curves").expect("learning curves")..];
    assert!(curves.contains("aria-label=\"Validation auc\""), "{curves}");
    assert!(curves.contains("validation loss"));
    for outside in ["<script", "<link", "src=\"http", "url(http", "@import"] {
        assert!(!html.contains(outside), "the page loads {outside}");
    }
}

#[test]
fn an_invalid_cell_or_a_foreign_folder_stops_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let study = write_toy_study(dir.path());
    // Freezing a random backbone: the cell is named and nothing is created.
    let text = std::fs::read_to_string(&study).unwrap()
        + "\n[[axis]]\nkey = \"train.strategy\"\nvalues = [{ kind = \"linear_probe\" }]\nlabels = [\"probe\"]\n";
    std::fs::write(&study, text).unwrap();
    let output = medxfer()
        .args(["study", "run", "--no-progress"])
        .arg(&study)
        .output()
        .unwrap();
    let err = one_line_error(&output);
    assert!(
        err.contains("cell seed-5__head-linear__strategy-probe") && err.contains("model.init"),
        "{err}"
    );
    assert!(!dir.path().join("study").exists());

    let study = write_toy_study(dir.path());
    std::fs::create_dir_all(dir.path().join("study")).unwrap();
    std::fs::write(dir.path().join("study").join("thesis.docx"), "mine").unwrap();
    let err = one_line_error(
        &medxfer()
            .args(["study", "run", "--no-progress", "--shard", "0/2"])
            .arg(&study)
            .output()
            .unwrap(),
    );
    assert!(err.contains("thesis.docx"), "{err}");
    let err = one_line_error(
        &medxfer()
            .args(["study", "run", "--shard", "2/2"])
            .arg(&study)
            .output()
            .unwrap(),
    );
    assert!(err.contains("shard 2/2"), "{err}");
}

#[test]
fn a_killed_study_loses_nothing_and_duplicates_nothing_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_toy_dataset(&data, 8);
    write_toy_run_config(dir.path(), &data, false);
    let study = dir.path().join("study.toml");
    let study_dir = dir.path().join("study");
    std::fs::write(
        &study,
        format!(
            "base = \"run.toml\"\nout_dir = \"{}\"\nset = [\"train.epochs=3\"]\n[[axis]]\nkey = \"seed\"\nvalues = [5, 6]\n",
            study_dir.display()
        ),
    )
    .unwrap();
    // Kill the run once the first cell is finished and the second has committed an epoch.
    let mut child = medxfer()
        .args(["study", "run", "--no-progress"])
        .arg(&study)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = study_dir.join("cells/seed-5");
    let second = study_dir.join("cells/seed-6");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !(first.join("run.json").exists()
        && std::fs::read_to_string(second.join("fold_0/progress.json"))
            .is_ok_and(|t| t.contains("\"epochs_done\": 1")))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the study ended first");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!second.join("run.json").exists());
    let query = |sql: &str| {
        let output = medxfer()
            .args(["study", "query"])
            .arg(&study_dir)
            .arg(sql)
            .output()
            .unwrap();
        assert_success(&output);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let finished = "SELECT COUNT(*) FROM cells WHERE status = 'finished'";
    assert_eq!(query(finished), "1");

    let output = medxfer()
        .args(["study", "run", "--no-progress"])
        .arg(&study)
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 trained, 1 skipped"), "{stdout}");
    assert_eq!(query(finished), "2");
    let rows = |cell: &Path| {
        std::fs::read_to_string(cell.join("predictions.csv"))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!(
        query("SELECT COUNT(*) FROM predictions"),
        (2 * (rows(&first) + rows(&second))).to_string()
    );
    assert_eq!(
        query("SELECT COUNT(*) FROM fold_metrics WHERE metric = 'auc'"),
        "4"
    );
    // The resumed fold trained epochs 1..3 once each.
    let curves = std::fs::read_to_string(second.join("fold_0/curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 4, "{curves}");
}

#[test]
fn a_segmentation_study_reports_dice_iou_and_hd95() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    support::write_toy_segmentation_dataset(&data, 6);
    write_toy_run_config(dir.path(), &data, true);
    let study = dir.path().join("study.toml");
    let study_dir = dir.path().join("study");
    std::fs::write(
        &study,
        format!(
            "base = \"run.toml\"\nout_dir = \"{}\"\n[[axis]]\nkey = \"seed\"\nvalues = [5, 6]\n",
            study_dir.display()
        ),
    )
    .unwrap();
    // As on a network file system: no store while the cells train, one merge at the end.
    let output = medxfer()
        .args(["study", "run", "--no-progress", "--no-store"])
        .arg(&study)
        .output()
        .unwrap();
    assert_success(&output);
    for cell in ["seed-5", "seed-6"] {
        assert!(
            study_dir
                .join("cells")
                .join(cell)
                .join("gallery.png")
                .exists()
        );
    }
    assert!(!study_dir.join("study.sqlite").exists());
    let output = medxfer()
        .args(["study", "merge"])
        .arg(&study_dir)
        .output()
        .unwrap();
    assert_success(&output);
    let output = medxfer()
        .args(["study", "query"])
        .arg(&study_dir)
        .arg("SELECT COUNT(*) FROM fold_metrics WHERE metric IN ('dice', 'iou')")
        .output()
        .unwrap();
    assert_success(&output);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "COUNT(*)\n8\n");
    let report = dir.path().join("report.html");
    let html = study_report(&study_dir, &report);
    for heading in ["Dice pooled", "IoU pooled", "HD95 pooled"] {
        assert!(html.contains(heading), "no {heading}");
    }
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(study_dir.join("cells/seed-5/metrics.json")).unwrap(),
    )
    .unwrap();
    let dice = metrics["pooled"]["mean"]["dice"].as_f64().unwrap();
    let row_start = html.find("<tr data-cell=\"seed-5\">").unwrap();
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert!(row.contains(&format!("{dice:.3} [")), "{dice} not in {row}");
    // Two cells: the Friedman test needs three, and says so.
    assert!(html.contains("at least 3 treatments"));
    assert!(!html.contains("id=\"delong\""));
}

/// The report in a real headless Chromium (`study_report_browser.py`): every image decodes,
/// every plot has a box, nothing is fetched from outside, and each cell's visible row shows
/// the pooled AUC of its metrics.json. Prints SKIP when the browser tools are absent.
fn assert_report_reads_in_a_browser(report: &Path, study_dir: &Path, cells: &[&str]) {
    if let Some(why) = missing_browser() {
        eprintln!("SKIP (browser check of the report): {why}");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/study_report_browser.py");
    let output = Command::new(venv_python())
        .arg(script)
        .arg(report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser check failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(seen["svgs"].as_u64().unwrap() >= 4, "{seen}");
    for cell in cells {
        let metrics: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(study_dir.join("cells").join(cell).join("metrics.json"))
                .unwrap(),
        )
        .unwrap();
        let auc = metrics["pooled"]["auc"].as_f64().unwrap();
        let row = seen["rows"][*cell].as_str().unwrap_or_default();
        assert!(
            row.contains(&format!("{auc:.3}")),
            "{cell}: {auc} not in {row:?}"
        );
    }
}
