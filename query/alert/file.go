package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// File is the rules file: receivers and rules (JSON; see README.md).
type File struct {
	Receivers []Receiver `json:"receivers"`
	Rules     []Rule     `json:"rules"`
}

// LoadFile reads and parses a rules file. Unknown fields are errors (a
// typo must not silently disable a setting); rules are validated by New,
// which knows every receiver.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alerting: rules file: %w", err)
	}
	f, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("alerting: rules file %s: %w", path, err)
	}
	return f, nil
}

// ParseFile parses the JSON of a rules file.
func ParseFile(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, describeJSONError(b, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON object")
	}
	seen := map[string]bool{}
	for i := range f.Rules {
		f.Rules[i].Normalize()
		id := f.Rules[i].ID
		if seen[id] {
			return nil, fmt.Errorf("two rules have the id %q", id)
		}
		seen[id] = true
	}
	return &f, nil
}

// describeJSONError adds the line and column to JSON syntax and type
// errors.
func describeJSONError(b []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
