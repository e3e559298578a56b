/**
 * Outcomes of work done with values under a canary, counted per deployment and side and sent to
 * `POST /api/v1/deployments/{id}/metrics`: enough canary errors and the service rolls back.
 */
import { ConfigServiceError } from './errors.js';
import type { Http } from './http.js';
import type { DeploymentSide } from './types.js';

interface Counts {
  requests: number;
  errors: number;
}

export class Outcomes {
  private readonly pending = new Map<string, Counts & DeploymentSide>();

  constructor(
    private readonly http: Http,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(deployment: DeploymentSide, ok: boolean): void {
    const id = `${deployment.deploymentId}\u0000${deployment.side}`;
    const counts = this.pending.get(id) ?? { ...deployment, requests: 0, errors: 0 };
    counts.requests++;
    if (!ok) counts.errors++;
    this.pending.set(id, counts);
  }

  /** Sends what is recorded. Counts a failed send keeps for the next one. */
  async flush(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    await Promise.all(batch.map(([id, counts]) => this.send(id, counts)));
  }

  private async send(id: string, counts: Counts & DeploymentSide) {
    const { deploymentId, side, requests, errors } = counts;
    try {
      // Its own deadline, not the follow loop's signal: close() sends what is left after it
      // has stopped following.
      const res = await this.http.request(
        `/api/v1/deployments/${encodeURIComponent(deploymentId)}/metrics`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ requests, errors, side }),
        },
        AbortSignal.timeout(5000),
      );
      await res.body?.cancel();
      // The deployment finished or is gone: its counts no longer matter.
      if (res.ok || res.status === 404 || res.status === 409) return;
      throw new ConfigServiceError(res.status, `metrics answered ${res.status}`);
    } catch (error) {
      const kept = this.pending.get(id) ?? { ...counts, requests: 0, errors: 0 };
      kept.requests += requests;
      kept.errors += errors;
      this.pending.set(id, kept);
      this.onError(error);
    }
  }
}
