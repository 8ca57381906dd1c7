//! The Grad-CAM family: a stage's activations and the class score's gradient with respect to
//! them, combined per method.

use burn::prelude::*;
use medxfer_data::preprocess::resize_bilinear;
use medxfer_models::Classifier;

use crate::method::CamKind;

/// A stage's activations and the class logit's gradient with respect to them, for one image,
/// channel-major (`channels` maps of `height` x `width`).
#[derive(Debug, Clone, PartialEq)]
pub struct StageGradients {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub activations: Vec<f32>,
    pub gradients: Vec<f32>,
}

/// Forward `x` (1 x C x S x S) to `stage`, then on from there with the stage's output as the
/// only autodiff leaf: the backward pass computes no parameter gradients, and the models can
/// stay on the plain (inference) device. Returns the gradients and the logits.
pub fn stage_gradients(
    model: &Classifier,
    x: Tensor<4>,
    stage: usize,
    class: usize,
) -> (StageGradients, Vec<f32>) {
    stage_gradients_from(model, model.forward_to_stage(x, stage), stage, class)
}

/// [`stage_gradients`] from the stage's output, already computed (`forward_to_stage`): a
/// caller that needs the logits first (to choose the class) runs the layers before the stage
/// once, not twice.
pub fn stage_gradients_from(
    model: &Classifier,
    activations: Tensor<4>,
    stage: usize,
    class: usize,
) -> (StageGradients, Vec<f32>) {
    let activations = activations.autodiff().require_grad();
    let logits = model.forward_from_stage(stage, activations.clone());
    let [_, k] = logits.dims();
    let grads = logits
        .clone()
        .slice([0..1, class..class + 1])
        .sum()
        .backward();
    let gradient = activations
        .grad(&grads)
        .expect("the stage output is the autodiff leaf");
    let [_, channels, height, width] = activations.dims();
    let to_vec = |t: Tensor<4>| t.inner().into_data().iter::<f32>().collect::<Vec<f32>>();
    let logits: Vec<f32> = logits.inner().into_data().iter::<f32>().take(k).collect();
    let stage = StageGradients {
        channels,
        height,
        width,
        activations: to_vec(activations),
        gradients: to_vec(gradient),
    };
    (stage, logits)
}

/// The method's map at the network input's resolution (`size` x `size`) from a stage's
/// output: the map at the stage's resolution, resized bilinearly.
pub fn cam_map_at_input(
    kind: CamKind,
    model: &Classifier,
    activations: Tensor<4>,
    stage: usize,
    class: usize,
    size: usize,
) -> Vec<f32> {
    let (gradients, _) = stage_gradients_from(model, activations, stage, class);
    let map = cam_map(kind, &gradients);
    let (h, w) = (gradients.height as u32, gradients.width as u32);
    resize_bilinear(&map, w, h, size as u32, size as u32)
}

/// The method's map (height x width, row-major, non-negative) from a stage's gradients.
pub fn cam_map(kind: CamKind, stage: &StageGradients) -> Vec<f32> {
    let mut map = signed_cam_map(kind, stage);
    // Only evidence for the class is shown, as in every reference implementation.
    map.iter_mut().for_each(|m| *m = m.max(0.0));
    map
}

/// The map before its final ReLU (evidence against the class is negative).
pub fn signed_cam_map(kind: CamKind, stage: &StageGradients) -> Vec<f32> {
    if kind == CamKind::EigenCam {
        return eigen_cam(
            &stage.activations,
            stage.channels,
            stage.height * stage.width,
        );
    }
    let n = stage.height * stage.width;
    let mut map = vec![0f32; n];
    for c in 0..stage.channels {
        let a = &stage.activations[c * n..(c + 1) * n];
        let g = &stage.gradients[c * n..(c + 1) * n];
        match kind {
            CamKind::GradCam => {
                let weight = g.iter().sum::<f32>() / n as f32;
                map.iter_mut().zip(a).for_each(|(m, a)| *m += weight * a);
            }
            CamKind::GradCamPlusPlus => {
                let weight = grad_cam_plus_plus_weight(a, g);
                map.iter_mut().zip(a).for_each(|(m, a)| *m += weight * a);
            }
            CamKind::HiResCam => {
                map.iter_mut()
                    .zip(a.iter().zip(g))
                    .for_each(|(m, (a, g))| *m += g * a);
            }
            CamKind::LayerCam => {
                map.iter_mut()
                    .zip(a.iter().zip(g))
                    .for_each(|(m, (a, g))| *m += g.max(0.0) * a);
            }
            CamKind::EigenCam => unreachable!("Eigen-CAM returned above"),
        }
    }
    map
}

