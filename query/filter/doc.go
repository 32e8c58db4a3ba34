// Package filter parses X-Ray filter expressions (xray.md §5) and evaluates
// them in memory over the spans of one trace or translates them to a
// ClickHouse HAVING condition over the spans table.
package filter
