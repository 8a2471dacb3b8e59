package onnx_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/internal/synth"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func names(nodes []*onnxpb.NodeProto) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.GetName())
	}
	return out
}

func TestGraphIndexWithSubgraphs(t *testing.T) {
	g := onnx.NewGraph(synth.Subgraphs().Graph)
	if p := g.Producer("y"); p.GetName() != "branch" {
		t.Fatalf("Producer(y) = %v", p.GetName())
	}
	if p := g.Producer("x"); p != nil {
		t.Fatalf("graph input has producer %v", p.GetName())
	}
	// bias is read only inside the If branches, scale only inside the Loop body.
	if got := names(g.Consumers("bias")); !slices.Equal(got, []string{"branch"}) {
		t.Errorf("Consumers(bias) = %v", got)
	}
	if got := names(g.Consumers("scale")); !slices.Equal(got, []string{"loop"}) {
		t.Errorf("Consumers(scale) = %v", got)
	}
	if got := names(g.Consumers("x")); !slices.Equal(got, []string{"branch", "dead"}) {
		t.Errorf("Consumers(x) = %v", got)
	}
	var loop *onnxpb.NodeProto
	var visited []string
	g.Walk(func(_ *onnx.Graph, n *onnxpb.NodeProto) bool {
		visited = append(visited, n.GetName())
		if n.GetOpType() == "Loop" {
			loop = n
		}
		return true
	})
	want := []string{"branch", "then_add", "else_sub", "loop", "body_cond", "body_add", "body_mul", "dead"}
	if !slices.Equal(visited, want) {
		t.Fatalf("Walk order %v, want %v", visited, want)
	}
	body := g.Subgraphs(loop)[0]
	if body.Parent != g || body.Owner != loop {
		t.Fatal("subgraph parent/owner not set")
	}
	if body.Initializer("step") == nil || body.Initializer("scale") == nil || g.Initializer("step") != nil {
		t.Error("initializer lookup does not follow scope")
	}
	if got := body.OuterNames(); !slices.Equal(got, []string{"scale"}) {
		t.Errorf("body.OuterNames() = %v", got)
	}
	if body.ValueInfo("x") == nil || !body.Defined("y") || body.Defined("nope") {
		t.Error("outer-scope lookup failed")
	}
	if got := g.UniqueName("x"); got != "x_1" {
		t.Errorf("UniqueName(x) = %q", got)
	}
	if got := body.UniqueName("x"); got != "x_2" {
		t.Errorf("second UniqueName(x) from a subgraph = %q; names must be unique across the tree", got)
	}
	if got := g.UniqueName("acc_sum"); got != "acc_sum_1" {
		t.Errorf("UniqueName(acc_sum) = %q; subgraph names count", got)
	}
	if v, ok := onnx.OpsetVersion(synth.Subgraphs(), "ai.onnx"); !ok || v != synth.Opset {
		t.Errorf("OpsetVersion = %d %v", v, ok)
	}
}

func TestTopo(t *testing.T) {
	mp := synth.MLP(1, 4, []int64{8, 8}, 2)
	want := names(mp.Graph.Node)
	slices.Reverse(mp.Graph.Node)
	g := onnx.NewGraph(mp.Graph)
	order, err := g.Topo()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(order); !slices.Equal(got, want) {
		t.Fatalf("Topo = %v, want %v", got, want)
	}
	// The first MatMul reads the model output: a cycle through every node.
	mp = synth.MLP(1, 4, []int64{8}, 2)
	mp.Graph.Node[0].Input[0] = "output"
	if _, err := onnx.NewGraph(mp.Graph).Topo(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	mp = synth.MLP(1, 4, []int64{8}, 2)
	mp.Graph.Node[0].Input[0] = "ghost"
	if _, err := onnx.NewGraph(mp.Graph).Topo(); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("undefined input: %v", err)
	}
}

