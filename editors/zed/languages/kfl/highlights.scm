; Highlights for KFL in Zed's capture names. No two patterns capture the same node, so the result does not
; depend on which of two matching patterns an editor prefers. tests/editors/highlight-classes.txt maps
; each token class to the scope used here and in the Neovim and Zed queries.

; Keywords
[
  "component"
  "pipeline"
  "artifact"
  "input"
  "output"
  "finally"
] @keyword

"import" @keyword

[
  "if"
  "else"
] @keyword

[
  "for"
  "in"
  "parallel"
] @keyword

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
  function: (identifier) @function)

(artifact
  name: (identifier) @type)

(artifact
  base: (identifier) @type)

(module_path
  (identifier) @variable.special)

; Types: the built-in parameter types, else an artifact type (built in or declared)
((type
  name: (identifier) @type.builtin)
  (#any-of? @type.builtin "String" "Int" "Float" "Bool" "List" "Map"))

((type
  name: (identifier) @type)
  (#not-any-of? @type "String" "Int" "Float" "Bool" "List" "Map"))

; Inputs, outputs and parameters
(input_declaration
  name: (identifier) @variable.parameter)

(output_declaration
  name: (identifier) @variable.parameter)

(parameter
  name: (identifier) @variable.parameter)

(named_argument
  name: (identifier) @variable.parameter)

(output_statement
  name: (identifier) @variable.parameter)

(for_statement
  variable: (identifier) @variable)

; Tasks
(task_binding
  name: (identifier) @label)

; Fields, blocks and their entries
(field
  name: (identifier) @property)

(kv_block
  name: (identifier) @property)

(kv_entry
  key: (identifier) @property)

(map_entry
  key: (identifier) @property)

(member_expression
  member: (identifier) @property)

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

(doc_comment) @comment.doc

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
