//! Training-step time (forward + backward of a per-pixel BCE loss) of a U-Net on the Flex CPU
//! backend with medxfer's fast paths.
//!
//! `cargo run --release --example unet_train_step_throughput [SIZE] [BATCH] [ROUNDS] [BACKBONE]`
//! (defaults: 128 px, batch 8, 3 timed rounds after one warm-up, resnet18). Set
//! `RAYON_NUM_THREADS` to fix the thread count.

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use medxfer_models::{BackboneKind, UNet, UNetConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("SIZE BATCH ROUNDS must be integers"))
            .unwrap_or(default)
    };
    let (size, batch, rounds) = (number(0, 128), number(1, 8), number(2, 3).max(1));
    let kind: BackboneKind = args
        .get(3)
        .map_or("resnet18", String::as_str)
        .parse()
        .expect("unknown backbone");
    let device = Device::flex().autodiff();
    let model = UNet::new(&UNetConfig::new(kind, 3, 1), &device).expect("valid configuration");
    let x = Tensor::<4>::random(
        [batch, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let target = Tensor::<4>::random([batch, 1, size, size], Distribution::Default, &device)
        .greater_elem(0.5)
        .float();
    let step = || {
        let start = Instant::now();
        let logits = model.forward(x.clone());
        let loss = (logits.clone().clamp_min(0.0) - logits.clone() * target.clone()
            + logits.abs().neg().exp().log1p())
        .mean();
        // Reading the loss forces the forward pass before the clock is read.
        let _ = loss.clone().into_scalar::<f32>();
        let forward = start.elapsed().as_secs_f64();
        let start = Instant::now();
        drop(loss.backward());
        (forward, start.elapsed().as_secs_f64())
    };
    let _ = step();
    let (mut forward, mut backward) = (0.0, 0.0);
    let cpu_start = cpu_time::process_cpu_seconds();
    for _ in 0..rounds {
        let (f, b) = step();
        forward += f;
        backward += b;
    }
    let (forward, backward) = (forward / rounds as f64, backward / rounds as f64);
    let cpu = cpu_time::process_cpu_seconds()
        .zip(cpu_start)
        .map_or(f64::NAN, |(end, start)| (end - start) / rounds as f64);
    println!(
        "unet-{kind} {size}x{size} batch {batch}: forward {forward:.3} s, backward {backward:.3} s, \
         step {:.3} s, {:.1} img/s, cpu {cpu:.3} s/step",
        forward + backward,
        batch as f64 / (forward + backward)
    );
}
