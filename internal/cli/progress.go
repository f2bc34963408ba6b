package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressMin is the smallest transfer that gets a progress bar.
const progressMin = 4 << 20

// progress draws a one-line progress report on a terminal: bytes done (of
// the total when known), percentage and speed. A nil *progress draws
// nothing, so callers need not check.
type progress struct {
	w     io.Writer
	label string
	total int64 // -1: unknown

	mu    sync.Mutex
	start time.Time
	last  time.Time
	done  int64
	width int
	drawn bool
}

// newProgress returns a progress bar on stderr when it is a terminal, not
// in --json mode, and the transfer is large or of unknown size.
func (g *globals) newProgress(label string, total int64) *progress {
	if !g.env.StderrTTY || g.json || (total >= 0 && total < progressMin) {
		return nil
	}
	now := time.Now()
	return &progress{w: g.env.Stderr, label: label, total: total, start: now}
}

// update records done bytes; it redraws at most 5 times a second. It is
// safe for concurrent use.
func (p *progress) update(done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	p.draw(now)
}

// finish draws the final state and ends the line; a transfer of unknown
// size that stayed small and quick leaves no line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawn && p.done < progressMin {
		return
	}
	p.draw(time.Now())
	fmt.Fprintln(p.w)
}

func (p *progress) draw(now time.Time) {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el / 1e6
	}
	var s string
	if p.total >= 0 {
		pct := 100.0
		if p.total > 0 {
			pct = float64(p.done) * 100 / float64(p.total)
		}
		s = fmt.Sprintf("%s  %s / %s  %3.0f%%  %.1f MB/s", p.label, sizeString(p.done), sizeString(p.total), pct, rate)
	} else {
		s = fmt.Sprintf("%s  %s  %.1f MB/s", p.label, sizeString(p.done), rate)
	}
	p.drawn = true
	pad := max(p.width-len(s), 0)
	p.width = len(s)
	fmt.Fprintf(p.w, "\r%s%*s", s, pad, "")
}
