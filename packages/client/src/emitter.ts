/** A small typed event emitter (no Node `events`, so it runs anywhere). */
type Listener = (...args: never[]) => void;

export class Emitter<Events extends { [E in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as Listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void {
    this.listeners.get(event)?.delete(listener as unknown as Listener);
  }

  /** Calls each listener; one that throws is reported to `onThrow`, the others still run. */
  protected emit<E extends keyof Events>(
    event: E,
    args: Events[E],
    onThrow: (error: unknown) => void,
  ): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as unknown as (...a: Events[E]) => void)(...args);
      } catch (error) {
        onThrow(error);
      }
    }
  }
}
