//! `medxfer explain RUN_DIR IMAGE... --method M --out DIR`: where a finished classification
//! run's fold models look in each image, as overlays, raw `.npy` maps and a contact sheet.

use std::path::PathBuf;

use medxfer_explain::localisation::{Localisation, score_against_masks, summarise};
use medxfer_explain::{
    ExplainMethod, ExplainRequest, Explainer, MethodKind, MethodSettings, OutputPlan, Stage,
};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// A finished classification run folder (from `medxfer train`).
    run_dir: PathBuf,
    /// Images to explain (preprocessed as in training).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// The explanation method.
    #[arg(long, value_enum, default_value = "gradcam")]
    method: MethodKind,
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
    let method = ExplainMethod::new(args.method, settings);
    // Checked before the models load: a bad --out costs nothing.
    let plan = OutputPlan::new(&args.images, &args.out, method)?;
    let explainer = Explainer::open(&args.run_dir)?;
    let request = ExplainRequest {
        method,
        stage: args.stage,
        class: args.class.clone(),
    };
    explainer.resolve(&request)?;
    let events = crate::progress::reporter(!args.no_progress);
    let explanations = explainer.explain(&args.images, &request, events.as_ref())?;
    let scores = if args.score_masks {
        Some(score_against_masks(&explanations)?)
    } else {
        None
    };
    plan.write(&explanations, method, args.alpha)?;
    println!(
        "{method} averaged over {} model(s); image, class, probability, overlay, map",
        explainer.num_models()
    );
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
    if let Some(scores) = scores {
        plan.write_localisation(&explanations, &scores)?;
        print_localisation(&scores, &plan)?;
    }
    Ok(())
}

fn print_localisation(scores: &[Localisation], plan: &OutputPlan) -> anyhow::Result<()> {
    let summary = summarise(scores)?;
    println!(
        "localisation over {} image(s), mean [95% bootstrap CI]:",
        scores.len()
    );
    for (name, ci) in ["energy in mask", "pointing game", "IoU (half max)"]
        .iter()
        .zip(&summary)
    {
        println!(
            "  {name:<15} {:.3} [{:.3}, {:.3}]",
            ci.estimate, ci.ci_low, ci.ci_high
        );
    }
    println!("per image: {}", plan.localisation.display());
    Ok(())
}
