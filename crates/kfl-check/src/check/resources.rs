//! The `resources` block and quantities: CPU, memory and GPU amounts and durations with their units,
//! limits below requests, unknown resources, and `accelerator`, a node label value (not a
//! resource name). A task's block is checked on top of the component's.

use kfl_diagnostics::{Code, Diagnostic, Label};
use kfl_syntax::ast::{self, Expr, ExprKind};

use crate::check::helpers::{help_did_you_mean, strip_parens, HelpIfNone};
use crate::check::Checker;
use crate::k8s;
use crate::types::Ty;
use crate::units::{self, UnitError};

const RESOURCES: [&str; 6] = ["cpu", "memory", "gpu", "accelerator", "cpu_limit", "memory_limit"];

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

    pub(super) fn check_resources(&mut self, block: &ast::KvBlock) {
        let mut cpu = None;
        let mut cpu_limit = None;
        let mut memory = None;
        let mut memory_limit = None;
        let mut gpu: Option<u32> = None;
        let mut accelerator = None;
        // A task's block overrides the component's entry by entry: start from the component's values.
        let base = std::mem::take(&mut self.resource_base);
        let number_of = |e: &ast::KvEntry| match &strip_parens(&e.value).kind {
            ExprKind::Number(n) => Some(n.clone()),
            _ => None,
        };
        let mut gpu_present = block.entries.iter().chain(&base).any(|e| e.key.text() == "gpu");
        for entry in base.iter().filter(|b| !block.entries.iter().any(|e| e.key.text() == b.key.text())) {
            let Some(n) = number_of(entry) else { continue };
            let span = entry.value.span;
            let unit = n.unit.as_deref();
            match entry.key.text() {
                "cpu" => cpu = units::parse_cpu(&n.value, unit).ok().map(|c| (c, span)),
                "cpu_limit" => cpu_limit = units::parse_cpu(&n.value, unit).ok().map(|c| (c, span)),
                "memory" => memory = units::parse_memory(&n.value, unit).ok().map(|m| (m, span)),
                "memory_limit" => memory_limit = units::parse_memory(&n.value, unit).ok().map(|m| (m, span)),
                "gpu" => gpu = units::parse_gpu(&n.value, unit).ok(),
                _ => {}
            }
        }
        if gpu_present && gpu.is_none() && !block.entries.iter().any(|e| e.key.text() == "gpu") {
            gpu_present = base.iter().any(|e| e.key.text() == "gpu" && number_of(e).is_some());
        }
        for entry in &block.entries {
            let key = entry.key.text();
            let value = strip_parens(&entry.value);
            let number = match &value.kind {
                ExprKind::Number(n) => Some(n),
                _ => None,
            };
            match key {
                "cpu" | "cpu_limit" => {
                    self.check_quantity(value, units::QuantityKind::Cpu);
                    let parsed = number.and_then(|n| units::parse_cpu(&n.value, n.unit.as_deref()).ok());
                    if key == "cpu" {
                        cpu = parsed.map(|c| (c, value.span))
                    } else {
                        cpu_limit = parsed.map(|c| (c, value.span))
                    }
                }
                "memory" | "memory_limit" => {
                    self.check_quantity(value, units::QuantityKind::Memory);
                    let parsed = number.and_then(|n| units::parse_memory(&n.value, n.unit.as_deref()).ok());
                    if key == "memory" {
                        memory = parsed.map(|m| (m, value.span))
                    } else {
                        memory_limit = parsed.map(|m| (m, value.span))
                    }
                }
                "gpu" => {
                    self.check_quantity(value, units::QuantityKind::Gpu);
                    gpu = number.and_then(|n| units::parse_gpu(&n.value, n.unit.as_deref()).ok());
                }
                "accelerator" => {
                    let ty = self.literal_ty(value);
                    if self.expect_type(value, &ty, &Ty::String, "`accelerator`") {
                        if let ExprKind::Str(s) = &value.kind {
                            self.check_accelerator(s);
                        }
                    }
                    accelerator = Some(entry.key.span());
                }
                _ => {
                    self.push(
                        Diagnostic::new(Code::UnknownResource, entry.key.span(), format!("unknown resource `{key}`"))
                            .label("not a resource KFL knows")
                            .maybe_help(help_did_you_mean(key, RESOURCES))
                            .help_if_none("resources are cpu, memory, gpu, accelerator, cpu_limit and memory_limit"),
                    );
                }
            }
        }
        if let (Some((request, request_span)), Some((limit, limit_span))) = (cpu, cpu_limit) {
            if limit < request {
                self.push(
                    Diagnostic::new(
                        Code::LimitBelowRequest,
                        limit_span,
                        format!("the CPU limit {limit} is below the request {request}"),
                    )
                    .label("limit below request")
                    .secondary(Label::new(request_span, "requested here"))
                    .help("raise `cpu_limit` to at least `cpu`, or lower `cpu`"),
                );
            }
        }
        if let (Some((request, request_span)), Some((limit, limit_span))) = (memory, memory_limit) {
            if limit < request {
                self.push(
                    Diagnostic::new(
                        Code::LimitBelowRequest,
                        limit_span,
                        format!("the memory limit {limit} is below the request {request}"),
                    )
                    .label("limit below request")
                    .secondary(Label::new(request_span, "requested here"))
                    .help("raise `memory_limit` to at least `memory`, or lower `memory`"),
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
