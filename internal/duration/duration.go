// Package duration reads the durations tufkeys takes on its command line
// and in its environment: Go's own form (90m, 12h, 1h30m) and whole days,
// alone or before Go's form (14d, 1d12h), since expiry periods and cache
// ages are thought of in days.
package duration

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid marks text that is not a duration tufkeys takes.
var ErrInvalid = errors.New("not a duration")

// maxDays bounds the days part, far beyond any period tufkeys uses and
// well inside time.Duration.
const maxDays = 36500

const day = 24 * time.Hour

// Parse reads a duration; negative ones are refused.
func Parse(s string) (time.Duration, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return 0, fmt.Errorf("an empty value is %w: write one such as 30m, 12h or 14d", ErrInvalid)
	}
	if strings.HasPrefix(text, "-") {
		return 0, fmt.Errorf("%q is negative, and %w tufkeys takes: write 0 or more, such as 30m, 12h or 14d", s, ErrInvalid)
	}
	var total time.Duration
	if daysText, rest, ok := strings.Cut(text, "d"); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(daysText, "+"))
		if err != nil || n < 0 || n > maxDays {
			return 0, fmt.Errorf("%q is %w: the days before \"d\" must be a whole number up to %d, as in 14d or 1d12h", s, ErrInvalid, maxDays)
		}
		total = time.Duration(n) * day
		text = rest
		if text == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is %w: write one such as 30m, 12h, 14d or 1d12h", s, ErrInvalid)
	}
	return total + d, nil
}

// Words writes a duration for a sentence: "1 day", "3 days 2 hours",
// "45 minutes", in at most the two largest units.
func Words(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	units := []struct {
		size      time.Duration
		one, many string
	}{{day, "day", "days"}, {time.Hour, "hour", "hours"}, {time.Minute, "minute", "minutes"}, {time.Second, "second", "seconds"}}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 && len(parts) < 2 {
			word := u.many
			if n == 1 {
				word = u.one
			}
			parts = append(parts, strconv.FormatInt(int64(n), 10)+" "+word)
			d -= n * u.size
		} else if len(parts) > 0 {
			// the two largest units that are there, and none after a gap
			break
		}
	}
	if len(parts) == 0 {
		return "less than a second"
	}
	return strings.Join(parts, " ")
}

// String writes a duration the way Parse reads it, in days when it is a
// whole number of them.
func String(d time.Duration) string {
	switch {
	case d != 0 && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d != 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d != 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
