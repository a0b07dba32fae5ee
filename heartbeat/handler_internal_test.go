package heartbeat

import "testing"

func TestEqualToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		got, want string
		equal     bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cre", "s3cret", false},
		{"s3cretx", "s3cret", false},
		{"S3cret", "s3cret", false},
		{"", "s3cret", false},
	} {
		if got := equalToken(tt.got, tt.want); got != tt.equal {
			t.Errorf("equalToken(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.equal)
		}
	}
}
