// Package promutil holds the few helpers cometplay's Prometheus collectors
// share: each layer (engine, comet, games) reads its own atomics at scrape
// time and turns them into constant metrics with these.
package promutil

import "github.com/prometheus/client_golang/prometheus"

// Desc is shorthand for a metric description without constant labels.
func Desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Counter returns a constant counter metric.
func Counter(d *prometheus.Desc, v int64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// Gauge returns a constant gauge metric.
func Gauge(d *prometheus.Desc, v int64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}
