//! `medxfer explain RUN_DIR IMAGE... --method M --out DIR`: where a finished classification
//! run's fold models look in each image, as overlays, raw `.npy` maps and a contact sheet.

use std::path::PathBuf;

use medxfer_eval::bootstrap::BootstrapCi;
use medxfer_explain::localisation::{score_against_masks, summarise};
use medxfer_explain::{
    ExplainMethod, ExplainRequest, Explainer, Explanation, MethodKind, MethodSettings, OutputPlan,
    Stage,
};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// A finished classification run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// Images to explain (preprocessed as in training).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// The explanation method; repeat it to run several on the same images (one set of
    /// outputs per method, and with --score-masks one table with a row per method).
    #[arg(long = "method", value_enum, default_value = "gradcam")]
    methods: Vec<MethodKind>,
    /// Folder for the outputs (created if missing; never an input's location by name).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The class whose evidence is shown (default: the ensemble's predicted class per image).
    #[arg(long, value_name = "NAME")]
    class: Option<String>,
    /// Backbone stage the CAM methods read: `last` or its number (0 = stem).
    #[arg(long, default_value = "last")]
    stage: Stage,
    /// Occlusion: side of the square patch, in network-input pixels.
    #[arg(long, default_value_t = MethodSettings::default().occlusion_patch)]
    patch: usize,
    /// Occlusion: step between patches, in network-input pixels.
    #[arg(long, default_value_t = MethodSettings::default().occlusion_stride)]
    stride: usize,
    /// Integrated gradients: points on the path from the baseline.
    #[arg(long, default_value_t = MethodSettings::default().ig_steps)]
    steps: usize,
    /// LIME: perturbed images the surrogate is fitted on.
    #[arg(long, default_value_t = MethodSettings::default().lime_samples)]
    samples: usize,
    /// LIME: about how many SLIC superpixels to switch on and off.
    #[arg(long, default_value_t = MethodSettings::default().lime_segments)]
    segments: usize,
    /// LIME: seed of the random perturbations.
    #[arg(long, default_value_t = MethodSettings::default().lime_seed)]
    seed: u64,
    /// Opacity of the heat map over the image (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    alpha: f32,
    /// Score each map against its lesion mask (`<stem>_mask*.png` beside the image, the BUSI
    /// layout): energy inside the mask, pointing game, IoU at half maximum; prints the means
    /// with 95% bootstrap CIs and writes `localisation_<method>.csv`.
    #[arg(long)]
    score_masks: bool,
    /// Explain each image with the one fold model whose test part held it (from the run's
    /// predictions.csv) instead of the whole ensemble, of which the other models trained on
    /// it; every image must be one of the run's test images.
    #[arg(long)]
    out_of_fold: bool,
    /// Print plain lines instead of progress bars.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.alpha) {
        anyhow::bail!("--alpha {} must be between 0 and 1", args.alpha);
    }
    let settings = MethodSettings {
        occlusion_patch: args.patch,
        occlusion_stride: args.stride,
        ig_steps: args.steps,
        lime_samples: args.samples,
        lime_segments: args.segments,
        lime_seed: args.seed,
    };
    let mut methods: Vec<ExplainMethod> = Vec::new();
    for kind in &args.methods {
        let method = ExplainMethod::new(*kind, settings);
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    // Checked before the models load: a bad --out costs nothing.
    let plans = methods
        .iter()
        .map(|&method| OutputPlan::new(&args.images, &args.out, method))
        .collect::<Result<Vec<_>, _>>()?;
    let test_folds = args
        .out_of_fold
        .then(|| medxfer_train::predict::test_folds(&args.run_dir, &args.images))
        .transpose()?;
    let explainer = Explainer::open(&args.run_dir)?;
    let requests: Vec<ExplainRequest> = methods
        .iter()
        .map(|&method| ExplainRequest {
            method,
            stage: args.stage,
            class: args.class.clone(),
        })
        .collect();
    for request in &requests {
        explainer.resolve(request)?;
    }
    let events = crate::progress::reporter(!args.no_progress);
    let mut table = Vec::new();
    for (request, plan) in requests.iter().zip(&plans) {
        let explanations = match &test_folds {
            Some(folds) => {
                explainer.explain_out_of_fold(&args.images, folds, request, events.as_ref())?
            }
            None => explainer.explain(&args.images, request, events.as_ref())?,
        };
        plan.write(&explanations, request.method, args.alpha)?;
        let models = match test_folds {
            Some(_) => "each image's out-of-fold model".to_string(),
            None => format!("{} model(s)", explainer.num_models()),
        };
        print_outputs(request.method, &models, &explanations, plan);
        if args.score_masks {
            let scores = score_against_masks(&explanations)?;
            plan.write_localisation(&explanations, &scores)?;
            println!("per-image localisation: {}", plan.localisation.display());
            table.push((request.method, summarise(&scores)?, scores.len()));
        }
    }
    if !table.is_empty() {
        print_localisation(&table);
    }
    Ok(())
}

fn print_outputs(
    method: ExplainMethod,
    models: &str,
    explanations: &[Explanation],
    plan: &OutputPlan,
) {
    println!("{method} averaged over {models}; image, class, probability, overlay, map");
    for ((e, overlay), map) in explanations.iter().zip(&plan.overlays).zip(&plan.maps) {
        println!(
            "{}\t{}\t{:.4}\t{}\t{}",
            e.path.display(),
            e.class_name,
            e.probability,
            overlay.display(),
            map.display()
        );
    }
    println!("contact sheet: {}", plan.contact_sheet.display());
}

/// One row per method: energy in the mask, pointing game and IoU at half maximum, each the
/// mean over images with its 95% bootstrap CI.
fn print_localisation(table: &[(ExplainMethod, [BootstrapCi; 3], usize)]) {
    let images = table.first().map_or(0, |row| row.2);
    println!("localisation over {images} image(s), mean [95% bootstrap CI]:");
    println!(
        "  {:<22} {:<22} {:<22} {:<22}",
        "method", "energy in mask", "pointing game", "IoU (half max)"
    );
    for (method, summary, _) in table {
        let cells: Vec<String> = summary
            .iter()
            .map(|ci| format!("{:.3} [{:.3}, {:.3}]", ci.estimate, ci.ci_low, ci.ci_high))
            .collect();
        println!(
            "  {:<22} {:<22} {:<22} {:<22}",
            method.to_string(),
            cells[0],
            cells[1],
            cells[2]
        );
    }
}
