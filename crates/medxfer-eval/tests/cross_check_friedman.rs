//! The Friedman test and the chi-square upper tail against SciPy (`friedmanchisquare`,
//! `chi2.sf`), fixtures from `fixtures/make_fixtures.py`.

mod support;

use medxfer_eval::friedman::friedman;
use medxfer_eval::special::chi_square_upper_tail;
use support::*;

#[test]
fn friedman_matches_scipy() {
    let all = load("friedman.json");
    let cases = all["cases"]["friedman"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let blocks: Vec<Vec<f64>> = case["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(f64s)
            .collect();
        let r = friedman(&blocks).unwrap();
        assert_close(
            r.statistic,
            num(&case["statistic"]),
            1e-10,
            &format!("{name} statistic"),
        );
        assert_close(
            r.p_value,
            num(&case["p_value"]),
            1e-10,
            &format!("{name} p"),
        );
    }
    assert!(cases.len() >= 10);
}

#[test]
fn chi_square_tail_matches_scipy() {
    let all = load("friedman.json");
    for case in all["cases"]["chi2_sf"].as_array().unwrap() {
        let (x, df) = (num(&case["x"]), num(&case["df"]));
        assert_close(
            chi_square_upper_tail(x, df),
            num(&case["sf"]),
            1e-12,
            &format!("chi2.sf({x}, {df})"),
        );
    }
}
