package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

const maxDuration = 36525 * 24 * time.Hour

var errDuration = errors.New("not a duration (examples: 500ms, 15s, 5m, 30d)")

// parseDuration reads a duration as the orchestrator does (domain/time.cpp
// and runtime/config.cpp): numbers with the units ms, s, m, h and d, largest
// first and each at most once ("1m30s"), or a bare number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errDuration
	}
	if len(s) < 9 && strings.Trim(s, "0123456789") == "" {
		n, _ := strconv.Atoi(s)
		return time.Duration(n) * time.Second, nil
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	var total time.Duration
	lastRank := len(units)
	for s != "" {
		digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
		if digits == 0 || digits == len(s) || digits > 13 {
			return 0, errDuration
		}
		value, _ := strconv.ParseInt(s[:digits], 10, 64)
		s = s[digits:]
		rank := -1
		for i, u := range units {
			if strings.HasPrefix(s, u.suffix) && (u.suffix != "m" || !strings.HasPrefix(s, "ms")) {
				rank = i
				break
			}
		}
		if rank < 0 || rank >= lastRank {
			return 0, errDuration
		}
		lastRank = rank
		s = s[len(units[rank].suffix):]
		if time.Duration(value) > (maxDuration-total)/units[rank].unit {
			return 0, errDuration
		}
		total += time.Duration(value) * units[rank].unit
	}
	return total, nil
}

// parseSleep reads the argument of coreutils' sleep: a decimal number with an
// optional unit s, m, h or d.
func parseSleep(s string) (time.Duration, bool) {
	unit := time.Second
	for suffix, u := range map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, unit = rest, u
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > maxDuration.Seconds() {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
