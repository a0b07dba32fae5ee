package redisstore

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
)

func TestDecodeState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		check   func(t *testing.T, st incident.State)
		wantErr bool
	}{
		{
			name: "empty",
			raw:  `{"version":0,"components":{},"incidents":[]}`,
			check: func(t *testing.T, st incident.State) {
				if st.Version != 0 || len(st.Components) != 0 || len(st.Incidents) != 0 {
					t.Errorf("state = %+v", st)
				}
			},
		},
		{
			// Lua may print large numbers with an exponent; miniredis encodes
			// an empty table as [].
			name: "lua number and table quirks",
			raw: `{"version":7,"components":{"web":{"s":"major_outage","t":1.772366400000e+12}},"incidents":[
				{"id":"b","status":"investigating","created_at":1772366400000,"components":[],"updates":[{"id":"bu1","created_at":1772366400000}]},
				{"id":"c","status":"resolved","created_at":1772366460000,"resolved_at":1772366520000,"components":{"web":"operational"},
				 "name_locked":true,"codes":["web"],"seq":1,"updates":[{"id":"cu1","created_at":1772366460000}]}]}`,
			check: func(t *testing.T, st incident.State) {
				want := time.UnixMilli(1772366400000).UTC()
				if c := st.Components["web"]; c.Status != "major_outage" || !c.UpdatedAt.Equal(want) {
					t.Errorf("component = %+v", c)
				}
				if len(st.Incidents) != 2 || st.Incidents[0].ID != "c" || st.Incidents[1].ID != "b" {
					t.Fatalf("incidents = %+v", st.Incidents)
				}
				b := st.Incidents[1]
				if b.Components == nil || len(b.Components) != 0 || !b.MonitoringAt.IsZero() || !b.ResolvedAt.IsZero() {
					t.Errorf("b = %+v", b)
				}
				if c := st.Incidents[0]; c.ResolvedAt.Location() != time.UTC || c.ResolvedAt.UnixMilli() != 1772366520000 {
					t.Errorf("c resolved_at = %s", c.ResolvedAt)
				}
			},
		},
		{name: "not json", raw: `ERR`, wantErr: true},
		{name: "bad time", raw: `{"components":{"web":{"s":"x","t":"soon"}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := decodeState([]byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}

// FuzzDecodeState feeds arbitrary replies to the Load decoder: errors are
// fine, panics are not.
func FuzzDecodeState(f *testing.F) {
	f.Add(`{"version":0,"components":{},"incidents":[]}`)
	f.Add(`{"version":3,"components":{"web":{"s":"major_outage","t":1772366400000}},"incidents":[{"id":"a","components":[],"updates":[{"id":"au1","affected_components":[{"code":"web"}]}]}]}`)
	f.Add(`{"incidents":[{"created_at":1e400}]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		st, err := decodeState([]byte(raw))
		if err == nil && st.Components == nil {
			t.Fatal("nil components map without an error")
		}
	})
}
