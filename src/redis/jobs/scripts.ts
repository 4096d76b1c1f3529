import { LuaScript } from '../client.ts'

/**
 * The job record is a hash under the conversation's hash tag, `{conv:<id>}:job`:
 * id, user, conv, owner (instance id), epoch (fencing), status, stop ('1' once asked to stop).
 * The log is a stream per generation, `{conv:<id>}:log:<job id>`, whose entry ids are `0-<seq>`:
 * the SSE `id:` is the entry id's sequence part, so `Last-Event-ID: n` reads from `0-n`.
 */

/**
 * The atomic claim. KEYS: record, epoch counter. ARGV: job id, user, conversation, owner, ttl ms.
 * Returns {0} while another generation runs, else {epoch, previous job id or ''}.
 */
export const CLAIM = new LuaScript(`
if redis.call('HGET', KEYS[1], 'status') == 'running' then return {0, ''} end
local previous = redis.call('HGET', KEYS[1], 'id') or ''
local epoch = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 86400000)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'user', ARGV[2], 'conv', ARGV[3], 'owner', ARGV[4], 'epoch', epoch, 'status', 'running', 'stop', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {epoch, previous}
`)

/**
 * Appends entries, refreshes the TTLs and tells readers. Fenced: only the claiming job and epoch of a
 * running record may write. KEYS: record, log. ARGV: job id, epoch, ttl ms, max length, news
 * channel, final status ('' while running), then seq, type, data for each entry.
 * Returns -1 when fenced off, else the stop flag (0 or 1).
 */
export const APPEND = new LuaScript(`
local r = redis.call('HMGET', KEYS[1], 'id', 'epoch', 'status', 'stop')
if r[1] ~= ARGV[1] or r[2] ~= ARGV[2] or r[3] ~= 'running' then return -1 end
local last = ''
for i = 7, #ARGV, 3 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '0-' .. ARGV[i], 't', ARGV[i + 1], 'd', ARGV[i + 2])
  last = ARGV[i]
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if last ~= '' then redis.call('PUBLISH', ARGV[5], last) end
return tonumber(r[4])
`)

/**
 * Stop from any instance. KEYS: record. ARGV: user, stop channel prefix (the owner's id is appended).
 * Sets the stop flag and tells the owner; returns 0 when there is no running job of that user.
 */
export const STOP = new LuaScript(`
local r = redis.call('HMGET', KEYS[1], 'id', 'user', 'status', 'owner')
if r[3] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'stop', '1')
redis.call('PUBLISH', ARGV[2] .. r[4], r[1])
return 1
`)
