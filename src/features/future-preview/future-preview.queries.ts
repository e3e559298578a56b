/**
 * The preview's reads, from the read tables only: an environment's configurations now, its
 * pending scheduled changes (direct ones, and approved change requests with `applyAt` that their
 * schedule carries out: `approval_id`, `action`) and its pending change requests (`apply_at`
 * when timed; migration 1764230400053).
 */
import type pg from 'pg';
import { isCiphertext } from '../../core/crypto/envelope.js';
import type { ConfigType } from '../configs/config-values.js';
import type { CurrentConfig, PendingChange } from './future-preview.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const isoOf = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const strategyOf = (rollout: any): 'Direct' | 'Canary' | null =>
  rollout?.strategy === 'Canary' ? 'Canary' : rollout?.strategy === 'Direct' ? 'Direct' : null;

export class FuturePreviewQueries {
  constructor(private readonly db: pg.Pool) {}

  async current(tenantId: string, environment: string): Promise<CurrentConfig[]> {
    const { rows } = await this.db.query(
      `SELECT config_id, key, type, value, version, deleted_at IS NOT NULL AS deleted,
              (is_sensitive OR ever_sensitive OR is_encrypted) AS sensitive,
              (SELECT d.deployment_id FROM deployments d
                WHERE d.config_id = c.config_id AND d.status IN ('InProgress', 'Paused')
                LIMIT 1) AS held_by
         FROM configurations c WHERE tenant_id = $1 AND environment = $2`,
      [tenantId, environment],
    );
    return rows.map((r: any) => ({
      configId: r.config_id,
      key: r.key,
      type: r.type as ConfigType,
      value: r.value,
      version: r.version,
      deleted: r.deleted,
      sensitive: r.sensitive || isCiphertext(r.value),
      heldBy: r.held_by ?? null,
    }));
  }

  async pending(tenantId: string, environment: string): Promise<PendingChange[]> {
    const [schedules, requests] = await Promise.all([
      this.db.query(
        `SELECT s.*, a.rollout AS request_rollout
           FROM scheduled_changes s
           LEFT JOIN approval_requests a ON a.approval_id = s.approval_id
          WHERE s.tenant_id = $1 AND s.environment = $2 AND s.status = 'Pending'`,
        [tenantId, environment],
      ),
      this.db.query(
        `SELECT * FROM approval_requests
          WHERE tenant_id = $1 AND target_environment = $2 AND status = 'Pending'`,
        [tenantId, environment],
      ),
    ]);
    const scheduled = schedules.rows.map((r: any): PendingChange => ({
      kind: 'ScheduledChange',
      id: r.schedule_id,
      configId: r.config_id,
      key: r.config_key,
      type: (r.config_type ?? null) as ConfigType | null,
      action: r.action === 'Delete' ? 'Delete' : 'Update',
      value: r.value,
      baseVersion: r.base_version,
      applyAt: isoOf(r.apply_at)!,
      createdAt: isoOf(r.created_at)!,
      expiresAt: null,
      sensitive: r.is_sensitive || isCiphertext(r.value),
      strategy: r.approval_id ? strategyOf(r.request_rollout) : null,
      requestedBy: r.requested_by,
      approved: Boolean(r.approval_id),
    }));
    const requested = requests.rows.map((r: any): PendingChange => ({
      kind: 'ChangeRequest',
      id: r.approval_id,
      configId: r.config_id,
      key: r.config_key,
      type: (r.config_type ?? null) as ConfigType | null,
      action: r.action === 'Delete' ? 'Delete' : 'Update',
      value: r.proposed_value,
      baseVersion: r.base_version ?? null,
      applyAt: isoOf(r.apply_at),
      createdAt: isoOf(r.created_at)!,
      expiresAt: isoOf(r.expires_at),
      sensitive: r.is_sensitive || isCiphertext(r.proposed_value),
      strategy: strategyOf(r.rollout),
      requestedBy: r.requested_by,
      approved: false,
    }));
    return [...scheduled, ...requested];
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
