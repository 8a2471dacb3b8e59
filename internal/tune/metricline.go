package tune

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// MetricPrefix starts the lines a command trial prints to report metrics:
//
//	mlops-metric val_loss=0.25
//	mlops-metric val_loss=0.31 step=3
const MetricPrefix = "mlops-metric"

var metricLineRE = regexp.MustCompile(`^\s*mlops-metric\s+(\S+?)\s*=\s*(\S*)(?:\s+step\s*=\s*(\S*))?\s*$`)

// MetricLine is one parsed report.
type MetricLine struct {
	Name    string
	Value   float64
	Step    int64
	HasStep bool
}

// ParseMetricLine reads one output line. ok is false for lines that are not metric reports;
// err is set for a report that cannot be read or whose value is not finite, which fails the
// trial: a mistyped number must never be read as a different one (Katib read 888 as 8).
func ParseMetricLine(s string) (m MetricLine, ok bool, err error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, MetricPrefix) || (len(t) > len(MetricPrefix) && t[len(MetricPrefix)] != ' ' && t[len(MetricPrefix)] != '\t') {
		return m, false, nil
	}
	idx := metricLineRE.FindStringSubmatchIndex(s)
	g := metricLineRE.FindStringSubmatch(s)
	if g == nil {
		return m, true, fmt.Errorf("cannot read metric line %q: write mlops-metric NAME=VALUE [step=N]", t)
	}
	if !metricRE.MatchString(g[1]) {
		return m, true, fmt.Errorf("metric line %q: bad metric name %q", t, g[1])
	}
	m.Name = g[1]
	v, err := strconv.ParseFloat(g[2], 64)
	if err != nil {
		return m, true, fmt.Errorf("metric %s: %q is not a number (line %q)", m.Name, g[2], t)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return m, true, fmt.Errorf("metric %s is %v (line %q): the trial diverged or the program reported no real value", m.Name, v, t)
	}
	m.Value = v
	if idx[6] >= 0 { // a step= was given
		n, err := strconv.ParseInt(g[3], 10, 64)
		if err != nil || n < 0 {
			return m, true, fmt.Errorf("metric %s: step %q is not a non-negative integer (line %q)", m.Name, g[3], t)
		}
		m.Step, m.HasStep = n, true
	}
	return m, true, nil
}
