package bench

import (
	"fmt"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record microseconds from 1 µs to one hour with 3 significant
// digits (0.1% resolution). Values above the top are clamped to it.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

// NewHist returns an empty latency histogram in microseconds.
func NewHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histDigits) }

func clampMicros(us int64) int64 { return min(max(us, histLowest), histHighest) }

// Percentiles summarises a distribution in milliseconds. It is the shape of
// latency_ms and connect_ms in results.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// PercentilesOf summarises a histogram of microseconds in milliseconds. An
// empty or nil histogram gives zeros with Count 0.
func PercentilesOf(h *hdr.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		P50:   usToMS(h.ValueAtPercentile(50)),
		P90:   usToMS(h.ValueAtPercentile(90)),
		P99:   usToMS(h.ValueAtPercentile(99)),
		P999:  usToMS(h.ValueAtPercentile(99.9)),
		Max:   usToMS(h.Max()),
		Mean:  round3(h.Mean() / 1000),
	}
}

func usToMS(us int64) float64 { return round3(float64(us) / 1000) }

// round3 keeps three decimals (microsecond resolution for milliseconds).
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// CDFPoint is one point of a latency distribution: P percent of values are
// at or below MS milliseconds.
type CDFPoint struct {
	P  float64 `json:"p"`
	MS float64 `json:"ms"`
}

// cdfPercentiles are the points kept for CDF charts: dense in the tail, the
// HdrHistogram way.
var cdfPercentiles = []float64{
	0, 10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99,
	99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100,
}

// CDF samples a histogram of microseconds at fixed percentiles.
func CDF(h *hdr.Histogram) []CDFPoint {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	out := make([]CDFPoint, 0, len(cdfPercentiles))
	for _, p := range cdfPercentiles {
		v := h.ValueAtPercentile(p)
		if p == 0 {
			v = h.Min()
		}
		out = append(out, CDFPoint{P: p, MS: usToMS(v)})
	}
	return out
}

// EncodeHist serialises a histogram in the standard compressed V2 form
// (base64), the form workers send to the parent and results keep.
func EncodeHist(h *hdr.Histogram) (string, error) {
	b, err := h.EncodeV2()
	if err != nil {
		return "", fmt.Errorf("bench: encoding histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHist reverses EncodeHist. The empty string decodes to an empty
// histogram.
func DecodeHist(s string) (*hdr.Histogram, error) {
	if s == "" {
		return NewHist(), nil
	}
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("bench: decoding histogram: %w", err)
	}
	return h, nil
}

// MergeHists merges encoded histograms into one.
func MergeHists(encoded ...string) (*hdr.Histogram, error) {
	out := NewHist()
	for _, s := range encoded {
		h, err := DecodeHist(s)
		if err != nil {
			return nil, err
		}
		out.Merge(h)
	}
	return out, nil
}
