//! `ClassificationMetrics` artifacts as chart data: a confusion matrix and an ROC curve, in the
//! shape KFP's SDK writes into the artifact's metadata (see docs/metrics.md):
//!
//! ```json
//! { "confusionMatrix": { "annotationSpecs": [{ "displayName": "cat" }, …],
//!                        "rows": [{ "row": [12, 3] }, …] },
//!   "confidenceMetrics": [{ "confidenceThreshold": 0.5, "recall": 0.9, "falsePositiveRate": 0.1 }, …] }
//! ```
//!
//! Pure: from a JSON value to what the page draws, with everything that was dropped said in
//! `problems` (a ragged matrix, points outside [0, 1], too many categories), never a panic.

use serde::Serialize;
use serde_json::Value as Json;

/// At most this many categories are drawn (a bigger matrix is not readable as a chart).
pub const MAX_CATEGORIES: usize = 50;
/// At most this many ROC points are drawn; longer curves are thinned evenly (ends kept).
pub const MAX_ROC_POINTS: usize = 2_000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    /// Row and column names (rows: the actual class, columns: the predicted one, as in KFP).
    pub categories: Vec<String>,
    /// `matrix[actual][predicted]`; empty when there is no (drawable) confusion matrix.
    pub matrix: Vec<Vec<f64>>,
    /// The ROC curve by rising false-positive rate; empty when there is none.
    pub roc: Vec<RocPoint>,
    /// The area under `roc` (trapezoids, from (0,0) to (1,1)), when there is a curve.
    pub auc: Option<f64>,
    /// What could not be drawn, and why.
    pub problems: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    pub threshold: Option<f64>,
}

/// Chart data from a `ClassificationMetrics` value, or `None` when it has neither part.
pub fn classification(value: &Json) -> Option<Classification> {
    let matrix_value = value.get("confusionMatrix");
    let roc_value = value.get("confidenceMetrics");
    if matrix_value.is_none() && roc_value.is_none() {
        return None;
    }
    let mut out =
        Classification { categories: Vec::new(), matrix: Vec::new(), roc: Vec::new(), auc: None, problems: Vec::new() };
    if let Some(m) = matrix_value {
        confusion(m, &mut out);
    }
    if let Some(r) = roc_value {
        roc(r, &mut out);
    }
    Some(out)
}

fn confusion(value: &Json, out: &mut Classification) {
    let names: Vec<String> = match value.get("annotationSpecs").and_then(Json::as_array) {
        Some(specs) => specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.get("displayName").and_then(Json::as_str).map_or_else(|| format!("#{i}"), str::to_string))
            .collect(),
        None => return out.problems.push("confusionMatrix has no annotationSpecs list".into()),
    };
    let Some(rows) = value.get("rows").and_then(Json::as_array) else {
        return out.problems.push("confusionMatrix has no rows list".into());
    };
    if names.is_empty() {
        return out.problems.push("confusionMatrix has no categories".into());
    }
    if names.len() > MAX_CATEGORIES {
        return out
            .problems
            .push(format!("confusionMatrix has {} categories; at most {MAX_CATEGORIES} are drawn", names.len()));
    }
    let n = names.len();
    let mut matrix = Vec::with_capacity(n);
    for (i, row) in rows.iter().enumerate() {
        let cells = row.get("row").and_then(Json::as_array);
        let numbers: Option<Vec<f64>> = cells
            .filter(|c| c.len() == n)
            .and_then(|c| c.iter().map(|v| v.as_f64().filter(|x| x.is_finite() && *x >= 0.0)).collect());
        match numbers {
            Some(numbers) => matrix.push(numbers),
            None => {
                return out
                    .problems
                    .push(format!("confusionMatrix row {i} is not {n} counts (one per category, none negative)"))
            }
        }
    }
    if matrix.len() != n {
        return out.problems.push(format!("confusionMatrix has {} rows for {n} categories", matrix.len()));
    }
    out.categories = names;
    out.matrix = matrix;
}

