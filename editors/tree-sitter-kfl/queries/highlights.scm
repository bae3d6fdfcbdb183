; Highlights for KFL, in the capture names of Neovim 0.7 and nvim-treesitter of that time (`@field`,
; `@parameter`, `@include`, …). When several patterns capture the same text, the last one wins, so
; general patterns come first. tests/editors/highlight-classes.txt maps each token class to the
; capture used here, in editors/helix and in editors/zed; crates/kfl-tree-sitter checks all three.

(identifier) @variable

; Keywords
[
  "component"
  "pipeline"
  "artifact"
  "input"
  "output"
  "finally"
] @keyword

"import" @include

[
  "if"
  "else"
] @conditional

[
  "for"
  "in"
  "parallel"
] @repeat

[
  "and"
  "or"
  "not"
] @keyword.operator

(script_language) @keyword

(boolean) @boolean

; Declarations and calls
(component
  name: (identifier) @function)

(pipeline
  name: (identifier) @function)

(call
  function: (identifier) @function.call)

(artifact
  name: (identifier) @type.definition)

(artifact
  base: (identifier) @type)

(import
  path: (module_path
    (identifier) @namespace))

; Types: the built-in parameter types, else an artifact type (built in or declared)
(type
  name: (identifier) @type)

((type
  name: (identifier) @type.builtin)
  (#any-of? @type.builtin "String" "Int" "Float" "Bool" "List" "Map"))

; Inputs, outputs and parameters
(input_declaration
  name: (identifier) @parameter)

(output_declaration
  name: (identifier) @parameter)

(parameter
  name: (identifier) @parameter)

(named_argument
  name: (identifier) @parameter)

(for_statement
  variable: (identifier) @variable)

; Tasks
(task_binding
  name: (identifier) @label)

(output_statement
  name: (identifier) @parameter)

; Fields, blocks and their entries
(field
  name: (identifier) @field)

(kv_block
  name: (identifier) @field)

(kv_entry
  key: (identifier) @field)

(map_entry
  key: (identifier) @field)

(member_expression
  member: (identifier) @field)

; Literals: a number with a unit is a quantity (`500m`, `4Gi`), or a duration as a timeout (`6h`)
(number) @number

((number) @number.quantity
  (#match? @number.quantity "[A-Za-z]$"))

((field
  name: (identifier) @_field
  value: (number) @number.duration)
  (#eq? @_field "timeout"))

(string) @string

(triple_string) @string

(escape_sequence) @string.escape

(comment) @comment

(doc_comment) @comment.documentation

; Punctuation and operators
(comparison_operator) @operator

"=" @operator

[
  "."
  ","
  ":"
] @punctuation.delimiter

[
  "("
  ")"
  "["
  "]"
  "{"
  "}"
] @punctuation.bracket

(type
  [
    "<"
    ">"
  ] @punctuation.bracket)
