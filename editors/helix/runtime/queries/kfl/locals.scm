; Scopes, definitions and references: names a definition highlights get the same scope.
(source_file) @local.scope
(component) @local.scope
(pipeline) @local.scope
(block) @local.scope

(parameter
  name: (identifier) @local.definition.variable.parameter)

(input_declaration
  name: (identifier) @local.definition.variable.parameter)

(identifier) @local.reference
