; `]f`/`mif`: components and pipelines; `]a`/`mia`: inputs, outputs, parameters and arguments;
; `]c`/`mic`: comments.
(component
  body: (component_body) @function.inside) @function.around

(pipeline
  body: (block) @function.inside) @function.around

(input_declaration) @parameter.around
(output_declaration) @parameter.around

(parameter_list
  (parameter) @parameter.inside @parameter.around)

(argument_list
  (_) @parameter.inside @parameter.around)

[
  (comment)
  (doc_comment)
] @comment.inside

[
  (comment)
  (doc_comment)
]+ @comment.around