func TestRemoveDeadAndUnused(t *testing.T) {
	mp := synth.Subgraphs()
	// A dead node inside the Loop body too.
	body := mp.Graph.Node[1].Attribute[0].G
	body.Node = append(body.Node, synth.Node("Neg", "body_dead", []string{"acc_in"}, []string{"neg"}))
	g := onnx.NewGraph(mp.Graph)
	if n := g.RemoveDeadNodes(); n != 2 {
		t.Fatalf("RemoveDeadNodes = %d, want 2 (dead, body_dead)", n)
	}
	if got := names(mp.Graph.Node); !slices.Equal(got, []string{"branch", "loop"}) {
		t.Fatalf("nodes left %v", got)
	}
	if n := g.RemoveUnusedInitializers(); n != 1 {
		t.Fatalf("RemoveUnusedInitializers = %d, want 1 (unused); bias and scale are used by subgraphs", n)
	}
	if g.Initializer("unused") != nil || g.Initializer("bias") == nil || g.Initializer("scale") == nil {
		t.Fatal("wrong initializers removed")
	}
	if err := onnx.Check(&onnx.Model{Proto: mp}); err != nil {
		t.Fatalf("graph invalid after cleanup: %v", err)
	}
}

func TestEdit(t *testing.T) {
	mp := synth.MLP(1, 4, []int64{8}, 2)
	g := onnx.NewGraph(mp.Graph)
	relu := g.Producer("relu0_out")
	// Replace Relu by Sigmoid, then put an Identity after it and rewire.
	sig := synth.Node("Sigmoid", "sig", []string{"add0_out"}, []string{"relu0_out"})
	if err := g.ReplaceNode(relu, sig); err != nil {
		t.Fatal(err)
	}
	if g.Producer("relu0_out") != sig {
		t.Fatal("index not updated by ReplaceNode")
	}
	id := synth.Node("Identity", "id", []string{"relu0_out"}, []string{g.UniqueName("relu0_out")})
	if err := g.InsertAfter(sig, id); err != nil {
		t.Fatal(err)
	}
	consumers := g.Consumers("relu0_out")
	g.ReplaceAllUses("relu0_out", id.Output[0])
	id.Input[0] = "relu0_out" // the Identity itself keeps reading the original
	g.Reindex()
	for _, c := range consumers {
		if c != id && slices.Contains(c.Input, "relu0_out") {
			t.Fatalf("%s still reads relu0_out", c.GetName())
		}
	}
	if err := onnx.Check(&onnx.Model{Proto: mp}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddNode(synth.Node("Neg", "dup", []string{"input"}, []string{"output"})); err == nil {
		t.Fatal("AddNode accepted a second producer of output")
	}
	if err := g.RemoveNode(id); err != nil {
		t.Fatal(err)
	}
	if g.Producer(id.Output[0]) != nil || g.RemoveNode(id) == nil {
		t.Fatal("RemoveNode left the node indexed")
	}
}

// A model whose nodes are out of order at the top and inside a Loop body
// is sorted everywhere, and LoadForRewrite accepts it; a model with an
// undefined input is refused with the file and the checker's finding named.
func TestSortTopologicallyAndLoadForRewrite(t *testing.T) {
	mp := synth.Subgraphs()
	slices.Reverse(mp.Graph.Node)
	body := mp.Graph.Node[1].Attribute[0].G // the Loop, second after reversing
	slices.Reverse(body.Node)
	m := &onnx.Model{Proto: mp}
	if err := onnx.Check(m); err == nil || !strings.Contains(err.Error(), "not in topological order") {
		t.Fatalf("reversed model passes the checker: %v", err)
	}
	if err := m.SortTopologically(); err != nil {
		t.Fatal(err)
	}
	if err := onnx.Check(m); err != nil {
		t.Fatalf("sorted model: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "rev.onnx")
	mp = synth.Subgraphs()
	slices.Reverse(mp.Graph.Node)
	if err := (&onnx.Model{Proto: mp}).Save(path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	lm, err := onnx.LoadForRewrite(path)
	if err != nil {
		t.Fatalf("LoadForRewrite of an unsorted model: %v", err)
	}
	lm.Close()

	mp = synth.MLP(1, 4, []int64{8}, 2)
	mp.Graph.Node[0].Input[0] = "ghost"
	bad := filepath.Join(dir, "bad.onnx")
	if err := (&onnx.Model{Proto: mp}).Save(bad, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = onnx.LoadForRewrite(bad)
	if err == nil || !strings.Contains(err.Error(), bad+" does not pass the ONNX checker") || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("LoadForRewrite of a broken model: %v", err)
	}
}
