; Highlights for KFL in Helix's scopes. No two patterns capture the same node, so the result does not
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

"import" @keyword.control.import

[
  "if"
  "else"
] @keyword.control.conditional

[
  "for"
  "in"
  "parallel"
] @keyword.control.repeat

[
  "and"
  "or"
  "not"
] @keyword.operator

(script_language) @keyword

(boolean) @constant.builtin.boolean

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
  name: (identifier) @variable.other.member)

(kv_block
  name: (identifier) @variable.other.member)

(kv_entry
  key: (identifier) @variable.other.member)

(map_entry
  key: (identifier) @variable.other.member)

(member_expression
  member: (identifier) @variable.other.member)

; Numbers: a number with a unit is a duration as a timeout (`6h`), else a quantity (`500m`, `4Gi`).
; Every place a number can stand is listed, so that each number has one scope.
((number) @constant.numeric
  (#not-match? @constant.numeric "[A-Za-z]$"))

((field
  name: (identifier) @_field
  value: (number) @constant.numeric.duration)
  (#eq? @_field "timeout")
  (#match? @constant.numeric.duration "[A-Za-z]$"))

((field
  name: (identifier) @_field
  value: (number) @constant.numeric.quantity)
  (#not-eq? @_field "timeout")
  (#match? @constant.numeric.quantity "[A-Za-z]$"))

([
  (kv_entry
    value: (number) @constant.numeric.quantity)
  (list
    (number) @constant.numeric.quantity)
  (map_entry
    value: (number) @constant.numeric.quantity)
  (argument_list
    (number) @constant.numeric.quantity)
  (named_argument
    value: (number) @constant.numeric.quantity)
  (input_declaration
    default: (number) @constant.numeric.quantity)
  (parameter
    default: (number) @constant.numeric.quantity)
  (output_statement
    value: (number) @constant.numeric.quantity)
  (comparison
    (number) @constant.numeric.quantity)
  (binary_expression
    (number) @constant.numeric.quantity)
  (not_expression
    (number) @constant.numeric.quantity)
  (parenthesized_expression
    (number) @constant.numeric.quantity)
  (member_expression
    (number) @constant.numeric.quantity)
  (if_statement
    (number) @constant.numeric.quantity)
  (for_statement
    (number) @constant.numeric.quantity)
]
  (#match? @constant.numeric.quantity "[A-Za-z]$"))

; Strings and comments
(string) @string

(triple_string) @string

(escape_sequence) @constant.character.escape

(comment) @comment.line

(doc_comment) @comment.line.documentation

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
