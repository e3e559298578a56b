/**
 * Configurations and their versions, from the read tables (never the event store). Lists mask
 * the values of sensitive configurations; a config that ever was sensitive keeps its history
 * masked (the rule: config.view.ts).
 */
import type pg from 'pg';
import { pageOf, type Page } from '../../core/postgres/paging.js';
import {
  configurationOfRow,
  configurationVersionOfRow,
  type ConfigurationView,
} from './config.view.js';

/** Configurations with the deployment holding each (one at most runs or is paused). */
const CONFIGURATIONS = `(SELECT c.*,
                                (SELECT d.deployment_id FROM deployments d
                                  WHERE d.config_id = c.config_id
                                    AND d.status IN ('InProgress', 'Paused')
                                  LIMIT 1) AS active_deployment_id
                           FROM configurations c) x`;

export class ConfigQueries {
  constructor(private readonly db: pg.Pool) {}

  async configRow(configId: string): Promise<ConfigurationView | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM ${CONFIGURATIONS} WHERE config_id = $1`, [
      configId,
    ]);
    return rows[0] ? configurationOfRow(rows[0]) : undefined;
  }

  /** The value and default as stored (ciphertext, for an encrypted config) at that version. */
  async storedValues(
    configId: string,
    version: number,
  ): Promise<{ value: string; defaultValue: string | null } | undefined> {
    const { rows } = await this.db.query<{ value: string; default_value: string | null }>(
      'SELECT value, default_value FROM configurations WHERE config_id = $1 AND version = $2',
      [configId, version],
    );
    return rows[0] && { value: rows[0].value, defaultValue: rows[0].default_value };
  }

  async listConfigs(filter: {
    tenantId: string;
    environment?: string;
    key?: string;
    /** Only configurations carrying every one of these tags. */
    tags?: string[];
    includeDeleted?: boolean;
    /** Only these environments (a token limited to them). */
    environments?: string[];
    page: number;
    pageSize: number;
  }): Promise<Page<ConfigurationView>> {
    const where = ['tenant_id = $1'];
    const args: unknown[] = [filter.tenantId];
    if (filter.environment) where.push(`environment = $${args.push(filter.environment)}`);
    if (filter.environments) where.push(`environment = ANY($${args.push(filter.environments)})`);
    if (filter.key)
      where.push(`key LIKE $${args.push(`${filter.key.replace(/[%_\\]/g, '\\$&')}%`)}`);
    if (filter.tags?.length) where.push(`tags @> $${args.push(filter.tags)}::text[]`);
    if (!filter.includeDeleted) where.push('deleted_at IS NULL');
    return pageOf(this.db, CONFIGURATIONS, where, args, 'environment, key', filter, (r) =>
      configurationOfRow(r, true),
    );
  }

  /** A config's versions, masked if it is or ever was sensitive (old values stay secrets). */
  async versions(configId: string, page: number, pageSize: number) {
    const { rows } = await this.db.query<{ sensitive: boolean }>(
      'SELECT is_sensitive OR ever_sensitive AS sensitive FROM configurations WHERE config_id = $1',
      [configId],
    );
    const sensitive = rows[0]?.sensitive ?? true;
    return pageOf(
      this.db,
      'config_versions',
      ['config_id = $1'],
      [configId],
      'version DESC',
      { page, pageSize },
      (r) => configurationVersionOfRow(r, sensitive),
    );
  }

  /** One version; masked, like the list, if the config is or ever was sensitive. */
  async version(configId: string, version: number) {
    const { rows } = await this.db.query(
      `SELECT v.*, COALESCE(c.is_sensitive OR c.ever_sensitive, TRUE) AS sensitive
         FROM config_versions v LEFT JOIN configurations c USING (config_id)
        WHERE v.config_id = $1 AND v.version = $2`,
      [configId, version],
    );
    return rows[0] ? configurationVersionOfRow(rows[0], rows[0].sensitive) : undefined;
  }
}
