// The external scanner of the KFL grammar. It lexes what the generated lexer cannot:
//
// - Words. Keywords are reserved (as in grammar/kfl.pest: `ident = !keyword ~ …`), but the parser is
//   generated for ABI 14, which has no reserved words, and the generated lexer would take `input`
//   for a name wherever a keyword is not expected. So every word is lexed here: a keyword is always
//   a keyword (a syntax error where the parser expects none), `python` and `sh` are keywords where
//   a script may start and names elsewhere, and any other word is an identifier.
// - Triple-quoted strings. `"""` opens one only if a closing `"""` follows (pest backtracks to the
//   empty string `""` otherwise), and the content runs to the first `"""`, raw.
// - Comments, doc comments and the text of a plain string: pest allows any character in them, NUL
//   included, and a generated lexer takes NUL for the end of the input. `///` (exactly three
//   slashes) is a doc comment, `//` and `////` start a comment; a doc comment is returned even where
//   the parser expects none, which is a syntax error there as in pest.
//
// The scanner keeps no state between tokens and never reads past the end of the input. Each token
// costs time linear in its length, except an opening `"""`, which looks ahead for the closing one:
// when there is none it reads to the end of the input, but then no other `"""` follows it, so only
// the last few openings of a file can cost that.

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <string.h>

enum TokenType {
  IDENTIFIER,
  KW_COMPONENT,
  KW_PIPELINE,
  KW_ARTIFACT,
  KW_IMPORT,
  KW_INPUT,
  KW_OUTPUT,
  KW_IF,
  KW_ELSE,
  KW_FOR,
  KW_IN,
  KW_PARALLEL,
  KW_FINALLY,
  KW_AND,
  KW_OR,
  KW_NOT,
  KW_TRUE,
  KW_FALSE,
  KW_PYTHON,
  KW_SH,
  TRIPLE_QUOTE_OPEN,
  TRIPLE_STRING_CONTENT,
  TRIPLE_QUOTE_CLOSE,
  COMMENT,
  DOC_COMMENT,
  STRING_FRAGMENT,
  ERROR_SENTINEL,
};

// The reserved words, in the order of the token types KW_COMPONENT … KW_FALSE.
static const char *const KEYWORDS[] = {
    "component", "pipeline", "artifact", "import", "input", "output", "if", "else", "for",
    "in",        "parallel", "finally",  "and",    "or",    "not",    "true", "false",
};
#define KEYWORD_COUNT (sizeof(KEYWORDS) / sizeof(KEYWORDS[0]))

// Longer than any keyword: a word this long is an identifier, whatever follows.
#define WORD_PREFIX 16

