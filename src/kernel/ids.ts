/**
 * Ids callers may choose (AI SDK chat ids, conversation ids): 1-128 characters of `[A-Za-z0-9._:-]`,
 * never `.` or `..`, which a URL path normalises away (such a resource could be made but never
 * reached). Ids we generate are UUIDs.
 */
export const ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._:-]{1,128}$/

export const ID_RULE = 'ids are 1-128 chars of [A-Za-z0-9._:-], not "." or ".."'
