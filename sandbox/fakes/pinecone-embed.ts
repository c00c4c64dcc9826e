import { type FakeResponse, seededRandom } from './server.ts'

/** Hosted embedding models the fake serves, with their allowed dimensions and limits. */
export const EMBED_MODELS: Record<
  string,
  { dimensions: number[]; defaultDimension: number; maxTokens: number }
> = {
  'llama-text-embed-v2': {
    dimensions: [384, 512, 768, 1024, 2048],
    defaultDimension: 1024,
    maxTokens: 2048,
  },
  'multilingual-e5-large': { dimensions: [1024], defaultDimension: 1024, maxTokens: 507 },
}

const MAX_INPUTS = 96
const INPUT_TYPES = new Set(['query', 'passage'])
const TRUNCATE = new Set(['END', 'START', 'NONE'])

/** The control plane's error body: `{ error: { code, message }, status }`. */
export function controlError(status: number, code: string, message: string): FakeResponse {
  return { status, body: { error: { code, message }, status } }
}

function invalid(message: string): FakeResponse {
  return controlError(400, 'INVALID_ARGUMENT', message)
}

/** Pinecone's tokenizers are not reproduced; a quarter of the characters is close for English. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4)
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let n = 0; n < text.length; n += 1) {
    h = Math.imul(h ^ text.charCodeAt(n), 0x01000193) >>> 0
  }
  return h
}

/**
 * The fake's embedding: a unit vector drawn from a hash of `inputType` and `text`, so the same
 * input always gives the same vector and a query differs from the passage with the same text.
 */
export function fakeEmbedding(text: string, inputType: string, dimension: number): number[] {
  const random = seededRandom(fnv1a(`${inputType}\n${text}`))
  const raw = Array.from({ length: dimension }, () => random() * 2 - 1)
  const norm = Math.sqrt(raw.reduce((sum, value) => sum + value * value, 0)) || 1
  return raw.map((value) => value / norm)
}

type EmbedRequest = {
  model: string
  inputs: Array<{ text: string }>
  parameters: Record<string, unknown>
}

function readRequest(body: unknown): EmbedRequest | string {
  if (typeof body !== 'object' || body === null) {
    return 'The request body must be a JSON object.'
  }
  const { model, inputs, parameters = {} } = body as Record<string, unknown>
  if (typeof model !== 'string') {
    return 'model is required.'
  }
  const validInputs =
    Array.isArray(inputs) &&
    inputs.every((input) => typeof (input as { text?: unknown } | null)?.text === 'string')
  if (!validInputs || inputs.length === 0) {
    return 'inputs must be a non-empty list of { text } objects.'
  }
  if (typeof parameters !== 'object' || parameters === null) {
    return 'parameters must be an object.'
  }
  return { model, inputs, parameters: parameters as Record<string, unknown> }
}

/**
 * `POST /embed` (inference, on the controller host). `defaultDimension` replaces the model's own
 * when the request names none (a fake-only knob: large benchmark indexes stay small).
 */
export function embed(body: unknown, defaultDimension?: number): FakeResponse {
  const request = readRequest(body)
  if (typeof request === 'string') {
    return invalid(request)
  }
  const model = EMBED_MODELS[request.model]
  if (!model) {
    return invalid(
      `Model '${request.model}' not found. Supported models: ${Object.keys(EMBED_MODELS).join(', ')}`,
    )
  }
  if (request.inputs.length > MAX_INPUTS) {
    return invalid(
      `Batch size exceeds ${MAX_INPUTS} inputs; got ${request.inputs.length} inputs for model '${request.model}'.`,
    )
  }
  const { input_type: inputType, truncate = 'END', dimension } = request.parameters
  if (typeof inputType !== 'string' || !INPUT_TYPES.has(inputType)) {
    return invalid(
      `Parameter 'input_type' is required for model '${request.model}': 'query' or 'passage'.`,
    )
  }
  if (typeof truncate !== 'string' || !TRUNCATE.has(truncate)) {
    return invalid(`Parameter 'truncate' must be one of END, START, NONE.`)
  }
  // The v8 client types parameters as strings, so a dimension may arrive as "1024".
  const size =
    dimension === undefined ? (defaultDimension ?? model.defaultDimension) : Number(dimension)
  if (dimension !== undefined && !model.dimensions.includes(size)) {
    return invalid(
      `Dimension ${String(dimension)} is not supported by '${request.model}': use one of ${model.dimensions.join(', ')}.`,
    )
  }
  let totalTokens = 0
  for (const [index, input] of request.inputs.entries()) {
    const tokens = estimateTokens(input.text)
    if (tokens > model.maxTokens && truncate === 'NONE') {
      return invalid(
        `Input ${index} is ${tokens} tokens, more than the ${model.maxTokens} tokens '${request.model}' allows, and truncate is NONE.`,
      )
    }
    totalTokens += Math.min(tokens, model.maxTokens)
  }
  return {
    status: 200,
    body: {
      model: request.model,
      vector_type: 'dense',
      // The client reads `vector_type` on every item as well; without it the SDK throws.
      data: request.inputs.map((input) => ({
        values: fakeEmbedding(input.text, inputType, size),
        vector_type: 'dense',
      })),
      usage: { total_tokens: totalTokens },
    },
  }
}
