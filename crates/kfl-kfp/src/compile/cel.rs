//! Conditions as CEL: the `triggerPolicy.condition` of a condition's sub-DAG, over the inputs of
//! that sub-DAG (parameters as KFP passes them: numbers as doubles, loop items as JSON strings).

use kfl_dag::{Condition, Operand, ParamType, Source, Value};

use super::{Compiler, Expr};
use crate::types::ChannelType;

impl Compiler<'_> {
    /// The CEL expression of a condition, over the inputs of the condition's sub-DAG.
    pub(super) fn cel(&mut self, condition: &Condition, scope: usize) -> String {
        match condition {
            Condition::Is(operand) => {
                let (text, _) = self.cel_operand(operand, scope, false);
                format!("{text} == true")
            }
            Condition::Compare(op, a, b) => {
                let ints = self.operand_type(a) == Some(ParamType::Int) && self.operand_type(b) == Some(ParamType::Int);
                let (a, _) = self.cel_operand(a, scope, ints);
                let (b, _) = self.cel_operand(b, scope, ints);
                format!("{a} {} {b}", op.symbol())
            }
            Condition::And(a, b) => format!("{} && {}", self.cel_nested(a, scope), self.cel_nested(b, scope)),
            Condition::Or(a, b) => format!("{} || {}", self.cel_nested(a, scope), self.cel_nested(b, scope)),
            Condition::Not(a) => format!("!({})", self.cel(a, scope)),
        }
    }

    pub(super) fn cel_nested(&mut self, condition: &Condition, scope: usize) -> String {
        let text = self.cel(condition, scope);
        match condition {
            Condition::And(..) | Condition::Or(..) => format!("({text})"),
            _ => text,
        }
    }

    pub(super) fn operand_type(&self, operand: &Operand) -> Option<ParamType> {
        let ty = match operand {
            Operand::Value(v) => return Some(ParamType::of(v)),
            Operand::Param(p) => self.origin(&Source::Param(p.clone()))?.ty,
            Operand::Output { task, output } => self.output_type(*task, output),
            Operand::LoopItem { group, field: None } => self.loop_item_type(*group),
            Operand::LoopItem { group, field: Some(f) } => self.loop_field_type(*group, f),
        };
        match ty {
            ChannelType::Param(p) => Some(p),
            ChannelType::Artifact { .. } => None,
        }
    }

    /// An operand in CEL. KFP passes numbers as doubles: `int(…)` makes integer comparisons exact,
    /// as kfp's compiler does; an integer literal compared with a double is written as a double.
    pub(super) fn cel_operand(&mut self, operand: &Operand, scope: usize, ints: bool) -> (String, Option<ParamType>) {
        let source = match operand {
            Operand::Value(v) => return (cel_literal(v, ints), Some(ParamType::of(v))),
            Operand::Param(p) => Source::Param(p.clone()),
            Operand::Output { task, output } => Source::Output { task: *task, output: output.clone() },
            Operand::LoopItem { group, field } => Source::LoopItem { group: *group, field: field.clone() },
        };
        let ty = self.operand_type(operand);
        match self.resolve(&source, scope).map(|a| a.expr) {
            Some(Expr::ComponentInput(name)) => {
                let text = format!("inputs.parameter_values['{name}']");
                (if ints { format!("int({text})") } else { text }, ty)
            }
            Some(Expr::Constant(value)) => (value.to_string(), ty),
            _ => ("null".to_string(), ty),
        }
    }
}

pub(super) fn cel_literal(value: &Value, ints: bool) -> String {
    match value {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Int(i) if ints => i.to_string(),
        // A double, so that it compares with the doubles KFP passes.
        Value::Int(i) => format!("{i}.0"),
        Value::Float(_) => value.to_json().to_string(),
        Value::Bool(b) => b.to_string(),
        Value::List(_) | Value::Map(_) => value.to_json().to_string(),
    }
}

pub(super) fn field_selector(field: &str) -> String {
    format!("parseJson(string_value)[\"{field}\"]")
}
