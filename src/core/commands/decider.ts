/**
 * The one shape every aggregate's domain has: a state to start from, how an event changes it,
 * and what a command decides given the state. Pure: no I/O, no clock (times come in commands).
 */
export interface DomainEvent {
  type: string;
  data: unknown;
}

export interface Decider<C, S, E extends DomainEvent> {
  initialState: () => S;
  evolve: (state: S, event: E) => S;
  /** The events a command leads to; throws a DomainError to refuse it. */
  decide: (command: C, state: S) => E[];
}

/** The read half of a decider: enough to fold a stream. */
export type Evolver<S, E extends DomainEvent> = Pick<
  Decider<never, S, E>,
  'initialState' | 'evolve'
>;

export function fold<S, E extends DomainEvent>(
  decider: Evolver<S, E>,
  state: S,
  events: readonly E[],
): S {
  return events.reduce(decider.evolve, state);
}

/** The state a list of events builds from nothing. */
export const foldFromStart = <S, E extends DomainEvent>(decider: Evolver<S, E>, events: E[]) =>
  fold(decider, decider.initialState(), events);