/// Power-iteration steps at most; the relative change test ends it far sooner unless the two
/// leading components are nearly tied (then either is an honest answer).
const POWER_ITERATIONS: usize = 500;

/// Eigen-CAM: the activations as a positions x channels matrix X, each channel centred over
/// the positions; the map is X v for X's first right singular vector v, i.e. sqrt(lambda) u
/// for the top eigenvector u of X X^T, found by power iteration. A singular vector's sign is
/// arbitrary: it is chosen so the map agrees with the stage's mean activation over channels
/// (high where the stage responds), which makes the result deterministic.
pub fn eigen_cam(activations: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let x = |c: usize, p: usize| f64::from(activations[c * positions + p]);
    let means: Vec<f64> = (0..channels)
        .map(|c| (0..positions).map(|p| x(c, p)).sum::<f64>() / positions.max(1) as f64)
        .collect();
    let centred: Vec<f64> = (0..channels * positions)
        .map(|i| x(i / positions, i % positions) - means[i / positions])
        .collect();
    // u <- X X^T u. The start X w lies in X's column space (a positive vector would not do:
    // centring puts the all-ones vector in X^T's null space); w's uneven weights keep it off
    // any one channel's special direction.
    let apply = |u: &[f64]| -> Vec<f64> {
        let xt_u: Vec<f64> = (0..channels)
            .map(|c| {
                (0..positions)
                    .map(|p| centred[c * positions + p] * u[p])
                    .sum()
            })
            .collect();
        (0..positions)
            .map(|p| {
                (0..channels)
                    .map(|c| centred[c * positions + p] * xt_u[c])
                    .sum()
            })
            .collect()
    };
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let weights: Vec<f64> = (0..channels)
        .map(|c| 1.0 + (c as f64 * 0.618_033_988_7).fract())
        .collect();
    let mut u: Vec<f64> = (0..positions)
        .map(|p| {
            (0..channels)
                .map(|c| centred[c * positions + p] * weights[c])
                .sum()
        })
        .collect();
    let start = norm(&u);
    if start == 0.0 {
        return vec![0.0; positions];
    }
    u.iter_mut().for_each(|a| *a /= start);
    let mut lambda = 0.0;
    for _ in 0..POWER_ITERATIONS {
        let next = apply(&u);
        let next_lambda = norm(&next);
        if next_lambda == 0.0 {
            return vec![0.0; positions];
        }
        u = next.iter().map(|a| a / next_lambda).collect();
        let settled = (next_lambda - lambda).abs() <= 1e-12 * next_lambda;
        lambda = next_lambda;
        if settled {
            break;
        }
    }
    let mean_map: Vec<f64> = (0..positions)
        .map(|p| (0..channels).map(|c| x(c, p)).sum::<f64>() / channels.max(1) as f64)
        .collect();
    let agreement: f64 = u.iter().zip(&mean_map).map(|(a, b)| a * b).sum();
    let sign = if agreement < 0.0 { -1.0 } else { 1.0 };
    u.iter()
        .map(|a| (sign * lambda.sqrt() * a) as f32)
        .collect()
}

