; The outline panel: items, and the members of components and statements of pipelines that name
; something.
(component
  "component" @context
  name: (identifier) @name) @item

(pipeline
  "pipeline" @context
  name: (identifier) @name) @item

(artifact
  "artifact" @context
  name: (identifier) @name) @item

(input_declaration
  "input" @context
  name: (identifier) @name) @item

(output_declaration
  "output" @context
  name: (identifier) @name) @item

(task_binding
  name: (identifier) @name) @item

(output_statement
  "output" @context
  name: (identifier) @name) @item
