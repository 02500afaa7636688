package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/twinstream/twinstream/bench"
)

// Transport colours: the same in every chart.
var colors = map[string]color.Color{
	bench.WS:    color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	bench.SSE:   color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	bench.Floor: color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
}

func colorOf(transport string) color.Color {
	if c, ok := colors[transport]; ok {
		return c
	}
	return color.Black
}

// series is one named line of a chart.
type series struct {
	name      string
	transport string
	xys       plotter.XYs
	dashed    bool
	step      bool
}

type chart struct {
	title, xLabel, yLabel string
	lines                 []series
	xTicks                plot.Ticker
	logY                  bool
	legendTopRight        bool    // default: bottom right
	xMax                  float64 // room on the right (0: fit the data)
	yFromZero             bool
}

// save renders the chart as SVG (fonts not embedded: the viewer's sans
// serif is used, which keeps files small).
func (c chart) save(path string) error {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text = c.xLabel
	p.Y.Label.Text = c.yLabel
	p.Legend.Top = c.legendTopRight
	p.Legend.Padding = vg.Points(4)
	p.Title.Padding = vg.Points(6)
	p.Add(plotter.NewGrid())
	if c.xTicks != nil {
		p.X.Tick.Marker = c.xTicks
	}
	if c.xMax > 0 {
		p.X.Max = c.xMax
	}
	if c.yFromZero {
		p.Y.Min = 0
	}
	if c.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = ticks125{}
	}
	drawn := 0
	for _, s := range c.lines {
		xys := s.xys
		if c.logY {
			xys = positive(xys)
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("report: %s: %w", c.title, err)
		}
		l.Color = colorOf(s.transport)
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		if s.step {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
		drawn++
		if len(xys) == 1 { // a single point shows as a dot
			sc, err := plotter.NewScatter(xys)
			if err == nil {
				sc.Color = colorOf(s.transport)
				sc.Shape = draw.CircleGlyph{}
				p.Add(sc)
			}
		}
	}
	if drawn == 0 {
		return errNoData
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	canvas := vgsvg.NewWith(vgsvg.UseWH(18*vg.Centimeter, 10*vg.Centimeter), vgsvg.EmbedFonts(false))
	p.Draw(draw.New(canvas))
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ticks125 labels a log axis at 1, 2 and 5 times each power of ten.
type ticks125 struct{}

// Ticks implements plot.Ticker.
func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	if lo <= 0 {
		lo = 1e-3
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for _, m := range []float64{1, 2, 5} {
			v := m * base
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		for m := 3.0; m < 10; m++ { // unlabelled minor ticks
			if v := m * base; v >= lo && v <= hi && m != 5 {
				out = append(out, plot.Tick{Value: v})
			}
		}
	}
	return out
}

var errNoData = fmt.Errorf("report: no data for chart")

func positive(xys plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, 0, len(xys))
	for _, p := range xys {
		if p.Y > 0 {
			out = append(out, p)
		}
	}
	return out
}

// percentileX maps a percentile to the CDF chart's x axis: -log10(1-p), so
// 90% is 1, 99% is 2, 99.9% is 3 — the tail gets the room.
func percentileX(p float64) float64 {
	p = math.Min(p, 99.9999)
	return -math.Log10(1 - p/100)
}

var percentileTicks = plot.ConstantTicks{
	{Value: 0, Label: "0%"}, {Value: 1, Label: "90%"}, {Value: 2, Label: "99%"},
	{Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}, {Value: 5, Label: "99.999%"}, {Value: 6, Label: "max"},
}

func latencyCDF(r *bench.Result) chart {
	c := chart{title: r.Scenario + ": delivery latency distribution", xLabel: "percentile",
		yLabel: "latency (ms)", xTicks: percentileTicks, logY: true, xMax: 6.3}
	for _, col := range columnsOf(r) {
		var xys plotter.XYs
		for _, p := range col.tr.LatencyCDF {
			xys = append(xys, plotter.XY{X: percentileX(p.P), Y: p.MS})
		}
		t := col.name
		if col.tr == r.Floor {
			t = bench.Floor
		}
		c.lines = append(c.lines, series{name: col.name, transport: t, xys: xys, dashed: t == bench.Floor})
	}
	return c
}

// saturation draws the sweep: each step's deliveries/s against its p99
// latency from schedule, per transport and the floor, with the limit.
func saturation(r *bench.Result) chart {
	c := chart{title: "sweep: p99 latency from schedule vs deliveries/s", xLabel: "deliveries/s achieved",
		yLabel: "p99 from schedule (ms)", logY: true, legendTopRight: false}
	points := map[string]plotter.XYs{}
	var maxX float64
	for _, s := range r.Sweep {
		for _, col := range stepColumns(r, s) {
			if col.tr.LatencyFromScheduleMS.Count == 0 {
				continue
			}
			points[col.name] = append(points[col.name], plotter.XY{X: col.tr.DeliveriesPerS, Y: col.tr.LatencyFromScheduleMS.P99})
			maxX = max(maxX, col.tr.DeliveriesPerS)
		}
	}
	names := transportsOf(r)
	for _, t := range sortedKeys(points) {
		if !slices.Contains(names, t) {
			names = append(names, t)
		}
	}
	for _, t := range names {
		if xys := points[t]; len(xys) > 0 {
			c.lines = append(c.lines, series{name: t, transport: t, xys: xys, dashed: t == bench.Floor})
		}
	}
	if limit := float64(r.Config.SweepP99.D().Milliseconds()); limit > 0 && maxX > 0 {
		c.lines = append(c.lines, series{name: "limit", transport: "limit", xys: plotter.XYs{{X: 0, Y: limit}, {X: maxX, Y: limit}}, dashed: true})
	}
	return c
}

// latencyVsSubscribers gathers every fanout measurement given (sweeps and
// single runs).
func latencyVsSubscribers(results []*bench.Result) chart {
	c := chart{title: "fanout: latency vs subscribers", xLabel: "subscribers per transport", yLabel: "latency (ms)", logY: true}
	points := map[string]map[int]bench.Percentiles{}
	add := func(n int, ts map[string]*bench.TransportResult) {
		for t, tr := range ts {
			if tr.LatencyMS.Count == 0 {
				continue
			}
			if points[t] == nil {
				points[t] = map[int]bench.Percentiles{}
			}
			points[t][n] = tr.LatencyMS
		}
	}
	withFloor := func(ts map[string]*bench.TransportResult, floor *bench.TransportResult) map[string]*bench.TransportResult {
		if floor == nil {
			return ts
		}
		out := map[string]*bench.TransportResult{bench.Floor: floor}
		for k, v := range ts {
			out[k] = v
		}
		return out
	}
	for _, r := range results {
		if r.Scenario != bench.ScenarioFanout {
			continue
		}
		for _, s := range r.Sweep {
			add(s.Subscribers, withFloor(s.Transports, s.Floor))
		}
		if len(r.Sweep) == 0 && len(r.Config.Subscribers) > 0 {
			add(slices.Max(r.Config.Subscribers), withFloor(r.Transports, r.Floor))
		}
	}
	for _, t := range sortedKeys(points) {
		ns := sortedKeys(points[t])
		var p50, p99 plotter.XYs
		for _, n := range ns {
			p50 = append(p50, plotter.XY{X: float64(n), Y: points[t][n].P50})
			p99 = append(p99, plotter.XY{X: float64(n), Y: points[t][n].P99})
		}
		c.lines = append(c.lines, series{name: t + " p50", transport: t, xys: p50, dashed: true},
			series{name: t + " p99", transport: t, xys: p99})
	}
	return c
}

func overTime(r *bench.Result, title, yLabel string, y func(bench.Sample) (float64, bool)) chart {
	c := chart{title: r.Scenario + ": " + title, xLabel: "time since the clients started (s)", yLabel: yLabel, yFromZero: true}
	for _, t := range transportsOf(r) {
		var xys plotter.XYs
		for _, s := range r.Transports[t].Series {
			if v, ok := y(s); ok {
				xys = append(xys, plotter.XY{X: s.TS, Y: v})
			}
		}
		c.lines = append(c.lines, series{name: t, transport: t, xys: xys})
	}
	return c
}

func reconnectTimeline(r *bench.Result) (chart, chart) {
	rate := chart{title: "reconnect: reconnections per 100 ms after the drop", xLabel: "time since the drop (s)",
		yLabel: "reconnections / 100 ms", legendTopRight: true}
	back := chart{title: "reconnect: clients back", xLabel: "time since the drop (s)", yLabel: "back (%)"}
	for _, t := range transportsOf(r) {
		rc := r.Transports[t].Reconnect
		if rc == nil {
			continue
		}
		var a, b plotter.XYs
		for _, bk := range rc.Timeline {
			a = append(a, plotter.XY{X: float64(bk.TMS) / 1000, Y: float64(bk.Reconnects)})
			b = append(b, plotter.XY{X: float64(bk.TMS+100) / 1000, Y: bk.BackPct})
		}
		if n := len(rc.Timeline); n > 0 { // close the last 100 ms bar
			a = append(a, plotter.XY{X: float64(rc.Timeline[n-1].TMS+100) / 1000, Y: 0})
		}
		rate.lines = append(rate.lines, series{name: t, transport: t, xys: a, step: true})
		back.lines = append(back.lines, series{name: t, transport: t, xys: b})
	}
	return rate, back
}
