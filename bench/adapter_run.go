package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// openTargets opens the run's --target servers, each through the adapter
// of its kind.
func (r *Runner) openTargets() error {
	r.targets = r.targets[:0]
	for _, s := range r.Config.Targets {
		spec, err := ParseTarget(s)
		if err != nil {
			return err
		}
		t, err := openTarget(spec, nil, &r.Config)
		if err != nil {
			return err
		}
		t.adminToken = r.Config.AdminToken
		r.targets = append(r.targets, t)
	}
	return nil
}

// preparePeer finds the program of a peer to spawn (installing
// Centrifugo when it is missing) and makes the directory its config files
// go to; the caller removes it.
func (r *Runner) preparePeer(ctx context.Context, kind, moduleDir string) (string, error) {
	var err error
	switch kind {
	case KindCentrifugo:
		if r.peerBin, err = FindCentrifugo(r.Config.CentrifugoBin); err != nil && r.Config.CentrifugoBin == "" {
			r.peerBin, err = InstallCentrifugo(ctx, r.logw())
		}
	case SpawnFastAPI:
		r.peerBin, err = FindPython(r.Config.Python)
		if err == nil && moduleDir == "" {
			err = fmt.Errorf("bench: not inside the twinstream module, so the FastAPI peer (bench/peers/fastapi) is not here")
		}
		r.peerDir = moduleDir
	}
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "twinstream-peer-")
	if err != nil {
		return "", err
	}
	if kind == KindCentrifugo {
		r.peerDir = dir
	}
	return dir, nil
}

// spawnPeer starts a fresh peer of kind and returns its target.
func (r *Runner) spawnPeer(ctx context.Context, kind string) (*target, error) {
	var t *target
	var err error
	switch kind {
	case KindCentrifugo:
		_, t, err = spawnCentrifugo(ctx, r.peerBin, r.peerDir)
	case SpawnFastAPI:
		_, t, err = spawnFastAPI(ctx, r.peerBin, r.peerDir)
	default:
		err = fmt.Errorf("bench: cannot spawn %q", kind)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.logw(), "spawned %s at %s (pid %d)\n", kind, t.url, t.process().pid())
	return t, nil
}

// unsupported says, per transport, why the run's targets cannot run a
// scenario (absent: they can). Several targets run it only where every
// one of them can.
func (r *Runner) unsupported(scenario string) map[string]string {
	ts := r.targets
	if len(r.Config.Targets) == 0 {
		ts = nil
		switch r.Config.spawnKind() {
		case KindCentrifugo: // spawned with a token secret: every client connects as a user
			t := newTarget("http://127.0.0.1", nil)
			t.adapter = newCentrifugoAdapter(t, "", "spawned")
			ts = []*target{t}
		case SpawnFastAPI:
			if f, err := LoadTargetFile(filepath.Join(FastAPIDir(r.modDir), "target.json")); err == nil {
				ts = []*target{customTarget(f, nil)}
			}
		}
	}
	out := map[string]string{}
	for _, transport := range r.Config.Transports {
		for _, t := range ts {
			if why := t.adapter.unsupported(scenario, transport, &r.Config); why != "" {
				out[transport] = why
				break
			}
		}
	}
	return out
}

// adapterSpecs is, per target, what the workers need to run its clients
// (nil when every target is a twinstream server).
func adapterSpecs(ts []*target) []*AdapterSpec {
	var out []*AdapterSpec
	for i, t := range ts {
		if s := t.adapter.spec(); s != nil {
			if out == nil {
				out = make([]*AdapterSpec, len(ts))
			}
			out[i] = s
		}
	}
	return out
}
