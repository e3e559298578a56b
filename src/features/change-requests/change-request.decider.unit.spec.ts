import { expect } from 'chai';
import {
  decideApprove,
  decideCancel,
  decideExpire,
  decideReject,
  decideRequest,
  evolveApproval,
  initialApprovalState,
  type ApprovalEvent,
  type ApprovalState,
} from './change-request.decider.js';

import { givenFor } from '../../core/testing/given-when-then.js';

const given = givenFor(evolveApproval, initialApprovalState);

const approvalId = 'apr_1';
const tenantId = 'acme';
const deploymentId = 'dep_1';
const expiresAt = '2030-01-04T00:00:00.000Z';
const beforeDeadline = new Date('2030-01-02T00:00:00.000Z');
const atDeadline = new Date(expiresAt);
const afterDeadline = new Date('2030-01-05T00:00:00.000Z');

type Requested = Extract<ApprovalEvent, { type: 'ApprovalRequested' }>['data'];

const request = (overrides: Partial<Requested> = {}): Requested => ({
  approvalId,
  tenantId,
  configId: 'cfg_1',
  key: 'feature.flag',
  environment: 'Production',
  type: 'Boolean',
  proposedValue: 'true',
  currentValue: 'false',
  baseVersion: 3,
  description: 'turn it on',
  requestedBy: 'alice',
  requiredApprovals: 1,
  expiresAt,
  rollout: {
    strategy: 'Direct',
    steps: [100],
    bakeTimeSeconds: 0,
    errorThreshold: 1,
    minRequests: 0,
  },
  deploymentId,
  isSensitive: false,
  newConfig: null,
  ...overrides,
});

const requested = (overrides: Partial<Requested> = {}): ApprovalEvent => ({
  type: 'ApprovalRequested',
  data: request(overrides),
});
const granted = (
  approver: string,
  level: number,
  comments: string | null = null,
): ApprovalEvent => ({
  type: 'ApprovalGranted',
  data: { approvalId, tenantId, approver, comments, level, at: beforeDeadline.toISOString() },
});
const approved = (approvedBy: string): ApprovalEvent => ({
  type: 'ApprovalApproved',
  data: { approvalId, tenantId, deploymentId, approvedBy },
});
const rejected = (rejectedBy: string, comments: string | null = null): ApprovalEvent => ({
  type: 'ApprovalRejected',
  data: { approvalId, tenantId, rejectedBy, comments },
});
const cancelled = (cancelledBy: string, comments: string | null = null): ApprovalEvent => ({
  type: 'ApprovalCancelled',
  data: { approvalId, tenantId, cancelledBy, comments },
});
const expired: ApprovalEvent = {
  type: 'ApprovalExpired',
  data: { approvalId, tenantId, expiresAt },
};

const approve =
  (
    approver: string,
    opts: { now?: Date; currentVersion?: number; comments?: string | null } = {},
  ) =>
  (state: ApprovalState) =>
    decideApprove(state, {
      approvalId,
      approver,
      comments: opts.comments ?? null,
      now: opts.now ?? beforeDeadline,
      currentVersion: opts.currentVersion ?? 3,
    }).events;

