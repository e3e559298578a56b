/**
 * The client's errors and events are built here the way the client builds them: through its own
 * converters (convertToCommandError, convertBridgeError, convertRustEvent, the static
 * WrongExpectedVersionError factories) fed with the wire shapes its dist code reads.
 */
import { expect } from 'chai';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import grpcCall from '@grpc/grpc-js/build/src/call.js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import {
  ANY,
  DeadlineExceededError,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamDeletedError,
  UnavailableError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  convertToCommandError,
  type KurrentDBClient,
} from '@kurrent/kurrentdb-client';
import statusPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/status_pb.js';
import sharedPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb.js';
import errorsPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/streams/errors_pb.js';
import parseConnectionStringModule from '@kurrent/kurrentdb-client/dist/Client/parseConnectionString.js';
import convertRustEventModule from '@kurrent/kurrentdb-client/dist/utils/convertRustEvent.js';
import convertBridgeErrorModule from '@kurrent/kurrentdb-client/dist/utils/convertBridgeError.js';
import multiStreamAppendModule from '@kurrent/kurrentdb-client/dist/streams/appendToStream/multiStreamAppend.js';
import {
  EventStoreUnavailableError,
  WrongExpectedVersionError,
  type AppendRequest,
  type EventMetadata,
  type NewEvent,
} from '../event-store.js';
import {
  JSON_KEYS_PROPERTY,
  NO_POSITION,
  UNKNOWN_POSITION,
  appendedPosition,
  commitPositionOf,
  comparePositions,
  decodeMetadata,
  encodeMultiAppendMetadata,
  fromCurrentState,
  fromStreamState,
  isConnectionError,
  isStreamNotFound,
  isSystemEvent,
  isSystemEventType,
  matchesPrefixes,
  normaliseConnectionString,
  readAllFrom,
  toAppendError,
  withDefaultDeadline,
  toEventData,
  toMultiAppendEventData,
  toRecordedEvent,
  toStreamState,
  toUnavailable,
} from './mapping.js';

const { parseConnectionString } = parseConnectionStringModule;
const { convertRustEvent } = convertRustEventModule;
const { convertBridgeError } = convertBridgeErrorModule;
const { multiStreamAppend } = multiStreamAppendModule;

// ---------------------------------------------------------------------------------------------
// Builders of client-side objects

/** A gRPC error as @grpc/grpc-js hands it to the client. */
function serviceError(code: GrpcStatus, details: string, metadata = new Metadata()) {
  return grpcCall.callErrorFromStatus({ code, details, metadata }, 'test');
}

/** A gRPC error whose google.rpc.Status details carry `message` (the v2 streams API style). */
function serviceErrorWithDetails(
  code: GrpcStatus,
  typeName: string,
  message: { serializeBinary(): Uint8Array },
) {
  const any = new anyPb.Any();
  any.pack(message.serializeBinary(), typeName);
  const status = new statusPb.Status();
  status.setCode(Number(code));
  status.setMessage('rejected');
  status.setDetails(any);
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(status.serializeBinary()));
  return serviceError(code, 'rejected', metadata);
}

/** A v2 (multiStreamAppend) revision conflict, converted by the client. */
function revisionConflict(stream: string, expected: string, actual: string) {
  const details = new errorsPb.StreamRevisionConflictErrorDetails();
  details.setStream(stream);
  details.setExpectedRevision(expected);
  details.setActualRevision(actual);
  return convertToCommandError(
    serviceErrorWithDetails(
      GrpcStatus.FAILED_PRECONDITION,
      'kurrentdb.protocol.v2.streams.errors.StreamRevisionConflictErrorDetails',
      details,
    ),
  );
}

/** A v1 batch-append wrong expected version, as unpackToCommandError builds it. */
function batchWrongExpectedVersion(
  streamName: string,
  set: (details: InstanceType<typeof sharedPb.WrongExpectedVersion>) => void,
) {
  const details = new sharedPb.WrongExpectedVersion();
  set(details);
  return ClientWrongExpectedVersionError.fromWrongExpectedVersion(details, streamName);
}

