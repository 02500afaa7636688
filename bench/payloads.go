package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Payload kinds (Config.Payload, --payload). Compression depends on what
// is compressed, so the compression measurements use realistic data, not
// Payload's padding (which compresses to nothing).
const (
	PayloadPadding  = "padding"  // Payload: {"e","s","p":"xxx…"} of --size bytes (the default)
	PayloadProgress = "progress" // a task progress event's data, as the demo's task runner publishes it
	PayloadDoc2K    = "doc2k"    // a 2 KB JSON document (an order with line items), different every event
)

// Payloads lists the kinds.
var Payloads = []string{PayloadPadding, PayloadProgress, PayloadDoc2K}

var errHTTPVersion = errors.New("--sse-http: want 1, 2 or 1,2")

// payloadFunc returns the generator of a kind ("" is padding). Every
// payload starts with the epoch and the scheduled time, as PayloadMeta
// reads them.
func payloadFunc(kind string) func(epoch int, scheduled time.Time, size int) []byte {
	switch kind {
	case PayloadProgress:
		return progressPayload
	case PayloadDoc2K:
		return doc2kPayload
	}
	return Payload
}

func payloadHead(epoch int, scheduled time.Time) []byte {
	return fmt.Appendf(nil, `{"e":%d,"s":%d,`, epoch, scheduled.UnixMicro())
}

// progressPayload is a task's state as its progress event carries it
// (the demo's tasks.Task JSON), at a step derived from the scheduled time.
func progressPayload(epoch int, scheduled time.Time, _ int) []byte {
	us := scheduled.UnixMicro()
	r := rand.New(rand.NewPCG(uint64(us), 0x7461736b))
	files := 20 + r.IntN(80)
	done := r.IntN(files)
	created := scheduled.Add(-time.Duration(done*200) * time.Millisecond).UTC()
	b := payloadHead(epoch, scheduled)
	b = fmt.Appendf(b, `"id":"%016x","status":"running","progress":%d,"message":"processing %d/%d","done":%d,"files":%d,"step_ms":200,"fail_at":0,"created_at":%q,"updated_at":%q}`,
		r.Uint64(), done*100/files, done+1, files, done, files, created.Format(time.RFC3339Nano), scheduled.UTC().Format(time.RFC3339Nano))
	return b
}

// Vocabulary of doc2kPayload: repeated words, as real documents repeat
// them, and varying numbers and ids, as real documents vary them.
var (
	docProducts = []string{"USB-C cable 2 m", "wireless mouse", "mechanical keyboard", "27-inch monitor", "laptop stand",
		"noise-cancelling headphones", "webcam 1080p", "desk lamp", "ergonomic chair", "HDMI adapter", "portable SSD 1 TB", "docking station"}
	docCities = []string{"Lisbon", "Porto", "Madrid", "Berlin", "Paris", "Amsterdam", "Dublin", "Vienna", "Prague", "Warsaw"}
	docNames  = []string{"Ana Silva", "João Costa", "Marta Ruiz", "Lukas Weber", "Chloé Martin", "Sven de Vries", "Aoife Byrne", "Jan Novák"}
	docStatus = []string{"paid", "packed", "shipped", "out_for_delivery", "delivered"}
)

// doc2kPayload is an order document of about 2 KB: customer, address,
// line items, totals and history, different every event.
func doc2kPayload(epoch int, scheduled time.Time, _ int) []byte {
	us := scheduled.UnixMicro()
	r := rand.New(rand.NewPCG(uint64(us), 0x646f63))
	b := payloadHead(epoch, scheduled)
	name := docNames[r.IntN(len(docNames))]
	city := docCities[r.IntN(len(docCities))]
	b = fmt.Appendf(b, `"order":{"id":"ord_%012x","status":%q,"currency":"EUR","customer":{"id":"cus_%08x","name":%q,"email":%q,"tier":%q},`,
		r.Uint64()>>16, docStatus[r.IntN(len(docStatus))], r.Uint32(), name,
		strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@example.com", []string{"standard", "plus", "business"}[r.IntN(3)])
	b = fmt.Appendf(b, `"shipping":{"street":"Rua %s %d","city":%q,"postcode":"%04d-%03d","country":"PT","carrier":"CTT","tracking":"RR%09dPT"},"items":[`,
		docNames[r.IntN(len(docNames))], 1+r.IntN(300), city, 1000+r.IntN(8999), r.IntN(999), r.IntN(999999999))
	total := 0
	for i := range 10 {
		qty, cents := 1+r.IntN(4), 499+r.IntN(40000)
		total += qty * cents
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"sku":"SKU-%06d","name":%q,"qty":%d,"unit_price":%d.%02d,"warehouse":"WH-%d","backordered":%t}`,
			r.IntN(999999), docProducts[r.IntN(len(docProducts))], qty, cents/100, cents%100, 1+r.IntN(4), r.IntN(10) == 0)
	}
	b = fmt.Appendf(b, `],"totals":{"items":%d.%02d,"shipping":4.99,"tax":%d.%02d,"grand_total":%d.%02d},"history":[`,
		total/100, total%100, total*23/10000, total*23/100%100, (total*123/100+499)/100, (total*123/100+499)%100)
	at := scheduled.Add(-48 * time.Hour)
	for i, st := range docStatus[:2+r.IntN(3)] {
		if i > 0 {
			b = append(b, ',')
		}
		at = at.Add(time.Duration(1+r.IntN(600)) * time.Minute)
		b = fmt.Appendf(b, `{"status":%q,"at":%q,"by":"system"}`, st, at.UTC().Format(time.RFC3339))
	}
	b = append(b, `],"notes":"Leave the parcel with the neighbour at number `...)
	b = strconv.AppendInt(b, int64(1+r.IntN(99)), 10)
	b = append(b, ` if nobody answers."}}`...)
	return b
}
