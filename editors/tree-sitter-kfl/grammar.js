/**
 * @file A tree-sitter grammar for KFL, the typed language for ML pipelines on Kubernetes.
 *
 * `grammar/kfl.pest` is the single source of truth for the syntax; this grammar accepts exactly the
 * files it accepts (`crates/kfl-tree-sitter` checks that on every example, fixture, documentation
 * snippet, thousands of mutated files and generated ones). Where PEG and LR differ, the rule says so:
 *
 * - Keywords are reserved: a keyword is never an identifier. The parser is generated for ABI 14 (so
 *   that Neovim 0.7 and older editors load it), which has no reserved words; the external scanner
 *   (`src/scanner.c`) therefore lexes every word, and a keyword always as that keyword, a syntax
 *   error where the grammar expects none. `python` and `sh` are not reserved: they are keywords only
 *   at the start of a component member.
 * - `"""` starts a triple-quoted string only if a closing `"""` follows somewhere (pest backtracks to
 *   the empty string `""` otherwise); the scanner looks ahead for it.
 * - In a pipeline, `name = call(...)` is always a task binding (pest tries it before a field), so a
 *   pipeline field's value must not start with a call: `x = f().y` is an error, as in pest.
 * - Comparisons do not chain (`a < b < c` is an error).
 * - Only the escapes kfl-syntax knows are escapes (it reports any other, say `\q`, as E0003).
 * - Comments (`//`, `////`), doc comments (`///`) and the text of a string are lexed by the scanner
 *   too: pest allows any character in them, NUL included, and a generated lexer reads NUL as the end
 *   of the input.
 *
 * @license Apache-2.0
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const KEYWORDS = [
  'component', 'pipeline', 'artifact', 'import', 'input', 'output', 'if', 'else', 'for', 'in',
  'parallel', 'finally', 'and', 'or', 'not', 'true', 'false',
];

/**
 * One or more `rule`s separated by commas, with an optional trailing comma.
 * @param {RuleOrLiteral} rule
 */
function commaList1(rule) {
  return seq(rule, repeat(seq(',', rule)), optional(','));
}

/**
 * The expression levels, loosest first. `first` is the primary a chain may start with: every
 * primary, or every primary but a call (for the value of a field in a pipeline).
 * @param {GrammarSymbols<string>} $
 * @param {string} suffix
 */
function expressionRules(suffix) {
  const name = (/** @type {string} */ base) => base + suffix;
  const rules = {};
  rules[name('_expression')] = $ => choice(
    alias($[name('or_expression')], $.binary_expression),
    $[name('_and_level')],
  );
  rules[name('or_expression')] = $ => seq(
    field('left', $[name('_expression')]),
    field('operator', 'or'),
    field('right', $._and_level),
  );
  rules[name('_and_level')] = $ => choice(
    alias($[name('and_expression')], $.binary_expression),
    $[name('_not_level')],
  );
  rules[name('and_expression')] = $ => seq(
    field('left', $[name('_and_level')]),
    field('operator', 'and'),
    field('right', $._not_level),
  );
  rules[name('_not_level')] = $ => choice($.not_expression, $[name('_comparison_level')]);
  rules[name('_comparison_level')] = $ => choice(
    alias($[name('comparison_expression')], $.comparison),
    $[name('_postfix_level')],
  );
  rules[name('comparison_expression')] = $ => seq(
    field('left', $[name('_postfix_level')]),
    field('operator', $.comparison_operator),
    field('right', $._postfix_level),
  );
  rules[name('_postfix_level')] = $ => choice(
    alias($[name('member_access')], $.member_expression),
    $[name('_primary')],
  );
  rules[name('member_access')] = $ => seq(
    field('object', $[name('_postfix_level')]),
    '.',
    field('member', $.identifier),
  );
  return rules;
}

