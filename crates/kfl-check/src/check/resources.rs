//! The `resources` block and quantities: CPU, memory and GPU amounts and durations with their units,
//! limits below requests, unknown resources, and `accelerator`, a node label value (not a
//! resource name). A task's block is checked on top of the component's.

use std::collections::BTreeMap;

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_model::fields::{self, Effect, FieldKind, FieldSpec};
use kfl_syntax::ast::{self, Expr, ExprKind};

use crate::check::helpers::{help_did_you_mean, strip_parens, HelpIfNone};
use crate::check::Checker;
use crate::k8s;
use crate::types::Ty;
use crate::units::{self, UnitError};

/// A request or a limit of one Kubernetes resource: its amount in the base unit (millicores,
/// bytes), as written for messages, the row that set it and where.
struct Amount {
    amount: u128,
    text: String,
    kind: units::QuantityKind,
    field: &'static str,
    span: Span,
}

/// Records what a row of the table sets: the request, the limit, or both, of its resource.
fn record(
    amounts: &mut BTreeMap<&'static str, [Option<Amount>; 2]>,
    spec: &'static FieldSpec,
    n: &ast::NumberLit,
    span: Span,
) {
    let Effect::Resource { resource, request, limit } = spec.effect else { return };
    let FieldKind::Quantity(kind) = spec.kind else { return };
    let unit = n.unit.as_deref();
    let (amount, text) = match kind {
        units::QuantityKind::Cpu => match units::parse_cpu(&n.value, unit) {
            Ok(c) => (u128::from(c.millicores()), c.to_string()),
            Err(_) => return,
        },
        units::QuantityKind::Memory => match units::parse_memory(&n.value, unit) {
            Ok(m) => (u128::from(m.bytes()), m.to_string()),
            Err(_) => return,
        },
        _ => return,
    };
    let slot = amounts.entry(resource).or_default();
    for (index, sets) in [request, limit].into_iter().enumerate() {
        if sets {
            slot[index] = Some(Amount { amount, text: text.clone(), kind, field: spec.name, span });
        }
    }
}

/// `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn unit_error_code(error: &UnitError) -> Code {
    match error {
        UnitError::WrongUnit { .. } => Code::WrongUnit,
        UnitError::MissingUnit { .. } => Code::MissingUnit,
        UnitError::NonPositive { .. } | UnitError::Negative { .. } => Code::NonPositiveResource,
        UnitError::NotWhole { .. } => Code::InvalidGpuCount,
        UnitError::Malformed { .. } | UnitError::UnknownUnit { .. } | UnitError::SubSecondUnit { .. } => {
            Code::InvalidQuantity
        }
    }
}

