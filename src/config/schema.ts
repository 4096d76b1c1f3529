import { z } from 'zod'
import { duration, size } from './units.ts'

const port = z.number().int().min(0).max(65535)
const positiveInt = z.number().int().positive()
const nonNegativeInt = z.number().int().min(0)
const nullableString = z.string().min(1).nullable()

const cidr = z.string().refine((value) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(value), {
  message: 'expected an IP address or CIDR range such as 10.0.0.0/8',
})

const origin = z.string().refine((value) => value === '*' || /^https?:\/\/[^/\s]+$/.test(value), {
  message: 'expected an origin such as https://app.example.com (scheme and host, no path)',
})

export const serverSchema = z.strictObject({
  host: z.string().min(1),
  port,
  read_timeout: duration,
  write_timeout: duration,
  idle_timeout: duration,
  shutdown_timeout: duration,
  request_timeout: duration,
  enable_http2: z.boolean(),
  max_concurrent_streams: positiveInt,
  max_header_bytes: size,
  max_connections: nonNegativeInt,
  max_request_body_size: size,
  max_json_body_size: size,
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  trusted_proxies: z.array(cidr),
  static_dir: z.string().min(1),
  tls: z.strictObject({
    enabled: z.boolean(),
    cert_file: nullableString,
    key_file: nullableString,
    min_version: z.enum(['1.2', '1.3']),
  }),
  cors: z.strictObject({
    enabled: z.boolean(),
    allowed_origins: z.array(origin),
    allowed_methods: z.array(z.string().min(1)),
    allowed_headers: z.array(z.string().min(1)),
    exposed_headers: z.array(z.string().min(1)),
    allow_credentials: z.boolean(),
    max_age: duration,
  }).refine((cors) => !(cors.allow_credentials && cors.allowed_origins.includes('*')), {
    message: "'*' cannot be combined with allow_credentials: list the origins explicitly",
    path: ['allowed_origins'],
  }),
  websocket: z.strictObject({
    enabled: z.boolean(),
    max_message_size: positiveInt,
    ping_period: duration,
    pong_wait: duration,
    write_wait: duration,
    send_queue_size: positiveInt,
    messages_per_second: positiveInt,
    burst: positiveInt,
  }),
  security: z.strictObject({
    hsts: z.strictObject({
      enabled: z.boolean(),
      max_age: duration,
      include_subdomains: z.boolean(),
      preload: z.boolean(),
    }),
    csp: z.string(),
    api_csp: z.string(),
    referrer_policy: z.string().min(1),
    permissions_policy: z.string(),
  }),
  rate_limit: z.strictObject({
    enabled: z.boolean(),
    requests_per_minute: positiveInt,
    burst: positiveInt,
    global_requests_per_second: positiveInt,
    global_burst: positiveInt,
    /** Instances sharing the limits; without Redis (or while it is down) each one allows limit / instances. */
    instances: positiveInt,
  }),
  metrics: z.strictObject({
    enabled: z.boolean(),
    path: z.string().startsWith('/'),
    port,
  }),
})

export const configSchema = z
  .strictObject({
    server: serverSchema,
    auth: z.strictObject({
      mode: z.enum(['api_key', 'none']),
      /** Keys are kept as SHA-256 hex digests; plain keys from `API_KEYS` are hashed on load. */
      api_keys: z.array(
        z.strictObject({
          user: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'user ids are 1-64 chars of [A-Za-z0-9._@-]'),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex SHA-256 digest'),
        }),
      ),
    }),
    ai: z.strictObject({
      base_url: z.string().url().nullable(),
      api_key: nullableString,
      model: z.string().min(1),
      /** More upstream model ids a client may choose at `/v1` (`ai.model` is always offered). */
      models: z.array(z.string().min(1).max(200)),
      temperature: z.number().min(0).max(2),
      max_tokens: positiveInt,
      connect_timeout: duration,
      idle_timeout: duration,
      max_retries: nonNegativeInt.max(10),
      builtin: z.strictObject({ chunk_delay: duration }),
    }).refine((ai) => ai.base_url === null || ai.model !== 'builtin', {
      message: 'set ai.model (AI_MODEL) to the model name the endpoint at ai.base_url serves',
      path: ['model'],
    }),
    mongodb: z.strictObject({
      uri: nullableString,
      db: z.string().min(1),
      max_pool_size: positiveInt,
      server_selection_timeout: duration,
      connect_timeout: duration,
      socket_timeout: duration,
      /** The bound on every store operation (503 after it), whatever the operation waits for. */
      operation_timeout: duration,
    }),
    redis: z.strictObject({
      url: z.string().regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL').nullable(),
      key_prefix: z.string().max(64),
      connect_timeout: duration,
      command_timeout: duration,
      rate_limit_timeout: duration,
      reconnect_max_delay: duration,
      max_queued_commands: positiveInt,
      job_ttl: duration,
      stream_max_len: positiveInt,
      coalesce_window: duration,
    }),
    tools: z.strictObject({
      workspace_root: nullableString,
      timeout: duration,
      max_rounds: positiveInt.max(16),
      max_file_bytes: size,
      max_search_results: positiveInt,
    }),
    chat: z.strictObject({
      history_token_budget: positiveInt,
      memory_context_items: nonNegativeInt.max(20),
      heartbeat_interval: duration,
      job_retention: duration,
      stream_idle_timeout: duration,
      stream_total_timeout: duration,
      long_poll_timeout: duration,
      max_message_chars: positiveInt,
      max_active_per_user: nonNegativeInt,
      starts_per_minute: positiveInt,
      start_burst: positiveInt,
    }),
    quotas: z.strictObject({
      conversations: nonNegativeInt,
      messages_per_conversation: nonNegativeInt,
      memory_items: nonNegativeInt,
    }),
  })

/** The raw shape before validation: durations and sizes may still be strings. */
export type ConfigInput = z.input<typeof configSchema>
/** The validated config: durations in milliseconds, sizes in bytes. */
export type Config = z.output<typeof configSchema>
