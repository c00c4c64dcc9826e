import { describe, expect, it } from 'vitest'
import { figure } from './figures.ts'

describe('figure', () => {
  const base = { id: 'x', label: 'x', unit: 'ms', how: 'x' }

  it('meets an upper bound at and below it, not above', () => {
    expect(figure({ ...base, value: 3, target: { op: '<=', value: 3 } }).met).toBe(true)
    expect(figure({ ...base, value: 3.01, target: { op: '<=', value: 3 } }).met).toBe(false)
  })

  it('meets a lower bound at and above it, not below', () => {
    expect(figure({ ...base, value: 1.2, target: { op: '>=', value: 1.2 } }).met).toBe(true)
    expect(figure({ ...base, value: 1.19, target: { op: '>=', value: 1.2 } }).met).toBe(false)
  })
})
