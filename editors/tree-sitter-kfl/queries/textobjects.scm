; Functions are components and pipelines; parameters are inputs, outputs, pipeline parameters and
; call arguments; calls are tasks.
(component
  body: (component_body) @function.inner) @function.outer

(pipeline
  body: (block) @function.inner) @function.outer

(input_declaration) @parameter.outer
(output_declaration) @parameter.outer
(parameter) @parameter.outer

(parameter_list
  (parameter) @parameter.inner)

(argument_list
  (_) @parameter.inner)

(named_argument) @parameter.outer

(call) @call.outer

(call
  arguments: (argument_list) @call.inner)

(task_binding) @call.outer

(if_statement
  consequence: (block) @conditional.inner) @conditional.outer

(for_statement
  body: (block) @loop.inner) @loop.outer

(comment) @comment.outer
(doc_comment) @comment.outer

(script
  body: (_) @block.inner) @block.outer
