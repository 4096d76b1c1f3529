import type { Logger } from 'pino'
import { createInMemoryJobManager, type ChatJob, type JobHandle, type JobManager, type JobStatus } from '../../features/chat/index.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'
import type { RedisPort } from '../client.ts'
import { OwnedJob } from './owned-job.ts'
import { RemoteJob } from './remote-job.ts'
import { CLAIM } from './scripts.ts'

export interface RedisJobManagerOptions {
  redis: RedisPort
  clock: Clock
  logger?: Logger
  /** How long a finished job stays replayable (config `chat.job_retention`). */
  retentionMs: number
  /** TTL of a running job's record and log, refreshed while it runs (config `redis.job_ttl`). */
  ttlMs: number
  /** `MAXLEN ~` of each log (config `redis.stream_max_len`). */
  maxLen: number
  /** Text deltas gathered per log entry (config `redis.coalesce_window`). */
  coalesceMs: number
  /** A live reader's re-read without news. Default 1000 ms. */
  pollMs?: number
  /** This instance's id in job records. Default a random UUID. */
  instanceId?: string
}

export interface RedisJobManager extends JobManager {
  readonly instanceId: string
  close(): Promise<void>
}

/**
 * Jobs shared by every instance through Redis: one record per conversation claimed atomically
 * (a second start anywhere is a 409), one stream per generation, stop from anywhere (a flag in the
 * record plus a message to the owner). The owner keeps its running jobs in memory too, so its own
 * readers never wait on Redis. While Redis is unreachable no generation starts: 503 with
 * `Retry-After` (resume of this instance's own jobs still works).
 */
export function createRedisJobManager(options: RedisJobManagerOptions): RedisJobManager {
  const { redis, clock, logger, retentionMs, ttlMs } = options
  const instanceId = options.instanceId ?? crypto.randomUUID()
  const pollMs = options.pollMs ?? 1_000
  let nextId = ''
  const local = createInMemoryJobManager({ retentionMs, clock, newId: () => nextId })
  const owned = new Map<string, OwnedJob>()
  const remoteListeners = { count: 0 }
  const stopChannelPrefix = redis.key('stop', '')
  const stopChannel = stopChannelPrefix + instanceId
  let touching: TimerHandle | undefined

  const tag = (conversationId: string) => `{conv:${conversationId}}`
  const recordKey = (conversationId: string) => redis.key(tag(conversationId), 'job')
  const logKey = (conversationId: string, jobId: string) => redis.key(tag(conversationId), 'log', jobId)
  const newsChannel = (conversationId: string) => redis.key(tag(conversationId), 'news')

  const onStop = (jobId: string) => void owned.get(jobId)?.stop('stopped')
  void redis.subscribe(stopChannel, onStop)

  function onEnded(job: OwnedJob) {
    owned.delete(job.id)
    if (owned.size === 0) {
      clock.clearInterval(touching)
      touching = undefined
    }
  }

  function touchAll() {
    const now = clock.now()
    for (const job of owned.values()) if (!job.settled && now - job.lastWriteAt >= ttlMs / 3) job.touch()
  }

  const unavailable = () => problems.unavailable('Generations need Redis, which is unreachable right now; retry shortly')

  return {
    instanceId,
    async create({ userId, conversationId }) {
      if (local.running(conversationId)) throw problems.conflict('A reply is already being generated in this conversation')
      if (!redis.connected) throw unavailable()
      const id = crypto.randomUUID()
      let claimed: [number, string]
      try {
        claimed = await redis.eval<[number, string]>(CLAIM, [recordKey(conversationId), redis.key(tag(conversationId), 'epoch')], [id, userId, conversationId, instanceId, ttlMs])
      } catch (error) {
        logger?.warn({ err: error, conversation_id: conversationId }, 'could not claim the conversation in Redis')
        throw unavailable()
      }
      const [epoch, previous] = claimed
      if (epoch === 0) throw problems.conflict('A reply is already being generated in this conversation')
      // The previous reply is saved and this job replaces it as the conversation's latest.
      if (previous) redis.command(['DEL', logKey(conversationId, previous)]).catch(() => {})
      nextId = id
      const inner: ChatJob = local.create({ userId, conversationId })
      const job = new OwnedJob(inner, {
        redis,
        clock,
        logger,
        recordKey: recordKey(conversationId),
        logKey: logKey(conversationId, id),
        newsChannel: newsChannel(conversationId),
        epoch,
        ttlMs,
        retentionMs,
        maxLen: options.maxLen,
        coalesceMs: options.coalesceMs,
        onEnded,
      })
      owned.set(id, job)
      touching ??= clock.setInterval(touchAll, Math.max(50, Math.floor(ttlMs / 3)), { unref: true })
      return job
    },
    async find(conversationId): Promise<JobHandle | undefined> {
      const mine = local.running(conversationId)
      if (mine) return mine
      let record: (string | null)[]
      try {
        record = await redis.command<(string | null)[]>(['HMGET', recordKey(conversationId), 'id', 'user', 'status'])
      } catch {
        const retained = local.latest(conversationId)
        if (retained) return retained
        throw unavailable()
      }
      const [id, user, status] = record
      if (!id || !user || !status) return undefined
      const retained = local.latest(conversationId)
      if (retained?.id === id) return retained
      return new RemoteJob(
        { id, user, conv: conversationId, status: status as JobStatus },
        {
          redis,
          clock,
          recordKey: recordKey(conversationId),
          logKey: logKey(conversationId, id),
          newsChannel: newsChannel(conversationId),
          stopChannelPrefix,
          pollMs,
          listeners: remoteListeners,
        },
      )
    },
    latest: (conversationId) => local.latest(conversationId),
    running: (conversationId) => local.running(conversationId),
    stats() {
      const stats = local.stats()
      return { ...stats, listeners: stats.listeners + remoteListeners.count }
    },
    async close() {
      const running = [...owned.values()].filter((job) => job.status === 'running')
      for (const job of running) job.stop('stopped')
      // The stopped replies are saved and their ends written, within a bound: Redis may be gone.
      let timer: TimerHandle | undefined
      const bound = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, 2_000, { unref: true })))
      await Promise.race([Promise.all(running.map((job) => job.finished)).then(() => settle(() => [...owned.values()].every((j) => j.settled), clock, clock.now() + 2_000)), bound])
      clock.clearTimeout(timer)
      clock.clearInterval(touching)
      touching = undefined
      for (const job of owned.values()) job.abandon()
      owned.clear()
      local.close()
      await redis.unsubscribe(stopChannel, onStop)
    },
  }
}

/** Resolves once `done()` holds or the deadline passed, checking every 10 ms. */
async function settle(done: () => boolean, clock: Clock, deadline: number): Promise<void> {
  while (!done() && clock.now() < deadline) await new Promise<void>((resolve) => clock.setTimeout(resolve, 10, { unref: true }))
}
