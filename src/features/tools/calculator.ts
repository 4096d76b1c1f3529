import { z } from 'zod'
import { ToolError, type Tool } from './registry.ts'

export const MAX_EXPRESSION_LENGTH = 1_000
const MAX_NESTING = 100

/** Why an expression could not be evaluated: bad syntax (the caller's input) or an arithmetic failure. */
export class CalculatorError extends Error {
  readonly syntax: boolean
  constructor(message: string, syntax: boolean) {
    super(message)
    this.name = 'CalculatorError'
    this.syntax = syntax
  }
}

type Token = { kind: 'number'; value: number; at: number } | { kind: 'op'; value: string; at: number } | { kind: 'end'; at: number }

const OPERATOR_ALIASES: Record<string, string> = { '×': '*', '÷': '/', '−': '-', '–': '-', '·': '*' }

function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < input.length) {
    const ch = input[i]
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++
      continue
    }
    if ((ch >= '0' && ch <= '9') || ch === '.') {
      const match = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(input.slice(i))
      if (!match) throw new CalculatorError(`Unexpected "${ch}" at position ${i + 1}`, true)
      tokens.push({ kind: 'number', value: Number(match[0]), at: i })
      i += match[0].length
      continue
    }
    if (ch === '*' && input[i + 1] === '*') {
      tokens.push({ kind: 'op', value: '^', at: i })
      i += 2
      continue
    }
    const op = OPERATOR_ALIASES[ch] ?? ch
    if ('+-*/%^()'.includes(op)) {
      tokens.push({ kind: 'op', value: op, at: i })
      i++
      continue
    }
    throw new CalculatorError(`Unexpected "${ch}" at position ${i + 1}`, true)
  }
  tokens.push({ kind: 'end', at: input.length })
  return tokens
}

/**
 * Evaluates arithmetic by recursive descent — never `eval`/`Function`.
 *
 *   expression := term (("+" | "-") term)*
 *   term       := unary (("*" | "/" | "%") unary)*
 *   unary      := ("-" | "+") unary | power
 *   power      := primary ("^" unary)?        right-associative; -2^2 = -(2^2)
 *   primary    := number | "(" expression ")"
 *
 * `×`, `÷`, `−` and `**` are accepted as `*`, `/`, `-` and `^`; `%` is the remainder.
 */
export function evaluate(input: string): number {
  if (input.length > MAX_EXPRESSION_LENGTH) throw new CalculatorError(`The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`, true)
  const tokens = tokenize(input)
  let position = 0
  let depth = 0

  const peek = () => tokens[position]
  const isOp = (value: string) => {
    const token = tokens[position]
    return token.kind === 'op' && token.value === value
  }
  const unexpected = (token: Token): CalculatorError =>
    token.kind === 'end'
      ? new CalculatorError('The expression ended unexpectedly', true)
      : new CalculatorError(`Unexpected "${token.kind === 'number' ? token.value : token.value}" at position ${token.at + 1}`, true)

  function expression(): number {
    let value = term()
    while (isOp('+') || isOp('-')) {
      const op = (tokens[position++] as { value: string }).value
      const right = term()
      value = op === '+' ? value + right : value - right
    }
    return value
  }

  function term(): number {
    let value = unary()
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = (tokens[position++] as { value: string }).value
      const right = unary()
      if ((op === '/' || op === '%') && right === 0) throw new CalculatorError('Division by zero', false)
      value = op === '*' ? value * right : op === '/' ? value / right : value % right
    }
    return value
  }

  function unary(): number {
    if (isOp('-') || isOp('+')) {
      const negative = isOp('-')
      position++
      const value = nested(unary)
      return negative ? -value : value
    }
    return power()
  }

  function power(): number {
    const base = primary()
    if (!isOp('^')) return base
    position++
    return base ** nested(unary)
  }

  function primary(): number {
    const token = peek()
    if (token.kind === 'number') {
      position++
      return token.value
    }
    if (isOp('(')) {
      position++
      const value = nested(expression)
      if (!isOp(')')) throw peek().kind === 'end' ? new CalculatorError('A closing parenthesis is missing', true) : unexpected(peek())
      position++
      return value
    }
    throw unexpected(token)
  }

  function nested(parse: () => number): number {
    if (++depth > MAX_NESTING) throw new CalculatorError(`The expression nests deeper than ${MAX_NESTING} levels`, true)
    try {
      return parse()
    } finally {
      depth--
    }
  }

  if (peek().kind === 'end') throw new CalculatorError('The expression is empty', true)
  const value = expression()
  if (peek().kind !== 'end') throw unexpected(peek())
  if (!Number.isFinite(value)) throw new CalculatorError('The result is not a finite number', false)
  // Hides binary floating-point noise (0.1 + 0.2 → 0.3) without losing meaningful digits.
  return Number(value.toPrecision(15))
}

const calculatorSchema = z.strictObject({
  expression: z
    .string()
    .min(1)
    .max(MAX_EXPRESSION_LENGTH)
    .describe('Arithmetic with + - * / ^ % and parentheses, e.g. "(2 + 3) * 4 ^ 2"'),
})

export function calculatorTool(): Tool<typeof calculatorSchema> {
  return {
    name: 'calculator',
    description: 'Evaluates an arithmetic expression exactly (+ − × ÷, ^ for powers, % for remainder, parentheses). Use it instead of doing arithmetic yourself.',
    schema: calculatorSchema,
    async handler({ expression }) {
      try {
        return { expression, result: evaluate(expression) }
      } catch (error) {
        if (error instanceof CalculatorError) throw new ToolError(error.message, error.syntax ? { field: 'expression' } : {})
        throw error
      }
    },
  }
}
