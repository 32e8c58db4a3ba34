// Package ui serves Fluoro's web dashboard.
//
// The dashboard is a Vite + TypeScript + Preact application in this directory
// (sources in ui/src, build config in ui/vite.config.ts). `npm ci && npm run build`
// from the repository root writes the production build to ui/dist, which this
// package embeds with //go:embed. ui/dist is ignored by git except for
// ui/dist/placeholder.html, which is committed so that the package compiles on a
// fresh clone; when the build output is absent the handler serves that page,
// which explains how to build the dashboard.
//
// The handler serves only static files. The data come from the X-Ray REST API
// on the same origin (POST /ServiceGraph, /TraceSummaries, …), the live websocket
// at /ws and the Lambda proxy at /lambda/, all of which the caller routes before
// falling back to this handler (see ui/README.md).
package ui
