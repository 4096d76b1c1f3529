/**
 * The tokenizer both adapters share, written to split exactly where a MongoDB text index (version 3,
 * `default_language: 'none'`) splits, so a query term the memory adapter finds is a term `$text` finds:
 * https://github.com/mongodb/mongo/blob/master/src/mongo/db/fts/unicode/gen_delimiter_list.py
 *
 * Rules: split on the code points MongoDB treats as delimiters (Unicode White_Space, Dash, Hyphen,
 * Quotation_Mark, Terminal_Punctuation, Pattern_Syntax, Sentence_Terminal), so `snake_case_name`, `v2`
 * and a Hindi word with its combining vowel signs stay whole; then fold case and strip diacritics as
 * the index does (`Café` and `cafe` are one term), and drop a short list of English stopwords that
 * carry no ranking signal. No stemming: `run` and `running` are different terms. Because the tokens
 * contain no quotation marks or dashes, handing them to `$text` can never read as phrase or negation syntax.
 */
const STOPWORDS = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'of',
  'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was',
  'will', 'with',
])

/** Unicode's deprecated `Hyphen` property has no regex escape; these are its code points. */
const HYPHENS = '\\u002D\\u00AD\\u058A\\u1806\\u2010\\u2011\\u2E17\\u30FB\\uFE63\\uFF0D\\uFF65'
const DELIMITERS = new RegExp(
  `[\\p{White_Space}\\p{Dash}\\p{Quotation_Mark}\\p{Terminal_Punctuation}\\p{Pattern_Syntax}\\p{Sentence_Terminal}${HYPHENS}]+`,
  'u',
)
const DIACRITICS = /\p{Diacritic}/gu

/** One token as the text index stores it: case-folded, diacritics removed. */
function fold(token: string): string {
  return token.normalize('NFD').replace(DIACRITICS, '').normalize('NFC').toLowerCase()
}

/** Every term of `text`, in order, repeats kept (term frequencies need them). */
export function tokenize(text: string): string[] {
  const terms: string[] = []
  for (const token of text.split(DELIMITERS)) {
    const term = fold(token)
    if (term !== '' && !STOPWORDS.has(term)) terms.push(term)
  }
  return terms
}

/** The distinct terms of a query. */
export function queryTerms(query: string): string[] {
  return [...new Set(tokenize(query))]
}
