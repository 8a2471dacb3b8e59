package retrain

import "math"

// learningRate is the rate of optimizer step t (0-based) out of total, with
// stepsPerEpoch steps in each epoch. Warm-up ramps linearly from lr/warmup to
// lr over the first warmup steps (as torch's LinearLR from 1/warmup); after
// it, "cosine" decays to 0 at the last step over the remaining steps and
// "step" multiplies by 0.1 from the epoch at half the run and again at three
// quarters (torch's MultiStepLR with milestones E/2 and 3E/4). It is computed
// on the host in float64, so a resumed run sees the same rates.
func learningRate(h *Hyperparameters, t, total, stepsPerEpoch int) float64 {
	lr := h.LR
	if t < h.Warmup {
		return lr * float64(t+1) / float64(h.Warmup)
	}
	switch h.LRSchedule {
	case ScheduleCosine:
		span := total - h.Warmup
		if span <= 1 {
			return lr
		}
		p := float64(t-h.Warmup) / float64(span)
		return lr * 0.5 * (1 + math.Cos(math.Pi*p))
	case ScheduleStep:
		epoch := t / max(1, stepsPerEpoch)
		for _, m := range stepMilestones(h.Epochs) {
			if epoch >= m {
				lr *= 0.1
			}
		}
	}
	return lr
}

// stepMilestones are the epochs (0-based) from which the "step" schedule has
// divided the rate by ten once more. Runs of one epoch have none.
func stepMilestones(epochs int) []int {
	if epochs < 2 {
		return nil
	}
	a, b := epochs/2, epochs*3/4
	if b <= a {
		return []int{a}
	}
	return []int{a, b}
}