/** A record as the native reader (@kurrent/bridge) returns it, before the client converts it. */
interface RawRecord {
  streamId: string;
  id: string;
  type: string;
  isJson: boolean;
  revision: bigint;
  created: number;
  data: Uint8Array;
  metadata: Uint8Array;
  position?: { commit: bigint; prepare: bigint };
}

function rawRecord(overrides: Partial<RawRecord> = {}): RawRecord {
  return {
    streamId: 'tenant-1',
    id: '5b0d7f0e-2b7d-4d51-9a43-5f2f8c1f2a10',
    type: 'TenantCreated',
    isJson: true,
    revision: 3n,
    created: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    data: utf8(JSON.stringify({ name: 'acme' })),
    metadata: utf8(JSON.stringify(metadata())),
    position: { commit: 4096n, prepare: 4096n },
    ...overrides,
  };
}

function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

function metadata(extra: Partial<EventMetadata> = {}): EventMetadata {
  return {
    timestamp: '2026-01-02T03:04:05.000Z',
    schemaVersion: 2,
    userId: 'u-1',
    traceId: 't-1',
    ...extra,
  };
}

function newEvent(extra: Partial<NewEvent> = {}): NewEvent {
  return {
    id: '0e6f4c8a-98d4-4f4a-8d0f-55c2d5d2a1b3',
    type: 'KeySet',
    data: { key: 'a', value: 1 },
    metadata: metadata(),
    ...extra,
  };
}

function request(streamId: string, expected: AppendRequest['expected']): AppendRequest {
  return { streamId, expected, events: [newEvent()] };
}

// ---------------------------------------------------------------------------------------------

