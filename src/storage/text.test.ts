import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { queryTerms, tokenize } from './text.ts'

describe('tokenizer (the splits of a MongoDB text index)', () => {
  it('splits on white space, dashes, quotation marks and terminal punctuation, and drops stopwords', () => {
    assert.deepEqual(tokenize('The naive cafe serves V2-coffee; 日本語 OK!'), ['naive', 'cafe', 'serves', 'v2', 'coffee', '日本語', 'ok'])
    assert.deepEqual(tokenize('state‑of—the–art “quoted” «guillemets» end. next? yes! (paren) a/b'), [
      'state', 'art', 'quoted', 'guillemets', 'end', 'next', 'yes', 'paren', 'b',
    ])
    assert.deepEqual(queryTerms('"deploy" -staging deploy'), ['deploy', 'staging'])
    assert.deepEqual(queryTerms('the of and'), [])
  })

  it('keeps snake_case_name whole, as the index stores it', () => {
    assert.deepEqual(tokenize('call snake_case_name() now'), ['call', 'snake_case_name', 'now'])
    assert.deepEqual(queryTerms('snake_case_name'), ['snake_case_name'])
  })

  it('keeps Hindi words with combining marks whole', () => {
    const terms = tokenize('मेरा नाम राहुल है और मुझे हिन्दी पसंद है')
    assert.equal(terms.length, 9)
    assert.deepEqual(queryTerms('हिन्दी'), [terms[6]])
    assert.deepEqual(queryTerms('पसंद'), ['पसंद'])
  })

  it('folds case and diacritics the way the index does, in either normal form', () => {
    assert.deepEqual(tokenize('Café CAFÉ cafe'.normalize('NFD')), ['cafe', 'cafe', 'cafe'])
    assert.deepEqual(tokenize('Naïve'), ['naive'])
  })
})
