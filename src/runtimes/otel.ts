import { context, propagation, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import type { Logger } from 'pino'

export interface StartTracingOptions {
  logger: Logger
  /** `service.name`; `OTEL_SERVICE_NAME` wins when set. */
  serviceName: string
  /** `service.version`. */
  version: string
  /** The environment to read the standard `OTEL_*` variables from (`process.env`). */
  env: Record<string, string | undefined>
}

export interface Tracing {
  /** Flushes pending spans to the collector and unregisters the global provider. */
  shutdown(): Promise<void>
}

/**
 * Starts exporting spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise returns `undefined` and tracing stays the
 * API's no-op. Registers the W3C trace-context propagator and an AsyncLocalStorage context manager,
 * so the tracing middleware's spans are parented on inbound `traceparent` and active downstream.
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off.
 */
export async function startTracing(options: StartTracingOptions): Promise<Tracing | undefined> {
  const { env, logger } = options
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  if (!base && !signal) return undefined
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined

  // The signal-specific variable is used as is; the base one gets the signal path appended (OTLP spec).
  const url = signal || `${base!.replace(/\/+$/, '')}/v1/traces`
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME?.trim() || options.serviceName,
      'service.version': options.version,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  })
  // register() defaults to the AsyncLocalStorage context manager on Node.
  provider.register({ propagator: new W3CTraceContextPropagator() })
  logger.info({ url }, 'exporting traces over OTLP/HTTP')

  return {
    async shutdown() {
      try {
        await provider.shutdown()
      } catch (error) {
        logger.warn({ err: error }, 'flushing traces failed')
      } finally {
        trace.disable()
        propagation.disable()
        context.disable()
      }
    },
  }
}
