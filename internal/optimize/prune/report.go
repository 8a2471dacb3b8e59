package prune

// Layer is what pruning did to one weight tensor.
type Layer struct {
	Name           string  `json:"name"`
	Node           string  `json:"node"`
	OpType         string  `json:"op_type"`
	Shape          []int64 `json:"shape"`
	ShapeAfter     []int64 `json:"shape_after,omitempty"`
	Params         int64   `json:"params"`
	ParamsAfter    int64   `json:"params_after"`
	SparsityBefore float64 `json:"sparsity_before"`
	SparsityAfter  float64 `json:"sparsity_after"`
	NormRetained   float64 `json:"norm_retained"`
	// Structured pruning only.
	Channels     int `json:"channels,omitempty"`
	ChannelsKept int `json:"channels_kept,omitempty"`
}

// Accuracy compares the model before and after on labelled data.
type Accuracy struct {
	Samples int     `json:"samples"`
	Before  float64 `json:"before"`
	After   float64 `json:"after"`
	Drop    float64 `json:"drop"`
}

// SearchStep is one sparsity tried by the --max-drop search.
type SearchStep struct {
	Sparsity float64 `json:"sparsity"`
	Accuracy float64 `json:"accuracy"`
	Drop     float64 `json:"drop"`
	Within   bool    `json:"within"`
}

// Report describes one pruning run. Its JSON form is a stable contract.
type Report struct {
	Input     string  `json:"input,omitempty"`  // the model read (docs/json.md)
	Output    string  `json:"output,omitempty"` // the model written
	Mode      string  `json:"mode"`             // "unstructured", "n:m" or "structured"
	Scope     string  `json:"scope"`
	Criterion string  `json:"criterion"`
	Pattern   string  `json:"pattern"`
	Sparsity  float64 `json:"sparsity"` // the target (for N:M, N/M)

	Layers  []Layer `json:"layers"`
	Skipped []Skip  `json:"skipped"`

	Params         int64   `json:"params"`          // elements of the selected weights before
	ParamsAfter    int64   `json:"params_after"`    // elements after (structured removes some)
	Zeros          int64   `json:"zeros"`           // zero elements after
	SparsityBefore float64 `json:"sparsity_before"` // over the selected weights
	SparsityAfter  float64 `json:"sparsity_after"`
	FLOPs          int64   `json:"flops"` // Conv/Gemm/MatMul FLOPs at batch 1 before
	FLOPsAfter     int64   `json:"flops_after"`
	FLOPsComplete  bool    `json:"flops_complete"` // false when some shapes could not be inferred

	BytesBefore  int64 `json:"bytes_before"`
	BytesAfter   int64 `json:"bytes_after"`
	SparseStored int   `json:"sparse_stored"` // initializers written as sparse tensors

	Accuracy *Accuracy    `json:"accuracy,omitempty"`
	Search   []SearchStep `json:"search,omitempty"`
}

func (r *Report) totals() {
	r.Params, r.ParamsAfter, r.Zeros = 0, 0, 0
	var zerosBefore float64
	for _, l := range r.Layers {
		r.Params += l.Params
		r.ParamsAfter += l.ParamsAfter
		r.Zeros += int64(l.SparsityAfter*float64(l.ParamsAfter) + 0.5)
		zerosBefore += l.SparsityBefore * float64(l.Params)
	}
	if r.Params > 0 {
		r.SparsityBefore = zerosBefore / float64(r.Params)
	}
	if r.ParamsAfter > 0 {
		r.SparsityAfter = float64(r.Zeros) / float64(r.ParamsAfter)
	}
}
