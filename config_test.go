package main

import (
	"flag"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantN   int
		wantErr bool
	}{
		{name: "default", want: "127.0.0.1:2000", wantN: 4},
		{name: "env", env: map[string]string{"FLUORO_UDP_ADDR": "127.0.0.1:9"}, want: "127.0.0.1:9", wantN: 4},
		{name: "flag beats env", args: []string{"-udp-addr", "127.0.0.1:7"}, env: map[string]string{"FLUORO_UDP_ADDR": "127.0.0.1:9"}, want: "127.0.0.1:7", wantN: 4},
		{name: "int env", env: map[string]string{"FLUORO_READERS": "8"}, want: "127.0.0.1:2000", wantN: 8},
		{name: "bad int env", env: map[string]string{"FLUORO_READERS": "many"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			addr := fs.String("udp-addr", "127.0.0.1:2000", "")
			n := fs.Int("readers", 4, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := applyEnv(fs, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if *addr != tt.want || *n != tt.wantN {
				t.Fatalf("got %q %d, want %q %d", *addr, *n, tt.want, tt.wantN)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"udp-addr": "FLUORO_UDP_ADDR", "clickhouse": "FLUORO_CLICKHOUSE", "log.level": "FLUORO_LOG_LEVEL"} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg logConfig
		ok  bool
	}{
		{logConfig{"text", "info"}, true},
		{logConfig{"json", "debug"}, true},
		{logConfig{"xml", "info"}, false},
		{logConfig{"text", "loud"}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: err = %v", c.cfg, err)
		}
	}
}
