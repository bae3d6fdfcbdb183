(component_body "}" @end) @indent
(block "}" @end) @indent
(task_block "}" @end) @indent
(kv_block "}" @end) @indent
(map "}" @end) @indent
(list "]" @end) @indent
(parameter_list ")" @end) @indent
(argument_list ")" @end) @indent
