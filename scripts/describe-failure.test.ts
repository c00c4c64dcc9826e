import { describe, expect, it } from 'vitest'
import { describeFailure } from './describe-failure.ts'

describe('describeFailure', () => {
  it('never says "undefined": a rejection without a reason says so', () => {
    expect(describeFailure(undefined)).toBe('it failed without giving a reason')
    expect(describeFailure(null)).toBe('it failed without giving a reason')
    expect(describeFailure('port taken')).toBe('port taken')
  })

  it('names each refused address of an AggregateError, once', () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' })
    const error = new AggregateError([refused('::1:1'), refused('127.0.0.1:1'), refused('::1:1')])
    expect(describeFailure(error)).toBe(
      'connect ECONNREFUSED ::1:1; connect ECONNREFUSED 127.0.0.1:1',
    )
  })

  it('adds a system error code its message lacks', () => {
    const error = Object.assign(new Error('listen failed'), { code: 'EADDRINUSE' })
    expect(describeFailure(error)).toBe('listen failed (EADDRINUSE)')
  })
})
