import { HttpProblem, problems } from '../../kernel/problem.ts'
import type { BucketSpec, BucketStore } from '../../middleware/rate-limit/index.ts'

export interface AdmissionOptions {
  /** Longest message, in characters (config `chat.max_message_chars`). */
  maxMessageChars: number
  /** Generations one user may have running at once, over every transport; 0 lifts the cap (config `chat.max_active_per_user`). */
  maxActivePerUser: number
  /** Chat starts per user (config `chat.starts_per_minute`, `chat.start_burst`), taken from `store`. */
  starts?: { store: BucketStore; spec: BucketSpec }
}

/** Releases a generation slot; calling it again does nothing. */
export type Release = () => void

/**
 * What every chat start passes, whatever the transport (JSON, SSE, AI SDK, WebSocket): the message
 * checks, the user's start budget, and the cap on the user's running generations. The HTTP rate
 * limit counts requests; a WebSocket carries many chats on one upgrade, so these are counted here.
 */
export interface Admission {
  /** Throws a 400 problem for a blank or over-long message. */
  checkMessage(message: string): void
  /** Takes a start from the user's budget and a running slot; throws a 429 problem when either is spent. */
  admit(userId: string): Promise<Release>
  /** Running generations per user (tests, stats). */
  active(userId: string): number
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { maxMessageChars, maxActivePerUser, starts } = options
  const running = new Map<string, number>()
  /** The user's running generations; a 429 problem when they are at the cap. */
  const checkRunning = (userId: string): number => {
    const count = running.get(userId) ?? 0
    if (maxActivePerUser > 0 && count >= maxActivePerUser) {
      throw limited(`${maxActivePerUser} generations are already running for this user; wait for one to finish or stop it`, 1)
    }
    return count
  }

  return {
    checkMessage(message) {
      if (message.trim().length === 0) throw invalidMessage('message must not be empty')
      if (message.length > maxMessageChars) throw invalidMessage(`message is longer than ${maxMessageChars} characters`)
    },
    async admit(userId) {
      // Checked before the start budget too, so a capped user does not spend starts.
      checkRunning(userId)
      if (starts) {
        const taken = await starts.store.take(`chat-start:${userId}`, starts.spec)
        if (!taken.allowed) throw limited('Too many chats started; retry later', Math.max(1, Math.ceil(taken.retryAfterMs / 1000)))
      }
      // Counted after the await: two starts racing past the check both see the slot taken here.
      running.set(userId, checkRunning(userId) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (running.get(userId) ?? 1) - 1
        if (left > 0) running.set(userId, left)
        else running.delete(userId)
      }
    },
    active: (userId) => running.get(userId) ?? 0,
  }
}

/** The 400 the HTTP validator gives for the same fault, so every transport reads alike. */
function invalidMessage(message: string): HttpProblem {
  return problems.badRequest(`Invalid request body: ${message}`, [{ path: 'message', message }])
}

function limited(detail: string, retryAfterSeconds: number): HttpProblem {
  const problem = problems.tooManyRequests(retryAfterSeconds)
  return new HttpProblem(429, { detail, headers: problem.headers })
}
