package daemon

import (
	"context"
	"io"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zerostor/zerostor/zstor"
)

// Operation names in metrics. store, retrieve, check and rebuild are
// 0-stor_v2's command names.
const (
	opStore    = "store"
	opRetrieve = "retrieve"
	opStat     = "stat"
	opDelete   = "delete"
	opList     = "list"
	opCheck    = "check"
	opRebuild  = "rebuild"
	opStatus   = "status"
	opRecover  = "recover"
	opSweep    = "sweep"
)

// OutcomeOK is the outcome label of a successful operation; a failed one
// has its error kind (not_found, unavailable, ...).
const OutcomeOK = "ok"

// Metrics are the daemon's Prometheus metrics:
//
//	zstor_operations_total{operation,outcome}          operations finished
//	zstor_operation_bytes_total{operation,outcome}     object bytes stored and retrieved
//	zstor_operation_duration_seconds{operation}        histogram
//	zstor_operations_in_flight{operation}              gauge
//	zstore_{store,retrieve,rebuild,check}_commands_finished{success}
//	                                                   0-stor_v2's counters, same names
//	zstor_backend_*{backend,group}                     per backend, read at scrape time
type Metrics struct {
	ops      *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	dur      *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	finished map[string]*prometheus.CounterVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zstor_operations_total", Help: "Operations finished, by operation and outcome (ok or the error kind).",
		}, []string{"operation", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zstor_operation_bytes_total", Help: "Object bytes stored (store) and read (retrieve), by outcome of the operation.",
		}, []string{"operation", "outcome"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "zstor_operation_duration_seconds", Help: "Duration of operations.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"operation"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zstor_operations_in_flight", Help: "Operations running now.",
		}, []string{"operation"}),
		finished: map[string]*prometheus.CounterVec{},
	}
	reg.MustRegister(m.ops, m.bytes, m.dur, m.inflight)
	for _, op := range []string{opStore, opRetrieve, opRebuild, opCheck} {
		// 0-stor_v2 spells them "zstore_" (sic); kept for its dashboards.
		v := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zstore_" + op + "_commands_finished", Help: "zstor " + op + " commands that finished (0-stor_v2 compatible).",
		}, []string{"success"})
		reg.MustRegister(v)
		m.finished[op] = v
	}
	return m
}

// op tracks one operation from start to end.
type op struct {
	m     *Metrics
	name  string
	start time.Time
	once  sync.Once
}

func (m *Metrics) begin(name string) *op {
	m.inflight.WithLabelValues(name).Inc()
	return &op{m: m, name: name, start: time.Now()}
}

// end records the outcome; only the first call counts.
func (o *op) end(err error, bytes int64) {
	o.once.Do(func() {
		out := OutcomeOK
		if err != nil {
			out = Kind(err)
		}
		o.m.inflight.WithLabelValues(o.name).Dec()
		o.m.ops.WithLabelValues(o.name, out).Inc()
		o.m.dur.WithLabelValues(o.name).Observe(time.Since(o.start).Seconds())
		if bytes > 0 {
			o.m.bytes.WithLabelValues(o.name, out).Add(float64(bytes))
		}
		if f := o.m.finished[o.name]; f != nil {
			f.WithLabelValues(map[bool]string{true: "true", false: "false"}[err == nil]).Inc()
		}
	})
}

// Instrument wraps st so that every operation is counted.
func (m *Metrics) Instrument(st Store) Store { return &instrumented{st, m} }

type instrumented struct {
	Store
	m *Metrics
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *instrumented) Put(ctx context.Context, key string, r io.Reader, opts zstor.PutOptions) (zstor.ObjectInfo, error) {
	o := s.m.begin(opStore)
	cr := &countingReader{r: r}
	info, err := s.Store.Put(ctx, key, cr, opts)
	o.end(err, cr.n)
	return info, err
}

func (s *instrumented) Get(ctx context.Context, key string, opts zstor.GetOptions) (ObjectReader, error) {
	o := s.m.begin(opRetrieve)
	r, err := s.Store.Get(ctx, key, opts)
	if err != nil {
		o.end(err, 0)
		return nil, err
	}
	return &instrumentedReader{ObjectReader: r, op: o}, nil
}

// instrumentedReader ends its operation at the end of the data, at an
// error, or when closed early (outcome canceled).
type instrumentedReader struct {
	ObjectReader
	op *op
	n  int64
}

