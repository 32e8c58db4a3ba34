package segment

import (
	"bytes"
	"strings"
)

// MaxDatagram is the read buffer the X-Ray daemon (and Fluoro) uses for one
// UDP datagram. A datagram that fills it completely may have been truncated.
const MaxDatagram = 64 << 10

// The header lines written by the SDKs (Go/Java with spaces, Node compact).
const (
	headerSpaced  = `{"format": "json", "version": 1}`
	headerCompact = `{"format":"json","version":1}`
)

// SplitDatagram checks the daemon header line ({"format":"json","version":1},
// parsed as JSON: format compared case-insensitively, version exactly 1,
// other members ignored) and returns the body after the first '\n'. The body
// aliases pkt.
//
// A datagram of MaxDatagram bytes or more is rejected as too_large (the
// reader's buffer was full, so it may be truncated); a missing or wrong
// header is invalid_header; a blank body is empty_body.
func SplitDatagram(pkt []byte) (body []byte, err error) {
	if len(pkt) >= MaxDatagram {
		return nil, newError(ReasonTooLarge, "datagram fills the 65536-byte buffer and may be truncated")
	}
	nl := bytes.IndexByte(pkt, '\n')
	if nl < 0 {
		return nil, newError(ReasonInvalidHeader, "missing header line")
	}
	header := bytes.TrimRight(pkt[:nl], "\r")
	if string(header) != headerSpaced && string(header) != headerCompact {
		if msg := checkHeader(string(header)); msg != "" {
			return nil, newError(ReasonInvalidHeader, msg)
		}
	}
	body = pkt[nl+1:]
	for _, c := range body {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return body, nil
		}
	}
	return nil, newError(ReasonEmptyBody, "no document after the header line")
}

// checkHeader parses a header line as JSON and returns what is wrong with
// it, or "".
func checkHeader(h string) string {
	sc := scanner{s: h}
	sc.ws()
	if sc.peek() != '{' {
		return "header is not a JSON object"
	}
	var format, version string
	var haveFormat, haveVersion bool
	if !sc.open('}') {
		for {
			k, err := sc.key()
			if err != nil {
				return "header is not JSON: " + err.Error()
			}
			switch {
			case k == "format" && sc.peek() == '"':
				v, err := sc.str()
				if err != nil {
					return "header is not JSON: " + err.Error()
				}
				format, haveFormat = v, true
			case k == "version" && (sc.peek() == '-' || sc.peek() >= '0' && sc.peek() <= '9'):
				v, err := sc.num()
				if err != nil {
					return "header is not JSON: " + err.Error()
				}
				version, haveVersion = v, true
			default:
				if _, err := sc.skip(); err != nil {
					return "header is not JSON: " + err.Error()
				}
				if k == "format" {
					format, haveFormat = "", true
				}
				if k == "version" {
					version, haveVersion = "", true
				}
			}
			closed, err := sc.next('}')
			if err != nil {
				return "header is not JSON: " + err.Error()
			}
			if closed {
				break
			}
		}
	}
	sc.ws()
	if sc.i < len(h) {
		return "header is not JSON: data after the object"
	}
	switch {
	case !haveFormat:
		return "header has no format"
	case !strings.EqualFold(format, "json"):
		return "header format is not \"json\""
	case !haveVersion:
		return "header has no version"
	case version != "1":
		return "header version is not 1"
	}
	return ""
}
