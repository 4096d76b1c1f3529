/** The error a cancelled stream ends with, per the `ChatRequest.signal` contract. */
export function abortError(): DOMException {
  return new DOMException('The operation was aborted', 'AbortError')
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts; leaves no timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError())
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortError())
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
