/**
 * The tokenizer both adapters share (the MongoDB adapter hands `$text` the tokens, so quotes and
 * `-negation` in a user's query are never interpreted as search syntax).
 *
 * Rules: NFC-normalise, lowercase, split on anything that is not a Unicode letter or digit
 * (`\p{L}\p{N}`, so `naïve`, `日本語` and `v2` are single terms), and drop a short list of English
 * stopwords that carry no ranking signal. No stemming: `run` and `running` are different terms.
 */
const STOPWORDS = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'of',
  'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was',
  'will', 'with',
])

const WORD = /[\p{L}\p{N}]+/gu

/** Every term of `text`, in order, repeats kept (term frequencies need them). */
export function tokenize(text: string): string[] {
  const words = text.normalize('NFC').toLowerCase().match(WORD) ?? []
  return words.filter((word) => !STOPWORDS.has(word))
}

/** The distinct terms of a query. */
export function queryTerms(query: string): string[] {
  return [...new Set(tokenize(query))]
}
