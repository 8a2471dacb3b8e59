package space

import (
	"math"
	"math/rand/v2"
)

// Internal maps an external value to the numeric representation samplers model: the value
// itself (its logarithm for log parameters), or the choice index for categoricals.
func (p *Param) Internal(v any) float64 {
	if p.Type == Categorical {
		for i, c := range p.Choices {
			if c == v {
				return float64(i)
			}
		}
		return math.NaN()
	}
	f, _ := toFloat(v)
	if p.Log {
		return math.Log(f)
	}
	return f
}

// Bounds returns the interval samplers draw internal values from: [low, high] (logged for log
// parameters), widened by half a step on each side for stepped ones so that every grid value
// gets the same share when the draw is rounded.
func (p *Param) Bounds() (lo, hi float64) {
	switch {
	case p.Type == Categorical:
		return 0, float64(len(p.Choices))
	case p.Log && p.Type == Int:
		return math.Log(p.Low - 0.5), math.Log(p.High + 0.5)
	case p.Log:
		return math.Log(p.Low), math.Log(p.High)
	case p.Step > 0:
		return p.Low - p.Step/2, p.High + p.Step/2
	}
	return p.Low, p.High
}

// External maps an internal value back to a legal external value: rounded to the step or to
// an integer and clipped to [low, high]; for categoricals the choice at the index.
func (p *Param) External(x float64) any {
	if p.Type == Categorical {
		i := int(math.Floor(x))
		return p.Choices[max(0, min(i, len(p.Choices)-1))]
	}
	if p.Log {
		x = math.Exp(x)
		if p.Type == Int {
			x = math.Round(x)
		}
	} else if p.Step > 0 {
		x = math.Round((x-p.Low)/p.Step)*p.Step + p.Low
		// Rounding leaves float noise (0.1+2·0.1); snap to the step's decimal precision.
		if p.Type == Float {
			x = snap(x, p.Step, p.Low)
		}
	}
	return math.Max(p.Low, math.Min(p.High, x))
}

// snap removes float noise from low + k·step by rounding to the precision step and low carry.
func snap(x, step, low float64) float64 {
	digits := 0
	for _, v := range []float64{step, low} {
		for d := 0; d < 15; d++ {
			s := v * math.Pow10(d)
			if math.Abs(s-math.Round(s)) < 1e-9 {
				digits = max(digits, d)
				break
			}
		}
	}
	scale := math.Pow10(digits)
	return math.Round(x*scale) / scale
}

// Uniform draws an external value uniformly (in log space for log parameters; every choice
// and every step value equally likely).
func (p *Param) Uniform(rng *rand.Rand) any {
	lo, hi := p.Bounds()
	return p.External(lo + rng.Float64()*(hi-lo))
}

// Values lists every value of a discrete parameter in order (nil for a continuous float): the
// parameter's grid: points when given, else every choice or step.
func (p *Param) Values() []any {
	if len(p.Grid) > 0 {
		return p.Grid
	}
	switch {
	case p.Type == Categorical:
		return p.Choices
	case p.Step > 0 && !p.Log || p.Type == Int:
		step := p.Step
		if step == 0 {
			step = 1
		}
		n := int(math.Floor((p.High-p.Low)/step+1e-9)) + 1
		if n > 1_000_000 {
			return nil
		}
		out := make([]any, n)
		for i := range out {
			out[i] = p.External(p.Internal(p.Low + float64(i)*step))
		}
		return out
	}
	return nil
}
