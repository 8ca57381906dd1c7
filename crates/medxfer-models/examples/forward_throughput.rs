//! Forward (inference) throughput of each backbone on the Flex CPU backend.
//!
//! `cargo run --release -p medxfer-models --example forward_throughput [SIZE] [BATCH] [ROUNDS]
//! [BACKBONE]` (defaults: 128 px, batch 32, 3 timed rounds after one warm-up, every backbone).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use medxfer_models::{Backbone, BackboneKind};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let only: Option<BackboneKind> = (args.len() > 3).then(|| {
        let name = args.pop().unwrap();
        name.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
    });
    let args: Vec<usize> = args
        .iter()
        .map(|a| a.parse().expect("SIZE BATCH ROUNDS must be integers"))
        .collect();
    let size = args.first().copied().unwrap_or(128);
    let batch = args.get(1).copied().unwrap_or(32);
    let rounds = args.get(2).copied().unwrap_or(3);
    let device = Device::flex();
    for kind in BackboneKind::ALL
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == *k))
    {
        let backbone = Backbone::new(kind, 3, &device);
        let x = Tensor::<4>::random(
            [batch, 3, size, size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        // Warm-up, then timed rounds; reading the result back forces the computation.
        let _ = backbone.forward_features(x.clone()).into_data();
        let start = Instant::now();
        for _ in 0..rounds {
            let _ = backbone.forward_features(x.clone()).into_data();
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{kind:<20} {size} px, batch {batch}: {:.1} img/s ({:.3} s per batch)",
            (rounds * batch) as f64 / seconds,
            seconds / rounds as f64
        );
    }
}
