// X-Ray API shapes (REST-JSON, PascalCase members exactly as the AWS SDKs use them).
// Timestamps are epoch seconds (numbers). Only the members the dashboard reads are typed;
// everything is optional because servers omit absent members.

export interface HistogramEntry {
  Value: number;
  Count: number;
}

export interface ErrorStatistics {
  ThrottleCount?: number;
  OtherCount?: number;
  TotalCount?: number;
}

export interface FaultStatistics {
  OtherCount?: number;
  TotalCount?: number;
}

/** ServiceStatistics and EdgeStatistics share their members. */
export interface Statistics {
  OkCount?: number;
  ErrorStatistics?: ErrorStatistics;
  FaultStatistics?: FaultStatistics;
  TotalCount?: number;
  TotalResponseTime?: number;
}

export interface Alias {
  Name?: string;
  Names?: string[];
  Type?: string;
}

export interface Edge {
  /** ReferenceId of the destination service. */
  ReferenceId?: number;
  StartTime?: number;
  EndTime?: number;
  SummaryStatistics?: Statistics;
  ResponseTimeHistogram?: HistogramEntry[];
  Aliases?: Alias[];
  EdgeType?: string;
  ReceivedEventAgeHistogram?: HistogramEntry[];
}

export interface Service {
  ReferenceId?: number;
  Name?: string;
  Names?: string[];
  Root?: boolean;
  AccountId?: string;
  Type?: string;
  State?: string;
  StartTime?: number;
  EndTime?: number;
  Edges?: Edge[];
  SummaryStatistics?: Statistics;
  DurationHistogram?: HistogramEntry[];
  ResponseTimeHistogram?: HistogramEntry[];
}

export interface GetServiceGraphRequest {
  StartTime: number;
  EndTime: number;
  GroupName?: string;
  GroupARN?: string;
  NextToken?: string;
}

export interface GetServiceGraphResult {
  StartTime?: number;
  EndTime?: number;
  Services?: Service[];
  ContainsOldGroupVersions?: boolean;
  NextToken?: string | null;
}

export interface GetTraceGraphResult {
  Services?: Service[];
  NextToken?: string | null;
}

export interface ServiceId {
  Name?: string;
  Names?: string[];
  AccountId?: string;
  Type?: string;
}

export interface TraceSummaryHttp {
  HttpURL?: string;
  HttpStatus?: number;
  HttpMethod?: string;
  UserAgent?: string;
  ClientIp?: string;
}

export interface AnnotationValue {
  NumberValue?: number;
  BooleanValue?: boolean;
  StringValue?: string;
}

export interface TraceSummary {
  Id?: string;
  StartTime?: number;
  Duration?: number;
  ResponseTime?: number;
  HasFault?: boolean;
  HasError?: boolean;
  HasThrottle?: boolean;
  IsPartial?: boolean;
  Http?: TraceSummaryHttp;
  Annotations?: Record<string, { AnnotationValue?: AnnotationValue; ServiceIds?: ServiceId[] }[]>;
  Users?: { UserName?: string; ServiceIds?: ServiceId[] }[];
  ServiceIds?: ServiceId[];
  EntryPoint?: ServiceId;
  Revision?: number;
  MatchedEventTime?: number;
}

export interface GetTraceSummariesRequest {
  StartTime: number;
  EndTime: number;
  TimeRangeType?: 'TraceId' | 'Event' | 'Service';
  Sampling?: boolean;
  FilterExpression?: string;
  NextToken?: string;
}

export interface GetTraceSummariesResult {
  TraceSummaries?: TraceSummary[];
  ApproximateTime?: number;
  TracesProcessedCount?: number;
  NextToken?: string | null;
}

export interface TraceSegment {
  Id?: string;
  /** The segment document as a JSON string. */
  Document?: string;
}

export interface Trace {
  Id?: string;
  Duration?: number;
  LimitExceeded?: boolean;
  Segments?: TraceSegment[];
}

export interface BatchGetTracesResult {
  Traces?: Trace[];
  UnprocessedTraceIds?: string[];
  NextToken?: string | null;
}

export interface Group {
  GroupName?: string;
  GroupARN?: string;
  FilterExpression?: string;
}

export interface GetGroupsResult {
  Groups?: Group[];
  NextToken?: string | null;
}

export interface TimeSeriesServiceStatistics {
  Timestamp?: number;
  EdgeSummaryStatistics?: Statistics;
  ServiceSummaryStatistics?: Statistics;
  ResponseTimeHistogram?: HistogramEntry[];
}

export interface GetTimeSeriesServiceStatisticsResult {
  TimeSeriesServiceStatistics?: TimeSeriesServiceStatistics[];
  ContainsOldGroupVersions?: boolean;
  NextToken?: string | null;
}

// ---- Segment documents (the JSON inside Trace.Segments[].Document) ----

export interface StackFrame {
  path?: string;
  line?: number;
  label?: string;
}

export interface ExceptionDoc {
  id?: string;
  message?: string;
  type?: string;
  remote?: boolean;
  truncated?: number;
  skipped?: number;
  cause?: string;
  stack?: StackFrame[];
}

export interface CauseDoc {
  working_directory?: string;
  paths?: string[];
  exceptions?: ExceptionDoc[];
}

export interface HttpDoc {
  request?: {
    method?: string;
    url?: string;
    user_agent?: string;
    client_ip?: string;
    x_forwarded_for?: boolean;
    traced?: boolean;
  };
  response?: { status?: number; content_length?: number | string };
}

export interface SqlDoc {
  connection_string?: string;
  url?: string;
  sanitized_query?: string;
  database_type?: string;
  database_version?: string;
  driver_version?: string;
  user?: string;
  preparation?: string;
}

/** A segment or subsegment document; embedded subsegments share the shape. */
export interface SegmentDoc {
  id?: string;
  name?: string;
  trace_id?: string;
  parent_id?: string;
  type?: string;
  start_time?: number;
  end_time?: number;
  in_progress?: boolean;
  origin?: string;
  namespace?: string;
  user?: string;
  resource_arn?: string;
  inferred?: boolean;
  error?: boolean;
  throttle?: boolean;
  fault?: boolean;
  cause?: CauseDoc | string;
  http?: HttpDoc;
  aws?: Record<string, unknown>;
  sql?: SqlDoc;
  annotations?: Record<string, string | number | boolean>;
  metadata?: Record<string, unknown>;
  service?: Record<string, unknown>;
  precursor_ids?: string[];
  subsegments?: SegmentDoc[];
  [extra: string]: unknown;
}
