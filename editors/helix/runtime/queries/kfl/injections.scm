; Python inside `python """…"""` (or `python "…"`), shell inside `sh """…"""` (or `sh "…"`).
(script
  language: (script_language
    "python")
  body: [
    (triple_string
      (string_content) @injection.content)
    (string
      (string_content) @injection.content)
  ]
  (#set! injection.language "python"))

(script
  language: (script_language
    "sh")
  body: [
    (triple_string
      (string_content) @injection.content)
    (string
      (string_content) @injection.content)
  ]
  (#set! injection.language "bash"))

([
  (comment)
  (doc_comment)
] @injection.content
  (#set! injection.language "comment"))
