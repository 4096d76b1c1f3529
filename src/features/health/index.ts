export { HealthChecks, Lifecycle, type CheckResult, type HealthReport, type LifecycleState } from './checks.ts'
export { healthRoutes, type HealthRoutesOptions } from './health.routes.ts'