void *tree_sitter_kfl_external_scanner_create(void) { return NULL; }
void tree_sitter_kfl_external_scanner_destroy(void *payload) { (void)payload; }
unsigned tree_sitter_kfl_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}
void tree_sitter_kfl_external_scanner_deserialize(void *payload, const char *buffer, unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_word_start(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_word_char(int32_t c) { return is_word_start(c) || (c >= '0' && c <= '9'); }
static bool is_space(int32_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xFEFF; }

static bool at_quote(TSLexer *lexer) { return !lexer->eof(lexer) && lexer->lookahead == '"'; }

// Content of a triple-quoted string, up to (not including) the next `"""` or the end of the input;
// or the closing `"""` itself when the content is empty.
static bool scan_triple_inside(TSLexer *lexer, const bool *valid_symbols) {
  bool has_content = false;
  for (;;) {
    lexer->mark_end(lexer);
    if (lexer->eof(lexer)) break;
    if (lexer->lookahead == '"') {
      lexer->advance(lexer, false);
      if (at_quote(lexer)) {
        lexer->advance(lexer, false);
        if (at_quote(lexer)) {
          if (has_content) break;  // the content ends at the mark, before these quotes
          if (!valid_symbols[TRIPLE_QUOTE_CLOSE]) return false;
          lexer->advance(lexer, false);
          lexer->mark_end(lexer);
          lexer->result_symbol = TRIPLE_QUOTE_CLOSE;
          return true;
        }
      }
      has_content = true;
      continue;
    }
    lexer->advance(lexer, false);
    has_content = true;
  }
  if (!has_content || !valid_symbols[TRIPLE_STRING_CONTENT]) return false;
  lexer->result_symbol = TRIPLE_STRING_CONTENT;
  return true;
}

// `"""`, if a closing `"""` follows somewhere after it.
static bool scan_triple_open(TSLexer *lexer) {
  for (int i = 0; i < 3; i++) {
    if (!at_quote(lexer)) return false;
    lexer->advance(lexer, false);
  }
  lexer->mark_end(lexer);
  int quotes = 0;
  while (!lexer->eof(lexer)) {
    if (lexer->lookahead == '"') {
      if (++quotes == 3) {
        lexer->result_symbol = TRIPLE_QUOTE_OPEN;
        return true;
      }
    } else {
      quotes = 0;
    }
    lexer->advance(lexer, false);
  }
  return false;
}

static bool scan_word(TSLexer *lexer, const bool *valid_symbols) {
  char word[WORD_PREFIX + 1];
  unsigned length = 0;
  while (!lexer->eof(lexer) && is_word_char(lexer->lookahead)) {
    if (length < WORD_PREFIX) word[length] = (char)lexer->lookahead;
    length++;
    lexer->advance(lexer, false);
  }
  lexer->mark_end(lexer);
  // A word is always returned, even where the parser expects none (a syntax error then): otherwise
  // the generated lexer would take a keyword from its start (`component` from `componentx`).
  if (length <= WORD_PREFIX) {
    word[length] = '\0';
    for (unsigned i = 0; i < KEYWORD_COUNT; i++) {
      if (strcmp(word, KEYWORDS[i]) == 0) {
        // Reserved: a keyword, never a name.
        lexer->result_symbol = (enum TokenType)(KW_COMPONENT + i);
        return true;
      }
    }
    if (strcmp(word, "python") == 0 && valid_symbols[KW_PYTHON]) {
      lexer->result_symbol = KW_PYTHON;
      return true;
    }
    if (strcmp(word, "sh") == 0 && valid_symbols[KW_SH]) {
      lexer->result_symbol = KW_SH;
      return true;
    }
  }
  lexer->result_symbol = IDENTIFIER;
  return true;
}

// The rest of the line, NUL included.
static void skip_to_end_of_line(TSLexer *lexer) {
  while (!lexer->eof(lexer) && lexer->lookahead != '\n') lexer->advance(lexer, false);
  lexer->mark_end(lexer);
}

// After a `/`: a comment or a doc comment, or nothing.
static bool scan_comment(TSLexer *lexer) {
  lexer->advance(lexer, false);
  if (lexer->eof(lexer) || lexer->lookahead != '/') return false;
  lexer->advance(lexer, false);
  enum TokenType kind = COMMENT;
  if (!lexer->eof(lexer) && lexer->lookahead == '/') {
    lexer->advance(lexer, false);
    kind = (!lexer->eof(lexer) && lexer->lookahead == '/') ? COMMENT : DOC_COMMENT;
  }
  skip_to_end_of_line(lexer);
  lexer->result_symbol = kind;
  return true;
}

// Text of a plain string up to a quote, a backslash or the end of the line.
static bool scan_string_fragment(TSLexer *lexer) {
  bool has_content = false;
  while (!lexer->eof(lexer) && lexer->lookahead != '"' && lexer->lookahead != '\\' && lexer->lookahead != '\n') {
    lexer->advance(lexer, false);
    has_content = true;
  }
  if (!has_content) return false;
  lexer->mark_end(lexer);
  lexer->result_symbol = STRING_FRAGMENT;
  return true;
}

bool tree_sitter_kfl_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
  (void)payload;
  bool error_recovery = valid_symbols[ERROR_SENTINEL];

  // Inside a triple-quoted string every character is content, whitespace included.
  if (!error_recovery && (valid_symbols[TRIPLE_STRING_CONTENT] || valid_symbols[TRIPLE_QUOTE_CLOSE])) {
    return scan_triple_inside(lexer, valid_symbols);
  }
  // Inside a plain string, likewise (escapes and the closing quote are the generated lexer's).
  if (!error_recovery && valid_symbols[STRING_FRAGMENT]) {
    return scan_string_fragment(lexer);
  }

  while (!lexer->eof(lexer) && is_space(lexer->lookahead)) lexer->advance(lexer, true);
  if (lexer->eof(lexer)) return false;

  if (lexer->lookahead == '"') {
    return valid_symbols[TRIPLE_QUOTE_OPEN] && scan_triple_open(lexer);
  }
  if (is_word_start(lexer->lookahead)) {
    return scan_word(lexer, valid_symbols);
  }
  if (lexer->lookahead == '/') {
    return scan_comment(lexer);
  }
  return false;
}
