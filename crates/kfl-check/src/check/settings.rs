//! Fields and blocks that components and tasks share: `retries`, `timeout`, `cache`, `tolerations`,
//! the `env`, `node_selector`, `labels` and `annotations` blocks, `secret(…)`, and fields or blocks
//! that are unknown or set twice. The `resources` block is in [`super::resources`].

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_model::fields::{self, FieldKind, Place};
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

use crate::check::helpers::{help_did_you_mean, strip_parens, HelpIfNone};
use crate::check::Checker;
use crate::k8s;
use crate::types::Ty;

impl Checker<'_> {
    /// Checks a field that is a setting of components and tasks (a row of the field table that a
    /// task may write: `retries`, `timeout`, `cache`, `tolerations`, …) by the row's kind. Returns
    /// false if the name is not such a field.
    pub(super) fn check_common_field(&mut self, field: &ast::Field) -> bool {
        let Some(spec) = fields::field(&field.name.text) else { return false };
        if !spec.allowed_in(Place::Task) || spec.is_keyed_block() {
            return false;
        }
        match spec.kind {
            FieldKind::Retries => {
                let ty = self.literal_ty(&field.value);
                if self.expect_type(&field.value, &ty, &Ty::Int, &format!("`{}`", spec.name)) {
                    if let ExprKind::Number(n) = &strip_parens(&field.value).kind {
                        let ok = n.value.parse::<i64>().is_ok_and(|v| (0..=100).contains(&v));
                        if !ok {
                            self.push(
                                Diagnostic::new(Code::InvalidRetries, field.value.span, format!("`{} = {}` is out of range", spec.name, n.value))
                                    .label("not from 0 to 100")
                                    .help("retries counts how often a failed task is tried again: a whole number from 0 to 100"),
                            );
                        }
                    }
                }
            }
            FieldKind::Quantity(kind) => self.check_quantity(&field.value, kind),
            FieldKind::Bool => {
                let ty = self.literal_ty(&field.value);
                self.expect_type(&field.value, &ty, &Ty::Bool, &format!("`{}`", spec.name));
            }
            FieldKind::Tolerations => self.check_tolerations(&field.value),
            _ => return false,
        }
        true
    }

    fn check_tolerations(&mut self, value: &Expr) {
        let ExprKind::List(items) = &strip_parens(value).kind else {
            self.push(
                Diagnostic::new(Code::FieldTypeMismatch, value.span, "`tolerations` expects a list of maps")
                    .label("not a list")
                    .help("write `tolerations = [{key: \"nvidia.com/gpu\", operator: \"Exists\", effect: \"NoSchedule\"}]`"),
            );
            return;
        };
        const KEYS: [&str; 5] = ["key", "operator", "value", "effect", "toleration_seconds"];
        for item in items {
            let ExprKind::Map(entries) = &strip_parens(item).kind else {
                self.push(
                    Diagnostic::new(Code::FieldTypeMismatch, item.span, "a toleration is a map")
                        .label("not a map")
                        .help("write `{key: \"nvidia.com/gpu\", operator: \"Exists\", effect: \"NoSchedule\"}`"),
                );
                continue;
            };
            for entry in entries {
                let key = entry.key.text();
                if !KEYS.contains(&key) {
                    self.push(
                        Diagnostic::new(
                            Code::UnknownField,
                            entry.key.span(),
                            format!("a toleration has no field `{key}`"),
                        )
                        .label("unknown field")
                        .maybe_help(help_did_you_mean(key, KEYS))
                        .help_if_none("a toleration has `key`, `operator`, `value`, `effect` and `toleration_seconds`"),
                    );
                    continue;
                }
                let ty = self.literal_ty(&entry.value);
                let expected = if key == "toleration_seconds" { Ty::Int } else { Ty::String };
                self.expect_type(&entry.value, &ty, &expected, &format!("`{key}`"));
            }
        }
    }

    /// Checks a `name { … }` block. Returns false if the block name is unknown.
    pub(super) fn check_block(&mut self, block: &ast::KvBlock) -> bool {
        let mut seen: HashMap<String, Span> = HashMap::default();
        for entry in &block.entries {
            let key = entry.key.text();
            if let Some(first) = seen.get(key) {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateField,
                        entry.key.span(),
                        format!("`{key}` is set twice in `{}`", block.name.text),
                    )
                    .label("set again here")
                    .secondary(Label::new(*first, "first set here"))
                    .help("remove one of them"),
                );
                continue;
            }
            seen.insert(key.to_string(), entry.key.span());
        }
        // The block's rows in the field table say what its entries are.
        let keyed = fields::field(&block.name.text).filter(|f| f.is_keyed_block()).map(|f| f.kind);
        match keyed {
            None if fields::entries_of(&block.name.text).next().is_some() => self.check_resources(block),
            Some(FieldKind::Env) => {
                for entry in &block.entries {
                    if let Err(why) = k8s::check_env_name(entry.key.text()) {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidEnvName,
                                entry.key.span(),
                                format!("`{}` is not a valid environment variable name", entry.key.text()),
                            )
                            .label(why)
                            .help("use letters, digits and `_`, not starting with a digit, e.g. `HF_TOKEN`"),
                        );
                    }
                    match &strip_parens(&entry.value).kind {
                        ExprKind::Call(call) if call.callee.text == "secret" => self.check_secret(call),
                        _ => {
                            let ty = self.literal_ty(&entry.value);
                            if !matches!(ty, Ty::String | Ty::Int | Ty::Float | Ty::Bool | Ty::Unknown) {
                                self.push(
                                    Diagnostic::new(
                                        Code::FieldTypeMismatch,
                                        entry.value.span,
                                        format!("an environment variable is a string, found {ty}"),
                                    )
                                    .label("not a string")
                                    .help("write a string, or `secret(name: \"…\", key: \"…\")`"),
                                );
                            }
                        }
                    }
                }
            }
            Some(kind @ (FieldKind::Labels | FieldKind::Annotations)) => {
                for entry in &block.entries {
                    if let Err(why) = k8s::check_label_key(entry.key.text()) {
                        self.push(
                            Diagnostic::new(Code::InvalidLabelKey, entry.key.span(), format!("`{}` is not a valid Kubernetes label key", entry.key.text()))
                                .label(why)
                                .help("a key is an optional DNS subdomain prefix and `/`, then a name of letters, digits, `-`, `_` and `.`, e.g. `cloud.google.com/gke-nodepool`"),
                        );
                    }
                    let ty = self.literal_ty(&entry.value);
                    if !matches!(ty, Ty::String | Ty::Unknown) {
                        self.push(
                            Diagnostic::new(
                                Code::FieldTypeMismatch,
                                entry.value.span,
                                format!("`{}` values are strings, found {ty}", block.name.text),
                            )
                            .label("not a string")
                            .help("quote the value"),
                        );
                    } else if kind == FieldKind::Labels {
                        // The backends read the value through parentheses too.
                        if let ExprKind::Str(s) = &strip_parens(&entry.value).kind {
                            if let Err(why) = k8s::check_label_value(&s.value) {
                                self.push(
                                    Diagnostic::new(Code::InvalidLabelValue, s.span, format!("`{}` is not a valid Kubernetes label value", s.value))
                                        .label(why)
                                        .help("a label value has at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
                                );
                            }
                        }
                    }
                }
            }
            _ => return false,
        }
        true
    }

    fn check_secret(&mut self, call: &ast::Call) {
        let mut has = HashSet::default();
        for (position, arg) in call.args.iter().enumerate() {
            let Some(name) = &arg.name else {
                let which = ["name", "key"].get(position).copied();
                self.push(
                    Diagnostic::new(Code::PositionalArgument, arg.span, "arguments of `secret` must be named")
                        .label("unnamed argument")
                        .help(match which {
                            Some(w) => format!("name it: `{w}: …`"),
                            None => "write `secret(name: \"my-secret\", key: \"token\")`".to_string(),
                        }),
                );
                // Count it where it stands, so the call is not also reported as missing it.
                if let Some(w) = which {
                    has.insert(w);
                }
                continue;
            };
            if name.text != "name" && name.text != "key" {
                self.push(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        name.span,
                        format!("`secret` has no argument `{}`", name.text),
                    )
                    .label("unknown argument")
                    .maybe_help(help_did_you_mean(&name.text, ["name", "key"]))
                    .help_if_none("`secret` takes `name` (the Kubernetes secret) and `key` (the entry in it)"),
                );
                continue;
            }
            has.insert(name.text.as_str());
            let ty = self.literal_ty(&arg.value);
            self.expect_type(&arg.value, &ty, &Ty::String, &format!("`{}`", name.text));
        }
        let missing: Vec<&str> = ["name", "key"].into_iter().filter(|n| !has.contains(n)).collect();
        if !missing.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::MissingArgument,
                    call.callee.span,
                    format!("`secret` needs `{}`", missing.join("` and `")),
                )
                .label("missing arguments")
                .help("write `secret(name: \"my-secret\", key: \"token\")`"),
            );
        }
    }

    pub(super) fn check_duplicate_fields<'a>(&mut self, names: impl IntoIterator<Item = &'a Ident>) {
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for name in names {
            if let Some(first) = seen.get(name.text.as_str()) {
                self.push(
                    Diagnostic::new(Code::DuplicateField, name.span, format!("`{}` is set twice", name.text))
                        .label("set again here")
                        .secondary(Label::new(*first, "first set here"))
                        .help("remove one of them"),
                );
            } else {
                seen.insert(&name.text, name.span);
            }
        }
    }

    /// A field the table does not allow in `place`; the help lists what is allowed there.
    pub(super) fn unknown_field(&mut self, name: &Ident, place: Place) {
        let what = place.describe();
        let allowed: Vec<&str> = fields::fields_in(place).map(|f| f.name).collect();
        let blocks = fields::block_names();
        let candidates: Vec<&str> = allowed.iter().copied().chain(blocks.iter().copied()).collect();
        self.push(
            Diagnostic::new(Code::UnknownField, name.span, format!("{what} has no field `{}`", name.text))
                .label("unknown field")
                .maybe_help(help_did_you_mean(&name.text, candidates.iter().copied()))
                .help_if_none(format!("{what} sets {}, and the blocks {}", allowed.join(", "), blocks.join(", "))),
        );
    }

    pub(super) fn unknown_block(&mut self, name: &Ident, what: &str) {
        let blocks = fields::block_names();
        self.push(
            Diagnostic::new(Code::UnknownField, name.span, format!("{what} has no block `{}`", name.text))
                .label("unknown block")
                .maybe_help(help_did_you_mean(&name.text, blocks.iter().copied()))
                .help_if_none(format!("the blocks are {}", blocks.join(", "))),
        );
    }
}
