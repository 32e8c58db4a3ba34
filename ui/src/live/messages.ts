// Websocket protocol between the dashboard and the server's live hub at GET /ws.
// This module is the contract the Go side (query/live) implements; ui/README.md
// documents the same shapes.
import type { Service, ServiceId, TraceSummary } from '../api/types';

/** Message types the server sends. Clients ignore any other type. */
export type ServerMessageType = 'trace.summary' | 'graph.delta' | 'alert';

/**
 * Every server → client message is one JSON text frame `{type, seq, data}`.
 * `seq` counts the messages of one connection: 1, 2, 3, … (it restarts at 1 on a
 * new connection). The server never skips a number: it disconnects a client that
 * cannot keep up instead of dropping messages, so a gap means lost data and the
 * client refetches through the REST API.
 */
export type ServerMessage =
  | { type: 'trace.summary'; seq: number; data: TraceSummary }
  | { type: 'graph.delta'; seq: number; data: GraphDelta }
  | { type: 'alert'; seq: number; data: Alert };

/**
 * Service-graph changes over the interval [StartTime, EndTime) (epoch seconds),
 * coalesced by the server to at most one message every 0.5–1 s.
 *
 * `Services` uses the GetServiceGraph `Service` shape, but every count in it
 * (SummaryStatistics, Edges[].SummaryStatistics, ResponseTimeHistogram and
 * DurationHistogram counts) is an INCREMENT for this interval only; clients add
 * them to what they have. Nodes are matched by (Name, Type, AccountId); edge
 * ReferenceIds refer to ReferenceIds inside the same message. A node or edge
 * not yet known to the client is added.
 */
export interface GraphDelta {
  StartTime: number;
  EndTime: number;
  /** The group the delta was computed for; absent or "Default" for all traces. */
  GroupName?: string;
  Services: Service[];
}

/** A notice for the user (e.g. a fault-rate threshold crossed, or a rejected subscription). */
export interface Alert {
  id: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  message?: string;
  /** Epoch seconds. */
  time: number;
  /** The service the alert is about, if any. */
  service?: ServiceId;
  /** A filter expression selecting the traces behind the alert. */
  filter?: string;
  /** For rejected subscriptions: the X-Ray error shape, e.g. InvalidRequestException. */
  code?: string;
}

/**
 * Client → server messages (JSON text frames). The client sends `subscribe`
 * after every (re)connect and whenever the page's selection changes; the latest
 * subscription replaces the previous one. Without a subscription the server
 * sends nothing.
 */
export type ClientMessage = { type: 'subscribe'; data: Subscription };

export interface Subscription {
  /** Message types wanted; absent means all. */
  topics?: ServerMessageType[];
  /**
   * Filter expression for trace.summary messages (evaluated by the server with the
   * in-memory back-end of the filter language); absent or empty means every trace.
   * An invalid expression is answered with an alert whose code is InvalidRequestException.
   */
  filter?: string;
  /** Group for graph.delta messages; absent means all traces (Default group). */
  group?: string;
}

/** Parses one websocket text frame; returns undefined for anything that is not a well-formed server message. */
export function parseServerMessage(text: string): ServerMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const m = v as { type?: unknown; seq?: unknown; data?: unknown };
  if (typeof m.seq !== 'number' || !Number.isInteger(m.seq) || m.seq < 1) return undefined;
  if (!m.data || typeof m.data !== 'object' || Array.isArray(m.data)) return undefined;
  switch (m.type) {
    case 'trace.summary':
      return typeof (m.data as TraceSummary).Id === 'string' ? (m as ServerMessage) : undefined;
    case 'graph.delta':
      return Array.isArray((m.data as GraphDelta).Services) ? (m as ServerMessage) : undefined;
    case 'alert':
      return typeof (m.data as Alert).title === 'string' ? (m as ServerMessage) : undefined;
    default:
      return undefined;
  }
}