impl Checker<'_> {
    pub(super) fn check_quantity(&mut self, value: &Expr, kind: units::QuantityKind) {
        let value = strip_parens(value);
        let ExprKind::Number(n) = &value.kind else {
            let ty = self.literal_ty(value);
            if !ty.is_unknown() {
                self.push(
                    Diagnostic::new(
                        Code::FieldTypeMismatch,
                        value.span,
                        format!("expected a {}, found {ty}", kind.human_name()),
                    )
                    .label(format!("not a {}", kind.human_name()))
                    .help(kind.how_to_write()),
                );
            }
            return;
        };
        let unit = n.unit.as_deref();
        let result = match kind {
            units::QuantityKind::Cpu => units::parse_cpu(&n.value, unit).map(|_| ()),
            units::QuantityKind::Memory => match units::parse_memory(&n.value, unit) {
                Ok(m) if m.without_unit() => {
                    self.push(
                        Diagnostic::new(
                            Code::MemoryWithoutUnit,
                            value.span,
                            format!("`{}` means {} bytes", n.value, n.value),
                        )
                        .label("no unit: bytes")
                        .help(format!("write a unit: `{}Mi` or `{}Gi`", n.value, n.value)),
                    );
                    Ok(())
                }
                other => other.map(|_| ()),
            },
            units::QuantityKind::Gpu => units::parse_gpu(&n.value, unit).map(|_| ()),
            units::QuantityKind::Duration => units::parse_duration(&n.value, unit).map(|_| ()),
        };
        if let Err(error) = result {
            self.push(
                Diagnostic::new(unit_error_code(&error), value.span, error.to_string())
                    .label(format!("not a valid {}", kind.human_name()))
                    .help(error.help()),
            );
        }
    }

    /// Checks a `resources` block entry by entry against the field table's rows for it, and the
    /// limits against the requests of the same Kubernetes resource.
    pub(super) fn check_resources(&mut self, block: &ast::KvBlock) {
        // Per Kubernetes resource: the request and the limit set so far, with the row and the span
        // that set each, in the resource's base unit.
        let mut amounts: BTreeMap<&'static str, [Option<Amount>; 2]> = BTreeMap::new();
        let mut gpu: Option<u32> = None;
        let mut accelerator = None;
        // A task's block overrides the component's entry by entry: start from the component's values.
        let base = std::mem::take(&mut self.resource_base);
        let number_of = |e: &ast::KvEntry| match &strip_parens(&e.value).kind {
            ExprKind::Number(n) => Some(n.clone()),
            _ => None,
        };
        let is_gpu = |key: &str| fields::block_entry("resources", key).is_some_and(|f| f.effect == Effect::Gpu);
        let mut gpu_present = block.entries.iter().chain(&base).any(|e| is_gpu(e.key.text()));
        for entry in base.iter().filter(|b| !block.entries.iter().any(|e| e.key.text() == b.key.text())) {
            let Some(spec) = fields::block_entry("resources", entry.key.text()) else { continue };
            let Some(n) = number_of(entry) else { continue };
            match spec.effect {
                Effect::Resource { .. } => record(&mut amounts, spec, &n, entry.value.span),
                Effect::Gpu => gpu = units::parse_gpu(&n.value, n.unit.as_deref()).ok(),
                _ => {}
            }
        }
        if gpu_present && gpu.is_none() && !block.entries.iter().any(|e| is_gpu(e.key.text())) {
            gpu_present = base.iter().any(|e| is_gpu(e.key.text()) && number_of(e).is_some());
        }
        for entry in &block.entries {
            let key = entry.key.text();
            let value = strip_parens(&entry.value);
            let Some(spec) = fields::block_entry("resources", key) else {
                let known: Vec<&str> = fields::entries_of("resources").map(|f| f.name).collect();
                self.push(
                    Diagnostic::new(Code::UnknownResource, entry.key.span(), format!("unknown resource `{key}`"))
                        .label("not a resource KFL knows")
                        .maybe_help(help_did_you_mean(key, known.iter().copied()))
                        .help_if_none(format!("resources are {}", and_list(&known))),
                );
                continue;
            };
            match (spec.kind, spec.effect) {
                (FieldKind::Quantity(kind), effect) => {
                    self.check_quantity(value, kind);
                    let ExprKind::Number(n) = &value.kind else { continue };
                    match effect {
                        Effect::Resource { .. } => record(&mut amounts, spec, n, value.span),
                        Effect::Gpu => gpu = units::parse_gpu(&n.value, n.unit.as_deref()).ok(),
                        _ => {}
                    }
                }
                (FieldKind::LabelValue, _) => {
                    let ty = self.literal_ty(value);
                    if self.expect_type(value, &ty, &Ty::String, &format!("`{key}`")) {
                        if let ExprKind::Str(s) = &value.kind {
                            self.check_accelerator(s);
                        }
                    }
                    accelerator = Some(entry.key.span());
                }
                _ => {}
            }
        }
        for [request, limit] in amounts.values() {
            let (Some(request), Some(limit)) = (request, limit) else { continue };
            if limit.amount < request.amount {
                self.push(
                    Diagnostic::new(
                        Code::LimitBelowRequest,
                        limit.span,
                        format!("the {} limit {} is below the request {}", request.kind, limit.text, request.text),
                    )
                    .label("limit below request")
                    .secondary(Label::new(request.span, "requested here"))
                    .help(format!(
                        "raise `{}` to at least `{}`, or lower `{}`",
                        limit.field, request.field, request.field
                    )),
                );
            }
        }
        // An invalid `gpu` entry has its own error; only a missing or zero one makes this warning.
        let gpu_invalid = gpu_present && gpu.is_none();
        if let (Some(span), true) = (accelerator, gpu.unwrap_or(0) == 0 && !gpu_invalid) {
            self.push(
                Diagnostic::new(Code::AcceleratorWithoutGpu, span, "an accelerator is named but no GPU is requested")
                    .label("no `gpu` in this block")
                    .help("add `gpu = 1` (or more), or remove `accelerator`"),
            );
        }
    }

    /// `accelerator` becomes the value of the node label that selects the kind of GPU (the
    /// backends put it in the node selector), so it must be a valid label value.
    fn check_accelerator(&mut self, s: &ast::StrLit) {
        let Err(why) = k8s::check_label_value(&s.value) else { return };
        let help = if s.value.contains('/') {
            "`accelerator` is not a resource name: the GPU resource is requested with `gpu = N`, and `accelerator` names the node label value of the GPU kind, such as `nvidia-tesla-a100` or `nvidia-l4`".to_string()
        } else {
            "`accelerator` names the node label value of the GPU kind, such as `nvidia-tesla-a100`: at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".to_string()
        };
        self.push(
            Diagnostic::new(
                Code::InvalidLabelValue,
                s.span,
                format!("`{}` is not a valid accelerator: it becomes a node label value", s.value),
            )
            .label(why)
            .help(help),
        );
    }
}
