package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env records where a run happened: enough to judge whether two results
// can be compared.
type Env struct {
	GitCommit  string `json:"git_commit"`
	GitDirty   bool   `json:"git_dirty"`
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"`
	Kernel     string `json:"kernel"`
	Hostname   string `json:"hostname"`
	// LoadgenAffinity and ServerAffinity are the CPU lists the processes may
	// run on (/proc/<pid>/status Cpus_allowed_list).
	LoadgenAffinity string `json:"loadgen_affinity"`
	ServerAffinity  string `json:"server_affinity,omitempty"`
	// SharedCores says whether server and load generator could run on the
	// same cores; nil when unknown (a remote target).
	SharedCores *bool `json:"shared_cores"`
	// LoadgenGC is the load generator's GOGC and GOMEMLIMIT (its workers
	// and the floor writer inherit them); ServerGC the spawned server's,
	// from its /proc/<pid>/environ (nil for a --target: unknown).
	LoadgenGC     GCSettings  `json:"loadgen_gc"`
	ServerGC      *GCSettings `json:"server_gc,omitempty"`
	OpenFilesMax  uint64      `json:"open_files_max"` // RLIMIT_NOFILE of this process
	PortRange     string      `json:"ephemeral_port_range,omitempty"`
	LoadAvg       string      `json:"loadavg_at_start"` // /proc/loadavg when the run started
	Command       []string    `json:"command"`
	LoadgenBinary string      `json:"loadgen_binary,omitempty"`
}

// GCSettings are the Go garbage collector's environment variables of a
// process, as it got them: "" means unset (GOGC 100, no memory limit).
type GCSettings struct {
	GOGC       string `json:"gogc"`
	GOMEMLIMIT string `json:"gomemlimit"`
}

// String is "GOGC=100 (unset), GOMEMLIMIT=off (unset)" or the values set.
func (g GCSettings) String() string {
	show := func(name, v, def string) string {
		if v == "" {
			return name + "=" + def + " (unset)"
		}
		return name + "=" + v
	}
	return show("GOGC", g.GOGC, "100") + ", " + show("GOMEMLIMIT", g.GOMEMLIMIT, "off")
}

// gcSettingsOf reads a local process's GC settings from its environment.
func gcSettingsOf(pid int) (GCSettings, bool) {
	v, ok := envOf(pid, "GOGC", "GOMEMLIMIT")
	if !ok {
		return GCSettings{}, false
	}
	return GCSettings{GOGC: v[0], GOMEMLIMIT: v[1]}, true
}

// CaptureEnv reads the environment. dir is the repository checkout (for the
// git commit when the binary carries none); "" uses the working directory.
func CaptureEnv(ctx context.Context, dir string) Env {
	e := Env{
		GoVersion:       runtime.Version(),
		GOMAXPROCS:      runtime.GOMAXPROCS(0),
		Cores:           runtime.NumCPU(),
		CPUModel:        cpuModel(),
		Kernel:          readTrim("/proc/sys/kernel/osrelease"),
		LoadgenAffinity: Affinity(os.Getpid()),
		PortRange:       strings.Join(strings.Fields(readTrim("/proc/sys/net/ipv4/ip_local_port_range")), "-"),
		Command:         os.Args,
		LoadAvg:         readTrim("/proc/loadavg"),
		LoadgenGC:       GCSettings{GOGC: os.Getenv("GOGC"), GOMEMLIMIT: os.Getenv("GOMEMLIMIT")},
	}
	e.Hostname, _ = os.Hostname()
	if exe, err := os.Executable(); err == nil {
		e.LoadgenBinary = exe
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		e.OpenFilesMax = lim.Cur
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				e.GitCommit = s.Value
			case "vcs.modified":
				e.GitDirty = s.Value == "true"
			}
		}
	}
	if e.GitCommit == "" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := gitCmd(ctx, dir, "rev-parse", "HEAD"); err == nil {
			e.GitCommit = strings.TrimSpace(string(out))
			if st, err := gitCmd(ctx, dir, "status", "--porcelain", "--untracked-files=no"); err == nil {
				e.GitDirty = len(bytes.TrimSpace(st)) > 0
			}
		}
	}
	return e
}

// SetServer records the server process's affinity, whether it shares
// cores with the load generator, and its GC settings.
func (e *Env) SetServer(pid int) {
	if g, ok := gcSettingsOf(pid); ok {
		e.ServerGC = &g
	}
	e.ServerAffinity = Affinity(pid)
	if e.ServerAffinity == "" {
		return
	}
	shared := cpuSetsOverlap(e.LoadgenAffinity, e.ServerAffinity)
	e.SharedCores = &shared
}

func gitCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	return cmd.Output()
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Affinity returns a process's Cpus_allowed_list ("0-1"), or "".
func Affinity(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuSetsOverlap reports whether two CPU lists ("0-3,6") share a CPU.
func cpuSetsOverlap(a, b string) bool {
	sa, sb := parseCPUList(a), parseCPUList(b)
	for c := range sa {
		if sb[c] {
			return true
		}
	}
	return false
}

func parseCPUList(s string) map[int]bool {
	out := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for c := a; c <= b && c-a < 4096; c++ {
			out[c] = true
		}
	}
	return out
}
