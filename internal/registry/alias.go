package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AliasEvent is one move of an alias. Events are immutable, numbered from 1 and claimed with a
// conditional create, so concurrent promotions are serialised instead of overwriting each other.
type AliasEvent struct {
	Seq      int    `json:"seq"`
	Action   string `json:"action"` // "promote" or "rollback"
	Version  int    `json:"version"`
	Previous int    `json:"previous,omitempty"` // 0 when the alias was new
	// Skipped lists the versions a rollback passed over because they had been removed
	// (rm --force); the rollback pops them as well as the version it leaves.
	Skipped []int     `json:"skipped,omitempty"`
	Time    time.Time `json:"time"`
}

// AliasState is where an alias points now and how it got there.
type AliasState struct {
	Name    string       `json:"name"`
	Alias   string       `json:"alias"`
	Version int          `json:"version"`
	Updated time.Time    `json:"updated"`
	History []AliasEvent `json:"history"` // oldest first
	stack   []int        // promotions not yet rolled back; the top is Version
}

func (r *Registry) aliasEvents(ctx context.Context, name, alias string) ([]AliasEvent, error) {
	keys, err := r.listKeys(ctx, aliasEventsPrefix(name, alias))
	if err != nil {
		return nil, err
	}
	bySeq := map[int]bool{}
	maxSeq := 0
	for _, k := range keys {
		if n, ok := parseNumbered(strings.TrimLeft(strings.TrimPrefix(k, aliasEventsPrefix(name, alias)), "0"), "", ".json"); ok {
			bySeq[n] = true
			maxSeq = max(maxSeq, n)
		}
	}
	events := make([]AliasEvent, 0, maxSeq)
	for seq := 1; seq <= maxSeq; seq++ {
		if !bySeq[seq] {
			return nil, fmt.Errorf("%w: alias %s@%s is missing event %d; the registry was edited by hand", ErrInvalid, name, alias, seq)
		}
		data, err := r.readRecord(ctx, aliasEventKey(name, alias, seq))
		if err != nil {
			return nil, err
		}
		var ev AliasEvent
		if err := json.Unmarshal(data, &ev); err != nil || ev.Seq != seq || ev.Version <= 0 ||
			(ev.Action != "promote" && ev.Action != "rollback") || (ev.Action == "promote" && len(ev.Skipped) > 0) {
			return nil, fmt.Errorf("%w: alias %s@%s event %d is malformed", ErrInvalid, name, alias, seq)
		}
		events = append(events, ev)
	}
	return events, nil
}

// replay computes the alias state: promote pushes a version, rollback pops back to the one before.
func replay(name, alias string, events []AliasEvent) *AliasState {
	st := &AliasState{Name: name, Alias: alias, History: events}
	for _, ev := range events {
		if ev.Action == "promote" {
			st.stack = append(st.stack, ev.Version)
		} else {
			st.stack = st.stack[:max(0, len(st.stack)-1-len(ev.Skipped))]
		}
		st.Updated = ev.Time
	}
	if len(st.stack) > 0 {
		st.Version = st.stack[len(st.stack)-1]
	}
	return st
}

// Alias returns the current state of name@alias.
func (r *Registry) Alias(ctx context.Context, name, alias string) (*AliasState, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := ValidateAlias(alias); err != nil {
		return nil, err
	}
	events, err := r.aliasEvents(ctx, name, alias)
	if err != nil {
		return nil, err
	}
	st := replay(name, alias, events)
	if st.Version == 0 {
		return nil, fmt.Errorf("%w: alias %q of model %q does not exist; set it with 'mlops promote %s@VERSION --alias %s'", ErrNotFound, alias, name, name, alias)
	}
	return st, nil
}

// aliasMap returns alias → version for every alias of name.
func (r *Registry) aliasMap(ctx context.Context, name string) (map[string]int, error) {
	states, err := r.aliasStates(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(states))
	for a, st := range states {
		out[a] = st.Version
	}
	return out, nil
}

