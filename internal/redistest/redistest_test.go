package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := t.Context()

	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	before := srv.CommandStats(t)
	for range 3 {
		if err := c.Get(ctx, "k").Err(); err != nil {
			t.Fatalf("GET: %v", err)
		}
	}
	after := srv.CommandStats(t)
	if got := after["get"] - before["get"]; got != 3 {
		t.Errorf("GET calls between two CommandStats = %d, want 3 (before %v, after %v)", got, before, after)
	}
	if after["set"] != 1 {
		t.Errorf("SET calls = %d, want 1", after["set"])
	}

	srv.Stop()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(short).Err(); err == nil {
		t.Fatal("PING after Stop succeeded")
	}

	srv.Restart(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after Restart = %d, %v; want 0 (nothing persisted)", n, err)
	}
	if want := "redis://" + srv.Addr() + "/0"; srv.URL() != want {
		t.Errorf("URL() = %q, want %q", srv.URL(), want)
	}
}

func TestParallelServers(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 4 {
		srv := redistest.Start(t)
		if seen[srv.Addr()] {
			t.Fatalf("two servers on %s", srv.Addr())
		}
		seen[srv.Addr()] = true
	}
}

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]int64
		wantErr bool
	}{
		{
			name: "redis 7",
			in: "# Commandstats\r\n" +
				"cmdstat_get:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_EVALSHA:calls=7,usec=70,usec_per_call=10.00\r\n",
			want: map[string]int64{"get": 3, "client|setinfo": 2, "evalsha": 7},
		},
		{name: "empty", in: "# Commandstats\r\n", want: map[string]int64{}},
		{name: "bad number", in: "cmdstat_get:calls=x,usec=1\r\n", wantErr: true},
		{name: "no calls", in: "cmdstat_get:usec=1\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := redistest.ParseCommandStats(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %d, want %d", k, got[k], v)
				}
			}
		})
	}
}
