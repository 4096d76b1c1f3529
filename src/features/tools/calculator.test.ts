import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CalculatorError, evaluate, MAX_EXPRESSION_LENGTH } from './calculator.ts'

function fails(expression: string, pattern: RegExp, syntax = true): void {
  assert.throws(
    () => evaluate(expression),
    (error: unknown) => error instanceof CalculatorError && pattern.test(error.message) && error.syntax === syntax,
    expression,
  )
}

describe('calculator evaluate', () => {
  it('follows precedence: * / % before + -, ^ before all', () => {
    assert.equal(evaluate('2 + 3 * 4'), 14)
    assert.equal(evaluate('10 - 4 - 3'), 3)
    assert.equal(evaluate('100 / 10 / 5'), 2)
    assert.equal(evaluate('2 * 3 ^ 2'), 18)
    assert.equal(evaluate('1 + 10 % 4 * 2'), 5)
  })

  it('makes ^ right-associative and binds it tighter than unary minus', () => {
    assert.equal(evaluate('2 ^ 3 ^ 2'), 512)
    assert.equal(evaluate('-2 ^ 2'), -4)
    assert.equal(evaluate('(-2) ^ 2'), 4)
    assert.equal(evaluate('2 ^ -1'), 0.5)
    assert.equal(evaluate('2 ** 10'), 1024)
  })

  it('computes % as the remainder', () => {
    assert.equal(evaluate('17 % 5'), 2)
    assert.equal(evaluate('-7 % 3'), -1)
    assert.equal(evaluate('7.5 % 2'), 1.5)
  })

  it('handles parentheses, unary signs, decimals and exponents', () => {
    assert.equal(evaluate('(2 + 3) * 4'), 20)
    assert.equal(evaluate('((1))'), 1)
    assert.equal(evaluate('--3'), 3)
    assert.equal(evaluate('+4 - -2'), 6)
    assert.equal(evaluate('.5 + 1.25'), 1.75)
    assert.equal(evaluate('1e3 / 4'), 250)
    assert.equal(evaluate('0.1 + 0.2'), 0.3)
  })

  it('accepts the typographic operators × ÷ −', () => {
    assert.equal(evaluate('6 × 7'), 42)
    assert.equal(evaluate('9 ÷ 3'), 3)
    assert.equal(evaluate('5 − 8'), -3)
  })

  it('refuses division and remainder by zero as arithmetic errors', () => {
    fails('1 / 0', /Division by zero/, false)
    fails('5 % (2 - 2)', /Division by zero/, false)
    fails('10 ^ 400', /not a finite number/, false)
  })

  it('refuses bad syntax with the position', () => {
    fails('', /empty/)
    fails('2 +', /ended unexpectedly/)
    fails('(1 + 2', /closing parenthesis/)
    fails('1 + 2)', /Unexpected "\)" at position 6/)
    fails('2 3', /Unexpected "3"/)
    fails('1..2', /Unexpected/)
    fails('abc', /Unexpected "a" at position 1/)
    fails('process.exit()', /Unexpected "p"/)
    fails('1; 2', /Unexpected ";"/)
  })

  it('bounds input length and nesting', () => {
    fails('1+'.repeat(MAX_EXPRESSION_LENGTH) + '1', /longer than/)
    fails('('.repeat(200) + '1' + ')'.repeat(200), /nests deeper/)
    fails('-'.repeat(500) + '1', /nests deeper/)
  })
})