/// Grad-CAM++'s channel weight in pytorch-grad-cam's closed form (the exponential of the
/// score is assumed, so higher derivatives are powers of the gradient):
/// alpha = g^2 / (2 g^2 + sum(A) g^3), weight = sum(alpha * relu(g)) where g != 0.
fn grad_cam_plus_plus_weight(a: &[f32], g: &[f32]) -> f32 {
    let sum_a: f32 = a.iter().sum();
    g.iter()
        .filter(|&&g| g != 0.0)
        .map(|&g| {
            let g2 = g * g;
            let alpha = g2 / (2.0 * g2 + sum_a * g2 * g + 1e-7);
            alpha * g.max(0.0)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;
    use medxfer_models::{BackboneKind, Head, HeadConfig};

    use super::*;

    /// Two channels of 2 x 2 with chosen activations and gradients, each map worked by hand.
    #[test]
    fn each_cam_matches_its_hand_computed_map() {
        let stage = StageGradients {
            channels: 2,
            height: 2,
            width: 2,
            activations: vec![1.0, 2.0, 0.0, 4.0, /* channel 1 */ 3.0, 0.0, 1.0, 1.0],
            gradients: vec![
                0.5, 0.5, 0.5, 0.5, /* channel 1 */ -1.0, 0.0, 1.0, -2.0,
            ],
        };
        // Grad-CAM: weights mean(g) = 0.5 and -0.5; 0.5 A0 - 0.5 A1 = [-1, 1, -0.5, 1.5].
        assert_close(&cam_map(CamKind::GradCam, &stage), &[0.0, 1.0, 0.0, 1.5]);
        // HiResCAM: g0 A0 + g1 A1 = [0.5-3, 1+0, 0+1, 2-2].
        assert_close(&cam_map(CamKind::HiResCam, &stage), &[0.0, 1.0, 1.0, 0.0]);
        // LayerCAM: relu(g0) A0 + relu(g1) A1 = [0.5, 1, 0+1, 2].
        assert_close(&cam_map(CamKind::LayerCam, &stage), &[0.5, 1.0, 1.0, 2.0]);
        // Grad-CAM++: channel 0, sum A = 7, g = 0.5: alpha = 0.25 / (0.5 + 7 * 0.125) = 2/11,
        // weight = 4 * 2/11 * 0.5 = 4/11. Channel 1, sum A = 5: only g = 1 is positive,
        // alpha = 1 / (2 + 5) = 1/7, weight = 1/7. Map = 4/11 A0 + 1/7 A1.
        let (w0, w1) = (4.0 / 11.0, 1.0 / 7.0);
        let expected = [w0 + 3.0 * w1, 2.0 * w0, w1, 4.0 * w0 + w1];
        assert_close(&cam_map(CamKind::GradCamPlusPlus, &stage), &expected);
    }

    /// Two channels over 2 x 2 positions. Channel 0 = [0, 0, 2, 2] and channel 1 =
    /// [0, 1, 0, 1] centre to [-1, -1, 1, 1] and [-0.5, 0.5, -0.5, 0.5]: X^T X = diag(4, 1),
    /// so v = (1, 0) and the map is X v = [-1, -1, 1, 1] up to sign; the mean activation
    /// [0, 0.5, 1, 1.5] fixes the sign, and the ReLU gives [0, 0, 1, 1]. Swapping channel 0's
    /// halves flips the mean activation's slope and so the map: [1, 1, 0, 0].
    #[test]
    fn eigen_cam_is_the_first_principal_component_by_hand() {
        let stage = |channel0: [f32; 4]| StageGradients {
            channels: 2,
            height: 2,
            width: 2,
            activations: [channel0, [0.0, 1.0, 0.0, 1.0]].concat(),
            // Eigen-CAM ignores gradients: garbage here must not matter.
            gradients: vec![9.0, -9.0, 3.0, 0.0, 1.0, 1.0, -5.0, 2.0],
        };
        let up = stage([0.0, 0.0, 2.0, 2.0]);
        assert_close(
            &signed_cam_map(CamKind::EigenCam, &up),
            &[-1.0, -1.0, 1.0, 1.0],
        );
        assert_close(&cam_map(CamKind::EigenCam, &up), &[0.0, 0.0, 1.0, 1.0]);
        let down = stage([2.0, 2.0, 0.0, 0.0]);
        assert_close(&cam_map(CamKind::EigenCam, &down), &[1.0, 1.0, 0.0, 0.0]);
        // Constant activations have no principal component: an all-zero map, not NaN.
        let flat = StageGradients {
            activations: vec![3.0; 8],
            ..up
        };
        assert_close(&cam_map(CamKind::EigenCam, &flat), &[0.0; 4]);
    }

    /// Tolerance 1e-5: single-precision sums of a handful of terms of order 1.
    fn assert_close(got: &[f32], expected: &[f32]) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-5, "got {got:?}, expected {expected:?}");
        }
    }

    /// On the last stage, with a linear head on average pooling, d logit_c / d A_k(i,j) is
    /// W[k, c] / (h w) exactly, so Grad-CAM is relu(sum_k W[k, c] A_k) / (h w) (the CAM of
    /// Zhou et al. 2016): burn's gradient through a real backbone must reproduce it.
    #[test]
    fn grad_cam_on_the_last_stage_is_the_class_activation_map() {
        let device = Device::flex();
        let model =
            Classifier::new(BackboneKind::Resnet18, 1, &HeadConfig::Linear, 2, &device).valid();
        let x = Tensor::random([1, 1, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let last = model.backbone.num_stages() - 1;
        let (stage, _) = stage_gradients(&model, x, last, 1);
        let Head::Linear(linear) = &model.head else {
            unreachable!()
        };
        let weights: Vec<f32> = linear.weight.val().into_data().iter::<f32>().collect();
        let n = stage.height * stage.width;
        let mut expected = vec![0f32; n];
        for k in 0..stage.channels {
            let w = weights[k * 2 + 1] / n as f32;
            for (e, a) in expected
                .iter_mut()
                .zip(&stage.activations[k * n..(k + 1) * n])
            {
                *e += w * a;
            }
        }
        expected.iter_mut().for_each(|e| *e = e.max(0.0));
        let got = cam_map(CamKind::GradCam, &stage);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g - e).abs() <= 1e-4 * scale,
                "got {got:?}, expected {expected:?}"
            );
        }
    }
}
