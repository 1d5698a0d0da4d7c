package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// samples holds every observed duration. Runs are short enough that keeping
// them all (8 bytes each) and sorting once is both exact and cheap.
type samples []time.Duration

// summary is the distribution of a set of samples.
type summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"-"`
	P50  time.Duration `json:"-"`
	P90  time.Duration `json:"-"`
	P99  time.Duration `json:"-"`
	P999 time.Duration `json:"-"`
	Max  time.Duration `json:"-"`
	Mean time.Duration `json:"-"`
}

// summarize sorts s in place and returns its distribution.
func summarize(s samples) summary {
	if len(s) == 0 {
		return summary{}
	}
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return summary{
		N:    len(s),
		Min:  s[0],
		P50:  percentile(s, 50),
		P90:  percentile(s, 90),
		P99:  percentile(s, 99),
		P999: percentile(s, 99.9),
		Max:  s[len(s)-1],
		Mean: time.Duration(sum / float64(len(s))),
	}
}

// percentile returns the nearest-rank p-th percentile of the sorted s: the
// smallest sample such that at least p percent of samples are <= it.
func percentile(sorted samples, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// ms renders a duration in milliseconds for JSON output.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// fmtDur prints a duration with three significant digits in a fitting unit.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	}
}

// rate returns n events per second over d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// round1 rounds to one decimal for stable JSON.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// round3 rounds to three decimals.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
