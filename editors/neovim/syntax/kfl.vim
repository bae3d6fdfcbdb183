" Vim syntax file for KFL (see docs/language.md in the KFL repository).
" Python in `python """…"""` and shell in `sh """…"""` are highlighted with Vim's own syntaxes.
if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match

" Embedded languages: load them before defining KFL's groups (they clear b:current_syntax).
syn include @kflPython syntax/python.vim
unlet! b:current_syntax
syn include @kflShell syntax/sh.vim
unlet! b:current_syntax

syn keyword kflDeclaration component pipeline artifact nextgroup=kflDeclName skipwhite
syn match   kflDeclName    '\h\w*' contained
syn keyword kflImport      import
syn keyword kflInputOutput input output
syn keyword kflConditional if else
syn keyword kflRepeat      for in parallel
syn keyword kflException   finally
syn keyword kflOperator    and or not
syn keyword kflBoolean     true false
syn keyword kflBuiltinType String Int Float Bool List Map
syn keyword kflArtifactType Artifact Dataset Model Metrics ClassificationMetrics SlicedClassificationMetrics HTML Markdown
syn keyword kflBuiltinFunc secret
syn match   kflUserType    '\<\u\w*\l\w*\>'
syn match   kflComparison  '==\|!=\|<=\|>=\|<\|>'

" Numbers with an optional unit written straight after them: 500m, 4Gi, 1h30m, 1e-3.
syn match   kflNumber '\%(\w\|\.\)\@<!-\=\d\+\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=' nextgroup=kflUnit
syn match   kflUnit   '\a\w*' contained

" Task calls and named arguments.
syn match   kflCall    '\<\h\w*\ze\s*('
syn match   kflArgName '\<\h\w*\ze\s*:[^:]' contained containedin=kflParens
syn region  kflParens  matchgroup=kflDelimiter start='(' end=')' transparent

syn region  kflString  start='"' skip='\\.' end='"\|$' contains=kflEscape,kflBadEscape oneline
syn match   kflBadEscape '\\.' contained
syn match   kflEscape  '\\[\\"ntr0$]' contained
syn region  kflTripleString start='"""' end='"""'

syn match   kflScriptKeyword '\<\%(python\|sh\)\ze\s*"'
syn region  kflPythonScript matchgroup=kflTripleString start='\%(\<python\s*\)\@<="""' end='"""' contains=@kflPython keepend
syn region  kflShellScript  matchgroup=kflTripleString start='\%(\<sh\s*\)\@<="""' end='"""' contains=@kflShell keepend

syn match   kflComment    '//.*$' contains=kflTodo,@Spell
syn match   kflDocComment '///\%(/\)\@!.*$' contains=kflTodo,@Spell
syn keyword kflTodo       TODO FIXME XXX NOTE contained

hi def link kflDeclaration   Keyword
hi def link kflDeclName      Function
hi def link kflImport        Include
hi def link kflInputOutput   StorageClass
hi def link kflConditional   Conditional
hi def link kflRepeat        Repeat
hi def link kflException     Exception
hi def link kflOperator      Operator
hi def link kflComparison    Operator
hi def link kflBoolean       Boolean
hi def link kflBuiltinType   Type
hi def link kflArtifactType  Type
hi def link kflUserType      Type
hi def link kflBuiltinFunc   Function
hi def link kflNumber        Number
hi def link kflUnit          Special
hi def link kflCall          Function
hi def link kflArgName       Identifier
hi def link kflDelimiter     Delimiter
hi def link kflString        String
hi def link kflTripleString  String
hi def link kflEscape        SpecialChar
hi def link kflBadEscape     Error
hi def link kflScriptKeyword Keyword
hi def link kflComment       Comment
hi def link kflDocComment    SpecialComment
hi def link kflTodo          Todo

let b:current_syntax = 'kfl'
let &cpo = s:cpo_save
unlet s:cpo_save
