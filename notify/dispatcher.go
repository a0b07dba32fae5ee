package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/outbox"
	"github.com/tocsin/tocsin/ownership"
)

// OwnerPrefix names the ownership pseudo-component of a receiver:
// "notify:<receiver>". One replica at a time owns it and delivers the
// receiver's events, so they go out in order and once, and another takes
// over when it dies; component ids ([a-z0-9-]+) never hold a colon.
const OwnerPrefix = "notify:"

// backlogEvery is how often the backlog gauge is read (and the outbox
// trimmed).
const backlogEvery = 5 * time.Second

// Outbox is the store's side of delivery; redisstore.Store is one.
type Outbox interface {
	EnsureGroups(ctx context.Context, receivers []string) error
	DropGroups(ctx context.Context, keep []string) error
	ReadOutbox(ctx context.Context, receiver, consumer string, count int) ([]outbox.Entry, error)
	ClaimOutbox(ctx context.Context, receiver, consumer string) ([]outbox.Entry, error)
	AckOutbox(ctx context.Context, receiver string, ids ...string) error
	Remind(ctx context.Context, receiver string, fence ownership.Fence, every time.Duration) (int, error)
	OutboxBacklog(ctx context.Context) (map[string]int64, error)
	Queuer
}

// Options configure a Dispatcher.
type Options struct {
	Outbox Outbox
	// Member is this replica (its consumer name in the receivers' groups).
	Member   string
	Version  string
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Dispatcher delivers the events of the receivers this replica owns.
type Dispatcher struct {
	o Options
	m *metrics

	mu      sync.Mutex
	cfg     *config.Config
	senders map[string]Sender
	workers map[string]*worker // the owned receivers'
	grants  map[string]ownership.Fence
	// warned are the certificates (check@notAfter) whose warning is queued
	// or on its way; warnings carries them to Run.
	warned   map[string]bool
	warnings chan certWarning
}

// New returns a Dispatcher with no receivers; call Configure.
func New(o Options) (*Dispatcher, error) {
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{o: o, m: m, senders: map[string]Sender{}, workers: map[string]*worker{},
		grants: map[string]ownership.Fence{}, warned: map[string]bool{}, warnings: make(chan certWarning, 100)}, nil
}

// PageOf is what the receivers of cfg link to.
func PageOf(cfg *config.Config) Page {
	p := Page{Name: cfg.Page.Name, URL: strings.TrimSuffix(cfg.Page.URL, "/"), Groups: map[string]string{}}
	for _, c := range cfg.Components {
		if c.Group != "" {
			p.Groups[c.ID] = c.Group
		}
	}
	return p
}

// Configure applies a config: senders are built afresh, the receivers'
// consumer groups exist, a removed receiver's group and series go, and
// the workers of owned receivers restart with their new settings.
func (d *Dispatcher) Configure(ctx context.Context, cfg *config.Config) error {
	senders := map[string]Sender{}
	page := PageOf(cfg)
	names := make([]string, 0, len(cfg.Notify))
	for _, r := range cfg.Notify {
		s, err := NewSender(r, page, d.o.Version, d.o.Member)
		if err != nil {
			return err
		}
		senders[r.Name] = s
		names = append(names, r.Name)
	}
	if err := d.o.Outbox.EnsureGroups(ctx, names); err != nil {
		d.o.Logger.Warn("notify: cannot create the receivers' outbox groups yet; will retry", "error", err)
	}
	if err := d.o.Outbox.DropGroups(ctx, names); err != nil {
		d.o.Logger.Warn("notify: cannot drop removed receivers' outbox groups", "error", err)
	}
	d.mu.Lock()
	old := d.cfg
	d.cfg, d.senders = cfg, senders
	running := make([]string, 0, len(d.workers))
	for name := range d.workers {
		running = append(running, name)
	}
	for _, name := range running {
		d.workers[name].stop()
		delete(d.workers, name)
		d.startLocked(name)
	}
	d.mu.Unlock()
	if old != nil {
		for _, r := range old.Notify {
			if _, ok := senders[r.Name]; !ok {
				d.m.forget(r.Name)
			}
		}
	}
	for _, n := range names {
		d.m.touch(n)
	}
	return nil
}

// Own starts delivering receiver's events: this replica was granted its
// pseudo-component.
func (d *Dispatcher) Own(receiver string, f ownership.Fence) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grants[receiver] = f
	if w := d.workers[receiver]; w != nil {
		w.stop()
	}
	d.startLocked(receiver)
}