fn roc(value: &Json, out: &mut Classification) {
    let Some(entries) = value.as_array() else {
        return out.problems.push("confidenceMetrics is not a list".into());
    };
    let rate = |entry: &Json, key: &str| entry.get(key).and_then(Json::as_f64).filter(|x| (0.0..=1.0).contains(x));
    let mut points: Vec<RocPoint> = Vec::new();
    let mut dropped = 0usize;
    for entry in entries {
        match (rate(entry, "falsePositiveRate"), rate(entry, "recall")) {
            (Some(fpr), Some(tpr)) => points.push(RocPoint {
                fpr,
                tpr,
                threshold: entry.get("confidenceThreshold").and_then(Json::as_f64).filter(|x| x.is_finite()),
            }),
            _ => dropped += 1,
        }
    }
    if dropped > 0 {
        out.problems.push(format!(
            "{dropped} of {} confidenceMetrics entries have no falsePositiveRate and recall between 0 and 1",
            entries.len()
        ));
    }
    if points.is_empty() {
        return;
    }
    points.sort_by(|a, b| a.fpr.total_cmp(&b.fpr).then(a.tpr.total_cmp(&b.tpr)));
    // The area from (0,0) through the points to (1,1), over every point (before thinning).
    let mut area = 0.0;
    let mut last = (0.0, 0.0);
    for p in points.iter().map(|p| (p.fpr, p.tpr)).chain(std::iter::once((1.0, 1.0))) {
        area += (p.0 - last.0) * (p.1 + last.1) / 2.0;
        last = p;
    }
    out.auc = Some(area);
    if points.len() > MAX_ROC_POINTS {
        let step = (points.len() - 1) as f64 / (MAX_ROC_POINTS - 1) as f64;
        let total = points.len();
        points = (0..MAX_ROC_POINTS).map(|i| points[((i as f64 * step).round() as usize).min(total - 1)]).collect();
        out.problems.push(format!("the ROC curve has {total} points; {MAX_ROC_POINTS} of them are drawn"));
    }
    out.roc = points;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kfp_s_shape_becomes_a_matrix_and_a_curve_with_its_area() {
        let value = json!({
            "confusionMatrix": { "annotationSpecs": [{ "displayName": "<b>cat</b>" }, { "displayName": "dog" }],
                                 "rows": [{ "row": [8, 2] }, { "row": [1, 9] }] },
            "confidenceMetrics": [
                { "confidenceThreshold": 0.2, "recall": 1.0, "falsePositiveRate": 0.5 },
                { "confidenceThreshold": 0.8, "recall": 0.5, "falsePositiveRate": 0.0 },
            ],
        });
        let c = classification(&value).expect("chart data");
        assert_eq!(c.categories, ["<b>cat</b>", "dog"]);
        assert_eq!(c.matrix, [[8.0, 2.0], [1.0, 9.0]]);
        assert_eq!(c.roc.iter().map(|p| (p.fpr, p.tpr)).collect::<Vec<_>>(), [(0.0, 0.5), (0.5, 1.0)]);
        // (0,0)→(0,.5): 0; (0,.5)→(.5,1): .375; (.5,1)→(1,1): .5.
        assert_eq!(c.auc, Some(0.875));
        assert!(c.problems.is_empty());
    }

    #[test]
    fn bad_parts_are_dropped_and_said() {
        assert_eq!(classification(&json!({ "accuracy": 0.9 })), None);
        let ragged = classification(&json!({ "confusionMatrix": {
            "annotationSpecs": [{ "displayName": "a" }, {}], "rows": [{ "row": [1, 2] }, { "row": [3] }] } }))
        .expect("some");
        assert!(ragged.matrix.is_empty() && ragged.problems[0].contains("row 1"), "{ragged:?}");
        let short = classification(&json!({ "confusionMatrix": {
            "annotationSpecs": [{ "displayName": "a" }, {}], "rows": [{ "row": [1, 2] }] } }))
        .expect("some");
        assert!(short.problems[0].contains("1 rows for 2 categories"), "{short:?}");
        let negative = classification(&json!({ "confusionMatrix": {
            "annotationSpecs": [{}], "rows": [{ "row": [-1] }] } }))
        .expect("some");
        assert!(negative.matrix.is_empty(), "{negative:?}");
        let huge: Vec<Json> = (0..51).map(|i| json!({ "displayName": i.to_string() })).collect();
        let wide =
            classification(&json!({ "confusionMatrix": { "annotationSpecs": huge, "rows": [] } })).expect("some");
        assert!(wide.problems[0].contains("51 categories"), "{wide:?}");
        let points = classification(&json!({ "confidenceMetrics": [
            { "recall": 2.0, "falsePositiveRate": 0.1 }, { "recall": "x" }, 7,
            { "recall": 0.5, "falsePositiveRate": 0.5, "confidenceThreshold": "high" } ] }))
        .expect("some");
        assert_eq!(points.roc, [RocPoint { fpr: 0.5, tpr: 0.5, threshold: None }]);
        assert!(points.problems[0].starts_with("3 of 4"), "{points:?}");
        let not_list = classification(&json!({ "confidenceMetrics": {} })).expect("some");
        assert!(not_list.roc.is_empty() && not_list.auc.is_none() && not_list.problems.len() == 1);
    }

    #[test]
    fn a_long_curve_is_thinned_keeping_its_ends_and_its_area() {
        let entries: Vec<Json> = (0..=100_000)
            .map(|i| {
                let x = f64::from(i) / 100_000.0;
                json!({ "falsePositiveRate": x, "recall": x.sqrt() })
            })
            .collect();
        let c = classification(&json!({ "confidenceMetrics": entries })).expect("some");
        assert_eq!(c.roc.len(), MAX_ROC_POINTS);
        assert_eq!((c.roc[0].fpr, c.roc[MAX_ROC_POINTS - 1].fpr), (0.0, 1.0));
        assert!((c.auc.unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-3, "{:?}", c.auc);
    }
}
