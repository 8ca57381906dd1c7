//! The state-dict keys and shapes torchvision's `resnet18()` has, written out independently of
//! the crate's own key mapping, with deterministic pseudo-random values.

/// (key, shape) of torchvision's ResNet-18 state dict with `in_channels` input channels, in
/// `state_dict()` order, `num_batches_tracked` buffers included, `fc` for `classes` classes.
pub fn resnet18_keys(in_channels: usize, classes: usize) -> Vec<(String, Vec<usize>)> {
    let mut keys = Vec::new();
    let bn = |keys: &mut Vec<(String, Vec<usize>)>, prefix: &str, c: usize| {
        for name in ["weight", "bias", "running_mean", "running_var"] {
            keys.push((format!("{prefix}.{name}"), vec![c]));
        }
        keys.push((format!("{prefix}.num_batches_tracked"), vec![]));
    };
    keys.push(("conv1.weight".to_string(), vec![64, in_channels, 7, 7]));
    bn(&mut keys, "bn1", 64);
    let mut inplanes = 64;
    for (layer, planes) in [64usize, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let p = format!("layer{}.{block}", layer + 1);
            let in_c = if block == 0 { inplanes } else { planes };
            keys.push((format!("{p}.conv1.weight"), vec![planes, in_c, 3, 3]));
            bn(&mut keys, &format!("{p}.bn1"), planes);
            keys.push((format!("{p}.conv2.weight"), vec![planes, planes, 3, 3]));
            bn(&mut keys, &format!("{p}.bn2"), planes);
            if block == 0 && layer > 0 {
                keys.push((format!("{p}.downsample.0.weight"), vec![planes, in_c, 1, 1]));
                bn(&mut keys, &format!("{p}.downsample.1"), planes);
            }
        }
        inplanes = planes;
    }
    keys.push(("fc.weight".to_string(), vec![classes, 512]));
    keys.push(("fc.bias".to_string(), vec![classes]));
    keys
}

/// Deterministic values in [0.5, 1.5) (positive, so running variances stay valid).
pub fn values(seed: usize, count: usize) -> Vec<f32> {
    let mut state = (seed as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.5 + ((state >> 40) as f32) / ((1u64 << 24) as f32)
        })
        .collect()
}
