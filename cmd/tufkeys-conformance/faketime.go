package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The suite runs clients under libfaketime, which moves the C library's
// clock; Go reads the kernel's. fakeClock reads libfaketime's FAKETIME
// variable instead, in the forms the suite and libfaketime use: an offset
// ("+97667615", "-2d", "+365d"), a start time that then advances
// ("@2030-01-01 00:00:00"), or a frozen time ("2030-01-01 00:00:00").
func fakeClock(spec string, started time.Time) (func() time.Time, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return time.Now, nil
	}
	if m := fakeOffset.FindStringSubmatch(spec); m != nil {
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return nil, fmt.Errorf("FAKETIME=%q: %w", spec, err)
		}
		unit := map[string]float64{"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}[m[2]]
		offset := time.Duration(n * unit * float64(time.Second))
		return func() time.Time { return time.Now().Add(offset) }, nil
	}
	if at, ok := strings.CutPrefix(spec, "@"); ok {
		start, err := parseFakeTime(at)
		if err != nil {
			return nil, err
		}
		return func() time.Time { return start.Add(time.Since(started)) }, nil
	}
	frozen, err := parseFakeTime(spec)
	if err != nil {
		return nil, err
	}
	return func() time.Time { return frozen }, nil
}

var fakeOffset = regexp.MustCompile(`^([+-][0-9]+(?:\.[0-9]+)?)([smhdy]?)$`)

// parseFakeTime reads libfaketime's absolute form, in local time as
// libfaketime does.
func parseFakeTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("FAKETIME=%q is neither an offset such as +365d nor a time such as 2030-01-01 00:00:00", s)
	}
	return t, nil
}
