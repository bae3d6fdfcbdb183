; Bodies, blocks and multi-line literals fold.
[
  (component_body)
  (block)
  (task_block)
  (kv_block)
  (parameter_list)
  (argument_list)
  (list)
  (map)
  (triple_string)
] @fold
