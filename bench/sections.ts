import { claimsSection } from './claims.ts'
import { measureColdStart } from './cold-start.ts'
import { firstWriteSection } from './first-write.ts'
import { memorySection } from './memory.ts'
import type { Section } from './section.ts'
import { boundSection, originalSection } from './throughput.ts'

/**
 * The sections of `npm run bench`, in the order they run. A new one is a line here: a name, a
 * title and a function that returns figures (bench/figures.ts).
 */
export const SECTIONS: readonly Section[] = [
  claimsSection,
  boundSection,
  originalSection,
  memorySection,
  firstWriteSection,
  {
    name: 'cold-start',
    title: 'Cold start and size of every bundle beside hello-world',
    run: (context) =>
      measureColdStart({ rounds: context.quick ? 1 : 10, progress: context.progress }),
  },
]
