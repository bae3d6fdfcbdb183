; Functions are components and pipelines; comments are comments and doc comments.
(component
  body: (component_body) @function.inside) @function.around

(pipeline
  body: (block) @function.inside) @function.around

[
  (comment)
  (doc_comment)
]+ @comment.around

[
  (comment)
  (doc_comment)
] @comment.inside
