package onnx_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/internal/synth"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func encode(t *testing.T, mp *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeEncodeKeepsUnknownFields(t *testing.T) {
	b := encode(t, synth.MLP(1, 8, []int64{16}, 4))
	// An unknown top-level field (number 999, varint) and an unknown field
	// inside the graph message (appended to the graph's bytes).
	b = protowire.AppendTag(b, 999, protowire.VarintType)
	b = protowire.AppendVarint(b, 42)
	graphExtra := protowire.AppendTag(nil, 777, protowire.BytesType)
	graphExtra = protowire.AppendBytes(graphExtra, []byte("future"))
	b = protowire.AppendTag(b, 7, protowire.BytesType) // graph field again: merged by protobuf
	b = protowire.AppendBytes(b, graphExtra)

	m, err := onnx.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Proto.ProtoReflect().GetUnknown()) == 0 || len(m.Proto.Graph.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("unknown fields were dropped at decode")
	}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("future")) {
		t.Fatal("unknown graph field missing from re-encoded bytes")
	}
	m2, err := onnx.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m.Proto, m2.Proto) {
		t.Fatal("decode → encode → decode changed the model")
	}
}

func TestDecodeRejectsMalformedBytes(t *testing.T) {
	good := encode(t, synth.MLP(1, 8, []int64{16}, 4))
	absurd := protowire.AppendTag(nil, 7, protowire.BytesType)
	absurd = protowire.AppendVarint(absurd, 1<<40) // claims a 1 TiB graph
	cases := map[string][]byte{
		"empty":           {},
		"truncated":       good[:len(good)/2],
		"absurd length":   absurd,
		"wrong wire type": protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 1),
		"text":            []byte("this is not a model\n"),
		"no graph":        protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "only a producer"),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := onnx.Decode(b)
			if !errors.Is(err, onnx.ErrNotONNX) {
				t.Fatalf("Decode = %v, want ErrNotONNX", err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := onnx.Load(filepath.Join(dir, "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := onnx.Load(dir); err == nil || !strings.Contains(err.Error(), "folder") {
		t.Errorf("folder: %v", err)
	}
	p := filepath.Join(dir, "big.onnx")
	if err := os.WriteFile(p, encode(t, synth.MLP(1, 8, []int64{16}, 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.Load(p, onnx.WithMaxBytes(10)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("size limit: %v", err)
	}
}

// tensorsByName loads every initializer of the main graph as float32.
func tensorsByName(t *testing.T, m *onnx.Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, init := range m.Proto.GetGraph().GetInitializer() {
		v, err := onnx.Float32s(m, init)
		if err != nil {
			t.Fatal(err)
		}
		out[init.GetName()] = v
	}
	return out
}

func sameTensors(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for name, va := range a {
		vb := b[name]
		if len(va) != len(vb) {
			t.Fatalf("%s: %d vs %d values", name, len(va), len(vb))
		}
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Fatalf("%s[%d]: %v vs %v", name, i, va[i], vb[i])
			}
		}
	}
}

func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestExternalDataRoundTrip(t *testing.T) {
	src := t.TempDir()
	path, err := synth.ExternalModel(context.Background(), src, "model.onnx", 6<<20, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := tensorsByName(t, m)
	if len(want) != 6 {
		t.Fatalf("generated %d tensors", len(want))
	}

	t.Run("auto keeps external data", func(t *testing.T) {
		dst := t.TempDir()
		out := filepath.Join(dst, "copy.onnx")
		if err := m.Save(out, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := dataFiles(t, dst); len(got) != 2 || got[1] != "copy.onnx.data" {
			t.Fatalf("files = %v, want copy.onnx and copy.onnx.data", got)
		}
		m2, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		sameTensors(t, want, tensorsByName(t, m2))
		for _, init := range m2.Proto.Graph.Initializer {
			if !onnx.IsExternal(init) {
				t.Fatalf("%s was inlined", init.GetName())
			}
		}
		// The source model in memory still points at its own files.
		if e, _ := onnx.ExternalDataOf(m.Proto.Graph.Initializer[0]); e.Location != "model.onnx.data0" {
			t.Fatalf("source model changed by Save: location %q", e.Location)
		}
	})
	t.Run("inline", func(t *testing.T) {
		dst := t.TempDir()
		out := filepath.Join(dst, "inline.onnx")
		if err := m.Save(out, onnx.SaveOptions{External: onnx.ExternalNever}); err != nil {
			t.Fatal(err)
		}
		if got := dataFiles(t, dst); len(got) != 1 {
			t.Fatalf("files = %v, want only the model", got)
		}
		m2, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		sameTensors(t, want, tensorsByName(t, m2))
		// And back out to external, split over files of at most 2.5 MiB.
		out2 := filepath.Join(dst, "split.onnx")
		if err := m2.Save(out2, onnx.SaveOptions{External: onnx.ExternalAlways, MaxFileBytes: 5 << 19}); err != nil {
			t.Fatal(err)
		}
		m3, err := onnx.Load(out2)
		if err != nil {
			t.Fatal(err)
		}
		defer m3.Close()
		locs := map[string]bool{}
		for _, init := range m3.Proto.Graph.Initializer {
			e, err := onnx.ExternalDataOf(init)
			if err != nil {
				t.Fatal(err)
			}
			locs[e.Location] = true
		}
		if len(locs) != 3 {
			t.Fatalf("data files %v, want 3 (two 1 MiB tensors per 2.5 MiB file)", locs)
		}
		sameTensors(t, want, tensorsByName(t, m3))
	})
	t.Run("overwrite in place", func(t *testing.T) {
		dir := t.TempDir()
		p, err := synth.ExternalModel(context.Background(), dir, "m.onnx", 1<<20, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		before := tensorsByName(t, m)
		// Same folder, same data file name as the source: must read the old
		// bytes while writing the new file.
		if err := m.Save(p, onnx.SaveOptions{Location: "m.onnx.data0"}); err != nil {
			t.Fatal(err)
		}
		m.Close()
		m2, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		sameTensors(t, before, tensorsByName(t, m2))
	})
	t.Run("cancelled save leaves nothing", func(t *testing.T) {
		dst := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := m.SaveContext(ctx, filepath.Join(dst, "c.onnx"), onnx.SaveOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := dataFiles(t, dst); len(got) != 0 {
			t.Fatalf("left files %v", got)
		}
	})
}

func TestSaveThreshold(t *testing.T) {
	mp := synth.MLP(3, 32, []int64{64}, 10) // w0 8 KiB, b0 256 B, w1 2.5 KiB, b1 40 B
	m := &onnx.Model{Proto: mp}
	dst := t.TempDir()
	out := filepath.Join(dst, "mlp.onnx")
	if err := m.Save(out, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := dataFiles(t, dst); len(got) != 1 {
		t.Fatalf("auto mode split a small self-contained model: %v", got)
	}
	if err := m.Save(out, onnx.SaveOptions{External: onnx.ExternalAlways, Threshold: 1024}); err != nil {
		t.Fatal(err)
	}
	m2, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	ext := map[string]bool{}
	for _, init := range m2.Proto.Graph.Initializer {
		ext[init.GetName()] = onnx.IsExternal(init)
	}
	want := map[string]bool{"w0": true, "b0": false, "w1": true, "b1": false}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("%s external = %v, want %v", k, ext[k], v)
		}
	}
	sameTensors(t, tensorsByName(t, &onnx.Model{Proto: mp}), tensorsByName(t, m2))
}

func TestPathEscapeRefused(t *testing.T) {
	root := t.TempDir()
	modelDir := filepath.Join(root, "model")
	if err := os.Mkdir(modelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.bin")
	if err := os.WriteFile(secret, make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(modelDir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(modelDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modelDir, "sub", "ok.bin"), make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc  string
		safe bool
	}{
		{"../secret.bin", false},
		{"sub/../../secret.bin", false},
		{secret, false},
		{`..\secret.bin`, false},
		{"link.bin", false},
		{"", false},
		{"sub/ok.bin", true},
		{"./sub/ok.bin", true},
	} {
		_, err := onnx.ResolveLocation(modelDir, tc.loc)
		if tc.safe && err != nil {
			t.Errorf("%q refused: %v", tc.loc, err)
		}
		if !tc.safe && !errors.Is(err, onnx.ErrUnsafeLocation) {
			t.Errorf("%q: err = %v, want ErrUnsafeLocation", tc.loc, err)
		}
	}

	// Through a model: reading the tensor and saving the model both refuse.
	tensor := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{16}, DataType: proto.Int32(int32(onnx.Float))}
	ext := onnxpb.TensorProto_EXTERNAL
	tensor.DataLocation = &ext
	tensor.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../secret.bin")}}
	mp := synth.Model(&onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{tensor}})
	p := filepath.Join(modelDir, "escape.onnx")
	if err := os.WriteFile(p, encode(t, mp), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatalf("Load must not read external data: %v", err)
	}
	if _, err := onnx.Float32s(m, m.Proto.Graph.Initializer[0]); !errors.Is(err, onnx.ErrUnsafeLocation) || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("read: %v", err)
	}
	if err := m.Save(filepath.Join(root, "out.onnx"), onnx.SaveOptions{}); !errors.Is(err, onnx.ErrUnsafeLocation) {
		t.Errorf("save: %v", err)
	}
	if err := m.Save(filepath.Join(root, "out.onnx"), onnx.SaveOptions{Location: "../x.data"}); !errors.Is(err, onnx.ErrUnsafeLocation) {
		t.Errorf("save location: %v", err)
	}
	if err := m.Save(filepath.Join(root, "out.onnx"), onnx.SaveOptions{Location: "out.onnx"}); err == nil || !strings.Contains(err.Error(), "overwrite the model") {
		t.Errorf("save location = model: %v", err)
	}
	if _, err := onnx.Load(p, onnx.WithExternalDataInlined()); !errors.Is(err, onnx.ErrUnsafeLocation) {
		t.Errorf("load inlined: %v", err)
	}
}

func TestExternalDataMismatch(t *testing.T) {
	dir := t.TempDir()
	p, err := synth.ExternalModel(context.Background(), dir, "m.onnx", 4096, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "m.onnx.data0"), 3000); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := onnx.Float32s(m, m.Proto.Graph.Initializer[1]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated data file: %v", err)
	}
	if err := m.Save(filepath.Join(t.TempDir(), "o.onnx"), onnx.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("save from truncated data file: %v", err)
	}
}

func TestExternalInlinedAndConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	p, err := synth.ExternalModel(context.Background(), dir, "m.onnx", 256<<10, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.Close()
	// Several goroutines map and read the same files at once.
	var wg sync.WaitGroup
	results := make([]map[string][]float32, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := map[string][]float32{}
			for _, init := range lazy.Proto.Graph.Initializer {
				v, err := onnx.Float32s(lazy, init)
				if err != nil {
					t.Error(err)
					return
				}
				out[init.GetName()] = v
			}
			results[i] = out
		}()
	}
	wg.Wait()
	for _, r := range results[1:] {
		sameTensors(t, results[0], r)
	}
	eager, err := onnx.Load(p, onnx.WithExternalDataInlined())
	if err != nil {
		t.Fatal(err)
	}
	for _, init := range eager.Proto.Graph.Initializer {
		if onnx.IsExternal(init) {
			t.Fatalf("%s still external", init.GetName())
		}
	}
	// The inlined model no longer needs its folder.
	for _, f := range []string{"m.onnx.data0", "m.onnx.data1"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	sameTensors(t, results[0], tensorsByName(t, eager))
}

func TestClone(t *testing.T) {
	m, err := onnx.Load(filepath.Join(syntheticDir, "external", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := m.Clone()
	defer c.Close()
	c.Proto.Graph.Node[0].OpType = proto.String("Sub")
	if m.Proto.Graph.Node[0].GetOpType() != "Add" {
		t.Fatal("Clone shares the proto")
	}
	sameTensors(t, tensorsByName(t, m), tensorsByName(t, c))
}

// countdownCtx reports cancellation after its Err has been asked n times,
// to stop Save part-way through writing.
type countdownCtx struct {
	context.Context
	n int
}

func (c *countdownCtx) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

func TestSaveCancelledMidwayLeavesNothing(t *testing.T) {
	src := t.TempDir()
	p, err := synth.ExternalModel(context.Background(), src, "m.onnx", 8<<20, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dst := t.TempDir()
	// An earlier good save must survive a failed one over it.
	out := filepath.Join(dst, "m.onnx")
	if err := m.Save(out, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(out)
	for _, n := range []int{0, 3, 7} {
		err := m.SaveContext(&countdownCtx{Context: context.Background(), n: n}, out, onnx.SaveOptions{MaxFileBytes: 3 << 20})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("n=%d: err = %v, want context.Canceled", n, err)
		}
		if got := dataFiles(t, dst); len(got) != 2 {
			t.Fatalf("n=%d: folder holds %v, want only the earlier model and its data", n, got)
		}
		if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
			t.Fatalf("n=%d: the earlier model was changed", n)
		}
	}
}
