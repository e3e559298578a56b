/**
 * Given events / when a decision / then events, for the domain's unit tests:
 *   givenFor(evolve, initial)(events).when(decide).then(expected) | .thenNothing()
 *     | .thenRefused(code, field, details?)
 */
import { expect } from 'chai';
import { DomainError, type DomainErrorCode } from '../domain-error.js';

export function givenFor<S, E>(evolve: (state: S, event: E) => S, initial: () => S) {
  return function given(events: E[]) {
    const state = events.reduce(evolve, initial());
    return {
      state,
      when(decide: (state: S) => E[]) {
        let produced: E[] | undefined;
        let failure: unknown;
        try {
          produced = decide(state);
        } catch (error) {
          failure = error;
        }
        const events = (): E[] => {
          if (failure !== undefined) throw failure;
          return produced!;
        };
        return {
          then(expected: E[]) {
            expect(events()).to.deep.equal(expected);
            return events().reduce(evolve, state);
          },
          thenNothing() {
            expect(events()).to.deep.equal([]);
          },
          thenRefused(code: DomainErrorCode, field?: string, details?: Record<string, unknown>) {
            expect(
              failure,
              `expected ${code}, got events ${JSON.stringify(produced)}`,
            ).to.be.instanceOf(DomainError);
            const error = failure as DomainError;
            expect(error.code).to.equal(code);
            expect(error.field).to.equal(field);
            if (details !== undefined) expect(error.details).to.deep.equal(details);
            return error;
          },
        };
      },
    };
  };
}
