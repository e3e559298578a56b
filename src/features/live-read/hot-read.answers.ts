/**
 * A hot read's answer as headers and bytes: the same for Node's response (`write` in the
 * handler) and for the fast lane (`core/http/fast-lane.ts`), built once per rendered body.
 */
import { laneHead, type LaneAnswer } from '../../core/http/fast-lane.js';
import { problemBody, problemHeaders, type HttpProblem } from '../../core/http/problem.js';
import type { Rendered } from './env-snapshot.js';

/** A 200's headers. */
export const okHeaders = (rendered: Rendered): [string, string][] => [
  ['Content-Type', 'application/json; charset=utf-8'],
  ['Content-Length', String(rendered.body.length)],
  ['ETag', rendered.etag],
  ['Cache-Control', 'no-cache'],
];

/** A 304's headers. */
export const notModifiedHeaders = (etag: string): Record<string, string> => ({
  ETag: etag,
  'Cache-Control': 'no-cache',
});

/** The fast lane's 200 or 304 for a rendered body. */
export function laneAnswer(rendered: Rendered, status: 200 | 304): LaneAnswer {
  if (status === 304) {
    return (rendered.lane304 ??= {
      status,
      head: laneHead(304, Object.entries(notModifiedHeaders(rendered.etag))),
    });
  }
  return (rendered.lane ??= {
    status,
    head: laneHead(200, okHeaders(rendered)),
    body: rendered.body,
  });
}

/** The fast lane's problem answer (a 401 names the scheme, as on Node's way). */
export function laneProblem(problem: HttpProblem): LaneAnswer {
  const body = JSON.stringify(problemBody(problem));
  const headers = problemHeaders(problem, body);
  if (problem.status === 401) headers.push(['WWW-Authenticate', 'Bearer']);
  return {
    status: problem.status,
    head: laneHead(problem.status, headers),
    body: Buffer.from(body),
  };
}
