; Scopes: a file, a component, a pipeline and each block of statements.
(source_file) @scope
(component) @scope
(pipeline) @scope
(block) @scope

; Definitions
(component
  name: (identifier) @definition.function)

(pipeline
  name: (identifier) @definition.function)

(artifact
  name: (identifier) @definition.type)

(input_declaration
  name: (identifier) @definition.parameter)

(output_declaration
  name: (identifier) @definition.field)

(parameter
  name: (identifier) @definition.parameter)

(task_binding
  name: (identifier) @definition.var)

(for_statement
  variable: (identifier) @definition.var)

; References: names read in expressions
(identifier) @reference