describe('change request (approval) aggregate', function () {
  describe('decideRequest', function () {
    it('records the request', function () {
      const state = given([])
        .when((s) => decideRequest(s, request()))
        .then([requested()]);
      expect(state).to.deep.include({ exists: true, status: 'Pending', approvers: [] });
    });

    it('refuses a second request with the same id', function () {
      given([requested()])
        .when((s) => decideRequest(s, request()))
        .thenRefused('already_exists', 'approvalId');
    });

    it('refuses proposing the current value of an existing config', function () {
      given([])
        .when((s) => decideRequest(s, request({ proposedValue: 'false' })))
        .thenRefused('validation', 'value');
    });

    it('takes any value for a config that does not exist yet (base version 0)', function () {
      const r = request({ baseVersion: 0, currentValue: null, proposedValue: 'false' });
      given([])
        .when((s) => decideRequest(s, r))
        .then([{ type: 'ApprovalRequested', data: r }]);
    });

    it('reads a request recorded without an action as an Update', function () {
      const state = given([requested()]).state;
      expect(state).to.include({ action: 'Update', proposedValue: 'true' });
    });

    describe('a Delete', function () {
      const del = (overrides: Partial<Requested> = {}) =>
        request({ action: 'Delete', proposedValue: '', deploymentId: null, ...overrides });

      it('records a request to delete a live config, planning no deployment', function () {
        const state = given([])
          .when((s) => decideRequest(s, del()))
          .then([{ type: 'ApprovalRequested', data: del() }]);
        expect(state).to.include({ action: 'Delete', deploymentId: null, status: 'Pending' });
      });

      it('refuses deleting a config that does not exist or is deleted', function () {
        given([])
          .when((s) => decideRequest(s, del({ baseVersion: 0, currentValue: null })))
          .thenRefused('not_found', 'configId');
        given([])
          .when((s) => decideRequest(s, del({ currentValue: null })))
          .thenRefused('not_found', 'configId');
      });

      it('refuses a rollout or a planned deployment', function () {
        given([])
          .when((s) => decideRequest(s, del({ deploymentId })))
          .thenRefused('validation', 'rollout');
        given([])
          .when((s) =>
            decideRequest(
              s,
              del({
                rollout: {
                  strategy: 'Canary',
                  steps: [10, 100],
                  bakeTimeSeconds: 60,
                  errorThreshold: 0.05,
                  minRequests: 10,
                },
              }),
            ),
          )
          .thenRefused('validation', 'rollout');
      });

      it('is approved like any request, and its approval names no deployment', function () {
        given([requested({ action: 'Delete', proposedValue: '', deploymentId: null })])
          .when(approve('bob'))
          .then([
            granted('bob', 1),
            {
              type: 'ApprovalApproved',
              data: { approvalId, tenantId, deploymentId: null, approvedBy: 'bob' },
            },
          ]);
      });

      it('is stale once the config changed (or was deleted) after the request', function () {
        given([requested({ action: 'Delete', proposedValue: '', deploymentId: null })])
          .when(approve('bob', { currentVersion: 4 }))
          .thenRefused('stale', undefined);
      });
    });

    it('refuses an Update without its deployment id', function () {
      given([])
        .when((s) => decideRequest(s, request({ deploymentId: null })))
        .thenRefused('validation', 'deploymentId');
    });
  });

  describe('decideApprove', function () {
    it('refuses self-approval', function () {
      given([requested()]).when(approve('alice')).thenRefused('forbidden', 'approver');
    });

    it('refuses the same approver twice', function () {
      given([requested({ requiredApprovals: 2 }), granted('bob', 1)])
        .when(approve('bob'))
        .thenRefused('already_exists', 'approver');
    });

    it('refuses a stale request when the config moved since it was made', function () {
      given([requested()])
        .when(approve('bob', { currentVersion: 4 }))
        .thenRefused('stale', undefined, { baseVersion: 3, currentVersion: 4 });
    });

    it('refuses a new-config request once the config was created meanwhile', function () {
      given([requested({ baseVersion: 0, currentValue: null })])
        .when(approve('bob', { currentVersion: 1 }))
        .thenRefused('stale', undefined, { baseVersion: 0, currentVersion: 1 });
    });

    it('counts levels and approves at the required level with the deployment id', function () {
      const g = given([requested({ requiredApprovals: 3 })]);
      const one = g.when(approve('bob', { comments: 'ok' })).then([granted('bob', 1, 'ok')]);
      expect(one).to.deep.include({ status: 'Pending' });
      const decisionOne = decideApprove(g.state, {
        approvalId,
        approver: 'bob',
        comments: null,
        now: beforeDeadline,
        currentVersion: 3,
      });
      expect(decisionOne.approved).to.equal(false);

      const g2 = given([requested({ requiredApprovals: 3 }), granted('bob', 1)]);
      const two = g2.when(approve('carol')).then([granted('carol', 2)]);
      expect(two).to.deep.include({ status: 'Pending' });
      expect(two.exists && two.approvers.map((a) => a.userId)).to.deep.equal(['bob', 'carol']);

      const g3 = given([
        requested({ requiredApprovals: 3 }),
        granted('bob', 1),
        granted('carol', 2),
      ]);
      const three = g3.when(approve('dave')).then([granted('dave', 3), approved('dave')]);
      expect(three).to.deep.include({ status: 'Approved' });
      const decision = decideApprove(g3.state, {
        approvalId,
        approver: 'dave',
        comments: null,
        now: beforeDeadline,
        currentVersion: 3,
      });
      expect(decision.approved).to.equal(true);
      expect(decision.request).to.deep.include({ deploymentId, approvalId, requiredApprovals: 3 });
    });

    it('approves at once when one approval is required', function () {
      given([requested()])
        .when(approve('bob'))
        .then([granted('bob', 1), approved('bob')]);
    });

    it('refuses approving an approved, rejected, cancelled or expired request', function () {
      for (const [end, status] of [
        [approved('bob'), 'Approved'],
        [rejected('bob'), 'Rejected'],
        [cancelled('alice'), 'Cancelled'],
        [expired, 'Expired'],
      ] as const) {
        given([requested({ requiredApprovals: 2 }), end])
          .when(approve('carol'))
          .thenRefused('invalid_state', undefined, { state: status });
      }
    });

    it('refuses approval once the deadline passed, even before the expiry job ran', function () {
      given([requested()])
        .when(approve('bob', { now: atDeadline }))
        .thenRefused('invalid_state', undefined, { state: 'Expired' });
      given([requested()])
        .when(approve('bob', { now: afterDeadline }))
        .thenRefused('invalid_state', undefined, { state: 'Expired' });
    });

    it('refuses a request that does not exist', function () {
      given([]).when(approve('bob')).thenRefused('not_found', 'approvalId');
    });
  });

  describe('decideReject', function () {
    const reject =
      (by: string, now = beforeDeadline) =>
      (s: ApprovalState) =>
        decideReject(s, { approvalId, by, comments: 'no', now });

    it('rejects a pending request, even after some approvals', function () {
      const state = given([requested({ requiredApprovals: 2 }), granted('bob', 1)])
        .when(reject('carol'))
        .then([rejected('carol', 'no')]);
      expect(state).to.deep.include({ status: 'Rejected' });
    });

    it('refuses rejecting a resolved or expired request', function () {
      given([requested(), approved('bob')])
        .when(reject('carol'))
        .thenRefused('invalid_state');
      given([requested()]).when(reject('carol', afterDeadline)).thenRefused('invalid_state');
    });
  });

  describe('decideCancel', function () {
    const cancel = (by: string) => (s: ApprovalState) =>
      decideCancel(s, { approvalId, by, comments: null, now: beforeDeadline });

    it('lets the requester cancel', function () {
      const state = given([requested()])
        .when(cancel('alice'))
        .then([cancelled('alice')]);
      expect(state).to.deep.include({ status: 'Cancelled' });
    });

    it('refuses anyone else', function () {
      given([requested()]).when(cancel('bob')).thenRefused('forbidden', 'approvalId');
    });

    it('refuses cancelling a resolved request', function () {
      given([requested(), rejected('bob')])
        .when(cancel('alice'))
        .thenRefused('invalid_state');
    });
  });

  describe('decideExpire', function () {
    it('expires a pending request at or after its deadline', function () {
      given([requested()])
        .when((s) => decideExpire(s, atDeadline))
        .then([expired]);
      const state = given([requested({ requiredApprovals: 2 }), granted('bob', 1)])
        .when((s) => decideExpire(s, afterDeadline))
        .then([expired]);
      expect(state).to.deep.include({ status: 'Expired' });
    });

    it('does nothing before the deadline', function () {
      given([requested()])
        .when((s) => decideExpire(s, beforeDeadline))
        .thenNothing();
      given([requested()])
        .when((s) => decideExpire(s, new Date(Date.parse(expiresAt) - 1)))
        .thenNothing();
    });

    it('does nothing after a resolution', function () {
      for (const end of [approved('bob'), rejected('bob'), cancelled('alice')]) {
        given([requested(), end])
          .when((s) => decideExpire(s, afterDeadline))
          .thenNothing();
      }
    });

    it('expires at most once: the second run, on the folded state, does nothing', function () {
      const g = given([requested()]);
      const after = g.when((s) => decideExpire(s, afterDeadline)).then([expired]);
      expect(decideExpire(after, afterDeadline)).to.deep.equal([]);
      given([requested(), expired])
        .when((s) => decideExpire(s, afterDeadline))
        .thenNothing();
    });

    it('does nothing for a request that does not exist', function () {
      given([])
        .when((s) => decideExpire(s, afterDeadline))
        .thenNothing();
    });
  });
});
