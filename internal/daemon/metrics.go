package daemon

import (
	"context"
	"io"
	"iter"
	"strconv"
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
	opHealth   = "health"
	opQueue    = "queue"
	opRepair   = "repair_all"
	opScrub    = "scrub"
	opAudit    = "audit"
	opDrain    = "drain"
	opUndrain  = "undrain"
	opReload   = "reload"
	opLog      = "verify_log"
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
//
// and, read from the store's Health at scrape time (HealthCollector), the
// backends, the redundancy picture, repair, scrub and audits.
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

func (s *instrumented) Health(ctx context.Context, refresh bool) (zstor.Health, error) {
	o := s.m.begin(opHealth)
	h, err := s.Store.Health(ctx, refresh)
	o.end(err, 0)
	return h, err
}

func (s *instrumented) RepairQueue(ctx context.Context, limit int) ([]zstor.QueuedRepair, int, error) {
	o := s.m.begin(opQueue)
	q, n, err := s.Store.RepairQueue(ctx, limit)
	o.end(err, 0)
	return q, n, err
}

func (s *instrumented) RepairAll(ctx context.Context, progress func(string, zstor.RepairReport, error)) (zstor.RepairAllReport, error) {
	o := s.m.begin(opRepair)
	r, err := s.Store.RepairAll(ctx, progress)
	o.end(err, 0)
	return r, err
}

func (s *instrumented) Scrub(ctx context.Context, opts zstor.ScrubOptions) (zstor.ScrubReport, error) {
	o := s.m.begin(opScrub)
	r, err := s.Store.Scrub(ctx, opts)
	o.end(err, 0)
	return r, err
}

func (s *instrumented) Audit(ctx context.Context) (zstor.AuditResult, error) {
	o := s.m.begin(opAudit)
	r, err := s.Store.Audit(ctx)
	o.end(err, 0)
	return r, err
}

func (s *instrumented) Drain(ctx context.Context, id string) (int, error) {
	o := s.m.begin(opDrain)
	n, err := s.Store.Drain(ctx, id)
	o.end(err, 0)
	return n, err
}

func (s *instrumented) Undrain(ctx context.Context, id string) error {
	o := s.m.begin(opUndrain)
	err := s.Store.Undrain(ctx, id)
	o.end(err, 0)
	return err
}

func (s *instrumented) Reload(ctx context.Context) (zstor.ReloadReport, error) {
	o := s.m.begin(opReload)
	r, err := s.Store.Reload(ctx)
	o.end(err, 0)
	return r, err
}

func (s *instrumented) VerifyLog(ctx context.Context) (zstor.LogReport, error) {
	o := s.m.begin(opLog)
	r, err := s.Store.VerifyLog(ctx)
	o.end(err, 0)
	return r, err
}

// healthCollector turns the store's Health, read at scrape time through a
// HealthCache, into metrics.
type healthCollector struct {
	hc *HealthCache

	// Per backend, labels backend, group, address, namespace.
	reachable, entries, size, limit, latency, p95, errors, state, draining, errRate, calls, audits, auditFails, shards *prometheus.Desc
	// 0-stor_v2's per-backend gauges, with its names and labels (address,
	// namespace, backend_type), so that its dashboards keep working.
	zsStatus, zsEntries, zsSize, zsLimit *prometheus.Desc
	// 0-stor_v2's store-level gauges.
	zsObjects, zsDegraded *prometheus.Desc
	// Store-level.
	objects, bytes, byShards, degraded, unreadable, healing,
	queue, queued, repaired, repairFails, rebuilt, repairBytes,
	scrubRunning, scrubObjects, scrubStart, scrubLast,
	storeAudits, storeAuditFails *prometheus.Desc
}

// NewHealthCollector returns a collector of the store's health, read
// through hc at each scrape (so at most once per hc's TTL):
//
//	zstor_backend_{reachable,entries,data_size_bytes,data_limit_bytes,latency_seconds,errors_total}
//	zstor_backend_{latency_p95_seconds,draining,error_rate,calls_total,audits_total,audit_failures_total,shards}
//	zstor_backend_state{state}                      1 for the backend's state, 0 for the others
//	                                                (labels: backend, group, address, namespace)
//	connection_status, entries, data_size_bytes, data_limit_bytes
//	                                                0-stor_v2's, labels address, namespace, backend_type
//	fabric_objects, fabric_objects_degraded         0-stor_v2's
//	zstor_objects, zstor_object_bytes, zstor_objects_by_available_shards{shards},
//	zstor_objects_degraded, zstor_objects_unreadable, zstor_healing
//	zstor_repair_queue_length, zstor_repair_{queued,repaired,failures,rebuilt_shards,bytes}_total
//	zstor_scrub_running, zstor_scrub_pass_objects, zstor_scrub_pass_start_timestamp_seconds,
//	zstor_scrub_last_pass_timestamp_seconds
//	zstor_audits_total, zstor_audit_failures_total
//
// The _total counters count since the daemon started. 0-stor_v2's other
// per-backend series (index_size_bytes, index_io_errors, index_faults,
// data_io_errors, data_faults, *_disk_freespace_bytes) are not exported:
// zstor's BackendStatus does not carry those NSINFO fields.
func NewHealthCollector(hc *HealthCache) prometheus.Collector {
	l := []string{"backend", "group", "address", "namespace"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	zs := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"address", "namespace", "backend_type"}, nil)
	}
	g := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &healthCollector{
		hc:         hc,
		reachable:  d("zstor_backend_reachable", "1 when the backend answered its last call."),
		entries:    d("zstor_backend_entries", "Keys in the backend's namespace (NSINFO entries)."),
		size:       d("zstor_backend_data_size_bytes", "Data in the backend's namespace (NSINFO data_size_bytes)."),
		limit:      d("zstor_backend_data_limit_bytes", "The namespace's size limit, 0 for none."),
		latency:    d("zstor_backend_latency_seconds", "Moving average (EWMA) of the latency of recent successful calls."),
		p95:        d("zstor_backend_latency_p95_seconds", "95th percentile of the latency of recent successful calls."),
		errors:     d("zstor_backend_errors_total", "Failed calls to the backend."),
		state:      prometheus.NewDesc("zstor_backend_state", "1 for the backend's state (healthy, degraded, down, terminal), 0 for the others.", append(l, "state"), nil),
		draining:   d("zstor_backend_draining", "1 while the backend is drained: its shards move elsewhere, nothing new goes to it."),
		errRate:    d("zstor_backend_error_rate", "Share of recent calls that failed (moving average, 0 to 1)."),
		calls:      d("zstor_backend_calls_total", "Calls made to the backend."),
		audits:     d("zstor_backend_audits_total", "Proof-of-storage audits of the backend."),
		auditFails: d("zstor_backend_audit_failures_total", "Audits the backend answered with wrong data."),
		shards:     d("zstor_backend_shards", "Shards the metadata places on the backend."),

		zsStatus:   zs("connection_status", "Status of the connection to the 0-db (1 connected, 0 not); 0-stor_v2's metric."),
		zsEntries:  zs("entries", "entries in namespace; 0-stor_v2's metric."),
		zsSize:     zs("data_size_bytes", "data_size_bytes in namespace; 0-stor_v2's metric."),
		zsLimit:    zs("data_limit_bytes", "data_limit_bytes in namespace (0: no limit); 0-stor_v2's metric."),
		zsObjects:  g("fabric_objects", "Objects in the metadata store; 0-stor_v2's metric."),
		zsDegraded: g("fabric_objects_degraded", "Objects with shards missing or on backends that are down; 0-stor_v2's metric."),

		objects:         g("zstor_objects", "Objects stored."),
		bytes:           g("zstor_object_bytes", "Object bytes stored (content, before encoding)."),
		byShards:        prometheus.NewDesc("zstor_objects_by_available_shards", "Objects by the shards available for their worst block.", []string{"shards"}, nil),
		degraded:        g("zstor_objects_degraded", "Objects with fewer than k+m shards available."),
		unreadable:      g("zstor_objects_unreadable", "Objects with fewer than k shards available: unreadable now."),
		healing:         g("zstor_healing", "1 when the self-healing loops (probes, repair, scrub, audits) run."),
		queue:           g("zstor_repair_queue_length", "Objects waiting in the repair queue."),
		queued:          g("zstor_repair_queued_total", "Repair queue entries added."),
		repaired:        g("zstor_repair_repaired_total", "Objects repaired (or found whole) by the background repair."),
		repairFails:     g("zstor_repair_failures_total", "Repair attempts that failed (they are retried)."),
		rebuilt:         g("zstor_repair_rebuilt_shards_total", "Shards rebuilt by the background repair."),
		repairBytes:     g("zstor_repair_bytes_total", "Shard bytes read and written by the background repair."),
		scrubRunning:    g("zstor_scrub_running", "1 while a background scrub pass runs."),
		scrubObjects:    g("zstor_scrub_pass_objects", "Objects verified by the running (or last) scrub pass."),
		scrubStart:      g("zstor_scrub_pass_start_timestamp_seconds", "Start of the running or last scrub pass (unix time; 0: none)."),
		scrubLast:       g("zstor_scrub_last_pass_timestamp_seconds", "End of the last complete scrub pass (unix time; 0: none)."),
		storeAudits:     g("zstor_audits_total", "Proof-of-storage audits."),
		storeAuditFails: g("zstor_audit_failures_total", "Audits that found a shard missing, damaged or wrong."),
	}
}

