// One function per X-Ray operation the dashboard uses. Paging with NextToken is
// followed where the whole answer is needed (graphs, traces); trace summaries are
// paged by the caller.
import { xrayCall, type CallOptions } from './client';
import type {
  BatchGetTracesResult,
  GetGroupsResult,
  GetServiceGraphRequest,
  GetServiceGraphResult,
  GetTimeSeriesServiceStatisticsResult,
  GetTraceGraphResult,
  GetTraceSummariesRequest,
  GetTraceSummariesResult,
  Group,
  Service,
  Trace,
} from './types';

const maxPages = 50;

/** GetServiceGraph (POST /ServiceGraph), all pages merged. */
export async function getServiceGraph(req: GetServiceGraphRequest, opts?: CallOptions): Promise<GetServiceGraphResult> {
  const services: Service[] = [];
  let next: string | undefined;
  let first: GetServiceGraphResult | undefined;
  for (let i = 0; i < maxPages; i++) {
    const r = await xrayCall<GetServiceGraphResult>('/ServiceGraph', { ...req, NextToken: next }, opts);
    first ??= r;
    services.push(...(r.Services ?? []));
    next = r.NextToken ?? undefined;
    if (!next) break;
  }
  return { ...first, Services: services, NextToken: null };
}

/** GetTraceGraph (POST /TraceGraph), all pages merged. */
export async function getTraceGraph(traceIds: string[], opts?: CallOptions): Promise<Service[]> {
  const services: Service[] = [];
  let next: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const r = await xrayCall<GetTraceGraphResult>('/TraceGraph', { TraceIds: traceIds, NextToken: next }, opts);
    services.push(...(r.Services ?? []));
    next = r.NextToken ?? undefined;
    if (!next) break;
  }
  return services;
}

/** GetTraceSummaries (POST /TraceSummaries): one page. */
export function getTraceSummaries(req: GetTraceSummariesRequest, opts?: CallOptions): Promise<GetTraceSummariesResult> {
  const body: GetTraceSummariesRequest = { ...req };
  if (!body.FilterExpression) delete body.FilterExpression;
  if (!body.NextToken) delete body.NextToken;
  return xrayCall<GetTraceSummariesResult>('/TraceSummaries', body, { ...opts, expr: req.FilterExpression ?? '' });
}

/** BatchGetTraces (POST /Traces), all pages merged. */
export async function batchGetTraces(traceIds: string[], opts?: CallOptions): Promise<{ traces: Trace[]; unprocessed: string[] }> {
  const traces: Trace[] = [];
  const unprocessed: string[] = [];
  let next: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const r = await xrayCall<BatchGetTracesResult>('/Traces', { TraceIds: traceIds, NextToken: next }, opts);
    traces.push(...(r.Traces ?? []));
    unprocessed.push(...(r.UnprocessedTraceIds ?? []));
    next = r.NextToken ?? undefined;
    if (!next) break;
  }
  return { traces, unprocessed };
}

/** GetGroups (POST /Groups), all pages. */
export async function getGroups(opts?: CallOptions): Promise<Group[]> {
  const groups: Group[] = [];
  let next: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const r = await xrayCall<GetGroupsResult>('/Groups', next ? { NextToken: next } : {}, opts);
    groups.push(...(r.Groups ?? []));
    next = r.NextToken ?? undefined;
    if (!next) break;
  }
  return groups;
}

/** GetTimeSeriesServiceStatistics (POST /TimeSeriesServiceStatistics), all pages. */
export async function getTimeSeriesServiceStatistics(
  req: { StartTime: number; EndTime: number; GroupName?: string; EntitySelectorExpression?: string; Period?: number },
  opts?: CallOptions,
): Promise<GetTimeSeriesServiceStatisticsResult> {
  const out: GetTimeSeriesServiceStatisticsResult = { TimeSeriesServiceStatistics: [] };
  let next: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const r = await xrayCall<GetTimeSeriesServiceStatisticsResult>(
      '/TimeSeriesServiceStatistics',
      { ...req, NextToken: next },
      { ...opts, expr: req.EntitySelectorExpression ?? '' },
    );
    out.TimeSeriesServiceStatistics!.push(...(r.TimeSeriesServiceStatistics ?? []));
    out.ContainsOldGroupVersions ||= r.ContainsOldGroupVersions ?? false;
    next = r.NextToken ?? undefined;
    if (!next) break;
  }
  return out;
}
