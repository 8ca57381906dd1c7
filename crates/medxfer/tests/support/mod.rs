//! Helpers shared by the CLI test files: the binary, a toy two-class image folder, and
//! success assertions that show the command's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn medxfer() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_medxfer"));
    // Rayon reductions are deterministic for a fixed thread count; pin it for the comparison.
    cmd.env("RAYON_NUM_THREADS", "2");
    cmd
}

/// Two classes a tiny CNN can separate: bright disc on the left vs on the right, with noise.
#[allow(dead_code)]
pub fn write_toy_dataset(root: &Path, per_class: usize) {
    for (class, left) in [("left", true), ("right", false)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let mut img = image::GrayImage::new(40, 32);
            let cx = if left { 10.0 } else { 30.0 };
            let mut state = (i as u32 + 1) * if left { 7919 } else { 104_729 };
            for (x, y, p) in img.enumerate_pixels_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 24) as f32 / 8.0;
                let d = ((x as f32 - cx).powi(2) + (y as f32 - 16.0).powi(2)).sqrt();
                let v = if d < 7.0 { 200.0 } else { 40.0 } + noise;
                p.0 = [v.min(255.0) as u8];
            }
            img.save(dir.join(format!("{class} ({i}).png"))).unwrap();
        }
    }
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "medxfer failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The command failed with exactly one `error:` line, the last one (progress lines before it
/// are allowed), and no panic; returns that line.
#[allow(dead_code)]
pub fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got:\n{stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");
    errors[0].to_string()
}

/// Two classes of 40 x 32 images, a bright disc left or right, with its mask beside it as
/// `NAME_mask.png` (the BUSI layout).
#[allow(dead_code)]
pub fn write_toy_segmentation_dataset(root: &Path, per_class: usize) {
    for (class, cx) in [("left", 10.0f32), ("right", 30.0)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let radius = 5.0 + (i % 3) as f32;
            let mut img = image::GrayImage::new(40, 32);
            let mut mask = image::GrayImage::new(40, 32);
            let mut state = (i as u32 + 1) * 7919 + cx as u32;
            for (x, y, p) in img.enumerate_pixels_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let inside = ((x as f32 - cx).powi(2) + (y as f32 - 16.0).powi(2)).sqrt() < radius;
                p.0 = [if inside { 190 } else { 50 } + (state >> 27) as u8];
                mask.put_pixel(x, y, image::Luma([if inside { 255 } else { 0 }]));
            }
            img.save(dir.join(format!("{class} ({i}).png"))).unwrap();
            mask.save(dir.join(format!("{class} ({i})_mask.png")))
                .unwrap();
        }
    }
}