// Lose stops delivering receiver's events: another replica owns them now.
// Entries in flight stay pending in the receiver's group, for the new
// owner to claim.
func (d *Dispatcher) Lose(receiver string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.grants, receiver)
	if w := d.workers[receiver]; w != nil {
		w.stop()
		delete(d.workers, receiver)
	}
}

// Poke wakes the workers: events may have been queued.
func (d *Dispatcher) Poke() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.workers {
		w.poke()
	}
}

// Stop stops every worker (shutdown); what was in flight stays pending.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, w := range d.workers {
		w.stop()
		delete(d.workers, name)
	}
}

// startLocked starts the worker of an owned, configured receiver. The
// caller holds d.mu.
func (d *Dispatcher) startLocked(name string) {
	f, owned := d.grants[name]
	s, configured := d.senders[name]
	if !owned || !configured {
		return
	}
	var rc config.Receiver
	for _, r := range d.cfg.Notify {
		if r.Name == name {
			rc = r
		}
	}
	w := newWorker(d, rc, s, f)
	d.workers[name] = w
	go w.run()
}

// Run reads the backlog of every receiver into the gauge, which every
// replica computes alike from Redis (and trims the outbox), and queues the
// maintenance windows' starts and ends, until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(backlogEvery)
	defer t.Stop()
	failing := false
	for {
		d.mu.Lock()
		cfg := d.cfg
		d.mu.Unlock()
		if cfg != nil {
			if err := Maintenance(ctx, d.o.Outbox, cfg, time.Now()); err != nil && ctx.Err() == nil {
				d.o.Logger.Warn("notify: cannot queue maintenance events yet; will retry", "error", err)
			}
			d.queueWarnings(ctx, cfg)
		}
		backlog, err := d.o.Outbox.OutboxBacklog(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			d.o.Logger.Warn("notify: cannot read the outbox backlog", "error", err)
		case err == nil:
			failing = false
			d.mu.Lock()
			var names []string
			if d.cfg != nil {
				for _, r := range d.cfg.Notify {
					names = append(names, r.Name)
				}
			}
			d.mu.Unlock()
			for _, n := range names {
				d.m.backlog.WithLabelValues(n).Set(float64(backlog[n]))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// certWarning is a certificate a check warned about.
type certWarning struct {
	check    config.Check
	notAfter time.Time
}

// CertWarning asks for a private warning that check's certificate
// expires at notAfter, for the receivers that asked for warnings; it is
// queued once per certificate, from Run's goroutine: it never blocks the
// probe that found it.
func (d *Dispatcher) CertWarning(check config.Check, notAfter time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := check.Name + "@" + notAfter.String()
	if d.warned[key] {
		return
	}
	select {
	case d.warnings <- certWarning{check, notAfter}:
		d.warned[key] = true
	default: // full: asked again at the check's next probe
	}
}

// queueWarnings queues the certificate warnings asked for.
func (d *Dispatcher) queueWarnings(ctx context.Context, cfg *config.Config) {
	for {
		select {
		case w := <-d.warnings:
			if err := CertWarning(ctx, d.o.Outbox, cfg, w.check, w.notAfter, time.Now()); err != nil {
				d.mu.Lock()
				delete(d.warned, w.check.Name+"@"+w.notAfter.String())
				d.mu.Unlock()
				if ctx.Err() == nil {
					d.o.Logger.Warn("notify: cannot queue a certificate warning yet; will retry",
						"check", w.check.Name, "error", err)
				}
			}
		default:
			return
		}
	}
}

// Receivers are the names of cfg's receivers as ownership
// pseudo-components.
func Receivers(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Notify))
	for _, r := range cfg.Notify {
		out = append(out, OwnerPrefix+r.Name)
	}
	return out
}

// Test sends a test event to the named receiver of cfg and returns what
// happened.
func Test(ctx context.Context, cfg *config.Config, name, version string) error {
	i := slices.IndexFunc(cfg.Notify, func(r config.Receiver) bool { return r.Name == name })
	if i < 0 {
		return fmt.Errorf("notify: no receiver %q in the config", name)
	}
	s, err := NewSender(cfg.Notify[i], PageOf(cfg), version, "")
	if err != nil {
		return err
	}
	e := outbox.Entry{ID: fmt.Sprintf("test-%d", time.Now().UnixMilli()), Event: outbox.Event{
		Kind: outbox.Test, At: outbox.Millis(time.Now().UnixMilli()), Subject: "test",
		Body: "This is a test notification from tocsin: the receiver works.",
	}}
	return s.Send(ctx, e)
}
