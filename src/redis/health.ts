import type { HealthCheck } from '../kernel/health.ts'
import type { RedisPort } from './client.ts'

/**
 * `/health` reports `"redis": "connected" | "disconnected"` (503 while disconnected): rate limits are
 * local (limit / RATE_LIMIT_INSTANCES) and new generations are refused. Not critical for `/ready`:
 * the instance still serves everything else, and a Redis outage would otherwise make every
 * instance unready at once.
 */
export function redisHealthCheck(redis: RedisPort, timeoutMs: number): HealthCheck {
  return {
    name: 'redis',
    timeoutMs,
    critical: false,
    async check() {
      if (!redis.connected) throw new Error('redis is unreachable: rate limits are local, new generations are refused (503)')
      await redis.command(['PING'], timeoutMs)
    },
  }
}
