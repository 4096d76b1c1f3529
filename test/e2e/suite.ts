import { describe } from 'node:test'
import { authChecks } from './auth.ts'
import { chatChecks } from './chat.ts'
import type { TargetRef } from './client.ts'
import { conversationChecks } from './conversations.ts'
import { errorChecks } from './errors.ts'
import { healthChecks } from './health.ts'
import { meChecks } from './me.ts'
import { memoryChecks } from './memory.ts'
import { metricsChecks } from './metrics.ts'
import { openAIChecks } from './openai.ts'
import { rateLimitChecks } from './rate-limit.ts'
import { requestIdChecks } from './request-id.ts'
import { securityHeaderChecks } from './security-headers.ts'
import { staticChecks } from './static.ts'
import { toolChecks } from './tools.ts'
import { webSocketChecks } from './websocket.ts'

export { call, read, bearer, assertProblem, type E2ETarget, type E2EResponse, type TargetRef } from './client.ts'
export { earlyAnswerChecks } from './early-answers.ts'

/**
 * The areas of the black-box suite, one file each. Adding an area: write `test/e2e/<area>.ts`
 * exporting `(target: TargetRef) => void` that registers a `describe`, and list it here.
 */
export const AREAS: ((target: TargetRef) => void)[] = [
  healthChecks,
  metricsChecks,
  staticChecks,
  errorChecks,
  authChecks,
  rateLimitChecks,
  requestIdChecks,
  securityHeaderChecks,
  meChecks,
  conversationChecks,
  memoryChecks,
  toolChecks,
  chatChecks,
  openAIChecks,
  webSocketChecks,
]

/**
 * Registers the whole suite (HTTP, SSE and WebSocket) against a running server. Call it inside a `describe` whose
 * `before` hook starts the server; `target` is read when the tests run, not when they are declared.
 */
export function runE2E(target: TargetRef): void {
  describe('e2e', () => {
    for (const area of AREAS) area(target)
  })
}