describe('kurrentdb mapping: normaliseConnectionString', () => {
  it('rewrites the deprecated esdb schemes to kurrentdb', () => {
    expect(normaliseConnectionString('esdb://localhost:2113?tls=false')).to.equal(
      'kurrentdb://localhost:2113?tls=false',
    );
    expect(normaliseConnectionString('ESDB+discover://a:1,b:2?tls=false')).to.equal(
      'kurrentdb+discover://a:1,b:2?tls=false',
    );
  });

  it('keeps kurrentdb strings, credentials and options, trimming whitespace', () => {
    expect(normaliseConnectionString('  kurrentdb://admin:changeit@db:2113?tls=true \n')).to.equal(
      'kurrentdb://admin:changeit@db:2113?tls=true',
    );
    expect(normaliseConnectionString('kdb://db')).to.equal('kdb://db');
  });

  it('yields strings the client parses without its deprecation warning', () => {
    // The client's parser reports the deprecated scheme through console.warn.
    /* eslint-disable no-console */
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    let warningsForNormalised: number;
    try {
      const options = parseConnectionString(
        normaliseConnectionString('esdb://admin:p%40ss@127.0.0.1:2114?tls=false'),
      );
      warningsForNormalised = warnings.length;
      expect(options.hosts).to.deep.equal([{ address: '127.0.0.1', port: 2114 }]);
      expect(options.tls).to.equal(false);
      expect(options.dnsDiscover).to.equal(false);
      expect(options.defaultCredentials).to.deep.equal({ username: 'admin', password: 'p@ss' });
      // Control: the raw esdb string does warn, so zero above means something.
      parseConnectionString('esdb://127.0.0.1:2114?tls=false');
    } finally {
      console.warn = warn;
    }
    /* eslint-enable no-console */
    expect(warningsForNormalised).to.equal(0);
    expect(warnings).to.have.length(1);
  });

  it('rejects other schemes without echoing the string (it may hold a password)', () => {
    for (const bad of ['postgres://u:s3cret@db/x', 'http://u:s3cret@db', 's3cret', '']) {
      let caught: unknown;
      try {
        normaliseConnectionString(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught, bad).to.be.instanceOf(TypeError);
      expect((caught as Error).message).to.not.include('s3cret');
    }
  });
});

describe('kurrentdb mapping: expected revisions', () => {
  it('maps every ExpectedRevision to the client stream state', () => {
    expect(toStreamState('any')).to.equal(ANY);
    expect(toStreamState('no_stream')).to.equal(NO_STREAM);
    expect(toStreamState('stream_exists')).to.equal(STREAM_EXISTS);
    expect(toStreamState(0n)).to.equal(0n);
    expect(toStreamState(41n)).to.equal(41n);
  });

  it('refuses a negative revision', () => {
    expect(() => toStreamState(-1n)).to.throw(RangeError);
  });

  it('maps client states back', () => {
    expect(fromStreamState(NO_STREAM)).to.equal('no_stream');
    expect(fromStreamState(STREAM_EXISTS)).to.equal('stream_exists');
    expect(fromStreamState(ANY)).to.equal('any');
    expect(fromStreamState(7n)).to.equal(7n);
    expect(fromCurrentState(NO_STREAM)).to.equal(-1n);
    expect(fromCurrentState(12n)).to.equal(12n);
    expect(fromCurrentState(-5n)).to.equal(-1n);
    expect(fromCurrentState(undefined)).to.equal(undefined);
  });
});

describe('kurrentdb mapping: toAppendError', () => {
  function expectWrongVersion(
    error: unknown,
    streamId: string,
    expected: AppendRequest['expected'],
    actual: bigint | undefined,
  ) {
    expect(error).to.be.instanceOf(WrongExpectedVersionError);
    const e = error as WrongExpectedVersionError;
    expect(e.streamId).to.equal(streamId);
    expect(e.expected).to.equal(expected);
    expect(e.actual).to.equal(actual);
  }

  it('maps a batch-append conflict on an existing stream (appendToStream)', () => {
    const clientError = batchWrongExpectedVersion('orders-1', (d) => {
      d.setCurrentStreamRevision('3');
      d.setExpectedNoStream(new emptyPb.Empty());
    });
    const error = toAppendError(clientError, [request('orders-1', 'no_stream')]);
    expectWrongVersion(error, 'orders-1', 'no_stream', 3n);
  });

  it('maps a batch-append conflict on a missing stream to actual -1', () => {
    const clientError = batchWrongExpectedVersion('orders-2', (d) => {
      d.setCurrentNoStream(new emptyPb.Empty());
      d.setExpectedStreamPosition('0');
    });
    expectWrongVersion(toAppendError(clientError, [request('orders-2', 0n)]), 'orders-2', 0n, -1n);
  });

  it('maps the unary append conflict (servers without batch append)', () => {
    // As streams/appendToStream/append.js builds it.
    const clientError = new ClientWrongExpectedVersionError(undefined, {
      streamName: 'orders-3',
      current: 'no_stream',
      expected: STREAM_EXISTS,
    });
    const error = toAppendError(clientError, [request('orders-3', 'stream_exists')]);
    expectWrongVersion(error, 'orders-3', 'stream_exists', -1n);
  });

  it('maps a multiStreamAppend conflict to the stream that failed, not the first', () => {
    const clientError = revisionConflict('b', '-1', '0');
    expect(clientError).to.be.instanceOf(ClientWrongExpectedVersionError);
    const error = toAppendError(clientError, [request('a', 'no_stream'), request('b', 2n)]);
    expectWrongVersion(error, 'b', 2n, 0n);
  });

  it('maps a multiStreamAppend conflict on a missing stream to actual -1', () => {
    const error = toAppendError(revisionConflict('b', '-4', '-1'), [
      request('a', 'any'),
      request('b', 'stream_exists'),
    ]);
    expectWrongVersion(error, 'b', 'stream_exists', -1n);
  });

  it('falls back to the error’s own expectation for a stream it cannot attribute', () => {
    const error = toAppendError(revisionConflict('zzz', '5', '7'), [
      request('a', 'any'),
      request('b', 'any'),
    ]);
    expectWrongVersion(error, 'zzz', 5n, 7n);
  });

  it('maps a consistency violation (appendRecords checks)', () => {
    const violations = new errorsPb.AppendConsistencyViolationErrorDetails();
    const state = new errorsPb.ConsistencyViolation.StreamStateViolation();
    state.setStream('b');
    state.setExpectedState('-1');
    state.setActualState('4');
    violations.addViolations(
      new errorsPb.ConsistencyViolation().setCheckIndex(1).setStreamState(state),
    );
    const clientError = convertToCommandError(
      serviceErrorWithDetails(
        GrpcStatus.FAILED_PRECONDITION,
        'kurrentdb.protocol.v2.streams.errors.AppendConsistencyViolationErrorDetails',
        violations,
      ),
    );
    const error = toAppendError(clientError, [request('a', 'any'), request('b', 'no_stream')]);
    expectWrongVersion(error, 'b', 'no_stream', 4n);
  });

  it('turns connection-level failures into EventStoreUnavailableError', () => {
    const unavailable = convertToCommandError(
      serviceError(GrpcStatus.UNAVAILABLE, 'No connection established'),
    );
    expect(unavailable).to.be.instanceOf(UnavailableError);
    const failures: unknown[] = [
      unavailable,
      // The server-feature probe before appends rejects with the raw gRPC error.
      serviceError(GrpcStatus.UNAVAILABLE, 'No connection established'),
      serviceError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'),
      convertToCommandError(serviceError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded')),
      convertBridgeError(Object.assign(new Error('refused'), { name: 'UnavailableError' })),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2113'), { code: 'ECONNREFUSED' }),
      new Error('Failed to discover after 10 attempts.'),
    ];
    for (const failure of failures) {
      const error = toAppendError(failure, [request('a', 'any')]);
      expect(error, String(failure)).to.be.instanceOf(EventStoreUnavailableError);
      expect((error as Error).cause).to.equal(failure);
    }
  });

  it('passes other errors through unchanged', () => {
    const deleted = StreamDeletedError.fromStreamName('a');
    const denied = convertToCommandError(serviceError(GrpcStatus.UNAUTHENTICATED, 'no'));
    const invalid = serviceError(GrpcStatus.INVALID_ARGUMENT, 'Two AppendStreamRequests');
    const plain = new Error('boom');
    for (const error of [deleted, denied, invalid, plain]) {
      expect(toAppendError(error, [request('a', 'any')])).to.equal(error);
    }
  });
});

describe('kurrentdb mapping: other errors', () => {
  it('recognises a missing stream from the native reader', () => {
    const missing = convertBridgeError(
      Object.assign(new Error('stream not found'), { name: 'StreamNotFoundError' }),
      'tenant-9',
    );
    expect(isStreamNotFound(missing)).to.equal(true);
    expect(isStreamNotFound(new DeadlineExceededError())).to.equal(false);
    expect(isStreamNotFound(new Error('stream-not-found'))).to.equal(false);
  });

  it('wraps only connection errors, naming the operation', () => {
    const refused = convertBridgeError(
      Object.assign(new Error('connection refused'), { name: 'UnavailableError' }),
    );
    const wrapped = toUnavailable(refused, 'readAll');
    expect(wrapped).to.be.instanceOf(EventStoreUnavailableError);
    expect((wrapped as Error).message).to.match(/^KurrentDB readAll failed/);
    const ours = new EventStoreUnavailableError('x');
    expect(toUnavailable(ours, 'ping')).to.equal(ours);
    expect(isConnectionError(new TypeError('nope'))).to.equal(false);
    expect(isConnectionError('string')).to.equal(false);
  });
});

describe('kurrentdb mapping: events going in', () => {
  it('builds a JSON event carrying our id, type, data and metadata', () => {
    const event = newEvent();
    const data = toEventData(event);
    expect(data).to.deep.equal({
      id: event.id,
      contentType: 'application/json',
      type: 'KeySet',
      data: { key: 'a', value: 1 },
      metadata: event.metadata,
    });
    expect(toEventData(newEvent({ data: undefined })).data).to.equal(null);
  });

  it('flattens metadata to strings for multiStreamAppend, marking JSON-encoded keys', () => {
    const encoded = encodeMultiAppendMetadata({
      ...metadata(),
      nested: { a: [1, 'two'] },
      flag: false,
      nothing: null,
      skipped: undefined,
      empty: '',
    });
    expect(encoded).to.deep.equal({
      timestamp: '2026-01-02T03:04:05.000Z',
      schemaVersion: '2',
      userId: 'u-1',
      traceId: 't-1',
      nested: '{"a":[1,"two"]}',
      flag: 'false',
      nothing: 'null',
      empty: '',
      [JSON_KEYS_PROPERTY]: '["schemaVersion","nested","flag","nothing"]',
    });
  });

  it('refuses metadata that already uses the marker key', () => {
    expect(() => encodeMultiAppendMetadata({ ...metadata(), [JSON_KEYS_PROPERTY]: 'x' })).to.throw(
      TypeError,
    );
  });

  it('passes the client’s multiStreamAppend metadata check (and raw metadata does not)', async () => {
    let executed = 0;
    const fakeClient = {
      execute: async () => {
        executed += 1;
        return { position: 1n, responses: [] };
      },
    } as unknown as KurrentDBClient;
    const event = newEvent();
    await multiStreamAppend.call(fakeClient, [
      { streamName: 's', expectedState: ANY, events: [toMultiAppendEventData(event)] },
    ]);
    expect(executed).to.equal(1);
    let caught: unknown;
    try {
      await multiStreamAppend.call(fakeClient, [
        { streamName: 's', expectedState: ANY, events: [toEventData(event)] },
      ]);
    } catch (error) {
      caught = error;
    }
    expect((caught as Error | undefined)?.message).to.match(/string values/);
    expect(executed).to.equal(1);
  });
});

describe('kurrentdb mapping: events coming out', () => {
  it('maps a stream read result (position from the event) to a RecordedEvent', () => {
    const raw = rawRecord();
    const recorded = toRecordedEvent(convertRustEvent({ event: raw }));
    expect(recorded).to.deep.equal({
      id: raw.id,
      type: 'TenantCreated',
      data: { name: 'acme' },
      metadata: metadata(),
      streamId: 'tenant-1',
      revision: 3n,
      position: 4096n,
      recordedAt: new Date(raw.created),
    });
    expect(recorded!.recordedAt).to.be.instanceOf(Date);
  });

  it('maps a $all read result and prefers the event’s own commit position', () => {
    const raw = rawRecord({ position: { commit: 9000n, prepare: 9000n } });
    const resolved = convertRustEvent({ event: raw, commitPosition: 9000n });
    expect(toRecordedEvent(resolved)!.position).to.equal(9000n);
    expect(commitPositionOf(resolved)).to.equal(9000n);
  });

  it('falls back to the resolved commit position, then to UNKNOWN_POSITION', () => {
    const noEventPosition = convertRustEvent({
      event: rawRecord({ position: { commit: NO_POSITION, prepare: NO_POSITION } }),
      commitPosition: 512n,
    });
    expect(toRecordedEvent(noEventPosition)!.position).to.equal(512n);
    const none = convertRustEvent({ event: rawRecord({ position: undefined }) });
    expect(commitPositionOf(none)).to.equal(undefined);
    expect(toRecordedEvent(none)!.position).to.equal(UNKNOWN_POSITION);
  });

  it('returns undefined for a result without an event (unresolved link)', () => {
    const link = rawRecord({ type: '$>', isJson: false, data: utf8('0@tenant-1') });
    expect(toRecordedEvent(convertRustEvent({ link }))).to.equal(undefined);
  });

  it('fills the envelope of events written without our metadata', () => {
    const created = Date.UTC(2025, 5, 6, 7, 8, 9);
    for (const meta of [new Uint8Array(), utf8('not json'), utf8('[1,2]')]) {
      const recorded = toRecordedEvent(
        convertRustEvent({ event: rawRecord({ metadata: meta, created }) }),
      );
      expect(recorded!.metadata).to.deep.equal({
        timestamp: new Date(created).toISOString(),
        schemaVersion: 1,
      });
    }
  });

  it('reads back multiStreamAppend metadata as written, without the server’s keys', () => {
    const original: EventMetadata = {
      ...metadata(),
      ipAddress: '10.0.0.1',
      correlationId: 'c-1',
      nested: { deep: [true, null, 3.5] },
      empty: '',
      numericString: '42',
    };
    // The server stores the string properties as the event's JSON metadata and adds its own.
    const stored = {
      ...encodeMultiAppendMetadata(original),
      '$schema.format': 'Json',
      '$schema.name': 'KeySet',
    };
    const recorded = toRecordedEvent(
      convertRustEvent({ event: rawRecord({ metadata: utf8(JSON.stringify(stored)) }) }),
    );
    expect(recorded!.metadata).to.deep.equal(original);
    expect(recorded!.metadata.numericString).to.equal('42');
  });

  it('leaves ordinary metadata alone, `$schema.` keys included', () => {
    const stored = { ...metadata(), '$schema.name': 'kept' };
    expect(decodeMetadata(stored, new Date())).to.deep.equal(stored);
  });

  it('recognises system event types', () => {
    expect(isSystemEventType('$>')).to.equal(true);
    expect(isSystemEventType('$metadata')).to.equal(true);
    expect(isSystemEventType('KeySet')).to.equal(false);
    expect(isSystemEventType('Key$Set')).to.equal(false);
  });
});

describe('kurrentdb mapping: positions', () => {
  it('starts a read of $all at the start or at `after` itself', () => {
    expect(readAllFrom(0n)).to.equal(START);
    expect(readAllFrom(1234n)).to.deep.equal({ commit: 1234n, prepare: 1234n });
  });

  it('orders positions by commit, then prepare', () => {
    expect(comparePositions({ commit: 1n, prepare: 9n }, { commit: 2n, prepare: 0n })).to.equal(-1);
    expect(comparePositions({ commit: 2n, prepare: 3n }, { commit: 2n, prepare: 1n })).to.equal(1);
    expect(comparePositions({ commit: 2n, prepare: 3n }, { commit: 2n, prepare: 3n })).to.equal(0);
  });

  it('reads an append’s commit position, or none for an idempotent answer without one', () => {
    expect(appendedPosition({ commit: 700n, prepare: 650n })).to.equal(700n);
    expect(appendedPosition(812n)).to.equal(812n);
    expect(appendedPosition(undefined)).to.equal(undefined);
    expect(appendedPosition(-1n)).to.equal(undefined);
    expect(appendedPosition({ commit: NO_POSITION, prepare: NO_POSITION })).to.equal(undefined);
  });

  it('filters stream ids by prefix', () => {
    expect(matchesPrefixes('tenant-1', undefined)).to.equal(true);
    expect(matchesPrefixes('tenant-1', [])).to.equal(true);
    expect(matchesPrefixes('tenant-1', ['config-', 'tenant-'])).to.equal(true);
    expect(matchesPrefixes('xtenant-1', ['tenant-'])).to.equal(false);
  });
});

describe('kurrentdb mapping: server specifics', () => {
  it("treats events in $ streams as the server's own, whatever their type", () => {
    expect(isSystemEvent({ type: 'Result', streamId: '$projections-x-result' })).to.equal(true);
    expect(isSystemEvent({ type: '$metadata', streamId: 'config-1' })).to.equal(true);
    expect(isSystemEvent({ type: 'ConfigurationCreated', streamId: 'config-1' })).to.equal(false);
  });

  it('asks the client for a deadline on every call unless the connection string sets one', () => {
    expect(withDefaultDeadline('kurrentdb://h:2113?tls=false', 5000)).to.equal(
      'kurrentdb://h:2113?tls=false&defaultDeadline=5000',
    );
    expect(withDefaultDeadline('kurrentdb://h:2113', 5000)).to.equal(
      'kurrentdb://h:2113?defaultDeadline=5000',
    );
    expect(withDefaultDeadline('kurrentdb://h:2113?defaultDeadline=900', 5000)).to.equal(
      'kurrentdb://h:2113?defaultDeadline=900',
    );
  });

  it('says which server version multi-stream appends need', () => {
    const error = toAppendError({ type: 'unsupported', message: 'x' }, []);
    expect((error as Error).message).to.match(/25\.1/);
  });
});
