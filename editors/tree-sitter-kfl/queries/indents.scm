; Indent inside braces, brackets and parentheses; the closing bracket goes back.
[
  (component_body)
  (block)
  (task_block)
  (kv_block)
  (parameter_list)
  (argument_list)
  (list)
  (map)
] @indent

[
  "}"
  "]"
  ")"
] @branch

[
  (comment)
  (triple_string)
] @ignore