// aliasStates returns the state of every alias of name that points somewhere.
func (r *Registry) aliasStates(ctx context.Context, name string) (map[string]*AliasState, error) {
	keys, err := r.listKeys(ctx, aliasesPrefix(name))
	if err != nil {
		return nil, err
	}
	out := map[string]*AliasState{}
	for _, k := range keys {
		alias, _, ok := strings.Cut(strings.TrimPrefix(k, aliasesPrefix(name)), "/")
		if !ok || ValidateAlias(alias) != nil {
			continue
		}
		if _, done := out[alias]; done {
			continue
		}
		st, err := r.Alias(ctx, name, alias)
		if errors.Is(err, ErrNotFound) {
			continue // fully rolled back
		}
		if err != nil {
			return nil, err
		}
		out[alias] = st
	}
	return out, nil
}

// Promote points name@alias at version.
func (r *Registry) Promote(ctx context.Context, name string, version int, alias string) (*AliasState, error) {
	if _, err := r.Manifest(ctx, name, version); err != nil {
		return nil, err
	}
	if err := ValidateAlias(alias); err != nil {
		return nil, err
	}
	return r.appendAliasEvent(ctx, name, alias, func(st *AliasState) (AliasEvent, error) {
		return AliasEvent{Action: "promote", Version: version, Previous: st.Version}, nil
	})
}

// Rollback points name@alias back to the version it pointed to before its last promotion.
// Versions removed since (rm --force) are passed over, recorded in the event's Skipped, and the
// alias goes back to the newest earlier version that still exists.
func (r *Registry) Rollback(ctx context.Context, name, alias string) (*AliasState, error) {
	if _, err := r.Alias(ctx, name, alias); err != nil {
		return nil, err
	}
	return r.appendAliasEvent(ctx, name, alias, func(st *AliasState) (AliasEvent, error) {
		if len(st.stack) < 2 {
			return AliasEvent{}, fmt.Errorf("%w: alias %s@%s has no earlier version to roll back to (it points to version %d since its first promotion)", ErrNotFound, name, alias, st.Version)
		}
		var skipped []int
		for i := len(st.stack) - 2; i >= 0; i-- {
			target := st.stack[i]
			_, err := r.Manifest(ctx, name, target)
			if errors.Is(err, ErrNotFound) {
				skipped = append(skipped, target)
				continue
			}
			if err != nil {
				return AliasEvent{}, fmt.Errorf("roll back %s@%s to version %d: %w", name, alias, target, err)
			}
			return AliasEvent{Action: "rollback", Version: target, Previous: st.Version, Skipped: skipped}, nil
		}
		verb := "was"
		if len(skipped) > 1 {
			verb = "were"
		}
		return AliasEvent{}, fmt.Errorf("%w: alias %s@%s has no earlier version left to roll back to (%s %s removed); promote a version instead",
			ErrNotFound, name, alias, versionList(skipped), verb)
	})
}

// versionList formats version numbers for messages: "version 2", "versions 3, 2".
func versionList(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.Itoa(v)
	}
	if len(vs) == 1 {
		return "version " + parts[0]
	}
	return "versions " + strings.Join(parts, ", ")
}

// appendAliasEvent claims the next event number with a conditional create, recomputing the
// event from fresh state after losing a race.
func (r *Registry) appendAliasEvent(ctx context.Context, name, alias string, next func(*AliasState) (AliasEvent, error)) (*AliasState, error) {
	for attempt := 0; ; attempt++ {
		events, err := r.aliasEvents(ctx, name, alias)
		if err != nil {
			return nil, err
		}
		st := replay(name, alias, events)
		ev, err := next(st)
		if err != nil {
			return nil, err
		}
		ev.Seq = len(events) + 1
		ev.Time = r.opts.Now().UTC()
		err = r.createRecord(ctx, aliasEventKey(name, alias, ev.Seq), ev)
		if err == nil {
			return replay(name, alias, append(events, ev)), nil
		}
		if !errors.Is(err, errExists) || attempt >= maxClaimAttempts {
			return nil, fmt.Errorf("move alias %s@%s: %w", name, alias, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

const maxClaimAttempts = 50
