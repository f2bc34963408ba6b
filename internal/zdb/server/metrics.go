package server

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the daemon's Prometheus metrics, in a registry of its own
// (no global state: several servers can live in one process, as in tests).
type metrics struct {
	reg *prometheus.Registry

	ops      map[string]prometheus.Counter
	errs     map[string]prometheus.Counter
	duration map[string]prometheus.Observer

	corrupt        *prometheus.CounterVec
	rejected       prometheus.Counter
	protocolErrors prometheus.Counter
	timeouts       prometheus.Counter
	panics         prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg:      prometheus.NewRegistry(),
		ops:      map[string]prometheus.Counter{},
		errs:     map[string]prometheus.Counter{},
		duration: map[string]prometheus.Observer{},
	}
	opsVec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zdb_commands_total", Help: "Commands executed, per command."}, []string{"command"})
	errVec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zdb_command_errors_total", Help: "Commands answered with an error, per command."}, []string{"command"})
	durVec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "zdb_command_duration_seconds",
		Help:    "Time to execute a command (writes: until the batch holding it was written).",
		Buckets: prometheus.ExponentialBuckets(5e-6, 4, 10),
	}, []string{"command"})
	names := []string{"UNKNOWN"}
	for name := range commandTable {
		names = append(names, name)
	}
	for _, n := range names {
		m.ops[n] = opsVec.WithLabelValues(n)
		m.errs[n] = errVec.WithLabelValues(n)
		m.duration[n] = durVec.WithLabelValues(n)
	}
	m.corrupt = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zdb_corrupt_records_total", Help: "Records that failed their checksum (reads, scrub, recovery)."}, []string{"namespace"})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "zdb_rejected_connections_total", Help: "Connections refused by the client limit."})
	m.protocolErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "zdb_protocol_errors_total", Help: "Connections closed for malformed RESP."})
	m.timeouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "zdb_timeouts_total", Help: "Connections closed for idleness or slowness."})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{Name: "zdb_panics_total", Help: "Connections dropped by an internal error."})
	m.reg.MustRegister(opsVec, errVec, durVec, m.corrupt, m.rejected, m.protocolErrors, m.timeouts, m.panics,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zdb_connections", Help: "Open client connections."},
			func() float64 { return float64(s.clients.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zdb_network_rx_bytes_total", Help: "Bytes received from clients."},
			func() float64 { return float64(s.netRx.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zdb_network_tx_bytes_total", Help: "Bytes sent to clients."},
			func() float64 { return float64(s.netTx.Load()) }),
		&nsCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observe counts one command and its latency.
func (m *metrics) observe(name string, start time.Time) {
	m.ops[name].Inc()
	m.duration[name].Observe(time.Since(start).Seconds())
}

func (m *metrics) errors(name string) { m.errs[name].Inc() }

func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	// Profiles for operators (the metrics address is loopback unless set
	// otherwise): go tool pprof http://ADDR/debug/pprof/profile
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// nsCollector reads every namespace's figures at scrape time.
type nsCollector struct{ s *Server }

func nsDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("zdb_namespace_"+name, help, []string{"namespace"}, nil)
}

var (
	descEntries    = nsDesc("entries", "Live keys.")
	descDataBytes  = nsDesc("data_size_bytes", "Live value bytes (what maxsize limits).")
	descLimit      = nsDesc("data_limit_bytes", "maxsize (0 = unlimited).")
	descDiskBytes  = nsDesc("disk_bytes", "Bytes of data files.")
	descIndexBytes = nsDesc("index_size_bytes", "Memory of the in-memory index.")
	descFiles      = nsDesc("data_files", "Data files.")
	descCompacting = nsDesc("compaction_running", "1 while a compaction runs.")
	descCompFiles  = nsDesc("compaction_files_total", "Data files compacted away.")
	descCompBytes  = nsDesc("compaction_reclaimed_bytes_total", "Bytes reclaimed by compaction.")
	descScrubPass  = nsDesc("scrub_passes_total", "Finished scrub passes.")
	descScrubBytes = nsDesc("scrub_checked_bytes_total", "Bytes verified by scrub.")
	descScrubProg  = nsDesc("scrub_progress_bytes", "Bytes into the current scrub pass.")
	descScrubErrs  = nsDesc("scrub_errors_total", "Damaged records found by scrub.")
	descReadErrs   = nsDesc("read_errors_total", "Failed or corrupt reads.")
)

func (c *nsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEntries, descDataBytes, descLimit, descDiskBytes, descIndexBytes, descFiles,
		descCompacting, descCompFiles, descCompBytes, descScrubPass, descScrubBytes, descScrubProg, descScrubErrs, descReadErrs} {
		ch <- d
	}
}

func (c *nsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ns := range c.s.ns.list() {
		ns.mu.RLock()
		st := ns.st.Stats()
		size := ns.st.DataSize()
		limit := ns.set.MaxSize
		ns.mu.RUnlock()
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, ns.name)
		}
		cnt := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, ns.name)
		}
		g(descEntries, float64(st.Entries))
		g(descDataBytes, float64(size))
		g(descLimit, float64(limit))
		g(descDiskBytes, float64(st.DataBytes))
		g(descIndexBytes, float64(st.IndexMemBytes))
		g(descFiles, float64(st.DataFiles))
		running := 0.0
		if st.Compacting {
			running = 1
		}
		g(descCompacting, running)
		cnt(descCompFiles, float64(st.CompactFiles))
		cnt(descCompBytes, float64(st.CompactReclaimed))
		cnt(descScrubPass, float64(st.ScrubPasses))
		cnt(descScrubBytes, float64(st.ScrubBytes))
		g(descScrubProg, float64(st.ScrubProgress))
		cnt(descScrubErrs, float64(st.ScrubErrors))
		cnt(descReadErrs, float64(st.ReadErrors))
	}
}
