import type { HealthCheck } from '../kernel/health.ts'
import type { RedisPort } from './client.ts'

/**
 * `/health` reports `"redis": "connected" | "disconnected"`; while disconnected the server is not
 * ready (503): rate limits are local (limit / RATE_LIMIT_INSTANCES) and new generations are refused.
 */
export function redisHealthCheck(redis: RedisPort, timeoutMs: number): HealthCheck {
  return {
    name: 'redis',
    timeoutMs,
    async check() {
      if (!redis.connected) throw new Error('redis is unreachable: rate limits are local, new generations are refused (503)')
      await redis.command(['PING'], timeoutMs)
    },
  }
}
