; Highlights for KFL, in the capture names of Neovim 0.7 and nvim-treesitter of that time (`@field`,
; `@parameter`, `@include`, …). No two patterns capture the same node, so the result is the same
; whether an editor prefers the first or the last of two matching patterns (Neovim and
; tree-sitter-highlight differ there). tests/editors/highlight-classes.txt maps each token class to
; the capture used here and in the Helix and Zed queries.

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

(module_path
  (identifier) @namespace)

; Types: the built-in parameter types, else an artifact type (built in or declared)
((type
  name: (identifier) @type.builtin)
  (#any-of? @type.builtin "String" "Int" "Float" "Bool" "List" "Map"))

((type
  name: (identifier) @type)
  (#not-any-of? @type "String" "Int" "Float" "Bool" "List" "Map"))

; Inputs, outputs and parameters
(input_declaration
  name: (identifier) @parameter)

(output_declaration
  name: (identifier) @parameter)

(parameter
  name: (identifier) @parameter)

(named_argument
  name: (identifier) @parameter)

(output_statement
  name: (identifier) @parameter)

(for_statement
  variable: (identifier) @variable)

; Tasks
(task_binding
  name: (identifier) @label)

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

; Numbers: a number with a unit is a duration as a timeout (`6h`), else a quantity (`500m`, `4Gi`).
; Every place a number can stand is listed, so that each number has one scope.
((number) @number
  (#not-match? @number "[A-Za-z]$"))

((field
  name: (identifier) @_field
  value: (number) @number.duration)
  (#eq? @_field "timeout")
  (#match? @number.duration "[A-Za-z]$"))

((field
  name: (identifier) @_field
  value: (number) @number.quantity)
  (#not-eq? @_field "timeout")
  (#match? @number.quantity "[A-Za-z]$"))

([
  (kv_entry
    value: (number) @number.quantity)
  (list
    (number) @number.quantity)
  (map_entry
    value: (number) @number.quantity)
  (argument_list
    (number) @number.quantity)
  (named_argument
    value: (number) @number.quantity)
  (input_declaration
    default: (number) @number.quantity)
  (parameter
    default: (number) @number.quantity)
  (output_statement
    value: (number) @number.quantity)
  (comparison
    (number) @number.quantity)
  (binary_expression
    (number) @number.quantity)
  (not_expression
    (number) @number.quantity)
  (parenthesized_expression
    (number) @number.quantity)
  (member_expression
    (number) @number.quantity)
  (if_statement
    (number) @number.quantity)
  (for_statement
    (number) @number.quantity)
]
  (#match? @number.quantity "[A-Za-z]$"))

; Strings and comments
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