func (c *healthCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.reachable, c.entries, c.size, c.limit, c.latency, c.p95, c.errors, c.state, c.draining, c.errRate, c.calls, c.audits, c.auditFails, c.shards,
		c.zsStatus, c.zsEntries, c.zsSize, c.zsLimit, c.zsObjects, c.zsDegraded,
		c.objects, c.bytes, c.byShards, c.degraded, c.unreadable, c.healing,
		c.queue, c.queued, c.repaired, c.repairFails, c.rebuilt, c.repairBytes,
		c.scrubRunning, c.scrubObjects, c.scrubStart, c.scrubLast, c.storeAudits, c.storeAuditFails,
	}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as a unix time, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	h, err := c.hc.Health(context.Background())
	if err != nil {
		// A partial picture (the metadata walk failed) would show wrong
		// counts; absent series are what alerts on a broken daemon see.
		return
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	for _, b := range h.Backends {
		addr, ns := b.ID, ""
		if i := strings.LastIndexByte(b.ID, '/'); i >= 0 {
			addr, ns = b.ID[:i], b.ID[i+1:]
		}
		lv := []string{b.ID, b.Group, addr, ns}
		gauge(c.reachable, b2f(b.Reachable), lv...)
		gauge(c.entries, float64(b.Entries), lv...)
		gauge(c.size, float64(b.DataSize), lv...)
		gauge(c.limit, float64(b.DataLimit), lv...)
		gauge(c.latency, b.Latency.Seconds(), lv...)
		gauge(c.p95, b.P95.Seconds(), lv...)
		counter(c.errors, float64(b.Errors), lv...)
		for st := zstor.StateHealthy; st <= zstor.StateTerminal; st++ {
			gauge(c.state, b2f(b.State == st), append(lv, st.String())...)
		}
		gauge(c.draining, b2f(b.Draining), lv...)
		gauge(c.errRate, b.ErrorRate, lv...)
		counter(c.calls, float64(b.Calls), lv...)
		counter(c.audits, float64(b.Audits), lv...)
		counter(c.auditFails, float64(b.AuditFailures), lv...)
		gauge(c.shards, float64(b.Shards), lv...)
		// Status only lists data backends: 0-stor's backend_type "data".
		zl := []string{addr, ns, "data"}
		gauge(c.zsStatus, b2f(b.Reachable), zl...)
		gauge(c.zsEntries, float64(b.Entries), zl...)
		gauge(c.zsSize, float64(b.DataSize), zl...)
		gauge(c.zsLimit, float64(b.DataLimit), zl...)
	}
	gauge(c.zsObjects, float64(h.Objects))
	gauge(c.zsDegraded, float64(h.Degraded))
	gauge(c.objects, float64(h.Objects))
	gauge(c.bytes, float64(h.Bytes))
	for n, count := range h.Redundancy {
		gauge(c.byShards, float64(count), strconv.Itoa(n))
	}
	gauge(c.degraded, float64(h.Degraded))
	gauge(c.unreadable, float64(h.Unreadable))
	gauge(c.healing, b2f(h.Healing))
	gauge(c.queue, float64(h.Repair.Queue))
	counter(c.queued, float64(h.Repair.Queued))
	counter(c.repaired, float64(h.Repair.Repaired))
	counter(c.repairFails, float64(h.Repair.Failed))
	counter(c.rebuilt, float64(h.Repair.RebuiltShards))
	counter(c.repairBytes, float64(h.Repair.Bytes))
	gauge(c.scrubRunning, b2f(h.Scrub.Running))
	gauge(c.scrubObjects, float64(h.Scrub.Objects))
	gauge(c.scrubStart, unixSeconds(h.Scrub.PassStart))
	gauge(c.scrubLast, unixSeconds(h.Scrub.LastPass))
	counter(c.storeAudits, float64(h.Audits))
	counter(c.storeAuditFails, float64(h.AuditFailures))
}
