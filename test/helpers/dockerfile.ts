import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './runtimes.ts'

export interface Instruction {
  stage: string
  keyword: string
  args: string
}

/** The Dockerfile's instructions with continuations joined, comments dropped, `ARG` defaults substituted. */
export function parseDockerfile(text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')): Instruction[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const argDefaults = new Map<string, string>()
  const out: Instruction[] = []
  let stage = ''
  for (const line of logical) {
    const [, keyword, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? []
    const upper = keyword.toUpperCase()
    const args = rest.replace(/\$\{(\w+)\}/g, (all, name: string) => argDefaults.get(name) ?? all)
    if (upper === 'ARG') {
      const [name, value] = args.split('=')
      if (value !== undefined) argDefaults.set(name.trim(), value.trim())
    }
    if (upper === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? String(out.length)
    out.push({ stage, keyword: upper, args })
  }
  return out
}

/** The instructions of the last (runtime) stage. */
export function finalStage(instructions: Instruction[]): Instruction[] {
  const last = instructions.at(-1)!.stage
  return instructions.filter((i) => i.stage === last)
}

/** A `COPY`'s sources and destination, and the stage it copies from (`--from=`), if any. */
export function copyOf(instruction: Instruction): { from?: string; sources: string[]; destination: string } {
  const parts = instruction.args.split(/\s+/)
  const from = parts.find((part) => part.startsWith('--from='))?.slice('--from='.length)
  const paths = parts.filter((part) => !part.startsWith('--'))
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! }
}

/** The HEALTHCHECK's command in exec form. */
export function healthcheckArgv(instructions: Instruction[]): string[] {
  const healthcheck = finalStage(instructions).find((i) => i.keyword === 'HEALTHCHECK')
  if (!healthcheck) throw new Error('no HEALTHCHECK in the runtime stage')
  const [, command] = /\bCMD\s+(.*)$/.exec(healthcheck.args) ?? []
  return JSON.parse(command)
}
