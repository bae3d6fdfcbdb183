//! KFL types as KFP types: `parameterType` enums, artifact schema titles and Python annotations.

use kfl_dag::{IoType, ParamType};
use serde_json::{json, Map, Value as Json};

/// The type of a value that crosses a DAG boundary: a parameter or an artifact (or a list of them).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum ChannelType {
    Param(ParamType),
    Artifact { builtin: String, list: bool },
}

impl ChannelType {
    pub(crate) fn of(ty: &IoType) -> ChannelType {
        match ty {
            IoType::Parameter(p) => ChannelType::Param(*p),
            IoType::Artifact { builtin, .. } => ChannelType::Artifact { builtin: builtin.clone(), list: false },
            IoType::ArtifactList { builtin, .. } => ChannelType::Artifact { builtin: builtin.clone(), list: true },
        }
    }

    pub(crate) fn is_artifact(&self) -> bool {
        matches!(self, ChannelType::Artifact { .. })
    }

    /// The type of this value collected over the iterations of a loop.
    pub(crate) fn collected(&self) -> ChannelType {
        match self {
            ChannelType::Param(_) => ChannelType::Param(ParamType::List),
            ChannelType::Artifact { builtin, .. } => ChannelType::Artifact { builtin: builtin.clone(), list: true },
        }
    }

    /// An entry of `inputDefinitions` or `outputDefinitions`.
    pub(crate) fn definition(&self) -> Map<String, Json> {
        let mut def = Map::new();
        match self {
            ChannelType::Param(p) => {
                def.insert("parameterType".into(), json!(parameter_type(*p)));
            }
            ChannelType::Artifact { builtin, list } => {
                def.insert("artifactType".into(), artifact_type(builtin));
                if *list {
                    def.insert("isArtifactList".into(), json!(true));
                }
            }
        }
        def
    }
}

/// `ParameterType.ParameterTypeEnum` of pipeline_spec.proto.
pub(crate) fn parameter_type(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "STRING",
        ParamType::Int => "NUMBER_INTEGER",
        ParamType::Float => "NUMBER_DOUBLE",
        ParamType::Bool => "BOOLEAN",
        ParamType::List => "LIST",
        ParamType::Map => "STRUCT",
    }
}

/// The built-in type itself if KFL knows it, otherwise `Artifact`: user types were already resolved to
/// their built-in base by lowering; this only guards the schema title and the Python class name.
/// (KFL's built-in artifact types are the kfp SDK's `system.<name>` schemas, one for one.)
pub(crate) fn builtin_artifact(builtin: &str) -> &str {
    kfl_dag::BUILTIN_ARTIFACTS.iter().copied().find(|b| *b == builtin).unwrap_or("Artifact")
}

pub(crate) fn artifact_type(builtin: &str) -> Json {
    json!({ "schemaTitle": format!("system.{}", builtin_artifact(builtin)), "schemaVersion": "0.0.1" })
}

/// The annotation of a lightweight Python component's parameter, as kfp's executor reads it.
pub(crate) fn python_annotation(ty: &IoType, output: bool) -> String {
    match ty {
        IoType::Parameter(p) => python_param_type(*p).to_string(),
        IoType::Artifact { builtin, .. } => {
            format!("{}[{}]", if output { "Output" } else { "Input" }, builtin_artifact(builtin))
        }
        IoType::ArtifactList { builtin, .. } => {
            format!("{}[List[{}]]", if output { "Output" } else { "Input" }, builtin_artifact(builtin))
        }
    }
}

pub(crate) fn python_param_type(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "str",
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::Bool => "bool",
        ParamType::List => "list",
        ParamType::Map => "dict",
    }
}
