import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { DomainError } from '../domain-error.js';
import { toProblem, writeProblem } from './problem.js';

/** The parts of a response writeProblem uses, recording what it wrote. */
function fakeResponse() {
  const written = { statusCode: 0, headers: {} as Record<string, string>, body: '' };
  const res = {
    set statusCode(code: number) {
      written.statusCode = code;
    },
    setHeader(name: string, value: string) {
      written.headers[name] = value;
    },
    end(body: string) {
      written.body = body;
    },
  };
  return { res: res as unknown as ServerResponse, written };
}

describe('problem+json', function () {
  it('keeps the HTTP status in `status` whatever details a refusal carries', function () {
    const { res, written } = fakeResponse();
    const refusal = new DomainError(
      'invalid_state',
      'Change request apr_1 has expired',
      undefined,
      {
        status: 'Expired',
        title: 'not this',
        state: 'Expired',
      },
    );
    writeProblem(res, toProblem(refusal), '/api/v1/approvals/apr_1/approve');
    const body = JSON.parse(written.body) as Record<string, unknown>;
    expect(written.statusCode).to.equal(409);
    expect(body).to.include({
      status: 409,
      title: 'Invalid state',
      code: 'invalid_state',
      state: 'Expired',
      instance: '/api/v1/approvals/apr_1/approve',
    });
  });

  it('answers an undeclared environment with 400 naming the declared ones', function () {
    const problem = toProblem(
      new DomainError('unknown_environment', "Environment 'Prod' is not declared", 'environment', {
        declaredEnvironments: ['Development', 'Production'],
      }),
    );
    expect(problem.status).to.equal(400);
    expect(problem.extra).to.deep.include({
      field: 'environment',
      declaredEnvironments: ['Development', 'Production'],
    });
  });
});