module.exports = grammar({
  name: 'kfl',

  // WHITESPACE in the pest grammar: exactly these five characters.
  extras: $ => [/[ \t\r\n\uFEFF]/, $.comment],

  externals: $ => [
    $.identifier,
    ...KEYWORDS,
    'python',
    'sh',
    $._triple_quote_open,
    $._triple_string_content,
    $._triple_quote_close,
    $.comment,
    $.doc_comment,
    $._string_fragment,
    $._error_sentinel,
  ],

  inline: $ => [$._member_name],

  rules: {
    source_file: $ => repeat(seq(repeat($.doc_comment), $._item)),

    _item: $ => choice($.import, $.artifact, $.component, $.pipeline),

    // ---------------------------------------------------------------------------------------------
    // Items

    import: $ => seq('import', field('path', choice($.string, $.module_path))),
    module_path: $ => seq($.identifier, repeat(seq('.', $.identifier))),

    artifact: $ => seq(
      'artifact',
      field('name', $.identifier),
      optional(seq(':', field('base', $.identifier))),
    ),

    component: $ => seq('component', field('name', $.identifier), field('body', $.component_body)),
    component_body: $ => seq('{', repeat(seq(repeat($.doc_comment), $._component_member)), '}'),
    _component_member: $ => choice(
      $.input_declaration,
      $.output_declaration,
      $.script,
      $.kv_block,
      $.field,
    ),
    input_declaration: $ => seq(
      'input',
      field('name', $.identifier),
      ':',
      field('type', $.type),
      optional(seq('=', field('default', $._expression))),
    ),
    output_declaration: $ => seq('output', field('name', $.identifier), ':', field('type', $.type)),
    script: $ => seq(
      field('language', $.script_language),
      field('body', choice($.triple_string, $.string)),
    ),
    script_language: _ => choice('python', 'sh'),

    pipeline: $ => seq(
      'pipeline',
      field('name', $.identifier),
      field('parameters', $.parameter_list),
      field('body', $.block),
    ),
    parameter_list: $ => seq(
      '(',
      optional(commaList1(seq(repeat($.doc_comment), $.parameter))),
      ')',
    ),
    parameter: $ => seq(
      field('name', $.identifier),
      ':',
      field('type', $.type),
      optional(seq('=', field('default', $._expression))),
    ),

    // ---------------------------------------------------------------------------------------------
    // Pipeline statements

    block: $ => seq('{', repeat(seq(repeat($.doc_comment), $._statement)), '}'),
    _statement: $ => choice(
      $.if_statement,
      $.for_statement,
      $.finally_statement,
      $.output_statement,
      $.task_binding,
      $.task_call,
      alias($.statement_field, $.field),
    ),
    task_binding: $ => seq(
      field('name', $.identifier),
      '=',
      field('call', $.call),
      optional(field('overrides', $.task_block)),
    ),
    task_call: $ => seq(field('call', $.call), optional(field('overrides', $.task_block))),
    task_block: $ => seq('{', repeat(choice($.kv_block, $.field)), '}'),
    if_statement: $ => seq(
      'if',
      field('condition', $._expression),
      field('consequence', $.block),
      optional(seq('else', field('alternative', choice($.if_statement, $.block)))),
    ),
    for_statement: $ => seq(
      'for',
      field('variable', $.identifier),
      'in',
      field('iterable', $._expression),
      optional(seq('parallel', field('parallelism', $._expression))),
      field('body', $.block),
    ),
    finally_statement: $ => seq('finally', field('body', $.block)),
    output_statement: $ => seq(
      'output',
      field('name', $.identifier),
      optional(seq(':', field('type', $.type))),
      '=',
      field('value', $._expression),
    ),
    // A field among pipeline statements: `name = call(…)` is a task binding instead.
    statement_field: $ => seq(field('name', $.identifier), '=', field('value', $._expression_nc)),

    // ---------------------------------------------------------------------------------------------
    // Fields and key/value blocks

    // `python` and `sh` are ordinary names except where a script may start.
    _member_name: $ => choice($.identifier, alias('python', $.identifier), alias('sh', $.identifier)),
    field: $ => seq(field('name', $._member_name), '=', field('value', $._expression)),
    kv_block: $ => seq(
      field('name', $._member_name),
      '{',
      repeat(seq($.kv_entry, optional(','))),
      '}',
    ),
    kv_entry: $ => seq(
      field('key', choice($.identifier, $.string)),
      '=',
      field('value', $._expression),
    ),

    // ---------------------------------------------------------------------------------------------
    // Types

    type: $ => seq(
      field('name', $.identifier),
      optional(seq('<', $.type, repeat(seq(',', $.type)), '>')),
    ),

    // ---------------------------------------------------------------------------------------------
    // Expressions

    ...expressionRules(''),
    ...expressionRules('_nc'),

    not_expression: $ => seq('not', field('operand', $._not_level)),
    comparison_operator: _ => choice('==', '!=', '<=', '>=', '<', '>'),

    _primary: $ => choice($._primary_nc, $.call),
    _primary_nc: $ => choice(
      $.parenthesized_expression,
      $.list,
      $.map,
      $.triple_string,
      $.string,
      $.number,
      $.boolean,
      $.identifier,
    ),
    parenthesized_expression: $ => seq('(', $._expression, ')'),
    list: $ => seq('[', optional(commaList1($._expression)), ']'),
    map: $ => seq('{', optional(commaList1($.map_entry)), '}'),
    map_entry: $ => seq(
      field('key', choice($.identifier, $.string)),
      ':',
      field('value', $._expression),
    ),

    call: $ => seq(field('function', $.identifier), field('arguments', $.argument_list)),
    argument_list: $ => seq(
      '(',
      optional(commaList1(choice($.named_argument, $._expression))),
      ')',
    ),
    named_argument: $ => seq(field('name', $.identifier), ':', field('value', $._expression)),

    // ---------------------------------------------------------------------------------------------
    // Tokens

    boolean: _ => choice('true', 'false'),

    // A number and its unit are one token: `500m`, `4Gi`, `6h`, `1h30m`, `1.5e3`.
    number: _ => token(/-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?([A-Za-z][A-Za-z0-9]*)?/),

    string: $ => seq(
      '"',
      repeat(choice(
        alias($._string_fragment, $.string_content),
        $.escape_sequence,
      )),
      // Immediate: a string does not span lines, so no newline may be skipped before the quote.
      token.immediate('"'),
    ),
    // The escapes the parser knows (kfl-syntax reports any other as E0003).
    escape_sequence: _ => token.immediate(/\\[ntr0\\"$]/),

    // Raw text up to the first `"""`; no escapes.
    triple_string: $ => seq(
      alias($._triple_quote_open, '"""'),
      optional(alias($._triple_string_content, $.string_content)),
      alias($._triple_quote_close, '"""'),
    ),
  },
});