/// Runs `medxfer COMMAND --no-progress --config CONFIG` and SIGKILLs it once its committed
/// `progress` file contains `marker` (e.g. `"epochs_done": 2`): a run killed mid-training.
#[allow(dead_code)]
pub fn run_until_committed_then_kill(command: &str, config: &Path, progress: &Path, marker: &str) {
    let mut child = medxfer()
        .args([command, "--no-progress", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        if std::fs::read_to_string(progress).is_ok_and(|text| text.contains(marker)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[allow(dead_code)]
/// One Explicit VR Little Endian element; values padded to even length.
pub fn element(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
    }
    let mut out = [group.to_le_bytes(), elem.to_le_bytes()].concat();
    out.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend([0, 0]);
        out.extend((value.len() as u32).to_le_bytes());
    } else {
        out.extend((value.len() as u16).to_le_bytes());
    }
    out.extend(value);
    out
}

#[allow(dead_code)]
/// A `rows` x `cols` 8-bit MONOCHROME2 image of `modality` written byte by byte (the workspace
/// has no DICOM writer), with Patient's Name `Doe^John`; `pixel_length` overrides the
/// length declared in the Pixel Data header.
pub fn tiny_dicom(rows: u16, cols: u16, modality: &str, pixel_length: Option<u32>) -> Vec<u8> {
    let syntax = b"1.2.840.10008.1.2.1";
    let class = b"1.2.840.10008.5.1.4.1.1.2";
    let instance = b"1.2.826.0.1.3680043.9.7777.2.1";
    let meta = [
        element(0x0002, 0x0001, b"OB", &[0, 1]),
        element(0x0002, 0x0002, b"UI", class),
        element(0x0002, 0x0003, b"UI", instance),
        element(0x0002, 0x0010, b"UI", syntax),
    ]
    .concat();
    let mut bytes = vec![0u8; 128];
    bytes.extend(b"DICM");
    bytes.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    bytes.extend(meta);
    let us = |v: u16| v.to_le_bytes();
    for part in [
        element(0x0008, 0x0016, b"UI", class),
        element(0x0008, 0x0018, b"UI", instance),
        element(0x0008, 0x0060, b"CS", modality.as_bytes()),
        element(0x0010, 0x0010, b"PN", b"Doe^John"),
        element(0x0028, 0x0002, b"US", &us(1)),
        element(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
        element(0x0028, 0x0010, b"US", &us(rows)),
        element(0x0028, 0x0011, b"US", &us(cols)),
        element(0x0028, 0x0100, b"US", &us(8)),
        element(0x0028, 0x0101, b"US", &us(8)),
        element(0x0028, 0x0102, b"US", &us(7)),
        element(0x0028, 0x0103, b"US", &us(0)),
    ] {
        bytes.extend(part);
    }
    let pixels: Vec<u8> = (0..rows as usize * cols as usize)
        .map(|i| i as u8)
        .collect();
    let mut pixel_data = element(0x7FE0, 0x0010, b"OB", &pixels);
    if let Some(length) = pixel_length {
        pixel_data[8..12].copy_from_slice(&length.to_le_bytes());
    }
    bytes.extend(pixel_data);
    bytes
}

/// A toy two-fold ResNet-18 run at 32 px on `data` (classification with positive class
/// `right`, or segmentation), out to `dir/run`; returns the config's path.
#[allow(dead_code)]
pub fn write_toy_run_config(dir: &Path, data: &Path, segmentation: bool) -> PathBuf {
    let path = dir.join("run.toml");
    let (task, positive, extra) = if segmentation {
        (
            "task = \"segmentation\"",
            "",
            "[segmentation]\ndecoder_channels = [16, 16, 8, 8, 8]",
        )
    } else {
        ("", "positive = \"right\"", "")
    };
    std::fs::write(
        &path,
        format!(
            r#"
seed = 5
out_dir = "{out}"
{task}
[data]
source = {{ kind = "folder", root = "{data}" }}
{positive}
image_size = 32
cache_dir = "{cache}"
[split]
kind = "kfold"
folds = 2
val_fraction = 0.25
[model]
backbone = "resnet18"
init = "scratch"
in_channels = 1
[train]
strategy = {{ kind = "scratch" }}
epochs = 1
lr = 3e-3
batch_size = 4
{extra}
"#,
            out = dir.join("run").display(),
            data = data.display(),
            cache = dir.join("cache").display(),
        ),
    )
    .unwrap();
    path
}

/// Trains the run of `config` to the end (every fold assembled).
#[allow(dead_code)]
pub fn train_to_the_end(config: &Path) {
    let output = medxfer()
        .args(["train", "--no-progress", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_success(&output);
}

/// The repository's root folder.
#[allow(dead_code)]
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the CI venv (`$MEDXFER_CACHE/venv`, else `.cache/venv`).
#[allow(dead_code)]
pub fn venv_python() -> PathBuf {
    std::env::var_os("MEDXFER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"))
        .join("venv/bin/python")
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What a headless-Chromium test lacks (chromium, chromedriver, selenium in the venv; all
/// installed by `.ci/setup.d/50-browser.sh`), if anything: the test then prints SKIP.
#[allow(dead_code)]
pub fn missing_browser() -> Option<String> {
    for program in ["chromium", "chromedriver"] {
        if !on_path(program) {
            return Some(format!(
                "{program} not on PATH (run .ci/setup.d/50-browser.sh)"
            ));
        }
    }
    let python = venv_python();
    let selenium = Command::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !selenium {
        return Some(format!(
            "no selenium in the venv at {} (run .ci/setup.d/50-browser.sh)",
            python.display()
        ));
    }
    None
}

/// `RUN/predictions.csv` of a two-class run (`image,fold,split,label,p_left,p_right`): each of
/// the `images` images tested once, probabilities summing to one.
#[allow(dead_code)]
pub fn assert_each_image_tested_once(run: &Path, images: usize) {
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let tested: Vec<&str> = text.lines().filter(|l| l.contains(",test,")).collect();
    assert_eq!(tested.len(), images, "{text}");
    for row in tested {
        let p: Vec<f64> = row
            .rsplitn(3, ',')
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        assert!((p[0] + p[1] - 1.0).abs() < 1e-5, "{row}");
    }
}

/// The line `medxfer weights list --cache-dir CACHE` prints for `backbone` (its first column
/// equal to the name, so `vgg16` is not `vgg16_bn`), and the whole listing for messages.
#[allow(dead_code)]
pub fn weights_list_line(cache: &Path, backbone: &str) -> (String, String) {
    let output = medxfer()
        .args(["weights", "list", "--cache-dir"])
        .arg(cache)
        .output()
        .unwrap();
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(backbone))
        .unwrap_or_default()
        .to_string();
    (line, stdout)
}
