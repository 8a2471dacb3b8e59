package runtime

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func TestSessionReadsMetadataProps(t *testing.T) {
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(addModel(t), m); err != nil {
		t.Fatal(err)
	}
	m.MetadataProps = []*onnxpb.StringStringEntryProto{
		{Key: proto.String("mlops.warmup_shape.x"), Value: proto.String("4,3")},
		{Key: proto.String("author"), Value: proto.String("a")},
		{Key: proto.String("author"), Value: proto.String("b")}, // the last entry wins
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openRuntime(t).NewSession(b, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md := s.Metadata()
	if len(md) != 2 || md["mlops.warmup_shape.x"] != "4,3" || md["author"] != "b" {
		t.Fatalf("Metadata() = %v", md)
	}
	md["author"] = "changed"
	if s.Metadata()["author"] != "b" {
		t.Fatal("Metadata() returned the session's own map")
	}
}

// Every arena mode runs the model the same; what they do to memory is
// measured by the serve test that watches the process's RSS.
func TestArenaModesRun(t *testing.T) {
	r := openRuntime(t)
	for _, mode := range []ArenaMode{ArenaKeep, ArenaShrink, ArenaOff} {
		t.Run(mode.String(), func(t *testing.T) {
			s, err := r.NewSession(addModel(t), SessionOptions{IntraOpThreads: 1, CPUArena: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for range 3 {
				out, err := s.Run(context.Background(), map[string]*Tensor{
					"x": NewTensorFloat32([]int64{1, 3}, []float32{1, 2, 3})}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if y, _ := out["y"].Float32s(); fmt.Sprint(y) != "[11 22 33]" {
					t.Fatalf("y = %v", y)
				}
			}
		})
	}
	if _, err := r.NewSession(addModel(t), SessionOptions{CPUArena: ArenaMode(9)}); err == nil {
		t.Error("an unknown arena mode was accepted")
	}
}

func TestParseArenaMode(t *testing.T) {
	for in, want := range map[string]ArenaMode{"keep": ArenaKeep, "Shrink": ArenaShrink, " off ": ArenaOff} {
		if got, err := ParseArenaMode(in); err != nil || got != want {
			t.Errorf("ParseArenaMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseArenaMode("none"); err == nil {
		t.Error(`ParseArenaMode("none") accepted`)
	}
}
