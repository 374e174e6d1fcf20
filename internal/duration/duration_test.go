package duration

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"30m", 30 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1d", 24 * time.Hour},
		{"14d", 14 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"0d", 0},
		{" 2d ", 48 * time.Hour},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1h", "-1d", "1.5d", "d", "1dd", "1d-2h", "36501d", "soon", "1w"} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{24 * time.Hour, "1 day"},
		{48 * time.Hour, "2 days"},
		{50 * time.Hour, "2 days 2 hours"},
		{24*time.Hour + 90*time.Second, "1 day"},
		{time.Hour + time.Minute, "1 hour 1 minute"},
		{45 * time.Minute, "45 minutes"},
		{time.Second, "1 second"},
		{0, "less than a second"},
		{90 * 24 * time.Hour, "90 days"},
	}
	for _, tt := range tests {
		if got := Words(tt.d); got != tt.want {
			t.Errorf("Words(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestStringRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, time.Minute, 36 * time.Hour, 48 * time.Hour, 90 * 24 * time.Hour} {
		got, err := Parse(String(d))
		if err != nil || got != d {
			t.Errorf("Parse(String(%v)) = %v, %v", d, got, err)
		}
	}
}
