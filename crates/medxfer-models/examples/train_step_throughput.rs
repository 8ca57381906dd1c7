//! Training-step throughput (forward + backward) of each backbone on the Flex CPU backend, with
//! medxfer's CPU fast paths (`medxfer_models::fast_cpu`) and with burn's generic layers, side by
//! side, so the ratio is measured on the same machine in the same run.
//!
//! `cargo run --release --example train_step_throughput [SIZE] [BATCH] [ROUNDS] [BACKBONE]
//! [PATHS]` (defaults: 128 px, batch 32, 2 timed rounds after one warm-up, every backbone,
//! PATHS `both`; `medxfer` or `burn` times one path only). The `cpu s` column is the process's
//! CPU time per step, steadier than wall time when other processes share the cores.

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use medxfer_models::fast_cpu::set_fast_paths;
use medxfer_models::{Backbone, BackboneKind};

/// Seconds per batch for the forward and the backward pass, and CPU seconds per batch.
fn time_steps(backbone: &Backbone, x: &Tensor<4>, rounds: usize) -> (f64, f64, f64) {
    let step = || {
        let start = Instant::now();
        let loss = backbone.forward_features(x.clone()).mean();
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
    let cpu = cpu_time::process_cpu_seconds()
        .zip(cpu_start)
        .map_or(f64::NAN, |(end, start)| (end - start) / rounds as f64);
    (forward / rounds as f64, backward / rounds as f64, cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("SIZE BATCH ROUNDS must be integers"))
            .unwrap_or(default)
    };
    let size = number(0, 128);
    let batch = number(1, 32);
    let rounds = number(2, 2);
    let only = args.get(3).filter(|name| name.as_str() != "all").cloned();
    let paths = args.get(4).map_or("both", String::as_str);
    let device = Device::flex().autodiff();
    println!("backbone             input   path      img/s  forward s  backward s  cpu s");
    for kind in BackboneKind::ALL {
        if only.as_deref().is_some_and(|name| name != kind.name()) {
            continue;
        }
        let backbone = Backbone::new(kind, 3, &device);
        let x = Tensor::<4>::random(
            [batch, 3, size, size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let mut rates = Vec::new();
        for (label, fast) in [("medxfer", true), ("burn", false)] {
            if paths != "both" && paths != label {
                continue;
            }
            set_fast_paths(fast);
            let (forward, backward, cpu) = time_steps(&backbone, &x, rounds);
            let rate = batch as f64 / (forward + backward);
            rates.push(rate);
            println!(
                "{:<20} {size:>3}x{batch:<3} {label:<8} {rate:>6.1}  {forward:>9.3}  {backward:>10.3}  {cpu:>5.2}",
                kind.name()
            );
        }
        if let [fast, generic] = rates[..] {
            println!(
                "{:<20} medxfer / burn = {:.2}x",
                kind.name(),
                fast / generic
            );
        }
    }
    set_fast_paths(true);
}