func (r *instrumentedReader) Read(p []byte) (int, error) {
	n, err := r.ObjectReader.Read(p)
	r.n += int64(n)
	switch {
	case err == io.EOF:
		r.op.end(nil, r.n)
	case err != nil:
		r.op.end(err, r.n)
	}
	return n, err
}

func (r *instrumentedReader) Close() error {
	r.op.end(context.Canceled, r.n)
	return r.ObjectReader.Close()
}

func (s *instrumented) Stat(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	o := s.m.begin(opStat)
	i, err := s.Store.Stat(ctx, key)
	o.end(err, 0)
	return i, err
}

func (s *instrumented) Delete(ctx context.Context, key string) error {
	o := s.m.begin(opDelete)
	err := s.Store.Delete(ctx, key)
	o.end(err, 0)
	return err
}

func (s *instrumented) List(ctx context.Context, prefix, after string) iter.Seq2[zstor.ObjectInfo, error] {
	return func(yield func(zstor.ObjectInfo, error) bool) {
		o := s.m.begin(opList)
		var err error
		for i, e := range s.Store.List(ctx, prefix, after) {
			if e != nil {
				err = e
			}
			if !yield(i, e) {
				break
			}
		}
		o.end(err, 0)
	}
}

func (s *instrumented) Check(ctx context.Context, key string) (zstor.CheckReport, error) {
	o := s.m.begin(opCheck)
	r, err := s.Store.Check(ctx, key)
	o.end(err, 0)
	return r, err
}

func (s *instrumented) Rebuild(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	o := s.m.begin(opRebuild)
	i, err := s.Store.Rebuild(ctx, key)
	o.end(err, i.Size)
	return i, err
}

func (s *instrumented) Status(ctx context.Context) ([]zstor.BackendStatus, error) {
	o := s.m.begin(opStatus)
	st, err := s.Store.Status(ctx)
	o.end(err, 0)
	return st, err
}

func (s *instrumented) Recover(ctx context.Context) (int, error) {
	o := s.m.begin(opRecover)
	n, err := s.Store.Recover(ctx)
	o.end(err, 0)
	return n, err
}

func (s *instrumented) Sweep(ctx context.Context, grace time.Duration) (zstor.SweepReport, error) {
	o := s.m.begin(opSweep)
	r, err := s.Store.Sweep(ctx, grace)
	o.end(err, 0)
	return r, err
}

// backendCollector reads every backend's status at scrape time.
type backendCollector struct {
	st      Store
	timeout time.Duration

	reachable, entries, size, limit, latency, errors *prometheus.Desc
}

// NewBackendCollector returns a collector of per-backend gauges, read
// from st.Status at each scrape.
func NewBackendCollector(st Store) prometheus.Collector {
	l := []string{"backend", "group", "address", "namespace"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &backendCollector{
		st: st, timeout: 10 * time.Second,
		reachable: d("zstor_backend_reachable", "1 when the backend answered its last call."),
		entries:   d("zstor_backend_entries", "Keys in the backend's namespace (NSINFO entries)."),
		size:      d("zstor_backend_data_size_bytes", "Data in the backend's namespace (NSINFO data_size_bytes)."),
		limit:     d("zstor_backend_data_limit_bytes", "The namespace's size limit, 0 for none."),
		latency:   d("zstor_backend_latency_seconds", "Moving average of recent call latency."),
		errors:    d("zstor_backend_errors_total", "Failed calls to the backend."),
	}
}

func (c *backendCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reachable, c.entries, c.size, c.limit, c.latency, c.errors} {
		ch <- d
	}
}

func (c *backendCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.st.Status(ctx)
	if err != nil {
		return
	}
	for _, b := range st {
		addr, ns := b.ID, ""
		if i := strings.LastIndexByte(b.ID, '/'); i >= 0 {
			addr, ns = b.ID[:i], b.ID[i+1:]
		}
		lv := []string{b.ID, b.Group, addr, ns}
		reach := 0.0
		if b.Reachable {
			reach = 1
		}
		ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, reach, lv...)
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(b.Entries), lv...)
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(b.DataSize), lv...)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(b.DataLimit), lv...)
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, b.Latency.Seconds(), lv...)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(b.Errors), lv...)
	}
}
