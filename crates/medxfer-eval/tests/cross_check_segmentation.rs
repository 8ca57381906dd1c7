//! Distance transform against scipy.ndimage.distance_transform_edt and segmentation metrics
//! against MONAI's definitions written with SciPy.

mod support;

use medxfer_eval::distance_transform::distance_transform_edt;
use medxfer_eval::segmentation::segmentation_metrics;
use support::*;

#[test]
fn edt_matches_scipy() {
    let cases = cases("edt.json");
    for (i, case) in cases.iter().enumerate() {
        let shape = usizes(&case["shape"]);
        let spacing = f64s(&case["spacing"]);
        let got = distance_transform_edt(&bools(&case["mask"]), &shape, &spacing).unwrap();
        assert_all_close(
            &got,
            &f64s(&case["distance"]),
            1e-10,
            &format!("edt case {i} {shape:?}"),
        );
    }
    eprintln!("checked {} distance transforms against SciPy", cases.len());
}

#[test]
fn segmentation_metrics_match_monai_definitions() {
    let cases = cases("segmentation.json");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let shape = usizes(&case["shape"]);
        let m = segmentation_metrics(
            &bools(&case["pred"]),
            &bools(&case["truth"]),
            &shape,
            &f64s(&case["spacing"]),
        )
        .unwrap();
        for (key, got) in [
            ("dice", m.dice),
            ("iou", m.iou),
            ("pixel_accuracy", m.pixel_accuracy),
            ("balanced_pixel_accuracy", m.balanced_pixel_accuracy),
            ("precision", m.precision),
            ("recall", m.recall),
            ("hausdorff", m.hausdorff),
            ("hd95", m.hd95),
            ("assd", m.assd),
        ] {
            assert_close(got, num(&case[key]), 1e-10, &format!("{name} {key}"));
        }
    }
    eprintln!("checked {} segmentation cases", cases.len());
}
